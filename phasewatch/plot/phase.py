"""The phase figure: one run's performance metric with its detected phases behind it.

Top panel: raw evaluations (faint points), a stated smoothing on top, pale phase bands labelled
in text above the axes, change-point intervals as whiskers, the baseline as a dotted line, known
events (SFT->RL switch, resumes) as vertical lines and the recommended stop. Optional panels
below share the step axis: expert NLL train vs held-out (the overfit signature: train keeps
falling while held-out turns up), policy entropy, response length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from phasewatch.errors import UsageError
from phasewatch.plot import _draw
from phasewatch.plot.smoothing import DEFAULT_SMOOTHING, DENSE_POINTS, Smoothing, unit_for
from phasewatch.plot.style import figure_size, paper_style
from phasewatch.results import Analysis
from phasewatch.run import Run

# Auto panels: (y label, metrics drawn on it). A panel appears when any of its metrics exists.
AUTO_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("expert NLL", ("expert/nll_train", "expert/nll_heldout")),
    ("entropy", ("train/entropy",)),
    ("resp. length", ("eval/response_length",)),
)
# Panel lines are neutral (the palette's colours mean phases here); train solid, held-out dashed.
_PANEL_LINES = (
    {"color": "#1a1a1a", "linestyle": "-"},
    {"color": "#1a1a1a", "linestyle": (0, (3, 1.5))},
)
_PANEL_LABELS = {"expert/nll_train": "train", "expert/nll_heldout": "held-out"}
DATA_COLOR = "#1a1a1a"
RAW_COLOR = "#8c8c8c"


def analyze(run: Run, metric: str | None = None, direction: str | None = None) -> Analysis:
    """`phasewatch.analysis.analyze_run`, imported on first use so `import phasewatch.plot` stays light."""
    from phasewatch.analysis import analyze_run

    return analyze_run(run, metric=metric, direction=direction)


def resolve_panels(run: Run, panels: str | Sequence[str] | None) -> list[tuple[str, list[str]]]:
    """`'auto'` -> the AUTO_PANELS present in `run`; a list of metrics -> one panel each."""
    if panels is None or panels == "none":
        return []
    if panels == "auto":
        out = []
        for label, metrics in AUTO_PANELS:
            present = [m for m in metrics if _has(run, m)]
            if present:
                out.append((label, present))
        return out
    if isinstance(panels, str):
        panels = [panels]
    for name in panels:
        run.resolve_metric(name)  # UsageError naming the metrics that exist
    return [(_draw.metric_label(name), [name]) for name in panels]


def _has(run: Run, metric: str) -> bool:
    try:
        return run.series(metric).size > 0
    except UsageError:
        return False


def phase_figure(
    run: Run,
    analysis: Analysis | None = None,
    *,
    metric: str | None = None,
    direction: str | None = None,
    panels: str | Sequence[str] | None = "auto",
    size: str | tuple[float, float] = "single",
    smoothing: Smoothing = DEFAULT_SMOOTHING,
    title: str | None = None,
) -> Figure:
    """Draw `run` with its phases; returns the matplotlib Figure (axes: `fig.axes`, top first).

    `analysis` defaults to `analyze_run(run, metric, direction)`. `panels`: "auto" (expert NLL,
    entropy, response length when logged), None, or a list of metric names, one panel each.
    Save with `phasewatch.plot.save_figure` (fixed metadata, Type 42 fonts).
    """
    if analysis is None:
        analysis = analyze(run, metric, direction)
    series = run.series(analysis.metric)
    if series.empty:
        raise UsageError(f"metric '{analysis.metric}' has no finite values in {run.source}")
    panel_specs = resolve_panels(run, panels)
    width, height = figure_size(size, n_panels=len(panel_specs))

    with paper_style():
        fig = _draw.new_figure(width, height)
        ratios = [2.0] + [1.0] * len(panel_specs)
        axes = fig.subplots(len(ratios), 1, sharex=True, squeeze=False,
                            gridspec_kw={"height_ratios": ratios})[:, 0].tolist()
        breaks = _draw.event_breaks(run.events)
        handles = _draw_performance(axes[0], series, analysis, smoothing, breaks)
        smoothed_panels: dict[str, list[str]] = {}  # smoothing -> panels smoothed that way
        for ax, (label, metrics) in zip(axes[1:], panel_specs):
            for note in _draw_panel(ax, run, label, metrics, smoothing, breaks):
                smoothed_panels.setdefault(note, []).append(label)
        for note, labels in smoothed_panels.items():
            who = "panels" if len(labels) > 1 and len(smoothed_panels) == 1 else ", ".join(labels)
            handles.append(Line2D([], [], color=DATA_COLOR, linewidth=1.0, label=f"{who}: {note}"))
        steps = series.index
        first = min([steps[0]] + [p.start_step for p in analysis.phases])
        last = max([steps[-1]] + [p.end_step for p in analysis.phases])
        for ax in axes:
            _draw.draw_phase_bands(ax, analysis.phases)
            _draw.step_xlim(ax, first, last)
        handles += list(_draw.draw_events(axes, run.events).values())
        axes[-1].set_xlabel("training step")
        _draw.fit_legend(fig, handles, max_cols=3)
        if title:
            fig.suptitle(title)
        fig.align_ylabels(axes)
        relayout = _draw.fit_ylabels(fig, axes)
        _draw.label_phases(axes[0], analysis.phases, draw=relayout)
        _draw.freeze_layout(fig)
    return fig


def _draw_performance(ax, series, analysis: Analysis, smoothing: Smoothing,
                      breaks: list[float]) -> list[Line2D]:
    """Raw points, smoothing, baseline, change-point whiskers, stop; returns legend handles."""
    steps = series.index.to_numpy(dtype=np.float64)
    values = series.to_numpy()
    unit = unit_for(steps, analysis.metric)
    handles = []
    ax.plot(steps, values, linestyle="none", marker="o", markersize=2.0, color=RAW_COLOR,
            alpha=0.55, markeredgewidth=0, zorder=2, gid="raw")
    handles.append(Line2D([], [], linestyle="none", marker="o", markersize=2.5,
                          color=RAW_COLOR, markeredgewidth=0, label=f"raw {unit}s"))
    curve = smoothing.apply(values, steps, breaks)
    if smoothing.kind != "none":
        ax.plot(steps, curve, color=DATA_COLOR, linewidth=1.2, zorder=3, gid="smoothed")
        handles.append(Line2D([], [], color=DATA_COLOR, linewidth=1.2,
                              label=smoothing.describe(len(values), unit)))
    baseline = analysis.baseline
    if baseline is not None and np.isfinite(baseline):
        style = {"color": "#505050", "linestyle": (0, (1, 1.5)), "linewidth": 0.8}
        ax.axhline(baseline, zorder=1, gid="baseline", **style)
        handles.append(Line2D([], [], label="baseline", **style))
        values = np.append(values, baseline)
    if analysis.changepoints:
        _draw.draw_changepoint_intervals(ax, analysis)
        handles.append(_draw.changepoint_handle())
    stop = analysis.recommended_stop_step
    if stop is not None:
        style = {"marker": "v", "markersize": 5, "color": DATA_COLOR, "markerfacecolor": "white",
                 "markeredgewidth": 1.0, "linestyle": "none"}
        ax.plot([stop], [np.interp(stop, steps, curve)], zorder=5, gid="recommended-stop", **style)
        handles.append(Line2D([], [], label=f"stop (step {stop})", **style))
    ax.set_ylabel(_draw.metric_label(analysis.metric, analysis.direction))
    _draw.padded_ylim(ax, values)
    return handles


def _draw_panel(ax, run: Run, label: str, metrics: list[str], smoothing: Smoothing,
                breaks: list[float]) -> set[str]:
    """One stacked panel. Dense series (a value every training step) are drawn faint with the
    same kind of smoothing on top: raw per-step entropy is a smear. Returns the smoothings used
    ('sd 25 steps'), for the legend."""
    notes = set()
    for line_style, name in zip(_PANEL_LINES * len(metrics), metrics):
        s = run.series(name)
        steps, values = s.index.to_numpy(), s.to_numpy()
        legend_label = _PANEL_LABELS.get(name, _draw.metric_label(name))
        if values.size > DENSE_POINTS and smoothing.kind != "none":
            ax.plot(steps, values, color=RAW_COLOR, alpha=0.45, linewidth=0.4, zorder=2, gid="raw")
            values = smoothing.apply(values, steps, breaks)
            notes.add(smoothing.describe(s.size, unit_for(steps, name), short=True))
        ax.plot(steps, values, linewidth=1.0, zorder=3, gid="panel", label=legend_label, **line_style)
    ax.set_ylabel(label)
    _draw.readable_ylim(ax)
    if len(metrics) > 1:
        ax.legend(loc="best", handlelength=1.8, borderaxespad=0.2)
    return notes
