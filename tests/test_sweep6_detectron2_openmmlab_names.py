"""detectron2 logs its train loss as `total_loss` and its COCO evaluation as `bbox/AP`
(`segm/AP`); OpenMMLab's validation rows hold `accuracy/top1` (mmpretrain), `coco/bbox_mAP`
(mmdet), `mIoU` (mmseg), `coco/AP` (mmpose). None had a role: detectron2's metrics.json, its
TensorBoard and its console were refused with "no performance metric found" (sixth new-user
sweep: 39 files of 9 repositories), and mmpretrain and mmpose runs were judged on their train
loss beside their validation metric (2 files)."""

from __future__ import annotations

import json
import math

import pytest

from phasewatch.cli import main


def _ap(it: int) -> float:
    return 75 - 50 * math.exp(-it / 600) + 0.4 * math.sin(it / 100)


def _detectron2_metrics(with_evaluation: bool) -> str:
    """detectron2's metrics.json (its JSONWriter): a training row every 20 iterations, a COCO
    evaluation row every 100 (eval_period), both keyed by `iteration`."""
    rows = []
    for it in range(19, 3000, 20):
        loss = 0.4 + 1.2 * math.exp(-it / 700) + 0.01 * math.sin(it)
        rows.append({"data_time": 0.02, "eta_seconds": 3000 - it, "fast_rcnn/cls_accuracy": 0.9,
                     "iteration": it, "loss_box_reg": loss / 3, "loss_cls": loss / 2,
                     "loss_rpn_cls": 0.01, "loss_rpn_loc": 0.02, "lr": 0.00025, "time": 0.3,
                     "total_loss": loss})
        if with_evaluation and (it + 1) % 100 == 0:
            rows.append({"bbox/AP": _ap(it), "bbox/AP50": _ap(it) + 20, "bbox/APs": float("nan"),
                         "iteration": it})
    return "".join(json.dumps(row) + "\n" for row in rows)


def _analyzed_metric(capsys, path) -> dict:
    assert main(["analyze", "--format", "json", str(path)]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def test_detectron2_metrics_json_is_judged_on_its_coco_ap(tmp_path, capsys):
    log = tmp_path / "metrics.json"
    log.write_text(_detectron2_metrics(with_evaluation=True))
    result = _analyzed_metric(capsys, log)
    assert result["metric"] == "bbox/AP" and result["direction"] == "max"
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert summary["metric"] == "bbox/AP"


def test_detectron2_without_evaluation_falls_back_to_its_total_loss(tmp_path, capsys):
    log = tmp_path / "metrics.json"
    log.write_text(_detectron2_metrics(with_evaluation=False))
    result = _analyzed_metric(capsys, log)
    assert result["metric"] == "total_loss" and result["direction"] == "min"


def test_detectron2_console_is_judged_on_its_total_loss(tmp_path, capsys):
    log = tmp_path / "log.txt"
    lines = ["[12/22 19:35:40] d2.engine.train_loop INFO: Starting training from iteration 0"]
    for it in range(19, 2000, 20):
        loss = 1 + 5 * math.exp(-it / 400) + 0.02 * math.sin(it)
        lines.append(f"[12/22 19:35:53] d2.utils.events INFO:  eta: 0:02:55  iter: {it}  "
                     f"total_loss: {loss:.4g}  loss_cls: {loss / 2:.4g}  loss_box_reg: 0.3  "
                     f"time: 0.9507  data_time: 0.0197  lr: 0.0001  max_mem: 9620M")
    log.write_text("\n".join(lines) + "\n")
    result = _analyzed_metric(capsys, log)
    assert result["metric"] == "total_loss"


@pytest.mark.parametrize("name", ["accuracy/top1", "coco/bbox_mAP", "bbox_mAP", "mIoU", "coco/AP"])
def test_openmmlab_validation_metric_is_taken_before_the_train_loss(tmp_path, capsys, name):
    log = tmp_path / "vis_data" / "scalars.json"
    log.parent.mkdir()
    rows = []
    for epoch in range(1, 31):
        it = 50 * epoch
        rows.append({"lr": 0.02, "data_time": 0.004, "loss": 1.7 * math.exp(-epoch / 8) + 0.05,
                     "time": 0.12, "epoch": epoch, "iter": it, "memory": 3060, "step": it})
        rows.append({name: _ap(20 * it), "data_time": 0.09, "time": 0.1, "step": epoch})
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = _analyzed_metric(capsys, log)
    assert result["metric"] == name and result["direction"] == "max"


def _ultralytics_results(columns: list[str], epochs: int = 40, padded: bool = False) -> str:
    """Ultralytics YOLO's results.csv: one row an epoch, the validator's metrics beside the
    losses (8.0 padded each name to 23 characters, later versions do not)."""
    rows = [",".join(f"{c:>23}" if padded else c for c in ["epoch", *columns])]
    for epoch in range(1, epochs + 1):
        score = 0.6 - 0.5 * math.exp(-epoch / 8) + 0.004 * math.sin(epoch)
        values = [score if c.startswith("metrics/") else 2.0 - score for c in columns]
        rows.append(",".join([str(epoch), *(f"{v:.5f}" for v in values)]))
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("columns, chosen", [
    (["train/box_loss", "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)",
      "metrics/mAP50-95(B)", "val/box_loss"], "metrics/mAP50-95(B)"),
    (["train/seg_loss", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "metrics/mAP50(M)",
      "metrics/mAP50-95(M)", "val/seg_loss"], "metrics/mAP50-95(M)"),
    (["train/loss", "metrics/accuracy_top1", "metrics/accuracy_top5", "val/loss"],
     "metrics/accuracy_top1"),
])
def test_ultralytics_results_csv_is_judged_on_its_validation_score(tmp_path, capsys, columns, chosen):
    """A YOLO detector's results.csv (1527171/HandRaisingDetector-YOLO12n) was refused with
    "no performance metric found": its mAP50-95, the validator's score best.pt is chosen by,
    had no role. A classifier's was judged on its val/loss beside its top-1 accuracy."""
    log = tmp_path / "results.csv"
    log.write_text(_ultralytics_results(columns, padded=chosen.endswith("(B)")))
    result = _analyzed_metric(capsys, log)
    assert result["metric"] == chosen and result["direction"] == "max"
