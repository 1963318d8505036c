"""The tests that tell a dip or a decline from the wander of sticky noise, for the live refit
(`short_run`): a broken line whose standard errors allow for AR(1) residuals, and a fall too
fast for any wander."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from phasewatch.noise import GROSS_SD, ar_variance_ratio, differences_noise, noise_scale
from phasewatch.online.series_noise import PINNED_READINGS, PINNED_SHARE, clip_outliers

if TYPE_CHECKING:
    from phasewatch.results import Phase

DIP_DEPTH_T = 2.0  # without a short plan, a rise after a disruption is measured from its trough
# when the dip below the first value is this many standard errors of sticky noise deep ...
RISE_FROM_TROUGH_T = 5.0  # ... and the rise out of it this many (`dip_and_rise_t`): sticky
# noise in a long run's first values wanders into dips and out of them, and a rise measured
# from such a trough would stop a flat run
STANDS_OUT_SD = 10.0  # a dip this many times deeper than the values back from it spread
RECOVERED_VALUES = 10  # ... judged on at least this many of them (`dip_stands_out`)
AR_UNCERTAINTY = 2.0  # residual phi is taken at its estimate + this / sqrt(values): an upper
# bound, as 20-40 values say little of how sticky the noise is
AR_MAX_RESIDUAL = 0.9  # ... capped here (the variance ratio is 19 at 0.9)


def dip_is_no_wander(y: np.ndarray, trough: int, best: int, white: float) -> bool:
    """A dip to index `trough` and the rise out of it to `best` are more than the wander of
    sticky noise (`dip_and_rise_t`: DIP_DEPTH_T and RISE_FROM_TROUGH_T), so the rise may be
    measured from the trough, as the offline detector measures a readaptation. Without this,
    sticky noise in a long run's first 20-40 values, which the offline detector reads as a
    disruption, a readaptation and an overfit, would be stopped. A fall into the trough at one
    evaluation of `GROSS_SD` noise sds or more (`cliff_sds`) is no wander whatever the rise
    after it: sticky noise moves by its innovations, a step at a time."""
    if not 0 < trough < best < y.size - 1:
        return False
    if cliff_sds(y, trough) >= GROSS_SD:  # no wander falls so fast
        return True
    dip_t, rise_t = dip_and_rise_t(y, trough, best, white)
    return dip_t >= DIP_DEPTH_T and rise_t >= RISE_FROM_TROUGH_T


def dip_stands_out(y: np.ndarray, trough: int, given_sd: float | None = None) -> bool:
    """A dip from the first value to index `trough` that is `STANDS_OUT_SD` times deeper than
    the values that came back from it (those above half its depth) spread about their mean,
    with at least `RECOVERED_VALUES` of them (2 with a noise sd the user gave, which is then
    the spread). Sticky noise wanders about its mean after such a dip as far as into it (an
    AR(0.8) run's first value lies up to ~3 of its marginal sds from its lowest); a curved
    recovery, which the broken line of `dip_and_rise_t` leaves in sticky residuals, is no such
    wander: a held-out accuracy 0.765 -> 0.388 -> back at 0.70-0.83 (sd 0.035) is 11 sds deep,
    a disruption the sticky-noise tests alone would never announce."""
    depth = float(y[0] - y[trough])
    if trough < 1 or depth <= 0:
        return False
    back = y[trough + 1:]
    back = back[back >= y[trough] + depth / 2]
    if given_sd is not None:
        return back.size >= 2 and depth >= STANDS_OUT_SD * given_sd
    return back.size >= RECOVERED_VALUES and depth >= STANDS_OUT_SD * float(np.std(back))


def dip_and_rise_t(y: np.ndarray, trough: int, best: int, white: float) -> tuple[float, float]:
    """The depth of a dip from the first value to index `trough`, and the rise from there to
    index `best`, in standard errors of sticky noise: a continuous broken line with knots at
    the trough and the best point, fitted to all the values (`sticky_least_squares`). Judged
    on the whole fit, not on the dip's few values alone: the residuals of 20-40 values show how
    sticky the noise is, the dip's 2-10 do not."""
    n = y.size
    x = np.arange(n, dtype=np.float64)
    design = np.column_stack([np.ones(n), x, np.maximum(0.0, x - trough),
                              np.maximum(0.0, x - best)])
    fit = sticky_least_squares(clip_outliers(y, white), design)
    if fit is None:
        return 0.0, 0.0
    coef, cov = fit
    depth = np.array([0.0, -trough, 0.0, 0.0])  # the line at 0 minus the line at the trough
    rise = np.array([0.0, best - trough, best - trough, 0.0])
    return (float(depth @ coef) / math.sqrt(float(depth @ cov @ depth)),
            float(rise @ coef) / math.sqrt(float(rise @ cov @ rise)))


def cliff_sds(y: np.ndarray, trough: int) -> float:
    """The largest fall between neighbouring values up to index `trough`, in sds of such a
    difference: its distance below the median difference over sqrt(2) `noise_scale`, the MAD of
    the differences about their median, which neither the trend of a recovery nor the fall
    itself moves much (the white sd `Series` keeps mixes in their mean absolute size early on).
    Where most differences are exactly zero (a run that collapsed to a constant: a reward of
    -1.0 at every evaluation after it) the noise is their mean absolute size
    (`differences_noise`), and the fall is kept out of it: one fall of size D among n - 1
    differences otherwise makes it D / (n - 1), and any collapse would read as 0.8 (n - 1) sds,
    under GROSS_SD until its 14th value. A fall between values that otherwise never move is a
    cliff of infinitely many sds.

    An SFT run whose held-out accuracy falls from 0.66 to 0.0 at its first evaluation after the
    start and climbs back over the next ten is one no sticky noise makes: that fall is 15-20
    such sds, while the broken line `dip_and_rise_t` fits to the curved climb leaves sticky
    residuals, so without the cliff test the dip goes unannounced."""
    if trough < 1 or y.size < 3:
        return 0.0
    d = np.diff(y)
    falls = float(np.median(d)) - d[:trough]
    at = int(np.argmax(falls))
    if falls[at] <= 0.0:
        return 0.0
    scale = differences_noise(d, float(np.ptp(y)), leave_out=at)
    if scale <= 0.0:
        return math.inf
    return float(falls[at]) / (math.sqrt(2.0) * scale)


def beyond_wander(decline: Phase, y: np.ndarray, declining: np.ndarray, offline_sd: float,
                  white: float, depth_sd: float) -> bool:
    """The offline detector's decline (`decline`, whose values are `declining`, of the stage's
    `y`) is `depth_sd` noise sds deep by every estimate of the noise: the offline
    detector's (`offline_sd`), the live white-noise sd (`white`) and the scatter of the
    declining values themselves (`noise_scale`, first differences: a trend leaves it). No
    wander of a run's top is that deep, so its slope is judged against white residuals
    (`decline_slope_t`). Not where a quarter or more of the stage's values (3 at least) repeat
    one value (a reward exactly 0 until the model solves a prompt, a rate at its bound): the
    repeats differ by exactly 0 and every estimate is too small.

    The slope test fits a straight line, and a decline steep after the best and then slower
    leaves residuals that look like sticky noise: with phi at their estimate + 2 / sqrt(n),
    a decline 8 offline sds deep after 5 evaluations reads as under 2 standard errors, and the
    stop would come many evaluations after `analyze` names the overfit. Every estimate, not one: on
    a reward exactly 0 for its first 30-40 steps the offline and the live sds are far smaller
    than the scatter after it, and a fall within that scatter would read as dozens of sds."""
    if int(np.unique(y, return_counts=True)[1].max()) >= max(PINNED_SHARE * y.size,
                                                             PINNED_READINGS):
        return False
    change = abs(decline.stats.get("change") or 0.0)
    return change >= depth_sd * max(offline_sd, white, noise_scale(declining)) > 0.0


def sticky_least_squares(y: np.ndarray, design: np.ndarray,
                         sticky: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """The least-squares coefficients of `design` for `y` and their covariance under AR(1)
    noise with phi at the residuals' lag-1 autocorrelation plus AR_UNCERTAINTY / sqrt(n)
    (capped at AR_MAX_RESIDUAL): the wander of sticky noise in 20-40 values is fitted as a
    trend with white-looking residuals, so phi is taken at a plausible upper bound. With
    `sticky` False the residuals are white noise (phi 0), for a trend already known to be
    beyond sticky noise's wander. None when the fit leaves no residual."""
    n, k = design.shape
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coef
    power = float(residuals @ residuals)
    if power <= 0.0 or n <= k:
        return None
    phi = (max(0.0, float(residuals[1:] @ residuals[:-1]) / power)
           + AR_UNCERTAINTY / math.sqrt(n)) if sticky else 0.0
    variance = power / (n - k) * ar_variance_ratio(min(phi, AR_MAX_RESIDUAL))
    return coef, variance * np.linalg.inv(design.T @ design)
