"""timm's `train.py` console: `Train:` lines every `log_interval` updates, a `Test:` block after
each epoch.

pytorch-image-models logs training as
`Train: 3 [ 100/1251 (  8%)]  Loss: 6.12 (6.34)  Time: 0.645s,  24.82/s  (...)  LR: 5.000e-04
Data: 0.477 (0.477)` (the epoch, the update within it of the epoch's updates, the batch's loss
and the epoch's running mean in parentheses) and each evaluation as lines
`Test: [  48/48]  Time: 0.041 (0.064)  Loss: 0.5951 (0.5882)  Acc@1: 81.25 (87.50)  Acc@5: ...`
whose last (its batch index the last one) holds the evaluation's means in parentheses, the
values timm writes to its `summary.csv`. The step is the update counted over the epochs
(`epoch x updates per epoch + update`); a training line gives `train_loss` (the batch's loss,
not the running mean) and `lr`; the evaluation gives `eval_loss`, `eval_top1`, `eval_top5`
(summary.csv's names, so the held-out top-1 accuracy is the performance metric) at the
epoch's last update. An EMA model's evaluation (`Test (EMA):`) gives `ema_eval_loss`, ...
beside it. Timings (`Time`, `Data`) are left out. `Scheduled epochs: N`, printed before
training, gives the planned length (`max_steps`: N x updates per epoch).
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.lines import BadLine, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "timm_console"

TRAIN = re.compile(r"(?<!\S)Train: (?P<epoch>\d+) \[\s*(?P<update>\d+)/(?P<per_epoch>\d+)\s*"
                   r"\(\s*[\d.]+%\)\]\s+(?P<items>.*)$")
TEST = re.compile(r"(?<!\S)Test(?P<ema> \(EMA\))?: \[\s*(?P<batch>\d+)/(?P<last>\d+)\]\s+"
                  r"(?P<items>.*)$")
# `Loss: 6.12 (6.34)`, `LR: 5.000e-04`, `Acc@1: 81.25 (87.50)`; a timing's `0.645s,  24.82/s`
ITEM = re.compile(r"(?P<name>[A-Za-z][\w@]*):\s+(?P<value>[-+]?[\d.]+(?:[eE][-+]?\d+)?|nan|inf)"
                  r"(?P<unit>s,\s+[\d.]+/s)?(?:\s+\(\s*(?P<mean>[^)\s]+)\s*[^)]*\))?")
SCHEDULED = re.compile(r"Scheduled epochs: (\d+)")
SNIFF = re.compile(rb"Train: \d+ \[\s*\d+/\d+ \(\s*[\d.]+%\)\]\s+Loss: ")
TIMINGS = frozenset({"Time", "Data"})
NAMES = {"Loss": "loss", "LR": "lr", "Acc@1": "top1", "Acc@5": "top5"}
MIN_TRAIN_LINES = 2


sniff, sniff_text = line_sniffers(SNIFF, MIN_TRAIN_LINES)


def _items(text: str, mean: bool) -> dict[str, str]:
    """The named values of a line's items (the running mean in parentheses where `mean`),
    timings left out, under timm's summary.csv's words (`Acc@1` is `top1`)."""
    values = {}
    for item in ITEM.finditer(text):
        name = item.group("name")
        if name in TIMINGS or item.group("unit"):
            continue
        value = item.group("mean") if mean and item.group("mean") else item.group("value")
        values[NAMES.get(name, name.lower())] = value
    return values


class LineParser:
    """`Train:` lines as records at their update; the last line of a `Test:` block as the
    evaluation, at the last update of the epoch trained before it."""

    def __init__(self) -> None:
        self.epochs: int | None = None  # `Scheduled epochs: N`
        self.per_epoch: int | None = None
        self.epoch: int | None = None  # the epoch of the last `Train:` line

    @property
    def settings(self) -> dict[str, int]:
        """The planned length for the run's config (`phasewatch.planned`)."""
        if self.epochs is None or self.per_epoch is None:
            return {}
        return {"max_steps": self.epochs * self.per_epoch}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "Train: " in line and (train := TRAIN.search(line)) is not None:
            self.epoch, self.per_epoch = int(train.group("epoch")), int(train.group("per_epoch"))
            values = {f"train_{k}" if k != "lr" else k: v
                      for k, v in _items(train.group("items"), mean=False).items()}
            return [(self.epoch * self.per_epoch + int(train.group("update")), values)]
        if "Test" in line and (test := TEST.search(line)) is not None:
            if test.group("batch") != test.group("last"):
                return []  # a batch's running means: the block's last line holds the evaluation
            if self.epoch is None or self.per_epoch is None:
                raise BadLine("an evaluation before any `Train:` line: no update to place it at "
                              "(a `--eval-only` run's evaluation has no training step)")
            prefix = "ema_eval_" if test.group("ema") else "eval_"
            values = {prefix + k: v for k, v in _items(test.group("items"), mean=True).items()}
            return [((self.epoch + 1) * self.per_epoch - 1, values)]
        if self.epochs is None and (scheduled := SCHEDULED.search(line)) is not None:
            self.epochs = int(scheduled.group(1))
        return []


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "timm's `Train: E [ U/N (P%)]  Loss: ...` lines and `Test: [ B/B]  ...` evaluations"


source = Source.open
read = Source.run_of
