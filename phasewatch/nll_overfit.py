"""Overfit by the expert-NLL criterion (DESIGN.md): held-out expert NLL turns up while train
expert NLL keeps falling, the model memorising the expert set. Where a run's performance
metric ends in a plateau, that plateau (or its part after the onset) is an overfit."""

from __future__ import annotations

import numpy as np

from phasewatch.changepoint import Segmenter
from phasewatch.noise import noise_scale, noise_sd
from phasewatch.phases import PhaseConfig, fit_segments
from phasewatch.results import Phase
from phasewatch.stepseries import StepSeries

MIN_POINTS = 9  # fewest evaluations of an NLL series in a span the criterion is read over
FEW_POINTS = 6  # from this many up to 2 x MIN_POINTS the pair is read point by point


def nll_overfit_onset(signals: dict[str, StepSeries]) -> int | None:
    """Step where held-out expert NLL turns up while train expert NLL keeps falling, or None.

    That is overfit by DESIGN.md's second criterion: the model memorises the expert set (train
    NLL falls) and generalises worse to held-out expert data (held-out NLL rises).
    """
    held, train = signals.get("expert/nll_heldout"), signals.get("expert/nll_train")
    if held is None or train is None or len(held) < FEW_POINTS:
        return None
    if len(held) < 2 * MIN_POINTS:
        return _few_points_onset(held, train)
    steps = held.steps
    h = -held.values  # higher is better
    seg = Segmenter(model="linear", min_size=max(5, h.size // 50), penalty_factor=2.0,
                    min_effect=0.0).fit(steps, h)
    sd = noise_sd(h, seg.ar)
    fitted = fit_segments(steps.astype(float), h, list(seg.breaks))
    best = int(np.argmax(fitted))
    rise = fitted[best] - fitted[-1]  # held-out NLL rise after its minimum
    if best >= h.size - 5 or rise <= PhaseConfig.k_sd * sd:
        return None
    t = train.since(steps[best]).values
    t = t[np.isfinite(t)]
    if t.size < 5:
        return None
    half = t.size // 2
    if np.median(t[half:]) >= np.median(t[:half]):  # train NLL is not falling: not overfit
        return None
    return int(steps[best])


def _few_points_onset(held: StepSeries, train: StepSeries) -> int | None:
    """`nll_overfit_onset` on a sparse run (FEW_POINTS to 2 x MIN_POINTS evaluations, too few
    for a segmentation): held-out expert NLL lowest at an evaluation two or more before the
    end, both of the last two above that minimum by k_sd noise sds (of a smooth curve: its
    second differences), and train expert NLL lower at the end than there."""
    steps, h = held.steps, held.values
    best = int(np.argmin(h))
    if best > h.size - 3:
        return None
    sd = float(np.median(np.abs(np.diff(h, 2)))) / 0.6745 / np.sqrt(6.0)
    if min(h[-2:]) - h[best] <= PhaseConfig.k_sd * max(sd, 1e-12):
        return None
    t = train.since(steps[best]).values
    t = t[np.isfinite(t)]
    if t.size < 2 or t[-1] >= t[0]:
        return None
    return int(steps[best])


def apply_nll_overfit(phases: list[Phase], onset: int, steps: np.ndarray, y: np.ndarray,
                      cfg: PhaseConfig, signals: dict[str, StepSeries]) -> list[Phase]:
    """Turn the final plateau into overfit from the NLL onset (or the plateau's start, if near),
    if the NLL criterion holds over the span that would be labelled. On a sparse run (an NLL
    series of fewer than 2 x MIN_POINTS) the overfit starts at the performance's (`y`, higher
    is better) best evaluation since the onset: with a few evaluations far apart, held-out NLL can turn up
    an evaluation or two before the metric's own peak (trial 33: NLL lowest at 800, accuracy
    0.702 there and 0.72 at 1200, then down to 0.588)."""
    if not phases or phases[-1].name != "plateau" or any(p.name == "overfit" for p in phases):
        return phases
    last = phases[-1]
    if onset >= last.end_step:  # also where held-out NLL is logged past the metric's end
        return phases
    at_onset = len(signals["expert/nll_heldout"]) < 2 * MIN_POINTS
    if at_onset:
        after = np.flatnonzero(steps >= onset)  # not empty: the plateau ends after the onset
        onset = int(steps[after[np.argmax(y[after])]])
    # performance stopped rising at the plateau's start: that is the peak the overfit starts at
    near = cfg.turn_flat_fraction * (steps[-1] - steps[0])
    if at_onset and onset <= last.start_step or not at_onset and (
            onset <= last.start_step + near or len(phases) == 1 and onset <= last.start_step):
        start = last.start_step if len(phases) > 1 else max(onset, last.start_step)
        split = [*phases[:-1], Phase("overfit", start, last.end_step)]
    else:
        start = onset
        split = [*phases[:-1], Phase("plateau", last.start_step, onset),
                 Phase("overfit", onset, last.end_step)]
    return split if _nll_gap_widens(signals, start, last.end_step, cfg) else phases


def _nll_gap_widens(signals: dict[str, StepSeries], start: int, end: int,
                    cfg: PhaseConfig) -> bool:
    """Whether, between `start` and `end`, held-out expert NLL rises by more than `k_sd` noise
    sds while train expert NLL falls (least-squares lines over the span).

    The onset comes from the whole NLL curve; this keeps a held-out NLL that turned up early,
    then came back down, from labelling a later flat stretch as overfit (measured on a CHORD-mu
    run: held-out NLL up 0.10 by step 1000 and back by 1600, and 1590-2000 called overfit).
    """
    held, train = signals["expert/nll_heldout"], signals["expert/nll_train"]
    h = held.between(start, end).dropna()
    t = train.between(start, end).dropna()
    enough = MIN_POINTS if len(held) >= 2 * MIN_POINTS else 3  # a sparse run's few
    if h.size < enough or t.size < enough:
        return False
    rise = np.polyfit(h.steps.astype(float), h.values, 1)[0] * (end - start)
    fall = -np.polyfit(t.steps.astype(float), t.values, 1)[0] * (end - start)
    sd = noise_scale(held.dropna().values)
    return bool(rise > cfg.k_sd * sd and fall > 0)
