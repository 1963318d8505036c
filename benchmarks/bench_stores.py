"""Reading tracker stores: phasewatch's sqlite3 readers against the trackers' own clients.

Builds, in a temporary folder, an MLflow `mlflow.db` and a Trackio `<project>.db`: the schema,
the run and the first rows are written by the real mlflow / trackio packages, then the store
is grown to `--steps` steps x `--metrics` metrics with rows in exactly the shape those clients
insert (logging a million points through the clients would take most of an hour). Prints, best
of `--repeat`:
- MLflow: `read_run(mlflow.db)` vs `MlflowClient.get_metric_history` for every metric (what
  a script using MLflow's API does to get the same series), both into memory;
- Trackio: `read_run(project.db)` vs `trackio.sqlite_storage.SQLiteStorage.get_logs`;
and checks that each pair holds the same number of values.

    python benchmarks/bench_stores.py [--steps N] [--metrics K] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MLFLOW_SEED = textwrap.dedent(
    """
    import sys, mlflow
    mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
    with mlflow.start_run(run_name="bench") as run:
        mlflow.log_metrics({f"m{k}": 0.0 for k in range(int(sys.argv[2]))}, step=0)
    print(run.info.run_id)
    """
)
TRACKIO_SEED = textwrap.dedent(
    """
    import sys, trackio
    trackio.init(project="bench", name="bench")
    trackio.log({f"m{k}": 0.0 for k in range(int(sys.argv[1]))} | {"train/global_step": 0})
    trackio.finish()
    """
)


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def build_mlflow(folder: Path, steps: int, metrics: int) -> tuple[Path, str]:
    import sqlite3

    db = folder / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "GIT_PYTHON_REFRESH": "quiet"}
    run_id = subprocess.run([sys.executable, "-c", MLFLOW_SEED, str(db), str(metrics)], env=env,
                            check=True, capture_output=True, text=True).stdout.split()[-1]
    with sqlite3.connect(db) as conn:
        start = conn.execute("SELECT max(timestamp) FROM metrics").fetchone()[0]
        conn.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, 0)",
            ((f"m{k}", (step * 7 + k) % 1000 / 1000, start + step, run_id, step)
             for step in range(1, steps) for k in range(metrics)))
    return db, run_id


def build_trackio(folder: Path, steps: int, metrics: int) -> Path:
    import sqlite3

    env = {**os.environ, "TRACKIO_DIR": str(folder), "HF_HOME": str(folder / "hf"),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    subprocess.run([sys.executable, "-c", TRACKIO_SEED, str(metrics)], env=env, check=True,
                   capture_output=True)
    db = folder / "bench.db"
    with sqlite3.connect(db) as conn:
        run_id, stamp = conn.execute("SELECT run_id, timestamp FROM metrics").fetchone()
        conn.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
            "VALUES (?, ?, 'bench', ?, ?)",
            ((run_id, stamp, step, json.dumps({**{f"m{k}": (step * 7 + k) % 1000 / 1000
                                                  for k in range(metrics)},
                                               "train/global_step": step * 10}))
             for step in range(1, steps)))
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from phasewatch.io import read_run

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db, run_id = build_mlflow(folder, args.steps, args.metrics)
        os.environ["MLFLOW_TRACKING_URI"] = ""
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{db}")

        def mlflow_history():
            return sum(len(client.get_metric_history(run_id, f"m{k}"))
                       for k in range(args.metrics))

        ours, run = best(lambda: read_run(db), args.repeat)
        theirs, count = best(mlflow_history, args.repeat)
        rows.append(("MLflow mlflow.db", len(run.table), ours, count, theirs))

        os.environ.update(TRACKIO_DIR=str(folder), HF_HUB_OFFLINE="1")
        tdb = build_trackio(folder, args.steps, args.metrics)
        from trackio.sqlite_storage import SQLiteStorage

        def trackio_logs():
            return sum(sum(1 for k in row if k.startswith("m"))
                       for row in SQLiteStorage.get_logs("bench", "bench"))

        ours, run = best(lambda: read_run(tdb), args.repeat)
        theirs, count = best(trackio_logs, args.repeat)
        rows.append(("Trackio project.db", len(run.table), ours, count, theirs))

    points = args.steps * args.metrics
    print(f"{args.steps} steps x {args.metrics} metrics = {points} points, best of "
          f"{args.repeat}")
    print(f"{'store':<20} {'phasewatch':>11} {'values':>8} {'own client':>11} {'values':>8} "
          f"{'ratio':>6}")
    for name, n_ours, t_ours, n_theirs, t_theirs in rows:
        print(f"{name:<20} {t_ours:>10.2f}s {n_ours:>8} {t_theirs:>10.2f}s {n_theirs:>8} "
              f"{t_theirs / t_ours:>5.1f}x")
        if n_ours != n_theirs:
            print(f"  MISMATCH: {n_ours} values read by phasewatch, {n_theirs} by the client")


if __name__ == "__main__":
    main()
