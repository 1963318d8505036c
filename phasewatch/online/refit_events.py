"""The events the offline detector, refitted live on a short run (`short_run`), gives the phase
tracker: a dip over within the warm-up, and an overfit it judges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasewatch.online.from_start import disruption_hint, unrecovered_is_overfit
from phasewatch.online.held_out_rise import held_out_rise
from phasewatch.online.offline_fit import REFIT_REACH, offline_phases
from phasewatch.online.plan import EARLY_FRACTION
from phasewatch.online.refit_dip import refit_dip
from phasewatch.online.short_run import (
    SHORT_RUN_CONFIRM,
    SPARSE_CLEAR_SD,
    SPARSE_RUN_FROM,
    planned_sparse,
    refit_stage,
    size_sd,
)
from phasewatch.online.wording import moved

if TYPE_CHECKING:
    from phasewatch.online.tracker import PhaseTracker

Event = tuple[str, "int | None", str]


def refit_event(t: PhaseTracker) -> Event | None:
    """The refit's event for tracker `t` at this evaluation, if any (a short run only)."""
    if t.series.n > REFIT_REACH:
        return None
    return _dip(t) or _overfit(t)


def refit_before_warmup(t: PhaseTracker) -> Event | None:
    """The refit's events before the warm-up ends: a dip already recovering (any run:
    `refit_dip.refit_dip` from SPARSE_RUN_FROM values on), and the overfit of a run planned to be
    sparse, which the warm-up would leave with few evaluations or none (`short_run.refit_stage`
    refits it from SPARSE_RUN_FROM values), and a rise too large to be noise (`_clear_rise`)."""
    if t.series.n < SPARSE_RUN_FROM:
        return _dip(t)
    return _dip(t) or _overfit(t) or _clear_rise(t)


def _clear_rise(t: PhaseTracker) -> Event | None:
    """An improvement before the warm-up ends, when the level (the median of the last values)
    stands SPARSE_CLEAR_SD white-noise sds above the starting level, and above it by the level
    test's own threshold. The warm-up waits for a noise estimate it can trust; the white sd of
    a run's first values counts their trend and bends, so it is too large, never too small, and
    a rise this many of them high is no noise whatever the true one. Without this, every
    improvement would come at the end of the warm-up at the earliest, however early and large
    (a held-out loss 0.404, 0.322, 0.306, 0.299, 0.299 would be announced at its 8th
    evaluation, long levelled off). One stage only: a new stage's starting level is known at
    once."""
    s = t.series
    if t.phase is not None or t.stage_step is not None or s.baseline is None or s.sigma <= 0:
        return None
    gap, needed = s.level - s.baseline, s.threshold(s.baseline, s.se_baseline(), cautious=True)
    if gap < max(SPARSE_CLEAR_SD * s.sigma * s.caution, needed) or s.values[-1] <= s.baseline + needed:
        return None
    # ... and the offline detector, refitted on these values, calls their first phase an
    # improvement that large in its noise sds (the user's noise where given, as `analyze` and
    # every other refit judge by it): a few values of sticky (AR(1)) noise can wander that far
    # from their first above a white sd that the wander itself keeps small
    phases = offline_phases(s.steps, s.values, s.given_sd)
    if not phases or phases[0].name != "improvement" or size_sd(phases[0]) < SPARSE_CLEAR_SD:
        return None
    onset = s.first_step if t.last_below_start_step is None else t.last_below_start_step
    verb, side = moved(s.sign, better=True)
    return ("improvement", onset, (f"{s.label} level {s.raw(s.level):.4g} {verb} "
                                   f"{s.gap_text(gap, s.se_baseline())} {side} {t.start_text()}"))


def _dip(t: PhaseTracker) -> Event | None:
    """A disruption, before anything else was said, from the offline detector refitted on this
    stage's values (`refit_dip.refit_dip`); its trough is the one a readaptation rises from
    (which the level tests announce)."""
    if t.phase is not None:
        return None
    if (dip := refit_dip(t.series, t.stage_step, planned_sparse(t.plan(), t.series.steps))) is None:
        return None
    s = t.series
    if dip.stands_out and t.stage_step is None and 1 < s.baseline_n <= len(s.values) == s.n \
            and dip.trough <= s.steps[s.baseline_n - 1]:
        # a dip far deeper than any wander among the values the starting level averaged
        # (`start_level.observed_start`, whose noise the dip inflated): the start is the first
        # value, as `analyze` reads it; a mean over the dip's values would put the start low
        # and overstate every rise after it. Only a dip that stands out, not one the
        # broken-line test alone admits (`dip_is_no_wander`)
        s.baseline, s.baseline_n = s.values[0], 1
    t.trough, t.trough_step = dip.trough_value, dip.trough
    # a fall from the first evaluation that holds is, live, also an overfit from the start
    # (the hint the level test's disruption gives; a recovering dip is none)
    hint = "" if dip.recovering else disruption_hint(t, dip.onset)
    return "disruption", dip.onset, dip.reason(t.series, t.stage_step) + hint


def _overfit(t: PhaseTracker) -> Event | None:
    """Overfit when the offline detector, refitted on this stage's values, ends in an overfit it
    judges (`short_run.refit_stage`) on SHORT_RUN_CONFIRM evaluations in a row (a sparse
    run's clear decline: on one), a stop at the latest; its recommended step becomes the best
    step."""
    s = t.series
    if t.phase == "overfit":
        return None
    plan = t.plan()
    sparse = planned_sparse(plan, s.steps)
    # a decline from the first evaluation is the refit's to judge once it is still going on past
    # the plan's early part; on a sparse run also once a fall not recovered there is an overfit
    # (`from_start.unrecovered_is_overfit`: with no disruption said in a warm-up longer than the
    # run, `unrecovered_overfit` has no trough to judge it from)
    falling = plan is not None and (plan.falling_after(EARLY_FRACTION / 2, s, exact=sparse)
                                    or (sparse and unrecovered_is_overfit(t)))
    found = refit_stage(s, t.stage_step, falling, plan)
    if found is None or not found.stops:  # a held-out loss beside an improving train loss
        found = held_out_rise(t) or found
    t.short_streak = t.short_streak + 1 if found is not None else 0
    # an overfit the refit stops on, once a next evaluation confirms it (`PhaseTracker.update`
    # holds a disruption meanwhile)
    t.refit_overfit_pending = found is not None and found.stops
    if found is None or not found.stops or t.short_streak < (1 if found.at_once else SHORT_RUN_CONFIRM):
        return None
    t.peak_step = t.peak_checkpoint = found.best
    if t.peak is None:
        t.peak = found.best_value
    return "overfit", found.onset, _overfit_reason(t, found)


def _overfit_reason(t: PhaseTracker, found) -> str:
    """What the refit's overfit is, with its numbers: the best and the last value, how far
    apart, in the metric's own direction; and how the decline began where that is not simply
    after the best (a flat stretch; the start of a planned run)."""
    s = t.series
    best, now = s.raw(found.best_value), s.raw(s.values[-1])
    side = moved(s.sign, better=False)[1]
    how = {"flat": f"; it got worse after a flat stretch, from step {found.onset}",
           "start": f"; an overfit from the run's start (step {found.onset})" + (
               "" if found.beside else ", past the early part of the planned run"),
           }.get(found.after, "") + found.beside
    n, k = found.evaluations, t.short_streak
    before = "" if k < 2 else f", and in the first {n - 1}" if k == 2 else \
        f", and in the first {n - k + 1} to {n - 1}"
    if found.start_better:  # as `analyze` warns beside its stop on the same values
        step, first = next((st, v) for st, v in zip(s.steps, s.values)
                           if t.stage_step is None or st >= t.stage_step)
        how += (f"; the start, {s.raw(first):.4g} at step {step}, is better than every "
                f"{s.value_word} since: no checkpoint has got back to it")
    return (f"{s.label} has got worse since its best, {best:.4g} at step {found.best}: now "
            f"{now:.4g}, {abs(now - best):.4g} {side} it{how} (the phases `analyze` finds in "
            f"the {n} {s.value_word}s so far{before})")
