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
