"""Runs of 3-8 evaluations: what such a series can support, and its stated confidence."""

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.run import RecordCollector


def run_of(held_out, train=None, metric="eval/loss"):
    collector = RecordCollector("short", "synthetic")
    for i, value in enumerate(held_out):
        row = {metric: float(value)}
        if train is not None:
            row["train/loss"] = float(train[i])
        collector.add(100 * (i + 1), row, line=i + 1)
    return collector.build(events=[])


def names(analysis):
    return [p.name for p in analysis.phases]


FALLING = [4.318, 4.144, 4.048, 3.975]  # hf-canine-4ev in benchmarks/real_corpus


def test_four_falling_evaluations_as_train_improves_are_a_low_confidence_improvement():
    """Two-sided, 4 points can never reach p < 0.05 (at best 1/12); with the direction set in
    advance by the train loss falling over the same steps, the one-sided exact p is 1/24."""
    a = analyze_run(run_of(FALLING, train=[4.43, 4.3, 4.2, 4.07]), direction="min")
    assert names(a) == ["improvement"] and a.extra["confidence"] == "low"
    assert "one-sided exact p = 0.0417" in a.warnings[0]
    assert a.phases[0].stats["change"] == pytest.approx(3.975 - 4.318)


@pytest.mark.parametrize("train", [None, [4.0, 4.1, 4.2, 4.3]])
def test_without_a_train_metric_improving_four_points_stay_unestablished(train):
    a = analyze_run(run_of(FALLING, train=train), direction="min")
    assert names(a) == ["plateau"] and "no monotone trend they can establish" in a.warnings[0]


def test_three_points_never_establish_a_trend():
    a = analyze_run(run_of([1.092, 1.066, 0.998], train=[1.1, 1.07, 1.03]), direction="min")
    assert names(a) == ["plateau"] and "exact p = 0.333" in a.warnings[0]


def test_the_one_sided_call_keeps_false_claims_on_flat_runs_near_five_percent():
    """Flat held-out noise, train loss falling: a trend (improvement) is claimed only for the
    1 in 24 orderings that fall at every evaluation (4 points); at 5 points the two-sided test
    decides (tau -1: 1 in 120), beside the comparison with the noise."""
    rng = np.random.default_rng(7)
    for n, expected in ((4, 1 / 24), (5, 1 / 120)):
        calls = [names(analyze_run(run_of(rng.normal(1.0, 0.01, n),
                                          train=np.linspace(2.0, 1.5, n)), direction="min"))
                 == ["improvement"] for _ in range(600)]
        assert np.mean(calls) == pytest.approx(expected, abs=0.025)
