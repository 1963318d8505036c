"""The power-law family (`phasewatch.synth_powerlaw`): its own ways of drawing a run (schedules,
doubling cadences, asymmetric disruptions, noise bursts, multiplicative loss noise). The
properties every family must have are checked for it in test_synth_regimes.py.

`python tests/test_synth_powerlaw.py out.png` draws a few runs of each kind to look at."""

import sys

import numpy as np
import pytest

from phasewatch.synth_powerlaw import Schedule, generate_regime
from phasewatch.synth_regimes import REGIMES, regime_phases


def runs(regime, kinds=None, seeds=range(4)):
    return [generate_regime(k, regime, s) for k in kinds or REGIMES[regime].kinds() for s in seeds]


@pytest.mark.parametrize("regime", REGIMES)
def test_every_kind_generates_deterministically_with_its_phases(regime):
    for kind in REGIMES[regime].kinds():
        for seed in range(3):
            a, b = generate_regime(kind, regime, seed), generate_regime(kind, regime, seed)
            assert a.run.table.equals(b.run.table) and a.truth["phases"] == b.truth["phases"]
            assert [p[0] for p in a.truth["phases"]] == list(regime_phases(kind, REGIMES[regime]))
            assert a.truth["family"] == "powerlaw"


def test_sparse_runs_have_3_to_12_evaluations_and_step0_runs_start_at_0():
    assert all(3 <= len(s.run.series(s.metric)) <= 12 for s in runs("sparse"))
    assert all(s.run.series(s.metric).index[0] == 0 for s in runs("step0"))


def test_binomial_values_are_multiples_of_one_over_the_prompt_count():
    for s in runs("binomial"):
        counts = s.run.series(s.metric).to_numpy() * s.truth["prompts"]
        assert np.allclose(counts, np.round(counts), atol=1e-9)


def test_lower_regime_is_a_loss_that_falls_as_the_model_improves():
    for s in runs("lower", ["improve_plateau", "monotone", "overfit_only"]):
        assert (s.metric, s.direction) == ("eval/loss", "min")
        curve = s.truth["curve"]
        if s.truth["kind"] == "overfit_only":
            assert curve.min() < curve[0] and curve[-1] > curve.min()
        else:
            assert curve[-1] < curve[0]


def test_cadences_are_regular_or_doubling_over_thousands_of_steps():
    styles = set()
    for s in runs("medium", seeds=range(10)):
        steps = s.truth["curve_steps"]
        gaps = np.unique(np.diff(steps))
        assert steps[-1] >= 1000
        styles.add(s.truth["cadence"])
        if s.truth["cadence"] == "regular":
            assert gaps.size == 1
        else:  # each interval is twice the one before it
            assert gaps.size >= 2 and np.allclose(gaps[1:] / gaps[:-1], 2.0, atol=0.05)
    assert styles == {"regular", "doubling"}


def test_schedules_warm_up_and_anneal():
    u = np.linspace(0.0, 1.0, 101)
    cosine = Schedule("cosine", warmup=0.05, floor=0.1)
    assert cosine.rate(u)[0] == 0.0 and cosine.rate(u).max() == pytest.approx(1.0, abs=0.01)
    assert cosine.rate(u)[-1] == pytest.approx(0.1)
    clock = cosine.progress(u)
    assert clock[0] == 0.0 and clock[-1] == pytest.approx(1.0) and (np.diff(clock) > 0).all()
    # progress is slow in the warm-up and as the rate anneals, fastest at the peak rate
    assert np.diff(clock)[:3].max() < np.diff(clock)[10] > np.diff(clock)[-3:].max()
    step = Schedule("step", floor=0.25, milestones=(0.5, 0.75))
    assert np.allclose(step.rate(np.array([0.4, 0.6, 0.9])), [1.0, 0.5, 0.25])
    kinds = {s.truth["schedule"] for s in runs("dense", seeds=range(6))}
    assert kinds == {"constant", "cosine", "step"}


def test_disruptions_fall_fast_and_recover_slowly():
    for s in runs("dense", ["dip_recover"], range(8)):
        steps, q = s.truth["curve_steps"], s.truth["curve"]
        trough = int(np.argmin(q))
        depth, back = q[0] - q[trough], q[-1] - q[trough]
        started = int(np.argmax(q < q[0] - 0.1 * depth))     # 10% of the way down
        recovered = trough + int(np.argmax(q[trough:] > q[trough] + 0.9 * back))  # 90% back
        assert steps[trough] - steps[started] < steps[recovered] - steps[trough]


def test_noise_bursts_are_louder_and_the_first_evaluation_is_plain():
    inside, outside = [], []
    for s in runs("dense", ["flat", "late_decline", "monotone"], range(12)):
        if s.truth["noise"] != "bursts":
            continue
        steps = s.truth["curve_steps"]
        z = (s.run.series(s.metric).to_numpy() - s.truth["curve"]) / s.truth["noise_sd"]
        loud = np.isin(steps, s.truth["loud_steps"])
        assert not loud[0]
        inside += z[loud].tolist()
        outside += z[~loud].tolist()
    assert len(inside) >= 20
    assert np.std(inside) > 1.7 * np.std(outside) and 0.8 < np.std(outside) < 1.2


def test_a_loss_has_multiplicative_noise():
    for s in runs("lower", ["flat", "monotone"], range(6)):
        ratio = s.run.series(s.metric).to_numpy() / s.truth["curve"]
        assert (ratio > 0).all() and abs(np.log(ratio).mean()) < 0.02


def plot_runs(path):
    """A run of each kind in four regimes (a capped length: bounded) with its true boundaries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = REGIMES["bounded"].kinds()
    regimes = ["sparse", "medium", "dense", "lower"]
    fig, axes = plt.subplots(len(kinds), len(regimes), figsize=(16, 2.1 * len(kinds)))
    for row, kind in enumerate(kinds):
        for col, regime in enumerate(["bounded"] * 4 if kind == "capped" else regimes):
            s, ax = generate_regime(kind, regime, 100 + col), axes[row, col]
            series = s.run.series(s.metric)
            ax.plot(s.truth["curve_steps"], s.truth["curve"], color="0.6")
            ax.plot(series.index, series.to_numpy(), ".", ms=3)
            for _, name, step in s.truth["boundaries"]:
                ax.axvline(step, color="r", lw=0.6)
            ax.set_title(f"{kind} / {regime} / {s.truth['schedule']} {s.truth['cadence']} "
                         f"{s.truth['noise']}", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def test_plot_of_runs_renders(tmp_path):
    plot_runs(tmp_path / "runs.png")
    assert (tmp_path / "runs.png").stat().st_size > 20_000


if __name__ == "__main__":
    plot_runs(sys.argv[1] if len(sys.argv) > 1 else "/tmp/powerlaw_runs.png")
