"""MLflow's SQLite and file stores, written by the real mlflow client in a subprocess: a store
of several runs is its runs (deleted ones left out), a run is named by name, id or id prefix,
Trinity's explorer/trainer pair reads as one run, bad rows and damaged databases are reported,
and the store is opened read-only."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow_runs import ENV, cli

from phasewatch.errors import InputError
from phasewatch.io import read_run

pytest.importorskip("mlflow", reason="mlflow is not installed (it is in the dev extra)")


def test_several_runs_are_listed_deleted_ones_left_out(store, capsys):
    """A store of several runs is its runs, by name (Trinity's explorer/trainer pair as one
    run `job`); reading one run of it still asks which (the error lists them)."""
    db, ids = store
    code, out, _ = cli(capsys, "inspect", str(db), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "folder of runs" and doc["failed"] == []
    assert [r["source"] for r in doc["runs"]] == [f"{db}/sft", f"{db}/rl", f"{db}/job"]
    assert [r["format"] for r in doc["runs"]] == ["mlflow_sqlite", "mlflow_sqlite",
                                                  "trinity_mlflow"]
    code, out, _ = cli(capsys, "inspect", str(db))
    assert code == 0 and f"{db}  [store of 3 runs]" in out and "gone" not in out
    with pytest.raises(InputError, match="holds 4 runs") as caught:
        read_run(db)
    assert ids["sft"] in str(caught.value) and f"{db}/RUN" in str(caught.value)


def test_analyze_plot_and_sweep_take_each_run_of_a_store(store, tmp_path, capsys):
    """One block per run; `rl` (one point) is reported on stderr naming it and the others
    still run: exit 4. A same-named run gets its id (names must pick one run)."""
    db, ids = store
    code, out, err = cli(capsys, "analyze", str(db), "--metric", "eval/accuracy")
    assert code == 4
    assert f"{db}/sft  metric eval/accuracy" in out
    assert f"{db}/job  metric eval/gsm8k/accuracy/mean_at_4" in out  # the explorer's held-out
    assert f"{db}/rl" in err and "Traceback" not in err
    code, _, err = cli(capsys, "plot", str(db), "--metric", "eval/accuracy",
                       "-o", str(tmp_path / "store.png"))
    assert code == 4 and (tmp_path / "store.png").stat().st_size > 0 and f"{db}/rl" in err
    code, _, _ = cli(capsys, "sweep", str(db), "--metric", "eval/accuracy", "--workers", "1",
                     "-o", str(tmp_path / "sweep.csv"))
    rows = (tmp_path / "sweep.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [f"{db}/sft", f"{db}/rl", f"{db}/job"]
    twin = tmp_path / "twin.db"
    shutil.copy(db, twin)
    with sqlite3.connect(twin) as conn:
        conn.execute("UPDATE runs SET name = 'sft' WHERE run_uuid = ?", (ids["rl"],))
    from phasewatch.each_run import expand

    assert expand([str(twin)]) == [f"{twin}/{ids['sft']}", f"{twin}/{ids['rl']}",
                                   f"{twin}/job"]
    assert read_run(f"{twin}/{ids['rl']}").metrics == ["eval/mean_at_4"]


FILE_STORE_WRITER = textwrap.dedent(
    """
    import sys, mlflow
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri(sys.argv[1])
    for experiment in ("grpo", "sft"):
        mlflow.set_experiment(experiment)
        for seed in range(2):
            with mlflow.start_run(run_name=f"{experiment}-{seed}") as run:
                for step in range(5):
                    mlflow.log_metric("eval/accuracy", step / 10 + seed, step=step)
    MlflowClient().delete_run(run.info.run_id)
    """
)


def test_a_file_store_of_several_experiments_is_each_run(tmp_path, capsys):
    """`mlruns/` written by the client (file store, allowed by MLFLOW_ALLOW_FILE_STORE):
    each active run of each experiment, the deleted one left out but readable when named."""
    store = tmp_path / "mlruns"
    subprocess.run([sys.executable, "-c", FILE_STORE_WRITER, store.as_uri()], check=True,
                   env={**ENV, "MLFLOW_ALLOW_FILE_STORE": "true"}, capture_output=True,
                   timeout=300)
    code, out, _ = cli(capsys, "inspect", str(store), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and len(doc["runs"]) == 3
    names = sorted(read_run(r["source"]).name for r in doc["runs"])
    assert names == ["grpo-0", "grpo-1", "sft-0"]
    deleted = [p.parent for p in store.glob("*/*/meta.yaml") if "deleted" in p.read_text()]
    assert len(deleted) == 1 and read_run(deleted[0]).name == "sft-1"
    code, out, _ = cli(capsys, "analyze", str(store), "--metric", "eval/accuracy",
                       "--format", "json")
    assert code == 0 and len(json.loads(out)["runs"]) == 3


def test_a_run_by_name_id_and_id_prefix(store):
    db, ids = store
    for member in ("sft", ids["sft"], ids["sft"][:8]):
        run = read_run(db / member)
        assert run.format == "mlflow_sqlite" and run.name == "sft"
        assert run.config == {"lr": "0.001", "epochs": "3"}
        accuracy = run.series("eval/accuracy").to_dict()
        # re-logged at 3 after 5: it wins, and 4-5 are the abandoned branch's (a resume),
        # of every metric logged before it (the train loss's 3-5 too)
        assert accuracy == {0: 0.0, 1: 0.1, 2: 0.2, 3: 0.9}
    table = run.table[run.table["metric"] == "train/loss"].set_index("step")["value"]
    assert table.index.tolist() == [0, 1, 2, 6, 7]
    assert math.isnan(table[6]) and table[7] == math.inf  # is_nan=1 and MLflow's DBL_MAX


def test_trinity_explorer_and_trainer_runs_read_as_one(store, tmp_path):
    db, ids = store
    run = read_run(db / "job")
    assert run.format == "trinity_mlflow" and run.name == "job"
    assert run.aliases["eval/accuracy"] == "eval/gsm8k/accuracy/mean_at_4"
    assert run.aliases["train/mu"] == "actor/mu" and len(run.series("actor/mu")) == 10
    assert not run.events  # the trainer's steps lag: a counter per role, no resume
    assert read_run(db / "job_trainer").format == "mlflow_sqlite"  # one run alone
    only_pair = tmp_path / "mlflow.db"  # a store holding only the pair: read as one run
    shutil.copy(db, only_pair)
    with sqlite3.connect(only_pair) as conn:
        conn.execute("UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_uuid IN (?, ?)",
                     (ids["sft"], ids["rl"]))
    assert read_run(only_pair).format == "trinity_mlflow"


def test_tracking_uri_names_the_run(store, capsys):
    db, _ = store
    code, out, _ = cli(capsys, "inspect", "--tracking-uri", f"sqlite:///{db}", "rl",
                       "--format", "json")
    assert code == 0 and "eval/mean_at_4" in json.loads(out)["metrics"]
    code, _, err = cli(capsys, "inspect", "--tracking-uri", f"sqlite:///{db}", "nope")
    assert code == 3 and "no run 'nope'" in err and "sft" in err


def test_a_bad_row_is_reported_by_rowid_and_the_rest_read(store, tmp_path):
    db, ids = store
    copy = tmp_path / "mlflow.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                     "VALUES ('eval/accuracy', 'oops', 99999999999999, ?, 9, 0)", (ids["sft"],))
        rowid = conn.execute("SELECT max(rowid) FROM metrics").fetchone()[0]
    run = read_run(copy / "sft")
    assert 9 not in run.series("eval/accuracy").index and len(run.series("eval/accuracy")) == 4
    assert any("table metrics" in w and f"rowid {rowid}" in w for w in run.warnings)


def test_damaged_and_foreign_databases_are_exit_3(store, tmp_path, capsys):
    db, _ = store
    cut = tmp_path / "cut.db"
    cut.write_bytes(db.read_bytes()[:2000])
    code, _, err = cli(capsys, "inspect", str(cut))
    assert code == 3 and str(cut) in err
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (a)")
    code, _, err = cli(capsys, "inspect", str(other))
    assert code == 3 and str(other) in err and "Traceback" not in err


def test_the_store_is_opened_read_only(store):
    """Reading leaves the file as it was (no journal, no write)."""
    db, _ = store
    before = (db.stat().st_mtime_ns, db.read_bytes())
    read_run(db / "sft")
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before
    assert not Path(f"{db}-journal").exists()
