"""Speed of `sweep`: the same runs serially, on 2 local worker processes, and on a 2-worker
Dask LocalCluster, measured in the same run.

Runs: `--runs` synthetic native run folders (default 1,000) of `--steps` logged steps (default
10,000): `train/loss` every step, held-out `eval/accuracy` every `--eval-every` steps (default
50: 200 evaluations), a disruption -> readaptation -> overfit curve whose dip depth grows with
the run's `expert_size`, four arms, seeds; run.json carries the config. Targets (DESIGN.md):
>= 1.8x with 2 workers, <= 60 s for 1,000 runs on 2 cores, memory flat in the number of runs.

Printed: wall time, runs/s and the ratio to serial for each engine; the driver's RSS after 10%,
50% and 100% of the runs (flat = the driver holds only rows) and the workers' peak RSS; the
per-task overhead of each engine, measured with a task that does nothing (round trip of one path
and one row-sized dict, alone and in the engines' chunks of runs) and derived from the real runs
(workers x parallel time - serial time, per run); the CPU time each engine spent per run, in its
workers and in the driver (for Dask the driver hosts the LocalCluster's scheduler), against the
serial run's; and the ceiling the cores allow at that moment (the same pure-Python loop in 1 and
in 2 processes at once: 2.00x on idle cores, less when other jobs share them). Cluster start-up
is timed apart. Timings on a shared machine are noisy.

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
    """Driver RSS at progress checkpoints, and the peak RSS of any one worker (sampled)."""

    def __init__(self, total: int):
        self.total, self.done, self.marks = total, 0, {}
        self.me = psutil.Process()
        self.worker_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while not self._stop.wait(0.2):
            try:
                for child in self.me.children(recursive=True):
                    self.worker_peak = max(self.worker_peak, child.memory_info().rss)
            except psutil.Error:
                pass

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-serial", action="store_true")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    options = SweepOptions()
    load_before = os.getloadavg()
    tables, rows_out, cpu = {}, [], {}
    ceiling = core_ceiling(args.workers)
    with tempfile.TemporaryDirectory(prefix="bench_sweep-") as tmp:
        t = time.perf_counter()
        paths = write_runs(Path(tmp), args.runs, args.steps, args.eval_every)
        # the kernel writes the new files back to disk for a while after they are written: let
        # it finish, or the first engine timed (serial) shares the cores with that writeback
        os.sync()
        print(f"wrote {args.runs} runs x {args.steps} steps (eval every {args.eval_every}) in "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
        engines = [("processes", partial(run_processes, paths, options, args.workers)),
                   ("dask", None)]
        if not args.skip_serial:
            engines.insert(0, ("serial", partial(run_serial, paths, options)))
        for name, engine in engines:
            if name == "dask":  # started only now: its idle processes stay out of the others
                t = time.perf_counter()
                cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)
                client = Client(cluster)
                cluster_start = time.perf_counter() - t
                engine = partial(run_dask, paths, options, client)
            with Memory(len(paths)) as mem:
                cpu0 = (_own_cpu(), _children_cpu())
                t = time.perf_counter()
                results = engine(mem.progress)
                wall = time.perf_counter() - t
                cpu[name] = (_own_cpu() - cpu0[0], _children_cpu() - cpu0[1])
            tables[name] = build_table([r["row"] for r in results])
            if name == "processes":
                sent = np.mean([len(pickle.dumps((p, options))) for p in paths])
                back = np.mean([len(pickle.dumps(r)) for r in results])
            rows_out.append((name, wall, mem))
            print(f"{name}: {wall:.1f} s", file=sys.stderr)
        overhead = task_overhead(min(2000, max(200, args.runs)), args.workers, client)
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
    print(f"\nsweep of {args.runs} runs x {args.steps} steps (eval every {args.eval_every}), "
          f"{args.workers} workers, {psutil.cpu_count()} CPUs; errors: {n_bad}; "
          f"load average before/after {load_before[0]:.1f}/{os.getloadavg()[0]:.1f} (other jobs); "
          f"tables identical across engines: {same}")
    print(f"{'engine':<10} {'wall s':>8} {'runs/s':>8} {'vs serial':>10} {'per 1k runs s':>14} "
          f"{'driver RSS MB 10%/50%/100%':>28} {'worker peak MB':>15} "
          f"{'CPU ms/run workers+driver':>26}")
    for name, wall, mem in rows_out:
        ratio = f"{serial / wall:.2f}x" if serial else "-"
        rss = "/".join(f"{mem.marks.get(f, 0) / 1e6:.0f}" for f in (0.1, 0.5, 1.0))
        driver, workers = (1e3 * c / args.runs for c in cpu[name])
        print(f"{name:<10} {wall:>8.1f} {args.runs / wall:>8.1f} {ratio:>10} "
              f"{wall * 1000 / args.runs:>14.1f} {rss:>28} {mem.worker_peak / 1e6:>15.0f} "
              f"{f'{workers:.1f} + {driver:.1f}':>26}")
    print("targets: >= 1.80x with 2 workers; <= 60 s per 1,000 runs on 2 cores")
    print(f"what the cores allowed (the same pure-Python loop in {args.workers} processes at once "
          f"vs 1): {ceiling:.2f}x")
    if serial:
        for name, wall, _ in rows_out[1:]:
            derived = (args.workers * wall - serial) / args.runs
            extra = (sum(cpu[name]) - sum(cpu["serial"])) / args.runs
            print(f"{name}: speedup {serial / wall:.2f}x (target 1.80x: "
                  f"{'met' if serial / wall >= 1.8 else 'missed'}); derived overhead "
                  f"{derived * 1e3:+.1f} ms per run (workers x wall - serial); CPU beyond the "
                  f"serial run's {extra * 1e3:+.1f} ms per run")
    print("overhead per run, do-nothing task: " + ", ".join(
        f"{k} {v * 1e3:.3f} ms" for k, v in overhead.items()))
    print(f"bytes per task (pickled): sent {sent:.0f} (path + options), returned {back:.0f} "
          "(the row)")
    print(f"Dask LocalCluster start-up (not in the times above): {cluster_start:.1f} s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
