"""A cell that is no number among a metric's numbers (`0.6x`) is said by `watch`, replayed and
followed, once and in `analyze`'s words, where only `analyze` said it."""

from __future__ import annotations

import csv
import json
import math

import pytest

from phasewatch.cli import main

SKIPPED = "skipped values that are not numbers where the metric's other values are"


def accuracy(i: int) -> float:
    return round(0.5 + 0.3 * math.sin(i / 20) + 0.01 * ((i * 7) % 5), 4)


def write_log(tmp_path, kind: str):
    """60 records of `acc` and `loss`, the 21st `acc` written `0.6x`; a `time` column of text
    throughout (fastai's `00:12`) is no metric and is not said."""
    if kind == "csv":
        path = tmp_path / "log.csv"
        with open(path, "w", newline="") as f:
            rows = csv.writer(f)
            rows.writerow(["step", "acc", "loss", "time"])
            for i in range(60):
                rows.writerow([i * 10, "0.6x" if i == 20 else accuracy(i), 2 - i / 60,
                               f"00:{i % 60:02d}"])
    else:
        path = tmp_path / "log.jsonl"
        with open(path, "w") as f:
            for i in range(60):
                f.write(json.dumps({"step": i * 10, "acc": "0.6x" if i == 20 else accuracy(i),
                                    "loss": 2 - i / 60, "time": f"00:{i % 60:02d}"}) + "\n")
    return path


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_watch_says_the_damaged_cell_once_as_analyze_does(tmp_path, capsys, kind):
    path = write_log(tmp_path, kind)
    assert main(["analyze", str(path), "--metric", "acc", "--format", "json"]) == 0
    [said] = [w for w in json.loads(capsys.readouterr().out)["runs"][0]["warnings"]
              if SKIPPED in w]
    assert "1 of acc (at line " in said and "'0.6x'" in said and "time" not in said
    for follow in ([], ["--follow", "--idle-exit", "1"]):
        assert main(["watch", str(path), "--metric", "acc", *follow]) == 0
        err = capsys.readouterr().err
        assert [line for line in err.splitlines() if SKIPPED in line] == [
            f"phasewatch: warning: {path}: {said}"], (follow, err)


def test_the_collector_and_the_watch_read_a_records_values_by_one_loop():
    """`text_cells.take_numbers` is what both read a record's values with: the same numbers
    (a bool, an integer beyond float range, a numeric string), the same cells of text said
    (not an empty cell, `n/a`, a null or a list), so their warnings are the same words."""
    from phasewatch.run import RecordCollector
    from phasewatch.text_cells import TextCells, WatchedCells, take_numbers

    records = [{"acc": 0.5, "flag": True, "big": 10 ** 400, "lr": " 1e-3 ", "loss": "0.6x"},
               {"acc": "", "flag": None, "big": [1], "lr": "n/a", "loss": 1.5},
               {"acc": "0.7a1", "loss": 1.2, "note": "warm-up"}]
    taken, cells = [], TextCells()
    counts = [take_numbers(values, step, step + 1, lambda *point: taken.append(point), cells)
              for step, values in enumerate(records)]
    assert counts == [4, 1, 1]
    assert taken == [("acc", 0, 0.5), ("flag", 0, 1.0), ("big", 0, math.inf), ("lr", 0, 1e-3),
                     ("loss", 1, 1.5), ("loss", 2, 1.2)]
    collector, watched = RecordCollector("log", "jsonl"), WatchedCells()
    for step, values in enumerate(records):
        collector.add(step, values, step + 1)
        watched.add(values, step + 1)
    said = [w for w in collector.build().warnings if w.startswith(SKIPPED)]
    assert said == watched.warnings() == [
        (f"{SKIPPED}: 1 of loss (at line 1: '0.6x'), 1 of acc (at line 3: '0.7a1'); each is a "
         "reading lost (check the log there)")]
