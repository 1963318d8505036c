"""The steady-decline statistic of the live monitor (`Series.decline_since`): for every candidate
start of a decline, how far the values since it fall below the level before it, weighted as a
linear decline (the matched filter for slow memorisation) or as a sudden step, in units of its
own sd. One pass of prefix sums gives every candidate, so the test costs O(buffer) per value."""

from __future__ import annotations

import numpy as np


def ramp_and_step(y: np.ndarray, starts: tuple[np.ndarray, np.ndarray], origin: int,
                  reference: int) -> tuple[np.ndarray, np.ndarray]:
    """`decline_z` of a linear decline from each of `starts[0]` and of a step at each of
    `starts[1]`, from one pass of prefix sums over `y`."""
    n = y.size
    p = np.zeros(n + 1)  # prefix sums with a leading 0, filled in place
    np.cumsum(y, out=p[1:])
    q = np.zeros(n + 1)
    np.cumsum(np.arange(n) * y, out=q[1:])
    return (decline_z(p, q, starts[0], origin, reference, True),
            decline_z(p, q, starts[1], origin, reference, False))


def decline_z(p: np.ndarray, q: np.ndarray, c: np.ndarray, origin: int, reference: int,
              ramp: bool) -> np.ndarray:
    """z * noise sd of "the values fall below their level from index c on", for each c.

    y's prefix sums p (of y) and q (of t * y) give every candidate in one pass. The level is the
    mean of the `reference` values before c (none before `origin`); the fall is weighted by
    w_t = t - c + 1 (`ramp`: a linear decline starting at c, the matched filter for slow
    memorisation) or w_t = 1 (a step at c). The statistic sum_t w_t (level - y_t) is divided by
    its sd, the level's own uncertainty included.
    """
    n = p.size - 1
    length = (n - c).astype(np.float64)
    p_c = p[c]  # each gather once (the expressions are the same, so are the bits)
    if ramp:
        weighted = (q[n] - q[c]) - (c - 1) * (p[n] - p_c)  # sum_t (t - c + 1) y_t
        pairs = length * (length + 1)
        sum_w = pairs / 2
        sum_w2 = pairs * (2 * length + 1) / 6
    else:
        weighted, sum_w, sum_w2 = p[n] - p_c, length, length
    start = np.maximum(origin, c - reference)
    count = (c - start).astype(np.float64)
    level = (p_c - p[start]) / count
    return (level * sum_w - weighted) / np.sqrt(sum_w2 + sum_w * sum_w / count)
