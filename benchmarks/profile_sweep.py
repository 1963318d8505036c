"""Where a sweep's CPU time goes, engine by engine: the detail behind bench_sweep.py's table.

1. Per run, on the same runs: the CPU time of the thread that analyses them and of the rest of
   its process, when they run
   - serially in this process (as `sweep --workers 1` does; this process wrote the runs and
     imported dask, as bench_sweep's does),
   - serially in a fresh interpreter (imports and first calls left out, as above), and in one
     started with MALLOC_TRIM_THRESHOLD_=65536 (what Dask's nanny gives its workers),
   - in a worker of the process pool (2 workers, tasks of 8 runs),
   - in a worker of a 2-worker Dask LocalCluster with Dask's defaults, and as
     `engines.local_cluster` starts it (`engines.DASK_CONFIG`);
   with the analysing thread's system time and page faults, and for the serial sweep the CPU
   per run of its first and last fifths (a growing result
   list, garbage collection or memory growth would make the last one dearer). Conditions are
   run `--repeats` times in alternating order.
2. What a Dask worker's event loop and a LocalCluster's driver (scheduler, nannies, client)
   cost per second while no task runs, with the settings of `DASK_CONFIG` applied one by one.

CPU time (user + system), not wall time, so other jobs on the machine disturb it little.

Usage: python benchmarks/profile_sweep.py [--runs 200] [--steps 10000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_sweep import _thread_cpu, write_runs

from phasewatch.sweep import SweepOptions
from phasewatch.sweep.engines import (
    DASK_CONFIG,
    _chunks,
    _one_blas_thread,
    _pool_context,
    _summarize_chunk,
    run_serial,
)


def timed_chunk(paths: list[str], options: SweepOptions) -> tuple[float, ...]:
    """A task of the parallel engines, timed where it runs: (thread CPU, process CPU, thread
    system time, thread minor page faults)."""
    r, t, c = resource.getrusage(resource.RUSAGE_THREAD), time.thread_time(), time.process_time()
    _check(_summarize_chunk(paths, options))
    thread, process = time.thread_time() - t, time.process_time() - c
    r1 = resource.getrusage(resource.RUSAGE_THREAD)
    return thread, process, r1.ru_stime - r.ru_stime, r1.ru_minflt - r.ru_minflt


def _check(rows: list[dict]) -> None:
    """A run that failed would be timed doing less than the others: stop instead."""
    for r in rows:
        if r["row"]["error"]:
            raise RuntimeError(f"{r['row']['path']}: {r['row']['error']}")


def serial_here(paths: list[str]) -> dict[str, float]:
    """Per-run CPU of `run_serial` in this process, whole and by fifths."""
    options = SweepOptions()
    run_serial(paths[:2], options)  # imports and first calls
    marks: list[float] = []
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        if done[0] % max(1, len(paths) // 5) == 0:
            marks.append(time.thread_time())

    r, t, c = resource.getrusage(resource.RUSAGE_THREAD), time.thread_time(), time.process_time()
    _check(run_serial(paths, options, progress))
    r1 = resource.getrusage(resource.RUSAGE_THREAD)
    n = len(paths)
    fifth = n // 5
    return {"task": (time.thread_time() - t) / n, "other": (time.process_time() - c
                                                          - (time.thread_time() - t)) / n,
            "sys": (r1.ru_stime - r.ru_stime) / n, "faults": (r1.ru_minflt - r.ru_minflt) / n,
            "first fifth": (marks[0] - t) / fifth if marks else float("nan"),
            "last fifth": (marks[4] - marks[3]) / fifth if len(marks) >= 5 else float("nan")}


def serial_fresh(paths: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """`serial_here` in a new interpreter that did nothing else (with `env` added)."""
    code = ("import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/benchmarks'];"
            "from profile_sweep import serial_here; "
            "print(json.dumps(serial_here(json.load(sys.stdin))))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], input=json.dumps(paths),
                         capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout)


def _per_run(times: list[tuple[float, ...]], n: int) -> dict[str, float]:
    return {"task": sum(t[0] for t in times) / n, "other": sum(t[1] - t[0] for t in times) / n,
            "sys": sum(t[2] for t in times) / n, "faults": sum(t[3] for t in times) / n}


def pool(paths: list[str]) -> dict[str, float]:
    from concurrent.futures import ProcessPoolExecutor

    options = SweepOptions()
    pieces = _chunks(paths, 8)
    with _one_blas_thread(), ProcessPoolExecutor(2, mp_context=_pool_context()) as executor:
        list(executor.map(timed_chunk, [paths[:1], paths[1:2]], [options] * 2))
        times = list(executor.map(timed_chunk, pieces, [options] * len(pieces)))
    return _per_run(times, len(paths))


def dask(paths: list[str], tuned: bool) -> dict[str, float]:
    from distributed import Client, LocalCluster

    from phasewatch.sweep.engines import local_cluster

    options = SweepOptions()
    pieces = _chunks(paths, 8)
    cluster = (local_cluster(2) if tuned else
               LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None))
    me = psutil.Process()
    with cluster, Client(cluster) as client:
        client.gather(client.map(timed_chunk, [paths[:1], paths[1:2]], options=options,
                                 pure=False))
        before, driver = client.run(_thread_cpu), me.cpu_times()
        times = client.gather(client.map(timed_chunk, pieces, options=options, pure=False))
        after, driver_after = client.run(_thread_cpu), me.cpu_times()
    n = len(paths)
    out = _per_run(times, n)
    whole = sum(after[w][k] - before[w][k] for w in after for k in ("task", "other")) / n
    out["other"] = whole - out["task"]
    out["driver"] = (sum(driver_after[:2]) - sum(driver[:2])) / n
    return out


def idle_costs(seconds: float = 5.0) -> list[tuple[str, float, float]]:
    """CPU per second of a 2-worker LocalCluster doing nothing: a worker's threads (mean of
    the two) and the driver's, with the settings of `DASK_CONFIG` added one at a time."""
    import dask
    from distributed import Client, LocalCluster

    out = []
    config: dict[str, object] = {}
    steps = [("Dask's defaults", None)] + [(f"+ {k} = {v}", k) for k, v in DASK_CONFIG.items()]
    me = psutil.Process()
    for label, key in steps:
        if key is not None:
            config[key] = DASK_CONFIG[key]
        with dask.config.set(config):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        with cluster, Client(cluster) as client:
            time.sleep(1.0)
            before, driver = client.run(_thread_cpu), sum(me.cpu_times()[:2])
            time.sleep(seconds)
            after, driver_after = client.run(_thread_cpu), sum(me.cpu_times()[:2])
            worker = sum(after[w][k] - before[w][k] for w in after for k in after[w]) / 2
            out.append((label, worker / seconds, (driver_after - driver) / seconds))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import distributed  # noqa: F401 - imported in this process, as in bench_sweep's

    conditions = {
        "serial, this process": serial_here,
        "serial, fresh interpreter": serial_fresh,
        "serial, fresh, trim 64 kB": lambda p: serial_fresh(p, {"MALLOC_TRIM_THRESHOLD_": "65536"}),
        "process pool worker": pool,
        "Dask worker, Dask's defaults": lambda p: dask(p, tuned=False),
        "Dask worker, local_cluster": lambda p: dask(p, tuned=True),
    }
    results: dict[str, list[dict[str, float]]] = {k: [] for k in conditions}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="profile_sweep-") as tmp:
        paths = write_runs(Path(tmp), args.runs, args.steps, 50)
        os.sync()
        for rep in range(args.repeats):
            order = list(conditions) if rep % 2 == 0 else list(conditions)[::-1]
            for name in order:
                results[name].append(conditions[name](paths))
                print(f"{name}: done", file=sys.stderr)
    print(f"CPU ms per run, {args.runs} runs x {args.steps} steps, {args.repeats} repeats "
          f"(one value per repeat); load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print(f"{'where the runs are analysed':<30} {'analysing thread':>18} {'(system)':>10} "
          f"{'page faults':>12} {'rest of process':>16} {'total':>12}   extra")
    for name, reps in results.items():
        def col(key: str, reps=reps) -> str:
            return "/".join(f"{1e3 * r[key]:.1f}" for r in reps)
        total = "/".join(f"{1e3 * (r['task'] + r['other']):.1f}" for r in reps)
        extra = ""
        if "first fifth" in reps[0]:
            extra = f"first / last fifth of the runs: {col('first fifth')} / {col('last fifth')}"
        if "driver" in reps[0]:
            extra = f"driver (scheduler, nannies, client): {col('driver')}"
        faults = "/".join(f"{r['faults']:.0f}" for r in reps)
        print(f"{name:<30} {col('task'):>18} {col('sys'):>10} {faults:>12} {col('other'):>16} "
              f"{total:>12}   {extra}")
    print("(trim 64 kB: MALLOC_TRIM_THRESHOLD_=65536, which Dask's nanny gives its workers "
          "unless told otherwise; page faults: minor, per run, of the analysing thread)")
    print("\nidle 2-worker LocalCluster, CPU ms per second: one worker process / the driver")
    for label, worker, driver in idle_costs():
        print(f"  {label:<72} {1e3 * worker:6.1f} / {1e3 * driver:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
