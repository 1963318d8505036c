"""Sparse runs (5-20 evaluations): a broken line with knots anywhere reads what the eye reads,
and does not read phases into noise or a steady rise."""

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.hinge import best_hinge
from phasewatch.noise import second_difference_sd
from phasewatch.run import RecordCollector


def _analyze(values, steps=None):
    steps = np.arange(len(values)) * 20 + 20 if steps is None else steps
    collector = RecordCollector("test", "synthetic")
    for i, (s, v) in enumerate(zip(steps, values)):
        collector.add(int(s), {"eval/accuracy": float(v)}, line=i + 1)
    return analyze_run(collector.build())


def test_twelve_evaluations_dip_recover_decline():
    # phasewatch.synth.generate_regime("three_phase", "sparse", seed=109): trough at 60, peak 160
    y = [0.4152, 0.3523, 0.3103, 0.3315, 0.3803, 0.4401, 0.4842, 0.5171, 0.4859, 0.4608, 0.443,
         0.4166]
    a = _analyze(y)
    assert [(p.name, p.start_step, p.end_step) for p in a.phases] == [
        ("disruption", 20, 60), ("readaptation", 60, 160), ("overfit", 160, 240)]
    assert a.recommended_stop_step == 160


def test_the_knots_sit_on_the_turns_of_a_broken_line():
    x = np.arange(15, dtype=float)
    y = np.interp(x, [0, 3, 10, 14], [1.0, 0.0, 2.0, 1.0])
    y += np.random.default_rng(0).normal(0, 0.01, x.size)
    knots, _, _ = best_hinge(x, y, sd=0.01)
    assert knots == (3, 10)
    # the noise estimate: turns of 100 noise sds put a few second differences far out; the
    # largest is left out, the rest keep it within a few times the truth, not at the turns' size
    assert 0.005 < second_difference_sd(y, robust=False) < 0.1


def test_a_dip_sampled_once_on_nine_evaluations_is_a_disruption():
    """The bottom of the dip is one evaluation, 10 noise sds below the start; the residuals of
    a fit allowed one knot (to keep three residual degrees of freedom) put the noise at several
    times its size and called the run one plateau."""
    # phasewatch.synth.generate_regime("dip_recover", "sparse", seed=100), noise sd 0.0135
    y = [0.3341, 0.2031, 0.2782, 0.3438, 0.4478, 0.4327, 0.4671, 0.4489, 0.4480]
    a = _analyze(y, steps=np.arange(5, 50, 5))
    assert [(p.name, p.start_step, p.end_step) for p in a.phases[:1]] == [("disruption", 5, 10)]
    assert [p.name for p in a.phases] == ["disruption", "readaptation", "plateau"]
    # the curve reaches its level at step 25; the plateau is read from the mean of each
    # evaluation and its neighbours, which at 25 still holds the last rising one (0.3438)
    assert a.phases[2].start_step in (25, 30)
    assert a.phases[0].stats["end_value"] == 0.2031


@pytest.mark.parametrize("seed", range(8))
def test_noise_and_a_steady_rise_stay_one_phase(seed):
    rng = np.random.default_rng(seed)
    n = 9 + seed
    flat = _analyze(0.5 + rng.normal(0, 0.01, n))
    assert [p.name for p in flat.phases] == ["plateau"]
    rise = _analyze(np.linspace(0.3, 0.6, n) + rng.normal(0, 0.01, n))
    assert [p.name for p in rise.phases] == ["improvement"]


def test_flat_white_noise_rarely_gets_a_phase():
    """False claims on flat runs of 9-20 evaluations stay near the 5% the thresholds aim at."""
    wrong = total = 0
    for n in (9, 12, 15, 20):
        for seed in range(30):
            y = 0.5 + np.random.default_rng(2000 + seed).normal(0, 0.01, n)
            wrong += [p.name for p in _analyze(y).phases] != ["plateau"]
            total += 1
    assert wrong / total <= 0.07


def test_a_short_decline_after_the_best_is_an_overfit():
    # sample_logs/demo kept at every 300th step: after the best (step 900) four evaluations fall
    # 3.6 noise sds, each below the one before; a researcher calls that an overfit, not a plateau
    y = [0.546, 0.566, 0.722, 0.772, 0.76, 0.728, 0.658]
    a = _analyze(y, steps=np.arange(7) * 300)
    assert [(p.name, p.start_step, p.end_step) for p in a.phases] == [
        ("improvement", 0, 900), ("overfit", 900, 1800)]
    assert a.recommended_stop_step == 900


def test_a_flat_end_after_the_best_stays_a_plateau():
    # the same rise, then readings that wander within the noise around the best: no decline
    y = [0.546, 0.566, 0.722, 0.772, 0.76, 0.768, 0.758]
    a = _analyze(y, steps=np.arange(7) * 300)
    assert [p.name for p in a.phases] == ["improvement", "plateau"]


def test_a_one_evaluation_fall_to_the_trough_is_a_disruption():
    # phasewatch.synth_logistic.generate_regime("dip_recover", "sparse", seed=112) (a tuning
    # seed): the second evaluation is 3.6 noise sds below the first, the run then climbs past it
    y = [0.238, 0.207, 0.27, 0.303, 0.32, 0.33, 0.325, 0.327]
    a = _analyze(y, steps=np.array([16, 33, 49, 59, 70, 80, 92, 100]))
    assert [p.name for p in a.phases][:2] == ["disruption", "readaptation"]
    assert a.phases[0].end_step == 33


def test_a_blow_up_at_the_end_does_not_set_the_noise_of_the_whole_run():
    # an eval loss written as a loss (lower is better): a smooth fall to a third over ten
    # evaluations, then a blow-up over the last five (the shape of a real HF Trainer run). The
    # blow-up's second differences, 10+ robust sds out, are no noise (`second_difference_sd`):
    # with them the noise came out 0.0011 and the fall, 2.4 of those sds, was a plateau
    rng = np.random.default_rng(3)
    fall = 0.0014 + 0.0028 * np.exp(-np.arange(10) / 3.0) + rng.normal(0, 0.00003, 10)
    y = np.concatenate([fall, [0.0018, 0.0042, 0.0028, 0.0081, 0.0436]])
    assert second_difference_sd(y, robust=False) < 0.0005  # 0.0011 with the blow-up
    collector = RecordCollector("test", "synthetic")
    for i, v in enumerate(y):
        collector.add(1000 * (i + 1), {"eval/loss": float(v)}, line=i + 1)
    a = analyze_run(collector.build(), "eval/loss")
    assert [p.name for p in a.phases] == ["improvement", "overfit"]
    assert 9000 <= a.recommended_stop_step <= 11000
