"""report: one self-contained page with every run, seed groups and features vs hyperparameters."""

from __future__ import annotations

import re

import pytest
from report_runs import N_RUNS, make_sweep

from phasewatch.cli import main
from phasewatch.report.svg import fmt, nice_ticks


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    root = make_sweep(tmp_path_factory.mktemp("sweep"))
    out = root / "report.html"
    assert main(["report", str(root / "*"), "--workers", "2", "--no-progress",
                 "-o", str(out)]) == 0
    return out.read_text()


def test_page_is_self_contained(page):
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert page.count("<script>") == 1 and "<script src" not in page


def test_every_run_has_a_row_a_card_and_a_drill_down(page):
    assert len(re.findall(r'<tr data-run="\d+"', page)) == N_RUNS
    assert len(re.findall(r'<a class="card" data-run="\d+"', page)) == N_RUNS
    assert len(re.findall(r'<details class="run" id="run-\d+"', page)) == N_RUNS
    assert "no valid record in the file" in page  # the broken run, as a row and a card
    assert '<p class="ct">zz_broken</p><p class="err">' in page  # its card is titled as the others
    # every readable run: its curve with phase bands, and its signals in the drill-down
    cards = re.findall(r'<a class="card".*?</a>', page)
    assert sum("<polyline" in c and "<rect" in c for c in cards) == N_RUNS - 1


def test_seed_groups_and_features(page):
    seeds = page.split("<h2>Seed groups</h2>")[1].split("<h2>")[0]
    # 2 arms x 2 expert sizes, 3 seeds each: 4 bands, titled by the size that varies
    assert seeds.count("<polygon") == 4
    assert len(re.findall(r"3 seeds · expert_size=(256|1024)", seeds)) == 4
    feats = page.split("<h2>Phase features vs hyperparameters</h2>")[1].split("<h2>")[0]
    assert "dip depth vs expert_size" in feats
    assert "dip depth vs lr" not in feats  # one learning rate: not a swept hyperparameter
    assert feats.count("<circle") > 0
    # each arm's 3 seeds per size: a confidence band of the mean per arm (only SFT has a dip)
    panels = {re.search(r'class="t">([^<]+)<', svg).group(1): svg
              for svg in re.findall(r"<svg.*?</svg>", feats, re.DOTALL)}
    assert panels["dip depth vs expert_size"].count("<polygon") == 1
    assert panels["peak step vs expert_size"].count("<polygon") == 2


def test_report_needs_html_output(tmp_path, capsys):
    assert main(["report", "sample_logs/demo", "-o", str(tmp_path / "r.pdf")]) == 2
    assert "give -o REPORT.html" in capsys.readouterr().err


def test_size_is_printed(tmp_path, capsys):
    out = tmp_path / "one.html"
    assert main(["report", "sample_logs/demo", "--workers", "1", "--no-progress",
                 "-o", str(out)]) == 0
    err = capsys.readouterr().err
    size = out.stat().st_size
    assert f"report of 1 run -> {out} ({size / 1e3:.0f} kB)" in err


def test_ticks():
    assert nice_ticks(0, 2000, 4) == [0, 500, 1000, 1500, 2000]
    assert nice_ticks(0.12, 0.5, 4) == [0.2, 0.3, 0.4, 0.5]
    assert [fmt(v) for v in (0, 1500, 2000, 0.25, 0.00095)] == ["0", "1.5k", "2k", "0.25",
                                                                "0.00095"]


def test_seed_band_is_the_mean_and_its_t_interval():
    import numpy as np

    from phasewatch.report.sections import seed_band

    steps = np.arange(0, 101, 10.0)
    curves = [np.column_stack([steps, np.full_like(steps, v)]) for v in (1.0, 2.0, 3.0)]
    curves[2] = curves[2][:-2]  # the third seed stops at step 80: the band stops there too
    grid, mean, low, high, _, _ = seed_band(curves, points=9)
    assert grid[0] == 0 and grid[-1] == 80
    np.testing.assert_allclose(mean, 2.0)
    half = (high - low) / 2
    np.testing.assert_allclose(half, 4.302653 * 1.0 / np.sqrt(3), rtol=1e-6)  # t(0.975, 2) sd/sqrt(n)
    assert seed_band([curves[0][:3], curves[1][5:]]) is None  # no common range


def test_seed_band_is_about_the_course_not_each_evaluations_noise():
    """The seeds are smoothed as in the paper figures before the t interval: three noisy seeds
    of one flat course give a band a fraction of the raw values' one; a cut at the trough
    keeps the V as deep as the data."""
    import numpy as np
    from scipy import stats

    from phasewatch.report.sections import seed_band

    rng = np.random.default_rng(0)
    steps = np.arange(0, 2000, 10.0)
    curves = [np.column_stack([steps, 0.5 + rng.normal(0, 0.05, steps.size)]) for _ in range(3)]
    _, _, low, high, _, smoothing = seed_band(curves)
    half = (high - low) / 2
    raw = np.std([c[:, 1] for c in curves], axis=0, ddof=1) * stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert np.median(half) < 0.4 * np.median(raw)
    assert smoothing.describe() == "Gaussian smooth, sd 33 steps"
    v = [np.column_stack([steps, np.abs(steps - 300) / 1000 + rng.normal(0, 0.002, steps.size)])
         for _ in range(2)]
    cut = seed_band(v, breaks=[300.5])
    uncut = seed_band(v)
    assert cut[1][np.searchsorted(cut[0], 300)] < 0.01 < uncut[1][np.searchsorted(uncut[0], 300)]


def test_a_band_out_of_range_is_cut_at_the_plots_edge():
    """2 seeds: the t band is +-9 sd wide; the y axis stays the curves' and the band is cut."""
    from phasewatch.report.svg import MARGIN, Area, Chart, Line, render

    chart = Chart(height=120, lines=[Line([[0, 0.0], [10, 1.0]])],
                  areas=[Area([0, 10], [-5, -5], [5, 5], in_range=False)])
    svg = render(chart)
    yticks = [float(t) for t in re.findall(r'class="y">([^<]+)</text>', svg)]
    assert yticks and min(yticks) >= 0 and max(yticks) <= 1
    ys = [float(p.split(",")[1]) for p in
          re.search(r'<polygon points="([^"]+)"', svg).group(1).split()]
    assert min(ys) >= MARGIN[0] and max(ys) <= 120 - MARGIN[2]


def test_seed_groups_in_numeric_order(page):
    seeds = page.split("<h2>Seed groups</h2>")[1].split("<h2>")[0]
    titles = re.findall(r"(SFT|CHORD-φ) · 3 seeds · expert_size=(\d+)", seeds)
    assert titles == [("CHORD-φ", "256"), ("CHORD-φ", "1024"), ("SFT", "256"), ("SFT", "1024")]


def test_tick_texts_tell_neighbours_apart():
    from phasewatch.report.svg import fmt_ticks

    assert fmt_ticks([0.00095, 0.001, 0.00105]) == ["0.00095", "0.001", "0.00105"]
    assert fmt_ticks([0.100001, 0.100002]) == ["0.100001", "0.100002"]
    assert fmt_ticks([0, 500, 1000]) == ["0", "500", "1k"]
    # trial 61: HF's total_flos (3.2e9-3.6e9) read "3.2e+06k", an exponent and a suffix at once
    assert fmt_ticks([3.2e9, 3.4e9, 3.6e9]) == ["3.2e+09", "3.4e+09", "3.6e+09"]
    assert fmt_ticks([0, 500_000, 1_000_000, 1_500_000]) == ["0", "500k", "1M", "1.5M"]


def test_phase_names_sit_above_the_data():
    """A curve at the top of its range never runs through a phase name."""
    from phasewatch.report.svg import Band, Chart, Line, render

    svg = render(Chart(lines=[Line([[0, 0.0], [50, 1.0], [100, 1.0]])],
                       bands=[Band(0, 50, "readaptation"), Band(50, 100, "plateau")]))
    label_ys = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" class="b"', svg)]
    line_ys = [float(p.split(",")[1]) for p in
               re.search(r'<polyline points="([^"]+)"', svg).group(1).split()]
    assert len(label_ys) == 2 and max(label_ys) + 2 < min(line_ys)



def test_a_series_of_one_value_is_drawn_as_a_dot():
    """Trial 61: the drill-down's panels of HF's end-of-run values (train_runtime, total_flos,
    train_loss: one value each) were empty, a polyline of one point drawing nothing."""
    from phasewatch.report.svg import Chart, Line, render

    svg = render(Chart(lines=[Line([[320, 55.2]], color="#0072b2", label="train_runtime")]))
    assert re.search(r'<circle cx="[\d.]+" cy="[\d.]+" r="2.2" fill="#0072b2" '
                     r'fill-opacity="1.0"><title>train_runtime</title></circle>', svg)
    two = render(Chart(lines=[Line([[0, 1.0], [10, 2.0]])]))
    assert "<circle" not in two and "<polyline" in two

def test_feature_panels_share_the_hyperparameters_range():
    from phasewatch.report.svg import Chart, render

    svg = render(Chart(points=[(5.0, 1.0, "#000", ""), (5.0, 2.0, "#000", "")], xlim=(0.0, 10.0)))
    xticks = re.findall(r'class="x">([^<]+)</text>', svg)
    assert xticks[0] == "0" and xticks[-1] == "10"


def test_every_axis_gets_at_least_two_ticks():
    """A small chart's y axis asks for two ticks; [0.48, 0.95] would round to 0.5 alone (an
    axis without a scale): it is 0.6 and 0.8."""
    assert nice_ticks(0.48, 0.95, 2) == [0.6, 0.8]
    assert nice_ticks(0.501, 0.502, 2) == [0.501, 0.502]
    assert nice_ticks(0, 0.9, 2) == [0.0, 0.5]


def test_drill_down_shows_the_token_summary_of_a_run_with_a_store(tmp_path, capsys):
    """sample_logs/demo holds an expert log-prob store: its drill-down has the step-0
    divergence (the sweep row's numbers) and the per-step token signals; a run without a store
    has no such section."""
    from phasewatch.sweep import sweep

    out = tmp_path / "r.html"
    assert main(["report", "sample_logs/demo", "sample_logs/seeds/sft_s1", "--workers", "1",
                 "--no-progress", "-o", str(out)]) == 0
    page = out.read_text()
    demo, other = page.split('<details class="run" id="run-')[1:3]
    row = sweep(["sample_logs/demo"], workers=1).iloc[0]
    assert "<h4>Expert tokens</h4>" in demo and "<h4>Expert tokens</h4>" not in other
    assert f"<td>{row['token_divergence']:.4g}</td>" in demo
    assert f"<td>{row['token_mean_nll']:.4g}</td>" in demo
    for signal in ("tokens/nll_train", "tokens/nll_heldout", "tokens/divergent_share_train"):
        assert f">{signal}</text>" in demo


def test_feature_band_is_the_t_interval_of_each_values_mean():
    import numpy as np
    from scipy import stats

    from phasewatch.report.sections import group_band

    xs, lower, upper = group_band({256.0: [0.1, 0.2, 0.3], 1024.0: [0.5, 0.7], 4096.0: [0.9]})
    assert xs == [256.0, 1024.0]  # a value with one run has no interval
    half = [stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3), stats.t.ppf(0.975, 1) * np.std([0.5, 0.7], ddof=1) / np.sqrt(2)]
    np.testing.assert_allclose(lower, [0.2 - half[0], 0.6 - half[1]])
    np.testing.assert_allclose(upper, [0.2 + half[0], 0.6 + half[1]])
    assert group_band({1.0: [0.1, 0.2], 2.0: [0.3]}) is None  # a band needs two values


def test_long_titles_fit_the_chart():
    """An SVG clips text past its width: a title too long for the plot's width starts at the
    chart's edge, and one too long even there ends in an ellipsis with the whole title as its
    tooltip."""
    from phasewatch.report.svg import TITLE_CHAR, Chart, Line, render

    def title_of(name):
        svg = render(Chart(width=230, title=name, lines=[Line([[0, 0.0], [1, 1.0]])]))
        return re.search(r'<text x="([\d.]+)" y="[\d.]+" class="t">(.*?)</text>', svg).groups()

    assert title_of("sft (seed 0)") == ("40", "sft (seed 0)")
    x, text = title_of("value at recommended step vs num_train_epochs")  # 45 characters
    assert x == "4" and text == "value at recommended step vs num_train_epochs"
    x, text = title_of("Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567-with-a-longer-tail (seed 3)")
    shown = text.split("</title>")[1]
    assert x == "4" and shown.endswith("…") and len(shown) * TITLE_CHAR <= 230 - 4
    assert text.startswith("<title>Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567-with-a-longer")
    svg = render(Chart(width=230, height=130, ylabel="val/test_score/openai/gsm8k/mean@16",
                       lines=[Line([[0, 0.0], [1, 1.0]])]))
    label = re.search(r'rotate\(-90\)" class="x">(.*?)</text>', svg).group(1)
    assert label.startswith("<title>val/test_score/openai/gsm8k/mean@16</title>")
    assert label.endswith("…") and len(label.split("</title>")[1]) < 30


def test_runs_of_different_metrics_get_feature_charts_of_their_own():
    """A loss and a reward are not one quantity: runs analysed on different metrics never share
    a feature chart's axis or its means (their values went on one axis, 0-8.5)."""
    from phasewatch.report.sections import features_vs_hps

    def result(metric, lr, value, seed):
        return {"row": {"path": f"runs/{metric}-{lr}-{seed}", "name": f"{metric}-{lr}-{seed}",
                        "algorithm": "sft", "metric": metric, "hp.learning_rate": lr,
                        "recommended_value": value, "error": None}, "detail": None}

    results = [result("eval_loss", lr, 8.0 + lr * 100, s) for lr in (1e-3, 3e-3) for s in (0, 1)]
    results += [result("reward", lr, 0.5 + lr * 10, s) for lr in (1e-3, 3e-3) for s in (0, 1)]
    html = features_vs_hps(results)
    titles = re.findall(r"value at recommended step vs learning_rate \((\w+)\)", html)
    assert sorted(titles) == ["eval_loss", "reward"]
    # one chart holds only its own metric's points: their hover texts name the runs
    charts = html.split("<svg")[1:]
    for chart in charts:
        if "value at recommended step" in chart:
            metric = re.search(r"learning_rate \((\w+)\)", chart).group(1)
            assert re.findall(r"(eval_loss|reward)-0\.00\d-\d", chart)
            assert set(re.findall(r"(eval_loss|reward)-0\.00\d-\d", chart)) == {metric}


def test_a_feature_no_run_of_a_metric_has_gets_no_empty_chart():
    """A mixed sweep (native runs with hyperparameters, logs without) drew 100 "no data"
    panels: a chart is drawn only where some run of its metric has the hyperparameter and the
    feature."""
    from phasewatch.report.sections import features_vs_hps

    rows = [{"row": {"path": f"runs/a{lr}", "name": f"a{lr}", "algorithm": "sft",
                     "metric": "eval/accuracy", "hp.learning_rate": lr,
                     "recommended_value": 0.5 + lr, "error": None}, "detail": None}
            for lr in (1e-3, 3e-3)]
    rows += [{"row": {"path": "logs/b", "name": "b", "algorithm": "sft", "metric": "eval_loss",
                      "recommended_value": 2.0, "error": None}, "detail": None}]
    html = features_vs_hps(rows)
    assert "no data" not in html
    assert "(eval/accuracy)" in html and "(eval_loss)" not in html
    assert "No run has both" in features_vs_hps(
        [{"row": {**rows[0]["row"], "recommended_value": None, "hp.learning_rate": lr},
          "detail": None} for lr in (1e-3, 3e-3)])


def test_a_reading_left_out_as_an_outlier_is_a_dot_off_the_line(tmp_path, capsys):
    """`analyze` leaves an isolated spike out (its stop is at the peak of the rest); the card
    and the drill-down drew it into the line, a spike above the stop, with nothing to say so.
    It is a grey dot beside the line now, as `plot` marks it, and the page's key says so."""
    import json

    from phasewatch.sweep.row import SweepOptions, summarize_run

    rows = []
    for step in range(0, 600, 20):
        value = 0.4 + 0.3 * min(step, 300) / 300 - 0.1 * max(0, step - 400) / 200
        value += 0.01 * ((step // 20) % 3 - 1)
        rows.append({"step": step, "eval/accuracy": 0.95 if step == 160 else round(value, 4)})
    log = tmp_path / "spike.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from phasewatch.report.sections import drill_down, small_multiples

    result = summarize_run(str(log), SweepOptions(detail=True))
    assert result["detail"]["outliers"] == [[160, 0.95]]
    card, panels = small_multiples([result]), drill_down([result])
    for svg in (card, panels.split("<svg")[1]):  # the run's card, its metric's panel
        assert svg.count("<title>outlier, left out: step 160: 0.95</title></circle>") == 1
        line = re.search(r'<polyline points="([^"]+)"', svg).group(1).split()
        assert len(line) == len(rows) - 1  # every reading but the one left out
    out = tmp_path / "report.html"
    assert main(["report", str(log), "--no-progress", "-o", str(out)]) == 0
    page = out.read_text()
    assert "a grey dot, a reading the analysis left out as an outlier" in page


def test_a_report_of_one_run_says_one_run(tmp_path):
    """The page's summary said "1 runs" (the closing line: `test_size_is_printed`)."""
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(f'{{"step": {10 * k}, "eval/accuracy": {0.5 + 0.01 * k}}}\n'
                           for k in range(8)))
    out = tmp_path / "report.html"
    assert main(["report", str(log), "--no-progress", "-o", str(out)]) == 0
    assert '<p class="note">1 run. Phases: ' in out.read_text()
