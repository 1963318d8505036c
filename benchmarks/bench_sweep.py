"""Speed of `sweep`: the same runs serially, on 2 local worker processes, and on a 2-worker
Dask LocalCluster (as `phasewatch.sweep.engines.local_cluster` starts it, and with Dask's
default settings), measured in the same run.

Runs: `--runs` synthetic native run folders (default 1,000) of `--steps` logged steps (default
10,000): `train/loss` every step, held-out `eval/accuracy` every `--eval-every` steps (default
50: 200 evaluations), a disruption -> readaptation -> overfit curve whose dip depth grows with
the run's `expert_size`, four arms, seeds; run.json carries the config. Targets (DESIGN.md):
>= 1.8x with 2 workers, <= 60 s for 1,000 runs on 2 cores, memory flat in the number of runs.

Printed: wall time, runs/s and the ratio to serial for each engine; the driver's RSS after 10%,
50% and 100% of the runs (flat = the driver holds only rows) and the workers' peak RSS; the CPU
time (user + system) each engine spent per run: in its workers, split for Dask into the thread
that runs the tasks and the rest (event loop: heartbeats, profiler, health checks, monitors,
messages), and in the driver (for Dask it hosts the LocalCluster's scheduler and nannies; the
benchmark's own RSS sampler is left out, and does not run during the serial sweep); the
per-task overhead of each engine, measured with a task that does nothing (round trip of one path
and one row-sized dict, alone and in the engines' chunks of runs); and the ceiling the cores
allow at that moment (the same pure-Python loop in 1 and in 2 processes at once: 2.00x on idle
cores, less when other jobs share them). Cluster start-up is timed apart. Wall times on a shared
machine are noisy; the CPU times per run much less so.

Usage: python benchmarks/bench_sweep.py [--runs 1000] [--steps 10000] [--eval-every 50]
                                        [--skip-serial] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import resource
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phasewatch.sweep import SweepOptions, build_table
from phasewatch.sweep.engines import run_dask, run_processes, run_serial

ARMS = ("sft", "sft_then_rl", "chord_mu", "chord_phi")
SIZES = (256, 512, 1024, 2048)


def write_runs(root: Path, n: int, steps: int, eval_every: int) -> list[str]:
    """`n` native run folders; the curve's dip deepens with expert_size, the arms differ."""
    paths = []
    rng = np.random.default_rng(0)
    step = np.arange(steps)
    t = step / steps
    for i in range(n):
        arm, size, seed = ARMS[i % 4], SIZES[(i // 4) % 4], i // 16
        depth = 0.05 + 0.06 * math.log2(size / 256) * (0.4 if arm.startswith("chord") else 1.0)
        acc = (0.5 - depth * np.exp(-0.5 * ((t - 0.08) / 0.03) ** 2)
               + 0.25 / (1 + np.exp(-(t - 0.3) / 0.05)) - 0.12 * np.clip(t - 0.6, 0, None))
        acc = acc + rng.normal(0, 0.012, steps)
        loss = 2.0 * np.exp(-3 * t) + 0.3 + rng.normal(0, 0.05, steps)
        folder = root / f"{arm}_e{size}_s{seed}_{i:04d}"
        folder.mkdir()
        lines = []
        for s, lv, av in zip(step.tolist(), loss.tolist(), acc.tolist()):
            if s % eval_every == 0:
                lines.append(f'{{"step": {s}, "train/loss": {lv:.5f}, "eval/accuracy": {av:.4f}}}')
            else:
                lines.append(f'{{"step": {s}, "train/loss": {lv:.5f}}}')
        (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        meta = {"schema_version": 1, "name": folder.name, "algorithm": arm,
                "performance_metric": "eval/accuracy", "direction": "max", "events": [],
                "config": {"expert_size": size, "seed": seed, "lr": 1e-3, "steps": steps}}
        (folder / "run.json").write_text(json.dumps(meta))
        paths.append(str(folder))
    return paths


class Memory:
    """Driver RSS at progress checkpoints, and the peak RSS of any one worker (sampled by a
    thread of the driver every 0.2 s when `workers`; its own CPU time is kept apart)."""

    def __init__(self, total: int, workers: bool = True):
        self.total, self.done, self.marks = total, 0, {}
        self.me = psutil.Process()
        self.worker_peak = 0
        self.sampler_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True) if workers else None

    def __enter__(self):
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _sample(self):
        start = time.thread_time()
        while not self._stop.wait(0.2):
            try:
                for child in self.me.children(recursive=True):
                    self.worker_peak = max(self.worker_peak, child.memory_info().rss)
            except psutil.Error:
                pass
        self.sampler_cpu = time.thread_time() - start

    def progress(self, k: int) -> None:
        before, self.done = self.done, self.done + k
        for frac in (0.1, 0.5, 1.0):
            if before < frac * self.total <= self.done:
                self.marks[frac] = self.me.memory_info().rss


def _children_cpu() -> float:
    """CPU seconds (user + system) of the live child processes and of those already reaped."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def _thread_cpu() -> dict[str, float]:
    """In a Dask worker: CPU seconds of the thread(s) running the tasks and of all the others
    (the event loop, the profiler's and monitors' callbacks, communication)."""
    import threading

    import psutil

    names = {t.native_id: t.name for t in threading.enumerate()}
    out = {"task": 0.0, "other": 0.0}
    for t in psutil.Process().threads():
        kind = "task" if "Dask-Default-Threads" in names.get(t.id, "") else "other"
        out[kind] += t.user_time + t.system_time
    return out


def _cluster_threads(client) -> dict[str, float]:
    per_worker = client.run(_thread_cpu)
    return {k: sum(w[k] for w in per_worker.values()) for k in ("task", "other")}


def _spin(n: int = 3_000_000) -> int:
    x = 0
    for k in range(n):
        x += k & 7
    return x


def core_ceiling(workers: int) -> float:
    """How much faster `workers` processes finish `workers` equal pure-Python loops than one
    process finishes one: what the cores can give a CPU-bound sweep right now."""
    from concurrent.futures import ProcessPoolExecutor

    from phasewatch.sweep.engines import _pool_context

    with ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
        list(pool.map(_spin, [1000] * workers))  # started
        t = time.perf_counter()
        list(pool.map(_spin, [3_000_000] * workers))
        together = time.perf_counter() - t
        t = time.perf_counter()
        pool.submit(_spin, 3_000_000).result()
        alone = time.perf_counter() - t
    return workers * alone / together


def _noop(path: str) -> dict:
    return {"row": {"path": path, "error": None, **{f"c{k}": 0.5 for k in range(40)}}}


def _noop_chunk(paths):
    return [_noop(p) for p in paths]


def task_overhead(n: int, workers: int, client) -> dict[str, float]:
    """Seconds per run of a do-nothing task, per engine (serial = a function call), in the
    chunks each engine sends, and for Dask also one run per task."""
    from concurrent.futures import ProcessPoolExecutor

    from phasewatch.sweep.engines import _pool_context, chunk_size, dask_slots

    paths = [f"/runs/{i:05d}" for i in range(n)]
    out = {}
    t = time.perf_counter()
    [_noop(p) for p in paths]
    out["serial"] = (time.perf_counter() - t) / n
    chunk = chunk_size(n, workers)
    with ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
        list(pool.map(_noop, paths[:workers * 4]))  # workers started
        t = time.perf_counter()
        list(pool.map(_noop_chunk, [paths[i:i + chunk] for i in range(0, n, chunk)]))
        out[f"processes, {chunk} runs per task"] = (time.perf_counter() - t) / n
    t = time.perf_counter()
    futures = client.map(_noop, paths, pure=False)
    client.gather(futures)
    out["dask, 1 run per task"] = (time.perf_counter() - t) / n
    del futures
    size = chunk_size(n, dask_slots(client))
    t = time.perf_counter()
    futures = client.map(_noop_chunk, [paths[i:i + size] for i in range(0, n, size)], pure=False)
    client.gather(futures)
    out[f"dask, {size} runs per task"] = (time.perf_counter() - t) / n
    del futures
    return out


def dask_engines(workers: int) -> dict[str, object]:
    """The two Dask clusters compared: as `local_cluster` starts it (the settings in
    `engines.DASK_CONFIG`), and a LocalCluster with Dask's defaults (one thread per worker
    too, as docs/sweeps.md tells)."""
    from distributed import LocalCluster

    from phasewatch.sweep.engines import local_cluster

    return {"dask": partial(local_cluster, workers),
            "dask (defaults)": partial(LocalCluster, n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-serial", action="store_true")
    args = parser.parse_args()

    from distributed import Client

    options = SweepOptions()
    load_before = os.getloadavg()
    tables, rows_out, cpu, split, starts = {}, [], {}, {}, {}
    ceiling = core_ceiling(args.workers)
    clusters = dask_engines(args.workers)
    with tempfile.TemporaryDirectory(prefix="bench_sweep-") as tmp:
        t = time.perf_counter()
        paths = write_runs(Path(tmp), args.runs, args.steps, args.eval_every)
        # the kernel writes the new files back to disk for a while after they are written: let
        # it finish, or the first engine timed (serial) shares the cores with that writeback
        os.sync()
        print(f"wrote {args.runs} runs x {args.steps} steps (eval every {args.eval_every}) in "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
        names = ["processes", "dask (defaults)", "dask"]
        if not args.skip_serial:
            names.insert(0, "serial")
        for name in names:
            cluster = client = None
            if name == "serial":
                engine = partial(run_serial, paths, options)
            elif name == "processes":
                engine = partial(run_processes, paths, options, args.workers)
            else:  # started only now: their idle processes stay out of the other timings
                t = time.perf_counter()
                cluster = clusters[name]()
                client = Client(cluster)
                starts[name] = time.perf_counter() - t
                engine = partial(run_dask, paths, options, client)
                threads0 = _cluster_threads(client)
            with Memory(len(paths), workers=name != "serial") as mem:
                cpu0 = (_own_cpu(), _children_cpu())
                t = time.perf_counter()
                results = engine(mem.progress)
                wall = time.perf_counter() - t
                cpu1 = (_own_cpu(), _children_cpu())
            cpu[name] = (cpu1[0] - cpu0[0] - mem.sampler_cpu, cpu1[1] - cpu0[1])
            if client is not None:
                threads1 = _cluster_threads(client)
                split[name] = {k: threads1[k] - threads0[k] for k in threads1}
            tables[name] = build_table([r["row"] for r in results])
            if name == "processes":
                sent = np.mean([len(pickle.dumps((p, options))) for p in paths])
                back = np.mean([len(pickle.dumps(r)) for r in results])
            rows_out.append((name, wall, mem))
            print(f"{name}: {wall:.1f} s", file=sys.stderr)
            if name == "dask":
                overhead = task_overhead(min(2000, max(200, args.runs)), args.workers, client)
            if client is not None:
                client.close()
                cluster.close()

    names = list(tables)
    same = all(tables[n].equals(tables[names[0]]) for n in names[1:])
    bad = {n: int(t["error"].notna().sum()) for n, t in tables.items()}
    n_bad = ", ".join(f"{n} {k}" for n, k in bad.items())
    for n, t in tables.items():
        if bad[n]:
            print(f"{n}: first error: {t['error'].dropna().iloc[0]}", file=sys.stderr)
    serial = {n: w for n, w, _ in rows_out}.get("serial")
    per_run = {n: tuple(1e3 * c / args.runs for c in cpu[n]) for n in cpu}  # driver, workers
    print(f"\nsweep of {args.runs} runs x {args.steps} steps (eval every {args.eval_every}), "
          f"{args.workers} workers, {psutil.cpu_count()} CPUs; errors: {n_bad}; "
          f"load average before/after {load_before[0]:.1f}/{os.getloadavg()[0]:.1f} (other jobs); "
          f"tables identical across engines: {same}")
    print(f"{'engine':<16} {'wall s':>7} {'runs/s':>7} {'vs serial':>9} "
          f"{'driver RSS MB 10%/50%/100%':>26} {'worker peak MB':>14}   "
          "CPU ms per run: workers [task thread + other threads] + driver = total")
    for name, wall, mem in rows_out:
        ratio = f"{serial / wall:.2f}x" if serial else "-"
        rss = "/".join(f"{mem.marks.get(f, 0) / 1e6:.0f}" for f in (0.1, 0.5, 1.0))
        driver, workers = per_run[name]
        parts = ""
        if name in split:
            task, other = (1e3 * split[name][k] / args.runs for k in ("task", "other"))
            parts = f" [{task:.1f} + {other:.1f}]"
        print(f"{name:<16} {wall:>7.1f} {args.runs / wall:>7.1f} {ratio:>9} {rss:>26} "
              f"{mem.worker_peak / 1e6:>14.0f}   {workers:.1f}{parts} + {driver:.1f} = "
              f"{workers + driver:.1f}")
    print("targets: >= 1.80x with 2 workers; <= 60 s per 1,000 runs on 2 cores")
    print(f"what the cores allowed (the same pure-Python loop in {args.workers} processes at once "
          f"vs 1): {ceiling:.2f}x")
    base = per_run["processes"]
    for name, wall, _ in rows_out:
        if name == "serial":
            continue
        line = f"{name}: "
        if serial:
            line += (f"speedup {serial / wall:.2f}x (target 1.80x: "
                     f"{'met' if serial / wall >= 1.8 else 'missed'}); ")
        if name == "processes" and serial:
            line += (f"CPU beyond the serial run's {sum(base) - sum(per_run['serial']):+.1f} ms "
                     "per run")
        elif name != "processes":
            line += (f"CPU beyond the process pool's {sum(per_run[name]) - sum(base):+.1f} ms "
                     f"per run (workers {per_run[name][1] - base[1]:+.1f}, driver "
                     f"{per_run[name][0] - base[0]:+.1f})")
        print(line.rstrip("; "))
    print("overhead per run, do-nothing task: " + ", ".join(
        f"{k} {v * 1e3:.3f} ms" for k, v in overhead.items()))
    print(f"bytes per task (pickled): sent {sent:.0f} (path + options), returned {back:.0f} "
          "(the row)")
    print("Dask LocalCluster start-up (not in the times above): " + ", ".join(
        f"{k} {v:.1f} s" for k, v in starts.items()))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
