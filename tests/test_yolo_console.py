"""The console of YOLO's train.py (YOLOv5's and YOLOv8's `Epoch gpu_mem box ...` header rows,
their values and the `all` validation rows) was an unknown log format: a user with the console
but not the run's results.csv could not analyze it."""

from __future__ import annotations

import pytest

from phasewatch.api import analyze
from phasewatch.io import read_run

BAR = ": 100%|##########| 213/213 [06:13<00:00,  1.75s/it]"
V6 = ("     Epoch   gpu_mem       box       obj       cls    labels  img_size",
      "               Class     Images     Labels          P          R     mAP@.5 mAP@.5:.95")
V7 = ("      Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size",
      "                 Class     Images  Instances          P          R      mAP50   mAP50-95")
V8 = ("      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size",
      "                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95)")


def mAP(epoch: int) -> float:
    return 0.5 * epoch / (epoch + 3)


def console(headers: tuple[str, str], epochs: int = 8, first: int = 0) -> str:
    lines = ["train: weights=yolov5s.pt, cfg=, data=coco128.yaml, epochs=8, batch_size=16",
             "Starting training for 8 epochs..."]
    last = first + epochs - 1
    for epoch in range(first, first + epochs):
        loss = 0.08 / (1 + epoch)
        running = f"{epoch:>10}/{last}     3.2G    0.09999   0.05    0.02       40       640"
        done = f"{epoch:>10}/{last}     3.2G  {loss:9.4g}   0.03    0.01       38       640"
        lines += ["", headers[0], running + ": 40%|####      | 85/213 [00:42<01:02,  2.0it/s]\r"
                  + done + BAR, headers[1] + BAR,
                  f"{'all':>22}{128:>11}{929:>11}{0.7:>11}{0.5:>11}"
                  + f"{mAP(epoch) + 0.2:>11.4f}{mAP(epoch):>11.4f}",
                  f"{'person':>22}{128:>11}{254:>11}{0.81:>11}{0.66:>11}{0.75:>11}{0.5:>11}"]
    lines += ["", f"{epochs} epochs completed in 0.101 hours.",
              "Validating runs/train/exp/weights/best.pt...", headers[1] + BAR,
              f"{'all':>22}{128:>11}{929:>11}" + f"{0.99:>11}" * 4]
    return "\n".join(lines) + "\n"


def read(tmp_path, text):
    path = tmp_path / "train_output.txt"
    path.write_text(text)
    return path, read_run(path)


@pytest.mark.parametrize("headers, metric, losses", [
    (V6, "metrics/mAP_0.5:0.95", ["train/box_loss", "train/cls_loss", "train/obj_loss"]),
    (V7, "metrics/mAP_0.5:0.95", ["train/box_loss", "train/cls_loss", "train/obj_loss"]),
    (V8, "metrics/mAP50-95(B)", ["train/box_loss", "train/cls_loss", "train/dfl_loss"]),
])
def test_the_columns_are_read_under_results_csv_names(tmp_path, headers, metric, losses):
    path, run = read(tmp_path, console(headers))
    held_out = sorted(name for name in run.metrics if name.startswith("metrics/"))
    assert sorted(run.metrics) == sorted(held_out + losses) and len(held_out) == 4
    assert run.series(metric).index.tolist() == list(range(8))
    # the `all` rows, not a class's, nor the best checkpoint validated after training
    assert run.series(metric).tolist() == pytest.approx([mAP(e) for e in range(8)], abs=1e-4)
    # the training row's last draw: the epoch's mean, not the running one drawn before it
    assert run.series("train/box_loss").tolist() == pytest.approx(
        [0.08 / (1 + e) for e in range(8)], rel=1e-3)
    assert analyze(path).metric == metric


def test_the_epoch_is_as_printed(tmp_path):
    _, run = read(tmp_path, console(V8, first=1))
    assert run.series("metrics/mAP50-95(B)").index.tolist() == list(range(1, 9))
