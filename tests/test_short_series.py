"""Runs of 3-8 evaluations: what such a series can support, and its stated confidence."""

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.run import RecordCollector


def run_of(held_out, train=None, metric="eval/loss", train_name="train/loss"):
    collector = RecordCollector("short", "synthetic")
    for i, value in enumerate(held_out):
        row = {metric: float(value)}
        if train is not None:
            row[train_name] = float(train[i])
        collector.add(100 * (i + 1), row, line=i + 1)
    return collector.build(events=[])


def names(analysis):
    return [p.name for p in analysis.phases]


FALLING = [4.318, 4.144, 4.048, 3.975]  # hf-canine-4ev in benchmarks/real_corpus


def test_four_falling_evaluations_as_train_improves_are_a_low_confidence_improvement():
    """Two-sided, 4 points can never reach p < 0.05 (at best 1/12); with the direction set in
    advance by the train loss falling over the same steps, the one-sided exact p is 1/24."""
    a = analyze_run(run_of(FALLING, train=[4.43, 4.3, 4.2, 4.07]), direction="min")
    assert names(a) == ["improvement"] and a.extra["confidence"] == "low"
    assert "one-sided exact p = 0.0417" in a.warnings[0]
    assert a.phases[0].stats["change"] == pytest.approx(3.975 - 4.318)


def test_four_evaluations_worse_at_each_as_train_improves_are_a_low_confidence_overfit():
    """Trial 35: a held-out loss 3.784, 4.508, 4.721, 4.888 while the train loss fell was a
    plateau "not established"; held-out worse as train improves is the textbook overfit."""
    a = analyze_run(run_of([3.784, 4.508, 4.721, 4.888], train=[1.2, 1.18, 1.16, 1.14]),
                    direction="min")
    assert names(a) == ["overfit"] and a.extra["confidence"] == "low"
    assert ("eval/loss gets worse at every evaluation while the train loss (train/loss) "
            "improves (Kendall tau +1.00; one-sided exact p = 0.0417") in a.warnings[0]
    assert a.warnings[0].endswith("overfit, low confidence")


def test_the_train_metric_beside_a_short_series_is_named_as_the_log_names_it():
    """hf-social-issues-4ev: "eval_accuracy gets better at every evaluation as train/loss
    does" of a log whose train loss is `loss`: the role's name, which the log does not have."""
    a = analyze_run(run_of([0.506, 0.556, 0.560, 0.589], train=[0.27, 0.17, 0.14, 0.12],
                           metric="eval_accuracy", train_name="loss"), direction="max")
    assert names(a) == ["improvement"]
    assert ("eval_accuracy gets better at every evaluation as the train loss (loss) does "
            "(Kendall tau +1.00") in a.warnings[0]
    assert not any("train/loss" in w for w in a.warnings)


def test_a_tie_is_not_better_at_every_evaluation():
    """Trial 35: 0.59655, 0.59675, 0.59696, 0.59696 (2 tokens of 4,992) was "gets better at
    every evaluation" (the rank test's p with a tie, 0.036, is a normal approximation)."""
    a = analyze_run(run_of([0.59655, 0.59675, 0.59696, 0.59696], train=[4.3, 4.2, 4.1, 4.0],
                           metric="eval/accuracy"), direction="max")
    assert names(a) == ["plateau"] and "every evaluation" not in a.warnings[0]


@pytest.mark.parametrize("train", [None, [4.0, 4.1, 4.2, 4.3]])
def test_without_a_train_metric_improving_four_points_stay_unestablished(train):
    a = analyze_run(run_of(FALLING, train=train), direction="min")
    assert names(a) == ["plateau"] and "no monotone trend they can establish" in a.warnings[0]


def test_a_bend_short_of_a_turn_is_stated_with_its_size_in_noise_sds():
    """A loss that falls by 0.32 and rises back by 0.27 over 5 evaluations: its noise, from
    their own second differences (0.081), leaves the bend short of the 5 sds a turn needs, so
    no phase; the warning gives what a plot shows, the best evaluation against both ends."""
    a = analyze_run(run_of([2.10, 1.80, 1.78, 1.95, 2.05]), direction="min")
    assert names(a) == ["plateau"]
    sd = a.extra["noise_sd"]
    assert (0.32 / sd, 0.27 / sd) == pytest.approx((3.9, 3.3), abs=0.05)
    assert ("its best evaluation (step 300, eval/loss 1.78) is better than the first and the "
            "last by 0.32 and 0.27 (3.9 and 3.3 noise sd), short of the 5 a turn on 5 "
            "evaluations needs") in a.warnings[0]
    flat = analyze_run(run_of([2.10, 2.08, 2.11, 2.09, 2.10]), direction="min")
    assert "best evaluation" not in flat.warnings[0] and "worst" not in flat.warnings[0]


def test_three_points_never_establish_a_trend():
    a = analyze_run(run_of([1.092, 1.066, 0.998], train=[1.1, 1.07, 1.03]), direction="min")
    assert names(a) == ["plateau"] and "exact p = 0.333" in a.warnings[0]


def test_the_one_sided_call_keeps_false_claims_on_flat_runs_near_five_percent():
    """Flat held-out noise, train loss falling: a trend (improvement) is claimed only for the
    1 in 24 orderings that fall at every evaluation (4 points); at 5 points the two-sided test
    decides (tau -1: 1 in 120), beside the comparison with the noise."""
    rng = np.random.default_rng(7)
    for n, expected in ((4, 1 / 24), (5, 1 / 120)):
        calls = [names(analyze_run(run_of(rng.normal(1.0, 0.01, n),
                                          train=np.linspace(2.0, 1.5, n)), direction="min"))
                 == ["improvement"] for _ in range(600)]
        assert np.mean(calls) == pytest.approx(expected, abs=0.025)


def test_a_rise_at_the_first_update_that_holds_is_an_improvement_then_a_plateau():
    """5 evaluations that rise by 0.12 at the first update and then hold within 0.007: the
    turn's second difference alone would put the noise at 0.03 and the rise under 5 of it (a
    silent plateau); against the scatter of the 4 later evaluations it is a t of about 35."""
    a = analyze_run(run_of([0.412, 0.536, 0.531, 0.538, 0.533], metric="eval/accuracy"),
                    direction="max")
    assert names(a) == ["improvement", "plateau"] and a.extra["confidence"] == "low"
    assert a.phases[0].end_step == 200
    assert "better than it by 0.1225 on average" in a.warnings[0]


def test_a_fall_of_a_loss_at_the_first_update_on_four_evaluations_is_an_improvement():
    a = analyze_run(run_of([2.10, 1.62, 1.63, 1.61]), direction="min")
    assert names(a) == ["improvement", "plateau"]
    assert a.phases[0].stats["change"] == pytest.approx(1.62 - 2.10)


def test_four_evaluations_on_a_straight_fall_are_an_overfit():
    """A held-out accuracy falling by 0.04 at every evaluation (scatter 0.002 about the line):
    the rank test cannot call 4 points (p = 1/12 at best), the slope's t test can."""
    a = analyze_run(run_of([0.501, 0.459, 0.421, 0.379], metric="eval/accuracy"),
                    direction="max")
    assert names(a) == ["overfit"] and a.extra["confidence"] == "low"
    assert "get worse along a straight line by 0.1212" in a.warnings[0]


def test_the_tests_against_the_later_scatter_add_about_one_percent_false_claims_each():
    """Flat noise, no train metric: 4 evaluations had no call at all before the shift and line
    tests (the rank test cannot reach p < 0.05); each is run at p < 0.01."""
    rng = np.random.default_rng(11)
    calls = [names(analyze_run(run_of(rng.normal(1.0, 0.01, 4)), direction="min")) != ["plateau"]
             for _ in range(600)]
    assert np.mean(calls) < 0.04


def test_the_noise_reported_is_the_scatter_the_call_was_judged_against():
    """Not the second differences' 0.031, which the rise itself inflated: the printed noise sd
    and the starting level's uncertainty agree with the verdict."""
    a = analyze_run(run_of([0.412, 0.536, 0.531, 0.538, 0.533], metric="eval/accuracy"),
                    direction="max")
    later = np.std([0.536, 0.531, 0.538, 0.533], ddof=1)
    assert a.extra["noise_sd"] == pytest.approx(later)
    assert a.extra["baseline_se"] == pytest.approx(later)


def test_two_evaluations_get_no_trend_statistic():
    """Two rising evaluations (sample_logs/demo at steps 0 and 2000) printed "Kendall tau +0.00,
    exact p = 1": no rank test exists below 3 values, so no statistic is reported at all."""
    a = analyze_run(run_of([0.546, 0.672], metric="eval/accuracy"), direction="max")
    assert names(a) == ["plateau"] and a.extra["trend_test"] is None
    assert a.warnings == [("only 2 evaluations of eval/accuracy (0.546 -> 0.672): too few for any "
                           "trend test, so the change is not judged (no phase is named: not a "
                           "flat run either)")]
    one = analyze_run(run_of([1.25], metric="eval/loss"), direction="min")
    assert one.extra["trend_test"] is None and "Kendall" not in one.warnings[0]
    assert "only 1 evaluation of eval/loss (1.25)" in one.warnings[0]
    three = analyze_run(run_of([0.5, 0.6, 0.7], metric="eval/accuracy"), direction="max")
    assert three.extra["trend_test"]["tau"] == 1.0  # from 3 values on, the test is reported


def test_a_loss_stuck_at_zero_prints_no_negative_zero(capsys):
    """A lower-is-better metric is turned round inside (sign -1), which makes -0.0 of a zero:
    a GRPO loss of exactly 0 printed "-0 -> -0 change -0 level -0" beside "baseline 0"; and a
    train loss that ends where it began (3 readings: no noise to judge them by) is not said to
    have moved."""
    import json

    from phasewatch.commands.analyze import print_text

    a = analyze_run(run_of([0.0, 0.0, 0.0, 0.0], train=[0.0, 0.0, 0.0, 0.0], metric="eval/loss"),
                    direction="min")
    print_text(a)
    text = capsys.readouterr().out
    assert "-0" not in text and "change +0" in text
    assert "-0.0" not in json.dumps(a.to_dict())
    a = analyze_run(run_of([0.3, 0.2, 0.25], train=[0.0, 0.1, 0.0]), direction="min")
    assert not any("over the same steps" in w for w in a.warnings)


@pytest.mark.parametrize("values", [[0.4, 0.5], [0.4, 0.5, 0.45]])
def test_too_few_evaluations_for_a_noise_estimate_give_no_baseline_uncertainty(values):
    """Without a noise estimate the starting level's uncertainty is unknown (null), not 0,
    which would read as an exact baseline."""
    a = analyze_run(run_of(values, metric="eval/accuracy"))
    assert a.extra["noise_sd"] is None and a.extra["baseline_se"] is None


def test_a_collapse_that_holds_exactly_is_a_disruption_not_a_plateau():
    """Trial 35: a held-out accuracy 0.597 then 0.050, 0.050, 0.050 (a deterministic evaluation
    of a collapsed policy) was a plateau whose last checkpoint was "as good within the noise"
    as the start: the later evaluations' scatter, 0, left the shift untested."""
    a = analyze_run(run_of([0.59655, 0.05048, 0.05048, 0.05048], metric="eval/accuracy"),
                    direction="max")
    assert names(a) == ["disruption", "plateau"] and a.recommended_stop_step == 100
    assert "all read 0.05048, worse than it by 0.5461: a change that holds exactly" in a.warnings[0]
    assert a.extra.get("stop_beats_last") is not False  # never "the last is as good"


@pytest.mark.parametrize("values, two_sided", [
    ([0.9735, 1.065, 1.116, 1.116], 2 / 12),  # hfconsole-sft-lora-rl-4ev: scipy's approximation 0.071
    ([0.55, 0.55, 0.6, 0.65, 0.65], 2 / 30),  # two tied pairs: the approximation 0.037 < 0.05
])
def test_a_short_series_with_ties_gets_the_exact_p_of_its_orderings(values, two_sided):
    """The rank test's p with tied values was scipy's normal approximation, printed as "exact
    p" and smaller than the truth: an accuracy on 20 items reading 0.55, 0.55, 0.6, 0.65, 0.65
    was a "moderate confidence" improvement at p = 0.037, where 2 of the 30 distinct orderings
    of those values are as monotone (p = 0.067)."""
    a = analyze_run(run_of(values, metric="eval/accuracy"), direction="max")
    assert a.extra["trend_test"]["p_value"] == pytest.approx(two_sided)
    assert f"exact p = {two_sided:.3g})" in a.warnings[0]
    assert a.extra["confidence"] == "low"


def test_the_exact_p_with_ties_counts_every_ordering():
    """One-sided and two-sided p of a tied series against a count by hand: of the 12 distinct
    orderings of 1, 2, 3, 3, one has S = 5 and one S = -5; two-sided 2/12, one-sided 1/12."""
    from phasewatch.few_point_tests import trend_test

    steps, y = np.arange(4), np.array([1.0, 2.0, 3.0, 3.0])
    assert trend_test(steps, y)[1] == pytest.approx(2 / 12)
    assert trend_test(steps, y, alternative="greater")[1] == pytest.approx(1 / 12)
    assert trend_test(steps, y[::-1].copy(), alternative="less")[1] == pytest.approx(1 / 12)
    assert trend_test(steps, y, alternative="less")[1] == pytest.approx(1.0)


def test_four_evaluations_give_no_noise_estimate_to_print_or_rank_the_stop_by():
    """hfconsole-sft-lora-rl-4ev (real corpus): an eval loss 0.9735, 1.065, 1.116, 1.116 was a
    plateau "not established" beside "noise sd 0.0188", "baseline 0.9735 ± 0.019" and a stop
    at the first evaluation ranked above the last by that noise, read from 2 second
    differences, one of them the rise's bend. 4 evaluations are too few for a noise estimate
    (the shape already needs MIN_FOR_NOISE): unknown, and the stop says so. An overfit the
    rank test called (worse at every evaluation as train improves) still beats its last."""
    a = analyze_run(run_of([0.9735, 1.065, 1.116, 1.116], train=[0.31, 0.27, 0.24, 0.21]),
                    direction="min")
    assert names(a) == ["plateau"] and a.recommended_stop_step == 100
    assert a.extra["noise_sd"] is None and a.extra["baseline_se"] is None
    assert "stop_beats_last" not in a.extra
    a = analyze_run(run_of([0.7999, 0.7981, 0.7971, 0.7969], train=[0.31, 0.27, 0.24, 0.21],
                           metric="eval/accuracy"), direction="max")
    assert names(a) == ["overfit"] and a.extra["noise_sd"] is None
    assert a.extra["stop_beats_last"] is True
    five = analyze_run(run_of([0.9735, 1.065, 1.116, 1.116, 1.12]), direction="min")
    assert five.extra["noise_sd"] > 0  # from 5 evaluations on, estimated as before


def test_the_count_of_evaluations_says_how_many_were_left_out():
    """hf-chatglm-rouge-6ev: 6 evaluations logged, its second (40.15) left out as an outlier;
    the short-series warning said "only 5 evaluations" of a run whose log, inspect and figure
    show 6. It says the 5 are those kept, of 6 logged."""
    values = [38.02, 40.15, 37.90, 38.23, 38.59, 38.79]
    a = analyze_run(run_of(values, metric="eval_rouge-l"), direction="max")
    assert a.extra["outlier_steps"] == [200]
    said = [w for w in a.warnings if "Kendall" in w]
    assert said and said[0].startswith(
        "only 5 evaluations of eval_rouge-l kept (6 logged, 1 left out as an outlier): ")
    five = analyze_run(run_of(values[:1] + values[2:], metric="eval_rouge-l"), direction="max")
    assert not five.extra["outlier_steps"]  # the same 5 logged alone: nothing to say of others
    assert any(w.startswith("only 5 evaluations of eval_rouge-l: ") for w in five.warnings)
