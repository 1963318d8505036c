"""A dip the offline detector, refitted live on a stage's values (`short_run`), finds already
recovering, or holding as a cliff: announced before the monitor's warm-up would let its own
level tests see it (`refit_events`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasewatch.noise import GROSS_SD
from phasewatch.online.dip_checks import cliff_sds, dip_is_no_wander, dip_stands_out
from phasewatch.online.offline_fit import offline_phases
from phasewatch.online.series import Series
from phasewatch.online.short_run import (
    SHORT_RUN_CONFIRM,
    SPARSE_CLEAR_SD,
    SPARSE_RUN_FROM,
    size_sd,
    stage_pairs,
)
from phasewatch.online.wording import moved, starting_level


@dataclass(frozen=True)
class RefitDip:
    """A disruption the refit found already recovering, or holding as a cliff: where it starts,
    its trough (step and oriented value) and how many evaluations the refit read."""

    onset: int
    trough: int
    trough_value: float
    evaluations: int
    recovering: bool = True  # else a fall that holds (a cliff)
    stands_out: bool = False  # deeper than any wander of the values back from it

    def reason(self, s: Series, stage_step: int | None) -> str:
        verb, side = moved(s.sign, better=False)  # a loss "rose to ... above" its start
        how = "and is recovering" if self.recovering else "and stays there"
        return (f"{s.label} {verb} to {s.raw(self.trough_value):.4g} at step {self.trough}, "
                f"{side} {starting_level(s, stage_step)}, {how} (the phases `analyze` finds in "
                f"the {self.evaluations} {s.value_word}s so far)")


def refit_dip(s: Series, stage_step: int | None, sparse: bool = False) -> RefitDip | None:
    """The disruption and readaptation that start the offline detector's phases of a stage's
    values of `s`, on these values and on all but the latest (SHORT_RUN_CONFIRM evaluations in
    a row), else None. A short run's dip is often over within the monitor's warm-up (its first
    `warmup` evaluations), where the level tests cannot see it though `analyze` names it; from
    the SPARSE_RUN_FROM-th value on, before the warm-up (`refit_events`), it is announced as
    soon as two refits agree.
    A recovering dip must be more than the wander of sticky noise: the dip and the rise out of
    it (`dip_is_no_wander`), or the dip far deeper than the values back from it spread
    (`dip_stands_out`). Without that, a sticky flat run's first values are announced as a dip,
    and the state that follows it stops flat runs.
    A disruption into a plateau (a fall that holds) on both refits is announced when it is a
    cliff (`cliff_sds`) and every value since is nearer the trough than the start: a collapse
    at the first update is otherwise announced only after the warm-up.
    `sparse` (the plan holds at most FEW_POINTS evaluations): a recovering dip is also one when
    the refit's disruption is SPARSE_CLEAR_SD of the offline detector's noise sds deep, as a
    sparse run's overfit is judged, unless the refit ends in an overfit (the refit's overfit
    judges it: a stop, not a dip over long ago); on 5-12 values the wander tests take phi at
    its upper bound, 0.6-0.9 whatever the residuals, and turn away even a dip 7-9 sds deep."""
    pairs = stage_pairs(s, stage_step)
    if len(pairs) < SPARSE_RUN_FROM + SHORT_RUN_CONFIRM - 1:
        return None
    named = set()
    for dropped in range(SHORT_RUN_CONFIRM):
        seen = pairs[:len(pairs) - dropped]
        phases = offline_phases([st for st, _ in seen], [v for _, v in seen], s.given_sd)
        names = tuple(p.name for p in phases[:2])
        if names not in (("disruption", "readaptation"), ("disruption", "plateau")):
            return None
        named.add(names)
        if dropped == 0:
            trough, depth_sd = phases[0].stats["trough_step"], size_sd(phases[0])
            settled = phases[-1].name != "overfit"  # else the news is the overfit's to tell
    y = np.asarray([v for _, v in pairs], dtype=np.float64)
    at = next(i for i, (st, _) in enumerate(pairs) if st == trough)
    if len(named) > 1:
        return None  # recovering or holding: the next evaluations will tell
    if named == {("disruption", "plateau")}:
        # a fall that holds: only a cliff, which no sticky wander makes (`cliff_sds`), with
        # every value since nearer the trough than the start (one failed evaluation is back)
        if cliff_sds(y, at) < GROSS_SD or np.max(y[at:]) > (y[0] + y[at]) / 2:
            return None
        return RefitDip(pairs[0][0], trough, float(y[at]), len(pairs), recovering=False)
    best = min(at + 1 + int(np.argmax(y[at + 1:])), y.size - 2) if at < y.size - 2 else at
    stands_out = dip_stands_out(y, at, s.given_sd)
    clear = sparse and settled and depth_sd >= SPARSE_CLEAR_SD  # a sparse run's (docstring)
    if not (stands_out or clear or dip_is_no_wander(y, at, best, s.white)):  # sticky noise
        return None  # wanders down and back
    return RefitDip(pairs[0][0], trough, float(y[at]), len(pairs), stands_out=stands_out)
