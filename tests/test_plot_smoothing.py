"""The smoothed line: centred, its width in training steps whatever the spacing, cut at known
events, and starting where the data starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phasewatch.plot import Smoothing, compare_figure

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------- smoothing


def test_gaussian_smoothing_is_centred_and_ema_matches_pandas():
    import pandas as pd

    x = np.arange(101, dtype=float)
    bump = np.exp(-0.5 * ((x - 40) / 8) ** 2)
    smoothed = Smoothing("gaussian", 3).apply(bump)
    assert int(np.argmax(smoothed)) == 40  # no lag: the peak stays where it is
    line = 2 * x + 1
    # symmetric windows everywhere, up to the ends: a straight line is left as it is
    assert np.allclose(Smoothing("gaussian", 3).apply(line), line)
    noisy = bump + np.random.default_rng(0).normal(0, 0.1, x.size)
    noisy[7] = np.nan
    ema = Smoothing("ema", 5).apply(noisy)
    expected = pd.Series(noisy).ewm(halflife=5, adjust=True, ignore_na=True).mean().to_numpy().copy()
    expected[7] = np.nan
    assert np.allclose(ema, expected, equal_nan=True)
    assert Smoothing("gaussian", 30).describe() == "Gaussian smooth, sd 30 steps"
    assert Smoothing("ema", 2).describe() == "EMA, half-life 2 steps"
    assert Smoothing().resolved(0, 2000).describe() == "Gaussian smooth, sd 33 steps"
    # known events cut the window: a jump at the switch stays a jump
    steps = np.arange(0, 200, 10)
    jump = np.where(steps <= 100, 1.0, 0.0)
    cut = Smoothing("gaussian", 30).apply(jump, steps, breaks=[100.5])
    assert cut.tolist() == jump.tolist()
    assert Smoothing("gaussian", 30).apply(jump, steps)[10] < 1.0  # without the cut it is blurred
    assert Smoothing("gaussian").apply(np.array([1.0, 2.0])).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        Smoothing("median")


def test_the_width_is_in_steps_whatever_the_spacing():
    """sd 30 steps is 30 points of a per-step series and 3 points of one logged every 10."""
    rng = np.random.default_rng(1)
    dense_steps = np.arange(0, 1000)
    sparse_steps = dense_steps[::10]
    dense = rng.normal(0, 1, dense_steps.size)
    sparse = dense[::10]
    smoothing = Smoothing("gaussian", 30)
    assert np.allclose(smoothing.apply(dense, dense_steps)[100:-100],
                       Smoothing("gaussian", 30).apply(dense)[100:-100])
    assert np.allclose(smoothing.apply(sparse, sparse_steps)[10:-10],
                       Smoothing("gaussian", 3).apply(sparse)[10:-10])


def test_a_fast_fall_starts_the_line_at_the_first_value():
    """No edge effect: a run falling right after step 0 is drawn starting where its data starts
    (a one-sided window started the sample SFT arm at 0.49 instead of 0.546)."""
    steps = np.arange(0, 2000, 10)
    values = np.where(steps < 30, 0.546, 0.546 * np.exp(-(steps - 30) / 30))
    line = Smoothing("gaussian", 33).apply(values, steps)
    assert line[0] == pytest.approx(0.546)
    assert line[-1] == pytest.approx(values[-1], abs=1e-9)
    for arm in ("sft", "chord_mu", "rl"):
        import phasewatch

        run = phasewatch.read_run(ROOT / "sample_logs" / arm)
        fig = compare_figure([run], size="single")
        (drawn,) = [ln for ln in fig.axes[0].lines if ln.get_gid() == "smoothed"]
        assert drawn.get_ydata()[0] == pytest.approx(run.series("eval/accuracy").iloc[0])


def _run_with_epochs(n_epochs: int):
    """A run of 200 evaluations of a noisy plateau with `n_epochs` epoch boundaries."""
    from phasewatch.run import Event, Run

    steps = np.arange(200, dtype=np.int64) * 10
    values = 0.6 + np.random.default_rng(0).normal(0, 0.02, steps.size)
    run = Run.from_columns({"eval/accuracy": (steps, values)}, "epochs", "test")
    every = steps.size // n_epochs
    run.events = [Event(step=int(steps[k * every]), name="epoch_boundary",
                        detail=f"epoch {k} begins") for k in range(1, n_epochs)]
    return run


def test_epoch_boundaries_neither_cut_the_smoothing_nor_bury_the_data():
    """An epoch boundary is no jump of a held-out metric: the line is smoothed across it (cut
    there, it ended in a raw reading at every boundary); beyond 10 boundaries none is drawn."""
    from phasewatch.api import analyze
    from phasewatch.plot import phase_figure

    few = _run_with_epochs(4)
    fig = phase_figure(few, analyze(few))
    smoothed = next(line for line in fig.axes[0].lines if line.get_gid() == "smoothed")
    xs, ys = np.asarray(smoothed.get_xdata()), np.asarray(smoothed.get_ydata())
    raw = few.series("eval/accuracy")
    for event in few.events:
        k = int(np.searchsorted(xs, event.step))
        # smoothed across: the line there is not the raw reading (its sd is 0.02)
        assert abs(ys[k] - raw[event.step]) < 0.05 and ys[k] != pytest.approx(raw[event.step])
        assert abs(ys[k - 1] - ys[k]) < 0.01  # no step in the line either
    assert sum(line.get_gid() == "event" for line in fig.axes[0].lines) == 3
    many = _run_with_epochs(40)
    fig = phase_figure(many, analyze(many))
    assert not any(line.get_gid() == "event" for line in fig.axes[0].lines)


def test_the_last_row_ending_an_epoch_begins_none():
    """Trial 36b: a one-epoch run's last row (epoch 1.0, the end of training) drew an "epoch
    boundary" at its last step. A boundary is where an epoch begins, with rows after it."""
    from phasewatch.epochs import epoch_boundaries

    assert epoch_boundaries([(0, 0.0), (350, 0.5), (703, 1.0)]) == []
    [begins] = epoch_boundaries([(0, 0.0), (350, 0.5), (703, 1.0), (800, 1.14)])
    assert (begins.step, begins.detail) == (703, "epoch 1 begins")
    [mid] = epoch_boundaries([(0, 0.0), (600, 0.86), (800, 1.14), (1400, 2.0)])
    assert mid.detail == "epoch 1 begins"


def test_the_runs_last_stretch_ends_on_a_local_line_not_its_last_reading():
    """Trials 36b / 37b: a GRPO batch reward's line dived from 1.72 to its last batch's 1.375,
    a crash that is one noisy reading. The last stretch ends on a local line: a flat noisy run
    ends near its level, a steady trend at the trend's own end."""
    rng = np.random.default_rng(2)
    steps = np.arange(0, 2000)
    flat = 1.7 + rng.normal(0, 0.3, steps.size)
    flat[-1] = 1.0  # an unlucky last batch
    line = Smoothing("gaussian", 33).apply(flat, steps)
    assert abs(line[-1] - 1.7) < 0.15 and abs(line[-1] - flat[-1]) > 0.5
    trend = 0.5 + steps / 4000 + rng.normal(0, 0.05, steps.size)
    line = Smoothing("gaussian", 33).apply(trend, steps)
    assert abs(line[-1] - (0.5 + steps[-1] / 4000)) < 0.05  # a one-sided mean: 0.02 short
    # a cut keeps its ends the data's own (a jump stays a jump)
    jump = np.where(steps < 1000, 0.0, 1.0)
    assert Smoothing("gaussian", 33).apply(jump, steps, breaks=[999.5])[999] == 0.0


def test_a_run_logged_by_epoch_is_joined_by_lines_not_smoothed_a_whole_epoch_wide():
    """Trial 39c: 19 epochs logged as steps 0-18 took the one-step floor of the default width,
    a Gaussian as wide as the spacing: a V's bottom at epoch 2 drew at epoch 3."""
    epochs = np.arange(10)
    smoothing = Smoothing().resolved(0, 9)
    assert smoothing.describe(epochs) == "evaluations joined by lines (1 step apart)"
    v = np.array([1.39, 1.124, 1.174, 1.239, 1.394, 1.51, 1.63, 1.74, 1.85, 1.95])
    assert int(np.argmin(smoothing.apply(v, epochs))) == 1


def test_the_local_line_at_the_end_stays_within_the_values_it_follows():
    """trl-grpo-redteam: a GRPO batch reward pinned at 0 with a 0.0625 batch four steps before
    the end; the local line through the last stretch drew the last step at -0.0025, a reward
    below any the run can take. A bounded metric saturating at its ceiling is the mirror case."""
    steps = np.arange(1, 101)
    pinned = np.zeros(steps.size)
    pinned[[80, 96]] = 0.0625
    line = Smoothing("gaussian", 2).apply(pinned, steps)
    assert line.min() >= 0.0 and line[-1] == 0.0
    ceiling = np.minimum(1.0, np.linspace(0.6, 1.3, steps.size))
    ceiling[[90, 94]] = 0.96
    line = Smoothing("gaussian", 2).apply(ceiling, steps)
    assert line.max() <= 1.0 and line[-1] == 1.0


def test_the_line_passes_each_evaluation_of_a_sparse_run_within_its_noise():
    """jsonl-cs336-prenorm-valloss-51: a from-scratch LM's val loss, 9.27 at step 0 (before
    any update), 3.01 at step 200, 2.37 at 400, then a slow fall with noise sd ~0.01; the
    line drew 4.39 at step 200, over a hundred noise sds above the point it stands for. It
    now passes each evaluation within 4 noise sds, while a noisy stretch is still smoothed:
    the held band is each point's own noise, not a copy of the points."""
    from phasewatch.analysis import analyze_run
    from phasewatch.outliers import local_scale
    from phasewatch.plot import phase_figure
    from phasewatch.run import Run

    rng = np.random.default_rng(0)
    steps = np.arange(0, 10001, 200)
    loss = 1.3 + 1.7 * np.exp(-(steps - 200) / 1500.0) + rng.normal(0, 0.01, steps.size)
    loss[0] = 9.27
    run = Run.from_columns({"val_loss": (steps, loss)}, "lm", "test")
    analysis = analyze_run(run, metric="val_loss")
    fig = phase_figure(run, analysis)
    (line,) = [ln for ln in fig.axes[0].lines if ln.get_gid() == "smoothed"]
    drawn, sd = np.asarray(line.get_ydata()), analysis.extra["noise_sd"]
    assert abs(drawn[1] - loss[1]) <= 4 * sd + 1e-12, (drawn[1], loss[1], sd)  # was 1.9 off
    assert np.all(np.abs(drawn - loss) <= 4 * local_scale(loss, sd) + 1e-12)
    assert np.max(np.abs(drawn[5:] - loss[5:])) > 0.01  # the slow part is still smoothed


def test_a_cliff_onto_a_constant_floor_is_drawn_at_the_evaluations_on_each_side():
    """csv-lightning-yolov3-valacc-35: a class accuracy at ~32.4 for 4 evaluations, then
    exactly 3.6657 at each of the 31 after (the run diverged). Most differences are exact
    repeats, so a stretch's noise is their mean absolute size, which the cliff alone set: the
    held band was 4 x 1.3 wide, and the line drew ~28 at the last 32.3 and ~8 at the first
    3.67, the fall as a slope across two evaluations. Each stretch's largest difference is now
    left out of its noise: the line passes both within 4 of the run's noise sds."""
    from phasewatch.analysis import analyze_run
    from phasewatch.plot import phase_figure
    from phasewatch.run import Run

    steps = np.arange(930, 930 * 36, 931)
    acc = np.array([32.4055, 32.3260, 32.7978, 32.2743] + [3.66571] * 31)
    run = Run.from_columns({"val_accuracy": (steps, acc)}, "yolo", "test")
    analysis = analyze_run(run, metric="val_accuracy")
    fig = phase_figure(run, analysis)
    (line,) = [ln for ln in fig.axes[0].lines if ln.get_gid() == "smoothed"]
    drawn, sd = np.asarray(line.get_ydata()), analysis.extra["noise_sd"]
    assert sd < 1.0
    assert np.all(np.abs(drawn - acc) <= 4 * sd + 1e-9), (drawn[2:6], acc[2:6], sd)
