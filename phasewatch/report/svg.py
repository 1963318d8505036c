"""Inline SVG charts for the HTML report, drawn as text (no browser library, no CDN).

Matplotlib would draw the same charts, but at ~0.2 s and ~50 KB per figure a report of
hundreds of runs would take minutes and weigh megabytes; these are a few KB each and follow the
paper figures' conventions (phasewatch.plot.style): Okabe-Ito colours, one fixed colour per
phase, pale phase bands behind the data with their names, no top/right spines, small text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from phasewatch.plot.style import PHASE_ABBREVIATIONS, PHASE_COLORS, pale

FONT = 9  # px; the page shows charts at about their drawn size
TITLE_CHAR = 4.8  # px: an average bold character at FONT (Chromium: 41 characters in 190 px)
LABEL_CHAR = 4.5  # px: an average regular character at FONT
MARGIN = (6, 8, 18, 40)  # top, right, bottom, left (px)


@dataclass
class Line:
    points: Sequence[Sequence[float]]
    color: str = "#000000"
    width: float = 1.2
    opacity: float = 1.0
    label: str = ""


@dataclass
class Area:
    """A band between `lower` and `upper` over `x` (a confidence band)."""

    x: Sequence[float]
    lower: Sequence[float]
    upper: Sequence[float]
    color: str = "#000000"
    opacity: float = 0.2
    in_range: bool = True
    """Whether the y axis spans the band; if not, the axis is the lines' and the band is cut
    at the plot's edges (a t band of 2 seeds is +-9 sd wide and would flatten the curves)."""


@dataclass
class Band:
    """A vertical phase band from x0 to x1."""

    x0: float
    x1: float
    name: str


@dataclass
class Chart:
    width: int = 220
    height: int = 120
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    lines: list[Line] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    vlines: list[tuple[float, str, str]] = field(default_factory=list)  # x, colour, tooltip
    points: list[tuple[float, float, str, str]] = field(default_factory=list)  # x, y, colour, tip
    xlog: bool = False
    xlim: tuple[float, float] | None = None
    """The x range to show (e.g. a hyperparameter's values over every run, so that panels of
    the same hyperparameter line up); else the data's."""


def _rgb(color) -> str:
    if isinstance(color, str):
        return color
    return "#" + "".join(f"{round(c * 255):02x}" for c in color)


def nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """Round tick values covering [lo, hi] (about n of them, at least two: one tick gives an
    axis no scale, e.g. [0.48, 0.95] in 2 would be 0.5 alone; it is 0.6, 0.8)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    ticks = _ticks(lo, hi, n)
    while len(ticks) < 2 and n < 10:
        n += 1
        ticks = _ticks(lo, hi, n)
    return ticks


def _ticks(lo: float, hi: float, n: int) -> list[float]:
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)  # no 0.5275
    first = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def fmt(v: float, digits: int = 4) -> str:
    """Short tick text: 1k, 2.5M, 0.25, 1e-05, 3.6e+09. A whole number of thousands or
    millions takes its suffix; beyond, the exponent alone (HF's `total_flos` of 3.6e9 read
    "3.6e+06k", the exponent and the suffix at once: trial 61)."""
    if v == 0:
        return "0"
    a = abs(v)
    if 1000 <= a < 1e9 and float(v).is_integer():
        return f"{v / 1000:g}k" if a < 1e6 else f"{v / 1e6:g}M"
    if a < 1e-3 or a >= 1e6:
        return f"{v:.{max(2, digits - 2)}g}"
    return f"{v:.{digits}g}"


def fmt_ticks(values: Sequence[float]) -> list[str]:
    """Tick texts that tell neighbouring ticks apart: as short as `fmt`, longer only where two
    would read the same (0.00095, 0.001, 0.00105 rather than 0.00095, 0.001, 0.001)."""
    for digits in range(4, 10):
        texts = [fmt(v, digits) for v in values]
        if len(set(texts)) == len(texts):
            return texts
    return texts


def _extent(values: list[float], pad: float = 0.05) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        span = abs(hi) * 0.1 or 1.0
        return lo - span, hi + span
    span = hi - lo
    return lo - pad * span, hi + pad * span


def render(chart: Chart) -> str:
    """The chart as one `<svg>` element."""
    top, right, bottom, left = MARGIN
    if chart.title:
        top += FONT + 4
    if chart.xlabel:
        bottom += FONT + 2
    # Phase names go in a strip above the data (inside the bands), where no curve runs through
    # them: curves often peak at the top of the plot, right where a label would sit.
    strip = FONT + 3 if chart.bands else 0
    w, h = chart.width, chart.height
    band_top = top
    top += strip
    pw, ph = w - left - right, h - top - bottom
    xs = [p[0] for ln in chart.lines for p in ln.points] + [x for a in chart.areas for x in a.x]
    xs += [p[0] for p in chart.points]
    ys = [p[1] for ln in chart.lines for p in ln.points] + [p[1] for p in chart.points]
    ys += [v for a in chart.areas if a.in_range for v in (*a.lower, *a.upper)]
    xs = [x for x in xs if math.isfinite(x) and (x > 0 or not chart.xlog)]
    ys = [y for y in ys if math.isfinite(y)]
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" class="chart" role="img">')]
    if chart.title:
        out.append(_title(chart.title, left, w))
    if not xs or not ys:
        out.append(f'<text x="{left}" y="{top + ph / 2}" class="n">no data</text></svg>')
        return "".join(out)
    tx = math.log10 if chart.xlog else (lambda v: v)
    if chart.xlim is not None and all(v > 0 or not chart.xlog for v in chart.xlim):
        xs = [*xs, *chart.xlim]
    x0, x1 = _extent([tx(x) for x in xs], 0.0 if not chart.points else 0.06)
    y0, y1 = _extent(ys, 0.05 if not chart.points else 0.1)  # a dot clear of the axis

    def X(v: float) -> float:
        return left + (tx(v) - x0) / (x1 - x0) * pw

    def Y(v: float) -> float:
        return top + (1 - (v - y0) / (y1 - y0)) * ph

    for band in chart.bands:
        a, b = max(X(band.x0), left), min(X(band.x1), left + pw)
        if b <= a:
            continue
        color = PHASE_COLORS.get(band.name, "#7F7F7F")
        out.append(f'<rect x="{a:.1f}" y="{band_top}" width="{b - a:.1f}" '
                   f'height="{ph + strip}" fill="{_rgb(pale(color))}"><title>{band.name} '
                   f'{band.x0:g}-{band.x1:g}</title></rect>')
        label = band.name if b - a > 6.2 * len(band.name) else PHASE_ABBREVIATIONS.get(band.name, "")
        if b - a > 5.5 * len(label):
            out.append(f'<text x="{(a + b) / 2:.1f}" y="{band_top + FONT}" class="b" '
                       f'fill="{color}">{label}</text>')
    for x, color, tip in chart.vlines:
        out.append(f'<line x1="{X(x):.1f}" x2="{X(x):.1f}" y1="{top}" y2="{top + ph}" '
                   f'stroke="{color}" stroke-dasharray="2,2" stroke-width="0.8">'
                   f'<title>{html.escape(tip)}</title></line>')
    def inside(y: float) -> float:
        return min(max(y, top), top + ph)

    for area in chart.areas:
        pts = [(X(x), inside(Y(u))) for x, u in zip(area.x, area.upper)]
        pts += [(X(x), inside(Y(lo))) for x, lo in reversed(list(zip(area.x, area.lower)))]
        out.append(f'<polygon points="{_pts(pts)}" fill="{_rgb(area.color)}" '
                   f'fill-opacity="{area.opacity}" stroke="none"/>')
    for ln in chart.lines:
        pts = [(X(x), Y(y)) for x, y in ln.points if math.isfinite(y)]
        tip = f"<title>{html.escape(ln.label)}</title>" if ln.label else ""
        if len(pts) == 1:  # one value (HF's train_runtime, logged at the end): a polyline of
            # one point draws nothing, and the panel read empty (trial 61); a dot shows it
            out.append(f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" '
                       f'r="{ln.width + 1:.1f}" fill="{_rgb(ln.color)}" '
                       f'fill-opacity="{ln.opacity}">{tip}</circle>')
            continue
        out.append(f'<polyline points="{_pts(pts)}" fill="none" stroke="{_rgb(ln.color)}" '
                   f'stroke-width="{ln.width}" stroke-opacity="{ln.opacity}" '
                   f'stroke-linejoin="round">{tip}</polyline>')
    for x, y, color, tip in chart.points:
        out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{color}" '
                   f'fill-opacity="0.8"><title>{html.escape(tip)}</title></circle>')
    out.append(_axes(chart, left, top, pw, ph, x0, x1, y0, y1, X, Y))
    out.append("</svg>")
    return "".join(out)


def _title(title: str, left: float, width: float) -> str:
    """The title above the plot, from the plot's left edge; a long one starts at the chart's
    edge, and one too long even there is cut with an ellipsis (the whole title is its
    tooltip), since an SVG clips what runs past its width."""
    x = left if len(title) * TITLE_CHAR <= width - left - 2 else 4
    tip, shown = _fit(title, width - x - 2, TITLE_CHAR)
    return f'<text x="{x}" y="{FONT + 2}" class="t">{tip}{shown}</text>'


def _fit(text: str, room: float, char: float) -> tuple[str, str]:
    """(tooltip, escaped text) of `text` in `room` px: cut with an ellipsis if it is longer,
    the whole text then its tooltip."""
    fits = max(1, int(room / char))
    if len(text) <= fits:
        return "", html.escape(text)
    return (f"<title>{html.escape(text)}</title>",
            html.escape(text[:fits - 1].rstrip() + "…"))


def _pts(pts) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def _axes(chart, left, top, pw, ph, x0, x1, y0, y1, X, Y) -> str:
    out = [f'<path d="M{left},{top}V{top + ph}H{left + pw}" class="a"/>']
    if chart.xlog:
        xt = [10.0 ** k for k in range(math.ceil(x0 - 1e-9), math.floor(x1 + 1e-9) + 1)]
    else:
        xt = nice_ticks(x0, x1, max(2, int(pw // 60)))
    for v, text in zip(xt, fmt_ticks(xt)):
        x = X(v)
        out.append(f'<path d="M{x:.1f},{top + ph}v3" class="a"/><text x="{x:.1f}" '
                   f'y="{top + ph + FONT + 3}" class="x">{text}</text>')
    yt = nice_ticks(y0, y1, max(2, int(ph // 30)))
    for v, text in zip(yt, fmt_ticks(yt)):
        y = Y(v)
        out.append(f'<path d="M{left},{y:.1f}h-3" class="a"/><text x="{left - 4}" '
                   f'y="{y + 3:.1f}" class="y">{text}</text>')
    if chart.xlabel:
        out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph + 2 * FONT + 6}" class="x">'
                   f'{html.escape(chart.xlabel)}</text>')
    if chart.ylabel:  # centred on the plot; it may run into the margins, not past the chart
        middle = top + ph / 2
        tip, shown = _fit(chart.ylabel, 2 * min(middle, chart.height - middle) - 4, LABEL_CHAR)
        out.append(f'<text transform="translate(9,{middle:.1f}) rotate(-90)" class="x">'
                   f'{tip}{shown}</text>')
    return "".join(out)
