"""Trackio project databases and their Parquet export, written by the real trackio package
(kept local: TRACKIO_DIR in a temporary folder, the Hub offline, and any connection to a
non-local address recorded and refused in the writer)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run

pytest.importorskip("trackio", reason="trackio is not installed (it is in the dev extra)")

# Refuses and records any connection that leaves the machine, then logs as transformers'
# TrackioCallback does (`rewrite_logs` names, `train/global_step`, no `step=`).
WRITER = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []
    _connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(address, tuple) and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(host)
            raise OSError("network disabled by the test")
        return _connect(self, address)

    socket.socket.connect = guarded
    import trackio
    trackio.init(project="proj", name="sft", config={"lr": 0.001, "epochs": 3})
    for i in range(8):
        logs = {"train/loss": 2.0 - i / 5, "train/learning_rate": 1e-5, "train/epoch": i / 8,
                "train/global_step": 10 * i}
        trackio.log(logs)
        if i % 2 == 1:
            trackio.log({"eval/accuracy": i / 10, "eval/loss": 1.0 - i / 10,
                         "train/global_step": 10 * i})
    trackio.log({"eval/accuracy": float("nan"), "train/global_step": 80})
    trackio.log({"train/loss": float("inf"), "train/global_step": 90})
    trackio.log({"test/accuracy": 0.77})  # the callback's on_predict: no train/global_step
    trackio.finish()
    trackio.init(project="proj", name="rl")
    for i in range(3):
        trackio.log({"reward": i / 2}, step=i)
    trackio.finish()
    print(json.dumps(attempts))
    """
)


def writer_env(folder: Path) -> dict[str, str]:
    return {**os.environ, "TRACKIO_DIR": str(folder), "HF_HOME": str(folder / "hf"),
            "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trackio")
    done = subprocess.run([sys.executable, "-c", WRITER], env=writer_env(folder), check=True,
                          capture_output=True, text=True, timeout=300)
    attempts = json.loads(done.stdout.strip().splitlines()[-1])
    assert attempts == [], f"trackio tried to reach {attempts}"
    return folder / "proj.db"


def test_the_database_is_wal_and_lists_its_runs(project, capsys):
    with sqlite3.connect(project) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    code, out, _ = cli(capsys, "inspect", str(project))
    assert code == 0 and f"{project}  [store of 2 runs]" in out
    assert f"{project}/sft " in out and f"{project}/rl " in out


def test_a_project_of_several_runs_is_each_run(project, tmp_path, capsys):
    """inspect --format json lists each run; analyze takes each run and reports the one it
    cannot analyse (rl: three points), the others still analysed, exit 4; a folder holding
    the project (and its Parquet export, the same runs) gives the same runs."""
    code, out, _ = cli(capsys, "inspect", str(project), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and [r["source"] for r in doc["runs"]] == [f"{project}/sft", f"{project}/rl"]
    assert doc["runs"][0]["metrics"]["eval/accuracy"]["count"] == 4
    code, out, err = cli(capsys, "analyze", str(project), "--metric", "eval/accuracy")
    assert code == 4 and f"{project}/sft" in out and f"{project}/rl" in err
    folder = tmp_path / "trackio"
    folder.mkdir()
    shutil.copy(project, folder / "proj.db")
    if importlib.util.find_spec("pyarrow") is not None:
        from trackio.sqlite_storage import SQLiteStorage

        SQLiteStorage._flatten_and_write_parquet(project, "metrics", "metrics",
                                                 folder / "proj.parquet")
        code, out, _ = cli(capsys, "inspect", str(folder / "proj.parquet"))
        assert code == 0 and "[store of 2 runs]" in out  # the export alone: its runs too
    code, out, _ = cli(capsys, "inspect", str(folder))
    assert code == 0 and "[folder of 2 runs]" in out and "proj.parquet" not in out


def test_steps_come_from_train_global_step(project):
    run = read_run(project / "sft")
    assert run.format == "trackio" and run.name == "sft"
    assert run.config == {"lr": 0.001, "epochs": 3}
    assert run.series("eval/accuracy").dropna().to_dict() == {10: 0.1, 30: 0.3, 50: 0.5, 70: 0.7}
    assert sorted(run.series("train/loss").dropna().index)[:3] == [0, 10, 20]
    assert "train/global_step" not in run.metrics
    assert run.series("test/accuracy").to_dict() == {90: 0.77}  # at the last global step
    assert not run.events  # not a step counter going back
    table = run.table.set_index(["metric", "step"])["value"]
    assert math.isnan(table[("eval/accuracy", 80)]) and table[("train/loss", 90)] == math.inf
    rl = read_run(project / "rl")
    assert rl.series("reward").to_dict() == {0: 0.0, 1: 0.5, 2: 1.0}  # explicit step=


def test_parquet_export_reads_like_the_database(project, tmp_path):
    pytest.importorskip("pyarrow")
    from trackio.sqlite_storage import SQLiteStorage

    parquet = tmp_path / "proj.parquet"
    SQLiteStorage._flatten_and_write_parquet(project, "metrics", "metrics", parquet)
    from_db, from_parquet = read_run(project / "sft"), read_run(parquet / "sft")
    assert from_parquet.format == "trackio_parquet"
    for metric in ("eval/accuracy", "train/loss", "eval/loss"):
        assert from_parquet.series(metric).dropna().to_dict() == \
            from_db.series(metric).dropna().to_dict()


def test_parquet_without_pyarrow_says_how_to_install(project, tmp_path, capsys, monkeypatch):
    pytest.importorskip("pyarrow")
    from trackio.sqlite_storage import SQLiteStorage

    parquet = tmp_path / "proj.parquet"
    SQLiteStorage._flatten_and_write_parquet(project, "metrics", "metrics", parquet)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    code, _, err = cli(capsys, "inspect", f"{parquet}/sft")
    assert code == 3 and "pip install pyarrow" in err and str(parquet) in err


def test_an_older_database_without_run_id(project, tmp_path):
    """Older Trackio: metrics(id, timestamp, run_name, step, metrics); same rows."""
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn, sqlite3.connect(project) as new:
        conn.execute("CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT "
                     "NOT NULL, run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT "
                     "NOT NULL)")
        rows = new.execute("SELECT timestamp, run_name, step, metrics FROM metrics "
                           "ORDER BY id").fetchall()
        conn.executemany("INSERT INTO metrics (timestamp, run_name, step, metrics) "
                         "VALUES (?, ?, ?, ?)", rows)
    assert read_run(old / "sft").series("eval/accuracy").dropna().to_dict() == \
        read_run(project / "sft").series("eval/accuracy").dropna().to_dict()


def test_a_bad_row_is_reported_by_id_and_the_rest_read(project, tmp_path):
    copy = tmp_path / "proj.db"
    shutil.copy(project, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                     "SELECT run_id, timestamp, run_name, 99, '{\"eval/acc' FROM metrics "
                     "WHERE run_name = 'sft' LIMIT 1")
        bad_id = conn.execute("SELECT max(id) FROM metrics").fetchone()[0]
    run = read_run(copy / "sft")
    assert any("table metrics" in w and f"id {bad_id}" in w for w in run.warnings)
    assert len(run.series("eval/accuracy").dropna()) == 4


def test_reading_does_not_wait_for_an_open_write_transaction(project, tmp_path):
    """WAL: a writer in the middle of a transaction does not block the reader, which sees
    the last committed rows."""
    copy = tmp_path / "proj.db"
    shutil.copy(project, copy)
    writer = sqlite3.connect(copy, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    before = len(read_run(copy / "rl").series("reward"))
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                   "VALUES ('x', 't', 'rl', 7, '{\"reward\": 3.5}')")
    started = time.monotonic()
    assert len(read_run(copy / "rl").series("reward")) == before
    assert time.monotonic() - started < 5
    writer.execute("COMMIT")
    assert read_run(copy / "rl").series("reward").to_dict()[7] == 3.5
    writer.close()


def test_not_a_trackio_database_is_exit_3(tmp_path, capsys):
    other = tmp_path / "x.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE metrics (a, b)")
    code, _, err = cli(capsys, "inspect", str(other))
    assert code == 3 and str(other) in err
    code, _, err = cli(capsys, "inspect", f"{other}/run")
    assert code == 3 and "Traceback" not in err
