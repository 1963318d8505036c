"""ESPnet2's `train.log` (`exp/<task>_<tag>/train.log`, the trainer's logging): a line of
results at the end of each epoch, the training's and the validation's means side by side.

    [host] 2024-01-08 10:15:02,345 (trainer:338) INFO: 3epoch results: [train] iter_time=0.16,
        forward_time=0.95, loss=39.899, loss_att=33.843, loss_ctc=54.031, acc=0.750,
        optim0_lr0=1.697e-04, train_time=2.157, time=6 hours, 22 minutes and 55.09 seconds,
        total_count=130000, [valid] loss=27.755, acc=0.817, cer=0.132, wer=0.862,
        time=34.18 seconds, total_count=4017, [att_plot] time=3.2 seconds, total_count=0

(one line in the file). Read at the epoch: each `[train]` item as `train/<name>`, each `[valid]`
item as `valid/<name>`, the split before the name as ESPnet's own messages put it (`The best
model has been updated: valid.acc`), so `valid/acc` is the held-out accuracy, `valid/loss` the
held-out loss and `valid/cer`, `valid/wer` held-out scores, lower better. `total_count` (the
iterations so far) and a `time=` in words are no readings; other sections (`[att_plot]`) are
left out. The lines printed every `log_interval` batches within an epoch (`3epoch:train:
1-100batch: ...`) are averaged into the epoch's `[train]` and are not read again. `N/Mepoch
started` gives the planned epochs, `The training was finished at N epochs` (or early stopping's
`The training was stopped at Nepoch`) ends the run. An item whose value is no number, and
the rest of a line cut inside an item, are left out and said with the line
(`lines.UnreadItems`), the line's other items read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from phasewatch.io.lines import NUMBER, BadLine, UnreadItems, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "espnet_console"

RESULTS = re.compile(r"\b(?P<epoch>\d+)epoch results: (?P<sections>\[.*)$")
SECTION = re.compile(r"\[(?P<name>[A-Za-z_]\w*)\] ")
# `name=value` ending at the next item or the line's end (`time=1 hour, 2 minutes` is no number)
ITEM = re.compile(rf"(?:^|, )(?P<name>[A-Za-z_]\w*)=(?P<value>{NUMBER})(?=, |,?\s*$)")
STARTED = re.compile(r"\b\d+/(?P<planned>\d+)epoch started\b")
# A batch or results line, or ESPnet2's `(abs_task:N) INFO: pytorch.version=...` line, logged
# before the model's printout (`model_summary`): a large model's (a 24-layer Conformer, an SSL
# frontend) fills the 64 KiB a format is known by before the first batch line
SNIFF = re.compile(rb"\) INFO: (?:\d+epoch results: \[train\] |\d+epoch:train:\d+-\d+batch: )"
                   rb"|\(abs_task:\d+\) INFO: pytorch\.version=")
# the trainer's last words: at `max_epoch`, or its early stopping's (`check_early_stopping`:
# `[Early stopping] valid.acc has not been improved 5 epochs continuously. The training was
# stopped at 23epoch`)
FINISHED = ("The training was finished at ", "The training was stopped at ")
SPLITS = ("train", "valid")
NOT_READINGS = frozenset({"total_count"})  # the iterations so far: a counter, not the model's
NAMED = re.compile(r"(?:^|, )(?P<name>[A-Za-z_]\w*)=")
IN_WORDS = frozenset({"time"})  # `time=1 hour, 2 minutes and 3.4 seconds`: no reading
# how a whole results line ends: a number after `=`, a `time=` in words or a section's `]`;
# anything else is a line cut inside an item (a write interrupted, the log read mid-write)
WHOLE_END = re.compile(rf"(?:=(?:{NUMBER})|(?:second|minute|hour|day|week|year)s?|\]),?\s*$")

sniff, sniff_text = line_sniffers(SNIFF, 1)


class LineParser:
    """A record per epoch results line, at its epoch."""

    step_unit = "epoch"

    def __init__(self) -> None:
        self.planned: int | None = None
        self.unread = UnreadItems(
            "items of an epoch's results that are no `name=number` were left out")

    @property
    def notes(self) -> list[str]:
        """The items left out of a results line read (a line damaged inside), said once."""
        return self.unread.notes

    @property
    def settings(self) -> dict[str, int | None]:
        """The planned epochs (`N/Mepoch started`) for the run's config."""
        return {"max_steps": self.planned}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "epoch started" in line and (started := STARTED.search(line)) is not None:
            self.planned = int(started.group("planned"))
            return []
        if "epoch results: " not in line or (found := RESULTS.search(line)) is None:
            return []
        text = found.group("sections")
        heads = list(SECTION.finditer(text))
        values: dict[str, Any] = {}
        for head, after in zip(heads, heads[1:] + [None]):
            if head.group("name") not in SPLITS:
                continue
            body = text[head.end():after.start() if after else len(text)].rstrip(", ")
            read = {item.group("name"): item.group("value") for item in ITEM.finditer(body)}
            for name, value in read.items():
                if name not in NOT_READINGS:
                    values[f"{head.group('name')}/{name}"] = value
            self.unread.add(lineno, [
                f"{head.group('name')}/{named.group('name')}" for named in NAMED.finditer(body)
                if named.group("name") not in read and named.group("name") not in IN_WORDS])
        if not values:
            raise BadLine("an epoch's results line with no [train] or [valid] value")
        if not WHOLE_END.search(text):
            missing = ", ".join(f"[{split}]" for split in SPLITS if f"[{split}] " not in text)
            self.unread.add(lineno, ["the rest of the line, cut inside an item"
                                     + (f" (no {missing} items)" if missing else "")])
        return [(int(found.group("epoch")), values)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("ESPnet's `Nepoch results: [train] name=value, ... [valid] name=value, ...` lines")
    # `espnet2.bin.launch` moves train.log to train.1.log at each launch (`io.rotated`): a
    # resumed run's earlier epochs are there
    ROTATION = "before_suffix"

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        return any(words in text for words in FINISHED)


source = Source.open
read = Source.run_of
