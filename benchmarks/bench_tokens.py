"""Throughput and peak memory of the token-store summary pass (`phasewatch tokens`).

Builds a multi-GB float16 store in a temporary folder (deleted afterwards), reads it once to warm
the page cache, then times in separate child processes (so each peak RSS is its own):
- phasewatch: `summarize_store` (all steps, both splits, quantiles, shares, phi, entropy,
  learned-at), memory-mapped windows counted by np.bincount on all cores;
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


def build_store(folder: Path, tokens_per_step: int, n_steps: int, seed: int = 0) -> None:
    from phasewatch.tokens import TokenStoreWriter

    rng = np.random.default_rng(seed)
    lengths = rng.integers(200, 1800, size=tokens_per_step // 1000 + 10)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), tokens_per_step)]
    lengths = np.append(lengths, tokens_per_step - lengths.sum())
    seqs = [{"id": f"ex{i}", "split": "train" if i % 5 else "heldout", "length": int(n)}
            for i, n in enumerate(lengths) if n > 0]
    base = -rng.exponential(3.0, tokens_per_step).astype(np.float32)
    rate = rng.uniform(0.5, 2.0, tokens_per_step).astype(np.float32)
    with TokenStoreWriter(folder / "expert_logprobs", seqs, dtype="float16") as writer:
        for i in range(n_steps):
            writer.append(i * 10, base * np.exp(-rate * i / n_steps * 3))


def store_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in (folder / "expert_logprobs").glob("step_*.npy"))


def child_phasewatch(folder: str, workers: int | None) -> dict:
    from phasewatch.tokens import SummaryConfig, open_store, summarize_store

    t0 = time.perf_counter()
    store = open_store(folder)
    summary = summarize_store(store, SummaryConfig(workers=workers))
    elapsed = time.perf_counter() - t0
    n_bytes = sum(f.path.stat().st_size for f in store.files)
    return {"seconds": elapsed, "bytes": n_bytes, "steps": len(summary.steps),
            "p50_first": summary.rows["train"][0].p_quantiles["p50"]}


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
    t0 = time.perf_counter()
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
    return {"seconds": time.perf_counter() - t0, "bytes": n_bytes, "steps": len(files), "p50_first": p50}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=2.0, help="store size (float16 GB)")
    parser.add_argument("--tokens-per-step", type=int, default=8_000_000)
    parser.add_argument("--naive-steps", type=int, default=6)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, folder, extra = args.child[0], args.child[1], args.child[2]
        result = child_phasewatch(folder, int(extra) or None) if kind == "phasewatch" else child_naive(folder, int(extra))
        result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0

    n_steps = max(2, int(args.gb * 1e9 / (2 * args.tokens_per_step)))
    tmp_root = Path(tempfile.gettempdir())
    free = shutil.disk_usage(tmp_root).free
    need = n_steps * args.tokens_per_step * 2
    if need > 0.5 * free:
        n_steps = max(2, int(0.5 * free / (2 * args.tokens_per_step)))
        print(f"note: scaled down to {n_steps} steps: only {free / 1e9:.1f} GB free in {tmp_root}")
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-bench-tokens-"))
    try:
        t0 = time.perf_counter()
        build_store(folder, args.tokens_per_step, n_steps)
        size = store_bytes(folder)
        print(f"store: {n_steps} steps x {args.tokens_per_step:,} float16 tokens = {size / 1e9:.2f} GB "
              f"(built in {time.perf_counter() - t0:.0f} s) in {folder}")
        for path in (folder / "expert_logprobs").glob("step_*.npy"):  # warm the page cache
            with open(path, "rb") as fh:
                while fh.read(1 << 24):
                    pass
        cpus = len(os.sched_getaffinity(0))
        rows = [("naive (np.load + float64 + np.quantile)", run_child("naive", str(folder), str(args.naive_steps)))]
        rows.append(("phasewatch, 1 thread", run_child("phasewatch", str(folder), "1")))
        rows.append((f"phasewatch, {cpus} threads", run_child("phasewatch", str(folder), "0")))
        baseline = rows[0][1]["bytes"] / rows[0][1]["seconds"]
        print(f"\nload average {os.getloadavg()[0]:.2f} on {cpus} CPUs (shared machine: expect noise)")
        print(f"{'method':<42} {'steps':>5} {'GB read':>8} {'seconds':>8} {'GB/s':>6} {'x naive':>8} {'peak RSS MB':>12}")
        for name, r in rows:
            rate = r["bytes"] / r["seconds"]
            print(f"{name:<42} {r['steps']:>5} {r['bytes'] / 1e9:>8.2f} {r['seconds']:>8.2f} "
                  f"{rate / 1e9:>6.2f} {rate / baseline:>8.1f} {r['max_rss_mb']:>12.0f}")
        p50s = {name: r["p50_first"] for name, r in rows}
        agree = max(p50s.values()) - min(p50s.values())
        print(f"check: median p of train tokens at the first step agrees across methods to {agree:.2e}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
