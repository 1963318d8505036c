"""A held-out loss getting worse after its best while the train loss improves: an overfit,
live, whether or not the run's planned length is known.

Without the planned length the monitor's other rules read a short run as the start of a longer
one, whose first values may still wander, and wait: a held-out loss that falls to its best at
the third of 8 epochs and rises at each of the next five, 7.6 noise sds, while the train loss
falls from 6.0 to 0.7, would get no alert at all. The train loss beside it is the evidence the
plan would give: while it keeps improving the run is learning its training data, and a held-out
loss of its kind getting worse over the same steps is the textbook overfit
(`expert_data.held_out_loss_overfit`, docs/detection.md's semantics).

So, for a held-out loss whose train loss the monitor follows (`MonitorConfig.held_out_loss`,
`train_loss`), from `SHORT_RUN_FROM` evaluations of a stage (the noise of fewer is too
uncertain for the effect sizes below) to `REFIT_REACH`, it is a stop when
- the offline detector refitted on the values so far (`offline_fit.offline_fit`) ends in an
  overfit after exactly one rise, its best `SPARSE_CLEAR_SD` of the detector's noise sds better
  than the starting level (else a loss rising from the start after one bad reading at its second
  evaluation reads as a rise out of that reading and a fall), and both are that many sds large
  (the effect size a planned sparse run's overfit is judged by: less is the wiggle of a flat
  run): the rise in the detector's noise, the decline in it and in the declining values' own
  scatter (`dip_checks.beyond_wander`: a flat run's first values may be smooth by chance, and
  the noise read from them small);
- the values since the overfit's onset still get worse (`Series.still_falling`, or each worse
  than the one before, `Series.worse_each_time`, from 4 values): a plateau's wiggle comes back;
- the train loss's level is `train_beside.K_SE` standard errors better than it was at the
  onset's evaluation (`TrainLoss.improvement_since`).
A rise from the first evaluation is not judged here: live it is also a held-out loss's
disruption still under way, which `analyze` names disruption, readaptation once it recovers,
and judging it here would stop about half of such recovering dips; the planned length tells
the two apart (`from_start.unrecovered_overfit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phasewatch.online.dip_checks import beyond_wander
from phasewatch.online.offline_fit import REFIT_REACH, SHORT_RUN_FROM, offline_fit
from phasewatch.online.short_run import (
    RISES,
    SPARSE_CLEAR_SD,
    RefitOverfit,
    size_sd,
    stage_pairs,
)

if TYPE_CHECKING:
    from phasewatch.online.tracker import PhaseTracker


def held_out_rise(t: PhaseTracker) -> RefitOverfit | None:
    """The overfit of tracker `t`'s held-out loss beside an improving train loss (module
    docstring), or None."""
    s, train = t.series, t.train_loss
    if not t.cfg.held_out_loss or train is None:
        return None
    pairs = stage_pairs(s, t.stage_step)
    if not SHORT_RUN_FROM <= len(pairs) <= REFIT_REACH:
        return None
    steps, values = [st for st, _ in pairs], [v for _, v in pairs]
    phases, best, offline_sd = offline_fit(steps, values, s.given_sd)
    if not phases or phases[-1].name != "overfit" or best is None:
        return None
    rises = [p for p in phases if p.name in RISES]
    if len(rises) != 1 or any(p.name == "overfit" for p in phases[:-1]):
        return None  # no rise: a disruption still under way; more: sticky noise's wander
    best_value = values[steps.index(best)]
    if s.baseline is None or best_value - s.baseline < SPARSE_CLEAR_SD * offline_sd:
        return None  # a rise out of one high reading after the start, not above the start
    onset = int(phases[-1].start_step)
    since = len(steps) - steps.index(onset)  # the decline's values, its start included
    y = np.asarray(values, dtype=np.float64)
    # the decline that deep by the offline noise and by the declining values' own scatter (a
    # flat run's first values may be smooth by chance, and its noise read from them small);
    # not by the live white sd, which counts a short run's fall and rise as noise
    if size_sd(rises[0]) < SPARSE_CLEAR_SD \
            or not beyond_wander(phases[-1], y, y[-since:], offline_sd, 0.0, SPARSE_CLEAR_SD) \
            or not (s.still_falling(since) or s.worse_each_time(since)):
        return None  # a flat run's wiggle, one that came back, or a decline that levelled off
    if (levels := train.improvement_since(onset)) is None:
        return None
    beside = (f", while {train.series.label} improved from {levels[0]:.4g} to {levels[1]:.4g}: "
              "a held-out loss getting worse as the train loss improves is an overfit")
    return RefitOverfit(onset, int(best), True, "best", best_value=best_value,
                        evaluations=len(pairs), at_once=True, beside=beside)
