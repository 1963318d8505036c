"""What `analyze` of a short stage's values so far says of a fall from the start: whether it
names one, and the noise it measures it by.

On a stage of SHORT_RUN_FROM to REFIT_REACH evaluations the refit runs the offline detector on
the values after every evaluation (`offline_fit`). Its noise is read from the residuals of
the lines it fits; the live noise (`series_noise.effective_noise`) is read from a few dozen
differences, whose AR(1) coefficient is uncertain by ~0.5, and a turn of the curve reads as
autocorrelation: one jump of a held-out loss at its second evaluation, or a rise that comes
back part way, put phi at its cap and the noise at 4.3x the scatter, and the disruption
`analyze` measures at 7-22 sds was never said, nor the stop on a held-out loss's rise never
recovered (`from_start.unrecovered_overfit`). So a fall from the start is judged, there, by the
detector's noise where that is smaller, once the detector has named the fall on
SHORT_RUN_CONFIRM evaluations in a row, while the level is still nearer its worst than the start
(a dip already back nearer the start is the refit's to announce, `refit_dip`, with its own tests
against sticky noise); a fall it reads as a flat stretch and a later decline (an overfit after
its best, which keeps that best) or as noise (a flat run's first value low by chance) waits.
Other alerts keep the live noise: on sticky (AR(1)) noise of 13-40 values the detector, which
takes their noise as white around its lines, names rises that are wander. A running mean's noise
is its level's (`series_noise.level_of_running_mean`), which the detector, reading the values
under no name, does not know. The level test after a peak waits, there, for the detector to
name an overfit in the values so far (`offline_names_overfit`). Beyond the refit's reach, and
before it, the level tests judge alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasewatch.online.offline_fit import REFIT_REACH, SHORT_RUN_FROM, offline_fit, offline_phases
from phasewatch.online.short_run import SHORT_RUN_CONFIRM, stage_pairs
from phasewatch.running_means import is_running_mean

if TYPE_CHECKING:
    from phasewatch.online.series import Series
    from phasewatch.online.tracker import PhaseTracker


def offline_fall(t: PhaseTracker, unrecovered: bool = False) -> tuple[bool, float]:
    """(whether the offline detector names a fall from the start of tracker `t`'s short stage,
    a disruption or an overfit from its first evaluation, on this evaluation's values and the
    SHORT_RUN_CONFIRM - 1 before; the factor on the live `sigma` that gives the detector's
    noise, at most 1, where it names it and reads the noise from the data). (True, 1.0) with
    the level not below the start (nothing to judge), and beyond the refit's reach.
    `unrecovered`: a disruption counts only where no readaptation follows it, as `analyze`
    calls a held-out loss's rise an overfit (`expert_data.held_out_loss_overfit`)."""
    s = t.series
    if s.level >= s.baseline or not _within_reach(s):
        return True, 1.0
    pairs = stage_pairs(s, t.stage_step)
    first, offline_sd = pairs[0][0], 0.0
    for dropped in range(SHORT_RUN_CONFIRM):
        seen = pairs[:len(pairs) - dropped]
        phases, _, sd = offline_fit([st for st, _ in seen], [v for _, v in seen], s.given_sd)
        if not _names_fall(phases, first, unrecovered):
            return False, 1.0
        if dropped == 0:
            offline_sd = sd
    if s.level > (s.baseline + min(v for _, v in pairs)) / 2:
        return True, 1.0  # back nearer the start than its worst: a dip `refit_dip` judges
    own_noise = s.given_sd is None and not is_running_mean(s.label)
    return True, min(1.0, offline_sd / s.sigma) if own_noise and offline_sd > 0 else 1.0


def offline_names_overfit(t: PhaseTracker) -> bool:
    """Whether the offline detector names an overfit anywhere in tracker `t`'s short stage's
    values so far (True beyond the refit's reach, where the level tests judge alone). The level
    test after a peak waits for it: its best level is a window's median, and on a stage of few
    evaluations two readings can make one. A YOLO pose model's keypoint mAP, 0 at its first 11
    epochs, 0.00415 at epochs 12 and 14, then 0 again, read as a rise of 4.5 se (its noise from
    differences that are 0 but three) and, five zeros later, as an overfit 5.3 se below that
    best, a stop at epoch 19 of 100 in a run that rose to 0.10 from epoch 25 on; `analyze` of
    the same 19 values names a plateau."""
    s = t.series
    if not _within_reach(s):
        return True
    pairs = stage_pairs(s, t.stage_step)
    phases = offline_phases([st for st, _ in pairs], [v for _, v in pairs], s.given_sd)
    return any(phase.name == "overfit" for phase in phases)


def _within_reach(s: Series) -> bool:
    """Whether series `s`'s stage holds SHORT_RUN_FROM to REFIT_REACH values, the refit's reach
    (counted from the series, before its buffer is read)."""
    stage = s.n if s.stage_n is None else s.stage_n
    return SHORT_RUN_FROM <= stage <= REFIT_REACH


def _names_fall(phases, first: int, unrecovered: bool) -> bool:
    """`phases` hold an overfit from the step `first`, or a disruption (with `unrecovered`, one
    no readaptation follows)."""
    for k, phase in enumerate(phases):
        if phase.name == "overfit" and phase.start_step <= first:
            return True
        if phase.name == "disruption":
            trends = [later.name for later in phases[k + 1:] if later.name != "plateau"]
            if not unrecovered or trends[:1] != ["readaptation"]:
                return True
    return False
