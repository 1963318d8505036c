"""A seed group's band: the kind the user asks for, cut at the metric's known bounds and said so,
the same in the report; and its stop said to be the stop of the seeds' mean (trial 40e findings
8 and 9: a 95% t band of 3 seeds reached 1.335 on an accuracy and the axis grew to hold it, an
NLL band went below 0; SFT's triangle at step 730 while its seeds stop at 1100, 950 and 840)."""

from __future__ import annotations

import numpy as np
import pytest
from plot_inputs import make_analysis

from phasewatch.errors import UsageError
from phasewatch.plot import compare_figure, figure_data
from phasewatch.plot.seeds import band_limits, clip_band, metric_bounds
from phasewatch.run import RecordCollector


def _seed(seed: int, spread: float):
    """An accuracy near 0.85 whose seeds differ by `spread`, and an NLL near 0.05."""
    rng = np.random.default_rng(seed)
    collector = RecordCollector(f"mem:rl{seed}", "test")
    for i, step in enumerate(range(0, 1000, 10)):
        acc = min(1.0, 0.85 + spread * (seed - 1) + rng.normal(0, 0.01))
        nll = max(0.0, 0.05 + 0.04 * (seed - 1) + rng.normal(0, 0.002))
        collector.add(step, {"eval/accuracy": acc, "expert/nll_heldout": nll})
    return collector.build(name=f"rl_s{seed}", algorithm="rl", performance_metric="eval/accuracy",
                           direction="max", config={"seed": seed, "lr": 1e-3})


def test_the_band_kinds():
    values = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, np.nan]])
    mean, low, high = band_limits(values, "sd")
    np.testing.assert_allclose(mean, [2.0, 1.5])
    np.testing.assert_allclose(high - mean, [1.0, np.std([1, 2], ddof=1)])
    _, low, high = band_limits(values, "se")
    np.testing.assert_allclose(high[0] - 2.0, 1 / np.sqrt(3))
    _, low, high = band_limits(values, "ci95")
    np.testing.assert_allclose(high[0] - 2.0, 4.302653 / np.sqrt(3), rtol=1e-6)
    _, low, high = band_limits(values, "minmax")
    np.testing.assert_allclose([low[0], high[0], low[1], high[1]], [1, 3, 1, 2])
    with pytest.raises(UsageError):
        band_limits(values, "iqr")


def test_bounds_are_known_for_rates_and_losses_only():
    assert metric_bounds("eval/accuracy", [0.2, 0.9]) == (0.0, 1.0)
    assert metric_bounds("expert/nll_heldout", [0.02, 2.1]) == (0.0, None)
    assert metric_bounds("train/reward", [0.2, 0.9]) == (None, None)
    assert metric_bounds("eval/accuracy", [12.0, 80.0]) == (None, None)  # a percentage
    low, high, cut = clip_band(np.array([-0.1, 0.2]), np.array([0.5, 1.3]), (0.0, 1.0))
    assert list(low) == [0.0, 0.2] and list(high) == [0.5, 1.0] and cut == "cut at 0 and 1"


def test_a_bounded_metrics_band_is_cut_and_the_legend_says_so():
    seeds = [_seed(s, 0.1) for s in range(3)]
    fig = compare_figure(seeds, ["eval/accuracy", "expert/nll_heldout"])
    data = figure_data(fig).to_frame()
    acc = data[data["metric"] == "eval/accuracy"]
    nll = data[data["metric"] == "expert/nll_heldout"]
    assert acc[acc.kind == "ci_high"]["value"].max() == 1.0  # uncut: 0.95 + 2.48 x 0.1
    assert nll[nll.kind == "ci_low"]["value"].min() == 0.0
    assert fig.axes[0].get_ylim()[1] < 1.1
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "95% CI of the mean (cut at 0 and 1)" in labels
    # another band on request, named in the legend and in the data
    fig = compare_figure(seeds, ["eval/accuracy"], band="sd")
    data = figure_data(fig).to_frame()
    assert {"sd_low", "sd_high"} <= set(data["kind"]) and "ci_low" not in set(data["kind"])
    assert "mean \u00b1 1 sd of the seeds" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_a_seed_groups_stop_is_said_to_be_the_means_and_the_seeds_stops_are_in_the_data():
    seeds = [_seed(s, 0.02) for s in range(3)]
    analyses = [make_analysis(r, stop=stop) for r, stop in zip(seeds, (840, 950, 990))]
    fig = compare_figure(seeds, analyses=analyses)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "stop of the seeds' mean" in labels and "recommended stop" not in labels
    data = figure_data(fig).to_frame()
    assert sorted(data[data.kind == "seed_stop"]["step"]) == [840, 950, 990]


def test_the_report_draws_the_same_band():
    from phasewatch.plot.seeds import seed_curves
    from phasewatch.plot.smoothing import Smoothing
    from phasewatch.report.sections import seed_band

    seeds = [_seed(s, 0.1) for s in range(3)]
    curves = [np.column_stack([r.series("eval/accuracy").index.to_numpy(dtype=float),
                               r.series("eval/accuracy").to_numpy()]) for r in seeds]
    *_, high, cut, _ = seed_band(curves, metric="eval/accuracy")
    assert high.max() == 1.0 and cut == "cut at 1"
    figure = seed_curves(seeds, "eval/accuracy", Smoothing().resolved(0, 990))
    assert figure.high.max() == 1.0 and figure.cut == "cut at 1"
