"""One metric's recent values, its smoothed level and its noise (bounded ring buffers).

The *level* is the median of the last `window` values, attributed to the step at the window's
centre. For a symmetric window the local-linear fit at the centre equals the window mean, so the
centred level follows linear trends without bias and without the lag an EMA adds to the peak's
position; the median instead of the mean keeps a rare outlier from moving it, except on a lattice
(a window of few distinct values, `phase_stats.on_lattice`), whose median jumps whole lattice
steps: there the level is the window's mean, as `analyze` reads a level. Its standard error
is taken as 1.2533 * sigma / sqrt(window) (the median of normal data), where sigma is the noise
over the last `noise_window` values (`series_noise.effective_noise`); for a running mean, sigma is
the noise of its level and the window counts as the independent values it is worth
(`series_noise.level_of_running_mean`).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from itertools import islice, pairwise

import numpy as np

from phasewatch.hinge import MAX_POINTS as HINGE_POINTS
from phasewatch.noise import below_float_noise
from phasewatch.online.config import MonitorConfig
from phasewatch.online.decline_search import steady_decline
from phasewatch.online.plan import RunPlan
from phasewatch.online.series_noise import (
    effective_noise,
    independent_count,
    level_of_running_mean,
    rise_scale,
)
from phasewatch.online.start_level import observed_start
from phasewatch.online.state import MEDIAN_SE, SeriesState
from phasewatch.phase_stats import few_distinct
from phasewatch.running_means import linear_variance

NOISE_EVERY = 16  # values between re-estimates of the noise scale
RANKS_BELOW_Z = 3.0  # a level's fall from its best must also show in the ranks (ranks_below)
RANKS_FROM = 9  # ... of windows this long (the largest z of 5 against 5 is 2.6; of 9, 3.5)
STILL_FALLING_Z = 2.0  # a decline's latest half must still fall by this many se (still_falling)
RAMP_REFERENCE_WINDOWS = 3  # windows of values before a decline's start give its reference level


class Series:
    """One metric's recent values (oriented so higher is better) and its level and noise."""

    def __init__(self, name: str, sign: float, cfg: MonitorConfig, performance: bool = True):
        self.name, self.sign, self.cfg = name, sign, cfg
        self.label = name  # the log's own name, once known (for messages)
        self.performance = performance  # the options' noise is the performance metric's
        self.given_sd: float | None = None  # the noise sd from the options, when given
        self.load(SeriesState(baseline_n=cfg.baseline_points, baseline_se=MEDIAN_SE, white=0.0))

    @property
    def value_word(self) -> str:
        """What one value is, in the messages: "reading" for a metric scored on the training
        batches (`MonitorConfig.train_metrics`), else "evaluation"."""
        trained = self.name in self.cfg.train_metrics or self.label in self.cfg.train_metrics
        return "reading" if trained else "evaluation"

    def add(self, step: int, raw: float) -> None:
        y = self.sign * raw
        self.values.append(y)
        self.steps.append(step)
        self.n += 1
        self.last_step = step
        if self.first_step is None:
            self.first_step = step
        values = self.values
        k = min(len(values), self.window_now)
        if self.stage_n is not None:  # a new stage's level is of its own values only
            self.stage_n += 1
            k = min(k, self.stage_n)
        self.level = self._window_level(y, k)
        self.level_step = self.steps[len(values) - k + k // 2]
        # The noise moves slowly: re-estimating it every NOISE_EVERY values (every value early
        # on) keeps the amortised cost of an update low without changing the decisions much.
        if self.n <= 2 * NOISE_EVERY or self.n % NOISE_EVERY == 0:
            self.given_sd = self._given_sd()
            if self.given_sd is None:
                self.white, self.sigma, self.caution = effective_noise(values, self.cfg.window,
                                                                       self.planned_few())
            else:  # the user's noise, as `analyze` uses it: as given, no widening
                self.white = self.sigma = self.given_sd
                self.caution = 1.0
            self.rise_scale = rise_scale(values, self.white, self.sigma)
            level = None if self.given_sd is not None else level_of_running_mean(
                self.label, values, self.sigma)
            self.window_logs = 1.0
            if level is not None:  # a running mean: its level's noise, sticky by its window
                self.white, self.sigma, self.window_logs = level[0], level[0], level[1]
                self.caution = self.rise_scale = 1.0
        if self.n == self.cfg.baseline_points and len(values) == self.n:
            self.baseline, self.baseline_n = observed_start(list(values), self.white)
            self.baseline_se = 1.0
        self.se_level = MEDIAN_SE * self.sigma / math.sqrt(independent_count(k, self.window_logs))

    def planned_few(self) -> bool:
        """Whether the run is planned to hold at most `HINGE_POINTS` evaluations at the cadence
        seen (`MonitorConfig.planned_steps`): `analyze` reads the noise of so short a run as
        white around its broken line, and so does the monitor (`effective_noise`). Without a
        plan the first values of what may be a long run keep the AR(1) estimate: on the real
        corpus, white noise over their first 40 values stopped three long runs falsely."""
        plan = RunPlan.of(self.first_step, self.cfg.planned_steps)
        return plan is not None and plan.evaluations(self.steps) <= HINGE_POINTS

    def start_stage(self) -> None:
        """A new training stage starts at the latest value: from here the level is a median of
        the stage's own values (at first that value alone), as a fresh series' would be. A
        window over the stage before lags: at a switch while SFT still rises (0.255, 0.335,
        0.41, then RL 0.43, 0.45) its level, 0.27, would read as a fall from the stage's start
        0.41, a disruption dated before the new stage began."""
        if not self.values:
            return
        self.stage_n = 1
        self._ordered = None
        self.level, self.level_step = self.values[-1], self.steps[-1]
        self.se_level = MEDIAN_SE * self.sigma

    def _given_sd(self) -> float | None:
        """The noise sd the options give (`noise_sd`, or `eval_size`'s binomial sd over the
        values seen, as `analyze` computes it), else None (estimated)."""
        from phasewatch.known_noise import known_noise

        if not self.performance or (self.cfg.noise_sd is None and self.cfg.eval_size is None):
            return None
        raw = self.sign * np.asarray(self.values, dtype=np.float64)
        return known_noise(self.cfg.noise_sd, self.cfg.eval_size, raw, self.label).sd

    def _window_level(self, y: float, k: int) -> float:
        """Median of the last `k` values (their mean on a lattice), `y` the one just added. The
        window's values are kept sorted between calls (one insertion and one removal, in C,
        instead of a sort per record); equal values keep their arrival order, so the median is
        the very value a sort of the window gives (a -0.0 among 0.0s included)."""
        values, ordered = self.values, self._ordered
        start = len(values) - k  # the window is values[start:]
        if ordered is not None and math.isfinite(y):
            if len(ordered) == k and start > 0:  # one value left the window
                gone = values[start - 1]
                i = bisect_left(ordered, gone)
                while ordered[i] is not gone:  # the very object, among equal values
                    i += 1
                del ordered[i]
                insort(ordered, y)
            elif len(ordered) == k - 1:  # the window grew by this value
                insort(ordered, y)
            else:
                ordered = None
        else:
            ordered = None
        if ordered is None or len(ordered) != k:
            window = list(islice(values, start, None))
            ordered = sorted(window) if all(map(math.isfinite, window)) else None
            if ordered is None:
                self._ordered = None
                return _median(window)
        self._ordered = ordered
        if few_distinct(len(set(ordered)), k):  # a set of floats: cheaper than np.unique here
            return math.fsum(ordered) / k
        mid = k // 2
        return ordered[mid] if k % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])

    @property
    def window_now(self) -> int:
        """The smoothing window at this point of the run: `cfg.window`, or less while few
        evaluations have been seen (about a quarter of them, odd, at least `cfg.min_window`).
        Evaluations are what count, not steps: a run evaluated 20 times is judged on windows its
        cadence can fill, and a dense run reaches the full window after 4 x `window` values."""
        cfg = self.cfg
        return min(cfg.window, max(cfg.min_window, (self.n // 4) | 1))

    @property
    def confirm_now(self) -> int:
        """Evaluations in a row a condition must hold: `cfg.confirm` at the full window, fewer
        (at least 1) while the window is small, so a sparse run's decisions are not all spent
        confirming."""
        return max(1, min(self.cfg.confirm, round(self.cfg.confirm * self.window_now / self.cfg.window)))

    def floor(self, reference: float) -> float:
        """The non-statistical part of `threshold`: the user's minimum effect."""
        cfg = self.cfg
        return max(cfg.min_delta_sd * self.sigma, cfg.min_delta_abs, cfg.min_delta_rel * abs(reference))

    @property
    def ramp_reference(self) -> int:
        """Evaluations before a decline's start that give the level it declines from."""
        return RAMP_REFERENCE_WINDOWS * self.window_now

    def decline_since(self, first_step: int, top: float, origin_step: int | None,
                      min_reference: int | None = None, after_peak: bool = False,
                      late_ratio: float = math.inf,
                      z_needed: float = -math.inf,
                      late_from: float = math.inf) -> tuple[float, int, int, int] | None:
        """The strongest steady decline that starts at or after `first_step`, as (z, its start
        step, values before that start since `origin_step`, values since it), measured against
        values from `origin_step` on (the stage's start: values from before a known boundary are
        no reference); None while there are too few values. A start needs `min_reference`
        values before it (default: half a window). See `decline.decline_z`. A decline from the
        start whose start has at least max(2 windows, `late_ratio` x its length) values before
        it (a late decline) is told from a sudden fall as one after a peak is: with its depth
        kept; one that starts at or after step `late_from` (the planned run's early part), its
        z too.
        None, cheaply, when the z is at most `z_needed` (what the caller rejects)."""
        return steady_decline(self, first_step, top, origin_step, min_reference, after_peak,
                              late_ratio, z_needed, late_from)

    def worst_near(self, step: int) -> tuple[float, int]:
        """The worst value (oriented) within one window either side of `step`, and its step: the
        data's trough near the level's (a window median lags a turn by half a window: a dip whose
        lowest evaluation, 0.246, was at step 150 had its level's trough, 0.344, at 300)."""
        k = self.window_now
        steps = list(self.steps)
        i = min(range(len(steps)), key=lambda j: abs(steps[j] - step))
        a, b = max(0, i - k), min(len(steps), i + k + 1)
        window = list(self.values)[a:b]
        j = a + min(range(len(window)), key=window.__getitem__)
        return self.values[j], steps[j]

    def window_values(self) -> list[float]:
        """The values the level is the median of (the latest `window_now`, of this stage)."""
        k = min(len(self.values), self.window_now, self.stage_n or len(self.values))
        return list(islice(self.values, len(self.values) - k, None))

    def ranks_below(self, best: list[float]) -> bool:
        """Whether the values of the level's window rank below `best`, those of the best
        level's window (one-sided Mann-Whitney, ties corrected, z >= RANKS_BELOW_Z); True when
        `best` is unknown (a state saved before it was kept) or the windows are shorter than
        RANKS_FROM (a sparse run's, too few to rank).

        Both overfit tests after a peak judge against a normal sd, from the best level, a
        window median. A batch reward on a lattice (steps of 1/8, its ceiling 2.0 reached a
        quarter of the time) has medians that jump whole lattice steps: a best level of 2 is the
        ceiling while its window's mean is 1.78, and a level of 1.5 would stop a reward still
        rising, whose ranks (p = 0.05) show no fall. On the benchmark runs the rank test
        delays a stop by under a hundredth of the run."""
        now = self.window_values()
        if len(best) < RANKS_FROM or len(now) < RANKS_FROM:
            return True
        from scipy.stats import mannwhitneyu, norm

        p = mannwhitneyu(best, now, alternative="greater", method="asymptotic").pvalue
        return bool(p <= norm.sf(RANKS_BELOW_Z))

    def still_falling(self, m: int) -> bool:
        """Whether a decline is still going on (not a fall that has flattened into a floor):
        the least-squares slope of the last `m` values is negative by STILL_FALLING_Z standard
        errors."""
        if m < 4 or self.sigma <= 0:
            return False
        y = np.fromiter(islice(self.values, len(self.values) - m, None), dtype=np.float64, count=m)
        t = np.arange(m, dtype=np.float64) - (m - 1) / 2.0
        # one failed evaluation makes no slope: residuals about the least-squares line clipped
        # at 3 white-noise sds (about the median, a steady steep decline itself would be
        # clipped flat)
        slope = float(t @ y) / float(t @ t)
        residuals = y - float(y.mean()) - slope * t
        y = y - residuals + np.clip(residuals, -3.0 * self.white, 3.0 * self.white)
        slope = float(t @ y) / float(t @ t)
        # (a running mean's slope: over values sharing episodes, `running_means.linear_variance`)
        se = (self.sigma / math.sqrt(float(t @ t)) if self.window_logs <= 1 else
              self.sigma * math.sqrt(linear_variance(t / float(t @ t), self.window_logs)))
        return -slope > STILL_FALLING_Z * se

    def worse_each_time(self, m: int) -> bool:
        """Each of the last `m` values (at least 4) is worse than the one before: without a
        trend, 4 values fall in turn with probability 1/24 whatever their noise. On a sparse
        run the noise estimate counts the fall itself: a held-out loss of 1.11, 3.23, 4.12,
        4.51, 4.68, 4.81 has sd 0.41 from its six values, and its last four, rising 0.69, are
        not `still_falling` against it."""
        if m < 4:
            return False
        y = list(islice(self.values, len(self.values) - m, None))
        return all(later < earlier for earlier, later in pairwise(y))

    @property
    def caution_after_rise(self) -> float:
        """The factor on `sigma` for a rise and the decline after it: `rise_scale`, the noise
        with phi from `local_ar` (its point estimate, no caution) over `sigma`. The
        block-centred differences of `effective_noise` read a curved run's bends as
        autocorrelation (phi at the 0.7 cap on white-noise runs of 13-40 evaluations: the noise
        2-7x too large, and nearly every overfit unstoppable; on dense runs with a dip, a rise
        and a fall, up to 1.9x with `caution`, holding many overfits back until the end);
        residuals about a 5-point mean bend less, and where they show stickier noise than the
        differences do, the factor is above 1. Every other decision (a fall with no rise
        before it, the level test) keeps `sigma` and `caution`: slow wander from the start is
        what AR(1) noise looks like."""
        return self.rise_scale

    def se_baseline(self) -> float:
        return self.baseline_se * self.sigma / math.sqrt(independent_count(self.baseline_n,
                                                                          self.window_logs))

    def se_gap(self, se_reference: float) -> float:
        """Standard error of the gap between a reference level and the current level."""
        return math.sqrt(se_reference**2 + self.se_level**2)

    def rise_threshold(self, reference: float, se_reference: float) -> float:
        """`threshold` for a rise and the fall after it (`caution_after_rise`)."""
        return max(self.cfg.z * self.se_gap(se_reference) * self.caution_after_rise,
                   self.floor(reference))

    def threshold(self, reference: float, se_reference: float, cautious: bool = False,
                  z: float | None = None) -> float:
        """Smallest significant gap between `reference` and the current level (`cautious`: for
        the stop decision, under the largest plausible noise while it is still uncertain; `z`:
        in place of the options' z, `after_peak.z_after_peak`'s)."""
        z = self.cfg.z if z is None else z
        stat = z * self.se_gap(se_reference) * (self.caution if cautious else 1.0)
        return max(stat, self.floor(reference))

    def gap_text(self, gap: float, se_reference: float, scale: float = 1.0) -> str:
        """A gap in metric units and in standard errors, e.g. '0.081 (5.2 se)' (`scale`: of a
        noise that many times `sigma`, as the test that judged it took it)."""
        se = self.se_gap(se_reference) * scale
        exact = below_float_noise(se, max(abs(self.raw(self.level)), abs(gap)))
        return f"{gap:.3g}" + (f" ({gap / se:.1f} se)" if se > 0 and not exact else "")

    def best_in_window(self) -> int:
        """The step of the checkpoint the level stands for: the best of the evaluation at the
        window's centre (the level's step) and its two neighbours, as `analyze` puts a best on
        the best of the point where its level peaks and the two beside it
        (`phase_stats.extreme_index`; the first of equals). On a sparse run the centre can be a
        dip between two better evaluations (0.893 between 0.943 and 0.951: "best checkpoint"
        named the dip), and on a rise it is the evaluation before the newest."""
        k = min(len(self.values), self.window_now)
        centre = len(self.values) - k + k // 2
        near = range(max(0, centre - 1), min(len(self.values), centre + 2))
        return self.steps[max(near, key=lambda i: (self.values[i], -i))]

    def raw(self, oriented: float) -> float:
        return self.sign * oriented

    def state(self) -> SeriesState:
        return SeriesState(
            values=list(self.values), steps=list(self.steps), n=self.n, last_step=self.last_step,
            first_step=self.first_step, baseline=self.baseline, baseline_n=self.baseline_n,
            baseline_se=self.baseline_se, white=self.white, sigma=self.sigma,
            caution=self.caution, level=self.level, level_step=self.level_step,
            se_level=self.se_level, rise_scale=self.rise_scale, stage_n=self.stage_n,
            window_logs=self.window_logs)

    def load(self, st: SeriesState) -> None:
        self.values: deque[float] = deque(st.values, maxlen=self.cfg.noise_window)
        self.steps: deque[int] = deque(st.steps, maxlen=self.cfg.noise_window)
        self.n, self.last_step, self.first_step = st.n, st.last_step, st.first_step
        self.baseline, self.baseline_n, self.baseline_se = st.baseline, st.baseline_n, st.baseline_se
        self.white = st.sigma if st.white is None else st.white  # noise sd from differences
        self.sigma = st.sigma
        self.caution = st.caution  # >= 1: how much larger the noise may plausibly be
        self.rise_scale = st.rise_scale  # the factor on `sigma` after a rise (may exceed 1)
        self.level, self.level_step, self.se_level = st.level, st.level_step, st.se_level
        self.stage_n = st.stage_n  # values of the current training stage (None: one stage)
        self.window_logs = st.window_logs  # > 1: a running mean's window (`level_of_running_mean`)
        self._ordered: list[float] | None = None  # the last values, sorted (`_window_level`)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
