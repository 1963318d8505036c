"""`phasewatch report PATH|GLOB ... -o report.html`: one self-contained HTML page for a sweep."""

from __future__ import annotations

import argparse
import sys

HELP = "one self-contained HTML report (table, phases of every run, seeds, hyperparameters)"


def configure(parser: argparse.ArgumentParser) -> None:
    from phasewatch.commands.sweep import add_run_arguments

    add_run_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="REPORT.html",
                        help="the HTML file to write")
    parser.add_argument("--title", help="the page's title (default: phasewatch sweep report)")
    parser.add_argument("--band", choices=("ci95", "sd", "se", "minmax"), default="ci95",
                        help="the seed groups' band, as plot's --band (default: the 95%% "
                        "confidence interval of the mean)")


def run(args: argparse.Namespace) -> int:
    from phasewatch.commands.sweep import check_output, collect, exit_code, written
    from phasewatch.errors import UsageError
    from phasewatch.report import write_report

    if not args.output.lower().endswith((".html", ".htm")):
        raise UsageError(f"{args.output}: the report is HTML; give -o REPORT.html")
    check_output(args.output)
    results = collect(args, detail=True)
    size = written(args.output,
                   lambda: write_report(results, args.output, args.title, args.band))
    unit = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    from phasewatch.output import counted

    print(f"phasewatch: report of {counted(len(results), 'run')} -> {args.output} ({unit})",
          file=sys.stderr)
    return exit_code([r["row"] for r in results])
