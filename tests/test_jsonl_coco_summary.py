"""DETR's `log.txt` (and Deformable-DETR's, DINO's...: one JSON object per epoch) holds the test
split's COCO evaluation as a list, `test_coco_eval_bbox`: pycocotools' 12 summary numbers. The
list was dropped, so `analyze` judged a detector by its `test_loss`. The rows below are in that
file's shape (a few of its keys), over a synthetic run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.io.jsonl import LineParser

EPOCHS = 20
NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _summary(ap: float) -> list[float]:
    """12 numbers in COCOeval.stats' order; no small objects in the set (APs, ARs: -1)."""
    return [ap, ap + 0.2, ap + 0.05, -1.0, ap - 0.05, ap + 0.05,
            ap / 2, ap + 0.1, ap + 0.15, -1.0, ap + 0.1, ap + 0.2]


def _detr_log(path: Path, masks: bool = False, length: int = 12) -> Path:
    rows = []
    for epoch in range(EPOCHS):
        ap = 0.4 * (1 - math.exp(-epoch / 4)) + 0.005 * math.sin(epoch)
        # the test loss falls to epoch 6, then rises: by it, the run would overfit
        test_loss = 3.0 + 0.02 * (epoch - 6) ** 2 + 0.01 * math.cos(epoch)
        row = {"train_lr": 1e-4, "train_loss": 8.0 / (1 + epoch), "train_class_error": 40.0,
               "test_class_error": 30.0, "test_loss": test_loss,
               "test_coco_eval_bbox": _summary(ap)[:length]}
        if masks:
            row["test_coco_eval_masks"] = _summary(ap - 0.1)
        row.update({"epoch": epoch, "n_parameters": 41302368})
        rows.append(json.dumps(row))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_summary_list_is_read_as_named_series(tmp_path):
    run = read_run(_detr_log(tmp_path / "log.txt"))
    ap = run.series("test_coco_eval_bbox/AP")
    assert ap.index.tolist() == list(range(EPOCHS))
    assert ap.iloc[0] == pytest.approx(0.0) and ap.iloc[-1] > 0.38
    assert run.series("test_coco_eval_bbox/AP50").iloc[-1] == pytest.approx(ap.iloc[-1] + 0.2)
    assert run.series("test_coco_eval_bbox/ARl").iloc[-1] == pytest.approx(ap.iloc[-1] + 0.2)
    # pycocotools' -1, "no object of that size", is no reading
    assert "test_coco_eval_bbox/APs" not in run.metrics
    assert "test_coco_eval_bbox/ARs" not in run.metrics
    assert "test_coco_eval_bbox" not in run.metrics


def test_the_bulk_reader_and_the_line_parser_agree(tmp_path):
    """`read_run` takes a whole file in bulk, `watch --follow` line by line."""
    path = _detr_log(tmp_path / "log.txt")
    parser = LineParser()
    fed = [parser.feed(line, n)[0] for n, line in enumerate(path.read_text().splitlines(), 1)]
    assert [values["test_coco_eval_bbox/AP"] for _, values in fed] == \
        read_run(path).series("test_coco_eval_bbox/AP").tolist()
    assert {f"test_coco_eval_bbox/{name}" for name in NAMES} - set(fed[0][1]) == \
        {"test_coco_eval_bbox/APs", "test_coco_eval_bbox/ARs"}


@pytest.mark.parametrize("masks", [False, True])
def test_analyze_judges_the_detector_by_its_ap(tmp_path, capsys, masks):
    path = _detr_log(tmp_path / "log.txt", masks=masks)
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    expected = "test_coco_eval_masks/AP" if masks else "test_coco_eval_bbox/AP"
    assert result["metric"] == expected and result["direction"] == "max"


def test_a_list_of_another_length_is_not_guessed(tmp_path, capsys):
    path = _detr_log(tmp_path / "log.txt", length=6)
    run = read_run(path)
    assert not [name for name in run.metrics if "coco_eval" in name]
    notes = [w for w in run.warnings if "test_coco_eval_bbox" in w]
    assert len(notes) == 1 and "line 1" in notes[0] and "6 numbers" in notes[0]
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "test_loss"
