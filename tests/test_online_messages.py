"""What PhaseMonitor's alerts say: the starting level as observed (and over how many
evaluations), a loss's own direction, the z a steady decline was judged at, and the best step
before the starting level is known."""

from __future__ import annotations

import numpy as np
from online_runs import feed, three_phase

from phasewatch.online import PhaseMonitor


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
    from phasewatch.online.start_level import observed_start

    assert observed_start([0.013, 0.176, 0.458, 0.463, 0.480], white=0.1) == (0.013, 1)
    flat = [0.60, 0.59, 0.61, 0.60, 0.61]
    assert observed_start(flat, white=0.01) == (sum(flat) / 5, 5)
    level, n = observed_start([0.60, 0.61, 0.59, 0.50, 0.45], white=0.01)  # 0.59 starts a fall
    assert n == 2 and abs(level - 0.605) < 1e-12


def test_a_level_that_moved_after_the_first_evaluation_is_not_averaged_into_the_start():
    """The start is averaged only with values that scatter around it; a level that moved at the
    second evaluation and stayed there is not (the noise read from the first five values counts
    the move itself, so the move passed as scatter): the held-out reward of a PPO run,
    tb-sb3-govworkflow-ppo-36ev, had its starting level 200.8 (mean of 193.4, 203.4, 203.3,
    203.4) where `analyze` reads 193.4, and its later swings down to 176 were a live
    "disruption" on a run `analyze` calls a plateau."""
    from phasewatch.online.start_level import observed_start

    assert observed_start([193.4, 203.4, 203.3, 203.4, 172.0], white=8.27) == (193.4, 1)
    assert observed_start([0.875, 0.8981, 0.8935, 0.9074, 0.909], white=0.0152) == (0.875, 1)
    scatter = [0.60, 0.61, 0.595, 0.605, 0.60]  # later values come back near the first
    assert observed_start(scatter, white=0.01) == (sum(scatter) / 5, 5)
    reward = [193.4, 203.4, 203.3, 203.4, 172.0, 178.0, 183.0, 203.2, 198.8, 173.4, 188.1, 187.3,
              175.1, 175.1, 195.4, 175.0, 176.3, 176.3, 176.3, 176.4, 176.4, 178.1, 175.0, 184.1,
              184.1, 186.9, 195.6, 185.3, 184.1, 178.1, 195.3, 184.1, 184.0, 184.0, 184.0, 184.0]
    monitor = PhaseMonitor(metric="eval/mean_reward", direction="max", stop_on=())
    alerts = feed(monitor, 8192 * np.arange(1, 37), reward, name="eval/mean_reward")
    assert monitor.trackers_[0].series.baseline == 193.4
    assert [a.event for a in alerts] == []


def test_a_dip_among_the_first_values_is_not_averaged_into_the_start():
    """A dip of two evaluations among the first five inflates the noise read from them and
    passed as scatter: a DQN agent's test score (csv-preypredator-dqn-testscore-20) had the
    starting level -0.8296, the mean of -0.480, -1.363, -1.370, -0.464, -0.471, a level no
    evaluation showed, where `analyze` reads -0.4801 (trial 49). Two tight groups far apart
    keep the start in the first value's; a single odd value, tied values and groups of noise
    not 30 times tighter than their gap do not split (as before)."""
    from phasewatch.online.start_level import observed_start

    dip = [-0.4801, -1.3628, -1.3704, -0.4639, -0.4710]
    assert observed_start(dip, white=0.45) == (-0.4801, 1)
    held = [0.50, 0.51, 0.50, 0.12, 0.11]  # a fall after three: the start is the three
    level, n = observed_start(held, white=0.2)
    assert n == 3 and abs(level - 0.5033333) < 1e-6
    # a GRPO reward's noise (sd about 0.015) that happened to fall in two groups, 0.016 apart
    # and 0.0015 within: no split (at a gap ratio of 10 its start was 0.895, above its best)
    grpo = [0.8949687, 0.8769000, 0.8777812, 0.8768999, 0.8935000]
    for first, white in (([0.5, 0.5, 0.6, 0.6, 0.5], 0.06), ([0.60, 0.61, 0.59, 0.90, 0.60], 0.2),
                         (grpo, 0.01)):
        assert observed_start(first, white) == (sum(first) / 5, 5), first
    monitor = PhaseMonitor(metric="Test Score", direction="max", stop_on=())
    scores = dip + [-0.4622, -0.4427, -0.4682, -0.4520, -0.4775]
    feed(monitor, 1000 * np.arange(1, 11), scores, name="Test Score")
    assert monitor.trackers_[0].series.baseline == -0.4801


def test_the_best_step_before_the_starting_level_is_known_is_the_best_value():
    """A run shorter than `baseline_points` has no peak tracked yet: its best step is its best
    evaluation (a 4-point fall said "best step 300", the latest window's centre)."""
    monitor = PhaseMonitor(metric="eval/accuracy")
    feed(monitor, [100, 200, 300, 400], [0.501, 0.459, 0.421, 0.379])
    assert monitor.best_step == 100


def test_a_best_before_the_starting_level_is_known_is_the_checkpoint_named():
    """The best level is tracked from the first full window, not from the fifth value that
    fixes the starting level: a held-out loss best at its second evaluation (a real HF run's
    eval_g0_loss) had "best checkpoint 802" in its first alert, where `analyze` and the overfit
    alert after it keep 401."""
    steps = [0, 401, 802, 1203, 1604, 2005, 2406, 2807, 3208, 3609, 4010, 4411]
    loss = [5.742, 1.114, 1.132, 1.353, 1.555, 1.615, 1.854, 1.614, 1.917, 1.949, 2.01, 2.05]
    monitor = PhaseMonitor(metric="eval_loss", direction="min", planned_steps=12030, stop_on=())
    alerts = feed(monitor, steps, loss, name="eval_loss")
    assert alerts and all(a.best_step == 401 for a in alerts), [(a.event, a.best_step) for a in alerts]
    assert monitor.best_step == 401


def test_the_first_rise_keeps_an_earlier_better_level_than_the_current_one():
    """When the starting level is fixed, the best level so far is the best window of the values
    read until then, even where the rise's own fall into it (read as noise from those few values)
    leaves that window "within noise" of the start: the current level was taken instead, a worse
    one. A validation loss 9.257, 2.997, 4.325, 3.921, 4.501, ... (a CS336 run at a high learning
    rate, jsonl-cs336-lr0p1-valloss-51) had its improvement alert name "best checkpoint 600"
    (3.921), where step 200 (2.997) is better and its window's level, 3.921, the best one."""
    steps = [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]
    loss = [9.257, 2.997, 4.325, 3.921, 4.501, 4.562, 4.446, 4.563, 4.787, 4.527]
    monitor = PhaseMonitor(metric="val_loss", direction="min")
    alerts = feed(monitor, steps, loss, name="val_loss")
    assert [a.event for a in alerts] == ["improvement"], [(a.event, a.step) for a in alerts]
    assert alerts[0].best_step == 200 and monitor.best_step == 200


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


def test_a_train_metrics_alerts_count_readings():
    """A train loss that falls and then holds for 200 readings: its plateau alert said "no
    significant improvement for 89 evaluations" of values scored on the training batches
    (`MonitorConfig.train_metrics`, as `watch` sets it); told nothing, evaluations."""
    rng = np.random.default_rng(2)
    loss = np.r_[np.linspace(2.0, 1.0, 60), np.full(200, 1.0)] + rng.normal(0, 0.01, 260)
    for train_metrics, word in (((), "evaluations"), (("train/loss",), "readings")):
        monitor = PhaseMonitor(metric="train/loss", train_metrics=train_metrics)
        alerts = feed(monitor, np.arange(260) * 10, loss, name="train/loss")
        plateau = next(a.message for a in alerts if a.event == "plateau")
        assert f"no significant improvement for 89 {word} since" in plateau, plateau


def test_a_train_metrics_fall_from_the_start_is_hinted_in_readings():
    """A train reward falling from its first reading, no planned length: the disruption's hint
    said "getting worse from the first evaluation"."""
    rng = np.random.default_rng(1)
    reward = np.r_[np.linspace(1.0, 0.5, 30), np.full(30, 0.5)] + rng.normal(0, 0.01, 60)
    monitor = PhaseMonitor(metric="train/reward", train_metrics=["train/reward"])
    alerts = feed(monitor, np.arange(60) * 10, reward, name="train/reward")
    assert alerts[0].event == "disruption"
    assert "; getting worse from the first reading can also be an overfit" in alerts[0].message


def test_a_train_metrics_overfit_alert_says_it_is_no_overfit_to_the_training_data():
    """A train loss that falls, holds, then climbs back for 100 readings: `watch` warned that a
    train loss "cannot show an overfit to the training data" and then alerted "overfit" on it
    without a word (`analyze` warns beside the same phase: an instability of training). Told it
    is a train metric, the alert says what the shape is; told nothing, an evaluation's alert
    stays as it was."""
    rng = np.random.default_rng(3)
    loss = (np.r_[np.linspace(2.0, 1.0, 60), np.full(80, 1.0), np.linspace(1.0, 1.6, 100)]
            + rng.normal(0, 0.01, 240))
    for train_metrics, said in (((), False), (("train/loss",), True)):
        monitor = PhaseMonitor(metric="train/loss", train_metrics=train_metrics)
        alerts = feed(monitor, np.arange(240) * 10, loss, name="train/loss")
        overfit = next(a.message for a in alerts if a.event == "overfit")
        assert ("train/loss is scored on the training batches: this is training getting worse "
                "after its best (an instability of training), not an overfit to the training "
                "data" in overfit) == said, overfit
