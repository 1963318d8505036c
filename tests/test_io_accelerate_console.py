"""A custom `accelerate` loop prints its evaluation as a dict, `epoch N: {'accuracy': X, 'f1':
X}` (HF's `run_*_no_trainer.py` examples: `logger.info(f"epoch {epoch}: {eval_metric}")`,
`accelerator.print(f"epoch {epoch}:", eval_metric)`) or `step N: {...}`. No reader took it
("unknown log format")."""

from __future__ import annotations

import json

import pytest
from _files import notebook_cell, read_as, write

import phasewatch
from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.planned import planned_steps

HEAD = "12/07/2023 10:{m:02d}:{s:02d} - INFO - __main__ - "


def accuracy(epoch: int) -> float:
    """An evaluation accuracy at its best at epoch 4, falling after it: the model overfits."""
    return round(0.70 + 0.15 * min(epoch, 4) / 4 - 0.012 * max(0, epoch - 4), 4)


def glue_log(epochs: int = 10) -> str:
    """The GLUE example's console: its banner, a tqdm bar (redrawn with `\\r`) and a line an
    epoch, as `logger.info` writes them."""
    lines = [HEAD.format(m=0, s=0) + "***** Running training *****",
             HEAD.format(m=0, s=0) + f"  Num Epochs = {epochs}",
             HEAD.format(m=0, s=0) + "  Total optimization steps = 1150"]
    for epoch in range(epochs):
        bar = f"{(epoch + 1) * 10}%|##        | {(epoch + 1) * 115}/1150 [00:3{epoch}<01:20]"
        lines.append(f"\r {bar}\r" + HEAD.format(m=epoch + 1, s=7)
                     + f"epoch {epoch}: {{'accuracy': {accuracy(epoch)}, "
                     f"'f1': {accuracy(epoch) + 0.05:.4f}}}")
    return "\n".join(lines) + "\n"


def test_each_epoch_evaluation_is_read_held_out_at_its_epoch(tmp_path, capsys):
    path = write(tmp_path, glue_log())
    run = read_as(path, "accelerate_console")
    assert run.step_unit == "epoch"
    assert planned_steps(run.config) == 9  # `Num Epochs = 10`: epochs 0-9
    assert sorted(run.metrics) == ["eval_accuracy", "eval_f1"]
    assert run.series("eval_accuracy").index.tolist() == list(range(10))
    assert run.series("eval_accuracy").iloc[4] == pytest.approx(0.85)
    assert (run.own_name("eval/accuracy"), run.own_name("eval/other_score")) == (
        "eval_accuracy", "eval_f1")
    assert not run.warnings
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("eval_accuracy", "max")
    assert result["phases"][-1]["name"] == "overfit"


def test_the_printed_names_are_metric_names_too(tmp_path, capsys):
    """`accuracy` and `f1` as the console prints them, read as `eval_accuracy`, `eval_f1`: the
    printed name works wherever a metric is named (`Run.printed_names`), the output names the
    metric as read and says which printed name it is; inspect lists both."""
    path = write(tmp_path, glue_log())
    assert main(["analyze", str(path), "--metric", "accuracy", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["runs"][0]["metric"] == "eval_accuracy"
    assert "--metric accuracy: the log prints accuracy, read as eval_accuracy" in err, err
    assert main(["watch", str(path), "--metric", "f1"]) == 0
    assert "(10 values of eval_f1)" in capsys.readouterr().err
    assert main(["plot", str(path), "--metric", "f1", "-o", str(tmp_path / "f1.png")]) == 0
    assert main(["inspect", str(path)]) == 0
    assert "accuracy as eval_accuracy, f1 as eval_f1 (--metric takes either)" in \
        capsys.readouterr().out
    assert phasewatch.analyze(path, metric="f1").metric == "eval_f1"
    assert main(["analyze", str(path), "--metric", "precision"]) == 2
    assert "closest first: accuracy" in capsys.readouterr().err


@pytest.mark.parametrize("first, plan", [(0, 9), (1, 10), (3, 9)])
def test_the_banners_epochs_end_where_the_loop_counts_them(tmp_path, capsys, first, plan):
    """`Num Epochs = 10` ends at epoch 9 in a loop that prints `epoch 0:` first (HF's scripts),
    at epoch 10 in one that prints `epoch 1:` first; a first epoch past 1 is a resumed run of
    HF's scripts (`range(starting_epoch, ...)`), counted from 0. Seven epochs from 0 or 1 end
    before the plan (analyze says so); the resumed run's reach it."""
    text = "  Num Epochs = 10\n" + "".join(
        f"epoch {e}: {{'accuracy': {accuracy(e - first)}}}\n" for e in range(first, first + 7))
    path = write(tmp_path, text, name="loop.log")
    assert planned_steps(read_as(path, "accelerate_console").config) == plan
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    early = f"the log ends at epoch {first + 6}, before the epoch {plan} its run plans"
    assert (early in out) == (first + 6 < plan) and ("the log ends" in out) == (early in out), out
    assert main(["watch", str(path)]) == 0
    assert f"planned length: up to epoch {plan}," in capsys.readouterr().err


def test_a_run_resumed_after_its_first_epoch_counts_from_0(tmp_path, capsys):
    """HF's scripts resumed from the checkpoint `epoch_0` print `Resumed from checkpoint: ...`,
    then `epoch 1:` first: under `Num Epochs = 10` the run still ends at epoch 9, and a log
    that reached it ended as planned (it was told it ended before epoch 10)."""
    text = ("  Num Epochs = 10\nResumed from checkpoint: output/epoch_0\n" + "".join(
        f"epoch {e}: {{'accuracy': {accuracy(e)}}}\n" for e in range(1, 10)))
    path = write(tmp_path, text, name="loop.log")
    assert planned_steps(read_as(path, "accelerate_console").config) == 9
    assert main(["analyze", str(path)]) == 0
    assert "the log ends" not in capsys.readouterr().out


def test_printed_dicts_of_other_shapes(tmp_path):
    """`accelerator.print`'s NER dict with numpy 2 scalars; `step N:` with a validation's own
    names (kept) beside the counter (no reading); a training dict (its `loss` kept as the
    train loss beside its learning rate)."""
    ner = "".join(f"epoch {e}: {{'precision': np.float64({0.8 + e / 100}), 'recall': 0.9, "
                  f"'f1': {0.85 + e / 100}, 'accuracy': 0.97}}\n" for e in range(4))
    run = read_run(write(tmp_path, ner, name="ner.log"))
    assert sorted(run.metrics) == ["eval_accuracy", "eval_f1", "eval_precision", "eval_recall"]
    assert run.series("eval_precision").tolist() == pytest.approx([0.8, 0.81, 0.82, 0.83])
    steps = "".join(f"step {s}: {{'val_loss': {3 - s / 1000}, 'val_perplexity': 20.1, "
                    f"'step': {s}}}\nstep {s}: {{'loss': 2.5, 'lr': 1e-4}}\n"
                    for s in range(500, 2500, 500))
    run = read_run(write(tmp_path, "  Total optimization steps = 2,000\n" + steps, name="lm.log"))
    assert run.step_unit == "step"
    assert sorted(run.metrics) == ["loss", "lr", "val_loss", "val_perplexity"]
    assert run.series("val_loss").index.tolist() == [500, 1000, 1500, 2000]
    assert planned_steps(run.config) == 2000  # the banner's `Total optimization steps`
    assert (run.own_name("eval/loss"), run.own_name("train/loss")) == ("val_loss", "loss")


def test_an_epochs_evaluation_in_a_log_of_steps_is_at_the_step_before_it(tmp_path, capsys):
    """A loop that prints its training dict every 100 steps and its evaluation after each
    epoch: the evaluation is read at the step of the line before it, no longer a line that
    cannot be placed (every evaluation lost, the run judged by its train loss)."""
    lines, step = [], 0
    for epoch in range(6):
        for _ in range(4):
            step += 100
            lines.append(f"step {step}: {{'loss': {3 - step / 1000:.3f}, 'lr': 1e-4}}")
        lines.append(f"epoch {epoch}: {{'accuracy': {accuracy(epoch)}}}")
    path = write(tmp_path, "\n".join(lines) + "\n", name="loop.log")
    run = read_as(path, "accelerate_console")
    assert run.series("eval_accuracy").index.tolist() == [400, 800, 1200, 1600, 2000, 2400]
    assert len(run.series("loss")) == 24 and not run.warnings, run.warnings
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["phases"][-1]["name"]) == ("eval_accuracy", "overfit")


def test_a_loops_dict_of_its_losses_is_no_evaluation(tmp_path):
    """`print(f"Epoch {epoch}: {loss_dict}")` of a loop's training step: `evaluate`'s metrics
    return no loss, so a dict of losses alone is no evaluation's (HF's bare `loss` is the train
    loss); a loss added to `metric.compute()`'s scores is the evaluation's, and a loss named
    with its split (`loss_val`) leaves the rest bare."""
    text = "".join(f"Epoch {e}: {{'loss': {1 - e / 10}, 'recon_loss': {0.5 - e / 50}}}\n"
                   for e in range(6))
    run = read_as(write(tmp_path, text, name="vae.log"), "accelerate_console")
    assert sorted(run.metrics) == ["loss", "recon_loss"]
    assert (run.own_name("train/loss"), run.own_name("eval/loss")) == ("loss", None)
    text = "".join(f"epoch {e}: {{'loss_val': {1 - e / 10}, 'accuracy': {0.5 + e / 50}}}\n"
                   for e in range(6))
    run = read_as(write(tmp_path, text, name="cls.log"), "accelerate_console")
    assert run.own_name("eval/accuracy") == "eval_accuracy"
    text = "".join(f"epoch {e}: {{'accuracy': {0.5 + e / 50}, 'loss': {1 - e / 10}}}\n"
                   for e in range(6))
    run = read_as(write(tmp_path, text, name="eval.log"), "accelerate_console")
    assert sorted(run.metrics) == ["eval_accuracy", "eval_loss"]


def test_damaged_lines_are_reported_with_their_numbers(tmp_path):
    """A dict cut by a killed writer and a `step N:` line in a log of epochs: skipped with
    their numbers, nothing evaluated, the other epochs read; a numpy array among the values
    is no reading, the line's numbers are read."""
    lines = glue_log(6).split("\n")[:-1]
    lines[5] = lines[5][:-12]
    lines[6] = lines[6].replace("'f1'", "'per_class': array([0.8, 0.9]), 'f1'")
    lines.insert(7, "step 3: {'accuracy': 0.5}")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n", name="glue.log"))
    assert run.series("eval_accuracy").index.tolist() == [0, 1, 3, 4, 5]
    assert "eval_per_class" not in run.metrics
    said = [w for w in run.warnings if "skipped 2 of" in w]
    assert said and "lines 6, 8" in said[0], run.warnings


def test_a_segmenters_per_category_arrays_printed_over_lines_are_left_out(tmp_path):
    """`evaluate`'s mean_iou, as HF's semantic segmentation example prints it: its per-category
    arrays run over the next lines (numpy wraps a repr at 75 characters). The scalars before
    them are read; the arrays and their continuation lines are no readings and no damage."""
    text = "".join(
        f"epoch {e}: {{'mean_iou': np.float64({0.2 + e / 50}), 'mean_accuracy': {0.3 + e / 50}, "
        f"'overall_accuracy': 0.8, 'per_category_iou': array([0.1, 0.2, 0.3, nan, 0.1, 0.2,\n"
        f"       0.3, nan], dtype=float32), 'per_category_accuracy': array([0.5, 0.5, 0.5,\n"
        f"       0.5, 0.5])}}\n" for e in range(5))
    run = read_as(write(tmp_path, text, name="seg.log"), "accelerate_console")
    assert sorted(run.metrics) == ["eval_mean_accuracy", "eval_mean_iou",
                                   "eval_overall_accuracy"]
    assert run.series("eval_mean_iou").tolist() == pytest.approx([0.2, 0.22, 0.24, 0.26, 0.28])
    assert not run.warnings, run.warnings


def test_a_notebook_cell_that_ran_the_loop_is_read(tmp_path):
    book = notebook_cell(tmp_path, "training_function(model)",
                         glue_log(4), name="glue.ipynb", on="stderr")
    run = read_as(book, "accelerate_console")
    assert run.series("eval_f1").index.tolist() == [0, 1, 2, 3]
    assert run.own_name("f1") == "eval_f1"  # the printed name, as in a console log
