"""`analyze_run`: a Run in, its phases out (the library entry point behind `phasewatch analyze`).

reader -> Run -> signals.prepare (metric, direction, NaN, outliers) -> changepoint.Segmenter
(trend segmentation with intervals; on runs of up to 40 evaluations a broken line with knots
anywhere, `phasewatch.hinge`) -> phases.build_phases (names) -> an early one- or two-point dip
the lines cannot see (`phasewatch.start_dip`) -> effect sizes per phase,
supporting signals per phase, the held-out-vs-train expert NLL check for overfit, and
`recommended_stop_step` (the checkpoint to keep: the peak an overfit starts from, else the
maximum of the smoothed series).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from phasewatch.analyze_config import AnalyzeConfig
from phasewatch.changepoint import Segmenter
from phasewatch.checkpoint import (
    beats_last,
    best_index,
    note_better_after_peak,
    note_held_best,
    note_start_beats_stop,
    overfit_peaks,
    plateau_rank,
    stop_level,
)
from phasewatch.choice_notes import notes_on_choice
from phasewatch.confidence import below_resolution, few_points_confidence, resolution_warning
from phasewatch.corners import place_corners
from phasewatch.diverged import diverged_note
from phasewatch.expert_data import (
    held_out_loss_overfit,
    is_held_out_loss,
    overfit_if_unrecovered,
    policy_gradient_only,
)
from phasewatch.fall_so_far import ends_early, fall_so_far
from phasewatch.hinge import MAX_POINTS as HINGE_POINTS
from phasewatch.hinge import epoch_starts, hinge_phases
from phasewatch.known_noise import (
    KnownNoise,
    constant_floor,
    known_noise,
    logged_binomial,
    quantised_rate_note,
)
from phasewatch.loss_beside import loss_beside_note
from phasewatch.nll_overfit import apply_nll_overfit, nll_overfit_onset
from phasewatch.noise import noise_sd, off_bound_sd, pinned_at_bound, reported_noise, residual_sd
from phasewatch.overshoots import settle_overshoots
from phasewatch.phase_signals import signal_stats, token_signals
from phasewatch.phase_stats import (
    SPARSE,
    Baseline,
    boundary_levels,
    declines_from_peak,
    demote_flat_trends,
    into_rise,
    phase_stats,
)
from phasewatch.phases import PhaseConfig, fit_segments, significant_gap
from phasewatch.plateau_start import held_plateau, start_plateaus
from phasewatch.results import Analysis
from phasewatch.reward_beside import note_reward_rise
from phasewatch.run import Run
from phasewatch.running_means import level_noise, with_level_note
from phasewatch.short_series import MIN_FOR_NOISE, analyze_short
from phasewatch.signals import (
    choose_direction,
    choose_metric,
    is_performance_metric,
    other_signals,
    prepare,
)
from phasewatch.smoothed_levels import smoothing_window
from phasewatch.stages import (
    STAGE_EVENTS,
    STAGE_POINTS,
    note_one_stage,
    stage_phases,
    stage_splits,
    stage_start_dips,
)
from phasewatch.start_dip import split_start_dip
from phasewatch.start_shift import split_sparse_shift, split_start_shift
from phasewatch.step_counters import on_own_counter, own_counter, run_counters
from phasewatch.step_units import positions_in_unit
from phasewatch.train_beside import is_held_out, note_train_beside, train_series, value_word
from phasewatch.trainer_best import worst_kept_note
from phasewatch.turns import boundary_intervals, snap_turns
from phasewatch.unseen_start import note_unseen_start
from phasewatch.whole_plan import plan_and_decay, unfinished_note
from phasewatch.whole_run_trend import (
    HELD_EDGES_ABOVE,
    averaged_best,
    edge_stats,
    judged_at_edges,
    stepped_climb,
    trend_edges,
    whole_run_trend,
)
from phasewatch.xaxis import step_unit

# Fewer evaluations get the short-series answer (phasewatch.short_series). From 6 on, a broken
# line with a knot (phasewatch.hinge) reads a rise and fall or a late decline that one rank test
# cannot: on 3-12-evaluation runs of the tuning seeds, boundary hits 0.55 / 0.38 -> 0.64 / 0.48
# (the two generator families) for the cut at 6 instead of 9, at the same false claims.
SHORT_POINTS = 6


def analyze_run(run: Run, metric: str | None = None, direction: str | None = None,
                **opts: Any) -> Analysis:
    """Phases of `run`'s performance metric (see `AnalyzeConfig` for the options). Its notes
    name each step in the unit the run's steps count (`step_units.positions_in_unit`), as its
    phases and stop are printed: epochs where the log's steps are epochs (Keras) or it states
    none (an HF console log, epoch x 10,000)."""
    analysis = _analyze_run(run, metric, direction, **opts)
    notes = (worst_kept_note(run, analysis.metric, analysis.direction,  # the Trainer's best
                             analysis.extra.get("noise_sd") or 0.0),  # ranked the other way
             diverged_note(run, analysis.metric),  # its train loss NaN from a step on
             loss_beside_note(run, analysis, _analyze_run, opts))  # its held-out loss's best
    unit = step_unit(run, analysis.metric)
    analysis.run_notes = [positions_in_unit(note, unit) for note in notes if note is not None]
    analysis.warnings[:] = [positions_in_unit(w, unit) for w in analysis.warnings] + analysis.run_notes
    counters = run_counters(run)
    if counters.note is not None and analysis.metric in counters.short:
        analysis.warnings.append(counters.note)  # its steps, beside the others' (step_counters)
    return analysis


def _analyze_run(run: Run, metric: str | None, direction: str | None, **opts: Any) -> Analysis:
    unknown = set(opts) - set(AnalyzeConfig.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; "
                        f"known: {sorted(AnalyzeConfig.__dataclass_fields__)}")
    cfg = AnalyzeConfig(**opts)
    baseline_spec = Baseline.parse(cfg.baseline)
    chosen = choose_metric(run, metric)
    notes = notes_on_choice(run, chosen, bool(metric), direction)
    metric = chosen
    direction = choose_direction(run, metric, direction)
    # a metric logged per epoch beside per-batch steps: the run's events and plan are at the
    # batches' steps, not its own (`step_counters`)
    apart = own_counter(run, run.resolve_metric(metric))
    run = on_own_counter(run, run.resolve_metric(metric))
    series = prepare(run, metric, direction, keep_outliers=cfg.keep_outliers,
                     noise_sd=cfg.noise_sd, eval_size=cfg.eval_size, use_events=cfg.use_events)
    warnings = notes + list(series.warnings)
    # the plan of a run still to come: none when the log says the run ended (the last
    # evaluation of a finished run may come before its last step); --planned-steps names none
    # of the learning rate's decay words: the option is the plan's source
    plan, decay = ((cfg.planned_steps, None) if cfg.planned_steps
                   else (None, None) if run.finished or apart else plan_and_decay(run))
    if (unfinished := unfinished_note(run, plan, decay)) is not None:
        warnings.append(unfinished)
    steps, y = series.steps, series.values
    own_metric = run.resolve_metric(metric)
    train = train_series(run, metric)  # the train metric judged beside it (`train_beside`)
    # how the run shows it has no expert data, if it does and is past its plan's early part,
    # where a fall may still be recovered (as `fall_so_far`, and the live monitor, judge it)
    no_expert = None if ends_early(series.steps, plan) or cfg.expert_data else (
        policy_gradient_only(run) if cfg.expert_data is None else "--expert-data no")
    # ... and a held-out loss, whose rise as the train loss falls is an overfit (`expert_data`)
    held_loss = not ends_early(series.steps, plan) and is_held_out_loss(run, own_metric)
    known = known_noise(cfg.noise_sd, cfg.eval_size, series.sign * y, own_metric)
    if known is None and y.size < MIN_FOR_NOISE and (
            logged := logged_binomial(run.columns(), own_metric, series.sign * y)) is not None:
        known = logged[0]  # too short for an estimate: the noise of the set the log states
        warnings.append(logged[1])
    if known is None and (flat := constant_floor(y, own_metric)) is not None:
        known = flat[0]  # constant for any practical purpose
        warnings.append(flat[1])
    level = level_noise(own_metric, series.sign * y) if known is None else None  # `running_means`
    with_level_note(warnings, own_metric, level)

    if (caveat := baseline_spec.caveat(steps)) is not None:
        warnings.append(caveat)
    if y.size == 0:
        warnings.append(f"no finite values of {own_metric}: nothing to analyse")
        return Analysis(run.source, own_metric, direction, None, [], [], None, warnings,
                        {"outlier_steps": list(series.outlier_steps)})
    if y.size < SHORT_POINTS or np.ptp(y) == 0:
        short = note_reward_rise(note_train_beside(_with_source(analyze_short(
            run.source, own_metric, direction, series, train, baseline_spec, warnings,
            known.sd if known else None, is_held_out(run, own_metric), no_expert,
            value_word(run, own_metric), held_loss), known),
            run, train), run)
        short = note_held_best(note_unseen_start(short, steps, y, run.step_unit, run.steps), steps, y)
        return note_one_stage(short, run.events, steps)

    # (a switch at the last evaluation leaves the series in one stage: `note_one_stage`)
    events = [e.step for e in run.events if steps[0] < e.step < steps[-1]] if cfg.use_events else []
    # Only a change of training stage is a boundary of the performance series: an epoch
    # boundary makes train losses step, not held-out metrics, and a log format that records
    # epochs must not get other phases than one that does not.
    switches = [e for e in run.events if e.name in STAGE_EVENTS and e.step in events]
    stages = stage_splits(steps, [e.step for e in switches])
    warnings.extend(f"{own_metric}: the {e.name} switch at step {e.step} is not a phase boundary: "
                    f"a stage needs {STAGE_POINTS} evaluations on each side to be read on its own, "
                    "so the run is read as one" for e in switches if e.step not in stages)
    # Outliers are already out (signals.prepare) and significance is judged against the noise
    # in the phase rules, so no spike replacement or effect floor here.
    min_size = max(3 if y.size <= SPARSE else 5, int(cfg.min_size_fraction * y.size))
    segmenter = Segmenter(model="linear", penalty_factor=cfg.penalty_factor, penalty=cfg.penalty,
                          min_size=min_size, max_points=cfg.max_points, min_effect=0.0,
                          despike=False, level_noise=(level.sd, level.window) if level else None)
    seg = segmenter.fit(steps, y, forced=tuple(stages))
    warnings.extend(seg.warnings)
    pcfg = PhaseConfig(**{name: getattr(cfg, name) for name in PhaseConfig.__dataclass_fields__
                          if name != "window"}, window=level.window if level else 1.0)
    # a log that ends before its plan is a run read while it trains (or stopped): what is
    # early is judged against the plan, as the live monitor judges it (a stage's own length
    # is its plan)
    pcfg.planned_steps = None if stages else plan
    # a broken line with knots anywhere (phasewatch.hinge), judged against its own noise; not
    # for a rate pinned at a bound, whose few other readings the knots would fit exactly
    pinned = pinned_at_bound(y)
    hinged = not stages and y.size <= HINGE_POINTS and not pinned and level is None
    if hinged and cfg.penalty is not None:  # trial 35: P = 0 ... 500 gave the same phases, unsaid
        warnings.append(f"--penalty {cfg.penalty:g} sets the segmentation's penalty, and a run of "
                        f"up to {HINGE_POINTS} evaluations is read by the broken line instead "
                        "(its own penalty per knot): it changes no phase here")
    if hinged:
        starts = epoch_starts(steps, y, [e.step for e in run.events
                                         if e.name == "epoch_boundary"]) if cfg.use_events else ()
        phases, sd = hinge_phases(steps, y, pcfg, known.sd if known else None, starts)
        ar = 0.0  # the broken line's noise is not inflated for autocorrelation
    elif known is not None:
        ar = seg.ar
        # as given, not widened for AR(1) residuals as the estimate is: the lines (whose penalty
        # is inflated for the autocorrelation) take up the slow wander, and the long-run factor
        # of an estimated phi put the sd at 1.3x the truth in the median on AR(1) runs (tuning
        # seeds: boundary hits 0.82 / 0.87 and false claims 0.04 / 0.08 in the two families,
        # against 0.87 / 0.90 and 0.02 / 0.04 as given)
        sd = known.sd
        phases = stage_phases(steps, y, seg.breaks, sd, pcfg, stages, pinned)
    else:
        ar = seg.ar
        sd = noise_sd(y, ar)  # one formula with the live monitor (AR(1) inflation, capped)
        if level is not None:  # (its lines follow the wander: no residual sd either)
            sd = level.sd
        elif y.size <= SPARSE:
            # judge the trends against the tighter noise (the segmentation keeps its own: judged
            # against this one too, it over-cuts controls: false claims 0.00 -> 0.04-0.12 on
            # 15- and 30-point runs)
            residuals = y - fit_segments(steps.astype(np.float64), y, list(seg.breaks))
            sd = min(sd, residual_sd(residuals, 2 * (len(seg.breaks) + 1)))
        if pinned:
            # a rate pinned at a bound: the readings at it differ by exactly 0 (tuning seeds,
            # bounded regime: false claims 0.02 -> 0.00 and 0.08 -> 0.07, boundary hits
            # 0.82 -> 0.87 and 0.82 -> 0.84 in the two generator families)
            sd = max(sd, off_bound_sd(y))
        phases = stage_phases(steps, y, seg.breaks, sd, pcfg, stages, pinned)

    fixed = set(stages)
    window = smoothing_window(y.size, pcfg)
    # the user's baseline is the reference effects are measured from (phase_stats); the phases
    # and their edge values come from the data, whatever baseline was chosen
    base, base_se = baseline_spec.level(steps, y, sd)
    phases = snap_turns(phases, steps, y, window, fixed)
    phases = demote_flat_trends(phases, boundary_levels(phases, steps, y, fixed, robust=True),
                                sd, cfg.k_sd, steps=steps)
    placed = stretched = False  # a trend placed between flat stretches (`whole_run_trend`);
    # ... found there from the run's first and last stretches, not by the rules
    if not stages:
        trend = whole_run_trend(phases, steps, y, sd, ar, pcfg, hinged, seg.breaks)
        placed, stretched = trend is not phases, [p.name for p in phases] == ["plateau"]
        phases = trend
        # after the check above: the start dip is judged on its own evaluations, and a 3-point
        # median (the check's level on runs of over 40) erases a one-evaluation trough
        phases = split_start_dip(phases, steps, y, sd, window, pcfg, ar, known is not None)
        phases = split_start_shift(phases, steps, y, sd, pcfg, bool(series.outlier_steps))
        phases, shift_sd = split_sparse_shift(phases, steps, y, known.sd if known else None)
        if shift_sd is not None:  # the noise the split was judged against, the start's with it
            sd = shift_sd
            base, base_se = baseline_spec.level(steps, y, sd)
    else:  # each stage's start, as the run's start above
        phases = stage_start_dips(phases, steps, y, stages, sd, window, pcfg, ar, known is not None)
    phases = settle_overshoots(phases, steps, y, cfg.short_flat_fraction,
                               significant_gap(sd, cfg.k_sd))
    phases = place_corners(phases, steps, y, fixed)
    if hinged:
        phases = start_plateaus(phases, steps, y, sd, fixed)
    phases = held_plateau(phases, steps, y)

    signals = other_signals(run, metric)
    if cfg.use_tokens and run.token_store is not None:
        signals.update(token_signals(run, warnings))
    # the expert-NLL criterion speaks for held-out performance, not for a length or a rate
    nll_onset = nll_overfit_onset(signals) if is_performance_metric(run, metric) else None
    if nll_onset is not None:
        phases = apply_nll_overfit(phases, nll_onset, steps, y, pcfg, signals)
        # a rise that now meets the overfit is a peak: put it on the data, as above
        phases = snap_turns(phases, steps, y, window, fixed)
    elif no_expert:  # no expert data: no disruption but one recovered (`expert_data`)
        phases, note = overfit_if_unrecovered(phases, own_metric, no_expert)
        warnings.extend([note] if note else [])
    else:  # a log read before the run's end (with no NLL saying it overfits)
        phases, note = fall_so_far(phases, steps, pcfg)
        if note is None and held_loss:  # past the plan's early part (`expert_data`)
            phases, note = held_out_loss_overfit(phases, own_metric, train, steps, y, sd, cfg.k_sd)
        warnings.extend([note] if note else [])

    said_before = len(warnings)
    shown_sd = reported_noise(sd, y, own_metric, warnings)  # effects in sds of the noise
    float_note = warnings[said_before:]  # the values on exact lines (a noise sd of 0)
    rate_note = quantised_rate_note(run.columns(), own_metric, series.sign * y, shown_sd) \
        if known is None else None
    if rate_noted := rate_note is not None:
        warnings.append(rate_note)  # a rate on few items, whose estimate is too small: said, not used
    base_se = base_se if shown_sd else 0.0
    levels = boundary_levels(phases, steps, y, fixed)
    # a trend decided from the run's stretches is read between the levels it was decided on, and
    # past HELD_EDGES_ABOVE evaluations a trend's edge beside a plateau is the plateau's level
    edges = trend_edges(phases, steps, y, levels, placed and stretched, fixed) \
        if placed or y.size > HELD_EDGES_ABOVE else None
    levels = [level for level, _, _ in edges] if edges else levels
    if edges and not stages and nll_onset is None:  # (an NLL overfit's accuracy need not move)
        phases, edges = judged_at_edges(phases, steps, y, edges, sd, cfg.k_sd,
                                        placed and stretched, fixed, pcfg.window)
        if pcfg.window > 1 and (climb := stepped_climb(phases, steps, y, sd, pcfg, seg.breaks,
                                                        fixed)) is not None:
            phases, edges, placed, stretched = climb
        levels = [level for level, _, _ in edges]
    for k, phase in enumerate(phases):
        phase.stats.update(phase_stats(phase, levels[k], levels[k + 1], steps, y, series.sign,
                                       shown_sd, base, into_rise(phases, k)))
        if edges and phase.name != "plateau":  # its edge values are means or medians
            phase.stats = edge_stats(edges[k], edges[k + 1], phase.stats)
            if stretched and phase.name == "improvement":
                phase.stats.update(averaged_best(phase, steps, y, base, levels[k + 1]))
        if level is not None:  # what its se's count a stretch of values as (`ends_read`)
            phase.stats["window_logs"] = round(level.window, 1)
        if signals:
            phase.stats["signals"] = signal_stats(signals, phase)
    changepoints = boundary_intervals(phases, seg.changepoints, steps, y, sd, window, fixed)
    peaks = overfit_peaks(phases, changepoints, steps, y, min_size)
    for k, top in peaks.items():  # an overfit's decline is from the peak it starts from
        declines_from_peak(phases[k], top, steps, y, series.sign, shown_sd)
        note_better_after_peak(phases[k], top, steps, y, series.sign, shown_sd)
    best = best_index(phases, steps, y, peaks)
    extra = {
        "baseline_rule": str(baseline_spec),
        "baseline_se": float(base_se),
        "best_value": series.own_units(float(np.max(y))),  # the best evaluation (inspect's)
        "stop_value": series.own_units(float(y[best])),  # the evaluation at the stop
        "noise_sd": float(shown_sd),
        "segments": [cp.to_dict() for cp in seg.changepoints],
        "penalty": float(seg.penalty),
        # what was left out, so a figure marks exactly these (none with keep_outliers)
        "outlier_steps": list(series.outlier_steps),
        **({"rate_note": rate_note} if rate_noted else {}),  # `watch` says it at its end too
    }
    if (level := stop_level(phases, steps, y, peaks)) is not None:  # what the stop was ranked by
        extra["stop_level"] = {"value": series.own_units(level[0]), "evaluations": level[1]}
    step = below_resolution(y, shown_sd) if known is None else None
    if (confidence := few_points_confidence(phases, y.size)) is not None:
        if step is not None:
            confidence = "low"
            warnings.append(resolution_warning(own_metric, y.size, shown_sd, step, True,
                                               value_word(run, own_metric)))
        extra["confidence"] = confidence
    elif step is not None and shown_sd > 0 and not rate_noted:  # the rate's note says it already
        warnings.append(resolution_warning(own_metric, y.size, shown_sd, step, False,
                                           value_word(run, own_metric)))
    if float_note and rate_noted:  # a rate on few items: its note says the estimate is 0 and
        # what the noise is (binomial), which the float note beside it said less of, twice
        warnings.remove(float_note[0])
    if (beats := beats_last(phases, y, best, sd, cfg.k_sd, steps)) is not None:
        extra["stop_beats_last"] = beats
    if (ranked := plateau_rank(phases, y, best, sd, cfg.k_sd, steps, beats)) is not None:
        extra["stop_ranked_at"] = {"plateau_from_step": ranked[0],
                                   "level": series.own_units(ranked[1])}
    if nll_onset is not None:
        extra["nll_overfit_onset_step"] = int(nll_onset)
    if stages:
        # the stage switches split at (an epoch boundary at the same step is no stage switch)
        extra["events"] = [e.to_dict() for e in run.events
                           if e.step in stages and e.name in STAGE_EVENTS]
    analysis = _with_source(Analysis(run.source, own_metric, direction, series.own_units(base),
                                     changepoints, phases, int(steps[best]), warnings, extra),
                            known)
    analysis = note_reward_rise(note_train_beside(analysis, run, train), run)
    analysis = note_start_beats_stop(analysis, steps, y, cfg.k_sd)
    analysis = note_held_best(note_unseen_start(analysis, steps, y, run.step_unit, run.steps), steps, y)
    return note_one_stage(analysis, run.events, steps)


def _with_source(analysis: Analysis, known: KnownNoise | None) -> Analysis:
    """`analysis` saying where its noise sd came from when the user gave it (JSON
    `noise_sd_source`: given | binomial, and `eval_size`; `noise_sd` is then the sd from the
    options); an estimated noise adds no key, so that output without the options is what it
    always was."""
    if known is not None:
        analysis.extra["noise_sd_source"] = known.source
        if known.eval_size is not None:
            analysis.extra["eval_size"] = known.eval_size
    return analysis
