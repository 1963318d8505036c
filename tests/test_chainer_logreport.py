"""Chainer's `LogReport` file (`result/log`: a JSON list, one entry an epoch) names each
evaluator's results after it: `validation/main/loss` and `validation/main/accuracy` for the
usual `Evaluator`, `test/...` for one named `test`. A PU-learning reproduction logs only
`test/uPU/error` and `test/nnPU/error` (a classifier's error rate on the test set, one per
estimator) beside its training risks: with no held-out name phasewatch knew, `analyze` exited 2.
An error rate under a split is a held-out score, lower is better."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_json import analyzed, watched

from phasewatch.cli import main
from phasewatch.heldout_names import held_out_direction, held_out_match


def _log_report(tmp_path: Path, series: dict[str, tuple[float, float, float]],
                epochs: int = 30, per_epoch: int = 2) -> Path:
    """`result/log` as LogReport writes it (`json.dump(log, f, indent=4)`): each epoch's
    `series` (`name: (first, low, last)`: a fall to `low` at a third of the run, then a straight
    line to `last`, with a little noise), then `epoch`, `iteration` and `elapsed_time`."""
    rng = np.random.default_rng(3)
    entries = []
    for epoch in range(1, epochs + 1):
        entry: dict[str, float | int] = {}
        turn = epochs / 3
        for name, (first, low, last) in series.items():
            if epoch <= turn:
                value = first + (low - first) * (epoch - 1) / (turn - 1)
            else:
                value = low + (last - low) * (epoch - turn) / (epochs - turn)
            entry[name] = float(value + 0.002 * rng.standard_normal())
        entry.update(epoch=epoch, iteration=epoch * per_epoch, elapsed_time=10.0 * epoch)
        entries.append(entry)
    folder = tmp_path / "result"
    folder.mkdir()
    path = folder / "log"
    path.write_text(json.dumps(entries, indent=4))
    return path


@pytest.mark.parametrize(("name", "direction"), [
    ("test/nnPU/error", "min"), ("test/error", "min"), ("validation/main/error", "min"),
    ("val_error", "min"), ("val_top1_err", "min"), ("test/error_rate", "min"),
    ("validation/main/loss", "min"), ("validation/main/accuracy", "max"),
])
def test_an_error_rate_under_a_split_is_held_out_lower_is_better(name, direction):
    assert held_out_direction(name) == direction


@pytest.mark.parametrize("name", ["train/nnPU/error", "val_mean_squared_error",
                                  "val/mean_absolute_error", "val_top5_error", "main/error"])
def test_no_train_regression_or_top5_error_is_a_held_out_score(name):
    """A train split's error is no held-out one; a regression's squared or absolute error is
    its loss (the held-out rule reads no such name as a task score); a top-5 error is no task
    error, as a top-5 accuracy is no task accuracy."""
    assert held_out_match(name) is None


def test_a_pu_runs_test_errors_are_analysed_without_metric(capsys, tmp_path):
    """Two estimators' test errors, one evaluator: the choice is one of them, the same every
    time (the first by name), and the note names the other and how to choose it."""
    path = _log_report(tmp_path, {
        "nnPU/loss": (0.50, 0.10, 0.06), "uPU/loss": (0.50, 0.05, -0.20),
        "train/nnPU/error": (0.34, 0.05, 0.0), "train/uPU/error": (0.34, 0.0, -0.25),
        "test/nnPU/error": (0.37, 0.19, 0.18), "test/uPU/error": (0.37, 0.21, 0.34),
    })
    run = analyzed(capsys, path)
    assert (run["metric"], run["direction"]) == ("test/nnPU/error", "min")
    assert any("test/uPU/error" in w and "--metric" in w for w in run["warnings"]), run["warnings"]
    assert run["phases"][0]["name"] == "improvement"
    summary, _ = watched(capsys, path)
    assert (summary["metric"], summary["direction"]) == ("test/nnPU/error", "min")
    other = analyzed(capsys, path, "--metric", "test/uPU/error")
    assert other["direction"] == "min"
    assert [p["name"] for p in other["phases"]] == ["improvement", "overfit"]


def test_a_log_report_with_the_usual_evaluator_takes_its_validation_accuracy(capsys, tmp_path):
    """Chainer's MNIST example: `main/loss`, `main/accuracy`, `validation/main/loss`,
    `validation/main/accuracy`: the held-out accuracy, as for any log holding one."""
    path = _log_report(tmp_path, {
        "main/loss": (0.5, 0.1, 0.02), "main/accuracy": (0.85, 0.97, 0.995),
        "validation/main/loss": (0.2, 0.08, 0.12), "validation/main/accuracy": (0.94, 0.975, 0.98),
    })
    run = analyzed(capsys, path)
    assert (run["metric"], run["direction"]) == ("validation/main/accuracy", "max")
    assert main(["inspect", str(path)]) == 0
    assert "validation/main/accuracy" in capsys.readouterr().out
