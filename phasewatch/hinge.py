"""Sparse runs: a continuous broken line with its knots found by exhaustive search.

On a run evaluated 6-40 times, a segmentation into separate lines with three points or more each
cannot see a dip sampled at one or two evaluations. A continuous piecewise-linear curve ("hinge"
model) needs no minimum segment length: a knot can sit on any interior evaluation. With so few
points every placement of up to `MAX_KNOTS` knots is tried.

The noise is not taken from the fit's residuals: with 6-12 points and a dip, a recovery and a
plateau to fit, the residual degrees of freedom run out before the knots do (a fit that may keep
three residual degrees of freedom gets one knot on 8 points, and its residuals are then mostly
unfitted trend: 1.5x the true noise in the median, 4.5x at the 90th percentile). The root mean
square of second differences (`noise.second_difference_sd`, largest left out) cancels the straight
stretches between the knots instead (median 1.0x the true noise, 2.1x at the 90th percentile), and
with that noise fixed the number of knots is chosen by a penalised fit, RSS / sd^2 + `KNOT_PENALTY`
per knot (Mallows' Cp form). Second differences still read a sharp turn as noise, so when the
chosen fit leaves three residual degrees of freedom or more, its residual sd is taken where it is
smaller. Each piece's change is then judged against the noise with its exact
standard error from the fit, and the pieces are named by the same rules as a segmentation's
(`phasewatch.phases`).

A multi-epoch fine-tune's held-out loss often holds within an epoch and steps up where the train
set is seen again (an LLM eval loss 1.052 at the end of its first epoch, 1.072-1.081 through the
second, 1.167-1.179 through the third). The broken line cannot step: it bends twice per step and
its second differences read each step as noise (0.011 there, against 0.002 within the epochs).
Where the run's epochs are known and each holds `MIN_TREAD` evaluations, the line may step at an
epoch's first evaluation, a step paying what a knot pays; the second differences across a step
the fit keeps are left out of the noise (those of one it does not keep are noise again, and the
line is fitted again: a run whose epochs do not step reads as it would without them), and a
staircase is one trend (`_join_flat_middles`).
"""

from __future__ import annotations

import itertools

import numpy as np

from phasewatch.noise import second_difference_sd
from phasewatch.phases import (
    DOWN,
    FLAT,
    UP,
    PhaseConfig,
    TrendRun,
    absorb_end_bounce,
    absorb_short_flats,
    drop_excursions,
    join_same_kind,
    name_runs,
)
from phasewatch.results import Phase

MAX_KNOTS = 3
MIN_RESIDUAL_DOF = 2  # a fit keeps two points more than its parameters (a knot costs two)
# The price of a knot in units of the noise variance. A knot placed by search buys far more than
# its two parameters' worth of RSS on pure noise (the best of up to 18 placements), so the price
# is set on the tuning seeds of the 3-12- and 13-40-evaluation regimes: 10-16 give the same
# presence and boundary hits; 16 gives the fewest false claims on the controls.
KNOT_PENALTY = 16.0
# The pieces are judged against the second-difference noise x1.2: it is estimated from a handful
# of differences (and is below the truth in a quarter of the runs), as a t quantile widens a
# normal one. x1.5 cost 0.04-0.10 boundary hits for 0.01 fewer false claims.
JUDGE_FACTOR = 1.2
# An end piece between the first or last evaluation and a knot at the fitted best or worst (a fall
# to the trough, a decline after the peak) is a move when it passes k_sd noise sds and this many
# standard errors (t_min elsewhere): its knot already paid KNOT_PENALTY, so the turn is
# established and only the piece's direction is in question (a 4-evaluation decline of 3.5 sds
# after the best has t ~ 2.9 under the fit; a one-evaluation fall to the trough, less). On the
# 3-12-evaluation tuning runs, the two families: boundary hits 0.73 / 0.58 -> 0.76 / 0.62, overfit
# presence 0.93 / 0.83 -> 0.94 / 0.86, no more false claims, other regimes the same or 0.01
# better (step 0, outliers); 2.0 gave the same.
DECLINE_T = 2.5
# Exhaustive search stays near 20 ms per run up to here (3, 8, 20 ms at 20, 30, 40 points). On
# the tuning seeds, 21-40 evaluations fitted by the broken line instead of the segmentation hit
# 0.06-0.10 more boundaries (medium, fast, step0, lower, bounded regimes) with no more false
# claims, except one-point dips right after a step-0 evaluation in the second family.
MAX_POINTS = 40


# Epoch steps (`epoch_starts`): a multi-epoch fine-tune's held-out loss often holds within an
# epoch and steps up where the train set is seen again. The line may step at the epochs' starts,
# each step paying what a knot pays: on the real corpus (40 sets) 9, 16 and 25 gave 454, 455
# and 454 of 482 unambiguous series right (453 without steps); at 9 a step took the rise of a
# 2-epoch loss that climbs smoothly across its boundary, at 25 a 28-evaluation staircase kept
# only some of its steps.
JUMP_PENALTY = KNOT_PENALTY
MAX_STEPS = 4  # epoch starts the line may step at: every subset is tried (16; a 40-evaluation
# run of 5 epochs is read in 0.19 s, against 0.07 s without steps)
MIN_TREAD = 3  # evaluations every epoch needs for its steps to enter the line


def epoch_starts(steps: np.ndarray, y: np.ndarray, boundaries: list[int]) -> tuple[int, ...]:
    """The index of the first evaluation of each epoch after the first (`boundaries`: the
    steps the run's epochs begin at), where every epoch of the series holds `MIN_TREAD`
    evaluations or more; () otherwise. An evaluation at a boundary's own step ends the epoch
    before it (it saw that epoch's data once). The first evaluation after a boundary may have
    seen only a few steps of the new epoch, and the step shows at the next one (an eval loss
    evaluated every 50 steps, an epoch from step 446: 1.079 at 450, 1.167 at 500): of the two,
    the step is put where the series moves more."""
    starts = []
    for b in boundaries:
        j = int(np.searchsorted(steps, b, side="right"))
        if not 0 < j < len(steps):
            continue
        if j + 1 < len(steps) and abs(y[j + 1] - y[j]) > abs(y[j] - y[j - 1]):
            j += 1
        starts.append(j)
    starts = sorted(set(starts))
    edges = [0, *starts, len(steps)]
    if not starts or len(starts) > MAX_STEPS or \
            min(b - a for a, b in itertools.pairwise(edges)) < MIN_TREAD:
        return ()
    return tuple(starts)


def _design(x: np.ndarray, knots: tuple[int, ...], jumps: tuple[int, ...] = ()) -> np.ndarray:
    index = np.arange(x.size)
    cols = ([np.ones_like(x), x] + [np.maximum(x - x[k], 0.0) for k in knots]
            + [(index >= j).astype(np.float64) for j in jumps])
    return np.stack(cols, axis=1)


def _line(x: np.ndarray, y: np.ndarray, knots: tuple[int, ...],
          jumps: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(fitted values, design matrix) of the least-squares broken line with these knots (and
    a step at each of `jumps`, the first evaluations of epochs)."""
    X = _design(x, knots, jumps)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return X @ beta, X


def _fit(x: np.ndarray, y: np.ndarray, knots: tuple[int, ...],
         jumps: tuple[int, ...] = ()) -> tuple[float, np.ndarray]:
    fitted, X = _line(x, y, knots, jumps)
    return float(np.sum((y - fitted) ** 2)), X


def _best_placement(x: np.ndarray, y: np.ndarray, k: int,
                    jumps: tuple[int, ...] = ()) -> tuple[float, tuple[int, ...]]:
    """(RSS, knots) of the least-squares broken line over every placement of k knots on the
    interior evaluations: the normal equations of all placements at once, from one Gram matrix
    of [1, x, a hinge at each evaluation, the steps `jumps`] (C(38, 3) = 8436 placements on 40
    evaluations in a few ms), then the winner refitted directly (the normal equations lose
    digits)."""
    if k == 0:
        return _fit(x, y, (), jumps)[0], ()
    n = y.size
    full = _design(x, tuple(range(1, n - 1)), jumps)
    gram, xy = full.T @ full, full.T @ y
    combos = np.array(list(itertools.combinations(range(1, n - 1), k)))
    m = len(combos)
    cols = np.concatenate([np.zeros((m, 1), int), np.ones((m, 1), int), combos + 1,
                           np.tile(np.arange(n, n + len(jumps)), (m, 1))], axis=1)
    a = gram[cols[:, :, None], cols[:, None, :]]
    a += 1e-12 * np.trace(gram) * np.eye(cols.shape[1])  # neighbouring hinges are nearly collinear
    b = xy[cols]
    beta = np.linalg.solve(a, b[..., None])[..., 0]
    knots = tuple(int(j) for j in combos[int(np.argmax(np.einsum("mp,mp->m", beta, b)))])
    return _fit(x, y, knots, jumps)[0], knots


def fitted_with_knots(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """The least-squares broken line with exactly `k` knots at its best placement, at `x`."""
    return _line(x, y, _best_placement(x, y, k)[1])[0]


def best_hinge(x: np.ndarray, y: np.ndarray, sd: float, max_knots: int = MAX_KNOTS):
    """(knots, fitted values, design matrix) of the broken line that minimises
    RSS / sd^2 + KNOT_PENALTY * knots, for a noise sd known (estimated) apart from the fit."""
    knots, _, fitted, X = stepped_hinge(x, y, sd, max_knots)
    return knots, fitted, X


def stepped_hinge(x: np.ndarray, y: np.ndarray, sd: float, max_knots: int = MAX_KNOTS,
                  jumps: tuple[int, ...] = ()):
    """(knots, steps kept, fitted values, design matrix) of the broken line that may also step
    at some of `jumps` (every subset is tried) and minimises RSS / sd^2 + KNOT_PENALTY * knots
    + JUMP_PENALTY * steps. A subset's fit with k knots cannot beat the fit with every step and
    k knots, so a subset whose cost would stay above the best found even then is not fitted."""
    n = y.size
    var = max(sd, 1e-12 * max(float(np.ptp(y)), 1e-300)) ** 2
    knot_counts = [k for k in range(max_knots + 1) if n - 2 - 2 * k >= MIN_RESIDUAL_DOF]
    floor = {k: _best_placement(x, y, k, jumps)[0] / var for k in knot_counts
             if n - 2 - len(jumps) - 2 * k >= MIN_RESIDUAL_DOF} if jumps else {}
    best = None
    for kept in (c for r in range(len(jumps) + 1) for c in itertools.combinations(jumps, r)):
        for k in knot_counts:
            if n - 2 - len(kept) - 2 * k < MIN_RESIDUAL_DOF:
                break
            price = KNOT_PENALTY * k + JUMP_PENALTY * len(kept)
            if best is not None and k in floor and floor[k] + price >= best[0]:
                continue
            rss, knots = _best_placement(x, y, k, kept)
            cost = rss / var + price
            if best is None or cost < best[0]:
                best = (cost, knots, kept)
    _, knots, kept = best
    return knots, kept, *_line(x, y, knots, kept)


def _piece_kind(X: np.ndarray, inv_xtx: np.ndarray, a: int, b: int, fitted: np.ndarray,
                sd: float, cfg: PhaseConfig) -> str:
    """Up, down or flat: the fitted change from point a to b against k_sd noise sds and its
    exact standard error under the fit (`inv_xtx`: the inverse of X'X); an end piece into or
    out of the fitted best or worst needs `DECLINE_T` standard errors."""
    change = float(fitted[b] - fitted[a])
    c = X[b] - X[a]
    se = sd * float(np.sqrt(max(c @ inv_xtx @ c, 0.0)))
    last = fitted.size - 1
    top, bottom = float(np.max(fitted)), float(np.min(fitted))

    def at_extreme(i: int) -> bool:
        return 0 < i < last and (fitted[i] >= top or fitted[i] <= bottom)

    end_piece = (a == 0 and at_extreme(b)) or (b == last and at_extreme(a))
    t_needed = DECLINE_T if end_piece else cfg.t_min
    if abs(change) > cfg.k_sd * sd and abs(change) > t_needed * se:
        return UP if change > 0 else DOWN
    return FLAT


def _join_flat_middles(runs: list[TrendRun], jumps: tuple[int, ...] = ()) -> list[TrendRun]:
    """A flat piece of three evaluations or fewer between two rises (falls) is noise in one
    rise: a knot placed where the noise happened to pause the trend, not a plateau. So is a
    staircase's tread, of any length: a flat piece within one epoch between two moves of one
    way that each hold an epoch step (`jumps`), and the last epoch's flat after such a move (a
    held-out loss that steps up each time the train set is seen again and holds in between is
    one overfit across the epochs, from its best to the end)."""
    def steps_in(r: TrendRun) -> bool:
        return any(r.start < j <= r.end for j in jumps)

    i = 1
    while i < len(runs) - 1:
        a, b, c = runs[i - 1], runs[i], runs[i + 1]
        tread = not steps_in(b) and steps_in(a) and steps_in(c)
        if b.kind == FLAT and a.kind == c.kind != FLAT and (b.end - b.start <= 2 or tread):
            runs[i - 1:i + 2] = [TrendRun(a.kind, a.start, c.end, a.level_start, c.level_end)]
        else:
            i += 1
    if len(runs) >= 2 and runs[-1].kind == FLAT != runs[-2].kind and not steps_in(runs[-1]) \
            and steps_in(runs[-2]):
        a, b = runs[-2], runs[-1]
        runs[-2:] = [TrendRun(a.kind, a.start, b.end, a.level_start, b.level_end)]
    return runs


def hinge_phases(steps: np.ndarray, y: np.ndarray, cfg: PhaseConfig, known_sd: float | None = None,
                 jumps: tuple[int, ...] = ()) -> tuple[list[Phase], float]:
    """Phases of a sparse run and the noise sd they were judged against (see the module's
    docstring for why the noise comes from second differences and not from the fit). `jumps`:
    the evaluations the line may step at (`epoch_starts`), whose second differences are no noise.
    `known_sd`, the user's noise sd of one evaluation (`phasewatch.known_noise`), replaces the
    estimate, and is not widened by JUDGE_FACTOR: that allows for the estimate's spread (told
    the true sd, tuning seeds, 3-12 evaluations: boundary hits 0.90 / 0.78 as given against
    0.86 / 0.74 widened, false claims 0.03 / 0.06 against 0.02 / 0.03, the two families)."""
    x = (steps - steps[0]).astype(np.float64)
    scale = float(x[-1]) or 1.0
    while True:  # the epochs that do not step hold noise: read again without their steps
        sd = second_difference_sd(y, robust=False, apart=jumps) if known_sd is None \
            else float(known_sd)
        knots, kept, fitted, X = stepped_hinge(x / scale, y, sd, jumps=jumps)
        # a step the line draws as two bends, on the evaluations either side, is a step too
        stepping = tuple(j for j in jumps if j in kept or {j - 1, j} <= set(knots))
        if stepping == jumps:
            break
        jumps = stepping
    if known_sd is None:
        dof = y.size - 2 - len(kept) - 2 * len(knots)
        if dof >= 3:
            sd = min(sd, float(np.sqrt(np.sum((y - fitted) ** 2) / dof)))
        sd *= JUDGE_FACTOR
    bounds = sorted({0, *knots, *(i for j in jumps for i in (j - 1, j)), y.size - 1})
    inv_xtx = np.linalg.pinv(X.T @ X)
    runs = [TrendRun(_piece_kind(X, inv_xtx, a, b, fitted, sd, cfg), a, b, float(fitted[a]),
                     float(fitted[b])) for a, b in itertools.pairwise(bounds)]
    runs = _join_flat_middles(join_same_kind(runs), jumps)
    runs = drop_excursions(runs, y.size, cfg)
    runs = absorb_short_flats(runs, fitted, y.size, cfg)
    runs = absorb_end_bounce(runs, y.size, cfg)
    names = name_runs(runs, x, fitted, sd, cfg)
    return [Phase(name, int(steps[r.start]), int(steps[r.end])) for name, r in zip(names, runs)], sd
