"""`phasewatch inspect PATH`: what a log holds (format, steps, metrics, warnings)."""

from __future__ import annotations

import argparse

HELP = "show what a log file or run folder holds: format, steps, metrics, warnings"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH",
                        help="a log file, a run folder, or a folder of runs (listed)")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="output")


def summarize(run) -> dict:
    """The `inspect` JSON contract (without schema_version)."""
    return {
        "source": run.source,
        "format": run.format,
        "n_records": run.n_records,
        "n_steps": run.n_steps,
        "metrics": run.metric_summary(),
        "warnings": list(run.warnings),
    }


def list_runs(path: str, output: str) -> int:
    """A folder of runs: one line (JSON: one summary) per run; a run that cannot be read is
    reported and the others still listed (exit 4 when some failed)."""
    from phasewatch.folders import exit_code, run_each
    from phasewatch.io import read_run
    from phasewatch.output import emit_json

    def one(run_path: str) -> dict:
        return summarize(read_run(run_path))

    summaries, failures = run_each([path], one)
    if output == "json":
        emit_json({"source": path, "format": "folder of runs", "runs": summaries,
                   "failed": [f.to_dict() for f in failures]})
        return exit_code(summaries, failures)
    print(f"{path}  [folder of {len(summaries) + len(failures)} runs]")
    width = max(len(s["source"]) for s in summaries) if summaries else 10
    for s in summaries:
        print(f"  {s['source']:<{width}}  {s['format']:<14} {s['n_records']:>8} records "
              f"{s['n_steps']:>8} steps  {len(s['metrics'])} metrics")
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
    reverse = {own: canon for canon, own in run_.aliases.items()}
    width = max((len(m) for m in summary["metrics"]), default=6)
    print(f"{'metric':<{width}}  {'count':>7}  {'first':>8}  {'last':>8}  role")
    for name, info in summary["metrics"].items():
        first = "-" if info["first_step"] is None else info["first_step"]
        last = "-" if info["last_step"] is None else info["last_step"]
        print(f"{name:<{width}}  {info['count']:>7}  {first:>8}  {last:>8}  {reverse.get(name, '')}")
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    return 0
