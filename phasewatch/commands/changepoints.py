"""`phasewatch changepoints PATH --metric M [--metric M2 ...]`: change points of any series."""

from __future__ import annotations

import argparse

import numpy as np

HELP = "change points of one series, or one joint segmentation of several (--metric repeated)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a log file or a run folder")
    parser.add_argument("--metric", action="append", required=True, metavar="M",
                        help="metric to segment; repeat for a joint segmentation")
    parser.add_argument("--model", choices=("linear", "mean", "normal", "kernel"), default="normal",
                        help="what a change is: normal = level, slope or variance (default), "
                             "linear = level or slope, mean = level only, kernel = any change "
                             "of the distribution (ruptures' kernel detection)")
    parser.add_argument("--penalty", type=float, default=None,
                        help="penalty per change point, in units of the noise-scaled cost "
                             "(default: automatic, BIC-style on the robust noise scale)")
    parser.add_argument("--min-size", type=int, default=None,
                        help="fewest points in a segment (default: max(5, n/100))")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="output")


def aligned(run, metrics: list[str]) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Steps where every metric has a finite value, the (n, d) values, own names, warnings."""
    own = [run.resolve_metric(m) for m in metrics]
    columns = [run.column(m) for m in metrics]
    steps = columns[0].steps
    for column in columns[1:]:
        steps = np.intersect1d(steps, column.steps, assume_unique=True)
    values = np.empty((steps.size, len(columns)), dtype=np.float64)
    for k, column in enumerate(columns):
        values[:, k] = column.values if column.size == steps.size else \
            column.values[np.searchsorted(column.steps, steps)]
    warnings = []
    if len(metrics) > 1:
        counts = [len(column) for column in columns]
        if steps.size < max(counts):
            warnings.append(f"segmented the {steps.size} steps where all of {', '.join(own)} "
                            f"have finite values (of {max(counts)})")
    return np.array(steps, dtype=np.int64), values, own, warnings


def segment(run, metrics: list[str], model: str = "normal", penalty: float | None = None,
            min_size: int | None = None) -> dict:
    """The `changepoints` JSON contract (without schema_version) for `run`."""
    from phasewatch.changepoint import Segmenter

    steps, values, own, warnings = aligned(run, metrics)
    seg = Segmenter(model=model, penalty=penalty, min_size=min_size).fit(steps, values)
    return {
        "source": run.source,
        "metrics": own,
        "changepoints": [c.to_dict() for c in seg.changepoints],
        "method": seg.method,
        "penalty": seg.penalty,
        "warnings": warnings + seg.warnings,
    }


def run(args: argparse.Namespace) -> int:
    from phasewatch.io import read_run
    from phasewatch.output import emit_json

    if args.min_size is not None and args.min_size < 2:
        from phasewatch.errors import UsageError

        raise UsageError("--min-size must be at least 2")
    result = segment(read_run(args.path), args.metric, args.model, args.penalty, args.min_size)
    if args.output == "json":
        emit_json(result)
        return 0
    print(f"{result['source']}  {', '.join(result['metrics'])}  "
          f"[{result['method']}, penalty {result['penalty']:.3g}]")
    if not result["changepoints"]:
        print("  no change points")
    for cp in result["changepoints"]:
        print(f"  step {cp['step']:>8}   interval [{cp['low']}, {cp['high']}]")
    for warning in result["warnings"]:
        print(f"  warning: {warning}")
    return 0
