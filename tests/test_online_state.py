"""PhaseMonitor's state: bounded, JSON, resumed with the same alerts (also from the previous
version's state), and the alert dict as the JSONL contract."""

from __future__ import annotations

import json

import numpy as np
from online_runs import feed, three_phase

from phasewatch.online import Alert, PhaseMonitor

KEYS = {"event", "step", "onset_step", "best_step", "metric", "value", "message"}


def test_state_is_bounded_and_json():
    rng = np.random.default_rng(3)
    monitor = PhaseMonitor(metric="eval/accuracy")
    sizes = []
    for i in range(20_000):
        monitor.update(i, {"eval/accuracy": 0.5 + rng.normal(0, 0.02), "train/loss": 1.0})
        if i + 1 in (1_000, 20_000):
            state = json.loads(json.dumps(monitor.state_dict(), allow_nan=False))
            sizes.append(_count_leaves(state))
    assert sizes[0] == sizes[1]  # the same number of stored values after 1k and 20k records
    series = monitor.state_dict()["trackers"][0]["series"]
    assert len(series["values"]) == monitor.config.noise_window
    assert len(series["steps"]) == monitor.config.noise_window  # the steps of those values


def _count_leaves(obj) -> int:
    if isinstance(obj, dict):
        return sum(_count_leaves(v) for v in obj.values())
    if isinstance(obj, list):
        return sum(_count_leaves(v) for v in obj)
    return 1


def test_resume_from_state_dict_gives_the_same_alerts():
    steps, values, _ = three_phase(seed=5)
    whole = feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    first = PhaseMonitor(metric="eval/accuracy")
    cut = 130
    alerts = feed(first, steps[:cut], values[:cut])
    saved = json.loads(json.dumps(first.state_dict()))
    resumed = PhaseMonitor(metric="something/else")  # the saved config wins
    resumed.load_state_dict(saved)
    alerts += feed(resumed, steps[cut:], values[cut:])
    assert alerts == whole
    assert resumed.state_dict() == json.loads(json.dumps(resumed.state_dict()))


def test_a_state_saved_by_the_previous_version_still_resumes():
    """Before the steady-decline test, a series kept the steps of only its last `window` values
    (and no white-noise sd): such a state loads, and the resumed monitor still finds the overfit."""
    steps, values, curve = three_phase(seed=5)
    first = PhaseMonitor(metric="eval/accuracy")
    cut = 190  # just after the true peak (point 180)
    alerts = feed(first, steps[:cut], values[:cut])
    saved = json.loads(json.dumps(first.state_dict()))
    saved["version"] = 1
    series = saved["trackers"][0]["series"]
    series["steps"] = series["steps"][-first.config.window:]
    del series["white"], series["baseline_se"]
    for name in ("stage_step", "evals_below_peak"):
        del saved["trackers"][0][name]
    resumed = PhaseMonitor()
    resumed.load_state_dict(saved)
    assert len(resumed.trackers_[0].series.values) == first.config.window
    alerts += feed(resumed, steps[cut:], values[cut:])
    overfit = [a for a in alerts if a.event == "overfit"]
    assert len(overfit) == 1 and overfit[0].step > steps[np.argmax(curve)]


def test_alert_dict_is_the_jsonl_contract():
    alert = Alert("overfit", 10, 5, 5, "m", float("inf"), "why")
    assert set(alert.to_dict()) == KEYS and alert.to_dict()["value"] is None
    json.dumps(alert.to_dict(), allow_nan=False)
