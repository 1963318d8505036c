"""The phase figure: one run's performance metric with its detected phases behind it.

Top panel: raw evaluations (faint points), a stated smoothing on top, pale phase bands labelled
in text above the axes, change-point intervals as whiskers, the baseline as a dotted line, known
events (SFT->RL switch, resumes) as vertical lines, the recommended stop and an x at each value
the analysis left out as an outlier. Optional panels below share the step axis: expert NLL train
vs held-out (the overfit signature: train keeps falling while held-out turns up), policy
entropy, response length. Every panel is smoothed with the same width in training steps, so
the legend states it once; the raw values are drawn under it (dots, or a faint line for a
value every step), or over it where it only joins a few evaluations. A run whose steps are epochs (`xaxis.step_unit`) says "epoch" on its axis
and in its legend.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from phasewatch.direction_words import name_words
from phasewatch.errors import InputError, UsageError
from phasewatch.output import counted
from phasewatch.plot import _draw, _phase_bands
from phasewatch.plot.data import FigureData, attach, figure_data
from phasewatch.plot.layout import freeze_layout
from phasewatch.plot.smoothing import (
    DEFAULT_SMOOTHING,
    DENSE_POINTS,
    Smoothing,
    event_breaks,
    held_to_points,
    smoothing_breaks,
)
from phasewatch.plot.style import figure_size, paper_style
from phasewatch.plot.ylabels import fit_ylabels
from phasewatch.results import Analysis, not_established
from phasewatch.run import Run
from phasewatch.signals import choose_direction
from phasewatch.step_counters import on_own_counter
from phasewatch.step_units import at
from phasewatch.values import MAX_VALUE
from phasewatch.xaxis import axis_label, in_step_unit, step_unit

# Auto panels: (y label, metrics drawn on it). A panel appears when any of its metrics exists;
# a train / held-out pair's label says which one it draws where it draws one (a GRPO run's
# train-batch `completion_length` is "resp. length (train)", not a held-out length: trial 39b).
AUTO_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("expert NLL", ("expert/nll_train", "expert/nll_heldout")),
    ("entropy", ("train/entropy",)),
    ("resp. length", ("train/response_length", "eval/response_length")),
)
# Panel lines are neutral (the palette's colours mean phases here); train solid, held-out dashed
# (dashed means held-out and nothing else in these figures).
_PANEL_LINES = (
    {"color": "#1a1a1a", "linestyle": "-"},
    {"color": "#1a1a1a", "linestyle": _draw.HELDOUT_DASH},
)
_PANEL_LABELS = {"expert/nll_train": "train", "expert/nll_heldout": "held-out",
                 "train/response_length": "train", "eval/response_length": "held-out"}
DATA_COLOR = "#1a1a1a"
RAW_COLOR = "#8c8c8c"


def analyze(run: Run, metric: str | None = None, direction: str | None = None,
            **options: Any) -> Analysis:
    """`phasewatch.analysis.analyze_run` (`options`: its `AnalyzeConfig` fields, e.g. a known
    `noise_sd`), imported on first use so `import phasewatch.plot` stays light."""
    from phasewatch.analysis import analyze_run

    return analyze_run(run, metric=metric, direction=direction, **options)


def outlier_steps(analysis: Analysis) -> list[int]:
    """Steps of the values `analysis` left out as outliers, as it recorded them
    (`extra["outlier_steps"]`: none when it kept them). Not recomputed: a figure marks what
    the analysis it draws did, whatever options that analysis was made with; an analysis that
    does not say (built by hand, or read from older JSON) gets no marks."""
    return [int(step) for step in analysis.extra.get("outlier_steps", [])]


def analysed_run(run: Run, analysis: Analysis) -> Run:
    """`run` holding the series `analysis` is of. The mean of several validation sets
    (`phasewatch.analyze(..., aggregate="mean")`) is not a series the log holds: it is made
    again from the log as the analysis made it (`metric_sets.choose_series`)."""
    from phasewatch.metric_sets import averaged_name, choose_series

    name = averaged_name(analysis.metric)
    if name is None or _has(run, analysis.metric):
        return run  # a series the run lacks otherwise is said where it is read
    choice = choose_series(run, name, "mean")
    return choice.run if choice.metric == analysis.metric else run


def resolve_panels(run: Run, panels: str | Sequence[str] | None,
                   analysed: str | None = None) -> list[tuple[str, list[str]]]:
    """`'auto'` -> the AUTO_PANELS present in `run`; a list of metrics -> one panel each.

    The panels share the `analysed` metric's x axis, so a metric whose steps count another
    counter (per-batch steps under a validation logged per epoch: `step_counters`) is no panel
    of it: left out of the auto panels, and a usage error when named, since drawn on one axis
    epoch 100 sits at batch 100, 1% into the run."""
    if panels is None or panels == "none":
        return []
    unit = step_unit(run, analysed)
    if panels == "auto":
        out = []
        for label, metrics in AUTO_PANELS:
            present = [m for m in metrics if _varies(run, m)
                       and step_unit(run, run.resolve_metric(m)) == unit]
            if len(present) < len(metrics) and present:
                label = f"{label} ({_PANEL_LABELS[present[0]]})"
            if present:
                out.append((_loss_term_label(run, label, present), present))
        return out
    if isinstance(panels, str):
        panels = [panels]
    for name in panels:
        own = run.resolve_metric(name)  # UsageError naming the metrics that exist
        if (counts := step_unit(run, own)) != unit:
            raise UsageError(f"--metric {name}: its steps count {counts}s, those of {analysed} "
                             f"{unit}s (two counters in one log), so they share no x axis; draw "
                             f"it in a figure of its own (plot --metric {name})")
    return [(_draw.metric_label(name), [name]) for name in panels]


def _loss_term_label(run: Run, label: str, metrics: list[str]) -> str:
    """`label`, unless the panel draws one metric the log names as a loss term: then the log's
    own name. A loss term carries the sign its objective gives it, which the role's word does
    not say: Stable-Baselines3's `train/entropy_loss` is minus the policy's entropy (the bonus
    its loss subtracts), so its values are negative and fall as the entropy rises, and a panel
    labelled "entropy" showed a govworkflow PPO run's entropy rise as a fall; verl's older
    `actor/entropy_loss` holds the entropy itself. The log's name is right for both."""
    if len(metrics) != 1:
        return label
    own = run.own_name(metrics[0])
    if own is None or own == metrics[0] or "loss" not in name_words(own):
        return label
    return _draw.metric_label(own)


def _varies(run: Run, metric: str) -> bool:
    """Whether `run` logs `metric` with more than one value, so an auto panel of it shows
    something: a metric logged as the same value at every step is a placeholder or a switched-off
    term (a GRPO script's `entropy` 0.0 at all 500 steps, jsonl-countdown-sft-grpo-acc), and its
    panel drew a flat line on an axis matplotlib offsets to "1e-14", which reads as a quantity
    that moved. A panel asked for by name is drawn whatever its values."""
    try:
        values = run.series(metric).to_numpy()
    except UsageError:
        return False
    return values.size > 0 and bool(np.ptp(values) > 0)


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
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Draw `run` with its phases; returns the matplotlib Figure (axes: `fig.axes`, top first).

    `analysis` defaults to `analyze_run(run, metric, direction)`. `panels`: "auto" (expert NLL,
    entropy, response length when logged), None, or a list of metric names, one panel each.
    `xlim` fixes the step axis, `ylim` the top panel. `figure_data(fig)`: what was drawn.
    Save with `phasewatch.plot.save_figure` (fixed metadata, Type 42 fonts).
    """
    if analysis is None:
        analysis = analyze(run, metric, direction)
    # the run's events at the metric's own counter (`step_counters`)
    run = on_own_counter(analysed_run(run, analysis), analysis.metric)
    series = run.series(analysis.metric)
    if series.empty:
        raise InputError(f"metric '{analysis.metric}' has no values to draw (all NaN, infinite or "
                         f"beyond +-{MAX_VALUE:g}); plot another --metric", run.source)
    panel_specs = resolve_panels(run, panels, analysis.metric)
    width, height = figure_size(size, n_panels=len(panel_specs))
    # the step axis spans every panel's data: a train loss analysed from step 10 left the
    # held-out panel's step-0 evaluation off the figure (trial 39)
    ends = [(s.index[0], s.index[-1]) for s in
            [series] + [run.series(m) for _, ms in panel_specs for m in ms] if not s.empty]
    first = min([a for a, _ in ends] + [p.start_step for p in analysis.phases])
    last = max([b for _, b in ends] + [p.end_step for p in analysis.phases])
    # a series of one stage (`stages.note_one_stage`): the axis spans the run, so the switch and
    # the other stage show, empty, and the legend says so (trial 40c: a joined LLaMA-Factory
    # SFT + DPO run drew its SFT eval_loss alone, to step 108, with no switch and no DPO part)
    only = analysis.extra.get("stage_only") or []
    if only and run.n_steps:
        first, last = min(first, int(run.steps[0])), max(last, int(run.steps[-1]))
    smoothing = smoothing.resolved(first, last, xlim)  # one width, in steps, for every panel
    unit = step_unit(run, analysis.metric)

    with paper_style():
        fig = _draw.new_figure(width, height)
        data = attach(fig)
        ratios = [2.0] + [1.0] * len(panel_specs)
        axes = fig.subplots(len(ratios), 1, sharex=True, squeeze=False,
                            gridspec_kw={"height_ratios": ratios})[:, 0].tolist()
        breaks = event_breaks(run.events)
        handles = _draw_performance(axes[0], run, series, analysis, smoothing,
                                    smoothing_breaks(run.events, analysis), data, unit)
        for p, (ax, (label, metrics)) in enumerate(zip(axes[1:], panel_specs), start=1):
            _draw_panel(ax, p, run, label, metrics, smoothing, breaks, data)
        for ax in axes:
            _phase_bands.draw_phase_bands(ax, analysis.phases)
            _draw.step_xlim(ax, first, last)
        for ph in analysis.phases:
            data.add(0, run.name or run.source, analysis.metric, f"phase:{ph.name}",
                     [ph.start_step], None, [ph.end_step])
        events = _draw.draw_events(axes, run.events)
        _draw.apply_limits(axes, xlim, ylim)
        seen = _draw.in_view(axes)  # the legend explains only what the limits left in view
        handles = [h for h in handles
                   if not (h.get_gid() == "recommended-stop" and "stop" not in seen)
                   and not (h.get_gid() == "outlier" and "outlier" not in seen)]
        handles += [h for label, h in events.items() if f"event:{label}" in seen]
        for event in only:
            handles.append(Line2D([], [], linestyle="none", label=(
                f"{analysis.metric}: {event['stage'].upper()} stage only (none "
                f"{'after' if event['stage'] == 'sft' else 'before'} the switch)")))
        confidence = analysis.extra.get("confidence")
        unsure = [k for k, ph in enumerate(analysis.phases) if not_established(analysis, ph)]
        if confidence in ("low", "moderate"):  # the text's hedge, on a figure copied into a paper
            handles.append(Line2D([], [], linestyle="none", label=(
                f"phases: {confidence} confidence ({counted(series.size, 'evaluation')})")))
        axes[-1].set_xlabel(axis_label(unit))
        _draw.fit_legend(fig, handles, max_cols=3)
        if title:
            _draw.fit_suptitle(fig, title)
        fig.align_ylabels(axes)
        relayout = fit_ylabels(fig, axes)
        _phase_bands.label_phases(axes[0], analysis.phases, draw=relayout, unsure=unsure)
        freeze_layout(fig)
    return fig


def _draw_performance(ax, run: Run, series, analysis: Analysis, smoothing: Smoothing,
                      breaks: list[float], data: FigureData, unit: str = "step") -> list[Line2D]:
    """Raw points, smoothing, baseline, change-point whiskers, stop, outliers; returns legend
    handles (one per meaning: the smoothing handle stands for every panel), whose steps are
    named `unit` ("stop (epoch 7)")."""
    steps = series.index.to_numpy(dtype=np.float64)
    values = series.to_numpy()
    name = run.name or run.source
    handles = []
    # where the line only joins the evaluations (`Smoothing.joins`: a run of a few), it runs
    # through every point and hid them: the legend's "raw values" showed nowhere, and an
    # evaluation on a straight stretch (tb-alpaca-bitcoin-6ev's 0.6276 at step 250, between
    # 0.6275 and 0.6287) could not be told from the line; there the points are drawn over it
    joined = smoothing.joins(steps)
    ax.plot(steps, values, linestyle="none", marker="o", markersize=2.6 if joined else 2.0,
            color=RAW_COLOR, alpha=1.0 if joined else 0.55, markeredgewidth=0,
            zorder=3.5 if joined else 2, gid="raw")
    data.add(0, name, analysis.metric, "raw", steps, values)
    handles.append(Line2D([], [], linestyle="none", marker="o", markersize=2.5,
                          color=RAW_COLOR, markeredgewidth=0, label="raw values"))
    # the curve of the values analysed: the outliers the analysis left out (marked below) do
    # not bend it (trial 34b: three left-out readings dipped a flat token accuracy's curve)
    out = outlier_steps(analysis)
    kept = ~np.isin(steps, np.asarray(out, dtype=np.float64)) if out else np.ones(steps.size, bool)
    steps_kept = steps[kept]
    _draw.log_axis_if_spanning(ax, values, analysis.direction == "min")
    curve = held_to_points(smoothing.apply(values[kept], steps_kept, breaks,
                                           log=ax.get_yscale() == "log"),
                           values[kept], analysis.extra.get("noise_sd"))
    if smoothing.kind != "none":
        ax.plot(steps_kept, curve, color=DATA_COLOR, linewidth=1.2, zorder=3, gid="smoothed")
        data.add(0, name, analysis.metric, "smoothed", steps_kept, curve)
        handles.append(Line2D([], [], color=DATA_COLOR, linewidth=1.2,
                              label=in_step_unit(smoothing.describe(steps), unit)))
    baseline = analysis.baseline
    shown = values
    if baseline is not None and np.isfinite(baseline):
        ax.axhline(baseline, zorder=1, gid="baseline", **_draw.BASELINE_STYLE)
        handles.append(Line2D([], [], label="baseline", **_draw.BASELINE_STYLE))
        data.add(0, name, analysis.metric, "baseline", [steps[0]], [baseline])
        shown = np.append(shown, baseline)
    if analysis.changepoints:
        _draw.draw_changepoint_intervals(ax, analysis)
        handles.append(_draw.changepoint_handle())
    stop = analysis.recommended_stop_step
    if stop is not None:
        y = float(np.interp(stop, steps_kept, curve))
        ax.plot([stop], [y], zorder=5, gid="recommended-stop", color=DATA_COLOR, clip_on=False,
                **{**_draw.STOP_STYLE, "markersize": 5})
        handles.append(Line2D([], [], label=f"stop ({at(stop, unit)})", color=DATA_COLOR,
                              gid="recommended-stop", **{**_draw.STOP_STYLE, "markersize": 5}))
        data.add(0, name, analysis.metric, "stop", [stop], [y])
    out_values = _draw.draw_outliers(ax, series, out, DATA_COLOR)
    if out_values:
        handles.append(_draw.outlier_handle())
        data.add(0, name, analysis.metric, "outlier", out[:len(out_values)], out_values)
    ax.set_ylabel(_draw.metric_label(analysis.metric, analysis.direction))
    _draw.padded_ylim(ax, shown)
    return handles


def _draw_panel(ax, panel: int, run: Run, label: str, metrics: list[str], smoothing: Smoothing,
                breaks: list[float], data: FigureData) -> None:
    """One stacked panel: raw values faint (dots, or a thin line when there is a value every
    step), the figure's smoothing on top, train solid and held-out dashed."""
    name = run.name or run.source
    series = [run.series(metric) for metric in metrics]
    lower = all(choose_direction(run, metric, None) == "min" for metric in metrics)
    log = _draw.log_axis_if_spanning(
        ax, np.concatenate([s.to_numpy() for s in series]) if series else np.empty(0), lower)
    for line_style, metric, s in zip(_PANEL_LINES * len(metrics), metrics, series):
        steps, values = s.index.to_numpy(dtype=np.float64), s.to_numpy()
        legend_label = _PANEL_LABELS.get(metric, _draw.metric_label(metric))
        data.add(panel, name, metric, "raw", steps, values)
        if smoothing.kind != "none":
            if values.size > DENSE_POINTS:
                ax.plot(steps, values, color=RAW_COLOR, alpha=0.45, linewidth=0.4, zorder=2, gid="raw")
            else:
                ax.plot(steps, values, linestyle="none", marker="o", markersize=1.2, color=RAW_COLOR,
                        alpha=0.55, markeredgewidth=0, zorder=2, gid="raw")
            values = smoothing.apply(values, steps, breaks, log=log)
            data.add(panel, name, metric, "smoothed", steps, values)
        ax.plot(steps, values, linewidth=1.0, zorder=3, gid="panel", label=legend_label, **line_style)
    ax.set_ylabel(label)
    if not log:
        _draw.readable_ylim(ax)
    if len(metrics) > 1:
        ax.legend(loc="best", handlelength=1.8, borderaxespad=0.2)


def stop_in_unit(fig, unit: str, to_unit) -> None:
    """Restate the legend's "stop (step N)" (or "epoch N", where the steps are epochs) in the
    unit of a relabelled x axis ("stop (epoch 2.4)", "stop (tokens 1.2e+06)"): a figure whose
    axis reads epochs should not name its stop in steps. From the stop's step as the figure
    data hold it, not from the legend's words: "epoch 14" of a console log counted in epochs is
    step 140,000 (read as step 14, the legend said "epoch 0.0014")."""
    stops = [row[4] for row in figure_data(fig).rows if row[3] == "stop"]
    if len(stops) != 1:
        return
    for legend in fig.legends:
        for text in legend.get_texts():
            if re.fullmatch(r"stop \((?:step|epoch) -?[\d.]+\)", text.get_text()):
                text.set_text(f"stop ({unit} {to_unit(stops[0]):.4g})")
