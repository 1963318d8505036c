"""A run read before its end: an early fall still going on where the log ends is a disruption
so far, as the live monitor names it.

`analyze` names a fall from the start an overfit when it does not end on a floor early in the
run (`phases.name_runs`). A log read while the run trains (or a replay stopped by
`watch --stop-on`) can end in the middle of such a fall: the curve has not had the time to
find its floor. Where the run's plan says how long it will be (`whole_plan.run_plan`), the fall is
what the live monitor calls it at that point: a disruption while it is within the run's early
part (`EARLY_FRACTION` of the plan), an overfit once it goes on past it (trial 34: the sample
SFT run read to step 70 of 2000 was "plateau > overfit (high confidence)" while `watch` said
disruption and the full run recovers from step 70 on).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from phasewatch.phases import PhaseConfig
from phasewatch.planned import EARLY_FRACTION
from phasewatch.results import Phase


def fall_so_far(phases: list[Phase], steps: np.ndarray,
                cfg: PhaseConfig) -> tuple[list[Phase], str | None]:
    """`phases` with a last-phase overfit renamed a disruption, and the note that says why,
    when the log ends within the first `EARLY_FRACTION` of the run's plan (`planned_steps`),
    the fall starts within the first `early_fraction` of it and only plateaus come before it
    (a fall from the start level: after a rise, a fall is an overfit wherever it happens)."""
    plan = cfg.planned_steps
    if not phases or phases[-1].name != "overfit" or not ends_early(steps, plan):
        return phases, None
    first, last, fall = int(steps[0]), int(steps[-1]), phases[-1]
    span = plan - first
    if fall.start_step - first > cfg.early_fraction * span \
            or any(p.name != "plateau" for p in phases[:-1]):
        return phases, None
    note = (f"the fall from step {fall.start_step} is still going on where the log ends, at "
            f"step {last}, {(last - first) / span:.0%} of the {plan} steps its run plans: a "
            f"disruption so far, as watch names it (an overfit if it goes on past "
            f"{EARLY_FRACTION:.0%} of the run)")
    return phases[:-1] + [dataclasses.replace(fall, name="disruption")], note


def ends_early(steps: np.ndarray, plan: int | None) -> bool:
    """Whether the log ends within the first `EARLY_FRACTION` of its planned run (`plan`, its
    last step; None: no plan, or the log says the run ended): what falls there may still be
    recovered, as the live monitor judges it."""
    if plan is None or steps.size < 2:
        return False
    span = plan - int(steps[0])
    return span > 0 and int(steps[-1]) - int(steps[0]) < EARLY_FRACTION * span
