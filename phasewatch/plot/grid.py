"""The grid layout of the comparison: small multiples, one panel per run with its own phase
bands, baseline, recommended stop and outliers; nothing of one run on another's panel. Shared
x and y axes only when every panel shows the same metric (arms of one experiment); runs of
different metrics (a verl score beside a TRL reward) each keep their own step range."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator

from phasewatch.plot import _draw, _phase_bands
from phasewatch.plot._runs import (
    NEUTRAL,
    draw_run,
    lines_note,
    mark_stop,
    same_metric,
    series_or_none,
)
from phasewatch.plot.data import attach
from phasewatch.plot.layout import freeze_layout
from phasewatch.plot.phase import outlier_steps
from phasewatch.plot.style import MAIN_HEIGHT, PANEL_HEIGHT, figure_size, paper_style
from phasewatch.plot.ylabels import fit_ylabels
from phasewatch.xaxis import axis_label, in_step_unit, shared_step_unit, step_unit

GRID_ROW_HEIGHT = 1.25  # inches per row of small multiples


SHARED_X_SPAN = 1 / 3  # the shortest run's steps at least this share of the longest's


def grid_figure(runs, own, analyses, groups, size, smoothing, raw, ncols, title, xlim, ylim) -> Figure:
    n = len(runs)
    if ncols is None:
        ncols = min(n, 3 if size == "full" else 2)
    nrows = -(-n // ncols)
    if isinstance(size, str) and size in MAIN_HEIGHT:
        width, _ = figure_size(size)
        height = nrows * GRID_ROW_HEIGHT + PANEL_HEIGHT[size] * 0.6
    else:
        width, height = figure_size(size)
    shared_y = len({_draw.metric_label(m) for m in own}) == 1
    label_of = {i: label for label, _, members in groups for i in members}
    # each run has a panel and a title of its own: its colour, its line solid (a dashed line
    # would hide the shape the panel is there to show)
    color_of = {i: style.color for _, style, members in groups for i in members}
    spans = [(float(s.index[0]), float(s.index[-1])) if (s := series_or_none(r, m)) is not None
             else None for r, m in zip(runs, own)]
    first = min(span[0] for span in spans if span is not None)
    last = max(span[1] for span in spans if span is not None)
    lengths = [b - a for a, b in (span for span in spans if span is not None)]
    # one step axis for runs of about the same length that count the same thing (epochs or
    # steps); a run of 1,000 steps beside one of 28,000 would be a sliver at its panel's left
    same_unit = len({step_unit(r, m) for r, m in zip(runs, own)}) == 1
    shared_x = shared_y and same_unit and min(lengths) >= SHARED_X_SPAN * max(lengths)
    asked, smoothing = smoothing, smoothing.resolved(first, last, xlim)
    unit = shared_step_unit(zip(runs, own))  # what the steps of a shared axis count
    with paper_style():
        fig = _draw.new_figure(width, height)
        data = attach(fig)
        grid = fig.subplots(nrows, ncols, sharex=shared_x, sharey=shared_y, squeeze=False)
        axes = grid.ravel().tolist()
        meaning = {"raw": False, "baseline": False, "stop": False, "outlier": False}
        events: dict[str, Line2D] = {}
        bands = []
        lines = []  # (label, smoothing, steps) of each run's line, for the legend's note
        # a loss spanning decades on a log axis (`_draw.log_axis_if_spanning`): every panel's
        # values together where the panels share one y axis
        logged = [s.to_numpy() if (s := series_or_none(r, m)) is not None else np.empty(0)
                  for r, m in zip(runs, own)]
        lower = [analysis.direction == "min" for analysis in analyses]
        for p, (ax, run, metric, analysis) in enumerate(zip(axes, runs, own, analyses)):
            label, color = label_of[p], color_of[p]
            _draw.log_axis_if_spanning(ax, np.concatenate(logged) if shared_y else logged[p],
                                       all(lower) if shared_y else lower[p])
            series = series_or_none(run, metric)  # sparse: joined by lines, as in its own figure
            steps = None if series is None else series.index.to_numpy(dtype=float)
            drawn_with = asked.for_series(steps, smoothing, xlim)
            lines.append((label, drawn_with, steps))
            drawn = draw_run(ax, p, data, run, label, metric, color, drawn_with, raw, analysis)
            meaning["raw"] |= raw and drawn is not None
            mine = drawn is not None and same_metric(run, analysis.metric, metric)
            bands.append(analysis.phases if mine else [])
            if mine:  # this run's analysis, on this run's panel only
                _phase_bands.draw_phase_bands(ax, analysis.phases)
                for ph in analysis.phases:
                    data.add(p, label, analysis.metric, f"phase:{ph.name}", [ph.start_step],
                             None, [ph.end_step])
                if analysis.baseline is not None and np.isfinite(analysis.baseline):
                    ax.axhline(analysis.baseline, zorder=1, gid="baseline", **_draw.BASELINE_STYLE)
                    meaning["baseline"] = True
                    data.add(p, label, analysis.metric, "baseline", [drawn[0][0]], [analysis.baseline])
                y = mark_stop(ax, *drawn, analysis.recommended_stop_step, color)
                if y is not None:
                    meaning["stop"] = True
                    data.add(p, label, analysis.metric, "stop", [analysis.recommended_stop_step], [y])
                out = outlier_steps(analysis)
                values = _draw.draw_outliers(ax, series_or_none(run, metric), out, color)
                if values:
                    meaning["outlier"] = True
                    data.add(p, label, analysis.metric, "outlier", out[:len(values)], values)
            for name, handle in _draw.draw_events([ax], run.events).items():
                events.setdefault(name, handle)
            if not shared_y or p % ncols == 0:
                ax.set_ylabel(_draw.metric_label(metric, analysis.direction))
        for ax in axes[n:]:
            ax.set_visible(False)
        for ax, span in zip(axes[:n], spans):
            _draw.step_xlim(ax, *(span if not shared_x and span is not None else (first, last)))
        _draw.apply_limits(axes[:n], xlim, None)
        if ylim is not None:
            for ax in axes[:n]:
                _draw.user_ylim(ax, ylim)
        for i, ax in enumerate(axes[:n]):
            if i + ncols >= n or not shared_x:  # nothing below shares this panel's step axis
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel(axis_label(step_unit(runs[i], own[i]) if not shared_x else unit))
        seen = _draw.in_view(axes[:n])
        meaning["stop"] &= "stop" in seen
        meaning["outlier"] &= "outlier" in seen
        events = {name: h for name, h in events.items() if f"event:{name}" in seen}
        note = lines_note(smoothing, lines).removeprefix("lines: ")
        handles = [Line2D([], [], color=NEUTRAL, linewidth=1.2, label=in_step_unit(note, unit))]
        if meaning["raw"]:
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=2.5,
                                  color=NEUTRAL, alpha=0.5, markeredgewidth=0, label="raw values"))
        if meaning["baseline"]:
            handles.append(Line2D([], [], label="baseline", **_draw.BASELINE_STYLE))
        if meaning["stop"]:
            handles.append(Line2D([], [], color=NEUTRAL, label="recommended stop", **_draw.STOP_STYLE))
        if meaning["outlier"]:
            handles.append(_draw.outlier_handle())
        handles += list(events.values())
        _draw.fit_legend(fig, handles, max_cols=3)
        if title:
            _draw.fit_suptitle(fig, title)
        # Titles go above the phase labels, which need the laid-out axes widths first.
        if fit_ylabels(fig, [ax for ax in axes[:n] if ax.get_ylabel()]):
            fig.canvas.draw()
        labels = [_phase_bands.label_phases(ax, phases, draw=False) for ax, phases in zip(axes, bands)]
        pad = max(_phase_bands.labels_height_pt(texts) for texts in labels) + 1.5  # aligned titles
        names = [label_of[i] for i in range(n)]
        for i, (ax, run) in enumerate(zip(axes, runs)):
            name = names[i]
            if names.count(name) > 1:  # seeds of one group: say which run
                name = f"{name} \u00b7 {run.name or run.source}"
            _draw.fit_title(ax, name, fontweight="bold", pad=pad)
        _pin_yticks(fig, axes[:n])
        freeze_layout(fig)
    return fig


def _pin_yticks(fig: Figure, axes) -> None:
    """Keep the y ticks the panels have at (about) their final size. The layout measures the
    tick labels at the size the panels had before it, and the ticks depend on that size: with
    5 rows of runs they went from 0.2 apart ('0.4') to 0.25 apart ('0.25'), wider than the
    layout left room for, and the y labels left the canvas. Kept after the layout too, as the
    layout itself is (`freeze_layout`): freed, the ticks flipped back at another row count."""
    fig.canvas.draw()
    for ax in axes:
        ax.yaxis.set_major_locator(FixedLocator(ax.get_yticks()))
