"""An evaluation's summary line after each epoch, as PyTorch's examples print it (mnist/main.py,
copied into countless scripts): `Test set: Average loss: 0.0512, Accuracy: 9837/10000 (98%)`.
It was skipped silently, and the run judged by its train loss."""

from __future__ import annotations

import pytest
from _files import write

from phasewatch.cli import main
from phasewatch.io import read_run


def mnist_log(epochs: int = 6) -> str:
    lines = []
    for epoch in range(1, epochs + 1):
        for seen in range(0, 60000, 12800):
            lines.append(f"Train Epoch: {epoch} [{seen}/60000 ({100 * seen // 60000}%)]\t"
                         f"Loss: {2.3 / (epoch + seen / 60000):.6f}")
        correct = 9600 + 40 * min(epoch, 4)
        summary = (f"Test set: Average loss: {0.12 / epoch:.4f}, Accuracy: {correct}/10000 "
                   f"({correct // 100}%)")
        lines += ["", summary, ""]
    return "\n".join(lines) + "\n"


def test_the_test_set_line_is_the_epochs_evaluation(tmp_path):
    run = read_run(write(tmp_path, mnist_log()))
    accuracy = run.series("test_accuracy")
    assert accuracy.index.tolist() == [1, 2, 3, 4, 5, 6]  # at the epoch it ends
    assert accuracy.tolist() == pytest.approx([96.4, 96.8, 97.2, 97.6, 97.6, 97.6])  # 9640/10000
    assert run.series("test_loss")[2] == pytest.approx(0.06)


def test_analyze_judges_by_the_test_accuracy(tmp_path, capsys):
    assert main(["analyze", str(write(tmp_path, mnist_log()))]) == 0
    assert "metric test_accuracy (max)" in capsys.readouterr().out


def test_percentages_and_a_top1_are_read(tmp_path):
    text = "".join(f"Epoch: {e}\nLearning rate: 0.0{e}\n\nTest set: Average loss: {5.0 / e:.4f}, "
                   f"Acc@1: {10.0 * e:.3f}%, Acc@5: {20.0 * e:.3f}%\n\n" for e in range(1, 6))
    run = read_run(write(tmp_path, text))
    assert run.series("test_acc@1").tolist() == pytest.approx([10.0, 20.0, 30.0, 40.0, 50.0])
    assert run.series("test_loss").index.tolist() == [1, 2, 3, 4, 5]


def test_a_test_set_line_before_any_training_line_is_reported(tmp_path):
    text = "Test set: Average loss: 2.3000, Accuracy: 1000/10000 (10%)\n" + mnist_log()
    run = read_run(write(tmp_path, text))
    assert len(run.series("test_accuracy")) == 6
    assert any("line 1" in w and "no step to place it at" in w for w in run.warnings)


def test_prose_after_test_set_is_no_record(tmp_path):
    text = mnist_log(3) + "Test set: the model did well, loss: low\n"
    assert len(read_run(write(tmp_path, text)).series("test_accuracy")) == 3


def test_a_dashed_validation_line_of_simple_nmt_is_the_epochs_evaluation(tmp_path):
    """simple-nmt prints `Epoch 3 - |param|=6.01e+02 |g_param|=3.40e+05 loss=4.3770e+00
    ppl=79.60`, then `Validation - loss=3.8406e+00 ppl=46.55 best_loss=3.9483e+00 ...`: the
    validation was skipped silently (no step token) and the run judged by its train loss."""
    lines = []
    for epoch in range(1, 9):
        lines.append(f"Epoch {epoch} - |param|=6.01e+02 |g_param|=3.3e+05 "
                     f"loss={5.0 / epoch:.4e} ppl={150.0 / epoch:.2f}")
        lines.append(f"Validation - loss={4.0 / epoch + 0.5:.4e} ppl={60.0 / epoch:.2f} "
                     f"best_loss=inf best_ppl=inf")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("val_loss").index.tolist() == list(range(1, 9))
    assert run.series("val_loss")[4] == pytest.approx(1.5)
    from phasewatch.analysis import analyze_run

    assert analyze_run(run).metric == "val_loss"
