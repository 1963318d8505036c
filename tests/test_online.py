"""PhaseMonitor: phase alerts on curves with known shape and noise, several metrics, known
events, the NLL gap and the min-delta floors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from online_runs import feed, three_phase

from phasewatch.online import PhaseMonitor, StopReason


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

    from phasewatch.online.series_noise import effective_noise as _effective_noise

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
    # the count it states is of the evaluations logged since the onset it names (trial 37b:
    # "82 evaluations since step 915" on a log whose 89 were: the level lags by half a window)
    plateau = alerts[-1]
    said = int(plateau.message.split("no significant improvement for ")[1].split()[0])
    assert said == int(np.sum((t > plateau.onset_step) & (t <= plateau.step)))


def test_a_plateau_found_while_the_window_grows_counts_the_evaluations_since_its_onset():
    """A train loss that falls to its floor within its first few evaluations (a TensorBoard
    log, every 10 steps): the onset was fixed while the level's window was still small, and the
    count took the later, wider window's lag: "89 evaluations since step 240" for 85."""
    steps = np.arange(10, 3010, 10)
    loss = 0.85 * np.exp(-(steps - 10) / 20) + np.abs(np.random.default_rng(0).normal(0, 1e-4, steps.size))
    alerts = feed(PhaseMonitor(metric="train/loss", direction="min"), steps, loss, name="train/loss")
    (plateau,) = [a for a in alerts if a.event == "plateau"]
    said = int(plateau.message.split("no significant improvement for ")[1].split()[0])
    assert said == int(np.sum((steps > plateau.onset_step) & (steps <= plateau.step)))


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
        if i == 149:  # the last SFT step: its evaluation is still before RL (contracts.md)
            marked.mark_event(149, "sft_to_rl")
        plain_alerts += plain.update(i, {"eval/accuracy": float(acc[i])})
        marked_alerts += marked.update(i, {"eval/accuracy": float(acc[i])})
    assert "overfit" in [a.event for a in plain_alerts]  # without the event: a decline
    events = [a.event for a in marked_alerts]
    assert events[0] == "improvement" and "overfit" not in events
    assert events[events.index("disruption") + 1] == "readaptation"
    # the onset is the last centred level at the old stage's level (half a window before)
    half_window = marked.config.window // 2
    assert next(a for a in marked_alerts if a.event == "disruption").onset_step >= 148 - half_window
    assert marked.state_dict()["events"] == [[149, "sft_to_rl"]]


def test_a_stage_that_starts_while_the_last_one_still_rises_is_no_fall():
    """Trial 37: SFT stopped at step 300 while its accuracy, recovering from its disruption,
    still rose fast (0.255, 0.335, 0.41) and RL rose on from there; the level, a window median
    over SFT's evaluations (0.27), was read as a fall below the new stage's start 0.41: a
    'disruption' whose onset was before RL began."""
    rng = np.random.default_rng(5)
    sft = np.arange(0, 301, 20)
    rl = np.arange(310, 701, 10)
    acc = np.concatenate([
        np.where(sft == 0, 0.87, 0.41 * (np.clip(sft - 60, 0, None) / 240) ** 2),
        0.41 + 0.17 * (1 - np.exp(-(rl - 300) / 150))]) + rng.normal(0, 0.005, sft.size + rl.size)
    monitor = PhaseMonitor(metric="eval/accuracy")
    alerts = []
    for step, value in zip(np.concatenate([sft, rl]), acc):
        if step == 300:  # as `watch` reads a joined run: the event, then RL's step-0 record
            monitor.mark_event(300, "sft_to_rl")
        alerts += monitor.update(int(step), {"eval/accuracy": float(max(value, 0.0))})
    after = [a for a in alerts if a.step > 300]
    assert after and after[0].event == "improvement" and after[0].onset_step >= 300, after
    assert not any(a.event in ("disruption", "readaptation") for a in after)


def test_the_peak_of_a_new_stage_is_of_its_own_values_never_the_stage_before():
    """After `mark_event` (SFT -> RL) the starting level is the switch's, known at once, and the
    peak is the new stage's best level: an SFT stage that peaked (0.8 at step 100) and fell to
    0.6 by the switch, then an RL stage rising 0.6 -> 0.7, kept its checkpoint at the SFT
    stage's peak (best step 110), when the values read before a starting level was known were
    searched for a peak without regard to the stage."""
    rng = np.random.default_rng(0)
    monitor = PhaseMonitor(metric="eval/accuracy", stop_on=())
    sft = np.concatenate([np.linspace(0.5, 0.8, 10), np.linspace(0.8, 0.6, 10)])
    feed(monitor, np.arange(10, 201, 10), sft + rng.normal(0, 0.005, sft.size))
    monitor.mark_event(200, "sft_to_rl")
    rl = np.linspace(0.6, 0.7, 20)
    alerts = feed(monitor, np.arange(210, 401, 10), rl + rng.normal(0, 0.005, rl.size))
    assert monitor.best_step > 200
    assert all(a.best_step > 200 for a in alerts), [(a.event, a.best_step) for a in alerts]


def _dip_and_climb(rng, start_step, start, n=60, depth=0.3, sd=0.005):
    """A fall of `depth` below `start` over 10 evaluations, then a climb back to 0.1 below it."""
    t = np.arange(n)
    curve = start - depth * np.minimum(t, 10) / 10 + (depth - 0.1) * np.clip(t - 10, 0, 40) / 40
    return start_step + 10 * t, curve + rng.normal(0, sd, n)


def test_best_step_is_the_start_while_the_run_is_below_it():
    """In a disruption and a readaptation that has not regained the starting level, the best
    checkpoint is the start, not the top of the climb so far (watch said "best checkpoint
    200" in a readaptation 0.25 below the start)."""
    rng = np.random.default_rng(3)
    steps, values = _dip_and_climb(rng, 0, 0.6)
    monitor = PhaseMonitor(metric="eval/accuracy")
    alerts = feed(monitor, steps, values)
    assert [a.event for a in alerts][:2] == ["disruption", "readaptation"]
    assert all(a.best_step == 0 for a in alerts[:2])
    assert monitor.best_step == 0


def test_best_step_after_a_stage_switch_is_the_switch_while_below_its_level():
    """After `mark_event` (SFT -> RL) the starting level is the switch's: a dip of the new
    stage keeps the checkpoint at the switch, not at the run's first step (a worse level)."""
    rng = np.random.default_rng(4)
    monitor = PhaseMonitor(metric="eval/accuracy")
    first = np.arange(0, 400, 10)
    feed(monitor, first, 0.3 + 0.4 * np.minimum(first, 200) / 200 + rng.normal(0, 0.005, first.size))
    monitor.mark_event(400, "sft_to_rl")
    steps, values = _dip_and_climb(rng, 400, 0.7)
    alerts = feed(monitor, steps, values)
    assert alerts and alerts[0].event == "disruption"
    assert monitor.best_step == 400
