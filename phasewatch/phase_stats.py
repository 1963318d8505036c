"""What the data say at the phases: the starting level, troughs and peaks, boundary intervals,
and the effect sizes printed beside each phase.

The segmentation fits straight lines; people read values. So every number reported here is
read off the data at the series' own cadence, never off a fitted line: the starting level is the
observed start (`Baseline`), a trough or a peak sits on the evaluation where the data are lowest
or highest between the two trends it joins, and a phase's start and end values are the data at
its boundaries (the extreme itself at a trough or a peak, a short centred average elsewhere).
Values are higher-is-better inside (`sign` * own units) and are turned back to the metric's own
units for output.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from phasewatch.errors import UsageError
from phasewatch.results import ChangePoint, Phase

DOWN_PHASES = ("disruption", "overfit")
UP_PHASES = ("readaptation", "improvement")
# A boundary's interval spans where the smoothed series stays within BAND_SD of its own noise
# (sd / sqrt(window)) of its value at the boundary: the data cannot place a rounded turn more
# precisely than that.
BAND_SD = 3.0
SPARSE = 40  # above this many evaluations, a single point is smoothed over (a 3-point median)


@dataclass(frozen=True)
class Baseline:
    """How the starting level is read: `first` (the first evaluation, e.g. at step 0),
    `mean-of-first:K` (the mean of the first K evaluations) or `step:S` (the evaluation at
    step S, or the nearest one)."""

    kind: str = "first"
    amount: int = 1

    @classmethod
    def parse(cls, text: str | Baseline | None) -> Baseline:
        if text is None:
            return cls()
        if isinstance(text, Baseline):
            return text
        name, _, arg = str(text).partition(":")
        if name == "first" and not arg:
            return cls()
        try:
            if name == "mean-of-first" and int(arg) >= 1:
                return cls("mean-of-first", int(arg))
            if name == "step":
                return cls("step", int(arg))
        except ValueError:
            pass
        raise UsageError(f"--baseline {text!r} not understood; use first, mean-of-first:K "
                         "(K >= 1 evaluations) or step:S (a step number)")

    def level(self, steps: np.ndarray, y: np.ndarray, sd: float) -> tuple[float, float, int]:
        """(level, its standard error, index of the last evaluation it uses)."""
        if self.kind == "mean-of-first":
            k = min(self.amount, y.size)
            return float(y[:k].mean()), sd / np.sqrt(k), k - 1
        if self.kind == "step":
            i = int(np.argmin(np.abs(steps - self.amount)))
            return float(y[i]), sd, i
        return float(y[0]), sd, 0


def local_level(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (shorter at the edges): the level around each evaluation."""
    return pd.Series(y).rolling(window, center=True, min_periods=1).mean().to_numpy()


def extreme_index(y: np.ndarray, lo: int, hi: int, highest: bool) -> int:
    """Index of the highest (lowest) evaluation in y[lo..hi]. On dense runs a 3-point median
    is taken first, so one lucky evaluation among hundreds does not place the turn."""
    window = y[lo:hi + 1]
    if y.size > SPARSE and window.size >= 3:
        window = pd.Series(window).rolling(3, center=True, min_periods=1).median().to_numpy()
    return lo + int(np.argmax(window) if highest else np.argmin(window))


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
    place a turn at all, so the extreme is sought between the middles of the two phases.
    Boundaries at known events (`fixed`) stay."""
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
    boundary (a rounded peak has no sharp location; capped at 10% of the run on each side) and
    (3) the extreme the boundary brackets. A boundary at a known event is exact.
    """
    ys = local_level(y, window)
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
        kind = turn_kind(left, right)
        if kind is not None:
            # the smoothed extreme nearby, the evaluations around this one that the noise
            # cannot tell from it, and at least its neighbours (the true turn of a sampled
            # curve lies somewhere between them)
            j = int(np.argmax(ys[lo:hi + 1]) if kind == "peak" else np.argmin(ys[lo:hi + 1])) + lo
            a = b = i
            while a > max(0, i - cap) and abs(y[a - 1] - y[i]) <= 2 * sd:
                a -= 1
            while b < min(y.size - 1, i + cap) and abs(y[b + 1] - y[i]) <= 2 * sd:
                b += 1
            lo, hi = min(lo, j, a, max(i - 1, 0)), max(hi, j, b, min(i + 1, y.size - 1))
        low = min([int(steps[lo]), *[c.low for c in near]])
        high = max([int(steps[hi]), *[c.high for c in near]])
        out.append(ChangePoint(step, min(low, step), max(high, step)))
    return out


def boundary_levels(phases: list[Phase], steps, y, window: int, base: float) -> list[float]:
    """The level at each phase edge (len(phases) + 1 values): the baseline at the start, the
    evaluation itself at a trough or a peak, the local average elsewhere and at the end."""
    ys = local_level(y, window)
    levels = [base]
    for k, phase in enumerate(phases):
        i = int(np.searchsorted(steps, phase.end_step))
        nxt = phases[k + 1] if k + 1 < len(phases) else None
        levels.append(float(y[i]) if nxt is not None and turn_kind(phase, nxt) else float(ys[i]))
    return levels


def phase_stats(phase: Phase, start: float, end: float, steps, y, sign: float, sd: float,
                base: float) -> dict[str, Any]:
    """Effect sizes in the metric's own units and direction (`change` is end - start as
    logged; `change_sd` has the same sign). Depth, gain and decline are measured from the
    data: depth below the starting level (or the level the fall started from, for a later
    fall), gain over the starting level, decline from the level the overfit starts at (its
    best point)."""
    i0 = int(np.searchsorted(steps, phase.start_step))
    i1 = int(np.searchsorted(steps, phase.end_step))
    span = max(int(steps[i1] - steps[i0]), 1)
    change = sign * (end - start)
    stats: dict[str, Any] = {
        "start_value": sign * start,
        "end_value": sign * end,
        "change": change,
        "change_sd": change / sd if sd > 0 else None,
        "slope_per_1k_steps": change / span * 1000,
        "n_points": i1 - i0 + 1,
    }
    if phase.name == "disruption":
        before = base if i0 == 0 else start
        trough = i1
        stats["trough_step"] = int(steps[trough])
        stats["depth"] = float(before - y[trough])
        stats["depth_sd"] = float((before - y[trough]) / sd) if sd > 0 else None
        back = np.flatnonzero(y[trough:] >= before)
        stats["time_to_recover"] = int(steps[trough + back[0]] - steps[trough]) if back.size else None
    elif phase.name in UP_PHASES:
        top = i0 + int(np.argmax(y[i0:i1 + 1]))
        stats["peak_step"] = int(steps[top])
        stats["gain_over_baseline"] = float(y[top] - base)
    elif phase.name == "overfit":
        stats["peak_step"] = int(steps[i0])
        stats["decline_since_peak"] = float(start - end)
        stats["decline_sd"] = float((start - end) / sd) if sd > 0 else None
    return stats
