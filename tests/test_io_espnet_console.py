"""ESPnet2's `train.log`: a results line at the end of each epoch with the training's and the
validation's means (`Nepoch results: [train] loss=..., acc=..., [valid] loss=..., acc=...,
cer=...`), between the lines it prints every `log_interval` batches. No reader took it
("unknown log format")."""

from __future__ import annotations

import json
import math

import pytest
from _files import notebook_cell, read_as, write

from phasewatch.cli import main
from phasewatch.io import read_run

HEAD = "[gpu01] 2024-01-08 10:{m:02d}:{s:02d},345 ({where}) INFO: "


def valid_loss(epoch: int) -> float:
    """A validation loss at its best at epoch 8 that rises after it: the model overfits its
    training utterances, whose loss keeps falling."""
    return 20.0 + 60 * math.exp(-epoch / 2) + max(0, epoch - 8) * 1.5


def espnet_log(epochs: int = 14, planned: int = 20, finished: bool = False) -> str:
    lines = [HEAD.format(m=0, s=0, where="asr:1234") + "Vocabulary size: 500"]
    for epoch in range(1, epochs + 1):
        head = HEAD.format(m=epoch, s=0, where="trainer:300")
        lines.append(f"{head}{epoch}/{planned}epoch started")
        train = 60.0 * math.exp(-epoch / 4) + 10
        for first in (1, 101):
            lines.append(HEAD.format(m=epoch, s=10, where="trainer:732")
                         + f"{epoch}epoch:train:{first}-{first + 99}batch: iter_time=0.164, "
                         f"forward_time=0.952, loss_ctc=80.5, loss_att={train + 5:.3f}, "
                         f"acc=0.5, loss={train + 7:.3f}, optim0_lr0=1.000e-04, train_time=2.1")
        accuracy = 0.9 - 0.5 * math.exp(-epoch / 3)
        lines.append(
            HEAD.format(m=epoch, s=30, where="trainer:338")
            + f"{epoch}epoch results: [train] iter_time=0.164, forward_time=0.952, "
            f"loss={train:.3f}, loss_att={train * 0.8:.3f}, loss_ctc=1.154e+03, acc=0.750, "
            f"optim0_lr0=1.697e-04, train_time=2.157, time=6 hours, 22 minutes and 55.09 "
            f"seconds, total_count={130 * epoch}, gpu_max_cached_mem_GB=33.186, [valid] "
            f"loss={valid_loss(epoch):.3f}, acc={accuracy:.3f}, cer={1 - accuracy:.3f}, "
            f"wer=0.862, time=34.18 seconds, total_count={40 * epoch}, "
            f"[att_plot] time=3.2 seconds, total_count=0")
        lines.append(HEAD.format(m=epoch, s=31, where="trainer:384")
                     + "The best model has been updated: valid.acc")
    if finished:
        lines.append(HEAD.format(m=59, s=0, where="trainer:458")
                     + f"The training was finished at {epochs} epochs ")
    return "\n".join(lines) + "\n"


def test_each_epochs_results_are_read_at_the_epoch_split_before_the_name(tmp_path, capsys):
    path = write(tmp_path, espnet_log())
    run = read_as(path, "espnet_console")
    assert run.step_unit == "epoch"
    assert sorted(run.metrics) == [
        "train/acc", "train/forward_time", "train/gpu_max_cached_mem_GB", "train/iter_time",
        "train/loss", "train/loss_att", "train/loss_ctc", "train/optim0_lr0",
        "train/train_time", "valid/acc", "valid/cer", "valid/loss", "valid/wer"]
    assert run.series("valid/loss").index.tolist() == list(range(1, 15))  # not the batch lines
    assert run.series("valid/loss").loc[8] == pytest.approx(valid_loss(8), abs=1e-3)
    assert run.series("train/loss_ctc").iloc[0] == 1154.0
    assert run.config["max_steps"] == 20 and not run.finished
    assert (run.own_name("train/loss"), run.own_name("eval/loss"),
            run.own_name("eval/accuracy")) == ("train/loss", "valid/loss", "valid/acc")
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "valid/acc"
    assert main(["analyze", str(path), "--metric", "valid/loss", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["direction"] == "min" and result["phases"][-1]["name"] == "overfit"
    assert main(["analyze", str(path), "--metric", "valid/cer", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["direction"] == "min"


def test_the_end_of_training_and_a_damaged_results_line(tmp_path):
    """A results line cut inside its first item is reported with its line, and one with an
    item whose value is damaged keeps its other items, the damaged one said."""
    lines = espnet_log(6, finished=True).splitlines()
    cut = next(i for i, line in enumerate(lines) if "4epoch results" in line)
    lines[cut] = lines[cut][:lines[cut].index("[train] ") + 12]
    damaged = next(i for i, line in enumerate(lines) if "3epoch results" in line)
    lines[damaged] = lines[damaged].replace(", loss=", ", loss=x", 1)
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.finished
    assert run.series("valid/loss").index.tolist() == [1, 2, 3, 5, 6]
    assert run.series("train/loss").index.tolist() == [1, 2, 5, 6]
    assert run.series("train/loss_att").index.tolist() == [1, 2, 3, 5, 6]
    assert any(f"line {cut + 1}" in warning for warning in run.warnings), run.warnings
    assert any(f"line {damaged + 1}: train/loss" in warning and "left out" in warning
               for warning in run.warnings), run.warnings


def header(layers: int) -> str:
    """What `espnet2.bin.launch` and `abs_task` write before training: the command, the
    PyTorch versions, then the model's printout (`model_summary`), a Conformer layer's
    modules each on a line."""
    layer = "".join(f"      ({i}): EncoderLayer(\n" + "".join(
        f"        ({name}): Linear(in_features=256, out_features=1024, bias=True)\n"
        for name in ("linear_q", "linear_k", "linear_v", "linear_out", "linear_pos", "w_1", "w_2",
                     "w_1_macaron", "w_2_macaron", "pointwise_conv1", "pointwise_conv2"))
        + "        (dropout): Dropout(p=0.1, inplace=False)\n      )\n" for i in range(layers))
    return ("# python3 -m espnet2.bin.asr_train --use_preprocessor true --ngpu 1\n"
            "# Started at Mon Jan  8 10:00:00 UTC 2024\n#\n"
            + HEAD.format(m=0, s=0, where="abs_task:1157") + "pytorch.version=1.13.1, "
            "cuda.available=True, cudnn.version=8500, cudnn.benchmark=False, "
            "cudnn.deterministic=True\n"
            + HEAD.format(m=0, s=0, where="abs_task:1158") + "Model structure:\nESPnetASRModel(\n"
            "  (encoder): ConformerEncoder(\n    (encoders): MultiSequential(\n" + layer
            + "    )\n  )\n)\n\nModel summary:\n    Class Name: ESPnetASRModel\n")


def test_a_large_models_printout_before_the_first_epoch_is_read_past(tmp_path):
    """ESPnet2 prints the model before training: a large one's printout fills the first 64 KiB
    a format is known by, and the log was an unknown format. Its `(abs_task:N) INFO:
    pytorch.version=` line before the printout says it is ESPnet's."""
    text = header(layers=80) + espnet_log(5)
    assert text.index("epoch:train:") > 64 * 1024
    run = read_as(write(tmp_path, text), "espnet_console")
    assert run.series("valid/acc").index.tolist() == [1, 2, 3, 4, 5]


def test_a_resumed_runs_earlier_launches_are_read_first(tmp_path, capsys):
    """`espnet2.bin.launch` moves train.log to train.1.log (train.1.log to train.2.log) at each
    launch: resumed at epoch 6 and again at 10, train.log holds epochs 10-14 only, and its
    valid/loss, best at epoch 8, was read as rising from its first reading."""
    lines = espnet_log(14).splitlines(keepends=True)
    starts = [next(i for i, line in enumerate(lines) if f" {epoch}/20epoch started" in line)
              for epoch in (6, 10)]
    write(tmp_path, "".join(lines[:starts[0]]), name="train.2.log")
    write(tmp_path, "".join(lines[starts[0]:starts[1]]), name="train.1.log")
    path = write(tmp_path, "".join(lines[starts[1]:]))
    run = read_run(path)
    assert run.series("valid/loss").index.tolist() == list(range(1, 15))
    assert any("train.2.log, train.1.log" in warning for warning in run.warnings), run.warnings
    assert main(["analyze", str(path), "--metric", "valid/loss", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["recommended_stop_step"] == 8
    # the experiment's folder holds that one run, not one per launch's log
    assert main(["analyze", str(tmp_path), "--metric", "valid/loss", "--format", "json"]) == 0
    assert [run["recommended_stop_step"] for run in json.loads(capsys.readouterr().out)["runs"]
            ] == [8]


def test_damaged_items_in_both_sections_of_a_line_are_each_said(tmp_path):
    """A line damaged in its `[train]` and its `[valid]` items: the warning names both (the
    second section's replaced the first's)."""
    lines = espnet_log(4).splitlines()
    damaged = next(i for i, line in enumerate(lines) if "2epoch results" in line)
    lines[damaged] = lines[damaged].replace(", loss=", ", loss=x", 1).replace(
        ", acc=0.6", ", acc=?0.6", 1)
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("valid/loss").index.tolist() == [1, 2, 3, 4]
    assert run.series("valid/acc").index.tolist() == [1, 3, 4]
    assert any(f"line {damaged + 1}: train/loss, valid/acc)" in warning
               for warning in run.warnings), run.warnings


@pytest.mark.parametrize("last", [False, True])
def test_a_results_line_cut_inside_an_item_is_said(tmp_path, last):
    """A results line cut inside an item of its `[train]` (a write interrupted, or the last
    line of a log read while ESPnet writes it) keeps the items before the cut, and the warning
    says the line was cut and its `[valid]` is missing (it was read without a word)."""
    lines = espnet_log(6).splitlines()
    cut = max(i for i, line in enumerate(lines) if "epoch results" in line) if last else \
        next(i for i, line in enumerate(lines) if "4epoch results" in line)
    lines[cut] = lines[cut][:lines[cut].index("forward_time=") + 22]  # `..., lo`
    lines = lines[:cut + 1] if last else lines
    run = read_run(write(tmp_path, "\n".join(lines) + ("" if last else "\n")))
    epoch = 6 if last else 4
    assert epoch in run.series("train/forward_time").index
    assert epoch not in run.series("valid/loss").index
    assert any(f"line {cut + 1}: the rest of the line, cut inside an item (no [valid] items)"
               in warning for warning in run.warnings), run.warnings


def test_early_stopping_ends_the_run(tmp_path):
    """ESPnet's early stopping ends a run before its `max_epoch` with its own words: the run
    said it ended, so no warning that the log ends before its plan (it had one, as a run cut
    off has, and `watch --follow` waited on after it)."""
    text = espnet_log(14, planned=40) + HEAD.format(m=59, s=0, where="reporter:339") + (
        "[Early stopping] valid.acc has not been improved 5 epochs continuously. The training "
        "was stopped at 14epoch\n")
    run = read_run(write(tmp_path, text))
    assert run.finished
    assert not [w for w in run.warnings if "before the epoch 40" in w], run.warnings


def test_the_batch_lines_alone_are_espnets_but_no_records(tmp_path):
    from phasewatch.errors import InputError

    text = "".join(line + "\n" for line in espnet_log(3).splitlines() if "batch:" in line)
    with pytest.raises(InputError, match="epoch results"):
        read_run(write(tmp_path, text))


def test_a_notebook_cell_that_ran_an_espnet_recipe_is_read(tmp_path):
    book = notebook_cell(tmp_path, "!./run.sh --stage 11",
                         espnet_log(5), name="asr.ipynb", on="stderr")
    run = read_as(book, "espnet_console")
    assert len(run.series("valid/acc")) == 5
