"""Turns between phases: where a trough or a peak sits on the data (`snap_turns`), and the
steps the data cannot tell apart from each boundary (`boundary_intervals`)."""

from __future__ import annotations

import itertools

import numpy as np

from phasewatch.phase_stats import DOWN_PHASES, SPARSE, UP_PHASES, extreme_index
from phasewatch.results import ChangePoint, Phase
from phasewatch.smoothed_levels import smooth

# A boundary's interval spans where the smoothed series stays within BAND_SD of its own noise
# (sd / sqrt(window)) of its value at the boundary: the data cannot place a rounded turn more
# precisely than that.
BAND_SD = 3.0


def turn_kind(left: Phase, right: Phase) -> str | None:
    """'trough', 'peak' or None for the boundary between two phases."""
    if left.name in DOWN_PHASES and right.name in UP_PHASES:
        return "trough"
    if left.name in UP_PHASES and right.name in DOWN_PHASES:
        return "peak"
    return None


def snap_turns(phases: list[Phase], steps: np.ndarray, y: np.ndarray, window: int,
               fixed: set[int]) -> list[Phase]:
    """Move each trough (peak) boundary to the lowest (highest) evaluation near it.

    On a dense run the segmentation places a turn on the smoothed curve, and a moving average
    shifts a lopsided turn (a sudden fall, a slow recovery) by up to half its window: the data
    place it within that. On a sparse run (up to `SPARSE` evaluations) a straight line cannot
    place a turn at all, so the extreme is sought between the middles of the two phases. The
    turn goes to the extreme the data hold there (`extreme_index`: the lowest 3-point level on a
    dense run, then the lowest of that evaluation and its two neighbours), wherever the lines
    put it: two runs with the same evaluations up to and past a dip (an SFT run and the
    SFT-then-RL run that shares its first half) had troughs at steps 90 and 60, both within the
    noise of each other, because a turn moved only by more than the noise sd; and a trough was
    read at 0.06 where the data fell to 0.024 two evaluations before (paper trial 40e). The
    price, measured: boundary hits 0.01 lower in 4 regime cells of the first tuning family and
    7 of the second, 0.01 higher in 7 of the held-out power-law family (lower in 1); presence
    and false claims unchanged, 13 of 30 cells meet every target as before. Boundaries at
    known events (`fixed`) stay."""
    index = {int(s): i for i, s in enumerate(steps)}
    reach = window // 2 + 1 if y.size > SPARSE else y.size
    for left, right in itertools.pairwise(phases):
        kind = turn_kind(left, right)
        if kind is None or right.start_step in fixed:
            continue
        a, b, c = index[left.start_step], index[left.end_step], index[right.end_step]
        lo, hi = max(a + 1, b - reach, (a + b + 1) // 2), min(c - 1, b + reach, (b + c) // 2)
        if hi >= lo:
            k = extreme_index(y, lo, hi, highest=kind == "peak")
            left.end_step = right.start_step = int(steps[k])
    return phases


def boundary_intervals(phases: list[Phase], segment_cps: list[ChangePoint], steps, y,
                       sd: float, window: int, fixed: set[int]) -> list[ChangePoint]:
    """One change point per phase boundary, with the steps the data cannot tell apart from it.

    The interval joins (1) the likelihood-ratio interval of the segment boundary nearby, (2) the
    stretch where the smoothed curve stays within BAND_SD of its own noise of its value at the
    boundary (a rounded peak has no sharp location; capped at 10% of the run on each side),
    (3) the neighbouring evaluations and (4) at a trough or a peak, the smoothed extreme and the
    evaluations within two noise sds of this one. A boundary at a known event is exact.
    """
    ys = smooth(y, window)
    band = BAND_SD * sd / np.sqrt(window)
    cap = max(1, int(0.1 * y.size))
    out = []
    for left, right in itertools.pairwise(phases):
        step = right.start_step
        if step in fixed:
            out.append(ChangePoint(step, step, step))
            continue
        i = int(np.searchsorted(steps, step))
        lo = hi = i
        while lo > max(0, i - cap) and abs(ys[lo - 1] - ys[i]) <= band:
            lo -= 1
        while hi < min(y.size - 1, i + cap) and abs(ys[hi + 1] - ys[i]) <= band:
            hi += 1
        near = [c for c in segment_cps if c.low <= step <= c.high]
        # at least the neighbouring evaluations: a sampled curve changes between them
        lo, hi = min(lo, max(i - 1, 0)), max(hi, min(i + 1, y.size - 1))
        kind = turn_kind(left, right)
        if kind is not None:
            # the smoothed extreme nearby and the evaluations around this one that the noise
            # cannot tell from it
            j = int(np.argmax(ys[lo:hi + 1]) if kind == "peak" else np.argmin(ys[lo:hi + 1])) + lo
            a = b = i
            while a > max(0, i - cap) and abs(y[a - 1] - y[i]) <= 2 * sd:
                a -= 1
            while b < min(y.size - 1, i + cap) and abs(y[b + 1] - y[i]) <= 2 * sd:
                b += 1
            lo, hi = min(lo, j, a), max(hi, j, b)
        low = min([int(steps[lo]), *[c.low for c in near]])
        high = max([int(steps[hi]), *[c.high for c in near]])
        out.append(ChangePoint(step, min(low, step), max(high, step)))
    return out
