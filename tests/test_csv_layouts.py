"""CSV tables as tools write them beside a plain header row (`phasewatch.io.csv_layouts`): a
title line above the header, a pandas index column, sentence-transformers' evaluator CSVs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from phasewatch.io import read_run, sniff_format


def _keras_rows(n: int = 6) -> list[list[float]]:
    return [[e, 0.5 + 0.05 * e, 1.0 - 0.1 * e, 0.6 + 0.03 * e, 0.8 - 0.05 * e] for e in range(n)]


def test_a_title_line_above_a_semicolon_header_is_passed_over(tmp_path):
    """Keras' CSVLogger(separator=';') under a title line a script wrote first."""
    path = tmp_path / "model_history_log.csv"
    rows = "\n".join(";".join(str(v) for v in (int(r[0]), *r[1:])) for r in _keras_rows())
    path.write_text("model_history_log\nepoch;accuracy;loss;val_accuracy;val_loss\n" + rows + "\n")
    assert sniff_format(path).FORMAT == "csv"
    run = read_run(path)
    col = run.column("val_accuracy")
    assert col.steps.tolist() == list(range(6))
    np.testing.assert_allclose(col.values, [r[3] for r in _keras_rows()])
    assert run.step_unit == "epoch"
    assert any("line 1 ('model_history_log') is a title" in w for w in run.warnings)


def test_excels_separator_hint_names_the_delimiter(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("sep=;\nstep;eval_accuracy\n10;0,5\n20;0,625\n")
    run = read_run(path)
    col = run.column("eval_accuracy")
    assert col.steps.tolist() == [10, 20]
    assert col.values.tolist() == [0.5, 0.625]


def test_a_pandas_index_column_numbers_the_rows(tmp_path):
    """pd.DataFrame(history.history).to_csv(path): the header starts with a comma."""
    path = tmp_path / "training_history.csv"
    frame = pd.DataFrame({"Loss": [2.9, 2.5, 2.0, 1.7], "ValLoss": [2.8, 2.6, 2.4, 2.5]})
    frame.to_csv(path)
    assert path.read_text().startswith(",Loss,ValLoss")
    assert sniff_format(path).FORMAT == "csv"
    run = read_run(path)
    col = run.column("ValLoss")
    assert col.steps.tolist() == [0, 1, 2, 3]
    assert col.values.tolist() == [2.8, 2.6, 2.4, 2.5]
    assert "" not in run.metrics
    assert any("pandas DataFrame's index" in w for w in run.warnings)


def _evaluator_csv(path, rows) -> None:
    header = "epoch,steps,cosine_pearson,cosine_spearman\n"
    path.write_text(header + "".join(f"{e},{s},{p},{p - 0.01}\n" for e, s, p in rows))


def test_sentence_transformers_end_of_epoch_evaluations_are_read_by_epoch(tmp_path):
    """steps is -1 at each epoch's end: read by `steps`, 25 evaluations were one."""
    path = tmp_path / "similarity_evaluation_sts-dev_results.csv"
    rows = [(e, -1, 0.80 + 0.002 * e) for e in range(25)]
    _evaluator_csv(path, rows + [(-1, -1, 0.99)])  # an evaluator called after fit
    run = read_run(path)
    col = run.column("cosine_spearman")
    assert col.steps.tolist() == list(range(25))
    np.testing.assert_allclose(col.values, [p - 0.01 for _, _, p in rows])
    assert "epoch" not in run.metrics and "steps" not in run.metrics
    assert run.step_unit == "epoch"
    assert any("steps counts the batches within it" in w for w in run.warnings)
    assert any("outside training" in w for w in run.warnings)


def test_evaluations_within_an_epoch_are_left_out_and_said(tmp_path):
    path = tmp_path / "results.csv"
    _evaluator_csv(path, [(0, -1, 0.8), (1, 500, 0.81), (1, -1, 0.82), (2, 500, 0.83),
                          (2, -1, 0.84)])
    run = read_run(path)
    assert run.column("cosine_pearson").values.tolist() == [0.8, 0.82, 0.84]
    said = [w for w in run.warnings if "within epoch" in w]
    assert len(said) == 1 and "line 3" in said[0]


def test_sentence_transformers_3_global_steps_are_read_as_steps(tmp_path):
    """Version 3's trainer writes the global step and a fractional epoch: nothing changes."""
    path = tmp_path / "results.csv"
    path.write_text("epoch,steps,cosine_pearson\n0.5,100,0.7\n1.0,200,0.75\n1.5,300,0.78\n")
    run = read_run(path)
    col = run.column("cosine_pearson")
    assert col.steps.tolist() == [100, 200, 300]
    assert run.step_unit != "epoch"


def test_a_table_without_a_step_column_is_still_numbered(tmp_path):
    path = tmp_path / "progress.csv"
    path.write_text("loss,accuracy\n0.9,0.5\n0.7,0.6\n")
    assert read_run(path).column("accuracy").steps.tolist() == [0, 1]


def test_fastais_csvlogger_metrics_are_held_out(tmp_path):
    """fastai's CSVLogger (history.csv) writes the Recorder's metric names: its metrics are
    computed on the validation set (a bare `accuracy` is no train accuracy), `time` is a
    duration; read as fastai's notebook table is."""
    path = tmp_path / "history.csv"
    rows = [(0, 0.912345, 0.701234, 0.702, "00:12"), (1, 0.65, 0.54, 0.781, "00:11"),
            (2, 0.48, 0.47, 0.82, "00:11"), (3, 0.39, 0.455, 0.833, "00:12")]
    path.write_text("epoch,train_loss,valid_loss,accuracy,error_rate,time\n" + "".join(
        f"{e},{t:.6f},{v:.6f},{a:.6f},{1 - a:.6f},{d}\n" for e, t, v, a, d in rows))
    run = read_run(path)
    assert sorted(run.metrics) == ["train_loss", "valid_accuracy", "valid_error_rate",
                                   "valid_loss"]
    assert run.column("valid_accuracy").values.tolist() == [0.702, 0.781, 0.82, 0.833]
    assert run.step_unit == "epoch"
    assert not any("time" in w for w in run.warnings)


def test_a_home_made_table_with_a_valid_loss_keeps_its_names(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,train_loss,valid_loss,accuracy\n0,0.9,0.8,0.5\n1,0.7,0.6,0.6\n")
    assert sorted(read_run(path).metrics) == ["accuracy", "train_loss", "valid_loss"]


def test_a_title_that_names_no_delimiter_leaves_it_to_the_header(tmp_path):
    """A name above a ';' table whose header holds a comma too: the header's own count of
    delimiters decides, as without the title."""
    path = tmp_path / "log.csv"
    path.write_text("run 5\nepoch;val_acc;lr,decay\n0;0,5;0,1\n1;0,6;0,1\n")
    assert read_run(path).column("val_acc").values.tolist() == [0.5, 0.6]


def test_a_file_whose_first_evaluation_is_within_an_epoch_is_read_by_epoch_too(tmp_path):
    """evaluation_steps=500: the first row is within epoch 0; read by `steps` (500, then -1 at
    the epoch's end, then 500 again), the counter would go back at each epoch."""
    path = tmp_path / "results.csv"
    _evaluator_csv(path, [(0, 500, 0.7), (0, -1, 0.8), (1, 500, 0.81), (1, -1, 0.82)])
    run = read_run(path)
    col = run.column("cosine_pearson")
    assert col.steps.tolist() == [0, 1] and col.values.tolist() == [0.8, 0.82]
    assert not any("went back" in w for w in run.warnings)


def test_an_hf_log_history_exported_to_csv_leaves_out_the_evaluation_after_training(tmp_path):
    """`pd.DataFrame(trainer.state.log_history).to_csv(...)`: a `trainer.evaluate()` after
    `train()` logs its evaluation at the last step again, after the `train_runtime` row; read
    as that step's point, it replaced the evaluation made there during training."""
    history = [{"loss": 0.09, "epoch": 1.0, "step": 100}, {"eval_loss": 0.082, "epoch": 1.0,
                                                         "step": 100, "eval_runtime": 10.1},
               {"loss": 0.07, "epoch": 2.0, "step": 200}, {"eval_loss": 0.0743, "epoch": 2.0,
                                                         "step": 200, "eval_runtime": 10.2},
               {"train_runtime": 500.0, "train_loss": 0.08, "epoch": 2.0, "step": 200},
               {"eval_loss": 0.0790, "epoch": 2.0, "step": 200, "eval_runtime": 10.0}]
    path = tmp_path / "training_log.csv"
    pd.DataFrame(history).to_csv(path, index=False)
    run = read_run(path)
    assert run.column("eval_loss").values.tolist() == [0.082, 0.0743]
    assert any("an evaluation logged after training ended" in w for w in run.warnings)


def test_a_value_that_is_no_number_in_a_numeric_column_is_said(tmp_path):
    """`0.6x` among numbers is a reading lost; a column of text (a model's name) is no metric
    and says nothing, nor do cells that say a value is absent."""
    path = tmp_path / "log.csv"
    path.write_text("step,acc,model,loss\n1,0.5,gpt2,0.9\n2,0.6x,gpt2,n/a\n3,0.7,gpt2,0.7\n"
                    "4,0.7a1,gpt2,0.6\n")
    run = read_run(path)
    assert run.column("acc").values.tolist() == [0.5, 0.7]
    said = [w for w in run.warnings if "not numbers" in w]
    assert said == [("skipped values that are not numbers where the metric's other values are: "
                    "2 of acc (the first at line 3: '0.6x'); each is a reading lost (check the "
                    "log there)")]


def test_a_json_lines_value_that_is_no_number_is_said(tmp_path):
    """The bulk JSON-lines reader too (its column path and its line path)."""
    path = tmp_path / "log.jsonl"
    rows = [{"step": i, "acc": 0.5 + 0.01 * i, "model": "gpt2"} for i in range(20)]
    rows[7]["acc"] = "0.6x"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_run(path)
    assert run.column("acc").values.size == 19
    assert any("1 of acc (at line 8: '0.6x')" in w for w in run.warnings)


def test_a_scripts_own_epoch_and_global_steps_table_is_read_by_its_steps(tmp_path):
    """`epoch,steps,...` with a whole epoch and the global step (no -1 at an epoch's end) is
    no sentence-transformers file: every row is read by `steps`, the first epoch's too (they
    were all left out as evaluations within an epoch, and the file had no record), and so is a
    file of one epoch, at its end."""
    path = tmp_path / "log.csv"
    rows = [(s // 400, s, 1.0 - s / 4000, 0.5 + s / 10000) for s in range(100, 2001, 100)]
    path.write_text("epoch,steps,loss,val_acc\n" + "".join(f"{e},{s},{lo},{a}\n"
                                                           for e, s, lo, a in rows))
    run = read_run(path)
    assert run.column("val_acc").steps.tolist() == [s for _, s, _, _ in rows]
    assert run.column("epoch").values.tolist() == [e for e, _, _, _ in rows]
    assert run.step_unit != "epoch" and not any("within epoch" in w for w in run.warnings)
    path.write_text("epoch,steps,val_acc\n0,100,0.5\n0,200,0.6\n0,300,0.7\n")
    assert read_run(path).column("val_acc").steps.tolist() == [100, 200, 300]


def test_a_separator_hint_is_what_the_format_is_told_by_too(tmp_path):
    """`sep=|` names a delimiter the header's own count does not pick (',', tab or ';'): the
    reader read such a file by it, but the format sniff looked for ',' and the file was of
    an unknown format (exit 3)."""
    path = tmp_path / "history.csv"
    path.write_text("sep=|\nepoch|val_acc|val_loss\n0|0.5|1.0\n1|0.6|0.9\n2|0.7|0.8\n")
    assert sniff_format(path).FORMAT == "csv"
    assert read_run(path).column("val_acc").values.tolist() == [0.5, 0.6, 0.7]
