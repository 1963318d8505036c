"""A fall below the starting level, live: a disruption (the expert data starting to act) or an
overfit whose best point is the start (DESIGN.md: an overfit can start at the first
evaluation). Live the two are the same data until the fall stops; these tests tell them apart
by speed, by what came before the fall (a flat stretch makes it late), and with a planned run
length by where in the run it falls (`online.plan`). The phase tracker (`tracker.py`) asks them
while its phase is none yet, or a disruption."""

from __future__ import annotations

import math
from bisect import bisect_left
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from phasewatch.online.offline_agreement import offline_fall
from phasewatch.online.plan import EARLY_FRACTION
from phasewatch.online.short_run import LATE_FLAT_RATIO
from phasewatch.online.wording import from_start_hint, moved

if TYPE_CHECKING:
    from phasewatch.online.tracker import PhaseTracker

FROM_START_WINDOWS = 2  # a slow decline right from the start must last this many windows
TROUGH_BEHIND_WINDOWS = 2  # a fall whose trough is this many windows back has stopped
AFTER_DISRUPTION_WINDOWS = 4  # ... and one that was fast enough to be a disruption, this many
LATE_AT_ONCE = 1.1  # a late decline this far past its z is called at once, as after a peak


def fell_fast(t: PhaseTracker, onset: int) -> bool:
    """A fall below the start is a disruption when it became significant within
    `FROM_START_WINDOWS` full windows of evaluations of leaving the starting level; a slower
    fall is left to the steady-decline test (`decline_from_start`: an overfit) unless it
    levels off or turns (`trough_behind`)."""
    steps = t.series.steps
    since = sum(1 for step in islice(reversed(steps), FROM_START_WINDOWS * t.cfg.window)
                if step > onset)
    return since < FROM_START_WINDOWS * t.cfg.window


def left_start_late(t: PhaseTracker, onset: int) -> bool:
    """The level left the starting level after a flat stretch at least LATE_FLAT_RATIO
    times as long as the fall since (and two windows): not an early fall, so not a
    disruption (DESIGN.md), however fast it became significant; the steady-decline test
    (`decline_from_start`, "after a flat stretch") judges it. Counted in evaluations, so a
    sparse run's late decline, which becomes significant within a few evaluations, is not
    announced as a disruption and then never stopped."""
    s = t.series
    stage = t.stage_start()
    before = sum(1 for step in s.steps if stage <= step <= onset)
    since = sum(1 for step in s.steps if step > onset)
    return before >= max(2 * s.window_now, LATE_FLAT_RATIO * since)


def fell_late(t: PhaseTracker) -> bool:
    """The fall from the start began late by its own data: the split of this stage's values
    into two means farthest apart in standard errors (the one change-point of a mean shift)
    is past the plan's early part or, without a plan, after a flat stretch LATE_FLAT_RATIO
    times as long as the fall (and two windows). The level's lag and a cautious threshold
    can leave a dip's floor "near the start" long after the dip, and on that alone a dip over
    by the plan's early part would be stopped as a late fall."""
    s = t.series
    steps = list(s.steps)
    origin = bisect_left(steps, t.stage_start())
    y = np.fromiter(islice(s.values, origin, None), dtype=np.float64)
    n = y.size
    if n < 4:
        return False
    k = np.arange(1, n)
    sums = np.cumsum(y)
    before = sums[:-1] / k
    after = (sums[-1] - sums[:-1]) / (n - k)
    split = int(k[np.argmax((before - after) * np.sqrt(k * (n - k) / n))])
    plan = t.plan()
    if plan is not None:
        return plan.after_early_part(steps[origin + split - 1])
    return split >= max(2 * s.window_now, LATE_FLAT_RATIO * (n - split))


def trough_behind(t: PhaseTracker) -> bool:
    """The fall has stopped: its trough is more than `TROUGH_BEHIND_WINDOWS` windows back (a
    slow fall that levels off or turns is a disruption after all, not a steady decline)."""
    s = t.series
    recent = s.steps[max(0, len(s.steps) - TROUGH_BEHIND_WINDOWS * s.window_now)]
    return t.trough_step is not None and t.trough_step < recent


def decline_from_start(t: PhaseTracker, level: float) -> tuple[str, int | None, str] | None:
    """Overfit when the run's best point is its start: a steady decline since the start (or
    since the end of a flat stretch at the starting level) that fits a linear decline better
    than a sudden step (DESIGN.md: an overfit can start at the first evaluation).

    A disruption also falls from the start, but fast, then flattens or recovers. Live, the
    two are told apart by speed: a fall that needs fewer than `FROM_START_WINDOWS` full
    windows of evaluations to become significant (by the steady-decline test or the level
    test) is the expert data starting to act (DESIGN.md's disruption "still falling early in
    the run"); one that started near the start (within a window, or half its own length),
    has gone on steadily for longer, is still falling (`still_falling`: over the latest
    half and the latest quarter of the decline) and has its trough within the last window,
    is an overfit (a dip eases in: its decline starts later and becomes significant
    sooner). After a disruption alert, a fall still going on after
    `AFTER_DISRUPTION_WINDOWS` full windows is one too. A decline after a flat stretch at
    the starting level (at least two windows, and LATE_FLAT_RATIO times as long as the
    decline) is an overfit as soon as it is significant against the stretch's own level, on
    the evaluation it first clears LATE_AT_ONCE times its z (as after a peak).

    With a planned run length (`MonitorConfig.planned_steps`), "longer" is "past the run's
    early part" (`EARLY_FRACTION` of it, where a disruption's fall is over) and "still
    falling" is measured over the values after it: on runs of 13-40 evaluations, whose
    windows never fill, the count of windows stopped none of these overfits."""
    s, cfg = t.series, t.cfg
    # Tested once the level is well below the start or a flat stretch's best level above it
    top = s.baseline if t.peak is None else max(s.baseline, t.peak)
    if level >= top - max(s.floor(top), s.se_gap(s.se_baseline())):
        return None
    plan = t.plan()
    # a decline late by the plan is measured with its depth kept (`steady_decline`)
    late_from = plan.step_at(EARLY_FRACTION) if plan is not None and t.phase is None else math.inf
    decline = s.decline_since(t.stage_start(), s.baseline, t.stage_step, min_reference=2,
                              late_ratio=LATE_FLAT_RATIO, z_needed=cfg.z * s.caution,
                              late_from=late_from)
    if decline is None:
        return None  # no steady decline (z above cfg.z, with caution)
    z_decline, onset, before, since = decline
    window, progress = s.window_now, t.progress()
    # late after a flat stretch; with a plan, past its early part (a disruption is early)
    late = (t.phase is None and before >= max(2 * window, LATE_FLAT_RATIO * since)
            and (plan is None or plan.after_early_part(onset)))
    if not late:
        needed = FROM_START_WINDOWS if t.phase is None else AFTER_DISRUPTION_WINDOWS
        too_soon = since < needed * cfg.window if progress is None else progress < EARLY_FRACTION
        if too_soon or before > max(window, since // 2):
            return None
        # Still falling: with a plan, after the run's early part, where a disruption's fall
        # is over (counting the early part's second half stops dips that never recover).
        # Without one, over the latest half and the latest quarter of the decline: a dip that
        # has levelled off still fell over the half when its floor began
        falling = (plan.falling_after(EARLY_FRACTION, s) if progress is not None
                   else s.still_falling(since // 2) and s.still_falling(since // 4))
        if trough_behind(t) or t.trough_step is None or not falling:
            return None  # the fall has flattened: its trough is behind it
    t.steady_decline = late and z_decline >= LATE_AT_ONCE * cfg.z * s.caution
    what = "after a flat stretch at its starting level" if late else "from the start"
    if not late and progress is not None:
        what += f", still falling at {progress:.0%} of the planned {cfg.planned_steps} steps"
    return ("overfit", onset,
            (f"{s.label} has got worse steadily since step {onset} ({what}; "
             f"{z_decline / s.caution:.1f} se "
             f"{moved(s.sign, better=False)[1]} its level before; {t.start_text()})"))


def unrecovered_is_overfit(t: PhaseTracker) -> bool:
    """A fall from the start not recovered by now would be an overfit, not a disruption: the run
    has no expert data or the metric is a held-out loss (beside a train loss the monitor follows,
    one that has improved since the start), and it is past its planned run's early part
    (`expert_data.overfit_if_unrecovered`, `held_out_loss_overfit`)."""
    s, plan = t.series, t.plan()
    if not (t.cfg.no_expert_data or t.cfg.held_out_loss) or plan is None \
            or s.last_step is None or not plan.after_early_part(s.last_step):
        return False
    return t.cfg.no_expert_data or t.train_loss is None or t.train_loss.improved()


def unrecovered_hint(t: PhaseTracker) -> str:
    """What a disruption alert of tracker `t` adds where `unrecovered_overfit` will judge the
    fall: the step by which it must be recovered not to be an overfit from the start. A user
    who reads "disruption" of a held-out loss rising beside a falling train loss waits for a
    readaptation; `analyze` names the same fall not recovered an overfit (issue 12's "wait for
    readaptation, the opposite of what to do"). '' where no such rule applies."""
    plan = t.plan()
    if not (t.cfg.no_expert_data or t.cfg.held_out_loss) or plan is None:
        return ""
    by = math.ceil(plan.step_at(EARLY_FRACTION))  # the first step `after_early_part`
    if t.series.last_step is None or t.series.last_step >= by:
        return ""  # past it: `unrecovered_overfit` judges the fall now
    if t.cfg.no_expert_data:
        what = "a fall in a run trained by a policy gradient alone"
    else:
        train = t.train_loss
        what = "a held-out loss's rise" + (
            "" if train is None else f" while {train.series.label} improves")
    return (f"; not recovered by step {by} ({EARLY_FRACTION:.0%} of the planned run), {what} "
            "is an overfit from its start")


def disruption_hint(t: PhaseTracker, onset: int) -> str:
    """What a disruption alert of tracker `t` from `onset` adds: that a fall from the first
    evaluation which holds is, live, also an overfit from the start (`from_start_hint`), else by
    when the fall must recover (`unrecovered_hint`); '' where neither applies."""
    return (from_start_hint(t.series, t.plan() is not None, t.stage_step, onset)
            or unrecovered_hint(t))


def unrecovered_overfit(t: PhaseTracker) -> tuple[str, int, str] | None:
    """Overfit, with the start as its best, when the run has no expert data
    (`MonitorConfig.no_expert_data`) or the metric is a held-out loss (`held_out_loss`) and its
    disruption from the start is not recovered where the planned run's early part ends: what
    `analyze` of the log read there names it (`expert_data.overfit_if_unrecovered`,
    `held_out_loss_overfit`; a fall read earlier may still be recovered), while its level is
    still nearer its worst than the start (a level back nearer the start is recovering, though
    the noise of a short run may not yet let the readaptation be said), and on a short stage the
    offline detector finds that fall and no readaptation after it (`offline_agreement`: a flat
    run's first value two or three sds better than the rest would otherwise be stopped with the
    start as its best, and a rise that came back part way, which `analyze` names a disruption and
    a readaptation, stopped as an overfit). A held-out
    loss's rise beside a train loss the monitor follows (`MonitorConfig.train_loss`) is one only
    while that train loss has improved since the start, as `held_out_loss_overfit` asks: beside
    one that rose too it stays a disruption, the run itself getting worse."""
    s, plan = t.series, t.plan()
    if not unrecovered_is_overfit(t) or t.trough is None:
        return None
    if s.level >= (s.baseline + t.trough) / 2:
        return None  # back nearer the start than the worst: recovering, if not yet said
    if not offline_fall(t, unrecovered=True)[0]:
        return None
    start = t.stage_start()
    t.peak, t.peak_step, t.peak_checkpoint = s.baseline, start, start
    side = moved(s.sign, better=False)[1]
    gap = abs(s.raw(s.level) - s.raw(s.baseline))
    return ("overfit", start,
            (f"{s.label} level {s.raw(s.level):.4g} is still {gap:.4g} {side} {t.start_text()}, "
             f"{plan.progress(s.last_step):.0%} into the planned run: "
             + ("a fall never recovered in a run trained by a policy gradient alone, with no "
                "expert data it could still learn, is an overfit from its start"
                if t.cfg.no_expert_data else
                "a held-out loss's rise never recovered is an overfit from its start, not a "
                "disruption (learning the training data improves a held-out loss of its kind)")))
