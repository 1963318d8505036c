"""`phasewatch sweep PATH|GLOB ...`: many runs -> one table (one row per run)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

HELP = "analyse many runs into one table (CSV, Parquet, JSON), locally or on a Dask cluster"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments `sweep` and `report` share: the runs, analyze's options, the engine."""
    parser.add_argument("paths", nargs="+", metavar="PATH|GLOB",
                        help="run folders, log files, globs of them ('runs/*'), folders of runs, "
                        "or fsspec URLs (s3://, gs://, memory://, file://)")
    parser.add_argument("--metric", help="performance metric (default: each run's own, as analyze)")
    parser.add_argument("--direction", choices=("max", "min"),
                        help="whether higher (max) or lower (min) is better (default: as analyze)")
    parser.add_argument("--aggregate", choices=("mean",),
                        help="when the metric names several validation sets or --metric is a "
                        "glob: analyse their mean (default: the first, with a warning), as analyze")
    parser.add_argument("--baseline", default="first", metavar="first|mean-of-first:K|step:S",
                        help="the starting level, as analyze")
    parser.add_argument("--keep-outliers", action="store_true", help="as analyze")
    parser.add_argument("--penalty", type=float, metavar="P", help="as analyze")
    parser.add_argument("--noise-sd", type=float, metavar="SD",
                        help="the sd of one evaluation, the same for every run (as analyze)")
    parser.add_argument("--eval-size", type=int, metavar="N",
                        help="items every run's rate is evaluated on (as analyze)")
    parser.add_argument("--pool-noise", action="store_true",
                        help="one noise sd for every run, the median over the runs of each one's "
                        "second-difference sd (as analyze; reads every run once more, in this "
                        "process, first)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="local worker processes (default: all CPUs; 1: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on an existing Dask cluster (tcp://host:8786) instead; needs "
                        "the dask extra, and the workers must be able to read the paths")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def configure(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("-o", "--output", metavar="TABLE",
                        help="write the table here: .csv, .parquet or .json (default: CSV on stdout)")
    parser.add_argument("--format", choices=("csv", "parquet", "json"),
                        help="table format (default: from the output's extension)")
    parser.add_argument("--by-config", action="store_true",
                        help="one row per configuration instead of per run: the seeds of one "
                        "configuration (as the report's seed groups) as the mean, sd and count "
                        "of each phase number (dip_depth_mean, time_to_recover_sd...)")


def collect(args: argparse.Namespace, detail: bool = False) -> list[dict]:
    """Expand the paths and analyse every run with the chosen engine."""
    from phasewatch.changepoint import checked_penalty
    from phasewatch.errors import UsageError
    from phasewatch.known_noise import checked_noise_options
    from phasewatch.phase_stats import Baseline
    from phasewatch.sweep import SweepOptions, expand_paths, run_tasks

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    Baseline.parse(args.baseline)  # a bad spelling is a usage error now, not one per row
    checked_penalty(args.penalty)
    checked_noise_options(args.noise_sd, args.eval_size)
    paths = expand_paths(args.paths)
    noise_sd = pooled_noise(paths, args) if args.pool_noise else args.noise_sd
    options = SweepOptions(metric=args.metric, direction=args.direction,
                           aggregate=args.aggregate, baseline=args.baseline,
                           keep_outliers=args.keep_outliers, penalty=args.penalty,
                           noise_sd=noise_sd, eval_size=args.eval_size, detail=detail)
    results = run_tasks(paths, options, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.no_progress)
    failed = [r["row"] for r in results if r["row"].get("error")]
    for row in failed:
        error = row["error"]
        where = "" if error.startswith(row["path"]) else f"{row['path']}: "
        print(f"phasewatch: warning: {where}{error}", file=sys.stderr)
    return results


def pooled_noise(paths: list[str], args: argparse.Namespace) -> float:
    """`--pool-noise`: `known_noise.pooled_sd` over the runs of the sweep, each read here as its
    task reads it; a run that cannot be read is left out (its row says why)."""
    from phasewatch.commands.analyze import check_pool_noise
    from phasewatch.io import read_run
    from phasewatch.known_noise import pooled_noise_of
    from phasewatch.metric_sets import choose_series
    from phasewatch.sweep.paths import local_path

    def read(path: str):
        with local_path(path) as local:
            choice = choose_series(read_run(local), args.metric, args.aggregate)
            return choice.run, choice.metric

    check_pool_noise(args)
    sd, runs = pooled_noise_of(paths, read, args.direction, args.keep_outliers)
    print(f"phasewatch: noise sd {sd:.4g} pooled over {runs} runs", file=sys.stderr)
    return sd


def check_output(path: str | None) -> None:
    """A usage error, before any run is read, for an output file that cannot be written: its
    folder does not exist, or it is a folder (`sweep`, `report` and `plot` write one file)."""
    from pathlib import Path

    from phasewatch.errors import UsageError

    if path in (None, "-"):
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder; give a file name in it")
    folder = target.resolve().parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")


def written(path: str, write: Callable[[], T]) -> T:
    """`write()`'s result; an OS error (permissions, a full disk) said as what it is: a usage
    error that this output cannot be written, not a log that cannot be read."""
    from phasewatch.errors import UsageError

    try:
        return write()
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    from phasewatch.sweep import build_table, write_table
    from phasewatch.sweep.table import output_format

    fmt = output_format(args.output, args.format)  # before the work: a typo fails fast
    check_output(args.output)
    results = collect(args)
    table = build_table([r["row"] for r in results])
    if args.by_config:
        from phasewatch.sweep import by_config

        configs = by_config(table)
        written(args.output, lambda: write_table(configs, args.output, fmt, "configs"))
    else:
        written(args.output, lambda: write_table(table, args.output, fmt))
    from phasewatch.output import counted
    from phasewatch.sweep.row import failures

    rows = [r["row"] for r in results]
    what = f" in {counted(len(configs), 'configuration')}" if args.by_config else ""
    where = "" if args.output in (None, "-") else f" -> {args.output}"
    print(f"phasewatch: {counted(len(table), 'run')} ({failures(rows)}){what}{where}",
          file=sys.stderr)
    return exit_code(rows)


def exit_code(rows: list[dict]) -> int:
    """0 when any run was analysed (the others' rows say what went wrong); when none was, 70 if
    one met a bug (`sweep.row`'s "internal error (...)"), 2 if every log was read (none has a
    metric phasewatch knows by name: `--metric`, as `analyze` exits for one such log), else 3."""
    from phasewatch.errors import InputError, PhasewatchError, UsageError
    from phasewatch.sweep.row import INTERNAL_ERROR

    if not rows or not all(row.get("error") for row in rows):
        return 0
    if any(str(row["error"]).startswith(INTERNAL_ERROR) for row in rows):
        return PhasewatchError.exit_code
    return UsageError.exit_code if all(row.get("format") for row in rows) else InputError.exit_code
