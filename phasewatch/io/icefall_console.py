"""The training log of a k2 / icefall recipe (`exp/log/log-train-<date>`, its console too): a line
every `log_interval` batches and a line at each validation, `logging`'s prefix before each.

    2024-01-08 10:15:02,345 INFO [train.py:1120] Epoch 3, batch 450, loss[loss=0.2105,
        simple_loss=0.2584, pruned_loss=0.0813, over 4932.00 frames. ], tot_loss[loss=0.2317,
        simple_loss=0.2791, pruned_loss=0.0921, over 982214.35 frames. ], batch size: 61,
        lr: 2.25e-02, grad_scale: 16.0
    2024-01-08 10:16:40,011 INFO [train.py:1150] Epoch 3, validation: loss=0.1893,
        simple_loss=0.2288, pruned_loss=0.0749, over 39451.00 frames.

(each one line in the file). A batch line's `loss[...]` is that batch's (icefall's TensorBoard
`train/current_<name>`), `tot_loss[...]` the average over the recent batches (`train/tot_<name>`,
the run's train loss, `train/tot_loss`); a validation's items are the held-out metrics, read as
`validation/<name>` (the word icefall prints: `validation/loss` is the held-out loss). `lr` or
`cur_lr` is `train/learning_rate`, `grad_scale` `train/grad_scale`; the frames and utterances
counted (`over N frames.`, `utt_*`) and the batch size are no readings.

The step is icefall's `global_batch_idx` where the line prints it; else the batch, which starts
again each epoch, counted over the epochs (an epoch goes on one after the last batch logged
before it, so a step is a batch's position to within the `log_interval` of each epoch before).
A validation is at the step of the batch line before it. `Done!` ends the run. An item whose
value is no number, or a `tot_loss[...]` cut before its `]`, is left out and said with its line
(`lines.UnreadItems`), the line's other items read. A last line without its newline, which a
writer killed mid-line leaves and which may still parse (`validation: loss=0.1` cut from 0.1906),
is read only where it looks whole, else left out and said with its file and line, as the
other console readers do (`LineRecordSource.cut_line_may_parse`); a follow waits for its end.

icefall opens a new `log-train-<date>` at each launch, so a resumed run (`--start-epoch`) is one
file a launch: the launches before the file read are read first (`io.rotated`, "launch_date"),
the batch counted on across them, and a launch that resumed from an earlier epoch supersedes the
records of the abandoned one from where that epoch started, as a resumed log does. A launch on
one GPU (`log-train-<date>`) and a DDP launch's rank 0 (`log-train-<date>-0`) are one process's;
a launch without `Done!` is said to have ended without finishing; a follow moves on to a new
launch's file (`io.launch_follow`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from phasewatch.io.lines import NUMBER, BadLine, UnreadItems, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "icefall_console"

BATCH = re.compile(r"\bEpoch (?P<epoch>\d+), batch (?P<batch>\d+), "
                   r"(?:global_batch_idx: (?P<step>\d+), )?(?P<rest>.*)$")
# `validation: loss=X, ...` (`validation loss=X, ...` in the yesno recipe)
VALIDATION = re.compile(r"\bEpoch (?P<epoch>\d+), validation:? (?P<items>.*)$")
TRACKERS = re.compile(r"\b(?P<tracker>tot_loss|loss)\[(?P<items>[^\]]*)\]")
ITEM = re.compile(rf"(?<![\w.])(?P<name>[A-Za-z_]\w*)=(?P<value>{NUMBER})(?![\w.])")
NAMED = re.compile(r"(?<![\w.])(?P<name>[A-Za-z_]\w*)=")  # an item, whatever its value
OPENED = re.compile(r"\b(?P<tracker>tot_loss|loss)\[")  # a tracker, closed or cut
SETTING = re.compile(rf"\b(?P<name>cur_lr|lr|grad_scale): (?P<value>{NUMBER})(?![\w.])")
SETTING_NAMED = re.compile(r"\b(?P<name>cur_lr|lr|grad_scale): ")
SNIFF = re.compile(rb"\bEpoch \d+, batch \d+, [^\n]*?\bloss\[[^\n]*?\], tot_loss\[")
TRACKER_NAMES = {"loss": "train/current_", "tot_loss": "train/tot_"}
SETTING_NAMES = {"lr": "train/learning_rate", "cur_lr": "train/learning_rate",
                 "grad_scale": "train/grad_scale"}
END = "Done!"

sniff, sniff_text = line_sniffers(SNIFF, 2)


def _items(text: str, prefix: str) -> dict[str, str]:
    """`name=value` items of a MetricsTracker's text under `prefix`, without the utterance
    statistics (`utt_duration`, `utt_pad_proportion`: the batch's make-up, not the model's)."""
    return {prefix + item.group("name"): item.group("value") for item in ITEM.finditer(text)
            if not item.group("name").startswith("utt_")}


def _unread(text: str, prefix: str, read: Mapping[str, str]) -> list[str]:
    """The items of `text` `_items` left out for a value that is no number (a damaged line)."""
    return [prefix + named.group("name") for named in NAMED.finditer(text)
            if prefix + named.group("name") not in read
            and not named.group("name").startswith("utt_")]


class LineParser:
    """A record per batch line at its step, and per validation at the batch line's before it."""

    def __init__(self) -> None:
        self.step: int | None = None  # the last batch line's
        self.offset = 0  # added to a batch counted within its epoch
        self.last: tuple[int, int] | None = None  # (epoch, batch) of the last batch line
        self.starts: dict[int, int] = {}  # the offset each epoch started at
        self.unread = UnreadItems("items of batch or validation lines whose value is no "
                                  "number, or in a `[...]` cut before its `]`, were left out")

    @property
    def notes(self) -> list[str]:
        """The items left out of the lines read (a line damaged inside), said once."""
        return self.unread.notes

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if ", batch " in line and (found := BATCH.search(line)) is not None:
            values: dict[str, Any] = {}
            unread: list[str] = []
            for tracker in TRACKERS.finditer(found.group("rest")):
                prefix = TRACKER_NAMES[tracker.group("tracker")]
                read = _items(tracker.group("items"), prefix)
                values.update(read)
                unread += _unread(tracker.group("items"), prefix, read)
            if not values:
                raise BadLine("a batch line with no loss[...] or tot_loss[...] value")
            closed = {tracker.group("tracker") for tracker in TRACKERS.finditer(found["rest"])}
            unread += [f"{opened['tracker']}[...] cut before its `]`"
                       for opened in OPENED.finditer(found["rest"])
                       if opened["tracker"] not in closed]
            tail = TRACKERS.sub("", found.group("rest"))
            values.update({SETTING_NAMES[s.group("name")]: s.group("value")
                           for s in SETTING.finditer(tail)})
            unread += [SETTING_NAMES[named["name"]] for named in SETTING_NAMED.finditer(tail)
                       if SETTING_NAMES[named["name"]] not in values]
            self.unread.add(lineno, unread)
            self.step = self._step(found)
            return [(self.step, values)]
        if ", validation" in line and (found := VALIDATION.search(line)) is not None:
            values = _items(found.group("items"), "validation/")
            if not values:
                raise BadLine("a validation line with no value")
            if self.step is None:
                raise BadLine("a validation before any batch line: no step to place it at")
            self.unread.add(lineno, _unread(found.group("items"), "validation/", values))
            return [(self.step, values)]
        return []

    def _step(self, found: re.Match) -> int:
        """`global_batch_idx` where printed, else the batch counted over the epochs; an epoch
        that goes back (a launch resumed from an earlier epoch) where it started before."""
        if found.group("step") is not None:
            return int(found.group("step"))
        epoch, batch = int(found.group("epoch")), int(found.group("batch"))
        if self.last is not None and epoch < self.last[0] and epoch in self.starts:
            self.offset = self.starts[epoch]
        elif self.last is not None and epoch > self.last[0] and batch <= self.last[1]:
            self.offset = (self.step or 0) + 1 - batch
        self.starts.setdefault(epoch, self.offset)
        self.last = (epoch, batch)
        return self.offset + batch

    def next_file(self) -> LineParser:
        """The parser of the next launch's file (`io.rotated`): its batches are counted on from
        this file's, an epoch it resumes at where that epoch started here."""
        parser = LineParser()
        parser.step, parser.offset, parser.last = self.step, self.offset, self.last
        parser.starts = dict(self.starts)
        return parser


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("icefall's `Epoch E, batch B, loss[loss=X, ...], tot_loss[...], ...` and `Epoch E, "
            "validation: loss=X, ...` lines")
    ROTATION = "launch_date"  # a `log-train-<date>` a launch (`io.rotated`)
    # a line cut by a killed writer still parses ('validation: loss=0.1' of 0.1906 read 0.1)
    cut_line_may_parse = True

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        return text.rstrip().endswith(END) and "] " + END in text


source = Source.open
read = Source.run_of
