"""PhasewatchCallback with the real TRL trainers on a tiny CPU model (no downloads).

The model is a 1-layer GPT-2 with hidden size 16, randomly initialised from a config; the
tokenizer is a character-level vocabulary built locally and wrapped in
`PreTrainedTokenizerFast`; the data come from `datasets.Dataset.from_dict`.

- `SFTTrainer` really trains and is really evaluated every step; `compute_metrics` reports a
  scripted held-out accuracy (rise, peak, decline, plus noise, as in test_callbacks_hf.py) so
  the test knows where the overfit is, next to TRL's own eval metrics.
- TRL's own evaluation metrics (`eval_mean_token_accuracy`...) reach the callback, also with the
  way TRL trainers before 1.5 logged them (added to a copy of the dict `on_evaluate` gets).
- `GRPOTrainer` really generates and learns from a trivial reward (the fraction of "a" in the
  completion); the callback follows TRL's own logged `reward` through `on_log`.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")
tokenizers = pytest.importorskip("tokenizers")
trl = pytest.importorskip("trl")

from capture_tiny import LETTERS, random_strings
from scripted_eval import N_EVALS, PEAK, ScriptedMetrics

from phasewatch.callbacks.hf import PhasewatchCallback
from phasewatch.online import StopReason

SAVE_STEPS = 7
OPTIONS = {"warmup": 5, "window": 5, "confirm": 2}


def tiny_model_and_tokenizer():
    """Character-level tokenizer (BPE with no merges) and a 1-layer GPT-2, all local."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    vocab = {"<pad>": 0, "<eos>": 1, **{c: i + 2 for i, c in enumerate(LETTERS + " ")}}
    backend = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocab, merges=[], unk_token=None))
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend,
                                                     pad_token="<pad>", eos_token="<eos>")
    config = transformers.GPT2Config(vocab_size=len(vocab), n_embd=16, n_layer=1, n_head=1,
                                     n_positions=32, bos_token_id=1, eos_token_id=1,
                                     pad_token_id=0)
    return transformers.GPT2LMHeadModel(config), tokenizer


COMMON_ARGS = {"report_to": [], "use_cpu": True, "disable_tqdm": True, "seed": 0,
               "dataloader_num_workers": 0, "bf16": False, "gradient_checkpointing": False}


def test_sft_trainer_stops_at_overfit_and_recommends_a_saved_checkpoint(tmp_path):
    model, tokenizer = tiny_model_and_tokenizer()
    data = datasets.Dataset.from_dict({"text": random_strings(16, 8, LETTERS)})
    metrics = ScriptedMetrics()

    callback = PhasewatchCallback(metric="eval/accuracy", options=OPTIONS)
    args = trl.SFTConfig(
        output_dir=str(tmp_path / "out"), max_steps=N_EVALS, per_device_train_batch_size=4,
        per_device_eval_batch_size=4, eval_strategy="steps", eval_steps=1,
        save_strategy="steps", save_steps=SAVE_STEPS, save_total_limit=3, logging_steps=1000,
        learning_rate=1e-3, max_length=16, **COMMON_ARGS)
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=data,
                             eval_dataset=data.select(range(4)), processing_class=tokenizer,
                             compute_metrics=metrics, callbacks=[callback])
    trainer.train()

    step = trainer.state.global_step
    assert PEAK < step < N_EVALS  # stopped after the peak, well before max_steps
    assert metrics.calls == step  # one evaluation per step, each seen by the callback
    assert callback.monitor.should_stop
    assert callback.stop_reason is StopReason.OVERFIT
    assert [a.event for a in callback.alerts][-1] == "overfit"
    assert not callback.monitor.config.no_expert_data  # SFT: expert data (GRPO's test: none)
    assert callback.alerts[-1].step == step  # the stop came from the overfit alert
    assert callback.alerts[0].metric == "eval_accuracy"  # named as the log names it
    assert callback.monitor.resolved_["eval/accuracy"] == "eval_accuracy"  # HF/TRL's own name
    # the whole evaluation dict TRL reported (its own eval metrics too) reached on_evaluate
    last_eval = [row for row in trainer.state.log_history if "eval_accuracy" in row][-1]
    assert {k for k in last_eval if k.startswith("eval_")} <= set(callback.monitor.metrics_seen)
    assert abs(callback.best_step - PEAK) <= 5
    best_saved = callback.best_saved_step
    assert best_saved % SAVE_STEPS == 0  # a step that was saved (save cadence 7, eval cadence 1)
    assert abs(best_saved - PEAK) <= SAVE_STEPS
    assert os.path.isdir(callback.best_checkpoint)
    kept = sorted(int(p.split("-")[1]) for p in os.listdir(tmp_path / "out")
                  if p.startswith("checkpoint-"))  # TRL also writes a model card README.md
    assert best_saved in kept and len(kept) <= 4  # protected from save_total_limit rotation
    assert trainer.state.best_model_checkpoint == callback.best_checkpoint
    # the model really trained under TRL: its real eval loss fell
    losses = [row["eval_loss"] for row in trainer.state.log_history if "eval_loss" in row]
    assert len(losses) == step and losses[-1] < losses[0]


class CopyingLogSFTTrainer(trl.SFTTrainer):
    """SFTTrainer whose `log` adds TRL's metrics to a copy of the logged dict, as every TRL
    trainer did before TRL 1.5 (`logs = {**logs, **metrics}`; some experimental trainers still
    do): `on_evaluate` then gets the evaluation metrics without TRL's own."""

    def log(self, logs, start_time=None):
        super().log(dict(logs), start_time)


@pytest.mark.parametrize("trainer_class", [trl.SFTTrainer, CopyingLogSFTTrainer])
def test_trl_own_eval_metric_can_be_followed(tmp_path, trainer_class):
    model, tokenizer = tiny_model_and_tokenizer()
    data = datasets.Dataset.from_dict({"text": random_strings(16, 8, LETTERS)})
    steps = 12
    callback = PhasewatchCallback(metric="eval/mean_token_accuracy", stop_on=(), options=OPTIONS)
    args = trl.SFTConfig(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=4,
        per_device_eval_batch_size=4, eval_strategy="steps", eval_steps=1, save_strategy="no",
        logging_steps=1000, learning_rate=1e-3, max_length=16, **COMMON_ARGS)
    trainer = trainer_class(model=model, args=args, train_dataset=data,
                            eval_dataset=data.select(range(4)), processing_class=tokenizer,
                            callbacks=[callback])
    trainer.train()

    logged = [row["eval_mean_token_accuracy"] for row in trainer.state.log_history
              if "eval_mean_token_accuracy" in row]
    assert len(logged) == steps  # TRL computed and logged its own metric at every evaluation
    monitor = callback.monitor
    assert monitor.resolved_["eval/mean_token_accuracy"] == "eval_mean_token_accuracy"
    assert monitor.trackers_[0].series.n == steps  # and the callback saw every one of them
    assert monitor.trackers_[0].series.values[-1] == pytest.approx(logged[-1])
    assert not monitor.missing_metrics()


def frac_a(completions, **kwargs):
    """Trivial reward: the fraction of "a" in the completion."""
    return [c.count("a") / max(len(c), 1) for c in completions]


def test_grpo_trainer_reward_is_followed_through_training_logs(tmp_path):
    model, tokenizer = tiny_model_and_tokenizer()
    prompts = datasets.Dataset.from_dict({"prompt": random_strings(16, 4, LETTERS[1:])})
    max_steps = 60
    callback = PhasewatchCallback(metric="train/reward", feed_logs=True,
                                  stop_on=("improvement",), options=OPTIONS)
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "out"), max_steps=max_steps, per_device_train_batch_size=8,
        num_generations=8, max_completion_length=8, logging_steps=1, save_strategy="no",
        learning_rate=1e-2, beta=0.0, **COMMON_ARGS)
    trainer = trl.GRPOTrainer(model=model, args=args, train_dataset=prompts,
                              processing_class=tokenizer, reward_funcs=frac_a,
                              callbacks=[callback])
    trainer.train()

    rewards = [row["reward"] for row in trainer.state.log_history if "reward" in row]
    step = trainer.state.global_step
    assert callback.monitor.resolved_["train/reward"] == "reward"  # TRL's own name, via presets
    assert callback.monitor.trackers_[0].series.n == len(rewards) == step  # fed by on_log
    assert callback.stop_reason is StopReason.IMPROVEMENT
    assert step < max_steps  # the improvement stopped training
    alert = callback.alerts[-1]
    assert (alert.event, alert.metric, alert.step) == ("improvement", "reward", step)  # own name
    assert alert.value == pytest.approx(rewards[-1])  # the value TRL logged at that step
    # the reward really rose (GRPO learnt to write "a"): well above its starting level
    assert np.mean(rewards[-3:]) > np.mean(rewards[:3]) + 0.1
    assert callback.best_step is not None and callback.best_step > 5
    # a policy gradient on its own samples: no expert data, as watch reads the log
    assert callback.monitor.config.no_expert_data
