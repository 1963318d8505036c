"""Sparse runs: a continuous broken line with its knots found by exhaustive search.

On a run evaluated 9-20 times, a segmentation into separate lines with three points or more each
cannot see a dip sampled at one or two evaluations, and the noise estimated from differences of
neighbours far apart is mostly trend (2-3x the true noise on 12-point runs with a dip and a
recovery). A continuous piecewise-linear curve ("hinge" model) needs no minimum segment length:
a knot can sit on any interior evaluation. With so few points every placement of up to
`MAX_KNOTS` knots is tried, the number of knots is chosen by BIC (a knot costs two parameters:
its place and its change of slope), and the noise is the residual sd of the chosen fit. Each
piece's change is then judged against the noise with its exact standard error from the fit, and
the pieces are named by the same rules as a segmentation's (`phasewatch.phases`).
"""

from __future__ import annotations

import itertools

import numpy as np

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
# A knot placed by search spends about three degrees of freedom (place, change of slope, and the
# choice among placements): with two, the residual sd of the best placement came out below the
# noise on flat and monotone controls (false claims 0.10-0.27 on 3-12-evaluation runs of the
# tuning seeds, 0.03-0.17 with three).
KNOT_DOF = 3
MAX_POINTS = 20  # exhaustive search stays below ~20 ms per run up to here


def _design(x: np.ndarray, knots: tuple[int, ...]) -> np.ndarray:
    cols = [np.ones_like(x), x] + [np.maximum(x - x[k], 0.0) for k in knots]
    return np.stack(cols, axis=1)


def best_hinge(x: np.ndarray, y: np.ndarray, max_knots: int = MAX_KNOTS):
    """(knots, fitted values, residual sd, design matrix) of the BIC-best broken line."""
    n = y.size
    best = None
    for k in range(max_knots + 1):
        if n - 2 - KNOT_DOF * k < 3:  # three residual degrees of freedom left for the noise
            break
        fits = []
        for knots in itertools.combinations(range(1, n - 1), k):
            X = _design(x, knots)
            beta, *_ = np.linalg.lstsq(X, y, rcond=None)
            rss = float(np.sum((y - X @ beta) ** 2))
            fits.append((rss, knots))
        rss, knots = min(fits)
        bic = n * np.log(max(rss, 1e-300) / n) + (2 + KNOT_DOF * k) * np.log(n)
        if best is None or bic < best[0]:
            best = (bic, rss, knots)
    _, rss, knots = best
    X = _design(x, knots)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    sd = float(np.sqrt(rss / max(n - 2 - KNOT_DOF * len(knots), 1)))
    return knots, X @ beta, sd, X


def _piece_kind(X: np.ndarray, inv_xtx: np.ndarray, a: int, b: int, fitted: np.ndarray,
                sd: float, cfg: PhaseConfig) -> str:
    """Up, down or flat: the fitted change from point a to b against k_sd noise sds and its
    exact standard error under the fit (`inv_xtx`: the inverse of X'X)."""
    change = float(fitted[b] - fitted[a])
    c = X[b] - X[a]
    se = sd * float(np.sqrt(max(c @ inv_xtx @ c, 0.0)))
    if abs(change) > cfg.k_sd * sd and abs(change) > cfg.t_min * se:
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


def hinge_phases(steps: np.ndarray, y: np.ndarray, cfg: PhaseConfig) -> tuple[list[Phase], float]:
    """Phases of a sparse run and the noise sd they were judged against (the fit's residual
    sd, t-scaled: on flat white noise of 9-20 evaluations 0-5% of runs get a phase, against
    8-19% with the smaller of this and the differences' estimate)."""
    x = (steps - steps[0]).astype(np.float64)
    scale = float(x[-1]) or 1.0
    knots, fitted, sd, X = best_hinge(x / scale, y)
    # the noise comes from a few residual degrees of freedom: judge against it as a t-test
    # does (the 99.5% quantile of Student's t over the normal's; x1.6 at 4 dof, x1.1 at 15)
    from scipy.stats import norm, t  # imported here: only sparse runs pay for it

    dof = max(y.size - 2 - KNOT_DOF * len(knots), 1)
    sd *= float(t.ppf(0.995, dof) / norm.ppf(0.995))
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

