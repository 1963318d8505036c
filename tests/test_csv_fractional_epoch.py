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


def _half_epochs(path: Path, epochs: list[float]) -> Path:
    """A log history exported without `step` whose rows fall at `epochs` (a train row and an
    evaluation each), written as pandas writes it: `1.0, 1.5, 2.0` for a Trainer that
    evaluates twice an epoch, `1.0, 2.0` for one that evaluates at each epoch's end."""
    history = []
    for i, epoch in enumerate(epochs):
        history.append({"loss": 1.0 / (1 + epoch), "learning_rate": 1e-4, "epoch": epoch,
                        "step": 50 * (i + 1)})
        history.append({"eval_loss": 0.5 + 0.05 * abs(epoch - epochs[len(epochs) // 3]),
                        "eval_runtime": 3.0, "epoch": epoch, "step": 50 * (i + 1)})
    pd.DataFrame(history).drop(columns="step").to_csv(path, index=False)
    return path


def test_a_fractional_epoch_after_whole_ones_places_every_row(capsys, tmp_path):
    """The whole column decides: epochs 1.0, 1.5, 2.0, ... lose none of their half-epoch
    evaluations to the whole first one (10 of 20 were skipped as bad rows)."""
    path = _half_epochs(tmp_path / "training_metrics.csv", [e / 2 for e in range(2, 22)])
    assert main(["inspect", str(path), "--format", "json"]) == 0
    inspected = json.loads(capsys.readouterr().out)
    assert inspected["metrics"]["eval_loss"]["count"] == 20
    assert (inspected["metrics"]["eval_loss"]["first_step"],
            inspected["metrics"]["eval_loss"]["last_step"]) == (10_000, 105_000)
    assert not any("skipped" in w for w in inspected["warnings"]), inspected["warnings"]
    run = analyzed(capsys, path)
    assert (run["metric"], run["step_unit"]) == ("eval_loss", "epoch/10000")
    summary, err = watched(capsys, path)  # a replay reads the file as analyze does
    assert "skipped" not in err, err
    assert summary["best_step"] == run["recommended_stop_step"]


def test_an_history_of_whole_epochs_keeps_them_as_steps(capsys, tmp_path):
    path = _half_epochs(tmp_path / "training_metrics.csv", [float(e) for e in range(1, 13)])
    assert "1.0," in path.read_text()  # as pandas writes a float column
    run = analyzed(capsys, path)
    assert (run["metric"], run["step_unit"]) == ("eval_loss", "epoch")
    assert run["phases"][-1]["end_step"] == 12
    assert not any("fractional" in w for w in run["warnings"])


def test_a_follow_names_a_fractional_epoch_it_cannot_place(tmp_path):
    """What a follow reads after it started is not known ahead: its rows of whole epochs are
    read as such, and a fractional epoch after them is skipped with a reason that names it
    (watch prints it with its line), not dropped without a word. A follow that starts on the
    file already written reads it as analyze does."""
    from phasewatch.io import open_source, read_run

    path = _half_epochs(tmp_path / "training_metrics.csv", [1.0, 2.0, 3.0])
    bad: list[tuple[int, str]] = []
    source = open_source(path, follow=True, notice=lambda message: None)
    source.on_bad_line = lambda file, lineno, reason: bad.append((lineno, reason))
    first = list(source.read(final=False))
    assert [r.step for r in first] == [1, 1, 2, 2, 3, 3]
    with open(path, "a") as fh:
        fh.write(",,3.5,0.6,3.0\n")
    assert list(source.read(final=True)) == []
    source.close()
    assert [lineno for lineno, _ in bad] == [8]
    assert "epoch 3.5 is fractional" in bad[0][1] and "finished file" in bad[0][1]
    followed = open_source(path, follow=True, notice=lambda message: None)
    steps = [r.step for r in followed.read(final=True)]
    followed.close()
    assert steps == [10_000, 10_000, 20_000, 20_000, 30_000, 30_000, 35_000]
    assert list(read_run(path).series("eval_loss").index) == [10_000, 20_000, 30_000, 35_000]
