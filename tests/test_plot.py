"""Paper figures are checked, not only created: bands equal the reported phases, labels are text
and do not overlap, fonts are Type 42, PNGs have the requested pixel size, bytes are reproducible.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest

from phasewatch.errors import UsageError
from phasewatch.plot import (
    ARM_COLORS,
    PHASE_COLORS,
    Smoothing,
    compare_figure,
    figure_data,
    figure_size,
    phase_figure,
    save_figure,
    token_figure,
)
from phasewatch.plot.style import PHASE_ABBREVIATIONS, output_format
from phasewatch.plot.tokens import token_distributions
from phasewatch.results import Analysis, ChangePoint, Phase
from phasewatch.run import Event, RecordCollector

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------- inputs built by hand


def make_run(name="sft_then_rl", n=200, seed=0, switch=None, extras=True):
    """A run whose accuracy dips, recovers and slowly declines, with the optional panels' metrics;
    its config names its seed (runs of one arm and different seeds are a seed group)."""
    rng = np.random.default_rng(seed)
    collector = RecordCollector(f"mem:{name}", "test")
    steps = np.arange(n) * 5
    t = steps / steps[-1]
    acc = 0.5 - 0.25 * np.exp(-((t - 0.12) / 0.07) ** 2) + 0.3 / (1 + np.exp(-(t - 0.35) * 20))
    acc -= 0.1 * np.clip(t - 0.6, 0, None) + rng.normal(0, 0.02, n)
    for i, step in enumerate(steps):
        record = {"eval/accuracy": acc[i]}
        if extras:
            record["expert/nll_train"] = 2 * np.exp(-3 * t[i]) + 0.05
            record["expert/nll_heldout"] = 2 * np.exp(-3 * t[i]) + 0.6 * max(t[i] - 0.5, 0) + 0.3
            record["train/entropy"] = 1.0 - 0.5 * t[i]
            record["eval/response_length"] = 10 + 20 * t[i]
        collector.add(int(step), record)
    events = [Event(int(switch), "sft_to_rl")] if switch is not None else []
    return collector.build(name=name, algorithm=name, performance_metric="eval/accuracy",
                           direction="max", events=events, config={"seed": seed})


def make_analysis(run, phases=None, stop=450):
    phases = phases or [("disruption", 0, 120), ("readaptation", 120, 450), ("overfit", 450, 995)]
    cps = [ChangePoint(start, start - 10, start + 15) for _, start, _ in phases[1:]]
    return Analysis(source=run.source, metric="eval/accuracy", direction="max", baseline=0.5,
                    changepoints=cps, phases=[Phase(*p) for p in phases],
                    recommended_stop_step=stop)


def make_store(folder, n_steps=11, seed=0):
    from phasewatch.tokens import TokenStoreWriter

    rng = np.random.default_rng(seed)
    sequences = ([{"id": f"t{i}", "split": "train", "length": 10} for i in range(30)]
                 + [{"id": f"h{i}", "split": "heldout", "length": 10} for i in range(20)])
    difficulty = rng.normal(0, 2.0, 500)
    rate = np.where(np.arange(500) < 300, 0.1, 0.04)
    with TokenStoreWriter(folder, sequences) as writer:
        for k in range(n_steps):
            logit = -2 + rate * k * 10 - difficulty
            writer.append(k * 10, -np.logaddexp(0, -logit))
    return folder


def gids(fig_or_ax, gid, kind="patches"):
    out = []
    axes = fig_or_ax.axes if hasattr(fig_or_ax, "axes") and not hasattr(fig_or_ax, "patches") else [fig_or_ax]
    for ax in axes:
        out += [a for a in getattr(ax, kind) if a.get_gid() == gid]
    return out


def render(fig, fmt, dpi=100):
    buffer = io.BytesIO()
    path = f"/dev/null.{fmt}"  # only the extension matters to output_format
    output_format(path)
    from phasewatch.plot.style import SAVE_METADATA, paper_style

    with paper_style():
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=SAVE_METADATA[fmt])
    return buffer.getvalue()


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
        "held-out accuracy", "expert NLL", "entropy", "resp. length"]
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


def test_long_metric_names_are_wrapped_to_fit_their_panel():
    collector = RecordCollector("mem:verl", "test")
    name = "val-core/openai/gsm8k/reward/mean@1"
    for step in range(0, 400, 10):
        collector.add(step, {name: 0.3 + step / 1000})
    run = collector.build()
    analysis = Analysis("mem:verl", name, "max", 0.3, [], [Phase("improvement", 0, 390)], None)
    fig = phase_figure(run, analysis, panels=None)
    label = fig.axes[0].yaxis.label
    assert "\n" in label.get_text() and label.get_text().replace("\n", "") == name  # wrapped, whole
    (box,) = _extents(fig, [label])
    assert box.height <= fig.axes[0].bbox.height
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "raw values" in legend and "Gaussian smooth, sd 6 steps" in legend  # 390 steps / 60


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


# ----------------------------------------------------------------- tokens


def test_token_histograms_match_numpy_and_the_mesh_is_rasterised(tmp_path):
    from phasewatch.tokens import open_store

    store = open_store(make_store(tmp_path / "store"))
    dist = token_distributions(store, bins=20)
    assert dist.steps.tolist() == list(range(0, 110, 10))
    p = np.exp(store.logprobs(50)[:300].astype(np.float64))
    expected = np.histogram(p, bins=dist.edges)[0] / 300
    assert np.allclose(dist.shares["train"][5], expected)
    assert np.allclose(dist.shares["heldout"].sum(axis=1), 1.0)
    held = np.exp(store.logprobs(50)[300:].astype(np.float64))
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):  # exact for float16 stores
        assert dist.quantiles["train"][q][5] == pytest.approx(np.quantile(p, q), rel=1e-9)
        assert dist.quantiles["heldout"][q][5] == pytest.approx(np.quantile(held, q), rel=1e-9)

    fig = token_figure(store, bins=20)
    meshes = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "token-mesh"]
    assert len(meshes) == 2 and all(m.get_rasterized() for m in meshes)
    assert [ax.get_title(loc="left") for ax in fig.axes[:2]] == ["expert tokens, train", "expert tokens, held-out"]
    median = next(line for line in fig.axes[0].lines if line.get_gid() == "token-median")
    assert median.get_ydata()[5] == pytest.approx(np.quantile(p, 0.5), rel=1e-6)
    assert median.get_ydata()[-1] > median.get_ydata()[0] + 0.3  # train tokens are learned
    pdf = render(fig, "pdf")
    assert b"/Subtype /Image" in pdf  # the mesh is a raster image inside the vector PDF


def test_token_quantile_bands_are_ordered(tmp_path):
    fig = token_figure(make_store(tmp_path / "store"), kind="quantiles", size="full")
    for ax in fig.axes:
        bands = [c for c in ax.collections if c.get_gid() == "token-band"]
        assert len(bands) == 2
        outer, inner = (b.get_paths()[0].vertices[:, 1] for b in bands)
        assert outer.min() <= inner.min() and outer.max() >= inner.max()


def test_invalid_log_probs_name_the_step_file(tmp_path):
    from phasewatch.errors import InputError
    from phasewatch.tokens import open_store

    folder = make_store(tmp_path / "store", n_steps=3)
    bad = np.load(folder / "step_00000010.npy")
    bad[7] = np.nan
    np.save(folder / "step_00000010.npy", bad)
    with pytest.raises(InputError, match=r"step_00000010\.npy.*step 10: NaN"):
        token_distributions(open_store(folder))


def test_token_figure_needs_a_store():
    with pytest.raises(UsageError, match="no expert log-prob store"):
        token_figure(make_run())


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
    assert line[-1] == pytest.approx(values[-1])
    for arm in ("sft", "chord_mu", "rl"):
        import phasewatch

        run = phasewatch.read_run(ROOT / "sample_logs" / arm)
        fig = compare_figure([run], size="single")
        (drawn,) = [ln for ln in fig.axes[0].lines if ln.get_gid() == "smoothed"]
        assert drawn.get_ydata()[0] == pytest.approx(run.series("eval/accuracy").iloc[0])


# ----------------------------------------------------------------- issue 17: runs never mixed


def make_other_run(name="trl", n=50, event_steps=(80, 160)):
    """A run with another performance metric (a reward) and its own events (epochs)."""
    rng = np.random.default_rng(3)
    collector = RecordCollector(f"mem:{name}", "test")
    for step in range(5, 5 * n + 1, 5):
        collector.add(step, {"train/reward": 0.5 + step / 1000 + rng.normal(0, 0.05)})
    return collector.build(name=name, algorithm=name, performance_metric="train/reward",
                           direction="max", events=[Event(s, "epoch") for s in event_steps])


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


def test_grid_titles_are_cut_to_their_panel():
    long = make_run("Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567", extras=False)
    fig = compare_figure([long, make_run("chord_mu", seed=1, extras=False)], layout="grid")
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes[:2]:
        title = ax._left_title
        assert title.get_window_extent(renderer).width <= ax.bbox.width + 0.5
    assert fig.axes[0].get_title(loc="left").endswith("\u2026")


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
