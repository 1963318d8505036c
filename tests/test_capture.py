"""phasewatch.capture's core on a tiny GPT-2 built from a config (no downloads): padded batches
on either side equal an independent per-sequence computation, bf16 models are upcast, eval mode
and RNG are left as they were, the store resumes and carries token ids; the Lightning callback
and a two-process torch.distributed (gloo) capture write the same values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from capture_tiny import random_strings, reference_logprobs, tiny_model, tiny_tokenizer

from phasewatch.capture import CaptureConfig, ExpertLogprobCapture, make_examples
from phasewatch.tokens import open_store
from phasewatch.tokens.analytics import top_changes
from phasewatch.tokens.ids import read_token_ids


def examples():
    pairs = list(zip(random_strings(7, 3, seed=1), random_strings(7, 9, seed=2)))
    pairs[2] = ("", "abc")  # an empty prompt: scored from the EOS/BOS token
    chats = [[{"role": "user", "content": "abcd"}, {"role": "assistant", "content": "jihgf"}]]
    return make_examples(pairs) + make_examples(chats + [("ab", "cdef")], split="heldout")


@pytest.mark.parametrize("side,batch", [("right", 3), ("left", 4), ("right", 1)])
def test_padded_batches_equal_per_sequence_logprobs(tmp_path, side, batch):
    model, tok = tiny_model(seed=1), tiny_tokenizer()
    model.train()
    model.transformer.h[0].attn.eval()  # a module in its own mode: restored as it was
    cap = ExpertLogprobCapture(examples(), tok, tmp_path / "s",
                               CaptureConfig(batch_size=batch, padding_side=side, dtype="float32"))
    rng_before = torch.random.get_rng_state()
    stored = cap.capture(model, 0)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # no random draws
    assert model.training and not model.transformer.h[0].attn.training and model.transformer.h[0].mlp.training
    assert all(p.grad is None for p in model.parameters())
    reference = reference_logprobs(model, cap.encoded)
    np.testing.assert_allclose(stored, reference, atol=1e-4)
    store = open_store(tmp_path / "s")
    np.testing.assert_allclose(np.asarray(store.logprobs(step=0)), reference, atol=1e-4)
    assert [s.split for s in store.sequences] == ["train"] * 7 + ["heldout"] * 2
    assert store.sequences[2].length == 3  # "" -> "abc": all three tokens scored


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_model_is_upcast_before_log_softmax(tmp_path, dtype):
    model, tok = tiny_model(seed=2).to(getattr(torch, dtype)), tiny_tokenizer()
    cap = ExpertLogprobCapture(examples(), tok, tmp_path / "s", CaptureConfig(dtype="float32", batch_size=1))
    stored = cap.capture(model, 0)
    reference = reference_logprobs(model, cap.encoded)  # half logits, float32 log-softmax
    np.testing.assert_allclose(stored, reference, atol=1e-5)
    with torch.no_grad():  # what a log-softmax in half precision would have stored: visibly different
        in_half = np.concatenate([
            torch.log_softmax(model(torch.tensor(e.ids)[None]).logits[0, :-1], -1)
            .gather(-1, torch.tensor(e.ids)[1:, None])[:, 0][e.n_prompt - 1:].float().numpy()
            for e in cap.encoded])
    assert np.abs(in_half - reference).max() > 1e-3


def test_store_resumes_after_the_last_complete_step_and_names_tokens(tmp_path):
    model, tok = tiny_model(seed=3), tiny_tokenizer()
    cap = ExpertLogprobCapture(examples(), tok, tmp_path / "s")
    cap.capture(model, 0)
    cap.capture(model, 5)
    (tmp_path / "s" / "step_00000010.npy.tmp").write_bytes(b"partial")
    again = ExpertLogprobCapture(examples(), tok, tmp_path / "s")  # a restarted run
    assert again.capture(model, 5) is None  # already stored: skipped
    with torch.no_grad():
        model.lm_head.weight.mul_(3)  # the model moved on
    again.capture(model, 10)
    store = open_store(tmp_path / "s")
    assert store.steps.tolist() == [0, 5, 10] and not store.warnings
    ids = read_token_ids(tmp_path / "s", store.n_tokens)
    assert ids is not None and ids.decode_span(0, 9) == examples()[0].completion
    assert ids.decode_span(store.sequences[7].offset, store.sequences[7].end) == "jihgf<eos>"
    rising = top_changes(store, 0, 10, n=3)["rising"]
    assert rising and all(c.text for c in rising)
    other = ExpertLogprobCapture(examples()[:3], tok, tmp_path / "s")
    with pytest.raises(ValueError, match="cannot resume"):
        other.capture(model, 20)


def test_truncation_to_the_context_is_counted(tmp_path, caplog):
    model, tok = tiny_model(seed=0, n_positions=12), tiny_tokenizer()
    cap = ExpertLogprobCapture([("ab", "c" * 20), ("ab", "")], tok, tmp_path / "s")
    with caplog.at_level("WARNING", logger="phasewatch"):
        cap.capture(model, 0)
    assert cap.encoded[0].n_completion == 10 and len(cap.encoded) == 1
    assert "1 sequence(s) longer than the model's context (12 tokens) truncated" in caplog.text
    assert "1 example(s) with an empty completion left out" in caplog.text


def test_lightning_callback_writes_step_zero_every_n_and_the_end(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    from phasewatch.callbacks.lightning_logprobs import ExpertLogprobLightningCallback

    tok = tiny_tokenizer()
    texts = random_strings(8, 10, seed=4)

    class LM(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = tiny_model(seed=5)

        def training_step(self, batch, _):
            return self.model(input_ids=batch[0], labels=batch[0]).loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    ids = torch.tensor([tok(t)["input_ids"] for t in texts])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(ids), batch_size=4)
    module = LM()
    callback = ExpertLogprobLightningCallback(examples(), tok, tmp_path, every=2,
                                              config=CaptureConfig(dtype="float32"))
    trainer = pl.Trainer(max_steps=5, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[callback])
    trainer.fit(module, loader)
    store = open_store(tmp_path)
    assert store.steps.tolist() == [0, 2, 4, 5]
    np.testing.assert_allclose(np.asarray(store.logprobs(step=0)),
                               reference_logprobs(tiny_model(seed=5), callback.capture.encoded), atol=1e-4)
    np.testing.assert_allclose(np.asarray(store.logprobs(step=5)),
                               reference_logprobs(module.model, callback.capture.encoded), atol=1e-4)


def _distributed_worker(rank, world, folder, port):
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                         world_size=world)
    try:
        cap = ExpertLogprobCapture(examples(), tiny_tokenizer(), folder, CaptureConfig(batch_size=2, dtype="float32"))
        model = tiny_model(seed=6)
        forwards: list[int] = []  # the batch size of each forward pass this rank runs
        model.register_forward_hook(lambda _m, args, kwargs, _out: forwards.append(
            int(kwargs["input_ids"].shape[0] if "input_ids" in kwargs else args[0].shape[0])),
            with_kwargs=True)
        cap.capture(model, 0)
        cap.capture(model, 0)  # already stored: every rank skips it together (no hang)
        with torch.no_grad():
            model.lm_head.weight.mul_(2)
        cap.capture(model, 1)
        torch.distributed.barrier()
        (Path(folder).parent / f"forwards_{rank}.json").write_text(json.dumps(forwards))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_distributed_ranks_split_the_work_and_rank_0_writes(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_distributed_worker, args=(2, str(tmp_path / "s"), port), nprocs=2, join=True)
    store = open_store(tmp_path / "s")
    assert store.steps.tolist() == [0, 1]
    # 9 examples in 5 batches of 2: each rank runs 3 forwards per step (rank 1 repeats one to
    # keep step with rank 0), not 5; together they cover every example once
    per_rank = [json.loads((tmp_path / f"forwards_{r}.json").read_text()) for r in (0, 1)]
    assert [len(f) for f in per_rank] == [6, 6]
    assert sum(per_rank[0][:3]) + sum(per_rank[1][:2]) == len(examples()) == 9
    single = ExpertLogprobCapture(examples(), tiny_tokenizer(), tmp_path / "one", CaptureConfig(dtype="float32"))
    np.testing.assert_allclose(np.asarray(store.logprobs(step=0)), single.capture(tiny_model(seed=6), 0), atol=1e-5)
