"""XGBoost and LightGBM print a line per boosting round: `[N]`, then each evaluation set's
metrics, tab-separated (`validation_1-logloss:0.31234`, `valid_1's auc: 0.8312`). No reader
took it ("unknown log format"). Which set is held out only the order says: the metric analysed
is the one the library stops early on, on the last set not named as training data."""

from __future__ import annotations

import json
import math

import pytest
from _files import notebook_cell, read_as, write

from phasewatch.cli import main
from phasewatch.io import read_run


def held_out_loss(k: int) -> float:
    """A validation log loss that falls to its best at round 40, then rises (more trees
    overfit the training data)."""
    return 0.25 + 0.44 * math.exp(-k / 10) + max(0, k - 40) * 0.002


def xgboost_log(rounds: int = 100) -> str:
    """`XGBClassifier(eval_metric=["auc", "logloss"]).fit(..., eval_set=[(X_train, y_train),
    (X_valid, y_valid)])`: `validation_0` is the training data, `validation_1` held out."""
    lines = ['[12:01:07] WARNING: ../src/learner.cc:767: Parameters: { "silent" } unused.\n']
    for k in range(rounds):
        train = 0.69 * math.exp(-k / 12)
        lines.append(f"[{k}]\tvalidation_0-auc:{0.9 + 0.1 * (1 - math.exp(-k / 9)):.5f}"
                     f"\tvalidation_0-logloss:{train:.5f}"
                     f"\tvalidation_1-auc:{0.8 + 0.05 * (1 - math.exp(-k / 9)):.5f}"
                     f"\tvalidation_1-logloss:{held_out_loss(k):.5f}\n")
    return "".join(lines)


def lightgbm_log(stop: bool = True) -> str:
    """`lgb.train(params, train, valid_sets=[train, valid], callbacks=[early_stopping(30),
    log_evaluation(10)])`: LightGBM names the training data `training`."""
    lines = ["[LightGBM] [Info] Number of positive: 3000, number of negative: 7000\n",
             "Training until validation scores don't improve for 30 rounds\n"]
    for k in range(10, 710, 10):
        lines.append(f"[{k}]\ttraining's binary_logloss: {0.6 * math.exp(-k / 150):g}"
                     f"\tvalid_1's binary_logloss: {held_out_loss(k // 10):g}"
                     f"\tvalid_1's auc: {0.9 - 0.1 * math.exp(-k / 100):g}\n")
    if stop:
        lines.append("Early stopping, best iteration is:\n"
                     f"[400]\ttraining's binary_logloss: 0.04\tvalid_1's binary_logloss: "
                     f"{held_out_loss(40):g}\tvalid_1's auc: 0.89\n")
    return "".join(lines)


def test_xgboosts_rounds_are_read_and_the_last_sets_last_metric_analysed(tmp_path, capsys):
    path = write(tmp_path, xgboost_log())
    run = read_as(path, "boosting_console")
    assert sorted(run.metrics) == ["validation_0-auc", "validation_0-logloss",
                                   "validation_1-auc", "validation_1-logloss"]
    loss = run.series("validation_1-logloss")
    assert loss.index.tolist() == list(range(100))
    assert loss.iloc[40] == pytest.approx(held_out_loss(40), abs=1e-5)
    assert (run.performance_metric, run.direction) == ("validation_1-logloss", "min")
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("validation_1-logloss", "min")
    assert result["phases"][-1]["name"] == "overfit"
    assert main(["watch", str(path), "--format", "jsonl"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["metric"] \
        == "validation_1-logloss"


def test_lightgbms_rounds_its_first_metric_and_the_best_round_said_once(tmp_path):
    from phasewatch.io import boosting_console

    path = write(tmp_path, lightgbm_log())
    run = read_run(path)
    assert sorted(run.metrics) == ["training-binary_logloss", "valid_1-auc",
                                   "valid_1-binary_logloss"]
    assert (run.performance_metric, run.direction) == ("valid_1-binary_logloss", "min")
    loss = run.series("valid_1-binary_logloss")
    assert loss.index.tolist() == list(range(10, 710, 10))  # the best round not read again
    assert run.config["best_iteration"] == 400
    assert not any("repeat" in w for w in run.warnings)
    for text, finished in ((lightgbm_log(), True), (lightgbm_log(stop=False), False)):
        source = boosting_console.source(write(tmp_path, text, "again.log"))
        list(source.read())
        assert source.info.finished is finished


@pytest.mark.parametrize("line, values, declared", [
    # xgboost.cv: each mean and its standard deviation over the folds, as its columns
    ("[3]\ttrain-rmse:17.51234+0.10000\ttest-rmse:17.61234+0.31000",
     {"train-rmse-mean": 17.51234, "train-rmse-std": 0.1, "test-rmse-mean": 17.61234,
      "test-rmse-std": 0.31}, ("test-rmse-mean", "min")),
    # lightgbm.cv (4.x): `cv_agg's valid <metric>`, as its result's keys
    ("[10]\tcv_agg's valid auc: 0.83 + 0.012\tcv_agg's valid binary_logloss: 0.41 + 0.02",
     {"valid auc-mean": 0.83, "valid auc-stdv": 0.012, "valid binary_logloss-mean": 0.41,
      "valid binary_logloss-stdv": 0.02}, ("valid auc-mean", "max")),
    # a ranker's NDCG at a cut-off is higher-is-better, an error at a threshold lower
    ("[5]\teval-error@0.7:0.12000\teval-ndcg@5:0.61000",
     {"eval-error@0.7": 0.12, "eval-ndcg@5": 0.61}, ("eval-ndcg@5", "max")),
    # only the training data evaluated: its metric, as the library would stop on it
    ("[5]\ttrain-mlogloss:0.50000", {"train-mlogloss": 0.5}, ("train-mlogloss", "min")),
])
def test_other_shapes_of_the_line(tmp_path, line, values, declared):
    text = "".join(line.replace(f"[{line[1:line.index(']')]}]", f"[{k}]", 1) + "\n"
                   for k in range(1, 6))
    run = read_run(write(tmp_path, text))
    assert {name: run.series(name).iloc[0] for name in run.metrics} == pytest.approx(values)
    assert (run.performance_metric, run.direction) == declared


def test_a_round_of_another_shape_is_reported_and_the_rest_read(tmp_path):
    text = xgboost_log(10) + "[10]\tvalidation_0-auc 0.99\n"
    run = read_run(write(tmp_path, text))
    assert len(run.series("validation_1-logloss")) == 10
    assert any(w.startswith("line 12") and "neither XGBoost's" in w for w in run.warnings)


def test_a_notebook_cell_that_fit_a_model_is_read_with_the_metric_it_stops_on(tmp_path, capsys):
    """Most of these lines are printed in a notebook (a Kaggle kernel's `model.fit` cell)."""
    book = notebook_cell(tmp_path,
                         "model.fit(X, y, eval_set=[(X, y), (X_valid, y_valid)], verbose=True)",
                         xgboost_log(), name="kernel.ipynb")
    run = read_as(book, "boosting_console")
    assert (run.performance_metric, run.direction) == ("validation_1-logloss", "min")
    assert main(["analyze", str(book), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "validation_1-logloss"
