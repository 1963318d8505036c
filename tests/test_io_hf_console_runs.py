"""Two Trainer runs printed to one console (`io.hf_runs`): a run that ended with its closing
`{'train_runtime': ...}` row, then a new one whose epochs start again. The resume rule dropped
only the records from the epoch the counter went back to, so the first run's earlier rows were
read with the second as one resumed run. A counter that goes back after a closing row is a new
run: the log is read from it. A resume (no closing row before the counter goes back) is read
as before. The consoles are printed by the real Trainer (`tiny_trainer`, `disable_tqdm=True`:
its PrinterCallback prints each log row)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from cli_json import analyzed, watched

from phasewatch.cli import main
from phasewatch.io import open_source, read_run

pytest.importorskip("torch")
pytest.importorskip("transformers")


def _two_runs(folder: Path, lm_epochs: int) -> Path:
    """A language-model-like run of `lm_epochs` epochs evaluated every half epoch, evaluated
    once more after `train()`, then a classifier run of 3 epochs logged and evaluated at each
    epoch's end (its first row at epoch 1), printed to one console `folder/train.log`."""
    from tiny_trainer import tiny_trainer

    path = folder / "train.log"
    with open(path, "w") as handle, contextlib.redirect_stdout(handle):
        first = tiny_trainer(folder / "lm", num_train_epochs=lm_epochs, eval_strategy="steps",
                             eval_steps=2, logging_steps=2, save_strategy="no")
        first.train()
        first.evaluate()
        print("Loading the classifier's weights ...")
        tiny_trainer(folder / "cls", num_train_epochs=3, eval_strategy="epoch",
                     logging_strategy="epoch", save_strategy="no", seed=1).train()
    return path


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Path:
    """Two runs, the first of 6 epochs: the epoch goes back when the classifier starts."""
    return _two_runs(tmp_path_factory.mktemp("two_runs"), lm_epochs=6)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_a_new_run_after_a_closing_row_is_read_alone(capsys, console):
    lines = _lines(console)
    ended = [i for i, line in enumerate(lines, 1) if "'train_runtime'" in line]
    starts = next(i for i, line in enumerate(lines, 1) if "Loading the classifier" in line) + 1
    assert len(ended) == 2 and "'epoch': '1'" in lines[starts - 1]  # the classifier's first row
    run = analyzed(capsys, console)
    said = (f"line {starts}: a new run starts after the run that ended at line {ended[0]} (its "
            "train_runtime row); the earlier run's records are left out")
    assert said in run["warnings"], run["warnings"]
    assert not any("went back" in w for w in run["warnings"]), run["warnings"]
    assert run["metric"] == "eval_loss"
    series = read_run(console).series("eval_loss")
    assert list(series.index) == [10_000, 20_000, 30_000]  # the classifier's 3 evaluations only
    assert main(["inspect", str(console), "--format", "json"]) == 0
    inspected = capsys.readouterr().out
    assert '"first_step": 10000' in inspected and '"first_step": 5000' not in inspected
    summary, err = watched(capsys, console)  # a replay reads the same run
    assert said in err and summary["best_step"] == run["recommended_stop_step"]
    followed = open_source(console, follow=True, notice=lambda message: None)
    evaluated = [r.step for r in followed.read(final=True) if "eval_loss" in r.values]
    followed.close()
    assert evaluated == [10_000, 20_000, 30_000]  # a follow that starts on the file, too


def test_a_resume_without_a_closing_row_is_read_as_before(capsys, tmp_path, console):
    """The first run crashed (no closing row) and the log goes on from epoch 1: a resume,
    whose earlier records from epoch 1 on are dropped, its first half epoch kept."""
    path = tmp_path / "resumed.log"
    path.write_text("\n".join(line for line in _lines(console)
                              if "'train_runtime'" not in line) + "\n")
    run = analyzed(capsys, path)
    assert any("epoch counter went back from 6 to 1" in w for w in run["warnings"]), run["warnings"]
    assert not any("a new run starts" in w for w in run["warnings"])
    assert list(read_run(path).series("eval_loss").index) == [5_000, 10_000, 20_000, 30_000]


def test_a_notebook_cell_that_printed_two_runs_is_read_from_the_new_run(capsys, tmp_path,
                                                                        console):
    """The same printout as a notebook cell's output (`io.printed_log`): looked through as the
    cell's text, not as the notebook's JSON lines, whose numbers are no line of the printout
    (the whole cell was left out: "no training output in this notebook")."""
    pytest.importorskip("nbformat")
    from notebook_books import stream, write_book

    printed = console.read_text()
    book = write_book(tmp_path / "two_runs.ipynb",
                      [("lm.train(); lm.evaluate(); cls.train()", [stream(printed)])])
    lines = printed.splitlines()
    ended = next(i for i, line in enumerate(lines, 1) if "'train_runtime'" in line)
    starts = next(i for i, line in enumerate(lines, 1) if "Loading the classifier" in line) + 1
    run = analyzed(capsys, book)
    assert (f"cell 1, line {starts}: a new run starts after the run that ended at line {ended} "
            "(its train_runtime row); the earlier run's records are left out") in run["warnings"]
    assert list(read_run(book).series("eval_loss").index) == [10_000, 20_000, 30_000]


def test_a_notebooks_two_cells_of_one_run_each_are_both_read(tmp_path, console):
    """Each run printed by a cell of its own: the look through the whole notebook found the
    first cell's run ending and the second's starting, and neither cell was read."""
    pytest.importorskip("nbformat")
    from notebook_books import stream, write_book

    first, second = console.read_text().split("Loading the classifier's weights ...\n")
    book = write_book(tmp_path / "two_cells.ipynb", [("lm.train(); lm.evaluate()", [stream(first)]),
                                                     ("cls.train()", [stream(second)])])
    assert list(read_run(f"{book}/1").series("eval_loss").index) == \
        [5_000 * k for k in range(1, 13)]
    assert list(read_run(f"{book}/2").series("eval_loss").index) == [10_000, 20_000, 30_000]


def test_a_new_run_whose_first_row_is_at_the_epoch_the_run_before_ended_at(capsys, tmp_path):
    """A language-model run of one epoch (evaluated every half epoch, and once more after
    `train()`), then a classifier run logged at each epoch's end, whose first row is at epoch
    1, where the first run ended: its training row there is the new run's first, not the
    first run's. (Its epoch did not go back: the first run's two evaluations stayed, and the
    classifier's first was left out as "an evaluation logged after training ended".)"""
    path = _two_runs(tmp_path, lm_epochs=1)
    lines = _lines(path)
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
