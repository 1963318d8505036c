"""A held-out score that collapses to a constant: the collapse is a cliff at once, not after
the constant has filled its own yardstick (`dip_checks.cliff_sds`)."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.noise import GROSS_SD
from phasewatch.online import PhaseMonitor
from phasewatch.online.dip_checks import cliff_sds
from phasewatch.online.wording import FROM_START_HINT

# a verl validation score (30 samples a problem, validation every 10 steps) whose run collapsed
# at its first update: 0.0099 at step 0, -0.968 at step 10, exactly -1.0 at every validation after
COLLAPSED = [0.009889, -0.9682] + [-1.0] * 10


def test_a_collapse_to_a_constant_is_a_cliff_from_its_sixth_value():
    """Its yardstick is the other differences (0.032 and zeros), not their mean absolute size
    with the fall in it, which read it as 3.9 sds at six values and 10 only at fourteen."""
    assert cliff_sds(np.asarray(COLLAPSED[:6]), 1) >= GROSS_SD


def test_a_fall_between_values_that_never_move_otherwise_is_a_cliff():
    assert cliff_sds(np.asarray([0.5, 0.4, 0.4, 0.4, 0.4, 0.4]), 1) == float("inf")
    assert cliff_sds(np.asarray([0.5, 0.5, 0.5, 0.5]), 2) == 0.0  # no fall, no cliff


@pytest.mark.parametrize("planned", [None, 260])
def test_a_collapse_to_a_constant_is_announced_at_its_sixth_evaluation(planned):
    """At step 50, as a fall that holds (before: at the warm-up's end, step 70, as 'fell 1.01
    (4.6 se)', of a fall `analyze` measures at 386 noise sds); without a planned length it says,
    as the level test's disruption does, that it may be an overfit from the start."""
    monitor = PhaseMonitor(metric="val/score", direction="max", stop_on=(), planned_steps=planned)
    alerts = [a for i, v in enumerate(COLLAPSED) for a in monitor.update(10 * i, {"val/score": v})]
    first = alerts[0]
    assert (first.event, first.step, first.best_step) == ("disruption", 50, 0)
    assert "below the starting level 0.009889, and stays there" in first.message
    assert first.message.endswith(FROM_START_HINT) == (planned is None)


# csv-lightning-yolov3-valacc-35's class accuracy: flat for four validations, then exactly
# 3.6657 at every one after (its train loss NaN from step 4599)
FLAT_THEN_COLLAPSED = [32.405518, 32.326004, 32.797844, 32.274284] + [3.665713] * 12


def _yolo_alerts(values):
    monitor = PhaseMonitor(metric="val_Class_Accuracy", direction="max", stop_on=())
    steps = [930 + 931 * i for i in range(len(values))]
    return [a for s, v in zip(steps, values) for a in monitor.update(s, {"val_Class_Accuracy": v})]


def test_a_collapse_after_a_flat_start_is_dated_at_the_cliff_not_the_first_evaluation():
    """The level (a window's median: 32.41, 32.33, 32.27) stood just below the start (the mean
    of the first three, 32.51) from its first window, so the fall was dated at the first
    evaluation, 'onset ~930', and told 'getting worse from the first evaluation' (trial 48).
    The start held to step 3723, the evaluation before the cliff: the onset said is it, with
    no such hint."""
    alerts = _yolo_alerts(FLAT_THEN_COLLAPSED)
    assert [(a.event, a.step, a.onset_step) for a in alerts] == [("disruption", 7447, 3723)]
    assert not alerts[0].message.endswith(FROM_START_HINT)


def test_a_fall_that_is_no_one_cliff_keeps_its_onset_and_hint():
    """Only a cliff that is most of the fall, after a start that held for a level's window,
    moves the onset said: the same fall spread over three evaluations, or a cliff after two
    values only, is dated as before, from the first evaluation, with the hint."""
    spread = FLAT_THEN_COLLAPSED[:1] + [25.0, 15.0, 5.0] + [3.665713] * 12
    short = FLAT_THEN_COLLAPSED[:2] + [3.665713] * 14
    for values in (spread, short):
        first = _yolo_alerts(values)[0]
        assert (first.event, first.onset_step) == ("disruption", 930), first
        assert first.message.endswith(FROM_START_HINT), first.message


# a held-out accuracy that held at its start for four evaluations, then fell over three
HELD_THEN_FELL = [0.5013, 0.5087, 0.5064, 0.491, 0.4146, 0.3336, 0.313, 0.3195, 0.333, 0.3673,
                  0.4138, 0.4604, 0.4667, 0.5178, 0.5375]


def test_a_fall_over_a_few_evaluations_after_a_held_start_is_dated_where_the_start_held():
    """Was 'onset ~50' (the first evaluation) and 'getting worse from the first evaluation can
    also be an overfit from the start' (trial 49): the start held to step 200, where `analyze`
    begins the disruption, and the fall took three evaluations, no one cliff."""
    monitor = PhaseMonitor(metric="eval/accuracy", direction="max", stop_on=())
    alerts = [a for i, v in enumerate(HELD_THEN_FELL)
              for a in monitor.update(50 * (i + 1), {"eval/accuracy": v})]
    first = alerts[0]
    assert (first.event, first.step, first.onset_step) == ("disruption", 400, 200)
    assert FROM_START_HINT not in first.message


def test_a_fall_whose_start_did_not_hold_keeps_its_onset_and_hint():
    """The same fall after a start that wandered by more than its noise (0.47 among values
    within 0.01 of 0.505) is dated from the first evaluation, with the hint, as before."""
    wandered = HELD_THEN_FELL[:1] + [0.47] + HELD_THEN_FELL[2:]
    monitor = PhaseMonitor(metric="eval/accuracy", direction="max", stop_on=())
    alerts = [a for i, v in enumerate(wandered)
              for a in monitor.update(50 * (i + 1), {"eval/accuracy": v})]
    first = alerts[0]
    assert (first.event, first.onset_step) == ("disruption", 50), first
    assert first.message.endswith(FROM_START_HINT), first.message


# tb-sb3-hexapod-ppo-evalreward-92's evaluation reward, its first eight evaluations
HEXAPOD = [-41.4, -212.6, -732.5, -874.1, -829.4, -877.8, -803.1, -832.0]


def test_a_disruption_said_after_its_worst_evaluation_names_it():
    """Was 'level -832 fell 791 (4.7 se) below the starting level -41.4' at the eighth
    evaluation, two after the worst (-877.8) and four after the fall, with no word of either
    (trial 49). The worst so far is named; not where the alert's own evaluation is it, nor
    after a collapse to a constant (its level is that value)."""
    monitor = PhaseMonitor(metric="eval/mean_reward", direction="max", stop_on=())
    alerts = [a for i, v in enumerate(HEXAPOD)
              for a in monitor.update(160000 * (i + 1), {"eval/mean_reward": v})]
    assert [(a.event, a.step) for a in alerts] == [("disruption", 1280000)]
    assert "below the starting level -41.4; its worst evaluation so far: -877.8 at step " \
           "960000; getting worse from the first evaluation" in alerts[0].message
    monitor = PhaseMonitor(metric="eval/mean_reward", direction="max", stop_on=())
    deepest = HEXAPOD[:-1] + [-900.0]
    alerts = [a for i, v in enumerate(deepest)
              for a in monitor.update(160000 * (i + 1), {"eval/mean_reward": v})]
    assert alerts and "worst" not in alerts[0].message, alerts
    collapse = _yolo_alerts(FLAT_THEN_COLLAPSED)[0]
    assert "worst" not in collapse.message, collapse.message
