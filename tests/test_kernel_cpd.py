"""The `kernel` model of `changepoints`: ruptures' KernelCPD for changes of a distribution."""

import json

import numpy as np
import pytest

from phasewatch.changepoint import detect


def test_white_noise_gets_no_change_point_and_a_tripled_spread_is_found():
    """The penalty's calibration (kernel_cpd docstring), re-measured on other seeds."""
    rng = np.random.default_rng(11)
    false = sum(bool(detect(np.arange(n), rng.standard_normal(n), model="kernel").changepoints)
                for n in (50, 100, 300) for _ in range(40))
    assert false / 120 <= 0.05
    found = 0
    for _ in range(40):
        y = np.r_[rng.standard_normal(50), 3 * rng.standard_normal(50)]
        cps = detect(np.arange(100), y, model="kernel").changepoints
        found += any(c.low <= 50 <= c.high or abs(c.step - 50) <= 3 for c in cps)
    assert found / 40 >= 0.75


def test_a_flicker_at_the_same_mean_is_one_change_with_an_interval_around_it():
    """Accuracy that starts flickering between two values around an unchanged mean: the
    kernel model finds one change; its interval holds the true step."""
    rng = np.random.default_rng(3)
    flicker = 0.5 + np.where(rng.random(150) < 0.5, -0.1, 0.1) + rng.normal(0, 0.02, 150)
    y = np.r_[rng.normal(0.5, 0.02, 150), flicker]
    seg = detect(np.arange(300) * 10, y, model="kernel")
    assert seg.method == "kernel/rbf" and len(seg.changepoints) == 1
    cp = seg.changepoints[0]
    assert cp.low <= 1500 <= cp.high and abs(cp.step - 1500) <= 50


def test_long_series_are_searched_on_a_grid_and_known_events_are_kept():
    rng = np.random.default_rng(5)
    y = np.r_[rng.normal(0, 1, 10_000), rng.normal(0, 3, 10_000)]
    seg = detect(np.arange(20_000), y, model="kernel", forced=(5_000,))
    steps = [c.step for c in seg.changepoints]
    assert 5_000 in steps and len(steps) == 2
    change = next(c for c in seg.changepoints if c.step != 5_000)
    assert change.low <= 10_000 <= change.high and change.high - change.low <= 100


def test_changepoints_command_takes_the_kernel_model(tmp_path, capsys):
    from phasewatch.cli import main

    rng = np.random.default_rng(2)
    y = np.r_[rng.normal(1, 0.1, 80), 1 + rng.choice([-0.4, 0.4], 80) + rng.normal(0, 0.1, 80)]
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": i, "train/reward": float(v)}) + "\n"
                           for i, v in enumerate(y)))
    assert main(["changepoints", str(log), "--metric", "train/reward", "--model", "kernel",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "kernel/rbf" and [c["step"] for c in out["changepoints"]] == [80]


@pytest.mark.parametrize("values", [[0.1, 0.2, 0.3], [0.5] * 12, [0.5, 0.51] * 6])
def test_short_and_constant_series_do_not_break_the_kernel_model(values):
    assert detect(np.arange(len(values)), np.array(values), model="kernel").changepoints == []
