"""The console of Ultralytics' YOLO trainers (YOLOv5's and YOLOv8's `train.py`): column tables.

Each epoch prints a header row and a row of values under it, redrawn by a progress bar:

        Epoch   gpu_mem       box       obj       cls    labels  img_size
      149/149     4.89G   0.01357  0.008537         0         1      1280: 100%|####| 213/213 [...]
                 Class     Images     Labels          P          R     mAP@.5 mAP@.5:.95: 100%|...
                   all        657       2287      0.893      0.498      0.643      0.319

(YOLOv5 v7.0 and YOLOv8 name the columns `box_loss ... Instances Size` and `mAP50 mAP50-95`,
YOLOv8's validation columns `Box(P R mAP50 mAP50-95)`.) The values are named as the run's
`results.csv` names them, so a user reading the console or the CSV gets the same series and
roles: `train/box_loss`, ..., `metrics/precision`, `metrics/mAP_0.5`, `metrics/mAP_0.5:0.95`
(YOLOv8: `metrics/mAP50-95(B)`; a segmentation model's `Mask(...)` columns `(M)`). The step is
the epoch as printed (YOLOv5 counts from 0, as its results.csv); the `all` row is the
evaluation of the epoch trained before it (per-class rows are left out). A training row is read
at its last draw (the bar at N/N: the epoch's mean losses; earlier draws are running means).
GPU memory, label counts and image size are no measurements of training and are left out. What
comes after `N epochs completed in` (the best checkpoint validated again) is no epoch's record.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine
from phasewatch.io.progress_desc import PROGRESS_BAR
from phasewatch.io.source import LogFileSource

FORMAT = "yolo_console"

TRAIN_HEADER = re.compile(r"^\s*Epoch\s+gpu_mem\s+(?P<columns>.*?)\s*$", re.IGNORECASE)
VAL_HEADER = re.compile(r"^\s*Class\s+(?P<columns>Images\s+.*?)\s*$")
TRAIN_ROW = re.compile(r"^\s*(?P<epoch>\d+)/(?P<last>\d+)\s+\S+\s+(?P<values>.*?)\s*$")
ALL_ROW = re.compile(r"^\s*all\s+(?P<values>.*?)\s*$")
DONE = re.compile(r"\d+ epochs? completed in ")
SNIFF_HEADER = re.compile(rb"(?m)^\s*Epoch\s+gpu_mem\s+\S*box", re.IGNORECASE)
SNIFF_ROW = re.compile(rb"(?m)^\s*\d+/\d+\s+[\d.]+G?\s+[\d.]+\s")
# training columns: YOLOv5 <= v6.2 prints `box obj cls` (v5.0 `total` too), later `box_loss`
TRAIN_NAMES = {"box": "box_loss", "obj": "obj_loss", "cls": "cls_loss", "total": "total_loss"}
NOT_MEASURED = frozenset({"labels", "instances", "targets", "img_size", "size", "images"})
# validation columns: YOLOv5's results.csv names, or YOLOv8's with the kind of mask
V5_NAMES = {"P": "precision", "R": "recall", "mAP@.5": "mAP_0.5", "mAP50": "mAP_0.5",
            "mAP@.5:.95": "mAP_0.5:0.95", "mAP50-95": "mAP_0.5:0.95"}
V8_NAMES = {"P": "precision", "R": "recall", "mAP50": "mAP50", "mAP50-95": "mAP50-95"}
V8_KINDS = {"Box": "B", "Mask": "M", "Pose": "P"}


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and SNIFF_HEADER.search(head) is not None \
        and SNIFF_ROW.search(head) is not None


def _without_bar(line: str) -> tuple[str, re.Match | None]:
    bar = PROGRESS_BAR.search(line) if "%|" in line else None
    return (line[:bar.start()] if bar else line), bar


def train_names(columns: str) -> list[str | None]:
    """The names of a training header's columns after `Epoch gpu_mem` (None: left out)."""
    names: list[str | None] = []
    for column in columns.split():
        names.append(None if column.lower() in NOT_MEASURED
                     else f"train/{TRAIN_NAMES.get(column, column)}")
    return names


def val_names(columns: str) -> list[str | None]:
    """The names of a validation header's columns after `Class` (None: left out)."""
    names: list[str | None] = []
    kind = None
    for column in columns.split():
        if "(" in column:
            prefix, column = column.split("(", 1)
            kind = V8_KINDS.get(prefix, prefix[:1])
        column = column.rstrip("):")
        if column.lower() in NOT_MEASURED:
            names.append(None)
        elif kind is not None:
            names.append(f"metrics/{V8_NAMES.get(column, column)}({kind})")
        else:
            names.append(f"metrics/{V5_NAMES.get(column, column)}")
    return names


class LineParser:
    """A training row as a record at its epoch; the `all` row under a validation header at the
    epoch trained before it."""

    step_unit = "epoch"

    def __init__(self) -> None:
        self.train: list[str | None] | None = None  # the last training header's names
        self.val: list[str | None] | None = None
        self.epoch: int | None = None
        self.done = False

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if self.done:
            return []
        text, bar = _without_bar(line)
        if (header := TRAIN_HEADER.match(text)) is not None:
            self.train, self.val = train_names(header.group("columns")), None
            return []
        if (header := VAL_HEADER.match(text)) is not None:
            self.val = val_names(header.group("columns"))
            return []
        if self.train is not None and (row := TRAIN_ROW.match(text)) is not None:
            if bar is not None and int(bar.group("n")) < int(bar.group("total")):
                return []  # a running mean of the epoch under way: its last draw is the epoch's
            self.epoch = int(row.group("epoch"))
            return self._record(self.train, row.group("values"), lineno)
        if self.val is not None and (row := ALL_ROW.match(text)) is not None:
            if self.epoch is None:
                raise BadLine("a validation before any training row: no epoch to place it at")
            return self._record(self.val, row.group("values"), lineno)
        if DONE.search(line):
            self.done = True
        return []

    def _record(self, names: list[str | None], values: str, lineno: int
                ) -> list[tuple[int, dict[str, Any]]]:
        cells = values.split()
        if len(cells) != len(names):
            raise BadLine(f"{len(cells)} values under a header of {len(names)} columns")
        assert self.epoch is not None
        return [(self.epoch, {name: cell for name, cell in zip(names, cells) if name})]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("YOLO's `Epoch gpu_mem box ...` header rows and their values, and the `all` "
            "validation rows")


source = Source.open
read = Source.run_of
