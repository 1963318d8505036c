"""A lower-is-better series whose positive values span two decades or more is drawn on a log y
axis, as losses are read: on a linear one everything after the first fall lies flat along the
bottom with the phases found there (hf-geollm-trainloss: 4.26 -> 0.003, an overfit from 0.006
to 0.028 drawn as part of one line on the axis)."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.plot import phase_figure
from phasewatch.plot.smoothing import Smoothing
from phasewatch.run import Run


def _run(metric: str, values: np.ndarray, train: np.ndarray | None = None) -> Run:
    steps = np.arange(values.size, dtype=np.int64) * 10
    columns = {metric: (steps, values)}
    if train is not None:
        columns["train/loss"] = (steps, train)
    return Run.from_columns(columns, "run", "test")


def _decaying(start: float, floor: float, n: int = 120, seed: int = 0,
              scale: float = 12.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (floor + (start - floor) * np.exp(-t / scale)) * np.exp(rng.normal(0, 0.05, n))


def test_a_loss_spanning_decades_gets_a_log_axis_that_holds_its_values():
    values = _decaying(4.0, 0.003)
    ax = phase_figure(_run("eval/loss", values), panels=None).axes[0]
    assert ax.get_yscale() == "log"
    low, high = ax.get_ylim()
    assert 0 < low < values.min() and high > values.max()


@pytest.mark.parametrize("metric, values", [
    ("eval/loss", _decaying(4.0, 0.2)),             # 20x: one decade and a bit
    ("eval/accuracy", 1.0 - _decaying(0.997, 0.4)),  # an accuracy from 0.003: higher is better
])
def test_a_narrower_loss_and_a_higher_is_better_metric_stay_linear(metric, values):
    assert phase_figure(_run(metric, values), panels=None).axes[0].get_yscale() == "linear"


def test_a_panel_of_train_loss_spanning_decades_is_log_too():
    fig = phase_figure(_run("eval/accuracy", 0.5 + 0.002 * np.arange(120), _decaying(3.0, 0.001)),
                       panels=["train/loss"])
    assert [ax.get_yscale() for ax in fig.axes[:2]] == ["linear", "log"]


def test_limits_a_log_axis_cannot_show_turn_it_linear():
    ax = phase_figure(_run("eval/loss", _decaying(4.0, 0.003)), panels=None, ylim=(0, 1)).axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim() == (0, 1)


def test_on_a_log_axis_the_curve_is_smoothed_in_decades_and_follows_its_points():
    """A mean of 2.0 and 0.002 is 1.0, two decades above the later value on a log axis: a
    curve smoothed in the values' own units ran a whole fall's width behind its points."""
    values = _decaying(4.0, 0.003, seed=1, scale=3.0)  # a decade in 7 evaluations
    # a window of 5 evaluations, as a comparison with a 5x longer run draws this one
    fig = phase_figure(_run("eval/loss", values), panels=None,
                       smoothing=Smoothing("gaussian", 50))
    line = next(line for line in fig.axes[0].lines if line.get_gid() == "smoothed")
    steps, curve = line.get_xdata(), line.get_ydata()
    raw = dict(zip(np.arange(values.size) * 10, values))
    ratio = np.array([curve[i] / raw[s] for i, s in enumerate(steps) if s in raw])
    assert np.all(curve > 0) and np.max(np.abs(np.log10(ratio))) < 0.3  # within a factor of 2


def test_a_grid_of_losses_spanning_decades_shares_one_log_axis():
    from phasewatch.plot import compare_figure

    runs = [_run("eval/loss", _decaying(4.0, 0.003)), _run("eval/loss", _decaying(2.0, 0.5, seed=3))]
    fig = compare_figure(runs, ["eval/loss"], layout="grid")
    assert [ax.get_yscale() for ax in fig.axes[:2]] == ["log", "log"]


@pytest.mark.parametrize("ylim, scale", [((None, 1.0), "log"), ((0.0, None), "linear")])
def test_a_limit_left_open_is_taken_as_matplotlib_takes_it(ylim, scale):
    ax = phase_figure(_run("eval/loss", _decaying(4.0, 0.003)), panels=None, ylim=ylim).axes[0]
    assert ax.get_yscale() == scale and ax.get_ylim()[1 if ylim[0] is None else 0] == \
        (ylim[1] if ylim[0] is None else ylim[0])
