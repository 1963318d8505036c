"""Every synthetic family under every regime: deterministic, each regime produces what it
claims, and the truth agrees with the noiseless curve it was drawn from."""

import itertools

import numpy as np
import pytest

from phasewatch import synth, synth_logistic, synth_powerlaw
from phasewatch.synth_regimes import (
    CAP,
    CONTROL_KINDS,
    KIND_PHASES,
    REGIMES,
    regime_phases,
    truth_phases,
)

FAMILIES = {"synth": synth.generate_regime, "logistic": synth_logistic.generate_regime,
            "powerlaw": synth_powerlaw.generate_regime}
SEEDS = range(4)


def runs(family, regime, kinds=None, seeds=SEEDS):
    for kind in kinds or REGIMES[regime].kinds():
        for seed in seeds:
            yield FAMILIES[family](kind, regime, seed)


def values(s):
    return s.run.series(s.metric).to_numpy()


def better(s):
    """The noiseless curve turned higher-is-better."""
    return s.truth["curve"] * (1.0 if s.direction == "max" else -1.0)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("regime", REGIMES)
def test_truth_is_consistent_with_the_curve(family, regime):
    for s in runs(family, regime):
        t, steps = s.truth, s.truth["curve_steps"]
        names = [p[0] for p in t["phases"]]
        assert names == list(regime_phases(t["kind"], REGIMES[regime]))
        assert t["phases"][0][1] == steps[0] and t["phases"][-1][2] == steps[-1]
        for (_, _, end), (_, start, _) in itertools.pairwise(t["phases"]):
            assert end == start and start in set(steps.tolist())
        assert t["start"] == t["curve"][0]  # the true start: the noiseless first evaluation
        assert np.isfinite(values(s)).all() and len(values(s)) == steps.size
        q, sd = better(s), t["noise_sd"]
        at = {b: int(np.searchsorted(steps, b)) for _, _, b in t["boundaries"]}
        for a, b, step in t["boundaries"]:
            i = at[step]
            if b == "plateau":  # the first evaluation within one sd of the settled level
                assert abs(q[i] - q[-1]) <= sd and abs(q[i - 1] - q[-1]) > sd
            elif b == "readaptation":  # the trough
                assert q[i] == q[: i + 1].min() and q[i] < q[0]
            elif b == "overfit" and a != "plateau":  # the peak
                assert q[i] == q.max() and q[-1] < q[i]


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_run_other_seed_other_run(family):
    for regime in ("sparse", "binomial", "outliers"):
        a, b = FAMILIES[family]("three_phase", regime, 7), FAMILIES[family]("three_phase", regime, 7)
        assert a.run.table.equals(b.run.table)
        assert a.truth["phases"] == b.truth["phases"]
        assert np.array_equal(a.truth["curve"], b.truth["curve"])
        c = FAMILIES[family]("three_phase", regime, 8)
        assert not np.array_equal(values(a)[: len(values(c))], values(c)[: len(values(a))])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("regime,lo,hi", [("sparse", 3, 12), ("medium", 13, 40),
                                          ("dense", 41, 300)])
def test_evaluation_counts(family, regime, lo, hi):
    counts = [len(values(s)) for s in runs(family, regime, seeds=range(6))]
    assert lo <= min(counts) and max(counts) <= hi
    flat = [len(values(s)) for s in runs(family, regime, ["flat", "monotone"], range(20))]
    quarter = (hi - lo) // 4  # both ends of the range are drawn, not only the middle
    assert min(flat) <= lo + quarter and max(flat) >= hi - quarter


@pytest.mark.parametrize("family", FAMILIES)
def test_step0_only_in_the_step0_regime_and_the_change_starts_at_once(family):
    for s in runs(family, "step0"):
        assert s.truth["curve_steps"][0] == 0 == s.run.series(s.metric).index[0]
        q = better(s)
        if s.truth["kind"] in ("three_phase", "dip_recover", "dip_no_recovery"):
            # well below the start within the first two evaluations after it
            assert min(q[1], q[2]) < q[0] - s.truth["noise_sd"]
        if s.truth["kind"] in ("three_phase", "dip_recover"):  # the trough at one of them
            assert s.truth["boundaries"][0][2] <= s.truth["curve_steps"][2]
    assert all(s.truth["curve_steps"][0] > 0 for s in runs(family, "medium"))


@pytest.mark.parametrize("family", FAMILIES)
def test_binomial_values_are_counts_over_a_fixed_prompt_set(family):
    for s in runs(family, "binomial"):
        n = s.truth["prompts"]
        assert 100 <= n <= 1000
        v = values(s) * n
        assert np.allclose(v, np.round(v), atol=1e-6)
        assert ((0 <= values(s)) & (values(s) <= 1)).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_bounded_rates_reach_a_bound_and_capped_lengths_sit_on_the_cap(family):
    at_bound = []
    for s in runs(family, "bounded"):
        v, curve = values(s), s.truth["curve"]
        if s.truth["kind"] == "capped":
            assert s.metric == "eval/response_length" and v.max() <= CAP
            assert curve.max() == CAP and (v == CAP).sum() >= 3  # observed exactly at the cap
            assert curve[0] < CAP - 3 * s.truth["noise_sd"]
            continue
        assert ((0 <= v) & (v <= 1)).all()
        assert curve.min() == pytest.approx(0, abs=1e-12) or curve.max() == pytest.approx(1)
        at_bound.append(((v == 0) | (v == 1)).any())
    assert np.mean(at_bound) >= 0.25  # observed exactly at 0 or 1 (where the curve sits there)


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_regime_saturates_in_the_first_tenth_without_corners(family):
    for s in runs(family, "fast", ["saturating", "improve_plateau", "dip_no_recovery"]):
        steps, q = s.truth["curve_steps"], better(s)
        settle = s.truth["boundaries"][0][2]
        tenth = steps[0] + 0.1 * (steps[-1] - steps[0])
        assert settle <= steps[np.searchsorted(steps, tenth)]  # the first evaluation after it
        slope = np.abs(np.diff(q) / np.diff(steps))
        early = steps[1:] <= settle
        # an exponential / tanh approach: the speed falls at every evaluation (no straight piece)
        assert (np.diff(slope[early]) < 0).all() and (np.diff(slope) <= 1e-12).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_ar1_noise_is_autocorrelated_and_white_noise_is_not(family):
    def lag1(regime):
        r = []
        for s in runs(family, regime, ["flat"], range(12)):
            e = values(s) - s.truth["curve"]
            r.append(np.corrcoef(e[:-1], e[1:])[0, 1])
        return float(np.mean(r))
    assert lag1("ar1") > 0.25
    assert abs(lag1("dense")) < 0.15


@pytest.mark.parametrize("family", FAMILIES)
def test_outliers_are_failed_evaluations_away_from_ends_and_boundaries(family):
    for s in runs(family, "outliers"):
        steps, out = s.truth["curve_steps"], s.truth["outlier_steps"]
        assert 1 <= len(out) <= 2
        cuts = {b for _, _, b in s.truth["boundaries"]}
        series = s.run.series(s.metric)
        for step in out:
            assert step not in cuts and steps[0] < step < steps[-1]
            i = int(np.searchsorted(steps, step))
            assert series[step] <= 0.3 * s.truth["curve"][i]  # absurdly low
        normal = np.setdiff1d(steps, out)
        resid = series[normal].to_numpy() - s.truth["curve"][np.searchsorted(steps, normal)]
        assert np.abs(resid).max() < 8 * s.truth["noise_sd"]


@pytest.mark.parametrize("family", FAMILIES)
def test_lower_is_better_runs_are_losses_with_mirrored_truth(family):
    for s in runs(family, "lower", ["three_phase", "decline_from_start"]):
        assert s.direction == "min" and s.metric == "eval/loss" and (values(s) > 0).all()
        curve = s.truth["curve"]
        if s.truth["kind"] == "three_phase":
            i = int(np.searchsorted(s.truth["curve_steps"], s.truth["boundaries"][0][2]))
            assert curve[i] > curve[0]  # the disruption is a loss peak
        else:
            assert curve[-1] > curve[0]  # held-out loss rises from the start


@pytest.mark.parametrize("family", FAMILIES)
def test_decline_from_start_while_train_loss_falls(family):
    for regime in ("sparse", "medium", "dense"):
        for s in runs(family, regime, ["decline_from_start"]):
            q = better(s)
            assert (np.diff(q) < 0).all()  # worse at every evaluation, from the first
            assert q[0] - q[-1] >= 5 * s.truth["noise_sd"]
            steps = s.truth["curve_steps"]
            i = int(np.searchsorted(steps, steps[0] + 2 / 3 * (steps[-1] - steps[0])))
            assert q[i] - q[-1] >= 0.15 * (q[0] - q[-1])  # steady: still declining at the end
            train = s.run.series("train/loss").to_numpy()
            assert train[: len(train) // 4].mean() > train[-len(train) // 4:].mean()


@pytest.mark.parametrize("family", FAMILIES)
def test_late_decline_is_flat_then_declines_in_the_last_third(family):
    for s in runs(family, "medium", ["late_decline"]):
        steps, q = s.truth["curve_steps"], better(s)
        onset = s.truth["boundaries"][0][2]
        i = int(np.searchsorted(steps, onset))
        assert onset - steps[0] >= 0.55 * (steps[-1] - steps[0])
        assert np.ptp(q[: i + 1]) < 0.5 * s.truth["noise_sd"]
        assert q[i] - q[-1] >= 5 * s.truth["noise_sd"] and (np.diff(q[i:]) < 0).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_controls_are_what_they_say(family):
    for s in runs(family, "medium", ["flat", "monotone", "saturating"]):
        q = better(s)
        if s.truth["kind"] == "flat":
            assert np.ptp(q) == 0
        else:  # rising (a saturating curve may reach its level to float precision)
            rising = np.diff(q) > 0 if s.truth["kind"] == "monotone" else np.diff(q) >= 0
            assert rising.all() and q[-1] - q[0] >= 5 * s.truth["noise_sd"]
    assert set(CONTROL_KINDS) == {"flat", "monotone", "saturating", "capped"}


def test_truth_rejects_a_curve_that_cannot_show_its_kind():
    steps = np.arange(6) * 10
    with pytest.raises(ValueError, match="does not show its phases"):
        truth_phases("three_phase", steps, np.linspace(0, 1, 6), 0.01)  # no dip, no decline
    with pytest.raises(ValueError, match="onset"):
        truth_phases("late_decline", steps, np.zeros(6), 0.01)


def test_unknown_regime_or_kind_outside_its_regime_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown regime"):
        synth.generate_regime("flat", "nightly", 0)
    for make in FAMILIES.values():
        with pytest.raises(ValueError, match="not generated in regime 'sparse'"):
            make("capped", "sparse", 0)


def test_legacy_logistic_family_is_deterministic_and_dense():
    a = synth_logistic.generate_legacy("three_phase", 3, 120)
    b = synth_logistic.generate_legacy("three_phase", 3, 120)
    assert a.run.table.equals(b.run.table) and a.truth["phases"] == b.truth["phases"]
    assert [p[0] for p in a.truth["phases"]] == list(KIND_PHASES["three_phase"])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("regime", ["medium", "binomial", "bounded", "lower", "ar1", "step0"])
def test_start_sd_is_the_noise_of_the_first_evaluation(family, regime):
    z = np.array([(values(s)[0] - s.truth["start"]) / s.truth["start_sd"]
                  for s in runs(family, regime, seeds=range(6))])
    assert np.mean(np.abs(z) <= 3) >= 0.9
    assert 0.6 <= z[z != 0].std() <= 1.5  # (a rate sitting exactly on 0 or 1 reads exactly)


@pytest.mark.parametrize("family", FAMILIES)
def test_binomial_rates_stay_inside_and_keep_detectable_effects(family):
    for s in runs(family, "binomial", ["three_phase", "dip_recover", "overfit_only"], range(10)):
        curve = s.truth["curve"]
        assert 0.02 - 1e-9 <= curve.min() and curve.max() <= 0.98 + 1e-9  # shrunk, not clipped
        assert np.ptp(curve) >= 5 * s.truth["noise_sd"]
