"""ExpertLogprobCallback in a real 2-process DDP run of the HF Trainer on CPU (torchrun, gloo):
every rank scores its share of the probe, rank 0 alone writes the store, and the stored values
equal an independent single-process computation (to 1e-4) on the untrained and the trained
model. Slow (two processes importing torch and transformers): `make test-slow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[2])
    import numpy as np, torch, transformers
    from capture_tiny import random_strings, reference_logprobs, tiny_model, tiny_tokenizer
    from phasewatch.callbacks.hf_logprobs import ExpertLogprobCallback
    from phasewatch.capture import CaptureConfig, make_examples

    out = sys.argv[1]
    tok = tiny_tokenizer()
    probe = make_examples(list(zip(random_strings(7, 3, seed=1), random_strings(7, 6, seed=2))))
    probe += make_examples([("ab", "cdef"), ("ba", "ghij")], split="heldout")

    class Texts(torch.utils.data.Dataset):
        ids = [torch.tensor(tok(t)["input_ids"]) for t in random_strings(32, 8)]
        def __len__(self):
            return len(self.ids)
        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "labels": self.ids[i]}

    torch.set_num_threads(1)
    model = tiny_model(seed=0)
    scoring = []  # batch size of each forward pass in eval mode (the capture's, not training's)
    hook = model.register_forward_hook(lambda m, a, kw, o: scoring.append(int(kw["input_ids"].shape[0]))
                                if not m.training else None, with_kwargs=True)
    callback = ExpertLogprobCallback(probe, every=2, config=CaptureConfig(batch_size=2, dtype="float32"))
    args = transformers.TrainingArguments(
        output_dir=out, max_steps=4, per_device_train_batch_size=4, learning_rate=1e-2, seed=0,
        logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
        dataloader_num_workers=0)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Texts(), processing_class=tok,
                                   callbacks=[callback])
    trainer.train()
    hook.remove()
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    result = {"world": world, "scoring": scoring}
    if rank == 0:
        encoded = callback.capture.encoded
        np.save(os.path.join(out, "reference_0.npy"), reference_logprobs(tiny_model(seed=0), encoded))
        np.save(os.path.join(out, "reference_end.npy"), reference_logprobs(trainer.model, encoded))
    with open(os.path.join(out, f"rank_{rank}.json"), "w") as f:
        json.dump(result, f)
    """
)


def test_ddp_ranks_split_the_probe_and_rank_0_writes(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "MASTER_ADDR": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(_free_port()), str(script), str(out), str(TESTS)],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((out / f"rank_{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # 9 examples in 5 batches of 2, captured at steps 0, 2, 4: 3 forwards per rank per step
    # (5 in one process); rank 0 scores batches 0, 2, 4 (2 + 2 + 1 examples), rank 1 batches
    # 1, 3 and a repeat of 1 (kept in step, its result dropped)
    assert [len(r["scoring"]) for r in ranks] == [9, 9]
    assert ranks[0]["scoring"][:3] == [2, 2, 1] and ranks[1]["scoring"][:3] == [2, 2, 2]

    from phasewatch.tokens import open_store

    store = open_store(out / "expert_logprobs")
    assert store.steps.tolist() == [0, 2, 4] and not store.warnings
    assert sorted(p.name for p in (out / "expert_logprobs").glob("*.tmp")) == []
    np.testing.assert_allclose(np.asarray(store.logprobs(step=0)),
                               np.load(out / "reference_0.npy"), atol=1e-4)
    np.testing.assert_allclose(np.asarray(store.logprobs(step=4)),
                               np.load(out / "reference_end.npy"), atol=1e-4)
    assert np.abs(np.load(out / "reference_end.npy") - np.load(out / "reference_0.npy")).max() > 1e-3


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
