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
