"""Stable-Baselines3's `Monitor` files (`phasewatch.io.sb3_monitor`). SB3 is not installed here:
the files are written as its `ResultsWriter` writes them (a `#` + JSON header line, then
`csv.DictWriter` rows of r, l, t and any info keywords), the layout of the sweep's
ZeshiWu/ML-capstone-project- `joz_logs/*/0.monitor.csv`, which were 'unknown log format'."""

from __future__ import annotations

import csv
import json
import math

from watch_follower import Follower, assert_same, replay, write_in_pieces

from phasewatch.cli import main
from phasewatch.io import read_run


def monitor(path, episodes=300, info=()) -> list[int]:
    lengths = []
    with path.open("w", newline="") as fh:
        fh.write("#" + json.dumps({"t_start": 1713849656.072508, "env_id": "ALE/Breakout-v5"}) + "\n")
        writer = csv.DictWriter(fh, fieldnames=("r", "l", "t", *info))
        writer.writeheader()
        for k in range(episodes):
            length = 170 + (k * 37) % 90
            lengths.append(length)
            ret = round(10 * (1 - math.exp(-k / 60)) - 0.02 * max(k - 200, 0), 1)
            row = {"r": ret, "l": length, "t": round(0.9 + 0.37 * k, 6)}
            row.update({key: k % 2 == 0 for key in info})
            writer.writerow(row)
    return lengths


def test_episodes_at_the_environment_steps_taken(tmp_path, capsys):
    path = tmp_path / "0.monitor.csv"
    lengths = monitor(path, info=("is_success",))
    run = read_run(path)
    assert run.format == "sb3_monitor"
    steps = run.series("r").index.tolist()
    assert steps[:3] == [lengths[0], lengths[0] + lengths[1], sum(lengths[:3])]
    assert steps[-1] == sum(lengths)
    assert run.config["env_id"] == "ALE/Breakout-v5"
    assert run.series("l").iloc[0] == lengths[0]
    assert main(["analyze", "--metric", "r", str(path)]) == 0
    assert "improvement" in capsys.readouterr().out


def test_one_file_per_environment_is_a_folder_of_runs(tmp_path, capsys):
    for n in range(2):
        monitor(tmp_path / f"{n}.monitor.csv", episodes=50)
    assert main(["inspect", "--format", "json", str(tmp_path)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [r["format"] for r in listing["runs"]] == ["sb3_monitor", "sb3_monitor"]


def test_a_damaged_row_is_reported(tmp_path):
    path = tmp_path / "0.monitor.csv"
    monitor(path, episodes=20)
    with path.open("a") as fh:
        fh.write("3.0,abc,9.1\n5.0,200,9.9\n")
    run = read_run(path)
    assert len(run.series("r")) == 21
    assert any("line 23" in w and "abc" in w for w in run.warnings), run.warnings


def test_followed_in_pieces_equals_the_replay(tmp_path):
    source = tmp_path / "whole.csv"
    monitor(source)
    path = tmp_path / "0.monitor.csv"
    follower = Follower(path, stop_on=(), idle_exit=1.0, metric="r")
    follower.wait_for_message("does not exist yet")
    write_in_pieces(path, source.read_text())
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=(), metric="r")
    assert_same(followed, replayed)


def test_the_return_is_the_performance_metric_without_a_flag(tmp_path, capsys):
    """A Monitor file holds one performance series, the episode return `r`: `analyze` and
    `watch` stopped at "no performance metric found ... Metrics in this run: l, r, t"."""
    path = tmp_path / "eval_monitor.csv"
    monitor(path)
    assert main(["analyze", str(path)]) == 0
    assert "metric r (max)" in capsys.readouterr().out
    assert main(["watch", str(path)]) == 0
    assert "values of r" in capsys.readouterr().err


def test_training_episodes_are_readings_not_evaluations(tmp_path, capsys):
    """A Monitor on the training env writes one row per episode the policy trained on: analyze
    and watch said "median of 10 evaluations", "mean of the first 5 evaluations" of them. They
    are readings of training; a Monitor on the eval env (`eval_monitor.csv`) keeps its
    evaluations."""
    train, evaluation = tmp_path / "0.monitor.csv", tmp_path / "eval_monitor.csv"
    monitor(train)
    monitor(evaluation)
    for path, word, other in ((train, "readings", "evaluations"), (evaluation, "evaluations", "readings")):
        assert main(["analyze", str(path)]) == 0
        out = capsys.readouterr().out
        assert f" {word}" in out and f" {other}" not in out
        assert main(["analyze", "--format", "json", str(path)]) == 0
        capsys.readouterr()
        assert main(["watch", str(path)]) == 0
        said = capsys.readouterr()
        assert f" {other}" not in said.out + said.err
