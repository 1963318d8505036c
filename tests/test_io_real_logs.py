"""Every file in ../shared/real_logs reads correctly (known step counts, known values)."""

from pathlib import Path

import numpy as np
import pytest

from phasewatch.io import read_run

REAL = Path(__file__).resolve().parents[2] / "shared" / "real_logs"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real_logs is not here")


def test_verl_console_log():
    [path] = list((REAL / "verl_ppo_qwen05b").glob("*.log"))
    run = read_run(path)
    assert run.format == "verl_console"
    assert run.n_records == 437 and run.steps.tolist() == list(range(435))  # 435 steps, 2 dicts
    assert len(run.metrics) == 42 and run.warnings == [] and run.events == []
    assert run.series("critic/score/mean")[9] == 0.031
    val = run.series("val/test_score/openai/gsm8k")
    # the validations the step lines log (steps 9 ... 429), and the two verl pprints before
    # the first update and after the last (`Initial` / `Final validation metrics`), under the
    # step lines' name, at full precision
    assert len(val) == 45 and val.index[0] == 0 and val.index[-1] == 434
    assert val[9] == 0.013 and val[429] == 0.543
    assert val[0] == 0.0007621951219512195 and val[434] == 0.5685975609756098
    assert run.series("actor/entropy_loss")[434] == 0.066
    assert run.series("response_length/mean")[434] == 272.527
    # roles: the old verl names map onto the canonical ones
    assert run.resolve_metric("eval/accuracy") == "val/test_score/openai/gsm8k"
    assert run.resolve_metric("train/reward") == "critic/score/mean"
    assert run.resolve_metric("train/entropy") == "actor/entropy_loss"
    assert run.resolve_metric("train/kl") == "critic/kl"


def test_trl_grpo_training_logs():
    run = read_run(REAL / "trl_grpo_unsloth" / "training_logs.json")
    assert run.format == "trainer_state"
    assert run.n_records == 50 and run.steps.tolist() == list(range(5, 251, 5))
    assert run.series("reward")[5] == 0.6202375590801239
    assert run.series("reward")[250] == 0.2743660032749176
    assert run.series("completions/mean_length")[5] == 424.3
    assert run.resolve_metric("train/reward") == "reward"
    assert run.resolve_metric("train/response_length") == "completions/mean_length"
    assert run.resolve_metric("train/kl") == "kl"
    # 80 steps per epoch (epoch 3.125 at step 250)
    assert [(e.name, e.step) for e in run.events] == [("epoch_boundary", s) for s in (80, 160, 240)]


def test_wandb_offline_run_agrees_with_training_logs():
    wandb_run = read_run(REAL / "wandb_offline_grpo")
    assert wandb_run.format == "wandb" and wandb_run.name == "vsr-250steps-16ep"
    assert wandb_run.n_records == 2602
    assert len(wandb_run.series("train/reward")) == 50
    trainer = read_run(REAL / "trl_grpo_unsloth" / "training_logs.json")
    shared = [m for m in trainer.metrics if f"train/{m}" in wandb_run.metrics]
    assert len(shared) == 34  # every log_history key: HF's W&B callback adds "train/"
    for metric in shared:
        ours, theirs = trainer.series(metric), wandb_run.series(f"train/{metric}")
        assert ours.index.tolist() == theirs.index.tolist(), metric
        np.testing.assert_allclose(theirs.to_numpy(), ours.to_numpy(), rtol=1e-12, err_msg=metric)


def test_llamafactory_trainer_log():
    run = read_run(REAL / "llamafactory_grpo" / "trainer_log.jsonl")
    assert run.format == "llamafactory"
    assert run.n_records == 202 and run.steps.tolist() == list(range(1, 203))
    # `accuracy` is TRL's `rewards/accuracies`, copied: read under that name
    assert run.metrics == ["elapsed_time", "epoch", "loss", "lr", "rewards/accuracies"]
    assert run.own_name("train/preference_accuracy") == "rewards/accuracies"
    assert run.series("loss")[1] == 0.6491 and run.series("loss")[202] == 0.4962
    assert run.series("elapsed_time")[1] == 63.0 and run.series("elapsed_time")[202] == 2 * 3600 + 30 * 60 + 48
    assert run.series("train/lr")[202] == 1.980392156862745e-07


def test_hf_tensorboard_event_file_matches_its_trainer_state():
    folder = REAL / "hf_tensorboard"
    board = read_run(folder)
    assert board.format == "tensorboard" and board.n_steps == 7
    state = read_run(folder / "trainer_state.json")
    assert state.format == "trainer_state" and state.n_records == 7
    for metric in ("loss", "learning_rate", "epoch", "train_loss"):
        ours, theirs = state.series(metric), board.series(f"train/{metric}")
        assert ours.index.tolist() == theirs.index.tolist()
        np.testing.assert_allclose(theirs.to_numpy(), ours.to_numpy(), rtol=1e-6)  # float32 on disk
    assert board.resolve_metric("train/lr") == "train/learning_rate"
    assert state.events == []  # 16 epochs pass between logged rows: no visible boundary


def test_wandb_summary_json_is_a_one_record_jsonl():
    run = read_run(REAL / "wandb_offline_grpo" / "wandb-summary.json")
    assert run.format == "jsonl" and run.n_records == 1
    assert run.series("train/reward").tolist() == [0.2743660032749176]
