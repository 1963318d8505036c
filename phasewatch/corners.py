"""Where a plateau ends: the corner between a flat stretch and the trend that leaves it.

The phase rules read a plateau's end where the smoothed series last sat at the plateau's level,
which lags the true onset; a least-squares corner has no such lag. A plateau is a level, so the
corner is fitted as one: a constant that then turns into a straight trend (`level_corner_index`),
not two free lines, which on a concave rise put the corner half-way up the rise and made the
"plateau" carry most of it.
"""

from __future__ import annotations

import itertools

import numpy as np

from phasewatch.results import Phase


def _after(v: np.ndarray) -> np.ndarray:
    """Sums over the points after each index (0 after the last)."""
    return np.concatenate([np.cumsum(v[::-1])[::-1][1:], [0.0]])


JUMP_P = 1e-3  # a jump at the corner is taken when it fits better at this significance (F test)


def _corner_fits(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each knot strictly inside (x, y), the sum of squares explained by a level that turns
    into a straight trend, y = a + b max(x - knot, 0), and by one that jumps there too,
    y = a + c [x > knot] + b max(x - knot, 0): every knot at once from suffix sums, each
    knot's normal equations solved together (`ys` centred)."""
    knot = xs[1:-1]
    c, s1, sxx = _after(np.ones_like(xs))[1:-1], _after(xs)[1:-1], _after(xs * xs)[1:-1]
    sy, sxy = _after(ys)[1:-1], _after(xs * ys)[1:-1]
    h1 = s1 - knot * c                          # sum of max(x - knot, 0)
    hh = sxx - 2 * knot * s1 + knot * knot * c  # sum of its square
    hy = sxy - knot * sy                        # its products with y
    n, total = float(xs.size), float(ys.sum())
    det = n * hh - h1 * h1 + 1e-12
    # beta = G^-1 r for G = [[n, h1], [h1, hh]], r = [total, hy]; explained = beta . r
    trend = (hh * total * total - 2 * h1 * total * hy + n * hy * hy) / det
    # with the step [x > knot] (its sum c, its products c with itself, h1 with the trend)
    gram = np.stack([np.stack([np.full_like(c, n), c, h1], -1),
                     np.stack([c, c, h1], -1),
                     np.stack([h1, h1, hh], -1)], -2)
    gram += 1e-12 * np.eye(3)
    r = np.stack([np.full_like(c, total), sy, hy], -1)
    jump = np.einsum("ki,ki->k", np.linalg.solve(gram, r[..., None])[..., 0], r)
    return trend, jump


def level_corner_index(x: np.ndarray, y: np.ndarray, lo: int, hi: int) -> int:
    """Index strictly between `lo` and `hi` of the knot of the least-squares fit of a level
    that turns into a straight trend, y = a + b max(x - knot, 0), through (x, y)[lo..hi].

    Two free lines fit a plateau that is not flat as well as one that is; for the end of a
    plateau the first piece must be the level itself. A level that drops at once and then
    drifts (a policy that collapses after a stretch at its best: 1.0 for 13 evaluations, then
    0.775, 0.505, 0.485 and a slow slide) is no straight trend: the line through the cliff and
    the slide starts 100 steps early, inside the flat stretch. Where a jump at the knot fits
    significantly better (`JUMP_P`, F test of the one more parameter), the knot is the jump's."""
    xs = np.asarray(x[lo:hi + 1], dtype=np.float64)
    xs = (xs - xs[0]) / ((xs[-1] - xs[0]) or 1.0)
    ys = np.asarray(y[lo:hi + 1], dtype=np.float64)
    ys = ys - ys.mean()
    if xs.size < 3:
        return lo + 1 if hi > lo + 1 else lo
    trend, jump = _corner_fits(xs, ys)
    k_trend = int(np.argmax(trend))
    if xs.size > 5:
        # the F distribution's survival function, as scipy.stats' `f.sf` computes it, without
        # scipy.stats' 0.7 s import (only where a corner is placed)
        from scipy.special import fdtrc

        ss = float(ys @ ys)
        k_jump = int(np.argmax(jump))
        rss_trend, rss_jump = ss - trend[k_trend], max(ss - jump[k_jump], 0.0)
        dof = xs.size - 4
        if rss_trend > rss_jump and (rss_jump <= 1e-12 * ss or fdtrc(
                1, dof, (rss_trend - rss_jump) / (rss_jump / dof)) < JUMP_P):
            return lo + 1 + k_jump
    return lo + 1 + k_trend


def place_corners(phases: list[Phase], steps, y, fixed: set[int]) -> list[Phase]:
    """Move each plateau -> trend boundary (the onset of a late decline or a late rise) to the
    knot of the least-squares level-then-trend line through the two phases
    (`level_corner_index`).

    The rules that name the phases read the boundary where the smoothed series last sat at the
    plateau's level (`phases.refine_turns`): a cautious reading for judging the trend, but a
    late one for locating its onset, since the smoothed series must first leave a band of the
    noise (and under AR(1) noise wanders back into it); on a broken line of up to 40
    evaluations the knot was fitted with the run's other knots. A corner's least-squares
    location has no such lag. Boundaries at known events (`fixed`) stay."""
    index = {int(s): i for i, s in enumerate(steps)}
    for left, right in itertools.pairwise(phases):
        if left.name != "plateau" or right.name == "plateau" or right.start_step in fixed:
            continue
        lo, hi = index[left.start_step], index[right.end_step]
        if hi - lo >= 2:
            left.end_step = right.start_step = int(steps[level_corner_index(steps, y, lo, hi)])
    return phases
