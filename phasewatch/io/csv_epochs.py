"""The steps of a table whose step column is `epoch`.

Keras' `CSVLogger` numbers its epochs 0, 1, 2...: they are the steps, and the run's steps are
called epochs (`xaxis.step_unit_of_keys`). A CSV export of an HF Trainer's log history
(`pd.DataFrame(trainer.state.log_history).to_csv(...)` with the `step` column dropped: a
Qwen2.5 adaptation's `training_metrics.csv`, `loss,...,epoch,eval_loss,...`) has a fractional
epoch, the batches done over the batches an epoch has (0.001027), and was refused ("step is not
an integer: 0.001027"). Such rows are placed as an HF console log that states no step places
its rows, at epoch x 10,000 in the unit "epoch/10000" (`step_units.EPOCH_ROWS`): every output
then says "epoch 0.1336". The first epoch above 0 decides (an evaluation at epoch 0, before
training, is at step 0 either way), so a followed file and the whole file read alike; a whole
epoch after that is placed the same way, and a fractional one in a table of whole epochs stays
a bad row.
"""

from __future__ import annotations

import math

from phasewatch.io.lines import as_step
from phasewatch.step_units import EPOCH_ROWS, ROWS_PER_EPOCH
from phasewatch.values import to_float

NOTE = ("the step column, epoch, is fractional (as an HF Trainer's log history counts it): the rows "
        f"are placed at epoch x {ROWS_PER_EPOCH:,}, and every output says epochs")


class EpochSteps:
    """Steps from the cells of an `epoch` column: whole epochs as written, a fractional epoch
    at epoch x 10,000 (module docstring). `unit` is the run's step unit; `NOTE` goes to `notes`
    when the epochs are found fractional."""

    def __init__(self, notes: list[str]) -> None:
        self.unit = "epoch"
        self._notes = notes
        self._scaled: bool | None = None  # None: no epoch above 0 yet

    def step(self, cell: str) -> int:
        epoch = to_float(cell)
        if epoch is None or not math.isfinite(epoch) or epoch < 0:
            return as_step(cell)  # its error, as for any step column
        if self._scaled is None and epoch > 0:
            self._scaled = not epoch.is_integer()
            if self._scaled:
                self.unit = EPOCH_ROWS
                self._notes.append(NOTE)
        return as_step(round(epoch * ROWS_PER_EPOCH) if self._scaled else cell)


def step_of(epochs: EpochSteps | None, cell: str, unit: str) -> tuple[int, str]:
    """(the step, the run's step unit) of a row's step cell: by `epochs` where the step column
    is `epoch`, else as any step (`unit` as it was)."""
    return (as_step(cell), unit) if epochs is None else (epochs.step(cell), epochs.unit)
