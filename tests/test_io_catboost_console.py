"""CatBoost prints a line per `verbose` iterations: `N:<TAB>learn: X<TAB>test: Y<TAB>best: Z
(I)<TAB>total: ...<TAB>remaining: ...`. No reader took it ("unknown log format"), and the line
never names its metric: its direction is read off the `best` column."""

from __future__ import annotations

import json
import math

import pytest
from _files import notebook_cell, read_as, write

from phasewatch.cli import main
from phasewatch.io import read_run


def catboost_log(curve, iterations: int = 300, every: int = 10, learn: bool = True,
                 higher: bool = False, end: bool = True) -> str:
    """CatBoost's console every `every` iterations of a held-out metric `curve(i)`, its best so
    far (lowest, or highest where `higher`), the training metric beside it."""
    lines, best, best_at = [], None, 0
    for i in list(range(0, iterations, every)) + [iterations - 1]:
        test = curve(i)
        if best is None or (test > best if higher else test < best):
            best, best_at = test, i
        train = f"learn: {curve(i) * (1.1 if higher else 0.8):.7f}\t" if learn else ""
        lines.append(f"{i}:\t{train}test: {test:.7f}\tbest: {best:.7f} ({best_at})\t"
                     f"total: {i * 12 + 20}ms\tremaining: {(iterations - i) * 12}ms\n")
    if end:
        lines.append(f"\nbestTest = {best:.10f}\nbestIteration = {best_at}\n\n"
                     f"Shrink model to first {best_at + 1} iterations.\n")
    return "".join(lines)


def logloss(i: int) -> float:
    """A held-out log loss at its best at iteration 150, then rising (too many trees)."""
    return 0.30 + 0.39 * math.exp(-i / 40) + max(0, i - 150) * 0.0004


def auc(i: int) -> float:
    return 0.86 + 0.03 * (1 - math.exp(-i / 60))


def test_a_log_loss_read_with_its_direction_from_the_best_column(tmp_path, capsys):
    path = write(tmp_path, catboost_log(logloss))
    run = read_as(path, "catboost_console")
    assert sorted(run.metrics) == ["learn", "test"]
    test = run.series("test")
    assert test.index.tolist() == list(range(0, 300, 10)) + [299]
    assert test.loc[150] == pytest.approx(logloss(150), abs=1e-7)
    assert (run.performance_metric, run.direction) == ("test", "min")
    assert run.config["best_iteration"] == 150
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("test", "min")
    assert result["phases"][-1]["name"] == "overfit"
    assert main(["watch", str(path), "--format", "jsonl"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["metric"] == "test"


@pytest.mark.parametrize("learn", [True, False])
def test_an_auc_each_line_a_new_best_is_higher_is_better(tmp_path, learn):
    """`eval_metric='AUC'` (on GPU without `learn`): the best is each time the test itself,
    and rises with it."""
    run = read_run(write(tmp_path, catboost_log(auc, learn=learn, higher=True)))
    assert (run.performance_metric, run.direction) == ("test", "max")
    assert ("learn" in run.metrics) is learn


def test_with_two_evaluation_sets_the_last_is_analysed_as_catboost_follows_it(tmp_path,
                                                                               capsys):
    """`eval_set=[(X_train, y_train), (X_valid, y_valid)]`: CatBoost prints `best` after the
    last set only (its best model and early stopping follow it), here the held-out one, whose
    log loss, above the training data's, rises after iteration 150. Read against the first
    set, the last set's best, above `test` beside it (0.69 and 0.552 at iteration 0), made the
    log loss higher-is-better, and the run was judged on its training data."""
    lines, best, best_at = [], None, 0
    for i in range(0, 300, 10):
        valid = logloss(i)
        if best is None or valid < best:
            best, best_at = valid, i
        lines.append(f"{i}:\tlearn: {logloss(i) * 0.7:.7f}\ttest: {logloss(i) * 0.8:.7f}"
                     f"\ttest1: {valid:.7f}\tbest: {best:.7f} ({best_at})\ttotal: {i}ms"
                     f"\tremaining: {300 - i}ms\n")
    path = write(tmp_path, "".join(lines))
    run = read_run(path)
    assert sorted(run.metrics) == ["learn", "test", "test1"]
    assert (run.performance_metric, run.direction) == ("test1", "min")
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("test1", "min")
    assert result["phases"][-1]["name"] == "overfit"
    assert main(["watch", str(path), "--format", "jsonl"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["metric"] == "test1"

def test_the_training_metric_alone_and_the_end_of_the_run(tmp_path):
    from phasewatch.io import catboost_console

    text = "".join(f"{i}:\tlearn: {0.7 * math.exp(-i / 50):.7f}\ttotal: {i}ms\tremaining: 1s\n"
                   for i in range(0, 200, 10))
    run = read_run(write(tmp_path, text))
    assert (run.performance_metric, run.direction) == ("learn", "min")
    for text, finished in ((catboost_log(logloss), True), (catboost_log(logloss, end=False),
                                                           False)):
        source = catboost_console.source(write(tmp_path, text, "again.log"))
        list(source.read())
        assert source.info.finished is finished


def test_a_line_of_another_item_is_reported_and_the_rest_read(tmp_path):
    text = catboost_log(logloss, end=False) + "300:\tlearn: 0.2\tvalid: 0.3\ttotal: 1s\n"
    run = read_run(write(tmp_path, text))
    assert len(run.series("test")) == 31
    assert any("is not CatBoost's" in w for w in run.warnings)


def test_a_notebook_cell_that_fit_a_catboost_model_is_read(tmp_path):
    book = notebook_cell(tmp_path, "model.fit(X, y, eval_set=(X_valid, y_valid), verbose=10)",
                         catboost_log(logloss), name="kernel.ipynb")
    run = read_as(book, "catboost_console")
    assert (run.performance_metric, run.direction) == ("test", "min")
