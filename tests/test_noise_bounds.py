"""A rate pinned at a bound: its noise is read from the readings off the bound, not from the
differences of the readings at it (exactly 0), so one low first reading is not a rise."""

import numpy as np

from phasewatch.analysis import analyze_run
from phasewatch.noise import noise_scale, off_bound_sd, pinned_at_bound
from phasewatch.run import RecordCollector


def _pinned_at_one(seed: int, n: int = 30, sd: float = 0.01) -> np.ndarray:
    """A rate whose level is 1.0, observed with noise `sd` and clipped at 1 (a quarter of a
    percent resolution)."""
    rng = np.random.default_rng(seed)
    return np.minimum(1.0, np.round(1.0 + rng.normal(0, sd, n), 3))


def test_the_noise_of_a_rate_pinned_at_one_comes_from_its_readings_off_the_bound():
    off = [off_bound_sd(_pinned_at_one(seed)) for seed in range(20)]
    differences = [noise_scale(_pinned_at_one(seed)) for seed in range(20)]
    assert 0.006 <= np.median(off) <= 0.013  # the true sd is 0.01
    assert np.median(differences) < 0.005  # what the differences alone say
    assert off_bound_sd(np.ones(10)) == 0.0


def test_a_first_reading_two_sds_below_a_rate_pinned_at_one_is_not_a_rise():
    """Judged against the differences' noise, 6 of 20 such runs read as an improvement."""
    plateaus = 0
    for seed in range(20):
        y = _pinned_at_one(seed)
        y[0] = 0.98
        collector = RecordCollector("test", "synthetic")
        for i, v in enumerate(y):
            collector.add(i * 10, {"eval/accuracy": float(v)}, line=i + 1)
        plateaus += [p.name for p in analyze_run(collector.build()).phases] == ["plateau"]
    assert plateaus >= 18


def test_a_repeated_middle_value_is_not_a_bound():
    # an accuracy on a few hundred prompts can repeat a reading; pinned means at the extreme
    assert pinned_at_bound([1.0, 0.98, 1.0, 1.0, 0.99, 1.0])
    assert pinned_at_bound([0.0, 0.0, 0.02, 0.0, 0.01, 0.0])
    assert not pinned_at_bound([0.456, 0.369, 0.276, 0.308, 0.308, 0.308])


def test_a_fall_onto_a_floor_that_repeats_a_reading_is_a_disruption_then_a_plateau():
    # phasewatch.synth_logistic.generate_regime("dip_no_recovery", "sparse", seed=111), a tuning
    # seed: the floor repeats 0.308 three times, which read as a rate pinned at a bound put the
    # fall and the floor into one 'overfit'
    collector = RecordCollector("test", "synthetic")
    for i, (s, v) in enumerate(zip([7, 16, 24, 34, 44, 54],
                                   [0.456, 0.369, 0.276, 0.308, 0.308, 0.308])):
        collector.add(s, {"eval/accuracy": v}, line=i + 1)
    a = analyze_run(collector.build())
    assert [(p.name, p.start_step, p.end_step) for p in a.phases] == [
        ("disruption", 7, 24), ("plateau", 24, 54)]


def test_a_series_at_one_value_with_float_jitter_is_judged_against_its_departures():
    """A GRPO loss is 0 +- 1e-9 whenever a batch's rewards tie, 0.02-0.14 otherwise: the MAD of
    its differences measures the jitter (sample_logs/rl reported effects of 8.9 million sds);
    the noise is then the mean absolute difference, as for a quantised series."""
    rng = np.random.default_rng(0)
    n = 400
    spikes = rng.random(n) < np.linspace(0.6, 0.05, n)  # fewer batches with signal as it learns
    y = np.where(spikes, rng.uniform(0.02, 0.14, n), rng.normal(0, 1e-9, n))
    assert noise_scale(y) > 1e-3  # the jitter alone: ~1e-9
    collector = RecordCollector("mem", "test")
    for i, value in enumerate(y):
        collector.add(i, {"train/loss": float(value)})
    analysis = analyze_run(collector.build(), metric="train/loss")
    assert all(abs(p.stats["change_sd"]) < 1000 for p in analysis.phases
               if p.stats.get("change_sd") is not None)


def test_a_steady_climb_to_the_bound_is_a_rise_not_noise():
    """A DPO validation reward accuracy 0, 0.7, 0.9, 0.9, then 1.0 seven times: the noise was
    read from the climb's differences (0.21) and the rise from 0 to 1 came out a plateau
    "0.7 -> 1". The climb's noise now comes from its second differences."""
    y = [0.0, 0.7, 0.9, 0.9] + [1.0] * 7
    assert off_bound_sd(np.array(y)) < 0.15
    collector = RecordCollector("test", "synthetic")
    for i, v in enumerate(y):
        collector.add(i * 5, {"eval/accuracy": v}, line=i + 1)
    names = [p.name for p in analyze_run(collector.build()).phases]
    assert names[0] == "improvement"
    # readings that go back and forth before the bound are departures, read as before
    wobble = np.array([0.9, 0.95, 0.92, 0.97] + [1.0] * 7)
    assert off_bound_sd(wobble) == noise_scale(wobble[:4])


def test_a_reading_off_a_bound_among_many_is_no_outlier():
    """Trial 39b: a GRPO reward at 0 on 84 of 100 steps and 1/16 or 2/16 on the rest lost a 2/16
    among zeros as an 'isolated outlier' at step 22 while the same 2/16 at step 2 was kept (and
    became the checkpoint): on a rate pinned at a bound, its readings off it are its noise."""
    from phasewatch.outliers import spike_mask
    from phasewatch.signals import outlier_scale

    rng = np.random.default_rng(3)
    y = np.where(rng.random(100) < 0.16, rng.choice([1 / 16, 2 / 16], 100, p=[0.85, 0.15]), 0.0)
    y[22], y[20:22], y[23:25] = 2 / 16, 0.0, 0.0
    assert not spike_mask(y, outlier_scale(y))[22]
    assert spike_mask(y, noise_scale(y))[22]  # against the zeros' noise it stood out
