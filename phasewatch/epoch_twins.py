"""Lightning's two series of one metric logged with `self.log(..., on_step=True, on_epoch=True)`:
`train_loss_step` (a batch's loss every `log_every_n_steps`) and `train_loss_epoch` (the mean
over the epoch, at its last step).

The epoch series is the train loss (`role_candidates`: `train_loss_epoch` first): it has the
cadence of the validation metrics beside it (`val_loss`, logged once an epoch at the same
steps), which a user compares it with, and Lightning's progress bar shows it. Where it has
fewer values than a trend needs (a run stopped by `max_steps` in its first epochs logs it once,
at the last step, beside 60 readings of `train_loss_step`), the step series is taken: a train
loss analysed alone was "one reading: no phases".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from phasewatch.presets import aliases_for
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
    """`aliases_for(names)`, a role's `_epoch` series replaced by its `_step` twin where it has
    fewer than MIN_EPOCH_VALUES finite values and the twin has more (`columns`: metric ->
    (steps, values))."""
    import numpy as np

    aliases = aliases_for(names)

    def finite(name: str) -> int:
        column = columns.get(name)
        return 0 if column is None else int(np.isfinite(np.asarray(column[1])).sum())

    for role, own in list(aliases.items()):
        twin = step_twin(role, own)
        if twin is not None and finite(own) < MIN_EPOCH_VALUES and finite(twin) > finite(own):
            aliases[role] = twin
    return aliases
