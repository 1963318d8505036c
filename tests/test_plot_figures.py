"""The phase figure is checked, not only created: bands equal the reported phases, labels are
text and do not overlap, the legend says what each line is and only what is in view, colours
are fixed, distinct and print-safe."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pytest
from plot_inputs import gids, make_analysis, make_run

from phasewatch.errors import UsageError
from phasewatch.plot import ARM_COLORS, PHASE_COLORS, Smoothing, compare_figure, phase_figure
from phasewatch.plot.style import PHASE_ABBREVIATIONS
from phasewatch.results import Analysis, Phase
from phasewatch.run import RecordCollector

# ----------------------------------------------------------------- phase figure


def test_bands_equal_the_reported_phases_and_each_is_labelled_in_text():
    run = make_run()
    analysis = make_analysis(run)
    fig = phase_figure(run, analysis, panels=None, size="full")
    main = fig.axes[0]
    bands = gids(main, "phase-band")
    assert len(bands) == 3
    for band, phase in zip(bands, analysis.phases):
        x0, x1 = band.get_x(), band.get_x() + band.get_width()
        assert (x0, x1) == (phase.start_step, phase.end_step)
        assert band.get_zorder() < min(line.get_zorder() for line in main.lines if line.get_gid() in ("raw", "smoothed"))
    labels = gids(main, "phase-label", "texts")
    assert [t.get_text() for t in labels] == ["disruption", "readaptation", "overfit"]
    assert [t.phase_name for t in labels] == ["disruption", "readaptation", "overfit"]
    # In a single column the first band (12 % of the axis) is too narrow for its full name.
    single = gids(phase_figure(run, analysis, panels=None).axes[0], "phase-label", "texts")
    assert [t.get_text() for t in single] == ["disr.", "readaptation", "overfit"]


def _extents(fig, artists):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


def test_narrow_bands_get_short_or_staggered_labels_that_never_overlap():
    run = make_run()
    phases = [("plateau", 0, 20), ("disruption", 20, 40), ("readaptation", 40, 60),
              ("improvement", 60, 900), ("overfit", 900, 995)]
    fig = phase_figure(run, make_analysis(run, phases), panels=None)
    labels = gids(fig.axes[0], "phase-label", "texts")
    assert len(labels) == 5
    short = [t.get_text() for t in labels[:3]]
    assert short == [PHASE_ABBREVIATIONS[n] for n in ("plateau", "disruption", "readaptation")]
    assert len({t.row for t in labels[:3]}) > 1  # three labels over 3 % of the axis: staggered
    boxes = _extents(fig, labels)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    canvas = fig.bbox
    for box in boxes + _extents(fig, fig.legends):
        assert canvas.x0 <= box.x0 and box.x1 <= canvas.x1 and canvas.y0 <= box.y0 and box.y1 <= canvas.y1


def test_legend_is_outside_the_data_and_states_the_smoothing():
    run = make_run()
    fig = phase_figure(run, make_analysis(run), smoothing=Smoothing("ema", 4))
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "EMA, half-life 4 steps" in texts  # the width is in training steps
    assert {"raw values", "baseline", "change pt. \u00b1 interval", "stop (step 450)"} <= set(texts)
    legend_box, *axes_boxes = _extents(fig, [fig.legends[0], *fig.axes])
    assert not any(legend_box.overlaps(box) for box in axes_boxes)


def test_panels_auto_share_the_step_axis_and_carry_the_bands():
    run = make_run(switch=500)
    fig = phase_figure(run, make_analysis(run))
    assert [ax.get_ylabel().replace("\n", " ") for ax in fig.axes] == [  # wrapped when too tall
        "held-out accuracy", "expert NLL", "entropy", "resp. length (held-out)"]
    for ax in fig.axes:
        assert len(gids(ax, "phase-band")) == 3
        assert [line.get_xdata()[0] for line in ax.lines if line.get_gid() == "event"] == [500]
    nll = [line for line in fig.axes[1].lines if line.get_gid() == "panel"]
    assert [line.get_label() for line in nll] == ["train", "held-out"]
    assert nll[0].get_linestyle() != nll[1].get_linestyle()  # not told apart by colour alone
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[3])
    assert phase_figure(run, make_analysis(run), panels=None).axes.__len__() == 1
    with pytest.raises(UsageError, match="no metric 'nope'"):
        phase_figure(run, make_analysis(run), panels=["nope"])


def test_the_step_axis_spans_every_panels_data():
    """A train loss logged from step 10 analysed above a held-out score evaluated at step 0:
    the held-out panel's step-0 evaluation (the start it fell from) is in view."""
    collector = RecordCollector("mem:sft", "test")
    for step in range(0, 260, 10):
        record = {"eval_exact_match": 1.0 if step == 0 else 0.3}
        if step:
            record["loss"] = 6.0 / step
        collector.add(step, record)
    run = collector.build()
    analysis = Analysis("mem:sft", "loss", "min", 0.6, [], [Phase("improvement", 10, 250)], None)
    fig = phase_figure(run, analysis, panels=["eval_exact_match"])
    for ax in fig.axes:
        assert ax.get_xlim()[0] < 0


def _rising_figure(name: str, fits: bool = True):
    """The figure of a rising `name` over 40 evaluations, and its y label's lines, after
    checking the label is the whole name and (where it `fits`) inside its panel."""
    collector = RecordCollector("mem:run", "test")
    for step in range(0, 400, 10):
        collector.add(step, {name: 0.3 + step / 1000})
    run = collector.build()
    analysis = Analysis("mem:run", name, "max", 0.3, [], [Phase("improvement", 0, 390)], None)
    fig = phase_figure(run, analysis, panels=None)
    label = fig.axes[0].yaxis.label
    assert label.get_text().replace("\n", "") == name  # whole
    (box,) = _extents(fig, [label])
    assert (box.height <= fig.axes[0].bbox.height) == fits
    return fig, label.get_text().split("\n")


def test_long_metric_names_are_wrapped_to_fit_their_panel():
    fig, lines = _rising_figure("val-core/openai/gsm8k/reward/mean@1")
    assert len(lines) > 1
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "raw values" in legend and "Gaussian smooth, sd 6 steps" in legend  # 390 steps / 60


def test_a_name_too_long_for_any_wrap_is_broken_evenly():
    """No wrap of a 300-character underscore name fits its panel, and none is cut to a tail
    (it has no '/'): the label was the last form tried, 'part00_', 'part01_' and the rest on
    one line, taller than the same name broken evenly onto three lines."""
    name = "_".join(f"part{i:02d}" for i in range(45))
    _, lines = _rising_figure(name, fits=False)
    assert len(lines) == 3
    assert max(len(line) for line in lines) <= len(name) / 3 + 8  # within a part of a third


def test_long_metric_names_without_slashes_are_wrapped_at_underscores():
    """Hugging Face and Lightning names have no '/' or space to break at: a DPO run's
    'val_reward_accuracy' ran off the top of its single-column panel, cut to 'val_reward_accurac'."""
    _, lines = _rising_figure("eval_rewards_chosen_accuracy_mean")
    assert len(lines) > 1 and all(line.endswith("_") for line in lines[:-1])


def test_changepoint_whiskers_span_their_intervals():
    run = make_run()
    analysis = make_analysis(run)
    fig = phase_figure(run, analysis, panels=None)
    whiskers = [line for line in fig.axes[0].lines
                if line.get_gid() == "changepoint" and len(line.get_xdata()) == 2]
    assert [tuple(w.get_xdata()) for w in whiskers] == [(c.low, c.high) for c in analysis.changepoints]
    baseline = [line for line in fig.axes[0].lines if line.get_gid() == "baseline"]
    assert baseline[0].get_ydata()[0] == 0.5


def test_phase_colours_are_fixed_and_distinct():
    assert len(set(PHASE_COLORS.values())) == len(PHASE_COLORS)
    run = make_run()
    fig = phase_figure(run, make_analysis(run), panels=None)
    for band in gids(fig.axes[0], "phase-band"):
        face = np.array(band.get_facecolor()[:3])
        full = np.array(mpl.colors.to_rgb(PHASE_COLORS[band.phase_name]))
        assert np.allclose(1 - face, 0.16 * (1 - full), atol=1e-6)  # a pale tint of its colour


def _dash(line):
    """The dash pattern as drawn (get_linestyle says '--' for every custom pattern)."""
    return line.get_linestyle(), getattr(line, "_unscaled_dash_pattern", None)


def _handle_key(handle):
    return (mpl.colors.to_hex(handle.get_color()) if hasattr(handle, "get_color") else None,
            str(_dash(handle)) if hasattr(handle, "get_linestyle") else None,
            handle.get_marker() if hasattr(handle, "get_marker") else None)


def test_legend_has_one_entry_per_meaning_and_dashes_mean_one_thing():
    run = make_run(switch=500)
    fig = phase_figure(run, make_analysis(run))
    handles = fig.legends[0].legend_handles
    keys = [_handle_key(h) for h in handles]
    assert len(keys) == len(set(keys)), [t.get_text() for t in fig.legends[0].get_texts()]
    smooth = [t.get_text() for t in fig.legends[0].get_texts() if "smooth" in t.get_text()]
    assert len(smooth) == 1  # one width, in steps, for every panel
    # the held-out NLL dash is used by nothing else in the figure
    from phasewatch.plot._draw import EVENT_STYLES, HELDOUT_DASH

    nll = [ln for ln in fig.axes[1].lines if ln.get_label() == "held-out"]
    dash = _dash(nll[0])
    others = [ln for ax in fig.axes for ln in ax.lines if ln.get_gid() != "panel"]
    assert others and all(_dash(ln) != dash for ln in others)
    assert EVENT_STYLES["sft_to_rl"]["linestyle"] != HELDOUT_DASH


def test_print_safe_palette():
    from phasewatch.plot.style import _SPARE_COLORS, MIN_CONTRAST, contrast_on_white

    colors = [*ARM_COLORS.values(), *_SPARE_COLORS, *PHASE_COLORS.values()]
    assert all(contrast_on_white(c) >= MIN_CONTRAST for c in colors)
    assert contrast_on_white("#F0E442") < MIN_CONTRAST  # the Okabe-Ito yellow would fail


def test_axis_limits_and_outlier_markers():
    collector = RecordCollector("mem:spike", "test")
    for step, value in make_run(extras=False).series("eval/accuracy").items():
        # one evaluation its neighbours contradict
        collector.add(int(step), {"eval/accuracy": 5.0 if step == 500 else float(value)})
    run = collector.build(name="sft", algorithm="sft", performance_metric="eval/accuracy",
                          direction="max")
    from phasewatch.analysis import analyze_run

    analysis = analyze_run(run)
    fig = phase_figure(run, analysis, panels=None, xlim=(100, 800), ylim=(0, 1))
    assert fig.axes[0].get_xlim() == (100, 800) and fig.axes[0].get_ylim() == (0, 1)
    marked = [ln for ln in fig.axes[0].lines if ln.get_gid() == "outlier"]
    assert len(marked) == 1 and list(marked[0].get_xdata()) == [500]
    # 5.0 is above --ylim 0,1: the legend does not explain a marker the limits cut away
    assert "outlier (left out)" not in [t.get_text() for t in fig.legends[0].get_texts()]
    fig = phase_figure(run, analysis, panels=None)
    assert "outlier (left out)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_a_zoom_legend_explains_only_what_is_in_view():
    run = make_run(switch=500, extras=False)
    zoom = phase_figure(run, make_analysis(run, stop=450), panels=None, xlim=(0, 300))
    texts = [t.get_text() for t in zoom.legends[0].get_texts()]
    assert "SFT\u2192RL" not in texts and not any(t.startswith("stop (") for t in texts)
    whole = phase_figure(run, make_analysis(run, stop=450), panels=None)
    texts = [t.get_text() for t in whole.legends[0].get_texts()]
    assert "SFT\u2192RL" in texts and "stop (step 450)" in texts
    runs = [run, make_run("rl", seed=2, extras=False)]
    fig = compare_figure(runs, analyses=[make_analysis(r) for r in runs], xlim=(0, 300))
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "SFT\u2192RL" not in texts and "recommended stop" not in texts


def test_an_entropy_logged_as_a_loss_term_is_labelled_by_its_own_name():
    """Stable-Baselines3 logs `train/entropy_loss`, minus the policy's entropy: a panel labelled
    "entropy" showed the entropy's rise as a fall. The panel says the log's name; a metric the
    log calls an entropy keeps the role's word."""
    def figure(entropy_name: str):
        collector = RecordCollector("mem:ppo", "test")
        for step in range(0, 200, 10):
            collector.add(step, {"eval/mean_reward": 100.0 + step / 10,
                                 entropy_name: -0.3 - step / 1000})
        run = collector.build()
        analysis = Analysis("mem:ppo", "eval/mean_reward", "max", 100.0, [],
                            [Phase("improvement", 0, 190)], 190)
        return [ax.get_ylabel().replace("\n", "") for ax in phase_figure(run, analysis).axes]

    assert figure("train/entropy_loss")[1] == "train/entropy_loss"
    assert figure("entropy")[1] == "entropy"


def test_an_auto_panel_of_a_metric_constant_over_the_run_is_left_out():
    """A GRPO script logged `entropy` 0.0 at all 500 steps (a placeholder; its `approx_kl` too:
    jsonl-countdown-sft-grpo-acc): the auto panel drew a flat line on an axis matplotlib offsets
    to "1e-14", which reads as a quantity that moved. A panel the user did not ask for is drawn
    where its metric varies; asked for by name, it is drawn as logged."""
    def labels(entropy: float | None, panels="auto"):
        collector = RecordCollector("mem:grpo", "test")
        for step in range(1, 201):
            collector.add(step, {"accuracy": 0.6 + step / 1000,
                                 "entropy": 0.0 if entropy is None else entropy + step / 1e4,
                                 "completion_length": 200.0 + step % 7})
        run = collector.build()
        analysis = Analysis("mem:grpo", "accuracy", "max", 0.6, [],
                            [Phase("improvement", 1, 200)], 200)
        return [ax.get_ylabel().replace("\n", "")
                for ax in phase_figure(run, analysis, panels=panels).axes]

    assert "entropy" not in labels(None)
    assert "entropy" in labels(0.5)
    assert any("length" in label for label in labels(None))
    assert "entropy" in labels(None, panels=["entropy"])


def test_evaluations_a_line_only_joins_are_drawn_over_it():
    """Where the line only joins a few evaluations, it ran through every raw point and hid it:
    the legend's "raw values" showed nowhere, and tb-alpaca-bitcoin-6ev's evaluation at step 250
    (0.6276, between 0.6275 and 0.6287) could not be told from the line. There the points are
    drawn over the line; a dense run's faint dots stay under its smoothed curve."""
    def zorders(n: int, every: int):
        collector = RecordCollector("mem:sft", "test")
        for k in range(n):
            collector.add(every * (k + 1), {"eval_loss": 0.6 + 0.5 * np.exp(-k / 2)})
        run = collector.build()
        analysis = Analysis("mem:sft", "eval_loss", "min", 1.1, [],
                            [Phase("improvement", every, every * n)], every * n)
        top = phase_figure(run, analysis, panels=None).axes[0]
        return {line.get_gid(): line.get_zorder() for line in top.get_lines()
                if line.get_gid() in ("raw", "smoothed")}

    sparse = zorders(6, 50)
    assert sparse["raw"] > sparse["smoothed"]
    dense = zorders(300, 10)
    assert dense["raw"] < dense["smoothed"]
