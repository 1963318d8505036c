"""An early dip one or two evaluations deep (step-0 evaluation, expert data that disrupt at once)
is a disruption; noise, a rate pinned at 1.0 with a blip, and a steady rise are not."""

import numpy as np

from phasewatch.analysis import analyze_run
from phasewatch.run import RecordCollector


def _run(values, step=10):
    collector = RecordCollector("test", "synthetic")
    for i, v in enumerate(values):
        collector.add(i * step, {"eval/accuracy": float(v)}, line=i + 1)
    return collector.build()


def _names(values):
    return [p.name for p in analyze_run(_run(values)).phases]


def test_one_point_dip_at_the_first_update_is_a_disruption():
    rng = np.random.default_rng(3)
    curve = 0.50 + 0.15 * (1 - np.exp(-np.arange(25) / 6.0))
    curve[1] = 0.42  # the first update: 8 sd below the start, then back above it
    y = curve + rng.normal(0, 0.01, curve.size)
    a = analyze_run(_run(y))
    assert [p.name for p in a.phases][:2] == ["disruption", "readaptation"]
    assert a.phases[0].end_step == 10  # the trough, where the data put it


def test_noise_and_a_steady_rise_are_not_dips():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        assert "disruption" not in _names(0.5 + rng.normal(0, 0.01, 25))
        rise = 0.5 + 0.2 * (1 - np.exp(-np.arange(25) / 5.0))
        assert "disruption" not in _names(rise + rng.normal(0, 0.01, 25))


def test_a_rate_pinned_at_one_with_a_blip_is_not_a_dip():
    y = np.ones(20)
    y[[4, 9, 15]] = [0.98, 0.995, 0.9925]
    assert "disruption" not in _names(y)
