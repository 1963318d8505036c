"""YOLOv5's results.csv (train.py up to v7.0) names its validation mAP `metrics/mAP_0.5:0.95`,
not YOLOv8's `metrics/mAP50-95(B)`: with no role for it, `analyze` of a YOLOv5 run folder asked
for --metric (peshmerge/ml_2_project `yolov5/runs/train/exp`)."""

from __future__ import annotations

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run
from tests.yolo_columns import V5 as COLUMNS


def test_the_yolov5_map_is_the_metric(tmp_path):
    rows = [",".join(f"{name:>20}" for name in COLUMNS)]
    for epoch in range(30):
        level = 0.55 * min(epoch, 20) / 20
        values = (epoch, 0.06 - 0.001 * epoch, 0.035, 0, 0.9, 0.9, level + 0.4, level,
                  0.06 - 0.001 * epoch, 0.04, 0, 0.001, 0.001, 0.001)
        rows.append(",".join(f"{value:>20}" for value in values))
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    analysis = analyze_run(read_run(folder))
    assert analysis.metric == "metrics/mAP_0.5:0.95" and analysis.direction == "max"
