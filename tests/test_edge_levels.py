"""A trend printed between levels held over many evaluations (`whole_run_trend.trend_edges`):
its name must agree with the change between those levels, and the text gives that change in
standard errors of the difference between them, not only in sds of one evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.commands.analyze import phase_line
from phasewatch.phases import PhaseConfig
from phasewatch.results import Phase
from phasewatch.run import Run

SD = 0.008


def _spike_then_level(seed: int, n: int = 62) -> np.ndarray:
    """An accuracy that never learns: a low first reading, a spike over the next five
    evaluations, a crash for three, then noise about a level 2.5 sds above the first reading
    (a 4-way multiple-choice run at chance has this shape)."""
    rng = np.random.default_rng(seed)
    level = 0.27
    y = level + rng.normal(0, SD, n)
    y[0] = level - 0.02
    y[1:6] = level + np.array([0.0, 0.012, 0.035, 0.022, 0.024]) + rng.normal(0, SD / 2, 5)
    y[6:9] = level - np.array([0.027, 0.02, 0.037]) + rng.normal(0, SD / 2, 3)
    y[9:17] = level + np.linspace(-0.012, 0.0, 8) + rng.normal(0, SD, 8)
    return y


def _edge_variance(stats: dict, side: str) -> float:
    """The variance of a printed edge in units of one evaluation's: a median of n has
    (pi/2)/n of it, a mean 1/n, a single evaluation 1."""
    if f"{side}_held" in stats:
        return math.pi / 2 / stats[f"{side}_held"]
    for how in ("averaged", "held_mean"):
        if f"{side}_{how}" in stats:
            return 1 / stats[f"{side}_{how}"]
    return 1.0


def test_a_trend_is_significant_between_the_levels_it_is_printed_between():
    """Judged between 3-point medians, the spike made a one-evaluation "improvement" whose
    printed end is the median its plateau holds after it: "change +0.01366 (+1.6 sd)" beside
    the name improvement (a real QuALITY run at chance); 2 of these 40 runs were so named at
    e2074a4. Between its printed levels a trend's change must exceed the phases' own k_sd sds
    of a change between two single evaluations, scaled to how those levels were read."""
    k_sd = PhaseConfig.k_sd
    for seed in range(40):
        y = _spike_then_level(seed)
        steps = np.arange(50, 50 * (y.size + 1), 50, dtype=np.int64)
        analysis = analyze_run(Run.from_columns({"acc": (steps, y)}, "t", "t"), "acc", "max")
        for phase in analysis.phases:
            if phase.name == "plateau":
                continue
            stats = phase.stats
            scale = math.sqrt((_edge_variance(stats, "start") + _edge_variance(stats, "end")) / 2)
            assert abs(stats["change_sd"]) > k_sd * scale, (seed, phase.name, stats)


def test_a_change_between_held_levels_is_given_in_their_standard_errors():
    """A verl batch score's rise from the mean of its first 30 steps to the median of the 202
    its plateau holds was printed "+0.5443 (+2.5 sd)", which reads as noise: the text adds the
    change in standard errors of the difference between those two levels (12.4)."""
    stats = {"start_value": -0.4043, "end_value": 0.14, "change": 0.5443, "change_sd": 2.519,
             "gain_over_baseline": 0.2534, "peak_step": 93, "start_averaged": 30,
             "end_held": 202}
    line = phase_line(Phase("improvement", 1, 93, stats))
    se = 2.519 / math.sqrt(1 / 30 + math.pi / 2 / 202)
    assert se == pytest.approx(12.4, abs=0.05)
    assert (f"(start: mean of the first 30 evaluations; end: the level held after it, median of "
            f"202 evaluations; the change is {se:+.1f} se)") in line


def test_an_edge_of_one_or_two_evaluations_gives_no_standard_error():
    """A dense run's last trend ends on the mean of its last two evaluations: its sds of one
    evaluation are no overstatement worth a second number."""
    stats = {"start_value": 1.464, "end_value": 0.134, "change": -1.33, "change_sd": -241.1,
             "gain_over_baseline": 1.332, "peak_step": 4900, "end_averaged": 2}
    line = phase_line(Phase("improvement", 100, 5000, stats), direction="min")
    assert line.endswith("(end: mean of the last 2 evaluations)")


def test_a_rise_whose_held_end_is_beyond_its_best_evaluation_says_so():
    """wandb-alpaca-sft: a train loss falls 1.502 -> 1.226 at step 3, the boundary, then holds
    1.135 (the median of the plateau's first 12): "change -0.367 ... best 0.276 below the start
    (step 3)" gave two sizes of one fall. The best is named an evaluation, short of that level;
    within a noise sd of it (sd 0.064 here) nothing more is said."""
    stats = {"start_value": 1.502, "end_value": 1.135, "change": -0.367, "change_sd": -5.747,
             "gain_over_baseline": 0.276, "peak_step": 3, "end_held": 12}
    line = phase_line(Phase("improvement", 1, 3, stats), direction="min", baseline=1.502)
    assert ("best evaluation 0.276 below the start (step 3), short of the level held after "
            "it  (end: the level held after it") in line
    near = {**stats, "gain_over_baseline": 0.33}  # 0.037 from the held end: under 0.064
    line = phase_line(Phase("improvement", 1, 3, near), direction="min", baseline=1.502)
    assert "best 0.33 below the start (step 3)  (end:" in line


def test_a_best_quoted_at_a_step_is_logged_there_or_said_to_be_the_end_level():
    """"best 0.2534 above the baseline (step 93)" of a GRPO score logged 0.37 at step 93: the
    0.14 quoted is the median of the 202 evaluations its plateau holds after it
    (verl-consis-grpo-score-700); a per-batch accuracy's "(step 500)" quoted the mean of its
    last 30 evaluations, 0.83, where step 500 logged 0.75 (jsonl-countdown-sft-grpo-acc). The
    value a line puts at a step is the one logged there, or the line says it is the level the
    rise ends on."""
    stats = {"start_value": -0.4043, "end_value": 0.14, "change": 0.5443, "change_sd": 2.519,
             "gain_over_baseline": 0.2534, "peak_step": 93, "start_averaged": 30,
             "end_held": 202}
    line = phase_line(Phase("improvement", 1, 93, stats), baseline=-0.1134)
    assert "best 0.2534 above the baseline (the level it ends on, at step 93)" in line
    said = 0
    for seed in range(12):  # a slow rise under per-batch noise, as the countdown run's
        rng = np.random.default_rng(seed)
        steps = np.arange(1, 501, dtype=np.int64)
        y = np.round(rng.binomial(20, 0.62 + 0.2 * steps / 500) / 20, 2)
        analysis = analyze_run(Run.from_columns({"accuracy": (steps, y)}, "t", "t"),
                               "accuracy", "max")
        for phase in analysis.phases:
            if phase.name not in ("improvement", "readaptation"):
                continue
            line = phase_line(phase, "max", baseline=analysis.baseline)
            quoted = analysis.baseline + phase.stats["gain_over_baseline"]
            at_step = y[int(np.searchsorted(steps, phase.stats["peak_step"]))]
            if "the level it ends on" in line:
                said += 1
                assert quoted == pytest.approx(phase.stats["end_value"])
            elif "peak_averaged" not in phase.stats:
                assert quoted == pytest.approx(at_step), (seed, line)
    assert said > 0
