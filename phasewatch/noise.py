"""Robust noise scale of a training curve.

The raw standard deviation of a curve is dominated by its trends (a run that climbs from 0.2 to
0.8 has sd ~0.2 however clean it is). Differences of neighbouring points cancel smooth trends, and
the median absolute deviation ignores rare outliers, so MAD(diff(y)) / (sqrt(2) * 0.6745) estimates
the sd of white noise around any slowly varying curve. Both the offline detector and the live
monitor judge significance against this one estimate.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from phasewatch.fastmedian import median
from phasewatch.values import PRACTICAL_CHANGE

MAD_TO_SD = 1.0 / 0.6744897501960817
# A noise scale below this fraction of a series' range is float jitter, not noise.
NUMERICAL_ZERO = 1e-6
# A noise sd below this fraction of the values' magnitude is float rounding: values that lie
# exactly on a line or a constant (a demo script's `reward = 1.3 + 0.1 * step`) leave second
# differences of ~1e-17, and a change "of 1e16 sds" says nothing.
FLOAT_NOISE = 1e-9


def below_float_noise(sd: float, magnitude: float) -> bool:
    """Whether a noise (or standard error) `sd` is float rounding for values of `magnitude`
    (their largest absolute value): then no effect is given in its units."""
    return sd <= FLOAT_NOISE * abs(magnitude)


def constant_floor_sd(values: np.ndarray) -> float:
    """`PRACTICAL_CHANGE` of the values' magnitude when their whole range is within it (a
    series constant for any practical purpose, judged against that noise:
    `known_noise.constant_floor`), else 0.0."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return 0.0
    floor = PRACTICAL_CHANGE * float(np.max(np.abs(y)))
    return floor if 0 < float(np.ptp(y)) <= floor else 0.0


def reported_noise(sd: float, values: np.ndarray, metric: str, warnings: list[str]) -> float:
    """The noise sd effects are reported in: `sd`, or 0.0 when it is float rounding
    (`below_float_noise`), with a warning saying so (the phases were still judged against
    `sd`: every change of such values is exact)."""
    if sd > 0 and below_float_noise(sd, float(np.max(np.abs(values)))):
        warnings.append(f"{metric}: the values lie on straight lines to float precision "
                        f"(noise sd {sd:.2g}): no effect is given in noise sds")
        return 0.0
    return sd


def noise_scale(values: np.ndarray, floor: float = 0.0, turn_out: bool = False) -> float:
    """Noise sd of `values` (NaNs ignored) from the MAD of first differences.

    Returns `floor` (or 0.0) for fewer than three finite points. Quantised series (accuracy
    on a small eval set, where most differences are exactly 0) would give a MAD of 0, so the
    estimate falls back to the mean absolute difference, which does not collapse. `turn_out`
    keeps the largest difference out of that fallback (`differences_noise`'s `leave_out`), for
    a caller that judges that turn against the noise (`outliers.local_scale`).
    """
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return float(floor)
    d = np.diff(y)
    leave_out = int(np.argmax(np.abs(d))) if turn_out else None
    return float(max(differences_noise(d, float(np.ptp(y)), leave_out=leave_out), floor))


TIED_SHARE = 0.25  # differences at their MAD (but for float rounding), at least: a lattice
TIED_FROM = 20  # differences before ties say so (a few may tie by chance)


def differences_noise(d: np.ndarray, span: float, leave_out: int | None = None) -> float:
    """The noise sd of a series' values from its first differences `d` (`noise_scale`'s
    estimate; `span`: the values' range, what "numerically zero" is measured against).
    `leave_out`: the index of a difference kept out of the mean absolute size taken where the
    MAD is numerically zero (a fall tested against this noise, which would otherwise be its
    own yardstick: `dip_checks.cliff_sds`); the MAD itself keeps it (one difference hardly
    moves it). Nor does the MAD measure the noise where a quarter or more of the differences
    lie at it (`TIED_SHARE`): the differences of a coarse lattice take a few values (a GRPO
    reward of 1.0, 1.5 or 2.0, sd 0.35, has |differences| 0, 0.5 and 1), and their median is
    one of them (0.5 -> a noise of 0.52); the mean absolute size is taken then too. Ties are
    counted up to float rounding, as `span` measures it: the same lattice in tenths (0.1,
    0.15, 0.2) has differences that differ in their last bits, and counted exactly it kept
    the MAD (1.59 times its noise in those units)."""
    spread = np.abs(d - median(d))
    middle = median(spread)
    mad = middle * MAD_TO_SD / np.sqrt(2.0)  # np.median's value
    tied = np.abs(spread - middle) <= NUMERICAL_ZERO * span  # at the MAD but for rounding
    on_lattice = d.size >= TIED_FROM and np.count_nonzero(tied) >= TIED_SHARE * d.size
    if mad <= NUMERICAL_ZERO * span or on_lattice:
        # Most differences are (numerically) zero: a quantised series, or one that sits at one
        # value with float jitter between its departures (a GRPO loss is 0 +- 1e-9 whenever a
        # batch's rewards tie); the MAD then measures the jitter, not the noise.
        # sd of the difference of two iid normals is sqrt(2)*sd; E|d| = 2*sd/sqrt(pi)
        rest = d if leave_out is None else np.delete(d, leave_out)
        mad = np.mean(np.abs(rest)) * np.sqrt(np.pi) / 2.0 if rest.size else 0.0
    return float(mad)


AR_MAX = 0.7  # the largest AR(1) coefficient the noise estimates assume


def ar_variance_ratio(phi: float) -> float:
    """Long-run variance of AR(1) noise over its marginal variance, (1 + phi) / (1 - phi): how
    much more a mean of many neighbours varies than independent points would suggest."""
    return (1.0 + phi) / (1.0 - phi)


def ar_inflation(phi: float, cap: float = AR_MAX) -> float:
    """Long-run sd of AR(1) noise over the sd that differences alone suggest (`noise_scale`).

    For x_t = phi x_{t-1} + e_t, var(diff) = 2 var(x) (1 - phi), so `noise_scale` sees
    sqrt(var(x) (1 - phi)); a mean of n neighbours varies like var(x) (1 + phi) / (1 - phi) / n.
    The ratio is sqrt((1 + phi) / (1 - phi)) / sqrt(1 - phi). phi is clipped to [0, cap]: sharp
    turns of a short, steep curve look like autocorrelation too, and the cap bounds the inflation
    they can cause (x4.3 at 0.7).
    """
    phi = min(max(float(phi), 0.0), cap)
    return math.sqrt(ar_variance_ratio(phi) / (1.0 - phi))


def noise_sd(values: np.ndarray, ar: float, cap: float = AR_MAX) -> float:
    """The noise sd that level differences are judged against, offline and live alike:
    `noise_scale(values)` inflated for AR(1) noise of coefficient `ar` (`ar_inflation`)."""
    return noise_scale(values) * ar_inflation(ar, cap)


def lag1_autocorrelation(residuals: np.ndarray) -> float:
    """Lag-1 autocorrelation of residuals around their mean (0 for fewer than 10: too few to
    tell stickiness from chance)."""
    r = residuals - residuals.mean()
    denom = float((r * r).sum())
    if denom <= 0 or r.size < 10:
        return 0.0
    return float((r[1:] * r[:-1]).sum() / denom)


def residual_sd(residuals: np.ndarray, n_params: int) -> float:
    """Noise sd from the residuals of a fit that spent `n_params` parameters (inf when fewer
    than 3 degrees of freedom are left): robust (MAD), corrected for the parameters.

    For sparse runs, where neighbouring evaluations are far apart and the differences
    `noise_scale` rests on carry the trend too (measured: about 3x the true noise on 12-point
    runs with a dip); `analyze` fits its segment lines and takes the smaller of the two.
    """
    r = np.asarray(residuals, dtype=np.float64)
    dof = r.size - n_params
    if dof < 3:
        return float("inf")
    dev = np.abs(r - np.median(r))
    mad = float(np.median(dev)) * MAD_TO_SD
    if mad <= 0.0:  # quantised (a rate sitting at 1.0): most residuals equal; E|x| = sd sqrt(2/pi)
        mad = float(np.mean(dev)) * float(np.sqrt(np.pi / 2.0))
    return mad * float(np.sqrt(r.size / dof))


def pinned_at_bound(values: np.ndarray, share: float = 0.5, at_least: int = 1) -> bool:
    """Whether the series sits on a bound: `share` of its points or more (and `at_least`) share
    one value, and that value is its lowest or highest (a rate pinned at 0 or 1, a length at its
    cap). An accuracy on a few hundred prompts that repeats a middle value three times in six
    evaluations is not pinned: its other readings are data, not blips."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return False
    levels, counts = np.unique(y, return_counts=True)
    top = int(np.argmax(counts))
    return bool(counts[top] >= max(share * y.size, at_least) and top in (0, levels.size - 1))


def off_bound_sd(values: np.ndarray) -> float:
    """Noise sd of a rate pinned at a bound (or a length at its cap, `pinned_at_bound`), read
    from the readings off the bound: the readings at the bound differ by exactly 0 and would
    put the noise near 0, so that the first reading a few hundredths below a rate pinned at 1.0
    would pass for a rise. The larger of `noise_scale` of the readings off the bound (in order)
    and the root mean square distance from the bound of the isolated ones (both neighbours at
    the bound): noise clipped at a bound leaves half-normal departures, whose root mean square
    is the noise sd, while their differences see only part of it. A steady climb to the bound
    at the start (`_approach`) is a trend, not departures: its noise is read from its second
    differences, which cancel a steady trend, instead of from its differences. 0.0 for fewer
    than three."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return 0.0
    levels, counts = np.unique(y, return_counts=True)
    bound = levels[int(np.argmax(counts))]
    off = y != bound
    climb = _approach(y, bound)
    off[:climb] = False
    isolated = off[1:-1] & ~off[:-2] & ~off[2:]
    departures = y[1:-1][isolated] - bound
    rms = float(np.sqrt(np.mean(departures ** 2))) if departures.size >= 3 else 0.0
    bent = second_difference_sd(y[:climb + 1], robust=False) if climb else 0.0
    return max(noise_scale(y[off]), rms, bent)


GROSS_SD = 10.0  # a second difference this far from the others (robust sds) is no noise
GROSS_FROM = 8  # ... judged among this many or more (a MAD of fewer is itself unreliable)
APPROACH_POINTS = 3  # readings of a steady climb to a bound that are the climb, not noise


def _approach(y: np.ndarray, bound: float) -> int:
    """How many of the first readings are a climb to the bound: APPROACH_POINTS or more that
    move steadily toward it (never away) before its first reading at it. Their differences are
    the climb, not noise (a DPO validation accuracy 0, 0.7, 0.9, 0.9, then 1.0 seven times read
    a noise sd of 0.21 from them, and the rise from 0 to 1 was called a plateau; tuning seeds,
    bounded runs: boundary hits 0.88 / 0.86 -> 0.86 / 0.86, presence of a plateau 0.97 / 0.97
    -> 0.96 / 0.98, false claims unchanged); 0 when the run starts at the bound or the readings
    before it are fewer or go back and forth."""
    at = np.flatnonzero(y == bound)
    first = int(at[0]) if at.size else y.size
    toward = np.sign(bound - y[0])
    steady = bool(np.all(toward * np.diff(y[:first + 1]) >= 0))
    return first if first >= APPROACH_POINTS and steady else 0


def second_difference_sd(values: np.ndarray, robust: bool = True,
                         apart: tuple[int, ...] = ()) -> float:
    """Noise sd from second differences, for a few points (a straight trend cancels;
    var(d2) = 6 sd^2). 0.0 for fewer than four points. `apart`: indices where a new stretch
    starts (an epoch, `hinge.epoch_starts`) whose step is no noise: the two second differences
    across each are left out.

    `robust` takes the MAD (a rare outlier does not count); with 3-6 second differences the
    MAD is the middle one or two of them and often near 0 (on 5-evaluation flat runs, a tenth of
    the true sd), so a short series takes their root mean square instead (`robust=False`), with
    the largest left out from 4 of them on (a turn puts its whole curvature into one second
    difference; a cliff or a one-evaluation dip, into two or three: `_gross_bends`); of 2 or 3
    (4-5 evaluations) all are kept, the bend too, an upper bound where the curve turns (leaving
    it out of 3 raised the false claims of flat sparse runs, 0.08 -> 0.09-0.11 per family:
    `short_series` judges turns against this noise, and 5 evaluations' third second difference
    is then its only scale; 4 evaluations get no estimate there), or, from
    `GROSS_FROM` of them on, every one `GROSS_SD` robust sds or more from their median: a run
    that blows up at its end (an eval loss 0.0042 falling smoothly to 0.0014, then 0.0018,
    0.0042, 0.0028, 0.0081, 0.0436) otherwise sets the noise of the whole run by its blow-up
    (0.0011 there, and the fall to a third, 2.4 noise sds, was called a plateau). So far out, no
    Gaussian or Student-t noise is touched: the regime tables of both families (tuning seeds)
    are the same with GROSS_SD anywhere from 8 to 20, but for one boundary in 440 runs."""
    y = np.asarray(values, dtype=np.float64)
    if y.size < 4:
        return 0.0
    d2 = np.diff(y, 2)
    if apart:  # a stretch starting at index j: d2[j - 2] and d2[j - 1] hold its step
        d2 = np.delete(d2, [i for j in apart for i in (j - 2, j - 1) if 0 <= i < d2.size])
        if d2.size < 2:
            return 0.0
    if not robust:
        if d2.size >= GROSS_FROM:
            spread = np.abs(d2 - np.median(d2))
            scale = float(np.median(spread)) * MAD_TO_SD
            keep = spread < GROSS_SD * scale if scale > 0 else np.ones(d2.size, bool)
            keep[:_leading_bend(d2, spread, scale)] = False
            if not keep.all():
                return float(np.sqrt(np.mean(d2[keep] ** 2) / 6.0))
        magnitudes = np.sort(np.abs(d2))[::-1]
        gross = _gross_bends(magnitudes) if d2.size < GROSS_FROM else 0
        kept = magnitudes[gross or (1 if d2.size >= 4 else 0):]
        return float(np.sqrt(np.mean(kept ** 2) / 6.0))
    return float(np.median(np.abs(d2 - np.median(d2))) * MAD_TO_SD / np.sqrt(6.0))


BEND_SD = 3.0  # a second difference this far out (robust sds) may be part of the start's bend


def _leading_bend(d2: np.ndarray, spread: np.ndarray, scale: float) -> int:
    """How many of the first second differences are the bend of a steep start: a run of them
    of one sign, each `BEND_SD` robust sds or more from the median. An evaluation at step 0
    before a fast fall (an eval loss 6.12, 3.29, 2.35, 2.14, then 2.1-2.4 within 0.03) puts its
    curvature into a run of decaying second differences of one sign (-1.90, -0.72, -0.16): the
    first is gross, the second 9.8 robust sds out and was read as noise (the noise 0.075
    against 0.029 without the step-0 evaluation, and a rise of 0.35 over the last 250 steps was
    a plateau). Noise makes no such run: its outliers leave a + - + pattern."""
    if scale <= 0:
        return 0
    far = spread >= BEND_SD * scale
    sign = np.sign(d2[0])
    n = 0
    while n < d2.size and far[n] and np.sign(d2[n]) == sign:
        n += 1
    return n if n >= 2 else 0


GROSS_KEPT = 4  # second differences a short series' noise is read from, at the least


def _gross_bends(magnitudes: np.ndarray) -> int:
    """How many of a short series' largest second differences (`magnitudes`: their absolute
    values, largest first; fewer than `GROSS_FROM`) are bends, not noise: the largest count j
    whose j-th is `GROSS_SD` times or more the root mean square of all smaller ones, with
    `GROSS_KEPT` or more left. 0 when none is.

    A cliff between two evaluations puts its curvature into two neighbouring second
    differences, a one-evaluation dip into three; leaving out only the largest set an
    8-evaluation SFT run's noise by its cliff (eval loss 2.652, 2.823, 2.913, 1.533, 1.393,
    1.361, 1.352, 1.347: noise sd 0.27, 50 times the scatter of its last evaluations, and the
    rise of 0.26 before the cliff was called part of an improvement). The largest count that
    passes is taken, not the first that fails, because equal bends mask each other (the
    largest of that cliff's two is 2.6 times the root mean square of the rest, which holds the
    other; the second, 18 times that of the four below it). On white noise of 6-9 points
    (4,000 runs each) at most 0.1% of Gaussian runs and 0.6% of Student-t (3 df) runs have a
    bend so far out. At least 4 are kept: from 3, the reference was often three tiny second
    differences by chance (0.003 against a true noise sd of 0.016 on a 7-evaluation run, whose
    small decline after its recovery the live refit then stopped as an overfit; one more false
    stop in each of two generator families). The regime tables (tuning seeds, every regime;
    report seeds, sparse runs) are the same as with the largest left out. From `GROSS_FROM` on,
    the median absolute deviation finds gross ones (so judged among 8-38, Student-t noise put
    its own tails beyond: the second family's false claims on 13-40 evaluations 0.06 -> 0.16). None is judged beside a value at
    0 (an accuracy on a few hundred prompts that repeats a reading, 0.5, 0.5, 0.5, 0.6, 0.6,
    0.6: its one step would leave a noise of 0)."""
    if magnitudes[-1] <= FLOAT_NOISE * magnitudes[0]:  # a quantised series' repeats (or
        return 0  # float rounding of them): beside them every step is gross
    count = 0
    for j in range(1, magnitudes.size - GROSS_KEPT + 1):
        if magnitudes[j - 1] >= GROSS_SD * float(np.sqrt(np.mean(magnitudes[j:] ** 2))):
            count = j
    return count


_LOCAL_FIT = np.array([-0.2, -0.2, 0.8, -0.2, -0.2])  # y_i minus the mean of the 5 around it


def _local_rho(phi: float) -> float:
    """Lag-1 autocorrelation of `_LOCAL_FIT` residuals of AR(1) noise with coefficient phi."""
    def cov(k: int) -> float:
        return sum(a * b * phi ** abs(k + i - j) for i, a in enumerate(_LOCAL_FIT)
                   for j, b in enumerate(_LOCAL_FIT))
    return cov(1) / cov(0)


_PHI_GRID = np.linspace(0.0, 0.95, 96)


@functools.cache
def _rho_grid() -> np.ndarray:
    """`_local_rho` at each of `_PHI_GRID` (increasing); built on first use, not at import."""
    return np.array([_local_rho(float(phi)) for phi in _PHI_GRID])


def local_ar(y: np.ndarray, sigma: float) -> tuple[float, float]:
    """AR(1) coefficient of the noise of a curved series, and its standard error, from the
    lag-1 autocorrelation of its residuals about a 5-point local mean (the local-linear fit at
    the centre). Block-centred differences (`online.series_noise.effective_noise`) take a curved
    run's bends for autocorrelation (measured phi up to the 0.7 cap on white-noise runs
    of 13-40 evaluations, 4x the noise); 5 points bend little."""
    if y.size < 10:
        return 0.0, 1.0
    r = y[2:-2] - np.convolve(y, np.full(5, 0.2), mode="valid")
    limit = 4.0 * sigma * math.sqrt(0.8)
    r = np.clip(r - np.median(r), -limit, limit)
    denom = float(r @ r)
    if denom <= 0:
        return 0.0, 1.0
    rho = float(r[1:] @ r[:-1]) / denom
    grid = _rho_grid()
    phi = float(np.interp(rho, grid, _PHI_GRID))
    return phi, float(np.interp(rho + 1.0 / math.sqrt(r.size), grid, _PHI_GRID)) - phi


def wander_ar(residuals: np.ndarray) -> float:
    """AR(1) coefficient of the noise around a segmentation's lines, for its penalty: the
    `local_ar` point estimate over the residuals' own `noise_scale`, capped at `AR_MAX` (0.0 for
    fewer than 10 residuals).

    The lines of a first pass cut AR(1) wander into trends, so the lag-1 autocorrelation of
    their residuals comes out far below the truth (median 0.29-0.38 against 0.48-0.63 from
    `local_ar` on flat runs with phi 0.3-0.7), and a penalty inflated for it still pays for the
    cuts. Residuals about 5-point means see the stickiness the lines left, while the lines have
    taken out the bends a raw curve would add (`local_ar` on the raw values: median 0.83 on
    saturating runs)."""
    r = np.asarray(residuals, dtype=np.float64)
    if r.size < 10:
        return 0.0
    phi, _ = local_ar(r, noise_scale(r))
    return min(phi, AR_MAX)
