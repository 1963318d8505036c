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


def _design(x: np.ndarray, knots: tuple[int, ...]) -> np.ndarray:
    cols = [np.ones_like(x), x] + [np.maximum(x - x[k], 0.0) for k in knots]
    return np.stack(cols, axis=1)


def _line(x: np.ndarray, y: np.ndarray, knots: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(fitted values, design matrix) of the least-squares broken line with these knots."""
    X = _design(x, knots)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return X @ beta, X


def _fit(x: np.ndarray, y: np.ndarray, knots: tuple[int, ...]) -> tuple[float, np.ndarray]:
    fitted, X = _line(x, y, knots)
    return float(np.sum((y - fitted) ** 2)), X


def _best_placement(x: np.ndarray, y: np.ndarray, k: int) -> tuple[float, tuple[int, ...]]:
    """(RSS, knots) of the least-squares broken line over every placement of k knots on the
    interior evaluations: the normal equations of all placements at once, from one Gram matrix
    of [1, x, a hinge at each evaluation] (C(38, 3) = 8436 placements on 40 evaluations in a
    few ms), then the winner refitted directly (the normal equations lose digits)."""
    if k == 0:
        return _fit(x, y, ())[0], ()
    n = y.size
    full = _design(x, tuple(range(1, n - 1)))
    gram, xy = full.T @ full, full.T @ y
    combos = np.array(list(itertools.combinations(range(1, n - 1), k)))
    cols = np.concatenate([np.zeros((len(combos), 1), int), np.ones((len(combos), 1), int),
                           combos + 1], axis=1)
    a = gram[cols[:, :, None], cols[:, None, :]]
    a += 1e-12 * np.trace(gram) * np.eye(k + 2)  # neighbouring hinges are nearly collinear
    b = xy[cols]
    beta = np.linalg.solve(a, b[..., None])[..., 0]
    knots = tuple(int(j) for j in combos[int(np.argmax(np.einsum("mp,mp->m", beta, b)))])
    return _fit(x, y, knots)[0], knots


def fitted_with_knots(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """The least-squares broken line with exactly `k` knots at its best placement, at `x`."""
    return _line(x, y, _best_placement(x, y, k)[1])[0]


def best_hinge(x: np.ndarray, y: np.ndarray, sd: float, max_knots: int = MAX_KNOTS):
    """(knots, fitted values, design matrix) of the broken line that minimises
    RSS / sd^2 + KNOT_PENALTY * knots, for a noise sd known (estimated) apart from the fit."""
    n = y.size
    var = max(sd, 1e-12 * max(float(np.ptp(y)), 1e-300)) ** 2
    best = None
    for k in range(max_knots + 1):
        if n - 2 - 2 * k < MIN_RESIDUAL_DOF:
            break
        rss, knots = _best_placement(x, y, k)
        cost = rss / var + KNOT_PENALTY * k
        if best is None or cost < best[0]:
            best = (cost, knots)
    knots = best[1]
    return knots, *_line(x, y, knots)


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


def _join_flat_middles(runs: list[TrendRun]) -> list[TrendRun]:
    """A flat piece of three evaluations or fewer between two rises (falls) is noise in one
    rise: a knot placed where the noise happened to pause the trend, not a plateau."""
    i = 1
    while i < len(runs) - 1:
        a, b, c = runs[i - 1], runs[i], runs[i + 1]
        if b.kind == FLAT and a.kind == c.kind != FLAT and b.end - b.start <= 2:
            runs[i - 1:i + 2] = [TrendRun(a.kind, a.start, c.end, a.level_start, c.level_end)]
        else:
            i += 1
    return runs


def hinge_phases(steps: np.ndarray, y: np.ndarray, cfg: PhaseConfig,
                 known_sd: float | None = None) -> tuple[list[Phase], float]:
    """Phases of a sparse run and the noise sd they were judged against (see the module's
    docstring for why the noise comes from second differences and not from the fit).
    `known_sd`, the user's noise sd of one evaluation (`phasewatch.known_noise`), replaces the
    estimate, and is not widened by JUDGE_FACTOR: that allows for the estimate's spread (told
    the true sd, tuning seeds, 3-12 evaluations: boundary hits 0.90 / 0.78 as given against
    0.86 / 0.74 widened, false claims 0.03 / 0.06 against 0.02 / 0.03, the two families)."""
    x = (steps - steps[0]).astype(np.float64)
    scale = float(x[-1]) or 1.0
    sd = second_difference_sd(y, robust=False) if known_sd is None else float(known_sd)
    knots, fitted, X = best_hinge(x / scale, y, sd)
    if known_sd is None:
        dof = y.size - 2 - 2 * len(knots)
        if dof >= 3:
            sd = min(sd, float(np.sqrt(np.sum((y - fitted) ** 2) / dof)))
        sd *= JUDGE_FACTOR
    bounds = [0, *knots, y.size - 1]
    inv_xtx = np.linalg.pinv(X.T @ X)
    runs = [TrendRun(_piece_kind(X, inv_xtx, a, b, fitted, sd, cfg), a, b, float(fitted[a]),
                     float(fitted[b])) for a, b in itertools.pairwise(bounds)]
    runs = _join_flat_middles(join_same_kind(runs))
    runs = drop_excursions(runs, y.size, cfg)
    runs = absorb_short_flats(runs, fitted, y.size, cfg)
    runs = absorb_end_bounce(runs, y.size, cfg)
    names = name_runs(runs, x, fitted, sd, cfg)
    return [Phase(name, int(steps[r.start]), int(steps[r.end])) for name, r in zip(names, runs)], sd
