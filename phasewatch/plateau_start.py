"""Where a plateau begins on a run of up to 40 evaluations: where the curve has reached its level.

A broken line (`phasewatch.hinge`) bends where one straight piece must give way to the next,
which on a rise or fall that eases into a plateau (an exponential approach, a logistic's tail)
is before the data reach the level, and on a fast decay that then flattens can be an
evaluation still far from it. Where a plateau begins is a question about levels, not about
where a line bends: the first evaluation at which the curve, read through the mean of that
evaluation and its two neighbours (the noise of a single evaluation would make the answer a
coin toss), is within `LEVEL_SD` noise sds of the level the plateau settles at. The same rule
serves a rise into a plateau and a fall onto a floor, in either metric direction.
"""

from __future__ import annotations

import itertools

import numpy as np

from phasewatch.phase_stats import DOWN_PHASES, UP_PHASES
from phasewatch.results import Phase
from phasewatch.rolling import centred_mean

TREND_PHASES = UP_PHASES + DOWN_PHASES
# "At the level": the 3-evaluation mean within this many noise sds of it. Tuning seeds (100-129),
# boundary hits of 13-40-evaluation runs with 1.0 / 1.25 / 1.5: 0.87 / 0.86 / 0.84 (family A),
# 0.82 / 0.83 / 0.83 (family B); after a step-0 evaluation 0.90 / 0.92 / 0.93 and
# 0.74 / 0.77 / 0.76; with failed evaluations 0.89 / 0.89 / 0.87 and 0.88 / 0.89 / 0.88.
LEVEL_SD = 1.25
MIN_PLATEAU = 2  # evaluations a plateau keeps, its boundary included


def start_plateaus(phases: list[Phase], steps, y, sd: float, fixed: set[int]) -> list[Phase]:
    """Move each trend -> plateau boundary to the first evaluation after the trend's start whose
    3-evaluation mean is within `LEVEL_SD` noise sds of the plateau's level (the median of the
    plateau's evaluations after its boundary), or past it. The plateau keeps `MIN_PLATEAU`
    evaluations; boundaries at known events (`fixed`) stay."""
    index = {int(s): i for i, s in enumerate(steps)}
    mean3 = centred_mean(np.asarray(y, dtype=np.float64), 3)
    for left, right in itertools.pairwise(phases):
        if right.name != "plateau" or left.name not in TREND_PHASES or right.start_step in fixed:
            continue
        a, b, c = index[left.start_step], index[right.start_step], index[right.end_step]
        if c - a < 2 * MIN_PLATEAU or c - b < MIN_PLATEAU:
            continue
        level = float(np.median(y[b + 1:c + 1]))
        # how far the smoothed curve is short of the level (below it after a rise)
        short = (level - mean3) if left.name in UP_PHASES else (mean3 - level)
        reached = np.flatnonzero(short[a + 1:c + 1] <= LEVEL_SD * sd)
        k = min(a + 1 + int(reached[0]), c + 1 - MIN_PLATEAU) if reached.size else b
        left.end_step = right.start_step = int(steps[k])
    return phases


MIN_HELD = 3  # evaluations of one repeated value that end a rise in a plateau (`held_plateau`)
HELD_SHARE = 0.25  # ... and this share of the rise's evaluations at least


def held_plateau(phases: list[Phase], steps, y) -> list[Phase]:
    """`phases` with a last rise (`y` higher is better) that ends on one value repeated by its
    last `MIN_HELD` or more evaluations, the best the rise reaches, split where that value is
    first held: the metric moved no more from there, which no noise hides (dpo-val-reward-acc-11ev,
    trial 37b: a reward accuracy of 0, 0.7, 0.9, 0.9, then 1.0 seven times was "improvement
    0 -> 50", its noise sd, 0.13, taken from the climb). A rate at its ceiling on a small
    evaluation set, a loss printed to a few digits, do this; noisy values never repeat so."""
    if not phases or phases[-1].name not in UP_PHASES:
        return phases
    last = phases[-1]
    a = int(np.searchsorted(steps, last.start_step))
    tail = y[a:]
    held = 1
    while held < tail.size and tail[-held - 1] == tail[-1]:
        held += 1
    if held < max(MIN_HELD, HELD_SHARE * tail.size) or tail[-1] != tail.max() or tail.size - held < 2:
        return phases
    start = int(steps[a + tail.size - held])
    plateau = Phase("plateau", start, last.end_step)
    last.end_step = start
    return [*phases, plateau]
