"""Offline change-point detection: trend segmentation with an automatic penalty and intervals.

Why not call ruptures directly: its fast path (`KernelCPD`) only knows piecewise-constant means,
its piecewise-linear cost (`CostLinear`) runs through the Python `Pelt` (minutes on 10^4 points),
the penalty is left to the user, `jump=5` silently coarsens the answer, and NaN crashes or shifts
indices. Training curves change by *slope* as much as by level, so this module segments with a
piecewise-linear least-squares cost evaluated in O(1) per segment from cumulative sums, solved
exactly by PELT (Killick et al., 2012), with
- the cost scaled by a robust noise variance (MAD of differences, `phasewatch.noise`) inflated for
  autocorrelated noise, so the penalty is in units the data agree on;
- a BIC-style penalty `factor * log(n)` per change point (no user tuning needed);
- a minimum segment length;
- long series first averaged in blocks (to <= `max_points`), segmented, then each change point
  refined at full resolution;
- an interval [low, high] per change point: all locations whose two-segment cost, with the
  neighbouring change points held fixed, is within a chi-square(1) threshold of the best
  (a likelihood-ratio profile: the data cannot tell those locations apart), the threshold
  calibrated by simulation (`interval_threshold`).

Models: "normal" (default: a linear trend with its own variance per segment, floored at
`pelt.VAR_FLOOR` of the run's noise variance: mean shifts, slope changes and variance changes),
"linear" (least squares against the run's noise: mean shifts and slope changes; what `analyze`
segments, since phases are trends), "mean" (piecewise constant, like ruptures "l2"), "kernel"
(changes of the distribution's shape, through ruptures' kernel detection: `phasewatch.kernel_cpd`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.noise import ar_variance_ratio, lag1_autocorrelation, noise_scale, wander_ar
from phasewatch.outliers import despiked, spike_mask  # noqa: F401 (re-exported)
from phasewatch.pelt import Cumsums, pelt
from phasewatch.results import ChangePoint

MODELS = ("linear", "mean", "normal", "kernel")


def interval_threshold(level: float) -> float:
    """Cost increase that bounds a change point's interval at confidence `level`.

    A change point's location is not a regular parameter, so the textbook chi-square(1)
    quantile at `level` under-covers (simulated: 79% of true slope changes and 85% of true
    jumps inside "95%" intervals). The quantile at 1 - (1 - level) / 5 covers 96% and 100% in
    the same simulation (tests/test_changepoint.py), so that is what is used.
    """
    # chi-square(1) quantile = squared normal quantile; the stdlib spares a 0.7 s scipy.stats import.
    from statistics import NormalDist

    q = 1.0 - (1.0 - level) / 5.0
    return float(NormalDist().inv_cdf((1.0 + q) / 2.0) ** 2)


def checked_penalty(penalty: float | None) -> float | None:
    """A per-change-point penalty as given, or a usage error: below 0 every split pays for
    itself, and NaN makes every comparison false (both ran silently, with another noise sd)."""
    if penalty is not None and not (math.isfinite(penalty) and penalty >= 0):
        raise UsageError(f"--penalty {penalty:g}: the penalty per change point must be a finite "
                         "number >= 0 (larger finds fewer boundaries; leave it out for the "
                         "automatic one)")
    return penalty


@dataclass
class Segmentation:
    """What `Segmenter.fit` found, in positions of the finite rows and in steps."""

    breaks: np.ndarray            # indices into the finite rows where a new segment starts
    changepoints: list[ChangePoint]
    penalty: float
    scale: np.ndarray             # noise sd per column (original units)
    ar: float                     # lag-1 autocorrelation of the first pass's residuals
    method: str
    warnings: list[str] = field(default_factory=list)
    penalty_ar: float = 0.0       # AR(1) coefficient the penalty was inflated for (0: none)


def _block_means(a: np.ndarray, size: int) -> np.ndarray:
    n = (a.shape[0] // size) * size
    head = a[:n].reshape(n // size, size, *a.shape[1:]).mean(axis=1)
    if n == a.shape[0]:
        return head
    tail = a[n:].mean(axis=0, keepdims=True)
    return np.concatenate([head, tail])


class Segmenter:
    """Segment one or several aligned series; defaults need no tuning.

    Parameters are stored as given (scikit-learn style) and validated in `fit`:
    - model: "linear" | "mean" | "normal" | "kernel" (see the module docstring);
    - penalty: per-change-point penalty in units of the scaled cost; None = automatic
      `penalty_factor * log(n) * (params per segment + 1)`;
    - min_size: fewest points in a segment; None = max(5, n // 100);
    - max_points: longer series are block-averaged to this many points, then refined;
    - level: confidence of the change-point intervals (see `interval_threshold`);
    - ar_correction: inflate the noise variance for autocorrelated residuals;
    - min_effect: floor on the noise sd as a fraction of the series' range (see `_scale`);
    - despike: replace isolated spikes before segmenting (see `despiked`);
    - lone_first: the first point may be a segment of its own (see `pelt`);
    - level_noise: (sd, window) of a running mean's level (`running_means.LevelNoise`): the cost
      is scaled by that sd and its penalty inflated by the window (the long-run variance of
      values that share episodes over one value's), in place of the differences' sd and AR(1).
    """

    def __init__(self, model: str = "normal", penalty: float | None = None,
                 penalty_factor: float = 1.0, min_size: int | None = None,
                 max_points: int = 2000, level: float = 0.95, ar_correction: bool = True,
                 min_effect: float = 0.05, despike: bool = True, lone_first: bool = True,
                 level_noise: tuple[float, float] | None = None):
        self.lone_first = lone_first
        self.level_noise = level_noise
        self.model = model
        self.min_effect = min_effect
        self.despike = despike
        self.penalty = checked_penalty(penalty)
        self.penalty_factor = penalty_factor
        self.min_size = min_size
        self.max_points = max_points
        self.level = level
        self.ar_correction = ar_correction

    # ------------------------------------------------------------------ fit
    def fit(self, steps: np.ndarray, values: np.ndarray, forced: tuple[int, ...] = ()) -> Segmentation:
        """Segment `values` (n,) or (n, d) logged at `steps` (n,).

        Rows with a non-finite value are left out and the answer is mapped back to the steps
        of the rows that remain (never shifted). `forced` are steps of known boundaries
        (events): the series is segmented separately on each side of them.
        """
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {MODELS}")
        if not 0.5 <= self.level < 1.0:
            raise ValueError(f"level must be in [0.5, 1), not {self.level}")
        steps = np.asarray(steps, dtype=np.int64)
        y = np.asarray(values, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        warnings: list[str] = []
        keep = np.isfinite(y).all(axis=1)
        if not keep.all():
            warnings.append(f"{int((~keep).sum())} rows with non-finite values left out")
        steps, y = steps[keep], y[keep]
        n = steps.size
        if self.despike and self.model != "kernel":  # a bounded kernel shrugs off a spike
            y = np.column_stack([despiked(y[:, j]) for j in range(y.shape[1])])
        scale = np.array([self._scale(y[:, j]) if self.level_noise is None else self.level_noise[0]
                          for j in range(y.shape[1])])
        # free parameters a new segment adds per column: level (+ slope) (+ variance)
        params = (1 if self.model == "mean" else 2) + (1 if self.model == "normal" else 0)
        params *= y.shape[1]
        method = f"pelt/{self.model}"
        if n < 4:
            return Segmentation(np.zeros(0, np.int64), [], 0.0, scale, 0.0, method,
                                warnings + [f"only {n} finite points: too few to segment"])
        # Standardise: x to [0, 1] (steps may be irregular), each column by its noise sd.
        span = float(steps[-1] - steps[0]) or 1.0
        x = (steps - steps[0]) / span
        safe = np.where(scale > 0, scale, 1.0)
        if not (scale > 0).any():
            warnings.append("series is constant: no change points")
            return Segmentation(np.zeros(0, np.int64), [], 0.0, scale, 0.0, method, warnings)
        z = (y - y.mean(axis=0)) / safe
        min_size = int(self.min_size) if self.min_size else max(5, n // 100)
        min_size = max(2 if self.model == "mean" else 3, min_size)

        cuts = sorted({int(i) for i in np.searchsorted(steps, list(forced)) if 0 < i < n})
        pieces = list(zip([0, *cuts], [*cuts, n]))
        if self.model == "kernel":
            return self._fit_kernel(z, steps, pieces, cuts, min_size, scale, warnings)
        # (a running mean's values count as n / window independent ones: `level_noise`)
        penalty = self._penalty(n if self.level_noise is None else round(n / self.level_noise[1]),
                                params)
        breaks, residuals = self._segment_pieces(x, z, pieces, penalty, min_size)
        ar = max(0.0, min(0.9, lag1_autocorrelation(residuals)))
        correct = self.ar_correction and self.model != "normal" and self.penalty is None
        # the first pass's lines follow the wander they cut, so their residuals' lag-1
        # autocorrelation under-states it; `wander_ar` reads it from the residuals' 5-point bends
        penalty_ar = max(ar, wander_ar(residuals)) if correct and self.level_noise is None else 0.0
        # Autocorrelated noise makes neighbouring points agree, so runs of them look like
        # trends; the long-run variance is sd^2 (1 + phi) / (1 - phi), or a running mean's
        # window over one value's. Redo with that (the cost sees the residuals' own variance,
        # not differences: no 1 / (1 - phi) here).
        inflation = (self.level_noise[1] if self.level_noise is not None and self.level_noise[1] > 1
                     else ar_variance_ratio(penalty_ar) if penalty_ar > 0.05 else 1.0)
        z_cost = z / math.sqrt(inflation) if inflation > 1.0 else z
        if inflation > 1.0:
            breaks, _ = self._segment_pieces(x, z_cost, pieces, penalty, min_size)
        all_breaks = sorted(set(breaks) | set(cuts))
        changepoints = self._intervals(x, z_cost, steps, all_breaks, set(cuts), min_size)
        return Segmentation(np.asarray(all_breaks, dtype=np.int64), changepoints,
                            penalty * inflation, scale, ar, method, warnings, penalty_ar)

    def _fit_kernel(self, z, steps, pieces, cuts, min_size, scale, warnings) -> Segmentation:
        """The `kernel` model: ruptures' KernelCPD on each piece between known events."""
        from phasewatch.kernel_cpd import KERNEL_PENALTY, bandwidth, kernel_breaks, kernel_intervals

        n = z.shape[0]
        penalty = (float(self.penalty) if self.penalty is not None
                   else self.penalty_factor * KERNEL_PENALTY * math.log(max(n, 3)))
        changepoints, breaks = [], []
        for a, b in pieces:
            if b - a <= 2 * min_size:
                continue
            gamma = bandwidth(z[a:b])
            found = kernel_breaks(z[a:b], gamma, penalty, min_size, self.max_points)
            spans = kernel_intervals(z[a:b], found, gamma, penalty, min_size, self.max_points)
            breaks.extend(a + i for i in found)
            changepoints.extend(ChangePoint(int(steps[a + i]), int(steps[a + lo]), int(steps[a + hi]))
                                for i, (lo, hi) in zip(found, spans))
        for i in cuts:
            changepoints.append(ChangePoint(int(steps[i]), int(steps[i]), int(steps[i])))
        changepoints.sort(key=lambda c: c.step)
        all_breaks = np.asarray(sorted(set(breaks) | set(cuts)), dtype=np.int64)
        return Segmentation(all_breaks, changepoints, penalty, scale, 0.0, "kernel/rbf", warnings)

    def _scale(self, column: np.ndarray) -> float:
        """Noise sd, floored at `min_effect` of the series' range (after despiking).

        A smooth curve (an exponential decay, a cosine schedule) deviates from any straight
        line by far more than its tiny noise, so significance alone would cut it into many
        pieces; people reading the plot see one curve. Changes smaller than a few percent of
        the range are not what anyone means by a change point.
        """
        sd = noise_scale(column)
        if self.min_effect > 0 and column.size >= 2:
            sd = max(sd, self.min_effect * float(np.ptp(column)))
        return sd

    def _penalty(self, n: int, params: int) -> float:
        if self.penalty is not None:
            return float(self.penalty)
        return float(self.penalty_factor * (params + 1) * math.log(max(n, 3)))

    def _segment_pieces(self, x, z, pieces, penalty, min_size) -> tuple[list[int], np.ndarray]:
        """Change points of each piece between events; residuals (first column) about the lines."""
        breaks: list[int] = []
        residuals = []
        for a, b in pieces:
            found = self._segment(x[a:b], z[a:b], penalty, min_size)
            breaks.extend(a + i for i in found)
            residuals.append(self._residuals(x[a:b], z[a:b], found))
        return breaks, np.concatenate(residuals) if residuals else np.zeros(0)

    def _segment(self, x: np.ndarray, z: np.ndarray, penalty: float, min_size: int) -> list[int]:
        n = x.size
        if n <= self.max_points:
            return pelt(Cumsums(x, z), n, penalty, min_size, self.model, self.lone_first)
        block = math.ceil(n / self.max_points)
        xb, zb = _block_means(x, block), _block_means(z, block)
        # Averaging `block` points divides the noise variance by `block`; rescale so the
        # penalty keeps its meaning on the coarse series.
        zb = zb * math.sqrt(block)
        coarse = pelt(Cumsums(xb, zb), xb.size, penalty, max(2, math.ceil(min_size / block)),
                      self.model)
        sums = Cumsums(x, z)
        bounds = [0, *[c * block for c in coarse], n]
        refined = []
        for k in range(1, len(bounds) - 1):
            a, c = bounds[k - 1], bounds[k + 1]
            lo, hi = max(a + min_size, bounds[k] - 2 * block), min(c - min_size, bounds[k] + 2 * block)
            if lo > hi:
                refined.append(bounds[k])
                continue
            s = np.arange(lo, hi + 1)
            total = sums.cost(a, s, self.model) + sums.cost(s, c, self.model)
            refined.append(int(s[np.argmin(total)]))
            bounds[k] = refined[-1]
        return refined

    def _residuals(self, x, z, breaks) -> np.ndarray:
        out = []
        for a, b in zip([0, *breaks], [*breaks, x.size]):
            xs, zs = x[a:b], z[a:b, 0]
            if xs.size >= 3 and self.model != "mean" and np.ptp(xs) > 0:
                coef = np.polyfit(xs, zs, 1)
                out.append(zs - np.polyval(coef, xs))
            else:
                out.append(zs - zs.mean())
        return np.concatenate(out) if out else np.zeros(0)

    def _intervals(self, x, z, steps, breaks, forced, min_size) -> list[ChangePoint]:
        """Likelihood-ratio profile of each change point with its neighbours held fixed."""
        sums = Cumsums(x, z)
        threshold = interval_threshold(self.level)
        bounds = [0, *breaks, x.size]
        out = []
        for k in range(1, len(bounds) - 1):
            a, tau, c = bounds[k - 1], bounds[k], bounds[k + 1]
            if tau in forced:
                out.append(ChangePoint(int(steps[tau]), int(steps[tau]), int(steps[tau])))
                continue
            lo_s, hi_s = a + min(min_size, (tau - a)), c - min(min_size, (c - tau))
            s = np.arange(max(lo_s, a + 1), min(hi_s, c - 1) + 1)
            if s.size == 0 or not s[0] <= tau <= s[-1]:
                out.append(ChangePoint(int(steps[tau]), int(steps[tau]), int(steps[tau])))
                continue
            total = sums.cost(a, s, self.model) + sums.cost(s, c, self.model)
            inside = total - total.min() <= threshold
            i = int(np.searchsorted(s, tau))
            # the contiguous run of acceptable locations around tau
            left = i
            while left > 0 and inside[left - 1]:
                left -= 1
            right = i
            while right < s.size - 1 and inside[right + 1]:
                right += 1
            out.append(ChangePoint(int(steps[tau]), int(steps[s[left]]), int(steps[s[right]])))
        return out


def detect(steps, values, *, model: str = "normal", penalty: float | None = None,
           min_size: int | None = None, forced: tuple[int, ...] = (), **kw) -> Segmentation:
    """Change points of `values` at `steps` with the default (tuning-free) settings."""
    return Segmenter(model=model, penalty=penalty, min_size=min_size, **kw).fit(
        steps, values, forced=forced)
