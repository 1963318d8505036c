"""Pieces shared by the comparison layouts (overlay and grid): one run's curve, its stop."""

from __future__ import annotations

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.plot import _draw
from phasewatch.plot.data import FigureData
from phasewatch.plot.phase import outlier_steps
from phasewatch.plot.smoothing import Smoothing, smoothing_breaks
from phasewatch.run import Run

NEUTRAL = "#404040"  # legend handles of things drawn in each run's colour


def series_or_none(run: Run, metric: str):
    try:
        series = run.series(metric)
    except UsageError:
        return None
    return series if series.size else None


def same_metric(run: Run, a: str, b: str) -> bool:
    try:
        return run.resolve_metric(a) == run.resolve_metric(b)
    except UsageError:
        return False


def draw_run(ax, panel: int, data: FigureData, run: Run, label: str, metric: str, color: str,
              smoothing: Smoothing, raw: bool, analysis=None, line: dict | None = None):
    """Faint raw points and the smoothed line of one run; returns (steps, smoothed) or None.
    `analysis` (of this metric) cuts the smoothing at its change points. `line`: the line's
    style (`RunStyle.line()`: a run whose colour another run has too is dashed...). Unsmoothed,
    the line joins the raw values: the legend shows each run as a line, and faint dots alone
    do not tell ten runs (or two of one colour) apart."""
    line = line or {}
    series = series_or_none(run, metric)
    if series is None:
        return None
    steps = series.index.to_numpy(dtype=np.float64)
    values = series.to_numpy()
    own = run.resolve_metric(metric)
    if raw:
        ax.plot(steps, values, linestyle="none", marker="o", markersize=1.4, color=color,
                alpha=0.3, markeredgewidth=0, zorder=2, gid="raw")
        data.add(panel, label, own, "raw", steps, values)
    if analysis is not None and not same_metric(run, analysis.metric, metric):
        analysis = None
    if analysis is not None and (out := outlier_steps(analysis)):
        # the values analysed, as the single-run figure draws them: a reading left out (and
        # marked so) does not bend the line (trial 37: a comparison smoothed through it)
        kept = ~np.isin(steps, np.asarray(out, dtype=np.float64))
        steps, values = steps[kept], values[kept]
    smoothed = smoothing.apply(values, steps, smoothing_breaks(run.events, analysis))
    if smoothing.kind != "none":
        ax.plot(steps, smoothed, color=color, linewidth=1.2, zorder=3, gid="smoothed", **line)
        data.add(panel, label, own, "smoothed", steps, smoothed)
    else:
        ax.plot(steps, values, color=color, linewidth=1.0, zorder=3, gid="smoothed", **line)
    return steps, smoothed


def mark_stop(ax, steps, curve, stop, color) -> float | None:
    if stop is None:
        return None
    y = float(np.interp(stop, steps, curve))
    # drawn whole at the axes' edge too: a run whose checkpoint to keep is its last (or first)
    # evaluation had half a triangle
    ax.plot([stop], [y], color=color, zorder=5, gid="recommended-stop", clip_on=False,
            **_draw.STOP_STYLE)
    return y
