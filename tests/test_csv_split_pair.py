"""A folder holding one run's train.csv and valid.csv (`io.csv_splits`): one run whose held-out
metrics come from valid.csv and train metrics from train.csv, joined on their step column. Read
as two runs, `analyze` judged train.csv by its train loss and `sweep` and `report` made two
rows of one training. CSV files that are not one run's splits stay runs of their own."""

from __future__ import annotations

import csv
import json
import math
import time

from cli_json import analyzed, watched
from watch_follower import Follower, assert_same, replay

from phasewatch.cli import main


def write(path, header, rows):
    """A CSV as a script writes it with the standard library's writer (CRLF line ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_run(folder, extra=(), train_key="epoch", valid_key="epoch"):
    """20 epochs: the train loss falls throughout; the validation accuracy rises to epoch 11,
    then falls (an overfit the train metrics alone cannot show). `extra`: columns both files
    write, each a constant per file."""
    train, valid = [], []
    for epoch in range(20):
        late = max(epoch - 11, 0)
        train.append([epoch, 2 * math.exp(-epoch / 5) + 0.1, 0.5 + 0.45 * (1 - math.exp(-epoch / 4))])
        valid.append([epoch, 2 * math.exp(-epoch / 5) + 0.3 + 0.02 * late,
                      0.5 + 0.3 * (1 - math.exp(-epoch / 4)) - 0.005 * late])
    extras = [name for name, _ in extra]
    write(folder / "train.csv", [train_key, "loss", "acc", *extras],
          [row + [value for _, (value, _) in extra] for row in train])
    write(folder / "valid.csv", [valid_key, "loss", "acc", *extras],
          [row + [value for _, (_, value) in extra] for row in valid])
    return folder


def inspected(capsys, path) -> dict:
    assert main(["inspect", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_and_valid_csv_are_one_run(tmp_path, capsys):
    folder = write_run(tmp_path / "run")
    shown = inspected(capsys, folder)
    assert shown["format"] == "csv_splits"
    assert set(shown["metrics"]) == {"train_loss", "train_acc", "valid_loss", "valid_acc"}
    assert ("train.csv and valid.csv, one file per split, are read as one run, their rows "
            "joined on their epoch column") in shown["warnings"]
    run = analyzed(capsys, folder)
    assert (run["metric"], run["recommended_stop_step"]) == ("valid_acc", 11)
    assert [p["name"] for p in run["phases"]][-1] == "overfit"
    summary, _ = watched(capsys, folder)
    assert (summary["metric"], summary["best_step"]) == ("valid_acc", 11)
    table = tmp_path / "table.csv"
    assert main(["sweep", str(folder), "-o", str(table), "--workers", "1", "--no-progress"]) == 0
    with open(table) as fh:
        rows = list(csv.DictReader(fh))
    assert [(row["metric"], row["recommended_step"]) for row in rows] == [("valid_acc", "11")]
    capsys.readouterr()
    assert main(["report", str(folder), "-o", str(tmp_path / "r.html"), "--workers", "1",
                 "--no-progress"]) == 0
    assert "report of 1 run " in capsys.readouterr().err


def test_other_csv_files_stay_runs_of_their_own(tmp_path, capsys):
    # beside another run's log: the pair is the folder's run, the other file one more
    folder = write_run(tmp_path / "with_other")
    write(folder / "baseline.csv", ["epoch", "loss"], [[e, 1 / (e + 1)] for e in range(5)])
    shown = inspected(capsys, folder)
    assert sorted(r["source"] for r in shown["runs"]) == [str(folder), str(folder / "baseline.csv")]
    # runs' own files, and split files keyed by different columns (batches, epochs)
    for name in ("run1.csv", "run2.csv"):
        write(tmp_path / "runs" / name, ["epoch", "loss"], [[e, 1 / (e + 1)] for e in range(5)])
    write_run(tmp_path / "keys", train_key="step")
    for folder in (tmp_path / "runs", tmp_path / "keys"):
        assert len(inspected(capsys, folder)["runs"]) == 2


def test_what_each_file_says_names_it(tmp_path, capsys):
    folder = write_run(tmp_path / "run", extra=[("lr", (0.001, 0.002))])
    lines = (folder / "valid.csv").read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 2)[0] + ",0.6x,0.002"  # epoch 3's accuracy, damaged
    (folder / "valid.csv").write_text("\n".join(lines) + "\n")
    shown = inspected(capsys, folder)
    assert shown["metrics"]["lr"]["count"] == 20 and shown["metrics"]["valid_acc"]["count"] == 19
    warnings = " | ".join(shown["warnings"])
    assert "a column of several files is read from the first: lr from train.csv" in warnings
    assert "1 of valid_acc (at valid.csv line 5: '0.6x')" in warnings
    # a validation file with no row yet: the run is read without it, and that is said
    write(folder / "valid.csv", ["epoch", "loss", "acc", "lr"], [])
    shown = inspected(capsys, folder)
    assert set(shown["metrics"]) == {"train_loss", "train_acc", "lr"}
    assert "valid.csv: no records yet: the run is read without it" in shown["warnings"]


def append(path, header, row):
    """One row appended as a script's `csv.writer` appends it, the header first in a new file."""
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(header)
        writer.writerow(row)


def test_a_follow_started_before_valid_csv_exists_reads_it_when_it_appears(tmp_path):
    # the usual start: train.csv from epoch 0, valid.csv from the first validation (epoch 2)
    # on. The follow began with train.csv alone and never read valid.csv: its alerts were the
    # train loss's, the replay's of the finished folder valid_acc's.
    folder = tmp_path / "run"
    folder.mkdir()
    header = ["epoch", "loss", "acc"]

    def train(epoch):
        append(folder / "train.csv", header, [epoch, 2 * math.exp(-epoch / 8) + 0.1,
                                              0.5 + 0.45 * (1 - math.exp(-epoch / 6))])

    for epoch in range(2):
        train(epoch)
    follower = Follower(folder, stop_on=(), idle_exit=1.5)
    follower.wait_for_message("holding them")  # train.csv read, no held-out metric yet
    for epoch in range(2, 40):
        train(epoch)
        late = max(epoch - 20, 0)  # valid accuracy: rises, then falls after epoch 20
        append(folder / "valid.csv", header, [epoch, 1 + 0.5 * math.exp(-epoch / 4) + 0.02 * late,
                                              0.6 + 0.1 * (1 - math.exp(-epoch / 4)) - 0.004 * late
                                              + 0.002 * (-1) ** epoch])
        time.sleep(0.01)
    followed = follower.ends_by_itself()
    replayed, result = replay(folder, stop_on=())
    assert result.metric == "valid_acc" and result.best_step == 20
    assert_same(followed, replayed)
    said = " | ".join(follower.messages)
    assert "following train.csv (and another split's CSV file when it appears)" in said
    assert "valid.csv appeared: following it too" in said
