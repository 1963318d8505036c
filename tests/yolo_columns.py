"""The results.csv columns of the YOLO trainers, as they write them, for the tests that build a
YOLO run folder: Ultralytics' detection (`DETECT`) and segmentation (`SEGMENT`) runs, and
YOLOv5's train.py (`V5`, up to v7.0)."""

DETECT = ("epoch", "time", "train/box_loss", "train/cls_loss", "train/dfl_loss",
          "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)",
          "val/box_loss", "val/cls_loss", "val/dfl_loss", "lr/pg0", "lr/pg1", "lr/pg2")
SEGMENT = ("epoch", "time", "train/box_loss", "train/seg_loss", "train/cls_loss",
           "train/dfl_loss", "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)",
           "metrics/mAP50-95(B)", "metrics/precision(M)", "metrics/recall(M)",
           "metrics/mAP50(M)", "metrics/mAP50-95(M)", "val/box_loss", "val/seg_loss",
           "val/cls_loss", "val/dfl_loss", "lr/pg0", "lr/pg1", "lr/pg2")
V5 = ("epoch", "train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision",
      "metrics/recall", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "val/box_loss",
      "val/obj_loss", "val/cls_loss", "x/lr0", "x/lr1", "x/lr2")


def v5_results(folder, levels, extra_rows=()):
    """`folder`/results.csv as YOLOv5's train.py writes it (cells right-aligned to 20): a row per
    epoch from 0 whose mAP@0.5:0.95 is `levels[epoch]` (mAP@0.5 0.4 above it, losses falling),
    then `extra_rows` as given (tuples of `V5`'s cells). Returns the file."""
    rows = [",".join(f"{name:>20}" for name in V5)]
    for epoch, level in enumerate(levels):
        rows.append(",".join(f"{value:>20}" for value in (
            epoch, 0.06 - 0.001 * epoch, 0.035, 0, 0.9, 0.9, level + 0.4, level,
            0.06 - 0.001 * epoch, 0.04, 0, 0.001, 0.001, 0.001)))
    rows.extend(",".join(f"{value:>20}" for value in row) for row in extra_rows)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.csv"
    path.write_text("\n".join(rows) + "\n")
    return path
