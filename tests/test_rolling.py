"""`phasewatch.rolling` against pandas' rolling windows, `phasewatch.fastmedian` against
`np.median`: equal to the last bit.

The detector's smoothing left pandas for import time only; a result that differs in its last
bits can move an argmax between tied points of a quantised accuracy, so equality here is exact.
"""

import numpy as np
import pytest

from phasewatch.rolling import centred_mean, centred_median3

pd = pytest.importorskip("pandas", reason="pandas is the reference these functions copy")


def cases(seed: int, n_cases: int = 300):
    rng = np.random.default_rng(seed)
    for k in range(n_cases):
        n = int(rng.integers(1, 300))
        kind = k % 5
        if kind == 0:
            y = rng.standard_normal(n)
        elif kind == 1:  # a quantised accuracy: long stretches of equal windows
            y = np.round(rng.random(n) * 20) / 20
        elif kind == 2:  # turned lower-is-better values, negative zeros among them
            y = -np.round(rng.random(n) * 4) / 4
            y[rng.random(n) < 0.2] = -0.0
        elif kind == 3:  # a large offset: the compensated sums matter
            y = 1e6 + rng.standard_normal(n) * 1e-3
        else:
            y = np.cumsum(rng.standard_normal(n)) * 0.01
            y[rng.random(n) < 0.05] = np.nan
        yield kind, y, int(rng.integers(1, 60)) | 1


@pytest.mark.parametrize("seed", [0, 1])
def test_centred_mean_is_pandas_rolling_mean_bit_for_bit(seed):
    for kind, y, window in cases(seed):
        ours = centred_mean(y, window)
        theirs = pd.Series(y).rolling(window, center=True, min_periods=1).mean().to_numpy()
        assert np.array_equal(ours, theirs, equal_nan=True), (kind, y.size, window)
        assert np.array_equal(np.signbit(ours), np.signbit(theirs)), (kind, y.size, window)


def test_centred_median3_is_pandas_rolling_median():
    for kind, y, _ in cases(2):
        if kind == 4 or y.size < 2:  # the detector gives finite values, at least 3
            continue
        theirs = pd.Series(y).rolling(3, center=True, min_periods=1).median().to_numpy()
        assert np.array_equal(centred_median3(y), theirs), (kind, y.size)


def test_a_window_of_equal_values_is_that_value():
    y = np.full(50, 0.1)
    assert (centred_mean(y, 9) == 0.1).all()


def test_fast_median_is_numpy_median_bit_for_bit():
    from phasewatch.fastmedian import median, median_rows

    rng = np.random.default_rng(3)
    for k in range(2000):
        x = rng.standard_normal(int(rng.integers(1, 300)))
        if k % 3 == 0:  # quantised: ties at the middle
            x = np.round(x * 3) / 3
        if k % 7 == 0:  # zeros of both signs (np.median gives +0.0 for a zero median)
            x[rng.random(x.size) < 0.3] = -0.0
        if k % 11 == 0:
            x[0] = np.nan
        ours, theirs = median(x), np.median(x)
        assert np.array_equal(ours, theirs, equal_nan=True) and np.signbit(ours) == np.signbit(theirs)
        rows = rng.standard_normal((int(rng.integers(1, 20)), int(rng.integers(1, 20))))
        if k % 5 == 0:
            rows[rng.random(rows.shape) < 0.4] = -0.0
        ours, theirs = median_rows(rows), np.median(rows, axis=1, keepdims=True)
        assert np.array_equal(ours, theirs) and np.array_equal(np.signbit(ours), np.signbit(theirs))
