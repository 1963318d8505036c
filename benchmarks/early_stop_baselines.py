"""Change detectors the live monitor is measured against, and the runs they are measured on.

- FOCuS (Romano et al., JMLR 2023; `changepoint-online`, a dev dependency, GPL-3: benchmark
  only): Gaussian change in mean, pre-change mean unknown, one-sided (a decrease), restarted at
  each new best of the trailing 5-evaluation mean ("after the best point"); values are clipped to
  3 noise sds around the median of the last 5 (outlier clipping); its statistic is read in units
  of the noise variance estimated so far (the monitor's white-noise sd of the values seen,
  `phasewatch.online.series_noise.effective_noise`).
  Both are armed only once the run has risen above its start (the best trailing mean ARM_SD of
  its standard errors above the first full one): a fall from the start is a disruption, not an
  overfit, and a detector that stops there fails every SFT run. The best and the start are full
  trailing means (a mean of the first value alone made a dipping run's first value its "best"
  and armed the detector at once: the dip controls then scored far above any overfit and set the
  thresholds; docs/monitoring.md has the before and after). Armed this way, neither can stop a decline from the start or after a flat
  stretch (`decline_from_start`, `late_decline`: half the overfit kinds) by construction.
- CUSUM: one-sided Page CUSUM for a fall below the best trailing 5-evaluation mean,
  S = max(0, S + (best - y) / sd - k) with k = 0.5, restarted at each new best, clipped alike.
Both need a threshold: it is calibrated on separate seeds as the smallest one whose false-stop
rate on runs without overfit is <= 5% (`calibrate`), then used unchanged on the test seeds.
The runs: every kind of both synthetic families (`phasewatch.synth`, `phasewatch.synth_logistic`)
in a regime (`dense`: 41-300 evaluations, `medium`: 13-40), truth = the generator's phases.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from phasewatch.online.series_noise import effective_noise

TRAIL = 5  # evaluations in the trailing mean whose new best restarts a detector
CLIP_SD = 3.0
CUSUM_K = 0.5
FALSE_TARGET = 0.05
ARM_SD = 3.0  # armed once the best trailing mean is this many se above the first one


class _AfterBest:
    """Shared part: orientation, noise, clipping, restart at a new best trailing mean."""

    def __init__(self, metric: str, direction: str, threshold: float):
        self.metric, self.sign, self.threshold = metric, 1.0 if direction == "max" else -1.0, threshold
        self.values: list[float] = []
        self.recent: deque[float] = deque(maxlen=TRAIL)
        self.best_mean = -math.inf
        self.start_mean: float | None = None
        self.best_step: int | None = None
        self.sd = 0.0
        self.should_stop = False
        self.trace: list[tuple[int, float]] = []  # (step, statistic) for calibration

    def update(self, step: int, metrics: dict) -> None:
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        y = self.sign * value
        # The noise is estimated from the values as logged (the monitor's own white-noise sd:
        # `noise_scale` with its floor at half the mean absolute difference). Estimated from the
        # clipped values, as before, it fed on itself: on the reference SFT run, whose accuracy
        # falls 0.5 in a few evaluations and then repeats values, it collapsed, every later
        # value was clipped to the recent median and the detectors froze.
        self.values.append(y)
        if len(self.values) <= 32 or len(self.values) % 8 == 0:
            self.sd = effective_noise(self.values, 15)[0]
        if len(self.values) > 3 and self.sd > 0:
            centre = float(np.median(list(self.recent)))
            y = min(max(y, centre - CLIP_SD * self.sd), centre + CLIP_SD * self.sd)
        self.recent.append(y)
        if len(self.recent) < TRAIL:
            # The best and the start are full trailing means only: a mean of the first one or
            # two values is neither a level to fall from nor the start (with partial means the
            # first value of a run that dips became its "best", armed at once, and the dip
            # scored far above any overfit on the controls, which set the thresholds).
            self.best_step = step if self.best_step is None else self.best_step
            self.trace.append((step, 0.0))
            return
        mean = sum(self.recent) / TRAIL
        if self.start_mean is None:
            self.start_mean = mean
        armed = self.sd > 0 and (
            self.best_mean > self.start_mean + ARM_SD * self.sd * math.sqrt(2.0 / TRAIL))
        if mean > self.best_mean:
            self.best_mean, self.best_step = mean, step
            self.restart()
        else:
            self.feed(y)
        stat = self.statistic() if armed else 0.0
        self.trace.append((step, stat))
        if stat >= self.threshold:
            self.should_stop = True


class Focus(_AfterBest):
    def restart(self) -> None:
        from changepoint_online import Focus as _Focus
        from changepoint_online import Gaussian

        self.detector = _Focus(Gaussian(), side="left")
        self.n = 0

    def feed(self, y: float) -> None:
        self.detector.update(y)
        self.n += 1

    def statistic(self) -> float:
        return self.detector.statistic() / (self.sd * self.sd) if self.n >= 2 else 0.0


class Cusum(_AfterBest):
    def restart(self) -> None:
        self.s = 0.0

    def feed(self, y: float) -> None:
        self.s = max(0.0, self.s + (self.best_mean - y) / self.sd - CUSUM_K) if self.sd > 0 else 0.0

    def statistic(self) -> float:
        return self.s


def stop_at(trace: list[tuple[int, float]], threshold: float) -> int | None:
    return next((step for step, stat in trace if stat >= threshold), None)


def calibrate(traces_without_overfit: list[list[tuple[int, float]]]) -> float:
    """Smallest threshold with at most FALSE_TARGET of these runs ever reaching it."""
    peaks = sorted((max((s for _, s in t), default=0.0) for t in traces_without_overfit),
                   reverse=True)
    allowed = math.floor(FALSE_TARGET * len(peaks))
    return float(np.nextafter(peaks[allowed], np.inf)) if peaks else 1.0


def regime_runs(family: str, regime: str, seeds: range):
    """(SyntheticRun, overfit onset step or None) for every kind of `regime` and seed."""
    from phasewatch import synth, synth_logistic, synth_powerlaw
    from phasewatch.synth_regimes import regime_of

    module = {"synth": synth, "logistic": synth_logistic, "powerlaw": synth_powerlaw}[family]
    for kind in regime_of(regime).kinds():
        for seed in seeds:
            s = module.generate_regime(kind, regime, seed)
            onset = next((start for name, start, _ in s.truth["phases"] if name == "overfit"), None)
            yield s, onset
