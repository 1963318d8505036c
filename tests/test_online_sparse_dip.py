"""A planned sparse run's dip (at most 12 evaluations), announced live by its depth in the
offline detector's own noise sds (`refit_dip.refit_dip`, `sparse`)."""

from __future__ import annotations

import numpy as np

from phasewatch.online import PhaseMonitor


def sparse_dip(seed: int, n: int = 10, depth: float = 0.5, sd: float = 0.03):
    """A held-out accuracy of `n` evaluations that falls `depth` at its second and climbs back
    over the next few, with checkpoint-to-checkpoint scatter `sd`: steps and values."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    curve = np.where(t == 0, 0.9, 0.85 - (depth - 0.05) * np.exp(-(t - 1) / 2.5))
    return np.arange(1, n + 1) * 100, curve + np.where(t == 0, 0.0, rng.normal(0, sd, n))


def alerts_of(steps, values, planned):
    monitor = PhaseMonitor(metric="eval_accuracy", stop_on=(), planned_steps=planned)
    return [a for st, v in zip(steps, values)
            for a in monitor.update(int(st), {"eval_accuracy": float(v)})]


def test_a_sparse_planned_runs_dip_is_announced_by_its_depth_in_the_detectors_noise():
    """The live helper's trial (hf-finnews-sentiment-10ev, planned to 10 evaluations: accuracy
    0.902, 0.414, 0.490, 0.584, 0.593, 0.780, ...; `analyze`: disruption -8.3 sd, readaptation)
    had no alert at all: the tests of sticky noise's wander take phi at its upper bound, 0.6-0.9
    on 5-12 values, and the fall into the trough, 5-8 sds of the differences of a bumpy climb,
    is under the cliff's 10. Such runs had the dip announced on 12 of these 20 seeds, 4 of them
    only at the last evaluation; now on all 20 at the seventh (two refits in a row that name it,
    the first at the sixth value), with the data's trough."""
    for seed in range(20):
        steps, values = sparse_dip(seed)
        alerts = alerts_of(steps, values, planned=int(steps[-1]))
        assert alerts and alerts[0].event == "disruption", (seed, [a.message for a in alerts])
        assert alerts[0].step <= steps[6]
        trough = int(steps[int(np.argmin(values[:7]))])
        assert f"at step {trough}, below the starting level 0.9," in alerts[0].message


def test_flat_sparse_planned_runs_are_rarely_announced_as_dips():
    """White noise on flat runs of 6-12 evaluations with their plan: the offline detector's
    noise read from so few values is itself uncertain, and 6 of its sds are reached by chance
    now and then (3 of 300 such runs here, 1 before the sparse rule; AR(1) noise at 0.5 / 0.8:
    12 / 16 of 300, 3 / 7 before)."""
    announced = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(6, 13))
        steps = np.arange(1, n + 1) * 50
        values = 0.6 + rng.normal(0, 0.02, n)
        announced += any(a.event == "disruption"
                         for a in alerts_of(steps, values, planned=int(steps[-1])))
    assert announced <= 6
