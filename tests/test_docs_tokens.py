"""Every python code block of docs/tokens.md runs, in order, in one namespace.

Run in a temporary folder where `sample_logs` points at the repository's sample runs. The TRL
example says "given `model`, `tokenizer`, a dataset `data` and your expert pairs": those names
are provided by the test as the tiny in-process GPT-2 and tokenizer of tests/capture_tiny.py
(no downloads); everything else is the docs' own code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "tokens.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_docs_have_the_examples():
    code = "\n".join(blocks())
    assert "store.logprobs(step=100" in code and "ExpertLogprobCallback" in code and "top_changes" in code


def test_every_python_block_runs(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    from capture_tiny import random_strings, tiny_model, tiny_tokenizer

    (tmp_path / "sample_logs").symlink_to(ROOT / "sample_logs")
    monkeypatch.chdir(tmp_path)
    namespace = {
        "model": tiny_model(seed=0), "tokenizer": tiny_tokenizer(),
        "data": datasets.Dataset.from_dict({"text": random_strings(8, 8)}),
        "train_pairs": list(zip(random_strings(4, 3, seed=1), random_strings(4, 6, seed=2))),
        "heldout_pairs": list(zip(random_strings(2, 3, seed=3), random_strings(2, 6, seed=4))),
    }
    for number, code in enumerate(blocks(), 1):
        try:
            program = compile(code, f"{DOC.name} python block {number}", "exec")
            exec(program, namespace)  # noqa: S102 - the docs' own code
        except Exception as exc:  # name the block in the failure
            raise AssertionError(f"docs/tokens.md python block {number} fails: {exc!r}") from exc
    assert (tmp_path / "sft-run" / "expert_logprobs" / "step_00000000.npy").is_file()
    assert (tmp_path / "my-run" / "expert_logprobs" / "index.json").is_file()
    assert os.path.samefile(tmp_path / "sample_logs", ROOT / "sample_logs")
