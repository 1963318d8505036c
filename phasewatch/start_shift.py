"""A change at the first update that then holds, on a run too long for a one-evaluation segment.

On a run of more than 40 evaluations the shortest segment spans several evaluations (2% of
them: 24 on a 1,200-step train loss), so a first evaluation far from a level the run then keeps
(a train loss logged at 1.50 at step 1, then 1.10 +- 0.04 for 400 steps) is absorbed into a
first plateau, which is then printed as "plateau 1.50 -> 1.13, change -9.5 sd": a name its own
numbers contradict. The first evaluation is the observed start
(it is never left out as an outlier), so the move from it is a phase: an improvement (a
disruption for a fall, which starts as the expert data start) from the first evaluation to the
second, then the plateau.

Taken only when the first evaluation lies beyond every one of the next `LEVEL_POINTS`
evaluations (the run does not come back to it), more than `PhaseConfig.jump_k_sd` noise sds from
their median (the gap the segmentation needs between two fitted lines to call a move), and
those evaluations hold their level (the medians of their two halves within `HOLD_SD` sds). One
evaluation tested once, not the lowest of hundreds: a noisy train loss whose first reading is
3-4 sds high stays one plateau, as does a run with failed evaluations left out as outliers,
whose first far reading may be one more. Runs of up to 40 evaluations have their own rules
(`hinge`, `start_dip`). A first trend the segmentation drew over its shortest segment is left
alone: read as the same one-evaluation move when the evaluations after the first sit at the
plateau's level, it cost boundary hits on fast-saturating runs whose rise really takes two or
three evaluations (tuning seeds, first family: 0.93 -> 0.91); as written, no cell of either
family's tuning table lost anything.
"""

from __future__ import annotations

import numpy as np

from phasewatch.confidence import FEW_POINTS
from phasewatch.few_point_tests import start_shift
from phasewatch.phase_stats import SPARSE
from phasewatch.phases import PhaseConfig
from phasewatch.results import Phase
from phasewatch.short_series import SHIFT_ALPHA

LEVEL_POINTS = 20  # evaluations after the first whose median is the level the run moved to
HOLD_SD = 2.0      # the two halves of those evaluations agree within this many noise sds


def split_start_shift(phases: list[Phase], steps: np.ndarray, y: np.ndarray, sd: float,
                      cfg: PhaseConfig, had_outliers: bool = False) -> list[Phase]:
    """`phases` with a one-evaluation move split off the front of a first plateau (values are
    higher-is-better: a rise is an improvement, a fall a disruption). On a run with failed
    evaluations left out (`had_outliers`) a first reading far from the rest is read like them:
    not a move."""
    if not phases or phases[0].name != "plateau" or sd <= 0 or y.size <= SPARSE \
            or had_outliers:
        return phases
    first = phases[0]
    end = int(np.searchsorted(steps, first.end_step))
    after = y[1:min(end, LEVEL_POINTS) + 1]
    if after.size < LEVEL_POINTS // 2:  # a short plateau: too few evaluations for its level
        return phases
    half = after.size // 2
    shift = float(y[0] - np.median(after))
    beyond = y[0] > after.max() if shift > 0 else y[0] < after.min()
    holds = abs(float(np.median(after[:half]) - np.median(after[half:]))) <= HOLD_SD * sd
    if not (beyond and holds) or abs(shift) <= cfg.jump_k_sd * sd:
        return phases
    second = int(steps[1])
    name = "disruption" if shift > 0 else "improvement"
    return [Phase(name, first.start_step, second), Phase("plateau", second, first.end_step),
            *phases[1:]]


def split_sparse_shift(phases: list[Phase], steps: np.ndarray, y: np.ndarray,
                       known_sd: float | None) -> tuple[list[Phase], float | None]:
    """On a sparse run (at most `FEW_POINTS` evaluations) that came out as one plateau, the short
    series' test of a change at the first update that then holds (`few_point_tests.start_shift`:
    the mean of the later evaluations against the first, judged against their own scatter or
    the `known_sd`, p < `SHIFT_ALPHA`): an improvement (a disruption) to the second
    evaluation, then the plateau; and the noise it was judged against, else None. The run's
    own noise estimate counts the change itself (trial 35: a held-out accuracy 0.597 then
    0.0513, 0.0507, 0.0505 x 3 read a noise sd of 0.157 and was a plateau "as good within the
    noise" as the start; a rise to a ceiling 0.530 -> 0.5961, 0.5968 x 4 too)."""
    if y.size > FEW_POINTS or [p.name for p in phases] != ["plateau"]:
        return phases, None
    shift = start_shift(y, known_sd)
    if shift is None or shift.p >= SHIFT_ALPHA:
        return phases, None
    second = int(steps[1])
    name = "improvement" if shift.change > 0 else "disruption"
    return [Phase(name, int(steps[0]), second), Phase("plateau", second, int(steps[-1]))], shift.noise
