"""A CSV whose only counter is a fractional `epoch` (`io.csv_epochs`): an HF Trainer's log
history exported with pandas and without its `step` column (`loss,...,epoch,eval_loss,...`)
was refused, "step is not an integer: 0.001027". Its rows are placed as an HF console log's
without steps are, at epoch x 10,000 ("epoch/10000"), and every output says epochs. A Keras
CSVLogger's whole epochs stay the steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_json import analyzed, watched

from phasewatch.cli import main

STEPS_PER_EPOCH = 973  # no round number: the epoch of a step is a long fraction


def _history(tmp_path: Path, steps: int = 600, every: int = 20, at_zero: bool = False,
             float_format: str | None = "%.4g") -> Path:
    """The Trainer's `log_history` shapes (train rows with `loss`, `grad_norm`, `learning_rate`,
    `epoch` at every 10 steps; evaluation rows with `eval_loss`, `eval_runtime`, `epoch` at
    every `every`), written as `pd.DataFrame(log_history).drop(columns="step").to_csv(...)`:
    the held-out loss falls to a third of the run, then rises."""
    rng = np.random.default_rng(11)
    history = [] if not at_zero else [{"eval_loss": 0.95, "eval_runtime": 12.0, "epoch": 0,
                                       "step": 0}]
    for step in range(10, steps + 1, 10):
        epoch = step / STEPS_PER_EPOCH
        history.append({"loss": 1.2 * np.exp(-step / 200) + 0.2, "grad_norm": 1.0,
                        "learning_rate": 2e-4 * (1 - step / steps), "epoch": epoch, "step": step})
        if step % every == 0:
            turn = steps / 3
            level = 0.9 - 0.3 * min(step, turn) / turn + 0.12 * max(step - turn, 0) / turn
            history.append({"eval_loss": level + 0.003 * rng.standard_normal(),
                            "eval_runtime": 12.0, "epoch": epoch, "step": step})
    path = tmp_path / "report" / "training_metrics.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame(history).drop(columns="step").to_csv(path, index=False, float_format=float_format)
    return path


@pytest.mark.parametrize("float_format", ["%.4g", None])
def test_a_log_history_without_steps_is_read_in_epochs(capsys, tmp_path, float_format):
    path = _history(tmp_path, float_format=float_format)
    run = analyzed(capsys, path)
    assert (run["metric"], run["direction"], run["step_unit"]) == ("eval_loss", "min", "epoch/10000")
    assert any("fractional" in w for w in run["warnings"]), run["warnings"]
    assert [p["name"] for p in run["phases"]] == ["improvement", "overfit"]
    best = 200 / STEPS_PER_EPOCH  # the eval loss's lowest, at a third of 600 steps
    assert abs(run["recommended_stop_step"] / 10_000 - best) <= 2 * 20 / STEPS_PER_EPOCH
    assert run["x"]["unit"] == "epoch"
    summary, _ = watched(capsys, path)
    assert (summary["metric"], summary["direction"]) == ("eval_loss", "min")
    assert main(["analyze", str(path)]) == 0
    text = capsys.readouterr().out
    assert "recommended stop: epoch 0.2" in text, text


def test_an_evaluation_at_epoch_0_is_at_step_0(capsys, tmp_path):
    """The first epoch above 0 decides: a bare 0 before training says nothing of the rest."""
    path = _history(tmp_path, at_zero=True)
    assert main(["inspect", str(path), "--format", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["eval_loss"]["first_step"] == 0
    assert metrics["eval_loss"]["count"] == 31
    assert metrics["loss"]["first_step"] == round(10 / STEPS_PER_EPOCH * 10_000)


def test_a_keras_csvlogger_keeps_its_epochs_as_steps(capsys, tmp_path):
    path = tmp_path / "log.csv"
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    rows += [f"{e},{0.5 + 0.02 * e},{1.0 - 0.03 * e},{0.5 + 0.015 * e},{1.0 - 0.02 * e}"
             for e in range(20)]
    path.write_text("\n".join(rows) + "\n")
    run = analyzed(capsys, path)
    assert (run["metric"], run["step_unit"]) == ("val_accuracy", "epoch")
    assert not any("fractional" in w for w in run["warnings"])
    assert run["phases"][-1]["end_step"] == 19
