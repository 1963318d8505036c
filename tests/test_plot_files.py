"""What a figure saves: PDF fonts are Type 42, PNGs have the requested pixel size, the bytes
are reproducible, the user's rcParams are left alone, sizes and formats are validated, and the
saved data is what was drawn."""

from __future__ import annotations

import io

import matplotlib as mpl
import numpy as np
import pytest
from plot_inputs import make_analysis, make_run, make_store, render

from phasewatch.errors import UsageError
from phasewatch.plot import (
    compare_figure,
    figure_data,
    figure_size,
    phase_figure,
    save_figure,
    token_figure,
)
from phasewatch.plot.style import output_format

# ----------------------------------------------------------------- files


def _pdf_fonts(data: bytes):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.append(font.get_object())
    return fonts


@pytest.mark.parametrize("kind", ["phase", "tokens"])
def test_pdf_embeds_truetype_fonts_never_type3(kind, tmp_path):
    if kind == "phase":
        run = make_run(switch=500)
        fig = phase_figure(run, make_analysis(run))
    else:
        fig = token_figure(make_store(tmp_path / "store"))
    path = save_figure(fig, tmp_path / "figure.pdf")
    fonts = _pdf_fonts(path.read_bytes())
    assert fonts
    for font in fonts:
        assert font["/Subtype"] != "/Type3"
        descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        assert descendant["/Subtype"] in ("/TrueType", "/CIDFontType2")
        assert "/FontFile2" in descendant["/FontDescriptor"].get_object()
    assert b"CreationDate" not in path.read_bytes()


@pytest.mark.parametrize("size,dpi,inches", [("single", 100, None), ("full", 150, None),
                                             ((4.0, 3.0), 120, (4.0, 3.0))])
def test_png_decodes_at_the_requested_pixel_size(size, dpi, inches, tmp_path):
    import matplotlib.image as mpimg

    run = make_run()
    fig = phase_figure(run, make_analysis(run), size=size, panels=None)
    width, height = inches or figure_size(size)
    image = mpimg.imread(save_figure(fig, tmp_path / "f.png", dpi=dpi))
    assert image.shape[:2] == (round(height * dpi), round(width * dpi))
    assert image[..., :3].std() > 0.05  # something was drawn


def test_same_input_gives_identical_bytes_in_every_format():
    def draw():
        run = make_run(switch=500)
        return phase_figure(run, make_analysis(run))

    for fmt in ("pdf", "png", "svg"):
        assert render(draw(), fmt) == render(draw(), fmt), fmt
    # one figure saved again (after other renders, as a notebook does) gives the same bytes too
    fig = draw()
    first = {fmt: render(fig, fmt) for fmt in ("pdf", "png", "svg")}
    render(fig, "png", dpi=72)
    assert {fmt: render(fig, fmt) for fmt in ("pdf", "png", "svg")} == first


def test_user_rcparams_are_left_alone(tmp_path):
    before = {k: v for k, v in mpl.rcParams.items() if k != "backend"}
    run = make_run()
    save_figure(phase_figure(run, make_analysis(run)), tmp_path / "f.pdf")
    after = {k: v for k, v in mpl.rcParams.items() if k != "backend"}
    assert before == after


def test_sizes_and_formats_are_validated():
    assert figure_size("single") == (3.3, pytest.approx(2.1))
    assert figure_size("full", n_panels=2)[0] == 6.75
    assert figure_size("3.3x2.4") == (3.3, 2.4)
    for bad in ("huge", "0x1", "3.3by2"):
        with pytest.raises(UsageError):
            figure_size(bad)
    for bad in ("fig.jpg", "fig", "fig.pdf.txt"):
        with pytest.raises(UsageError, match=r"\.pdf, \.png, \.svg"):
            output_format(bad)


def test_user_rcparams_win_except_the_font_type(tmp_path):
    run = make_run()
    with mpl.rc_context({"font.family": "serif", "font.size": 9, "pdf.fonttype": 3}):
        fig = phase_figure(run, make_analysis(run), panels=None)
        save_figure(fig, tmp_path / "f.pdf")
    label = fig.axes[0].yaxis.label
    assert label.get_fontfamily() == ["serif"]
    pdf = (tmp_path / "f.pdf").read_bytes()
    assert b"/Type3" not in pdf and b"/FontFile2" in pdf  # Type 42 whatever the user set
    default = phase_figure(run, make_analysis(run), panels=None)
    # the paper's sans-serif, pinned to the installed font it resolved to (a later draw outside
    # the style must not pick another font and move the labels)
    from phasewatch.plot.style import PAPER_RC
    assert default.axes[0].yaxis.label.get_fontfamily()[0] in PAPER_RC["font.sans-serif"]


def test_figure_data_is_what_was_drawn(tmp_path):
    from phasewatch.plot import save_data

    runs = [make_run("sft_then_rl", extras=False), make_run("rl", seed=2, extras=False)]
    fig = compare_figure(runs, analyses=[make_analysis(r) for r in runs])
    data = figure_data(fig).to_frame()
    for label, line in zip(("SFT-then-RL", "RL (GRPO)"),
                           [ln for ln in fig.axes[0].lines if ln.get_gid() == "smoothed"]):
        rows = data[(data.run == label) & (data.kind == "smoothed")]
        assert np.allclose(rows.step.to_numpy(float), line.get_xdata())
        assert np.allclose(rows.value.to_numpy(float), line.get_ydata())
    path = save_data(fig, tmp_path / "f.csv")
    import pandas as pd

    back = pd.read_csv(path)
    assert list(back.columns) == ["panel", "run", "metric", "kind", "step", "value", "end_step"]
    assert len(back) == len(data) and set(back.kind) >= {"raw", "smoothed", "stop"}
    grid = figure_data(compare_figure(runs, analyses=[make_analysis(r) for r in runs], layout="grid"))
    phases = grid.to_frame()
    bands = phases[phases.kind.str.startswith("phase:")]
    assert bands[["step", "end_step"]].to_numpy().tolist()[:3] == [[0, 120], [120, 450], [450, 995]]
