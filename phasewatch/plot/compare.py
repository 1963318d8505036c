"""The comparison figure: several training runs (SFT-then-RL, CHORD-mu, CHORD-phi, RL, SFT, or
any logs phasewatch reads).

Two layouts:
- "overlay": one axis per metric (panels stacked, shared step axis): best for reading which run
  ends higher and how deep each one dips. Without `metrics`, each run is drawn with its own
  performance metric and runs whose metrics differ get panels of their own (a verl score, a TRL
  reward and an accuracy are not one quantity).
- "grid" (phasewatch.plot.grid): small multiples, one panel per run with its own phase bands
  and baseline.
Nothing of one run is drawn where that run is not: events, bands, baselines and stops belong
to the panel that shows the run. Runs with the same label are seeds of one group, drawn as
their mean with a confidence band (phasewatch.plot.seeds); without labels, only the seeds of one
configuration are (`entries.entry_groups`). Each arm has one fixed colour.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from phasewatch.errors import UsageError
from phasewatch.plot import _draw
from phasewatch.plot._runs import (
    NEUTRAL,
    draw_run,
    flat_note,
    lines_note,
    mark_stop,
    same_metric,
    series_or_none,
    warn_scales,
)
from phasewatch.plot.data import attach
from phasewatch.plot.entries import entry_groups
from phasewatch.plot.grid import grid_figure
from phasewatch.plot.layout import freeze_layout
from phasewatch.plot.phase import analysed_run, analyze, outlier_steps
from phasewatch.plot.placed import placed, positions, same_placement
from phasewatch.plot.seed_group import draw_group
from phasewatch.plot.seeds import BANDS, band_label, joined_cuts
from phasewatch.plot.smoothing import (
    DEFAULT_SMOOTHING,
    DENSE_POINTS,
    Smoothing,
    rate_of,
    widths_said_in,
)
from phasewatch.plot.style import (
    figure_size,
    paper_style,
)
from phasewatch.plot.ylabels import fit_ylabels
from phasewatch.presets import hf_spellings, named_by_its_own
from phasewatch.results import Analysis
from phasewatch.run import Run
from phasewatch.signals import choose_direction, choose_metric
from phasewatch.xaxis import axis_label, in_step_unit, one_counter, shared_step_unit, step_unit

LAYOUTS = ("overlay", "grid")
LEGEND_ROW_HEIGHT = 0.14  # inches per extra row of legend entries
VARIED_HANDLE = 3.0  # legend line length (font sizes) when runs differ by line style


def compare_figure(
    runs: Sequence[Run],
    metrics: Sequence[str] | None = None,
    *,
    analyses: Sequence[Analysis] | None = None,
    layout: str = "overlay",
    size: str | tuple[float, float] = "single",
    smoothing: Smoothing = DEFAULT_SMOOTHING,
    raw: bool = True,
    ncols: int | None = None,
    title: str | None = None,
    labels: Sequence[str | None] | None = None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    level: float = 0.95,
    analyze_options: Mapping[str, Any] | None = None,
    band: str = "ci95",
    x_unit: str | None = None,
) -> Figure:
    """Compare runs; returns the Figure (`phasewatch.plot.figure_data(fig)`: what it drew).

    `metrics`: one panel per metric in "overlay"; "grid" uses the first. Without them each run
    shows its own performance metric, or the series its analysis analysed when that is another
    (the mean of its validation sets). `analyses` (one per run) add each run's recommended stop
    (overlay) or its phase bands and baseline (grid; computed when not given). `labels` name
    the runs in the legend and titles (default: the arm or run name); runs with one label are
    seeds, drawn as their mean and a `band` (`seeds.band_limits`: `ci95`, the `level`
    confidence interval of the mean; `sd`, `se`, `minmax`), cut at the metric's known bounds,
    with the mean's recommended stop (without labels: the seeds of one configuration, see
    `entries.entry_groups`).
    `x_unit` ("epoch", "tokens", "samples"; overlay): one axis in that unit, each run placed
    by its own log's counter (`placed.positions`; runs of different batch sizes share epochs,
    not steps), drawn as in steps otherwise, its smoothing that of its own figure.
    `xlim`/`ylim` fix the x axis (in `x_unit` when given) and the first panel's y axis.
    `analyze_options`: the
    options of `phasewatch.analyze` the `analyses` were made with (baseline, keep_outliers,
    penalty, noise_sd...); a seed group's mean and the analyses the grid computes use them too.
    """
    if not runs:
        raise UsageError("compare_figure needs at least one run")
    if layout not in LAYOUTS:
        raise UsageError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if band not in BANDS:
        raise UsageError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    if analyses is not None and len(analyses) != len(runs):
        raise UsageError(f"got {len(analyses)} analyses for {len(runs)} runs")
    if analyses is not None:  # e.g. the mean of a run's validation sets, which its log lacks
        runs = [analysed_run(run, a) for run, a in zip(runs, analyses)]
    options = dict(analyze_options or {})
    given = list(metrics) if metrics else None
    # the metric each run is drawn with when none is given: the one its analysis analysed
    own = [given[0] if given else analysed_metric(run, None if analyses is None else analyses[i])
           for i, run in enumerate(runs)]
    groups = entry_groups(runs, labels, own)
    for metric, members in zip(*_panel_metrics(runs, given if layout == "overlay" else None, own)):
        warn_scales(runs, metric, members, groups)
    if layout == "overlay" and x_unit is None:
        _one_step_axis(runs, own)
    if layout == "grid":
        if x_unit is not None:
            raise UsageError(f"--x {x_unit} places several runs on one axis (the overlay); the "
                             "grid draws each run on an axis of its own: draw each alone with "
                             f"--x {x_unit}")
        if analyses is None:
            analyses = [analyze(r, m, **options) for r, m in zip(runs, own)]
        return grid_figure(runs, own, analyses, groups, size, smoothing, raw, ncols, title, xlim, ylim)
    places = None if x_unit is None else [positions(r, x_unit, m) for r, m in zip(runs, own)]
    return _overlay(runs, given, own, analyses, groups, size, smoothing, raw, title, xlim, ylim,
                    (band, level), options, places, x_unit)


def _one_step_axis(runs: Sequence[Run], own: Sequence[str]) -> None:
    """A usage error where the runs to overlay count different steps (a Keras or YOLO run's
    epochs beside an HF run's optimizer steps): one axis put epoch 20 at step 20, a sliver at
    the left of the other run's 2,800 steps, under the label "training step" (trial 61). The
    grid gives each run an axis of its own, in its own unit."""
    counted: dict[str, list[str]] = {}
    for run, metric in zip(runs, own):
        counted.setdefault(step_unit(run, metric), []).append(str(run.source))
    if len(counted) > 1:
        said = "; ".join(f"{sources[0]}{f' and {len(sources) - 1} more' if len(sources) > 1 else ''}"
                         f" in {unit}s" for unit, sources in counted.items())
        raise UsageError(f"the runs count different steps ({said}), so they share no x axis: "
                         "draw them side by side with --layout grid (layout=\"grid\"), each run "
                         "on an axis of its own, or each alone")


def analysed_metric(run: Run, analysis: Analysis | None) -> str:
    """The run's performance metric (`choose_metric`: canonical names, so runs of several
    frameworks share a panel), unless its analysis analysed another series (the mean of its
    validation sets, `--aggregate mean`; a metric the caller chose): then that one, so the
    line drawn is the series whose stop and phases are marked."""
    chosen = choose_metric(run)
    if analysis is None or same_metric(run, analysis.metric, chosen) \
            or series_or_none(run, analysis.metric) is None:
        return run.resolve_metric(chosen) if by_own_name(run, chosen) else chosen
    return analysis.metric


def by_own_name(run: Run, role: str) -> bool:
    """Whether the run's metric in `role` is drawn under its own name, not the role's, in a
    panel of that name: a role that gathers different metrics (an F1, a WER: `named_by_its_own`)
    is no quantity they share, nor is the accuracy's role when a seq2seq run's BLEU or ROUGE
    takes it (`choice_notes.is_generation_score`: hf-marian-medical-3ev's BLEU was drawn as
    "held-out accuracy" beside a classifier's accuracy)."""
    from phasewatch.choice_notes import is_generation_score

    return named_by_its_own(role) or (role == "eval/accuracy"
                                      and is_generation_score(run.resolve_metric(role)))


def _panel_metrics(runs, given, own) -> tuple[list[str], list[list[int]]]:
    """The overlay's panels: (metric per panel, runs drawn in it)."""
    if given:
        return given, [[i for i, r in enumerate(runs) if series_or_none(r, m) is not None]
                       for m in given]
    panels: list[str] = []
    members: list[list[int]] = []
    for i, metric in enumerate(own):
        # one panel per distinct metric (canonical names make eval_accuracy == eval/accuracy)
        for k, existing in enumerate(panels):
            if existing == metric or existing in hf_spellings(metric):  # eval_f1 == eval/f1
                members[k].append(i)
                break
        else:
            panels.append(metric)
            members.append([i])
    return panels, members


def _panel_direction(runs, own, analyses, metric: str, members: list[int]) -> str:
    """The direction a panel is drawn in: that of the analyses drawn on it (a `--direction`
    given to `plot` included), else the one `analyze` would take (`choose_direction`: the
    Trainer's greater_is_better, DARTS' `Obj/valid` beside `Acc/valid`), not the name alone."""
    for i in members:
        if analyses is not None and analyses[i] is not None \
                and (own[i] == metric or own[i] in hf_spellings(metric)):
            return analyses[i].direction
    return choose_direction(runs[members[0]], metric, None)


def _overlay(runs, given, own, analyses, groups, size, smoothing, raw, title, xlim, ylim,
             band, options, places=None, x_unit=None) -> Figure:
    panels, present = _panel_metrics(runs, given, own)
    for metric, members in zip(panels, present):
        if not members:
            raise UsageError(f"none of the runs has metric '{metric}'")
        missing = [runs[i].source for i in range(len(runs)) if i not in members and given]
        if missing:
            warnings.warn(f"no metric '{metric}' in {', '.join(missing)}; left out of that panel",
                          stacklevel=3)
    for i, run in enumerate(runs):  # the panels share one x axis: one counter per log
        one_counter(run, [run.resolve_metric(m) for m, members in zip(panels, present)
                          if i in members], "draw them in figures of their own")
    all_steps = [s for i in range(len(runs)) for m in panels
                 if (s := series_or_none(runs[i], m)) is not None]
    first = min(float(s.index[0]) for s in all_steps)
    last = max(float(s.index[-1]) for s in all_steps)
    if places is not None:  # the axis' span in the unit; each run smoothed as in its own figure
        ends = [places[i](np.array([float(s.index[0]), float(s.index[-1])]))
                for i in range(len(runs)) for m in panels
                if (s := series_or_none(runs[i], m)) is not None]
        first, last = min(float(e[0]) for e in ends), max(float(e[1]) for e in ends)
    # placed by counters, the figure's span is in no run's steps: each has its own (`_placement`)
    asked, smoothing = smoothing, smoothing if places else smoothing.resolved(first, last, xlim)
    width, height = figure_size(size, n_panels=len(panels) - 1)
    hidden = {"raw": False}  # raw dots of a run with > DENSE_POINTS values bury the other lines
    with paper_style():
        fig = _draw.new_figure(width, height)
        data = attach(fig)
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0].tolist()
        handles: dict[str, object] = {}
        meaning = {"raw": False, "band": False, "stop": False, "mean-stop": False,
                   "outlier": False, "cut": set()}
        varied = False  # more runs than colours: some told apart by their line style
        lines = []  # (label, smoothing, steps) of each line drawn, for the legend's note
        rates = {}  # label -> its counter's unit a step, where the runs are placed by counters
        spans = {}  # panel -> (label, values) of each single run on it (`flat_note`)
        for p, (ax, metric, members) in enumerate(zip(axes, panels, present)):
            logged = [s.to_numpy() for i in members
                      if (s := series_or_none(runs[i], metric)) is not None]
            direction = _panel_direction(runs, own, analyses, metric, members)
            log = _draw.log_axis_if_spanning(
                ax, np.concatenate(logged) if logged else np.empty(0), direction == "min")
            for label, style, group in groups:
                color = style.color
                varied |= style.varied
                group = [i for i in group if i in members]
                if not group:
                    continue
                place, own_smoothing = _placement(runs, group, metric, places, label, x_unit,
                                                  asked, smoothing)
                if place is not None:
                    rates[label] = rate_of(place, np.concatenate(
                        [s.index.to_numpy(dtype=np.float64) for i in group
                         if (s := series_or_none(runs[i], metric)) is not None]))
                with placed(ax, data, place):
                    if len(group) > 1:
                        drawn, cut = draw_group(ax, p, data, [runs[i] for i in group], label,
                                                 metric, style, own_smoothing, band,
                                                 None if analyses is None else
                                                 [analyses[i] for i in group], options)
                        meaning["band"] = True
                        meaning["mean-stop"] |= drawn
                        if cut:
                            meaning["cut"].add(cut)
                        lines.append((label, own_smoothing, None))
                        text = f"{label} (mean of {len(group)})"
                    else:
                        i = group[0]
                        text = label
                        analysis = analyses[i] if analyses is not None else None
                        series = series_or_none(runs[i], metric)
                        show_raw = raw and series is not None and series.size <= DENSE_POINTS
                        hidden["raw"] |= raw and not show_raw
                        # sparse, as its own figure draws it: its evaluations joined by lines
                        steps = None if series is None else series.index.to_numpy(dtype=float)
                        drawn_with = asked.for_series(steps, own_smoothing,
                                                      xlim if place is None else None)
                        lines.append((label, drawn_with, steps))
                        if series is not None:
                            spans.setdefault(p, []).append((label, series.to_numpy()))
                        drawn = draw_run(ax, p, data, runs[i], label, metric, color, drawn_with,
                                         show_raw, analysis, line=style.line())
                        meaning["raw"] |= show_raw
                        if analysis is not None and same_metric(runs[i], analysis.metric, metric):
                            y = mark_stop(ax, *drawn, analysis.recommended_stop_step, color)
                            if y is not None:
                                meaning["stop"] = True
                                data.add(p, label, analysis.metric, "stop",
                                         [analysis.recommended_stop_step], [y])
                            out = outlier_steps(analysis)
                            values = _draw.draw_outliers(ax, series, out, color)
                            if values:
                                meaning["outlier"] = True
                                data.add(p, label, analysis.metric, "outlier",
                                         out[:len(values)], values)
                    handles.setdefault(f"run:{label}", Line2D([], [], color=color, linewidth=1.2,
                                                              label=text, **style.line()))
                    for i in group:  # the group's events, in its colour, on this panel only
                        events = _draw.draw_events([ax], runs[i].events, color=color)
                        for name, handle in events.items():
                            handle.set_color(NEUTRAL)
                            handles.setdefault(f"event:{name}", handle)
            ax.set_ylabel(_draw.metric_label(metric, direction))
            if not log:
                _draw.readable_ylim(ax)
        for ax in axes:
            _draw.step_xlim(ax, first, last)
        _draw.apply_limits(axes, xlim, ylim)
        unit = x_unit or shared_step_unit(zip(runs, own))
        axes[-1].set_xlabel(axis_label(unit))
        if places is not None:  # each run's rows in its own counter's unit
            data.set_x_unit(x_unit, None)
        fig.align_ylabels(axes)
        seen = _draw.in_view(axes)
        meaning["stop"] &= "stop" in seen
        meaning["mean-stop"] &= "mean-stop" in seen
        meaning["outlier"] &= "outlier" in seen
        extra = _meaning_handles(meaning, band)
        legend = [h for k, h in handles.items() if k.startswith("run:")] + extra + \
                 [h for k, h in handles.items() if k.startswith("event:") and k in seen]
        if isinstance(size, str):  # named sizes grow with the legend, not at the data's expense
            legend_rows = -(-len(legend) // (2 if width < 5 else 3))
            fig.set_size_inches(width, height + LEGEND_ROW_HEIGHT * max(0, legend_rows - 1))
        note = lines_note(smoothing, lines, hidden["raw"], meaning["raw"], meaning["band"],
                          (lambda label, text: widths_said_in(text, x_unit, rates[label]))
                          if places is not None else None)
        if flat := flat_note(axes, spans):
            note += "; " + flat
        if varied:  # the handles must be long enough to show a dash-dot
            note += "; " + _repeat_note([style for _, style, _ in groups])
        # placed by their counters, each run's widths are said in the unit already
        note = note if places is not None else in_step_unit(note, unit)
        _draw.fit_legend(fig, legend, max_cols=3, title=note,
                         title_fontsize="small", handlelength=VARIED_HANDLE if varied else None)
        if title:
            _draw.fit_suptitle(fig, title)
        fit_ylabels(fig, axes)
        freeze_layout(fig)
    return fig


def _placement(runs, group, metric, places, label, x_unit, asked, smoothing):
    """(where the group's steps lie on the unit's axis, the smoothing it is drawn with): in
    steps, (None, the figure's); placed by counters, its counter's (one for all its seeds:
    `placed.same_placement`) and the smoothing its own figure has (`asked` resolved over its
    own steps: the figure's steps are no one run's)."""
    if places is None:
        return None, smoothing
    series = [s for i in group if (s := series_or_none(runs[i], metric)) is not None]
    longest = max(series, key=len).index.to_numpy(dtype=np.float64)
    place = same_placement([runs[i] for i in group], [places[i] for i in group], longest,
                           label, x_unit)
    first = min(float(s.index[0]) for s in series)
    return place, asked.resolved(first, max(float(s.index[-1]) for s in series))


def _meaning_handles(meaning: dict[str, Any], band: tuple[str, float]) -> list:
    out = []
    if meaning["raw"]:
        out.append(Line2D([], [], linestyle="none", marker="o", markersize=2.5, color=NEUTRAL,
                          alpha=0.5, markeredgewidth=0, label="raw values"))
    if meaning["band"]:
        cut = joined_cuts(meaning["cut"])  # over the panels: "(cut at 0 and 1)"
        out.append(Patch(facecolor=NEUTRAL, alpha=0.2, linewidth=0,
                         label=band_label(*band) + (f" ({cut})" if cut else "")))
    if meaning["stop"]:
        out.append(Line2D([], [], color=NEUTRAL, label="recommended stop", **_draw.STOP_STYLE))
    if meaning["mean-stop"]:
        out.append(Line2D([], [], color=NEUTRAL, label="stop of the seeds' mean",
                          **{**_draw.STOP_STYLE, "markerfacecolor": NEUTRAL}))
    if meaning["outlier"]:
        out.append(_draw.outlier_handle())
    return out


def _repeat_note(styles) -> str:
    """What tells runs of one colour apart, said where the reader looks for the runs."""
    colours = len({style.color for style in styles})
    by = "line style and marker" if any(style.marker for style in styles) else "line style"
    return f"{len(styles)} lines in {colours} colours: lines of one colour differ by {by}"
