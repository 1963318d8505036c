"""A sweep says a log it read but could not analyse (no held-out or performance metric: only
a learning rate and a gradient norm) apart from a file it could not read, where it counted both
"unreadable"."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from phasewatch.cli import main


def _runs(tmp_path):
    with open(tmp_path / "good.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["step", "eval_accuracy"])
        rows.writerows([step, 0.5 + step / 1000] for step in range(0, 200, 10))
    with open(tmp_path / "schedule.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["step", "lr", "grad_norm"])
        rows.writerows([step, 1e-4, 1.0 + step / 100] for step in range(0, 200, 10))
    (tmp_path / "broken.jsonl").write_bytes(b"\x00\x01 not a log\n")
    return [str(tmp_path / n) for n in ("good.csv", "schedule.csv", "broken.jsonl")]


def test_sweep_counts_the_unanalysed_log_apart_from_the_unreadable_file(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["sweep", *_runs(tmp_path), "--workers", "1", "--no-progress",
                 "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"3 runs (1 unreadable, 1 read but not analysed) -> {out}" in err
    assert "schedule.csv: no performance metric found" in err and "pick one with --metric" in err
    table = pd.read_csv(out).set_index("path")
    assert table["format"][str(tmp_path / "schedule.csv")] == "csv"  # it was read


def test_sweep_with_only_unanalysed_logs_calls_none_unreadable(tmp_path, capsys):
    good, schedule, _ = _runs(tmp_path)
    assert main(["sweep", good, schedule, "--workers", "1", "--no-progress",
                 "-o", str(tmp_path / "t.csv")]) == 0
    err = capsys.readouterr().err
    assert "2 runs (1 read but not analysed)" in err and "unreadable" not in err


def test_sweep_of_logs_none_of_which_has_a_known_metric_exits_as_analyze_does(tmp_path, capsys):
    """Every log read, none analysed (no metric phasewatch knows by name): a usage error, exit
    2 as `analyze` gives for one such log (pass --metric), not 3 (unreadable input); the count
    is said on stderr also when the table goes to stdout."""
    _, schedule, broken = _runs(tmp_path)
    other = tmp_path / "schedule2.csv"
    other.write_text(Path(schedule).read_text())
    assert main(["analyze", schedule]) == 2
    capsys.readouterr()
    assert main(["sweep", schedule, str(other), "--workers", "1", "--no-progress"]) == 2
    assert "phasewatch: 2 runs (2 read but not analysed)" in capsys.readouterr().err
    assert main(["sweep", schedule, broken, "--workers", "1", "--no-progress"]) == 3
    assert "phasewatch: 2 runs (1 unreadable, 1 read but not analysed)" in capsys.readouterr().err


def test_a_sweep_whose_only_failures_include_a_bug_exits_70():
    """A run whose analysis met a bug is no usage error, even when its log was read."""
    from phasewatch.commands.sweep import exit_code

    read = {"format": "csv", "error": "no performance metric found; pick one with --metric"}
    bug = {"format": "csv", "error": "internal error (ValueError: boom)"}
    assert exit_code([read, read]) == 2
    assert exit_code([read, bug]) == 70
    assert exit_code([read, {"format": None, "error": "no valid record"}]) == 3
    assert exit_code([read, {"format": "csv", "error": None}]) == 0


def test_report_summary_says_the_same(tmp_path, capsys):
    page = tmp_path / "r.html"
    assert main(["report", *_runs(tmp_path), "--workers", "1", "--no-progress",
                 "-o", str(page)]) == 0
    assert "3 runs, 1 unreadable, 1 read but not analysed." in page.read_text()
