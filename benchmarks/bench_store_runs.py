"""Stores of many runs: what expanding an `mlflow.db` / Trackio project into its runs costs.

Builds, in a temporary folder, an MLflow `mlflow.db` and a Trackio `<project>.db` with
`--runs` runs of `--steps` steps each (schema, first run and first rows written by the real
mlflow / trackio packages, the other runs inserted in exactly the shape those clients write:
logging them through the clients would take minutes). Prints, best of `--repeat`:
- `each_run.expand([store])`: listing the runs (what inspect/analyze/plot/sweep do first);
- `phasewatch inspect STORE --format json` in-process: every run read and summarised;
- `phasewatch analyze STORE --metric eval/accuracy --format json`: every run analysed;
and checks that each lists `--runs` runs.

    python benchmarks/bench_store_runs.py [--runs N] [--steps S] [--repeat R]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MLFLOW_SEED = textwrap.dedent(
    """
    import sys, mlflow
    mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
    with mlflow.start_run(run_name="run-0") as run:
        mlflow.log_metric("eval/accuracy", 0.5, step=0)
    """
)
TRACKIO_SEED = textwrap.dedent(
    """
    import trackio
    trackio.init(project="bench", name="run-0")
    trackio.log({"eval/accuracy": 0.5, "train/global_step": 0})
    trackio.finish()
    """
)


def accuracy(run: int, step: int, steps: int) -> float:
    """A dip, a recovery and a slow decline, a little different per run."""
    x = step / steps
    return 0.5 - 0.3 * math.exp(-x * 12) * (x < 0.3) + 0.3 * min(x, 0.5) - 0.2 * max(0, x - 0.5) \
        + 0.01 * ((step * 7 + run) % 5) / 5


def build_mlflow(folder: Path, runs: int, steps: int) -> Path:
    db = folder / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "GIT_PYTHON_REFRESH": "quiet"}
    subprocess.run([sys.executable, "-c", MLFLOW_SEED, str(db)], env=env, check=True,
                   capture_output=True)
    with sqlite3.connect(db) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
        seed = dict(zip(columns, conn.execute("SELECT * FROM runs").fetchone()))
        start = conn.execute("SELECT max(timestamp) FROM metrics").fetchone()[0]
        conn.execute("DELETE FROM metrics")
        conn.execute("DELETE FROM runs")
        for run in range(runs):
            row = dict(seed, run_uuid=uuid.uuid4().hex, name=f"run-{run}")
            conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES "
                         f"({', '.join('?' * len(row))})", list(row.values()))
            conn.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES ('eval/accuracy', ?, ?, ?, ?, 0)",
                ((accuracy(run, s, steps), start + s, row["run_uuid"], s * 10)
                 for s in range(steps)))
    return db


def build_trackio(folder: Path, runs: int, steps: int) -> Path:
    env = {**os.environ, "TRACKIO_DIR": str(folder), "HF_HOME": str(folder / "hf"),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    subprocess.run([sys.executable, "-c", TRACKIO_SEED], env=env, check=True,
                   capture_output=True)
    db = folder / "bench.db"
    with sqlite3.connect(db) as conn:
        stamp = conn.execute("SELECT timestamp FROM metrics").fetchone()[0]
        conn.execute("DELETE FROM metrics")
        for run in range(runs):
            conn.executemany(
                "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                "VALUES (?, ?, ?, ?, ?)",
                ((f"id-{run}", stamp, f"run-{run}", s,
                  json.dumps({"eval/accuracy": accuracy(run, s, steps),
                              "train/global_step": s * 10})) for s in range(steps)))
    return db


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def command(*args: str) -> dict:
    from phasewatch.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(args))
    if code != 0:
        raise SystemExit(f"phasewatch {' '.join(args)} exited {code}")
    return json.loads(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from phasewatch.each_run import expand

    print(f"{args.runs} runs x {args.steps} evaluations per store; best of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'store':<10} {'expand':>9} {'inspect all':>12} {'per run':>9} "
          f"{'analyze all':>12} {'per run':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in (("mlflow.db", build_mlflow), ("trackio", build_trackio)):
            folder = Path(tmp) / name.split(".")[0]
            folder.mkdir()
            store = str(build(folder, args.runs, args.steps))
            t_expand, runs = best(lambda s=store: expand([s]), args.repeat)
            t_inspect, doc = best(lambda s=store: command("inspect", s, "--format", "json"),
                                  args.repeat)
            t_analyze, result = best(lambda s=store: command(
                "analyze", s, "--metric", "eval/accuracy", "--format", "json"), args.repeat)
            assert len(runs) == len(doc["runs"]) == len(result["runs"]) == args.runs, \
                (len(runs), len(doc["runs"]), len(result["runs"]))
            print(f"{name:<10} {t_expand * 1000:>7.0f} ms {t_inspect:>10.2f} s "
                  f"{t_inspect / args.runs * 1000:>6.1f} ms {t_analyze:>10.2f} s "
                  f"{t_analyze / args.runs * 1000:>6.1f} ms")


if __name__ == "__main__":
    main()
