"""PhaseMonitor.rewind: a resumed run's later records supersede the earlier ones, live."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasewatch.online import PhaseMonitor


def branch(seed: int, start: int, stop: int, nll: bool = False):
    """Records for steps start..stop-1 of a run that dips, recovers and overfits; a different
    seed gives a different noise draw (another branch of the same run)."""
    rng = np.random.default_rng(seed)
    out = []
    for step in range(start, stop):
        t = step / 1000
        acc = 0.5 - 0.12 * np.exp(-(((t - 0.1) / 0.04) ** 2)) + 0.25 / (1 + np.exp(-(t - 0.3) / 0.04))
        acc -= 0.15 * max(0.0, t - 0.6)
        record = {"eval/accuracy": float(acc + rng.normal(0, 0.01)), "train/loss": 1.0 - t}
        if nll:
            record["expert/nll_train"] = float(2.0 * np.exp(-t * 3) + rng.normal(0, 0.01))
            record["expert/nll_heldout"] = float(1.0 + 0.5 * (t - 0.55) ** 2 + rng.normal(0, 0.01))
        out.append((step, record))
    return out


def feed(monitor, records):
    return [a for step, values in records for a in monitor.update(step, values)]


@pytest.mark.parametrize("cut", [500, 130, 990])  # coarse snapshots, early, the fine tier
@pytest.mark.parametrize("nll", [False, True])
def test_rewind_then_resume_equals_never_having_seen_the_abandoned_branch(cut, nll):
    a, b = branch(1, 0, 1001, nll), branch(2, cut, 1001, nll)
    direct = PhaseMonitor(metric=["eval/accuracy", "train/loss"], stop_on=())
    expected = feed(direct, a[:cut])
    expected_after = feed(direct, b)

    resumed = PhaseMonitor(metric=["eval/accuracy", "train/loss"], stop_on=())
    before = feed(resumed, a)
    assert before[: len(expected)] == expected  # the same run up to the cut
    resumed.rewind(cut)
    after = feed(resumed, b)
    assert after == expected_after  # alerts from the cut on are those of A[:cut] + B
    assert after or cut > 900  # (a cut after the overfit alert has none left to give)
    assert resumed.best_step == direct.best_step
    assert resumed.state_dict() == direct.state_dict() | {
        "n_records": resumed.state_dict()["n_records"]}


def test_a_stop_taken_on_the_abandoned_branch_is_withdrawn():
    a = branch(1, 0, 1001)
    monitor = PhaseMonitor(metric="eval/accuracy")
    feed(monitor, a)
    assert monitor.should_stop
    monitor.rewind(500)  # before the overfit
    assert not monitor.should_stop and monitor.phase != "overfit"
    assert monitor.last_step_ == 499


def test_rewind_after_the_last_step_changes_nothing_and_history_is_bounded():
    monitor = PhaseMonitor(metric="eval/accuracy")
    feed(monitor, branch(1, 0, 300))
    saved = json.dumps(monitor.state_dict())
    monitor.rewind(400)
    assert json.dumps(monitor.state_dict()) == saved
    feed(monitor, branch(1, 300, 1001))
    history = monitor._history
    sizes = (len(history.fine), len(history.coarse))
    rng = np.random.default_rng(0)
    for step in range(1001, 12_000):
        monitor.update(step, {"eval/accuracy": 0.5 + rng.normal(0, 0.01)})
    assert sizes == (16, 3) and (len(history.fine), len(history.coarse)) == (16, 16)


def test_a_known_boundary_between_snapshot_and_rewind_point_is_replayed():
    a, b = branch(1, 0, 1001), branch(2, 700, 1001)
    direct, resumed = PhaseMonitor(stop_on=()), PhaseMonitor(stop_on=())
    for monitor in (direct, resumed):
        feed(monitor, a[:650])
        monitor.mark_event(650, "sft_to_rl")
        feed(monitor, a[650:700])
    expected = feed(direct, b)
    feed(resumed, a[700:])
    resumed.rewind(700)
    assert feed(resumed, b) == expected
    assert resumed.state_dict()["events"] == [[650, "sft_to_rl"]]


@pytest.mark.parametrize("cut", [500, 130, 990])
def test_the_train_loss_beside_a_held_out_loss_is_rewound_too(cut):
    """The train loss a held-out loss's monitor follows (`MonitorConfig.train_loss`) is part of
    its state: rewound and replayed like the metric, so a resume equals never having seen the
    abandoned branch."""
    def noisy(seed, start):
        rng = np.random.default_rng(seed + 10)
        return [(step, {**values, "train/loss": values["train/loss"] + float(rng.normal(0, 0.02))})
                for step, values in branch(seed, start, 1001)]

    a, b = noisy(1, 0), noisy(2, cut)
    options = {"metric": "eval/accuracy", "stop_on": (), "held_out_loss": True,
               "train_loss": "train/loss"}
    direct = PhaseMonitor(**options)
    feed(direct, a[:cut])
    expected_after = feed(direct, b)
    resumed = PhaseMonitor(**options)
    feed(resumed, a)
    resumed.rewind(cut)
    assert feed(resumed, b) == expected_after
    state = resumed.state_dict()
    assert state["train_loss"]["series"]["n"] > 0
    assert state == direct.state_dict() | {"n_records": state["n_records"]}
