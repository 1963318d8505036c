"""`phasewatch inspect` on a generated 1,000,000-line metrics JSONL, against baselines.

Prints a table: wall time, lines per second, and the ratio to a plain `json.loads` loop over
the same lines (which only parses: no step handling, no duplicate resolution, no table),
all measured in this run. Also times `pandas.read_json(lines=True)` and phasewatch's own
line-by-line path (the one the bulk path must equal; the check is printed too).

    python benchmarks/bench_inspect.py [--lines N] [--repeat K] [--against REV] [--inspect-only]
                                       [--bulk-against REV]

`--against REV` also times `inspect` of the phasewatch/ tree at git revision REV on the same
file, alternating with this tree's (best of `--repeat` each), and prints the ratio: a change's
cost measured in one run on the same machine state.

`--bulk-against REV` times the bulk JSONL reader alone (`io/fastjson.read_json_lines` and the
Run it collects), in this process, with this tree's fastjson module and with REV's, alternating
(CPU time, best of `--repeat` each), and checks they build the same table.

Timings on a shared machine are noisy; the ratios, measured back to back, are steadier. The
CPU time of the `inspect` subprocess (user + system) is printed too: it hardly grows with the
other processes' load, and for this single-threaded work it is the wall time of an idle machine.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from revisions import checkout


def generate(path: Path, n_lines: int, seed: int = 0) -> None:
    """A realistic metrics.jsonl: 4 train metrics per step, eval every 10 steps, and a
    resumed block (steps 600k..610k logged twice) as real runs have."""
    rng = random.Random(seed)
    resume_at, resume_len = int(n_lines * 0.6), max(1, n_lines // 100)
    with open(path, "w") as fh:
        step = 0
        for i in range(n_lines):
            if i == resume_at:
                step -= resume_len
            row = {"step": step, "train/loss": round(rng.random(), 6), "train/reward": round(rng.random(), 6),
                   "train/entropy": round(rng.random(), 6), "train/lr": 1e-5}
            if step % 10 == 0:
                row["eval/accuracy"] = round(rng.random(), 4)
            fh.write(json.dumps(row) + "\n")
            step += 1


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


CPU_SECONDS: dict[Path | None, float] = {}  # tree -> best CPU time of its inspect subprocess


def inspect_subprocess(path: Path, tree: Path | None = None) -> dict:
    """`python -m phasewatch inspect` (run from `tree`, that tree's phasewatch/ is imported);
    its CPU time is kept in CPU_SECONDS (the best so far)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-m", "phasewatch", "inspect", str(path), "--format", "json"],
                         check=True, capture_output=True, text=True, cwd=tree)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU_SECONDS[tree] = min(CPU_SECONDS.get(tree, float("inf")), cpu)
    return json.loads(out.stdout)


def bulk_against(path: Path, rev: str, repeat: int) -> None:
    """CPU time of the bulk reader: this tree's `io/fastjson.py` against REV's (loaded as a
    module beside it; both read with this tree's parser and collector)."""
    import importlib.util

    import pandas as pd

    from phasewatch.io import fastjson, jsonl
    from phasewatch.run import RecordCollector

    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "-C", str(root), "show", f"{rev}:phasewatch/io/fastjson.py"],
                            check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "fastjson_at_rev.py"
        file.write_bytes(source)
        spec = importlib.util.spec_from_file_location("fastjson_at_rev", file)
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)

    def read(module):
        collector = RecordCollector(path, jsonl.FORMAT)
        start = time.process_time()
        if not module.read_json_lines(path, jsonl.LineParser(), collector):
            raise SystemExit("the bulk path declined this file")
        table = collector.build().table
        return time.process_time() - start, table

    best = {"this": float("inf"), rev: float("inf")}
    tables = {}
    for _ in range(max(1, repeat)):
        for name, module in (("this", fastjson), (rev, old)):
            seconds, tables[name] = read(module)
            best[name] = min(best[name], seconds)
    same = True
    try:
        pd.testing.assert_frame_equal(tables["this"], tables[rev])
    except AssertionError:
        same = False
    print(f"\nbulk JSONL reader alone (read_json_lines + build), CPU s, best of {max(1, repeat)}: "
          f"this tree {best['this']:.2f}, io/fastjson.py at {rev} {best[rev]:.2f}: "
          f"{best['this'] / best[rev]:.2f}x; same table: {same}")


def json_loads_loop(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if json.loads(line))


def pandas_read_json(path: Path) -> int:
    import pandas as pd

    return len(pd.read_json(path, lines=True))


def line_path(path: Path):
    from phasewatch.commands.inspect import summarize
    from phasewatch.io import jsonl
    from phasewatch.io.lines import read_lines
    from phasewatch.run import RecordCollector

    collector = RecordCollector(path, jsonl.FORMAT)
    read_lines(path, jsonl.LineParser(), collector)
    return summarize(collector.build(name=path.stem))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of K runs of inspect")
    parser.add_argument("--against", metavar="REV", help="also time inspect at this git revision")
    parser.add_argument("--bulk-against", metavar="REV",
                        help="also time the bulk JSONL reader alone against REV's io/fastjson.py")
    parser.add_argument("--inspect-only", action="store_true",
                        help="skip the parse-only baselines and the line-by-line reference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.jsonl"
        seconds, _ = timed(lambda: generate(path, args.lines))
        size_mb = path.stat().st_size / 1e6
        print(f"generated {args.lines:,} lines ({size_mb:.0f} MB) in {seconds:.1f} s", file=sys.stderr)

        rows = []
        t_json, _ = timed(lambda: json_loads_loop(path))
        rows.append(("json.loads loop (parse only; baseline)", t_json))
        if not args.inspect_only:
            t_pandas, _ = timed(lambda: pandas_read_json(path))
            rows.append(("pandas.read_json(lines=True) (parse only)", t_pandas))
        old = checkout(args.against, Path(tmp) / "old") if args.against else None
        best, best_old, doc, old_doc = float("inf"), float("inf"), None, None
        for _ in range(max(1, args.repeat)):
            t_inspect, doc = timed(lambda: inspect_subprocess(path))
            best = min(best, t_inspect)
            if old is not None:
                t_old, old_doc = timed(lambda: inspect_subprocess(path, old))
                best_old = min(best_old, t_old)
        k = f", best of {max(1, args.repeat)}" if args.repeat > 1 else ""
        rows.append((f"phasewatch inspect, end to end (process start incl.){k}", best))
        if old is not None:
            rows.append((f"same, phasewatch at {args.against}{k}", best_old))
        if not args.inspect_only:
            t_line, line_doc = timed(lambda: line_path(path))
            rows.append(("phasewatch line-by-line path (reference)", t_line))

        print(f"\n`phasewatch inspect` on {args.lines:,} JSONL lines ({size_mb:.0f} MB)\n")
        print(f"| {'method':<58} | {'time (s)':>8} | {'lines/s':>10} | {'vs json.loads':>13} |")
        print(f"|{'-' * 60}|{'-' * 10}|{'-' * 12}|{'-' * 15}|")
        for name, seconds in rows:
            print(f"| {name:<58} | {seconds:>8.2f} | {args.lines / seconds:>10,.0f} | "
                  f"{t_json / seconds:>12.2f}x |")
        same = True
        cpu = CPU_SECONDS[None]
        goal = (f" (target: within 10% of 3.9 s, <= 4.29 s: {cpu / 3.9:.2f}x of 3.9 s)"
                if args.lines == 1_000_000 else "")
        print(f"\nphasewatch inspect CPU time (user + system){k}: {cpu:.2f} s{goal}")
        if old is not None:
            same = doc == old_doc
            cpu_old = CPU_SECONDS[old]
            print(f"at {args.against}: {cpu_old:.2f} s CPU; this tree / {args.against}: "
                  f"{best / best_old:.3f}x the wall time, {cpu / cpu_old:.3f}x the CPU time; "
                  f"same output: {same}")
        if not args.inspect_only:
            same = same and {k: v for k, v in doc.items() if k not in ("schema_version", "source")} == {
                k: v for k, v in line_doc.items() if k != "source"
            }
            print(f"bulk path == line path: {same}")
        print(f"n_records={doc['n_records']:,} n_steps={doc['n_steps']:,} metrics={len(doc['metrics'])}")
        if args.bulk_against:
            bulk_against(path, args.bulk_against, args.repeat)
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
