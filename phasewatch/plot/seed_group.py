"""A seed group in the comparison figure: the mean of the seeds' smoothed curves, its band
(`seeds.band_limits`, cut at the metric's bounds) and the recommended stop of the seeds' mean."""

from __future__ import annotations

import numpy as np

from phasewatch.plot._runs import mark_stop, same_metric
from phasewatch.plot.phase import analyze
from phasewatch.plot.seeds import mean_options, mean_run, seed_curves
from phasewatch.plot.smoothing import smoothing_breaks


def draw_group(ax, panel, data, members, label, metric, style, smoothing, band,
               analyses, options) -> tuple[bool, str]:
    """Seeds of one group: the mean of their smoothed curves, the confidence band, and (with
    `analyses`, on the panel of the metric they analysed) the recommended stop of the group:
    that of the mean of the seeds' raw values, analysed like one run in the seeds' direction
    with their `options` (`seeds.mean_options`). Every seed is cut at the
    group's trough (the end of its disruption), not each at its own: cuts at different steps
    would leave the mean line a zigzag of noisy end points. The stop is the mean's, not any
    seed's (trial 40e: SFT's three seeds stop at 1100, 950 and 840, their mean at 730), so it is
    drawn filled and the legend says "stop of the seeds' mean"; the seeds' own stops go to the
    figure's data ("seed_stop"). Returns whether a stop was drawn, and where the band was cut
    at the metric's bounds ("" if nowhere)."""
    kind, level = band
    analysed = analyses is not None and all(
        same_metric(run, a.metric, metric) for run, a in zip(members, analyses))
    curves = seed_curves(members, metric, smoothing, level, band=kind)
    if curves is None:
        return False, ""
    own = members[0].resolve_metric(metric)
    analysis = analyze(mean_run(members, metric, curves, label), own, analyses[0].direction,
                       **mean_options(options, curves)) if analysed else None
    if analysis is not None:
        curves = seed_curves(members, metric, smoothing, level,
                             breaks=smoothing_breaks([], analysis), band=kind)
    color = style.color
    ax.fill_between(curves.steps, curves.low, curves.high, color=color, alpha=0.2, linewidth=0,
                    zorder=1.8, gid="seed-band")
    ax.plot(curves.steps, curves.mean, color=color, linewidth=1.3, zorder=3, gid="smoothed",
            **style.line())
    data.add(panel, label, own, "mean", curves.steps, curves.mean)
    name = "ci" if kind == "ci95" else kind  # the data say which band: sd_low, minmax_high
    data.add(panel, label, own, f"{name}_low", curves.steps, curves.low)
    data.add(panel, label, own, f"{name}_high", curves.steps, curves.high)
    if analysis is None:
        return False, curves.cut
    y = mark_stop(ax, curves.steps, curves.mean, analysis.recommended_stop_step, color,
                  of_mean=True)
    if y is None:
        return False, curves.cut
    data.add(panel, label, own, "stop", [analysis.recommended_stop_step], [y])
    stops = [a.recommended_stop_step for a in analyses if a.recommended_stop_step is not None]
    if stops:
        data.add(panel, label, own, "seed_stop", stops,
                 np.interp(stops, curves.steps, curves.mean).tolist())
    return True, curves.cut
