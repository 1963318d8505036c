"""What the data say at the phases: the starting level, troughs and peaks, boundary intervals,
and the effect sizes printed beside each phase.

The segmentation fits straight lines; people read values. So every number reported here is
read off the data at the series' own cadence, never off a fitted line: the starting level is the
observed start (`Baseline`), a trough or a peak sits on the evaluation where the data are lowest
or highest near the turn (`turns.snap_turns`), and a phase's start and end values are the evaluations
at its boundaries, as logged (but for the end of a dense run, see `boundary_levels`, and for a
plateau, the levels it holds, `held_levels`). Decisions
(whether a turn moves, whether a trend is a plateau) read a dense run through `point_levels`
(the median of each evaluation and its two neighbours), so one lucky or unlucky evaluation
among hundreds does not decide them.
Values are higher-is-better inside (`sign` * own units) and are turned back to the metric's own
units for output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.results import Phase
from phasewatch.rolling import centred_median3

DOWN_PHASES = ("disruption", "overfit")
UP_PHASES = ("readaptation", "improvement")
DRIFT_POINTS = 6  # a plateau of this many evaluations has thirds to compare (its drift)
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

    def __str__(self) -> str:
        """The option as a user writes it (`mean-of-first:5`)."""
        return self.kind if self.kind == "first" else f"{self.kind}:{self.amount}"

    def level(self, steps: np.ndarray, y: np.ndarray, sd: float) -> tuple[float, float]:
        """(level, its standard error)."""
        if self.kind == "mean-of-first":
            k = min(self.amount, y.size)
            return float(y[:k].mean()), sd / np.sqrt(k)
        if self.kind == "step":
            return float(y[int(np.argmin(np.abs(steps - self.amount)))]), sd
        return float(y[0]), sd

    def caveat(self, steps: np.ndarray) -> str | None:
        """A warning when the level cannot be read as asked (no evaluation at step S, fewer
        than K evaluations), saying what it was read from instead."""
        if self.kind == "step" and steps.size:
            nearest = int(steps[int(np.argmin(np.abs(steps - self.amount)))])
            if nearest != self.amount:
                return (f"--baseline step:{self.amount}: no evaluation at that step; the starting "
                        f"level is the one nearest it, at step {nearest}")
        if self.kind == "mean-of-first" and 0 < steps.size < self.amount:
            return (f"--baseline mean-of-first:{self.amount}: the run has {steps.size} "
                    "evaluations; the starting level is the mean of all of them")
        return None


def point_levels(y: np.ndarray, change: float = math.inf) -> np.ndarray:
    """The data at each evaluation as reported: the value itself on a sparse run; on a dense
    run the median of it and its two neighbours, so one lucky or unlucky evaluation among
    hundreds is not read as the level there. An end has one neighbour, and its level is the
    mean of the two, except where they differ by more than `change` (given the noise: a change
    the run makes right after its first or right before its last evaluation, not noise): then
    the value itself. A 0.66 at step 0 before a fall to 0.0 read 0.33, and a last evaluation of
    0.265 was 'as good within the noise' as the 0.66 start."""
    if y.size <= SPARSE:
        return y
    out = centred_median3(y)
    for end, near in ((0, 1), (-1, -2)):
        if abs(y[end] - y[near]) > change:
            out[end] = y[end]
    return out


def extreme_index(y: np.ndarray, lo: int, hi: int, highest: bool) -> int:
    """Index of the highest (lowest) evaluation in y[lo..hi]: located with `point_levels` (on
    a dense run, where the 3-point median is highest), then the highest (lowest) evaluation
    itself among that point and its two neighbours, so the step reported holds the value
    reported. Where several points share the extreme 3-point median (a peak's 0.724 at three
    evaluations in a row around a single 0.73), the highest (lowest) evaluation among all their
    neighbours is taken, the first of equals: the first of the tied medians put the peak on a
    0.724 beside the run's 0.73 (sample_logs/seeds/sft_s2)."""
    sign = 1.0 if highest else -1.0
    window = sign * point_levels(y)[lo:hi + 1]
    best = None
    for k in lo + np.flatnonzero(window == window.max()):
        a, b = max(lo, k - 1), min(hi, k + 1)
        j = a + int(np.argmax(sign * y[a:b + 1]))
        if best is None or sign * y[j] > sign * y[best]:
            best = j
    return int(best)


def boundary_levels(phases: list[Phase], steps, y,
                    fixed: frozenset[int] | set[int] = frozenset(), robust: bool = False) -> list[float]:
    """The level at each phase edge (len(phases) + 1 values): the first evaluation, then the
    evaluation at each boundary and at the end (`robust`: read with `point_levels`, for
    decisions). Always the data, never the user's `--baseline`: that is the reference effects
    are measured from (`phase_stats`), and must not move the phases or the values at their
    edges. At a change of training stage (`fixed`) the new stage starts from the switch step's
    own evaluation, still before the new stage (contracts.md: `sft_to_rl` is logged at the last
    SFT step), else the last record before the switch, so a fall after the switch is measured."""
    at = point_levels(y) if robust else y
    levels = [float(y[0])]
    for phase in phases:
        i = int(np.searchsorted(steps, phase.end_step))
        if phase.end_step in fixed and phase.start_step < phase.end_step \
                and phase is not phases[-1] and (i == steps.size or steps[i] != phase.end_step):
            i = max(i - 1, 0)  # the previous stage's last phase, no evaluation at the switch
        levels.append(float(at[i]))
    if y.size > SPARSE:
        # the run's end is the one edge no turn was placed on: on a dense run it is read as the
        # phases are decided (the mean of the last two evaluations), or one evaluation among
        # hundreds decides the sign of the last change (an overfit "+8" on bimodal returns)
        levels[-1] = float(point_levels(y)[-1])
    return levels


def demote_flat_trends(phases: list[Phase], levels: list[float], sd: float,
                       k_sd: float, scales: list[float] | None = None,
                       steps: np.ndarray | None = None) -> list[Phase]:
    """A trend whose change in the data (between the levels at its edges) is within `k_sd`
    noise sds is a plateau: a line that overshoots a fast rise by a little must not leave a
    one-evaluation "overfit" behind. Neighbouring plateaus merge; a demoted blip between two
    trends of the same direction is part of that trend (a bump inside a long fall is not a
    plateau of its own); and a rise no longer preceded by a disruption is an improvement.
    `scales` (one per phase) shrink the noise of a change whose edges are means or medians of
    several evaluations (`whole_run_trend.edge_scales`); 1 for single evaluations. With
    `steps`, a demoted trend that spans the run's first two evaluations only, before a trend,
    is part of that trend: one reading off the start holds no phase (a validation reward's
    second reading 3.6 below its neighbours, 16 noise sds, was a "plateau" whose own line
    printed that change)."""
    out: list[Phase] = []
    demoted: set[int] = set()  # indices into `out` of trends demoted to plateaus
    for k, phase in enumerate(phases):
        name = phase.name
        scale = scales[k] if scales is not None else 1.0
        if name != "plateau" and abs(levels[k + 1] - levels[k]) <= k_sd * sd * scale:
            name = "plateau"
            demoted.add(len(out))
        if out and name == "plateau" == out[-1].name:
            out[-1].end_step = phase.end_step
            continue
        out.append(Phase(name, phase.start_step, phase.end_step))
    for i in sorted(demoted, reverse=True):
        if 0 < i < len(out) - 1 and out[i].name == "plateau" and any(
                out[i - 1].name in kind and out[i + 1].name in kind
                for kind in (UP_PHASES, DOWN_PHASES)):
            out[i - 1].end_step = out[i + 1].end_step
            del out[i:i + 2]
    if steps is not None and 0 in demoted and len(out) > 1 and out[1].name != "plateau" \
            and steps.size > 1 and out[0].end_step <= steps[1]:
        out[1].start_step = out[0].start_step
        del out[0]
    last_trend = None
    for phase in out:
        if phase.name in UP_PHASES:
            phase.name = "readaptation" if last_trend == "disruption" else "improvement"
        if phase.name != "plateau":
            last_trend = phase.name
    return out


LATTICE_MIN = 10  # evaluations a stretch needs before its ties can make it a lattice


def on_lattice(values: np.ndarray) -> bool:
    """Whether a stretch's values take few distinct values (at most a quarter as many as there
    are, from LATTICE_MIN of them): a reward of a few completions per prompt (0.6, 0.8, 1.0),
    whose median jumps whole lattice steps: a plateau of one held "1 -> 0.8, level 1" while its
    first and last 67 evaluations averaged 0.848 and 0.851 (trial 38b)."""
    return few_distinct(np.unique(values).size, values.size)


def few_distinct(distinct: int, n: int) -> bool:
    """`on_lattice` from the counts: `distinct` values among `n` (the live level counts a
    sorted window's values itself, at every record)."""
    return n >= LATTICE_MIN and distinct <= n // 4


def typical(values: np.ndarray) -> float:
    """The level a stretch holds: its median, robust to one failed reading, or its mean on a
    lattice (`on_lattice`), where the median is one of a few values, not the level."""
    return float(np.mean(values) if on_lattice(values) else np.median(values))


def held_levels(held: np.ndarray) -> tuple[float, float]:
    """The level a plateau holds at its start and at its end: the medians (means on a lattice,
    `on_lattice` of the whole plateau) of its first and last thirds (halves below DRIFT_POINTS evaluations), never fewer than three evaluations
    from DRIFT_POINTS on. Its edges are single evaluations (a low first reading, a turn snapped
    to an extreme) whose difference can point against what its data do: a loss plateau printed
    "2.088 -> 2.193, change +0.105" while it drifted down by 0.064. A median of two is their
    mean, which one failed reading moves: a held-out reward of 8 evaluations ending -0.06,
    -0.75, -0.17 held -0.46 at its end by the last two, -0.17 by the last three."""
    k = held_count(held.size)
    level = np.mean if on_lattice(held) else np.median  # one reading for both ends
    return float(level(held[:k])), float(level(held[-k:]))


def held_count(n: int) -> int:
    """How many evaluations at each end of a plateau of `n` its held levels are medians of."""
    return max(n // 3, 3) if n >= DRIFT_POINTS else max(n // 2, 1)


def declines_from_peak(phase: Phase, top: int, steps: np.ndarray, y: np.ndarray, sign: float,
                       sd: float) -> None:
    """An overfit's decline measured from the peak it starts from (`checkpoint.overfit_peaks`:
    the evaluation at index `top`), where that is not its first evaluation: the evaluation
    there, as the step printed beside it holds it, down to the phase's end value.

    Where the phase's ends are means of n evaluations (`ends_averaged`, `start_averaged`: an
    overfit decided from the run's stretches, each evaluation too noisy to read alone), the
    peak is the mean of the n evaluations around `top` (`peak_averaged`), as a rise's best is
    (`whole_run_trend.averaged_best`): one lucky batch measured against the mean of the last
    30 printed "33.5 below its best (step 9)" beside "change -9.269" on a PPO batch score whose
    level fell by about 12 (wandb-trl-ppo-scores-500)."""
    if top == int(np.searchsorted(steps, phase.start_step)):
        return
    n = int(phase.stats.get("ends_averaged") or phase.stats.get("start_averaged") or 1)
    if n > 1:
        lo = min(max(top - n // 2, 0), max(y.size - n, 0))
        peak, at = float(np.mean(y[lo:lo + n])), lo + min(n, y.size) // 2
        phase.stats["peak_averaged"] = min(n, y.size)
    else:
        peak, at = float(y[top]), top
    decline = peak - sign * phase.stats["end_value"]
    phase.stats["peak_step"] = int(steps[at])
    phase.stats["decline_since_peak"] = decline + 0.0
    phase.stats["decline_sd"] = decline / sd if sd > 0 else None


def into_rise(phases: list[Phase], k: int) -> bool:
    """Whether phase `k` is followed by a rising phase (its end a turn: `phase_stats`)."""
    return k + 1 < len(phases) and phases[k + 1].name in UP_PHASES


def phase_stats(phase: Phase, start: float, end: float, steps, y, sign: float, sd: float,
                base: float, into_rise: bool = True) -> dict[str, Any]:
    """Effect sizes in the metric's own units and direction (`change` is end - start as
    logged, between the evaluations at the phase's edges, or for a plateau between the levels
    it holds there, `held_levels`; `change_sd` has the same sign).

    `base` is the starting level the user chose (`Baseline`: the first evaluation, the mean of
    the first K, the evaluation at step S), the reference for what is measured *from the start*:
    - the depth of a disruption that starts the run is measured below `base`, and its
      time_to_recover is until the data regain `base` (depth and recovery speak of one level:
      "fell 0.52 below the start and was back at it 230 steps later");
    - gain_over_baseline is the rise's best evaluation (never below the one it ends on; a held
      end, `whole_run_trend.trend_edges`, may be above it) minus `base`, as its name says.
    A later fall's depth is below the level it started from, and an overfit's decline is from
    its best point: neither is measured from the start, so neither depends on `base`.
    A disruption's trough is its end where a rise follows (`into_rise`: `snap_turns` put the
    turn there); a fall into a plateau (or the run's end) ends where the plateau rule puts the
    floor's start, and a lower evaluation before it is the trough (0.8051 at step 30 beside the
    end's 0.8135 at step 60, "0.0218 below the start" where the data go 0.0302 below), as is
    an earlier one already at the floor's level: the floor starts where the data first reach it."""
    i0 = int(np.searchsorted(steps, phase.start_step))
    i1 = int(np.searchsorted(steps, phase.end_step))
    span = max(int(steps[i1] - steps[i0]), 1)
    if phase.name == "plateau":
        start, end = held_levels(y[i0:i1 + 1])
    change = sign * (end - start)
    stats: dict[str, Any] = {
        "start_value": sign * start,
        "end_value": sign * end,
        "change": change,
        "change_sd": change / sd if sd > 0 else None,
        "slope_per_1k_steps": change / span * 1000,
        "n_points": i1 - i0 + 1,
    }
    if phase.name == "plateau" and held_count(i1 - i0 + 1) > 1:  # the text says so
        stats["ends_means" if on_lattice(y[i0:i1 + 1]) else "ends_medians"] = held_count(i1 - i0 + 1)
    elif i1 == y.size - 1 and y.size > SPARSE and end != y[i1]:
        stats["end_averaged"] = 2  # a dense run's end, as `boundary_levels` reads it
    if phase.name == "disruption":
        before = base if i0 == 0 else start
        trough = i1 if into_rise or i1 <= i0 else extreme_index(y, i0 + 1, i1, highest=False)
        # ... or the first on the floor's level, where the floor is held exactly (a collapse
        # onto a constant: a diverged YOLOv3 run's class accuracy, 3.6657 at each of its last 31
        # evaluations, had its trough at the second of them, the fall's boundary)
        trough = trough if y[trough] < end or math.isclose(y[trough], end, rel_tol=1e-12) else i1
        low = min(float(y[trough]), end)
        stats["trough_step"] = int(steps[trough])
        stats["depth"] = float(before - low)
        stats["depth_sd"] = float((before - low) / sd) if sd > 0 else None
        # back at the start level: one lucky evaluation among hundreds is not a recovery; and
        # not at the trough itself, whose 3-point median on a dense run is its neighbours'
        levels = point_levels(y)
        back = np.flatnonzero(levels[i1 + 1:] >= before)
        stats["time_to_recover"] = (int(steps[i1 + 1 + back[0]] - stats["trough_step"])
                                    if back.size else None)
        if not back.size:  # how far short of that level the run ends ("not recovered", by how
            # much: a run that ends within the noise of it is "as good" by the noise, not back)
            short = float(before - levels[-1])
            stats["end_short"] = short
            stats["end_short_sd"] = short / sd if sd > 0 else None
    elif phase.name in UP_PHASES:
        top = extreme_index(y, i0, i1, highest=True)
        if end > y[top] and (i1 == y.size - 1 or end == y[i1]):  # its end as printed is above
            # its best evaluation: that end is its best
            # the end as printed (`end`): at a dense run's end the mean of the last two, so one
            # lucky last reading is not the best (a train loss read 1.742 at its last step
            # beside 1.779 and 1.771: "best at 215000" while its 3-point median was best at
            # 174000, the checkpoint recommended); the higher of the two holds that level. (An
            # end elsewhere above every reading is the level the plateau after it holds,
            # `trend_edges`: its best is still its best evaluation.)
            top = i1 if y[i1] >= end else max(i1 - 1, i0)
        stats["peak_step"] = int(steps[top])
        stats["gain_over_baseline"] = float(y[top] - base)
    elif phase.name == "plateau":
        held = y[i0:i1 + 1]
        stats["level"] = sign * typical(held)
        if held.size >= DRIFT_POINTS:  # kept beside `change`, which it equals, for old readers
            stats["drift"], stats["drift_sd"] = stats["change"], stats["change_sd"]
    elif phase.name == "overfit":  # from its start; `declines_from_peak` may move the peak
        stats["peak_step"] = int(steps[i0])
        stats["decline_since_peak"] = float(start - end)
        stats["decline_sd"] = float((start - end) / sd) if sd > 0 else None
    # a lower-is-better metric turned round (sign -1) makes -0.0 of a zero, printed "-0"
    return {k: v + 0.0 if isinstance(v, float) else v for k, v in stats.items()}
