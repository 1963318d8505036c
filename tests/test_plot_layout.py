"""No text of a paper figure overlaps another or leaves the canvas, at the paper sizes.

Every layout (phase figure, comparison overlay, grid, seed groups, several metric panels) is
rendered at a single column (3.3 in), the full text width (6.75 in) and a fixed 3.3 x 3 in, and
the rendered boxes of every drawn text (tick labels, axis labels, titles, phase labels, legend
entries and titles) are compared pairwise. Real runs: the sample logs of the reference trainer,
and the real logs of other frameworks (long file-stem names) when present.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import phasewatch
from phasewatch.plot import compare_figure, phase_figure

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"
ARMS = ("sft_then_rl", "chord_mu", "chord_phi", "rl", "sft")
REAL = ROOT.parent / "shared" / "real_logs"
REAL_LOGS = ("verl_ppo_qwen05b/Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567.log",
             "trl_grpo_unsloth/training_logs.json", "llamafactory_grpo/trainer_log.jsonl")
SIZES = ("single", "full", (3.3, 3.0))
THREE = ["eval/accuracy", "expert/nll_heldout", "train/entropy"]
TOLERANCE_PX = 0.5


@pytest.fixture(scope="module")
def arms():
    return [phasewatch.read_run(SAMPLES / arm) for arm in ARMS]


def has_performance_metric(run) -> bool:
    from phasewatch.errors import UsageError
    from phasewatch.signals import choose_metric

    try:
        choose_metric(run)
    except UsageError:
        return False
    return True


def drawn_texts(fig) -> list:
    """(description, bbox) of every text that is drawn, in display pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis._update_ticks():  # the ticks inside the view, as drawn
                for label in (tick.label1, tick.label2):
                    if label.get_visible() and label.get_text():
                        texts.append(label)
            texts.append(axis.label)
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.get_legend() is not None:
            texts += [*ax.get_legend().get_texts(), ax.get_legend().get_title()]
    for legend in fig.legends:
        texts += [*legend.get_texts(), legend.get_title()]
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts
            if t.get_visible() and t.get_text().strip()]


def assert_text_fits(fig) -> None:
    canvas = fig.bbox
    texts = drawn_texts(fig)
    assert texts
    for text, box in texts:
        assert (box.x0 >= canvas.x0 - TOLERANCE_PX and box.y0 >= canvas.y0 - TOLERANCE_PX
                and box.x1 <= canvas.x1 + TOLERANCE_PX and box.y1 <= canvas.y1 + TOLERANCE_PX), (
            f"{text!r} leaves the {canvas.width:.0f}x{canvas.height:.0f} px canvas: {box}")
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert width <= TOLERANCE_PX or height <= TOLERANCE_PX, f"{a!r} overlaps {b!r}"


def test_the_checker_sees_an_overlap(arms):
    """The check can fail: two labels written on one spot are caught."""
    fig = phase_figure(arms[0], size="single")
    fig.axes[0].text(0.5, 0.5, "one", transform=fig.axes[0].transAxes)
    fig.axes[0].text(0.5, 0.5, "two", transform=fig.axes[0].transAxes)
    with pytest.raises(AssertionError, match="overlaps"):
        assert_text_fits(fig)


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_phase_figure_text_fits(arms, size):
    assert_text_fits(phase_figure(arms[0], size=size))


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_phase_figure_with_three_metric_panels_fits(arms, size):
    assert_text_fits(phase_figure(arms[4], metric=THREE[0], panels=THREE[1:], size=size))


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_overlay_text_fits(arms, size):
    assert_text_fits(compare_figure(arms, size=size))


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_overlay_with_three_metric_panels_fits(arms, size):
    assert_text_fits(compare_figure(arms, THREE, size=size))


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_grid_text_fits(arms, size):
    assert_text_fits(compare_figure(arms, layout="grid", size=size))


@pytest.mark.parametrize("size", SIZES[:2], ids=str)
def test_seed_groups_text_fits(arms, size):
    runs = [arms[0], arms[1], arms[2], arms[3]]
    labels = ["SFT-then-RL", "SFT-then-RL", "CHORD", "CHORD"]
    assert_text_fits(compare_figure(runs, labels=labels, size=size))


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real_logs not present")
@pytest.mark.parametrize("layout", ("overlay", "grid"))
@pytest.mark.parametrize("size", [SIZES[0], *(pytest.param(s, marks=pytest.mark.slow) for s in SIZES[1:])],
                         ids=str)
def test_real_logs_of_three_frameworks_fit(layout, size):
    runs = [phasewatch.read_run(REAL / rel) for rel in REAL_LOGS]
    runs = [run for run in runs if has_performance_metric(run)]  # others need --metric
    assert len(runs) >= 2
    fig = compare_figure(runs, layout=layout, size=size)
    assert_text_fits(fig)
    # every run is drawn (each with its own performance metric)
    drawn = [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "smoothed"]
    assert len(drawn) == len(runs)
    assert np.all([line.get_xdata().size > 0 for line in drawn])


@pytest.mark.parametrize("size", SIZES[:2], ids=str)
@pytest.mark.parametrize("layout", ("overlay", "grid"))
def test_the_docs_seed_group_fits(size, layout):
    """Three real seeds of the SFT arm as one group, with the expert-NLL panel, as in the docs."""
    paths = [SAMPLES / "sft", SAMPLES / "seeds" / "sft_s1", SAMPLES / "seeds" / "sft_s2"]
    runs = [phasewatch.read_run(p) for p in paths]
    analyses = [phasewatch.analyze(r) for r in runs]
    metrics = ["eval/accuracy", "expert/nll_heldout"] if layout == "overlay" else None
    assert_text_fits(compare_figure(runs, metrics, labels=["SFT"] * 3, analyses=analyses,
                                    layout=layout, size=size))


def test_a_tick_label_at_the_step_axis_end_stays_on_the_canvas(tmp_path):
    """A verl run's AIME score every 10 steps to 150, entropy and response length every step
    to 159: the step axis ends at 160.6, and at single-column width the layout alternated
    between axes wide enough for a '160' at the right end and axes narrower than that, where
    the locator drops it; the figure was frozen with the label past the edge, '160' cut to
    '16' (plot/layout.freeze_layout keeps the ticks of the last draw and lays them out)."""
    score = [-0.771, -0.790, -0.746, -0.709, -0.682, -0.655, -0.679, -0.671, -0.647, -0.630,
             -0.619, -0.646, -0.650, -0.616, -0.586, -0.591]
    rows = []
    for step in range(160):
        row = {"step": step, "actor/entropy": 0.25 - 0.0005 * step,
               "response_length/mean": 1000 + 25 * step}
        if step % 10 == 0 and step // 10 < len(score):
            row["val-aux/aime_2024/reward/mean@16"] = score[step // 10]
        rows.append(row)
    log = tmp_path / "metrics.jsonl"
    log.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    fig = phase_figure(phasewatch.read_run(log), size="single")
    assert len(fig.axes) == 3
    assert "160" in [t.get_text() for t in fig.axes[-1].get_xticklabels()]
    assert_text_fits(fig)
