"""Keras' `model.fit` printout (`phasewatch.io.keras_console`): `Epoch N/M` lines, each followed
by its progress bar ending with `- name: value` items. Keras is not installed here: the lines are
written in the layouts the sweep of real notebooks showed (Keras 3's ANSI-coloured bar printed
twice around a ModelCheckpoint message, Keras 2's `\\r` redraws with ETA, verbose=2, old Keras'
` - 3s - loss:`), a few lines each, not copied logs."""

from __future__ import annotations

import json

from _files import notebook_cell, read_as
from notebook_books import stream, write_book
from watch_follower import follow_while_written

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.planned import planned_steps

BAR3 = "\x1b[1m{n}/{n}\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m{s}s\x1b[0m 72ms/step"


def keras3_fit(epochs=30, checkpoint=True) -> str:
    """Keras 3 (verbose=1) with `ModelCheckpoint(verbose=1)`: the bar at its end before the
    callback's message, then again with the validation and the epoch's final means."""
    out = []
    for e in range(1, epochs + 1):
        loss, val = 0.8 / e, 0.5 / e + 0.02 * max(e - 12, 0) + 0.003 * (e % 3)
        out.append(f"Epoch {e}/{epochs}")
        if checkpoint:
            out.append(BAR3.format(n=422, s=0) + f" - accuracy: 0.9000 - loss: {loss + 0.05:.4f}")
            out.append(f"Epoch {e}: val_accuracy improved from None to 0.27117, saving model to m.h5")
        out.append(BAR3.format(n=422, s=30) + f" - accuracy: 0.9100 - loss: {loss:.4f}"
                   f" - val_accuracy: {1 - val:.4f} - val_loss: {val:.4f} - learning_rate: 0.0010")
    return "\n".join(out) + "\n"


def keras2_fit(epochs=5) -> str:
    """Keras 2 in a terminal or a notebook: one line of `\\r` redraws per epoch, ETA until the
    last; then `model.evaluate()` over 313 test batches."""
    out = ["Train on 60000 samples, validate on 10000 samples"]
    for e in range(1, epochs + 1):
        loss = 0.3 / e
        redraws = ["   1/1875 [..............................] - ETA: 5:00 - loss: 2.3026 - accuracy: 0.0938",
                   f" 900/1875 [=============>................] - ETA: 2s - loss: {loss + 0.1:.4f} - accuracy: 0.9",
                   (f"1875/1875 [==============================] - 5s 2ms/step - loss: {loss:.4f} - accuracy: 0.9500"
                    f" - val_loss: {loss + 0.02:.4f} - val_accuracy: 0.9600")]
        out += [f"Epoch {e}/{epochs}", "\r".join(redraws)]
    out.append("313/313 [==============================] - 1s 2ms/step - loss: 0.0301 - accuracy: 0.9912")
    return "\n".join(out) + "\n"


def test_keras3_printout_in_a_notebook_gives_the_epochs_final_line(tmp_path):
    """The real notebook (Deepender25/Handwritten-Digit-Recognition) was 'no training output';
    its printout now equals its own CSVLogger file: 30 epochs from 0, the last line of each."""
    run = read_as(notebook_cell(tmp_path, "model.fit(...)", keras3_fit(), name="mnist.ipynb"),
                  "keras_console")
    assert run.step_unit == "epoch"
    assert run.series("val_loss").index.tolist() == list(range(30))
    assert run.series("loss").iloc[0] == 0.8  # the final line's, not the first redraw's 0.85
    assert run.series("val_accuracy").iloc[0] == 0.497  # 1 - val_loss in this excerpt
    assert run.series("learning_rate").iloc[0] == 0.001
    assert planned_steps(run.config) == 29
    assert run.warnings == [KERAS_COUNT.format(m=30)]  # only how its epochs are counted


# Keras prints `Epoch 1/M` and names ModelCheckpoint files by `{epoch}` = the epoch + 1, where
# the steps read count from 0 as its History and CSVLogger do: "recommended stop: epoch 8" read
# as `Epoch 8/40` and `model-08.h5` was the epoch before the one meant (nb-keras-binary-19ep)
KERAS_COUNT = ("cell 1: the epochs are counted from 0 as Keras writes them to files (History, "
               "CSVLogger): the printout's `Epoch 1/{m}` is epoch 0, and ModelCheckpoint's "
               "`{{epoch}}` in a file name is the epoch here + 1")


def test_the_epochs_counted_from_0_are_said_in_keras_own_1_based_words(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(keras2_fit())
    assert read_run(log).warnings == [KERAS_COUNT.replace("cell 1: ", "").format(m=5)]
    assert main(["analyze", str(log)]) == 0
    out = capsys.readouterr().out
    assert "`Epoch 1/5` is epoch 0" in out and "`{epoch}` in a file name is the epoch here + 1" in out


def test_keras2_redraws_and_evaluate_after_fit(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("2021-01-01 10:00:00.1: I tensorflow/core/...: loaded cudart\n" + keras2_fit())
    run = read_run(log)
    assert run.format == "keras_console"
    assert run.series("loss").tolist() == [0.3, 0.15, 0.1, 0.075, 0.06]  # not the ETA means
    assert run.series("accuracy").tolist() == [0.95] * 5  # evaluate()'s 0.9912 is no epoch
    assert run.series("val_loss").index.tolist() == [0, 1, 2, 3, 4]


def test_verbose_2_and_old_keras_lines(tmp_path):
    log = tmp_path / "fit.log"
    log.write_text("Epoch 1/3\n1875/1875 - 3s - loss: 0.5000 - accuracy: 0.8 - 3s/epoch - 2ms/step\n"
                   "Epoch 2/3\n1875/1875 - 3s - loss: 0.4000 - accuracy: 0.85 - 3s/epoch - 2ms/step\n"
                   "Epoch 3/3\n1875/1875 - 3s - loss: 0.3500 - accuracy: 0.9 - 3s/epoch - 2ms/step\n")
    assert read_run(log).series("loss").tolist() == [0.5, 0.4, 0.35]
    old = tmp_path / "old.log"
    old.write_text("".join(f"Epoch {e}/4\n - 3s - loss: {1 / e:.4f} - acc: 0.9 - val_loss: {1.2 / e:.4f}"
                           f" - val_acc: 0.88\n" for e in range(1, 5)))
    run = read_run(old)
    assert run.series("val_loss").tolist() == [1.2, 0.6, 0.4, 0.3]
    assert run.series("eval/loss").name == "val_loss" or "val_loss" in run.metrics


def test_analyze_counts_epochs_and_a_notebook_of_two_fits_is_two_runs(tmp_path, capsys):
    book = write_book(tmp_path / "two.ipynb", [
        ("model.fit(x, y, epochs=30)", [stream(keras3_fit())]),
        "## again, without the checkpoint",
        ("model.fit(x, y, epochs=12)", [stream(keras3_fit(12, checkpoint=False))]),
    ])
    assert main(["inspect", "--format", "json", str(book)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [r["n_steps"] for r in listing["runs"]] == [30, 12]
    assert main(["analyze", "--format", "json", f"{book}/1"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] in ("val_accuracy", "val_loss") and result["step_unit"] == "epoch"


def test_prose_about_epochs_is_not_this_format(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("Epoch 1/3\nwe trained for a while - loss: went down\nEpoch 2/3\nstill going\n")
    assert main(["inspect", str(text)]) == 3


def test_followed_in_pieces_equals_the_replay(tmp_path):
    source = tmp_path / "whole.log"
    source.write_text(keras3_fit())
    path = tmp_path / "train.log"
    follow_while_written(path, source.read_text())


def test_a_one_epoch_fit_says_its_own_printout(tmp_path):
    """`Epoch 1/1` plans no later step (`planned_steps` None), and the note said "the
    printout's `Epoch 1/M`", a printout the log does not hold; it quotes the log's."""
    log = tmp_path / "train.log"
    log.write_text(keras2_fit(epochs=1))
    assert read_run(log).warnings == [KERAS_COUNT.replace("cell 1: ", "").format(m=1)]
