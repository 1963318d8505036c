"""The console of the PyTorch ImageNet example (pytorch/examples `imagenet/main.py`) and of the
many scripts that copy its `ProgressMeter` (MoCo, SimSiam, their linear evaluations...):
`Epoch: [E][ I/N]\\tTime ...\\tLoss 6.8194e+01 (6.8194e+01)\\tAcc@1   0.00 (  0.00)`.

`ProgressMeter.display` prints every `print_freq` batches the epoch's prefix and batch
(`Epoch: [0][   0/2502]`; newer versions print the batch counted from 1) and each meter's
latest value with its running average over the epoch in parentheses, joined by tabs. The step
is the batch counted over the epochs (`epoch x N + I`), and a line gives the latest values, not
the averages: `Loss` as `train_loss`, `Acc@1` / `Acc@5` (the training batches' accuracy) as
`train_top1` / `train_top5` (timm's words), `LR` as `lr`, any other meter under `train_` and
its name in lower case (`Loss_loc` -> `train_loss_loc`); `Time` and `Data` are left out. The
validation's own `Test: [ 10/196]\\t...` lines are batches' running averages, not records; its
summary after each epoch, ` * Acc@1 76.130 Acc@5 92.862` (the top-1 and top-5 over the whole
validation set), is read as torchvision's is (`metriclogger_console.summary_values`:
`eval_top1`, `eval_top5`, the held-out top-1 the metric) at the epoch's last batch.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.lines import BadLine, line_sniffers
from phasewatch.io.metriclogger_console import summary_values
from phasewatch.io.source import LogFileSource
from phasewatch.io.timm_console import NAMES

FORMAT = "progressmeter_console"

TRAIN = re.compile(r"(?<!\S)Epoch: \[(?P<epoch>\d+)\]\[\s*(?P<batch>\d+)/(?P<per_epoch>\d+)\]"
                   r"\s+(?P<items>.*)$")
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf"
# `Loss 6.8194e+01 (6.8194e+01)`, `Acc@1   0.00 (  0.00)`: AverageMeter's `name val (avg)`
ITEM = re.compile(rf"(?P<name>[A-Za-z][\w@/.-]*)\s+(?P<value>{NUMBER})\s+\(\s*(?:{NUMBER})\s*\)")
SNIFF = re.compile(rb"Epoch: \[\d+\]\[\s*\d+/\d+\]\s+[A-Za-z][\w@]*\s+[-+\d.]")
TIMINGS = frozenset({"Time", "Data"})
MIN_TRAIN_LINES = 2


sniff, sniff_text = line_sniffers(SNIFF, MIN_TRAIN_LINES)


class LineParser:
    """Training lines as records at their batch; the validation's summary at the last batch
    of the epoch trained before it."""

    def __init__(self) -> None:
        self.per_epoch: int | None = None
        self.epoch: int | None = None  # the epoch of the last training line
        self.last_step: int | None = None  # the step of the last training line

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "Epoch: [" in line and (train := TRAIN.search(line)) is not None:
            self.epoch, self.per_epoch = int(train.group("epoch")), int(train.group("per_epoch"))
            values = {}
            for item in ITEM.finditer(train.group("items")):
                name = item.group("name")
                if name not in TIMINGS:
                    word = NAMES.get(name, name.lower())
                    values[word if word == "lr" else f"train_{word}"] = item.group("value")
            self.last_step = self.epoch * self.per_epoch + int(train.group("batch"))
            return [(self.last_step, values)]
        if "Acc@1" in line and (values := summary_values(line)) is not None:
            if self.epoch is None or self.per_epoch is None or self.last_step is None:
                raise BadLine("an evaluation before any training line: no batch to place it at "
                              "(an `--evaluate` run's validation has no training step)")
            # the epoch's last batch: N - 1 counted from 0, N where the batch is counted from 1
            return [(max((self.epoch + 1) * self.per_epoch - 1, self.last_step), values)]
        return []


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("ProgressMeter's `Epoch: [E][ I/N]  Time ...  Loss value (average)` lines and the "
            "` * Acc@1 ... Acc@5 ...` validation summaries after them")


source = Source.open
read = Source.run_of
