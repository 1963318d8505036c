"""The second evaluation as an outlier: contradicted by the evaluations around it, never by
its depth alone (phasewatch.outliers._second_contradicted)."""

from __future__ import annotations

import numpy as np

from phasewatch.outliers import spike_mask


def test_a_failed_second_evaluation_inside_a_fall_that_goes_on_is_an_outlier():
    """The first, third and fourth evaluations fall along one line and the run keeps falling
    after the second, which reads 0: nothing turns there, so it is not the bottom of a dip,
    even though the run's later rise spans more than the reading lies below the rest (the
    range rule alone kept it, and it became the trough of a disruption 3 evaluations early)."""
    y = np.r_[0.301, 0.0, 0.228, 0.199, 0.17, 0.15, 0.14, 0.15, 0.2, 0.3, 0.38, 0.40, 0.39,
              0.40]
    assert np.flatnonzero(spike_mask(y, 0.01)).tolist() == [1]
    rising = 1.0 - y  # the mirror: a reading far above a run that keeps rising
    assert np.flatnonzero(spike_mask(rising, 0.01)).tolist() == [1]


def test_a_dip_sampled_once_after_the_start_stays_data_where_the_run_turns():
    """A one-evaluation dip followed by a recovery (at once, or part of the way and on), a jump
    at the first update that the run keeps, and a low second reading that a later evaluation
    reads lower still: all data. (A partial recovery whose next reading falls back, e.g.
    0.44, 0.30, 0.41, 0.405, ..., is read as a failed second evaluation when the 0.30 is below
    every other reading: the evaluations around it cannot tell the two apart.)"""
    recovered = np.r_[0.44, 0.35, 0.48, 0.49, 0.50, 0.50, 0.49, 0.51, 0.50, 0.50]
    assert not spike_mask(recovered, 0.01).any()
    partial = np.r_[0.44, 0.33, 0.41, 0.42, 0.43, 0.45, 0.46, 0.47, 0.47, 0.48]
    assert not spike_mask(partial, 0.01).any()
    jump = np.r_[0.475, 0.664, 0.654, 0.667, 0.687, 0.67, 0.68, 0.675, 0.69, 0.68]
    assert not spike_mask(jump, 0.01).any()
    lower_later = np.r_[0.408, 0.262, 0.275, 0.259, 0.261, 0.26, 0.255, 0.262, 0.258, 0.26]
    assert not spike_mask(lower_later, 0.01).any()


def test_two_failed_evaluations_one_apart_at_either_end_are_outliers_but_a_dip_is_data():
    """Two failed readings one evaluation apart next to an end have four neighbours, not five:
    those must agree with one line within 2 noise sds (as for the second-to-last point), and
    the evaluation between the two sits on it. When the middle one is low too, the three are
    the bottom of a dip and stay."""
    flat = np.r_[0.268, 0.271, 0.262, 0.266, 0.27, 0.265, 0.269, 0.272, 0.268, 0.27, 0.266,
                 0.271, 0.267, 0.27]
    start = flat.copy()
    start[[1, 3]] = 0.0
    assert np.flatnonzero(spike_mask(start, 0.005)).tolist() == [1, 3]
    end = flat.copy()
    end[[10, 12]] = 0.0
    assert np.flatnonzero(spike_mask(end, 0.005)).tolist() == [10, 12]
    dip = flat.copy()
    dip[[1, 2, 3]] = [0.0, 0.05, 0.0]
    assert not spike_mask(dip, 0.005).any()


def test_a_second_reading_far_outside_the_run_is_an_outlier_even_before_a_fast_rise():
    """A reading that lies farther outside every other reading of the run than the run's whole
    range is contradicted by all of them, even where the first, third and fourth evaluations do
    not fit one line (a rise that saturates at the first updates). Kept, it read as a
    disruption at the second evaluation of a saturating run."""
    y = np.r_[0.469, 0.175, 0.62, 0.594, 0.629, 0.612, 0.598, 0.622, 0.613, 0.626, 0.62, 0.61]
    assert np.flatnonzero(spike_mask(y, 0.01)).tolist() == [1]


def test_a_second_reading_far_off_a_level_the_run_keeps_is_an_outlier():
    """The first, third and fourth evaluations read one level (within 2 noise sds) and the
    second reads far off it: a failed evaluation on a plateau, even when the run later moves by
    more than the reading lies outside it. A fall that recovers only part of the way at the
    next evaluations, or past the start, is a dip and stays."""
    y = np.r_[0.358, 0.032, 0.341, 0.348, 0.34, 0.358, 0.35, 0.352, 0.357, 0.332, 0.319, 0.239,
              0.209, 0.191, 0.15, 0.12, 0.10]
    assert np.flatnonzero(spike_mask(y, 0.015)).tolist() == [1]
    slow = np.r_[0.393, 0.289, 0.317, 0.325, 0.358, 0.375, 0.39, 0.40, 0.41, 0.405, 0.41]
    assert not spike_mask(slow, 0.012).any()
    past = np.r_[0.442, 0.349, 0.483, 0.489, 0.502, 0.50, 0.495, 0.505, 0.50, 0.50]
    assert not spike_mask(past, 0.0085).any()


def test_a_dips_bottom_at_the_second_evaluation_with_its_way_back_sampled_is_data():
    """Trial 35: a held-out loss 1.110, 1.496, 1.206, 1.155, 1.149, 1.130, 1.126, 1.120 (a dip
    that recovers to its start) lost its bottom as an "isolated outlier"; the third reading,
    on the way back, lies beyond every other."""
    from phasewatch.noise import noise_scale

    y = np.array([1.110, 1.496, 1.206, 1.155, 1.149, 1.130, 1.126, 1.120])
    assert not spike_mask(y, noise_scale(y)).any()
    failed = np.array([1.110, 1.496, 1.112, 1.108, 1.111, 1.109, 1.110, 1.112])  # straight back
    assert spike_mask(failed, noise_scale(failed))[1]


def test_a_reading_its_neighbour_reads_again_is_a_stair_not_an_outlier():
    """A fast fall that pauses: 0.74, 0.59, 0.2995, 0.3009, 0.19 (a LoRA SFT loss). The line
    through the four neighbours of the 0.2995 passes 0.155 above it, 9 noise sds, and it is
    below both neighbours, by 0.0014 on one side: that neighbour reads the same level, the
    level the run fell to, which no failed evaluation does. It was left out and marked as an
    outlier on the figure beside its twin. The same spike standing off both is still one, and
    so is a pair of failed readings (judged as two in a row)."""
    loss = np.r_[2.09, 1.68, 1.10, 0.741, 0.586, 0.2995, 0.3009, 0.191, 0.181, 0.128, 0.131,
                 0.126, 0.079, 0.09, 0.048, 0.067, 0.064, 0.056]
    assert not spike_mask(loss, 0.017, steps=np.arange(5, 95, 5)).any()
    spike = loss.copy()
    spike[5] = 0.05  # a failed reading far below both neighbours
    assert np.flatnonzero(spike_mask(spike, 0.017, steps=np.arange(5, 95, 5))).tolist() == [5]
    flat = np.r_[0.30, 0.31, 0.30, 0.29, 0.30, 0.31, 0.30, 0.30, 0.29, 0.31]
    twice = flat.copy()
    twice[[4, 5]] = 0.0  # two failed readings in a row: each reads the other, judged as a pair
    assert np.flatnonzero(spike_mask(twice, 0.005)).tolist() == [4, 5]


def test_a_failed_last_reading_leaves_the_one_before_it_as_data():
    """The last reading is data (nothing after it can contradict it), and may be the failed
    one: a run's final empty episode logged 0 after a normal 0.666 (a JSON-lines trading
    environment's score). The line through the two before and that 0 passes 0.25, and the
    0.666 lay 6 sds off it: it was left out as an outlier, and the 0 made a one-point overfit
    from a best the outlier rule had hidden. The 0 stands farther off the readings before the
    two than the 0.666 does; a failed second-to-last reading between two normal ones is still
    an outlier."""
    y = np.r_[0.40, 0.45, 0.43, 0.47, 0.475, 0.48, 0.666, 0.0]
    assert not spike_mask(y, 0.067).any()
    failed = np.r_[0.40, 0.45, 0.43, 0.47, 0.475, 0.48, 0.0, 0.48]
    assert np.flatnonzero(spike_mask(failed, 0.067)).tolist() == [6]


def test_a_rise_over_the_third_and_fourth_readings_that_the_run_undoes_is_data():
    """The first readings after the two that set the start are judged as the second one is:
    a YOLO validation box loss that rose in its warm-up epochs (2.615, 2.684 after 2.469,
    2.409) and fell past the start at once lies well within the range of the run's other
    readings, so it is a disruption sampled twice, not a failed pair (it was left out, and the
    run read as one improvement). A pair far outside the run, or one the run goes straight
    back to its start after, is still failed readings."""
    loss = np.r_[2.469, 2.409, 2.615, 2.684, 2.251, 2.189, 2.173, 2.154, 2.127, 2.153, 2.056,
                 2.081, 2.047, 2.074, 2.026, 1.997, 2.041, 1.993]
    assert not spike_mask(-loss, 0.028).any()
    far = loss.copy()
    far[[2, 3]] = [4.1, 4.2]
    assert np.flatnonzero(spike_mask(-far, 0.028)).tolist() == [2, 3]
    level = np.r_[0.268, 0.271, 0.0, 0.0, 0.266, 0.27, 0.265, 0.269, 0.272, 0.268, 0.27, 0.266]
    level[6:] += np.linspace(0.0, 0.4, 6)  # a later rise wider than the pair's fall
    assert np.flatnonzero(spike_mask(level, 0.005)).tolist() == [2, 3]


def test_a_cliff_and_a_ramp_back_is_a_dip_not_a_failed_pair():
    """A dip that strikes at once and recovers over evaluations (an SB3 hexapod reward: -58.79,
    -56.81, -44.72, then -94.61, -79.58, -60.31, -52.56, -34.58 on its way up): the reading
    after the pair lies 4.8 noise sds and 0.31 of the pair's depth below the one before it, and
    the run goes on back from there. It was left out as a failed pair and the run read as one
    rise. A failed pair after which the run is back where it was, or one whose next reading is
    low by noise alone (a tenth of the pair's depth), is still left out; so is its mirror; and
    so is a reading above a rising run whose next reading lies past the one before it only by the
    trend and stays there."""
    reward = np.r_[-58.79, -56.81, -44.72, -94.61, -79.58, -60.31, -52.56, -34.58, -28.26,
                   -30.46, -22.76, -29.47, -30.55, -25.35, -7.54, -1.68, 5.67, -4.26]
    assert not spike_mask(reward, 3.27).any()
    back = reward.copy()
    back[5] = -50.0  # within 2 sds of where the run left: failed readings
    assert np.flatnonzero(spike_mask(back, 3.27)).tolist() == [3, 4]
    flat = np.r_[0.35, 0.352, 0.355, 0.353, 0.0, 0.0, 0.318, 0.345, 0.35, 0.351, 0.349, 0.352]
    assert np.flatnonzero(spike_mask(flat, 0.008)).tolist() == [4, 5]
    assert np.flatnonzero(spike_mask(1.0 - flat, 0.008)).tolist() == [4, 5]
    rising = np.r_[0.554, 0.556, 0.582, 0.63, 0.642, 0.654, 0.698, 0.68, 0.678, 0.668, 0.67, 0.71,
                   0.732]  # sample_logs/rl, steps 150-270
    assert np.flatnonzero(spike_mask(rising, 0.0052)).tolist() == [6]
