"""Logs whose steps are epochs say "epoch": Keras' History, tables whose only counter is
`epoch`, Keras' TensorBoard `epoch_*` tags; and validation splits named by their user
(`dev-validation/`) are the eval role. Every log here is written by the test, the TensorBoard
ones with tensorboard's own writer."""

import json
import math
import re

import pytest

from phasewatch.cli import main
from phasewatch.errors import UsageError
from phasewatch.io import read_run
from phasewatch.presets import aliases_for, role_matches
from phasewatch.xaxis import in_step_unit, step_unit

N_EPOCHS = 30
BEST_EPOCH = 15  # the validation curves turn worse after it


def curves(n: int = N_EPOCHS) -> dict[str, list[float]]:
    """Keras-like per-epoch values: the train loss keeps falling, the validation loss and
    accuracy turn worse after `BEST_EPOCH` (with a little deterministic noise)."""
    decay = [math.exp(-i / 6) for i in range(n)]
    late = [max(0, i - BEST_EPOCH) for i in range(n)]
    return {
        "loss": [d + 0.05 for d in decay],
        "val_loss": [1.1 * d + 0.2 + 0.02 * k + 0.003 * ((i * 7) % 5)
                     for i, (d, k) in enumerate(zip(decay, late))],
        "accuracy": [0.9 - 0.4 * d for d in decay],
        "val_accuracy": [0.8 - 0.35 * d - 0.01 * k + 0.002 * ((i * 3) % 4)
                         for i, (d, k) in enumerate(zip(decay, late))],
    }


def keras_history(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps(curves()))
    return path


def epoch_csv(tmp_path, header: str = "epoch,loss,val_loss"):
    """Keras' CSVLogger: `epoch` is the only counter."""
    values = curves()
    path = tmp_path / "training.csv"
    rows = [f"{i},{values['loss'][i]:.6f},{values['val_loss'][i]:.6f}" for i in range(N_EPOCHS)]
    if header.startswith("step"):
        rows = [f"{i * 50},{row}" for i, row in enumerate(rows)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def write_tensorboard(folder, tags_by_split: dict[str, list[str]], iterations: bool = False):
    """Keras' TensorBoard callback layout: one sub-folder per split, `epoch_<metric>` tags whose
    step is the epoch; with `iterations`, also its `evaluation_loss_vs_iterations` (step: the
    optimizer's iteration, 100 per epoch) in the validation folder."""
    from tensorboard.summary import Writer

    values = curves()
    for split, tags in tags_by_split.items():
        writer = Writer(str(folder / split))
        for i in range(N_EPOCHS):
            for tag in tags:
                held_out = split != "train"
                key = ("val_" if held_out else "") + tag.split("_", 1)[1]
                writer.add_scalar(tag, values[key][i], step=i)
            if iterations and split == "validation":
                writer.add_scalar("evaluation_loss_vs_iterations", values["val_loss"][i],
                                  step=(i + 1) * 100)
        writer.flush()
        writer.close()
    return folder


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ readers set the unit
def test_keras_history_is_read_with_epochs_for_steps(tmp_path, capsys):
    run = read_run(keras_history(tmp_path))
    assert run.format == "generic_json" and run.step_unit == "epoch"
    assert run.series("val_loss").index.tolist() == list(range(N_EPOCHS))  # the numbers stay
    code, out, _ = cli(capsys, "analyze", keras_history(tmp_path))
    assert code == 0
    assert f"recommended stop: epoch {BEST_EPOCH}" in out
    assert f"its best (epoch {BEST_EPOCH})" in out  # the overfit line
    assert "step" not in out.replace("the steps are the epochs", "")
    assert "(Keras' History)" in " ".join(run.warnings)
    # Keras prints that epoch as `Epoch BEST_EPOCH + 1/N` and ModelCheckpoint names it so too
    # (M: the epochs planned, which the History of a run stopped early does not hold)
    assert ("Keras' printout `Epoch 1/M` is epoch 0, and ModelCheckpoint's `{epoch}` in a file "
            "name is the epoch here + 1") in out


def test_lists_without_keras_loss_are_not_called_keras_history(tmp_path):
    """A GRPO loop's `json.dump` of per-step lists (`val_accuracies_avg`, `rewards_avg`; Keras'
    `fit` always records `loss`) was announced as "Keras' History", its steps as epochs
    unqualified (json-grpo-valacc-120): the rows are still read as epochs, and the note says
    why and what they are if the lists grew once per step."""
    path = tmp_path / "grpo_metrics.json"
    values = curves()
    path.write_text(json.dumps({"val_accuracies_avg": values["val_accuracy"],
                                "rewards_avg": values["accuracy"]}))
    run = read_run(path)
    assert run.step_unit == "epoch"
    [note] = [w for w in run.warnings if "each list" in w]
    assert "Keras' History" not in note
    assert note.startswith(f"one value per row in each list and no step column: the rows are "
                           f"read as epochs 0-{N_EPOCHS - 1}")
    assert note.endswith("if it gained a value per training step, the numbers are its steps)")


@pytest.mark.parametrize("key, unit", [("step", "step"), ("epoch", "epoch")])
def test_lists_of_a_loop_history_with_its_own_step_column(tmp_path, capsys, key, unit):
    """`json.dump(history)` of a dict of lists whose step column is one of them (a grokking run:
    `{"epoch": [0, 500, ...], "train_loss": [...], "interp_acc": [...]}`) was "step is not an
    integer: [0, 500, ..." (exit 3); the column numbers the rows, the others are metrics."""
    steps = [i * 500 for i in range(30)]
    doc = {key: steps, "train_loss": [5.0 / (1 + i) for i in range(30)],
           "interp_acc": [min(1.0, 0.03 * i) for i in range(30)]}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(doc))
    run = read_run(path)
    assert run.format == "generic_json" and run.step_unit == unit
    assert run.series("train_loss").index.tolist() == steps and key not in run.metrics
    code, out, _ = cli(capsys, "inspect", path)
    assert code == 0 and "30 records, 30 distinct steps" in out
    doc[key] = steps[::-1]  # a column that does not only increase numbers nothing
    path.write_text(json.dumps(doc))
    assert cli(capsys, "inspect", path)[0] == 3


def test_json_output_keeps_its_keys_and_says_the_unit(tmp_path, capsys):
    code, out, _ = cli(capsys, "analyze", keras_history(tmp_path), "--format", "json")
    doc = json.loads(out)["runs"][0]
    assert code == 0 and doc["step_unit"] == "epoch"
    assert doc["recommended_stop_step"] == BEST_EPOCH
    assert {"start_step", "end_step"} <= set(doc["phases"][0])


def test_csv_whose_only_counter_is_the_epoch(tmp_path, capsys):
    assert read_run(epoch_csv(tmp_path)).step_unit == "epoch"
    code, out, _ = cli(capsys, "analyze", epoch_csv(tmp_path))
    assert code == 0 and f"recommended stop: epoch {BEST_EPOCH}" in out
    code, out, _ = cli(capsys, "analyze", epoch_csv(tmp_path), "--format", "csv")
    assert out.splitlines()[0].startswith("source,metric,direction,baseline,recommended_stop_step")


def test_a_step_column_beside_the_epoch_keeps_steps_and_x_epoch_converts(tmp_path, capsys):
    path = epoch_csv(tmp_path, header="step,epoch,loss,val_loss")
    run = read_run(path)
    assert run.step_unit == "step" and "epoch" in run.metrics
    code, out, _ = cli(capsys, "analyze", path)
    assert code == 0 and f"recommended stop: step {BEST_EPOCH * 50}" in out
    code, out, _ = cli(capsys, "analyze", path, "--x", "epoch")
    assert code == 0 and "x axis: epoch (from epoch" in out
    assert f"recommended stop: epoch {BEST_EPOCH:.4g} (step {BEST_EPOCH * 50})" in out


def test_an_epoch_counted_once_per_epoch_is_the_epoch_of_the_rows_after_it(tmp_path, capsys):
    """wandb-cnn-testacc-25ep (trial 37b): W&B logs `epoch` 1..25 on the train rows (steps
    0, 2, ..., 48) and the test accuracy on the row after each; `--x epoch` interpolated those
    to "epoch 21.5" and extended the last to "epoch 25.5", past the run."""
    rows = []
    for i in range(N_EPOCHS):
        rows.append({"step": 2 * i, "epoch": i + 1, "loss": curves()["loss"][i]})
        rows.append({"step": 2 * i + 1, "val_loss": curves()["val_loss"][i]})
    path = tmp_path / "wandb_like.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _ = cli(capsys, "analyze", path, "--x", "epoch")
    assert code == 0
    best_row = 2 * BEST_EPOCH + 1  # epoch BEST_EPOCH + 1's evaluation (epochs count from 1)
    assert f"recommended stop: epoch {BEST_EPOCH + 1} (step {best_row})" in out
    assert f"epoch {N_EPOCHS}.5" not in out and f"-> {N_EPOCHS} " in out


def test_the_stop_line_says_the_last_evaluation_in_the_unit_too(tmp_path, capsys):
    """With `--x epoch` the stop was "epoch 21 (step 41)" beside "(the last, step 49, ...)"."""
    rows = []
    for i in range(N_EPOCHS):
        rows.append({"step": 2 * i, "epoch": i + 1, "loss": 1 / (i + 1)})
        rows.append({"step": 2 * i + 1,
                     "val_loss": round(0.3 + math.exp(-i / 3) + 0.004 * ((i * 7) % 5), 4)})
    path = tmp_path / "flat_end.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _ = cli(capsys, "analyze", path, "--x", "epoch")
    assert code == 0
    assert f"(no better than the last, epoch {N_EPOCHS} (step {2 * N_EPOCHS - 1}), beyond the " \
        "noise)" in out


def test_a_counter_that_starts_again_is_no_axis(tmp_path, capsys):
    """A joined SFT-then-RL run (trial 37): RL's epoch starts again from 0 at the switch, and
    `--x epoch` printed "improvement 73.75 -> 73.75" and "stop epoch 73.75"."""
    rows = [{"step": 10 * i, "epoch": 0.25 * i, "eval/accuracy": 0.5 + 0.01 * i} for i in range(30)]
    rows += [{"step": 300 + 10 * i, "epoch": 0.5 * i, "eval/accuracy": 0.8 - 0.01 * i}
             for i in range(1, 20)]
    path = tmp_path / "joined.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = cli(capsys, "analyze", path, "--x", "epoch")
    assert code == 2 and not out
    assert "epoch falls from 7.25 at step 290 to 0.5 at step 310" in err and "use --x step" in err


def test_x_epoch_on_a_run_whose_steps_are_epochs_is_not_an_error(tmp_path, capsys):
    code, out, err = cli(capsys, "analyze", keras_history(tmp_path), "--x", "epoch")
    assert code == 0, err
    assert f"recommended stop: epoch {BEST_EPOCH}" in out and "x axis" not in out


@pytest.mark.parametrize("rows, unit", [
    ([{"epoch": i, "val_loss": 1.0 / (i + 1)} for i in range(12)], "epoch"),
    ([{"Epoch": i, "val_loss": 1.0 / (i + 1)} for i in range(12)], "epoch"),
    ([{"step": i * 10, "epoch": i, "val_loss": 1.0} for i in range(12)], "step"),
    ([{"iteration": i, "val_loss": 1.0} for i in range(12)], "step"),
    ([{"val_loss": 1.0} for _ in range(12)], "record"),  # numbered records
])
def test_json_lines_step_key(tmp_path, rows, unit):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_run(path).step_unit == unit


@pytest.mark.parametrize("doc, unit", [
    ({"history": [{"epoch": i, "val_loss": 1.0 / (i + 1)} for i in range(8)]}, "epoch"),
    ({"history": [{"epoch": i / 4, "val_loss": 1.0} for i in range(8)]}, "record"),  # numbered
    ({"train": [{"epoch": i, "loss": 1.0} for i in range(8)],
      "eval": [{"step": i, "loss": 1.0} for i in range(8)]}, "step"),
])
def test_json_lists_of_records(tmp_path, doc, unit):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc))
    run = read_run(path)
    assert run.format == "generic_json" and run.step_unit == unit


def test_keras_tensorboard_epoch_tags(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    folder = write_tensorboard(tmp_path / "logs", {"train": ["epoch_loss", "epoch_accuracy"],
                                                  "validation": ["epoch_loss", "epoch_accuracy"]},
                               iterations=True)
    run = read_run(folder)
    assert run.step_unit == "epoch"
    assert step_unit(run, "validation/epoch_loss") == "epoch"
    # Keras' own iteration-stepped copy of the validation loss counts iterations
    assert step_unit(run, "validation/evaluation_loss_vs_iterations") == "step"
    code, out, _ = cli(capsys, "analyze", folder, "--metric", "validation/epoch_loss")
    assert code == 0 and f"recommended stop: epoch {BEST_EPOCH}" in out
    code, out, _ = cli(capsys, "analyze", folder, "--metric",
                       "validation/evaluation_loss_vs_iterations")
    assert f"recommended stop: step {(BEST_EPOCH + 1) * 100}" in out


def test_tensorboard_batch_tags_are_not_epochs(tmp_path):
    pytest.importorskip("tensorboard")
    folder = write_tensorboard(tmp_path / "logs", {"train": ["epoch_loss", "batch_loss"]})
    assert read_run(folder).step_unit == "step"
    other = write_tensorboard(tmp_path / "other", {"train": ["train_loss"]})
    assert read_run(other).step_unit == "step"


# ------------------------------------------------------------------ named validation splits
@pytest.mark.parametrize("name, role", [
    ("dev-validation/loss", "eval/loss"),
    ("dev-validation/epoch_loss", "eval/loss"),
    ("validation-ood/epoch_accuracy", "eval/accuracy"),
    ("test-validation/accuracy", "eval/accuracy"),
    ("holdout-validation-2/epoch_acc", "eval/accuracy"),
])
def test_named_validation_splits_are_the_eval_role(name, role):
    assert aliases_for([name, "train/epoch_loss", "loss"]).get(role) == name


@pytest.mark.parametrize("name", [
    "train/epoch_loss", "train/loss", "train-validation/loss", "validation-train/epoch_loss",
    "training-validation/loss", "invalidation/loss", "prevalidation/loss", "validationset/loss",
    "train/dev-validation/loss", "dev-validation/epoch_learning_rate", "dev-validation",
    "dev_validation/loss",
])
def test_names_that_are_not_a_named_validation_split(name):
    aliases = aliases_for([name])
    assert "eval/loss" not in aliases and "eval/accuracy" not in aliases


def test_keras_validation_beside_a_named_split_are_two_sets():
    names = ["validation/epoch_loss", "dev-validation/epoch_loss", "train/epoch_loss"]
    assert role_matches("eval/loss", names) == ["dev-validation/epoch_loss", "validation/epoch_loss"]


def test_tensorboard_run_with_a_dev_validation_folder(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    folder = write_tensorboard(tmp_path / "logs", {"train": ["epoch_loss"],
                                                  "dev-validation": ["epoch_loss"]})
    run = read_run(folder)
    assert run.own_name("eval/loss") == "dev-validation/epoch_loss" and run.step_unit == "epoch"
    code, out, err = cli(capsys, "analyze", folder)  # one run (train/ + dev-validation/)
    assert code == 0, err
    assert "metric dev-validation/epoch_loss (min)" in out
    assert f"recommended stop: epoch {BEST_EPOCH}" in out


# ------------------------------------------------------------------ figures
def test_phase_figure_of_a_keras_run_says_epoch(tmp_path, capsys):
    from phasewatch import plot

    fig = plot.phase_figure(read_run(keras_history(tmp_path)))
    assert fig.axes[-1].get_xlabel() == "epoch"
    legend = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert f"stop (epoch {BEST_EPOCH})" in legend
    assert any(text.startswith("Gaussian smooth") and "epoch" in text for text in legend)
    png = tmp_path / "history.png"
    code, _, err = cli(capsys, "plot", keras_history(tmp_path), "-o", png)
    assert code == 0 and png.stat().st_size > 0, err


def test_other_runs_keep_training_steps_on_their_axis(tmp_path):
    from phasewatch import plot

    path = epoch_csv(tmp_path, header="step,epoch,loss,val_loss")
    fig = plot.phase_figure(read_run(path))
    assert fig.axes[-1].get_xlabel() == "training step"
    assert not any("epoch" in t.get_text() for lg in fig.legends for t in lg.get_texts())


def test_comparisons_say_epoch_only_when_every_run_counts_epochs(tmp_path):
    from phasewatch import plot

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    keras = [read_run(keras_history(tmp_path / d)) for d in ("a", "b")]
    steps = read_run(epoch_csv(tmp_path, header="step,epoch,loss,val_loss"))
    for layout in ("overlay", "grid"):
        both = plot.compare_figure(keras, ["val_loss"], layout=layout)
        assert {ax.get_xlabel() for ax in both.axes if ax.get_xlabel()} == {"epoch"}
    # runs that count different things share no axis: a grid gives each its own, and an
    # overlay, which has one, is refused with the way to the grid
    mixed = plot.compare_figure([keras[0], steps], ["val_loss"], layout="grid")
    assert {ax.get_xlabel() for ax in mixed.axes if ax.get_xlabel()} == {"epoch", "training step"}
    with pytest.raises(UsageError, match="--layout grid"):
        plot.compare_figure([keras[0], steps], ["val_loss"], layout="overlay")


# ------------------------------------------------------------------ watch
def test_watch_of_a_keras_history_says_epoch(tmp_path, capsys):
    code, out, err = cli(capsys, "watch", keras_history(tmp_path))
    assert code == 0
    lines = out.splitlines()
    assert lines and all(line.startswith("epoch ") for line in lines)
    overfit = next(line for line in lines if "  overfit  " in line)
    assert f"at epoch {BEST_EPOCH}:" in overfit and " step" not in overfit
    assert re.search(rf"records \(\d+ values of [^)]+\) up to epoch {N_EPOCHS - 1};", err)
    assert f"checkpoint to keep: epoch {BEST_EPOCH}" in err
    code, out, _ = cli(capsys, "watch", keras_history(tmp_path), "--format", "jsonl")
    objects = [json.loads(line) for line in out.splitlines()]
    assert objects[-1]["message"].endswith(f"checkpoint to keep: epoch {BEST_EPOCH}")
    assert all(set(o) >= {"step", "onset_step", "best_step"} for o in objects)  # keys kept


def test_watch_of_keras_tensorboard_with_iteration_tags(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    folder = write_tensorboard(tmp_path / "logs", {"train": ["epoch_loss"],
                                                  "validation": ["epoch_loss"]},
                               iterations=True)
    code, out, err = cli(capsys, "watch", folder)
    assert code == 0 and out and all(line.startswith("epoch ") for line in out.splitlines())
    # the records' last step is the iteration counter's: not called an epoch
    assert re.search(rf"records \(\d+ values of [^)]+\) up to step {N_EPOCHS * 100} of the other "
                     "metrics;", err)
    assert f"checkpoint to keep: epoch {BEST_EPOCH}" in err


def test_in_step_unit_changes_whole_words_only():
    text = "worse since step 5 (steps_per_second, 40 steps, train/step_time)"
    assert in_step_unit(text, "epoch") == \
        "worse since epoch 5 (steps_per_second, 40 epochs, train/step_time)"
    assert in_step_unit(text, "step") == text


def test_in_step_unit_keeps_an_options_name_and_says_the_unit_it_takes():
    """Trial 31 finding 5: on an HF console log (steps count epoch x 10,000) the live hint said
    "(--planned-epochs)", an option watch does not have."""
    from phasewatch.online.wording import FROM_START_HINT

    assert "--planned-steps" in FROM_START_HINT
    assert in_step_unit(FROM_START_HINT, "epoch/10000").endswith(
        "give the run's planned length (--planned-steps, the planned epochs x 10,000) to tell "
        "the two apart")
    assert "(--planned-steps, the planned epochs)" in in_step_unit(FROM_START_HINT, "epoch")
    assert in_step_unit("--planned-steps 300 steps", "epoch") == "--planned-steps 300 epochs"


def test_an_epoch_axis_labels_its_ticks_with_the_round_values_they_were_placed_for():
    """An HF console log's epochs start at 0.0236 (the first logged row): the tick at epoch 0
    lies before that row, and reading its value back from its step extrapolated to 3.469e-18,
    printed as the figure's first tick label. The label is the round value the tick was put at."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from phasewatch.run import Run
    from phasewatch.xaxis import relabel, x_axis

    epochs = np.array([0.02356, 0.04711, 0.07067, 1.5, 3.0])  # as that log's rows print them
    steps = np.round(epochs * 10_000).astype(np.int64)
    run = Run.from_columns({"eval/loss": (steps, 1.0 / (1 + epochs)), "epoch": (steps, epochs)},
                           "console", "t")
    fig, ax = plt.subplots()
    ax.plot(steps, 1.0 / (1 + epochs))
    ax.set_xlim(-1000, 31_000)
    relabel(fig, x_axis(run, "epoch"))
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert labels and labels[0] == "0" and all("e-" not in t for t in labels), labels


def test_the_analysis_notes_name_positions_in_the_runs_unit(tmp_path, capsys):
    """An HF console log that states no step (rows at epoch x 10,000): the phases and the stop
    said "epoch 0.2" while a short series' note said "its best evaluation (step 2000, ...)", a
    step the log never states. Each "step N" of a note is said in the unit; other words stay
    ("over the same steps", a count of the optimizer's)."""
    evals = [1.0, 0.80, 0.95, 1.0, 1.01]  # an inner best, short of a turn on 5 evaluations
    rows = []
    for i in range(1, 8 * len(evals) + 1):
        epoch = round(i * 0.0125, 4)
        rows.append(f"{{'loss': {2.0 - 0.01 * i:.4f}, 'learning_rate': 1e-05, 'epoch': {epoch}}}")
        if i % 8 == 0:
            rows.append(f"{{'eval_loss': {evals[i // 8 - 1]}, 'eval_runtime': 1.0, 'epoch': {epoch}}}")
    log = tmp_path / "train.log"
    log.write_text("\n".join(rows) + "\n")
    code, out, _ = cli(capsys, "analyze", log, "--metric", "eval_loss")
    assert code == 0 and "recommended stop: epoch 0.2" in out
    assert "its best evaluation (epoch 0.2, eval_loss 0.8)" in out
    assert not re.search(r"\bstep \d", out)
    from phasewatch.step_units import positions_in_unit

    assert positions_in_unit("at step 2000, the first step, 17 of 100 steps", "epoch/10000") \
        == "at epoch 0.2, the first step, 17 of 100 steps"
    assert positions_in_unit("at step 5", "step") == "at step 5"


def test_in_step_unit_says_one_scaled_step_count_in_the_singular():
    """An HF console log's six evaluations one epoch apart (its steps epochs x 10,000) were
    "evaluations joined by lines (1 epochs apart)" in the figure's legend."""
    assert in_step_unit("evaluations joined by lines (10000 steps apart)", "epoch/10000") == \
        "evaluations joined by lines (1 epoch apart)"
    assert in_step_unit("sd 20000 steps, then 15000 steps", "epoch/10000") == \
        "sd 2 epochs, then 1.5 epochs"


def test_a_watch_names_the_epochs_where_the_train_loss_broke(tmp_path):
    """Keras' CSVLogger numbers its rows by epoch: a loss that turns NaN at epoch 12 is said
    live at epochs, as the alerts and `analyze`'s note say it, not at "step 12"."""
    from phasewatch.live import LiveWatch

    rows = ["epoch,loss,val_accuracy"] + [
        f"{e},{'nan' if e >= 12 else round(2 - 0.05 * e, 3)},{0.1 if e >= 13 else 0.5 + e / 100}"
        for e in range(N_EPOCHS)]
    path = tmp_path / "training.log"
    path.write_text("\n".join(rows) + "\n")
    messages: list[str] = []
    list(LiveWatch(path, notice=messages.append, info=lambda m: None).alerts())
    said = [m for m in messages if "training has diverged" in m]
    assert len(said) == 1 and ("loss is not a number (NaN or infinite) at each of its 3 records "
                               "from epoch 12 to epoch 14 (the last finite: 1.45 at epoch 11)"
                               in said[0]), messages
