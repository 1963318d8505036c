"""One trend over the whole run, where the phase rules see one plateau only because each
evaluation is noisy.

The rules ask a move to exceed `k_sd` noise sds of one evaluation (phases.PhaseConfig), so that
a few evaluations must each move clearly. A noisy metric logged often (a GRPO batch reward, a
per-step train loss) can climb 2 sds over hundreds of evaluations: a rise anyone sees in the
plot, which those rules call a plateau. So when a run of more than MIN_POINTS evaluations comes
out as one plateau, under white noise, its first and last stretches (`stretch_size`: a quarter
of the run each, at most LONG_RUN_MEAN evaluations, or a LONG_RUN_SHARE-th of a longer run) are
compared: when their means differ by more than `k_sd` standard errors and the values trend
against the steps by Kendall's rank test (p < TREND_P:
the noise sd of a few dozen evaluations can come out at half the truth), the run is one trend
(an improvement, or a decline from the start: an overfit). Under sticky noise (lag-1
autocorrelation above WHITE_AR) a long stretch wanders by sds, and the run stays a plateau. A
running mean over a window of logs (`running_means`) is sticky by construction, by a known
amount: its stretch means are compared against their own variance (`mean_variance`), with no
rank test, which would count its values as independent.

Such a trend need not span the run: a GRPO reward that jumps 2.5 batch sds in 15 steps and then
stays flat for 600 is a step, not a climb over the run. Where the segmentation cut the run and
the stretch after a cut (or before it) is flat, the trend is placed between them
(`place_trend`) and the flat stretch is a plateau.
"""
from __future__ import annotations

import itertools

import numpy as np

from phasewatch.few_point_tests import trend_test
from phasewatch.hinge import fitted_with_knots
from phasewatch.noise import lag1_autocorrelation
from phasewatch.phase_stats import (
    SPARSE,
    boundary_levels,
    demote_flat_trends,
    held_count,
    held_levels,
    on_lattice,
)
from phasewatch.phases import PhaseConfig, trend_se
from phasewatch.results import Phase
from phasewatch.running_means import mean_variance
from phasewatch.smoothed_levels import (
    level_tolerance,
    meets_level,
    plateau_level,
    smooth,
    smoothing_window,
)

# Longer runs only: on 3-12 evaluations a quarter is 1-3 of them, and the short-series rules
# (`short_series`, `hinge`) read the whole run. From 13 on (where `hinge` reads the run too), the
# same rule: it reads a preference margin rising 3 noise sds over 33 evaluations, and on the
# tuning seeds it changed two calls in 1,600 runs per family (seeds 100-119: a flat run of
# family A now a false trend, a decline from the start of family B now found; 300-339: none).
MIN_POINTS = 12
LONG_RUN_MEAN = 30  # evaluations averaged at each end, at most, up to ...
# ... runs of 20 x that many: beyond, a twentieth of the run. 30 of a DQN's 14,134 episode
# rewards (sd 132, its 1000-episode means rising 123 -> 198) put the rise within the noise: a
# plateau "+0.4 sd" beside end means of 4,711 readings 17 se apart; 706 each: 10.5 se
LONG_RUN_SHARE = 20
WHITE_AR = 0.2  # residual lag-1 autocorrelation up to which the noise is taken as white
# Above this many evaluations a trend's edge beside a plateau is the level the plateau holds
# there (`trend_edges`), not the one evaluation at the boundary: the two lines print one value
# at the step they share, and the trend is judged between those levels (`judged_at_edges`).
# One evaluation at the boundary is no level: a W&B SFT loss's improvement ended on 1.226 at
# step 3 where its plateau from step 3 held 1.135 (wandb-alpaca-sft), and a disruption ended on
# a 172.0 trough where the level after it held 180.5, within the noise (tb-sb3-govworkflow-ppo-
# 36ev). On 3-12 evaluations a plateau's held level is a median of only 2 or 3, and judged
# against it real dips of the sparse synthetic runs were lost (disruption presence 0.88 ->
# 0.85): there the edges stay single evaluations.
HELD_EDGES_ABOVE = MIN_POINTS
TREND_P = 0.01  # two-sided p-value of the rank trend test


def whole_run_trend(phases: list[Phase], steps: np.ndarray, y: np.ndarray, sd: float, ar: float,
                    cfg: PhaseConfig, hinged: bool = False, breaks=()) -> list[Phase]:
    """`phases` unchanged, or one improvement / overfit over the same steps, placed between the
    flat stretches beside it (`place_trend`; see the module); a trend the rules found over the
    whole run is placed too.

    `ar` is the lag-1 autocorrelation of the segmentation's residuals; a run read by the broken
    line (`hinged`) has none, and its residuals about one straight line, or about a broken
    line with two knots, are judged instead."""
    names = [p.name for p in phases]
    if y.size <= MIN_POINTS or sd <= 0 or names not in (["plateau"], ["improvement"], ["overfit"]):
        return phases
    first, last = stretch_means(y)
    change = last - first
    if names != ["plateau"]:  # a trend over the whole run, found by the per-evaluation rules
        if (change > 0) != (names == ["improvement"]):
            return phases
        placed = _placed(names[0], steps, y, breaks, change, sd, cfg)
        return placed if len(placed) > 1 else phases
    k = stretch_size(y.size)
    if cfg.window > 1:
        # a running mean (`running_means`): its stickiness is its window, and the stretch means
        # vary by `mean_variance`; the rank test would count its values as independent
        if abs(change) <= cfg.k_sd * sd * np.sqrt(2.0 * mean_variance(k, cfg.window)):
            return phases
        return _placed("improvement" if change > 0 else "overfit", steps, y, breaks, change, sd,
                       cfg)
    if hinged:
        ar = _hinge_residual_ar(steps, y)
    if ar > WHITE_AR:
        return phases
    if abs(change) <= cfg.k_sd * sd * np.sqrt(2.0 / k) or trend_test(steps, y)[1] >= TREND_P:
        return phases
    return _placed("improvement" if change > 0 else "overfit", steps, y, breaks, change, sd, cfg)


def stepped_climb(phases: list[Phase], steps: np.ndarray, y: np.ndarray, sd: float,
                  cfg: PhaseConfig, breaks, fixed: frozenset[int] | set[int],
                  ) -> tuple[list[Phase], list[tuple[float, str, int]], bool, bool] | None:
    """(phases, their `trend_edges`, placed, stretched) of a running mean (`cfg.window` > 1)
    whose trends the edge test (`judged_at_edges`) left one plateau, where its first and last
    stretches differ beyond their noise (`whole_run_trend`); else None. A running mean climbs
    in steps each within its level noise (an SB3 DQN return from -5750 to -4400 over 15M steps,
    level noise 342: four phases, each trend demoted, "plateau ... change +1190 (+3.5 sd)")."""
    if [p.name for p in phases] != ["plateau"]:
        return None
    trend = whole_run_trend(phases, steps, y, sd, 0.0, cfg, False, breaks)
    if trend is phases:
        return None
    return trend, trend_edges(trend, steps, y, boundary_levels(trend, steps, y, fixed), True,
                              fixed), True, True


def _placed(name: str, steps: np.ndarray, y: np.ndarray, breaks, change: float, sd: float,
            cfg: PhaseConfig) -> list[Phase]:
    """The trend `name`, with a plateau before and after it where `place_trend` puts them."""
    start, end = place_trend(steps, y, breaks, change, sd, cfg)
    placed = [Phase("plateau", int(steps[0]), int(steps[start]))] if start > 0 else []
    placed.append(Phase(name, int(steps[start]), int(steps[end])))
    if end < y.size - 1:
        placed.append(Phase("plateau", int(steps[end]), int(steps[-1])))
    return placed


# A stretch is flat beside a trend when its own fitted slope, with two standard errors of it,
# is at most this fraction of the run's mean slope (and it shows no rank trend: `_is_flat`): a
# step's flat side, not a stretch of a straight climb, nor the slow end of a saturating one,
# which lacks the power to show a trend of its own
FLAT_MOVE_FRACTION = 1 / 3


def place_trend(steps: np.ndarray, y: np.ndarray, breaks, change: float, sd: float,
                cfg: PhaseConfig) -> tuple[int, int]:
    """The indices the trend runs between: from the last cut before which the run is flat to
    where, after the first cut after which it is flat, the smoothed run reaches that flat
    level (`smoothed_levels.meets_level`, as a trend meets its plateau there); each flat stretch at
    least `short_flat_fraction` of the run (shorter ones at the ends are no plateaus). The
    whole run where none is. (A plateau's end is put at its corner later: `place_corners`.)"""
    least = max(MIN_POINTS // 2, int(np.ceil(cfg.short_flat_fraction * y.size)))
    slope = change / float(steps[-1] - steps[0])
    start, end = 0, y.size - 1
    for b in sorted(breaks):
        if b >= least and y.size - b > 1 and _is_flat(steps[:b], y[:b], slope, sd, cfg.window):
            start = b - 1
    for b in sorted(breaks, reverse=True):
        if y.size - b >= least and b - 1 > start and _is_flat(steps[b:], y[b:], slope, sd,
                                                              cfg.window):
            end = b
    if end < y.size - 1:
        window = smoothing_window(y.size, cfg)
        met = meets_level(smooth(y, window), start, y.size - 1, plateau_level(y, end, y.size - 1),
                          change < 0, abs(change), level_tolerance(sd, window, cfg),
                          cfg.k_sd * sd)
        end = end if met is None else min(max(met, start + 1), y.size - least)
    return start, end


def _is_flat(steps: np.ndarray, y: np.ndarray, slope: float, sd: float,
             window: float = 1.0) -> bool:
    """No rank trend (p >= TREND_P), and a fitted move that is, two standard errors included,
    at most FLAT_MOVE_FRACTION of what the run's mean `slope` makes over the same steps."""
    x = steps.astype(np.float64)
    span = float(x[-1] - x[0])
    bound = abs(float(np.polyfit(x, y, 1)[0]) * span) + 2 * trend_se(x, 0, x.size - 1, sd, window)
    # (no rank test for a running mean, window > 1: it counts the values as independent)
    return bound <= FLAT_MOVE_FRACTION * abs(slope) * span \
        and (window > 1 or trend_test(steps, y)[1] >= TREND_P)


def stretch_means(y: np.ndarray) -> tuple[float, float]:
    """The means of the run's first and last stretches (`stretch_size`): the levels the trend
    is decided between, and so the levels its phase is reported between (its single first and
    last evaluations, each one noisy reading, can even point against the trend: a GRPO reward
    0.135 -> 0.105 printed for a rise from 0.00 to 0.11)."""
    k = stretch_size(y.size)
    return float(np.mean(y[:k])), float(np.mean(y[-k:]))


def trend_edges(phases: list[Phase], steps: np.ndarray, y: np.ndarray, levels: list[float],
                stretched: bool, fixed: frozenset[int] | set[int] = frozenset(),
                ) -> list[tuple[float, str, int]]:
    """The levels at the edges of the trends: `levels` with each edge a trend shares with a
    plateau read as the level that plateau holds there (`held_levels`), not from one noisy
    evaluation (a GRPO batch reward placed 0.37 at a trend's end where the plateau after it
    holds 0.14; a dense train loss's improvement ended on a lucky 1.302 where the plateau it
    ran into held 1.369, so the two phases printed two values at one step and the gain was a
    sixth too large); a stage switch (`fixed`) keeps its own reading. Where a trend was decided
    from the run's first and last stretches (`stretched`), its edges at the run's ends are their
    means. Each as (level, how, evaluations), how "" (as in `levels`), "averaged" (a mean) or
    "held" (a median; "held_mean" on a lattice: `phase_stats.held_levels`)."""
    out = [(level, "", 1) for level in levels]
    index = np.searchsorted(steps, [p.start_step for p in phases] + [phases[-1].end_step])
    for j in range(1, len(phases)):  # the edge between phases j - 1 and j
        before, after = phases[j - 1].name == "plateau", phases[j].name == "plateau"
        if before == after or phases[j].start_step in fixed:
            continue
        held = y[index[j - 1]:index[j] + 1] if before else y[index[j]:index[j + 1] + 1]
        if held_count(held.size) > 1:  # a plateau of 2-3 evaluations holds no level but the
            # one evaluation at the edge: that is the edge, as the plateau's own line has it
            # (`phase_stats`), not "the level held before it, median of 1 evaluations"
            out[j] = (held_levels(held)[1 if before else 0], _held(held), held_count(held.size))
    first, last = stretch_means(y)
    if stretched and phases[0].name != "plateau":
        out[0] = (first, "averaged", stretch_size(y.size))
    if stretched and phases[-1].name != "plateau":
        out[-1] = (last, "averaged", stretch_size(y.size))
    return out


def edge_variance(how: str, n: int, window: float = 1.0) -> float:
    """The variance of an edge level read `how` (`trend_edges`) from `n` evaluations, in units
    of one evaluation's (white noise): 1 for a single evaluation (""), 1/n for a mean
    ("averaged", "held_mean"), (pi/2)/n for a median ("held") of more than two (the median of
    one or two evaluations is their mean: pi/2 made it a noisier level than their mean is).
    Values that share what they average `window` logs around (a running mean) vary together:
    1/n is then `running_means.mean_variance`, about window / n."""
    if not how:
        return 1.0
    spread = np.pi / 2.0 if how == "held" and n > 2 else 1.0
    return spread / max(n, 1) if window <= 1 else spread * mean_variance(n, window)


def edge_scales(edges: list[tuple[float, str, int]], dense: bool,
                window: float = 1.0) -> list[float]:
    """For each phase between `trend_edges`, the sd of the change between its two edge levels
    in units of the sd of the change between two single evaluations (`edge_variance`); the
    run's last edge, where `trend_edges` left it as `boundary_levels` reads it, is on a `dense`
    run the mean of the last two evaluations. A trend judged between 3-point medians and
    printed from the start to the median of the 20 evaluations its plateau holds after it must
    still be a change there: a 4-way multiple-choice accuracy at chance, 0.255 at its first
    evaluation and held at 0.269 after a spike to 0.306, was printed "improvement ... change
    +0.01366 (+1.6 sd)", its name contradicted by its own line."""
    reads = [(how, n) for _, how, n in edges]
    if dense and not reads[-1][0]:
        reads[-1] = ("averaged", 2)
    return [float(np.sqrt((edge_variance(*a, window) + edge_variance(*b, window)) / 2.0))
            for a, b in itertools.pairwise(reads)]


def judged_at_edges(phases: list[Phase], steps: np.ndarray, y: np.ndarray,
                    edges: list[tuple[float, str, int]], sd: float, k_sd: float,
                    stretched: bool, fixed: frozenset[int] | set[int] = frozenset(),
                    window: float = 1.0) -> tuple[list[Phase], list[tuple[float, str, int]]]:
    """`phases` and their `trend_edges`, with each trend judged again between the levels it is
    printed between: one whose change there is within `k_sd` noise sds (the rule for edges that
    are single evaluations, `phase_stats.demote_flat_trends`, its neighbours merged) times
    `edge_scales` (how much less a change between these levels varies than one between single
    evaluations) is a plateau, and the edges are read again for the phases that remain. The phase rules judged it between
    other levels (3-point medians, single evaluations), and its line must not contradict its
    name."""
    kept = demote_flat_trends(phases, [level for level, _, _ in edges], sd, k_sd,
                              edge_scales(edges, y.size > SPARSE, window))
    if [(p.name, p.start_step) for p in kept] == [(p.name, p.start_step) for p in phases]:
        return phases, edges
    return kept, trend_edges(kept, steps, y, boundary_levels(kept, steps, y, fixed), stretched,
                             fixed)


def _held(values: np.ndarray) -> str:
    """How a plateau's held level was read: "held" (a median), or "held_mean" on a lattice
    (`phase_stats.held_levels`)."""
    return "held_mean" if on_lattice(values) else "held"


def edge_stats(start: tuple[float, str, int], end: tuple[float, str, int],
               stats: dict) -> dict:
    """`stats` of a trend phase read between `trend_edges`, saying how its edges were read:
    `ends_averaged` N where both are means of N (a trend over the whole run), else
    `start_averaged` / `start_held` / `end_averaged` / `end_held` N. An end read as
    `boundary_levels` reads it keeps what `phase_stats` said of it (a dense run's last
    evaluation, the mean of the last two: `end_averaged` 2)."""
    if end[1]:
        stats = {key: value for key, value in stats.items() if key != "end_averaged"}
    if start[1] == end[1] == "averaged":
        stats["ends_averaged"] = start[2]
        return stats
    for side, (_, how, n) in (("start", start), ("end", end)):
        if how:
            stats[f"{side}_{how}"] = n
    return stats


def averaged_best(phase: Phase, steps: np.ndarray, y: np.ndarray, base: float,
                  end_level: float) -> dict:
    """An improvement decided from the run's stretches: its best as the best mean of
    `stretch_size` evaluations in a row (`peak_step` the middle one, `peak_averaged` how many)
    over the starting level `base`, never below the level it ends on (`end_level`). Its single best
    evaluation is one lucky batch where each is this noisy (trial 35b: "best 0.3 above the
    start" on a GRPO train reward whose 30-evaluation means rose 0.08)."""
    k = stretch_size(y.size)
    i0, i1 = np.searchsorted(steps, [phase.start_step, phase.end_step])
    at_end = {"peak_step": int(phase.end_step), "gain_over_baseline": end_level - base}
    if i1 - i0 + 1 < k:  # a rise shorter than a stretch: its best is where it ends
        return at_end
    means = np.convolve(y[i0:i1 + 1], np.ones(k) / k, mode="valid")
    top = int(np.argmax(means))
    if end_level >= means[top]:  # best where it ends (the level a plateau holds after it)
        return at_end
    return {"peak_step": int(steps[i0 + top + k // 2]), "peak_averaged": k,
            "gain_over_baseline": float(means[top]) - base}


def stretch_size(n: int) -> int:
    """Evaluations in each of the first and last stretches of a run of `n` (a quarter of it, at
    most LONG_RUN_MEAN, or a LONG_RUN_SHARE-th of a run of more than 20 x that many)."""
    return min(max(LONG_RUN_MEAN, n // LONG_RUN_SHARE), n // 4)


def _line_residual_ar(steps: np.ndarray, y: np.ndarray) -> float:
    """Lag-1 autocorrelation of the residuals about the least-squares line (the trend under
    test), so that slow wander is not taken for white noise about a trend."""
    x = steps.astype(np.float64)
    return lag1_autocorrelation(y - np.polyval(np.polyfit(x, y, 1), x))


def _hinge_residual_ar(steps: np.ndarray, y: np.ndarray) -> float:
    """Lag-1 autocorrelation of the residuals about the least-squares line or about the best
    broken line with two knots, whichever is smaller: a dip and a climb read through one line
    leave residuals that run in long signs, which is the shape, not sticky noise (a GRPO reward
    of 39 evaluations, 3.6 -> 1.0 -> 7.3 at an sd of 2: 0.38 about the line, 0.04 about the
    broken line; it was one plateau). Tuning seeds, both generator families: no call changed."""
    x = (steps - steps[0]).astype(np.float64)
    x /= float(x[-1]) or 1.0
    return min(_line_residual_ar(steps, y), lag1_autocorrelation(y - fitted_with_knots(x, y, 2)))
