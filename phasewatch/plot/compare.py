"""The comparison figure: several training arms (SFT-then-RL, CHORD-mu, CHORD-phi, RL, SFT).

Two layouts:
- "overlay": every arm on one axis per metric (panels stacked, shared step axis): best for
  reading which arm ends higher and how deep each one dips.
- "grid": small multiples, one panel per run with its own phase bands, shared x and y axes:
  best for showing that the phases differ between arms.
Each arm has one fixed colour (style.ARM_COLORS) in every figure.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from phasewatch.errors import UsageError
from phasewatch.plot import _draw
from phasewatch.plot.phase import analyze
from phasewatch.plot.smoothing import DEFAULT_SMOOTHING, DENSE_POINTS, Smoothing, unit_for
from phasewatch.plot.style import (
    ARM_LABELS,
    MAIN_HEIGHT,
    PANEL_HEIGHT,
    arm_colors,
    arm_key,
    figure_size,
    paper_style,
)
from phasewatch.presets import default_direction
from phasewatch.results import Analysis
from phasewatch.run import Run
from phasewatch.signals import choose_metric

LAYOUTS = ("overlay", "grid")
GRID_ROW_HEIGHT = 1.25  # inches per row of small multiples
LEGEND_ROW_HEIGHT = 0.14  # inches per extra row of legend entries


def arm_of(run: Run) -> str:
    return arm_key(run.algorithm or run.name or run.source)


def arm_label(run: Run) -> str:
    key = arm_of(run)
    return ARM_LABELS.get(key, run.name or key)


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
) -> Figure:
    """Compare runs; returns the Figure.

    `metrics`: one panel per metric in "overlay" (default: the first run's performance metric);
    "grid" uses the first. `analyses` (one per run) add each run's recommended stop (overlay)
    or its phase bands (grid; computed with analyze_run when not given).
    """
    if not runs:
        raise UsageError("compare_figure needs at least one run")
    if layout not in LAYOUTS:
        raise UsageError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if analyses is not None and len(analyses) != len(runs):
        raise UsageError(f"got {len(analyses)} analyses for {len(runs)} runs")
    metrics = list(metrics) if metrics else [analyses[0].metric if analyses else choose_metric(runs[0])]
    colors = arm_colors([arm_of(r) for r in runs])
    if layout == "grid":
        if analyses is None:
            analyses = [analyze(r, metrics[0]) for r in runs]
        return _grid(runs, metrics[0], analyses, colors, size, smoothing, raw, ncols, title)
    return _overlay(runs, metrics, analyses, colors, size, smoothing, raw, title)


def _draw_run(ax, run: Run, metric: str, color: str, smoothing: Smoothing, raw: bool):
    """Faint raw points and the smoothed line of one run; returns (steps, smoothed) or None."""
    series = _series_or_none(run, metric)
    if series is None:
        return None
    steps = series.index.to_numpy(dtype=np.float64)
    values = series.to_numpy()
    if raw:
        ax.plot(steps, values, linestyle="none", marker="o", markersize=1.4, color=color,
                alpha=0.25, markeredgewidth=0, zorder=2, gid="raw")
    smoothed = smoothing.apply(values, steps, _draw.event_breaks(run.events))
    ax.plot(steps, smoothed, color=color, linewidth=1.2, zorder=3, gid="smoothed")
    return steps, smoothed


def _arms(runs: Sequence[Run]) -> dict[str, list[int]]:
    """Indices of the runs of each arm, arms in order of first appearance."""
    out: dict[str, list[int]] = {}
    for i, run in enumerate(runs):
        out.setdefault(arm_of(run), []).append(i)
    return out


def _draw_seeds(ax, runs: Sequence[Run], metric: str, color: str, smoothing: Smoothing):
    """Several runs of one arm (seeds): each smoothed curve thin and faint, their mean bold and
    the min-max range shaded, on the steps of the longest run. Returns (steps, mean) or None."""
    curves = []
    for run in runs:
        series = _series_or_none(run, metric)
        if series is None:
            continue
        steps = series.index.to_numpy(dtype=np.float64)
        smoothed = smoothing.apply(series.to_numpy(), steps, _draw.event_breaks(run.events))
        ax.plot(steps, smoothed, color=color, linewidth=0.5, alpha=0.45, zorder=2, gid="seed")
        curves.append((steps, smoothed))
    if not curves:
        return None
    grid = max(curves, key=lambda c: c[0].size)[0]
    # Each curve on the common steps, NaN outside its own range (no extrapolation).
    stack = np.vstack([np.where((grid >= s[0]) & (grid <= s[-1]), np.interp(grid, s, y), np.nan)
                       for s, y in curves])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        mean, lo, hi = np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0)
    ax.fill_between(grid, lo, hi, color=color, alpha=0.18, linewidth=0, zorder=1.8, gid="seed-range")
    ax.plot(grid, mean, color=color, linewidth=1.3, zorder=3, gid="smoothed")
    return grid, mean


def _same_metric(run: Run, a: str, b: str) -> bool:
    try:
        return run.resolve_metric(a) == run.resolve_metric(b)
    except UsageError:
        return False


def _series_or_none(run: Run, metric: str):
    try:
        series = run.series(metric)
    except UsageError:
        return None
    return series if series.size else None


def _panel_points(runs: Sequence[Run], metric: str) -> tuple[int, str]:
    """(most points of any run, what a point is) for one panel's metric."""
    present = [s for s in (_series_or_none(r, metric) for r in runs) if s is not None]
    if not present:
        return 0, "point"
    longest = max(present, key=len)
    return longest.size, unit_for(longest.index.to_numpy(), metric)


def _smoothing_note(smoothing: Smoothing, metrics: Sequence[str],
                    points: Sequence[tuple[int, str]], raw: bool) -> str:
    """'lines: Gaussian smooth, sd 1 eval (policy entropy: sd 25 steps); dots: raw evals'.

    Panels whose window is the same number of points, not per-step, are not repeated.
    """
    def window(p: tuple[int, str]) -> tuple[float, bool]:
        return smoothing.resolved_width(p[0]), p[1] == "step"

    note = "lines: " + smoothing.describe(*points[0])
    others = [f"{_draw.metric_label(m)}: {smoothing.describe(*p, short=True)}"
              for m, p in zip(metrics[1:], points[1:]) if window(p) != window(points[0])]
    if others:
        note += " (" + "; ".join(others) + ")"
    return note + f"; dots: raw {points[0][1]}s" if raw else note


def _overlay(runs, metrics, analyses, colors, size, smoothing, raw, title) -> Figure:
    width, height = figure_size(size, n_panels=len(metrics) - 1)
    with paper_style():
        fig = _draw.new_figure(width, height)
        axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0].tolist()
        handles: dict[str, Line2D] = {}
        points = []
        dots = False  # whether any raw points were drawn (the legend says so only then)
        first, last = np.inf, -np.inf
        for ax, metric in zip(axes, metrics):
            missing = [run.source for run in runs if _series_or_none(run, metric) is None]
            if len(missing) == len(runs):
                raise UsageError(f"none of the runs has metric '{metric}'")
            if missing:
                warnings.warn(f"no metric '{metric}' in {', '.join(missing)}; left out of that panel",
                              stacklevel=3)
            points.append(_panel_points(runs, metric))
            dense = points[-1][0] > DENSE_POINTS  # raw dots of several arms would bury the lines
            for arm, members in _arms(runs).items():
                color = colors[arm]
                if len(members) > 1:  # seeds of one arm: their mean and range
                    drawn = _draw_seeds(ax, [runs[i] for i in members], metric, color, smoothing)
                    label = f"{arm_label(runs[members[0]])} (mean, range of {len(members)})"
                    stop_of = None
                else:
                    drawn = _draw_run(ax, runs[members[0]], metric, color, smoothing, raw and not dense)
                    dots |= drawn is not None and raw and not dense
                    label = arm_label(runs[members[0]])
                    stop_of = members[0]
                if drawn is None:
                    continue
                steps, smoothed = drawn
                first, last = min(first, steps[0]), max(last, steps[-1])
                handles.setdefault(arm, Line2D([], [], color=color, linewidth=1.2, label=label))
                # The stop marks the analysed metric's curve only (one run, not a mean of seeds).
                analysed = (analyses is not None and stop_of is not None
                            and _same_metric(runs[stop_of], analyses[stop_of].metric, metric))
                stop = analyses[stop_of].recommended_stop_step if analysed else None
                if stop is not None:
                    ax.plot([stop], [np.interp(stop, steps, smoothed)], marker="v", markersize=4.5,
                            color=color, markerfacecolor="white", markeredgewidth=1.0,
                            linestyle="none", zorder=5, gid="recommended-stop")
            ax.set_ylabel(_draw.metric_label(metric, default_direction(metric)))
            _draw.readable_ylim(ax)
        for run in runs:
            # Events in the arm's colour: the switch belongs to one arm, not to all.
            for label, handle in _draw.draw_events(axes, run.events, color=colors[arm_of(run)]).items():
                handle.set_color("#404040")
                handles.setdefault(f"event:{label}", handle)
        if analyses and any(a.recommended_stop_step is not None for a in analyses):
            handles["stop"] = Line2D([], [], marker="v", markersize=4.5, color="#404040",
                                     markerfacecolor="white", linestyle="none",
                                     label="recommended stop")
        for ax in axes:
            _draw.step_xlim(ax, first, last)
        axes[-1].set_xlabel("training step")
        fig.align_ylabels(axes)
        if isinstance(size, str):  # named sizes grow with the legend, not at the data's expense
            legend_rows = -(-len(handles) // (2 if width < 5 else 3))
            fig.set_size_inches(width, height + LEGEND_ROW_HEIGHT * max(0, legend_rows - 1))
        _draw.fit_legend(fig, list(handles.values()), max_cols=3,
                         title=_smoothing_note(smoothing, metrics, points, dots),
                         title_fontsize="small")
        if title:
            fig.suptitle(title)
        _draw.fit_ylabels(fig, axes)
        _draw.freeze_layout(fig)
    return fig


def _grid(runs, metric, analyses, colors, size, smoothing, raw, ncols, title) -> Figure:
    n = len(runs)
    if ncols is None:
        ncols = min(n, 3 if size == "full" else 2)
    nrows = -(-n // ncols)
    if isinstance(size, str) and size in MAIN_HEIGHT:
        width, _ = figure_size(size)
        height = nrows * GRID_ROW_HEIGHT + PANEL_HEIGHT[size] * 0.6
    else:
        width, height = figure_size(size)
    with paper_style():
        fig = _draw.new_figure(width, height)
        grid = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        axes = grid.ravel().tolist()
        first, last = np.inf, -np.inf
        for ax, run, analysis in zip(axes, runs, analyses):
            color = colors[arm_of(run)]
            drawn = _draw_run(ax, run, metric, color, smoothing, raw)
            if drawn is not None:
                first, last = min(first, drawn[0][0]), max(last, drawn[0][-1])
            _draw.draw_phase_bands(ax, analysis.phases)
            _draw.draw_events([ax], run.events)
            if analysis.baseline is not None and np.isfinite(analysis.baseline):
                ax.axhline(analysis.baseline, color="#505050", linestyle=(0, (1, 1.5)),
                           linewidth=0.7, zorder=1, gid="baseline")
        for ax in axes[n:]:
            ax.set_visible(False)
        for ax in axes[:n]:
            _draw.step_xlim(ax, first, last)
        for row in grid:
            row[0].set_ylabel(_draw.metric_label(metric, default_direction(metric)))
        for i, ax in enumerate(axes[:n]):
            if i + ncols >= n:  # nothing visible below: this panel carries the step axis
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel("training step")
        handles = [Line2D([], [], color="#404040", linewidth=1.2, label=_smoothing_note(
            smoothing, [metric], [_panel_points(runs, metric)], raw))]
        for run in runs:
            for label, handle in _draw.draw_events([], run.events).items():
                if all(h.get_label() != label for h in handles):
                    handles.append(handle)
        _draw.fit_legend(fig, handles, max_cols=3)
        if title:
            fig.suptitle(title)
        # Titles go above the phase labels, which need the laid-out axes widths first.
        if _draw.fit_ylabels(fig, [row[0] for row in grid]):
            fig.canvas.draw()
        labels = [_draw.label_phases(ax, a.phases, draw=False) for ax, a in zip(axes, analyses)]
        pad = max(_draw.labels_height_pt(texts) for texts in labels) + 1.5  # aligned titles
        names = [arm_label(run) for run in runs]
        for ax, run, name in zip(axes, runs, names):
            if names.count(name) > 1:  # seeds of one arm: say which run
                name = f"{name} \u00b7 {run.name or run.source}"
            ax.set_title(name, loc="left", fontweight="bold", pad=pad)
        _draw.freeze_layout(fig)
    return fig
