"""The checkpoint to keep, and whether the data rank it above the last one.

The recommended stop is the peak an overfit starts from, or without an overfit the best
evaluation. On a run whose metric ends flat (a plateau of noisy rewards, a saturated accuracy)
the best evaluation is only the luckiest reading of the plateau: recommending it alone reads as
"this checkpoint is better", which the data do not say. So each recommendation also says whether
it beats the last evaluation by more than the noise; where it does not, the last checkpoint is
as good, which is what a researcher keeps when nothing ranks the others above it.
"""

from __future__ import annotations

import math

import numpy as np

from phasewatch.phase_stats import UP_PHASES, extreme_index, point_levels
from phasewatch.results import Phase

DECLINES = ("overfit", "disruption")


def best_index(phases: list[Phase], steps: np.ndarray, y: np.ndarray) -> int:
    """The checkpoint to keep (`y` higher is better): the peak an overfit starts from (the
    highest, when a run recovers from one overfit and overfits again), unless the run recovers
    after its last overfit to above that peak (then the best evaluation of the recovery);
    without an overfit, the best evaluation. On a dense run, levels are 3-point medians: one
    lucky evaluation is not the best checkpoint."""
    peaks = [int(np.searchsorted(steps, p.start_step)) for p in phases if p.name == "overfit"]
    if not peaks:
        return extreme_index(y, 0, y.size - 1, highest=True)
    best = max(peaks, key=lambda i: (y[i], -i))
    last = max(k for k, p in enumerate(phases) if p.name == "overfit")
    if any(p.name in UP_PHASES for p in phases[last + 1:]):
        lo = int(np.searchsorted(steps, phases[last].end_step))
        later = extreme_index(y, lo, y.size - 1, highest=True)
        levels = point_levels(y)
        if levels[later] > levels[best]:
            return later
    return best


def beats_last(phases: list[Phase], y: np.ndarray, best: int, sd: float,
               k_sd: float) -> bool | None:
    """Whether the checkpoint at index `best` is better than the last evaluation beyond the
    noise (`y` higher is better): the run ends in a decline (its last phase an overfit or a
    disruption), or the level at `best` is above the last one by `k_sd` sds of a difference of
    two readings, the phases' own significance. None when `best` is the last evaluation or the
    noise is unknown."""
    last = y.size - 1
    if best >= last or not sd > 0:
        return None
    if phases and phases[-1].name in DECLINES:
        return True
    levels = point_levels(y)
    return bool(levels[best] - levels[last] > k_sd * math.sqrt(2.0) * sd)
