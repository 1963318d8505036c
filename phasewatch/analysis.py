"""`analyze_run`: a Run in, its phases out (the library entry point behind `phasewatch analyze`).

reader -> Run -> signals.prepare (metric, direction, NaN, outliers) -> changepoint.Segmenter
(trend segmentation with intervals) -> phases.build_phases (names) -> effect sizes per phase,
supporting signals per phase, the held-out-vs-train expert NLL check for overfit, and
`recommended_stop_step` (the checkpoint to keep: the peak an overfit starts from, else the
maximum of the smoothed series).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from phasewatch.changepoint import Segmenter
from phasewatch.noise import noise_scale
from phasewatch.phases import PhaseConfig, build_phases, fit_segments, smooth, smoothing_window
from phasewatch.results import Analysis, ChangePoint, Phase
from phasewatch.run import Run
from phasewatch.signals import choose_direction, choose_metric, other_signals, prepare

MIN_POINTS = 8
STAGE_EVENTS = ("sft_to_rl",)  # known events that start a new training stage (phases restart)
# A boundary's interval spans where the smoothed series stays within BAND_SD of its own noise
# (sd / sqrt(window)) of its value at the boundary. 3, not 2: the smoothed extreme the
# boundary sits on is itself pulled up by the noise (measured: 2 covered the true boundary in
# 83-87% of synthetic runs, 3 in 88-97%; benchmarks/bench_phase_accuracy.py).
BAND_SD = 3.0


@dataclass
class AnalyzeConfig:
    """Options of `analyze_run` (keyword arguments override these defaults)."""

    min_size_fraction: float = 0.02   # shortest segment, as a fraction of the points
    penalty_factor: float = 2.0       # BIC-style penalty multiplier (see changepoint.Segmenter)
    max_points: int = 1000            # longer series are segmented on block means first
    use_events: bool = True           # known events (SFT->RL switch, epochs, resumes) as boundaries
    use_tokens: bool = True
    k_sd: float = PhaseConfig.k_sd
    t_min: float = PhaseConfig.t_min
    short_flat_fraction: float = PhaseConfig.short_flat_fraction
    turn_flat_fraction: float = PhaseConfig.turn_flat_fraction
    recover_sd: float = PhaseConfig.recover_sd
    jump_k_sd: float = PhaseConfig.jump_k_sd
    transient_fraction: float = PhaseConfig.transient_fraction
    smooth_fraction: float = PhaseConfig.smooth_fraction
    level_sd: float = PhaseConfig.level_sd


def analyze_run(run: Run, metric: str | None = None, direction: str | None = None,
                **opts: Any) -> Analysis:
    """Phases of `run`'s performance metric (see `AnalyzeConfig` for the options)."""
    unknown = set(opts) - set(AnalyzeConfig.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; "
                        f"known: {sorted(AnalyzeConfig.__dataclass_fields__)}")
    cfg = AnalyzeConfig(**opts)
    metric = choose_metric(run, metric)
    direction = choose_direction(run, metric, direction)
    series = prepare(run, metric, direction)
    warnings = list(series.warnings)
    steps, y = series.steps, series.values
    own_metric = run.resolve_metric(metric)

    if y.size < MIN_POINTS or np.ptp(y) == 0:
        if y.size == 0:
            warnings.append(f"no finite values of {own_metric}: nothing to analyse")
        else:
            reason = (f"only {y.size} finite points of {own_metric}" if y.size < MIN_POINTS
                      else f"{own_metric} is constant")
            warnings.append(f"{reason}: reported as a single plateau, no phases can be "
                            "told apart")
        phases = []
        if y.size:
            phases = [Phase("plateau", int(steps[0]), int(steps[-1]),
                            {"start_value": float(series.own_units(y[0])),
                             "end_value": float(series.own_units(y[-1])), "n_points": int(y.size)})]
        return Analysis(run.source, own_metric, direction,
                        float(series.own_units(y[0])) if y.size else None,
                        [], phases, int(steps[np.argmax(y)]) if y.size else None, warnings)

    events = [e.step for e in run.events if steps[0] < e.step <= steps[-1]] if cfg.use_events else []
    # Outliers are already out (signals.prepare) and significance is judged against the noise
    # in the phase rules, so no spike replacement or effect floor here.
    segmenter = Segmenter(model="linear", penalty_factor=cfg.penalty_factor,
                          min_size=max(5, int(cfg.min_size_fraction * y.size)),
                          max_points=cfg.max_points, min_effect=0.0, despike=False)
    seg = segmenter.fit(steps, y, forced=tuple(events))
    warnings.extend(seg.warnings)
    sd = noise_scale(y) * np.sqrt((1 + seg.ar) / (1 - seg.ar))
    pcfg = PhaseConfig(**{name: getattr(cfg, name) for name in PhaseConfig.__dataclass_fields__})
    stages = [e.step for e in run.events if e.name in STAGE_EVENTS and e.step in events]
    phases, fitted = _stage_phases(steps, y, seg.breaks, sd, pcfg, stages)

    signals = other_signals(run, metric)
    if cfg.use_tokens and run.token_store is not None:
        signals.update(_token_signals(run, warnings))
    nll_onset = _nll_overfit_onset(signals)
    if nll_onset is not None:
        phases = _apply_nll_overfit(phases, nll_onset, steps, pcfg, signals)

    best = _best_index(phases, steps, y, pcfg)
    baseline = series.own_units(fitted[0])
    for phase in phases:
        phase.stats.update(_phase_stats(phase, steps, y, fitted, series.sign, sd, baseline))
        if signals:
            phase.stats["signals"] = _signal_stats(signals, phase)
    changepoints = _phase_changepoints(phases, seg.changepoints, steps, y, sd, pcfg, set(events))
    extra = {
        "best_value": series.own_units(float(smooth(y, smoothing_window(y.size, pcfg))[best])),
        "noise_sd": float(sd),
        "segments": [cp.to_dict() for cp in seg.changepoints],
        "penalty": float(seg.penalty),
    }
    if nll_onset is not None:
        extra["nll_overfit_onset_step"] = int(nll_onset)
    if events:
        extra["events"] = [e.to_dict() for e in run.events if e.step in events]
    return Analysis(run.source, own_metric, direction, float(baseline), changepoints, phases,
                    int(steps[best]), warnings, extra)


def _stage_phases(steps, y, breaks, sd: float, cfg: PhaseConfig,
                  stage_steps: list[int]) -> tuple[list[Phase], np.ndarray]:
    """Phases named stage by stage: a known switch of training stage (SFT -> RL) starts the
    naming again, as the live monitor does, so the RL stage's rise is its own phase (an
    improvement, or a readaptation after a fall right after the switch) and not the tail of the
    SFT stage's phase. Records from the switch step on belong to the new stage, which also sees
    the last record before it as its starting level (so a drop at the switch is its disruption).
    Phases meet at the switch step. A stage shorter than MIN_POINTS is not split off."""
    cuts = [(0, int(steps[0]))]  # (index of each stage's first record, step the stage starts)
    for step in stage_steps:
        i = int(np.searchsorted(steps, step))
        if i - cuts[-1][0] >= MIN_POINTS and steps.size - i >= MIN_POINTS:
            cuts.append((i, int(step)))
    phases: list[Phase] = []
    fitted = np.empty_like(y)
    for k, (first, switch) in enumerate(cuts):
        stop = cuts[k + 1][0] if k + 1 < len(cuts) else steps.size
        a = max(first - 1, 0)  # the previous stage's last record: this stage's starting level
        inside = [j - a for j in breaks if a < j < stop]
        stage, stage_fit, _ = build_phases(steps[a:stop], y[a:stop], inside, sd, cfg)
        if k:
            stage[0].start_step = phases[-1].end_step = switch
        phases.extend(stage)
        fitted[first:stop] = stage_fit[first - a:]
    return phases, fitted


def _best_index(phases: list[Phase], steps, y, cfg: PhaseConfig) -> int:
    """The checkpoint to keep: the peak an overfit starts from, else the smoothed maximum."""
    for phase in phases:
        if phase.name == "overfit":
            return int(np.searchsorted(steps, phase.start_step))
    return int(np.argmax(smooth(y, smoothing_window(y.size, cfg))))


def _phase_changepoints(phases: list[Phase], segment_cps: list[ChangePoint], steps, y,
                        sd: float, cfg: PhaseConfig, events) -> list[ChangePoint]:
    """One change point per phase boundary, with the steps the data cannot tell apart from it.

    The interval joins (1) the likelihood-ratio interval of the segment boundary nearby
    (changepoint.Segmenter) and (2) the stretch around the boundary where the smoothed curve
    stays within its own noise (BAND_SD sd / sqrt(window)) of its value at the boundary: a rounded
    peak or a slow approach to a plateau has no sharp location, and the interval says so
    (capped at 10% of the run on each side). A boundary at a known event is exact.
    """
    window = smoothing_window(y.size, cfg)
    ys = smooth(y, window)
    band = BAND_SD * sd / np.sqrt(window)
    cap = max(1, int(0.1 * y.size))
    out = []
    for phase in phases[1:]:
        step = phase.start_step
        if step in events:
            out.append(ChangePoint(step, step, step))
            continue
        i = int(np.searchsorted(steps, step))
        lo = hi = i
        while lo > max(0, i - cap) and abs(ys[lo - 1] - ys[i]) <= band:
            lo -= 1
        while hi < min(y.size - 1, i + cap) and abs(ys[hi + 1] - ys[i]) <= band:
            hi += 1
        near = [c for c in segment_cps if c.low <= step <= c.high]
        if not near and segment_cps:
            near = [min(segment_cps, key=lambda c: abs(c.step - step))]
        low = min([int(steps[lo]), *[c.low for c in near]])
        high = max([int(steps[hi]), *[c.high for c in near]])
        out.append(ChangePoint(step, low, high))
    return out


def _phase_stats(phase: Phase, steps, y, fitted, sign, sd, baseline) -> dict[str, Any]:
    """Effect sizes: levels, change, slope, and the phase-specific ones DESIGN.md asks for."""
    i0 = int(np.searchsorted(steps, phase.start_step))
    i1 = int(np.searchsorted(steps, phase.end_step, side="right")) - 1
    start, end = fitted[i0], fitted[i1]
    span = max(steps[i1] - steps[i0], 1)
    stats: dict[str, Any] = {
        "start_value": sign * float(start),
        "end_value": sign * float(end),
        "change": sign * float(end - start),
        "change_sd": float((end - start) / sd) if sd > 0 else None,
        "slope_per_1k_steps": sign * float((end - start) / span * 1000),
        "n_points": int(i1 - i0 + 1),
    }
    base = sign * baseline  # higher-is-better units
    if phase.name == "disruption":
        # depth below the level the fall started from (the baseline for a disruption at the
        # start; the level before the fall for a later one, e.g. at an SFT->RL switch)
        before = float(y[i0]) if i0 == 0 else float(start)
        trough = i1  # a disruption ends at its trough (phases.refine_turns)
        stats["trough_step"] = int(steps[trough])
        stats["depth"] = float(before - fitted[trough])
        stats["depth_sd"] = float((before - fitted[trough]) / sd) if sd > 0 else None
        back = np.flatnonzero(fitted[trough:] >= before)
        stats["time_to_recover"] = int(steps[trough + back[0]] - steps[trough]) if back.size else None
    elif phase.name in ("readaptation", "improvement"):
        stats["peak_step"] = int(steps[i0 + int(np.argmax(fitted[i0:i1 + 1]))])
        stats["gain_over_baseline"] = float(fitted[i0:i1 + 1].max() - base)
    elif phase.name == "overfit":
        peak = float(fitted[: i0 + 1].max())
        stats["peak_step"] = int(steps[int(np.argmax(fitted[: i0 + 1]))])
        stats["decline_since_peak"] = float(peak - end)
        stats["decline_sd"] = float((peak - end) / sd) if sd > 0 else None
    return stats


def _signal_stats(signals: dict[str, pd.Series], phase: Phase) -> dict[str, dict[str, float]]:
    out = {}
    for name, series in signals.items():
        window = series[(series.index >= phase.start_step) & (series.index <= phase.end_step)]
        window = window[np.isfinite(window.to_numpy())]
        if len(window) == 0:
            continue
        head = window.iloc[: max(1, len(window) // 10)].median()
        tail = window.iloc[-max(1, len(window) // 10):].median()
        out[name] = {"mean": float(window.mean()), "start": float(head), "end": float(tail),
                     "change": float(tail - head)}
    return out


def _token_signals(run: Run, warnings: list[str]) -> dict[str, pd.Series]:
    """Per-step signals from the expert log-prob store, when the tokens module is present."""
    try:
        from phasewatch.tokens import signals_for_run
    except (ImportError, AttributeError):
        return {}
    from phasewatch.errors import InputError

    try:
        return dict(signals_for_run(run, warnings))
    except InputError as exc:
        warnings.append(f"token store not used: {exc}")
        return {}


def _nll_overfit_onset(signals: dict[str, pd.Series]) -> int | None:
    """Step where held-out expert NLL turns up while train expert NLL keeps falling, or None.

    That is overfit by DESIGN.md's second criterion: the model memorises the expert set (train
    NLL falls) and generalises worse to held-out expert data (held-out NLL rises).
    """
    held, train = signals.get("expert/nll_heldout"), signals.get("expert/nll_train")
    if held is None or train is None or len(held) < 2 * MIN_POINTS:
        return None
    steps = held.index.to_numpy(dtype=np.int64)
    h = -held.to_numpy(dtype=np.float64)  # higher is better
    seg = Segmenter(model="linear", min_size=max(5, h.size // 50), penalty_factor=2.0,
                    min_effect=0.0).fit(steps, h)
    sd = noise_scale(h) * np.sqrt((1 + seg.ar) / (1 - seg.ar))
    fitted = fit_segments(steps.astype(float), h, list(seg.breaks))
    best = int(np.argmax(fitted))
    rise = fitted[best] - fitted[-1]  # held-out NLL rise after its minimum
    if best >= h.size - 5 or rise <= PhaseConfig.k_sd * sd:
        return None
    t = train[train.index >= steps[best]].to_numpy(dtype=np.float64)
    t = t[np.isfinite(t)]
    if t.size < 5:
        return None
    half = t.size // 2
    if np.median(t[half:]) >= np.median(t[:half]):  # train NLL is not falling: not overfit
        return None
    return int(steps[best])


def _apply_nll_overfit(phases: list[Phase], onset: int, steps, cfg: PhaseConfig,
                       signals: dict[str, pd.Series]) -> list[Phase]:
    """Turn the final plateau into overfit from the NLL onset (or the plateau's start, if near),
    if the NLL criterion holds over the span that would be labelled."""
    if not phases or phases[-1].name != "plateau" or any(p.name == "overfit" for p in phases):
        return phases
    last = phases[-1]
    if onset >= last.end_step:
        return phases
    # performance stopped rising at the plateau's start: that is the peak the overfit starts at
    near = cfg.turn_flat_fraction * (steps[-1] - steps[0])
    if onset <= last.start_step + near or len(phases) == 1 and onset <= last.start_step:
        start = last.start_step if len(phases) > 1 else max(onset, last.start_step)
        split = [*phases[:-1], Phase("overfit", start, last.end_step)]
    else:
        start = onset
        split = [*phases[:-1], Phase("plateau", last.start_step, onset),
                 Phase("overfit", onset, last.end_step)]
    return split if _nll_gap_widens(signals, start, last.end_step, cfg) else phases


def _nll_gap_widens(signals: dict[str, pd.Series], start: int, end: int, cfg: PhaseConfig) -> bool:
    """Whether, between `start` and `end`, held-out expert NLL rises by more than `k_sd` noise
    sds while train expert NLL falls (least-squares lines over the span).

    The onset comes from the whole NLL curve; this keeps a held-out NLL that turned up early,
    then came back down, from labelling a later flat stretch as overfit (measured on a CHORD-mu
    run: held-out NLL up 0.10 by step 1000 and back by 1600, and 1590-2000 called overfit).
    """
    held, train = signals["expert/nll_heldout"], signals["expert/nll_train"]
    h = held[(held.index >= start) & (held.index <= end)].dropna()
    t = train[(train.index >= start) & (train.index <= end)].dropna()
    if h.size < MIN_POINTS or t.size < MIN_POINTS:
        return False
    rise = np.polyfit(h.index.to_numpy(float), h.to_numpy(float), 1)[0] * (end - start)
    fall = -np.polyfit(t.index.to_numpy(float), t.to_numpy(float), 1)[0] * (end - start)
    sd = noise_scale(held.dropna().to_numpy(float))
    return bool(rise > cfg.k_sd * sd and fall > 0)
