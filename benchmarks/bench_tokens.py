"""Throughput and peak memory of the token-store summary pass (`phasewatch tokens`).

Builds a multi-GB float16 store in a temporary folder (deleted afterwards), reads it once to warm
the page cache, then times in separate child processes (so each peak RSS is its own):
- phasewatch: `summarize_store` (all steps, both splits, quantiles, shares, phi, entropy,
  learned-at): windows read with pread and counted by np.bincount, in one thread per
  core (each owning a lane of windows), or in process with workers=1;
- naive baseline: per step `np.load` the whole file, `.astype(np.float64)`, then per split
  `np.quantile` of p, mean log p, shares and phi with plain numpy (on a subset of steps; its
  throughput is per byte, so the subset does not flatter it).
Usage: python benchmarks/bench_tokens.py [--gb 2.0] [--tokens-per-step 8000000]
The machine is shared (2 cores, other jobs running): rerun for noise; numbers vary ~10-20%.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_store(folder: Path, tokens_per_step: int, n_steps: int, seed: int = 0,
                interleaved: bool = False) -> None:
    """Sequences of 200-1800 tokens; train first, then held-out (or interleaved)."""
    from phasewatch.tokens import TokenStoreWriter

    rng = np.random.default_rng(seed)
    lengths = rng.integers(200, 1800, size=tokens_per_step // 1000 + 10)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), tokens_per_step)]
    lengths = np.append(lengths, tokens_per_step - lengths.sum())
    lengths = lengths[lengths > 0]
    n_train = int(0.8 * lengths.size)
    split = ["train" if i < n_train else "heldout" for i in range(lengths.size)]
    if interleaved:  # every 5th sequence held out: many split pieces per window
        split = ["heldout" if i % 5 == 0 else "train" for i in range(lengths.size)]
    seqs = [{"id": f"ex{i}", "split": s, "length": int(n)} for i, (s, n) in enumerate(zip(split, lengths))]
    base = -rng.exponential(3.0, tokens_per_step).astype(np.float32)
    rate = rng.uniform(0.5, 2.0, tokens_per_step).astype(np.float32)
    with TokenStoreWriter(folder / "expert_logprobs", seqs, dtype="float16") as writer:
        for i in range(n_steps):
            writer.append(i * 10, base * np.exp(-rate * i / n_steps * 3))


def store_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in (folder / "expert_logprobs").glob("step_*.npy"))


def child_phasewatch(folder: str, workers: int | None) -> dict:
    from phasewatch.tokens import SummaryConfig, open_store, summarize_store

    t0, cpu0 = time.perf_counter(), cpu_seconds()
    store = open_store(folder)
    summary = summarize_store(store, SummaryConfig(workers=workers))
    elapsed = time.perf_counter() - t0
    n_bytes = sum(f.path.stat().st_size for f in store.files)
    return {"seconds": elapsed, "cpu_seconds": cpu_seconds() - cpu0, "bytes": n_bytes,
            "steps": len(summary.steps), "p50_first": summary.rows["train"][0].p_quantiles["p50"]}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (none: the pass uses threads)."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def child_naive(folder: str, max_steps: int) -> dict:
    """The obvious way: load each step whole as float64 and call numpy per split."""
    store = Path(folder) / "expert_logprobs"
    index = json.loads((store / "index.json").read_text())
    masks = {}
    for split in ("train", "heldout"):
        m = np.zeros(index["n_tokens"], bool)
        for s in index["sequences"]:
            if s["split"] == split:
                m[s["offset"] : s["offset"] + s["length"]] = True
        masks[split] = m
    files = sorted(store.glob("step_*.npy"))[:max_steps]
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    n_bytes = 0
    p50 = None
    for path in files:
        logp = np.load(path, allow_pickle=False).astype(np.float64)
        n_bytes += path.stat().st_size
        for split, m in masks.items():
            x = logp[m]
            p = np.exp(x)
            q = np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95])
            _ = (x.mean(), x.std(), (p < 0.05).mean(), (p > 0.95).mean(), (p * (1 - p)).mean())
            if p50 is None and split == "train":
                p50 = float(q[2])
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": cpu_seconds() - cpu0, "bytes": n_bytes,
            "steps": len(files), "p50_first": p50}


def peak_rss_mb() -> float:
    """Peak RSS of this process image: VmHWM. (`getrusage().ru_maxrss` would include the parent's
    RSS at fork time, which survives exec on Linux.)"""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def best_of(repeats: int, *args: str) -> dict:
    """Fastest of `repeats` child runs (the machine is shared: the minimum is the least disturbed);
    keeps the median time too and the largest peak RSS (this process plus its workers)."""
    runs = [run_child(*args) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    best["median_seconds"] = float(np.median([r["seconds"] for r in runs]))
    worst = max(runs, key=lambda r: r["max_rss_mb"] + sum(r.get("worker_rss_mb", [])))
    best["max_rss_mb"], best["worker_rss_mb"] = worst["max_rss_mb"], worst.get("worker_rss_mb", [])
    return best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=2.0, help="store size (float16 GB)")
    parser.add_argument("--tokens-per-step", type=int, default=8_000_000)
    parser.add_argument("--naive-steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, folder, extra = args.child[0], args.child[1], args.child[2]
        if kind == "phasewatch":
            result = child_phasewatch(folder, int(extra) or None)
        else:
            result = child_naive(folder, int(extra))
        result["max_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0

    n_steps = max(2, int(args.gb * 1e9 / (2 * args.tokens_per_step)))
    tmp_root = Path(tempfile.gettempdir())
    free = shutil.disk_usage(tmp_root).free
    need = 1.25 * n_steps * args.tokens_per_step * 2
    if need > 0.5 * free:
        n_steps = max(2, int(0.5 * free / (1.25 * 2 * args.tokens_per_step)))
        print(f"note: scaled down to {n_steps} steps: only {free / 1e9:.1f} GB free in {tmp_root}")
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-bench-tokens-"))
    mixed = Path(tempfile.mkdtemp(prefix="phasewatch-bench-tokens-mixed-"))
    try:
        t0 = time.perf_counter()
        build_store(folder, args.tokens_per_step, n_steps)
        build_store(mixed, args.tokens_per_step, max(2, n_steps // 4), interleaved=True)
        size = store_bytes(folder)
        print(f"store: {n_steps} steps x {args.tokens_per_step:,} float16 tokens = {size / 1e9:.2f} GB, "
              f"train sequences then held-out ones (+ a {store_bytes(mixed) / 1e9:.2f} GB store with "
              f"splits interleaved); built in {time.perf_counter() - t0:.0f} s in {tmp_root}")
        for store in (folder, mixed):  # warm the page cache
            for path in (store / "expert_logprobs").glob("step_*.npy"):
                with open(path, "rb") as fh:
                    while fh.read(1 << 24):
                        pass
        cpus = len(os.sched_getaffinity(0))
        load_before = os.getloadavg()[0]
        rows = [
            ("naive: np.load + float64 + np.quantile", run_child("naive", str(folder), str(args.naive_steps))),
            ("phasewatch, in process (workers=1)", best_of(args.repeats, "phasewatch", str(folder), "1")),
            (f"phasewatch, {cpus} lane threads", best_of(args.repeats, "phasewatch", str(folder), "0")),
            (f"phasewatch, {cpus} lane threads, splits interleaved",
             best_of(args.repeats, "phasewatch", str(mixed), "0")),
        ]
        rows[0][1]["median_seconds"] = rows[0][1]["seconds"]
        baseline = rows[0][1]["bytes"] / rows[0][1]["seconds"]
        print(f"\nload average {load_before:.2f} -> {os.getloadavg()[0]:.2f} on {cpus} CPUs; the machine is "
              f"shared, so phasewatch rows are the best of {args.repeats} runs (median in brackets)")
        print(f"{'method':<46} {'steps':>5} {'GB read':>8} {'seconds':>8} {'GB/s (median)':>14} "
              f"{'x naive':>8} {'GB/CPU-s':>9}  peak RSS MB (the process)")
        for name, r in rows:
            rate = r["bytes"] / r["seconds"]
            median_rate = r["bytes"] / r["median_seconds"]
            workers = r.get("worker_rss_mb", [])
            memory = f"{r['max_rss_mb'] + sum(workers):.0f}"
            if workers:
                memory += f" ({r['max_rss_mb']:.0f} + {' + '.join(f'{w:.0f}' for w in workers)})"
            print(f"{name:<46} {r['steps']:>5} {r['bytes'] / 1e9:>8.2f} {r['seconds']:>8.2f} "
                  f"{rate / 1e9:>6.2f} ({median_rate / 1e9:>4.2f}) {rate / baseline:>8.1f} "
                  f"{r['bytes'] / r['cpu_seconds'] / 1e9:>9.2f}  {memory}")
        print("GB/CPU-s: bytes per second of CPU time used (user + system, all processes): what one "
              "undisturbed core delivers. Peak RSS: the sum of each process's own peak (VmHWM), an "
              "upper bound on the peak of their total")
        p50s = [rows[i][1]["p50_first"] for i in range(3)]
        print(f"check: median p of the train tokens at the first step, naive vs phasewatch: "
              f"{p50s[0]:.6f} vs {p50s[1]:.6f} (float16 stores are summarised exactly)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(mixed, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
