"""Print-statement logs whose items are `name: value`, not `name=value`, after a step token:
nanoGPT-style `step 0 | loss: 11.02 | lr 8.39e-07 | norm: 14.33`,
`Epoch 0 | Step 10/6501 | Loss: 8.24 | PPL: 4455.51 | LR: 5.97e-05`, a logger's
`... INFO - Step 1 loss: 91.0 token_entropy: 1.14`. They were "unknown log format" (files of
3 repositories in the second new-user sweep); prose with a step and a colon stays skipped."""

from __future__ import annotations

import json
import math

import pytest

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format


def _loss(step: int) -> float:
    return 3.3 + 7.7 * math.exp(-step / 40)


def test_nanogpt_style_pipe_fields(tmp_path, capsys):
    """A script's own `step N | loss: X | lr X | norm: X` print (no build-nanogpt timings)."""
    log = tmp_path / "log"
    lines = ["Using device: cuda"]
    lines += [f"step {s:5d} | loss: {_loss(s):.6f} | lr {6e-4 * min(1, (s + 1) / 50):.4e} "
              f"| norm: {1 + 10 / (1 + s):.4f}" for s in range(120)]
    log.write_text("\n".join(lines) + "\n")
    run = read_run(log)
    assert run.format == "kv_console"
    assert {"loss", "lr", "norm"} <= set(run.metrics)
    assert len(run.series("loss")) == 120 and run.series("loss").iloc[0] == round(_loss(0), 6)
    assert run.resolve_metric("train/lr") == "lr"
    assert main(["analyze", "--format", "json", str(log)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "loss"


def test_a_build_nanogpt_fork_logging_through_a_logger_keeps_its_validations(tmp_path):
    """The sweep's file: a build-nanogpt fork whose `logging` prefixes every line. It is
    build-nanogpt's console (`build_nanogpt_console`), read behind the prefix: kv_console took
    its train lines and lost its `validation loss` lines, which name no step."""
    log = tmp_path / "log"
    lines = ["2024-06-14 18:42:27,532 train.py Using device: cuda"]
    for s in range(120):
        if s % 50 == 0:
            lines.append(f"2024-06-14 18:43:08,209 train.py validation loss: {_loss(s) + 0.1:.4f}")
        lines.append(f"2024-06-14 18:45:08,384 train.py step {s:5d} | loss: {_loss(s):.6f} | lr "
                     f"{6e-4 * min(1, (s + 1) / 50):.4e} | norm: {1 + 10 / (1 + s):.4f} | dt: "
                     f"850.71ms | tok/sec: 61475.23")
    log.write_text("\n".join(lines) + "\n")
    run = read_run(log)
    assert run.format == "build_nanogpt_console"
    assert set(run.metrics) == {"train_loss", "lr", "grad_norm", "val_loss"}
    assert run.series("val_loss").index.tolist() == [0, 50, 100]
    assert len(run.series("train_loss")) == 120 and run.series("train_loss").iloc[0] == round(_loss(0), 6)


def test_epoch_and_step_fields_and_inline_items(tmp_path):
    piped = tmp_path / "train.log"
    piped.write_text("".join(f"INFO:__main__:Epoch 0 | Step {s:4d}/6501 | Loss: {_loss(s):.4f} | PPL: "
                             f"{math.exp(_loss(s)):.2f} | LR: 3.27e-05 | Grad: 1.029 | Time: 0.507s\n"
                             for s in range(0, 300, 10)))
    run = read_run(piped)
    assert run.format == "kv_console" and run.step_unit == "step"
    assert list(run.series("Loss").index[:3]) == [0, 10, 20] and run.config["max_steps"] == 6501

    inline = tmp_path / "sft.log"
    inline.write_text("2025-09-16 21:23:50,442 - train - INFO - Initial eval_acc: 0.0\n" + "".join(
        f"2025-09-16 21:23:51,899 - train - INFO - Step {s} loss: {_loss(s):.4f} token_entropy: 1.14\n"
        for s in range(1, 60, 2)))
    run = read_run(inline)
    assert run.format == "kv_console"
    assert set(run.metrics) == {"loss", "token_entropy"} and len(run.series("loss")) == 30


@pytest.mark.parametrize("text", [
    "".join(f"**Step {s}:** Multiply: {s * 4}\n" for s in range(1, 6)),  # one number: a sample
    "".join(f"In step {s}, accuracy: 0.5 and loss: 0.3 were seen\n" for s in range(1, 6)),  # prose
    "step 20 | loss 0.41 | eval_acc 0.62\nstep 30 | loss 0.40\nstep 40 | loss 0.39\n",  # no item
])
def test_prose_with_a_step_and_colons_stays_unknown(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)
    with pytest.raises(InputError, match="unknown log format"):
        sniff_format(path)
