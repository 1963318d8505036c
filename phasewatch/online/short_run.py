"""The offline detector, refitted live on a short run's buffered values.

On a run of 13-40 evaluations the level tests (a median that lags by half a window, a noise
whose autocorrelation is read from a few dozen values) miss most overfits: the rise and the
fall both happen within the window the level lags by. The offline detector
(`phasewatch.analysis.analyze_run`: on up to 40 evaluations a broken line with knots anywhere,
`phasewatch.hinge`) reads such a run far better, at 3-20 ms on 20-40 values. So while a series
has at most `REFIT_REACH` values the monitor refits it after each evaluation (`refit_events`):
an overfit that ends its phases on `SHORT_RUN_CONFIRM` evaluations in a row is a stop, and the
offline recommendation is the best step, so the live answer and `analyze` agree.

The overfits the refit stops:
- after a single rise, when the best point stands `SHORT_RUN_RISE_SD` white-noise sds above
  the starting level, or above the trough of a disruption before it when that dip and the rise
  out of it are more than the wander of sticky noise (`dip_is_no_wander`: the offline detector
  measures a readaptation from its trough). A smaller rise is the wander of a dense run's first
  40 values. After an improvement (no disruption before it) the values from the decline's start
  must also fall by `DECLINE_AFTER_BEST_T` standard errors (`decline_slope_t`): of sticky noise,
  or of white residuals where the decline is `SPARSE_CLEAR_SD` sds deep by every estimate of
  the noise (`beyond_wander`). Without that test the wander of sticky noise after the top of a
  saturating rise reads as a decline from the best.
- after a flat stretch (no rise at all) at least `SHORT_RUN_FROM` values long and
  `LATE_FLAT_RATIO` times as long in steps as the decline (`late_in_time`), when the decline
  spans `LATE_DECLINE_VALUES` values and is `LATE_DECLINE_T` standard errors steep against the
  fit's own residuals (`decline_slope_t`). A short run's late decline becomes significant only
  over its last few evaluations, after the level tests' window has closed.
- with a planned run length (`MonitorConfig.planned_steps`): a decline from the first
  evaluation still going on past the run's early part (`plan.EARLY_FRACTION`), where a
  disruption's fall is over. With a plan, a decline after a flat stretch that starts within
  the early part is a dip, not the refit's to stop, unless the values are still falling past
  that part.

A run planned to be short (at most `SHORT_RUN_POINTS` evaluations at the cadence seen:
`refit_stage`): its values are the whole run, not the first 40 of a long one, and the plan says
what is late. A rise is measured from its lowest value before the best (a readaptation from its
trough), with no decline test after it, and is enough when it is `SHORT_RUN_RISE_SD` white sds
high, or that many of the offline detector's own noise sds, or when the decline after it is
`SPARSE_CLEAR_SD` of them deep (the bends of a curved run inflate its live white sd). A decline
after a flat stretch counts once it spans `LATE_DECLINE_VALUES` values and is
`PLANNED_LATE_DECLINE_T` standard errors steep.

A run planned to be sparse (at most `confidence.FEW_POINTS`, 12, evaluations): the warm-up
would leave it few evaluations to judge, or none, so the refit judges it from `SPARSE_RUN_FROM`
values and takes the offline detector's overfit as it stands (a decline from the start still
going on past the early part, one after a flat stretch starting past it), without the
white-noise tests: on 5-11 values the trend is most of what the live noise estimate measures,
and they would turn away nearly every overfit. In their place, the offline detector's own effect
sizes: a rise before the overfit must be `SPARSE_CLEAR_SD` noise sds high (less is the wiggle of
a flat run), and a decline that deep, carried by two evaluations, stops at once, a smaller one
on `SHORT_RUN_CONFIRM` evaluations in a row: a sparse run's overfit often shows only in its last
two or three. A decline from the start stops at once too: `from_start` has already waited for 4
evaluations after a fifth of the plan (`RunPlan.falling_after`).

Not the refit's to judge:
- a decline from the first evaluation without a planned run length: live it is the same data as
  a dip still falling, which the offline detector, not seeing the dip's end yet, calls an
  overfit; the monitor's own from-the-start rules (`from_start`) judge it;
- a run with more than one rise, or an overfit before the last phase: in a long run's first
  20-40 values that is the wander of sticky noise, not a short run's rise and fall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from phasewatch.checkpoint import start_beats
from phasewatch.confidence import FEW_POINTS
from phasewatch.online.dip_checks import (
    beyond_wander,
    dip_is_no_wander,
    sticky_least_squares,
)
from phasewatch.online.offline_fit import SHORT_RUN_FROM, offline_fit
from phasewatch.online.plan import RunPlan
from phasewatch.online.series import Series
from phasewatch.online.series_noise import clip_outliers
from phasewatch.phases import PhaseConfig

if TYPE_CHECKING:
    from phasewatch.results import Phase

SHORT_RUN_POINTS = 40  # a run planned to be at most this many evaluations is a short run
SPARSE_RUN_FROM = 5  # ... a run planned to be sparse at this many
SPARSE_CLEAR_SD = 6.0  # a clear change, in the offline detector's noise sds: a sparse run's rise
# before its overfit must be this high (a smaller one is often the wiggle of a flat run of 6-12
# evaluations), and a decline this deep stops at once
SHORT_RUN_CONFIRM = 2  # evaluations in a row whose refit ends in an overfit before it stops
# (a third only delays the stop)
SHORT_RUN_RISE_SD = 8.0  # the rise an overfit must follow: the best point's 3-value mean above
# the start (or the trough) in white-noise sds, or, on a run planned to be short, in the offline
# detector's noise sds (less is the wander of a dense run's first 40 values)
LATE_FLAT_RATIO = 2  # a late decline follows a flat stretch at least this many times as long,
# in steps: shorter, and it is the same data as a dip after a flat start
LATE_DECLINE_T = 6.0  # a late decline's slope in standard errors, without a short plan (at 4-5,
# the wander in the first 40 values of long sticky flat runs is stopped)
PLANNED_LATE_DECLINE_T = 4.0  # ... with a short plan, whose early part already rules out a dip
DECLINE_AFTER_BEST_T = 3.0  # the slope in standard errors of the values from an overfit's start
# after an improvement, without a short plan (at 2, twice as many saturating runs with sticky
# noise are stopped)
LATE_DECLINE_VALUES = 5  # a late decline's values: the flat stretch's last and 4 after it (4
# values of sticky flat noise can read as a decline)
RISES = ("improvement", "readaptation")


@dataclass(frozen=True)
class RefitOverfit:
    """An overfit the refit found: where it starts, the offline recommendation, whether it is
    a stop now (`stops`; a late decline not yet significant is not) and how it is described."""

    onset: int
    best: int
    stops: bool
    after: str  # what the decline came after: "best", "flat" (a flat stretch), "start"
    best_value: float = math.nan  # the value at `best` (oriented), set by `refit_stage`
    evaluations: int = 0  # how many the refit read
    at_once: bool = False  # a sparse run's clear decline, or one from its start: a stop
    # without a second evaluation
    start_better: bool = False  # the stage's first value is better than `best` and every
    # other one (`checkpoint.start_beats`, the warning `analyze` gives beside its stop)
    beside: str = ""  # what else says it is an overfit (`held_out_rise`: the train loss)


def stage_pairs(s: Series, stage_step: int | None) -> list[tuple[int, float]]:
    """(step, value) of the series' values from `stage_step` on (all, without one)."""
    return [(st, v) for st, v in zip(s.steps, s.values) if stage_step is None or st >= stage_step]


def refit_stage(s: Series, stage_step: int | None, from_start: bool,
                plan: RunPlan | None) -> RefitOverfit | None:
    """`offline_overfit` of a stage's values of `s` (those from `stage_step` on) once there
    are SHORT_RUN_FROM of them, with the plan when it says the stage is a short run, judged
    from the series' starting level and against its noise (the given one, if any)."""
    pairs = stage_pairs(s, stage_step)
    stage_steps = [st for st, _ in pairs]
    short = plan if plan is not None and plan.evaluations(stage_steps) <= SHORT_RUN_POINTS else None
    if len(pairs) < (SPARSE_RUN_FROM if planned_sparse(short, stage_steps) else SHORT_RUN_FROM):
        return None
    found = offline_overfit(stage_steps, [v for _, v in pairs], s.baseline, s.white,
                            from_start=from_start, short_plan=short, noise_sd=s.given_sd,
                            plan=plan)
    if found is None:
        return None
    y = np.asarray([v for _, v in pairs], dtype=np.float64)
    at = stage_steps.index(found.best)
    _, _, sd = offline_fit(stage_steps, y, s.given_sd)
    return replace(found, best_value=float(y[at]), evaluations=len(pairs),
                   start_better=start_beats(y, at, sd, PhaseConfig.k_sd))


def offline_overfit(steps: Sequence[int], values: Sequence[float], start: float,
                    white: float, from_start: bool = False,
                    short_plan: RunPlan | None = None,
                    noise_sd: float | None = None,
                    plan: RunPlan | None = None) -> RefitOverfit | None:
    """The overfit that ends the offline detector's phases of these values (oriented
    higher-is-better), when it is one the refit judges (module docstring); else None. After a
    rise, a best point whose 3-value mean is less than SHORT_RUN_RISE_SD white-noise sds
    (`white`) above `start` (with `short_plan`, above the lowest value before it) is None,
    unless, with `short_plan`, the offline detector measures the rise at SHORT_RUN_RISE_SD or
    the decline at SPARSE_CLEAR_SD of its own noise sds. An
    overfit from the first evaluation is judged only when `from_start` (the run is past its
    early part: `plan.EARLY_FRACTION` of the planned run, when the plan is known).
    `short_plan`: the plan of a run planned to be short (module docstring), else None.
    `noise_sd`: the noise the user gave (`MonitorConfig.noise_sd` / `eval_size`), else None.
    `plan`: the run's plan whatever its length (default `short_plan`): with one, a decline after
    a flat stretch that starts within the run's early part is a dip, not the refit's to stop."""
    plan = plan or short_plan
    steps_array = np.asarray(steps, dtype=np.int64)
    y = np.asarray(values, dtype=np.float64)
    phases, recommended, offline_sd = offline_fit(steps_array, y, noise_sd)
    if not phases or phases[-1].name != "overfit":
        return None
    if phases[-1].start_step <= steps_array[0]:
        if not from_start:
            return None
        # on a sparse plan `from_start` already waited for 4 evaluations after a fifth of it:
        # a second refit in a row would add a delay, often up to the run's last evaluation
        return RefitOverfit(int(steps_array[0]), int(recommended), True, "start",
                            at_once=planned_sparse(short_plan, steps_array))
    rises = sum(p.name in RISES for p in phases)
    if rises > 1 or any(p.name == "overfit" for p in phases[:-1]):
        return None
    onset, best = int(phases[-1].start_step), int(recommended)
    if rises == 0 and plan is not None and not plan.after_early_part(onset) and not from_start:
        # DESIGN.md: a disruption is early, and a decline after a flat stretch that starts
        # within the plan's early part is a slow dip; unless the values after a fifth of the
        # plan are still getting worse past its early part (`from_start`): a dip levels off
        return None
    if planned_sparse(short_plan, steps_array):
        if rises and max(size_sd(p) for p in phases if p.name in RISES) < SPARSE_CLEAR_SD:
            return None  # the wiggle of a flat run read as a rise and a fall
        clear = size_sd(phases[-1]) >= SPARSE_CLEAR_SD and int(np.sum(steps_array > onset)) >= 2
        return RefitOverfit(onset, best, True, "best" if rises else "flat", at_once=clear)
    if rises == 0:
        flat = int(np.searchsorted(steps_array, onset))  # values before the decline's start
        since = y.size - flat  # the decline's values, its start included
        if short_plan is None:
            late = flat >= SHORT_RUN_FROM and late_in_time(steps_array, flat)
            t_needed = LATE_DECLINE_T
        else:  # past the plan's early part (above)
            late, t_needed = True, PLANNED_LATE_DECLINE_T
        stops = (late and since >= LATE_DECLINE_VALUES
                 and decline_slope_t(y, flat, white) >= t_needed)
        return RefitOverfit(onset, best, stops, "flat")
    at = int(np.searchsorted(steps_array, best))
    trough = int(np.argmin(y[:at + 1]))
    from_trough = short_plan is not None or (phases[0].name == "disruption"
                                             and dip_is_no_wander(y, trough, at, white))
    risen_from = float(y[trough]) if from_trough else start
    # with a short plan the values are the whole run, not the wander of a long one's start:
    # a rise of SHORT_RUN_RISE_SD or a decline of SPARSE_CLEAR_SD offline noise sds is no
    # wander of its top, whatever the white sd (which a curved run's bends inflate) says
    rise_sd, fall_sd = ((max(size_sd(p) for p in phases if p.name in RISES),
                         size_sd(phases[-1])) if short_plan else (0.0, 0.0))
    if (float(np.mean(y[max(0, at - 1):at + 2])) - risen_from < SHORT_RUN_RISE_SD * white
            and rise_sd < SHORT_RUN_RISE_SD and fall_sd < SPARSE_CLEAR_SD):
        return None
    if short_plan is None and phases[0].name != "disruption":
        declining = y[int(np.searchsorted(steps_array, onset)):]
        sticky = not beyond_wander(phases[-1], y, declining, offline_sd, white, SPARSE_CLEAR_SD)
        if decline_slope_t(declining, 1, white, sticky=sticky) < DECLINE_AFTER_BEST_T:
            return None
    return RefitOverfit(onset, best, True, "best")


def size_sd(phase: Phase) -> float:
    """A phase's change in noise sds, as the offline detector measured it (0 without one)."""
    return abs(phase.stats.get("change_sd") or 0.0)


def planned_sparse(plan: RunPlan | None, steps: Sequence[int]) -> bool:
    """The plan holds at most FEW_POINTS evaluations at the cadence of `steps` (module
    docstring: a sparse run is judged from its fifth evaluation, by the offline call)."""
    return plan is not None and plan.evaluations(steps) <= FEW_POINTS


def late_in_time(steps: np.ndarray, flat: int) -> bool:
    """The flat stretch before the decline starting at index `flat` lasted at least
    LATE_FLAT_RATIO times as many steps as the decline since: "late" is a time in the run
    (a disruption is an early fall), so a run evaluated more often as it goes on is not judged
    by its cadence."""
    return int(steps[flat] - steps[0]) >= LATE_FLAT_RATIO * int(steps[-1] - steps[flat])


def decline_slope_t(y: np.ndarray, flat: int, white: float, sticky: bool = True) -> float:
    """The slope of a decline after `flat` values at a constant level (1: a line through all
    of them), in standard errors: the least-squares fit of level + slope x max(0, t - flat + 1),
    outliers clipped to 3 white sds around their neighbours. The standard error is the
    residuals', inflated for AR(1) noise with phi at the residuals' lag-1 autocorrelation plus
    AR_UNCERTAINTY / sqrt(n) (`sticky_least_squares`; with `sticky` False, white residuals):
    the wander of sticky noise in 20-40 values is fitted as a decline with white-looking
    residuals."""
    n = y.size
    if n < 4:
        return 0.0
    y = clip_outliers(y, white)
    # The knot is one value before the detector's onset: the onset it picks is a best point,
    # often lifted by the noise, and a knot on it overstates the decline.
    x = np.maximum(0.0, np.arange(n, dtype=np.float64) - (flat - 1))
    fit = sticky_least_squares(y, np.column_stack([np.ones(n), x]), sticky=sticky)
    if fit is None:
        return 0.0
    coef, cov = fit
    return -float(coef[1]) / math.sqrt(float(cov[1, 1]))
