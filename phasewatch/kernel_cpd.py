"""Distribution changes: ruptures' kernel change-point detection as the `kernel` model.

The linear, mean and normal models of `phasewatch.changepoint` look for changes of level, slope
and (normal) spread of a Gaussian trend. A change of the distribution's *shape* at a steady mean,
such as a reward that turns bimodal, a response length whose spread collapses, or an accuracy
that starts flickering between two values, is what a kernel cost sees (Arlot, Celisse & Harchaoui,
JMLR 2019). ruptures solves it exactly and fast: `KernelCPD` with the Gaussian (rbf) kernel runs
PELT in C. phasewatch adds what ruptures leaves to the user:
- the columns scaled by their robust noise sd and the kernel's bandwidth set by the median
  heuristic (1 / median squared distance between points), so no unit or scale is assumed;
- a penalty of `KERNEL_PENALTY * log(n)` per change point, calibrated on white noise (a cost
  per point of at most 1 makes BIC's parameter count meaningless here): at 0.75 no change point
  was found on 120 white-noise series of 50-300 points, and a 3x change of spread in the middle
  of a 100-point series was found 88% of the time (`tests/test_kernel_cpd.py` checks both);
- long series subsampled to about `max_points` candidate locations (ruptures' `jump`), never
  averaged: averaging would erase the spread the kernel looks at;
- an interval per change point: the locations whose two-segment kernel cost, with the
  neighbouring change points held fixed, is within one penalty of the best (a change there
  would not pay for itself).
"""

from __future__ import annotations

import math

import numpy as np

KERNEL_PENALTY = 0.75


def bandwidth(z: np.ndarray, sample: int = 500) -> float:
    """Median-heuristic gamma of the rbf kernel exp(-gamma |a - b|^2) (1.0 when all equal)."""
    sub = z[:: max(1, z.shape[0] // sample)]
    d = ((sub[:, None, :] - sub[None, :, :]) ** 2).sum(axis=2)
    d = d[np.triu_indices(sub.shape[0], k=1)]
    d = d[d > 0]
    return float(1.0 / np.median(d)) if d.size else 1.0


def kernel_breaks(z: np.ndarray, gamma: float, penalty: float, min_size: int,
                  max_points: int) -> list[int]:
    """Indices where a new segment starts (0 < i < n) of the (n, d) scaled series `z`, for the
    rbf kernel of bandwidth `gamma` (`bandwidth`)."""
    import ruptures

    n = z.shape[0]
    jump = max(1, math.ceil(n / max_points))
    algo = ruptures.KernelCPD(kernel="rbf", params={"gamma": gamma},
                              min_size=max(min_size, jump), jump=jump)
    return [int(b) for b in algo.fit(np.ascontiguousarray(z)).predict(pen=penalty)[:-1]]


def kernel_intervals(z: np.ndarray, breaks: list[int], gamma: float, penalty: float,
                     min_size: int, max_points: int) -> list[tuple[int, int]]:
    """(low, high) index of each change point: where moving it costs less than one penalty.

    Kernel costs from 2-D prefix sums of the Gram matrix, O(1) per segment, on every `jump`-th
    point of a long series (the resolution its change points were found at)."""
    n = z.shape[0]
    jump = max(1, math.ceil(n / max_points))
    sub = z[::jump]
    sq = (sub ** 2).sum(axis=1)
    gram = np.exp(-gamma * np.maximum(sq[:, None] + sq[None, :] - 2 * sub @ sub.T, 0.0))
    prefix = np.zeros((sub.shape[0] + 1,) * 2)
    prefix[1:, 1:] = gram.cumsum(axis=0).cumsum(axis=1)

    def cost(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        block = prefix[b, b] - prefix[a, b] - prefix[b, a] + prefix[a, a]
        return (b - a) - block / np.maximum(b - a, 1)

    bounds = [0, *[b // jump for b in breaks], sub.shape[0]]
    step_min = max(1, min_size // jump)
    out = []
    for k in range(1, len(bounds) - 1):
        a, tau, c = bounds[k - 1], bounds[k], bounds[k + 1]
        s = np.arange(a + min(step_min, tau - a), c - min(step_min, c - tau) + 1)
        total = cost(a, s) + cost(s, c)
        inside = total - total.min() <= penalty / jump
        i = int(np.searchsorted(s, tau))
        left = right = i
        while left > 0 and inside[left - 1]:
            left -= 1
        while right < s.size - 1 and inside[right + 1]:
            right += 1
        out.append((min(int(s[left]) * jump, breaks[k - 1]), max(min(int(s[right]) * jump, n - 1),
                                                                   breaks[k - 1])))
    return out
