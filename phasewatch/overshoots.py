"""A rise that overshoots before it settles: part of the plateau after it, not an overfit.

A fall of a few evaluations between a rise and a plateau is most often the top of a saturating
rise read a little high; the overfit is a sustained decline (docs/detection.md, rule 6). This
module says when such a fall is that settling, and when it is a decline held beyond the noise.
"""

from __future__ import annotations

import numpy as np

from phasewatch.phase_stats import UP_PHASES, typical
from phasewatch.results import Phase

OVERSHOOT_POINTS = 3  # evaluations (the peak's included) of a fall that is a rise's overshoot


def settle_overshoots(phases: list[Phase], steps, y, short_fraction: float,
                      gap: float) -> list[Phase]:
    """A fall between a rise and a plateau that spans at most `OVERSHOOT_POINTS` evaluations,
    and less than `short_fraction` of the run's, is the rise overshooting before it settles:
    part of the plateau, not an overfit (an overfit is a sustained decline). On the tuning
    seeds this read fast-saturating controls as improvement, overfit, plateau (3 runs of the
    second generator family) and no run whose truth has an overfit. An overshoot settles
    nearer its top than its rise's start (`OVERSHOOT_SHARE` of the rise at most): a collapse
    from the top to a floor below where the rise began is a cliff, not a settling (trial 39:
    an Online DPO run's exact match 0.285 -> 0.605, then 0 at every evaluation after a drop
    of two, was a "plateau 0.3013 -> 0, change -57.5 sd"). And it settles within the noise: a
    fall from the rise's end (`_settles`) to a level held after it by `gap` (the smallest
    significant gap between two evaluations) or more is a sustained decline, an overfit however
    small beside the rise (an SFT eval loss ending its fall 0.7985, 0.7893, then 0.8179 and
    0.810-0.814 for five evaluations: 4.9 noise sds; an LSTM forecaster's validation RMSE
    ending 25.71, 25.39, then 27.79 and 27.3-28.0 to the end: 15 sds; both were a "plateau"
    printed with a change of +3.5 and +7.6 sd)."""
    out = [Phase(p.name, p.start_step, p.end_step) for p in phases]
    i = 1
    while i < len(out) - 1:
        before, fall, after = out[i - 1], out[i], out[i + 1]
        points = int(np.count_nonzero((steps >= fall.start_step) & (steps <= fall.end_step)))
        if fall.name == "overfit" and before.name in UP_PHASES and after.name == "plateau" \
                and points <= OVERSHOOT_POINTS and points < short_fraction * len(steps) \
                and _settles(before, fall, after, steps, y, gap):
            after.start_step = fall.start_step
            del out[i]
        else:
            i += 1
    return out


OVERSHOOT_SHARE = 0.5  # of the rise, the most an overshoot gives back as it settles


def _settles(rise: Phase, fall: Phase, floor: Phase, steps, y, gap: float) -> bool:
    """Whether the level `floor` holds is within OVERSHOOT_SHARE of the rise below the top the
    fall starts from (the rise measured from its first evaluation), and less than `gap` below
    the rise's end, the mean of the top and the evaluation before it: a top that is one high
    reading (Student-t noise on a saturating rise: 0.533, 0.630, then 0.486 and a level of
    0.50) is no end the run held."""
    top_at = int(np.searchsorted(steps, fall.start_step))
    held = (steps >= floor.start_step) & (steps <= floor.end_step)
    level = typical(y[held])
    top = float(y[top_at])
    end = float(np.mean(y[max(0, top_at - 1):top_at + 1]))
    rise_start = float(y[int(np.searchsorted(steps, rise.start_step))])
    return abs(top - level) <= OVERSHOOT_SHARE * abs(top - rise_start) and abs(end - level) < gap
