"""A sparse run's decline that starts after a short flat stretch, within the early part of its
plan, and is still getting worse past it: the same evidence that makes a decline from the first
evaluation an overfit (`short_run.offline_overfit`)."""

from __future__ import annotations

import numpy as np

from phasewatch.analysis import analyze_run
from phasewatch.online import PhaseMonitor
from phasewatch.run import Run

STEPS = [500, 1000, 1500, 2000, 2500, 3000]
PLANNED = 3300  # the decline's knot, step 1500, is 36% into the plan: its early part


def alerts(values: list[float], planned: int | None) -> list[tuple[int, str, int | None]]:
    monitor = PhaseMonitor(metric="eval/loss", direction="min", planned_steps=planned)
    return [(step, a.event, a.best_step) for step, v in zip(STEPS, values)
            for a in monitor.update(step, {"eval/loss": v})]


def test_a_decline_after_a_flat_start_still_worsening_past_the_early_part_is_stopped():
    """A held-out loss flat for three evaluations, then worse at each of the last three, faster
    each time (analyze: plateau > overfit, checkpoint at the flat stretch's best). The decline's
    knot lies within the plan's early part, so it was held back as a slow dip after a flat start
    although, past the early part, every value after a fifth of the plan was worse than the one
    before (a dip levels off): a stop at the last evaluation, with analyze's checkpoint."""
    values = [0.612, 0.598, 0.609, 0.652, 0.731, 0.846]
    found = alerts(values, PLANNED)
    seen = Run.from_columns({"loss": (np.asarray(STEPS), np.asarray(values))}, "t", "t")
    analysis = analyze_run(seen, "loss", "min")
    assert [p.name for p in analysis.phases][-1] == "overfit"
    assert found == [(3000, "overfit", analysis.recommended_stop_step)]
    assert alerts(values, None) == []  # without the plan: a dip still falling, live


def test_a_fall_after_a_flat_start_that_turns_back_is_still_no_stop():
    """The same flat start, then a fall within the plan's early part that turns back: a slow dip,
    as before (the values after a fifth of the plan are no longer getting worse)."""
    values = [0.612, 0.598, 0.609, 0.742, 0.731, 0.705]
    assert alerts(values, PLANNED) == []
