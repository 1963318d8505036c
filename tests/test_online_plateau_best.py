"""The tests after a peak on a plateau (`after_peak.z_after_peak`): the best level is the best
of the many windows since the level last rose, and the latest level is tested against it at
every evaluation, so the z they need grows with the count of those windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasewatch.online import PhaseMonitor
from phasewatch.online.after_peak import z_after_peak


def rise_then_flat(seed: int, n: int, decline_at: int | None = None, sd: float = 0.01):
    """A rise of 15 noise sds by point ~50, then flat white noise; from `decline_at` on, a
    linear decline of 0.15 noise sds per evaluation."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    curve = 0.5 + 0.15 / (1 + np.exp(-(t - 30) / 5))
    if decline_at is not None:
        curve -= np.where(t > decline_at, 0.15 * sd * (t - decline_at), 0.0)
    return (t * 10).astype(int), curve + rng.normal(0, sd, n)


def stop_index(steps, values) -> int | None:
    monitor = PhaseMonitor(metric="eval/accuracy")
    for i, (step, value) in enumerate(zip(steps, values)):
        monitor.update(int(step), {"eval/accuracy": float(value)})
        if monitor.should_stop:
            return i
    return None


class _Tracker:
    """What `z_after_peak` reads of a `PhaseTracker`."""

    def __init__(self, since_anchor: int, window: int = 15, phase: str = "plateau"):
        self.cfg, self.phase = type("Cfg", (), {"z": 4.0})(), phase
        self.evals_since_anchor = since_anchor
        self.series = type("S", (), {"window_now": window})()


def test_the_z_grows_with_the_windows_the_best_level_was_chosen_from():
    assert z_after_peak(_Tracker(0)) == 4.0
    assert z_after_peak(_Tracker(15)) == 4.0  # one window: no choice
    assert z_after_peak(_Tracker(150)) == pytest.approx(math.sqrt(16 + 2 * math.log(10)))
    assert z_after_peak(_Tracker(1500)) == pytest.approx(5.03, abs=0.01)
    assert z_after_peak(_Tracker(21, window=7)) == pytest.approx(math.sqrt(16 + 2 * math.log(3)))
    # a rising phase's best level tops its rise: the options' z
    assert z_after_peak(_Tracker(150, phase="improvement")) == 4.0
    assert z_after_peak(_Tracker(150, phase="readaptation")) == 4.0


@pytest.mark.slow
def test_a_long_flat_plateau_after_a_rise_is_no_overfit():
    """1500 evaluations flat after a rise, white noise: the best of ~100 window levels stands
    ~2.5 level se above their mean and the worst as far below, and 3 of these 20 runs were
    stopped as overfits (at evaluations 507, 842 and 1331) against a fixed z of 4."""
    stops = [stop_index(*rise_then_flat(seed, 1500)) for seed in range(20)]
    assert stops == [None] * 20, stops


@pytest.mark.slow
def test_a_decline_after_a_long_plateau_is_still_stopped():
    """750 evaluations flat, then a decline of 0.15 noise sds per evaluation: every run is
    stopped after the decline starts, at most a window and a half into it at the median (the
    larger z costs ~3 evaluations here: 15.5 at the median with the fixed z of 4)."""
    stops = [stop_index(*rise_then_flat(seed, 1100, decline_at=800)) for seed in range(12)]
    assert all(s is not None and s > 800 for s in stops), stops
    assert np.median([s - 800 for s in stops]) <= 22, stops


def test_a_level_never_above_the_start_keeps_the_start_as_analyze_does():
    """A metric that reads the same at every evaluation (a keypoint mAP of 0 while the model
    learns no keypoints) has no best level above its start: the monitor's checkpoint is the
    first evaluation, the first of equals `analyze` recommends, not the centre of the first
    window it could fill (epoch 3 of 20 before)."""
    from phasewatch.analysis import analyze_run
    from tests.test_phases import make_run

    steps = list(range(1, 21))
    monitor = PhaseMonitor(metric="val_acc")
    for step in steps:
        monitor.update(step, {"val_acc": 0.0})
    offline = analyze_run(make_run([0.0] * 20, steps=steps, metric="val_acc"), "val_acc")
    assert offline.recommended_stop_step == 1
    assert monitor.best_step == offline.recommended_stop_step
