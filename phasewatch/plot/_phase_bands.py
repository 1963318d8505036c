"""Phase bands behind a panel and the phase names above it, placed without overlaps."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.transforms import blended_transform_factory, offset_copy

from phasewatch.plot._draw import dark
from phasewatch.plot.style import FONT_SIZE, PHASE_ABBREVIATIONS, PHASE_COLORS, pale
from phasewatch.results import Phase

LABEL_FONT_SIZE = FONT_SIZE - 1
LABEL_PAD_PT = 2.0  # gap between the axes top and the first row of phase labels


def draw_phase_bands(ax: Axes, phases: Sequence[Phase]) -> list:
    """Pale opaque bands behind everything (zorder 0), one per phase, spanning start..end."""
    bands = []
    for phase in phases:
        band = ax.axvspan(
            phase.start_step, phase.end_step, facecolor=pale(PHASE_COLORS[phase.name]),
            edgecolor="none", zorder=0, gid="phase-band", linewidth=0,
        )
        band.phase_name = phase.name  # type: ignore[attr-defined]
        bands.append(band)
    return bands


@dataclass
class _Placed:
    phase: Phase
    text: str
    center_px: float
    width_px: float
    slack: float = 0.0
    row: int = 0


def label_phases(ax: Axes, phases: Sequence[Phase], max_rows: int = 3, draw: bool = True,
                 unsure: Collection[int] = ()) -> list:
    """Write each phase's name above the axes, centred over its band, without overlaps.

    The full name is used when it fits inside the band, else the abbreviation. The phases at
    the indexes `unsure` (a short series' plateau that moved: `results.not_established`) carry
    the text's hedge, "plateau (not established)", else "plateau?", "plat.?": a plain "plateau"
    over a visibly rising line reads as a flat run where the text says the data cannot tell. A
    label that still collides with its left neighbour slides right while it stays over its band,
    else moves up a row (at most `max_rows`). Measuring needs the final axes width, so the
    figure is laid out once first (`draw=False`: the caller did it).
    Each returned Text has `.row`; `labels_height_pt(texts)` is the room they take.
    """
    if not phases:
        return []
    fig = ax.figure
    if draw:
        fig.canvas.draw()  # runs the constrained layout: the axes now have their final width
    renderer = fig.canvas.get_renderer()
    font = FontProperties(size=LABEL_FONT_SIZE)
    x0_px, x1_px = ax.bbox.x0, ax.bbox.x1
    gap_px = renderer.points_to_pixels(3.0)
    to_px = ax.transData.transform

    def width_of(text: str) -> float:
        w, _, _ = renderer.get_text_width_height_descent(text, font, ismath=False)
        return w

    placed: list[_Placed] = []
    for k, phase in enumerate(phases):
        left = max(to_px((phase.start_step, 0))[0], x0_px)
        right = min(to_px((phase.end_step, 0))[0], x1_px)
        if right <= left:
            continue
        names = ((f"{phase.name} (not established)", f"{phase.name}?",
                  f"{PHASE_ABBREVIATIONS[phase.name]}?") if k in unsure else
                 (phase.name, PHASE_ABBREVIATIONS[phase.name]))
        text = next((t for t in names if width_of(t) + gap_px <= right - left), names[-1])
        w = width_of(text)
        center = min(max((left + right) / 2, x0_px + w / 2), x1_px - w / 2)
        # How far right the label may slide and still sit over its own band.
        placed.append(_Placed(phase, text, center, w, slack=max(0.0, min(right, x1_px) - (center + w / 2))))

    row_ends: list[float] = []  # right edge of the last label in each row (placed left to right)
    for item in placed:
        for row in range(max_rows):
            if row == len(row_ends):
                row_ends.append(-np.inf)
            lo = item.center_px - item.width_px / 2
            shift = max(0.0, row_ends[row] + gap_px - lo)
            if shift <= item.slack or row == max_rows - 1:
                # Slide right (within the band) rather than climb a row; the top row takes
                # whatever is left (an overlap is then unavoidable).
                item.center_px += min(shift, item.slack)
                break
        item.row = row
        row_ends[row] = item.center_px + item.width_px / 2

    base = blended_transform_factory(ax.transData, ax.transAxes)
    line_pt = LABEL_FONT_SIZE * 1.25  # keep in step with labels_height_pt
    texts = []
    for item in placed:
        x_data = ax.transData.inverted().transform((item.center_px, 0))[0]
        transform = offset_copy(base, fig=fig, y=LABEL_PAD_PT + item.row * line_pt, units="points")
        t = ax.text(
            x_data, 1.0, item.text, transform=transform, ha="center", va="bottom",
            fontsize=LABEL_FONT_SIZE, color=dark(PHASE_COLORS[item.phase.name]),
            gid="phase-label", clip_on=False,
        )
        t.phase_name = item.phase.name  # type: ignore[attr-defined]
        t.row = item.row  # type: ignore[attr-defined]
        texts.append(t)
    return texts


def labels_height_pt(texts: Sequence) -> float:
    """Points above the axes taken by phase labels (to put a title clear of them)."""
    if not texts:
        return 0.0
    rows = 1 + max(t.row for t in texts)
    return LABEL_PAD_PT + rows * LABEL_FONT_SIZE * 1.25
