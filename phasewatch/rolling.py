"""Centred rolling mean and 3-point median, bit for bit what pandas' `rolling(...,
center=True, min_periods=1)` gives, without importing pandas.

The detector smooths its series to find where a curve turns (`smoothed_levels.smooth`) and reads levels
as 3-point medians (`phase_stats.point_levels`). It used pandas for both; importing pandas took
longer than the rest of `analyze`. A different summation order would change the smoothed values
in their last bits, and on quantised accuracies (many equal windows) that is enough to move an
argmax between tied points, so the mean follows pandas' algorithm exactly: a running sum with
Kahan-compensated adds and removes (one compensation each), the mean of a window of equal values
returned as that value, and a mean whose sign contradicts every value clamped to 0.
`tests/test_rolling.py` checks both against pandas.
"""

from __future__ import annotations

import math

import numpy as np


def centred_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Mean of y[i - h .. i + h] clipped to the array, h = (window - 1) // 2 (NaN skipped;
    NaN where a window holds no value). `window` is odd, as `smoothed_levels.smoothing_window` gives."""
    y = np.asarray(y, dtype=np.float64)
    if np.isnan(y).any():
        return _centred_mean_nan(y, window)
    n, half = y.size, (window - 1) // 2
    if n == 0:
        return y.copy()
    values = y.tolist()
    first = min(half + 1, n)
    # The running sum, as pandas keeps it: the first window's values added, then at each
    # step one value removed (its own compensation) before one is added.
    sums = [0.0] * n
    total = comp_add = comp_remove = 0.0
    for val in values[:first]:
        t = val - comp_add
        s = total + t
        comp_add = s - total - t
        total = s
    sums[0] = total
    if n <= 2 * half + 1:  # a window as long as the series: the general steps
        for i in range(1, n):
            gone, new = i - half - 1, i + half
            if gone >= 0:
                t = -values[gone] - comp_remove
                s = total + t
                comp_remove = s - total - t
                total = s
            if new < n:
                t = values[new] - comp_add
                s = total + t
                comp_add = s - total - t
                total = s
            sums[i] = total
    else:  # steps 1..half add only, then each removes one and adds one, the last half remove
        i = 1
        for val in values[half + 1:2 * half + 1]:
            t = val - comp_add
            s = total + t
            comp_add = s - total - t
            total = s
            sums[i] = total
            i += 1
        for old, val in zip(values[:n - 2 * half - 1], values[2 * half + 1:]):
            t = -old - comp_remove
            s = total + t
            comp_remove = s - total - t
            total = s
            t = val - comp_add
            s = total + t
            comp_add = s - total - t
            total = s
            sums[i] = total
            i += 1
        for old in values[n - 2 * half - 1:n - half - 1]:
            t = -old - comp_remove
            s = total + t
            comp_remove = s - total - t
            total = s
            sums[i] = total
            i += 1
    index = np.arange(n)
    lo = np.maximum(index - half, 0)
    hi = np.minimum(index + half + 1, n)  # the window is y[lo:hi]
    count = hi - lo
    mean = np.array(sums) / count
    # a window of equal values is that value (pandas counts the run of equal values added last)
    run_start = np.maximum.accumulate(np.where(np.r_[True, y[1:] != y[:-1]], index, 0))
    same = run_start[hi - 1] <= lo
    mean[same] = y[hi - 1][same]
    negative = np.r_[0, np.cumsum(np.signbit(y))]
    n_neg = negative[hi] - negative[lo]
    clamp = ~same & (((n_neg == 0) & (mean < 0)) | ((n_neg == count) & (mean > 0)))
    mean[clamp] = 0.0
    return mean


def _centred_mean_nan(y: np.ndarray, window: int) -> np.ndarray:
    """`centred_mean` of a series with NaN in it: pandas' loop step by step."""
    values = y.tolist()
    n = len(values)
    out = [0.0] * n
    half = (window - 1) // 2
    nobs = neg = same = 0
    total = comp_add = comp_remove = 0.0
    prev = values[0] if n else math.nan
    added = 0  # values[:added] have been added, values[:removed] removed
    removed = 0
    for i in range(n):
        stop, start = min(i + 1 + half, n), max(i + 1 + half - window, 0)
        while removed < start:  # removes before adds, each with its own compensation
            val = values[removed]
            removed += 1
            if math.isnan(val):
                continue
            nobs -= 1
            t = -val - comp_remove
            s = total + t
            comp_remove = s - total - t
            total = s
            if math.copysign(1.0, val) < 0:
                neg -= 1
        while added < stop:
            val = values[added]
            added += 1
            if math.isnan(val):
                continue
            nobs += 1
            t = val - comp_add
            s = total + t
            comp_add = s - total - t
            total = s
            if math.copysign(1.0, val) < 0:
                neg += 1
            same = same + 1 if val == prev else 1  # the last `same` values added are equal
            prev = val
        if nobs <= 0:
            out[i] = math.nan
            continue
        mean = total / nobs
        if same >= nobs:
            mean = prev
        elif neg == 0 and mean < 0 or neg == nobs and mean > 0:
            mean = 0.0
        out[i] = mean
    return np.array(out, dtype=np.float64)


def centred_median3(y: np.ndarray) -> np.ndarray:
    """Median of each point and its two neighbours; at the ends, the mean of the two there
    (finite values)."""
    y = np.asarray(y, dtype=np.float64)
    if y.size < 3:
        return y.copy() if y.size < 2 else np.full(2, (y[0] + y[1]) / 2)
    a, b, c = y[:-2], y[1:-1], y[2:]
    out = np.empty_like(y)
    out[1:-1] = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    out[0] = (y[0] + y[1]) / 2
    out[-1] = (y[-2] + y[-1]) / 2
    return out
