"""`analyze` on the real-log corpus against phase labels written by eye before it was run.

The corpus (benchmarks/real_corpus/, see its README) is 39 public training logs; labels.json
holds, per (log, metric), the phase sequence a careful researcher names from a raw plot, the
sequences that are also defensible, the observed starting value and whether the call is
ambiguous. A detected sequence is correct when it equals the label or one of its alternatives
(consecutive equal names merged on both sides).

`--set heldout` scores the held-out batch instead (manifest_heldout.json, labels_heldout.json),
`--set heldout2` to `--set heldout51` the second to fifty-first held-out batches
(manifest_heldout2.json, labels_heldout2.json; ... manifest_heldout51.json,
labels_heldout51.json): logs
the detector had not been tuned on when they were labelled, unlike the main set. `--method`
scores standard comparators (`benchmarks/phase_baselines.py`: segmented regression with BIC,
ruptures PELT) on the same series with the same rule; with several methods the table shows each
one's call side by side and the correct calls per method.

This script builds nothing: run benchmarks/real_corpus/build_corpus.py first. Without
benchmarks/real_corpus/data/ it says so and exits 0 having scored nothing.

Usage: python benchmarks/bench_real_corpus.py [--set main|heldout|heldout2|...|heldout51] [--json] [--only ID ...]
           [--method phasewatch,segmented,pelt | all]
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from phase_baselines import analyze_baseline
from real_corpus.build_corpus import SETS, load_manifest

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run

CORPUS = ROOT / "benchmarks" / "real_corpus"
# the oracle comparators need a true noise sd, which real logs do not have
METHODS = ("phasewatch", "segmented", "pelt")
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
    confidence: str | None = None  # phasewatch's, for a series of at most 12 evaluations
    best_step: int | None = None  # the label's: the best raw value's step (first of ties)
    stop: int | None = None  # phasewatch's recommended stop
    stop_evals_off: int | None = None  # evaluations between the two
    stop_short_sd: float | None = None  # how much worse the stop's value is, in noise sds


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


def analyze(run, method: str, metric: str, direction: str):
    """`analyze_run`, or the comparator `method`, on one labelled series."""
    if method == "phasewatch":
        return analyze_run(run, metric=metric, direction=direction)
    return analyze_baseline(run, method, metric, direction)


def score(only: set[str] | None = None, method: str = "phasewatch",
          runs: dict | None = None, corpus_set: str = "main") -> tuple[list[Row], list[str]]:
    """Read every labelled log of `corpus_set` once (into `runs`, shared between methods) and
    analyse each labelled metric with `method`; returns rows and read errors."""
    manifest_name, labels_name = SETS[corpus_set]
    manifest = {e["id"]: e for e in json.loads((CORPUS / manifest_name).read_text())["logs"]}
    sources = {e.id: e.source for e in load_manifest(CORPUS / manifest_name)}
    labels = json.loads((CORPUS / labels_name).read_text())["labels"]
    runs = {} if runs is None else runs
    read_errors: list[str] = []
    rows: list[Row] = []
    for label in labels:
        log_id = label["id"]
        if only and log_id not in only:
            continue
        entry = manifest[log_id]
        if log_id not in runs:
            try:
                runs[log_id] = read_run(str(sources[log_id]))
            except Exception as exc:  # noqa: BLE001 - report every unreadable log, score the rest
                runs[log_id] = None
                runs[log_id, "error"] = f"{log_id}: {type(exc).__name__}: {exc}"
        if runs.get((log_id, "error")) and runs[log_id, "error"] not in read_errors:
            read_errors.append(runs[log_id, "error"])
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
            analysis = analyze(run, method, label["metric"], label["direction"])
        except Exception as exc:  # noqa: BLE001 - a detector crash is a wrong call, shown
            row.error = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        row.detected = merge([p.name for p in analysis.phases])
        row.baseline = analysis.baseline
        row.confidence = analysis.extra.get("confidence")
        row.correct = row.detected == expected or row.detected in alternatives
        if method == "phasewatch":
            score_stop(row, run, label, analysis)
        rows.append(row)
    return rows, read_errors


def score_stop(row: Row, run, label: dict, analysis) -> None:
    """The recommended stop against the label's best step: how many evaluations apart, and how
    much worse its logged value is, in the analysis' noise sds (0 for a stop at the best's value
    where the analysis has no noise sd, else unknown). The label's best is the best
    raw value; the checkpoint a user should keep is the peak before an overfit and, on a run of
    over 40 evaluations, not one lucky reading, so neither number is expected to be 0 always."""
    row.best_step, row.stop = label.get("best_step"), analysis.recommended_stop_step
    if row.best_step is None or row.stop is None:
        return
    series = run.series(label["metric"])
    steps, values = series.index.to_numpy(), series.to_numpy(dtype=float)
    at = {int(s): i for i, s in enumerate(steps)}
    if row.best_step not in at or row.stop not in at:
        return
    row.stop_evals_off = abs(at[row.stop] - at[row.best_step])
    sign = 1.0 if label["direction"] == "max" else -1.0
    sd = analysis.extra.get("noise_sd") or 0.0
    short = sign * (values[at[row.best_step]] - values[at[row.stop]])
    # a stop whose value is the labelled best's (or better) is within any number of sds of it,
    # noise known or not (a run of 3-4 evaluations has no noise estimate)
    row.stop_short_sd = short / sd if sd > 0 else (0.0 if short <= 0 else None)


def stop_totals(rows: list[Row]) -> dict[str, int]:
    """How many recommended stops are within one evaluation of the labelled best, and within
    2 noise sds of its value (at its value, where no noise is estimated: `score_stop`)."""
    scored = [r for r in rows if r.stop_evals_off is not None]
    return {"stops_scored": len(scored),
            "stop_within_one_eval": sum(r.stop_evals_off <= 1 for r in scored),
            "stop_within_2sd": sum(r.stop_short_sd is not None and r.stop_short_sd <= 2
                                   for r in scored)}


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
    tiers = {c: [r.correct for r in rows if r.confidence == c] for c in ("high", "moderate", "low")}
    print("stated confidence (series of at most 12 evaluations), correct / series: "
          + ", ".join(f"{c} {sum(v)} / {len(v)}" for c, v in tiers.items()))
    stops = stop_totals(rows)
    print(f"recommended stop vs the labelled best step: within one evaluation "
          f"{stops['stop_within_one_eval']} / {stops['stops_scored']}, its value within 2 noise "
          f"sds {stops['stop_within_2sd']} / {stops['stops_scored']}")
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
    far = [r for r in rows if r.stop_evals_off is not None and r.stop_evals_off > 1
           and not (r.stop_short_sd is not None and r.stop_short_sd <= 2)]
    if far:
        print("\nrecommended stops more than one evaluation and 2 noise sds from the labelled best:")
        for r in far:
            print(f"  {r.id} {r.metric}: best {r.best_step}, stop {r.stop} "
                  f"({r.stop_evals_off} evaluations, {fmt(r.stop_short_sd)} sd worse)")


def print_side_by_side(results: dict[str, list[Row]]) -> None:
    """One line per labelled series: the label and each method's call; then the totals."""
    methods = list(results)
    first = results[methods[0]]
    print(f"{'id':<32} {'n':>4}  {'metric':<24} {'label':<18} " +
          " ".join(f"{m:<22}" for m in methods))
    for i, r in enumerate(first):
        label = seq(r.expected) + ("?" if r.ambiguous else "")
        calls = []
        for m in methods:
            x = results[m][i]
            calls.append(f"{(x.error or seq(x.detected))[:18]} {'ok' if x.correct else 'NO'}")
        print(f"{r.id:<32} {r.n_evals:>4}  {r.metric[-24:]:<24} {label:<18} " +
              " ".join(f"{c:<22}" for c in calls))
    print("\nlabel: expected sequence (? = marked ambiguous); ok = detected equals the label or "
          "one of its alternatives\n")
    print("| method | correct, unambiguous labels | correct, all labels | errors |")
    print("|---|---|---|---|")
    for m in methods:
        rows = results[m]
        clear = [r for r in rows if not r.ambiguous]
        print(f"| {m} | {sum(r.correct for r in clear)} / {len(clear)} | "
              f"{sum(r.correct for r in rows)} / {len(rows)} | "
              f"{sum(r.error is not None for r in rows)} |")


def totals(rows: list[Row]) -> dict[str, int]:
    clear = [r for r in rows if not r.ambiguous]
    return {"correct_unambiguous": sum(r.correct for r in clear), "n_unambiguous": len(clear),
            "correct_all": sum(r.correct for r in rows), "n_all": len(rows), **stop_totals(rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="corpus_set", choices=sorted(SETS), default="main",
                        help="labelled set to score: main (default) or a held-out batch (heldout, heldout2 ... heldout51)")
    parser.add_argument("--json", action="store_true", help="rows and totals as JSON")
    parser.add_argument("--only", nargs="*", help="score only these log ids")
    parser.add_argument("--method", default="phasewatch",
                        help=f"comma-separated subset of {', '.join(METHODS)}, or 'all'")
    args = parser.parse_args(argv)
    methods = METHODS if args.method == "all" else tuple(m for m in args.method.split(",") if m)
    if not methods or set(methods) - set(METHODS):
        parser.error(f"unknown method in {args.method!r}; expected {', '.join(METHODS)} or all")
    if not (CORPUS / "data").is_dir():
        print(f"skipped: {CORPUS / 'data'} is absent; build it with "
              "python benchmarks/real_corpus/build_corpus.py"
              + ("" if args.corpus_set == "main" else f" --set {args.corpus_set}"),
              file=sys.stderr)
        return 0
    start = time.perf_counter()
    runs: dict = {}
    results: dict[str, list[Row]] = {}
    for method in methods:
        results[method], read_errors = score(set(args.only) if args.only else None, method, runs,
                                             args.corpus_set)
    seconds = time.perf_counter() - start
    rows = results[methods[0]]
    if args.json and len(methods) == 1:
        print(json.dumps({"rows": [asdict(r) for r in rows], "read_errors": read_errors,
                          "method": methods[0], **totals(rows)}, indent=1, default=_plain))
    elif args.json:
        print(json.dumps({"read_errors": read_errors, "methods": {
            m: {"rows": [asdict(r) for r in rs], **totals(rs)} for m, rs in results.items()}},
            indent=1, default=_plain))
    elif len(methods) == 1:
        print_table(rows, seconds)
    else:
        print_side_by_side(results)
        print(f"\n(time {seconds:.1f} s)")
    for err in read_errors:
        print(f"unreadable: {err}", file=sys.stderr)
    return 1 if read_errors else 0


def _plain(value):
    """A numpy number in a row (a step, a count) as JSON writes a Python one."""
    return value.item()


if __name__ == "__main__":
    sys.exit(main())
