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

from phasewatch.phases import PhaseConfig
from phasewatch.results import Phase
from phasewatch.short_series import trend_test

MIN_POINTS = 40  # longer runs only (shorter ones are read by the broken line, `hinge`)
LONG_RUN_MEAN = 30  # evaluations averaged at each end, at most
WHITE_AR = 0.2  # residual lag-1 autocorrelation up to which the noise is taken as white
TREND_P = 0.01  # two-sided p-value of the rank trend test


def whole_run_trend(phases: list[Phase], steps: np.ndarray, y: np.ndarray, sd: float, ar: float,
                    cfg: PhaseConfig) -> list[Phase]:
    """`phases` unchanged, or one improvement / overfit over the same steps (see the module)."""
    if (y.size <= MIN_POINTS or [p.name for p in phases] != ["plateau"] or ar > WHITE_AR
            or sd <= 0):
        return phases
    k = min(LONG_RUN_MEAN, y.size // 4)
    change = float(np.mean(y[-k:]) - np.mean(y[:k]))
    if abs(change) <= cfg.k_sd * sd * np.sqrt(2.0 / k) or trend_test(steps, y)[1] >= TREND_P:
        return phases
    return [Phase("improvement" if change > 0 else "overfit", phases[0].start_step,
                  phases[0].end_step)]
