"""Comparison figures: each arm keeps its colour, metrics become panels, seeds are a mean with
a confidence band, and runs of different metrics are never mixed in one panel (issue 17)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pytest
from plot_inputs import gids, make_analysis, make_other_run, make_run

from phasewatch.errors import UsageError
from phasewatch.plot import ARM_COLORS, Smoothing, compare_figure, figure_data
from phasewatch.results import Analysis, Phase
from phasewatch.run import RecordCollector

# ----------------------------------------------------------------- comparison


ARMS = ["sft_then_rl", "chord_mu", "chord_phi", "rl", "sft"]


def test_compare_gives_each_arm_its_fixed_colour():
    runs = [make_run(arm, seed=i, switch=500 if arm == "sft_then_rl" else None, extras=False)
            for i, arm in enumerate(ARMS)]
    fig = compare_figure(runs)
    smoothed = [line for line in fig.axes[0].lines if line.get_gid() == "smoothed"]
    assert [mpl.colors.to_hex(line.get_color()).upper() for line in smoothed] == [ARM_COLORS[a] for a in ARMS]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:5] == ["SFT-then-RL", "CHORD-\u00b5", "CHORD-\u03c6", "RL (GRPO)", "SFT"]
    assert "SFT\u2192RL" in labels
    # the same arm keeps its colour when the runs come in another order
    fig2 = compare_figure(runs[::-1])
    smoothed2 = [line for line in fig2.axes[0].lines if line.get_gid() == "smoothed"]
    assert [mpl.colors.to_hex(line.get_color()).upper() for line in smoothed2] == [ARM_COLORS[a] for a in ARMS[::-1]]


@pytest.mark.parametrize("name,key", [("CHORD-\u00b5", "chord_mu"), ("chord_\u03c6", "chord_phi"),
                                      ("SFT-then-RL", "sft_then_rl"), ("GRPO", "rl"), ("my arm", "my_arm")])
def test_arm_names_normalise_to_their_colour_keys(name, key):
    from phasewatch.plot.style import arm_key

    assert arm_key(name) == key


def test_compare_metrics_become_panels_and_missing_metrics_warn():
    runs = [make_run("sft"), make_run("rl", extras=False)]
    with pytest.warns(UserWarning, match="no metric 'train/entropy'"):
        fig = compare_figure(runs, ["eval/accuracy", "train/entropy"])
    assert [ax.get_ylabel().replace("\n", " ") for ax in fig.axes] == ["held-out accuracy", "policy entropy"]
    assert len([line for line in fig.axes[1].lines if line.get_gid() == "smoothed"]) == 1
    with pytest.raises(UsageError, match="none of the runs has metric 'nope'"):
        compare_figure(runs, ["nope"])
    # recommended stops mark the analysed metric's curve, and only that one
    analyses = [make_analysis(r, stop=300 + 100 * i) for i, r in enumerate(runs)]
    with pytest.warns(UserWarning):
        fig = compare_figure(runs, ["eval/accuracy", "train/entropy"], analyses=analyses)
    stops = [[line.get_xdata()[0] for line in ax.lines if line.get_gid() == "recommended-stop"]
             for ax in fig.axes]
    assert stops == [[300, 400], []]


def test_seeds_are_drawn_as_mean_and_confidence_band_with_the_means_stop():
    import pandas as pd
    from scipy.stats import t

    seeds = [make_run("sft", seed=s, extras=False) for s in range(3)]
    runs = [*seeds, make_run("rl", seed=9, extras=False)]
    smoothing = Smoothing("gaussian", 10)
    analyses = [make_analysis(r) for r in runs]
    fig = compare_figure(runs, smoothing=smoothing, analyses=analyses)
    ax = fig.axes[0]
    mean_lines = [line for line in ax.lines if line.get_gid() == "smoothed"]
    assert len(mean_lines) == 2  # the SFT mean and the single RL run
    # each seed smoothed on its own, cut at the group's trough: the end of the disruption of the
    # mean of the seeds' raw values, analysed like one run
    from phasewatch.analysis import analyze_run

    collector = RecordCollector("mem:mean", "test")
    for step, value in pd.concat([r.series("eval/accuracy") for r in seeds], axis=1).mean(axis=1).items():
        collector.add(int(step), {"eval/accuracy": float(value)})
    group = analyze_run(collector.build(name="mean", algorithm="sft",
                                        performance_metric="eval/accuracy", direction="max"))
    cuts = [p.end_step + 0.5 for p in group.phases if p.name == "disruption"]
    assert cuts  # the cuts are exercised
    curves = np.array([smoothing.apply(r.series("eval/accuracy").to_numpy(),
                                       r.series("eval/accuracy").index.to_numpy(),
                                       breaks=cuts) for r in seeds])
    assert np.allclose(mean_lines[0].get_ydata(), curves.mean(0))
    half = t.ppf(0.975, 2) * curves.std(0, ddof=1) / np.sqrt(3)
    data = figure_data(fig).to_frame()
    sft = data[data["run"] == "SFT"]
    assert np.allclose(sft[sft.kind == "ci_low"]["value"], curves.mean(0) - half)
    assert np.allclose(sft[sft.kind == "ci_high"]["value"], curves.mean(0) + half)
    assert [c.get_gid() for c in ax.collections].count("seed-band") == 1
    # the group has its own recommended stop (of the mean of its raw values), on the mean line
    stops = sft[sft.kind == "stop"]
    assert len(stops) == 1
    step = int(stops["step"].iloc[0])
    assert np.isclose(stops["value"].iloc[0], np.interp(step, mean_lines[0].get_xdata(),
                                                        mean_lines[0].get_ydata()))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["SFT (mean of 3)", "RL (GRPO)"]
    assert "95% CI of the mean" in labels and "recommended stop" in labels


def test_labels_name_the_runs_and_group_seeds():
    runs = [make_run("sft", seed=s, extras=False) for s in range(3)]
    fig = compare_figure(runs, labels=["lr 1e-4", "lr 1e-4", "lr 3e-4"])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["lr 1e-4 (mean of 2)", "lr 3e-4"]
    colors = {mpl.colors.to_hex(line.get_color()) for line in fig.axes[0].lines
              if line.get_gid() == "smoothed"}
    assert len(colors) == 2  # two groups of one arm still get two colours
    with pytest.raises(UsageError, match="3 labels for 2 runs"):
        compare_figure(runs[:2], labels=["a", "b", "c"])


def test_compare_grid_draws_each_runs_own_phases():
    runs = [make_run(arm, seed=i, extras=False) for i, arm in enumerate(ARMS)]
    analyses = [make_analysis(r) for r in runs]
    analyses[2] = make_analysis(runs[2], [("improvement", 0, 600), ("plateau", 600, 995)], stop=None)
    fig = compare_figure(runs, analyses=analyses, layout="grid", size="full")
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in visible] == ["SFT-then-RL", "CHORD-\u00b5", "CHORD-\u03c6", "RL (GRPO)", "SFT"]
    for ax, analysis in zip(visible, analyses):
        spans = [(b.get_x(), b.get_x() + b.get_width()) for b in gids(ax, "phase-band")]
        assert spans == [(p.start_step, p.end_step) for p in analysis.phases]
        assert len(gids(ax, "phase-label", "texts")) == len(analysis.phases)
        assert ax.get_ylim() == visible[0].get_ylim()  # shared axes


# ----------------------------------------------------------------- issue 17: runs never mixed


def test_overlay_of_runs_with_different_metrics_draws_each_on_its_own_panel():
    runs = [make_run("sft_then_rl", switch=500, extras=False), make_other_run()]
    fig = compare_figure(runs)
    assert len(fig.axes) == 2  # accuracy and reward are not one quantity: one panel each
    for ax, expected_events in zip(fig.axes, ([500], [80, 160])):
        assert len([ln for ln in ax.lines if ln.get_gid() == "smoothed"]) == 1
        assert sorted(ln.get_xdata()[0] for ln in ax.lines if ln.get_gid() == "event") == expected_events


def test_grid_panels_show_only_their_own_runs_bands_and_baseline():
    runs = [make_run("sft_then_rl", extras=False), make_other_run()]
    analyses = [make_analysis(runs[0]),
                Analysis("mem:trl", "train/reward", "max", 0.44, [], [Phase("plateau", 5, 250)], 40)]
    fig = compare_figure(runs, analyses=analyses, layout="grid", size="full")
    first, second = [ax for ax in fig.axes if ax.get_visible()][:2]
    assert len(gids(first, "phase-band")) == 3 and len(gids(second, "phase-band")) == 1
    baselines = [[ln.get_ydata()[0] for ln in ax.lines if ln.get_gid() == "baseline"] for ax in (first, second)]
    assert baselines == [[0.5], [0.44]]
    reward = [ln for ln in second.lines if ln.get_gid() == "smoothed"]
    assert len(reward) == 1 and reward[0].get_xdata()[0] == 5  # the reward run is drawn, on its panel
    assert first.get_ylim() != second.get_ylim()  # different metrics: no shared y axis
    # an analysis of another metric than the panel's draws nothing of it there
    wrong = [analyses[0], make_analysis(runs[1])]
    fig = compare_figure(runs, analyses=wrong, layout="grid")
    assert gids([ax for ax in fig.axes if ax.get_visible()][1], "phase-band") == []


def test_grid_of_runs_of_very_different_lengths_gives_each_its_own_step_axis():
    """One metric, one y axis; but a run of 300 steps beside one of 3,000 would be a sliver at
    the left of a shared step axis: each panel then spans its own run."""
    short, long_ = make_run("sft", n=60, extras=False), make_run("rl", n=600, seed=1, extras=False)
    fig = compare_figure([short, long_], analyses=[make_analysis(short, stop=None),
                                                   make_analysis(long_, stop=None)], layout="grid")
    first, second = [ax for ax in fig.axes if ax.get_visible()][:2]
    assert first.get_ylim() == second.get_ylim()
    assert first.get_xlim()[1] < 400 and second.get_xlim()[1] > 2900
    # runs of about the same length keep one step axis
    same = [make_run("sft", n=200, extras=False), make_run("rl", n=150, seed=1, extras=False)]
    fig = compare_figure(same, analyses=[make_analysis(r, stop=None) for r in same], layout="grid")
    first, second = [ax for ax in fig.axes if ax.get_visible()][:2]
    assert first.get_xlim() == second.get_xlim()


def test_grid_titles_are_cut_to_their_panel():
    long = make_run("Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567", extras=False)
    fig = compare_figure([long, make_run("chord_mu", seed=1, extras=False)], layout="grid")
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes[:2]:
        title = ax._left_title
        assert title.get_window_extent(renderer).width <= ax.bbox.width + 0.5
    assert fig.axes[0].get_title(loc="left").endswith("\u2026")


def _scored(name: str, metric: str, values) -> object:
    collector = RecordCollector(f"mem:{name}", "test")
    for i, v in enumerate(values):
        collector.add(100 * (i + 1), {metric: float(v), "eval_loss": 1.0 - 0.01 * i})
    return collector.build(name=name)


def test_runs_compared_by_different_held_out_scores_get_a_panel_each_in_their_own_names():
    """hf-cer-5ev beside hf-whisper-14ev: a CER and a WER, both the catch-all role
    eval/other_score, were drawn on one axis labelled "eval/other_score", with no word that
    lower is better (and the scale warning named the WER run's series eval_cer). Each is drawn
    on its own panel, named as its log names it, in its own direction; one score under HF's
    two spellings (eval_f1, eval/f1) is still one panel."""
    cer = _scored("cer", "eval_cer", np.linspace(0.10, 0.014, 5))
    wer = _scored("wer", "eval_wer", np.linspace(36, 8, 14))
    fig = compare_figure([cer, wer])
    assert [ax.get_ylabel().replace("\n", " ") for ax in fig.axes] == [
        "eval_cer (lower is better)", "eval_wer (lower is better)"]
    f1s = [_scored("hf", "eval_f1", np.linspace(0.5, 0.8, 8)),
           _scored("wandb", "eval/f1", np.linspace(0.52, 0.79, 8))]
    fig = compare_figure(f1s)
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "eval_f1"
    assert len([ln for ln in fig.axes[0].lines if ln.get_gid() == "smoothed"]) == 2


def test_a_bleu_in_the_accuracy_role_is_no_held_out_accuracy_beside_one():
    """hf-marian-medical-3ev's BLEU takes the held-out accuracy's role (a seq2seq run's score);
    beside hf-distilbert-lora-5ev's accuracy both were drawn on one axis, "held-out accuracy"."""
    bleu = _scored("marian", "eval_bleu", [0.3937, 0.4308, 0.4213])
    accuracy = _scored("distilbert", "eval_accuracy", [0.8725, 0.897, 0.899, 0.908, 0.9085])
    fig = compare_figure([bleu, accuracy])
    assert [ax.get_ylabel() for ax in fig.axes] == ["eval_bleu", "held-out accuracy"]


def test_two_files_named_alike_are_both_told_apart_in_the_legend(tmp_path):
    """Two Lightning versions' `metrics.csv`, given as files: both runs are named "metrics".
    The legend said "metrics" for the first and the second's whole path, which ran off the
    figure; each is now named by the last parts of its path that differ."""
    from phasewatch.io import read_run
    from phasewatch.source_names import distinct_tails

    runs = []
    for version, scale in (("version_0", 100), ("version_1", 300)):
        folder = tmp_path / "lightning_logs" / version
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text("step,val_acc\n" + "".join(
            f"{s},{0.3 + 0.5 * (1 - np.exp(-s / scale)):.4f}\n" for s in range(0, 1000, 20)))
        runs.append(read_run(folder / "metrics.csv"))
    assert [run.name for run in runs] == ["metrics", "metrics"]
    legend = [t.get_text() for t in compare_figure(runs).legends[0].get_texts()]
    assert legend[:2] == ["version_0/metrics.csv", "version_1/metrics.csv"]
    assert distinct_tails(["a/b/m.csv", "a/c/m.csv", "a/c/m.csv", "d.csv"]) == [
        "b/m.csv", "c/m.csv", "c/m.csv", "d.csv"]


def _darts_runs() -> list:
    """Two DARTS-like runs: `Obj/valid` (a cross-entropy) falling beside `Acc/valid`."""
    runs = []
    for name in ("darts-a", "darts-b"):
        collector = RecordCollector(f"mem:{name}", "test")
        for i in range(20):
            collector.add(i, {"Obj/valid": 1.3 - 0.04 * i, "Acc/valid": 0.5 + 0.02 * i})
        runs.append(collector.build(name=name))
    return runs


@pytest.mark.parametrize("layout", ["overlay", "grid"])
def test_a_panel_is_labelled_in_the_direction_analyze_takes(layout):
    """DARTS logs `Obj/valid` (a cross-entropy) beside `Acc/valid`: `analyze` reads it as lower
    is better (`signals.choose_direction`), and so must the figure's y label, which the name
    alone (`presets.default_direction`) would call higher is better."""
    runs = _darts_runs()
    fig = compare_figure(runs, metrics=["Obj/valid"], layout=layout)
    labels = {ax.get_ylabel().replace("\n", " ") for ax in fig.axes if ax.get_ylabel()}
    assert labels == {"Obj/valid (lower is better)"}


def test_a_panel_is_labelled_in_the_direction_given_to_its_analyses():
    """`plot compare --direction max` analyses `Obj/valid` as higher is better: the overlay's
    label and axis follow the analyses drawn on the panel, not the direction `analyze` would
    take without the option (which labelled it "lower is better" beside its max-direction
    stops)."""
    from phasewatch.plot.phase import analyze

    runs = _darts_runs()
    analyses = [analyze(run, "Obj/valid", "max") for run in runs]
    fig = compare_figure(runs, metrics=["Obj/valid"], analyses=analyses, layout="overlay")
    labels = {ax.get_ylabel().replace("\n", " ") for ax in fig.axes if ax.get_ylabel()}
    assert labels == {"Obj/valid"}
