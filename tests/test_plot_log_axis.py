"""A lower-is-better series whose positive values span two decades or more is drawn on a log y
axis, as losses are read: on a linear one everything after the first fall lies flat along the
bottom with the phases found there (hf-geollm-trainloss: 4.26 -> 0.003, an overfit from 0.006
to 0.028 drawn as part of one line on the axis)."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.plot import phase_figure
from phasewatch.run import Run


def _run(metric: str, values: np.ndarray, train: np.ndarray | None = None) -> Run:
    steps = np.arange(values.size, dtype=np.int64) * 10
    columns = {metric: (steps, values)}
    if train is not None:
        columns["train/loss"] = (steps, train)
    return Run.from_columns(columns, "run", "test")


def _decaying(start: float, floor: float, n: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (floor + (start - floor) * np.exp(-t / 12)) * np.exp(rng.normal(0, 0.05, n))


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
