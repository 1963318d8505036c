"""`analyze` on the real-log corpus against phase labels written by eye before it was run.

The corpus (benchmarks/real_corpus/, see its README) is 39 public training logs; labels.json
holds, per (log, metric), the phase sequence a careful researcher names from a raw plot, the
sequences that are also defensible, the observed starting value and whether the call is
ambiguous. A detected sequence is correct when it equals the label or one of its alternatives
(consecutive equal names merged on both sides).

This script builds nothing: run benchmarks/real_corpus/build_corpus.py first. Without
benchmarks/real_corpus/data/ it says so and exits 0 having scored nothing.

Usage: python benchmarks/bench_real_corpus.py [--json] [--only ID ...]
Exit codes: 0 ran (whatever the score), 1 a log could not be read, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run

CORPUS = ROOT / "benchmarks" / "real_corpus"
ABBREV = {"disruption": "dis", "readaptation": "read", "improvement": "imp",
          "plateau": "plat", "overfit": "ovf"}


@dataclass
class Row:
    """One scored (log, metric): the label, what analyze found, and whether they agree."""

    id: str
    format: str
    metric: str
    direction: str
    n_evals: int
    expected: list[str]
    alternatives: list[list[str]]
    ambiguous: bool
    detected: list[str] | None
    correct: bool
    start_value: float | None
    baseline: float | None
    error: str | None = None


def merge(names: list[str]) -> list[str]:
    """Consecutive equal phase names as one (the labelling rule's convention)."""
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


def seq(names: list[str] | None) -> str:
    return "ERROR" if names is None else ",".join(ABBREV.get(n, n) for n in names) or "-"


def fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}"


def score(only: set[str] | None = None) -> tuple[list[Row], list[str]]:
    """Read every labelled log once and analyse each labelled metric; returns rows and read errors."""
    manifest = {e["id"]: e for e in json.loads((CORPUS / "manifest.json").read_text())["logs"]}
    labels = json.loads((CORPUS / "labels.json").read_text())["labels"]
    runs: dict[str, object] = {}
    read_errors: list[str] = []
    rows: list[Row] = []
    for label in labels:
        log_id = label["id"]
        if only and log_id not in only:
            continue
        entry = manifest[log_id]
        if log_id not in runs:
            path = CORPUS / "data" / log_id / Path(entry["path"]).name
            try:
                runs[log_id] = read_run(str(path))
            except Exception as exc:  # noqa: BLE001 - report every unreadable log, score the rest
                read_errors.append(f"{log_id}: {type(exc).__name__}: {exc}")
                runs[log_id] = None
        run = runs[log_id]
        expected = merge(label["expected"])
        alternatives = [merge(a) for a in label["alternatives"]]
        row = Row(log_id, entry["format"], label["metric"], label["direction"], 0, expected,
                  alternatives, bool(label["ambiguous"]), None, False, label["start_value"], None)
        if run is None:
            row.error = "unreadable"
            rows.append(row)
            continue
        row.n_evals = int(run.series(label["metric"]).size)
        try:
            analysis = analyze_run(run, metric=label["metric"], direction=label["direction"])
        except Exception as exc:  # noqa: BLE001 - a detector crash is a wrong call, shown
            row.error = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        row.detected = merge([p.name for p in analysis.phases])
        row.baseline = analysis.baseline
        row.correct = row.detected == expected or row.detected in alternatives
        rows.append(row)
    return rows, read_errors


def print_table(rows: list[Row], seconds: float) -> None:
    print(f"{'id':<32} {'format':<13} {'n':>4}  {'metric':<28} {'label':<18} {'detected':<18} "
          f"{'ok':<3} {'start':>9} {'baseline':>9}")
    for r in rows:
        label = seq(r.expected) + ("?" if r.ambiguous else "")
        print(f"{r.id:<32} {r.format:<13} {r.n_evals:>4}  {r.metric[-28:]:<28} {label:<18} "
              f"{seq(r.detected):<18} {'yes' if r.correct else 'NO':<3} "
              f"{fmt(r.start_value):>9} {fmt(r.baseline):>9}")
    clear = [r for r in rows if not r.ambiguous]
    print()
    print("label: expected sequence (? = marked ambiguous); correct = detected equals the label "
          "or one of its alternatives")
    print(f"correct calls, unambiguous labels: {sum(r.correct for r in clear)} / {len(clear)}")
    print(f"correct calls, all labels:         {sum(r.correct for r in rows)} / {len(rows)}")
    print(f"logs: {len({r.id for r in rows})}, detector errors: {sum(r.error is not None for r in rows)}, "
          f"time {seconds:.1f} s")
    wrong = [r for r in rows if not r.correct]
    if wrong:
        print("\nwrong calls (label | alternatives -> detected):")
        for r in wrong:
            alts = "; ".join(seq(a) for a in r.alternatives) or "none"
            tag = " (ambiguous)" if r.ambiguous else ""
            found = r.error if r.error else seq(r.detected)
            print(f"  {r.id} {r.metric}{tag}: {seq(r.expected)} | {alts} -> {found}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="rows and totals as JSON")
    parser.add_argument("--only", nargs="*", help="score only these log ids")
    args = parser.parse_args(argv)
    if not (CORPUS / "data").is_dir():
        print(f"skipped: {CORPUS / 'data'} is absent; build it with "
              "python benchmarks/real_corpus/build_corpus.py", file=sys.stderr)
        return 0
    start = time.perf_counter()
    rows, read_errors = score(set(args.only) if args.only else None)
    seconds = time.perf_counter() - start
    if args.json:
        clear = [r for r in rows if not r.ambiguous]
        print(json.dumps({"rows": [asdict(r) for r in rows], "read_errors": read_errors,
                          "correct_unambiguous": sum(r.correct for r in clear),
                          "n_unambiguous": len(clear),
                          "correct_all": sum(r.correct for r in rows), "n_all": len(rows)},
                         indent=1))
    else:
        print_table(rows, seconds)
    for err in read_errors:
        print(f"unreadable: {err}", file=sys.stderr)
    return 1 if read_errors else 0


if __name__ == "__main__":
    sys.exit(main())
