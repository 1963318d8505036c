"""The live monitor against the offline detector on the same synthetic runs.

Online alerts come with less information (no future, a bounded window), so they may miss a
shallow phase, but they must not contradict the offline phases: the same overfit verdict, and
the phases they do announce in the offline order.
"""

from __future__ import annotations

import math

import pytest

synth = pytest.importorskip("phasewatch.synth")
analysis = pytest.importorskip("phasewatch.analysis")

from phasewatch.online import PhaseMonitor

KINDS = ("three_phase", "three_phase_loss", "overfit_only", "improve_plateau", "flat",
         "monotone", "nll_overfit")


def online_events(s):
    monitor = PhaseMonitor(metric=s.metric, direction=s.direction, stop_on=())
    wide = s.run.wide()
    names = list(wide.columns)
    events = []
    for step, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=float)):
        values = {n: v for n, v in zip(names, row) if not math.isnan(v)}
        events += [a for a in monitor.update(int(step), values)]
    return events


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_online_agrees_with_offline(kind, seed):
    s = synth.generate(kind, seed)
    offline = analysis.analyze_run(s.run, s.metric, s.direction)
    off = [p.name for p in offline.phases if p.name != "plateau"]
    alerts = online_events(s)
    on = [a.event for a in alerts if a.event != "plateau"]
    assert ("overfit" in on) == ("overfit" in off)
    assert on == [p for p in off if p in on]  # a subsequence, in the offline order
    if "overfit" in on:
        overfit = next(a for a in alerts if a.event == "overfit")
        start = next(p.start_step for p in offline.phases if p.name == "overfit")
        span = s.truth["curve_steps"][-1]
        assert overfit.step >= s.truth["overfit_onset_step"]  # no alarm before the true onset
        assert abs(overfit.onset_step - start) <= 0.2 * span
