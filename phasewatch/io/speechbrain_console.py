"""SpeechBrain's `train_log.txt` (its `FileTrainLogger`, `speechbrain/utils/train_logger.py`): a
line a `log_stats` call, at the end of each epoch, and one for the test after training.

    epoch: 1, lr: 1.00e+00 - train loss: 2.35 - valid loss: 1.98, valid CER: 45.12, valid WER: 78.01
    Epoch loaded: 20 - test loss: 1.23, test WER: 10.20, test CER: 3.45

The first part is the call's `stats_meta` (`name: value, ...`), then one part a split
(` - train ...`, ` - valid ...`, ` - test ...`), each item named `<split> <name>`. A float
between 1 and 100 is printed with two decimals, any other in exponent form (`1.50e+02`,
`9.51e-01`), an integer as it is. The same lines go to `log.txt` through the logger
(`... - speechbrain.utils.train_logger - INFO - epoch: 1, ...`) and the console: read there
behind that prefix too.

The step is the epoch (`epoch`, or `Epoch` in some recipes). A split's items are read as
`<split>/<name>`: `train/loss` the training loss, `valid/loss`, `valid/WER`, `valid/CER`,
`valid/error_rate`, `valid/ACC` the held-out ones (an error rate lower better), `test/...` the
test's. The test line is written after training, of the checkpoint the recipe loaded for it
(the best by its `min_key` / `max_key`), at that checkpoint's epoch (`Epoch loaded`): its
values are read at that epoch, and the line ends the run. The meta items are read under their
names (`lr`, `lr_model`), a step counter (`steps`) and a word (`optimizer: Adam`) left out;
an item of a split whose value is no number (a tensor's text, a list) is left out and said
with its line (`lines.UnreadItems`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from phasewatch.io.lines import NUMBER, BadLine, UnreadItems, as_step, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "speechbrain_console"

# where a line starts: the file's own, or behind the logger's name (log.txt, the console)
LOGGER = re.compile(r"speechbrain\.utils\.train_logger - (?:[A-Z]+ - )?")
SPLITS = ("train", "valid", "test")
SPLIT = re.compile(r" - (?=(?:train|valid|test) )")
# `name: value` items joined by ", " (a name may hold spaces: `Epoch loaded`)
ITEM = re.compile(rf"(?:^|, )(?P<name>[^:,]+?): (?P<value>{NUMBER})(?=, |$)")
NAMED = re.compile(r"(?:^|, )(?P<name>[^:,]+?): ")
EPOCH_KEYS = ("epoch", "Epoch")
LOADED = "Epoch loaded"  # the test line's: the epoch of the checkpoint tested
COUNTERS = frozenset({"steps", "step"})  # optimizer steps so far: a counter, not a reading
SNIFF = re.compile(
    rb"(?m)(?:^|train_logger - (?:[A-Z]+ - )?)(?:[Ee]poch|Epoch loaded): \d+(?:, [^,:\n]+: [^,\n]+)*"
    rb" - (?:train|valid|test) [^:,\n]+: (?:" + NUMBER.encode() + rb")")

sniff, sniff_text = line_sniffers(SNIFF, 1)


class LineParser:
    """A record a `log_stats` line, at its epoch."""

    step_unit = "epoch"

    def __init__(self) -> None:
        self.finished = False  # the test line, written after training, was read
        self.unread = UnreadItems("items of a split whose value is no number were left out")

    @property
    def notes(self) -> list[str]:
        return self.unread.notes

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if (prefix := LOGGER.search(line)) is not None:
            line = line[prefix.end():]
        meta, *parts = SPLIT.split(line.strip())
        if not parts:
            return []
        stated = {m.group("name"): m.group("value") for m in ITEM.finditer(meta)}
        epoch = next((stated[key] for key in (*EPOCH_KEYS, LOADED) if key in stated), None)
        if epoch is None:
            raise BadLine("a line of results with no epoch (`epoch: N` or `Epoch loaded: N`)")
        values: dict[str, Any] = {name: value for name, value in stated.items()
                                  if name not in (*EPOCH_KEYS, LOADED) and name not in COUNTERS}
        for part in parts:
            split = part.split(" ", 1)[0]
            read = {m.group("name"): m.group("value") for m in ITEM.finditer(part)}
            for name, value in read.items():
                if name.startswith(split + " "):
                    values[f"{split}/{name[len(split) + 1:]}"] = value
            self.unread.add(lineno, [f"{split}/{named.group('name')[len(split) + 1:]}"
                                     for named in NAMED.finditer(part)
                                     if named.group("name") not in read])
        if LOADED in stated and any(part.startswith("test ") for part in parts):
            self.finished = True
        return [(as_step(epoch), values)]  # the one step rule: `epoch: 3.5` is no epoch


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("SpeechBrain's `epoch: N, lr: X - train loss: X - valid loss: X, valid WER: X` lines")
    # a line cut by a killed writer still parses ('valid WER: 78.0' of 78.01)
    cut_line_may_parse = True

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        return self.parser.finished


source = Source.open
read = Source.run_of
