"""An evaluation logged after training ended (HF's `trainer.evaluate()` after `train()`) is no
point of the training curve (`phasewatch.io.post_training`): with load_best_model_at_end it is the
best checkpoint's, and read as the last step's it made a run that overfits end on a recovery."""

from __future__ import annotations

import json
import os
import textwrap
import time

import numpy as np
import pytest
from wandb_offline import offline_run
from watch_follower import Follower, replay

import phasewatch
from phasewatch import read_run
from phasewatch.io.post_training import PostTrainingEvaluations

BEST = 500


def eval_losses() -> dict[int, float]:
    """Held-out loss every 100 steps: falls to its best at step 500, then rises (an overfit)."""
    rng = np.random.default_rng(0)
    return {s: round(float(0.5 + 0.3 * np.exp(-s / 150) + 0.0002 * max(s - BEST, 0)
                           + rng.normal(0, 0.003)), 4) for s in range(100, 1001, 100)}


def history(after: list[dict] | None = None, last: int = 1000) -> list[dict]:
    """HF log rows up to `last`: train loss every 50 steps, evaluation every 100, the closing
    `train_runtime` row at the end, then `after`."""
    losses, rows = eval_losses(), []
    for s in range(50, last + 1, 50):
        rows.append({"step": s, "epoch": s / 100, "loss": round(2 * np.exp(-s / 300) + 0.1, 4)})
        if s in losses:
            rows.append({"step": s, "epoch": s / 100, "eval_loss": losses[s], "eval_runtime": 1.0})
    if last == 1000:
        rows.append({"step": 1000, "epoch": 10.0, "train_runtime": 100.0, "train_loss": 0.5})
    return rows + (after or [])


def best_again() -> dict:
    """`trainer.evaluate()` after training that loaded its best checkpoint (step 500)."""
    return {"step": 1000, "epoch": 10.0, "eval_loss": eval_losses()[BEST], "eval_runtime": 1.1}


def write_state(path, rows) -> None:
    state = {"global_step": rows[-1]["step"], "max_steps": 1000, "log_history": rows,
             "best_model_checkpoint": f"out/checkpoint-{BEST}"}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)  # as the Trainer saves it


def test_best_checkpoint_evaluated_after_training_is_not_the_last_point(tmp_path):
    path = tmp_path / "trainer_state.json"
    write_state(path, history([best_again()]))
    run = read_run(path)
    losses = eval_losses()
    assert run.series("eval_loss").to_dict() == losses  # the step-1000 value is training's
    a = phasewatch.analyze(path)
    assert [p.name for p in a.phases] == ["improvement", "overfit"]
    assert a.recommended_stop_step == BEST
    note = next(w for w in run.warnings if "after training ended" in w)
    assert f"eval_loss {losses[BEST]:.4g}" in note and f"checkpoint of step {BEST}" in note


def test_followed_state_rewritten_at_each_checkpoint_ends_as_its_replay(tmp_path):
    path = tmp_path / "trainer_state.json"
    write_state(path, history(last=300))
    follower = Follower(path, stop_on=(), idle_exit=1.0)
    follower.wait_for_message("following")
    for last in range(400, 1001, 100):
        time.sleep(0.05)
        write_state(path, history(last=last))
    time.sleep(0.05)
    write_state(path, history([best_again()]))
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=())
    assert followed == replayed
    assert follower.watch.result.best_step == result.best_step == BEST
    assert result.phases == ["improvement", "overfit"]


def test_the_same_evaluation_again_is_said_nowhere(tmp_path):
    """An evaluate() after train() without a best checkpoint loaded: the last evaluation again,
    the same values; the curve is what it was and no warning is needed."""
    path = tmp_path / "trainer_state.json"
    again = {"step": 1000, "epoch": 10.0, "eval_loss": eval_losses()[1000], "eval_runtime": 1.2}
    write_state(path, history([again]))
    run = read_run(path)
    assert run.series("eval_loss").to_dict() == eval_losses()
    assert not any("after training" in w or "logged again" in w for w in run.warnings)


def test_final_models_evaluation_at_a_step_not_evaluated_is_a_point(tmp_path):
    """Training ended at step 1050, between evaluations: the evaluation after it, of the final
    weights (no best loaded: its values are no earlier evaluation's), is the curve's last point."""
    path = tmp_path / "trainer_state.json"
    rows = history(last=950)
    rows += [{"step": 1000, "epoch": 10.0, "loss": 0.11},
             {"step": 1050, "epoch": 10.5, "train_runtime": 100.0, "train_loss": 0.5},
             {"step": 1050, "epoch": 10.5, "eval_loss": 0.6123, "eval_runtime": 1.0}]
    write_state(path, rows)
    series = read_run(path).series("eval_loss")
    assert series.index[-1] == 1050 and series.iloc[-1] == 0.6123


def test_a_quantized_accuracy_equal_to_an_earlier_one_by_chance_is_the_final_models(tmp_path):
    """The final model's evaluation at step 1050 (not evaluated during training): its loss is
    no earlier evaluation's, and its accuracy on 40 examples, 0.65, equals step 700's by
    chance; the accuracy was left out as "the checkpoint of step 700 evaluated again (... the
    best checkpoint ...)" beside its own loss read as the final model's. One evaluation is one
    model's: both are points, in either key order, and fed one metric at a time as
    TensorBoard's events are (the loss first, as the Trainer logs it)."""
    path = tmp_path / "trainer_state.json"
    accuracy = {s: 0.5 + 0.025 * min(s // 100, 6) for s in range(100, 1001, 100)}
    rows = []
    for row in history(last=1000)[:-1]:  # without its end: training goes on to 1050
        if "eval_loss" in row:
            row = {"step": row["step"], "epoch": row["epoch"], "eval_accuracy": accuracy[row["step"]],
                   **{k: v for k, v in row.items() if k not in ("step", "epoch")}}
        rows.append(row)
    rows += [{"step": 1050, "epoch": 10.5, "train_runtime": 100.0, "train_loss": 0.5},
             {"step": 1050, "epoch": 10.5, "eval_accuracy": accuracy[700], "eval_loss": 0.6123,
              "eval_runtime": 1.0}]
    write_state(path, rows)
    run = read_run(path)
    assert run.series("eval_loss").get(1050) == 0.6123
    assert run.series("eval_accuracy").get(1050) == accuracy[700]
    assert not any("after training ended" in w for w in run.warnings), run.warnings
    check = PostTrainingEvaluations()
    for row in rows[:-1]:
        check.kept(row["step"], {f"eval/{k[5:]}" if k.startswith("eval_") else k: v
                                 for k, v in row.items()})
    assert check.kept(1050, {"eval/loss": 0.6123}) and check.kept(1050, {"eval/accuracy": 0.65})
    assert not check.warnings
    # the best checkpoint again, both its values: left out, as before
    best = {"eval/loss": eval_losses()[700], "eval/accuracy": accuracy[700]}
    check = PostTrainingEvaluations()
    for row in rows[:-1]:
        check.kept(row["step"], {f"eval/{k[5:]}" if k.startswith("eval_") else k: v
                                 for k, v in row.items()})
    assert not check.kept(1050, {"eval/loss": best["eval/loss"]})
    assert not check.kept(1050, {"eval/accuracy": best["eval/accuracy"]})
    assert "checkpoint of step 700 evaluated again" in check.warnings[0]


def test_training_again_after_the_end_is_training(tmp_path):
    """`train()` called again after the first ended (more epochs): its evaluations are points,
    the check of the first end is over."""
    path = tmp_path / "trainer_state.json"
    more = [{"step": 1100, "epoch": 11.0, "loss": 0.1},
            {"step": 1100, "epoch": 11.0, "eval_loss": eval_losses()[BEST], "eval_runtime": 1.0}]
    write_state(path, history(more))
    assert read_run(path).series("eval_loss").get(1100) == eval_losses()[BEST]


def test_load_best_model_at_end_in_the_arguments_leaves_out_any_value():
    """Evaluated again on another device, the best checkpoint's values can differ in their last
    digits: the run's arguments, where they say it loaded the best, decide."""
    check = PostTrainingEvaluations(loaded_best=True)
    assert check.kept(500, {"eval_loss": 0.5091, "eval_runtime": 1.0})
    assert check.kept(900, {"eval_loss": 0.5966, "eval_runtime": 1.0})
    assert check.kept(1000, {"train_runtime": 9.0, "train_loss": 0.4})
    assert check.kept(1000, {"eval_loss": 0.50912, "eval_runtime": 1.0}, line=40) == {}
    assert check.warnings == [(
        "line 40: an evaluation logged after training ended (step 1000: eval_loss 0.5091) is the "
        "best checkpoint's, which the run loaded at the end (load_best_model_at_end): left out of "
        "the curve, where it would stand for the model at step 1000")]


def test_hf_console_log_says_it_in_epochs(tmp_path):
    """The same rows printed by the Trainer to a console log with no steps: the note says
    epochs, as every other output of such a log."""
    path = tmp_path / "train.log"
    lines = [repr({k: v for k, v in row.items() if k != "step"})
             for row in history([best_again()])]
    path.write_text("\n".join(lines) + "\n")
    a = phasewatch.analyze(path)
    assert [p.name for p in a.phases] == ["improvement", "overfit"]
    note = next(w for w in a.warnings if "after training ended" in w)
    assert "(epoch 10: eval_loss" in note and "checkpoint of epoch 5" in note


def test_tensorboard_written_by_the_trainers_callback(tmp_path):
    """The same rows through HF's own TensorBoardCallback (`eval/loss`, `train/train_runtime`
    at the global step, one event each): the evaluation after training is left out there too."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    integration = pytest.importorskip("transformers.integrations.integration_utils")
    from transformers import TrainingArguments
    from transformers.trainer_callback import TrainerControl, TrainerState

    callback = integration.TensorBoardCallback(torch_tb.SummaryWriter(str(tmp_path / "runs")))
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[])
    for row in history([best_again()]):
        state = TrainerState(global_step=row["step"])
        callback.on_log(args, state, TrainerControl(), logs={k: v for k, v in row.items()
                                                             if k != "step"})
    callback.tb_writer.close()
    run = read_run(tmp_path / "runs")
    assert run.series("eval/loss").to_dict() == eval_losses()
    a = phasewatch.analyze(tmp_path / "runs", metric="eval/loss")
    assert [p.name for p in a.phases] == ["improvement", "overfit"]
    assert any(f"checkpoint of step {BEST} evaluated again" in w for w in a.warnings)


WANDB_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from transformers import TrainingArguments
    from transformers.integrations.integration_utils import WandbCallback
    from transformers.trainer_callback import TrainerControl, TrainerState

    args = TrainingArguments(output_dir=sys.argv[1], report_to=["wandb"], run_name="pt")
    callback = WandbCallback()
    callback.setup(args, TrainerState(), None)
    for row in json.loads(open(sys.argv[2]).read()):
        state = TrainerState(global_step=row.pop("step"))
        callback.on_log(args, state, TrainerControl(), logs=row)
    callback._wandb.finish()
    """
)


def test_wandb_written_by_the_trainers_callback(tmp_path):
    """HF's WandbCallback writes `train_runtime` to the run summary, not the history, then a
    history row at the last step: that is the end, and the evaluation after it is left out."""
    pytest.importorskip("transformers")
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(history([best_again()])))
    folder = offline_run(WANDB_SCRIPT, tmp_path, str(rows))
    run = read_run(folder)
    assert run.series("eval/loss").to_dict() == eval_losses()
    a = phasewatch.analyze(folder, metric="eval/loss")
    assert [p.name for p in a.phases] == ["improvement", "overfit"]
    assert any(f"checkpoint of step {BEST} evaluated again" in w for w in a.warnings)
