"""A `--metric` name in HF Trainer's other spelling (trial 32, finding 8): the Trainer's own logs
(trainer_state.json, MLflow) write `eval_prose_loss`, its W&B / TensorBoard / Trackio callbacks
`eval/prose_loss`. Where the name asked for is absent and its other spelling is there, every
command takes that one and says so once on stderr; otherwise the error with suggestions stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.presets import hf_spelling, hf_spellings


def _callbacks_log(path: Path) -> Path:
    """A Trainer run as its W&B / TensorBoard callbacks name it: `train/loss`, `eval/prose_loss`
    (a held-out loss that falls, then rises)."""
    rows = []
    for k in range(21):
        rows.append({"step": 10 * k, "train/loss": round(2.0 - 0.05 * k, 4)})
        rows.append({"step": 10 * k, "eval/prose_loss": round(0.5 + 0.002 * (k - 8) ** 2
                                                              + 0.001 * (-1) ** k, 4)})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_hf_spellings_are_the_callbacks_rewrite_and_back():
    assert hf_spellings("eval_prose_loss") == ("eval/prose_loss",)
    assert hf_spellings("eval/prose_loss") == ("eval_prose_loss",)
    assert hf_spellings("test/accuracy") == ("test_accuracy",)
    # HF's bare train names get `train/`: its `train_loss` (the final average) is the
    # callbacks' `train/train_loss`, not their `train/loss` (HF's `loss`)
    assert hf_spellings("loss") == ("train/loss",)
    assert hf_spellings("train_loss") == ("train/train_loss",)
    assert hf_spellings("train/grad_norm") == ("grad_norm",)
    assert hf_spelling("eval_prose_loss", {"eval/prose_loss", "train/loss"}) == "eval/prose_loss"
    assert hf_spelling("eval_prose_loss", {"eval/ledger_loss"}) is None


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["analyze", "changepoints", "watch", "plot"])
def test_an_eval_underscore_name_finds_the_callbacks_spelling(command, capsys, tmp_path):
    path = str(_callbacks_log(tmp_path / "wandb_copy.jsonl"))
    extra = ["-o", str(tmp_path / "plot.png")] if command == "plot" else []
    code, out, err = _run(capsys, command, path, "--metric", "eval_prose_loss", *extra)
    assert code == 0, err
    assert err.count("--metric eval_prose_loss: this log names it eval/prose_loss") == 1
    if command != "plot":  # the same answer as under the log's own name
        code, own_out, own_err = _run(capsys, command, path, "--metric", "eval/prose_loss")
        assert code == 0 and out == own_out and "this log names it" not in own_err


def test_a_bare_train_name_finds_the_callbacks_train_slash_name(capsys, tmp_path):
    path = str(_callbacks_log(tmp_path / "wandb_copy.jsonl"))
    code, out, err = _run(capsys, "analyze", path, "--metric", "loss")
    assert code == 0 and "--metric loss: this log names it train/loss" in err
    assert "metric train/loss (min)" in out


def test_no_other_spelling_present_keeps_the_error_with_suggestions(capsys, tmp_path):
    path = str(_callbacks_log(tmp_path / "wandb_copy.jsonl"))
    for name in ("eval_ledger_loss", "train_loss"):  # train_loss: train/train_loss, absent
        code, _, err = _run(capsys, "analyze", path, "--metric", name)
        assert code == 2 and f"no metric '{name}' in this run" in err
        assert "closest first" in err and "this log names it" not in err
    code, _, err = _run(capsys, "watch", path, "--metric", "eval_ledger_loss")
    assert code == 2 and "no metric 'eval_ledger_loss'" in err


def test_the_followed_log_waits_for_the_other_spelling_as_for_the_name(capsys, tmp_path):
    """Live, `eval/prose_loss` makes an `eval_prose_loss` watch ready, as the name would: the
    follow gives the replay's alerts and summary."""
    path = str(_callbacks_log(tmp_path / "wandb_copy.jsonl"))
    code, replayed, _ = _run(capsys, "watch", path, "--metric", "eval_prose_loss",
                             "--format", "jsonl")
    code2, followed, err = _run(capsys, "watch", path, "--metric", "eval_prose_loss",
                                "--format", "jsonl", "--follow", "--idle-exit", "0.5")
    assert code == code2 == 0 and followed == replayed
    assert "no 'eval_prose_loss' in the records" not in err and "no metric" not in err
    assert json.loads(replayed.splitlines()[-1])["metric"] == "eval/prose_loss"
