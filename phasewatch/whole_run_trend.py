"""One trend over the whole run, where the phase rules see one plateau only because each
evaluation is noisy.

The rules ask a move to exceed `k_sd` noise sds of one evaluation (phases.PhaseConfig), so that
a few evaluations must each move clearly. A noisy metric logged often (a GRPO batch reward, a
per-step train loss) can climb 2 sds over hundreds of evaluations: a rise anyone sees in the
plot, which those rules call a plateau. So when a run of more than MIN_POINTS evaluations comes
out as one plateau, under white noise, its first and last stretches (a quarter of the run each,
at most LONG_RUN_MEAN evaluations) are compared: when their means differ by more than `k_sd`
standard errors and the values trend against the steps by Kendall's rank test (p < TREND_P:
the noise sd of a few dozen evaluations can come out at half the truth), the run is one trend
(an improvement, or a decline from the start: an overfit). Under sticky noise (lag-1
autocorrelation above WHITE_AR) a long stretch wanders by sds, and the run stays a plateau.
"""
from __future__ import annotations

import numpy as np

from phasewatch.hinge import fitted_with_knots
from phasewatch.noise import lag1_autocorrelation
from phasewatch.phases import PhaseConfig
from phasewatch.results import Phase
from phasewatch.short_series import trend_test

# Longer runs only: on 3-12 evaluations a quarter is 1-3 of them, and the short-series rules
# (`short_series`, `hinge`) read the whole run. From 13 on (where `hinge` reads the run too), the
# same rule: it reads a preference margin rising 3 noise sds over 33 evaluations, and on the
# tuning seeds it changed two calls in 1,600 runs per family (seeds 100-119: a flat run of
# family A now a false trend, a decline from the start of family B now found; 300-339: none).
MIN_POINTS = 12
LONG_RUN_MEAN = 30  # evaluations averaged at each end, at most
WHITE_AR = 0.2  # residual lag-1 autocorrelation up to which the noise is taken as white
TREND_P = 0.01  # two-sided p-value of the rank trend test


def whole_run_trend(phases: list[Phase], steps: np.ndarray, y: np.ndarray, sd: float, ar: float,
                    cfg: PhaseConfig, hinged: bool = False) -> list[Phase]:
    """`phases` unchanged, or one improvement / overfit over the same steps (see the module).

    `ar` is the lag-1 autocorrelation of the segmentation's residuals; a run read by the broken
    line (`hinged`) has none, and its residuals about one straight line, or about a broken
    line with two knots, are judged instead."""
    if y.size <= MIN_POINTS or [p.name for p in phases] != ["plateau"] or sd <= 0:
        return phases
    if hinged:
        ar = _hinge_residual_ar(steps, y)
    if ar > WHITE_AR:
        return phases
    first, last = stretch_means(y)
    change = last - first
    k = stretch_size(y.size)
    if abs(change) <= cfg.k_sd * sd * np.sqrt(2.0 / k) or trend_test(steps, y)[1] >= TREND_P:
        return phases
    return [Phase("improvement" if change > 0 else "overfit", phases[0].start_step,
                  phases[0].end_step)]


def stretch_means(y: np.ndarray) -> tuple[float, float]:
    """The means of the run's first and last stretches (a quarter of it each, at most
    LONG_RUN_MEAN evaluations): the levels the trend is decided between, and so the levels its
    phase is reported between (its single first and last evaluations, each one noisy reading,
    can even point against the trend: a GRPO reward 0.135 -> 0.105 printed for a rise from
    0.00 to 0.11)."""
    k = stretch_size(y.size)
    return float(np.mean(y[:k])), float(np.mean(y[-k:]))


def stretch_size(n: int) -> int:
    """Evaluations in each of the first and last stretches of a run of `n`."""
    return min(LONG_RUN_MEAN, n // 4)


def _line_residual_ar(steps: np.ndarray, y: np.ndarray) -> float:
    """Lag-1 autocorrelation of the residuals about the least-squares line (the trend under
    test), so that slow wander is not taken for white noise about a trend."""
    x = steps.astype(np.float64)
    return lag1_autocorrelation(y - np.polyval(np.polyfit(x, y, 1), x))


def _hinge_residual_ar(steps: np.ndarray, y: np.ndarray) -> float:
    """Lag-1 autocorrelation of the residuals about the least-squares line or about the best
    broken line with two knots, whichever is smaller: a dip and a climb read through one line
    leave residuals that run in long signs, which is the shape, not sticky noise (a GRPO reward
    of 39 evaluations, 3.6 -> 1.0 -> 7.3 at an sd of 2: 0.38 about the line, 0.04 about the
    broken line; it was one plateau). Tuning seeds, both generator families: no call changed."""
    x = (steps - steps[0]).astype(np.float64)
    x /= float(x[-1]) or 1.0
    return min(_line_residual_ar(steps, y), lag1_autocorrelation(y - fitted_with_knots(x, y, 2)))
