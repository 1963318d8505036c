"""The note on a run first seen after training began speaks in its metric's direction and gives
its metric's advice (trial 32b finding 13): hf-donut's eval_loss read "a fall in the first 50 steps
would not show and the rise may be a recovery" (a loss improves by falling), and
trl-grpo-gemma3's GRPO reward, scored on training batches, was told to set eval_on_start=True
(there is no evaluation to start with)."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch import analyze
from phasewatch.run import Run

# a held-out accuracy first evaluated at the bottom of the SFT dip (trial 31's sft1)
SFT1 = [0.01, 0.0, 0.015, 0.13, 0.235, 0.28, 0.375, 0.455, 0.515, 0.515, 0.525, 0.56, 0.54, 0.615,
        0.6, 0.605, 0.605, 0.615, 0.62, 0.64, 0.645, 0.65, 0.63, 0.65, 0.64, 0.67, 0.67, 0.63,
        0.645, 0.625]


def _note(metric: str, values, direction: str | None = None, unit: str = "step") -> str:
    steps = 20 + np.arange(len(values), dtype=np.int64) * 20
    run = Run.from_columns({metric: (steps, np.asarray(values, dtype=np.float64))}, "t", "t")
    run.step_unit = unit
    a = analyze(run, metric=metric, direction=direction)
    [note] = [w for w in a.warnings if "after training began" in w]
    return note


def test_a_loss_first_seen_after_training_began_hides_a_rise_and_its_fall_may_be_a_recovery():
    note = _note("eval_loss", [1.0 - v for v in SFT1], direction="min")
    assert ("so a rise before step 20 would not show and the fall may be a recovery "
            "(log it at step 0 too: for a Hugging Face Trainer's evaluations, "
            "eval_on_start=True)") in note
    assert "the rise may be" not in note


def test_an_accuracy_hides_a_fall_and_its_rise_may_be_a_recovery():
    note = _note("eval/accuracy", SFT1)
    assert "so a fall before step 20 would not show and the rise may be a recovery" in note
    assert note.endswith("(log it at step 0 too: for a Hugging Face Trainer's evaluations, "
                         "eval_on_start=True)")


def test_a_stable_baselines3_evaluation_is_told_how_sb3_evaluates_before_training():
    """csv-sb3-dqn-exp01-evalreward-12 (reader trial 46): EvalCallback's reward was told of the
    Hugging Face Trainer's eval_on_start, which SB3 has no counterpart of."""
    note = _note("eval/mean_reward", SFT1)
    assert "eval_on_start" not in note
    assert note.endswith("(log it at step 0 too: Stable-Baselines3's EvalCallback first "
                         "evaluates after eval_freq steps; evaluate_policy(model, eval_env) "
                         "before learn() gives the value before training)")


def test_a_log_counted_in_epochs_says_the_epoch():
    """hfconsole-math-rlvr (trial 35b finding 7): steps that count epoch/10000 said "first
    logged at step 236 ... in the first 236 steps", of a run whose outputs speak in epochs."""
    note = _note("eval/accuracy", SFT1, unit="epoch/10000")
    assert "first logged at epoch 0.002, after training began" in note
    assert "a fall before epoch 0.002 would not show" in note


@pytest.mark.parametrize("metric", ["reward", "train/reward", "critic/score/mean", "Reward"])
def test_a_train_time_reward_is_not_told_to_evaluate_on_start(metric):
    note = _note(metric, SFT1)
    assert "eval_on_start" not in note
    assert note.endswith("(a training metric: log it from the first step too, whose batch the "
                         "model before any update scored; for a Hugging Face Trainer, "
                         "logging_first_step=True)")


def test_a_held_out_metric_of_no_trainer_is_told_to_log_step_0():
    note = _note("val_acc", SFT1)
    assert note.endswith("(log it at step 0 too)")


def test_a_first_record_in_the_runs_first_hundredth_hides_nothing():
    """SFT1's shape first logged at step 5 of 8,705 (a train loss logged every 5 steps of 8,710:
    reader 40a) gets no note; first logged at step 20 of 600 it does (the tests above)."""
    steps = 5 + 300 * np.arange(len(SFT1), dtype=np.int64)
    run = Run.from_columns({"eval/accuracy": (steps, np.asarray(SFT1))}, "t", "t")
    assert not any("after training began" in w for w in analyze(run).warnings)


def test_a_log_that_begins_far_into_the_run_is_told_to_read_the_log_before_it():
    """A QLoRA run resumed from checkpoint-2600 logs its train loss every 10 steps from 2610
    and evaluates from 2700 (hfconsole-phi2-qlora-10ev): "eval_on_start=True" is no help, the
    values before are in the log of the run it resumed. A run whose log begins one interval in
    (the tests above: first record at step 20, every 20) keeps the trainer's advice."""
    evals = 2700 + 100 * np.arange(len(SFT1), dtype=np.int64)
    train = np.arange(2610, int(evals[-1]) + 1, 10, dtype=np.int64)
    run = Run.from_columns({"eval_loss": (evals, 1.0 - np.asarray(SFT1)),
                            "loss": (train, np.linspace(3.0, 2.0, train.size))}, "t", "t")
    [note] = [w for w in analyze(run, metric="eval_loss").warnings if "after training began" in w]
    assert "eval_on_start" not in note
    assert note.endswith("(the log itself begins at step 2610, far into its run (a resume from a "
                         "checkpoint, a later stage): the log of the part before holds the values "
                         "before; read that log too)")
