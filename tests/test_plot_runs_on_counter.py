"""`plot RUN_A RUN_B --x epoch`: runs compared on one axis of a counter beside the step, each
placed by its own log's counter. Two fine-tunes of different batch sizes share epochs, not
steps: it was refused ("--x epoch|tokens|samples draws one run per figure ... use --x step")."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from phasewatch.cli import main

pytest.importorskip("torch")
pytest.importorskip("transformers")

EPOCHS = 10
# one held-out accuracy per epoch, the same for both runs: a rise to epoch 5, then a decline
ACCURACY = np.array([0.40, 0.52, 0.61, 0.68, 0.72, 0.70, 0.66, 0.61, 0.57, 0.52])


@pytest.fixture(scope="module")
def two_batch_sizes(tmp_path_factory):
    """Two real Trainer runs on the same 16 rows, evaluated once per epoch: batch 4 takes 4
    steps an epoch, batch 8 takes 2."""
    from scripted_eval import ScriptedMetrics
    from tiny_trainer import tiny_trainer

    root = tmp_path_factory.mktemp("batches")
    for batch in (4, 8):
        trainer = tiny_trainer(root / f"batch{batch}", compute_metrics=ScriptedMetrics(
            accuracy=ACCURACY), per_device_train_batch_size=batch, num_train_epochs=EPOCHS,
            eval_strategy="epoch", save_strategy="no", logging_steps=1)
        trainer.train()
        trainer.save_state()
    return root / "batch4", root / "batch8"


def test_runs_of_different_batch_sizes_share_one_epoch_axis(two_batch_sizes, tmp_path, capsys):
    small, large = two_batch_sizes
    out, data = tmp_path / "epochs.png", tmp_path / "epochs.csv"
    assert main(["plot", str(small), str(large), "--x", "epoch", "--metric", "eval_accuracy",
                 "--smoothing", "none", "--dpi", "100", "-o", str(out), "--data", str(data)]) == 0
    assert out.exists()
    table = pd.read_csv(data)
    raw = table[table.kind == "raw"]
    by_run = {run: rows for run, rows in raw.groupby("run")}
    assert set(by_run) == {"batch4", "batch8"}
    # the same epochs, from steps twice as far apart: each run by its own log's epoch
    for run, steps_per_epoch in (("batch4", 4), ("batch8", 2)):
        rows = by_run[run]
        assert list(rows.step) == [steps_per_epoch * e for e in range(1, EPOCHS + 1)]
        assert np.allclose(rows.epoch, np.arange(1, EPOCHS + 1))
        assert np.allclose(rows.value, ACCURACY)
    # both stops at epoch 5, where each run's best is, whatever its step
    stops = table[table.kind == "stop"].set_index("run")
    assert stops.step.to_dict() == {"batch4": 20, "batch8": 10}
    assert np.allclose(stops.epoch, 5)


def test_a_run_without_the_counter_is_named_with_the_counters_it_has(two_batch_sizes, tmp_path,
                                                                      capsys):
    steps_only = tmp_path / "steps_only.jsonl"
    steps_only.write_text("".join(json.dumps({"step": 10 * i, "num_tokens": 4096 * i,
                                              "eval/accuracy": 0.5 + 0.01 * i}) + "\n"
                                  for i in range(12)))
    out = tmp_path / "f.png"
    assert main(["plot", str(two_batch_sizes[0]), str(steps_only), "--x", "epoch",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{steps_only}: --x epoch: this log carries no epoch counter" in err
    assert "it carries tokens (num_tokens) beside its step" in err
    assert not out.exists()


def test_seeds_whose_counters_differ_are_not_averaged_step_by_step(two_batch_sizes, tmp_path,
                                                                   capsys):
    """One label makes the runs seeds, averaged at each step; at step 8 one is at epoch 2, the
    other at epoch 4: their mean is no value at either."""
    small, large = two_batch_sizes
    out = tmp_path / "f.png"
    assert main(["plot", str(small), str(large), "--x", "epoch", "--label", "arm",
                 "--label", "arm", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the runs drawn as one seed group (arm) are averaged step by step" in err
    assert "--label" in err and not out.exists()


def test_the_grid_is_told_to_draw_each_alone(two_batch_sizes, tmp_path, capsys):
    small, large = two_batch_sizes
    assert main(["plot", str(small), str(large), "--x", "epoch", "--layout", "grid",
                 "-o", str(tmp_path / "f.png")]) == 2
    assert "draw each alone with --x epoch" in capsys.readouterr().err
