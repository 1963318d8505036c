"""The console of torchvision's reference scripts and the research code built on their
`MetricLogger` (DETR, DeiT, MAE, DINO, ...): `Epoch: [E]  [ I/N]  eta: ...  name: value (mean)`.

`MetricLogger.log_every` prints every `print_freq` iterations
`Epoch: [3]  [ 100/1251]  eta: 0:10:02  lr: 0.1  img/s: 480.5  loss: 3.1 (3.3)  acc1: 30.2 (28.1)
time: 0.48  data: 0.01  max mem: 8231` (each meter's windowed median, its mean over the epoch in
parentheses). The step is the iteration counted over the epochs (`epoch x N + I`); a training
line's values are read under `train_` names (`train_loss`, `train_acc1`: the training batches'
accuracy, no held-out one) and `lr`, timings and memory left out. The evaluation after each
epoch is its summary line, at the epoch's last iteration: torchvision's classification
`Test:  Acc@1 76.130 Acc@5 92.862`, DeiT's and MAE's `* Acc@1 81.800 Acc@5 95.594 loss 0.800`
(`eval_top1`, `eval_top5`, `eval_loss`: timm's summary.csv names, the held-out top-1 the
metric; an EMA model's `Test: EMA Acc@1 ...` as `ema_eval_top1`, ... beside them), and the
COCO evaluation of the detection references (`IoU metric: bbox`, then
`Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.373`: `bbox/AP`,
`segm/AP`, as detectron2 names them). An evaluation's per-batch lines (`Test:  [ 0/196] ...`)
are not records.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.lines import BadLine, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "metriclogger_console"

TRAIN = re.compile(r"(?<!\S)Epoch: \[(?P<epoch>\d+)\]\s+\[\s*(?P<it>\d+)/(?P<per_epoch>\d+)\]\s+"
                   r"eta: \S+\s+(?P<items>.*)$")
# `name: 3.1 (3.3)`, `lr: 0.100000`, `max mem: 8231`
ITEM = re.compile(r"(?P<name>[A-Za-z][\w/]*(?: mem)?): (?P<value>[-+]?(?:\d+\.?\d*|\.\d+)"
                  r"(?:[eE][-+]?\d+)?|nan|inf)(?: \((?P<mean>[^)]*)\))?")
SKIPPED = frozenset({"time", "data", "max mem", "img/s"})
# torchvision's `evaluate(..., log_suffix="EMA")` prints the EMA model's as `Test: EMA Acc@1 ...`;
# the PyTorch ImageNet example's `ProgressMeter.display_summary` joins its meters' summaries, ''
# for a meter without one, by spaces: ` *   Acc@1 76.130 Acc@5 92.862`
SUMMARY = re.compile(r"^(?:Test:\s+(?P<ema>EMA\s+)?|\*\s+)Acc@1 (?P<top1>[\d.]+) "
                     r"Acc@5 (?P<top5>[\d.]+)(?: loss (?P<loss>[\d.]+))?\s*$")
IOU_TYPE = re.compile(r"^IoU metric: (?P<kind>\w+)\s*$")
COCO_AP = re.compile(r"^\s*Average Precision\s+\(AP\) @\[ IoU=0\.50:0\.95 \| area=\s*all \| "
                     r"maxDets=\s*\d+ \] = (?P<value>-?[\d.]+)\s*$")
SNIFF = re.compile(rb"Epoch: \[\d+\]\s+\[\s*\d+/\d+\]\s+eta: ")
MIN_TRAIN_LINES = 2


sniff, sniff_text = line_sniffers(SNIFF, MIN_TRAIN_LINES)


def summary_values(line: str) -> dict[str, str] | None:
    """An evaluation's summary line (`Test:  Acc@1 76.130 Acc@5 92.862`, `* Acc@1 ... loss ...`)
    as `eval_top1`, `eval_top5`, `eval_loss` (an EMA model's as `ema_eval_...`: its own series
    beside the model's, timm's names, not a second reading of the same one); None for any other
    line. Shared with `progressmeter_console`, whose scripts print the same summary."""
    if (summary := SUMMARY.match(line.strip())) is None:
        return None
    prefix = "ema_eval_" if summary.group("ema") else "eval_"
    return {f"{prefix}{name}": summary.group(name) for name in ("top1", "top5", "loss")
            if summary.group(name) is not None}


class LineParser:
    """Training lines as records at their iteration; an evaluation's summary at the last
    iteration of the epoch trained before it."""

    def __init__(self) -> None:
        self.per_epoch: int | None = None
        self.epoch: int | None = None  # the epoch of the last training line
        self.iou: str | None = None  # the COCO evaluation's IoU type (`bbox`, `segm`)

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "Epoch: [" in line and (train := TRAIN.search(line)) is not None:
            self.epoch, self.per_epoch = int(train.group("epoch")), int(train.group("per_epoch"))
            values = {("lr" if m.group("name") == "lr" else f"train_{m.group('name')}"):
                      m.group("value") for m in ITEM.finditer(train.group("items"))
                      if m.group("name") not in SKIPPED}
            return [(self.epoch * self.per_epoch + int(train.group("it")), values)]
        if (values := summary_values(line)) is not None:
            return self._evaluation(values)
        if "IoU metric" in line and (kind := IOU_TYPE.match(line.strip())) is not None:
            self.iou = kind.group("kind")
            return []
        if self.iou is not None and (ap := COCO_AP.match(line)) is not None:
            name, self.iou = f"{self.iou}/AP", None  # the first AP line of its table
            return self._evaluation({name: ap.group("value")})
        return []

    def _evaluation(self, values: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
        if self.epoch is None or self.per_epoch is None:
            raise BadLine("an evaluation before any training line: no iteration to place it at "
                          "(an evaluation-only run has no training step)")
        return [((self.epoch + 1) * self.per_epoch - 1, values)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("MetricLogger's `Epoch: [E]  [ I/N]  eta: ...  name: value (mean)` lines and the "
            "evaluation summaries after them")


source = Source.open
read = Source.run_of
