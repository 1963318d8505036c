"""`phasewatch changepoints PATH --metric M [--metric M2 ...]`: change points of any series."""

from __future__ import annotations

import argparse

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


def run(args: argparse.Namespace) -> int:
    from phasewatch.api import changepoints_result
    from phasewatch.output import emit_json

    result = changepoints_result(args.path, args.metric, args.model, args.penalty, args.min_size)
    if args.output == "json":
        emit_json(result)
        return 0
    print(f"{result['source']}  {', '.join(result['metrics'])}  "
          f"[{result['method']}, penalty {result['penalty']:.3g}]")
    if not result["changepoints"]:
        print("  no change points")
    from phasewatch.step_units import step_text, unit_word

    unit = result.get("step_unit", "step")  # an HF console log without steps: its epochs
    for cp in result["changepoints"]:
        print(f"  {unit_word(unit)} {step_text(cp['step'], unit):>8}   interval "
              f"[{step_text(cp['low'], unit)}, {step_text(cp['high'], unit)}]")
    for warning in result["warnings"]:
        print(f"  warning: {warning}")
    return 0
