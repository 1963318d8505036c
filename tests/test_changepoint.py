"""Change-point engine: exact optimum, costs, NaN mapping, intervals, robustness, long series."""

import itertools

import numpy as np
import pytest

from phasewatch.changepoint import Segmenter, despiked, detect
from phasewatch.pelt import Cumsums, pelt


def kinked(n=300, kinks=(100, 200), slopes=(0.0, 0.05, -0.03), sd=0.3, seed=0):
    """Continuous piecewise-linear signal (slope changes only, no jumps) plus noise."""
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=float)
    y = np.zeros(n)
    bounds = [0, *kinks, n]
    level = 0.0
    for (a, b), slope in zip(itertools.pairwise(bounds), slopes):
        y[a:b] = level + slope * (x[a:b] - a)
        level = y[b - 1] + slope
    return x, y + rng.standard_normal(n) * sd


def test_linear_cost_matches_least_squares():
    rng = np.random.default_rng(1)
    x = np.sort(rng.random(50))
    y = rng.standard_normal((50, 2))
    sums = Cumsums(x, y)
    for a, b in [(0, 50), (3, 17), (10, 13)]:
        expected = 0.0
        for j in range(2):
            coef = np.polyfit(x[a:b], y[a:b, j], 1)
            expected += ((y[a:b, j] - np.polyval(coef, x[a:b])) ** 2).sum()
        assert sums.rss(a, b, "linear") == pytest.approx(expected, rel=1e-6, abs=1e-9)
        mean_rss = ((y[a:b] - y[a:b].mean(axis=0)) ** 2).sum()
        assert sums.rss(a, b, "mean") == pytest.approx(mean_rss, rel=1e-9)


def test_pelt_mean_model_gives_the_same_optimum_as_ruptures():
    rpt = pytest.importorskip("ruptures")
    rng = np.random.default_rng(2)
    y = np.concatenate([np.zeros(60), np.full(50, 2.0), np.full(70, 0.5)]) + rng.standard_normal(180)
    ours = pelt(Cumsums(np.arange(180.0), y[:, None]), 180, 8.0, 5, "mean")
    theirs = rpt.Pelt(model="l2", min_size=5, jump=1).fit(y).predict(pen=8.0)[:-1]
    assert ours == theirs


@pytest.mark.parametrize("seed", range(3))
def test_slope_changes_are_found_with_intervals_covering_them(seed):
    x, y = kinked(seed=seed)
    seg = Segmenter().fit(x.astype(int), y)
    steps = [c.step for c in seg.changepoints]
    assert len(steps) == 2
    for cp, true in zip(seg.changepoints, (100, 200)):
        assert abs(cp.step - true) <= 15
        assert cp.low <= cp.step <= cp.high
        assert cp.high - cp.low < 80


def test_mean_shift_is_found_by_the_default_linear_model():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(150), np.ones(150)] + rng.standard_normal(300) * 0.1
    seg = detect(np.arange(300), y)
    assert [c.step for c in seg.changepoints] == [150]
    assert seg.changepoints[0].low >= 145 and seg.changepoints[0].high <= 155


@pytest.mark.parametrize("seed", range(5))
def test_white_noise_has_no_change_points(seed):
    rng = np.random.default_rng(seed)
    assert detect(np.arange(400), rng.standard_normal(400)).changepoints == []


def test_nan_rows_are_left_out_without_shifting_steps():
    rng = np.random.default_rng(4)
    steps = np.arange(0, 3000, 10)
    y = np.r_[np.zeros(150), np.ones(150)] + rng.standard_normal(300) * 0.1
    y[[5, 40, 100, 149, 151, 200]] = np.nan
    seg = detect(steps, y)
    assert [c.step for c in seg.changepoints] == [1500]
    assert "6 rows with non-finite values left out" in seg.warnings[0]


def test_constant_and_tiny_series_do_not_crash():
    assert detect(np.arange(50), np.full(50, 3.0)).changepoints == []
    seg = detect(np.arange(3), np.array([1.0, 2.0, 3.0]))
    assert seg.changepoints == [] and "too few" in seg.warnings[0]
    assert detect(np.arange(10), np.full(10, np.nan)).changepoints == []


def test_isolated_spikes_are_not_change_points_but_the_first_point_stays():
    y = np.r_[5.0, np.zeros(99)] + np.random.default_rng(5).standard_normal(100) * 0.01
    y[50] = 3.0
    cleaned = despiked(y)
    assert cleaned[0] == y[0] and abs(cleaned[50]) < 0.1
    seg = detect(np.arange(100), y)
    assert [c.step for c in seg.changepoints] == [1]  # the lone first point, not the spike


def test_forced_boundaries_are_kept_with_a_zero_width_interval():
    rng = np.random.default_rng(6)
    y = rng.standard_normal(200) * 0.1
    seg = detect(np.arange(200), y, forced=(120,))
    assert [c.to_dict() for c in seg.changepoints] == [{"step": 120, "low": 120, "high": 120}]


def test_multivariate_change_in_one_column():
    rng = np.random.default_rng(7)
    a = rng.standard_normal(300) * 0.1
    b = np.r_[np.zeros(200), np.full(100, 1.0)] + rng.standard_normal(300) * 0.1
    seg = detect(np.arange(300), np.column_stack([a, b]))
    assert [c.step for c in seg.changepoints] == [200]


def test_lower_penalty_never_finds_fewer_change_points():
    x, y = kinked(sd=0.6, seed=8)
    counts = [len(detect(x.astype(int), y, penalty=p).changepoints) for p in (200, 30, 8, 2)]
    assert counts == sorted(counts)
    assert counts[-1] > counts[0]


def test_long_series_is_segmented_on_blocks_then_refined():
    rng = np.random.default_rng(9)
    n = 100_000
    y = np.r_[np.zeros(60_000), np.full(40_000, 0.05)] + rng.standard_normal(n) * 0.1
    seg = detect(np.arange(n), y)
    assert len(seg.changepoints) == 1
    assert abs(seg.changepoints[0].step - 60_000) <= 100


def test_invalid_options_say_what_is_allowed():
    with pytest.raises(ValueError, match="linear"):
        Segmenter(model="rbf").fit(np.arange(10), np.zeros(10))


def test_intervals_cover_the_true_change_point_as_often_as_they_claim():
    covered = []
    for seed in range(20):
        x, y = kinked(seed=100 + seed)
        for cp in Segmenter().fit(x.astype(int), y).changepoints:
            true = 100 if cp.step < 150 else 200
            covered.append(cp.low <= true <= cp.high)
    assert len(covered) >= 36
    assert np.mean(covered) >= 0.9  # nominal 95%


def test_default_model_finds_variance_changes_and_the_linear_model_does_not_claim_them():
    rng = np.random.default_rng(12)
    y = rng.standard_normal(300)
    y[150:] *= 3.0
    found = [c.step for c in detect(np.arange(300), y).changepoints]
    assert len(found) == 1 and abs(found[0] - 150) <= 10


def test_quantised_constant_stretches_are_not_cut_out():
    # a capped series (all values 512) with a short burst of lower values: one burst, not a
    # cascade of segments around every repeated value
    rng = np.random.default_rng(13)
    y = np.full(300, 512.0)
    y[100:140] = 512 - np.abs(np.round(rng.standard_normal(40) * 3))
    found = [c.step for c in detect(np.arange(300), y).changepoints]
    assert 2 <= len(found) <= 3 and abs(found[0] - 100) <= 5 and abs(found[-1] - 140) <= 5
    linear = [c.step for c in detect(np.arange(300), y, model="linear").changepoints]
    assert len(linear) > len(found)  # least squares against one noise scale over-cuts it


def test_a_point_on_a_steep_rise_is_not_a_spike():
    from phasewatch.changepoint import spike_mask

    y = np.r_[0.01, 0.17, 0.46, 0.46, 0.48, 0.50, 0.49, 0.51, 0.52, 0.51]
    assert not spike_mask(y, 0.016).any()
    y[6] = 0.1  # a failed evaluation: below both neighbours
    assert spike_mask(y, 0.016).tolist() == [i == 6 for i in range(10)]


def test_detect_is_the_documented_one_call_entry_point():
    """`changepoint.detect` (docs/detection.md) finds a clear mean shift, in steps, with an interval."""
    rng = np.random.default_rng(0)
    steps = np.arange(0, 400, 2)
    values = np.where(steps < 200, 0.0, 1.0) + rng.normal(0, 0.1, steps.size)
    found = detect(steps, values, model="mean").changepoints
    assert len(found) == 1
    cp = found[0]
    assert abs(cp.step - 200) <= 4 and cp.low <= cp.step <= cp.high


def test_two_failed_evaluations_in_a_row_are_outliers_but_a_sampled_dip_is_data():
    from phasewatch.changepoint import spike_mask

    y = np.r_[0.50, 0.51, 0.49, 0.50, 0.02, 0.03, 0.51, 0.50, 0.49, 0.50]
    assert spike_mask(y, 0.01).tolist() == [i in (4, 5) for i in range(10)]
    dip = np.r_[0.55, 0.05, 0.03, 0.30, 0.50, 0.60, 0.65, 0.66, 0.65, 0.66]  # sparse run's dip
    assert not spike_mask(dip, 0.01).any()


def test_two_failed_evaluations_one_apart_are_outliers_but_a_dip_with_a_low_middle_is_data():
    """Each of two zeros one evaluation apart is among the other's neighbours and pulls their
    line away; the five readings around the pair agree with one line and say so. A dip whose
    middle evaluation is low too is a dip (its neighbours do not agree with one line)."""
    from phasewatch.changepoint import spike_mask

    rise = np.linspace(0.40, 0.58, 10) + np.r_[0, 1, -1, 0, 1, 0, -1, 1, 0, -1] * 0.004
    y = rise.copy()
    y[[4, 6]] = 0.0
    assert spike_mask(y, 0.01).tolist() == [i in (4, 6) for i in range(10)]
    dip = rise.copy()
    dip[[4, 5, 6]] = [0.05, 0.08, 0.06]
    assert not spike_mask(dip, 0.01).any()


def test_a_failed_second_to_last_evaluation_is_an_outlier_but_a_dip_after_the_start_is_data():
    """The second-to-last point has one neighbour after it: it is an outlier when that neighbour
    and the two before it agree with one line. The second point is one only when it also lies
    far outside everything else the run reads: a disruption sampled once right after the start
    (here even fully recovered at the next evaluation, as on fast-saturating runs; and every
    100th evaluation of sample_logs/demo) is data, a reading of 0 on a run moving by a few
    hundredths is not."""
    from phasewatch.changepoint import spike_mask

    y = np.r_[0.525, 0.52, 0.49, 0.52, 0.50, 0.47, 0.475, 0.46, 0.0, 0.48]
    assert spike_mask(y, 0.018).tolist() == [i == 8 for i in range(10)]
    assert spike_mask(y[::-1], 0.018).tolist() == [i == 1 for i in range(10)]
    fast = np.r_[0.44, 0.35, 0.48, 0.49, 0.50, 0.50, 0.49, 0.51, 0.50, 0.50]  # dip, recovered
    assert not spike_mask(fast, 0.01).any()
    demo = np.r_[0.546, 0.056, 0.314, 0.566, 0.628, 0.69, 0.722, 0.744]
    assert not spike_mask(demo, 0.01).any()


def test_the_bottom_of_a_v_shaped_dip_is_data_a_failed_evaluation_is_not():
    """Neighbours that fall into a point and rise out of it sample a turn: one line through
    the four fits them loosely, and a V bottom lay just past 3 times that spread in a quarter of
    steep dips (the trough left out, the depth read from the evaluation beside it). A failed
    evaluation on a flat or a trending stretch is still left out."""
    from phasewatch.noise import noise_scale
    from phasewatch.outliers import spike_mask

    rng = np.random.default_rng(7)
    fall = [0.59508, 0.50668, 0.43847, 0.37443, 0.28462, 0.19275, 0.22629, 0.23829, 0.24581]
    y = np.r_[fall, np.linspace(0.25, 0.5, 21) + rng.standard_normal(21) * 0.01,
              0.5 + rng.standard_normal(31) * 0.01]  # trough at index 5, then a slow recovery
    x = np.arange(y.size) * 10.0
    assert not spike_mask(y, noise_scale(y), steps=x).any()
    y[45] = 0.3  # a failed evaluation on the flat stretch
    assert np.flatnonzero(spike_mask(y, noise_scale(y), steps=x)).tolist() == [45]
    trend = np.linspace(0.2, 0.8, 61) + rng.standard_normal(61) * 0.01
    trend[30] -= 0.2  # a failed evaluation on a rise: its neighbours do not turn
    assert np.flatnonzero(spike_mask(trend, noise_scale(trend), steps=x)).tolist() == [30]


def test_a_spike_beside_one_high_reading_is_not_the_top_of_a_v():
    """A V's turn is data; a failed reading that stands far off both its neighbours is not,
    even when one neighbour is itself a high reading (so the neighbours 'turn' toward it by one
    arm's noise): the turn must exceed the block's gap to its nearer neighbour."""
    from phasewatch.outliers import spike_mask

    y = np.r_[0.327, 0.295, 0.333, 0.312, 0.327, 0.298, 0.357, 0.468, 0.31, 0.298, 0.312, 0.318,
              0.31, 0.305, 0.313, 0.293]  # a Student-t run at 0.31 (noise scale 0.011); step 7 failed
    assert np.flatnonzero(spike_mask(y, 0.011)).tolist() == [7]


def _ar1(seed: int, n: int, phi: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = np.empty(n)
    e[0] = rng.standard_normal()
    z = rng.standard_normal(n) * np.sqrt(1 - phi ** 2)
    for i in range(1, n):
        e[i] = phi * e[i - 1] + z[i]
    return e


def test_ar1_wander_on_a_flat_run_is_not_cut_into_trends():
    """`analyze`'s segmentation of flat runs with AR(1) noise (phi 0.7, 150 points): the penalty
    is inflated for the noise's phi read by `wander_ar`, not only for the lag-1 autocorrelation
    of the first pass's residuals (which its lines have cut: 0.60 of these runs got a cut with
    that alone, 0.33 now)."""
    runs = [Segmenter(model="linear", penalty_factor=2.0, min_effect=0.0, despike=False)
            .fit(np.arange(150) * 10, _ar1(seed, 150, 0.7)) for seed in range(40)]
    assert all(seg.penalty_ar >= seg.ar for seg in runs)
    assert np.mean([seg.breaks.size > 0 for seg in runs]) <= 0.4


def test_wander_ar_reads_phi_from_residuals_and_stays_near_zero_on_white_noise():
    from phasewatch.noise import wander_ar

    sticky = [wander_ar(_ar1(seed, 150, 0.6)) for seed in range(40)]
    white = [wander_ar(_ar1(seed, 150, 0.0)) for seed in range(40)]
    assert 0.45 <= np.mean(sticky) <= 0.7
    assert np.mean(white) <= 0.15
    assert wander_ar(np.ones(9)) == 0.0  # too few residuals to say
