"""A dip right at the start, which a line segmentation cannot see.

With an evaluation at step 0 (before any update) and expert data that disrupt at once, the
fall to the trough can be one or two evaluations long and the recovery a few more. A
segmentation whose shortest segment is three points (more on dense runs) fits one line through
start, trough and recovery, and the run comes out as an improvement from the start. The data
can still tell: the first evaluation, the lowest evaluation early in the run and the
evaluations after it are compared directly, against the noise, as a researcher reads such a
plot ("it fell by 5 sd at the first evaluation and came back").

A dip is taken only when all of these hold:
- the lowest evaluation sits early (within `PhaseConfig.early_fraction` of the steps) and
  inside the run's first phase, which is a rise or a plateau;
- it is below the starting level by more than `k_sd` sds of a difference of two evaluations
  (k_sd * sqrt(2) * sd), and the series is not a rate pinned at a bound (half its readings
  equal), whose few other readings are blips. The sd is the run's, or where smaller the root
  mean square of second differences with the trough left out: a one-evaluation trough puts
  its whole turn into two second differences, and the sparse runs' noise estimate
  (`phasewatch.hinge`) leaves out only the largest (tuning seeds: on runs with an evaluation at
  step 0, boundary hits 0.62 -> 0.70 and presence 0.88 -> 0.92 in the second generator family,
  unchanged in the first; no more false claims on the controls of any regime but one of 90
  medium monotone runs of the first family, read as a dip). Where the run's noise was inflated
  for AR(1) autocorrelation, so are the second differences, which a persistent excursion
  hardly moves: a flat AR(1) run's three low readings in a row were read as a dip;
- the evaluations after it come back and stay: the median of the next three is above the
  trough by the same margin, so a fall that never recovers stays what the segmentation made of
  it, and a trough that is only the first of several low points is not a turn. A wide
  trough (the evaluation after it below the start by the margin too) inside a first phase
  named a rise recovers as slowly as a logistic climb starts: there the best three in a row of
  the rise count (0.433 -> 0.319, then 0.336, 0.334, 0.366 and up to 0.64; or 0.288, 0.247,
  0.207, 0.172, then 0.177, 0.225, 0.295 and up to 0.56, whose fall into the trough is gradual
  too). Tuning seeds: requiring the evaluation before the trough below the start as well gave
  boundary hits 0.01 lower on fast-saturating runs of the second generator family, no other
  cell changed, no false claim fewer.
A first phase named a plateau that ends on its lowest evaluation, below the start, and is
followed by a rise is a fall into a trough that the segmentation put its knot on but judged
flat (two or three evaluations, against a noise estimate the turns inflated): the dip is tested
as inside one rise over both phases, and the phases are kept as they were when it is not
taken (tuning seeds, second generator family: step-0 runs' boundary hits 0.74 -> 0.76 and
presence 0.93 -> 0.94, 3-12-evaluation runs' hits 0.63 -> 0.66 and presence 0.89 -> 0.90;
no cell worse, the dense section unchanged).
Only on runs of up to `MAX_POINTS` (80) evaluations: on a denser run a dip lasts enough
evaluations for the segmentation, and the lowest of hundreds of noisy evaluations is no evidence
of one. At 41-80 evaluations a dip that saturates in the first tenth of the run is still one or
two evaluations deep (tuning seeds: boundary hits on fast-saturating runs 0.74 -> 0.79 and 0.68
-> 0.70 with 80 instead of 40, no other regime changed, no more false claims).
A one-evaluation trough counts when it is one of the first `ONE_POINT_LAST` (3) evaluations
after the start and the run's first rise then ends more than the margin above the start (a
readaptation that climbs past where it started), however few evaluations that rise takes: at
the usual cadence of LLM evaluations a fast dip is one point deep as the expert data start to
act, and a fast recovery one or two (tuning seeds, fast-saturating runs' boundary hits, the two
generator families: 0.85 / 0.72 when the rise had to last three evaluations, 0.87 / 0.74 two,
0.88 / 0.74 any). Inside a first phase named a plateau (on a sparse run whose turns inflated the
noise estimate, a dip, a climb and a decline can come out as one), the climb is read from the
run's three best evaluations after the trough: their median must be above the start by the
margin (tuning seeds, first family: on 3-12-evaluation runs boundary hits 0.76 -> 0.77 and
disruption presence 0.91 -> 0.92, at step 0 hits 0.90 -> 0.91; no other cell changed), and a
decline of the last two evaluations by the margin from the best after the recovery is the
overfit the same inflated noise hid (3-12 evaluations: hits 0.77 -> 0.78, overfit presence
0.94 -> 0.95). Later,
before a flat run, or before a rise that ends near the start, it does not: one low evaluation
and straight back to the level the run keeps is what a failed evaluation or a heavy-tailed
noise reading looks like, so there the next evaluation must be below the start too.
"""

from __future__ import annotations

import numpy as np

from phasewatch.noise import ar_inflation, pinned_at_bound, second_difference_sd
from phasewatch.phase_stats import UP_PHASES
from phasewatch.phases import PhaseConfig, significant_gap
from phasewatch.results import Phase
from phasewatch.smoothed_levels import smooth

MAX_POINTS = 80
ONE_POINT_LAST = 3  # the latest evaluation after the start a one-evaluation trough may sit at
CLIMB_POINTS = 3    # evaluations after a trough in a plateau that must stand above the start


def split_start_dip(phases: list[Phase], steps: np.ndarray, y: np.ndarray, sd: float,
                    window: int, cfg: PhaseConfig, ar: float = 0.0,
                    sd_given: bool = False) -> list[Phase]:
    """`phases` with a disruption -> readaptation split off the first phase when the data show
    an early dip below the first evaluation that recovers (see the module docstring). The
    first evaluation, not the user's `--baseline`: the data decide the phases.
    `ar` is the AR(1) coefficient `sd` was inflated for (0 when it was not). `sd_given`: the
    user gave the noise (`--noise-sd`, `--eval-size`, `--pool-noise`), which is then used as
    given, not lowered to the run's own estimate."""
    if not phases or phases[0].name not in (*UP_PHASES, "plateau") or sd <= 0 \
            or not 4 <= y.size <= MAX_POINTS \
            or pinned_at_bound(y):  # a rate pinned at a bound: its few other readings are blips
        return phases
    index = {int(s): i for i, s in enumerate(steps)}
    merged = _fall_called_flat(phases, index, y)
    if merged is not None:
        found = split_start_dip(merged, steps, y, sd, window, cfg, ar, sd_given)
        return found if found[0].name == "disruption" else phases
    first = phases[0]
    base = float(y[0])  # the starting level the dip is measured from
    end = index[first.end_step]
    early = np.flatnonzero(steps - steps[0] <= cfg.early_fraction * (steps[-1] - steps[0]))
    hi = min(int(early[-1]) if early.size else 0, end - 1, y.size - 3)
    if hi < 1:
        return phases
    trough = 1 + int(np.argmin(y[1:hi + 1]))
    if not sd_given:
        # the run's noise without the trough: the turns of the rest inflate the whole-run one
        sd = min(sd, second_difference_sd(np.delete(y, trough), robust=False) * ar_inflation(ar))
    margin = significant_gap(sd, cfg.k_sd)
    depth = base - y[trough]
    recovery = float(np.median(y[trough + 1:trough + 4])) - y[trough]
    if recovery <= margin and first.name in UP_PHASES and y[trough + 1] < base - margin:
        # a wide trough, two evaluations or more below the start, recovers over several
        # evaluations: the best three in a row of the rise after it
        after = y[trough + 1:end + 1]
        recovery = max(float(np.median(after[j:j + 3])) for j in range(max(after.size - 2, 1))) \
            - y[trough]
    if depth <= margin or recovery <= margin:
        return phases
    one_point = base - y[trough + 1] <= cfg.k_sd * sd
    if first.name == "plateau":
        # a plateau has no rise to end above the start: the run's three best evaluations
        # after the trough must (a failed evaluation is followed by the level the run keeps)
        best_after = np.sort(y[trough + 1:])[::-1][:CLIMB_POINTS]
        climbs = best_after.size == CLIMB_POINTS and float(np.median(best_after)) - base > margin
    else:
        climbs = float(np.median(y[max(trough + 1, end - 2):end + 1])) - base > margin
    if one_point and (not climbs or trough > ONE_POINT_LAST):
        # one low evaluation, then straight back to the level the run keeps: a failed
        # evaluation reads the same, and nothing after it says otherwise
        return phases
    trough_step = int(steps[trough])
    if first.name in UP_PHASES:
        return [Phase("disruption", first.start_step, trough_step),
                Phase("readaptation", trough_step, first.end_step), *phases[1:]]
    # a plateau that hid a dip: the recovery ends where the smoothed data reach the plateau's
    # level (the median of its later half) within the noise
    level = float(np.median(y[(trough + end) // 2:end + 1]))
    ys = smooth(y, window)
    back = np.flatnonzero(ys[trough + 1:end] >= level - max(cfg.level_sd, 1 / np.sqrt(window)) * sd)
    if back.size == 0:
        return [Phase("disruption", first.start_step, trough_step),
                Phase("readaptation", trough_step, first.end_step), *phases[1:]]
    at = trough + 1 + int(back[0])
    reached = int(steps[at])
    split = [Phase("disruption", first.start_step, trough_step),
             Phase("readaptation", trough_step, reached)]
    # the hidden plateau may end in a decline from its best evaluation, which the noise
    # estimate the dip inflated did not see either: the last two evaluations below the best by
    # the margin, two or more evaluations after it, on a run that is this one phase
    peak = at + int(np.argmax(y[at:end + 1]))
    if peak <= end - 2 and len(phases) == 1 \
            and y[peak] - float(np.median(y[end - 1:end + 1])) > margin:
        if peak > at:
            split.append(Phase("plateau", reached, int(steps[peak])))
        return [*split, Phase("overfit", int(steps[peak]), first.end_step)]
    return [*split, Phase("plateau", reached, first.end_step), *phases[1:]]


def _fall_called_flat(phases: list[Phase], index: dict[int, int],
                      y: np.ndarray) -> list[Phase] | None:
    """The phases with a first plateau that ends on its lowest evaluation, below the start,
    merged into the rise after it, or None. The segmentation put its knot on the trough but
    judged the fall into it (two or three evaluations) flat against a noise estimate the turns
    inflated; the dip is then tested like one inside a rise, across the whole span (tuning
    seeds, step 0 runs of the second generator family: a dip at the first update came out as
    plateau then improvement in 3 of 18 missed boundaries)."""
    if len(phases) < 2 or phases[0].name != "plateau" or phases[1].name not in UP_PHASES:
        return None
    end = index[phases[0].end_step]
    if end < 1 or y[end] >= y[0] or y[end] > float(np.min(y[:end + 1])):
        return None
    rise = phases[1]
    return [Phase(rise.name, phases[0].start_step, rise.end_step), *phases[2:]]
