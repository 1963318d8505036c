"""The noise of a live series' recent values: the white-noise sd, the long-run sd that a level
made of neighbours varies by (AR(1) noise inflates it), the caution while its autocorrelation is
uncertain, and the outlier clipping the decline tests feed on. `Series` re-estimates them from
its bounded buffer; the formula for the AR(1) inflation is the offline one
(`phasewatch.noise.ar_inflation`)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from phasewatch.fastmedian import median, median_rows
from phasewatch.noise import (
    ar_inflation,
    local_ar,
    noise_scale,
    off_bound_sd,
    pinned_at_bound,
    second_difference_sd,
)
from phasewatch.running_means import is_running_mean, level_noise, linear_variance, mean_variance

DIFF_BLOCK = 16  # differences per block when estimating their autocorrelation
AR_FEW_DIFFS = 100  # below this many differences phi is uncertain (`caution` above 1)
SHORT_SERIES = 64  # up to this many values, second differences may give the noise scale
SECOND_DIFF_FROM = 10  # ... from this many (a MAD of fewer can come out near zero)
PINNED_SHARE = 0.25  # readings at a bound, of the recent ones, that make their noise unreadable
PINNED_READINGS = 3  # ... and at the least this many
SMALL_SAMPLE_SE = 1.2  # early values: the noise's upper ~1-se bound (a wider one turns away
# sparse runs' stops)
RECENT_VALUES = 64  # the latest values whose own noise is taken when it has grown ...
NOISE_GROWTH = 2.0  # ... to this many times the buffer's (a lattice reward's MAD moves by 1.5x)


def clip_outliers(y: np.ndarray, white: float, k: float = 3.0) -> np.ndarray:
    """`y` with each value clipped to `k` white-noise sds around the median of it and its two
    neighbours (at the ends, the first or last three): a lone outlier is pulled back to its
    neighbours, while a trend, however steep, is left as it is."""
    if y.size < 3 or white <= 0:
        return y
    centre = np.empty_like(y)
    a, b, c = y[:-2], y[1:-1], y[2:]  # the median of three by min/max (np.median costs ~10x)
    centre[1:-1] = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    centre[0], centre[-1] = centre[1], centre[-2]  # the first and the last three
    return np.minimum(np.maximum(y, centre - k * white), centre + k * white)  # np.clip: ~3x


def _off_bound(y: np.ndarray) -> int:
    """How many of `y` differ from its most common value."""
    return int(y.size - np.unique(y, return_counts=True)[1].max())


def rise_scale(values: deque, white: float, sigma: float) -> float:
    """`sigma` with phi from `local_ar` over `sigma`: see `Series.caution_after_rise`."""
    n = len(values)
    if sigma <= 0 or white <= 0:
        return 1.0
    y = np.fromiter(values, dtype=np.float64, count=n)
    phi, _ = local_ar(y, white)
    return white * ar_inflation(phi) / sigma


def effective_noise(values: deque, window: int, white: bool = False) -> tuple[float, float, float]:
    """Long-run noise sd of the recent values: what governs a level made of neighbours.

    `noise_scale` (MAD of differences) is the sd of white noise around a slow trend, but it
    under-states positively autocorrelated (AR(1)) noise (`phasewatch.noise.ar_inflation`).
    phi comes from the lag-1 autocorrelation of the differences, -(1 - phi) / 2. The differences
    are centred per block of DIFF_BLOCK (so a change of slope is not mistaken for
    autocorrelation) and clipped (so outliers do not drive it); centring a block of B shrinks the
    autocorrelation by about (1 - 2 / B), which is undone. phi is capped at `noise.AR_MAX`: sharp
    turns of a short, steep curve still look like autocorrelation, and the cap bounds the
    inflation they can cause.

    Returns (white sd, sd, caution). From fewer than AR_FEW_DIFFS differences phi is uncertain by
    ~2 / sqrt(n), and a strongly autocorrelated noise's slow wander then looks like a trend;
    `caution` is how much larger the sd is at phi's upper one-standard-error bound. Only the stop
    decision (overfit) uses it: on long flat runs with AR(1) noise at 0.8 it cuts false stops to
    a third, while using it for every alert would miss early disruptions, which matter as much
    and stop nothing.

    With `white` (a run planned to hold few evaluations, `Series.planned_few`) phi's point
    estimate is 0 once a whole block of differences is in, as `analyze` reads the noise of such
    a run (white around its broken line): from so few differences the bends of the curve read
    as autocorrelation (a verl validation score flat at 0.897 then falling 0.02, five times its
    scatter of 0.005, had phi at the cap and its noise at 4.3x that scatter: no alert where
    `analyze` names the overfit). The caution is phi's upper bound above that 0 (2 / sqrt of
    the differences' count), so a stop still waits for more than white noise alone would need,
    though less than the capped estimate asked. Before a whole block the estimate stays: the
    MAD of fewer differences comes out at half the noise often enough that white noise alone
    raised false disruptions and stopped dips that had ended (2 of 20 and 2 of 40 in
    `test_online_planned`).
    """
    n = len(values)
    if n < 3:
        return 0.0, 0.0, 1.0
    y = np.fromiter(values, dtype=np.float64, count=n)
    sigma = noise_scale(y)
    # The MAD of a few differences can come out near zero by chance (16x too small from 5 of
    # them): it may not fall below half the mean-absolute-difference estimate, the one
    # `noise_scale` falls back on, which does not collapse.
    d = np.diff(y)
    spread = np.sort(np.abs(d - median(d)))
    # ... its largest tenth left out: one cliff among a dozen differences (an exact match 0.6,
    # then 0 at every evaluation) would set the floor at twice the noise and delay the stop on
    # the collapse by several evaluations
    spread = spread[:spread.size - max(1, spread.size // 10)] if spread.size >= 8 else spread
    sigma = max(sigma, 0.5 * float(np.mean(spread)) * math.sqrt(math.pi) / 2.0)
    if n >= 2 * RECENT_VALUES and (recent := noise_scale(y[-RECENT_VALUES:])) > NOISE_GROWTH * sigma:
        # Noise that grew during the run (a reward scattering 0.1 at first and 0.8 once the
        # model solves some prompts) reads small from a buffer still half quiet, and a level
        # within the new scatter would stop the run as an overfit where `analyze` of the whole
        # run sees a plateau. The latest values' own noise then rules; a noise that shrank
        # keeps the buffer's, which is the larger, so a stop needs more evidence, never less.
        sigma = recent
    if SECOND_DIFF_FROM <= n <= SHORT_SERIES:
        # Few, far-apart evaluations: neighbouring differences carry the trend and its turns
        # (measured ~3x the true noise on 15-point runs that rise and fall); second differences
        # cancel a local linear trend (the offline detector's short-series estimate).
        second = second_difference_sd(y)
        if second > 0:
            sigma = min(sigma, second)
    if pinned_at_bound(y, PINNED_SHARE, PINNED_READINGS) and _off_bound(y) >= SECOND_DIFF_FROM:
        # Readings at a bound (an exact match of 1.0 at every evaluation before a collapse)
        # differ by exactly 0: from a quarter of the differences on, their MAD is the smallest
        # of the others, far below the readings' real scatter, and a small wiggle would read as
        # a significant readaptation. The readings off the bound carry the noise, as offline
        # (`off_bound_sd`), once there are enough of them to be more than the departure
        # itself (the first few off a bound are the fall: 0.775, 0.505, 0.485).
        sigma = max(sigma, off_bound_sd(y))
    # A MAD from k differences is uncertain by ~1.16 / sqrt(k) of itself (37% efficiency) and
    # can come out far too small early on: judge the first values against an upper bound that
    # fades out by SHORT_SERIES values, so a run's first evaluations raise no false alarm.
    sigma *= 1.0 + SMALL_SAMPLE_SE / math.sqrt(n - 1) * max(0.0, 1.0 - (n - 1) / SHORT_SERIES)
    block = min(DIFF_BLOCK, n - 1)  # early on, one block of all the differences
    if block < 8 or sigma <= 0:
        return sigma, sigma, 1.0
    m = (n - 1) // block
    d = np.diff(y)[(n - 1) - m * block:].reshape(m, block)
    d = d - median_rows(d)
    limit = 4.0 * sigma * math.sqrt(2.0)
    d = np.clip(d, -limit, limit)
    denom = float(np.einsum("ij,ij->", d, d))
    if denom <= 0:
        return sigma, sigma, 1.0
    if white and n > DIFF_BLOCK:  # read as white: phi's point estimate is 0, not measured
        phi = 0.0
    else:
        rho = float(np.einsum("ij,ij->", d[:, 1:], d[:, :-1])) / denom / (1.0 - 2.0 / block)
        phi = 1.0 + 2.0 * rho
    upper = phi + 2.0 / math.sqrt(m * block) if m * block < AR_FEW_DIFFS else phi
    sd, sd_upper = (sigma * ar_inflation(x) for x in (phi, upper))
    return sigma, sd, sd_upper / sd


def level_of_running_mean(label: str, values: deque, sigma: float) -> tuple[float, float] | None:
    """(sd, window in logs) a running mean's level tests judge by, where the log's own name
    `label` is one (`running_means.is_running_mean`: SB3's rollout/ep_rew_mean, a
    `win_rate_100`) and its level noise can be read from the values seen so far
    (`running_means.level_noise`, as `analyze` reads it); None for any other series.

    Successive values of a mean over W episodes logged every g share all but g of them, so
    they differ by about sqrt(g / W) of one value's scatter about the curve: judged against
    that step, every wander of the window is a significant move (a 100-episode win rate's sag
    of 0.03 would read as an overfit over 20 se below its best, where `analyze` of the whole
    run sees an improvement). The level's sd is the scatter of one value, never below `sigma`
    (the noise read as for any series), and standard errors count n values as about
    n / window independent ones (`independent_count`, `shared_ramp_factor`)."""
    if not is_running_mean(label):
        return None
    level = level_noise(label, np.fromiter(values, dtype=np.float64, count=len(values)))
    return None if level is None else (max(sigma, level.sd), level.window)


def independent_count(k: int, window: float) -> float:
    """How many independent values the mean of `k` consecutive values is worth: `k` itself
    (`window` <= 1), or for values that share what they average with those `window` logs
    around, one over `running_means.mean_variance` (about k / window)."""
    return k if window <= 1 else 1.0 / mean_variance(k, window)


def shared_ramp_factor(start: int, origin: int, n: int, reference: int, window: float) -> float:
    """What the steady-decline z of a running mean (`decline.decline_z`, which counts values as
    independent) shrinks by where its values share episodes `window` logs around: the sd of
    its statistic over independent values over that of `running_means.linear_variance`, for
    the ramp starting at `start` against the mean of the up to `reference` values before it
    (from `origin` on), up to the `n`th value; 1 for `window` <= 1."""
    if window <= 1:
        return 1.0
    count = start - max(origin, start - reference)
    ramp = np.arange(1, n - start + 1, dtype=np.float64)
    weights = np.concatenate([np.full(count, ramp.sum() / count), -ramp])
    return math.sqrt(float(weights @ weights) / linear_variance(weights, window))
