"""YOLOv5's results.csv (train.py up to v7.0) names its validation mAP `metrics/mAP_0.5:0.95`,
not YOLOv8's `metrics/mAP50-95(B)`: with no role for it, `analyze` of a YOLOv5 run folder asked
for --metric (peshmerge/ml_2_project `yolov5/runs/train/exp`)."""

from __future__ import annotations

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run
from tests.yolo_columns import v5_results


def test_the_yolov5_map_is_the_metric(tmp_path):
    folder = tmp_path / "exp"
    v5_results(folder, [0.55 * min(epoch, 20) / 20 for epoch in range(30)])
    analysis = analyze_run(read_run(folder))
    assert analysis.metric == "metrics/mAP_0.5:0.95" and analysis.direction == "max"
