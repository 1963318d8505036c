"""OpenMMLab's text log: the console of mmengine's runners (`work_dir/<timestamp>/<timestamp>.log`)
and of mmcv 1.x (mmdet 2.x, mmrotate 0.x: `work_dir/<timestamp>.log`).

    01/08 08:56:43 - mmengine - INFO - Epoch(train)  [13][ 50/391]  lr: 1.0000e-02  eta: 0:00:11
        time: 0.4082  data_time: 0.1034  memory: 1841  grad_norm: 3.1  loss: 0.51  loss_cls: 0.41
    01/08 08:56:50 - mmengine - INFO - Epoch(val) [13][8/8]    coco/bbox_mAP: 0.3710  ...
        data_time: 0.0084  time: 0.0263
    2021-10-30 06:18:30,618 - mmdet - INFO - Epoch [12][50/7004]	lr: 1.000e-02, eta: 1 day,
        2:00:00, time: 0.512, data_time: 0.051, memory: 3000, loss_cls: 0.61, loss: 1.90
    2021-10-30 06:18:30,618 - mmdet - INFO - Epoch(val) [12][7004]	bbox_mAP: 0.1050, ...

(an iteration-based loop prints `Iter(train) [  50/80000]` and `Iter(val) [500/500]`). Each line
is read as the row mmengine's `scalars.json` holds for it, and placed and named as that file's
reader does (`io.mmengine`): a training row at the global iteration (`(epoch - 1) x N + I`), an
epoch's validation at the last training step logged before it, its timings as `val/time`,
`val/data_time`. `eta` and a COCO evaluation's `*_copypaste` summary (six numbers) are left out;
a validation's progress lines (timings alone) and `Epoch(test)` lines are no records.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io import mmengine
from phasewatch.io.lines import BadLine, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "mmengine_console"

TRAIN = re.compile(r"(?:Epoch\(train\)\s*|(?<= - INFO - )Epoch\s+)\[(?P<epoch>\d+)\]"
                   r"\[\s*(?P<i>\d+)/(?P<n>\d+)\]|Iter\(train\)\s*\[\s*(?P<iter>\d+)/\d+\]")
VAL = re.compile(r"(?:Epoch\(val\)\s*\[(?P<epoch>\d+)\](?:\[[^\]]*\])?|Iter\(val\)\s*\[[^\]]*\])")
ITEM = re.compile(r"(?<![\w/.@=-])(?P<name>[A-Za-z_][\w/.@=-]*):\s+"
                  r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)(?![\w.:])")
SNIFF = re.compile(rb"Epoch\(train\)\s*\[\d+\]\[\s*\d+/\d+\]|Iter\(train\)\s*\[\s*\d+/\d+\]|"
                   rb" - INFO - Epoch \[\d+\]\[\d+/\d+\]\s+lr: ")
LEFT_OUT = frozenset({"eta"})
TIMINGS = frozenset({"eta", "time", "data_time", "memory"})
MIN_SNIFF_LINES = 2


sniff, _ = line_sniffers(SNIFF, MIN_SNIFF_LINES)


def _items(text: str) -> dict[str, str]:
    return {m.group("name"): m.group("value") for m in ITEM.finditer(text)
            if m.group("name") not in LEFT_OUT and not m.group("name").endswith("_copypaste")}


class LineParser(mmengine.LineParser):
    """Training and validation lines as the rows of scalars.json they stand for."""

    def __init__(self) -> None:
        super().__init__()
        self._last_step: int | None = None

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "(train)" in line or " - INFO - Epoch [" in line:
            if (train := TRAIN.search(line)) is None:
                return []
            values = _items(line[train.end():])
            if train.group("iter") is not None:
                step = int(train.group("iter"))
            else:
                values["epoch"] = int(train.group("epoch"))
                step = (int(train.group("epoch")) - 1) * int(train.group("n")) + int(
                    train.group("i"))
            self._last_step = step
            return self.row({"step": step, "iter": step, **values})
        if "(val)" in line and (val := VAL.search(line)) is not None:
            values = _items(line[val.end():])
            if not set(values) - TIMINGS:
                return []  # a progress line of the validation: its metrics come at its end
            if self._last_step is None:
                raise BadLine("a validation before any training line: no step to place it at")
            epoch = val.group("epoch")
            # an epoch's validation as scalars.json writes it (its step the epoch), which the
            # row rule puts at the last training step; an iteration's at that iteration
            return self.row({"step": int(epoch) if epoch else self._last_step, **values})
        return []


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("OpenMMLab's `Epoch(train) [E][I/N]  lr: ...  loss: ...` and `Epoch(val) [E][N/N]  "
            "metric: value` lines (mmcv 1.x: `Epoch [E][I/N]\tlr: ...`)")

    def __init__(self, path, follow: bool = False, notice=None):
        super().__init__(path, follow=follow, notice=notice)
        mmengine.take_checkpoint_settings(self)  # save_best, from the config beside the log


source = Source.open
read = Source.run_of
