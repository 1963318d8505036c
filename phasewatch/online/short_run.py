"""The offline detector, refitted live on a short run's buffered values.

On a run of 13-40 evaluations the monitor's own tests (a median level that lags by half a
window, a noise whose autocorrelation is read from a few dozen values) stop few overfits: the
rise and the fall both happen within the window the level lags by. The offline detector
(`phasewatch.analysis.analyze_run`: on up to 40 evaluations a broken line with knots anywhere,
`phasewatch.hinge`) reads such a run far better, and costs 3-20 ms on 20-40 values (once per
evaluation, for a run's first 40 only). So while a series has at most `SHORT_RUN_POINTS` values, the
monitor asks it after each evaluation for the phases of the values seen so far (tracker.py):
an overfit that ends them on `SHORT_RUN_CONFIRM` evaluations in a row is a stop, and the
offline recommendation on those values is the best step, so the live answer and `analyze` agree.

What it is not asked to judge (measured on the tuning seeds, bench_early_stop's runs):
- a decline from the first evaluation: live it is the same data as a dip still falling, which
  the offline detector, not seeing the dip's end yet, calls an overfit (false stops on 0.50-0.75
  of the sparse dips that never recover); the monitor's own from-the-start rules judge it;
- a run with more than one rise, or an overfit before the last one: the wander of AR(1) noise
  at 0.6-0.8 in a long run's first 20-40 values, not a short run's rise and fall;
- a peak less than `SHORT_RUN_RISE_SD` white-noise sds, or `SHORT_RUN_RISE_NOISE` times the
  short-series rise noise (`Series.caution_after_rise`), above the starting level: the first
  40 values of a dense run that dips or wanders (early stops on 0.30 of the logistic family's
  dense three_phase runs without it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SHORT_RUN_POINTS = 40  # up to this many values, the offline detector is refitted live
SHORT_RUN_FROM = 8  # ... from this many (fewer give no phases worth a stop)
SHORT_RUN_CONFIRM = 2  # evaluations in a row whose refit ends in an overfit (3: same false
# stops on the tuning seeds, delay +0.03-0.05)
SHORT_RUN_RISE_SD = 6.0  # the peak above the start, in white-noise sds (5: 2 more of the 40
# sticky-noise runs of tests/test_online.py stopped, 8% more of the tuning seeds' sparse stops)
SHORT_RUN_RISE_NOISE = 2.0  # ... and in sds of the short-series rise noise
RISES = ("improvement", "readaptation")


def offline_overfit(steps: Sequence[int], values: Sequence[float],
                    start: float, least_rise: float) -> tuple[int, int] | None:
    """(onset step, recommended step) when the offline detector's phases of these values
    (oriented higher-is-better) end in an overfit after a single rise, from a best point whose
    3-value mean is at least `least_rise` above `start`; else None."""
    from phasewatch.analysis import analyze_run  # imported on first use: start-up time
    from phasewatch.run import Run

    metric = "performance"
    steps_array = np.asarray(steps, dtype=np.int64)
    y = np.asarray(values, dtype=np.float64)
    analysis = analyze_run(Run.from_columns({metric: (steps_array, y)}, "live", "buffer"),
                           metric, "max", use_tokens=False)
    phases = analysis.phases
    if not phases or phases[-1].name != "overfit" or phases[-1].start_step <= steps_array[0]:
        return None
    if sum(p.name in RISES for p in phases) > 1 or any(p.name == "overfit" for p in phases[:-1]):
        return None
    best = int(analysis.recommended_stop_step)
    at = int(np.searchsorted(steps_array, best))
    if float(np.mean(y[max(0, at - 1):at + 2])) - start < least_rise:
        return None
    return int(phases[-1].start_step), best
