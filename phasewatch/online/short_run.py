"""The offline detector, refitted live on a short run's buffered values.

On a run of 13-40 evaluations the monitor's own tests (a median level that lags by half a
window, a noise whose autocorrelation is read from a few dozen values) stop few overfits: the
rise and the fall both happen within the window the level lags by. The offline detector
(`phasewatch.analysis.analyze_run`: on up to 40 evaluations a broken line with knots anywhere,
`phasewatch.hinge`) reads such a run far better, and costs 3-20 ms on 20-40 values (once per
evaluation, for a run's first `REFIT_REACH` only: on 41-60 values it is the long-run detector, and
a late decline there still ends before the level tests' window fills). So while a series has at
most `REFIT_REACH` values, the monitor asks it after each evaluation for the phases of the values seen so far (tracker.py):
an overfit that ends them on `SHORT_RUN_CONFIRM` evaluations in a row is a stop, and the
offline recommendation on those values is the best step, so the live answer and `analyze` agree.

Two overfits are the refit's to stop:
- after a single rise, from a best point at least `SHORT_RUN_RISE_SD` white-noise sds above
  the starting level (less: the first 40 values of a dense run that dips or wanders), or above
  the trough of a disruption before it when the dip and the rise out of it are more than the
  wander of sticky noise (`dip_is_no_wander`: the offline detector measures a readaptation
  from its trough, and a three_phase run of 13-40 evaluations often peaks only 3-8 white sds
  above its start); after
  an improvement (no disruption before it), when the values from the decline's start on
  also fall by `DECLINE_AFTER_BEST_T` standard errors of sticky noise (`decline_slope_t`;
  without it the refit stopped 0.55-0.60 of the saturating runs with AR(1) noise at 0.3-0.7
  of the tuning seeds in their first 40 values: the wander after the top of a rise reads as
  a decline from the best. After a disruption and its readaptation it cost three_phase
  detection 0.80 / 0.75 -> 0.70 / 0.50 on runs of 13-40 evaluations and stopped no fewer
  sticky runs), or of white residuals where the decline is `SPARSE_CLEAR_SD` sds deep by
  every estimate of the noise (`beyond_wander`: a decline steep after the best and then
  slower looks like sticky noise to a straight line);
- after a flat stretch (no rise at all) at least `LATE_FLAT_RATIO` times as long as the
  decline in steps (`late_in_time`) and `SHORT_RUN_FROM` values long, when the decline spans `LATE_DECLINE_VALUES` values and is
  significant against the noise of the fit's own residuals (`decline_slope_t` >=
  `LATE_DECLINE_T`). A late decline of a short run is significant over its last few
  evaluations, after the level tests' window has closed.

A third when the planned run length is known (`MonitorConfig.planned_steps`): a decline from
the first evaluation still going on past the run's early part (`plan.EARLY_FRACTION`), where
a disruption's fall is over.

When the plan says the whole run is short (at most `SHORT_RUN_POINTS` evaluations at the
cadence seen: `refit_stage`), the values are the run itself, not the first 40 of
a long one, and the plan says what is late: a rise is measured from its lowest value before
the best (a readaptation from its trough), with no decline test after it, and a decline
`SPARSE_CLEAR_SD` of the offline detector's noise sds deep needs no larger rise before it
(tuning seeds, runs of 13-40 evaluations with the plan: detection 0.96 / 0.89 / 0.76 -> 0.97 /
0.90 / 0.78 in the three families, false stops 0.00 / 0.02 / 0.02 -> 0.01 / 0.02 / 0.03). A
decline after a flat stretch counts once it starts past the early part and is
`PLANNED_LATE_DECLINE_T` standard errors steep (the same runs: detection 0.79 -> 0.91 and
0.74 -> 0.86 for the two generator families, false stops unchanged at 0.01).

When the plan says the run is sparse (at most `confidence.FEW_POINTS`, 12, evaluations), the
monitor's warm-up would leave it with few evaluations to judge, or none: the refit judges it
from `SPARSE_RUN_FROM` values, before the warm-up, and takes the offline detector's overfit as
it stands (a decline from the start still past the early part, one after a flat stretch
starting past it), without the white-noise tests above: on 5-11 values the trend is most of
what the live noise estimate measures (0.03-0.18 against a true sd of 0.01-0.02 on the tuning
seeds' sparse three_phase runs), so they turned away nearly every overfit. In their place, the
offline detector's own effect sizes: a rise before the overfit of at least `SPARSE_CLEAR_SD`
noise sds (less is the wiggle of a flat run), and a decline that deep, carried by two
evaluations, stops at once, a smaller one on SHORT_RUN_CONFIRM evaluations in a row: a sparse
run's overfit often shows only in its last two or three (tuning seeds, sparse runs with the
plan: detection 0.20 / 0.14 -> 0.60 / 0.48, false stops 0.00 -> 0.01 / 0.03; 2 in a row for
all: 0.54 / 0.39). A decline from the start stops at once too: `from_start` has already taken 4
evaluations after a fifth of the plan (`RunPlan.falling_after`, each worse than the one before
counting as still falling), and a second refit in a row was often the run's last evaluation
(tuning seeds: detection 0.55 / 0.49 -> 0.63 / 0.55, false stops 0.01 -> 0.02, most at the last
evaluation of a five-evaluation fall whose floor the sampling never shows).

What it is not asked to judge (measured on the tuning seeds, bench_early_stop's runs):
- a decline from the first evaluation, without a planned run length: live it is the same data
  as a dip still falling, which the offline detector, not seeing the dip's end yet, calls an
  overfit (false stops on 0.50-0.75 of the sparse dips that never recover; with 16-30 values of
  steady decline required, still 0.16-0.22 of the dense dip_no_recovery runs, whose dip takes
  up to 75 evaluations); the monitor's own from-the-start rules judge it;
- a run with more than one rise, or an overfit before the last one: the wander of AR(1) noise
  at 0.6-0.8 in a long run's first 20-40 values, not a short run's rise and fall.
"""

from __future__ import annotations

import functools
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
from phasewatch.online.plan import RunPlan
from phasewatch.online.series import Series
from phasewatch.online.series_noise import clip_outliers
from phasewatch.phases import PhaseConfig

if TYPE_CHECKING:
    from phasewatch.results import Phase

SHORT_RUN_POINTS = 40  # a run planned to be at most this many evaluations is a short run
REFIT_REACH = 60  # up to this many values, the offline detector is refitted live (not 40: a
# late decline of a dense run of 41-60 evaluations outlived the refit, and the level tests'
# 11-15-value window could not fill before the run ended)
SHORT_RUN_FROM = 8  # ... from this many (fewer give no phases worth a stop)
SPARSE_RUN_FROM = 5  # a run planned to be sparse is refitted from this many values,
SPARSE_CLEAR_SD = 6.0  # ... its overfit follows a rise this many noise sds high, and one this
# many deep stops at once (tuning seeds: with a rise of any size, false stops 0.02 / 0.03 and
# 13 of 400 flat runs of 6-12 evaluations, against 0.01 / 0.03 and 1; overfit_only detection
# 0.88 / 0.50 -> 0.75 / 0.45, 8 sds: 0.62 / 0.35. At once from 5 sds: false 0.03 / 0.06, from 8:
# detection 0.57 / 0.44)
SHORT_RUN_CONFIRM = 2  # evaluations in a row whose refit ends in an overfit (3: same false
# stops on the tuning seeds, delay +0.03-0.05)
SHORT_RUN_RISE_SD = 8.0  # the peak above the start, in white-noise sds (6 and 2 sds of the
# short-series rise noise until measured: read from 13-40 values of a curved run that noise
# was 3.5-4.5 white sds on most missed sparse three_phase runs of the tuning seeds; 8 alone:
# sparse detection +0.02 there, +0.007 on seeds 20000+, 2 fewer long AR(1) flat runs stopped),
# or, on a run planned to be short, this many of the offline detector's own noise sds: the
# live white-noise sd of a curved run of 13-40 evaluations is inflated by its bends
# (hf-sentiment-opt-15ev: an eval loss 0.365 -> 0.196 -> 0.288, "-9.0 sd" then "+4.9 sd"
# offline, had no live alert; runs of 13-40 evaluations with the plan, tuning seeds: detection
# 0.92 / 0.88 -> 0.96 / 0.89, false stops unchanged. Without a plan, also 0.61 / 0.48 -> 0.66 /
# 0.50, but the first 60 values of AR(0.8) flat runs were stopped 14 times of 40, not 8)
LATE_FLAT_RATIO = 2  # a late decline follows a flat stretch at least this many times as long
# (3 until measured on seeds 20,010+: a decline over the last 35% of a run outgrew it before
# it was significant; 2 catches more of them with no new false stop there, 1 made some). The
# refit too: 1.5 caught more late declines of runs of 13-40 evaluations without a plan (report
# seeds: detection 0.62 / 0.45 -> 0.63 / 0.48) but stopped 3 more of the early-stop
# benchmark's own runs in a dip after a flat start, in their first 19-42 values (early 0.05 ->
# 0.09, false 0.04 -> 0.07): live, without the run's planned length, such a dip is the same
# data as a late decline, and a stop in a disruption is the error this tool exists to prevent
LATE_DECLINE_T = 6.0  # a short run's late decline: its slope in standard errors (4-5: 2-3 more
# of bench_early_stop's 80 long AR(1) flat runs stopped in their first 40 values; 7: 1 fewer
# of the tuning seeds' 80 sparse late declines)
PLANNED_LATE_DECLINE_T = 4.0  # ... with a short plan (3.5-4.5: the same detection on the
# tuning seeds; 6: late_decline 0.75 / 0.70 against 1.00 / 0.70)
DECLINE_AFTER_BEST_T = 3.0  # the values from an overfit's start after an improvement, without
# a short plan (2: saturating AR(1) runs stopped 0.20 / 0.05, 3: 0.10 / 0.05; overfit_only
# detection on runs of 13-40 evaluations without a plan 0.85 / 0.75 -> 0.80 / 0.75)
LATE_DECLINE_VALUES = 5  # ... over at least the flat stretch's last value and 4 after it (4:
# the wander of an AR(0.8) run of tests/test_online.py at 12 values; 5 costs none of the tuning
# seeds' sparse late declines)
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
    _, _, sd = _offline_phases(tuple(stage_steps), tuple(y.tolist()), s.given_sd)
    return replace(found, best_value=float(y[at]), evaluations=len(pairs),
                   start_better=start_beats(y, at, sd, PhaseConfig.k_sd))


@functools.lru_cache(maxsize=256)
def _offline_phases(steps: tuple[int, ...], values: tuple[float, ...],
                    noise_sd: float | None) -> tuple[tuple[Phase, ...], int | None, float]:
    """`analyze_run`'s phases, recommended step and noise sd of these values. Cached: a monitor that
    rewinds (a step re-logged, a resumed run) replays the values it had already refitted, and
    a log that re-logs its metric at every step made one refit per record into dozens."""
    from phasewatch.analysis import analyze_run  # imported on first use: start-up time
    from phasewatch.run import Run

    metric = "performance"
    run = Run.from_columns({metric: (np.asarray(steps, dtype=np.int64),
                                     np.asarray(values, dtype=np.float64))}, "live", "buffer")
    analysis = analyze_run(run, metric, "max", use_tokens=False, noise_sd=noise_sd)
    best = analysis.recommended_stop_step
    return (tuple(analysis.phases), None if best is None else int(best),
            float(analysis.extra.get("noise_sd") or 0.0))


def offline_overfit(steps: Sequence[int], values: Sequence[float], start: float,
                    white: float, from_start: bool = False,
                    short_plan: RunPlan | None = None,
                    noise_sd: float | None = None,
                    plan: RunPlan | None = None) -> RefitOverfit | None:
    """The overfit that ends the offline detector's phases of these values (oriented
    higher-is-better), when it is one the refit judges (module docstring); else None. After a
    rise, a best point whose 3-value mean is less than SHORT_RUN_RISE_SD white-noise sds
    (`white`) above `start` (with `short_plan`, above the lowest value before it) is None. An
    overfit from the first evaluation is judged only when `from_start` (the run is past its
    early part: `plan.EARLY_FRACTION` of the planned run, when the plan is known).
    `short_plan`: the plan of a run planned to be short (module docstring), else None.
    `noise_sd`: the noise the user gave (`MonitorConfig.noise_sd` / `eval_size`), else None.
    `plan`: the run's plan whatever its length (default `short_plan`): with one, a decline after
    a flat stretch that starts within the run's early part is a dip, not the refit's to stop."""
    plan = plan or short_plan
    steps_array = np.asarray(steps, dtype=np.int64)
    y = np.asarray(values, dtype=np.float64)
    phases, recommended, offline_sd = _offline_phases(tuple(steps_array.tolist()),
                                                      tuple(y.tolist()), noise_sd)
    if not phases or phases[-1].name != "overfit":
        return None
    if phases[-1].start_step <= steps_array[0]:
        if not from_start:
            return None
        # a sparse run's `from_start` already took 4 evaluations after a fifth of the plan;
        # a second refit in a row added one evaluation's delay, often the run's last
        return RefitOverfit(int(steps_array[0]), int(recommended), True, "start",
                            at_once=planned_sparse(short_plan, steps_array))
    rises = sum(p.name in RISES for p in phases)
    if rises > 1 or any(p.name == "overfit" for p in phases[:-1]):
        return None
    onset, best = int(phases[-1].start_step), int(recommended)
    if rises == 0 and plan is not None and not plan.after_early_part(onset) and not from_start:
        # DESIGN.md: a disruption is early (a slow dip after a flat start); not when the values
        # after a fifth of the plan are still getting worse past its early part (`from_start`),
        # which makes a decline from the first evaluation an overfit: a dip levels off
        # (csv-gsm8k-sft-evalloss-6ev: 0.274, 0.267, 0.275, 0.310, 0.378, 0.447, the knot at
        # 39.98% of the plan, had no live alert, while the same values levelling off, 0.376
        # last, read by the detector as a decline from the start, were stopped)
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
    # with a short plan the values are the whole run, not the wander of a long one's start,
    # and a decline as deep as a sparse run's clear one (SPARSE_CLEAR_SD) is no wander of its
    # top whatever the rise before it (hf-donut-sroie-15ev: an eval loss 4.8 sds better, then
    # 6.4 sds worse to the end, had no live alert)
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
    (a disruption is an early fall), so a run evaluated more often as it goes on (logistic
    family: 9 evaluations over the first 230 steps, 16 over the next 150) is not judged by its
    cadence."""
    return int(steps[flat] - steps[0]) >= LATE_FLAT_RATIO * int(steps[-1] - steps[flat])


def decline_slope_t(y: np.ndarray, flat: int, white: float, sticky: bool = True) -> float:
    """The slope of a decline after `flat` values at a constant level (1: a line through all
    of them), in standard errors: the
    least-squares fit of level + slope x max(0, t - flat + 1), outliers clipped to 3 white sds
    around their neighbours. The standard error is the residuals', inflated for AR(1) noise with
    phi at the residuals' lag-1 autocorrelation plus AR_UNCERTAINTY / sqrt(n): the wander of
    sticky noise in 20-40 values is fitted as a decline with white-looking residuals."""
    n = y.size
    if n < 4:
        return 0.0
    y = clip_outliers(y, white)
    # The knot is one value before the detector's onset: the onset it picks is a best point,
    # often lifted by the noise, and a knot on it overstates the decline (8.5 se against 5.8
    # on the first 12 values of an AR(0.8) flat run of tests/test_online.py).
    x = np.maximum(0.0, np.arange(n, dtype=np.float64) - (flat - 1))
    fit = sticky_least_squares(y, np.column_stack([np.ones(n), x]), sticky=sticky)
    if fit is None:
        return 0.0
    coef, cov = fit
    return -float(coef[1]) / math.sqrt(float(cov[1, 1]))


def offline_fit(steps, values, noise_sd: float | None
                ) -> tuple[tuple[Phase, ...], int | None, float]:
    """The offline detector's phases of these (oriented) values, its recommended step and
    its noise sd, as the refit reads them: with the noise the user gave (`noise_sd`), as every
    refit and `analyze` judge by it."""
    return _offline_phases(tuple(int(x) for x in steps), tuple(float(v) for v in values),
                           noise_sd)


def offline_phases(steps, values, noise_sd: float | None) -> tuple[Phase, ...]:
    """`offline_fit`'s phases."""
    return offline_fit(steps, values, noise_sd)[0]
