"""A YOLO results.csv's `val/box_loss` is a held-out loss beside its train twin `train/box_loss`
(Ultralytics, YOLOv5): it takes the `eval/loss` role and `train/box_loss` the `train/loss` one,
so its rise from the start, never recovered while the train box loss falls, is an overfit
(docs/detection.md, a held-out loss), where it had no role and was read as a disruption."""

from __future__ import annotations

import numpy as np

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run
from tests.yolo_columns import DETECT


def yolo_run(folder, epochs: int = 40):
    """A YOLOv8 run of `epochs` epochs, all logged (args.yaml plans them): its val box loss
    rises for 12 epochs and holds there, its train box loss falls, its mAP climbs."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    rows = [",".join(DETECT)]
    for epoch in range(1, epochs + 1):
        train = 1.5 - 0.02 * epoch + rng.normal(0, 0.005)
        val = 1.2 + 0.03 * min(epoch, 12) + rng.normal(0, 0.004)
        level = 0.3 + 0.002 * epoch
        rows.append(",".join(str(round(v, 5)) for v in (
            epoch, 10 * epoch, train, 1.1, 1.1, 0.8, 0.7, level + 0.2, level, val, 1.2, 1.2,
            0.001, 0.001, 0.001)))
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    (folder / "args.yaml").write_text(f"task: detect\nmode: train\nmodel: yolov8s.pt\n"
                                      f"epochs: {epochs}\ntime: null\npatience: 100\n")
    return folder / "results.csv"


def test_val_box_loss_is_the_held_out_loss_beside_train_box_loss(tmp_path):
    run = read_run(yolo_run(tmp_path / "train"))
    assert run.own_name("eval/loss") == "val/box_loss"
    assert run.own_name("train/loss") == "train/box_loss"
    assert run.own_name("eval/accuracy") == "metrics/mAP50-95(B)"  # still the metric analysed
    analysis = analyze_run(run, metric="val/box_loss")
    assert [p.name for p in analysis.phases] == ["overfit", "plateau"]
    assert any("the rise from epoch 1 is never recovered, while the train loss "
               "(train/box_loss) fell" in w for w in analysis.warnings), analysis.warnings
