"""Drawing pieces shared by the figures: events, change-point intervals, outliers, limits, legends,
names of metrics (phase bands and their labels: `_phase_bands`).

Artists carry a `gid` ("phase-band", "phase-label", "changepoint", "baseline", "event",
"recommended-stop") so a user (or a test) can find and restyle them after the fact.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import AutoLocator
from matplotlib.transforms import blended_transform_factory

from phasewatch.errors import UsageError
from phasewatch.plot.style import FONT_SIZE, GREY
from phasewatch.results import Analysis

METRIC_LABELS = {
    "eval/accuracy": "held-out accuracy",
    "eval/accuracy_sampled": "held-out accuracy (sampled)",
    "eval/format_valid": "valid-format rate",
    "eval/expert_format_rate": "expert-format rate",
    "eval/response_length": "response length",
    "train/response_length": "response length (train)",
    "eval/loss": "eval loss",
    "expert/nll_train": "expert NLL (train)",
    "expert/nll_heldout": "expert NLL (held-out)",
    "train/loss": "training loss",
    "train/sft_loss": "SFT loss",
    "train/rl_loss": "RL loss",
    "train/reward": "training reward",
    "train/entropy": "policy entropy",
    "train/mu": "\u00b5 (SFT weight)",
    "train/grad_norm": "gradient norm",
}

# One dash pattern per meaning across every figure: solid = data (smoothed), dashed = held-out
# (the NLL panel), dotted = the baseline, dash-dot = the SFT->RL switch, long dashes = a resume,
# dash-dot-dot = any other logged event (an epoch boundary).
HELDOUT_DASH = (0, (3, 1.5))
BASELINE_STYLE = {"color": "#505050", "linestyle": (0, (1, 1.5)), "linewidth": 0.8}
EVENT_STYLES = {
    "sft_to_rl": {"color": "#000000", "linestyle": (0, (5, 1.5, 1, 1.5)), "linewidth": 0.8,
                  "label": "SFT\u2192RL"},
    "resume": {"color": GREY, "linestyle": (0, (7, 2.5)), "linewidth": 0.8, "label": "resumed"},
}
_DEFAULT_EVENT_STYLE = {"color": GREY, "linestyle": (0, (4, 1.5, 1, 1.5, 1, 1.5)), "linewidth": 0.7}
OUTLIER_STYLE = {"marker": "x", "markersize": 3.0, "markeredgewidth": 0.8, "linestyle": "none"}
STOP_STYLE = {"marker": "v", "markersize": 4.5, "markerfacecolor": "white", "markeredgewidth": 1.0,
              "linestyle": "none"}

def metric_label(metric: str, direction: str | None = None) -> str:
    label = METRIC_LABELS.get(metric, metric)
    if direction == "min" and "loss" not in label and "NLL" not in label:
        label += " (lower is better)"
    return label


def dark(color: str, factor: float = 0.72) -> tuple[float, float, float]:
    """A darker shade, for text in a phase colour that must stay readable on white."""
    return tuple(factor * c for c in to_rgb(color))  # type: ignore[return-value]


def new_figure(width: float, height: float) -> Figure:
    """A Figure with its own Agg canvas (no pyplot state: nothing leaks between calls)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def draw_changepoint_intervals(ax: Axes, analysis: Analysis, y_axes: float = 0.035) -> list:
    """Each change point as a whisker at the bottom of the axes: |--o--| from low to high,
    clipped to the axes like the data (a zoom with --xlim cuts the whiskers outside it; drawn
    past the axes they also made the layout collapse)."""
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    artists = []
    for cp in analysis.changepoints:
        (line,) = ax.plot(
            [cp.low, cp.high], [y_axes, y_axes], transform=transform, color="#404040",
            linewidth=0.8, marker="|", markersize=4, markeredgewidth=0.8, solid_capstyle="butt",
            zorder=4, gid="changepoint",
        )
        (dot,) = ax.plot(
            [cp.step], [y_axes], transform=transform, color="#404040", marker="o",
            markersize=2.5, linestyle="none", zorder=4, gid="changepoint",
        )
        artists += [line, dot]
    return artists


def changepoint_handle() -> Line2D:
    return Line2D([], [], color="#404040", linewidth=0.8, marker="o", markersize=2.5,
                  label="change pt. ± interval")


def event_style(name: str) -> dict:
    style = dict(EVENT_STYLES.get(name, _DEFAULT_EVENT_STYLE))
    style.setdefault("label", name.replace("_", " "))
    return style


MAX_EPOCH_LINES = 10


def draw_events(axes: Sequence[Axes], events, color: str | None = None) -> dict[str, Line2D]:
    """Vertical lines at known events on every panel; returns one legend handle per event kind.
    Epoch boundaries only when there are at most `MAX_EPOCH_LINES`: dozens of them bury the
    data (44 lines hid the other runs of a comparison)."""
    handles: dict[str, Line2D] = {}
    epochs = sum(event.name == "epoch_boundary" for event in events)
    for event in events:
        if event.name == "epoch_boundary" and epochs > MAX_EPOCH_LINES:
            continue
        style = event_style(event.name)
        label = style.pop("label")
        if color is not None:
            style["color"] = color
        for ax in axes:
            line = ax.axvline(event.step, zorder=1.5, gid="event", **style)
            line.event_label = label  # type: ignore[attr-defined]
        handles.setdefault(label, Line2D([], [], label=label, **style))
    return handles


def fit_legend(fig: Figure, handles: Sequence, max_cols: int = 3, **kwargs):
    """A figure legend below the axes with as many columns (<= max_cols) as fit the width.

    A legend wider than the figure is clipped at the edges, which constrained layout does not
    prevent; measuring first costs no full draw.
    """
    renderer = fig.canvas.get_renderer()
    available = fig.bbox.width * 0.98
    title = kwargs.get("title")
    if title:  # a title wider than the figure goes onto one line per part, each wrapped to fit
        kwargs["title"] = "\n".join(_fitted_lines(fig, renderer, title, available))
    for ncol in range(min(max_cols, len(handles)), 0, -1):
        legend = fig.legend(handles=handles, loc="outside lower center", ncol=ncol, **kwargs)
        if ncol == 1 or legend.get_window_extent(renderer).width <= available:
            return legend
        legend.remove()
    return None


def _fitted_lines(fig: Figure, renderer, title: str, available: float) -> list[str]:
    """`title` as one line, or one line per part ("; ") when it is wider than `available`,
    and a part wider still wrapped at a space: a comparison's note naming a run by a long
    name ("one y axis for the runs: llamafactory-law-lora-trainloss ...") ran off the figure."""
    def width(text: str) -> float:
        probe = fig.text(0, 0, text, fontsize=FONT_SIZE - 1)
        measured = probe.get_window_extent(renderer).width
        probe.remove()
        return measured

    if width(title) <= available:
        return [title]
    lines = []
    for part in title.split("; "):
        wide = width(part)
        chars = max(20, int(len(part) * available / wide)) if wide > available else len(part)
        lines += textwrap.wrap(part, chars, subsequent_indent="  ", break_on_hyphens=False,
                               break_long_words=False) or [part]
    return lines


class NonNegativeTicks(AutoLocator):
    """Matplotlib's automatic ticks without the negative ones: the room below a metric that is
    never negative (an accuracy at 0) holds the whiskers, and labelling it "-0.1" reads as a
    negative accuracy."""

    def tick_values(self, vmin: float, vmax: float):
        ticks = super().tick_values(vmin, vmax)
        return ticks[ticks >= 0]


LOG_AXIS_SPAN = 100.0  # a positive lower-is-better series spanning this ratio gets a log axis


def log_axis_if_spanning(ax: Axes, values: np.ndarray, lower_is_better: bool) -> bool:
    """Put `ax` on a log y axis when `values` are a lower-is-better series (a loss, a
    perplexity) whose values are all positive and span two decades or more, as losses are read:
    on a linear axis everything after the first fall lies flat along the bottom, with the
    phases the analysis found there (hf-geollm-trainloss's train loss, 4.26 -> 0.003: an
    overfit from 0.006 to 0.028 and what follows it drawn as one line on the axis). Returns
    whether it did."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    spans = (lower_is_better and finite.size > 1 and float(finite.min()) > 0
             and float(finite.max()) >= LOG_AXIS_SPAN * float(finite.min()))
    if spans:
        ax.set_yscale("log")
    return spans


def padded_ylim(ax: Axes, values: np.ndarray, bottom: float = 0.14, top: float = 0.06) -> None:
    """Y limits with extra room at the bottom for the change-point whiskers (in decades on a
    log axis)."""
    finite = values[np.isfinite(values)]
    log = ax.get_yscale() == "log"
    if log:
        finite = np.log10(finite[finite > 0])
    if finite.size == 0:
        return
    lo, hi = float(finite.min()), float(finite.max())
    if log:
        span = hi - lo or 1.0
        ax.set_ylim(10 ** (lo - bottom * span / (1 - bottom - top)),
                    10 ** (hi + top * span / (1 - bottom - top)))
        return
    span = hi - lo or max(abs(hi), 1.0) * 0.1
    low = lo - bottom * span / (1 - bottom - top)
    ax.set_ylim(low, hi + top * span / (1 - bottom - top))
    if lo >= 0 > low:
        ax.yaxis.set_major_locator(NonNegativeTicks())


def readable_ylim(ax: Axes, min_relative_span: float = 0.05) -> None:
    """Widen the y range of a nearly constant series (4.000-4.002 would magnify noise).

    The span is at least `min_relative_span` of the data's magnitude, centred on the data.
    """
    lo, hi = ax.dataLim.y0, ax.dataLim.y1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return
    needed = min_relative_span * max(abs(lo), abs(hi), 1e-12)
    if hi - lo < needed:
        middle = (lo + hi) / 2
        ax.set_ylim(middle - needed / 2, middle + needed / 2)


def step_xlim(ax: Axes, first: float, last: float, margin: float = 0.01) -> None:
    span = (last - first) or 1.0
    ax.set_xlim(first - margin * span, last + margin * span)


def fit_title(ax: Axes, text: str, **kwargs) -> None:
    """A left-aligned axes title, cut with an ellipsis to the axes' width (long file stems of
    neighbouring panels would run into each other)."""
    renderer = ax.figure.canvas.get_renderer()
    title = ax.set_title(text, loc="left", **kwargs)
    room = ax.bbox.width
    keep = len(text)
    while keep > 4 and title.get_window_extent(renderer).width > room:
        keep -= 1
        title.set_text(text[:keep].rstrip() + "\u2026")


def fit_suptitle(fig: Figure, text: str):
    """The figure's title, broken between words onto as many lines as keep each within the
    figure's width (a centred title wider than the figure is cut at both edges; every word of
    it is the user's, so none is dropped)."""
    renderer = fig.canvas.get_renderer()
    available = fig.bbox.width * 0.98
    probe = fig.text(0, 0, "", fontsize=mpl.rcParams["figure.titlesize"])
    lines: list[str] = []
    for word in text.split(" "):
        candidate = f"{lines[-1]} {word}" if lines else word
        probe.set_text(candidate)
        if lines and probe.get_window_extent(renderer).width > available:
            lines.append(word)
        else:
            lines[-1:] = [candidate]
    probe.remove()
    return fig.suptitle("\n".join(lines))


def draw_outliers(ax: Axes, series, steps: Sequence[float], color: str) -> list[float]:
    """An x at each value the analysis left out as an outlier; returns their values."""
    steps = [s for s in steps if s in series.index]
    if not steps:
        return []
    values = [float(series.loc[s]) for s in steps]
    ax.plot(steps, values, color=color, zorder=4.5, gid="outlier", **OUTLIER_STYLE)
    return values


def outlier_handle() -> Line2D:
    return Line2D([], [], color="#404040", label="outlier (left out)", gid="outlier", **OUTLIER_STYLE)


def apply_limits(axes: Sequence[Axes], xlim=None, ylim=None) -> None:
    """User axis limits: `xlim` on every panel, `ylim` on the first (the analysed metric). A
    usage error for step limits that show none of the data drawn: the figure would be empty
    (and matplotlib's layout collapses on it)."""
    if xlim is not None:
        spans = [(float(np.min(xs)), float(np.max(xs))) for ax in axes for line in ax.lines
                 if line.get_gid() in ("raw", "smoothed", "token-median")
                 and (xs := np.asarray(line.get_xdata(), dtype=float)).size]
        if spans and not any(lo <= xlim[1] and hi >= xlim[0] for lo, hi in spans):
            first, last = min(lo for lo, _ in spans), max(hi for _, hi in spans)
            raise UsageError(f"--xlim {xlim[0]:g},{xlim[1]:g} shows none of the data (steps "
                             f"{first:g}-{last:g}); give limits that overlap them")
    for ax in axes:
        if xlim is not None:
            ax.set_xlim(*xlim)
    if ylim is not None and axes:
        user_ylim(axes[0], ylim)
    for ax in axes:  # a stop is drawn whole at the edge, but not outside the limits given
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        for line in ax.lines:
            if line.get_gid() == "recommended-stop":
                x, y = line.get_xdata()[0], line.get_ydata()[0]
                line.set_clip_on(not (x0 <= x <= x1 and y0 <= y <= y1))


def user_ylim(ax: Axes, ylim: tuple[float | None, float | None]) -> None:
    """`--ylim` on a panel (None: that end as drawn, as matplotlib takes it); a limit at or
    below 0, which a log axis cannot show (`log_axis_if_spanning`), draws it linear."""
    if any(v is not None and v <= 0 for v in ylim) and ax.get_yscale() == "log":
        ax.set_yscale("linear")
    ax.set_ylim(*ylim)


def in_view(axes: Sequence[Axes]) -> set[str]:
    """What is visible inside the final axis limits: 'stop', 'mean-stop' (a seed group's,
    `_runs.mark_stop`), 'outlier', 'event:<label>'. A
    legend lists only these (a zoom with --xlim must not explain markers it cut away)."""
    seen: set[str] = set()
    for ax in axes:
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        for line in ax.lines:
            gid = line.get_gid()
            xs = np.asarray(line.get_xdata(), dtype=float)
            inside_x = (xs >= x0) & (xs <= x1)
            if gid == "event" and inside_x.any():
                seen.add(f"event:{getattr(line, 'event_label', '')}")
            elif gid in ("recommended-stop", "outlier"):
                ys = np.asarray(line.get_ydata(), dtype=float)
                if (inside_x & (ys >= y0) & (ys <= y1)).any():  # a seed group's: "mean-stop"
                    kind = "mean-stop" if getattr(line, "stop_of_mean", False) else "stop"
                    seen.add(kind if gid == "recommended-stop" else "outlier")
    return seen
