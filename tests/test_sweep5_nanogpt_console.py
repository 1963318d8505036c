"""nanoGPT's own prints, `step 0: train loss 4.2874, val loss 4.2823` at each evaluation and
`iter 10: loss 4.6810, time 49.27ms, mfu 7.56%` between (and the many scripts copied from it,
Karpathy's `Let's build GPT` bigram loop among them), were "unknown log format": after `N:` the
items are comma-separated `name number` fields, some with a unit (fifth new-user sweep: the
W&B `output.log` files of a nanoGPT run, which print `loss 4.6810 BPC`). They are read by
kv_console, `val loss` is the held-out loss; a model's sample with integers stays prose."""

from __future__ import annotations

import json
import math

import pytest

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format


def _loss(step: int) -> float:
    return 1.2 + 3.1 * math.exp(-step / 300)


def _nanogpt_log(unit: str = "") -> str:
    """train.py's prints: an evaluation every 250 iterations, a loss every 10."""
    lines = ["Overriding config with config/train_shakespeare_char.py:", "found vocab_size = 65",
             "number of parameters: 10.65M"]
    for it in range(0, 1010, 10):
        if it % 250 == 0:
            lines.append(f"step {it}: train loss {_loss(it):.4f}{unit}, val loss {_loss(it) + 0.1 + it / 5000:.4f}{unit}")
            if it:
                lines.append("saving checkpoint to out-shakespeare-char")
        lines.append(f"iter {it}: loss {_loss(it) + 0.05:.4f}{unit}, time {50 + it % 7:.2f}ms, mfu {7.5:.2f}%")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("unit", ["", " BPC"])
def test_nanogpt_prints_are_read_and_judged_on_the_val_loss(tmp_path, capsys, unit):
    log = tmp_path / "output.log"
    log.write_text(_nanogpt_log(unit))
    run = read_run(log)
    assert run.format == "kv_console"
    assert {"loss", "time", "mfu", "train loss", "val loss"} <= set(run.metrics)
    assert list(run.series("val loss").index) == [0, 250, 500, 750, 1000]
    assert run.series("val loss").iloc[0] == round(_loss(0) + 0.1, 4)
    assert len(run.series("loss")) == 101 and run.series("time").iloc[1] == 53.0  # `53.00ms`: the unit left out
    assert run.resolve_metric("eval/loss") == "val loss"

    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "val loss" and result["direction"] == "min"
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert summary["event"] == "summary" and summary["metric"] == "val loss"
    assert summary["best_step"] == result["recommended_stop_step"]


def test_bigram_prints_with_capital_step(tmp_path):
    """`Step {iter}: train loss X, val loss Y` only (the lecture's bigram.py)."""
    log = tmp_path / "bigram.txt"
    log.write_text("".join(f"Step {s}: train loss {_loss(s):.4f}, val loss {_loss(s) + 0.2:.4f}\n"
                           for s in range(0, 5000, 500)))
    run = read_run(log)
    assert run.format == "kv_console" and len(run.series("val loss")) == 10


@pytest.mark.parametrize("text", [
    "".join(f"Step {s}: x is {s * 4} cm, y is {s + 1} cm\n" for s in range(1, 6)),  # integers
    "".join(f"Step {s}: add 2.5 to x, giving {s + 0.5}\n" for s in range(1, 6)),  # no name-number
    "".join(f"Step {s}: total {s}.5 apples\n" for s in range(1, 6)),  # one field, no comma
])
def test_samples_with_a_step_colon_and_commas_stay_prose(tmp_path, text):
    path = tmp_path / "samples.txt"
    path.write_text(text)
    with pytest.raises(InputError, match="unknown log format"):
        sniff_format(path)
