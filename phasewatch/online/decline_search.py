"""The search for the strongest steady decline in a live series's buffer (`Series.decline_since`):
its candidate starts, the values it is measured against, and whether it is steady or a sudden
fall, over the statistic of `decline.ramp_and_step`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from phasewatch.online.decline import ramp_and_step
from phasewatch.online.series_noise import clip_outliers, shared_ramp_factor

if TYPE_CHECKING:
    from phasewatch.online.series import Series

LATEST_STEP_VALUES = 2  # after a peak, a sudden fall as recent as this many values is a shape too


def steady_decline(s: Series, first_step: int, top: float, origin_step: int | None,
                   min_reference: int | None = None, after_peak: bool = False,
                   late_ratio: float = math.inf,
                   z_needed: float = -math.inf,
                   late_from: float = math.inf) -> tuple[float, int, int, int] | None:
    """`Series.decline_since` of the series `s` (see there)."""
    if s.sigma <= 0:
        return None
    n = len(s.values)
    steps = np.fromiter(s.steps, dtype=np.int64, count=n)
    window = s.window_now
    half = window // 2 if min_reference is None else min_reference - 1
    origin = 0 if origin_step is None else int(np.searchsorted(steps, origin_step))
    top_at = int(np.searchsorted(steps, first_step))
    y = np.fromiter(s.values, dtype=np.float64, count=n)
    reference_from = origin
    if after_peak:
        # After a peak, values are clipped to 3 white-noise sds around their neighbours
        # (`clip_outliers`: one outlier makes no decline, one lucky value no reference
        # level) and to 3 sds below the peak at the full window, more while the window is
        # small (3 x window / window_now): a dense run's decline is called while it is a
        # few sds deep, so a 3-sd floor blunts only a deep upset, while a sparse run's
        # decline is 8 sds deep after a few evaluations and, counted as 3, would be missed.
        # The reference level is made of values near the top only: on a sparse run the
        # `ramp_reference` values before a peak are mostly the rise to it, whose mean sits
        # far below the peak and hides the decline; values before the last one more than 3
        # white sds below `top` are no reference.
        depth = 3.0 * s.cfg.window / window
        shape = clip_outliers(y, s.white)
        clipped = np.minimum(np.maximum(shape, top - depth * s.white), top + 3.0 * s.white)
        low = np.flatnonzero(clipped[origin:top_at] < top - 3.0 * s.white)
        reference_from += int(low[-1]) + 1 if low.size else 0
        # Nor are values more than half a window before the peak: on a slow rise to a
        # peak, the `ramp_reference` values before a decline's start are mostly the rise,
        # whose mean sits below the peak and holds a dense run's decline back until its
        # level test.
        reference_from = max(reference_from, top_at - window // 2)
    else:
        # From the start: clipped to 3 white-noise sds around the starting level, so one
        # outlier cannot make a decline and a fast dip counts as a step (a disruption).
        clipped = np.clip(y, top - 3.0 * s.white, top + 3.0 * s.white)
    first = max(top_at, reference_from + half + 1)
    last_start = n - window  # a decline lasts at least a window
    if last_start < first:
        return None
    # The sudden falls a steady decline is told from may start up to half a window back, or,
    # after a peak, in the latest LATEST_STEP_VALUES values: a plateau whose last two or
    # three values fell in an upset is a step there, while the best ramp, a window long,
    # puts its weight on those values and looks steady (and a steady decline needs no
    # confirmation: `tracker.DECLINE_CONFIRM`).
    step_end = n - (LATEST_STEP_VALUES if after_peak else window // 2)
    starts = (np.arange(first, last_start + 1), np.arange(first, step_end + 1))
    ramp, step = ramp_and_step(clipped, starts, reference_from, s.ramp_reference)
    # Steady or sudden is judged with the decline's depth kept (only outliers pulled in):
    # clipped, a deeper decline flattens into a floor a step fits better, and late declines
    # are missed. Not for an early decline from the start: a deep dip's falling flank then
    # fits a ramp, and the dip would be stopped as an overfit. A late decline from the start
    # (after a flat stretch at the starting level: two windows, and `late_ratio` times the
    # decline's length) is no fast dip, and its z keeps its depth too: clipped at 3 sds, a
    # decline of a run of 13-40 evaluations, many sds deep within a few evaluations, counted
    # as a shallow one and was stopped late or not at all. Only for starts at or after
    # `late_from` (the planned run's early part, which says what is late: without a plan, the
    # wander of AR(1) noise before a dip reads as a flat stretch, and kept deep, the dip as a
    # late decline: false stops 0.06 -> 0.07 and 0.09 -> 0.13 on the AR(1) runs; and a start
    # within the early part, deep, outweighed the early start of a decline from the start).
    late = starts[0] - origin >= np.maximum(2 * window, late_ratio * (n - starts[0]))
    late &= not after_peak
    deep = late & (steps[starts[0]] >= late_from)
    if deep.any():
        # told from a sudden fall as after a peak (the flat stretch its peak): a fall in the
        # latest LATEST_STEP_VALUES values is a step there, not the end of a ramp dated
        # before it (a 12-sd drop that holds, a window after a ramp fitted to it had begun)
        recent = (starts[0], np.arange(first, n - LATEST_STEP_VALUES + 1))
        deep_shape = ramp_and_step(clip_outliers(y, s.white), recent, reference_from,
                                   s.ramp_reference)
        ramp = np.where(deep, deep_shape[0], ramp)
    best = int(np.argmax(ramp))
    shared = shared_ramp_factor(first + best, reference_from, n, s.ramp_reference,
                                s.window_logs)  # 1: independent values
    if ramp[best] * shared <= z_needed * s.sigma:
        return None
    before, since = first + best - origin, n - first - best
    if deep[best]:
        ramp_shape, step_shape = deep_shape
    elif after_peak or late[best]:
        ramp_shape, step_shape = ramp_and_step(shape if after_peak else clip_outliers(y, s.white),
                                               starts, reference_from, s.ramp_reference)
    else:
        ramp_shape, step_shape = ramp, step
    if ramp_shape.max() < step_shape.max():
        return None  # a sudden fall (an upset, maybe recovered soon): the level test's job
    return float(ramp[best]) * shared / s.sigma, int(steps[first + best]), before, since
