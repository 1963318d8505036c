"""Two Trainer runs printed to one console (`io.hf_runs`), the first of one epoch, the second
logged at each epoch's end: its first row is at epoch 1, the epoch the first run ended at, so
the epoch never goes back. Its training row there, after the first run's closing
`{'train_runtime': ...}` row, is the new run's first. The console is printed by the real
Trainer (`tiny_trainer`, `disable_tqdm=True`: its PrinterCallback prints each log row)."""

from __future__ import annotations

import contextlib

import pytest
from cli_json import analyzed

from phasewatch.io import read_run

pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_a_new_run_whose_first_row_is_at_the_epoch_the_run_before_ended_at(capsys, tmp_path):
    """A language-model run of one epoch (evaluated every half epoch, and once more after
    `train()`), then a classifier run logged at each epoch's end, whose first row is at epoch
    1, where the first run ended: its training row there is the new run's first, not the
    first run's. (Its epoch did not go back: the first run's two evaluations stayed, and the
    classifier's first was left out as "an evaluation logged after training ended".)"""
    from tiny_trainer import tiny_trainer

    path = tmp_path / "train.log"
    with open(path, "w") as handle, contextlib.redirect_stdout(handle):
        first = tiny_trainer(tmp_path / "lm", num_train_epochs=1, eval_strategy="steps",
                             eval_steps=2, logging_steps=2, save_strategy="no")
        first.train()
        first.evaluate()
        print("Loading the classifier's weights ...")
        tiny_trainer(tmp_path / "cls", num_train_epochs=3, eval_strategy="epoch",
                     logging_strategy="epoch", save_strategy="no", seed=1).train()
    lines = path.read_text().splitlines()
    ended = next(i for i, line in enumerate(lines, 1) if "'train_runtime'" in line)
    starts = next(i for i, line in enumerate(lines, 1) if "Loading the classifier" in line) + 1
    assert "'epoch': '1'" in lines[ended - 1] and "'epoch': '1'" in lines[starts - 1]
    run = analyzed(capsys, path)
    assert (f"line {starts}: a new run starts after the run that ended at line {ended} (its "
            "train_runtime row); the earlier run's records are left out") in run["warnings"]
    assert not any("logged after training ended" in w for w in run["warnings"]), run["warnings"]
    classifier = [float(line.split("'eval_loss': '")[1].split("'")[0])
                  for line in lines[starts - 1:] if "'eval_loss'" in line]
    series = read_run(path).series("eval_loss")
    assert list(series.index) == [10_000, 20_000, 30_000]
    assert list(series) == pytest.approx(classifier)
