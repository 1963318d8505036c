"""An instance segmentation model's Detectron2 evaluation is judged on its masks, `segm/AP`,
before its boxes, `bbox/AP`, as a YOLO segmentation run is on `(M)` before `(B)`: Mask2Former
predicts no boxes, and a Mask2Former run's `output/metrics.json` (BUAAZhangHaonan/
mgm_mask2former) was judged on a `bbox/AP` of 0.0 at every evaluation ("the metric is the same
at every evaluation analysed: any is as good") beside a `segm/AP` of 39.8 -> 65.1. The rows are
written in that file's shape: a training row every 20 iterations, COCOEvaluator's row of both
tasks every `eval_period`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from phasewatch.cli import main


def _metrics_json(path: Path, boxes: bool) -> Path:
    rows = []
    for it in range(19, 4000, 20):
        loss = 12 + 90 * math.exp(-it / 300) + 0.3 * math.sin(it)
        rows.append({"data_time": 0.003, "iteration": it, "loss_ce": loss / 80,
                     "loss_dice": loss / 15, "lr": 0.0001, "total_loss": round(loss, 4)})
        if (it + 1) % 400 == 0:
            segm = 65 - 40 * math.exp(-(it + 1) / 1200) + 0.5 * math.sin(it / 50)
            box = segm - 2 if boxes else 0.0
            rows.append({"bbox/AP": box, "bbox/AP50": 0.0 if not boxes else box + 15,
                         "iteration": it + 1, "segm/AP": segm, "segm/AP50": segm + 20})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize("boxes", [False, True])
def test_the_masks_ap_is_the_metric(tmp_path, capsys, boxes):
    path = _metrics_json(tmp_path / "metrics.json", boxes)
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "segm/AP" and result["direction"] == "max"
