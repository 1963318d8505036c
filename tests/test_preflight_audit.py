"""`preflight` options a new user gets wrong are usage errors, not internal errors."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from capture_tiny import tiny_model, tiny_tokenizer

from phasewatch.cli import main


def test_a_max_length_beyond_the_models_context_is_a_usage_error(tmp_path, capsys):
    # Was: `--max-length 100` on a model of 24 positions scored a 60-token example past the
    # position table: "internal error (IndexError: index out of range in self)", exit 70.
    model = tmp_path / "tiny-lm"
    tiny_model(seed=3, n_positions=24).save_pretrained(model)
    tiny_tokenizer().save_pretrained(model)
    data = tmp_path / "long.jsonl"
    data.write_text(json.dumps({"prompt": "ab" * 10, "completion": "cab" * 20}) + "\n")
    assert main(["preflight", "--model", str(model), "--data", str(data),
                 "--max-length", "100"]) == 2
    err = capsys.readouterr().err
    assert "--max-length 100" in err and "context of 24 tokens" in err
    # within the context it truncates, as the help says
    assert main(["preflight", "--model", str(model), "--data", str(data),
                 "--max-length", "20", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["context_length"] == 20
