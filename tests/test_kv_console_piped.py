"""`|` fields of `name number` after a step token, on lines without `:` or `=`: DGL's examples
(`Epoch 00003 | Step 00020 | Loss 2.6650 | Train Acc 0.3400 | Speed (samples/sec) 43672.97 |
GPU 401.2 MB`) and a loop's `Epoch 01 loss 75.6049 | train 2.6s | Acc 9.32% | infer 4.4s`
were console noise to `kv_console` (an unknown log format)."""

from __future__ import annotations

import pytest
from _files import write

import phasewatch
from phasewatch.errors import InputError
from phasewatch.io import read_run


def test_dgl_style_fields_are_read_with_the_step_within_the_epoch(tmp_path):
    lines = []
    for epoch in range(4):
        for step in (0, 20, 40):
            speed = "nan" if epoch == step == 0 else f"{43000 + step:.4f}"
            lines.append(f"Epoch {epoch:05d} | Step {step:05d} | Loss {2.0 / (1 + epoch):.4f} | "
                         f"Train Acc {0.3 + 0.1 * epoch:.4f} | Speed (samples/sec) {speed} | "
                         f"GPU {401.2 + epoch:.1f} MB")
        lines.append(f"Epoch Time(s): {7.1 + epoch / 10:.4f}")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("Loss").index.tolist()[:4] == [0, 20, 40, 41]  # counted over the epochs
    assert len(run.series("Loss")) == 12  # the first line's `nan` speed too
    assert run.series("Train Acc").iloc[-1] == pytest.approx(0.6)
    assert run.series("GPU").iloc[0] == pytest.approx(401.2)  # the unit left out


def test_a_timing_keeps_its_unit_in_its_name(tmp_path):
    text = "".join(f"Epoch {e:02d} loss {80.0 / e:.4f} | train 2.{e}s"
                   + (f" | Acc {e * 1.5:.2f}% | infer 4.4s" if e % 5 == 0 else "") + "\n"
                   for e in range(1, 21))
    run = read_run(write(tmp_path, text))
    assert sorted(run.metrics) == ["Acc", "infer_time_s", "loss", "train_time_s"]
    assert run.series("loss").index.tolist() == list(range(1, 21))
    assert run.series("Acc").tolist() == pytest.approx([7.5, 15.0, 22.5, 30.0])


def test_a_field_named_as_a_time_is_not_named_time_twice(tmp_path):
    text = "".join(f"Epoch {e} | Loss {1.0 / e:.4f} | Time 12.{e}s | Epoch Time 3.{e} min\n"
                   for e in range(1, 6))
    run = read_run(write(tmp_path, text))
    assert sorted(run.metrics) == ["Epoch Time_min", "Loss", "Time_s"]


@pytest.mark.parametrize("text", [
    "".join(f"step {k} | loss 0.{k}\n" for k in range(1, 6)),  # one field: still noise
    "".join(f"Step {k} | add 3 apples | total 7\n" for k in range(1, 6)),  # prose, integers
    # sentences between pipes, with decimals: a name of prose words, or of too many words
    "".join(f"Epoch {k} | we got accuracy around 0.{k}5 | then it dropped to 0.{k}\n"
            for k in range(1, 6)),
    "".join(f"In epoch {k} | the loss was 0.{k}2 | the acc was 0.9\n" for k in range(1, 6)),
    "".join(f"Step {k} | Download the weights in about 2.5 min | wait 3 s\n" for k in range(1, 6)),
])
def test_one_field_or_prose_stays_noise(tmp_path, text):
    with pytest.raises(InputError, match="unknown log format"):
        read_run(write(tmp_path, text))


def test_dgls_eval_and_test_accuracy_lines_are_the_evaluations(tmp_path):
    """DGL's examples print `Eval Acc 0.9248` and `Test Acc: 0.9306` every few epochs, lines of
    their own with no step token: skipped silently, the run was judged by its train loss."""
    lines = []
    for epoch in range(12):
        lines += [f"Epoch {epoch:05d} | Step {step:05d} | Loss {1.0 / (1 + epoch):.4f} | "
                  f"Train Acc {0.5 + 0.03 * epoch:.4f} | GPU 401.2 MB" for step in (0, 20, 40)]
        lines.append(f"Epoch Time(s): {7.1 + epoch / 10:.4f}")
        if epoch % 3 == 2:
            lines += [f"Eval Acc {0.85 + 0.01 * epoch:.4f}", f"Test Acc: {0.86 + 0.01 * epoch:.4f}"]
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("Eval Acc").tolist() == pytest.approx([0.87, 0.90, 0.93, 0.96])
    assert len(run.series("Test Acc")) == 4
    assert run.series("Eval Acc").index.tolist() == run.series("Test Acc").index.tolist()
    from phasewatch.analysis import analyze_run

    assert analyze_run(run).metric == "Eval Acc"  # the validation split's, before the test's


@pytest.mark.parametrize("line", [
    "Epoch {epoch:05d} | Step 00000 | Loss {loss:.4f} | Train Acc {acc:.4f}",  # DGL, one print
    "Epoch {epoch} - Batch 0 - Loss: {loss:.4f}",  # `batch % 100 == 0` and < 100 batches
])
def test_a_step_within_the_epoch_printed_once_an_epoch_is_counted_over_the_epochs(tmp_path,
                                                                                  line):
    """With fewer batches an epoch than the print interval, the loop prints the same step every
    epoch (`Step 00000`): the epochs' records were one step (an unknown log format: no step
    grows), now one a step."""
    text = "".join(line.format(epoch=e, loss=2.0 / e, acc=0.1 * e) + "\n" for e in range(1, 9))
    run = read_run(write(tmp_path, text))
    loss = run.series("Loss")
    assert loss.tolist() == pytest.approx([2.0 / e for e in range(1, 9)], abs=1e-4)
    assert loss.index.is_monotonic_increasing and loss.index.is_unique


@pytest.mark.parametrize("shape", [
    "Epoch {epoch:05d} | Step {step:05d} | Loss {loss:.4f} | Train Acc 0.5",  # DGL
    "Epoch {epoch} - Batch {step} - Loss: {loss:.4f}",
])
def test_a_second_run_in_the_file_starts_where_the_first_started(tmp_path, shape):
    """Two runs of a script printing its step within the epoch (no `/TOTAL`), one after the
    other in one console file: the second run's steps were counted on from the first run's
    last (its epoch 0 at step 164 of 0-204), so the file read as one run of 368 steps resumed
    at 164, the first run's start kept before the second's."""
    lines = [shape.format(epoch=e, step=s, loss=2.0 - 0.1 * e - s / 1000 + 0.3 * run)
             for run in range(2) for e in range(5) for s in (0, 20, 40)]
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    name = next(n for n in run.metrics if n.lower() == "loss")
    series = run.series(name)
    first = read_run(write(tmp_path, "\n".join(lines[:15]) + "\n", "first.log")).series(name)
    assert series.index.tolist() == first.index.tolist()  # the second run, on the first's steps
    assert series.iloc[0] == pytest.approx(2.3)
    assert any("went back" in w and "a new run logged to the same file" in w
               for w in run.warnings)


def test_piped_name_colon_value_cells_with_a_unit_are_one_record_an_epoch(tmp_path):
    """`Epoch 005 | learning rate: 0.0451 | Train Loss: 1.6598 | Valid Acc: 0.4190 | Epoch Time:
    28.43 s`: a cell whose number a unit follows after a space left the line no record, and a
    CIFAR script's log an unknown format."""
    lines = []
    for epoch in range(1, 31):
        cells = [f"learning rate: {0.05 * 0.95 ** (epoch // 2):.4f}",
                 f"Train Loss: {2.0 - epoch / 40:.4f}", f"Train Acc: {0.3 + epoch / 100:.4f}"]
        if epoch % 5 == 0:
            cells += [f"Valid Loss: {1.7 - epoch / 100:.4f}", f"Valid Acc: {0.4 + epoch / 200:.4f}"]
        lines.append(" | ".join([f"Epoch {epoch:03d}", *cells, f"Epoch Time: {28.5:.2f} s"]))
    path = write(tmp_path, "\n".join(lines) + "\n")
    run = read_run(path)
    assert sorted(run.metrics) == ["Epoch Time_s", "Train Acc", "Train Loss", "Valid Acc",
                                   "Valid Loss", "learning rate"]
    assert run.step_unit == "epoch"
    assert run.series("Train Loss").index.tolist() == list(range(1, 31))
    assert run.series("Valid Acc").index.tolist() == [5, 10, 15, 20, 25, 30]
    assert run.series("Valid Acc").iloc[0] == pytest.approx(0.425)
    assert phasewatch.analyze(path).metric == "Valid Acc"  # held-out accuracy by its name
