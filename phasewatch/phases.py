"""Naming segments: disruption, readaptation, improvement, plateau, overfit (DESIGN.md).

Input: a higher-is-better series, its segment boundaries (from `phasewatch.changepoint`) and its
noise sd. Each segment's fitted line gives a *move* (its change from start to end) and the gap
between neighbouring fitted lines a *jump*; a move or jump counts as up or down only when it is
larger than `k` noise sds and its t-statistic passes too (significance against the noise, not
against the raw variance). Consecutive moves of the same kind merge into runs; a quick
there-and-back is an excursion, not two phases; short flat runs between two trends are the
rounded top or bottom of a smooth curve, not a plateau; each boundary is then moved to where the
smoothed curve actually turns (`refine_turns`). Runs are named in order:
- an early fall (starting in the first quarter) that goes below the start and is later
  recovered, or that is the run's first move and ends on a floor within the first half of the
  run: disruption (ends at the trough);
- up after a disruption: readaptation; up otherwise: improvement (a short rise at the very end
  after a decline is a bounce, not an improvement);
- any other fall: overfit (a sustained decline after the best point so far, including from the
  first evaluation; starts at the peak);
- flat: plateau.
Nothing forces three phases: a flat run is one plateau, a steady rise one improvement.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from phasewatch.results import Phase
from phasewatch.running_means import linear_variance, mean_variance
from phasewatch.smoothed_levels import (
    level_tolerance,
    meets_level,
    plateau_level,
    smooth,
    smoothing_window,
)

UP, DOWN, FLAT = "up", "down", "flat"
# A disruption is an early fall: one from the start that ends on a floor is over within this
# fraction of the run (of the stage); still falling after it, it is an overfit. Half, where the
# live monitor (which sees the fall still going on, online/plan.py) says 40%: the end found
# here is where the curve comes within a quarter sd of its floor, late on a slow approach (the
# falls of the second generator family end by a third of the run and are found up to 0.48 in).
EARLY_END_FRACTION = 0.5


@dataclass
class PhaseConfig:
    """Thresholds of the naming rules (in noise sds and fractions of the analysed range)."""

    k_sd: float = 3.0                # a move must exceed this many noise sds ...
    t_min: float = 3.0               # ... and be this many standard errors from zero
    short_flat_fraction: float = 0.15  # flats shorter than this at either end are not plateaus
    turn_flat_fraction: float = 0.30   # ... nor, between a rise and a fall, shorter than this
    recover_sd: float = 1.0          # "recovered" = back within this many sds of the level
    jump_k_sd: float = 6.0           # a gap between fitted lines must exceed this to be a move
    transient_fraction: float = 0.05  # a there-and-back shorter than this is an excursion
    smooth_fraction: float = 0.04    # moving-average window for locating turns
    level_sd: float = 0.25           # "at the plateau level" = within this many sds of it
    early_fraction: float = 0.25     # a first fall starting this early (of the steps) is a disruption
    planned_steps: int | None = None  # the step the run plans to end at, if the log ends before:
    # what is early is judged against the whole run, not the part of it logged so far
    window: float = 1.0  # logs apart two values share nothing (a running mean's: `running_means`
    # .LevelNoise); standard errors count a stretch of n values as n / window independent ones


def significant_gap(sd: float, k_sd: float = PhaseConfig.k_sd) -> float:
    """The smallest gap between two evaluations the phases call significant: `k_sd` noise sds
    of a difference of two readings."""
    return k_sd * math.sqrt(2.0) * sd


@dataclass
class TrendRun:
    """A stretch of points [start, end] (indices) moving one way; levels from the fitted curve."""

    kind: str
    start: int
    end: int
    level_start: float = 0.0
    level_end: float = 0.0


def fit_segments(x: np.ndarray, y: np.ndarray, breaks, within_data: bool = False) -> np.ndarray:
    """The piecewise least-squares line through each segment, evaluated at every point; with
    `within_data`, held within the range of the segment's own values (`refine_turns`)."""
    fitted = np.empty_like(y)
    for a, b in zip([0, *breaks], [*breaks, y.size]):
        xs, ys = x[a:b], y[a:b]
        if xs.size >= 2 and np.ptp(xs) > 0:
            coef = np.polyfit(xs - xs[0], ys, 1)
            fitted[a:b] = np.polyval(coef, xs - xs[0])
            if within_data:
                fitted[a:b] = np.clip(fitted[a:b], ys.min(), ys.max())
        else:
            fitted[a:b] = ys.mean()
    return fitted


def _classify(change: float, se: float, sd: float, cfg: PhaseConfig) -> str:
    if abs(change) > cfg.k_sd * sd and abs(change) > cfg.t_min * se:
        return UP if change > 0 else DOWN
    return FLAT


def trend_se(x: np.ndarray, start: int, end: int, sd: float, window: float = 1.0) -> float:
    """Standard error of the fitted change over x[start..end] (a line fitted to those points),
    for values that share what they average with their neighbours `window` logs around
    (`running_means.linear_variance`; 1: independent values)."""
    xs = x[start:end + 1]
    sxx = float(((xs - xs.mean()) ** 2).sum())
    if xs.size < 3 or sxx <= 0:
        return np.inf
    if window > 1:  # the change is sum(w * y) with w = span (x - mean) / sxx
        weights = (xs[-1] - xs[0]) * (xs - xs.mean()) / sxx
        return sd * math.sqrt(linear_variance(weights, window))
    return sd * (xs[-1] - xs[0]) / np.sqrt(sxx)


def trend_runs(x, y, fitted, breaks, sd: float, cfg: PhaseConfig) -> list[TrendRun]:
    """Segments and the jumps between them as up / down / flat runs, merged by kind.

    A small gap between two fitted lines is noise in where each line ends, so the level at that
    boundary is their midpoint; a significant gap (a mean shift) is a move of its own.
    """
    bounds = list(zip([0, *breaks], [*breaks, y.size]))
    starts = [float(fitted[0])]
    ends: list[float] = []
    jumps: list[TrendRun | None] = [None]
    for k, (a, _) in enumerate(bounds[1:]):
        gap = float(fitted[a] - fitted[a - 1])
        # The end of a line fitted to m points is uncertain by ~2 sd / sqrt(m); and a line
        # fitted to a curved stretch overshoots its ends, so a gap must be clearly larger than
        # a trend's to count as a jump (a mean shift) in its own right.
        m_left, m_right = bounds[k][1] - bounds[k][0], bounds[k + 1][1] - bounds[k + 1][0]
        se = 2 * sd * np.sqrt(mean_variance(m_left, cfg.window)
                              + mean_variance(m_right, cfg.window))
        kind = UP if gap > 0 else DOWN
        if abs(gap) <= cfg.jump_k_sd * sd or abs(gap) <= cfg.t_min * se:
            kind = FLAT
        if kind == FLAT:
            mid = float(fitted[a] + fitted[a - 1]) / 2
            if m_left == 1 and k == 0:
                # a lone first evaluation (`pelt.pelt`'s lone_first) that did not jump
                # is at the next segment's level: its own reading must not become the start
                # of a trend the jump test just refused
                mid = starts[0] = float(fitted[a])
            ends.append(mid)
            starts.append(mid)
            jumps.append(None)
        else:
            ends.append(float(fitted[a - 1]))
            starts.append(float(fitted[a]))
            jumps.append(TrendRun(kind, a - 1, a, float(fitted[a - 1]), float(fitted[a])))
    ends.append(float(fitted[-1]))
    moves: list[TrendRun] = []
    for k, (a, b) in enumerate(bounds):
        if jumps[k] is not None:
            moves.append(jumps[k])
        change = ends[k] - starts[k]
        kind = _classify(change, trend_se(x, a, b - 1, sd, cfg.window), sd, cfg)
        moves.append(TrendRun(kind, a, b - 1, starts[k], ends[k]))
    return _merge(moves, x, sd, cfg)


def join_same_kind(moves: list[TrendRun]) -> list[TrendRun]:
    """Neighbours of one kind become one run (new objects: the input is left as it was)."""
    runs: list[TrendRun] = []
    for mv in moves:
        if runs and runs[-1].kind == mv.kind:
            runs[-1].end, runs[-1].level_end = mv.end, mv.level_end
        else:
            runs.append(TrendRun(mv.kind, mv.start, mv.end, mv.level_start, mv.level_end))
    return runs


def _merge(moves: list[TrendRun], x, sd: float, cfg: PhaseConfig) -> list[TrendRun]:
    """Join neighbours of one kind; a flat run whose total change is significant is a trend."""
    while True:
        runs = join_same_kind(moves)
        changed = False
        for r in runs:
            if r.kind == FLAT:
                kind = _classify(r.level_end - r.level_start,
                                 trend_se(x, r.start, r.end, sd, cfg.window), sd, cfg)
                if kind != FLAT:
                    r.kind, changed = kind, True
        if not changed:
            return runs
        moves = runs


def drop_excursions(runs: list[TrendRun], n: int, cfg: PhaseConfig) -> list[TrendRun]:
    """A fall and a rise (or rise and fall) that together last less than `transient_fraction`
    of the run and come back to where they started are an excursion (a burst of bad
    evaluations), not two phases: flatten them. A fast rise that overshoots a little before
    settling is not an excursion: it does not come back."""
    limit = cfg.transient_fraction * n
    changed = True
    while changed:
        changed = False
        for i in range(len(runs) - 1):
            a, b = runs[i], runs[i + 1]
            there = abs(a.level_end - a.level_start)
            back = abs(b.level_end - b.level_start)
            returns = abs(b.level_end - a.level_start) <= 0.5 * min(there, back)
            if FLAT not in (a.kind, b.kind) and a.kind != b.kind and b.end - a.start < limit \
                    and returns:
                a.kind = b.kind = FLAT
                changed = True
        if changed:
            runs = join_same_kind(runs)
    return runs


def absorb_blips(runs: list[TrendRun], n: int, cfg: PhaseConfig) -> list[TrendRun]:
    """A rise (fall) shorter than `transient_fraction` of the run between two falls (rises) is a
    bump inside one trend, not two phases of its own: a run that declines, jumps back up for one
    evaluation burst and declines again is one decline, as long as the three together still
    move the way the outer two do."""
    limit = cfg.transient_fraction * n
    i = 1
    while i < len(runs) - 1:
        a, b, c = runs[i - 1], runs[i], runs[i + 1]
        net = (c.level_end - a.level_start) * (1 if a.kind == UP else -1)
        if FLAT not in (a.kind, b.kind) and a.kind == c.kind != b.kind and b.end - b.start < limit \
                and net > 0:
            runs[i - 1:i + 2] = [TrendRun(a.kind, a.start, c.end, a.level_start, c.level_end)]
        else:
            i += 1
    return runs


def absorb_short_flats(runs: list[TrendRun], fitted: np.ndarray, n: int,
                       cfg: PhaseConfig) -> list[TrendRun]:
    """Flats shorter than `short_flat_fraction` of the run are the turn of a trend, not a phase.

    Between an up and a down (a hilltop) or a down and an up (a valley) the flat is split at its
    extreme; next to a single trend (or between two of the same kind) it joins that trend.
    """
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for i, r in enumerate(runs):
            prev = runs[i - 1] if i > 0 else None
            nxt = runs[i + 1] if i + 1 < len(runs) else None
            turn = prev is not None and nxt is not None and prev.kind != nxt.kind
            limit = (cfg.turn_flat_fraction if turn else cfg.short_flat_fraction) * n
            if r.kind != FLAT or (r.end - r.start + 1) >= limit:
                continue
            if prev and nxt and prev.kind != nxt.kind:
                seg = fitted[r.start:r.end + 1]
                cut = r.start + int(np.argmax(seg) if prev.kind == UP else np.argmin(seg))
                prev.end, nxt.start = cut, cut
                del runs[i]
            elif prev and nxt:  # same kind on both sides: one trend
                prev.end = nxt.end
                del runs[i:i + 2]
            elif prev:
                prev.end = r.end
                del runs[i]
            elif nxt:
                nxt.start = r.start
                del runs[i]
            changed = True
            break
    # Neighbouring runs share their boundary point.
    for left, right in itertools.pairwise(runs):
        right.start = left.end
    return runs


def refine_turns(runs: list[TrendRun], y: np.ndarray, fitted: np.ndarray, sd: float,
                 cfg: PhaseConfig) -> list[TrendRun]:
    """Put each boundary where the curve actually turns, not where a straight line bends.

    A line fitted to a saturating rise ends early, so the segment break between a trend and a
    plateau sits before the curve reaches its new level. Peaks and troughs go to the extreme of
    the two trends' own evaluations, smoothed (the run's moving average takes in the evaluation
    before them, across an earlier turn: a loss's 9.26 at step 0 put the worst of its relapse
    3.0 -> 4.3 -> 5.3 at step 400, and the relapse was lost); a trend meets a plateau where
    the smoothed series comes within `level_sd` noise sds of the plateau's level (the median
    of its later two thirds), and a plateau meets a trend where it last was. (A broken line's
    knots, on runs of up to 40 evaluations, are placed by `phasewatch.plateau_start` instead.)
    A turn between two trends too short to smooth is read on their fitted lines held within
    their own values (`fit_segments(within_data=True)`): a line through a loss's exponential
    fall, read higher-is-better, ends above every value after it (0.77 above a -val_loss that is
    at most 0), and put the best of a grokking val loss at step 700 (0.236) where the data's is
    at 4000 (0.0002).
    """
    if len(runs) < 2:
        return runs
    window_size = smoothing_window(y.size, cfg)
    ys = smooth(y, window_size)
    near = level_tolerance(sd, window_size, cfg)
    for left, right in itertools.pairwise(runs):
        lo, hi = left.start, right.end
        if FLAT not in (left.kind, right.kind):
            # a one-point jump (the first evaluation, a mean shift) is too short to smooth over
            short = min(left.end - left.start, right.end - right.start) < window_size
            window = fitted[lo:hi + 1] if short else smooth(y[lo:hi + 1], window_size)
            cut = lo + int(np.argmax(window) if left.kind == UP else np.argmin(window))
        elif right.kind == FLAT:  # trend -> plateau
            level = plateau_level(y, right.start, right.end)
            reached = meets_level(ys, lo, hi, level, left.kind == DOWN,
                                  abs(float(fitted[lo]) - level), near, cfg.k_sd * sd)
            cut = left.end if reached is None else reached
        else:  # plateau -> trend
            level = float(np.median(y[left.start:left.start + 2 * (left.end - left.start) // 3 + 1]))
            gap = (ys[lo:hi + 1] - level) * (1 if right.kind == UP else -1)
            within = np.flatnonzero(gap <= near)
            cut = lo + int(within[-1]) if within.size else left.end
        cut = int(np.clip(cut, left.start + 1, right.end - 1)) if right.end - left.start >= 2 else cut
        left.end = right.start = cut
    return runs


def absorb_end_bounce(runs: list[TrendRun], n: int, cfg: PhaseConfig) -> list[TrendRun]:
    """A short rise at the very end after a decline is a bounce, not an improvement: a late
    recovery counts only when it lasts at least `short_flat_fraction` of the run. The bounce
    joins the run before it."""
    if len(runs) >= 2 and runs[-1].kind == UP and any(r.kind == DOWN for r in runs[:-1]) \
            and runs[-1].end - runs[-1].start + 1 < cfg.short_flat_fraction * n:
        runs[-2].end, runs[-2].level_end = runs[-1].end, runs[-1].level_end
        del runs[-1]
    return runs


def name_runs(runs: list[TrendRun], x: np.ndarray, fitted: np.ndarray, sd: float,
              cfg: PhaseConfig) -> list[str]:
    """DESIGN.md's phase names for a sequence of trend runs.

    A fall is a disruption when it starts in the first `early_fraction` of the steps (as the
    expert data starts to act, perhaps after a warm-up) and either falls below the starting
    level and is later recovered, or is the first move of the run and ends on a floor within
    the first `EARLY_END_FRACTION` of the run (of its plan, `planned_steps`, when the log ends
    before it). Any other fall is an overfit: a sustained
    decline after the best point so far, wherever that is, including the first evaluation (a
    held-out metric that gets worse from the start to the end is the textbook overfit, and so
    is one that falls for half the run before it flattens), also when a later rise recovers
    it: a fall mid-run, or one that stays above the start, is no disruption (nor, in a run with
    no expert data, one never recovered: `expert_data`)."""
    names: list[str] = []
    last_trend = None      # name of the most recent up/down phase
    for i, r in enumerate(runs):
        if r.kind == FLAT:
            names.append("plateau")
            continue
        if r.kind == UP:
            name = "readaptation" if last_trend == "disruption" else "improvement"
        else:
            start_level = fitted[r.start]
            later = fitted[r.end:]
            recovered = later.size > 0 and later.max() >= start_level - cfg.recover_sd * sd and any(
                q.kind == UP for q in runs[i + 1:])
            span = max(x[-1], cfg.planned_steps or 0) - x[0]
            early = x[r.start] - x[0] <= cfg.early_fraction * span
            below_start = fitted[r.end] < fitted[0]
            over_early = x[r.end] - x[0] <= EARLY_END_FRACTION * span
            floor_after_start = last_trend is None and over_early and i + 1 < len(runs)
            disruption = early and (recovered and below_start or floor_after_start)
            name = "disruption" if disruption else "overfit"
        names.append(name)
        last_trend = name
    return names


def build_phases(steps: np.ndarray, y: np.ndarray, breaks, sd: float,
                 cfg: PhaseConfig | None = None) -> list[Phase]:
    """Phases covering steps[0]..steps[-1]."""
    cfg = cfg or PhaseConfig()
    x = steps.astype(np.float64)
    fitted = fit_segments(x, y, list(breaks))
    runs = trend_runs(x, y, fitted, list(breaks), sd, cfg)
    runs = drop_excursions(runs, y.size, cfg)
    runs = absorb_blips(runs, y.size, cfg)
    runs = absorb_short_flats(runs, fitted, y.size, cfg)
    # again: a short flat absorbed into the turn of a fall can leave that fall a blip
    runs = absorb_blips(runs, y.size, cfg)
    runs = absorb_end_bounce(runs, y.size, cfg)
    runs = refine_turns(runs, y, fit_segments(x, y, list(breaks), within_data=True), sd, cfg)
    names = name_runs(runs, x, fitted, sd, cfg)
    # a run of one evaluation (a lone first one the jump after it left behind) spans no step:
    # no phase of its own, or the corner placed after it slid the names one segment on
    # (trial 35: "plateau 0 -> 80, -363.5 sd" then "disruption 80 -> 160, -0.4 sd")
    phases = [Phase(name, int(steps[r.start]), int(steps[r.end])) for name, r in zip(names, runs)
              if r.end > r.start or len(runs) == 1]
    return phases
