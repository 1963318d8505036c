"""Hostile input beyond a log's lines: FIFOs are refused, never waited on (run in a subprocess
with a timeout), a token step file named beyond int64 is ignored, non-finite watch thresholds
are usage errors, bad lines appended to a followed log are skipped and counted; exit 70 is
kept for genuine bugs."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from hostile_inputs import GOOD, run_cli, run_subprocess, text

TOKEN_INDEX = {"schema_version": 1, "dtype": "float32", "n_tokens": 4,
               "sequences": [{"id": 0, "split": "train", "offset": 0, "length": 4}]}


@pytest.mark.parametrize("where", ["log", "native-metrics", "run-json", "token-step-file"])
def test_fifos_are_refused_not_waited_on(where, tmp_path):
    if where == "log":
        target = tmp_path / "metrics.jsonl"
        os.mkfifo(target)
        args = ["inspect", str(target)]
    elif where == "native-metrics":
        (tmp_path / "run.json").write_text("{}")
        os.mkfifo(tmp_path / "metrics.jsonl")
        args = ["inspect", str(tmp_path)]
    elif where == "run-json":
        os.mkfifo(tmp_path / "run.json")
        (tmp_path / "metrics.jsonl").write_text(GOOD)
        args = ["inspect", str(tmp_path)]
    else:  # a valid index, so the command gets as far as the step file
        (tmp_path / "tokens").mkdir()
        (tmp_path / "tokens" / "index.json").write_text(json.dumps(TOKEN_INDEX))
        os.mkfifo(tmp_path / "tokens" / "step_00000010.npy")
        args = ["tokens", str(tmp_path / "tokens")]
    result = run_subprocess(*args)  # a hang is a TimeoutExpired: the test fails
    assert result.returncode in (0, 3), result.stderr  # (2 would be a wrong command line)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if where != "run-json":  # (a FIFO run.json is skipped: the metrics are read)
        assert "FIFO" in result.stderr, result.stderr


def test_a_token_step_file_named_beyond_int64_is_ignored_with_a_warning(tmp_path):
    np = pytest.importorskip("numpy")
    store = tmp_path / "tokens"
    store.mkdir()
    (store / "index.json").write_text(json.dumps(TOKEN_INDEX))
    np.save(store / "step_00000010.npy", np.full(4, -0.5, dtype=np.float32))
    (store / f"step_{10**30}.npy").write_bytes(b"\x93NUMPY junk")
    result = run_subprocess("tokens", str(store))
    assert result.returncode == 0, result.stderr
    assert "the step in its name is too large" in result.stdout  # the summary's warnings
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("option, value", [("--min-delta", "nan"), ("--min-delta", "inf"),
                                           ("--z", "nan"), ("--z", "-inf")])
def test_non_finite_watch_thresholds_are_usage_errors(option, value, tmp_path):
    path = text("m.jsonl", GOOD)(tmp_path)
    result = run_subprocess("watch", str(path), option, value)
    assert result.returncode == 2 and option in result.stderr and "finite" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_watch_follow_skips_and_counts_bad_lines_and_keeps_the_metric(tmp_path):
    """Hostile lines appended to a live log (a step of 1e30, deep nesting, a huge cell) are
    skipped and reported; the follower's alerts equal a replay of the final file."""
    from phasewatch.live import LiveWatch

    path = tmp_path / "metrics.jsonl"
    rows = [{"step": i, "eval/accuracy": 0.5 + (0.2 if i >= 40 else 0.0) + 0.001 * (i % 3)}
            for i in range(80)]
    bad = ['{"step": 1e30, "eval/accuracy": 0.1}', "[" * 5000 + "]" * 5000,
           '{"step": NaN, "eval/accuracy": 0.9}', '{"step": 41, "eval/accuracy": ' + "9" * 400 + "}"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:30]))

    def writer():
        with open(path, "a", encoding="utf-8") as fh:
            for i in range(30, 80):
                time.sleep(0.01)
                fh.write(json.dumps(rows[i]) + "\n")
                if i == 35:
                    fh.write("\n".join(bad) + "\n")
                fh.flush()

    notices: list[str] = []
    thread = threading.Thread(target=writer)
    thread.start()
    live = LiveWatch(path, follow=True, poll=0.02, idle_exit=1.0, notice=notices.append,
                     info=notices.append)
    followed = [(a.event, a.step) for a in live.alerts()]
    thread.join()
    replayed = [(a.event, a.step) for a in LiveWatch(path, notice=lambda m: None,
                                                       info=lambda m: None).alerts()]
    assert followed == replayed
    assert any(event == "improvement" for event, _ in followed)
    assert live.result.metric == "eval/accuracy"
    said = " ".join(notices)
    assert "out of range" in said and "not an integer" in said


def test_a_genuine_bug_is_exit_70_asking_for_a_report(tmp_path, capsys, monkeypatch):
    """Exit 70 is kept for bugs: one line asking for a report, the traceback only with
    PHASEWATCH_DEBUG=1."""
    import phasewatch.commands.inspect as inspect_command

    def broken(run):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(inspect_command, "summarize", broken)
    path = text("m.jsonl", GOOD)(tmp_path)
    code, _, err, _ = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert code == 70 and "Traceback" not in err
    assert "internal error (ZeroDivisionError: a bug); this is a bug, please report it" in err
    monkeypatch.setenv("PHASEWATCH_DEBUG", "1")
    code, _, err, _ = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert code == 70 and "Traceback" in err
