"""The checkpoint to keep, and whether the data rank it above the last one.

The recommended stop is the peak an overfit starts from, or without an overfit the best
evaluation. On a run whose metric ends flat (a plateau of noisy rewards, a saturated accuracy)
the best evaluation is only the luckiest reading of the plateau: recommending it alone reads as
"this checkpoint is better", which the data do not say. So each recommendation also says whether
it beats the last evaluation by more than the noise; where it does not, the last checkpoint is
as good, which is what a researcher keeps when nothing ranks the others above it.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from phasewatch.phase_stats import UP_PHASES, extreme_index, point_levels
from phasewatch.phases import significant_gap
from phasewatch.results import Analysis, ChangePoint, Phase

DECLINES = ("overfit", "disruption")


def overfit_peaks(phases: list[Phase], boundaries: list[ChangePoint], steps: np.ndarray,
                  y: np.ndarray, reach: int) -> dict[int, int]:
    """The index of the peak each overfit starts from (`y` higher is better), by the overfit's
    position in `phases`: its best evaluation (`extreme_index`) where the data cannot place its
    start more exactly, where that is at least as good as the start (the first of equals, as a
    rise's `peak_step` and the best of a run without an overfit, and as a trainer keeps the
    first of equal best checkpoints); else its start. (Asked to be better by more than the
    noise sd, the checkpoint stayed at a 0.78 beside a 0.796 inside the same interval: the data
    cannot tell the two turns apart, and the better one is what a user keeps.)
    - After a plateau: over the whole plateau, whose evaluations are all before the decline
      (a TensorBoard eval loss best at 1.0518, step 200, in a plateau slowly worsening to 1.079
      had its checkpoint at 450, the interval's start, 3 noise sds worse).
    - After another phase: over the interval of steps the data cannot tell apart from the
      overfit's start (not before the phase before it, not past the overfit's end): a Keras
      val_loss whose overfit started at epoch 6 [4, 9] was lowest at epoch 8, which the run's
      own early stopping kept, and the checkpoint was 6 (trial 39c). A plateau's end
      is placed where a level turns into the decline (`corners`), and on a U-shaped held-out
      loss that level is the mean of the U's bottom: 3.45, 3.36, 3.30, 3.27, 3.32, 3.33, 3.36,
      then up to 5.8 had its overfit start, and the checkpoint to keep, at the 3.36 (interval
      from the 3.30 on), 2.3 noise sds worse than the 3.27.
    - From the first evaluation: within its first `reach` evaluations (the segmentation's
      shortest segment), a rise too short for a segment of its own (the same loss at 41
      evaluations, read by lines, is one overfit from the 3.45: its checkpoint was the first
      evaluation, 5 noise sds worse)."""
    intervals = {cp.step: cp for cp in boundaries}
    levels = point_levels(y)
    peaks = {}
    for k, phase in enumerate(phases):
        if phase.name != "overfit":
            continue
        start = int(np.searchsorted(steps, phase.start_step))
        cp = intervals.get(phase.start_step)
        if k == 0:
            end = int(np.searchsorted(steps, phase.end_step))
            lo, hi = start, min(start + reach, end)
        elif phases[k - 1].name == "plateau":
            lo, hi = int(np.searchsorted(steps, phases[k - 1].start_step)), start
        elif cp is not None:
            lo = max(int(np.searchsorted(steps, phases[k - 1].start_step)),
                     int(np.searchsorted(steps, cp.low)))
            hi = min(int(np.searchsorted(steps, cp.high)),
                     int(np.searchsorted(steps, phase.end_step)))
            lo, hi = min(lo, start), max(hi, start)
        else:
            lo = hi = start
        top = extreme_index(y, lo, hi, highest=True)
        peaks[k] = top if levels[top] >= levels[start] else start
    return peaks


def note_better_after_peak(phase: Phase, top: int, steps: np.ndarray, y: np.ndarray,
                           sign: float, sd: float) -> None:
    """Where the overfit `phase` holds an evaluation better than the peak at index `top` that
    its decline is measured from (`y` higher is better; levels compared as `point_levels` reads
    them, so one lucky evaluation of a dense run does not count): `peak_value`, `better_step`,
    `better_value` (in the metric's units), `better_by` and `better_sd` (how much better, in
    its units and in noise sds, or None), so the line does not call the peak "its best". A
    verl PPO validation reward read "0.034 below its best (step 130)" of a 0.901, where the
    same overfit held 0.904 at step 150 (`overfit_peaks` dates an overfit from the first
    evaluation within its first few)."""
    if "peak_averaged" in phase.stats:  # a mean of several evaluations, not one of them
        return
    end = int(np.searchsorted(steps, phase.end_step))
    if end <= top:
        return
    levels = point_levels(y)
    j = extreme_index(y, top, end, highest=True)
    if levels[j] <= levels[top] or y[j] <= y[top]:
        return
    phase.stats["peak_value"] = float(sign * y[top]) + 0.0
    phase.stats["better_step"] = int(steps[j])
    phase.stats["better_value"] = float(sign * y[j]) + 0.0
    phase.stats["better_by"] = float(y[j] - y[top])
    phase.stats["better_sd"] = float((y[j] - y[top]) / sd) if sd > 0 else None


def best_index(phases: list[Phase], steps: np.ndarray, y: np.ndarray,
               peaks: dict[int, int]) -> int:
    """The checkpoint to keep (`y` higher is better): the peak an overfit starts from
    (`overfit_peaks`; the highest, when a run recovers from one overfit and overfits again),
    unless the run recovers after its last overfit to above that peak (then the best evaluation
    of the recovery); without an overfit, the best evaluation. On a dense run, levels are
    3-point medians: one lucky evaluation is not the best checkpoint; on a rise decided from
    the run's stretches (`whole_run_trend.averaged_best`: each evaluation is too noisy for a
    3-point median to place its best), the best evaluation of the stretch whose mean is best."""
    if not peaks:
        lo, hi = _best_stretch(phases, steps, y.size) or (0, y.size - 1)
        return extreme_index(y, lo, hi, highest=True)
    best = max(peaks.values(), key=lambda i: (y[i], -i))
    last = max(k for k, p in enumerate(phases) if p.name == "overfit")
    if any(p.name in UP_PHASES for p in phases[last + 1:]):
        lo = int(np.searchsorted(steps, phases[last].end_step))
        later = extreme_index(y, lo, y.size - 1, highest=True)
        levels = point_levels(y)
        if levels[later] > levels[best]:
            return later
    return best


def _best_stretch(phases: list[Phase], steps: np.ndarray, n: int) -> tuple[int, int] | None:
    """The indices to look for the best evaluation in where a rise was decided from the run's
    stretches: the evaluations of the best mean (None where none was: the whole run is). A GRPO
    batch reward in steps of 1/8 that reaches its ceiling 2.0 on a quarter of its 2,900 steps
    had its checkpoint at step 90 (the first two 2.0s in a row) beside "best around step 2626: a
    mean of 30 evaluations"."""
    for phase in phases:
        if phase.name in UP_PHASES and "peak_averaged" in phase.stats:
            k = int(phase.stats["peak_averaged"])
            lo = max(0, int(np.searchsorted(steps, phase.stats["peak_step"])) - k // 2)
            return lo, min(n - 1, lo + k - 1)
    return None


def stop_level(phases: list[Phase], steps: np.ndarray, y: np.ndarray,
               peaks: dict[int, int]) -> tuple[float, int] | None:
    """(mean, evaluations) of the stretch the stop was ranked by where `best_index` took it from
    one (no overfit, a rise decided from the run's stretches), else None: the stop is that
    stretch's best single evaluation, one lucky batch beside the level ranked (trial 39b: a
    comparison table's "at stop 2.542", a GRPO reward's maximum, where the stretch's mean was
    1.74 and the run ended at 1.49)."""
    stretch = None if peaks else _best_stretch(phases, steps, y.size)
    if stretch is None:
        return None
    lo, hi = stretch
    return float(np.mean(y[lo:hi + 1])), hi - lo + 1


def beats_last(phases: list[Phase], y: np.ndarray, best: int, sd: float,
               k_sd: float, steps: np.ndarray | None = None) -> bool | None:
    """Whether the checkpoint at index `best` is better than the last evaluation beyond the
    noise (`y` higher is better): the run ends in a decline (its last phase an overfit or a
    disruption), or the level at `best` is above the last one by `k_sd` sds of a difference of
    two readings, the phases' own significance (an end's level does not average in a neighbour
    that differs from it by more than that: `point_levels`). None when `best` is the last
    evaluation, or the noise is unknown and no decline ends the run (4 evaluations worse at
    each while train improves are an overfit by the rank test alone, noise unknown: its best
    beats its last). Given the `steps`, a checkpoint inside a last plateau (after its first
    evaluation) is ranked at most at the plateau's level, the median of its readings: the
    phases found one level there, and a reading above it is its scatter. A GRPO batch reward
    flat at 0.21 from step 90 to 250 had its checkpoint at step 243, two lucky batches in a row
    (0.60, 0.98), which a 3-point median keeps, and "beats the last" (0.25) went unsaid."""
    last = y.size - 1
    if best >= last:
        return None
    if phases and phases[-1].name in DECLINES:  # the phases ranked it, whatever their test
        return True
    if not sd > 0:
        return None
    margin = significant_gap(sd, k_sd)
    levels = point_levels(y, change=margin)  # an end's level is not averaged across a change
    level = float(levels[best])
    if steps is not None and phases and phases[-1].name == "plateau":
        start = int(np.searchsorted(steps, phases[-1].start_step))
        level = min(level, float(np.median(y[start:]))) if best > start else level
    return bool(level - levels[last] > margin)


def plateau_rank(phases: list[Phase], y: np.ndarray, best: int, sd: float, k_sd: float,
                 steps: np.ndarray, beats: bool | None) -> tuple[int, float] | None:
    """(the last plateau's start step, its level) where `beats_last` (given the `steps`: its
    answer `beats`) found the checkpoint at index `best` no better than the last evaluation
    only because a checkpoint inside that plateau is ranked at the plateau's level: its own
    reading beats the last by more than the margin. Else None. The reason is then said beside the hedge: an SB3 evaluation reward's
    "recommended stop: step 70000 (no better than the last, step 100000, beyond the noise)" of
    a 34.75 against a last 11.54 (noise sd 6.5) read as a false statement."""
    if beats is not False or not beats_last(phases, y, best, sd, k_sd):
        return None
    start = int(np.searchsorted(steps, phases[-1].start_step))
    return int(steps[start]), float(np.median(y[start:]))


def unranked_stop(analysis: Analysis) -> str | None:
    """Why nothing ranks the recommended checkpoint against the last evaluation, where it is
    another and `beats_last` had no noise to judge by (a run of 3-4 evaluations without
    `--noise-sd` / `--eval-size`): "3 evaluations, noise unknown"; else None. Said beside the
    stop as a dense run's "no better than the last" is (trial 40b: hfconsole-paligemma-qlora-3ev's
    "recommended stop: epoch 2", an eval loss of 0.7459 against 0.7546 at the end, and
    hf-marian-medical-3ev's "step 20000", BLEU 0.4308 against 0.4213, were given unhedged)."""
    from phasewatch.output import counted

    phases, stop = analysis.phases, analysis.recommended_stop_step
    if (not phases or stop is None or stop >= phases[-1].end_step or stop_alone(analysis)
            or "stop_beats_last" in analysis.extra or analysis.extra.get("noise_sd") is not None):
        return None
    joined = sum(a.end_step == b.start_step for a, b in pairwise(phases))
    n = sum(p.stats.get("n_points", 0) for p in phases) - joined  # a shared end counted once
    return f"{counted(n, analysis.value_word)}, noise unknown" if n > 1 else "noise unknown"


def stop_alone(analysis: Analysis) -> str | None:
    """Why no comparison can rank the recommended checkpoint at all, said beside it in place
    of any ranking: the only evaluation ("nothing to rank it against": a TensorBoard log with
    one eval loss at its last step), or a metric the same at every evaluation (the analysis'
    `constant`, noise unknown: "any is as good"; not one phase of change 0, whose equal ends
    may lie around a better one: 0.5, 0.9, 0.5); else None. `analyze` and `watch` say it
    beside the stop, and the comparison table adds no hedge (`unranked_stop` is None): `watch`
    and the table said "not established against the last: 39 evaluations, noise unknown" of a
    CartPole reward that read 1 at all 39, where `analyze` said any checkpoint is as good."""
    phases = analysis.phases
    if len(phases) != 1:
        return None
    if phases[0].stats.get("n_points") == 1:
        return f"the only {analysis.value_word} of {analysis.metric}: nothing to rank it against"
    if analysis.extra.get("constant") and not analysis.extra.get("noise_sd"):
        return f"the metric is the same at every {analysis.value_word} analysed: any is as good"
    return None


def start_beats(y: np.ndarray, at: int, sd: float, k_sd: float) -> bool:
    """The first evaluation (`y` higher is better) is the best of them all and better than the
    one at index `at` by more than the phases' own significance (`k_sd` sds of a difference)."""
    return (0 < at < y.size and sd > 0 and bool(y[0] >= np.max(y[1:]))
            and float(y[0] - y[at]) > significant_gap(sd, k_sd))


def note_start_beats_stop(analysis: Analysis, steps: np.ndarray, y: np.ndarray,
                          k_sd: float) -> Analysis:
    """`analysis` with a warning where its first evaluation is the best of the run and better
    than the recommended stop beyond the phases' own significance (`k_sd` sds of a difference).
    The stop is the best checkpoint after the run left its start (the peak its overfit starts
    from): a held-out loss of 0.42 at step 0 that never came back, "recommended stop: step 160"
    at 0.6008, read as "keep checkpoint 160" by a user who had the better model before training."""
    sd = analysis.extra.get("noise_sd") or 0.0
    stop = analysis.recommended_stop_step
    if not sd > 0 or stop is None or y.size < 3:
        return analysis
    at = int(np.searchsorted(steps, stop))
    if not start_beats(y, at, sd, k_sd):
        return analysis
    gap = float(y[0] - y[at])
    sign = -1.0 if analysis.direction == "min" else 1.0
    analysis.warnings.append(
        f"{analysis.metric} is best at its first evaluation (step {int(steps[0])}: "
        f"{sign * y[0]:.4g}): the recommended stop (step {stop}: {sign * y[at]:.4g}) is the "
        f"best after the run left its start, {gap:.3g} ({gap / sd:.1f} sd) worse; no later "
        "checkpoint gets back to it")
    return analysis


HELD_BEST_MIN = 3  # evaluations in a row reading the recommended stop's value exactly


def note_held_best(analysis: Analysis, steps: np.ndarray, y: np.ndarray) -> Analysis:
    """`analysis` with `best_held` ({from_step, to_step, evaluations}) where the evaluation at
    the recommended stop reads exactly the same as the ones around it, HELD_BEST_MIN or more
    in a row: a rate pinned at its best (a DPO policy's exact match 1.0 at every evaluation
    from step 0 to 120, then a collapse). The stop names the first of them; any checkpoint
    among them is as good by this metric, and which to keep is the user's choice (trial 38:
    "recommended stop: step 0" for three runs that held 1.0 for 120, 110 and 0 steps)."""
    stop = analysis.recommended_stop_step
    if stop is None or y.size < HELD_BEST_MIN:
        return analysis
    at = int(np.searchsorted(steps, stop))
    if at >= y.size or steps[at] != stop:
        return analysis
    lo = hi = at
    while lo > 0 and y[lo - 1] == y[at]:
        lo -= 1
    while hi + 1 < y.size and y[hi + 1] == y[at]:
        hi += 1
    if hi - lo + 1 >= HELD_BEST_MIN:
        analysis.extra["best_held"] = {"from_step": int(steps[lo]), "to_step": int(steps[hi]),
                                       "evaluations": hi - lo + 1}
    return analysis
