"""A last line without its newline whose last value is legitimately short: '20,0.75' after
rows of Python's shortest floats ('0.7312345678901234') was left out as cut (its value shorter
than each of the 16 lines before it), though the column had held a value as short (0.5 at
epoch 0): a writer that prints each float as short as it goes writes 0.75 so. A value shorter
than any its column has had is still left out."""

from __future__ import annotations

import csv
import math

import pytest

from phasewatch.io import read_run

LONG = [0.5 + 0.3 * (1 - math.exp(-e / 6)) + 1e-3 * math.sin(7 * e) for e in range(1, 20)]


def write_metrics(folder, values, last: str):
    """`values` (epochs 0..) as Keras' CSVLogger writes them (`csv.DictWriter`, each float as
    Python prints it), then a last row at epoch len(values) ending in `last`, whose line end
    is missing."""
    path = folder / "training_log.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["epoch", "val_accuracy"])
        writer.writeheader()
        for epoch, value in enumerate(values):
            writer.writerow({"epoch": epoch, "val_accuracy": value})
    path.write_bytes(path.read_bytes() + f"{len(values)},{last}".encode())
    return path


def test_a_short_last_value_its_column_has_had_before_is_read(tmp_path):
    path = write_metrics(tmp_path, [0.5, *LONG], "0.75")  # 0.5 is 20 rows up
    run = read_run(path)
    series = run.series("val_accuracy")
    assert series.index[-1] == 20 and series.iloc[-1] == 0.75
    assert not any("does not end with a newline" in w for w in run.warnings), run.warnings


@pytest.mark.parametrize("values,last", [
    (LONG, "0.75"),          # no value of the column was ever as short
    ([0.5, *LONG], "0"),     # '0' of '0.75...': shorter than the shortest (0.5)
])
def test_a_value_shorter_than_any_before_is_still_left_out(tmp_path, values, last):
    path = write_metrics(tmp_path, values, last)
    run = read_run(path)
    assert run.series("val_accuracy").index[-1] == len(values) - 1
    assert any(f"its last value, {last}, is shorter than each in its place before it" in w
               for w in run.warnings), run.warnings
