"""Megatron-LM's console (`iteration N/ M | consumed samples: ... | lm loss: ...` every log
interval, `validation loss at iteration N | lm loss value: ... | lm loss PPL: ...` every eval
interval) was an unknown log format: kv_console took no record from its training lines."""

from __future__ import annotations

import math

import pytest

from phasewatch.api import analyze
from phasewatch.io import read_run


def training_line(it: int, total: int, loss: float) -> str:
    return (f" iteration {it:8d}/{total:8d} | consumed samples: {64 * it:12d} | elapsed time per "
            f"iteration (ms): 33852.0 | learning rate: {2.5e-7 * min(it, 10):.3E} | global batch "
            f"size:    64 | lm loss: {loss:.6E} | loss scale: 1.0 | grad norm: {9 / it:.3f} | "
            "number of skipped iterations:   0 | number of nan iterations:   0 |")


def validation_line(it: int, loss: float, where: str = "") -> str:
    return (f" validation loss at iteration {it}{where} | lm loss value: {loss:.6E} | lm loss "
            f"PPL: {math.exp(loss):.6E} | ")


def megatron_log(total: int = 200, every: int = 10, eval_every: int = 50) -> tuple[str, dict]:
    lines = ["using world size: 8, data-parallel size: 8, tensor-model-parallel size: 1",
             "[before the start of training step] datetime: 2024-04-09 09:51:29 "]
    valid = {}
    for it in range(every, total + 1, every):
        lines.append(training_line(it, total, 2.0 - it / 200))
        if it % eval_every == 0:
            valid[it] = 2.1 - it / 400 + (it / 100) ** 2 / 10  # best at 100, then worse
            lines += ["-" * 100, validation_line(it, valid[it]), "-" * 100]
    lines += ["[after training is done] datetime: 2024-04-09 19:15:44",
              validation_line(total, 1.9, " on test set"),
              " validation loss at the end of training for val data | lm loss value: 2.3 |"]
    return "\n".join(lines) + "\n", valid


def test_training_and_validation_lines_are_read_at_their_iteration(tmp_path):
    text, valid = megatron_log()
    path = tmp_path / "train.log"
    path.write_text(text)
    run = read_run(path)
    assert run.format == "megatron_console" and run.warnings == []
    assert sorted(run.metrics) == ["grad norm", "learning rate", "lm loss", "lm loss test",
                                   "lm loss test ppl", "lm loss validation",
                                   "lm loss validation ppl", "loss scale"]
    assert run.series("lm loss").index.tolist() == list(range(10, 201, 10))
    assert run.series("lm loss validation").to_dict() == pytest.approx(valid)
    assert run.series("lm loss test").to_dict() == {200: 1.9}
    assert run.own_name("train/loss") == "lm loss"
    assert run.config["max_steps"] == 200
    assert analyze(path).metric == "lm loss validation"
