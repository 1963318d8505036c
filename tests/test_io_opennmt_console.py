"""OpenNMT-py's `onmt_train` logs a line every `report_every` steps (`Step N/ M; acc: ...; ppl:
...; xent: ...; lr: ...`) and, every `valid_steps`, the validation's perplexity and accuracy on
lines of their own with no step. No reader took it ("unknown log format")."""

from __future__ import annotations

import json
import math

import pytest
from _files import notebook_cell, read_as, write

from phasewatch.cli import main
from phasewatch.io import read_run


def stamp(k: int) -> str:
    return f"[2024-03-01 12:{k // 60 % 60:02d}:{k % 60:02d},123 INFO]"


def valid_ppl(step: int) -> float:
    """A validation perplexity that falls to its best at step 4000, then rises: the model
    overfits its training sentences, whose cross-entropy keeps falling."""
    return 4.0 + 400 * math.exp(-step / 400) + max(0, step - 4000) * 0.004


def onmt_log(steps: int = 8000, total: int | None = 10000, v3: bool = False) -> str:
    lines = [f"{stamp(0)} Start training loop and validate every 500 steps...\n"]
    for step in range(100, steps + 100, 100):
        xent = 1.0 + 6.0 * math.exp(-step / 1500)
        head = f"Step {step:2d}/{total:5d};" if total else f"Step {step:2d};"
        extra = "aux: 0.000; " if v3 else ""
        tail = " sents:    9920; bsz: 1553/ 1553/ 124;" if v3 else ""
        lines.append(f"{stamp(step // 100)} {head} acc: {100 - 60 * math.exp(-step / 1500):6.2f};"
                     f" ppl: {math.exp(xent):5.2f}; xent: {xent:4.2f}; {extra}lr: 0.00070;"
                     f"{tail} 20410/21032 tok/s; {step // 10:6d} sec\n")
        if step % 500 == 0:
            if v3:
                accuracy = 80 - 40 * math.exp(-step / 1500)
                lines.append(f"{stamp(step // 100)} Train perplexity: {math.exp(xent) + 1:g}\n"
                             f"{stamp(step // 100)} Train accuracy: {accuracy:g}\n"
                             f"{stamp(step // 100)} Sentences processed: {step * 64}\n"
                             f"{stamp(step // 100)} Average bsz: 1343/1335/64\n")
            lines.append(f"{stamp(step // 100)} Validation perplexity: {valid_ppl(step):g}\n"
                         f"{stamp(step // 100)} Validation accuracy: "
                         f"{70 - 40 * math.exp(-step / 1000):g}\n"
                         f"{stamp(step // 100)} Saving checkpoint run/model_step_{step}.pt\n")
    return "".join(lines)


def test_the_steps_and_validations_are_read_under_opennmts_tensorboard_names(tmp_path, capsys):
    path = write(tmp_path, onmt_log())
    run = read_as(path, "opennmt_console")
    assert sorted(run.metrics) == ["progress/accuracy", "progress/lr", "progress/ppl",
                                   "progress/xent", "valid/accuracy", "valid/ppl"]
    assert run.series("progress/xent").index.tolist() == list(range(100, 8100, 100))
    ppl = run.series("valid/ppl")  # at the step line before the validation's lines
    assert ppl.index.tolist() == list(range(500, 8500, 500))
    assert ppl.loc[4000] == pytest.approx(valid_ppl(4000), rel=1e-5)
    assert run.config["max_steps"] == 10000
    assert (run.own_name("train/loss"), run.own_name("eval/loss"),
            run.own_name("eval/accuracy")) == ("progress/xent", "valid/ppl", "valid/accuracy")
    assert main(["analyze", str(path), "--metric", "valid/ppl", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["direction"] == "min" and result["phases"][-1]["name"] == "overfit"


def test_opennmt_py_3s_lines_and_its_train_statistics(tmp_path):
    run = read_run(write(tmp_path, onmt_log(3000, v3=True)))
    assert sorted(run.metrics) == ["progress/accuracy", "progress/aux", "progress/lr",
                                   "progress/ppl", "progress/xent", "train/accuracy",
                                   "train/ppl", "valid/accuracy", "valid/ppl"]
    assert run.series("train/ppl").index.tolist() == [500, 1000, 1500, 2000, 2500, 3000]


def test_a_run_without_a_planned_length_and_the_cross_entropys_direction(tmp_path):
    from phasewatch.presets import default_direction

    run = read_run(write(tmp_path, onmt_log(2000, total=None)))
    assert "max_steps" not in run.config
    assert len(run.series("valid/ppl")) == 4
    assert default_direction("progress/xent") == "min"


def test_a_notebook_cell_that_ran_onmt_train_is_read(tmp_path):
    book = notebook_cell(tmp_path, "!onmt_train -config toy_en_de.yaml",
                         onmt_log(3000), name="nmt.ipynb", on="stderr")
    run = read_as(book, "opennmt_console")
    assert len(run.series("valid/accuracy")) == 6


def test_watch_says_the_plan_is_stated_by_the_console(tmp_path, capsys):
    """The plan a console's `Step N/M` states was said to come "from the run's config
    `max_steps`", a key no OpenNMT-py user wrote (`train_steps`); so for llm.c's, Megatron's,
    the speedrun's, timm's and ESPnet's consoles (`planned.STATED_BY_LOG`)."""
    path = write(tmp_path, onmt_log())
    assert main(["watch", str(path), "--format", "jsonl"]) == 0
    err = capsys.readouterr().err
    assert ("planned length: 10000 steps, stated by the log: OpenNMT-py's console, its "
            "`Step N/MAX`") in err
