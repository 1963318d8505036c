"""A short run's noise is not set by its bends: a cliff puts its curvature into two second
differences, a one-evaluation dip into three, and leaving out only the largest read the noise
from the others (noise.second_difference_sd, noise._gross_bends)."""

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.noise import second_difference_sd
from phasewatch.run import RecordCollector

# eval_loss of an 8-evaluation HF Trainer run (a tiny GPT-2 trained on a far distribution for
# its first 40% of steps): a rise of 0.26, a cliff of 1.38, then a scatter of a few thousandths
DISRUPTION_8 = [2.6517, 2.8234, 2.9127, 1.5334, 1.3925, 1.3608, 1.3522, 1.3471]


def run_of(values, metric="eval_loss"):
    collector = RecordCollector("short", "synthetic")
    for i, value in enumerate(values):
        collector.add(37 * (i + 1), {metric: float(value)}, line=i + 1)
    return collector.build(events=[])


def test_a_cliff_does_not_set_the_noise_of_an_eight_evaluation_run():
    # left out only the largest second difference: 0.23 (the cliff's other bend)
    assert second_difference_sd(np.array(DISRUPTION_8), robust=False) < 0.05


def test_the_rise_before_the_cliff_is_a_disruption_not_part_of_an_improvement():
    a = analyze_run(run_of(DISRUPTION_8), direction="min")
    assert [p.name for p in a.phases] == ["disruption", "readaptation"]
    assert a.phases[0].stats["trough_step"] == 37 * 3  # the worst evaluation, 2.9127
    assert a.extra["noise_sd"] < 0.05


def test_a_quantised_step_keeps_its_noise():
    """An accuracy on a few hundred prompts that repeats its readings: the exact zeros of its
    flat stretches do not make its one step gross (the noise would be 0)."""
    sd = second_difference_sd(np.array([0.5, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6]), robust=False)
    assert sd == pytest.approx(np.sqrt(0.1 ** 2 / 5 / 6))  # 0.1, 0, 0, 0, 0: the largest left out


@pytest.mark.parametrize("df", [None, 3])
def test_white_noise_rarely_has_a_bend_so_far_out(df):
    """On flat runs of 6-9 points the estimate is the one before (the largest second difference
    left out) on at least 99% of runs: measured at most 0.1% / 0.6% changed (Gaussian,
    Student-t 3 df; 4,000 runs per length)."""
    rng = np.random.default_rng(7)
    changed = total = 0
    for n in (6, 7, 8, 9):
        for _ in range(500):
            y = rng.standard_normal(n) if df is None else rng.standard_t(df, n)
            before = np.sort(np.abs(np.diff(y, 2)))[:-1]
            old = float(np.sqrt(np.mean(before ** 2) / 6.0))
            changed += not np.isclose(second_difference_sd(y, robust=False), old)
            total += 1
    assert changed / total < 0.01


# eval_loss of a LLaMA-Factory SFT run evaluated at step 0 (eval_on_start), every 18 steps: a
# steep fall to a floor, then a rise of 0.35 over the last 250 steps (trial 40c)
STEP0_FALL = [6.119, 3.2857, 2.3542, 2.144, 2.0976, 2.1304, 2.0882, 2.166, 2.1124, 2.1237, 2.119,
              2.148, 2.1588, 2.2169, 2.2121, 2.2069, 2.2201, 2.2772, 2.3247, 2.3559, 2.4367]


def test_a_step_zero_evaluation_before_a_steep_fall_does_not_set_the_noise():
    """The fall's curvature goes into a run of decaying second differences of one sign (-1.90,
    -0.72, -0.16): the second, 9.8 robust sds out, read as noise gave 0.075 where the run
    without its step-0 evaluation gives 0.029, and the rise at its end was a plateau."""
    with_start = second_difference_sd(np.array(STEP0_FALL), robust=False)
    without = second_difference_sd(np.array(STEP0_FALL[1:]), robust=False)
    assert with_start == pytest.approx(without, rel=0.25) and with_start < 0.04
    names = [p.name for p in analyze_run(run_of(STEP0_FALL), direction="min").phases]
    assert names == ["improvement", "overfit"]


def test_noise_alone_makes_no_leading_bend(monkeypatch):
    """Student-t noise of 12-40 evaluations: the leading-bend rule leaves the estimate as it
    was without it in nearly every run."""
    import phasewatch.noise

    rng = np.random.default_rng(7)
    runs = [rng.standard_t(3, size=int(rng.integers(12, 41))) for _ in range(500)]
    with_rule = [second_difference_sd(y, robust=False) for y in runs]
    monkeypatch.setattr(phasewatch.noise, "_leading_bend", lambda *a: 0)
    without = [second_difference_sd(y, robust=False) for y in runs]
    assert sum(not np.isclose(a, b) for a, b in zip(with_rule, without)) <= 10
