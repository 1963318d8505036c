"""A home-made trainer's epoch line of `,` fields that mixes `name number` and `name: value`
(a minitorch sentiment classifier's `Epoch 1, loss 0.6916, train accuracy: 54.67%`), followed
by its evaluation's own line (`Validation accuracy: 51.00%`) and a running best (`Best Valid
accuracy: 51.00%`): neither the epoch line nor the evaluation after it was read, and the file was
an unknown format. The epoch line is a record (`kv_items.decimal_field`), and the evaluation line
joins it as any split's score line after a record does (`kv_set_lines.SPLIT_SCORE_LINE`)."""

from __future__ import annotations

import json

import numpy as np
from cli_json import analyzed

from phasewatch.cli import main
from phasewatch.io import kv_console


def _minitorch_log(tmp_path, epochs: int = 40):
    """The script's three prints an epoch: `f"Epoch {epoch}, loss {total_loss}, train accuracy:
    {train_acc:.2f}%"`, `f"Validation accuracy: {val_acc:.2f}%"`, `f"Best Valid accuracy:
    {best:.2f}%"`; the validation accuracy rises to epoch 10, then holds."""
    rng = np.random.default_rng(2)
    lines, best = [], 0.0
    for epoch in range(1, epochs + 1):
        loss = 0.69 * np.exp(-epoch / 30) + 0.05 * rng.random()
        train = 54 + 30 * (1 - np.exp(-epoch / 20))
        val = 51 + 19 * min(epoch, 10) / 10 + 2 * rng.standard_normal()
        best = max(best, val)
        lines += [f"Epoch {epoch}, loss {loss}, train accuracy: {train:.2f}%",
                  f"Validation accuracy: {val:.2f}%", f"Best Valid accuracy: {best:.2f}%"]
    path = tmp_path / "training_log.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_epoch_line_and_its_validation_line_are_one_record(capsys, tmp_path):
    path = _minitorch_log(tmp_path)
    assert main(["inspect", str(path), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["format"] == "kv_console"
    metrics = found["metrics"]
    assert set(metrics) == {"loss", "train accuracy", "Validation accuracy"}
    assert all((m["count"], m["first_step"], m["last_step"]) == (40, 1, 40) for m in metrics.values())
    run = analyzed(capsys, path)
    assert (run["metric"], run["direction"], run["step_unit"]) == \
        ("Validation accuracy", "max", "epoch")
    assert [p["name"] for p in run["phases"]] == ["improvement", "plateau"]


def test_prose_after_a_step_stays_no_record():
    """A field that is no name and decimal number, or a name of prose, keeps the line prose."""
    parser = kv_console.LineParser()
    for n, line in enumerate(["Step 3, the answer is 2.5, total: 7.5",
                              "Step 4, and x 2.5, total: 7.5",
                              "Step 5, add 2 to x, total: 7.5"], 1):
        assert parser.feed(line, n) == []
