"""A training loss that turns non-finite and stays so: the run diverged there.

A loss that is NaN (or infinite, or beyond `values.MAX_VALUE`) at every record from some step
to its last is a run whose training broke at that step, and every evaluation after it scores
the broken model. The analysed series shows only its consequence: a YOLOv3 run trained with
PyTorch Lightning (csv-lightning-yolov3-valacc-35) logged `train_loss` as nan at each of its
560 records from step 4599 on, and its validation class accuracy fell from 32.3 to 3.6657 at
step 4654 and read exactly that at each of its 31 evaluations after. `analyze` named the fall
a disruption and said nothing of the loss; a reader saw a collapse with no cause. The note is
said only where the analysed series goes on past the step the loss broke at: a metric that
ends before it is not measured on the broken model.

A loss that is not a number at every one of its records (MIN_BROKEN or more) broke before its
first: an llm.c GPT-2 run (a reading of public logs) printed `loss nan` at each of its 901
steps and `val loss nan`, and `analyze` judged its HellaSwag accuracy, 0.2504 at each of its
3 evaluations (chance), "constant" without a word of why.
"""

from __future__ import annotations

import numpy as np

from phasewatch.epoch_twins import per_batch
from phasewatch.presets import role_matches
from phasewatch.run import Run
from phasewatch.stepseries import StepSeries
from phasewatch.values import MAX_VALUE

# records of the loss, non-finite to its last, that make the break a state, not a glitch
MIN_BROKEN = 3


def diverged_note(run: Run, metric: str) -> str | None:
    """What to say beside the analysis of `metric` when the run's train loss (role
    `train/loss`, another series than `metric`) is non-finite at each of its last MIN_BROKEN or
    more records after finite ones, and `metric` has values after the first of them, or at
    each of its MIN_BROKEN or more records (`_never_finite`); else None."""
    own = run.resolve_metric(metric)
    losses = [name for found in role_matches("train/loss", run.metrics)
              if (name := per_batch("train/loss", found, run.metrics)) != own]
    if not losses:
        return None
    loss = run.column(losses[0], finite=False)
    broken = ~(np.abs(loss.values) <= MAX_VALUE)  # True for NaN and infinities too
    if broken.all():
        return _never_finite(loss, run.column(own).steps, own)
    if not broken.any():
        return None
    last_finite = int(np.flatnonzero(~broken)[-1])
    if loss.values.size - 1 - last_finite < MIN_BROKEN:
        return None
    start = int(loss.steps[last_finite + 1])
    evaluated = run.column(own).steps
    after = evaluated[evaluated >= start]
    if not after.size:
        return None
    return (f"{loss.name} is not a number (NaN or infinite) at each of its "
            f"{loss.values.size - 1 - last_finite} records from step {start} to its last, "
            f"step {int(loss.steps[-1])} (the last finite: "
            f"{float(loss.values[last_finite]):.4g} at step {int(loss.steps[last_finite])}): "
            f"training diverged there, and the {after.size} values of {own} from step "
            f"{int(after[0])} on score the diverged model")


def _never_finite(loss: StepSeries, evaluated: np.ndarray, own: str) -> str | None:
    """The note for a train loss that is not a number at each of its MIN_BROKEN or more
    records (module docstring), where `own` has values from the loss's first record on; else
    None. An evaluation before that record (a step-0 evaluation before any update) scored the
    model as it was before the first loss was computed, which nothing shows broken: it is not
    counted, and the note says from where it counts."""
    first = int(loss.steps[0]) if loss.values.size else 0
    after = evaluated[evaluated >= first]
    if loss.values.size < MIN_BROKEN or not after.size:
        return None
    since = f" from step {int(after[0])} on" if after.size < evaluated.size else ""
    return (f"{loss.name} is not a number (NaN or infinite) at each of its {loss.values.size} "
            f"records, from its first, step {first}, to its last, step "
            f"{int(loss.steps[-1])}: training was broken from its start, and the "
            f"{after.size} values of {own}{since} score the broken model")
