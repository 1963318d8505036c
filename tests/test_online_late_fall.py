"""A held-out metric flat at its start for a long stretch, then a sudden lasting fall (trial 38:
a DPO policy's exact match 1.0 for 13 evaluations, then 0.775, 0.505, 0.485 and a slide). The
fall left the start late, so it was no disruption; sudden, so no steady decline either; and the
live monitor said nothing at all but a "readaptation" out of it."""

from __future__ import annotations

import numpy as np

from phasewatch.online import PhaseMonitor

STEPS = list(range(0, 401, 10))
EXACT_MATCH = [1.0] * 13 + [0.775, 0.505, 0.485, 0.365, 0.395, 0.375, 0.385, 0.39, 0.395, 0.4,
                            0.445, 0.45, 0.415, 0.405, 0.405, 0.36, 0.335, 0.375, 0.34, 0.325,
                            0.355, 0.345, 0.33, 0.325, 0.325, 0.33, 0.305, 0.28]


def alerts(values, planned=None, steps=STEPS):
    monitor = PhaseMonitor(metric="eval_exact_match", direction="max", planned_steps=planned)
    return [(a.event, a.step, a.onset_step) for step, value in zip(steps, values)
            for a in monitor.update(step, {"eval_exact_match": float(value)})]


def test_without_a_plan_a_sudden_lasting_fall_after_a_long_flat_start_is_said_no_stop():
    """Without the run's length it is the same data as a disruption that came after a flat
    start (the reference CHORD-phi run's, at step 80 of 2000): a disruption, once it has held
    below the start for a whole window; no stop."""
    found = alerts(EXACT_MATCH)
    event, step, onset = found[0]
    assert event == "disruption" and step <= 220 and 110 <= onset <= 160, found
    assert "overfit" not in [e for e, _, _ in found]


def test_past_the_plans_early_part_a_sudden_lasting_fall_is_an_overfit():
    """The same values on a run planned for 200 steps: the fall at step 130 is past the plan's
    early 40%, so no disruption: an overfit (the refit of the offline detector, on a plan this
    short, says it first)."""
    found = alerts(EXACT_MATCH[:21], planned=200, steps=STEPS[:21])
    assert found[0][:2] == ("overfit", 150) and "disruption" not in [e for e, _, _ in found], found


def test_with_a_plan_a_fall_within_its_early_part_is_a_disruption():
    """The plan (400 steps) puts the fall at 30% of the run, within its early part: by the
    semantics a disruption, said as soon as it is significant, not silence."""
    found = alerts(EXACT_MATCH, planned=400)
    assert found[0][:1] == ("disruption",) and found[0][1] <= 190 and found[0][2] >= 100


def test_a_dip_after_a_flat_start_that_recovers_within_a_window_is_not_stopped():
    """An upset: a flat start, three evaluations 12 sds low, then back at the start. The refitted
    offline detector dated the fall by a straight line through it, from the evaluation before
    it (step 180), and stopped the run on its third low value; the corner of a level that
    jumps dates it at 190, and three low values are not yet a lasting decline."""
    rng = np.random.default_rng(4)
    values = [0.8 + rng.normal(0, 0.01) for _ in range(20)] + [0.6, 0.58, 0.61] + \
        [0.8 + rng.normal(0, 0.01) for _ in range(18)]
    assert not any(event == "overfit" for event, _, _ in alerts(values))


def test_a_dense_run_past_its_plans_early_part_stops_on_a_sudden_lasting_fall():
    """120 evaluations at 0.8, then a drop of 12 noise sds that holds, on a run planned for 200:
    no disruption (past 40% of the plan) and, sudden, no steady decline: the level test stops it
    within two windows of the drop; without a plan it is a disruption, no stop."""
    rng = np.random.default_rng(7)
    values = np.where(np.arange(200) < 120, 0.8, 0.68) + rng.normal(0, 0.01, 200)
    steps = [10 * i for i in range(200)]
    planned = alerts(values, planned=10 * 199, steps=steps)
    event, step, onset = planned[0]
    assert event == "overfit" and 1200 <= step <= 1200 + 10 * 30 and 1100 <= onset <= 1250, planned
    unplanned = alerts(values, steps=steps)
    assert [e for e, _, _ in unplanned][:1] == ["disruption"] and "overfit" not in [
        e for e, _, _ in unplanned], unplanned


def test_readings_pinned_at_a_bound_do_not_shrink_the_noise_after_the_fall():
    """The 13 readings of exactly 1.0 differ by exactly 0: with half the differences 0, their
    MAD was the smallest of the others (noise 0.0017, where 200 prompts at 0.4 give a binomial
    0.035), and a 0.02 wiggle at step 270 was a '4.0 se' readaptation. The readings off the
    bound carry the noise."""
    for planned in (None, 400):
        found = alerts(EXACT_MATCH, planned=planned)
        assert "readaptation" not in [e for e, _, _ in found], (planned, found)


def test_a_collapse_after_a_rise_is_stopped_within_two_evaluations():
    """Trial 39: an Online DPO run's held-out exact match rose 0.285 -> 0.605 and fell to 0 at
    step 100 for good; one cliff among a dozen differences set the live noise's floor (the mean
    absolute difference) at twice the noise, the refit turned the rise down as too small against
    it, and the level tests stopped the run at step 150, five evaluations late."""
    values = [0.285, 0.31, 0.32, 0.375, 0.395, 0.465, 0.49, 0.585, 0.605, 0.6] + [0.0] * 11
    steps = list(range(0, 201, 10))
    found = alerts(values, planned=200, steps=steps)
    overfit = [(step, onset) for event, step, onset in found if event == "overfit"]
    assert overfit and overfit[0][0] <= 120 and 80 <= overfit[0][1] <= 90, found
