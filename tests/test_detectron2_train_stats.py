"""Detectron2's statistics of each training batch's region proposals (`fast_rcnn/cls_accuracy`,
`roi_head/num_fg_samples`, `rpn/num_pos_anchors`...), which it puts to its EventStorage only
while training, are scores of the training batches: a Faster R-CNN run's `output/metrics.json`
(Elbhnasy/Medical_Waste_Detection_Detectron2, 200 rows, no evaluation) offered
`fast_rcnn/cls_accuracy` as a series "that may be" its held-out score, and analysed with
`--metric` it read "overfit 219 -> 559 ... (end: the level held after it, mean of 35
evaluations)". The rows are written in that file's shape: one JSON object per 20 iterations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from phasewatch.cli import main


def _metrics_json(path: Path) -> Path:
    """A training run's metrics.json: the ROI head's accuracy rises, then declines after
    iteration 1200, the total loss falls throughout."""
    rng = np.random.default_rng(3)
    rows = []
    for k in range(200):
        iteration = 19 + 20 * k
        accuracy = 0.06 + 0.8 * (1 - np.exp(-iteration / 150))
        accuracy -= 0.1 * (iteration - 1200) / 2800 if iteration > 1200 else 0.0
        loss = 2.7 * np.exp(-iteration / 600) + 1.0
        rows.append({"data_time": 0.02,
                     "fast_rcnn/cls_accuracy": round(accuracy + rng.normal(0, 0.012), 4),
                     "iteration": iteration, "lr": 5e-05, "roi_head/num_fg_samples": 12.0,
                     "total_loss": round(loss + rng.normal(0, 0.05), 4)})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_the_roi_heads_accuracy_is_offered_as_a_score_of_the_training_batches(tmp_path, capsys):
    path = _metrics_json(tmp_path / "metrics.json")
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert ("pass --metric fast_rcnn/cls_accuracy to analyse it, a score of the training "
            "batches") in out, out


def test_its_decline_is_said_as_trainings_and_its_values_as_readings(tmp_path, capsys):
    path = _metrics_json(tmp_path / "metrics.json")
    assert main(["analyze", str(path), "--metric", "fast_rcnn/cls_accuracy"]) == 0
    out = capsys.readouterr().out
    assert "overfit" in out and "(end: mean of the last 2 readings)" in out, out
    assert "evaluations" not in out, out
    assert ("fast_rcnn/cls_accuracy: the 'overfit' (1259 -> 3999) is a score of the training "
            "batches getting worse after its best") in out, out
