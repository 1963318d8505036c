"""`phasewatch preflight` on a tiny GPT-2 saved to disk with its tokenizer (no downloads)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from capture_tiny import random_strings, reference_logprobs, tiny_model, tiny_tokenizer

from phasewatch.capture import encode_examples, read_examples
from phasewatch.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-lm")
    tiny_model(seed=3, n_positions=24).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def expert(tmp_path):
    rows = [{"prompt": p, "completion": c} for p, c in zip(random_strings(6, 4, seed=1), random_strings(6, 8, seed=2))]
    rows.append({"messages": [{"role": "user", "content": "ab"}, {"role": "assistant", "content": "cabbage"}]})
    held = [{"prompt": p, "completion": c} for p, c in zip(random_strings(3, 4, seed=3), random_strings(3, 5, seed=4))]
    return write_jsonl(tmp_path / "expert.jsonl", rows), write_jsonl(tmp_path / "held.jsonl", held)


def test_preflight_json_matches_an_independent_computation(model_dir, expert, capsys):
    data, held = expert
    assert main(["preflight", "--model", str(model_dir), "--data", str(data), "--heldout", str(held),
                 "--format", "json", "--top", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema_version"] == 1
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    examples = read_examples(data) + read_examples(held, "heldout")
    encoded, _ = encode_examples(examples, tok, 24)
    for split in ("train", "heldout"):
        chosen = [e for e in encoded if e.split == split]
        lp = reference_logprobs(model, chosen).astype(np.float64)
        stats = report["splits"][split]
        assert stats["n_tokens"] == lp.size and stats["n_sequences"] == len(chosen)
        assert stats["nll"] == pytest.approx(-lp.mean(), abs=1e-5)
        assert stats["divergent_share"] == pytest.approx((np.exp(lp) < 0.05).mean())
        assert stats["phi_mass"] == pytest.approx((np.exp(lp) * (1 - np.exp(lp))).mean(), abs=1e-6)
    worst = report["top_sequences"][0]
    per_seq = {e.id: -reference_logprobs(model, [e]).mean() for e in encoded}
    assert worst["id"] == max(per_seq, key=per_seq.get)
    assert worst["nll"] == pytest.approx(per_seq[worst["id"]], abs=1e-5)
    assert len(report["top_tokens"]) == 3 and all(isinstance(t["token"], str) for t in report["top_tokens"])
    chat = next(e for e in encoded if e.id == "train-7")
    assert tok.decode(list(chat.ids[chat.n_prompt:])) == "cabbage<eos>"  # the answer + end of turn
    expected = report["expected_disruption"]
    assert expected is not None and expected["n"] >= 10 and expected["low"] <= expected["depth"] <= expected["high"]


def test_preflight_text_prints_the_calibration(model_dir, expert, capsys):
    data, _ = expert
    assert main(["preflight", "--model", str(model_dir), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "most divergent sequences" in out and "most divergent tokens" in out
    assert "calibration: Spearman rho =" in out and "n = " in out and "caveat" in out


def test_bad_inputs_exit_3_with_file_and_line(model_dir, tmp_path, capsys):
    good = write_jsonl(tmp_path / "ok.jsonl", [{"prompt": "ab", "completion": "cd"}])
    assert main(["preflight", "--model", str(tmp_path / "nope"), "--data", str(good)]) == 3
    assert "no such model folder" in capsys.readouterr().err
    vit = tmp_path / "vit"
    vit.mkdir()
    transformers.ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                           intermediate_size=8).save_pretrained(vit)
    assert main(["preflight", "--model", str(vit), "--data", str(good)]) == 3
    assert "not a causal language model" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "ab", "completion": "cd"}, "{not json", "[1]"])
    assert main(["preflight", "--model", str(model_dir), "--data", str(bad)]) == 3
    assert f"{bad}:2: invalid JSON" in capsys.readouterr().err
    nofield = write_jsonl(tmp_path / "nofield.jsonl", [{"prompt": "ab"}])
    assert main(["preflight", "--model", str(model_dir), "--data", str(nofield)]) == 3
    assert f"{nofield}:1:" in capsys.readouterr().err
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"prompt": "ab", "completion": ""}])
    assert main(["preflight", "--model", str(model_dir), "--data", str(empty)]) == 3
    assert "no expert example has a completion token" in capsys.readouterr().err


def test_long_and_empty_examples_are_counted_in_warnings(model_dir, tmp_path, capsys):
    rows = [{"prompt": "ab", "completion": "c" * 40}, {"prompt": "a" * 30, "completion": "bb"},
            {"prompt": "ab", "completion": ""}, {"prompt": "ab", "completion": "cd"}]
    data = write_jsonl(tmp_path / "x.jsonl", rows)
    assert main(["preflight", "--model", str(model_dir), "--data", str(data), "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["n_sequences"] == 3
    assert "2 sequence(s) longer than the model's context (24 tokens) truncated" in captured.err
    assert f"1 example(s) with an empty completion left out, e.g. {data}:3" in captured.err
    assert report["n_tokens"] == 22 + 1 + 2  # 24 - 2 prompt tokens; the prompt cut to 23 + 1


def test_without_torch_the_error_says_what_to_install(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "from phasewatch.cli import main\n"
            f"sys.exit(main(['preflight', '--model', {str(tmp_path)!r}, '--data', 'x.jsonl']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 3
    assert "pip install 'phasewatch[capture]'" in done.stderr and "Traceback" not in done.stderr
