"""`phasewatch inspect PATH`: what a log holds (format, steps, metrics and their values, warnings),
and which performance metric `analyze` would take from it, so a user sees at once whether the
log is the one they meant and whether the numbers look right (a loss of 1e6, an accuracy that
never moves)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

SMALL = 16  # metrics of at most this many values are summarised in plain Python (1e6 names)
HELP = "show what a log file or run folder holds: format, steps, metrics and values, warnings"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH",
                        help="a log file, a run folder, or a folder of runs (listed)")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="output")


def metric_values(run) -> dict[str, dict[str, float]]:
    """Per metric: the first and last finite value (by step), the minimum and the maximum.

    Plain numpy over each metric's column (steps ascending), which the run holds anyway."""
    out: dict[str, dict[str, float]] = {}
    columns = run.columns()
    if hasattr(columns, "packed_summary"):  # millions of metrics of a value or a few: vectorised
        names, cols = columns.packed_summary()
        out = {name: {"first": a, "last": b, "min": c, "max": d}
               for name, a, b, c, d in zip(names, cols["first"], cols["last"], cols["min"], cols["max"])}
        columns = columns.plain()
    for name, (steps, values) in columns.items():
        if values.size <= SMALL:  # plain Python: numpy's per-call cost dominates here
            pairs = [(s, v) for s, v in zip(steps.tolist(), values.tolist()) if math.isfinite(v)]
            if pairs:
                low, high = min(s for s, _ in pairs), max(s for s, _ in pairs)
                kept = [v for _, v in pairs]
                out[str(name)] = {"first": next(v for s, v in pairs if s == low),
                                  "last": next(v for s, v in pairs if s == high),
                                  "min": min(kept), "max": max(kept)}
            continue
        finite = np.isfinite(values)
        if finite.all():  # the usual case: no copy of a column that can be 100 MB
            last = int(np.searchsorted(steps, steps[-1]))  # the first row at the last step
            out[str(name)] = {"first": float(values[0]), "last": float(values[last]),
                              "min": float(values.min()), "max": float(values.max())}
            continue
        if not finite.any():
            continue
        values, steps = values[finite], steps[finite]
        out[str(name)] = {"first": float(values[int(np.argmin(steps))]),
                          "last": float(values[int(np.argmax(steps))]),
                          "min": float(values.min()), "max": float(values.max())}
    return out


def performance(run) -> dict | None:
    """The metric `analyze` would take (its choice rules), with its first, last and best value;
    None when the run has none of the performance roles."""
    from phasewatch.errors import UsageError
    from phasewatch.signals import choose_direction, choose_metric

    try:
        metric = choose_metric(run)
        direction = choose_direction(run, metric)
    except UsageError:
        return None
    series = run.column(metric)
    own = series.name
    if series.size == 0:
        return {"metric": own, "direction": direction, "count": 0, "first_step": None,
                "last_step": None, "first": None, "last": None, "best": None, "best_step": None}
    steps, values = series.steps, series.values
    best = int(np.argmax(values) if direction == "max" else np.argmin(values))
    return {"metric": own, "direction": direction, "count": series.size,
            "first_step": int(steps[0]), "last_step": int(steps[-1]),
            "first": float(values[0]), "last": float(values[-1]), "best": float(values[best]),
            "best_step": int(steps[best])}


def summarize(run) -> dict:
    """The `inspect` JSON contract (without schema_version): the contract's keys, each metric's
    values (`first`, `last`, `min`, `max`) and `performance` added."""
    metrics = run.metric_summary()
    values = metric_values(run)
    empty = {"first": None, "last": None, "min": None, "max": None}
    for name, info in metrics.items():  # in place, each value dict freed as it is merged
        info.update(values.pop(name, empty))  # (a third dict per metric: GBs for 5M metrics)
    return {
        "source": run.source,
        "format": run.format,
        "n_records": run.n_records,
        "n_steps": run.n_steps,
        "metrics": metrics,
        "warnings": list(run.warnings),
        "performance": performance(run),
    }


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def performance_line(perf: dict | None) -> str:
    if perf is None:
        return "performance metric: none of the usual ones (analyze needs --metric)"
    if not perf["count"]:
        return f"performance metric: {perf['metric']} ({perf['direction']}), no finite values"
    better = "higher" if perf["direction"] == "max" else "lower"
    return (f"performance metric: {perf['metric']} ({better} is better), {perf['count']} values "
            f"over steps {perf['first_step']}-{perf['last_step']}: first {_num(perf['first'])}, "
            f"last {_num(perf['last'])}, best {_num(perf['best'])} at step {perf['best_step']}")


def list_runs(path: str, output: str) -> int:
    """A folder of runs: one line (JSON: one summary) per run; a run that cannot be read is
    reported and the others still listed (exit 4 when some failed)."""
    from phasewatch.folders import exit_code, run_each
    from phasewatch.io import read_run
    from phasewatch.output import emit_json

    summaries, failures = run_each([path], lambda run_path: summarize(read_run(run_path)))
    if output == "json":
        emit_json({"source": path, "format": "folder of runs", "runs": summaries,
                   "failed": [f.to_dict() for f in failures]})
        return exit_code(summaries, failures)
    kind = "folder" if Path(path).is_dir() else "store"  # a folder, or an mlflow.db / Trackio .db
    print(f"{path}  [{kind} of {len(summaries) + len(failures)} runs]")
    width = max((len(s["source"]) for s in summaries), default=10)
    for s in summaries:
        perf = s["performance"]
        metric = perf["metric"] if perf else "no performance metric"
        print(f"  {s['source']:<{width}}  {s['format']:<14} {s['n_records']:>8} records "
              f"{s['n_steps']:>8} steps  {len(s['metrics']):>4} metrics  {metric}")
    for f in failures:
        print(f"  {f.source:<{width}}  not readable: {f.error}")
    return exit_code(summaries, failures)


def run(args: argparse.Namespace) -> int:
    from phasewatch.folders import expand
    from phasewatch.io import read_run
    from phasewatch.output import emit_json

    if len(expand([args.path])) > 1:
        return list_runs(args.path, args.output)
    run_ = read_run(args.path)
    summary = summarize(run_)
    if args.output == "json":
        emit_json(summary)
        return 0
    print(f"{summary['source']}  [{summary['format']}]")
    print(f"{summary['n_records']} records, {summary['n_steps']} distinct steps")
    if run_.events:
        print("events: " + ", ".join(f"{e.name}@{e.step}" for e in run_.events))
    print(performance_line(summary["performance"]))
    reverse = {own: canon for canon, own in run_.aliases.items()}
    metrics = summary.pop("metrics")  # each metric's dict freed once its row is made
    rows = []
    for name in list(metrics):
        info = metrics.pop(name)
        rows.append((name, str(info["count"]),
                     "-" if info["first_step"] is None else f"{info['first_step']}-{info['last_step']}",
                     _num(info["first"]), _num(info["last"]), _num(info["min"]), _num(info["max"]),
                     reverse.get(name, "")))
    header = ("metric", "count", "steps", "first", "last", "min", "max", "role")
    widths = [max(len(header[i]), max((len(r[i]) for r in rows), default=0)) for i in range(7)]
    # one format call per row, one write for the table (a log of 1e6 metric names)
    line = "  ".join([f"{{:<{widths[0]}}}", *(f"{{:>{w}}}" for w in widths[1:]), "{}"])
    print(line.format(*header).rstrip())
    for lo in range(0, len(rows), 1 << 16):  # in pieces: one string of 5M lines is GBs
        sys.stdout.write("".join(line.format(*row).rstrip() + "\n" for row in rows[lo:lo + (1 << 16)]))
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    return 0
