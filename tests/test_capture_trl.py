"""ExpertLogprobCallback inside real TRL trainers (SFTTrainer, GRPOTrainer) on CPU.

A tiny GPT-2 from a config and an in-process character tokenizer (tests/capture_tiny.py): no
downloads. Each trainer runs twice with the same seed, with and without the callback: the
stored log-probs must equal an independent per-sequence computation (to 1e-4, float32 store)
at step 0 (the untrained model, rebuilt from the same seed) and at the last step (the trained
model), and the training must be unchanged by the callback (same losses, same final weights).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")
trl = pytest.importorskip("trl")

from capture_tiny import random_strings, reference_logprobs, tiny_model, tiny_tokenizer

from phasewatch import read_run
from phasewatch.callbacks.hf_logprobs import ExpertLogprobCallback
from phasewatch.capture import CaptureConfig, make_examples
from phasewatch.tokens import open_store

COMMON = {"report_to": [], "use_cpu": True, "disable_tqdm": True, "seed": 0,
          "dataloader_num_workers": 0, "bf16": False, "gradient_checkpointing": False,
          "save_strategy": "no", "logging_steps": 1}


def probe():
    pairs = list(zip(random_strings(6, 3, seed=5), random_strings(6, 6, seed=6)))
    chats = [[{"role": "user", "content": p}, {"role": "assistant", "content": c}]
             for p, c in zip(random_strings(3, 4, seed=7), random_strings(3, 5, seed=8))]
    return make_examples(pairs) + make_examples(chats, split="heldout")


def final_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def losses(trainer, key):
    return [row[key] for row in trainer.state.log_history if key in row]


def check_store(callback, trainer, steps_expected):
    store = open_store(callback.store)
    assert store.steps.tolist() == steps_expected
    assert store.splits == ["train", "heldout"]
    encoded = callback.capture.encoded
    first = np.asarray(store.logprobs(step=0))
    np.testing.assert_allclose(first, reference_logprobs(tiny_model(seed=0), encoded), atol=1e-4)
    last = np.asarray(store.logprobs(step=steps_expected[-1]))
    np.testing.assert_allclose(last, reference_logprobs(trainer.model, encoded), atol=1e-4)
    assert np.abs(last - first).max() > 1e-3  # the model did change between the two
    assert (callback.store / "step_00000000.npy").is_file()
    assert (callback.store / "token_ids.npy").is_file()


def named_algorithm(trainer, folder):
    """The algorithm `read_run` names for the trainer's own trainer_state.json (HF's writer)."""
    trainer.state.save_to_json(str(folder / "trainer_state.json"))
    return read_run(folder / "trainer_state.json").algorithm


def run_sft(tmp_path, with_callback):
    tok = tiny_tokenizer()
    data = datasets.Dataset.from_dict({"text": random_strings(16, 8)})
    callbacks = []
    if with_callback:
        callbacks = [ExpertLogprobCallback(probe(), every=3, config=CaptureConfig(dtype="float32", batch_size=4))]
    args = trl.SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=7, per_device_train_batch_size=4,
                         learning_rate=1e-2, max_length=16, **COMMON)
    trainer = trl.SFTTrainer(model=tiny_model(seed=0), args=args, train_dataset=data,
                             processing_class=tok, callbacks=callbacks)
    trainer.train()
    return trainer, callbacks


def test_sft_trainer_stores_exact_logprobs_and_trains_the_same(tmp_path):
    plain, _ = run_sft(tmp_path / "plain", False)
    trainer, (callback,) = run_sft(tmp_path / "with", True)
    check_store(callback, trainer, [0, 3, 6, 7])  # step 0, every 3, and the end
    assert named_algorithm(plain, tmp_path) == "sft"  # from TRL's mean_token_accuracy
    assert losses(trainer, "loss") == losses(plain, "loss") and len(losses(plain, "loss")) == 7
    for name, value in final_state(plain.model).items():
        assert torch.equal(value, final_state(trainer.model)[name]), name


def frac_a(completions, **kwargs):
    return [c.count("a") / max(len(c), 1) for c in completions]


def run_grpo(tmp_path, with_callback):
    tok = tiny_tokenizer()
    prompts = datasets.Dataset.from_dict({"prompt": random_strings(8, 4, "bcdefghij")})
    callbacks = []
    if with_callback:
        callbacks = [ExpertLogprobCallback(probe(), every=1, config=CaptureConfig(dtype="float32"))]
    args = trl.GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=2, per_device_train_batch_size=8,
                          num_generations=4, max_completion_length=6, learning_rate=1e-2, beta=0.0,
                          **COMMON)
    trainer = trl.GRPOTrainer(model=tiny_model(seed=0), args=args, train_dataset=prompts,
                              processing_class=tok, reward_funcs=frac_a, callbacks=callbacks)
    trainer.train()
    return trainer, callbacks


def test_grpo_trainer_stores_exact_logprobs_and_trains_the_same(tmp_path):
    plain, _ = run_grpo(tmp_path / "plain", False)
    trainer, (callback,) = run_grpo(tmp_path / "with", True)
    check_store(callback, trainer, [0, 1, 2])
    assert named_algorithm(plain, tmp_path) == "grpo"  # from TRL's reward_std
    assert losses(trainer, "reward") == losses(plain, "reward") and len(losses(plain, "reward")) == 2
    assert losses(trainer, "loss") == losses(plain, "loss")
    for name, value in final_state(plain.model).items():
        assert torch.equal(value, final_state(trainer.model)[name]), name


def test_resumed_trainer_appends_after_the_last_stored_step(tmp_path):
    """A run killed after step 3 (its store has steps 0 and 3) and restarted from a checkpoint
    at step 2: the callback keeps the store and writes only the steps after 3."""
    tok = tiny_tokenizer()
    data = datasets.Dataset.from_dict({"text": random_strings(16, 8)})
    out = tmp_path / "run"

    def trainer_for(max_steps, save):
        cb = ExpertLogprobCallback(probe(), every=3, at_end=False)
        args = trl.SFTConfig(output_dir=str(out), max_steps=max_steps, per_device_train_batch_size=4,
                             learning_rate=1e-2, max_length=16,
                             **{**COMMON, "save_strategy": "steps" if save else "no", "save_steps": 2})
        return trl.SFTTrainer(model=tiny_model(seed=0), args=args, train_dataset=data,
                              processing_class=tok, callbacks=[cb]), cb

    first, cb1 = trainer_for(3, save=True)
    first.train()
    assert open_store(cb1.store).steps.tolist() == [0, 3]
    before = (cb1.store / "step_00000003.npy").read_bytes()
    (cb1.store / "step_00000009.npy.tmp").write_bytes(b"half a write")
    second, cb2 = trainer_for(9, save=True)
    second.train(resume_from_checkpoint=str(out / "checkpoint-2"))
    assert open_store(cb2.store).steps.tolist() == [0, 3, 6, 9]
    assert (cb2.store / "step_00000003.npy").read_bytes() == before  # not rewritten
    assert not (cb2.store / "step_00000009.npy.tmp").exists()
