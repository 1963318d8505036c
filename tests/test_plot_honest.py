"""What a paper figure claims matches the data: the smoothed line keeps the trough and peak the
phases are defined by (the disruption's trough), raw values are drawn or their absence is stated per run, runs of
different metrics keep their own step ranges in the grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plot_inputs import gids, make_analysis, make_other_run, make_run

import phasewatch
from phasewatch.plot import Smoothing, compare_figure, figure_data, phase_figure
from phasewatch.run import RecordCollector

ROOT = Path(__file__).resolve().parents[1]


def smoothed(ax):
    return [ln for ln in ax.lines if ln.get_gid() == "smoothed"]


def test_the_smoothed_line_turns_where_the_data_turn():
    """The sample SFT run falls from 0.546 to ~0.02 in 70 steps: a window across the trough
    draws it at ~0.10. Cut at the trough (the disruption's end), the line reaches the trough
    the raw values show, and is still smoothed elsewhere."""
    run = phasewatch.read_run(ROOT / "sample_logs" / "sft")
    analysis = phasewatch.analyze(run)
    series = run.series("eval/accuracy")
    fig = phase_figure(run, analysis, panels=None)
    (line,) = smoothed(fig.axes[0])
    y = line.get_ydata()
    assert y.min() <= series.min() + 0.02
    uncut = Smoothing().resolved(0, 2000).apply(series.to_numpy(), series.index.to_numpy())
    assert uncut.min() > series.min() + 0.05  # what the window across the trough drew
    assert np.std(y - series.to_numpy()) > 0.005  # still a smoothed line, not the raw values
    # the one cut is the trough, not every change point
    from phasewatch.plot.smoothing import smoothing_breaks

    trough = next(p.end_step for p in analysis.phases if p.name == "disruption")
    assert smoothing_breaks(run.events, analysis) == [trough + 0.5]
    # the comparison draws it the same way, given the analysis
    fig = compare_figure([run], analyses=[analysis])
    assert np.allclose(smoothed(fig.axes[0])[0].get_ydata(), y)


def dense_run(name="rl", n=300):
    rng = np.random.default_rng(5)
    collector = RecordCollector(f"mem:{name}", "test")
    for step in range(n):
        collector.add(step * 3, {"eval/accuracy": 0.5 + step / 1000 + rng.normal(0, 0.02)})
    return collector.build(name=name, algorithm=name, performance_metric="eval/accuracy",
                           direction="max")


def test_raw_values_are_drawn_per_run_or_their_absence_stated():
    sparse, dense = make_run("sft", n=100, extras=False), dense_run()
    fig = compare_figure([sparse, dense])
    raw = [ln for ln in fig.axes[0].lines if ln.get_gid() == "raw"]
    assert len(raw) == 1 and raw[0].get_xdata().size == 100  # the sparse run's dots only
    title = fig.legends[0].get_title().get_text()
    assert "raw values not drawn for runs of > 200 values" in title
    assert "raw values" in [t.get_text() for t in fig.legends[0].get_texts()]
    # nothing hidden: nothing stated
    fig = compare_figure([sparse, make_run("rl", n=100, seed=1, extras=False)])
    assert "not drawn" not in fig.legends[0].get_title().get_text()
    # seed groups draw no raw values: said so
    seeds = [make_run("sft", n=100, seed=s, extras=False) for s in range(2)]
    fig = compare_figure(seeds, labels=["SFT", "SFT"])
    assert "seed groups" in fig.legends[0].get_title().get_text()
    assert not [ln for ln in fig.axes[0].lines if ln.get_gid() == "raw"]


def test_grid_of_different_metrics_keeps_each_runs_step_range():
    runs = [make_run("sft_then_rl", extras=False), make_other_run()]  # steps 0-995 and 5-250
    fig = compare_figure(runs, analyses=[make_analysis(runs[0]), make_analysis(runs[1])],
                         layout="grid", size="full")
    first, second = [ax for ax in fig.axes if ax.get_visible()][:2]
    assert first.get_xlim()[1] > 990 and second.get_xlim()[1] < 260
    assert second.get_xlabel() == "training step"  # its own axis, labelled
    # arms of one experiment (one metric) still share the step axis
    arms = [make_run("sft", extras=False), make_run("rl", n=150, seed=1, extras=False)]
    fig = compare_figure(arms, layout="grid")
    a, b = [ax for ax in fig.axes if ax.get_visible()][:2]
    assert a.get_xlim() == b.get_xlim()


@pytest.mark.parametrize("layout", ("overlay", "grid"))
def test_figure_data_of_a_seed_group_has_its_mean_band_and_stop(layout):
    seeds = [make_run("sft", seed=s, extras=False) for s in range(3)]
    analyses = [make_analysis(r) for r in seeds]
    fig = compare_figure(seeds, labels=["SFT"] * 3, analyses=analyses, layout=layout)
    kinds = set(figure_data(fig).to_frame().kind)
    if layout == "overlay":
        assert {"mean", "ci_low", "ci_high", "stop"} <= kinds
    else:  # the grid gives each seed its own panel, with its own phases
        assert {"raw", "smoothed", "stop", "baseline"} <= kinds


def test_a_seed_groups_stop_is_drawn_on_the_analysed_metric_only():
    """The group's stop belongs to the metric its seeds were analysed on; another panel (the
    expert NLL) gets the group's mean and band but no stop."""
    seeds = [make_run("sft", seed=s) for s in range(3)]
    fig = compare_figure(seeds, ["eval/accuracy", "expert/nll_heldout"], labels=["SFT"] * 3,
                         analyses=[make_analysis(r) for r in seeds])
    stops = [[ln for ln in ax.lines if ln.get_gid() == "recommended-stop"] for ax in fig.axes]
    assert [len(s) for s in stops] == [1, 0]
    assert [c.get_gid() for c in fig.axes[1].collections].count("seed-band") == 1


def test_figures_doc_quotes_the_seed_groups_stop():
    """docs/figures.md states the stop of the SFT seed group; it is the stop of the mean of the
    three seeds' raw values, as the figure draws it."""
    import re

    from phasewatch.plot.seeds import mean_run, seed_curves

    paths = [ROOT / "sample_logs" / "sft", *(ROOT / "sample_logs" / "seeds" / f"sft_s{s}" for s in (1, 2))]
    runs = [phasewatch.read_run(p) for p in paths]
    curves = seed_curves(runs, "eval/accuracy", Smoothing().resolved(0, 2000))
    stop = phasewatch.analyze(mean_run(runs, "eval/accuracy", curves, "SFT")).recommended_stop_step
    assert curves.n == 3 and np.allclose(
        curves.raw_mean, np.mean([r.series("eval/accuracy").to_numpy() for r in runs], axis=0))
    text = " ".join((ROOT / "docs" / "figures.md").read_text(encoding="utf-8").split())
    quoted = re.search(r"the mean of the seeds' raw values, step (\d+)\.", text)
    assert quoted and int(quoted.group(1)) == stop
    fig = compare_figure(runs, ["eval/accuracy"], labels=["SFT"] * 3,
                         analyses=[phasewatch.analyze(r) for r in runs])
    drawn = [ln.get_xdata()[0] for ln in fig.axes[0].lines if ln.get_gid() == "recommended-stop"]
    assert drawn == [stop]


def test_the_stop_is_named_in_the_unit_of_the_x_axis():
    from phasewatch.plot.phase import stop_in_unit

    run = make_run(extras=False)
    fig = phase_figure(run, make_analysis(run, stop=450), panels=None)
    stop_in_unit(fig, "epoch", lambda step: step / 250)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "stop (epoch 1.8)" in texts and not any("step 450" in t for t in texts)


def test_a_sparse_runs_legend_does_not_claim_a_smoothing_the_line_lacks():
    """Every 100th evaluation of the demo run (21 points): the figure's Gaussian of sd 33 steps
    gives a neighbour 1% of the weight, so the line joins the evaluations, and says so."""
    dense = phasewatch.read_run(ROOT / "sample_logs" / "demo")
    steps, values = dense.column("eval/accuracy").steps, dense.column("eval/accuracy").values
    keep = steps % 100 == 0
    run = phasewatch.run.Run.from_columns({"eval/accuracy": (steps[keep], values[keep])}, "sparse", "t")
    fig = phase_figure(run, panels=None)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "evaluations joined by lines (100 steps apart)" in texts
    dense_fig = phase_figure(dense, panels=None)
    assert "Gaussian smooth, sd 33 steps" in [t.get_text() for t in dense_fig.legends[0].get_texts()]


def test_an_accuracy_at_zero_has_no_negative_ticks_and_an_end_stop_is_drawn_whole():
    """A run whose accuracy stays 0 kept room below it for the whiskers, labelled -0.015; a
    stop at the last step was clipped to half a triangle (a new-user trial)."""
    from phasewatch.run import Run

    steps = np.arange(0, 70, 10, dtype=np.int64)
    run = Run.from_columns({"eval/accuracy": (steps, np.zeros(steps.size))}, "t", "t")
    fig = phase_figure(run, phasewatch.analyze(run), panels=None)
    ax = fig.axes[0]
    fig.canvas.draw()
    lo, hi = ax.get_ylim()
    ticks = [t for t in ax.get_yticks() if lo <= t <= hi]
    assert lo < 0 and ticks and min(ticks) >= 0
    rising = 0.5 + 0.001 * steps
    run = Run.from_columns({"eval/accuracy": (steps, rising)}, "t", "t")
    fig = phase_figure(run, phasewatch.analyze(run), panels=None)
    (stop,) = [ln for ln in fig.axes[0].lines if ln.get_gid() == "recommended-stop"]
    assert stop.get_xdata()[0] == steps[-1] and not stop.get_clip_on()


def test_a_short_runs_figure_carries_the_confidence_of_its_phases():
    """Trial 35: a figure of 6 evaluations was shaded and titled like a dense run's, while the
    text said "confidence low"; copied into a paper, the hedge was lost."""
    steps = np.arange(6, dtype=np.int64) * 80
    values = np.array([0.597, 0.40, 0.31, 0.35, 0.42, 0.50])
    run = phasewatch.run.Run.from_columns({"eval/accuracy": (steps, values)}, "t", "t")
    analysis = phasewatch.analyze(run)
    assert analysis.extra["confidence"] in ("low", "moderate")
    texts = [t.get_text() for t in phase_figure(run, analysis).legends[0].get_texts()]
    assert f"phases: {analysis.extra['confidence']} confidence (6 evaluations)" in texts
    dense = phasewatch.read_run(ROOT / "sample_logs" / "sft")
    texts = [t.get_text() for t in phase_figure(dense).legends[0].get_texts()]
    assert not any("confidence" in t for t in texts)


def test_a_single_evaluations_confidence_note_is_in_the_singular():
    """A TRL log with one eval loss at its last step (tb-llama-arxiv-lora-trainloss, plotted
    without --metric) was drawn with "phases: low confidence (1 evaluations)"."""
    run = phasewatch.run.Run.from_columns({"eval/loss": (np.array([985]), np.array([2.091]))},
                                          "t", "t")
    analysis = phasewatch.analyze(run)
    texts = [t.get_text() for t in phase_figure(run, analysis).legends[0].get_texts()]
    assert f"phases: {analysis.extra['confidence']} confidence (1 evaluation)" in texts


def test_a_short_runs_plateau_that_moved_is_labelled_not_established_on_the_figure():
    """hfconsole-sft-lora-rl-4ev (real corpus): an eval loss 0.9735, 1.065, 1.116, 1.116 is a
    plateau "not established" in the text (4 points cannot tell that rise from noise), but the
    figure's band over the rising line read "plateau", a flat run; a plateau that held still is
    labelled as before."""
    def labels(values: list[float]) -> list[str]:
        steps = np.arange(1, 5, dtype=np.int64) * 8000
        run = phasewatch.run.Run.from_columns({"eval/loss": (steps, np.array(values))}, "t", "t")
        axes = phase_figure(run, panels=None).axes[0]
        return [t.get_text() for t in gids(axes, "phase-label", "texts")]

    assert labels([0.9735, 1.065, 1.116, 1.116]) == ["plateau (not established)"]
    assert labels([1.0, 1.0, 1.0, 1.0]) == ["plateau"]
