"""Print-statement logs of home-made training scripts: `name=value` items after a step token.

Research scripts often log with print(): `[step 11] avg_loss=0.5231 acc=0.3125`,
`Epoch 3: train_loss=0.2381, val_loss=0.2627`, `iter 1500: loss=1.234, lr=3e-4`,
`Step: 40, reward = 0.53, kl = 0.012`. A record line has a step token (`step`, `iter`,
`iteration` or `epoch`, any case, then an integer, optionally `/TOTAL`) and `name=value`
items, at least one of them a number (`nan` included). A line without `=` may hold `name:
value` items instead (nanoGPT's `step 0 | loss: 11.02 | lr 8.4e-07 | norm: 14.3`, `Step 1
loss: 91.0 token_entropy: 1.14`), or after `N:` comma-separated `name number` fields (nanoGPT's
`step 0: train loss 4.2874, val loss 4.2823`, `iter 10: loss 4.6810, time 49.27ms, mfu 7.56%`):
then nothing but items may follow the step token, and two of them must be numbers, so a
model's `Step 3: Multiply: 24` stays prose. Every other line
(samples, timings, `step 8 | loss 0.41` with neither) is console noise and skipped. Values stay
text; the collector reads numbers from them as from any log (`phasewatch.values`).

The first record decides what the file counts: steps (`step`/`iter`/`iteration`) or epochs
(then the run's `step_unit` is "epoch"). A script that counts steps and prints an end-of-epoch
line (`=== Epoch 1 val_loss=0.2627 ===`) evaluated at the step it had reached, so that line is
placed at the last step logged before it. A `step N` line in a log counted in epochs cannot be
placed on its axis: it is reported as a skipped line. `/TOTAL` on the counter the file uses is
its planned length, given to the run's config as `max_steps` (`phasewatch.planned`). A step
printed beside its epoch that starts again (or stands still) as the epoch advances counts within
the epoch and is counted over the epochs from then on (`LineParser._across_epochs`).

MiniMind's trainers (and the many scripts copied from them) print `Epoch:[1/2](50/4292), loss:
2.49, lr: 0.00001, epoch_time: 9.0min` or `Epoch:[1/1](3/500), Reward: 0.38, Actor Loss: 0.0,
Avg Len: 129`: the iteration within the epoch in parentheses, `name: value` items (names may
hold spaces). The step is the iteration counted over the epochs, `(epoch - 1) x per-epoch +
iteration`, and the planned length `epochs x per-epoch`.

Scripts that print an epoch as a block, a header line and then lines of `Name: value` items
(`Epoch: 3/30`, then `Train Loss: 5.94 - Train Perplexity: 380.11` and `Valid Loss: 5.90 - Valid
Perplexity: 366.70`), give one record per item line at the header's step. A header is a step
token alone on its line (decorations such as `===` or `[ ]` aside); an item line holds nothing
but `Name: value` items (names may hold spaces) between ` - `, `|`, `,` or `;`, at least one of
them a number, and no step token. Values that are no number (`Time Taken: 146.09s`) are left out.
One line may be both (`Epoch 3 - Validation BLEU: 21.40`).

Sniffing is the most conservative of all readers (it comes last in `READERS`): at least
3 record lines in the first 64 KiB (8 MB when the head has a step token but fewer records:
samples printed between steps), and a step that increases, so prose with one `step 1 lr=3`
line is not taken for a log.

A tqdm bar over an epoch with a postfix (Lightning's `Epoch 3: 100%|...| 50/50 [00:02<00:00,
20.1it/s, v_num=0, train_loss_step=0.31, val_loss=0.41]`, a loop's `set_postfix(loss=...)`) is
drawn many times an epoch: its unfinished draws hold running values, and its finished ones
before the epoch's validation the previous epoch's `val_loss`. The epoch's record is its last
finished draw, given when a draw of another epoch (or another record) comes, or at the end;
Lightning's `v_num` (the logger's version) is left out.

What a record line is (its step tokens and items) is `kv_items`; this module places the
records on the step axis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

from phasewatch.io.kv_items import (
    COLON_ITEM,
    HEADER_DECORATION,
    MAX_HEADER,
    MAX_ITERS,
    MINIMIND_TOKEN,
    NUMBER,
    STEP_TOKEN,
    block_items,
    colon_items,
    piped_items,
    record_items,
    step_tokens,
)
from phasewatch.io.kv_set_lines import END_OF_TRAINING, held_out_set_items
from phasewatch.io.lines import BadLine
from phasewatch.io.progress_desc import description_items, postfix_bar, progress_bar, unfinished
from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_console import SNIFF_MORE_BYTES  # read by then: it sniffs earlier

FORMAT = "kv_console"

EPOCH = "epoch"
SNIFF_MIN_RECORDS = 3
BAR_NOT_MEASURED = ("v_num",)  # Lightning's bar shows its logger's version


def sniff(path: Path, head: bytes) -> bool:
    """At least SNIFF_MIN_RECORDS record lines, and a step that grows. A script that prints
    its samples between steps can fill the first 64 KiB before its third record: when the
    head has a step token and the file goes on, up to `SNIFF_MORE_BYTES` are searched."""
    if not path.is_file():
        return False
    text = head.decode("utf-8", "replace")
    if sniff_text(text):
        return True
    if not STEP_TOKEN.search(text) or path.stat().st_size <= len(head):
        return False
    with open(path, "rb") as fh:
        more = fh.read(SNIFF_MORE_BYTES)
    return _holds_records(more.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return _holds_records(text)


def _holds_records(text: str) -> bool:
    parser = LineParser()
    steps: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            steps.extend(step for step, _ in parser.feed(line, lineno))
        except BadLine:
            continue
    steps.extend(step for step, _ in parser.flush())
    return len(steps) >= SNIFF_MIN_RECORDS and any(a < b for a, b in pairwise(steps))


def header_token(line: str, tokens: list[re.Match] | None = None) -> re.Match | None:
    """The step token of an epoch block's header (`Epoch 3/30`, `=== Epoch 3 ===`), a line
    that holds nothing else; else None. `tokens`: the line's step tokens, when searched for
    already."""
    tokens = list(STEP_TOKEN.finditer(line)) if tokens is None else tokens
    if len(tokens) == 1 and HEADER_DECORATION.fullmatch(STEP_TOKEN.sub("", line)):
        return tokens[0]
    return None


class LineParser:
    """A line with a step token and `name=value` items gives one record; other lines none."""

    def __init__(self) -> None:
        self.counter: str | None = None  # "step" or "epoch": what the first record counted
        self.last_step: int | None = None
        self.planned: int | None = None  # `/TOTAL` on the file's own counter
        self.max_iters: int | None = None  # nanoGPT's `max_iters = N` (`MAX_ITERS`)
        self.notes: list[str] = []
        # a step printed beside its epoch: (epoch, step) as last printed, whether the step was
        # seen to count within the epoch, the first epoch, and the offset when no total says
        self._raw: tuple[int, int] | None = None
        self._within_epoch = False
        self._first_epoch: int | None = None
        self._offset = 0
        self._epoch_offsets: dict[int, int] = {}  # the offset each epoch started with
        self._block: re.Match | None = None  # the header of the block item lines join
        # an epoch's last finished postfix-bar draw so far: (epoch, tokens, values)
        self._held: tuple[int, list[re.Match], dict[str, Any]] | None = None

    @property
    def settings(self) -> dict[str, int | None]:
        """The planned length (`/TOTAL`) for the run's config (`phasewatch.planned`); None
        once a per-epoch `/TOTAL` is seen to be no planned length after all. And nanoGPT's
        `max_iters` where it prints it, before its first record (a later one is no setting)."""
        return {"max_steps": self.planned, "max_iters": self.max_iters}

    @property
    def step_unit(self) -> str:
        return EPOCH if self.counter == EPOCH else "step"

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if (bar := postfix_bar(line)) is not None and (tokens := step_tokens(line[:bar.start()])) \
                and all(t.group("kind").lower() == EPOCH for t in tokens):
            return self._bar_draw(line, bar, tokens)
        found = self._feed(line)
        return self.flush() + found if found and self._held is not None else found

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """The held epoch's record (its last finished postfix-bar draw), if any."""
        if self._held is None:
            return []
        _, tokens, values = self._held
        self._held = None
        return self._record(tokens, values)

    def _bar_draw(self, line: str, bar: re.Match, tokens: list[re.Match]
                  ) -> list[tuple[int, dict[str, Any]]]:
        """A draw of a postfix bar over an epoch: held while it is its epoch's last finished
        one; the held record of another epoch is given."""
        epoch = int(tokens[0].group("n"))
        out = self.flush() if self._held is not None and self._held[0] != epoch else []
        if int(bar.group("n")) == int(bar.group("total")):
            values = {name: value for name, value in record_items(line[:bar.end()], tokens).items()
                      if name not in BAR_NOT_MEASURED}
            if any(NUMBER.match(value) for value in values.values()):
                self._held = (epoch, tokens, values)
        self._block = None
        return out

    def _feed(self, line: str) -> list[tuple[int, dict[str, Any]]]:
        if self.counter is None and "max_iters" in line \
                and (stated := MAX_ITERS.match(line.strip())) is not None:
            self.max_iters = int(stated.group(1))
            return []
        if "Epoch:[" in line and (minimind := MINIMIND_TOKEN.search(line)) is not None:
            return self._minimind_record(line, minimind)
        if (bar := progress_bar(line)) is not None \
                and (tokens := step_tokens(line[:bar.start()])) \
                and (values := description_items(line, bar, tokens)):
            self._block = None
            return [] if unfinished(bar, tokens) else self._record(tokens, values)
        if "=" not in line and ":" not in line:
            # most console output: no item, no need for the step token's search (but for
            # `|` fields of `name number`: DGL's `Epoch 00003 | Step 00020 | Loss 2.6650 | ...`)
            piped = {}
            if "|" in line and (tokens := step_tokens(line)):
                piped = piped_items(line, tokens)
            if not piped:
                if len(line) <= MAX_HEADER and (header := header_token(line)) is not None:
                    self._block = header
                    return []
                return self._set_record(line) if " " in line.strip() else []
            self._block = None
            return self._record(tokens, piped)
        tokens = step_tokens(line)
        if not tokens:
            return self._set_record(line) or self._block_record(line)
        if (header := header_token(line, tokens)) is not None:
            self._block = header
            return []
        self._block = None
        values = record_items(line, tokens) if "=" in line else colon_items(line, tokens)
        return self._record(tokens, values)

    def _record(self, tokens: list[re.Match], values: dict[str, Any]
                ) -> list[tuple[int, dict[str, Any]]]:
        """`values` as a record at the step the line's `tokens` say, on the file's counter."""
        if not any(NUMBER.match(value) for value in values.values()):
            return []  # `step 8 | loss 0.41`, `step 5: mode=train`: console noise
        by_kind = {EPOCH: [t for t in tokens if t.group("kind").lower() == EPOCH],
                   "step": [t for t in tokens if t.group("kind").lower() != EPOCH]}
        if self.counter is None:
            self.counter = "step" if by_kind["step"] else EPOCH
        own = by_kind[self.counter]
        if own and self.counter == "step" and by_kind[EPOCH]:
            step = self._across_epochs(own[0], by_kind[EPOCH][0])
        elif own:
            step = int(own[0].group("n"))
            if own[0].group("total") is not None:
                self.planned = int(own[0].group("total"))
        elif self.counter == "step":  # an end-of-epoch line in a log counted in steps
            step = self._placed_at_last_step()
        else:
            raise BadLine("a `step N` line in a log counted in epochs (its first record was an "
                          "`Epoch N` line): it cannot be placed on the epoch axis")
        self.last_step = step
        return [(step, values)]

    def _set_record(self, line: str) -> list[tuple[int, dict[str, Any]]]:
        """An evaluation's summary line (`Test set: Average loss: 0.0512, Accuracy: 9837/10000
        (98%)`, `kv_set_lines.held_out_set_items`) as a record at the last step logged before it:
        the epoch it ends, or the step the training reached; [] for any other line."""
        if not (values := held_out_set_items(line)):
            return []
        if self.last_step is None:
            raise BadLine("an evaluation's `... set:` line before any training line: no step to "
                          "place it at")
        self._block = None
        return [(self.last_step, values)]

    def _block_record(self, line: str) -> list[tuple[int, dict[str, Any]]]:
        """An item line of an open epoch block (`Train Loss: 5.94 - Train Perplexity: 380.11`)
        as a record at the block's step; [] for any other line. A header of another counter
        than the file's heads no block (an `Epoch 2` banner in a log of steps); a header's
        counter is the file's once an item line follows it (a banner before the first record
        decides nothing)."""
        if self._block is None:
            return []
        values = block_items(line)
        kind = EPOCH if self._block.group("kind").lower() == EPOCH else "step"
        if not values or self.counter not in (None, kind):
            return []
        self.counter = kind
        if self._block.group("total") is not None:
            self.planned = int(self._block.group("total"))
        self.last_step = int(self._block.group("n"))
        return [(self.last_step, values)]

    def _across_epochs(self, step_token: re.Match, epoch_token: re.Match) -> int:
        """The step of a line that prints its epoch too (`Epoch 1 | Step 20/6501 | ...`). Such a
        step may count within the epoch: when it goes back (or stands still) as the epoch
        advances, it is counted over the epochs from then on (epoch x per-epoch total + step
        when `/TOTAL` is printed, else on from the last step logged), and `/TOTAL` is no longer
        the planned length. An epoch that goes back (a second run logged to the file, a resume
        from an earlier checkpoint) starts where that epoch started before: a new run at the
        first epoch's step, not on from the first run's last."""
        step, epoch = int(step_token.group("n")), int(epoch_token.group("n"))
        total = step_token.group("total")
        if self._first_epoch is None:
            self._first_epoch = epoch
        if self._raw is not None and epoch < self._raw[0]:
            self._offset = self._epoch_offsets.get(epoch, 0)
            self._raw = None
        # the same step at the next epoch restarts too: a loop that prints at `batch % N == 0`
        # with fewer than N batches an epoch logs `Batch 0` (DGL's `Step 00000`) every epoch,
        # and a counter over the epochs cannot stand still while an epoch of updates passes
        if self._raw is not None and epoch > self._raw[0] and step <= self._raw[1]:
            if not self._within_epoch:
                self.notes.append(f"the step starts again at epoch {epoch}: it counts within each "
                                  "epoch, and is counted over the epochs")
            self._within_epoch = True
            if total is None:
                self._offset = (self.last_step or 0) + 1 - step
            epochs = epoch_token.group("total")
            self.planned = int(epochs) * int(total) if epochs and total else None
        elif not self._within_epoch and total is not None:
            self.planned = int(total)
        self._raw = (epoch, step)
        self._epoch_offsets.setdefault(epoch, self._offset)
        if self._within_epoch and total is not None:
            return (epoch - self._first_epoch) * int(total) + step
        return step + self._offset

    def _minimind_record(self, line: str, token: re.Match) -> list[tuple[int, dict[str, Any]]]:
        """`Epoch:[E/EPOCHS](I/PER_EPOCH), name: value, ...`: one record at the iteration
        counted over the epochs; none when no item is a number."""
        values = {m.group("name"): m.group("value") for m in COLON_ITEM.finditer(line, token.end())}
        if not any(NUMBER.match(value) for value in values.values()):
            return []
        if self.counter is None:
            self.counter = "step"
        elif self.counter == EPOCH:
            raise BadLine("an `Epoch:[E/N](I/M)` line in a log counted in epochs (its first record "
                          "was an `Epoch N` line): it cannot be placed on the epoch axis")
        per_epoch = int(token.group("per_epoch"))
        step = (int(token.group("epoch")) - 1) * per_epoch + int(token.group("n"))
        self.planned = int(token.group("epochs")) * per_epoch
        self.last_step = step
        return [(step, values)]

    def _placed_at_last_step(self) -> int:
        note = ("lines counted in epochs (`Epoch N ... name=value`) in a log counted in steps "
                "are placed at the last step logged before them")
        if note not in self.notes:
            self.notes.append(note)
        assert self.last_step is not None  # the first record set the counter to "step"
        return self.last_step


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery. `step 40/40` does not end the
    run (its evaluation may follow); the word_language_model example's closing `| End of
    training | test loss ...` does."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("lines with a step token and `name=value` items (or MiniMind's `Epoch:[E/N](I/M)` "
            "lines, or `Epoch: N/M` blocks of `Name: value` lines)")

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        return bool(values) and END_OF_TRAINING.match(text) is not None


source = Source.open
read = Source.run_of
