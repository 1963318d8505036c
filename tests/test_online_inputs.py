"""PhaseMonitor on imperfect input: NaN values, the frameworks' own metric names, a missing
metric, steps going back, and an invalid configuration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from online_runs import feed, three_phase

from phasewatch.online import MonitorConfig, PhaseMonitor, StopReason


def test_nan_is_missing_by_default_and_an_alert_with_check_finite():
    steps, values, _ = three_phase()
    holed = values.copy()
    holed[[20, 21, 150]] = np.nan
    keep = np.isfinite(holed)
    skipped = feed(PhaseMonitor(metric="eval/accuracy"), steps[keep], values[keep])
    with_nan = feed(PhaseMonitor(metric="eval/accuracy"), steps, holed)
    assert with_nan == skipped

    strict = PhaseMonitor(metric="eval/accuracy", check_finite=True, stop_on=())
    alerts = [a for a in feed(strict, steps[:30], holed[:30]) if a.event == "non_finite"]
    assert [a.step for a in alerts] == [200, 210]
    assert math.isnan(alerts[0].value)
    assert alerts[0].to_dict()["value"] is None
    assert strict.should_stop and strict.stop_reason_ is StopReason.NON_FINITE_METRIC


def test_alias_finds_the_frameworks_own_name():
    steps, values, _ = three_phase()
    canonical = feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    hf = feed(PhaseMonitor(metric="eval/accuracy"), steps, values, name="eval_accuracy",
              extra=lambda i: {"eval_loss": 1.0, "epoch": i / 10})
    assert [(a.event, a.step) for a in hf] == [(a.event, a.step) for a in canonical]
    # alerts and messages name the log's own metric, not the canonical name asked for
    assert hf[0].metric == "eval_accuracy" and hf[0].message.startswith("eval_accuracy ")


def test_missing_metric_is_reported_with_what_exists():
    monitor = PhaseMonitor(metric="eval/accuracy")
    for i in range(5):
        assert monitor.update(i, {"train/loss": 1.0, "train/reward": 0.1}) == []
    assert monitor.missing_metrics() == ["eval/accuracy"]
    assert monitor.metrics_seen == ["train/loss", "train/reward"]


def test_steps_going_back_are_ignored():
    steps, values, _ = three_phase()
    straight = feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    # a resume re-logs points 100..119 with other values after point 140
    order = list(range(140)) + list(range(100, 120)) + list(range(140, len(steps)))
    junk = values.copy()
    monitor = PhaseMonitor(metric="eval/accuracy")
    alerts = []
    for k, i in enumerate(order):
        value = junk[i] if k < 140 or k >= 160 else 0.0
        alerts.extend(monitor.update(int(steps[i]), {"eval/accuracy": float(value)}))
    assert alerts == straight and monitor.ignored_backwards_ == 20


@pytest.mark.parametrize("bad", [
    {"window": 4}, {"direction": "up"}, {"z": 0}, {"stop_on": ["overfitting"]}, {"warmup": 0},
    {"metric": []},
])
def test_invalid_config_says_what_is_wrong(bad):
    with pytest.raises(ValueError) as info:
        MonitorConfig(**bad)
    assert str(info.value)
