"""Several processes of a distributed run print the same console lines (W2SSL's
`outputs/log.txt`: each `Epoch: [0][1000/2502] ... Loss ...` line twice, the ranks' `Time` and
`Data` apart). The equal rows of a step were read once without a word; one warning now says how
many records were merged and where, and the values read are those of the log printed once."""

from __future__ import annotations

import json

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run

NOTE = "repeat the record just before them"


def progress_lines(ranks: int, epochs: int = 3, per_epoch: int = 2502) -> str:
    lines = []
    for epoch in range(epochs):
        for batch in range(0, per_epoch, 500):
            loss = 68.0 / (1 + epoch + batch / per_epoch)
            for rank in range(ranks):  # each rank times its own batches
                lines.append(f"Epoch: [{epoch}][{batch:4d}/{per_epoch}]\tTime "
                             f"{0.98 + rank / 100:6.3f} ( 1.301)\tData {0.01 * rank:6.3f} ( 0.295)"
                             "\tLR 4.7962e-02 "
                             f"(2.3981e-02)\tLoss {loss:.4e} ({loss + 1:.4e})\tLoss_loc 6.9658e-01 "
                             "(7.0726e-01)")
    return "\n".join(lines) + "\n"


def test_lines_printed_by_each_rank_are_read_once_and_said(tmp_path, capsys):
    once, twice = tmp_path / "once.txt", tmp_path / "log.txt"
    once.write_text(progress_lines(1))
    twice.write_text(progress_lines(2))
    alone, merged = read_run(once), read_run(twice)
    assert merged.metrics == alone.metrics
    for name in alone.metrics:
        assert merged.series(name).to_dict() == alone.series(name).to_dict()
    assert not [w for w in alone.warnings if NOTE in w]
    said = [w for w in merged.warnings if NOTE in w]
    assert said == [(f"18 of 36 records {NOTE} (the same step and values, timings aside; lines "
                     "2, 4, 6 and 15 more): each is read once (several processes printing one "
                     "log, such as the ranks of a distributed run, or a logger given its handler "
                     "twice)")]
    assert main(["inspect", str(twice), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["n_records"] == 36 and shown["n_steps"] == 18
    assert [w for w in shown["warnings"] if NOTE in w] == said
    assert main(["analyze", str(twice)]) == 0
    assert capsys.readouterr().out.count(NOTE) == 1


@pytest.mark.parametrize("ranks", [2, 4])
def test_kv_console_lines_of_several_ranks(tmp_path, ranks):
    text = "".join(f"step {s} | loss: {1 / (1 + s):.4f} | norm: 1.5 | dt: {100 + r}ms\n"
                   for s in range(1, 6) for r in range(ranks))
    path = tmp_path / "train.log"
    path.write_text(text)
    said = [w for w in read_run(path).warnings if NOTE in w]
    n = 5 * ranks
    assert len(said) == 1 and said[0].startswith(f"{n - 5} of {n} records {NOTE}")


def test_a_step_printed_again_with_other_values_is_no_repeat(tmp_path):
    text = "".join(f"step {s} | loss: {1 / (1 + s) + r / 10:.4f} | norm: 1.5\n"
                   for s in range(1, 6) for r in range(2))
    path = tmp_path / "train.log"
    path.write_text(text)
    assert not [w for w in read_run(path).warnings if NOTE in w]


def test_equal_rows_of_a_csv_file_collapse_silently(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n" + "".join(f"{s},{1 / (1 + s)}\n{s},{1 / (1 + s)}\n"
                                            for s in range(6)))
    assert not [w for w in read_run(path).warnings if NOTE in w]


def test_watch_says_the_repeats_as_analyze_does_and_calls_no_rows_different(tmp_path, capsys):
    """A replay read each step's two equal rows as "2 rows with different values ... one per
    prompt group, rank or batch: the mean of its rows per step is read" and said nothing of the
    repeats `analyze` names; a replay and a follow now say analyze's warning, once. Rows of a
    step that differ are still said (the per-group log's warning)."""
    twice = tmp_path / "log.txt"
    twice.write_text(progress_lines(2, epochs=6))
    assert main(["analyze", str(twice)]) == 0
    said = next(line for line in capsys.readouterr().out.splitlines() if NOTE in line)
    for follow in ([], ["--follow", "--idle-exit", "0.2"]):
        assert main(["watch", *follow, str(twice)]) == 0
        err = capsys.readouterr().err
        assert "different values" not in err and "mean of its rows" not in err
        assert err.count(NOTE) == 1 and said.strip().removeprefix("warning: ") in err
    groups = tmp_path / "groups.csv"
    groups.write_text("step,reward\n" + "".join(f"{s},{s / 10 + r / 100:.3f}\n"
                                                for s in range(1, 30) for r in range(2)))
    assert main(["watch", str(groups)]) == 0
    err = capsys.readouterr().err
    assert ("reward: 2 rows at each step, with different values at step 1 (one per prompt "
            "group, rank or batch): the mean of its rows per step is read") in err
