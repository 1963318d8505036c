"""The steps of a table whose step column is `epoch`.

Keras' `CSVLogger` numbers its epochs 0, 1, 2...: they are the steps, and the run's steps are
called epochs (`xaxis.step_unit_of_keys`). A CSV export of an HF Trainer's log history
(`pd.DataFrame(trainer.state.log_history).to_csv(...)` with the `step` column dropped: a
Qwen2.5 adaptation's `training_metrics.csv`, `loss,...,epoch,eval_loss,...`) has a fractional
epoch, the batches done over the batches an epoch has (0.001027), and was refused ("step is not
an integer: 0.001027"). Such rows are placed as an HF console log that states no step places
its rows, at epoch x 10,000 in the unit "epoch/10000" (`step_units.EPOCH_ROWS`): every output
then says "epoch 0.1336".

The whole column decides: a file read from its top (`analyze`, `inspect`, a replay, and a
follow that starts on a file already written) is looked through first (`fractional_ahead`),
and one fractional epoch anywhere places every row at epoch x 10,000, so a history whose
epochs are `1.0, 1.5, 2.0, ...` (a run of two batches an epoch) loses none of its half-epoch
rows to the whole epochs before them; a file whose epochs are all whole keeps them as its steps.
An evaluation at epoch 0, before training, is at step 0 either way. What a follow reads after
it started is not known ahead: there the first epoch above 0 read decides, and a fractional
epoch after whole ones read as such cannot be placed among them; it is skipped as a bad line
whose reason names it and says to read the finished file (`watch` prints each such line as
it comes, `analyze` of the finished file places every row).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from phasewatch.errors import BAD_LINE_ERRORS
from phasewatch.io.lines import as_step
from phasewatch.step_units import EPOCH_ROWS, ROWS_PER_EPOCH
from phasewatch.values import to_float

NOTE = ("the step column, epoch, is fractional (as an HF Trainer's log history counts it): the rows "
        f"are placed at epoch x {ROWS_PER_EPOCH:,}, and every output says epochs")


class EpochSteps:
    """Steps from the cells of an `epoch` column: whole epochs as written, a fractional epoch
    at epoch x 10,000 (module docstring). `unit` is the run's step unit; `NOTE` goes to `notes`
    when the epochs are found fractional. `fractional`: a fractional epoch is known to come
    later in the file (`fractional_ahead`). `seen_fractional`: one was read."""

    def __init__(self, notes: list[str], fractional: bool = False) -> None:
        self.unit = "epoch"
        self._notes = notes
        self._fractional = fractional
        self._scaled: bool | None = None  # None: no epoch above 0 yet
        self.seen_fractional = False

    def step(self, cell: str) -> int:
        epoch = to_float(cell)
        if epoch is None or not math.isfinite(epoch) or epoch < 0:
            return as_step(cell)  # its error, as for any step column
        whole = epoch.is_integer()
        self.seen_fractional = self.seen_fractional or not whole
        if self._scaled is None and epoch > 0:
            self._scaled = self._fractional or not whole
            if self._scaled:
                self.unit = EPOCH_ROWS
                self._notes.append(NOTE)
        if not self._scaled and not whole:
            raise ValueError(f"epoch {cell.strip()} is fractional where the rows before it were "
                             "read at whole epochs (a followed file's first epoch above 0 decides); "
                             "read the finished file to place every row at epoch x "
                             f"{ROWS_PER_EPOCH:,}")
        return as_step(round(epoch * ROWS_PER_EPOCH) if self._scaled else cell)


def step_of(epochs: EpochSteps | None, cell: str, unit: str) -> tuple[int, str]:
    """(the step, the run's step unit) of a row's step cell: by `epochs` where the step column
    is `epoch`, else as any step (`unit` as it was)."""
    return (as_step(cell), unit) if epochs is None else (epochs.step(cell), epochs.unit)


def fractional_ahead(parser, lines: Iterable[tuple[int, str | None]]) -> bool:
    """Whether the table of `lines` ((lineno, text), as `follow.LineTail` reads them) has an
    `epoch` step column with a fractional epoch anywhere: `parser`, a fresh parser of the
    table, reads it until its header shows no such column or a fractional epoch is read (its
    records and notes are not kept; a bad row is passed over, as the reading proper skips it)."""
    for lineno, text in lines:
        if text is None:  # `follow.NEW_FILE`: only a follower meets it
            continue
        try:
            parser.feed(text, lineno)
        except BAD_LINE_ERRORS:
            pass
        if parser.epochs is not None and parser.epochs.seen_fractional:
            return True
        if parser.header_read and parser.epochs is None:
            return False
    return False
