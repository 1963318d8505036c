"""Several Trainer runs printed to one console: a run that ended, then a new one.

`Trainer.train` prints a closing `{'train_runtime': ..., 'train_loss': ...}` row when its run
ends. A script, a shell loop or a notebook that trains a language model and then a classifier
prints both runs to one console, the second starting its epochs again (at 0.03, or at 1 where
it logs at each epoch's end). The records' collector takes a step counter that goes back for a
resume (`resumes`) and drops only the records from the step it went back to, so the first
run's earlier rows stayed and were read with the second as one resumed run. A counter that goes
back after a closing row is a new run, not a resume, and so is a training row at the epoch the
run ended at (a run of one epoch, then one logged at each epoch's end, its first row at epoch 1;
an `evaluate()` after `train()` prints no training row): the log is read from that run on
(`last_new_run`), the earlier run's records left out with a warning that names both lines. A
resumed run (one that crashed and was started again from a checkpoint) prints no closing row
before its counter goes back, and is read as before; nor is a run continued after its closing
row (a `train()` resumed from its last checkpoint with more epochs), whose epochs go on rising.

The file is looked through before its first read, as it is then, so `analyze`, `inspect`, a
replay and a follow that starts on the file read the same run. A follow that was reading the
earlier run when it printed its closing row ends with that run (`RunInfo.finished`). Printed
text that another file keeps (a notebook cell's output, a W&B run's console:
`printed_log.read_printed`) is looked through as that text, not as the file holding it: a
notebook's JSON lines are no line of the printout, and a look through the whole notebook found
one cell's run ending and another's starting, so that no line of either cell was read.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasewatch.io.post_training import END_KEY
from phasewatch.values import to_float

CLOSING = f"'{END_KEY}'".encode()  # as the Trainer prints the key of its closing row
TRAIN_KEY = "loss"  # a training row's: at the epoch a run ended at, a new run's first row


@dataclass(frozen=True)
class NewRun:
    """Where the last run of a console log starts: `ended`, the closing row of the run before
    it; `starts`, its first row, whose epoch went back; `runs_before`, how many runs came
    before it."""

    ended: int
    starts: int
    runs_before: int = 1

    def warning(self) -> str:
        """The warning, said at `starts`."""
        earlier = "the earlier run's records are" if self.runs_before == 1 else \
            f"the {self.runs_before} earlier runs' records are"
        return (f"a new run starts after the run that ended at line {self.ended} (its "
                f"{END_KEY} row); {earlier} left out")


def _rows_after_a_closing_row(data) -> bool:
    """Whether any row may follow a closing row in `data`, a log's bytes (a byte search: a log
    of one run, whose closing row is its last, is not read twice)."""
    closing = data.find(CLOSING)
    if closing < 0:
        return False
    end = data.find(b"\n", closing)
    return end >= 0 and data.find(b"'epoch'", end) >= 0


def _file_may_hold_runs(path: Path) -> bool:
    """`_rows_after_a_closing_row` over the file `path`, mapped, not read into memory."""
    from phasewatch.files import open_regular

    with open_regular(path) as handle:
        try:
            view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            return False
        with view:
            return _rows_after_a_closing_row(view)


def read_from_last_run(source, row_of: Callable[[str], dict[str, Any] | None]) -> None:
    """Before the first read of an HF console `source`: where its lines hold a new run after
    a closing row, its parser reads no line through the run before it ended, and no row before
    the new run's first (the earlier run's `evaluate()` after its `train()`), and a warning at
    the new run's first row says so. The lines are those the source reads: its file's, or the
    printed text its tail holds (module docstring)."""
    from phasewatch.follow import LineTail
    from phasewatch.io.printed_log import TextTail

    if isinstance(source.tail, TextTail):  # still whole: this runs before the first read
        text = source.tail.text
        if not _rows_after_a_closing_row(text.encode("utf-8", "replace")):
            return
        lines = TextTail(text, source.file)  # a copy: the source's own is read after
    elif source.file.is_file() and _file_may_hold_runs(source.file):
        lines = LineTail(source.file)
    else:  # a follow that waits for the file, a log of one run
        return
    new_run = last_new_run(lines, row_of)
    if new_run is not None:
        source.parser.ended_through, source.parser.rows_from = new_run.ended, new_run.starts
        source.warn(new_run.warning(), new_run.starts)


def last_new_run(lines, row_of: Callable[[str], dict[str, Any] | None]) -> NewRun | None:
    """Where the last run of a console log starts, if a run before it ended with a closing row
    (module docstring), else None. `lines`: the log's, read whole and closed here (a
    `follow.LineTail` of its file, a `printed_log.TextTail` of printed text); `row_of(text)`:
    the dict row a line prints, or None (the reader's own parsing)."""
    found: NewRun | None = None
    top: float | None = None  # the highest epoch of the run read now
    closed: int | None = None  # its closing row's line, while no row has gone past it
    try:
        for lineno, text in lines.read(final=True):
            if text is None or "epoch" not in text or (row := row_of(text)) is None:
                continue
            epoch = to_float(row.get("epoch"))
            if epoch is None or not math.isfinite(epoch):
                continue
            if closed is not None and top is not None and (
                    epoch < top or epoch == top and TRAIN_KEY in row):
                found = NewRun(closed, lineno, found.runs_before + 1 if found else 1)
                top, closed = epoch, None
                continue
            if top is not None and epoch > top:
                closed = None  # the run went on after its closing row
            top = epoch if top is None else max(top, epoch)
            if END_KEY in row:
                closed = lineno
    finally:
        lines.close()
    return found
