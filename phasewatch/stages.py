"""Training stages (SFT, then RL) in the phases: where a known switch splits a series, and the
phases named stage by stage, as the live monitor restarts them at the switch."""

from __future__ import annotations

import itertools

import numpy as np

from phasewatch.hinge import MAX_POINTS as HINGE_POINTS
from phasewatch.hinge import hinge_phases
from phasewatch.phases import PhaseConfig, build_phases
from phasewatch.results import Phase
from phasewatch.start_dip import split_start_dip

STAGE_EVENTS = ("sft_to_rl",)  # known events that start a new training stage (phases restart)
STAGE_POINTS = 9  # fewest evaluations a stage needs on each side of its switch to be split off


def stage_splits(steps: np.ndarray, switches: list[int]) -> list[int]:
    """The stage switches the series is split at: those leaving at least STAGE_POINTS records on
    each side. A shorter stage is read with its neighbour as one run, by the rules of a run
    without a switch (on 5 + 4 evaluations the switch alone kept the broken line and the start
    dip check away: a dip 0.546 -> 0.134 -> 0.49 before the switch was "improvement")."""
    kept: list[int] = []
    first = 0
    for step in switches:
        i = int(np.searchsorted(steps, step, side="right"))  # the first record after it
        if i - first >= STAGE_POINTS and steps.size - i >= STAGE_POINTS:
            kept.append(step)
            first = i
    return kept


def note_one_stage(analysis, events, steps: np.ndarray):
    """`analysis` with `extra["stage_only"]`: the known stage switches (`STAGE_EVENTS`) its
    series lies wholly on one side of, as {"step", "name", "stage"} ("sft" up to an `sft_to_rl`
    at or after its last evaluation, which is of the SFT model; "rl" from one at or before its
    first). Such a switch splits nothing, so `events` leaves it out, yet the phases are one
    stage's: a GRPO reward in a joined SFT -> GRPO run said no word of the switch (trial 38b)."""
    if steps.size == 0:
        return analysis
    only = []
    for event in sorted(events, key=lambda e: e.step):
        before, _, after = event.name.partition("_to_")
        if event.name not in STAGE_EVENTS or not after:
            continue
        if steps[0] >= event.step or steps[-1] <= event.step:  # else analyze_run splits or warns
            only.append({"step": int(event.step), "name": event.name,
                         "stage": after if steps[0] >= event.step else before})
    if only:
        analysis.extra["stage_only"] = only
    return analysis


def stage_phases(steps, y, breaks, sd: float, cfg: PhaseConfig,
                 stage_steps: list[int], pinned: bool = False) -> list[Phase]:
    """Phases named stage by stage: a known switch of training stage (SFT -> RL) starts the
    naming again, as the live monitor does, so the RL stage's rise is its own phase (an
    improvement, or a readaptation after a fall right after the switch) and not the tail of the
    SFT stage's phase. Records after the switch step belong to the new stage, which starts from
    the switch step's own evaluation, still before RL (contracts.md), else the last before it;
    a drop after the switch is its disruption.
    Phases meet at the switch step (`stage_steps`: those `stage_splits` keeps). A stage of
    at most HINGE_POINTS records is read by the broken line as a sparse run is (its lines from
    the whole run's segmentation, with segments of 3+ points, miss a dip of a few evaluations
    at the switch), judged against the run's noise `sd`."""
    cuts = [(0, int(steps[0]))]  # (index of each stage's first record, step the stage starts)
    cuts += [(int(np.searchsorted(steps, step, side="right")), int(step)) for step in stage_steps]
    phases: list[Phase] = []
    for k, (first, switch) in enumerate(cuts):
        stop = cuts[k + 1][0] if k + 1 < len(cuts) else steps.size
        a = max(first - 1, 0)  # the switch step's record (else the last before it): the start
        if len(cuts) > 1 and stop - a <= HINGE_POINTS and not pinned:
            stage, _ = hinge_phases(steps[a:stop], y[a:stop], cfg, sd)
        else:
            inside = [j - a for j in breaks if a < j < stop]
            stage = build_phases(steps[a:stop], y[a:stop], inside, sd, cfg)
        if k:
            stage[0].start_step = phases[-1].end_step = switch
        phases.extend(stage)
    return phases


def stage_start_dips(phases: list[Phase], steps: np.ndarray, y: np.ndarray,
                     stage_steps: list[int], sd: float, window: int, cfg: PhaseConfig,
                     ar: float = 0.0, sd_given: bool = False) -> list[Phase]:
    """`phases` with each stage read for a dip right at its start as a run's start is
    (`start_dip.split_start_dip`, on the stage's records from the switch step's on): a fresh
    optimizer at the SFT -> RL switch can drop the accuracy at the first evaluation after it
    and bring it back over a few more, too short for the segmentation (paper trial,
    sft_then_rl_s1: 0.822 at the switch, 0.712, 0.756, 0.760, 0.776, 0.788, 0.812, read as one
    improvement from the switch to the end). A stage whose phases do not start and end on its
    records is left as it is."""
    index = {int(s): i for i, s in enumerate(steps)}
    bounds = [int(steps[0]), *(int(s) for s in stage_steps), int(steps[-1])]
    if any(not any(a <= p.start_step and p.end_step <= b for a, b in itertools.pairwise(bounds))
           for p in phases):
        return phases  # a phase across a switch: no stage's start to read
    out: list[Phase] = []
    for start, end in itertools.pairwise(bounds):
        stage = [p for p in phases if start <= p.start_step and p.end_step <= end]
        a = max(int(np.searchsorted(steps, start, side="right")) - 1, 0)
        stop = int(np.searchsorted(steps, end, side="right"))
        if stage and all(p.start_step in index and p.end_step in index for p in stage) \
                and index[stage[0].start_step] == a:
            stage = split_start_dip(stage, steps[a:stop], y[a:stop], sd, window, cfg, ar, sd_given)
        out.extend(stage)
    return out
