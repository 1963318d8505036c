"""Lightning's two series of one metric logged with `self.log(..., on_step=True, on_epoch=True)`:
`train_loss_step` (a batch's loss every `log_every_n_steps`) and `train_loss_epoch` (the mean
over the epoch, at its last step).

The train loss is the series at the validation's cadence, which a user compares it with: the
epoch's mean where the run validates once an epoch (or less often: `val_loss` then logged at
the same steps), the batches' where it validates several times an epoch (`val_check_interval`;
a run stopped by `max_steps` in its first epoch logs `train_loss_epoch` once, at its last step,
beside 60 readings of `train_loss_step`: its train loss judged a held-out loss's rise by one
reading). With no held-out metric, or one logged once or twice (no cadence, no trend: a run
stopped by `max_steps` and validated once at its end), the epoch's mean where it has the values
a trend needs (else its train loss was "one reading: no phases" beside 60 of the batches').

The rule gives the same series on the records `watch` holds when it chooses (up to the step
after the third validation, `live_choice`) as on the whole log: validating once an epoch, the
third epoch's mean is logged at the third validation's step; more often, the validations
within the epochs ended are at least twice as many as those epochs, however few have ended
(`run_aliases`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from phasewatch.presets import HELD_OUT_ROLES, aliases_for
from phasewatch.role_candidates import ROLE_CANDIDATES

EPOCH, STEP = "_epoch", "_step"
MIN_EPOCH_VALUES = 3  # `signals.MIN_FOR_TREND`: fewer show no trend


def step_twin(role: str, own: str) -> str | None:
    """The `_step` series of `own`, an `_epoch` series, where the role lists both."""
    if not own.endswith(EPOCH):
        return None
    twin = own[: -len(EPOCH)] + STEP
    return twin if twin in ROLE_CANDIDATES.get(role, ()) else None


def per_batch(role: str, own: str, present: Iterable[str]) -> str:
    """`own`'s `_step` twin where `present` holds it, else `own`: the series a divergence shows
    in first (a NaN batch loss at once; the epoch's mean at the epoch's end), and the one a
    watch meets first (`live_divergence`: Lightning logs the epoch's mean last)."""
    twin = step_twin(role, own)
    return twin if twin is not None and twin in present else own


def run_aliases(names: Iterable[str], columns: Mapping[str, Any]) -> dict[str, str]:
    """`aliases_for(names)`, a role's `_epoch` series replaced by its `_step` twin where it is
    not at the validation's cadence: fewer than half as many values as the most-logged held-out
    metric has up to the last epoch's end (one validated at least twice an epoch), or, with
    none logged MIN_EPOCH_VALUES times, fewer than MIN_EPOCH_VALUES (`columns`: metric ->
    (steps, values)).

    The validations are counted over the finished epochs only: a validation every 400 steps in
    750-step epochs has 3 at step 1199, when one epoch has ended, and 11 in 6 epochs; counted
    to the log's end, `watch` (choosing at the third) took the batches' series and `analyze`
    the epoch's. Over finished epochs E of them are at least 2E exactly where a validation
    comes at least twice an epoch, whatever E."""
    import numpy as np

    aliases = aliases_for(names)

    def finite_steps(name: str) -> np.ndarray:
        column = columns.get(name)
        if column is None:
            return np.empty(0)
        steps, values = np.asarray(column[0]), np.asarray(column[1])
        return steps[np.isfinite(values)]

    held_out = [finite_steps(aliases.get(role, role)) for role in HELD_OUT_ROLES]
    for role, own in list(aliases.items()):
        twin = step_twin(role, own)
        if twin is None or not finite_steps(twin).size:
            continue
        epochs = finite_steps(own)
        ended = epochs[-1] if epochs.size else np.inf
        validations = max((int((steps <= ended).sum()) for steps in held_out), default=0)
        if not any(steps.size >= MIN_EPOCH_VALUES for steps in held_out):
            # `watch` chooses at the log's end (`live_choice` waits for 3 values): no prefix
            take_twin = epochs.size < MIN_EPOCH_VALUES
        else:
            take_twin = 2 * epochs.size <= validations
        if take_twin:
            aliases[role] = twin
    return aliases
