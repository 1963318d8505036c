"""PhaseMonitor: phase alerts on curves with known shape, bounded state, resume, bad values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from phasewatch.online import Alert, MonitorConfig, PhaseMonitor, StopReason

KEYS = {"event", "step", "onset_step", "best_step", "metric", "value", "message"}


def three_phase(n=300, seed=0, sd=0.01):
    """Start 0.5, dip to 0.35 around point 40, rise to 0.75 by point 150, then a steady decline
    from point 180 (the true peak) to 0.6 at the end. Steps are 10 apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    curve = 0.5 - 0.15 * np.exp(-(((t - 40) / 15) ** 2)) + 0.25 / (1 + np.exp(-(t - 100) / 10))
    curve = curve - np.where(t > 180, 0.15 * (t - 180) / (n - 180), 0.0)
    return t.astype(int) * 10, curve + rng.normal(0, sd, n), curve


def feed(monitor, steps, values, name="eval/accuracy", extra=None):
    alerts = []
    for i, (step, value) in enumerate(zip(steps, values)):
        record = {name: float(value)}
        if extra is not None:
            record.update(extra(i))
        alerts.extend(monitor.update(int(step), record))
    return alerts


def test_three_phase_alerts_in_order_with_onsets_near_truth():
    steps, values, curve = three_phase()
    alerts = feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    events = [a.event for a in alerts]
    assert events[:2] == ["disruption", "readaptation"]
    assert "overfit" in events and events.count("overfit") == 1
    by = {a.event: a for a in alerts}
    trough = int(steps[np.argmin(curve[:100])])
    peak = int(steps[np.argmax(curve)])
    assert abs(by["readaptation"].onset_step - trough) <= 100  # 10 evaluations
    overfit = by["overfit"]
    assert overfit.step > peak  # never before the true onset
    assert abs(overfit.onset_step - peak) <= 300
    assert abs(overfit.best_step - peak) <= 300
    assert overfit.metric == "eval/accuracy" and overfit.value == pytest.approx(
        values[list(steps).index(overfit.step)])
    assert "below its best level" in overfit.message or "got worse steadily since step" in overfit.message


@pytest.mark.parametrize("seed", range(8))
def test_flat_noise_gives_no_alert(seed):
    rng = np.random.default_rng(seed)
    n = 2000
    values = 0.5 + rng.normal(0, 0.02, n)
    alerts = feed(PhaseMonitor(metric="eval/accuracy"), np.arange(n), values)
    assert alerts == []


@pytest.mark.parametrize("seed", range(4))
def test_ar1_noise_is_not_mistaken_for_a_trend(seed):
    rng = np.random.default_rng(100 + seed)
    n, phi = 1500, 0.6
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = phi * noise[i - 1] + rng.normal(0, 0.02 * math.sqrt(1 - phi**2))
    alerts = feed(PhaseMonitor(metric="eval/accuracy"), np.arange(n), 0.5 + noise)
    assert alerts == []


def test_sticky_noise_rarely_stops_a_flat_run():
    """AR(1) noise at 0.8 wanders slowly and looks like a trend; the stop decision assumes the
    noise as sticky as it plausibly is (`caution`) while its autocorrelation is still uncertain."""
    from collections import deque

    from phasewatch.online.series import effective_noise as _effective_noise

    stops = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n, phi, sd = int(rng.integers(300, 800)), 0.8, rng.uniform(0.01, 0.03)
        noise = np.zeros(n)
        shocks = rng.normal(0, sd * math.sqrt(1 - phi**2), n)
        for i in range(1, n):
            noise[i] = phi * noise[i - 1] + shocks[i]
        monitor = PhaseMonitor(metric="eval/accuracy")
        feed(monitor, np.arange(n) * 10, 0.5 + noise)
        stops += monitor.should_stop
        if seed == 0:
            # After 40 values the stop decision already judges against sticky noise (the
            # long-run sd, caution included, is 3x or more the white-noise sd) ...
            white, sd, caution = _effective_noise(deque(noise[:40]), 9)
            assert sd * caution > 3.0 * white
            assert _effective_noise(deque(noise[:256]), 9)[2] == 1.0  # ... and with enough data
            # phi is certain: no caution
    # Measured 6 of 40 (3 before a short run's decline after a peak was judged against the
    # noise of `local_ar` and allowed deeper than 3 sds: the price of stopping overfits of 13-40
    # evaluations, where AR(1) wander at 0.8 in a long run's first 20-35 values looks the same;
    # 5 before a decline's steady-or-sudden shape was judged with its depth kept, which stops
    # the late declines of dense runs); patience-based stopping stops every one.
    assert stops <= 6


def test_monotone_rise_is_improvement_then_plateau_never_overfit():
    n = 400
    t = np.arange(n)
    rng = np.random.default_rng(1)
    values = 0.3 + 0.4 * (1 - np.exp(-t / 60)) + rng.normal(0, 0.01, n)
    alerts = feed(PhaseMonitor(metric="eval/accuracy"), t, values)
    events = [a.event for a in alerts]
    assert events[0] == "improvement"
    assert "overfit" not in events and "disruption" not in events
    assert events[-1] == "plateau"


def test_lower_is_better_metric_mirrors_the_phases():
    steps, values, _ = three_phase()
    up = feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    down = feed(PhaseMonitor(metric="eval/loss"), steps, 2.0 - values, name="eval/loss")
    assert [(a.event, a.step, a.onset_step) for a in up] == [
        (a.event, a.step, a.onset_step) for a in down]
    assert PhaseMonitor(metric="eval/loss").config.direction is None  # from the name
    assert down[0].value == pytest.approx(2.0 - values[list(steps).index(down[0].step)])


def test_stop_reason_and_should_stop():
    steps, values, _ = three_phase()
    monitor = PhaseMonitor(metric="eval/accuracy")
    assert monitor.stop_reason_ is StopReason.NOT_STOPPED and not monitor.should_stop
    for step, value in zip(steps, values):
        alerts = monitor.update(int(step), {"eval/accuracy": float(value)})
        if monitor.should_stop:
            break
    assert monitor.stop_reason_ is StopReason.OVERFIT
    assert alerts[-1].event == "overfit" and monitor.stop_alert_ == alerts[-1]
    never = PhaseMonitor(metric="eval/accuracy", stop_on=())
    feed(never, steps, values)
    assert not never.should_stop


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


def test_nll_gap_signals_overfit_before_accuracy_moves():
    n = 300
    rng = np.random.default_rng(7)
    t = np.arange(n)
    train = 2.0 * np.exp(-t / 80) + 0.05 + rng.normal(0, 0.01, n)
    heldout = 1.0 + 0.5 * ((t - 120) / 120) ** 2 + rng.normal(0, 0.01, n)  # min at 120
    accuracy = 0.6 + rng.normal(0, 0.01, n)
    monitor = PhaseMonitor(metric="eval/accuracy")
    alerts = feed(monitor, t, accuracy, extra=lambda i: {
        "expert/nll_train": train[i], "expert/nll_heldout": heldout[i]})
    assert [a.event for a in alerts] == ["overfit"]
    alert = alerts[0]
    assert alert.metric == "expert/nll_heldout" and 120 < alert.step < 200
    assert abs(alert.onset_step - 120) <= 25
    assert "expert/nll_train" in alert.message and monitor.should_stop


def test_nll_gap_needs_train_nll_still_falling():
    n = 300
    rng = np.random.default_rng(8)
    t = np.arange(n)
    heldout = 1.0 + 0.5 * ((t - 120) / 120) ** 2 + rng.normal(0, 0.01, n)
    train = heldout - 0.2  # both rise together: a broken run, not memorisation
    alerts = feed(PhaseMonitor(metric="eval/accuracy"), t, 0.6 + rng.normal(0, 0.01, n),
                  extra=lambda i: {"expert/nll_train": train[i], "expert/nll_heldout": heldout[i]})
    assert alerts == []


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


def test_min_delta_suppresses_small_significant_changes():
    steps, values, _ = three_phase(sd=0.002)
    assert feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    alerts = feed(PhaseMonitor(metric="eval/accuracy", min_delta_abs=0.5), steps, values)
    assert alerts == []
    rel = feed(PhaseMonitor(metric="eval/accuracy", min_delta_rel=1.0), steps, values)
    assert rel == []


def test_min_delta_sd_scales_with_the_noise():
    steps, values, _ = three_phase(sd=0.01)
    assert feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    # the largest move here is ~0.4 = 40 noise sds: a floor of 60 sds silences everything
    assert feed(PhaseMonitor(metric="eval/accuracy", min_delta_sd=60), steps, values) == []


def test_a_recovered_decline_is_reported_and_a_later_one_announced_again():
    """Rise, a sustained fall (overfit, live), a climb well above the old peak (the fall was
    recovered: readaptation), then a second fall (overfit again)."""
    rng = np.random.default_rng(3)
    t = np.arange(600, dtype=float)
    curve = 0.4 + 0.2 / (1 + np.exp(-(t - 60) / 10))              # rise to 0.6
    curve -= np.clip((t - 150) / 100, 0, 1) * 0.12                 # fall to 0.48 by 250
    curve += np.clip((t - 300) / 100, 0, 1) * 0.32                 # climb to 0.8 by 400
    curve -= np.clip((t - 450) / 100, 0, 1) * 0.15                 # fall again
    steps = (t * 10).astype(int)
    alerts = feed(PhaseMonitor(metric="eval/accuracy"), steps, curve + rng.normal(0, 0.01, t.size))
    events = [a.event for a in alerts]
    assert events == ["improvement", "overfit", "readaptation", "overfit"]
    first, recovered, second = alerts[1], alerts[2], alerts[3]
    assert 1500 < first.step < 2600 and 900 <= first.onset_step <= 1600  # on the flat top
    assert "was recovered" in recovered.message and 3000 < recovered.step < 4000
    assert 2400 <= recovered.onset_step <= 3100  # the trough of the first fall
    assert second.step > 4500 and 3900 <= second.onset_step <= 4600
    # the checkpoint to keep is on the new flat top, the decline dated from its end
    assert 4000 <= second.best_step <= second.onset_step


def test_several_metrics_at_once():
    steps, values, _ = three_phase()
    monitor = PhaseMonitor(metric=["eval/accuracy", "train/reward"])
    alerts = feed(monitor, steps, values, extra=lambda i: {"train/reward": 0.5 + 0.001 * i})
    metrics = {a.metric for a in alerts}
    assert metrics == {"eval/accuracy", "train/reward"}
    assert next(a.event for a in alerts if a.metric == "train/reward") == "improvement"
    assert abs(monitor.best_step - 1800) <= 300  # the first metric (accuracy) gives best_step


def test_alert_dict_is_the_jsonl_contract():
    alert = Alert("overfit", 10, 5, 5, "m", float("inf"), "why")
    assert set(alert.to_dict()) == KEYS and alert.to_dict()["value"] is None
    json.dumps(alert.to_dict(), allow_nan=False)


@pytest.mark.parametrize("bad", [
    {"window": 4}, {"direction": "up"}, {"z": 0}, {"stop_on": ["overfitting"]}, {"warmup": 0},
    {"metric": []},
])
def test_invalid_config_says_what_is_wrong(bad):
    with pytest.raises(ValueError) as info:
        MonitorConfig(**bad)
    assert str(info.value)


def test_a_known_event_restarts_the_phases():
    """SFT -> RL: a fall right after the switch is a disruption of the new stage."""
    rng = np.random.default_rng(11)
    n = 300
    t = np.arange(n)
    acc = np.where(t < 100, 0.3 + 0.3 * t / 100, 0.6)
    after = 0.6 - 0.2 * np.exp(-(t - 150) / 10) + 0.15 * (t - 150) / 150  # dip, then recovery
    acc = np.where(t >= 150, after, acc) + rng.normal(0, 0.01, n)
    plain, marked = PhaseMonitor(metric="eval/accuracy"), PhaseMonitor(metric="eval/accuracy")
    plain_alerts, marked_alerts = [], []
    for i in range(n):
        if i == 150:
            marked.mark_event(150, "sft_to_rl")
        plain_alerts += plain.update(i, {"eval/accuracy": float(acc[i])})
        marked_alerts += marked.update(i, {"eval/accuracy": float(acc[i])})
    assert "overfit" in [a.event for a in plain_alerts]  # without the event: a decline
    events = [a.event for a in marked_alerts]
    assert events[0] == "improvement" and "overfit" not in events
    assert events[events.index("disruption") + 1] == "readaptation"
    # the onset is the last centred level at the old stage's level (half a window before)
    half_window = marked.config.window // 2
    assert next(a for a in marked_alerts if a.event == "disruption").onset_step >= 149 - half_window
    assert marked.state_dict()["events"] == [[150, "sft_to_rl"]]


def _rise_then(seed: int, decline: bool, n: int = 400):
    """Rise to a plateau by point ~100; from point 200 (step 2000) a steady decline of 0.0008 per
    evaluation (0.16 by the end) under noise sd 0.02, plus 1% downward outliers of 6 sd."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    curve = 0.5 + 0.2 / (1 + np.exp(-(t - 60) / 8))
    if decline:
        curve = curve - np.where(t > 200, 0.0008 * (t - 200), 0.0)
    values = curve + rng.normal(0, 0.02, n)
    values[rng.random(n) < 0.01] -= 0.12
    return np.arange(n) * 10, values


def test_a_slow_steady_decline_is_caught_by_the_ramp_test_with_its_start():
    """The ramp statistic sums the whole decline, weighted by how far down each evaluation should
    be: on about half of these runs it is significant before the level (a median of 15) is, and
    it dates the decline's start far better than the noisy peak the level test reports."""
    found = []
    for seed in range(12):
        steps, values = _rise_then(seed, decline=True)
        alerts = [a for a in feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
                  if a.event == "overfit"]
        assert len(alerts) == 1 and alerts[0].step > 2000
        found.append(alerts[0])
    steady = [abs(a.onset_step - 2000) for a in found if "got worse steadily since" in a.message]
    level = [abs(a.onset_step - 2000) for a in found if "below its best level" in a.message]
    assert len(steady) >= 5 and len(steady) + len(level) == 12
    assert np.median(steady) <= 150 and np.median(steady) < np.median(level) / 2
    assert np.median([a.step for a in found]) < 2450  # within 45 evaluations of the start


@pytest.mark.parametrize("seed", range(6))
def test_the_ramp_test_ignores_outliers_on_a_plateau(seed):
    steps, values = _rise_then(seed, decline=False)
    alerts = feed(PhaseMonitor(metric="eval/accuracy"), steps, values)
    assert "overfit" not in [a.event for a in alerts]


@pytest.mark.parametrize("seed", range(6))
def test_the_ramp_reference_does_not_reach_back_across_a_known_boundary(seed):
    """After an SFT->RL switch the new stage starts lower and climbs back part of the way; its
    values must not be compared with the higher ones logged before the switch, which would read
    as a steady decline (seeds 0 and 3 did, before the reference was bounded by the switch)."""
    rng = np.random.default_rng(seed)
    before = 0.8 + rng.normal(0, 0.01, 150)
    t = np.arange(80, dtype=float)
    after = 0.6 + 0.1 * (1 - np.exp(-t / 3)) + rng.normal(0, 0.01, 80)
    monitor = PhaseMonitor(metric="eval/accuracy")
    alerts = feed(monitor, np.arange(150) * 10, before)
    monitor.mark_event(1500, "sft_to_rl")
    alerts += feed(monitor, 1500 + np.arange(80) * 10, after)
    assert alerts and alerts[0].event == "disruption"
    assert "overfit" not in [a.event for a in alerts]


@pytest.mark.parametrize("seed", range(4))
def test_a_sudden_upset_that_recovers_within_a_window_is_not_a_stop(seed):
    """An optimisation spike (accuracy down 0.08 for 8 evaluations, then back) is not the
    sustained decline DESIGN.md calls overfit; the same fall that stays is."""
    rng = np.random.default_rng(seed)
    t = np.arange(300, dtype=float)
    plateau = 0.5 + 0.2 / (1 + np.exp(-(t - 40) / 6))
    upset = plateau - np.where((t >= 150) & (t < 158), 0.08, 0.0)
    stays = plateau - np.where(t >= 150, 0.08, 0.0)
    noise = rng.normal(0, 0.01, t.size)
    spike = [a.event for a in feed(PhaseMonitor(metric="eval/accuracy"), t * 10, upset + noise)]
    assert "overfit" not in spike
    fall = [a for a in feed(PhaseMonitor(metric="eval/accuracy"), t * 10, stays + noise)
            if a.event == "overfit"]
    assert len(fall) == 1 and 1500 < fall[0].step <= 1500 + 10 * (15 + 10)


def test_the_starting_level_is_the_observed_start():
    """As offline: the first evaluation (averaged with the next ones only while they stay within
    noise of it), not a median of the first few that a fall from the first update drags down."""
    rng = np.random.default_rng(4)
    flat = 0.6 + rng.normal(0, 0.01, 40)
    monitor = PhaseMonitor(metric="eval/accuracy")
    feed(monitor, np.arange(40), flat)
    series = monitor.trackers_[0].series
    assert series.baseline_n > 1 and abs(series.baseline - flat[: series.baseline_n].mean()) < 1e-12
    falling = 0.6 - 0.05 * np.arange(40) + rng.normal(0, 0.005, 40)  # drops from the first update
    monitor = PhaseMonitor(metric="eval_acc")
    alerts = feed(monitor, np.arange(40) * 10, np.clip(falling, 0.2, None), name="eval_acc")
    series = monitor.trackers_[0].series
    assert series.baseline == falling[0] and series.baseline_n == 1
    assert alerts[0].event == "disruption" and f"starting level {falling[0]:.4g}" in alerts[0].message
    assert alerts[0].message.startswith("eval_acc ")


def test_alerts_on_a_loss_speak_in_the_losss_own_direction():
    """The monitor turns a loss to higher-is-better; its messages must not: a loss that falls
    is reported as falling below the starting level, one that climbs back as rising above its
    best level, with the values as logged on either side of the word."""
    import re

    steps, values, _ = three_phase(seed=0)
    loss = 2.0 - values  # the same run as a loss: dip = loss up, rise = loss down
    alerts = feed(PhaseMonitor(metric="eval/loss"), steps, loss, name="eval/loss")
    by_event = {a.event: a.message for a in alerts}
    assert {"disruption", "readaptation", "overfit"} <= set(by_event)
    pattern = r"level ([\d.]+) (rose|fell) [\d.]+ .*?(above|below) the starting level ([\d.]+)"
    level, verb, side, start = re.search(pattern, by_event["disruption"]).groups()
    assert (verb, side) == ("rose", "above") and float(level) > float(start)
    level, verb, side, worst = re.search(r"level ([\d.]+) (rose|fell) [\d.]+ .*?(above|below) the "
                                         r"disruption's worst level ([\d.]+)", by_event["readaptation"]).groups()
    assert (verb, side) == ("fell", "below") and float(level) < float(worst)
    assert "above its best level" in by_event["overfit"] or "got worse steadily" in by_event["overfit"]
    assert not any("1 evaluations" in a.message for a in alerts)


def test_a_starting_level_averaged_over_several_evaluations_says_so():
    """The live starting level is the first value averaged with the next ones within noise of
    it; printed, it says over how many, so the number matches what the log shows."""
    rng = np.random.default_rng(5)
    values = np.r_[0.5 + rng.normal(0, 0.01, 12), np.linspace(0.52, 0.8, 40) + rng.normal(0, 0.01, 40)]
    monitor = PhaseMonitor(metric="eval/accuracy")
    alerts = feed(monitor, np.arange(values.size) * 10, values)
    series = monitor.trackers_[0].series
    n = series.baseline_n
    assert n > 1
    quoted = [a.message for a in alerts if "starting level" in a.message]
    assert quoted and all(f"the starting level {values[:n].mean():.4g} (mean of the first {n} evaluations)"
                          in m for m in quoted)


def test_a_value_on_the_way_out_of_the_start_is_not_averaged_into_it():
    """A run that climbs from its first evaluation (the verl GSM8K log: 0.013, 0.176, 0.458,
    ...) keeps its first value as the starting level, though the climb inflates the noise
    estimated from the first few values: a value every later one lies beyond is on its way out."""
    from phasewatch.online.series import observed_start

    assert observed_start([0.013, 0.176, 0.458, 0.463, 0.480], white=0.1) == (0.013, 1)
    flat = [0.60, 0.59, 0.61, 0.60, 0.61]
    assert observed_start(flat, white=0.01) == (sum(flat) / 5, 5)
    level, n = observed_start([0.60, 0.61, 0.59, 0.50, 0.45], white=0.01)  # 0.59 starts a fall
    assert n == 2 and abs(level - 0.605) < 1e-12


def test_the_best_step_before_the_starting_level_is_known_is_the_best_value():
    """A run shorter than `baseline_points` has no peak tracked yet: its best step is its best
    evaluation (a 4-point fall said "best step 300", the latest window's centre)."""
    monitor = PhaseMonitor(metric="eval/accuracy")
    feed(monitor, [100, 200, 300, 400], [0.501, 0.459, 0.421, 0.379])
    assert monitor.best_step == 100


def test_a_steady_decline_is_reported_in_the_standard_errors_it_was_judged_in():
    """The steady-decline test after a peak judges its z against the noise scale of a rise
    (`caution_after_rise`); the alert must print that z, which clears `z`, not one in other units
    (every 10th evaluation of sample_logs/demo printed "1.5 se" for a decline called at z 4)."""
    import json
    import re
    from pathlib import Path

    rows = [json.loads(line) for line in
            (Path(__file__).resolve().parents[1] / "sample_logs/demo/metrics.jsonl").open()]
    rows = [r for r in rows if "eval/accuracy" in r and r["step"] % 100 == 0]
    monitor = PhaseMonitor(metric="eval/accuracy")
    alerts = feed(monitor, [r["step"] for r in rows], [r["eval/accuracy"] for r in rows])
    steady = [a for a in alerts if "got worse steadily" in a.message]
    assert steady, [a.message for a in alerts]
    for alert in steady:
        z = float(re.search(r"\(([\d.]+) se against", alert.message).group(1))
        assert z >= monitor.config.z
