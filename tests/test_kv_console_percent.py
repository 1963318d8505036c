"""A value printed as a percentage (`Test Acc: 59.86%`, `val_acc=91.43%`) is its number: kept
as text it was no number, left out silently, and the held-out accuracy lost (a line of one
other number was then no record at all: an unknown log format)."""

from __future__ import annotations

from functools import partial

import pytest
from _files import write as _write_log

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run

PREFIX = "2025-06-04 17:39:02,341 - INFO - "


write = partial(_write_log, name="training.log")


def test_a_test_accuracy_in_percent_beside_the_train_loss(tmp_path):
    text = "".join(f"{PREFIX}Epoch {e}/12, Train Loss: {1.6 / e:.4f}, Test Acc: {60 + e:.2f}%\n"
                   for e in range(1, 13))
    run = read_run(write(tmp_path, PREFIX + "Using device: cpu\n" + text))
    assert run.series("Test Acc").tolist() == pytest.approx([60.0 + e for e in range(1, 13)])
    assert analyze_run(run).metric == "Test Acc"


def test_train_and_val_accuracies_in_percent_in_brackets(tmp_path):
    text = "".join(f"{PREFIX}Epoch [{e}/50], Train Loss: {1.9 / e:.4f}, Train Acc: "
                   f"{20 + 3 * e:.2f}%, Val Loss: {1.8 / e:.4f}, Val Acc: {17 + 4 * e:.2f}%\n"
                   for e in range(1, 11))
    run = read_run(write(tmp_path, text))
    assert run.series("Val Acc")[10] == pytest.approx(57.0)
    assert analyze_run(run).metric == "Val Acc"


def test_a_percentage_after_an_equals_sign(tmp_path):
    text = "".join(f"Epoch {e}, val_loss={2.0 / e:.4f}, val_acc={30 + 6 * e:.2f}%\n"
                   for e in range(1, 9))
    run = read_run(write(tmp_path, text))
    assert run.series("val_acc").tolist()[:2] == pytest.approx([36.0, 42.0])
