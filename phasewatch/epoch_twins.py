"""Lightning's two series of one metric logged with `self.log(..., on_step=True, on_epoch=True)`:
`train_loss_step` (a batch's loss every `log_every_n_steps`) and `train_loss_epoch` (the mean
over the epoch, at its last step).

The train loss is the series at the validation's cadence, which a user compares it with: the
epoch's mean where the run validates once an epoch (or less often: `val_loss` then logged at
the same steps), the batches' where it validates several times an epoch (`val_check_interval`;
a run stopped by `max_steps` in its first epoch logs `train_loss_epoch` once, at its last step,
beside 60 readings of `train_loss_step`: its train loss judged a held-out loss's rise by one
reading). With no held-out metric, the epoch's mean where it has the values a trend needs
(else a train loss analysed alone was "one reading: no phases").

The rule gives the same series on the records `watch` holds when it chooses (up to the step
after the third validation, `live_choice`) as on the whole log: validating once an epoch, the
third epoch's mean is logged at the third validation's step; several times an epoch, fewer
epochs than validations have passed at any point.
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
    metric (one validated at least twice an epoch), or, with none, fewer than
    MIN_EPOCH_VALUES (`columns`: metric -> (steps, values))."""
    import numpy as np

    aliases = aliases_for(names)

    def finite(name: str) -> int:
        column = columns.get(name)
        return 0 if column is None else int(np.isfinite(np.asarray(column[1])).sum())

    held_out = max((finite(aliases.get(role, role)) for role in HELD_OUT_ROLES), default=0)
    for role, own in list(aliases.items()):
        twin = step_twin(role, own)
        if twin is None or not finite(twin):
            continue
        epochs = finite(own)
        if (2 * epochs <= held_out) if held_out else epochs < MIN_EPOCH_VALUES:
            aliases[role] = twin
    return aliases
