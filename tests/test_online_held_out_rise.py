"""A held-out loss getting worse while the train loss improves is an overfit live, with no
planned length (`phasewatch.online.held_out_rise`)."""

from __future__ import annotations

import json

from test_watch import run_cli

from phasewatch.online import PhaseMonitor

# the shape of hf-thesis-match-8ev: a step-0 evaluation, the best at the third, then worse at
# each of the next five while the train loss keeps falling
EVAL_AFTER_BEST = [5.781, 3.734, 3.438, 3.578, 4.25, 4.375, 4.562, 4.938]
TRAIN_FALLING = [None, 6.0, 3.641, 2.328, 1.945, 1.563, 1.133, 0.695]
# the shape of lightning-whisper-uk-valwer-15: flat for two epochs, then worse at each
EVAL_FROM_START = [0.4722, 0.4678, 0.4827, 0.5365, 0.578, 0.6057, 0.6354, 0.6615, 0.6743,
                   0.6934, 0.7189, 0.7306, 0.745, 0.7503, 0.7536]


def feed(evals, train, **options):
    """The monitor's alerts on a log with one train-loss record before each evaluation."""
    monitor = PhaseMonitor(metric="eval_loss", direction="min", held_out_loss=True,
                           train_loss="loss", **options)
    alerts = []
    for step, (value, loss) in enumerate(zip(evals, train)):
        if loss is not None:
            alerts += monitor.update(step, {"loss": loss})
        alerts += monitor.update(step, {"eval_loss": value})
    return monitor, alerts


def test_a_rise_after_the_best_beside_a_falling_train_loss_is_stopped_without_a_plan():
    """Without a planned length this run was the start of a longer one and had no alert; the
    offline detector on its values says improvement > overfit, and the train loss kept
    improving over the rise: a stop, at the best checkpoint analyze recommends."""
    monitor, alerts = feed(EVAL_AFTER_BEST, TRAIN_FALLING)
    overfits = [a for a in alerts if a.event == "overfit"]
    assert len(overfits) == 1 and monitor.should_stop and monitor.best_step == 2
    assert ("eval_loss has got worse since its best, 3.438 at step 2: now 4.938, 1.5 above it, "
            "while loss improved from 4.821 to 1.133: a held-out loss getting worse as the train "
            "loss improves is an overfit") in overfits[0].message  # as docs/monitoring.md quotes
    assert "planned run" not in overfits[0].message


def test_the_same_rise_beside_a_train_loss_that_does_not_improve_is_not():
    """The train loss is the evidence: beside one that stays flat (or a run with none) the
    same values are still judged as the start of a longer run."""
    flat = [None] + [1.0 + 0.01 * (i % 2) for i in range(7)]
    monitor, alerts = feed(EVAL_AFTER_BEST, flat)
    assert not monitor.should_stop and not [a for a in alerts if a.event == "overfit"]
    plain = PhaseMonitor(metric="eval_loss", direction="min")
    for step, value in enumerate(EVAL_AFTER_BEST):
        plain.update(step, {"eval_loss": value})
    assert not plain.should_stop


def test_a_rise_from_the_start_is_left_to_the_plan():
    """A rise from the first evaluation is, live, also a held-out loss's disruption still under
    way (one that recovers: `analyze` names it disruption, readaptation): without the planned
    length it stays a disruption, with it an overfit past the run's early part."""
    train = [0.54 * 0.75**i for i in range(len(EVAL_FROM_START))]
    monitor, alerts = feed(EVAL_FROM_START, train)
    assert [a.event for a in alerts] == ["disruption"] and not monitor.should_stop
    planned, alerts = feed(EVAL_FROM_START, train, planned_steps=len(EVAL_FROM_START) - 1)
    assert planned.should_stop and "overfit" in [a.event for a in alerts]


def test_the_state_keeps_the_train_levels_and_an_older_one_loads():
    """Saved and restored mid-run, the monitor stops where one run through does; a version 11
    state (no train levels at the evaluations) loads with none."""
    whole, _ = feed(EVAL_AFTER_BEST, TRAIN_FALLING)
    half, _ = feed(EVAL_AFTER_BEST[:5], TRAIN_FALLING[:5])
    state = half.state_dict()
    assert state["version"] == 12 and len(state["train_loss"]["at_evaluations"]) >= 3
    resumed = PhaseMonitor(metric="eval_loss", direction="min", held_out_loss=True,
                           train_loss="loss")
    resumed.load_state_dict(json.loads(json.dumps(state)))
    for step in range(5, len(EVAL_AFTER_BEST)):
        resumed.update(step, {"loss": TRAIN_FALLING[step]})
        resumed.update(step, {"eval_loss": EVAL_AFTER_BEST[step]})
    assert resumed.should_stop and resumed.best_step == whole.best_step == 2
    old = {**state, "version": 11,
           "train_loss": {k: v for k, v in state["train_loss"].items() if k != "at_evaluations"}}
    loaded = PhaseMonitor(metric="eval_loss", direction="min", held_out_loss=True,
                          train_loss="loss")
    loaded.load_state_dict(old)
    assert loaded.state_dict()["train_loss"]["at_evaluations"] == []


def test_watch_follows_the_train_loss_of_the_log(tmp_path, capsys):
    """`watch` on the log such a run writes: the overfit alert names the train loss."""
    log = tmp_path / "log.jsonl"
    rows = []
    for step, (value, loss) in enumerate(zip(EVAL_AFTER_BEST, TRAIN_FALLING)):
        if loss is not None:
            rows.append({"step": step, "loss": loss})
        rows.append({"step": step, "eval_loss": value})
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run_cli(capsys, log, "--metric", "eval_loss")
    assert code == 0 and "overfit" in out and "while loss improved from" in out, (out, err)
    assert "live best at step 2" in err, err


def test_a_bad_second_reading_is_no_rise_to_fall_from():
    """A held-out loss rising from the start whose second evaluation read high (a disruption
    of phasewatch.synth's three_phase_loss kind): the refit read the way back from that one
    reading as a rise and the disruption as an overfit from step 15."""
    evals = [1.623, 1.724, 1.635, 1.621, 1.635, 1.646, 1.666, 1.639, 1.650, 1.626, 1.631, 1.643,
             1.666, 1.676, 1.687, 1.658, 1.660, 1.644, 1.672, 1.699, 1.718, 1.717, 1.725, 1.724,
             1.718, 1.746, 1.755, 1.769]
    train = [1.5 - 0.01 * i for i in range(len(evals))]
    monitor, alerts = feed(evals, train)
    assert "overfit" not in [a.event for a in alerts] and not monitor.should_stop


# the shape of wandb-klue-topic-6ev: planned to 6 evaluations, a held-out loss worse from the
# first and held over the last two, one train-loss reading before each evaluation
EVAL_SPARSE_RISE = [0.5985, 0.6731, 0.6842, 0.7282, 0.7315, 0.7297]
TRAIN_SPARSE = [0.9292, 0.6819, 0.734, 0.518, 0.4976, 0.5198]


def test_a_sparse_planned_run_whose_rise_from_the_start_never_recovers_is_stopped():
    """Planned to 6 evaluations, the run ends within the warm-up, where no disruption is said
    and `unrecovered_overfit` had no trough to judge from; and the values after a fifth of the
    plan are not each worse (the last two hold). `analyze` names the whole run an overfit from
    the start (8.8 noise sds) beside the train loss that fell 0.93 -> 0.52; live the refit now
    judges it as that rule does, the train loss read as `analyze` reads it."""
    monitor, alerts = feed(EVAL_SPARSE_RISE, TRAIN_SPARSE, planned_steps=5)
    overfits = [a for a in alerts if a.event == "overfit"]
    assert len(overfits) == 1 and monitor.should_stop and monitor.best_step == 0
    assert "an overfit from the run's start (step 0), past the early part of the planned run" \
        in overfits[0].message
    # beside a train loss that does not improve the same rise stays unjudged (a disruption)
    _, flat = feed(EVAL_SPARSE_RISE, [0.6 + 0.01 * (i % 2) for i in range(6)], planned_steps=5)
    assert not [a for a in flat if a.event == "overfit"]
