"""An improvement announced before the warm-up ends when it is too large to be noise
(`refit_events._clear_rise`), and none on the first values of flat runs."""

from __future__ import annotations

import numpy as np
from online_runs import feed

from phasewatch.online import PhaseMonitor


def test_a_rise_far_beyond_the_noise_is_announced_before_the_warm_up_ends():
    """hfconsole-math-rlvr-sft-13ev's held-out loss falls 0.404 -> 0.322 at its second
    evaluation and levels off at ~0.294 (228 noise sds below the start, `analyze`): the
    improvement was announced at the 8th evaluation, the warm-up's end, by then a plateau."""
    loss = [0.4042, 0.3216, 0.3064, 0.2992, 0.2985, 0.2960, 0.2940, 0.2937, 0.2944, 0.2947,
            0.2946, 0.2945, 0.2946]
    steps = [2356 * (i + 1) for i in range(len(loss))]
    monitor = PhaseMonitor(metric="eval_loss", direction="min", stop_on=())
    alerts = feed(monitor, steps, loss, name="eval_loss")
    assert alerts and alerts[0].event == "improvement"
    assert steps.index(alerts[0].step) + 1 < 8  # before the warm-up of 8 ends
    assert "below the starting level 0.4042" in alerts[0].message


def test_no_improvement_before_the_warm_up_on_flat_runs():
    """The first 7 values (the warm-up's, before its last) of 400 flat runs with white noise:
    at most 2 are an improvement (1 here: 0.5887, 0.592, 0.593, 0.6012, 0.601, 0.603 of a
    noise sd 0.01, which the first 6 values read as 0.0027)."""
    rng = np.random.default_rng(11)
    said = 0
    for _ in range(400):
        monitor = PhaseMonitor(metric="eval/accuracy", stop_on=())
        alerts = feed(monitor, np.arange(7) * 10, 0.6 + rng.normal(0, 0.01, 7))
        said += any(a.event == "improvement" for a in alerts)
    assert said <= 2


def test_a_clear_rise_is_judged_in_the_noise_the_user_gave():
    """With `noise_sd` given, the refit that confirms a clear rise measures it in that noise, as
    `analyze` and the monitor's other refits do: a rise 0.5 -> 0.80, 0.72, 0.86, 0.76 of a
    noise sd given as 0.01 (30 sds at the 5th evaluation offline) waited for the warm-up's end,
    the refit having read its noise from the five values' own scatter."""
    from phasewatch.analysis import analyze_run
    from phasewatch.run import Run

    values = [0.50, 0.80, 0.72, 0.86, 0.76, 0.84, 0.78, 0.83, 0.79, 0.82]
    steps = [10 * (i + 1) for i in range(len(values))]
    offline = analyze_run(Run.from_columns({"eval/accuracy": (np.array(steps[:5]),
                                                              np.array(values[:5]))}, "t", "t"),
                          "eval/accuracy", "max", noise_sd=0.01)
    assert offline.phases[0].name == "improvement" and offline.phases[0].stats["change_sd"] > 6
    monitor = PhaseMonitor(metric="eval/accuracy", stop_on=(), noise_sd=0.01)
    alerts = feed(monitor, steps, values)
    assert alerts and alerts[0].event == "improvement"
    assert steps.index(alerts[0].step) + 1 < 8  # before the warm-up of 8 ends
