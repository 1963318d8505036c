"""Phase naming through `analyze_run` on runs with known truth, and the contract invariants."""

import itertools
import json

import numpy as np
import pytest

import phasewatch
from phasewatch import synth
from phasewatch.analysis import analyze_run
from phasewatch.phases import PhaseConfig
from phasewatch.run import Event, RecordCollector, Run


def names(analysis):
    return [p.name for p in analysis.phases]


def check_contract(analysis, run_steps):
    phases = analysis.phases
    assert phases[0].start_step == run_steps[0] and phases[-1].end_step == run_steps[-1]
    for left, right in itertools.pairwise(phases):
        assert left.end_step == right.start_step
    assert [c.step for c in analysis.changepoints] == [p.start_step for p in phases[1:]]
    for cp in analysis.changepoints:
        assert cp.low <= cp.step <= cp.high


def make_run(values, steps=None, metric="eval/accuracy", extra=None, events=()):
    steps = np.arange(len(values)) * 10 if steps is None else steps
    collector = RecordCollector("test", "synthetic")
    for i, (s, v) in enumerate(zip(steps, values)):
        row = {metric: float(v)}
        if extra:
            row.update({k: float(col[i]) for k, col in extra.items()})
        collector.add(int(s), row, line=i + 1)
    return collector.build(events=list(events))


@pytest.mark.parametrize("kind", synth.KINDS)
def test_each_kind_comes_out_as_what_it_is(kind):
    s = synth.generate(kind, seed=11, n_points=240, noise_sd=0.01, ar=0.0, shape="linear")
    a = analyze_run(s.run)
    assert names(a) == list(synth.KIND_PHASES[kind])
    check_contract(a, s.run.series(s.metric).index)
    span = s.truth["curve_steps"][-1]
    for (name, start, _), phase in zip(s.truth["phases"][1:], a.phases[1:]):
        assert abs(phase.start_step - start) <= 0.06 * span, (name, phase)


def test_disruption_ends_at_the_trough_and_overfit_starts_at_the_peak():
    s = synth.generate("three_phase", seed=3, n_points=300, noise_sd=0.01, ar=0.0, shape="cosine")
    a = analyze_run(s.run)
    assert names(a) == ["disruption", "readaptation", "overfit"]
    disruption, readapt, overfit = a.phases
    steps, curve = s.truth["curve_steps"], s.truth["curve"]
    # where the true curve is within one noise sd of its extreme: the data cannot say more
    low_region = steps[curve <= curve.min() + 0.01]
    high_region = steps[curve >= curve.max() - 0.01]
    assert low_region.min() - 6 <= disruption.end_step <= low_region.max() + 6
    assert high_region.min() - 6 <= overfit.start_step <= high_region.max() + 6
    assert a.recommended_stop_step == overfit.start_step
    assert disruption.stats["depth"] > 0.04 and disruption.stats["trough_step"] == disruption.end_step
    assert overfit.stats["decline_since_peak"] > 0.04
    assert readapt.stats["gain_over_baseline"] > 0


def test_lower_is_better_metric_is_turned_and_reported_in_its_own_units():
    s = synth.generate("three_phase_loss", seed=2, n_points=200, noise_sd=0.01, ar=0.0)
    a = analyze_run(s.run)
    assert a.direction == "min" and a.metric == "eval/loss"
    assert names(a) == ["disruption", "readaptation", "overfit"]
    assert a.phases[0].stats["change"] > 0  # the loss goes up during the disruption
    assert a.phases[-1].stats["change"] > 0  # and up again while overfitting


def test_flat_run_is_one_plateau_on_many_seeds():
    for seed in range(6):
        s = synth.generate("flat", seed=seed, n_points=200)
        assert names(analyze_run(s.run)) == ["plateau"], seed


def test_overfit_from_expert_nll_when_accuracy_stays_flat():
    s = synth.generate("nll_overfit", seed=4, n_points=240, noise_sd=0.01, ar=0.0, shape="linear")
    a = analyze_run(s.run)
    assert names(a) == ["improvement", "overfit"]
    assert "nll_overfit_onset_step" in a.extra
    # without the expert NLL signals the same accuracy curve is an improvement then a plateau
    table = s.run.table
    s.run.table = table[~table["metric"].str.startswith("expert/")].reset_index(drop=True)
    assert names(analyze_run(s.run)) == ["improvement", "plateau"]


def test_a_held_out_nll_bump_that_came_back_does_not_make_a_late_plateau_overfit():
    """Held-out NLL turns up mid-run and comes back down (not to its minimum); accuracy rises,
    then is flat. The NLL criterion does not hold over the flat stretch, so it stays a plateau
    (a CHORD-mu run did this); with held-out NLL still rising there, it is overfit."""
    rng = np.random.default_rng(2)
    t = np.arange(200, dtype=float)
    acc = 0.5 + 0.4 * (1 - np.exp(-t / 35)) + rng.normal(0, 0.01, t.size)
    train = np.interp(t, [0, 60, 200], [0.6, 0.25, 0.15]) + rng.normal(0, 0.003, t.size)
    came_back = np.interp(t, [0, 60, 100, 150, 200], [0.6, 0.27, 0.37, 0.30, 0.30])
    still_rising = np.interp(t, [0, 60, 200], [0.6, 0.27, 0.40])
    found = {}
    for name, held in (("came_back", came_back), ("still_rising", still_rising)):
        signals = {"expert/nll_train": train, "expert/nll_heldout": held + rng.normal(0, 0.003, t.size)}
        found[name] = names(analyze_run(make_run(acc, extra=signals)))
    assert found["came_back"] == ["improvement", "plateau"]
    assert found["still_rising"] == ["improvement", "overfit"]


def test_supporting_signals_are_reported_per_phase():
    s = synth.generate("three_phase", seed=5, n_points=150, eval_every=5)
    a = analyze_run(s.run)
    signals = a.phases[0].stats["signals"]
    assert {"expert/nll_train", "expert/nll_heldout", "train/entropy"} <= set(signals)
    entropy = signals["train/entropy"]
    assert entropy["mean"] > 0.8  # the generator's entropy spike falls in the disruption


def test_too_few_points_is_a_plateau_with_a_warning():
    a = analyze_run(make_run([0.1, 0.5, 0.2, 0.4]))
    assert names(a) == ["plateau"] and "only 4 evaluations" in a.warnings[-1]
    # a plateau is reported between the levels it holds (the medians of its halves), 0.3 and 0.3
    assert a.extra["confidence"] == "low" and a.phases[0].stats["change"] == pytest.approx(0.0)


def test_constant_and_all_nan_metrics():
    a = analyze_run(make_run(np.full(50, 0.3)))
    assert names(a) == ["plateau"] and "constant" in a.warnings[-1]
    a = analyze_run(make_run(np.full(20, np.nan)))
    assert a.phases == [] and a.recommended_stop_step is None
    assert any("non-finite" in w for w in a.warnings)
    assert "nothing to analyse" in a.warnings[-1]


def test_first_evaluation_before_training_is_the_baseline_a_disruption_falls_from():
    rng = np.random.default_rng(0)
    y = np.r_[0.55, np.linspace(0.05, 0.6, 60)] + rng.standard_normal(61) * 0.01
    a = analyze_run(make_run(y))
    assert names(a)[:2] == ["disruption", "readaptation"]
    assert a.phases[0].end_step == 10 and a.baseline == pytest.approx(0.55, abs=0.02)


def test_epoch_boundaries_do_not_cut_a_held_out_metric():
    """Epochs make train losses step, not held-out metrics: the same values with and without
    an epoch event (one log format records epochs, another does not) get the same answer."""
    rng = np.random.default_rng(1)
    y = np.linspace(0.2, 0.6, 200) + rng.standard_normal(200) * 0.01
    a = analyze_run(make_run(y, events=[Event(step=1000, name="epoch_boundary")]))
    b = analyze_run(make_run(y))
    assert names(a) == names(b) == ["improvement"]
    assert a.to_dict()["phases"] == b.to_dict()["phases"] and a.baseline == b.baseline


def test_a_stage_switch_starts_the_naming_again():
    """SFT -> RL: each stage gets its own phases (as the live monitor restarts at the switch);
    a dip right after the switch is the RL stage's disruption, not an overfit of the SFT one."""
    rng = np.random.default_rng(1)
    steady = np.linspace(0.2, 0.6, 200) + rng.standard_normal(200) * 0.01
    a = analyze_run(make_run(steady, events=[Event(step=1000, name="sft_to_rl")]))
    assert names(a) == ["improvement", "improvement"]
    assert a.phases[0].end_step == a.phases[1].start_step == 1000
    # the switch step's evaluation is still before RL (contracts.md): the RL stage starts from
    # it, not from the one before it (trial 31 finding 8)
    assert a.phases[0].stats["end_value"] == a.phases[1].stats["start_value"] == steady[100]
    check_contract(a, np.arange(200) * 10)
    t = np.arange(200)  # the fall comes after the switch step, whose evaluation is SFT's
    dip = np.where(t <= 100, 0.2 + 0.004 * t,
                   0.6 - 0.2 * np.exp(-(t - 101) / 8) + 0.001 * (t - 101))
    dip = dip + rng.standard_normal(200) * 0.01
    b = analyze_run(make_run(dip, events=[Event(step=1000, name="sft_to_rl")]))
    assert names(b)[0] == "improvement" and "overfit" not in names(b)
    assert names(b)[1:3] == ["disruption", "readaptation"] and b.phases[1].start_step == 1000
    check_contract(b, np.arange(200) * 10)


def test_unknown_options_are_refused():
    with pytest.raises(TypeError, match="penalty_factor"):
        analyze_run(make_run(np.zeros(20)), penalty_facter=3)


def test_mixed_eval_cadence_is_fitted_against_steps_and_reported():
    steps = np.r_[np.arange(0, 1000, 10), np.arange(1000, 6000, 50)]
    rng = np.random.default_rng(3)
    y = 0.3 + 0.4 * steps / steps[-1] + rng.standard_normal(steps.size) * 0.01
    a = analyze_run(make_run(y, steps=steps))
    assert names(a) == ["improvement"]  # one straight rise in steps, despite the point density
    assert any("uneven logging interval (10 to 50 steps" in w for w in a.warnings)


def test_a_one_burst_bump_inside_a_decline_is_not_a_phase_of_its_own():
    """Decline, a one-evaluation jump back up, decline again: one overfit, not overfit/improvement/overfit."""
    from phasewatch.phases import DOWN, UP, PhaseConfig, TrendRun, absorb_blips

    runs = [TrendRun(UP, 0, 50, 0.2, 0.8), TrendRun(DOWN, 50, 120, 0.8, 0.65),
            TrendRun(UP, 120, 121, 0.65, 0.75), TrendRun(DOWN, 121, 200, 0.75, 0.6)]
    merged = absorb_blips(runs, 201, PhaseConfig())
    assert [(r.kind, r.start, r.end) for r in merged] == [(UP, 0, 50), (DOWN, 50, 200)]
    # A long recovery (not a blip) stays a phase of its own.
    runs = [TrendRun(DOWN, 0, 50, 0.8, 0.6), TrendRun(UP, 50, 120, 0.6, 0.7), TrendRun(DOWN, 120, 200, 0.7, 0.5)]
    assert len(absorb_blips(runs, 201, PhaseConfig())) == 3


def test_a_short_saturating_series_is_a_rise_then_a_plateau():
    """Five evaluations of a WER that falls fast and levels off: not monotone, so the rank test
    cannot call it, but the best is far beyond the first against the noise."""
    a = analyze_run(make_run([34.6, 25.1, 22.0, 21.5, 21.8]), direction="min")
    assert names(a) == ["improvement", "plateau"] and a.extra["confidence"] == "low"
    assert a.phases[0].end_step == 30 and a.recommended_stop_step == 30
    assert names(analyze_run(make_run([0.50, 0.52, 0.49, 0.51, 0.50]))) == ["plateau"]


def test_names_a_researcher_would_give():
    """Each shape the issue lists, with white noise of sd 0.01 over 200 evaluations."""
    rng = np.random.default_rng(0)
    t = np.arange(200)

    def noisy(curve):
        return curve + rng.normal(0, 0.01, t.size)

    decline_from_start = analyze_run(make_run(noisy(0.6 - 0.2 * t / 200)))
    assert names(decline_from_start) == ["overfit"]
    assert decline_from_start.recommended_stop_step == 0
    late = analyze_run(make_run(noisy(np.where(t < 130, 0.6, 0.6 - 0.15 * (t - 130) / 70))))
    assert names(late) == ["plateau", "overfit"]
    floor = analyze_run(make_run(noisy(np.r_[0.6, 0.6 - 0.5 * (1 - np.exp(-t[1:] / 5))])))
    assert names(floor) == ["disruption", "plateau"]
    bounce = np.r_[np.linspace(0.3, 0.7, 100), np.linspace(0.7, 0.55, 94), np.linspace(0.55, 0.62, 6)]
    assert names(analyze_run(make_run(noisy(bounce)))) == ["improvement", "overfit"]


def test_a_fast_rise_that_overshoots_a_little_is_a_rise_then_a_plateau():
    """A capped length: 4 -> 10.98 in a few evaluations, then 11 with a one-point wobble. The
    line fitted to the rise overshoots; that is neither an excursion nor a one-point overfit."""
    y = np.r_[4.0, 4.0, 4.0, 4.04, 4.07, 8.16, 10.55, 10.90, 10.96, 10.98, 10.93,
              np.full(60, 11.0)]
    y[30] = 10.99
    a = analyze_run(make_run(y), metric="eval/accuracy")
    assert names(a) == ["improvement", "plateau"]
    assert a.baseline == 4.0 and a.phases[0].stats["change"] > 6.5


def test_a_sparse_dip_is_data_and_the_trough_is_the_lowest_evaluation():
    """21 evaluations of the demo run (every 100th step): the dip's bottom, sampled once, is
    not an outlier; the trough sits on it; depth and baseline are read off the data."""
    y = [0.546, 0.056, 0.314, 0.566, 0.628, 0.69, 0.722, 0.744, 0.726, 0.772, 0.734, 0.786,
         0.76, 0.72, 0.726, 0.728, 0.716, 0.694, 0.658, 0.646, 0.672]
    a = analyze_run(make_run(y, steps=np.arange(21) * 100))
    # the late decline (0.786 -> 0.672) is about 3 noise sds on 21 points: either call is fair
    assert names(a)[:2] == ["disruption", "readaptation"] and len(a.phases) == 3
    assert not any("outlier" in w for w in a.warnings)
    assert a.baseline == 0.546 and a.phases[0].stats["trough_step"] == 100
    assert a.phases[0].stats["depth"] == pytest.approx(0.49)
    assert a.recommended_stop_step == 1100  # the best evaluation
    for cp in a.changepoints:
        assert cp.low <= cp.step <= cp.high


@pytest.mark.parametrize("every", [1, 3, 4, 10])
def test_printed_values_are_the_evaluations_at_their_steps(every):
    """The demo run at its own cadence and thinned (every 3rd, 4th, 10th evaluation): each
    phase's end value is the evaluation logged at its end step, the trough is the lowest
    evaluation of the dip and the depth is read from it (the issue: every 40th step gave a depth
    of 0.316 where the data say ~0.52)."""
    from pathlib import Path

    from phasewatch import read_run

    demo = Path(__file__).resolve().parents[1] / "sample_logs" / "demo"
    series = read_run(demo).series("eval/accuracy").dropna()
    series = series.iloc[::every]
    a = analyze_run(make_run(series.to_numpy(), steps=series.index.to_numpy()))
    assert names(a)[:2] == ["disruption", "readaptation"]
    for phase in a.phases[:-1]:
        assert phase.stats["end_value"] == pytest.approx(series[phase.end_step])
    # the run's end: on a dense run the mean of the last two evaluations (next test)
    last = series.iloc[-2:].mean() if len(series) > 40 else series.iloc[-1]
    assert a.phases[-1].stats["end_value"] == pytest.approx(last)
    dip = a.phases[0]
    assert series[dip.end_step] == series[: a.phases[1].end_step].min()
    assert dip.stats["depth"] == pytest.approx(series.iloc[0] - series[dip.end_step])
    assert dip.stats["depth"] > 0.45  # 0.49 when only every 100th step is kept


def test_a_lucky_last_evaluation_does_not_decide_the_sign_of_a_dense_runs_last_change():
    """An overfit falling 0.24 over 60 evaluations whose last evaluation happens to read 1.0
    (the best level): the change printed is from the mean of the last two evaluations, the
    level the phases were decided on, so it says the fall (a BLPO W&B log of returns with
    bimodal noise printed "overfit ... change +8")."""
    rng = np.random.default_rng(0)
    t = np.arange(120)
    y = np.where(t < 60, 0.5 + 0.5 * (1 - np.exp(-t / 10)), 1.0 - 0.004 * (t - 60))
    y = y + rng.normal(0, 0.02, t.size)
    y[-1] = 1.0
    a = analyze_run(make_run(y, steps=t * 10))
    assert names(a) == ["improvement", "overfit"]
    overfit = a.phases[-1].stats
    assert overfit["end_value"] == pytest.approx(y[-2:].mean())
    assert overfit["change"] == pytest.approx(overfit["end_value"] - overfit["start_value"])
    assert overfit["change"] < -0.1 and overfit["decline_since_peak"] > 0.1


def test_a_bump_within_the_noise_inside_a_long_fall_is_part_of_the_fall():
    """A short rise cut out of a long fall (a train loss of the real corpus: fall, a bump of
    1.7 sd over one evaluation, fall) is demoted to a plateau, and then belongs to the fall on
    both sides of it, not a plateau of its own; a demoted blip between a fall and a rise stays
    a plateau (the floor between them)."""
    from phasewatch.phase_stats import demote_flat_trends
    from phasewatch.results import Phase

    fall_bump_fall = [Phase("improvement", 10, 180), Phase("overfit", 180, 190),
                      Phase("improvement", 190, 8660)]
    out = demote_flat_trends(fall_bump_fall, [-2.5, -0.69, -0.80, -0.45], sd=0.064, k_sd=3.0)
    assert [(p.name, p.start_step, p.end_step) for p in out] == [("improvement", 10, 8660)]
    dip_floor_rise = [Phase("disruption", 0, 50), Phase("overfit", 50, 60),
                      Phase("readaptation", 60, 200)]
    out = demote_flat_trends(dip_floor_rise, [0.5, 0.1, 0.09, 0.6], sd=0.01, k_sd=3.0)
    assert [p.name for p in out] == ["disruption", "plateau", "readaptation"]


def test_a_demoted_first_interval_before_a_trend_is_part_of_it():
    """A trend over the run's first two evaluations only whose robust edge levels are within the
    noise (one reading off the start: a validation reward's second reading 3.6 below its
    neighbours, 16 noise sds) holds no phase: the trend after it starts at the first
    evaluation, rather than a "plateau" whose own line prints a 16-sd change. Longer, it stays
    a plateau of its own."""
    from phasewatch.phase_stats import demote_flat_trends
    from phasewatch.results import Phase

    steps = np.arange(7, 1600, 8)
    phases = [Phase("disruption", 7, 15), Phase("readaptation", 15, 263),
              Phase("plateau", 263, 1599)]
    levels = [-114.5, -114.1, -110.5, -110.5]
    out = demote_flat_trends(phases, levels, sd=0.23, k_sd=3.0, steps=steps)
    assert [(p.name, p.start_step, p.end_step) for p in out] == [
        ("improvement", 7, 263), ("plateau", 263, 1599)]
    longer = [Phase("disruption", 7, 31), Phase("readaptation", 31, 263),
              Phase("plateau", 263, 1599)]
    out = demote_flat_trends(longer, levels, sd=0.23, k_sd=3.0, steps=steps)
    assert [p.name for p in out] == ["plateau", "improvement", "plateau"]


def test_a_rise_that_overshoots_for_two_evaluations_then_settles_is_not_an_overfit():
    """A fall of two evaluations between a rise and a long plateau, within the noise, is the
    rise settling; the same fall kept up to the end is an overfit, and so is a cliff to a floor
    below where the rise began (trial 39: exact match 0.285 -> 0.605, then 0 at every
    evaluation), and a fall to a level held after it beyond the noise (`gap`)."""
    from phasewatch.overshoots import settle_overshoots
    from phasewatch.results import Phase

    steps = np.arange(0, 300, 10)
    y = np.concatenate([np.linspace(0.3, 0.6, 6), [0.58, 0.56], np.full(22, 0.55)])
    phases = [Phase("improvement", 0, 50), Phase("overfit", 50, 70), Phase("plateau", 70, 290)]
    settled = settle_overshoots(phases, steps, y, 0.15, gap=0.1)
    assert [(p.name, p.start_step, p.end_step) for p in settled] == [
        ("improvement", 0, 50), ("plateau", 50, 290)]
    sustained = [Phase("improvement", 0, 50), Phase("overfit", 50, 290)]
    assert [p.name for p in settle_overshoots(sustained, steps, y, 0.15, gap=0.1)] == [
        "improvement", "overfit"]
    longer = [Phase("improvement", 0, 50), Phase("overfit", 50, 100), Phase("plateau", 100, 290)]
    assert [p.name for p in settle_overshoots(longer, steps, y, 0.15, gap=0.1)] == [
        "improvement", "overfit", "plateau"]
    cliff = np.concatenate([np.linspace(0.3, 0.6, 6), [0.3, 0.0], np.zeros(22)])
    assert [p.name for p in settle_overshoots(phases, steps, cliff, 0.15, gap=0.1)] == [
        "improvement", "overfit", "plateau"]
    # the rise's end (0.54, 0.6: 0.57) 0.02 above the level held after it, against noise
    # whose significant gap is 0.01: a decline held
    assert [p.name for p in settle_overshoots(phases, steps, y, 0.15, gap=0.01)] == [
        "improvement", "overfit", "plateau"]


def test_a_step_up_of_a_held_out_error_after_its_best_held_to_the_end_is_an_overfit():
    """A validation error that falls for sixteen evaluations, then steps up by 24 noise sds at
    once and holds there for five: a sustained decline after the best (an overfit), not the
    fall settling into a "plateau" printed with a change of several sds (the step is a sixth of
    the fall before it: an overshoot's share)."""
    steps = np.arange(2, 65, 3)
    fall = np.r_[40.0 - 1.3 * np.arange(11), 27.0 - 0.3 * np.arange(1, 6)]
    y = np.concatenate([fall, np.full(5, fall[-1] + 2.4)])
    y += np.random.default_rng(0).normal(0, 0.1, y.size)
    analysis = analyze_run(make_run(y, steps, metric="val_rmse"), metric="val_rmse")
    assert [p.name for p in analysis.phases] == ["improvement", "overfit", "plateau"]
    assert analysis.phases[1].start_step == 47  # the best evaluation


def test_a_rise_reports_as_its_best_at_least_the_value_it_ends_on():
    """A rise's best is the highest evaluation in it: on a dense run it is located on the
    3-point median, but when the rise ends on a higher evaluation (a peak the next phase starts
    from, printed as the rise's end value) that evaluation is its best, so one line never says
    "0.034 -> 0.73, best 0.164 above the start" (sample_logs/seeds/sft_s2 did)."""
    from phasewatch.phase_stats import phase_stats
    from phasewatch.results import Phase

    steps = np.arange(60) * 10
    y = np.concatenate([np.linspace(0.1, 0.70, 30), np.full(30, 0.70)])
    y[30:40] = [0.70, 0.71, 0.70, 0.71, 0.70, 0.71, 0.70, 0.69, 0.62, 0.73]  # the rise ends on 0.73
    y[40:] = np.linspace(0.69, 0.60, 20)
    rise = Phase("improvement", 0, int(steps[39]))
    stats = phase_stats(rise, 0.1, 0.73, steps, y, sign=1.0, sd=0.01, base=0.1)
    assert stats["peak_step"] == 390
    assert stats["gain_over_baseline"] == pytest.approx(0.73 - 0.1)

    from pathlib import Path

    from phasewatch import read_run

    sft_s2 = Path(__file__).resolve().parents[1] / "sample_logs" / "seeds" / "sft_s2"
    analysis = analyze_run(read_run(sft_s2))
    for phase in analysis.phases:
        if phase.name in ("readaptation", "improvement"):
            top = phase.stats["gain_over_baseline"] + analysis.baseline
            assert top >= phase.stats["end_value"] - 1e-12



def test_a_lone_first_evaluation_that_did_not_jump_does_not_make_the_run_a_trend():
    # a flat run of 41 evaluations (phasewatch.synth_logistic's Student-t noise) whose first
    # sits 4.8 noise sds low: too little for a jump of its own (6 sds), so it must not become
    # the start of an improvement across the whole run (it was: 'improvement 9 -> 1347')
    steps = [9, 17, 26, 43, 49, 56, 63, 71, 78, 87, 95, 104, 145, 186, 222, 267, 314, 353, 394,
             427, 473, 518, 563, 606, 649, 695, 737, 781, 814, 847, 883, 930, 972, 1017, 1094,
             1135, 1178, 1226, 1265, 1305, 1347]
    y = [0.277, 0.302, 0.305, 0.302, 0.297, 0.31, 0.307, 0.297, 0.3, 0.312, 0.312, 0.315, 0.307,
         0.305, 0.302, 0.307, 0.308, 0.307, 0.302, 0.303, 0.298, 0.3, 0.312, 0.297, 0.297, 0.323,
         0.293, 0.307, 0.297, 0.308, 0.298, 0.31, 0.3, 0.293, 0.3, 0.298, 0.302, 0.303, 0.303,
         0.297, 0.307]
    a = analyze_run(make_run(y, steps=np.array(steps)))
    assert names(a) == ["plateau"]


def test_a_late_decline_under_sticky_noise_starts_at_its_corner():
    """The onset of a decline after a flat stretch is where the data bend, not where a moving
    average has left the plateau's band (late, and later still when AR(1) noise wanders)."""
    offsets = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n, onset, sd, phi = 150, 100, 0.01, 0.6
        noise = np.zeros(n)
        for i in range(n):
            noise[i] = phi * noise[i - 1] + rng.standard_normal() * sd * np.sqrt(1 - phi**2)
        y = 0.6 - 10 * sd * np.clip(np.arange(n) - onset, 0, None) / (n - 1 - onset) + noise
        c = RecordCollector("late", "synthetic")
        for i, v in enumerate(y):
            c.add(10 * (i + 1), {"eval/accuracy": float(v)}, line=i + 1)
        a = analyze_run(c.build(performance_metric="eval/accuracy", direction="max"))
        assert [p.name for p in a.phases] == ["plateau", "overfit"], seed
        offsets.append(a.phases[1].start_step // 10 - 1 - onset)
    # unbiased, and within what the noise allows (moving-average placement: mean +3.0, median
    # distance 5.5 evaluations on these seeds)
    assert abs(np.mean(offsets)) <= 1.5 and np.median(np.abs(offsets)) <= 3.5, offsets


def test_a_fast_decay_meets_its_plateau_where_the_data_reach_it():
    """A broken line's knot on 15.4, 2.38, 0.35, 0.32, 0.31, 0.30 sits on 2.38; the plateau
    starts at 0.35, the first evaluation at its level (phasewatch.plateau_start)."""
    steps = np.arange(100, 700, 100, dtype=np.int64)
    loss = np.array([15.4387, 2.3837, 0.3468, 0.3185, 0.3077, 0.3038])
    result = analyze_run(Run.from_columns({"eval/loss": (steps, loss)}, "t", "t"), "eval/loss", "min")
    assert [(p.name, p.start_step, p.end_step) for p in result.phases] == [
        ("improvement", 100, 300), ("plateau", 300, 600)]
    assert abs(result.phases[1].stats["change_sd"]) < 1


def test_a_whole_run_trend_says_its_ends_are_means():
    """A slow rise of 0.12 under noise sd 0.03 over 80 evaluations, which the segmentation reads
    as one plateau, is one improvement read between the means of the first and last 20
    evaluations: the phase line says so, since its start value is then not the first reading
    the baseline is (0.51 against 0.561 here)."""
    from phasewatch.commands.analyze import phase_line
    from phasewatch.run import Run

    t = np.arange(80)
    y = 0.5 + 0.0015 * t + np.random.default_rng(3).normal(0, 0.03, t.size)
    analysis = analyze_run(Run.from_columns({"eval/accuracy": (t * 10, y)}, "x", "x"))
    (phase,) = analysis.phases
    assert phase.name == "improvement" and phase.stats["ends_averaged"] == 20
    assert phase.stats["start_value"] == pytest.approx(np.mean(y[:20]))
    assert phase.stats["end_value"] == pytest.approx(np.mean(y[-20:]))
    se = phase.stats["change_sd"] * (20 / 2) ** 0.5  # the change between two 20-value means
    assert f"(ends: means of 20 evaluations each; the change is {se:+.1f} se)" in phase_line(phase)


def test_a_noisy_dip_and_climb_is_not_one_plateau():
    """A noisy reward (sd 2) that starts at 4.5, sits at 1 for 7 evaluations and then climbs to
    7.5 for the second half of 39: the broken line does not pay for its knots against such
    noise and the residuals about one straight line run in long signs (the shape, not sticky
    noise), so the run came out as one plateau on 3 of these 12 seeds. About a broken line with
    two knots they are white, and the rise between the run's ends is called."""
    level = np.r_[np.full(4, 4.5), np.full(7, 1.0), np.linspace(1.0, 7.5, 8), np.full(20, 7.5)]
    steps = np.arange(1, level.size + 1)
    calls = []
    for seed in range(12):
        y = level + np.random.default_rng(seed).normal(0, 2.0, level.size)
        result = analyze_run(Run.from_columns({"reward": (steps, y)}, "t", "t"), "reward", "max")
        calls.append([p.name for p in result.phases])
    assert ["plateau"] not in calls
    assert all("improvement" in c or "readaptation" in c for c in calls)


def test_a_fall_into_a_plateau_has_its_trough_on_its_lowest_evaluation():
    """A tiny GPT-2's held-out accuracy after a change of style (trial 32): 0.8353 at step 0,
    0.8051 at 30, then a floor about 0.81 that the plateau rule starts at 60. The disruption
    ends at 60 (0.8135), but its trough, and the depth printed, are step 30's."""
    values = [0.8353, 0.8051, 0.8135, 0.8197, 0.8051, 0.8093, 0.8185, 0.8088, 0.8118, 0.8125,
              0.818, 0.8093, 0.8105, 0.8093, 0.8132, 0.8118, 0.8088, 0.8008, 0.8033, 0.8043,
              0.8033]
    collector = RecordCollector("trial", "synthetic")
    for i, value in enumerate(values):
        collector.add(30 * i, {"eval_prose_accuracy": value}, line=i + 1)
    a = analyze_run(collector.build(events=[]), metric="eval_prose_accuracy")
    disruption = a.phases[0]
    assert names(a)[:2] == ["disruption", "plateau"] and disruption.end_step == 60
    assert disruption.stats["trough_step"] == 30
    assert disruption.stats["depth"] == pytest.approx(0.8353 - 0.8051)


def test_a_collapse_onto_a_constant_floor_has_its_trough_where_the_floor_starts():
    """csv-lightning-yolov3-valacc-35: a class accuracy at ~32.4 for 4 evaluations, then exactly
    3.6657 at each of the 31 after (the run diverged). The disruption ends where the detector
    puts the floor's start (one evaluation on), but the floor, and the trough, begin at the
    first 3.6657; trough_step named the second."""
    steps = np.arange(930, 930 * 36, 931)
    acc = [32.4055, 32.3260, 32.7978, 32.2743] + [3.66571] * 31
    a = analyze_run(make_run(acc, steps, metric="val_accuracy"), metric="val_accuracy")
    disruption = a.phases[0]
    assert disruption.name == "disruption"
    assert disruption.stats["trough_step"] == steps[4] <= disruption.end_step
    assert disruption.stats["depth"] == pytest.approx(32.4055 - 3.66571)


def test_a_sparse_runs_expert_nll_shows_its_overfit(tmp_path):
    # trial 33: `phasewatch train --preset sft --eval-every 200` (seed 0), 11 evaluations. The
    # accuracy peaks at 0.72 (step 1200) and ends at 0.588 while held-out expert NLL rises
    # 0.237 -> 0.357 and train expert NLL falls 0.132 -> 0.035: read as a plateau, "the last,
    # step 2000, is as good within the noise", since the NLL criterion needed 18 evaluations
    accuracy = [0.546, 0.298, 0.636, 0.68, 0.702, 0.628, 0.72, 0.668, 0.644, 0.628, 0.588]
    train = [2.053, 0.4146, 0.223, 0.1628, 0.1324, 0.1315, 0.0932, 0.0717, 0.0575, 0.0329, 0.0353]
    held = [1.9995, 0.449, 0.2843, 0.2415, 0.2371, 0.2642, 0.2458, 0.2905, 0.3201, 0.3688, 0.3573]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": 200 * k, "eval/accuracy": a,
                                        "expert/nll_train": t, "expert/nll_heldout": h}) + "\n"
                            for k, (a, t, h) in enumerate(zip(accuracy, train, held))))
    analysis = phasewatch.analyze(path)
    last = analysis.phases[-1]
    assert (last.name, last.start_step, last.end_step) == ("overfit", 1200, 2000)
    assert analysis.recommended_stop_step == 1200
    assert "stop_beats_last" not in analysis.extra or analysis.extra["stop_beats_last"]
    # the same accuracies without the NLL pair stay what the accuracy alone can say
    bare = tmp_path / "bare.jsonl"
    bare.write_text("".join(json.dumps({"step": 200 * k, "eval/accuracy": a}) + "\n"
                            for k, a in enumerate(accuracy)))
    assert phasewatch.analyze(bare).phases[-1].name == "plateau"


def test_a_sparse_runs_nll_minimum_after_its_metrics_last_evaluation(tmp_path):
    # the NLL pair logged past the metric's last evaluation, its minimum there: no overfit to
    # place in the metric's phases (the point-by-point NLL reading took the metric's best since
    # that minimum from no evaluation at all: ValueError)
    held = [1.9995, 0.449, 0.2843, 0.2415, 0.2371, 0.2642, 0.2458, 0.2905, 0.3201, 0.3688,
            0.2, 0.3, 0.4]
    train = [2.05, 0.41, 0.22, 0.16, 0.13, 0.13, 0.09, 0.07, 0.057, 0.033, 0.035, 0.03, 0.02]
    accuracy = [0.546, 0.298, 0.636, 0.68, 0.702, 0.628, 0.72, 0.668, 0.644, 0.628]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": 200 * k, "expert/nll_train": t,
                                        "expert/nll_heldout": h,
                                        **({"eval/accuracy": accuracy[k]} if k < 10 else {})})
                            + "\n" for k, (t, h) in enumerate(zip(train, held))))
    analysis = phasewatch.analyze(path)
    assert analysis.phases[-1].name == "plateau" and analysis.phases[-1].end_step == 1800


def test_a_fast_rise_under_one_sided_noise_meets_its_plateau_where_the_data_reach_it():
    """A GRPO batch reward: a rise 0.05 -> 0.6 over its first 80 of 1000 steps, then flat, and
    a quarter of the batches fail low (0.1-0.45 below the level), so the median of the flat
    stretch is above its mean. Compared with that median, the moving mean never reached the
    level and the rise ran on: plateaus from step 107-950 (median 155) on these seeds; the real
    log (a Qwen2.5 GRPO reward) had a rise over by ~90 run to step 429."""
    starts = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        steps = np.arange(1, 1001, dtype=np.int64)
        level = 0.05 + 0.55 * np.clip((steps - 1) / 80, 0, 1)
        fails = rng.random(steps.size) < 0.25
        reward = level + rng.normal(0, 0.03, steps.size) - fails * rng.uniform(0.1, 0.45, steps.size)
        result = analyze_run(Run.from_columns({"reward": (steps, reward)}, "t", "t"), "reward", "max")
        assert [p.name for p in result.phases] == ["improvement", "plateau"], seed
        starts.append(result.phases[1].start_step)
    assert all(65 <= s <= 120 for s in starts), starts


@pytest.mark.parametrize("seed", range(6))
def test_a_relapse_after_an_early_best_is_found_and_turns_at_its_worst(seed):
    """A loss that falls to an early best at its second evaluation, jumps back and gets worse
    for nine evaluations, then falls for forty to a new best (a learning rate too high for a
    while): an overfit between two improvements, turning at its worst evaluation. The turn was
    searched on the run's moving average, whose first point took in the step-0 loss: the worst
    was put at step 400 and the relapse came out part of one improvement."""
    rng = np.random.default_rng(seed)
    steps = np.arange(51) * 200
    y = np.concatenate([[9.3, 3.0], np.linspace(4.3, 5.2, 9), np.linspace(5.0, 2.0, 40)])
    y[2:] += rng.normal(0, 0.1, 49)
    a = analyze_run(make_run(y, steps=steps, metric="val_loss"), "val_loss")
    assert names(a) == ["improvement", "overfit", "improvement"]
    worst = int(steps[2 + np.argmax(y[2:20])])
    assert a.phases[1].start_step == 200 and abs(a.phases[1].end_step - worst) <= 200
    check_contract(a, steps)


def test_a_turn_too_short_to_smooth_is_read_on_the_data_not_on_a_line_past_them():
    """A line fitted to a loss's exponential fall ends above every value after it (read higher
    is better): json-grokking-mod113-orthograd-401's val loss, 4.76 at step 0 and 0.0002 by
    step 4000, then slowly worse, had the peak its overfit starts from at step 700 (0.236),
    and the overfit from 800 fell 0.016 "below its best" and the stop was 33500."""
    from phasewatch.phases import build_phases

    i = np.arange(401)
    loss = 4.8 * np.exp(-np.minimum(i, 15) / 1.6) + np.where(i > 15, 0.1 * (i - 15) / 385, 0.0)
    y, steps = -loss, i * 100
    phases = build_phases(steps, y, [8, 15], 0.003)
    assert [p.name for p in phases] == ["improvement", "overfit"]
    assert phases[1].start_step == steps[np.argmax(y)] == 1500


def test_a_plateau_after_a_long_fall_does_not_fall_on_beyond_the_noise():
    """A loss that halves every 50 epochs from 4042 to 0.05 (NoProp's CIFAR-100 log): 98% of
    its fall is done at a loss of 80, and the plateau put there fell on from 26.6 to 0.12,
    printed 'plateau ... change -26.43 (-29.0 sd)', its name contradicted by its own line. The
    turn goes where what is left of the fall is within the noise the phases judge by."""
    rng = np.random.default_rng(3)
    epochs = np.arange(1, 1001)
    loss = 4042.0 * 0.5 ** (epochs / 50.0) * np.exp(rng.normal(0.0, 0.01, epochs.size))
    analysis = analyze_run(make_run(loss, epochs, metric="loss"), metric="loss")
    plateaus = [p for p in analysis.phases if p.name == "plateau"]
    assert plateaus, names(analysis)
    for phase in plateaus:
        assert abs(phase.stats["change_sd"]) <= PhaseConfig.k_sd, phase.stats
