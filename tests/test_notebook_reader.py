"""Jupyter notebooks as researchers leave them (`phasewatch.io.notebook`): the Trainer's progress
table drawn by transformers' own NotebookProgressCallback, and logs a cell printed, read through
the real CLI; the same run from its trainer_state.json gives the same analysis."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("nbformat")
pytest.importorskip("transformers.utils.notebook")

from notebook_books import html_output, result, stream, train_output, trainer_html, write_book
from test_watch import curve_records

from phasewatch.cli import main
from phasewatch.io import read_run, sniff_format


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def curve_rows(n=300, seed=0, every=10):
    """(step, epoch, logs) of a run with a disruption, a readaptation and an overfit: a train
    loss row and an evaluation (loss, accuracy) at the same steps (logging_steps ==
    eval_steps), values with at most 6 decimals (what the table prints)."""
    rows = []
    for i, record in enumerate(r for r in curve_records(n, seed) if "eval/accuracy" in r):
        step = record["step"]
        if step == 0:
            continue
        acc = round(record["eval/accuracy"], 6)
        rows.append((step, step / 1000, {"loss": round(1.0 / (i + 1) + 0.2, 4)}))
        rows.append((step, step / 1000, {"eval_loss": round(1.5 - acc, 6), "eval_accuracy": acc,
                                         "eval_runtime": 1.25, "eval_samples_per_second": 80.0,
                                         "eval_steps_per_second": 10.0}))
    return rows


SUMMARY = {"train_runtime": 100.5, "train_samples_per_second": 31.8, "train_steps_per_second": 4.0,
           "total_flos": 123456.0, "train_loss": 0.45, "epoch": 3.0}


def trainer_notebook(monkeypatch, path, rows, max_steps, **options):
    html = trainer_html(monkeypatch, rows, max_steps=max_steps, **options)
    last = rows[-1][0]
    return write_book(path, [
        "# Fine-tuning",
        ("from transformers import Trainer", []),
        ("trainer.train()", [stream("warning: some weights were not initialized\n", "stderr"),
                             html_output(html), result(train_output(last, 0.45, SUMMARY))]),
    ])


def trainer_state_of(path, rows, max_steps, summary_step):
    """The trainer_state.json of the same rows (the table does not carry the epoch, so neither
    does this file: it would give epoch boundaries the notebook cannot know)."""
    history = [{"step": step, **{k: v for k, v in logs.items()
                                 if k not in ("eval_runtime", "eval_samples_per_second",
                                              "eval_steps_per_second")}}
               for step, _, logs in rows]
    history.append({"step": summary_step, **SUMMARY})
    path.write_text(json.dumps({"global_step": summary_step, "max_steps": max_steps,
                                "log_history": history}, indent=2))
    return path


# ---------------------------------------------------------------- the progress table
def test_progress_table_is_read_under_the_trainers_own_keys(tmp_path, monkeypatch, capsys):
    rows = curve_rows()
    book = trainer_notebook(monkeypatch, tmp_path / "finetune.ipynb", rows, max_steps=3000)
    assert sniff_format(book).FORMAT == "notebook"
    code, out, err = run_cli(capsys, "inspect", book, "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["format"] == "notebook" and doc["source"] == str(book)
    assert set(doc["metrics"]) == {"loss", "eval_loss", "eval_accuracy", *SUMMARY}
    evals = [(s, logs) for s, _, logs in rows if "eval_accuracy" in logs]
    acc = doc["metrics"]["eval_accuracy"]
    assert acc["count"] == len(evals) and acc["first_step"] == evals[0][0]
    assert acc["first"] == evals[0][1]["eval_accuracy"] and acc["last"] == evals[-1][1]["eval_accuracy"]
    assert doc["metrics"]["train_runtime"]["first_step"] == rows[-1][0]  # the TrainOutput row
    assert doc["performance"]["metric"] == "eval_accuracy"
    assert doc["planned_steps"] == 3000  # the progress bar's max
    assert doc["warnings"] == []
    run = read_run(book)
    assert run.series("eval/accuracy").tolist() == [logs["eval_accuracy"] for _, logs in evals]
    assert run.series("eval/loss").tolist() == [logs["eval_loss"] for _, logs in evals]


def test_the_same_run_from_its_trainer_state_gives_the_same_analysis(tmp_path, monkeypatch, capsys):
    rows = curve_rows()
    book = trainer_notebook(monkeypatch, tmp_path / "finetune.ipynb", rows, max_steps=3000)
    state = trainer_state_of(tmp_path / "trainer_state.json", rows, 3000, rows[-1][0])
    docs = {}
    for path in (book, state):
        code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
        assert code == 0
        [docs[path.suffix]] = json.loads(out)["runs"]
        docs[path.suffix].pop("source")
    assert docs[".ipynb"]["phases"], docs  # a run with phases, not an empty comparison
    assert docs[".ipynb"] == docs[".json"]
    inspected = {}
    for path in (book, state):
        run_cli(capsys, "inspect", path, "--format", "json")
        code, out, _ = run_cli(capsys, "inspect", path, "--format", "json")
        doc = json.loads(out)
        inspected[path.suffix] = (doc["metrics"], doc["performance"], doc["planned_steps"])
    assert inspected[".ipynb"] == inspected[".json"]
    code, out, _ = run_cli(capsys, "analyze", book)
    assert code == 0 and "metric eval_accuracy (max)" in out and "recommended stop: step" in out


def test_eval_metric_columns_map_back_to_their_keys(tmp_path, monkeypatch):
    """on_evaluate drops `eval_` and capitalises each word; TRL's SFT evaluation and a
    seq2seq generation evaluation name their metrics so."""
    logs = {"eval_loss": 0.9, "eval_mean_token_accuracy": 0.61, "eval_num_tokens": 2048.0,
            "eval_rouge1": 0.31, "eval_rougeL": 0.27, "eval_wer": 0.42, "eval_f1": 0.7,
            "eval_runtime": 3.0}
    rows = [(50, 0.5, {"loss": 1.2}), (50, 0.5, logs), (100, 1.0, {"loss": 1.0}),
            (100, 1.0, {**logs, "eval_f1": 0.75})]
    html = trainer_html(monkeypatch, rows, max_steps=100)
    for column in ("Mean Token Accuracy", "Num Tokens", "Rouge1", "Rougel", "Wer", "F1"):
        assert f"<th>{column}</th>" in html  # the names transformers wrote
    book = write_book(tmp_path / "sft.ipynb", [("trainer.train()", [html_output(html)])])
    run = read_run(book)
    assert set(run.metrics) == {"loss", "eval_loss", "eval_mean_token_accuracy", "eval_num_tokens",
                                "eval_rouge1", "eval_rougeL", "eval_wer", "eval_f1"}
    assert run.series("eval_f1").tolist() == [0.7, 0.75]
    assert run.series("eval/mean_token_accuracy").tolist() == [0.61, 0.61]


def test_epoch_table_counts_epochs(tmp_path, monkeypatch, capsys):
    rows = []
    for epoch, acc in enumerate([0.80, 0.86, 0.88, 0.87, 0.85, 0.84], 1):
        rows.append((epoch * 100, float(epoch), {"loss": round(0.5 / epoch, 4)}))
        rows.append((epoch * 100, float(epoch), {"eval_loss": round(1 - acc, 4), "eval_accuracy": acc}))
    html = trainer_html(monkeypatch, rows, max_steps=600, eval_strategy="epoch", epochs=6)
    assert "<th>Epoch</th>" in html
    book = write_book(tmp_path / "cls.ipynb", [("trainer.train()", [html_output(html)])])
    run = read_run(book)
    assert run.step_unit == "epoch" and run.steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert run.series("eval_accuracy").tolist() == [0.80, 0.86, 0.88, 0.87, 0.85, 0.84]
    code, out, _ = run_cli(capsys, "inspect", book, "--format", "json")
    assert json.loads(out)["planned_steps"] == 6  # `Epoch 6/6` in the progress label
    code, out, _ = run_cli(capsys, "analyze", book)
    assert code == 0 and "recommended stop: epoch 3" in out


def test_no_log_cells_are_absent_values(tmp_path, monkeypatch):
    """logging_steps 50 beside eval_steps 20: the first evaluations show `No log` for the train
    loss (it was not logged yet); a metric one evaluation logged and the next did not reads
    `No Log` there, and the rows before its first value are shorter than the header."""
    rows = [(20, 0.2, {"eval_loss": 0.9}), (40, 0.4, {"eval_loss": 0.8, "eval_bleu": 12.5}),
            (50, 0.5, {"loss": 1.1}), (60, 0.6, {"eval_loss": 0.7})]
    html = trainer_html(monkeypatch, rows, max_steps=60)
    assert "No log" in html and "No Log" in html
    run = read_run(write_book(tmp_path / "nb.ipynb", [("t.train()", [html_output(html)])]))
    assert run.series("loss").to_dict() == {60: 1.1}  # the latest logged loss, at the evaluation
    assert run.series("eval_loss").tolist() == [0.9, 0.8, 0.7]
    assert run.series("eval_bleu").to_dict() == {40: 12.5}
    assert run.warnings == []


# ---------------------------------------------------------------- printed logs
HF_LINES = "".join(
    f"{{'loss': {1.0 / (i + 1) + 0.2:.4f}, 'grad_norm': 1.25, 'learning_rate': 2e-05, "
    f"'epoch': {i / 20:.2f}}}\n" for i in range(1, 40)
) + "{'train_runtime': 50.1, 'train_samples_per_second': 3.2, 'train_loss': 0.4, 'epoch': 1.95}\n"


def test_printed_hf_lines_are_read_by_the_hf_console_reader(tmp_path):
    """`disable_tqdm=True` (PrinterCallback) in a notebook, or `!python train.py`: the dict
    lines in the cell's stream outputs are read exactly as the same lines in a console log."""
    printed = "Loading checkpoint shards: 100%|##########| 2/2\n" + HF_LINES
    cut = printed.index("'epoch': 0.25")  # a line printed in two writes, saved as two outputs
    book = write_book(tmp_path / "printed.ipynb", [
        ("trainer.train()", [stream(printed[:cut]), stream(printed[cut:])]),
        ("x", [stream("a warning\n", "stderr")]),
    ])
    assert sniff_format(book).FORMAT == "notebook"
    log = tmp_path / "train.log"
    log.write_text(printed)
    from_book, from_log = read_run(book), read_run(log)
    assert from_book.format == from_log.format == "hf_console"
    assert from_book.series("loss").size == 39
    assert from_book.table.equals(from_log.table)
    assert from_book.warnings == from_log.warnings == []


def test_printed_console_logs_of_other_trainers(tmp_path):
    verl = "".join(f"(TaskRunner pid=81) step:{s} - actor/pg_loss:{0.5 - s / 100:.3f} - "
                   f"critic/score/mean:{0.1 + s / 50:.3f}\n" for s in range(1, 11))
    kv = "".join(f"epoch {e}: train_loss={1 / e:.4f}, val_loss={0.5 + abs(e - 4) / 10:.4f}\n"
                 for e in range(1, 9))
    book = write_book(tmp_path / "two.ipynb", [("!python -m verl.trainer.main_ppo", [stream(verl)]),
                                               ("for epoch in ...", [stream(kv)])])
    assert read_run(f"{book}/1").format == "verl_console"
    run = read_run(f"{book}/2")
    assert run.format == "kv_console" and run.step_unit == "epoch"
    assert run.series("val_loss").to_dict()[4] == 0.5


# ---------------------------------------------------------------- several runs
def test_a_notebook_of_two_runs_is_listed_and_each_is_addressed(tmp_path, monkeypatch, capsys):
    first = trainer_html(monkeypatch, curve_rows(), max_steps=3000)
    second = trainer_html(monkeypatch, [(s, s / 100, {"loss": round(2 / s, 4)}) for s in range(10, 110, 10)],
                          max_steps=100, eval_strategy="no")
    book = write_book(tmp_path / "sweep.ipynb", [
        ("trainer.train()", [html_output(first)]),
        "## again, lr 1e-4",
        ("trainer2.train()", [stream("hello\n"), html_output(second)]),
        ("print(trainer2.evaluate())", [stream("{'eval_loss': 0.5}\n")]),
    ])
    code, out, err = run_cli(capsys, "inspect", book)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{book}  [store of 2 runs]"
    assert lines[1].split()[:2] == [f"{book}/1", "notebook"] and lines[1].endswith("eval_accuracy")
    assert lines[2].split()[:2] == [f"{book}/2", "notebook"] and lines[2].endswith("loss")
    code, out, _ = run_cli(capsys, "inspect", f"{book}/2", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["source"] == f"{book}/2" and doc["metrics"]["loss"]["count"] == 10
    code, out, _ = run_cli(capsys, "analyze", book, "--format", "json")
    assert code == 0 and [r["source"] for r in json.loads(out)["runs"]] == [f"{book}/1", f"{book}/2"]
    code, _, err = run_cli(capsys, "analyze", f"{book}/3")
    assert code == 3
    assert f"{book}: no run '3' in this notebook; its runs: sweep.ipynb/1 (cell 1, notebook), " \
           "sweep.ipynb/2 (cell 3, notebook)" in err
    code, _, err = run_cli(capsys, "watch", book)
    assert code == 3 and "this notebook shows 2 training runs; pass one as" in err


def test_a_folder_counts_only_the_notebooks_that_show_a_training(tmp_path, monkeypatch, capsys):
    html = trainer_html(monkeypatch, curve_rows(), max_steps=3000)
    write_book(tmp_path / "01_data.ipynb", [("df.head()", [stream("   a  b\n0  1  2\n")])])
    write_book(tmp_path / "02_train.ipynb", [("trainer.train()", [html_output(html)])])
    run = read_run(tmp_path)
    assert run.format == "notebook" and "eval_accuracy" in run.metrics


# ---------------------------------------------------------------- damaged and empty notebooks
def test_damaged_cells_are_skipped_and_reported(tmp_path, monkeypatch, capsys):
    html = trainer_html(monkeypatch, curve_rows(), max_steps=3000)
    rows = html.split("<tr>")
    rows[3] = rows[3].replace("<td>", "<td>x", 1)  # the third data row's step: 'x...'
    rows[5] = rows[5].replace("</td>", "</td><td>0.5</td>", 1)  # a cell too many
    rows[7] = rows[7].replace("<td>0.", "<td>0.x", 1)  # a training loss that is no number
    book = write_book(tmp_path / "nb.ipynb", [("trainer.train()", [html_output("<tr>".join(rows))]),
                                              ("x", [])])
    doc = json.loads(book.read_text())
    doc["cells"][1]["outputs"] = "oops"
    book.write_text(json.dumps(doc))
    code, out, err = run_cli(capsys, "inspect", book, "--format", "json")
    assert code == 0, err
    warnings = json.loads(out)["warnings"]
    assert "cell 2: skipped (its 'outputs' is not a list)" in warnings
    assert any(w.startswith("cell 1: skipped 2 of ") and "table rows (rows 3, 5; first: row 3: its "
               "Step 'x" in w for w in warnings), warnings
    assert any(w.startswith("cell 1: left out 1 table values that are not numbers (first: row 7, "
                            "Training Loss: '0.x") for w in warnings), warnings
    assert json.loads(out)["metrics"]["eval_accuracy"]["count"] == len(curve_rows()) // 2 - 2


def test_bad_notebooks_are_exit_3_naming_file_cell_and_line(tmp_path, capsys):
    cut = tmp_path / "cut.ipynb"
    cut.write_text('{\n "cells": [\n  {\n   "cell_type": "code",\n   "outputs": [\n')
    code, _, err = run_cli(capsys, "inspect", cut)
    assert code == 3 and err.startswith(f"phasewatch: error: {cut}:6: the notebook is not valid JSON")

    empty = write_book(tmp_path / "empty.ipynb", ["# notes", ("import torch", []), ("x = 1", [])])
    code, _, err = run_cli(capsys, "analyze", empty)
    assert code == 3
    assert f"{empty}: no training output in this notebook (2 code cells, 0 with outputs; the " \
           "notebook was saved without outputs" in err
    assert "Trainer's progress table" in err and "hf_console" in err

    bad_lines = "{'loss': 0.4, 'epoch': }\n" * 3
    only_bad = write_book(tmp_path / "bad.ipynb", [
        ("t.train()", [stream("{'loss': 0.5, 'epoch': 'x'}\n" + bad_lines)])])
    code, _, err = run_cli(capsys, "inspect", only_bad)
    assert code == 3 and f"{only_bad}: no training output in this notebook" in err
    assert "first problem: cell 1, line 1: no valid record in the file; first problem: the epoch " \
           "is not a number" in err

    some_bad = write_book(tmp_path / "some.ipynb", [("t.train()", [stream(HF_LINES + bad_lines)])])
    run = read_run(some_bad)
    assert run.format == "hf_console" and len(run.series("loss")) == 39
    assert any(w.startswith("cell 1: skipped 3 of ") and "(lines 41, 42, 43;" in w
               for w in run.warnings), run.warnings


def test_a_cell_stopped_by_an_error_is_said(tmp_path, monkeypatch):
    from nbformat.v4 import new_output

    html = trainer_html(monkeypatch, curve_rows()[:40], max_steps=3000, finished=False)
    error = new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[])
    run = read_run(write_book(tmp_path / "nb.ipynb", [("trainer.train()", [html_output(html), error])]))
    assert run.warnings == ["cell 1: the cell stopped with an error (KeyboardInterrupt: )"]


def test_a_notebook_is_sniffed_by_content_not_name(tmp_path, monkeypatch):
    html = trainer_html(monkeypatch, curve_rows()[:20], max_steps=3000)
    book = write_book(tmp_path / "nb.ipynb", [("trainer.train()", [html_output(html)])])
    renamed = tmp_path / "notebook.json"
    renamed.write_bytes(book.read_bytes())
    assert read_run(renamed).format == "notebook"
    state = trainer_state_of(tmp_path / "trainer_state.json", curve_rows()[:20], 3000, 100)
    assert sniff_format(state).FORMAT == "trainer_state"
    cells_key = tmp_path / "cells.json"
    cells_key.write_text(json.dumps({"cells": [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]}))
    assert sniff_format(cells_key).FORMAT != "notebook"  # a JSON table that is no notebook


def test_reading_never_runs_the_notebooks_code(tmp_path, monkeypatch):
    """Source cells and outputs are text: a cell that would write a file when run does not."""
    marker = tmp_path / "ran"
    html = trainer_html(monkeypatch, curve_rows()[:20], max_steps=3000)
    code = f"open({str(marker)!r}, 'w').write('x')"
    book = write_book(tmp_path / "nb.ipynb", [
        (code, [html_output(html), result(f"TrainOutput(global_step=100, training_loss=0.4, "
                                          f"metrics={{'a': __import__('os').system('touch {marker}')}})")])])
    run = read_run(book)
    assert not marker.exists() and "a" not in run.metrics
    assert any("the TrainOutput's metrics cannot be read" in w for w in run.warnings)




def test_unsloth_tables_keep_the_training_keys(tmp_path, monkeypatch):
    """Unsloth patches the callback to add its trainer's log keys as columns, `/` spaced
    (`column_names += [x.replace("/", " / ") for x in Trainer_metrics]`): drawn here by the real
    NotebookTrainingTracker as Unsloth's on_log fills it; the keys come back as TRL logs them."""
    from notebook_books import _capture_display
    from transformers.utils.notebook import NotebookTrainingTracker

    shown = _capture_display(monkeypatch)
    metrics = ["reward", "reward_std", "kl", "rewards/xmlcount_reward_func"]
    tracker = NotebookTrainingTracker(20, ["Step", "Training Loss"]
                                      + [m.replace("/", " / ") for m in metrics])
    for step in range(1, 21):
        logs = {"loss": 0.001 * step, "reward": 0.1 * step, "reward_std": 0.5, "kl": 0.01 * step,
                "rewards/xmlcount_reward_func": 0.05 * step}
        values = {"Training Loss": logs["loss"]}
        values.update({m.replace("/", " / "): logs[m] for m in metrics})
        values["Step"] = step
        tracker.write_line(values)
        tracker.update(step + 1, comment="Epoch 0.1/1")
    tracker.update(20, force_update=True)
    assert "<th>rewards / xmlcount_reward_func</th>" in shown["html"][0]
    run = read_run(write_book(tmp_path / "grpo.ipynb", [("trainer.train()", [html_output(shown["html"][0])])]))
    assert set(run.metrics) == {"loss", *metrics}
    assert run.aliases["train/reward"] == "reward" and run.series("train/reward").size == 20
    assert run.series("rewards/xmlcount_reward_func").iloc[-1] == 1.0


@pytest.mark.parametrize("front_end", ["colab", "kaggle"])
def test_notebooks_whose_cells_come_after_a_large_metadata(tmp_path, monkeypatch, front_end):
    """Colab writes `nbformat` first and Kaggle `metadata` first; widget states can make the
    metadata larger than the 64 KiB sniffing looks at."""
    html = trainer_html(monkeypatch, curve_rows()[:20], max_steps=3000)
    book = json.loads(write_book(tmp_path / "nb.ipynb", [("trainer.train()", [html_output(html)])])
                      .read_text())
    book["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        f"w{k}": {"model_name": "HTMLModel", "state": {"value": "x" * 100}} for k in range(1000)}}
    first = ("nbformat", "nbformat_minor", "metadata") if front_end == "colab" else ("metadata",)
    ordered = {key: book[key] for key in (*first, "cells", "nbformat", "nbformat_minor")}
    path = tmp_path / f"{front_end}.ipynb"
    path.write_text(json.dumps(ordered, indent=1))
    assert path.read_text().index('"cells"') > 64 * 1024
    assert sniff_format(path).FORMAT == "notebook"
    assert read_run(path).series("eval_accuracy").size == 10


def test_a_printed_evaluation_is_not_a_run(tmp_path, monkeypatch, capsys):
    """`print(trainer.evaluate())` prints one dict with an epoch: one row, not a training curve,
    and not a second run of the notebook whose table is its training."""
    html = trainer_html(monkeypatch, curve_rows()[:20], max_steps=3000)
    printed = "{'eval_loss': 0.41, 'eval_runtime': 6.5, 'epoch': 3.0}\n"
    book = write_book(tmp_path / "nb.ipynb", [("trainer.train()", [html_output(html)]),
                                              ("print(trainer.evaluate())", [stream(printed)])])
    assert read_run(book).format == "notebook"  # one run: the table's
    alone = write_book(tmp_path / "eval.ipynb", [
        ("print(trainer.evaluate())", [stream(printed)]),
        ("trainer.train()", [result(train_output(72, 1.64, SUMMARY))])])
    code, _, err = run_cli(capsys, "inspect", alone)
    assert code == 3 and "cells 1, 2 show a single log row (a printed evaluation or the " \
                         "TrainOutput summary), not a curve" in err


def test_html_the_parser_refuses_is_a_reported_output(tmp_path, monkeypatch):
    """html.parser asserts on an unknown `<![...]` marked section: that output is skipped and
    reported, the table of another output is read. (HTML without 'Training Loss' is no progress
    table and is not parsed at all.)"""
    html = trainer_html(monkeypatch, curve_rows()[:20], max_steps=3000)
    damaged = "<p><![uStep]<table><tr><th>Step</th><th>Training Loss</th></tr>"
    book = write_book(tmp_path / "nb.ipynb", [("display(x)", [html_output(damaged)]),
                                              ("trainer.train()", [html_output(html)])])
    run = read_run(book)
    assert run.series("eval_accuracy").size == 10
    assert run.warnings == [("cell 1: output 1 skipped (HTML that cannot be parsed (unknown "
                             "status keyword 'uStep' in marked section))")]
