"""A comparison of more runs than colours (trial 28, finding 3): 6 or more runs of no known arm
crashed with StopIteration (exit 70) when the 5 spare colours ran out. Colours now come again
with other line styles, then markers: every line differs from every other, the legend shows
each line's style and says why, and nothing overlaps, from 6 to 30 runs, overlay and grid."""

from __future__ import annotations

import json
import math

import matplotlib as mpl
import pytest
from plot_inputs import make_run
from test_plot_layout import assert_text_fits

from phasewatch.cli import main
from phasewatch.plot import ARM_COLORS, compare_figure, figure_data
from phasewatch.plot.style import _SPARE_COLORS


def others(n, points=120):
    """`n` runs of arms phasewatch does not know (a sweep's configurations)."""
    return [make_run(f"cfg{k}", n=points, seed=k, extras=False) for k in range(n)]


def line_style(line):
    """What tells a drawn line apart: colour, dash pattern, marker."""
    _offset, dashes = line._unscaled_dash_pattern  # get_linestyle() says '--' for any pattern
    return (mpl.colors.to_hex(line.get_color()), tuple(dashes or ()), line.get_marker())


def smoothed(fig):
    return [line for ax in fig.axes for line in ax.lines if line.get_gid() == "smoothed"]


@pytest.mark.parametrize("n", [6, 10, 20, 30])
def test_overlay_of_more_runs_than_colours_draws_every_line_differently(n):
    fig = compare_figure(others(n))
    lines = smoothed(fig)
    assert len(lines) == n
    styles = [line_style(line) for line in lines]
    assert len(set(styles)) == n  # no two runs look alike
    # the first five keep the colours they had before (the spare palette, in order)
    assert [s[0].upper() for s in styles[:5]] == [c.upper() for c in _SPARE_COLORS]
    # the legend shows each run with its line's colour and style, and says why they differ
    legend = fig.legends[0]
    handles = {t.get_text(): h for t, h in zip(legend.get_texts(), legend.legend_handles)}
    for k, line in enumerate(lines):
        assert line_style(handles[f"cfg{k}"]) == line_style(line)
    title = legend.get_title().get_text().replace("\n", " ")
    if n <= 7:
        assert "colours" not in title
        return
    assert f"{n} lines in 7 colours: lines of one colour differ by line" in title
    assert ("marker" in title) == (n > 28)
    assert legend.handlelength >= 3  # long enough to show a dash-dot


def test_seven_runs_need_no_line_styles():
    fig = compare_figure(others(7))
    assert {line.get_linestyle() for line in smoothed(fig)} == {"-"}
    assert len({line_style(line) for line in smoothed(fig)}) == 7
    assert "colours" not in fig.legends[0].get_title().get_text()


def test_known_arms_keep_their_colour_beside_many_others():
    runs = [make_run("sft", extras=False), *others(9), make_run("rl", seed=20, extras=False)]
    styles = [line_style(line) for line in smoothed(compare_figure(runs))]
    assert styles[0] == (ARM_COLORS["sft"].lower(), (), "None")
    assert styles[-1] == (ARM_COLORS["rl"].lower(), (), "None")
    # SFT is in the figure: its black is not lent to another run
    assert all(s[0] != ARM_COLORS["sft"].lower() for s in styles[1:])
    assert len(set(styles)) == len(runs)


def test_run_styles_never_run_out():
    from phasewatch.plot.style import run_styles

    styles = run_styles([f"cfg{k}" for k in range(300)])
    assert len(styles) == 300
    assert len(set(styles[:112])) == 112  # 7 colours x 4 line styles x (no marker + 3)
    assert run_styles(["sft", "sft", "sft"])[0].color == ARM_COLORS["sft"]
    assert len(set(run_styles(["sft", "sft", "sft"]))) == 3  # three groups of one arm


@pytest.mark.parametrize("n", [6, 20])
@pytest.mark.parametrize("size", ["single", "full"])
def test_many_runs_text_fits(n, size):
    assert_text_fits(compare_figure(others(n, points=60), size=size))


def test_many_labelled_runs_text_fits():
    runs = others(10, points=60)
    assert_text_fits(compare_figure(runs, labels=[f"lr-sweep-config-{k}" for k in range(10)]))


@pytest.mark.parametrize("n", [6, 10])
def test_grid_of_many_runs_gives_each_its_panel(n):
    fig = compare_figure(others(n, points=60), layout="grid")
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]
    assert titles == [f"cfg{k}" for k in range(n)]
    assert {line.get_linestyle() for line in smoothed(fig)} == {"-"}  # a panel each: solid
    assert_text_fits(fig)


def test_unsmoothed_runs_are_lines_too():
    """With no smoothing each run is its raw values joined, so a dashed run shows its dashes."""
    from phasewatch.plot import Smoothing

    fig = compare_figure(others(9, points=40), smoothing=Smoothing("none"))
    assert len({line_style(line) for line in smoothed(fig)}) == 9


def write_folder(folder, n):
    folder.mkdir()
    for k in range(n):
        with open(folder / f"run{k}.jsonl", "w") as fh:
            for i in range(21):
                value = 0.5 + 0.3 * (1 - math.exp(-i / (3 + k))) + 0.005 * ((i * 7 + k) % 5)
                fh.write(json.dumps({"step": 50 * i, "val_accuracy": round(value, 4)}) + "\n")
    return folder


@pytest.mark.parametrize("extra", [[], ["--layout", "grid"], ["--size", "full"], ["labels"]],
                         ids=["overlay", "grid", "full", "labels"])
def test_plot_of_six_paths_and_of_a_folder_of_six(tmp_path, capsys, extra):
    folder = write_folder(tmp_path / "runs", 6)
    paths = [str(folder / f"run{k}.jsonl") for k in range(6)]
    labels = extra == ["labels"]
    if labels:
        extra = [arg for k in range(6) for arg in ("--label", f"config {k}")]
    out = tmp_path / "six.png"
    assert main(["plot", *paths, "--dpi", "60", "--data", str(tmp_path / "six.csv"),
                 "-o", str(out), *extra]) == 0
    assert out.stat().st_size > 0
    assert "internal error" not in capsys.readouterr().err
    folder_extra = [] if labels else extra
    assert main(["plot", str(folder), "--dpi", "60", "-o", str(tmp_path / "folder.png"),
                 *folder_extra]) == 0


def test_the_figures_data_names_every_run():
    fig = compare_figure(others(12, points=40))
    assert set(figure_data(fig).to_frame()["run"]) == {f"cfg{k}" for k in range(12)}
