"""The live overfit decision where the run's best point is its start; windows that follow the
evaluations seen.

DESIGN.md: an overfit is a sustained decline of held-out performance after its best point,
including the first evaluation; a disruption is an early fall below the start that recovers (or
is still falling early in the run). Live, the two are told apart by how long and how steadily
the fall goes on (`PhaseTracker._decline_from_start`).
"""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.online import PhaseMonitor


def events(values, steps=None, **options):
    monitor = PhaseMonitor(metric="eval/accuracy", stop_on=(), **options)
    steps = np.arange(len(values)) * 10 if steps is None else steps
    out = []
    for step, value in zip(steps, values):
        out += monitor.update(int(step), {"eval/accuracy": float(value)})
    return out


def test_a_steady_decline_from_the_first_evaluation_is_an_overfit_not_a_disruption():
    """10 noise sds lost steadily over 200 evaluations. Without a plan the fall must still be
    significant over the latest quarter of the decline as well as its latest half (so that a dip
    that has levelled off is not an overfit): a decline this slow is called later, and one of
    these eight runs not at all."""
    n, sd = 200, 0.01
    curve = 0.6 - 10 * sd * np.arange(n) / (n - 1)
    stops = []
    for seed in range(8):
        alerts = events(curve + np.random.default_rng(seed).normal(0, sd, n))
        overfit = [a for a in alerts if a.event == "overfit"]
        if not overfit:
            continue
        assert "disruption" not in [a.event for a in alerts[: alerts.index(overfit[0])]]
        assert overfit[0].onset_step <= 0.25 * 10 * n  # dated near the start
        stops.append(overfit[0].step / (10 * n))
    # Measured: 7 of 8 stopped, at 0.43-0.63 of the run (median 0.59); all 8 at 0.31-0.57
    # with the latest half only.
    assert len(stops) >= 7, stops
    assert np.median(stops) <= 0.6 and max(stops) <= 0.7, stops


@pytest.mark.parametrize("seed", range(4))
def test_a_decline_after_a_long_flat_stretch_is_an_overfit(seed):
    rng = np.random.default_rng(seed)
    n, sd = 240, 0.01
    t = np.arange(n)
    curve = 0.5 - np.where(t > 150, 8 * sd * (t - 150) / (n - 150), 0.0)
    alerts = events(curve + rng.normal(0, sd, n))
    assert [a.event for a in alerts][:1] == ["overfit"], [a.message for a in alerts]
    assert 1500 <= alerts[0].step and abs(alerts[0].onset_step - 1500) <= 400


@pytest.mark.parametrize("seed", range(4))
def test_a_fast_dip_that_recovers_or_stays_is_a_disruption_never_an_overfit(seed):
    """The reference trainer's disruption: a crash in the first evaluations, then recovery (or
    a floor that never recovers: dip_no_recovery). Neither is a stop."""
    rng = np.random.default_rng(seed)
    n, sd = 200, 0.01
    t = np.arange(n, dtype=float)
    recover = 0.5 - 0.15 * np.exp(-(((t - 12) / 8) ** 2)) + 0.1 / (1 + np.exp(-(t - 60) / 8))
    floor = 0.5 - 0.12 * (1 - np.exp(-t / 6))
    for curve in (recover, floor):
        found = [a.event for a in events(curve + rng.normal(0, sd, n))]
        assert found[:1] == ["disruption"] and "overfit" not in found, found


def test_the_window_follows_the_evaluations_seen():
    monitor = PhaseMonitor(metric="eval/accuracy")
    series = monitor.trackers_[0].series
    seen = []
    for i in range(80):
        monitor.update(i, {"eval/accuracy": 0.5})
        seen.append((series.window_now, series.confirm_now))
    assert seen[0] == (3, 1) and seen[-1] == (15, 3)
    assert all(w % 2 == 1 for w, _ in seen)
    assert [w for w, _ in seen] == sorted(w for w, _ in seen)


def test_older_states_load_and_a_future_one_is_refused():
    monitor = PhaseMonitor(metric="eval/accuracy")
    for i in range(40):
        monitor.update(i, {"eval/accuracy": 0.5 + 0.001 * (i % 3)})
    state = monitor.state_dict()
    assert state["version"] == 12 and "late_fall" in state["trackers"][0]
    # Version 10 had no train_loss (the train loss beside a held-out loss): none followed
    v10 = {k: v for k, v in state.items() if k != "train_loss"}
    resumed = PhaseMonitor(metric="eval/accuracy")
    resumed.load_state_dict({**v10, "version": 10})
    assert resumed.state_dict()["train_loss"] is None
    v8 = {**state, "version": 8, "trackers": [
        {k: v for k, v in t.items() if k != "late_fall"} for t in state["trackers"]]}
    resumed = PhaseMonitor(metric="eval/accuracy")
    resumed.load_state_dict(v8)
    assert resumed.state_dict()["trackers"][0]["late_fall"] is False
    assert "rise_scale" in state["trackers"][0]["series"]
    # Version 9 had no window_logs: values read as independent until the noise is next read
    v9 = {**state, "version": 9, "trackers": [
        {**t, "series": {k: v for k, v in t["series"].items() if k != "window_logs"}}
        for t in state["trackers"]]}
    resumed = PhaseMonitor(metric="eval/accuracy")
    resumed.load_state_dict(v9)
    assert resumed.state_dict()["trackers"][0]["series"]["window_logs"] == 1.0
    # Version 7 had no stage_n (one training stage) and no peak_values (the best level's
    # window, unknown: the rank condition on a stop is then not asked)
    v7 = {**state, "version": 7, "trackers": [
        {**{k: v for k, v in t.items() if k != "peak_values"},
         "series": {k: v for k, v in t["series"].items() if k != "stage_n"}}
        for t in state["trackers"]]}
    resumed = PhaseMonitor(metric="eval/accuracy")
    resumed.load_state_dict(v7)
    [tracker] = resumed.state_dict()["trackers"]
    assert tracker["peak_values"] == [] and tracker["series"]["stage_n"] is None
    assert state["trackers"][0]["peak_values"]  # kept from version 8
    # Version 6 had no peak_checkpoint (the best evaluation in the peak level's window): the
    # best step is then the peak's own step, as version 6 named it.
    v6 = {**state, "version": 6, "trackers": [{k: v for k, v in t.items() if k != "peak_checkpoint"}
                                               for t in state["trackers"]]}
    resumed = PhaseMonitor(metric="eval/accuracy")
    resumed.load_state_dict(v6)
    assert resumed.best_step == state["trackers"][0]["peak_step"]
    # Version 4 had no short_streak (refits of a short run ending in an overfit): it starts at 0.
    state["trackers"] = [{**t, "short_streak": 1} for t in state["trackers"]]
    v4 = {**state, "version": 4,
          "trackers": [{k: v for k, v in t.items() if k != "short_streak"} for t in state["trackers"]]}
    resumed = PhaseMonitor(metric="eval/accuracy")
    resumed.load_state_dict(v4)
    assert [t["short_streak"] for t in resumed.state_dict()["trackers"]] == [0]
    state["trackers"] = [{**t, "short_streak": 0} for t in state["trackers"]]
    # Version 3 had no rise_scale (the noise of a short series' rise and fall): it starts at 1,
    # the noise versions 1-3 judged every decision by; everything else resumes exactly.
    v3_trackers = [{**t, "series": {k: v for k, v in t["series"].items() if k != "rise_scale"}}
                   for t in state["trackers"]]
    expected = {**state, "trackers": [{**t, "series": {**t["series"], "rise_scale": 1.0}}
                                      for t in state["trackers"]]}
    for version, trackers in ((3, v3_trackers),
                              (2, [{k: v for k, v in t.items() if k != "slow_fall"}
                                   for t in v3_trackers])):
        resumed = PhaseMonitor(metric="eval/accuracy")
        resumed.load_state_dict({**state, "version": version, "trackers": trackers})
        assert resumed.state_dict() == expected
    with pytest.raises(ValueError, match="unsupported monitor state version 99"):
        resumed.load_state_dict({**state, "version": 99})


def _late_decline(seed: int, n: int = 200, sd: float = 0.01) -> tuple[np.ndarray, int]:
    """Flat at the starting level for 65% of the run, then a steady decline of 6 noise sds
    over the last 35% (a `late_decline`); returns the values and the decline's first index."""
    rng = np.random.default_rng(seed)
    onset = int(0.65 * n)
    t = np.arange(n)
    curve = 0.6 - 6 * sd * np.clip(t - onset, 0, None) / (n - 1 - onset)
    return curve + rng.normal(0, sd, n), onset


@pytest.mark.parametrize("seed", range(6))
def test_a_decline_over_the_last_third_after_a_flat_stretch_is_an_overfit(seed):
    """Flat, then a slow decline to the end: an overfit (DESIGN.md), dated near its start, not
    a disruption, and caught before the run ends."""
    values, onset = _late_decline(seed)
    alerts = events(values)
    assert [a.event for a in alerts] == ["overfit"], [a.message for a in alerts]
    assert 10 * onset <= alerts[0].step < 10 * len(values)
    assert abs(alerts[0].onset_step - 10 * onset) <= 10 * 15  # within a window of the start


def _first_stop(values) -> int | None:
    monitor = PhaseMonitor(metric="eval/accuracy")
    for i, value in enumerate(values):
        monitor.update(50 * (i + 1), {"eval/accuracy": float(value)})
        if monitor.should_stop:
            return i
    return None


def test_a_sparse_rise_and_fall_is_stopped_after_its_peak_and_controls_are_not():
    """24 evaluations: a rise of 12 noise sds to evaluation 10, then a steady decline of 10 sds.
    The decline after the peak is judged on the values near the peak and its own depth (before,
    the rise's values were its reference, it was clipped at 3 sds and the short run's bends
    inflated the noise 2-7x: 0 of 20 stopped). Flat and saturating runs of the same length and
    noise are never stopped."""
    n, peak = 24, 10
    t = np.arange(n)
    overfit = np.where(t <= peak, 0.30 + 0.012 * t, 0.42 - 0.10 * (t - peak) / (n - 1 - peak))
    saturating = 0.3 + 0.1 * (1 - np.exp(-t / 4))
    stops = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        stops.append(_first_stop(overfit + rng.normal(0, 0.01, n)))
        assert _first_stop(0.4 + rng.normal(0, 0.01, n)) is None
        assert _first_stop(saturating + rng.normal(0, 0.01, n)) is None
    assert all(s is None or s > peak for s in stops)  # never before the peak
    assert sum(s is not None for s in stops) >= 14  # measured 15 of 20


def _first_stop_index(values) -> int | None:
    monitor = PhaseMonitor(metric="eval/accuracy")
    for i, value in enumerate(values):
        monitor.update(10 * i, {"eval/accuracy": float(value)})
        if monitor.should_stop:
            return i
    return None


def test_without_a_plan_a_fall_from_the_start_that_levels_off_is_seldom_an_overfit():
    """A slow dip (a logistic fall of 10 sds centred at 20% of 250 evaluations, a floor after
    it) and a steady decline from the start (10 sds over the run, slowing by e^-1): without a
    planned length the fall must still be going on over the latest quarter of the decline as
    well as its latest half. The dip's fall is over by 40% of the run; the half still held
    its fall when the floor had started."""
    rng_runs = range(20)
    t = np.arange(250, dtype=float)
    noise = [np.random.default_rng(seed).normal(0, 0.01, t.size) for seed in rng_runs]
    dips = [0.5 - 0.1 / (1 + np.exp(-(t - 50) / (50 / 3))) + e for e in noise]
    steady = [0.5 - 0.1 * (1 - np.exp(-t / 249)) / (1 - np.exp(-1)) + e for e in noise]
    # Measured: dips stopped 10 of 20 (19 with the latest half only), steady declines 20 of 20.
    assert sum(_first_stop_index(v) is not None for v in dips) <= 13
    assert all(_first_stop_index(v) is not None for v in steady)


def late_decline_stops(start_offset_sd: float, seeds=range(12)) -> list[float]:
    """Stops (fraction of the run after the onset) of a flat stretch of 150 evaluations whose
    first 5 values sit `start_offset_sd` noise sds below it, then a decline of 8 sds over the
    last 90 evaluations; nan where none."""
    n, sd, onset = 240, 0.01, 150
    t = np.arange(n)
    curve = 0.5 - np.where(t > onset, 8 * sd * (t - onset) / (n - onset), 0.0)
    curve[:5] -= start_offset_sd * sd
    out = []
    for seed in seeds:
        alerts = events(curve + np.random.default_rng(seed).normal(0, sd, n))
        overfit = [a.step for a in alerts if a.event == "overfit"]
        out.append((overfit[0] / 10 - onset) / n if overfit else np.nan)
    return out


def test_a_late_decline_is_judged_against_its_flat_stretch_not_the_start():
    """The starting level is a mean of a few values; a flat stretch a noise sd above it hid the
    decline until the level fell below the start (the test was not even tried), and then it
    needed `confirm` evaluations in a row. Judged from the flat stretch's level, and called on
    the evaluation it clears its z by LATE_AT_ONCE, it is called sooner, whatever the start."""
    low_start, level_start = late_decline_stops(1.0), late_decline_stops(0.0)
    assert not np.isnan(low_start).any() and not np.isnan(level_start).any()
    # Measured: median 0.083 and 0.085 of the run after the onset (0.115 and 0.108 from the
    # start's level with `confirm` evaluations in a row).
    assert np.median(low_start) <= 0.095 and np.median(level_start) <= 0.095


def _planned_stop(run) -> int | None:
    """The first step a monitor told the run's planned last step stops `run` (a generated
    run: every metric it logs, step by step, as `watch` feeds them)."""
    wide = run.run.wide()
    names = list(wide.columns)
    monitor = PhaseMonitor(metric=run.metric, direction=run.direction,
                           planned_steps=int(run.truth["curve_steps"][-1]))
    for step, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=float)):
        monitor.update(int(step), {n: float(v) for n, v in zip(names, row) if not np.isnan(v)})
        if monitor.should_stop:
            return int(step)
    return None


def test_with_a_plan_a_late_decline_under_sticky_noise_is_judged_with_its_depth():
    """A decline that starts past the planned run's early part, after a flat stretch, under
    AR(1) noise (the second generator family's `ar1` regime): its steady-decline z was
    measured on values clipped at 3 sds around the start, so a decline of several sds, held
    against the AR(1)-inflated threshold, counted as a shallow one and was stopped on 7 of
    these 12 runs (the level test's late stops among them). Kept deep (late by the plan, so no
    dip), all 12 after the onset; flat runs of the same regime are not stopped either way
    (6 checked here; the benchmark's 40 per family: false stops unchanged)."""
    from phasewatch import synth_logistic

    stops, onsets = [], []
    for seed in range(12):
        run = synth_logistic.generate_regime("late_decline", "ar1", seed)
        onsets.append(next(start for name, start, _ in run.truth["phases"] if name == "overfit"))
        stops.append(_planned_stop(run))
        if seed < 6:
            assert _planned_stop(synth_logistic.generate_regime("flat", "ar1", seed)) is None
    assert all(stop is None or stop >= onset for stop, onset in zip(stops, onsets))
    assert sum(stop is not None for stop in stops) >= 11, stops
