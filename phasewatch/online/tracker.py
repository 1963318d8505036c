"""The phase state machine of one performance metric, one value at a time.

It follows the offline phase semantics (DESIGN.md):
- disruption: the level falls significantly below the starting level;
- readaptation: after a disruption, the level rises significantly above the trough (or, after
  an overfit alert, significantly above the peak it fell from: the decline was recovered);
- improvement: a significant rise with no disruption before it;
- plateau: after a rise, no further significant rise for `plateau_evals` evaluations;
- overfit: after the peak, a significant *sustained* decline, by either of two tests: the level
  stays significantly below the peak for `confirm` evaluations in a row, having been at least
  half that far below for a whole `window` (so an optimisation upset that recovers within a
  window is not a stop); or a steady linear decline since some step after the peak is
  significant over all its evaluations and fits better than a sudden step
  (`decline.decline_z`: it catches slow memorisation sooner and dates its start), on the
  evaluation it first holds: it already sums every evaluation of the decline.
The stop decision uses the cautious noise scale while the noise's autocorrelation is uncertain.
"""

from __future__ import annotations

from dataclasses import fields
from statistics import median

from phasewatch.online.after_peak import decline_after_peak, held_below_peak
from phasewatch.online.config import MonitorConfig
from phasewatch.online.from_start import (
    decline_from_start,
    disruption_hint,
    fell_fast,
    fell_late,
    left_start_late,
    trough_behind,
    unrecovered_overfit,
)
from phasewatch.online.offline_agreement import offline_fall
from phasewatch.online.plan import RunPlan
from phasewatch.online.refit_events import refit_before_warmup, refit_event
from phasewatch.online.series import Series
from phasewatch.online.start_level import held_until_fast_fall
from phasewatch.online.state import TrackerState
from phasewatch.online.train_loss import TrainLoss
from phasewatch.online.wording import (
    moved,
    starting_level,
    trained_overfit_text,
    worst_before_text,
)
from phasewatch.output import counted

STILL_RISING_SD = 1.0  # a rise of more than this many noise sds postpones a plateau
DECLINE_CONFIRM = 1  # evaluations in a row the steady decline after a peak must be significant


class PhaseTracker:
    """The phase state machine of one performance metric (DESIGN.md semantics)."""

    def __init__(self, name: str, sign: float, cfg: MonitorConfig):
        self.series = Series(name, sign, cfg)
        self.cfg = cfg
        self.steady_decline = False  # this value's overfit candidate is a steady decline
        self.refit_overfit_pending = False  # this value's refit stops on an overfit, unconfirmed
        # this value's disruption's onset as the decisions measured it, where its alert dates
        # it elsewhere (`_onset_said`): `Alert.decided_onset`
        self.decided_onset: int | None = None
        # the train loss beside a held-out loss (`MonitorConfig.train_loss`), set by the monitor
        self.train_loss: TrainLoss | None = None
        self.load(TrackerState(series=self.series.state()))

    @property
    def name(self) -> str:
        return self.series.name

    def best_step(self) -> int | None:
        """The checkpoint to keep: where the best level was, the best evaluation there
        (`Series.best_in_window`; before the starting level is known: the best value's). The
        peak tops the current rise (it restarts at a readaptation): at or below the starting
        level, the start (of the stage) is best, the first of equals as `analyze` keeps it (a
        metric at 0 throughout named its first window's centre). An overfit names its own best."""
        s = self.series
        if self.peak_step is not None:
            if self.phase != "overfit" and self.peak <= s.baseline:
                return self.stage_start()
            return self.peak_step if self.peak_checkpoint is None else self.peak_checkpoint
        if s.baseline is not None or not s.values:
            return s.level_step
        return s.steps[max(range(len(s.values)), key=s.values.__getitem__)]

    def update(self, step: int, raw: float) -> tuple[str, int | None, str] | None:
        """Feed one finite value; returns (event, onset_step, reason) when a phase is entered."""
        s = self.series
        s.add(step, raw)
        if self.train_loss is not None:
            self.train_loss.note_evaluation(step)
        self.decided_onset = None
        if step == self.stage_step and s.n > 1 and s.steps[-2] < step:  # the switch step's
            s.baseline = s.values[-1]  # evaluation, still before the new stage (contracts.md)
            s.start_stage()
        if s.baseline is None:
            return None
        level, at = s.level, s.level_step
        if level >= s.baseline:
            self.last_at_start_step = at
        if level <= s.baseline:
            self.last_below_start_step = at
        if self.peak is None:
            self._peak_before_start()
        if self.peak is None or level > self.peak:  # and the checkpoint best_step names
            self.peak, self.peak_step, self.peak_checkpoint = level, at, s.best_in_window()
            self.peak_values = s.window_values()
        if s.n < self.cfg.warmup:
            found = refit_before_warmup(self)  # a run planned to be sparse only
            return None if found is None else self._enter(*found)
        if self.phase in (None, "disruption", "overfit") and (self.trough is None or level < self.trough):
            self.trough, self.trough_step = level, at
        self.refit_overfit_pending = False  # set by `refit_event` (this evaluation only)
        found = refit_event(self)
        if found is not None:
            self.streak_event, self.streak = None, 0
            return self._enter(*found)
        self.steady_decline = False  # set by `after_peak.decline_after_peak` when it finds one
        candidate = self._candidate(level, at)
        if candidate is not None and candidate[0] == "disruption" and self.refit_overfit_pending:
            # The offline detector refitted on these evaluations ends in an overfit that waits
            # for its confirming evaluation (`refit_events._overfit`): a disruption now would
            # contradict what `analyze` says of the same data, and be followed by that overfit
            # one evaluation later. Held for that evaluation: confirmed, the overfit is said;
            # not, the level test is.
            candidate = None
        if candidate is None:
            self.streak_event, self.streak = None, 0
            return None
        event = candidate[0]
        self.streak = self.streak + 1 if event == self.streak_event else 1
        self.streak_event = event
        confirm = self.series.confirm_now
        if self.streak < (min(DECLINE_CONFIRM, confirm) if self.steady_decline else confirm):
            return None
        self.streak_event, self.streak = None, 0
        return self._enter(*candidate)

    def _peak_before_start(self) -> None:
        """The best level of the values read before the starting level was known (it is fixed
        at the `baseline_points`-th value), as the peak, where it already stood above the start
        by a rise the improvement test would call: a held-out loss best at its second evaluation
        (1.114 at step 401, then 1.132, 1.353, 1.555) would otherwise have its peak taken from
        the fifth value's window, and name checkpoint 802 where `analyze` keeps 401. Windows of
        `min_window` values, the first of equal levels; the checkpoint as the level's own. A
        level within noise of the start is no peak: a dip from the start is then a disruption,
        not a decline from a "peak" at it; unless the current level, above the start too, would
        be the peak in its place, a worse one (the noise of the first five values counts the
        rise: a loss 9.257, 2.997, 4.325, 3.921, 4.501 would name checkpoint 600, 3.921, where
        200, 2.997, is better). Only this stage's values (`Series.stage_n`): a stage
        that `restart` began has its starting level at once, and the stage before it is no peak
        of its own (an SFT stage's best is no checkpoint of the RL stage after it)."""
        s = self.series
        k = s.cfg.min_window
        n = len(s.values) if s.stage_n is None else min(len(s.values), s.stage_n)
        values, steps = list(s.values)[-n:], list(s.steps)[-n:]
        windows = [values[i:i + k] for i in range(len(values) - k)]  # the latest is the level's
        if not windows:
            return
        levels = [median(w) for w in windows]
        i = max(range(len(levels)), key=lambda j: (levels[j], -j))
        if levels[i] <= s.baseline + s.threshold(s.baseline, s.se_baseline()) and not (
                levels[i] > s.level > s.baseline):
            return
        centre = i + k // 2  # the checkpoint: the best of the centre and its two neighbours, as
        near = range(max(i, centre - 1), min(i + k, centre + 2))  # `Series.best_in_window`
        best = max(near, key=lambda j: (values[j], -j))
        self.peak, self.peak_step, self.peak_checkpoint = levels[i], steps[centre], steps[best]
        self.peak_values = windows[i]

    def _candidate(self, level: float, at: int) -> tuple[str, int | None, str] | None:
        s, cfg = self.series, self.cfg
        name = s.label
        if self.phase in (None, "disruption"):
            # Held-out performance declining from the start is an overfit (DESIGN.md), not a
            # disruption, when the decline is steady: see `from_start.decline_from_start`.
            found = decline_from_start(self, level)
            if found is not None:
                return found
        if self.phase is None:
            thr = s.threshold(s.baseline, s.se_baseline())
            # a fall below the start, on a short stage where `analyze` of its values names one,
            # by the noise `analyze` measures it with where smaller (`offline_agreement`)
            scale = offline_fall(self)[1]
            fall = max(thr * scale, s.floor(s.baseline))
            onset = s.first_step if self.last_at_start_step is None else self.last_at_start_step
            if level >= s.baseline - fall:
                self.last_near_start_step = at
            # a fall that left the start (the level last not significantly below it; the start
            # may read high) after the plan's early part is no disruption: DESIGN.md's is early
            left = onset if self.last_near_start_step is None else self.last_near_start_step
            late = (plan := self.plan()) is not None and plan.after_early_part(left)
            # ... or, without a plan, after a flat stretch (with one, the plan says what is early)
            after_flat = level < s.baseline - fall and (late or (
                plan is None and left_start_late(self, onset)))
            if level < s.baseline - fall and not self.slow_fall:
                # Too slow for a disruption: remember it (a rise out of it is a readaptation).
                self.slow_fall = not fell_fast(self, onset) or after_flat
            # ... and whether it fell late by its own data, judged once, as it became
            # significant (the fall grows longer after)
            self.late_fall = self.late_fall or (after_flat and fell_late(self))
            held = held_below_peak(self, level, self.last_near_start_step)
            # A late fall is no disruption and, if sudden, no steady decline either: one that
            # holds below the best level, here the start, for a whole window is an overfit by
            # the level test after a peak past the plan's early part; without a plan it is the
            # same data as a disruption that came after a flat start, which must not be
            # stopped: said as one, no stop (a policy at 1.0 for 13 evaluations, then 0.775,
            # 0.505, 0.485 and a slide, would otherwise get no alert at all)
            late_held = self.late_fall and held is not None
            if late_held and late:
                return held
            if level < s.baseline - fall and not late and (
                    not self.slow_fall or trough_behind(self) or late_held):
                verb, side = moved(s.sign, better=False)
                said = self._onset_said(onset, s.baseline - fall)
                hint = disruption_hint(self, said)
                return ("disruption", said,
                        (f"{name} level {s.raw(level):.4g} {verb} "
                         f"{s.gap_text(s.baseline - level, s.se_baseline(), scale)} "
                        f"{side} {self.start_text()}"
                        f"{worst_before_text(s, self.stage_start())}" + hint))
            if (self.slow_fall and self.trough is not None
                    and level > self.trough + s.threshold(self.trough, s.se_level)):
                # A slow fall below the start that was left to the steady-decline test, then
                # turned: it was a disruption, and this rise its readaptation.
                verb, side = moved(s.sign, better=True)
                return ("readaptation", self.trough_step,
                        (f"{name} level {s.raw(level):.4g} {verb} {s.gap_text(level - self.trough, s.se_level)} "
                        f"{side} its worst level {s.raw(self.trough):.4g} (step {self.trough_step}), "
                        f"reached {moved(s.sign, better=False)[1]} {self.start_text()}"))
            if level > s.baseline + thr:
                onset = self.last_below_start_step
                # not before the stage: the level (a window's median) lags the switch
                onset = self.stage_start() if onset is None else max(onset, self.stage_start())
                verb, side = moved(s.sign, better=True)
                return ("improvement", onset,
                        (f"{name} level {s.raw(level):.4g} {verb} {s.gap_text(level - s.baseline, s.se_baseline())} "
                        f"{side} {self.start_text()}"))
            if self.peak is not None and self.peak > s.baseline + s.rise_threshold(
                    s.baseline, s.se_baseline()):
                # The level was significantly above the start but is no longer (a sparse run's
                # rise and fall can both happen within the window the level lags by, so no
                # improvement was announced): its decline from that peak is an overfit all the
                # same (DESIGN.md: after the best point, wherever it is).
                return decline_after_peak(self, level)
            return None
        if self.phase == "disruption":
            thr = s.threshold(self.trough, s.se_level)
            if level > self.trough + thr:
                verb, side = moved(s.sign, better=True)
                # the rise starts at the data's trough, as `analyze` places it, not at the
                # lagging level's
                worst, worst_step = s.worst_near(self.trough_step)
                return ("readaptation", worst_step,
                        (f"{name} level {s.raw(level):.4g} {verb} {s.gap_text(level - self.trough, s.se_level)} "
                        f"{side} the disruption's worst level {s.raw(self.trough):.4g} (its worst "
                        f"{s.value_word}: {s.raw(worst):.4g} at step {worst_step})"))
            return unrecovered_overfit(self)
        if self.phase == "overfit":
            # Live, a decline can only be judged so far; if the level later climbs significantly
            # above the old peak, the fall was recovered, which the offline detector calls a
            # disruption, and the rise after it a readaptation: say so.
            top, top_step = self.decline_peak, self.decline_peak_step
            if level > top + s.threshold(top, s.se_level):
                verb, side = moved(s.sign, better=True)
                return ("readaptation", self.trough_step,
                        (f"{name} level {s.raw(level):.4g} {verb} {s.gap_text(level - top, s.se_level)} "
                        f"{side} its earlier best level {s.raw(top):.4g} (around step {top_step}): the "
                        f"decline to {s.raw(self.trough):.4g} (around step {self.trough_step}) was recovered"))
            return None
        # A rising phase (improvement / readaptation) or a plateau after one.
        # "Sustained" (DESIGN.md): the level must have been below the peak by at least half the
        # threshold for a whole window, so a sudden upset that recovers within a window (an
        # optimisation spike) is not a stop; a slow decline has spent that long there anyway.
        found = held_below_peak(self, level, self.peak_step) or decline_after_peak(self, level)
        if found is not None:
            return found
        if self.phase == "plateau" and level > self.peak + s.threshold(self.peak, s.se_level):
            verb, side = moved(s.sign, better=True)
            return (self.rise_phase, self.anchor_step,
                    (f"{name} level {s.raw(level):.4g} {verb} {s.gap_text(level - self.anchor, s.se_level)} "
                    f"{side} the plateau level {s.raw(self.anchor):.4g} to a new best"))
        # Any rise beyond a quarter of the significance threshold, or STILL_RISING_SD noise sds,
        # counts as "still rising": a plateau is the absence of a trend, so it is claimed
        # conservatively; the sd floor keeps the level's own wander, which a wide window makes
        # small next to the threshold, from postponing it for ever.
        still_rising = max(0.25 * s.threshold(self.anchor, s.se_level), STILL_RISING_SD * s.sigma)
        if level > self.anchor + still_rising:
            self.anchor, self.anchor_step, self.evals_since_anchor = level, at, 0
            return None
        self.evals_since_anchor += 1
        if self.phase != "plateau" and self.evals_since_anchor >= cfg.plateau_evals:
            logged = self._logged_since(self.anchor_step, at)
            return ("plateau", self.anchor_step,
                    (f"{name}: no significant improvement for "
                    f"{counted(logged, s.value_word)} since step {self.anchor_step} "
                    f"(level {s.raw(level):.4g})"))
        return None

    def _logged_since(self, anchor_step: int, at: int) -> int:
        """The evaluations logged after `anchor_step`, as the plateau alert counts them "since
        step" it: those in the series' buffer, which holds them whenever the anchor is within
        its reach. Counting the levels since the anchor was set and adding the current level's
        lag (half its window) over-counts by the window's growth in between (a window grown
        from 7 to 15 reads 89 evaluations for the 85 logged). Beyond the buffer (a
        `plateau_evals` near `noise_window`), that estimate is what is left."""
        s = self.series
        if s.steps and s.steps[0] <= anchor_step:
            return sum(1 for step in s.steps if step > anchor_step)
        return self.evals_since_anchor + sum(1 for step in s.steps if step > at)

    def plan(self) -> RunPlan | None:
        """This stage's part of the planned run (`MonitorConfig.planned_steps`), if known."""
        return RunPlan.of(self.stage_start(), self.cfg.planned_steps)

    def progress(self) -> float | None:
        plan = self.plan()
        return None if plan is None or self.series.last_step is None else plan.progress(
            self.series.last_step)

    def start_text(self) -> str:
        """The starting level as the alerts quote it (`wording.starting_level`)."""
        return starting_level(self.series, self.stage_step)

    def stage_start(self) -> int:
        """The step the starting level belongs to: the run's first, or the last `restart`'s."""
        return self.series.first_step if self.stage_step is None else self.stage_step

    def restart(self, step: int) -> None:
        """A known boundary at `step` (e.g. the SFT->RL switch): phases start again from the
        last evaluation at or before it (one at `step` itself, fed after, replaces it in
        `update`), the new stage's starting level, as `analyze` measures a stage from it; the
        noise estimate is kept, and the level is of the new stage's values (`Series.start_stage`:
        the last window's median lags a rising stage)."""
        s = self.series
        self.stage_step = step
        if s.level is None:
            return
        s.baseline, s.baseline_n, s.baseline_se = s.values[-1], 1, 1.0
        s.start_stage()
        at = s.steps[-1]  # every other field back to a new tracker's
        fresh = TrackerState(stage_step=step, last_at_start_step=at, last_below_start_step=at,
                             last_near_start_step=at)
        for name in _TRACKED:
            setattr(self, name, getattr(fresh, name))

    def enter_overfit(self) -> None:
        """The run overfits (from this metric or another signal): follow the decline's trough."""
        self.phase = "overfit"
        self.trough, self.trough_step = self.series.level, self.series.level_step
        self.decline_peak, self.decline_peak_step = self.peak, self.peak_step

    def _onset_said(self, onset: int, floor: float) -> int:
        """A disruption's onset as its alert says it: the evaluation before the fall where the
        start held until a cliff or a fall within a window (`start_level.held_until_fast_fall`;
        the whole series in the buffer, one stage), else `onset`, the one the decisions
        measured, which `decided_onset` keeps either way."""
        s = self.series
        self.decided_onset = onset
        if self.stage_step is not None or len(s.values) != s.n:
            return onset
        at = held_until_fast_fall(list(s.values), floor, s.cfg.min_window)
        return onset if at is None or s.steps[at] <= onset else s.steps[at]

    def _enter(self, event: str, onset: int | None, reason: str) -> tuple[str, int | None, str]:
        s = self.series
        if event == "overfit":
            self.enter_overfit()
            return event, onset, reason + trained_overfit_text(s)
        if event in ("improvement", "readaptation"):
            if self.phase != "plateau":  # a new rise: its peak starts here
                self.rise_phase = event
                # ... except the first rise, whose peak is the best level since the start: on
                # a sparse run the rise and its fall can both be within the warm-up, and the
                # level at the alert would name a checkpoint past the best
                if not (event == "improvement" and self.phase is None
                        and self.peak is not None and self.peak > s.level):
                    self.peak, self.peak_step = s.level, s.level_step
                    self.peak_checkpoint, self.peak_values = s.best_in_window(), s.window_values()
            self.anchor, self.anchor_step, self.evals_since_anchor = s.level, s.level_step, 0
        self.phase = event
        return event, onset, reason

    def state(self) -> TrackerState:
        """Every field of `TrackerState` (the explicit, versioned list of what a resume needs)."""
        return TrackerState(series=self.series.state(),
                            **{name: getattr(self, name) for name in _TRACKED})

    def load(self, st: TrackerState) -> None:
        self.series.load(st.series)
        for name in _TRACKED:
            setattr(self, name, getattr(st, name))


_TRACKED = tuple(f.name for f in fields(TrackerState) if f.name != "series")
