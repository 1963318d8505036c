"""Where the token pass spends its CPU time: one lane over a whole store, component by component.

Builds an interleaved float16 store (every fifth sequence held out; bench_tokens.py's layout) in a
temporary folder, then runs the lane's loop of the summary pass in this thread, timing each part
with `time.thread_time` (CPU time of this thread, less sensitive to other jobs than wall time):
the `pread` copies, the counting kernel, the check for invalid keys, the statistics from the
histograms; and one step's keys through `np.bincount` for comparison.

Usage: python benchmarks/profile_tokens.py [--steps 20] [--tokens-per-step 4000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tokens import child_build

from phasewatch.tokens import open_store
from phasewatch.tokens.counting import count
from phasewatch.tokens.learned import LearnedAtTracker
from phasewatch.tokens.stats import stats_from_histogram
from phasewatch.tokens.summary import SummaryConfig, _Pass


def profile(folder: Path) -> dict[str, float]:
    store = open_store(folder)
    config = SummaryConfig(workers=1)
    summary_pass = _Pass(store, config, LearnedAtTracker(store.n_tokens))
    lane = summary_pass._lanes().lanes[0]
    spec = lane.spec
    out = np.zeros((lane.n_slots, 1 << 16), dtype=np.uint32)
    clock = time.thread_time
    spent = dict.fromkeys(("pread", "kernel", "invalid check", "statistics", "rest of the loop"), 0.0)
    start_all = clock()
    for position in range(len(spec.files)):
        out[:] = 0
        with lane._reader(position) as reader:
            for start in range(spec.start, spec.stop, spec.window_tokens):
                stop = min(spec.stop, start + spec.window_tokens)
                t0 = clock()
                raw = reader.read(start, stop, lane.raw)
                t1 = clock()
                keys = lane.codec.keys(raw)
                learn_keys, limit = lane._learn_keys(raw, keys)
                t2 = clock()
                count(spec.kernel, keys, start, spec.runs, out, learn_keys, limit,
                      lane.seen[start - spec.start : stop - spec.start], lane.newly)
                t3 = clock()
                spent["pread"] += t1 - t0
                spent["kernel"] += t3 - t2
        t0 = clock()
        lane.codec.has_invalid(out)
        t1 = clock()
        for slot in range(lane.n_slots):
            stats_from_histogram(out[slot], 0, "split", summary_pass.tables, config)
        spent["invalid check"] += t1 - t0
        spent["statistics"] += clock() - t1
    spent["rest of the loop"] = clock() - start_all - sum(spent.values())
    return spent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--tokens-per-step", type=int, default=4_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="phasewatch-profile-tokens-"))
    try:
        child_build(str(tmp), args.tokens_per_step, args.steps, True)
        n_bytes = sum(p.stat().st_size for p in (tmp / "expert_logprobs").glob("step_*.npy"))
        for path in (tmp / "expert_logprobs").glob("step_*.npy"):  # warm the page cache
            path.read_bytes()
        spent = profile(tmp)
        total = sum(spent.values())
        print(f"one lane over {args.steps} steps x {args.tokens_per_step:,} tokens ({n_bytes / 1e6:.0f} MB, "
              f"interleaved splits), CPU time of the thread; load average {os.getloadavg()[0]:.2f}")
        for name, seconds in spent.items():
            print(f"  {name:<18} {seconds * 1e3:8.1f} ms  {100 * seconds / total:5.1f}%  "
                  f"{seconds / (args.steps * args.tokens_per_step) * 1e9:6.2f} ns/token")
        print(f"  {'total':<18} {total * 1e3:8.1f} ms         {n_bytes / total / 1e9:.2f} GB per CPU-second")
        print(f"  statistics: {spent['statistics'] / (2 * args.steps) * 1e3:.3f} ms per split and step")
        keys = np.load(sorted((tmp / "expert_logprobs").glob("step_*.npy"))[args.steps // 2]).view(np.uint16)
        t0 = time.thread_time()
        for _ in range(5):
            np.bincount(keys, minlength=1 << 16)
        print(f"  np.bincount of one step's keys: {(time.thread_time() - t0) / 5 / keys.size * 1e9:.2f} ns/token")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
