"""`phasewatch plot PATH [PATH ...] -o FILE.(pdf|png|svg)`: paper figures from the command line.

One PATH draws its phase figure; several draw a comparison of the runs. `--kind tokens` draws
the expert-token probability figure of one run folder. The figure is written at its final size
(`--size single|full|WxH`) with Type 42 fonts and fixed metadata, so the same input gives the
same bytes. `--data FILE.csv` writes the plotted series and bands beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings

from phasewatch.commands.options import (
    add_noise_arguments,
    add_phase_arguments,
    noise_options,
    phase_options,
)
from phasewatch.errors import InputError, UsageError

HELP = "draw a paper figure: one run's phases, a comparison of runs, or its expert-token probabilities"
KINDS = ("phase", "compare", "tokens")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files or run folders")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="output file; the format comes from its extension: .pdf, .png or .svg")
    parser.add_argument("--metric", action="append", metavar="M",
                        help="metric to draw (repeatable). phase: the first is analysed, the others "
                             "become stacked panels; compare: one panel per metric")
    parser.add_argument("--direction", choices=("max", "min"),
                        help="whether higher or lower is better (default: from the metric's name)")
    parser.add_argument("--aggregate", choices=("mean",),
                        help="when the metric names several validation sets or --metric is a "
                        "glob: analyse and draw their mean (default: the first, with a warning)")
    parser.add_argument("--x", choices=("step", "epoch", "tokens", "samples"), dest="x_unit",
                        help="x axis in this unit, read from the counter the log carries "
                        "(default: step; epoch for HF console logs); several runs are overlaid "
                        "on one such axis, each placed by its own log's counter")
    parser.add_argument("--kind", choices=KINDS,
                        help="figure kind (default: phase for one PATH, compare for several)")
    parser.add_argument("--layout", choices=("overlay", "grid"), default="overlay",
                        help="compare: all runs on one axis, or one small panel per run with its phases")
    parser.add_argument("--size", default="single",
                        help="'single' (3.3 in wide), 'full' (6.75 in) or WIDTHxHEIGHT in inches")
    parser.add_argument("--panels", choices=("auto", "none"), default="auto",
                        help="phase: extra panels (expert NLL, entropy, response length) when "
                             "logged; two or more --metric choose the panels instead")
    parser.add_argument("--smoothing", choices=("gaussian", "ema", "none"), default="gaussian",
                        help="smoothing drawn over the raw points (stated in the legend)")
    parser.add_argument("--smoothing-width", type=float, metavar="STEPS",
                        help="Gaussian sd or EMA half-life in training steps, the same in every "
                             "panel (default: 1/60 of the drawn steps)")
    parser.add_argument("--label", action="append", metavar="NAME",
                        help="name of the run in the legend/titles, one per PATH in order "
                             "(repeatable); runs with the same label are seeds of one group")
    parser.add_argument("--band", choices=("ci95", "sd", "se", "minmax"), default="ci95",
                        help="compare: a seed group's band around the mean of its seeds: the 95%% "
                        "confidence interval of the mean (t; default), +-1 sd of the seeds, +-1 "
                        "standard error, or their range; cut at the metric's known bounds")
    parser.add_argument("--xlim", metavar="LO,HI",
                        help="step axis limits, e.g. 0,1500 (in the --x unit when several "
                        "runs are overlaid in it)")
    parser.add_argument("--ylim", metavar="LO,HI", help="y limits of the (first) metric's panel")
    parser.add_argument("--data", metavar="FILE.csv",
                        help="also write the plotted series, bands and markers as CSV")
    parser.add_argument("--token-kind", choices=("heatmap", "quantiles"), default="heatmap",
                        help="tokens: a step x p heatmap or quantile bands")
    parser.add_argument("--dpi", type=int, default=300, help="resolution of PNG output (default 300)")
    parser.add_argument("--title", help="a title above the figure (papers usually use the caption)")
    add_phase_arguments(parser)
    add_noise_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from phasewatch import plot
    from phasewatch.commands.sweep import check_output, written
    from phasewatch.each_run import exit_code, expand, run_each
    from phasewatch.io import read_run
    from phasewatch.metric_sets import choose_series
    from phasewatch.output import warn
    from phasewatch.plot.style import figure_size, output_format
    from phasewatch.xaxis import check_comparable, relabel, shared_scaled_axis, x_axis

    output_format(args.output)  # a bad extension is a usage error before any work is done
    figure_size(args.size)
    check_output(args.output)
    if not 30 <= args.dpi <= 1200:
        raise UsageError(f"--dpi must be between 30 and 1200, got {args.dpi}")
    paths = expand(args.paths)  # a folder of runs: each of its runs
    kind = args.kind or ("phase" if len(paths) == 1 else "compare")
    if kind in ("phase", "tokens") and len(paths) != 1:
        raise UsageError(f"--kind {kind} draws one run, got {len(paths)} runs "
                         "(use --kind compare for several)")
    size = args.size if args.size in ("single", "full") else figure_size(args.size)
    xlim, ylim = _limits("--xlim", args.xlim), _limits("--ylim", args.ylim)
    labels = args.label or []
    if labels and len(labels) != len(paths):  # which run would a missing label belong to?
        raise UsageError(f"got {len(labels)} --label for {len(paths)} paths: give one per path "
                         "(the same label for the seeds of one group), or none")
    label_of = dict(zip(paths, labels))  # a run left out (unreadable) takes its label with it
    if args.data and not args.data.lower().endswith(".csv"):
        raise UsageError(f"--data writes CSV: the name must end in .csv, got {args.data!r}")
    check_output(args.data)
    try:
        smoothing = plot.Smoothing(args.smoothing, args.smoothing_width)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    metrics = args.metric or []
    # the phases drawn are the ones `analyze` finds with the same options
    options = {**phase_options(args), **noise_options(args)}

    def load(path: str):
        """(run, its analysis or None): a run that cannot be read or analysed is reported and
        left out of the figure (exit 4)."""
        if kind == "tokens":  # a folder holding only a token store is drawn too
            from phasewatch.tokens.sources import run_or_store

            return run_or_store(path), None, path
        run_ = read_run(path)
        choice = choose_series(run_, metrics[0] if metrics else None, args.aggregate)
        analysis = plot.analyze(choice.run, choice.metric, args.direction, **options)
        for message in choice.warnings:
            warn(f"{run_.source}: {message}")
        return choice.run, analysis, path

    loaded, failures = run_each(paths, load)
    if not loaded:
        return exit_code(loaded, failures)
    runs = [r for r, _, _ in loaded]
    analyses = [a for _, a, _ in loaded]
    if kind == "compare":
        metrics = _compared_metrics(metrics, analyses, args.aggregate)
    labels = [label_of.get(path) for _, _, path in loaded]
    axis = shared_scaled_axis(runs, args.x_unit) if len(runs) > 1 else None
    # several runs on an axis of epochs, tokens or samples: each placed by its own counter
    placed_in = args.x_unit if len(runs) > 1 and axis is None and args.x_unit != "step" else None
    if len(runs) > 1 and placed_in is None:
        check_comparable(runs)
    if placed_in is None:
        drawn = analyses[0] if len(runs) == 1 else None  # its metric: epochs beside batches?
        axis = axis or x_axis(runs[0], args.x_unit, getattr(drawn, "metric", None))
    for run_, analysis in zip(runs, analyses):
        # what analyze says beside its phases: lines the reader skipped, then the analysis's own
        # (a baseline step that is not there, outliers left out...), which the figure draws
        for message in [*run_.warnings, *(analysis.warnings if analysis is not None else [])]:
            warn(f"{run_.source}: {message}")
    with _drawable(paths), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "tokens":
            fig = plot.token_figure(runs[0], kind=args.token_kind, size=size, title=args.title,
                                    xlim=xlim)
        elif kind == "phase":
            analysis = analyses[0]
            panels = metrics[1:] if len(metrics) > 1 else args.panels
            fig = plot.phase_figure(runs[0], analysis, panels=panels, size=size,
                                    smoothing=smoothing, title=args.title, xlim=xlim, ylim=ylim)
        else:
            fig = plot.compare_figure(runs, metrics or None, analyses=analyses, layout=args.layout,
                                      size=size, smoothing=smoothing, title=args.title,
                                      labels=labels, xlim=xlim, ylim=ylim,
                                      analyze_options=options, band=args.band,
                                      x_unit=placed_in)
    relabel(fig, axis)
    if axis is not None:  # the CSV gives x in the unit the figure shows, beside the step
        plot.figure_data(fig).set_x_unit(axis.unit, axis.at)
        plot.phase.stop_in_unit(fig, axis.unit, axis.at)
        plot.smoothing.widths_in_unit(fig, axis)
    for message in caught:
        warn(str(message.message))
    with _drawable(paths):
        written(args.output, lambda: plot.save_figure(fig, args.output, dpi=args.dpi))
    width, height = fig.get_size_inches()
    print(f"phasewatch: wrote {args.output} ({width:.2f} x {height:.2f} in)", file=sys.stderr)
    if args.data:
        written(args.data, lambda: plot.save_data(fig, args.data))
        print(f"phasewatch: wrote {args.data} (the figure's data)", file=sys.stderr)
    return exit_code(loaded, failures)


def _compared_metrics(metrics: list[str], analyses, aggregate: str | None) -> list[str]:
    """The comparison's panels: a first `--metric` that is a glob or taken with `--aggregate`
    names a different series in each run (a set, or the mean of its sets), which the runs'
    analyses say: one name shared by all of them is that panel; else, alone, each run is drawn
    with its own analysed series (`compare.analysed_metric`)."""
    if not metrics or not (aggregate or any(c in metrics[0] for c in "*?[")):
        return metrics
    names = {a.metric for a in analyses}
    if len(names) == 1:
        return [names.pop(), *metrics[1:]]
    if len(metrics) == 1:
        return []
    raise UsageError(f"--metric {metrics[0]} names different series in these runs "
                     f"({', '.join(sorted(names))}), so it cannot be one panel beside the "
                     "other --metric panels; plot it alone, or name one series")


def _limits(option: str, text: str | None) -> tuple[float, float] | None:
    """'LO,HI' -> (lo, hi); a usage error naming the option otherwise."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise UsageError(f"{option} must be LO,HI (two numbers), got {text!r}") from None
    if not lo < hi:
        raise UsageError(f"{option} needs LO < HI, got {text!r}")
    return lo, hi


@contextlib.contextmanager
def _drawable(paths):
    """Values near the float limit (+-1.8e308) make an axis span overflow: matplotlib's
    transforms turn singular (LinAlgError). That is the log's content, not a bug: exit 3."""
    import numpy as np

    try:
        yield
    except (np.linalg.LinAlgError, OverflowError) as exc:
        raise InputError("cannot draw these values: they come near the float limit (about "
                         "+-1.8e308), more than an axis can span; check the log or plot "
                         "another --metric", paths[0] if len(paths) == 1 else None) from exc
