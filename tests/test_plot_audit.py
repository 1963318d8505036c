"""What a figure marks is what the analysis said, through the public API and the command.

Each test is a defect a user hit: a figure that marked or analysed something other than what
`phasewatch.analyze` with the same options reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import phasewatch
from phasewatch.io import read_run
from phasewatch.plot import figure_data, phase_figure

ROOT = Path(__file__).resolve().parents[1]
RL = ROOT / "sample_logs" / "rl"  # one evaluation (step 210) its neighbours contradict


def marked_outliers(fig) -> list[int]:
    frame = figure_data(fig).to_frame()
    return sorted(int(s) for s in frame[frame.kind == "outlier"].step)


def test_the_analysis_carries_the_steps_it_left_out():
    run = read_run(RL)
    assert phasewatch.analyze(run).extra["outlier_steps"] == [210]
    assert phasewatch.analyze(run, keep_outliers=True).extra["outlier_steps"] == []
    # the JSON of `analyze` carries them too (a compatible key of the run's extras)
    assert phasewatch.analyze(run).to_dict()["outlier_steps"] == [210]


def test_a_short_series_carries_its_outlier_steps():
    from phasewatch.run import RecordCollector

    collector = RecordCollector("mem:short", "test")
    for step, value in zip((0, 100, 200, 300), (0.2, 0.3, 0.35, 0.4)):
        collector.add(step, {"eval/accuracy": value})
    analysis = phasewatch.analyze(collector.build(name="short"))
    assert analysis.extra["confidence"] is not None  # the short-series path
    assert analysis.extra["outlier_steps"] == []


def test_a_figure_of_an_analysis_that_kept_its_outliers_marks_none():
    # Was: phasewatch.analyze(run, keep_outliers=True) then phase_figure(run, analysis) marked
    # step 210 "outlier (left out)": the figure recomputed the outliers with default options.
    run = read_run(RL)
    kept = phasewatch.analyze(run, keep_outliers=True)
    assert marked_outliers(phase_figure(run, kept, panels=None)) == []
    assert marked_outliers(phase_figure(run, phasewatch.analyze(run), panels=None)) == [210]


def test_the_smoothed_curve_is_of_the_values_analysed_not_the_outliers_left_out():
    # trial 34b: three readings marked "outlier (left out)" bent the smoothed curve of a flat
    # token accuracy at exactly their steps
    run = read_run(RL)
    frame = figure_data(phase_figure(run, phasewatch.analyze(run), panels=None)).to_frame()
    smoothed = frame[frame.kind == "smoothed"]
    assert 210 not in set(smoothed.step.astype(int))
    kept = frame[(frame.kind == "raw") & (frame.step != 210)]
    assert len(smoothed) == len(kept)
    # with the outlier kept, it is a point of the curve again
    kept_all = figure_data(phase_figure(run, phasewatch.analyze(run, keep_outliers=True),
                                        panels=None)).to_frame()
    assert 210 in set(kept_all[kept_all.kind == "smoothed"].step.astype(int))


def test_a_comparisons_curve_is_of_the_values_analysed_too():
    # trial 37: the overlay of three joined runs smoothed through a reading it marked
    # "outlier (left out)", which the single-run figure leaves out of its curve
    from phasewatch.plot import compare_figure

    runs = [read_run(RL), read_run(ROOT / "sample_logs" / "sft")]
    analyses = [phasewatch.analyze(run) for run in runs]
    assert analyses[0].extra["outlier_steps"] == [210]
    fig = compare_figure(runs, ["eval/accuracy"], labels=["rl", "sft"], analyses=analyses)
    frame = figure_data(fig).to_frame()
    rl = frame[frame.run == "rl"]
    assert 210 in set(rl[rl.kind == "outlier"].step.astype(int))
    assert 210 not in set(rl[rl.kind == "smoothed"].step.astype(int))
    assert 200 in set(rl[rl.kind == "smoothed"].step.astype(int))


# ------------------------------------------------ a seed group's mean, analysed like its seeds

SEEDS = [ROOT / "sample_logs" / "sft", ROOT / "sample_logs" / "seeds" / "sft_s1",
         ROOT / "sample_logs" / "seeds" / "sft_s2"]


def group_stop(tmp_path, *options: str) -> int:
    """The recommended stop `plot` draws for the three SFT seeds as one group."""
    import csv

    from phasewatch.cli import main

    data = tmp_path / "seeds.csv"
    assert main(["plot", *map(str, SEEDS), *(["--label", "SFT"] * 3), *options,
                 "-o", str(tmp_path / "seeds.png"), "--data", str(data)]) == 0
    with open(data, newline="") as fh:
        stops = [int(float(r["step"])) for r in csv.DictReader(fh) if r["kind"] == "stop"]
    assert len(stops) == 1
    return stops[0]


def seed_mean(runs, metric="eval/accuracy"):
    from phasewatch.plot.seeds import mean_run, seed_curves
    from phasewatch.plot.smoothing import Smoothing

    curves = seed_curves(runs, metric, Smoothing().resolved(0, 2000))
    return mean_run(runs, metric, curves, "SFT")


def test_a_seed_groups_stop_comes_from_the_options_the_seeds_were_analysed_with(tmp_path):
    # Was: the seeds' mean was analysed with the default options whatever the command was
    # given: `--penalty 5` found the mean's overfit from step 1120, the figure drew 1140.
    # (since turns sit on the highest evaluation near them, both put it at 1140: the direction
    # below is the option that moves it)
    mean = seed_mean([read_run(p) for p in SEEDS])
    assert group_stop(tmp_path) == phasewatch.analyze(mean).recommended_stop_step == 1140
    assert group_stop(tmp_path, "--penalty", "5") == \
        phasewatch.analyze(mean, penalty=5).recommended_stop_step
    # and in the seeds' direction: lower-is-better accuracy has its best at the trough
    assert phasewatch.analyze(mean, direction="min").recommended_stop_step == 70
    assert group_stop(tmp_path, "--direction", "min") == 70


def test_a_seed_groups_mean_is_judged_against_the_noise_of_a_mean():
    # `noise_sd` is the sd of one evaluation; the mean of 3 seeds has sqrt(3) less. Told 0.2,
    # the mean of the SFT seeds is analysed with 0.2 / sqrt(3): it has a disruption ending at
    # step 70 (at 0.2: one plateau), and the drawn mean line is cut at that trough.
    import numpy as np

    from phasewatch.plot import compare_figure
    from phasewatch.plot.seeds import seed_curves
    from phasewatch.plot.smoothing import Smoothing, smoothing_breaks

    runs = [read_run(p) for p in SEEDS]
    mean = seed_mean(runs)
    options = {"noise_sd": 0.2}
    of_mean = phasewatch.analyze(mean, noise_sd=0.2 / np.sqrt(3))
    unscaled = phasewatch.analyze(mean, **options)
    assert (of_mean.phases[0].name, of_mean.phases[0].end_step) == ("disruption", 70)
    assert [p.name for p in unscaled.phases] == ["plateau"]
    fig = compare_figure(runs, ["eval/accuracy"], labels=["SFT"] * 3,
                         analyses=[phasewatch.analyze(r, **options) for r in runs],
                         analyze_options=options)
    frame = figure_data(fig).to_frame()
    drawn = frame[frame.kind == "mean"].value.to_numpy()
    smoothing = Smoothing().resolved(0, 2000)
    expected = seed_curves(runs, "eval/accuracy", smoothing,
                           breaks=smoothing_breaks([], of_mean)).mean
    other = seed_curves(runs, "eval/accuracy", smoothing,
                        breaks=smoothing_breaks([], unscaled)).mean
    assert not np.allclose(expected, other, equal_nan=True)
    np.testing.assert_allclose(drawn, expected)


def test_a_grid_analyses_its_runs_with_the_options_given():
    # a grid computes the analyses it was not given: with the options, as analyze does
    from phasewatch.plot import compare_figure

    run = read_run(RL)
    fig = compare_figure([run], layout="grid", analyze_options={"keep_outliers": True})
    assert marked_outliers(fig) == []
    assert marked_outliers(compare_figure([run], layout="grid")) == [210]


def test_plot_says_what_the_analysis_warned_about(tmp_path, capsys):
    # Was: plot drew the baseline at step 2000 for `--baseline step:99999` and marked step 210
    # of sample rl as left out without a word; analyze says both.
    from phasewatch.cli import main

    sft = ROOT / "sample_logs" / "sft"
    assert main(["plot", str(sft), "--baseline", "step:99999", "-o", str(tmp_path / "a.png")]) == 0
    err = capsys.readouterr().err
    assert (f"{sft}: --baseline step:99999: no evaluation at that step; the starting level is "
            "the one nearest it, at step 2000") in err
    assert main(["plot", str(RL), "-o", str(tmp_path / "b.png")]) == 0
    assert "1 isolated outlier left out (step 210" in capsys.readouterr().err


def test_step_limits_that_show_none_of_the_data_are_a_usage_error(tmp_path, capsys):
    # Was: `--xlim 5000,6000` on a run of steps 0-2000 wrote an empty figure after six
    # "constrained_layout not applied because axes sizes collapsed to zero" warnings, exit 0.
    from phasewatch.cli import main

    sft, rl = ROOT / "sample_logs" / "sft", str(RL)
    for paths in ([str(sft)], [str(sft), rl], [str(sft), rl, "--layout", "grid"]):
        assert main(["plot", *paths, "--xlim", "5000,6000", "-o", str(tmp_path / "f.png")]) == 2
        err = capsys.readouterr().err
        assert "--xlim 5000,6000 shows none of the data (steps 0-2000)" in err
        assert "constrained_layout" not in err
    # a zoom that shows part of it is drawn
    assert main(["plot", str(sft), "--xlim", "1500,6000", "-o", str(tmp_path / "f.png")]) == 0


def test_a_zoom_that_cuts_a_change_point_keeps_the_layout(tmp_path, capsys):
    # Was: `plot sample_logs/sft --xlim 0,400` drew the whisker of the change point at 1110
    # past the axes, the layout collapsed ("constrained_layout not applied", six times), the
    # y labels were cut and the legend overlapped the x label.
    from phasewatch.cli import main

    sft = ROOT / "sample_logs" / "sft"
    assert main(["plot", str(sft), "--xlim", "0,400", "-o", str(tmp_path / "f.png")]) == 0
    assert "constrained_layout" not in capsys.readouterr().err
    fig = phase_figure(read_run(sft), phasewatch.analyze(sft), xlim=(0, 400))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        box = ax.get_tightbbox(renderer)
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, ax.get_ylabel()


def test_the_token_figure_takes_the_step_limits(tmp_path, capsys):
    # Was: `plot --kind tokens --xlim 0,500` drew steps 0-2000: the option was accepted and
    # not passed on. Zoomed before the SFT->RL switch (800), the legend does not name it.
    from phasewatch.cli import main
    from phasewatch.plot import token_figure

    run = read_run(ROOT / "sample_logs" / "sft_then_rl")
    fig = token_figure(run, xlim=(0, 500))
    assert all(ax.get_xlim() == (0, 500) for ax in fig.axes[:2])
    assert "SFT\u2192RL" not in [t.get_text() for t in fig.legends[0].get_texts()]
    assert "SFT\u2192RL" in [t.get_text() for t in token_figure(run).legends[0].get_texts()]
    out = tmp_path / "tokens.png"
    assert main(["plot", str(ROOT / "sample_logs" / "sft_then_rl"), "--kind", "tokens",
                 "--xlim", "0,500", "-o", str(out)]) == 0
    assert main(["plot", str(ROOT / "sample_logs" / "sft_then_rl"), "--kind", "tokens",
                 "--xlim", "5000,6000", "-o", str(out)]) == 2
    assert "shows none of the data (steps 0-2000)" in capsys.readouterr().err


def two_validation_sets(folder: Path) -> list[str]:
    """Two verl-style runs, each evaluated on two validation sets that rise at different rates."""
    import json
    import math

    import numpy as np

    paths = []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        path = folder / f"run{seed}.jsonl"
        path.write_text("".join(json.dumps({
            "step": step,
            "val-core/gsm8k/acc/mean@1": 0.3 + 0.4 * (1 - math.exp(-step / 100))
            + rng.normal(0, 0.01),
            "val-core/math/acc/mean@1": 0.2 + 0.3 * (1 - math.exp(-step / 150))
            + rng.normal(0, 0.01)}) + "\n" for step in range(0, 400, 10)))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("metric", [[], ["--metric", "val-core/*"]])
def test_a_comparison_draws_the_mean_of_the_sets_it_analysed(tmp_path, capsys, metric):
    # Was: `plot A B --aggregate mean` analysed each run's mean of its validation sets but drew
    # the first set (no stop marked: the analysis was of another series); with `--metric GLOB`
    # it stopped: "none of the runs has metric 'val-core/*'" (exit 2). One run drew the mean.
    import csv

    from phasewatch.cli import main

    paths = two_validation_sets(tmp_path)
    data = tmp_path / "fig.csv"
    assert main(["plot", *paths, *metric, "--aggregate", "mean", "-o", str(tmp_path / "f.png"),
                 "--data", str(data)]) == 0
    capsys.readouterr()
    with open(data, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for path in paths:
        assert main(["analyze", path, *metric, "--aggregate", "mean", "--format", "json"]) == 0
        analysis = json.loads(capsys.readouterr().out)["runs"][0]
        mine = [r for r in rows if r["run"] == Path(path).stem]
        assert {r["metric"] for r in mine} == {analysis["metric"]}
        assert analysis["metric"].endswith("(mean of 2 sets)")
        stops = [int(float(r["step"])) for r in mine if r["kind"] == "stop"]
        assert stops == [analysis["recommended_stop_step"]]


def test_runs_are_averaged_only_when_they_are_seeds_of_one_configuration(tmp_path, capsys):
    # Was: without --label, runs were grouped by their default name: two folders' metrics.csv
    # (both named "metrics") were drawn as "metrics (mean of 2)", and two SFT runs of
    # different learning rates as "SFT (mean of 2)": different experiments averaged.
    import csv
    import math

    from phasewatch.cli import main
    from phasewatch.plot import compare_figure
    from phasewatch.run import RecordCollector

    folders = []
    for name, scale in (("armA", 100), ("armB", 300)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "metrics.csv").write_text("step,eval_accuracy\n" + "".join(
            f"{s},{0.3 + 0.5 * (1 - math.exp(-s / scale)):.4f}\n" for s in range(0, 1000, 20)))
        folders.append(str(folder))
    data = tmp_path / "fig.csv"
    assert main(["plot", *folders, "-o", str(tmp_path / "f.png"), "--data", str(data)]) == 0
    with open(data, newline="") as fh:
        kinds = {(r["run"], r["kind"]) for r in csv.DictReader(fh)}
    assert not any(kind == "mean" for _, kind in kinds)
    assert {run for run, _ in kinds} == {"armA", "armB"}  # each folder names its run

    def sft(seed: int, lr: float, name: str):
        collector = RecordCollector(f"mem:{name}", "test")
        for step in range(0, 500, 10):
            collector.add(step, {"eval/accuracy": 0.5 + 0.3 * (1 - math.exp(-step / 100))
                                 + 0.01 * math.sin(seed + step)})
        return collector.build(name=name, algorithm="sft", config={"seed": seed, "lr": lr})

    runs = [sft(0, 1e-4, "lr1e-4"), sft(1, 3e-4, "lr3e-4"), sft(2, 3e-4, "lr3e-4_s2")]
    legend = [t.get_text() for t in compare_figure(runs).legends[0].get_texts()]
    # the two seeds of lr 3e-4 are one group (the arm's name); lr 1e-4 stands alone
    assert legend[:2] == ["SFT \u00b7 lr1e-4", "SFT (mean of 2)"]


@pytest.mark.parametrize("kind", ["phase", "compare", "grid", "tokens"])
def test_a_long_title_stays_on_the_canvas(kind):
    # Was: a --title wider than the figure was centred and cut off at both edges (the panel
    # titles were fitted, the figure's title was not).
    from phasewatch.plot import compare_figure, token_figure

    title = "CHORD-mu on the divergent expert set, seed 0, 2000 steps, lr 3e-4, batch 64"
    run = read_run(ROOT / "sample_logs" / "chord_mu")
    if kind == "phase":
        fig = phase_figure(run, title=title, panels=None)
    elif kind == "tokens":
        fig = token_figure(run, title=title)
    else:
        fig = compare_figure([run, read_run(RL)], title=title,
                             layout="grid" if kind == "grid" else "overlay")
    fig.canvas.draw()
    box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height
    assert fig._suptitle.get_text().replace("\n", " ") == title  # every word kept


def test_a_figure_of_an_analysis_of_the_sets_mean_draws_that_mean(tmp_path):
    # Was: phasewatch.analyze(run, aggregate="mean") then phase_figure(run, analysis) stopped
    # with "no metric 'eval/accuracy (mean of 2 sets)' in this run", and compare_figure drew
    # nothing of that run: the mean is not a series the log holds.
    from phasewatch.plot import compare_figure

    path = two_validation_sets(tmp_path)[0]
    run = read_run(path)
    analysis = phasewatch.analyze(run, aggregate="mean")
    assert analysis.metric == "eval/accuracy (mean of 2 sets)"
    for fig in (phase_figure(run, analysis, panels=None),
                compare_figure([run], analyses=[analysis])):
        frame = figure_data(fig).to_frame()
        assert set(frame.metric) == {analysis.metric}
        assert frame[frame.kind == "stop"].step.tolist() == [analysis.recommended_stop_step]
        assert len(frame[frame.kind == "raw"]) == 40


def test_a_zoom_is_smoothed_at_the_width_of_the_drawn_steps():
    """`--xlim 0,400` on a 2,000-step run drew a line 33 steps wide (1/60 of the run): the
    response length's jump at steps 40-60 was drawn rising until ~150. 1/60 of what is drawn."""
    from phasewatch.plot import Smoothing

    assert Smoothing().resolved(0, 2000).width == 33
    assert Smoothing().resolved(0, 2000, (0, 400)).width == 7
    assert Smoothing().resolved(0, 2000, (5000, 6000)).width == 33  # no overlap: the run's
    sft = ROOT / "sample_logs" / "sft"
    fig = phase_figure(read_run(sft), phasewatch.analyze(sft), xlim=(0, 400))
    legend = " ".join(t.get_text() for lg in fig.legends for t in lg.get_texts())
    assert "sd 7 steps" in legend
