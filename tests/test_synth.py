"""The synthetic generator: truth is consistent with the curve it draws, options are honoured."""

import itertools

import numpy as np
import pytest

from phasewatch import synth


@pytest.mark.parametrize("kind", synth.KINDS)
def test_truth_phases_are_contiguous_and_match_the_kind(kind):
    s = synth.generate(kind, seed=3, n_points=120)
    phases = s.truth["phases"]
    assert [p[0] for p in phases] == list(synth.KIND_PHASES[kind])
    assert phases[0][1] == 0
    assert phases[-1][2] == int(s.truth["curve_steps"][-1])
    for (_, _, end), (_, start, _) in itertools.pairwise(phases):
        assert end == start


def test_three_phase_curve_has_trough_then_peak_then_decline():
    s = synth.generate("three_phase", seed=5, n_points=200, shape="cosine", noise_sd=0.01)
    steps, curve = s.truth["curve_steps"], s.truth["curve"]
    trough, peak = s.truth["trough_step"], s.truth["peak_step"]
    assert steps[np.argmin(curve)] == pytest.approx(trough, abs=2 * s.truth["eval_every"])
    assert steps[np.argmax(curve)] == pytest.approx(peak, abs=2 * s.truth["eval_every"])
    assert curve[0] - curve.min() >= 5 * 0.01
    assert curve.max() - curve[-1] >= 5 * 0.01
    assert s.truth["overfit_onset_step"] == peak


def test_loss_kind_is_lower_is_better():
    s = synth.generate("three_phase_loss", seed=1, n_points=100)
    assert s.direction == "min" and s.metric == "eval/loss"
    curve = s.truth["curve"]
    assert np.argmax(curve) < np.argmin(curve)  # the dip is a loss peak, the best is a minimum


def test_sparse_eval_keys_and_train_metrics_every_step():
    s = synth.generate("three_phase", seed=2, n_points=50, eval_every=10)
    acc = s.run.series("eval/accuracy", finite=False)
    assert set(np.diff(acc.index.to_numpy())) == {10}
    assert len(s.run.series("train/reward")) == 491


def test_resume_block_is_resolved_and_reported():
    s = synth.generate("three_phase", seed=4, n_points=100, eval_every=1, resume=True,
                       nan_rate=0.0, outlier_rate=0.0)
    assert [e.name for e in s.run.events] == ["resume"]
    acc = s.run.series("eval/accuracy")
    assert acc.index.is_unique and len(acc) == 100
    # the surviving values are the second copy, close to the true curve (stale copy is far off)
    resid = acc.to_numpy() - s.truth["curve"]
    assert np.abs(resid).max() < 6 * s.truth["noise_sd"]


def test_same_seed_same_run_and_controls_have_no_trend_phases():
    a = synth.generate("flat", seed=9, n_points=80)
    b = synth.generate("flat", seed=9, n_points=80)
    assert a.run.table.equals(b.run.table)
    assert a.truth["phases"] == [("plateau", 0, int(a.truth["curve_steps"][-1]))]
    assert np.ptp(a.truth["curve"]) == 0
