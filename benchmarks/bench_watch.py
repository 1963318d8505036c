"""Cost and memory of the live monitor (`phasewatch watch`, `PhaseMonitor.update`).

1. Update cost per record, amortised, for two record mixes:
   - dense: the performance metric in every record (the worst case);
   - typical: train metrics every record, eval metrics (accuracy + expert NLL) every 10th;
   against a named baseline measured in the same run: the Hugging Face EarlyStoppingCallback
   logic (patience counter on the metric, in Python), which does far less work.
2. End to end: `phasewatch watch` replaying a 100,000-line native metrics.jsonl (parse + monitor),
   records per second.
3. Memory over a 10^6-record run: RSS, tracemalloc's traced memory of the process, and the size
   of the monitor's state (number of stored values), at 10^4, 10^5 and 10^6 records.
The machine is shared (2 cores, other jobs running): timings vary by ~10-30%; rerun for noise.
`--against REV` adds to the cost table the monitor of git revision REV (its phasewatch/ tree,
timed in a subprocess, alternating with this tree's), so a change's cost is measured in one run.
Usage: python benchmarks/bench_watch.py [--records 1000000] [--against REV] [--cost-only]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import math
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from revisions import checkout

from phasewatch.online import PhaseMonitor

TARGET_US = 50.0


class PatienceBaseline:
    """transformers.EarlyStoppingCallback.check_metric_value + on_evaluate, without the
    Trainer around it: the cheapest early stopping there is."""

    def __init__(self, metric="eval/accuracy", patience=10, threshold=0.0):
        self.metric, self.patience, self.threshold = metric, patience, threshold
        self.best = None
        self.counter = 0
        self.should_stop = False

    def update(self, step, metrics):
        value = metrics.get(self.metric)
        if value is None:
            return []
        if self.best is None or (value > self.best and abs(value - self.best) > self.threshold):
            self.best, self.counter = value, 0
        else:
            self.counter += 1
        self.should_stop = self.counter >= self.patience
        return []


def records(n, mix, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 0.02, n)
    t = np.arange(n) / n
    acc = 0.5 + 0.2 * np.sin(np.pi * t) + noise
    out = []
    for i in range(n):
        if mix == "dense":
            out.append((i, {"eval/accuracy": float(acc[i])}))
        else:
            record = {"train/loss": 1.0 / (1 + i), "train/reward": float(acc[i])}
            if i % 10 == 0:
                record.update({"eval/accuracy": float(acc[i]),
                               "expert/nll_train": 1.0 - 0.5 * t[i],
                               "expert/nll_heldout": 1.2 - 0.3 * t[i]})
            out.append((i, record))
    return out


def time_updates(make, recs, repeats=3):
    """(wall, CPU) microseconds per record, each the best of `repeats`. On a shared machine the
    wall time grows with the others' load; this process's CPU time hardly does."""
    best, best_cpu = math.inf, math.inf
    for _ in range(repeats):
        monitor = make()
        update = monitor.update
        start, start_cpu = time.perf_counter(), time.process_time()
        for step, values in recs:
            update(step, values)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best / len(recs) * 1e6, best_cpu / len(recs) * 1e6


# Times one record mix with the PhaseMonitor of the phasewatch/ tree argv[1] (imported before
# bench_watch, which puts this tree first on sys.path when it is imported).
TREE_TIMER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from phasewatch.online import PhaseMonitor
assert PhaseMonitor.__module__ in sys.modules and sys.modules["phasewatch"].__file__.startswith(
    sys.argv[1]), sys.modules["phasewatch"].__file__
sys.path.insert(1, sys.argv[2])
from bench_watch import records, time_updates
print(json.dumps(time_updates(PhaseMonitor, records(int(sys.argv[3]), sys.argv[4]), repeats=1)))
"""


def tree_cost(tree: Path, n: int, mix: str) -> tuple[float, float]:
    """(wall, CPU) us per record of `tree`'s monitor, in a subprocess (one repeat)."""
    done = subprocess.run([sys.executable, "-c", TREE_TIMER, str(tree), str(ROOT / "benchmarks"),
                           str(n), mix], check=True, capture_output=True, text=True)
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def cost_table(n, against: str | None = None, repeats: int = 3):
    print(f"\nUpdate cost per record (best of {repeats}, {n:,} records)")
    header = (f"{'records':<10} {'phasewatch us':>14} {'CPU us':>8} {'patience us':>12} "
              f"{'CPU us':>8} {'ratio':>6} {'target':>8}")
    print(header)
    print("-" * len(header))
    measured = {}
    for mix in ("dense", "typical"):
        recs = records(n, mix)
        ours, ours_cpu = time_updates(PhaseMonitor, recs, repeats)
        base, base_cpu = time_updates(PatienceBaseline, recs, repeats)
        measured[mix] = ours_cpu
        ok = "ok" if ours_cpu <= TARGET_US else "MISSED"
        print(f"{mix:<10} {ours:>14.2f} {ours_cpu:>8.2f} {base:>12.2f} {base_cpu:>8.2f} "
              f"{ours_cpu / base_cpu:>6.1f} {'<= ' + str(int(TARGET_US)):>8} {ok} (CPU)")
    if against is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = checkout(against, Path(tmp) / "old")
        print(f"\nthis tree against {against} (subprocesses, alternating, best of {repeats}; "
              "us per record)")
        print(f"{'records':<10} {'this CPU':>9} {against + ' CPU':>14} {'this wall':>10} "
              f"{against + ' wall':>15} {'CPU this/' + against:>18}")
        for mix in ("dense", "typical"):
            best = {"this": (math.inf, math.inf), "old": (math.inf, math.inf)}
            for _ in range(repeats):
                for name, tree in (("this", ROOT), ("old", old_tree)):
                    best[name] = tuple(map(min, best[name], tree_cost(tree, n, mix)))
            (wall, cpu), (old_wall, old_cpu) = best["this"], best["old"]
            print(f"{mix:<10} {cpu:>9.2f} {old_cpu:>14.2f} {wall:>10.2f} {old_wall:>15.2f} "
                  f"{cpu / old_cpu:>17.2f}x")


def end_to_end(n_lines):
    from phasewatch.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        with open(run / "metrics.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"step": step, **values}) + "\n" for step, values in records(n_lines, "typical"))
        (run / "run.json").write_text(json.dumps({"performance_metric": "eval/accuracy"}))
        sink_out, sink_err = io.StringIO(), io.StringIO()
        start, start_cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(sink_out), contextlib.redirect_stderr(sink_err):
            code = main(["watch", str(run), "--format", "jsonl"])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(f"\n`phasewatch watch` replay of a {n_lines:,}-line metrics.jsonl (parse + monitor): "
          f"{elapsed:.2f} s, {n_lines / elapsed:,.0f} records/s, "
          f"{elapsed / n_lines * 1e6:.1f} us/record; CPU {cpu:.2f} s, {cpu / n_lines * 1e6:.1f} "
          f"us/record (exit {code}; includes the whole-run analysis of the summary)")
    if code not in (0, 1):  # say why, so a failure here is a report, not a mystery
        print("stderr of the failed run:\n" + sink_err.getvalue()[-2000:])


def rss_mb():
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def count_values(obj):
    if isinstance(obj, dict):
        return sum(count_values(v) for v in obj.values())
    if isinstance(obj, list):
        return sum(count_values(v) for v in obj)
    return 1


def memory_table(n_total):
    print(f"\nMemory over a {n_total:,}-record run (typical mix, records generated on the fly)")
    header = (f"{'records':>10} {'RSS MB':>8} {'traced MB':>10} {'state values':>13} "
              f"{'state JSON KB':>14}")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(1)
    monitor = PhaseMonitor()
    checkpoints = [c for c in (10**4, 10**5, 10**6, 10**7) if c <= n_total]
    gc.collect()
    tracemalloc.start()
    rows = []
    for i in range(n_total):
        record = {"train/loss": 1.0, "train/reward": 0.5}
        if i % 10 == 0:
            record["eval/accuracy"] = 0.5 + rng.normal(0, 0.02)
            record["expert/nll_train"] = 1.0
            record["expert/nll_heldout"] = 1.1 + rng.normal(0, 0.01)
        monitor.update(i, record)
        if i + 1 in checkpoints:
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] / 2**20
            state = monitor.state_dict()
            # the stop alert (None, then one alert's 7 fields once a stop fires) is not a buffer
            stored = count_values({k: v for k, v in state.items() if k != "stop_alert"})
            rows.append((i + 1, rss_mb(), traced, stored,
                         len(json.dumps(state)) / 1024))
            print(f"{rows[-1][0]:>10,} {rows[-1][1]:>8.1f} {rows[-1][2]:>10.3f} "
                  f"{rows[-1][3]:>13} {rows[-1][4]:>14.1f}", flush=True)
    tracemalloc.stop()
    flat = rows[-1][3] == rows[0][3]
    print(f"state values constant from {rows[0][0]:,} to {rows[-1][0]:,} records: {flat}; "
          f"traced memory change: {rows[-1][2] - rows[0][2]:+.3f} MB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10**6)
    parser.add_argument("--cost-records", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of K (cost table)")
    parser.add_argument("--against", metavar="REV",
                        help="also time the monitor of this git revision (cost table)")
    parser.add_argument("--cost-only", action="store_true",
                        help="only the cost table (no end-to-end replay, no memory table)")
    args = parser.parse_args(argv)
    import os

    print("load average (1, 5, 15 min) at the start: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    cost_table(args.cost_records, args.against, args.repeat)
    if not args.cost_only:
        end_to_end(args.lines)
        memory_table(args.records)
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
