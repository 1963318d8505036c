"""A short held-out series that got worse at every evaluation after its best while the train
metric improved: said, where a few evaluations leave it no phase.

On 3-5 evaluations a fall to a best and a rise after it is a turn only when the best beats
both ends by `short_series.TURN_SD` noise sds, and that noise comes from the same few
evaluations' second differences, which the turn itself inflates. hf-distilbert-lora-5ev's eval
loss 0.342, 0.2978 (best, step 1000), 0.2981, 0.3023, 0.3154, while its train loss fell 0.258
-> 0.121, read a noise sd of 0.0107 from its bend and came out "plateau, not established",
beside "the train loss fell": the plot shows the textbook overfit, the text said nothing of
it. What the data did is said as a fact, with what it can mean; the phases are not changed
(on pure noise, 5 evaluations whose best is the second and whose last three each get worse
come once in 30 runs: a pattern to look at, not a call).
"""

from __future__ import annotations

import numpy as np

from phasewatch.signals import PreparedSeries
from phasewatch.train_beside import TrainSeries, train_move

LATER = 3  # evaluations after the best, each worse than the one before, that are said


def worse_after_best_note(steps: np.ndarray, y: np.ndarray, series: PreparedSeries,
                          metric: str, train: list[TrainSeries]) -> str | None:
    """'after its best evaluation (step 1000, eval_loss 0.2978) eval_loss got worse at each of
    the 3 later ones, to 0.3154 at step 2500, while the train loss (loss) fell ...: held-out
    worse as train improves, the pattern of an overfit, which 5 evaluations cannot establish',
    when `y` (higher is better) has its best inside the run with LATER or more evaluations after
    it, each worse than the one before, and the train metric improved over those steps beyond
    its noise (`train_beside.train_move`); else None."""
    best = int(np.argmax(y))
    after = y[best:]
    if best == 0 or after.size < LATER + 1 or not np.all(np.diff(after) < 0):
        return None
    move = train_move(train, float(steps[best]), float(steps[-1]))
    if move is None or not move.improved:
        return None
    top, last = (f"{series.own_units(float(v)):.4g}" for v in (y[best], y[-1]))
    train_did = move.words(over="those steps")
    return (f"after its best evaluation (step {int(steps[best])}, {metric} {top}) {metric} got "
            f"worse at each of the {after.size - 1} later ones, to {last} at step "
            f"{int(steps[-1])}, while {train_did}: "
            f"held-out worse as train improves, the pattern of an overfit, which {y.size} "
            "evaluations cannot establish")
