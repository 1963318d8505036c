"""Pieces shared by the comparison layouts (overlay and grid): one run's curve, its stop."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.plot import _draw
from phasewatch.plot.data import FigureData
from phasewatch.plot.phase import outlier_steps
from phasewatch.plot.smoothing import (
    DENSE_POINTS,
    Smoothing,
    held_to_points,
    smoothing_breaks,
    spacing,
    unit_of,
)
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
    smoothed = smoothing.apply(values, steps, smoothing_breaks(run.events, analysis),
                               log=ax.get_yscale() == "log")
    if analysis is not None:  # as the run's own figure draws it
        smoothed = held_to_points(smoothed, values, analysis.extra.get("noise_sd"))
    if smoothing.kind != "none":
        ax.plot(steps, smoothed, color=color, linewidth=1.2, zorder=3, gid="smoothed", **line)
        data.add(panel, label, own, "smoothed", steps, smoothed)
    else:
        ax.plot(steps, values, color=color, linewidth=1.0, zorder=3, gid="smoothed", **line)
    return steps, smoothed


def lines_note(figure: Smoothing, drawn: list[tuple[str, Smoothing, np.ndarray | None]],
               hidden: bool = False, some_shown: bool = False, groups: bool = False,
               in_unit: Callable[[str, str], str] | None = None) -> str:
    """What a comparison's lines are, for its legend: the `figure`'s smoothing, and the runs
    whose evaluations are joined by lines instead (`Smoothing.for_series`), named where they are
    not all of them: "lines: Gaussian smooth, sd 12 steps; evaluations joined by lines for
    hf-law-llm" (trial 40b: "sd 12 steps" was said of that run's 6 evaluations 100 steps apart).
    `drawn`: (label, smoothing, steps) of each line; a seed group's mean, steps None, is of
    smoothed seeds. Then what is not drawn: raw values of runs with more than DENSE_POINTS
    values (`hidden`; `some_shown`: those of other runs are), and those of seed groups
    (`groups`: their band stands for the spread). `in_unit(label, text)`: the lengths `text`
    gives in steps said in the unit of the axis the line `label` is placed on by its counter
    (`compare`: one run's 6 steps are 0.06 epochs, another's 0.12)."""
    joined = [(label, steps) for label, smoothing, steps in drawn if smoothing.joins(steps)]
    say = in_unit or (lambda _label, text: text)
    note = "lines: " + figure.describe()
    own: dict[str, list[str]] = {}  # runs placed by their counters: each its own figure's width
    for label, smoothing, steps in drawn:
        if not smoothing.joins(steps):
            own.setdefault(say(label, smoothing.describe()), []).append(label)
    if len(own) == 1:
        note = "lines: " + next(iter(own))
    elif len(own) > 1:
        note = "lines: " + "; ".join(f"{said} for {', '.join(dict.fromkeys(labels))}"
                                     for said, labels in own.items())
    if joined:
        gaps = {say(label, f"({gap:g} {unit_of(gap)} apart)")
                for label, steps in joined if (gap := spacing(steps))}
        gap = gaps.pop() if len(gaps) == 1 else None
        text = "evaluations joined by lines" + (f" {gap}" if gap else "")
        names = list(dict.fromkeys(label for label, _ in joined))  # a run drawn in two panels
        which = ", ".join(names) if len(names) <= 3 else f"{len(names)} runs"
        note = ("lines: " + text if len(joined) == len(drawn)  # every line
                else f"{note}; {text} for {which}")
    if hidden:
        note += (f"; raw values not drawn for runs of > {DENSE_POINTS} values" if some_shown
                 else f"; raw values not drawn (> {DENSE_POINTS} per run)")
    if groups:
        note += "; seed groups: mean of the smoothed seeds, raw values not drawn"
    return note


FLAT_SHARE = 0.02  # a run whose values span less of its axis's height is drawn flat


def flat_note(axes, drawn: dict[int, list[tuple[str, np.ndarray]]]) -> str | None:
    """Which runs an axis shared with others draws flat, and the range they do span: the law
    pair's train losses, 285 -> 5 beside 1.37 -> 0.70 (two tokenisers), drew the second as a
    line along 0 on one linear axis, which reads as a run that did not move (trial 40b).
    `drawn`: per panel, (label, values) of each run drawn on it."""
    flat = []
    for p, lines in drawn.items():
        low, high = axes[p].get_ylim()
        log = axes[p].get_yscale() == "log"  # heights in decades there
        if log:
            low, high = np.log10(low), np.log10(high)
        for label, values in lines if len(lines) > 1 else []:
            v = values[np.isfinite(values)]
            spread = np.ptp(np.log10(v[v > 0])) if log and (v > 0).sum() > 1 else np.ptp(v)
            if v.size > 1 and 0 < spread < FLAT_SHARE * abs(high - low):
                flat.append(f"{label} ({v.min():.3g} to {v.max():.3g})")
    if not flat:
        return None
    return f"one y axis for the runs: {', '.join(flat)} {'is' if len(flat) == 1 else 'are'} " \
           "flat at its scale"


def warn_scales(runs: list[Run], metric: str, members: list[int], groups) -> None:
    """`compared.scale_note` of the runs drawn on one axis of `metric` (`members`, named by
    their `groups` label): a fraction along the floor of a percentage's axis (trial 40b:
    eval_wer 0.79 -> 0.74 under 62 -> 25)."""
    from phasewatch.compared import scale_note

    label_of = {i: label for label, _, group in groups for i in group}
    drawn = [(i, s) for i in members if (s := series_or_none(runs[i], metric)) is not None]
    if len(drawn) > 1 and (note := scale_note(runs[drawn[0][0]].resolve_metric(metric),
                                              [(label_of[i], s.to_numpy()) for i, s in drawn])):
        warnings.warn(note, stacklevel=3)


def mark_stop(ax, steps, curve, stop, color, of_mean: bool = False) -> float | None:
    """The recommended stop on the curve drawn; `of_mean`: a seed group's, the stop of the
    seeds' mean, filled so that it is not read as a run's own."""
    if stop is None:
        return None
    y = float(np.interp(stop, steps, curve))
    # drawn whole at the axes' edge too: a run whose checkpoint to keep is its last (or first)
    # evaluation had half a triangle
    style = {**_draw.STOP_STYLE, "markerfacecolor": color} if of_mean else _draw.STOP_STYLE
    (line,) = ax.plot([stop], [y], color=color, zorder=5, gid="recommended-stop", clip_on=False,
                      **style)
    line.stop_of_mean = of_mean  # `_draw.in_view`: the legend explains each kind it shows
    return y
