"""Short series (fewer than `analysis.SHORT_POINTS` evaluations): an answer with the confidence
it supports, never a silent plateau.

A broken line with a knot needs more points than a run evaluated 3-5 times has, but such a run still says
something: whether it moved one way throughout (an exact Kendall rank test of the values
against the steps, valid at any noise level and for any monotone shape), and whether its best
or worst evaluation stands out from the first and the last by more than the noise (estimated
from second differences, which cancel a straight trend). A change at the first update that then
holds (a curve that saturates before the second evaluation) is neither monotone nor measurable
against second differences, whose one large value at the turn inflates the noise in proportion
to the change; it is tested against the scatter of the evaluations after the turn instead
(`start_shift`). A steady trend on 4 evaluations, which no rank test can establish (at best
p = 1/12), is tested as a straight line against the scatter about it (`line_trend`). The train
metric logged beside it is reported too, when its level moved beyond its noise (`train_beside`):
held-out getting worse while train improves is the textbook overfit.
"""

from __future__ import annotations

import numpy as np

from phasewatch.checkpoint import beats_last, best_index, note_better_after_peak, overfit_peaks
from phasewatch.expert_data import held_out_loss_overfit, overfit_if_unrecovered
from phasewatch.few_point_tests import line_trend, start_shift, trend_test
from phasewatch.noise import reported_noise, second_difference_sd
from phasewatch.phase_stats import (
    Baseline,
    boundary_levels,
    declines_from_peak,
    into_rise,
    phase_stats,
)
from phasewatch.phases import PhaseConfig
from phasewatch.results import Analysis, ChangePoint, Phase
from phasewatch.signals import MIN_FOR_TREND, PreparedSeries
from phasewatch.train_beside import TrainMove, TrainSeries, train_move
from phasewatch.worse_after_best import worse_after_best_note

ALPHA = 0.05        # a monotone trend is called at this two-sided significance
STRONG = 0.01       # ... and with high confidence below this
TURN_SD = 5.0       # a best (worst) must beat the ends by this many noise sds (5, not 3:
                    # the noise from 3-7 second differences is itself uncertain; measured on
                    # 3-12-evaluation runs, 3 doubled false claims on flat runs, 0.15 -> 0.25)
FALL_SD = 4.0       # after a best that beat the first by TURN_SD, a fall below it by this many
                    # sds is a decline (the turn is established; only the fall is in question):
                    # tuning seeds, 3-12 evaluations, first family: overfit presence 0.93 ->
                    # 0.94, plateau 0.87 -> 0.88, no more false claims (3 gave the same)
MIN_FOR_NOISE = 5   # evaluations needed to estimate the noise from second differences
# A shift after the first evaluation is called at this two-sided significance of its t test
# (4-5 evaluations: 2-3 degrees of freedom). Simulated (1,500 runs each): a rise of 12 noise sds
# at the first update that then holds is found on 99% of 5-evaluation runs (28% before: the
# turn's second difference put the noise at ~3x, so a larger rise was found less often) and
# 66% of 4-evaluation ones (none before), one of 8 sds on 86% / 39% (32% / none); flat runs: no
# more false claims at 5 evaluations (0.069 -> 0.063 Gaussian, 0.083 -> 0.081 Student-t df 4),
# 0.009 / 0.016 at 4 (none before).
SHIFT_ALPHA = STRONG
# A straight-line trend (t test of the least-squares slope, 2 degrees of freedom) is called at
# this two-sided significance on runs of exactly 4 evaluations, the one length where it adds
# what the rank test cannot (p >= 1/12). Simulated (1,500 runs each): a steady move of 12 noise
# sds is found on 57% of runs, 9 sds on 35% (none before); flat runs 0.011 -> 0.020 false claims
# (Student-t df 4: 0.013 -> 0.023). At 5 evaluations the rank test and the comparison with the
# noise already find 98% / 90% and the line added 1.1-1.5% false claims for 0-1.4% more; at 3,
# one degree of freedom finds a 12-sd move on 1 run in 10.
LINE_ALPHA = STRONG
LINE_POINTS = 4
# the evaluations an overfit from the first one may start from (its peak): the shortest
# segment of a run of up to 40 evaluations (detection.md rule 2)
PEAK_REACH = 3


def _shape(y: np.ndarray, p: float, tau: float, sd: float,
           min_points: int = MIN_FOR_NOISE) -> tuple[list[str], int | None, str]:
    """Phase names, the index of the turn between them (if two) and the confidence.

    Without a significant monotone trend, the first, best (worst) and last evaluations are
    compared with the noise (needs >= 5 evaluations: 3 second differences): a best in the middle
    that beats both ends is a rise then a decline; a rise to the best that then stays within the
    noise is a rise then a plateau (a saturating curve, which is not monotone, so the rank test
    misses it); and the mirror images. With a noise sd the user gave, from `min_points` = 3."""
    if p < ALPHA:
        confidence = "high" if p < STRONG else "moderate"
        return (["improvement"] if tau > 0 else ["overfit"]), None, confidence
    if sd > 0 and y.size >= min_points:
        clear = TURN_SD * sd
        best, worst = int(np.argmax(y)), int(np.argmin(y))
        rise, fall_after = y[best] - y[0], y[best] - y[-1]
        drop, back = y[0] - y[worst], y[-1] - y[worst]
        if best > 0 and rise > clear:
            if best == y.size - 1:
                return ["improvement"], None, "low"
            declined = fall_after > FALL_SD * sd
            return ["improvement", "overfit" if declined else "plateau"], best, "low"
        if worst > 0 and drop > clear:
            if worst == y.size - 1:
                return ["overfit"], None, "low"
            return ["disruption", "readaptation" if back > clear else "plateau"], worst, "low"
    return ["plateau"], None, "low"


def _unestablished_turn(steps: np.ndarray, y: np.ndarray, sd: float, series: PreparedSeries,
                        metric: str, estimated: bool, reading: str = "evaluation") -> str:
    """'; its best evaluation (step 200, 1.78) is better than the first and the last by 0.32
    and 0.27 (3.9 and 3.3 noise sd), short of the 5 ...' when an evaluation inside the run
    beats (or trails) both ends by more than 2 noise sds but a turn needs TURN_SD: the data
    the user sees in a plot, and why it is no phase, rather than a silent plateau. `reading`:
    what one value is ("evaluation", or "reading" on a series scored on training batches)."""
    if not sd > 0:
        return ""
    inner = y[1:-1]
    best, worst = 1 + int(np.argmax(inner)), 1 + int(np.argmin(inner))
    lead = min(y[best] - y[0], y[best] - y[-1])
    trail = min(y[0] - y[worst], y[-1] - y[worst])
    k, better = (best, True) if lead >= trail else (worst, False)
    gaps = [abs(y[k] - y[0]), abs(y[k] - y[-1])]
    if min(gaps) <= 2.0 * sd:
        return ""
    value = f"{series.own_units(float(y[k])):.4g}"
    which = "better" if better else "worse"
    why = (f" (the noise comes from these few {reading}s, and a bend inflates it: --noise-sd "
           "or --eval-size give it)" if estimated else "")
    return (f"; its {'best' if better else 'worst'} {reading} (step {int(steps[k])}, {metric} "
            f"{value}) is {which} than the first and the last by {gaps[0]:.3g} and {gaps[1]:.3g} "
            f"({gaps[0] / sd:.1f} and {gaps[1] / sd:.1f} noise sd), short of the {TURN_SD:g} a "
            f"turn on {y.size} {reading}s needs{why}")


def _kept_words(n: int, left_out: int) -> str:
    """' kept (6 logged, 1 left out as an outlier)' where the outlier rule left evaluations
    out, else '': the count the short-series tests judge is of the evaluations kept, and "only
    5 evaluations" of a run whose log, `inspect` and figure show 6 (hf-chatglm-rouge-6ev, its
    second evaluation left out) read as a reader's error or a lost value."""
    if not left_out:
        return ""
    return (f" kept ({n + left_out} logged, {left_out} left out as "
            f"{'an outlier' if left_out == 1 else 'outliers'})")


def _train_note(move: TrainMove | None, metric: str, names: list[str]) -> str | None:
    """What the train metric did over the same steps, when it moved beyond its noise
    (`train_beside.train_move`: its level at both ends, not two readings). A whole-run overfit
    with the train metric worse too is said by `train_beside.note_train_beside`, with what it
    means."""
    if move is None or not (move.improved or move.worse):
        return None
    if move.worse:
        return None if names == ["overfit"] else move.words()
    note = move.words()
    if names == ["overfit"]:
        note += f" while {metric} got worse: held-out worse as train improves (overfit)"
    return note


def analyze_short(source: str, metric: str, direction: str, series: PreparedSeries,
                  train: list[TrainSeries], baseline: Baseline,
                  warnings: list[str], known_sd: float | None = None,
                  held_out: bool = False, no_expert: str | None = None,
                  reading: str = "evaluation", held_out_loss: bool = False) -> Analysis:
    """The Analysis of a series too short (or too constant) to segment. `known_sd`, the
    user's noise sd of one evaluation, replaces every estimate of the noise (second
    differences, the scatter of the shift and line tests), and the effect sizes are then
    given in sds too. `held_out`: the series is measured on held-out data, so getting worse
    after its best as train improves is the pattern of an overfit (`worse_after_best`); a
    train reward doing so is not. `no_expert`: how the run shows it has no expert data
    (`expert_data.policy_gradient_only`), where a fall not recovered is an overfit, as it is
    for `held_out_loss` (`expert_data.held_out_loss_overfit`) as the train loss improves.
    `reading`: what one value is, in the warnings ("evaluation"; "reading" for a series scored
    on the training batches, `train_beside.is_train_metric`)."""
    steps, y, sign = series.steps, series.values, series.sign
    n = y.size
    # fewer than MIN_FOR_NOISE evaluations leave at most 2 second differences, one of them
    # the bend of any turn: no noise estimate (0, unknown), as for the shape, so for the
    # starting level's uncertainty and the stop's rank against the last too. 4 evaluations of
    # an eval loss 0.9735, 1.065, 1.116, 1.116 printed "noise sd 0.0188" (the rise's bend) and
    # ranked the first above the last by it, beside a plateau the text called not established
    sd = (known_sd if known_sd is not None else
          second_difference_sd(y, robust=False) if n >= MIN_FOR_NOISE else 0.0)
    tau, p = trend_test(steps, y)
    move = train_move(train, steps[0], steps[-1])
    names, turn, confidence = _shape(y, p, tau, sd,
                                     MIN_FOR_NOISE if known_sd is None else MIN_FOR_TREND)
    # A rise expected in advance, as train improves, tested one-sided: only at 4 evaluations, the
    # one length where that test can decide (p = 1/24) and the two-sided one cannot (1/12);
    # from 5 on the two-sided test and the comparison with the noise decide (at every length,
    # one-sided doubled the false claims of flat 5-12-evaluation runs: 0.13 -> 0.17)
    # ... and, as train improves, a held-out metric getting worse at every evaluation: the
    # textbook overfit, tested the same way (trial 35: a held-out loss 3.78, 4.51, 4.72, 4.89
    # while train loss fell was a plateau "not established"). Only a series that moves one way
    # at every evaluation, as the text says: a tie is no step of the trend (and 4 values with a
    # tie have an exact one-sided p of at least 1/12, `trend_test`: never a call)
    expected = None
    steady = np.all(np.diff(y) > 0) or np.all(np.diff(y) < 0)
    if names == ["plateau"] and n == 4 and move is not None and move.improved and steady:
        _, p_one = trend_test(steps, y, alternative="greater" if tau > 0 else "less")
        expected = p_one if p_one < ALPHA else None
    if expected is not None:
        names = ["improvement"] if tau > 0 else ["overfit"]
    # a change at the first update that then holds: neither monotone nor visible against second
    # differences (the turn's own one inflates them), so tested against the later scatter
    shift = start_shift(y, known_sd) if names == ["plateau"] and expected is None else None
    shifted = shift is not None and shift.p < SHIFT_ALPHA
    if shifted:
        names, turn = (["improvement", "plateau"] if shift.change > 0 else
                       ["disruption", "plateau"]), 1
    # a steady trend too short for the rank test, against the scatter about its line
    line = (line_trend(steps, y, known_sd) if names == ["plateau"] and expected is None
            and n == LINE_POINTS else None)
    lined = line is not None and line.p < LINE_ALPHA
    if lined:
        names = ["improvement"] if line.change > 0 else ["overfit"]
    if shifted or lined:  # the noise the call was judged against is the one reported
        sd = (shift if shifted else line).noise
    sd = reported_noise(sd, y, metric, warnings)
    base, base_se = baseline.level(steps, y, sd)
    cuts = [0, *([turn] if turn is not None else []), n - 1]
    phases = [Phase(name, int(steps[a]), int(steps[b]))
              for name, a, b in zip(names, cuts[:-1], cuts[1:])]
    if no_expert is not None:
        phases, note = overfit_if_unrecovered(phases, metric, no_expert)
        warnings.extend([note] if note else [])
    elif held_out_loss:
        phases, note = held_out_loss_overfit(phases, metric, train, steps, y, sd, PhaseConfig.k_sd)
        warnings.extend([note] if note else [])
    levels = boundary_levels(phases, steps, y)  # the data's; `base` is the reference of effects
    # no effect sizes in sds from an estimate: a few points cannot carry them; a known sd can
    effect_sd = known_sd if known_sd is not None else 0.0
    for k, phase in enumerate(phases):
        phase.stats.update(phase_stats(phase, levels[k], levels[k + 1], steps, y, sign,
                                       effect_sd, base, into_rise(phases, k)))
    changepoints = [ChangePoint(int(steps[t]), int(steps[t - 1]), int(steps[t + 1]))
                    for t in cuts[1:-1]]
    # an overfit's decline is from the peak it starts from, as on longer runs: from the first
    # evaluation, the best of the first PEAK_REACH (0.151, 0.148, 0.202, 0.211, 0.249, a loss,
    # declined "0.0975 from its best at the first step" beside the checkpoint kept at the
    # second, its best); and that peak is the checkpoint to keep
    peaks = overfit_peaks(phases, changepoints, steps, y, PEAK_REACH)
    for k, top in peaks.items():
        declines_from_peak(phases[k], top, steps, y, sign, effect_sd)
        note_better_after_peak(phases[k], top, steps, y, sign, effect_sd)
    tested = n >= MIN_FOR_TREND
    kept = _kept_words(n, len(series.outlier_steps))
    if not tested:  # no statistic at all, rather than a rank test's "tau 0, p = 1" on 2 values
        first, last = (f"{series.own_units(float(v)):.4g}" for v in (y[0], y[-1]))
        warnings.append(
            f"only 1 {reading} of {metric}{kept} ({first}): nothing to compare it with" if n == 1
            else f"only {n} {reading}s of {metric}{kept} ({first} -> {last}): too few for any "
            "trend test, so the change is not judged (no phase is named: not a flat run "
            "either)")
    elif np.ptp(y) == 0:
        warnings.append(f"{metric} is constant over its {n} {reading}s{kept}")
    else:
        own_tau = sign * tau  # the rank correlation of the values as logged
        trend = "rises" if own_tau > 0 else "falls"
        verdict = (f"{metric} {trend} across its {n} {reading}s{kept} (Kendall tau "
                   f"{own_tau:+.2f}, exact p = {p:.3g}): {confidence} confidence" if p < ALPHA else
                   f"only {n} {reading}s of {metric}{kept}: no monotone trend they can establish "
                   f"(Kendall tau {own_tau:+.2f}, exact p = {p:.3g})")
        if expected is not None:
            how = (f"gets better at every {reading} as {move.of.said} does" if tau > 0 else
                   f"gets worse at every {reading} while {move.of.said} improves")
            verdict = (f"{metric} {how} (Kendall tau {own_tau:+.2f}; one-sided exact p = "
                       f"{expected:.3g}, the direction set by the train metric; two-sided p = "
                       f"{p:.3g}): {names[0]}, low confidence")
        elif lined:
            verdict += (f"; they {'improve' if line.change > 0 else 'get worse'} along a "
                        f"straight line by {abs(line.change):.4g}, {abs(line.t):.1f} standard "
                        + ("errors of the scatter about it (t test of the slope"
                           if known_sd is None else "errors of the given noise (z test of the slope")
                        + f", p = {line.p:.2g}): "
                        f"{names[0]}, low confidence")
        elif shifted and shift.noise == 0:
            verdict += (f"; the {n - 1} {reading}s after the first all read "
                        f"{series.own_units(float(y[1])):.4g}, "
                        f"{'better' if shift.change > 0 else 'worse'} than it by "
                        f"{abs(shift.change):.4g}: a change that holds exactly, "
                        f"{' then '.join(names)}, low confidence")
        elif shifted:
            verdict += (f"; the {n - 1} {reading}s after the first are "
                        f"{'better' if shift.change > 0 else 'worse'} than it by "
                        f"{abs(shift.change):.4g} on average, {abs(shift.t):.1f} standard errors "
                        + ("of their own scatter (t test" if known_sd is None
                           else "of the given noise (z test")
                        + f", p = {shift.p:.2g}): "
                        f"{' then '.join(names)}, low confidence")
        elif names == ["plateau"] and y.size >= (MIN_FOR_NOISE if known_sd is None else 3):
            verdict += _unestablished_turn(steps, y, sd, series, metric, known_sd is None,
                                           reading)
        elif p >= ALPHA and names != ["plateau"]:
            better = names[0] == "improvement"
            k = turn if turn is not None else n - 1
            verdict += (f"; its {'best' if better else 'worst'} {reading} (step {int(steps[k])}) "
                        f"is more than {TURN_SD:g} noise sd {'better' if better else 'worse'} "
                        f"than the first: {' then '.join(names)}, low confidence")
        warnings.append(verdict)
    note = _train_note(move, metric, names)
    if note:
        warnings.append(note)
    if held_out and names == ["plateau"] and (
            worse := worse_after_best_note(steps, y, series, metric, train)):
        warnings.append(worse)
    best = best_index(phases, steps, y, peaks)
    extra = {
        "baseline_rule": str(baseline),
        "baseline_se": float(base_se) if sd > 0 else None,  # unknown without a noise estimate
        "best_value": series.own_units(float(np.max(y))),  # the best evaluation (inspect's)
        "stop_value": series.own_units(float(y[best])),  # the evaluation at the stop
        "noise_sd": float(sd) if sd > 0 else None,
        "confidence": confidence,
        "trend_test": ({"test": "kendall_tau_exact", "tau": sign * tau + 0.0, "p_value": p}
                       if tested else None),
        "outlier_steps": list(series.outlier_steps),  # left out (none with keep_outliers)
        # every evaluation the same (`checkpoint.stop_alone`: any is as good); one phase of
        # change 0 is not that, its ends may be equal around a peak (0.5, 0.9, 0.5)
        **({"constant": True} if n > 1 and np.ptp(y) == 0 else {}),
    }
    if (beats := beats_last(phases, y, best, sd, PhaseConfig.k_sd)) is not None:
        extra["stop_beats_last"] = beats
    return Analysis(source, metric, direction, series.own_units(base), changepoints, phases,
                    int(steps[best]), warnings, extra)
