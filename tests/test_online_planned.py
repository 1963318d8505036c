"""A planned run length (`MonitorConfig.planned_steps`, `watch --planned-steps`, the log's
max_steps): a fall from the start still going on past the run's early part is an overfit, and a
dip over by then is not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.online import MonitorConfig, PhaseMonitor
from phasewatch.online.plan import EARLY_FRACTION
from phasewatch.planned import planned_steps

EVERY = 50


def steady_decline(seed: int, n: int = 30, sd: float = 0.01) -> np.ndarray:
    """Held-out accuracy falling steadily from the first evaluation, 10 noise sds in all."""
    rng = np.random.default_rng(seed)
    return 0.6 - 10 * sd * np.arange(n) / (n - 1) + rng.normal(0, sd, n)


def early_dip(seed: int, n: int = 30, sd: float = 0.01) -> np.ndarray:
    """A fall of 8 noise sds over the first fifth of the run, then a flat floor (a disruption
    with no recovery)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / (n - 1)
    return 0.6 - 8 * sd * np.minimum(t / 0.2, 1.0) + rng.normal(0, sd, n)


def first_stop(values: np.ndarray, planned: int | None):
    monitor = PhaseMonitor(metric="eval/accuracy", planned_steps=planned)
    for i, value in enumerate(values):
        alerts = monitor.update(i * EVERY, {"eval/accuracy": float(value)})
        if monitor.should_stop:
            return i, next(a for a in alerts if a.event == "overfit")
    return None, None


def test_a_steady_decline_from_the_start_stops_past_the_early_part_only_with_a_plan():
    n = 30
    planned = (n - 1) * EVERY
    stops = [first_stop(steady_decline(seed, n), planned) for seed in range(20)]
    stopped = [(i, alert) for i, alert in stops if i is not None]
    # Measured 20 of 20 (the refit of the offline detector, or the steady-decline test)
    assert len(stopped) >= 18
    for i, alert in stopped:
        assert i * EVERY >= EARLY_FRACTION * planned  # never within the early part
        # dated from the start, or where the offline detector reads the values seen as a flat
        # stretch and a decline (seed 10: from step 300, stopped at its 16th evaluation, 4
        # sooner than as a decline from the start), from its onset within the early part
        assert alert.onset_step <= 3 * EVERY or (
            alert.onset_step < EARLY_FRACTION * planned and "after a flat stretch" in alert.message)
    # Without the plan, live it is the same data as a dip still falling: no stop on these
    # 30-evaluation runs (the windows a from-start decline must last never fill).
    assert all(first_stop(steady_decline(seed, n), None)[0] is None for seed in range(20))


def test_a_dip_that_is_over_by_the_early_part_is_not_an_overfit():
    n = 30
    planned = (n - 1) * EVERY
    stopped = sum(first_stop(early_dip(seed, n), planned)[0] is not None for seed in range(20))
    assert stopped <= 1  # measured 0 of 20


def test_a_fall_after_the_early_part_is_never_announced_as_a_disruption():
    """A late decline after a flat stretch (21 evaluations, 7 noise sds from the 14th on) is an
    overfit or nothing yet, not a disruption: with a plan the monitor knows the fall began after
    the early part. Where the first evaluation read high, the level sits below it all along;
    the fall began where the level was last not significantly below the start."""
    late = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        t = np.arange(21)
        values = np.where(t < 14, 0.6, 0.6 - 0.07 * (t - 13) / 7) + rng.normal(0, 0.01, t.size)
        monitor = PhaseMonitor(metric="eval/accuracy", planned_steps=20 * EVERY)
        for i, value in enumerate(values):
            late += [(seed, a.step) for a in monitor.update(i * EVERY, {"eval/accuracy": float(value)})
                     if a.event == "disruption" and a.step >= EARLY_FRACTION * 20 * EVERY]
    assert late == []


def test_a_sparse_rise_of_a_loss_from_its_first_evaluation_is_one_overfit_not_a_disruption_first():
    """A held-out loss rising steadily from its first evaluation over 14 evaluations of a
    planned run (wandb-arol-chatbot-evalloss's shape): the offline detector refitted live calls
    it an overfit from the start on the 8th evaluation and confirms it on the 9th. The level
    test said "disruption" on the 8th, in between (a user reads "wait for readaptation"), then
    the overfit; now the one alert is the overfit, on the evaluation the refit confirms it."""
    steps = list(range(200, 2801, 200))
    for seed in range(10):
        rng = np.random.default_rng(seed)
        monitor = PhaseMonitor(metric="eval/loss", direction="min", planned_steps=2800)
        found = [(a.event, a.step, a.onset_step) for i, step in enumerate(steps)
                 for a in monitor.update(step, {"eval/loss": 0.32 + 0.017 * i + rng.normal(0, 0.006)})]
        assert found == [("overfit", 1800, 200)], (seed, found)


@pytest.mark.parametrize("config, expected", [
    ({"max_steps": 500}, 500),
    ({"max_steps": -1, "steps": 300}, 300),  # HF sets -1 when epochs set the length
    ({"trainer": {"total_training_steps": 120}}, 120),  # verl, nested
    ({"trainer.total_training_steps": "120"}, 120),  # flattened, a string (MLflow params)
    ({"max_steps": 2000.0}, 2000),
    ({}, None),
    ({"max_steps": True}, None),
    ({"max_steps": "many"}, None),
    ({"max_steps": 0.5}, None),
])
def test_the_planned_length_is_read_from_a_trainers_config(config, expected):
    assert planned_steps(config) == expected


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_a_planned_length_must_be_a_positive_step(bad):
    with pytest.raises(ValueError, match="planned_steps"):
        MonitorConfig(planned_steps=bad)


def write_run(folder: Path, values: np.ndarray, config: dict) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "metrics.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"step": i * EVERY, "eval/accuracy": round(float(value), 6)}) + "\n" for i, value in enumerate(values))
    (folder / "run.json").write_text(json.dumps({
        "schema_version": 1, "name": "t", "performance_metric": "eval/accuracy",
        "direction": "max", "config": config}), encoding="utf-8")
    return folder


def test_watch_reads_the_plan_from_the_log_or_the_option(tmp_path, capsys):
    values = steady_decline(0)
    planned = (values.size - 1) * EVERY
    with_plan = write_run(tmp_path / "planned", values, {"steps": planned})
    without = write_run(tmp_path / "unplanned", values, {})
    assert main(["watch", str(with_plan), "--stop-on", "overfit"]) == 1
    out = capsys.readouterr().out
    assert "overfit" in out and "an overfit from the run's start" in out
    assert main(["watch", str(without), "--stop-on", "overfit"]) == 0
    out = capsys.readouterr().out  # no overfit alert; the disruption says what tells them apart
    assert "  overfit  " not in out and "give the run's planned length (--planned-steps)" in out
    assert main(["watch", str(without), "--stop-on", "overfit",
                 "--planned-steps", str(planned)]) == 1
    capsys.readouterr()
    assert main(["watch", str(without), "--planned-steps", "0"]) == 2
    assert "planned_steps must be a positive step" in capsys.readouterr().err



def test_watch_says_when_the_run_went_past_the_planned_steps_it_was_given(tmp_path, capsys):
    """A --planned-steps shorter than the run judges "early" against the wrong length: the
    watch says so at the end (trial 29), and says nothing when the plan held."""
    run = write_run(tmp_path / "run", early_dip(0), {})
    last = (early_dip(0).size - 1) * EVERY
    assert main(["watch", str(run), "--planned-steps", str(last // 2)]) == 0
    err = capsys.readouterr().err
    assert f"went on past --planned-steps {last // 2} (to step {last})" in err
    assert main(["watch", str(run), "--planned-steps", str(last)]) == 0
    assert "went on past" not in capsys.readouterr().err



def test_analyze_says_when_the_run_went_past_the_planned_steps_it_was_given(tmp_path, capsys):
    """Trial 61: `analyze --planned-steps 100` of a 590-step log said nothing, where `watch`
    warns: the plan judges what is early (a fall not recovered, a held-out loss rising from the
    start) in analyze too. Said in the same words, in the text and the JSON, and by
    phasewatch.analyze; nothing when the plan held."""
    import json

    import phasewatch

    run = write_run(tmp_path / "run", early_dip(0), {})
    last = (early_dip(0).size - 1) * EVERY
    said = f"the run went on past --planned-steps {last // 2} (to step {last})"
    assert main(["analyze", str(run), "--planned-steps", str(last // 2)]) == 0
    assert f"warning: {said}" in capsys.readouterr().out
    assert main(["analyze", str(run), "--planned-steps", str(last // 2), "--format", "json"]) == 0
    assert any(w.startswith(said) for w in json.loads(capsys.readouterr().out)["runs"][0]["warnings"])
    assert any(w.startswith(said) for w in phasewatch.analyze(run, planned_steps=last // 2).warnings)
    assert main(["analyze", str(run), "--planned-steps", str(last)]) == 0
    assert "went on past" not in capsys.readouterr().out

def test_planned_steps_on_a_console_log_without_steps_is_said_in_its_epochs(tmp_path, capsys):
    """An HF console log without the INFO banner counts its steps as epoch x 10,000 (trial 30:
    --planned-steps 296, the run's max_steps, ended with 'to step 493300', a step shown nowhere
    else, and 49.33, the epoch shown, was refused as 'invalid int value')."""
    losses = [1.506, 1.434, 1.447, 1.464, 1.4925, 1.522, 1.549, 1.552]
    epochs = ["6.167", "12.33", "18.5", "24.67", "30.83", "37", "43.17", "49.33"]
    log = tmp_path / "console.log"
    log.write_text("".join(
        f"{{'loss': '1.3', 'grad_norm': '1.0', 'learning_rate': '0.0008', 'epoch': '{e}'}}\n"
        f"{{'eval_loss': '{v}', 'eval_runtime': '0.05', 'eval_samples_per_second': '900', "
        f"'eval_steps_per_second': '30', 'epoch': '{e}'}}\n" for v, e in zip(losses, epochs)))
    assert main(["watch", str(log), "--planned-steps", "296"]) == 0
    err = capsys.readouterr().err
    assert "step 493300" not in err
    assert ("went on past --planned-steps 296, which this log, whose steps count epoch x "
            "10,000, reads as epoch 0.0296 (the run reached epoch 49.33)") in err
    assert "give the planned epochs x 10,000 (--planned-steps 493300 for 49.33 epochs)" in err
    with pytest.raises(SystemExit) as refused:
        main(["watch", str(log), "--planned-steps", "49.33"])
    assert refused.value.code == 2
    assert "give 493300 for 49.33 epochs" in capsys.readouterr().err


def slow_dip(seed: int, n: int = 200, sd: float = 0.01) -> np.ndarray:
    """Flat for 20 evaluations, a fall of 15 noise sds over the next 30 that eases in, then a
    slow recovery to 5 sds above the start (a power-law readaptation): no overfit anywhere."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    fall = np.clip((t - 20) / 30, 0, 1) ** 0.8
    recovery = np.clip((t - 50) / 100, 0, 1) ** 0.5
    return 0.5 - 15 * sd * fall + 20 * sd * recovery + rng.normal(0, sd, n)


def test_a_fall_after_a_flat_start_within_the_early_part_is_a_dip_not_a_late_decline():
    """Held-out power-law family: a dip that eases in after a flat start was stopped as an
    overfit "after a flat stretch" even with the plan (dense dip_recover false stops 0.35).
    With the plan, a fall that starts within the run's early part is a disruption (DESIGN.md:
    a disruption is early). Without it, such a dip is the same data as a late decline."""
    planned = 199 * EVERY
    assert sum(first_stop(slow_dip(seed), planned)[0] is not None for seed in range(20)) == 0
    # measured 16 of 20 before (with the plan or without)
    assert sum(first_stop(slow_dip(seed), None)[0] is not None for seed in range(20)) >= 10
