"""`--noise-sd` / `--eval-size`: the noise of one evaluation from outside the run."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from phasewatch import synth
from phasewatch.analysis import analyze_run
from phasewatch.cli import main
from phasewatch.known_noise import binomial_sd, known_noise
from phasewatch.run import RecordCollector

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_of(values, metric="eval/accuracy"):
    collector = RecordCollector("known", "synthetic")
    for i, value in enumerate(values):
        collector.add(100 * (i + 1), {metric: float(value)}, line=i + 1)
    return collector.build(events=[])


@pytest.fixture(scope="module")
def sparse_dip(tmp_path_factory):
    """7 evaluations of a dip, a recovery and a decline (true noise sd 0.017): second
    differences of so few values, inflated by the turns, put the noise at 0.063."""
    s = synth.generate_regime("three_phase", "sparse", 3)
    return s.write(tmp_path_factory.mktemp("run") / "sparse_dip"), s


def test_the_true_sd_finds_a_sparse_dip_the_estimate_misses(capsys, sparse_dip):
    folder, s = sparse_dip
    truth = [p[0] for p in s.truth["phases"]]
    assert truth == ["disruption", "readaptation", "overfit"]
    _, out, _ = run_cli(capsys, "analyze", folder, "--format", "json")
    estimated = json.loads(out)["runs"][0]
    assert [p["name"] for p in estimated["phases"]] == ["plateau"]
    assert estimated["noise_sd"] > 3 * s.truth["noise_sd"]
    assert "noise_sd_source" not in estimated  # the default output has no new key

    sd = f"{s.truth['noise_sd']:.4f}"
    code, out, _ = run_cli(capsys, "analyze", folder, "--format", "json", "--noise-sd", sd)
    told = json.loads(out)["runs"][0]
    assert code == 0 and [p["name"] for p in told["phases"]] == truth
    assert told["noise_sd_source"] == "given" and told["noise_sd"] == float(sd)
    # every key of the default output is still there
    assert set(estimated) <= set(told)
    _, out, _ = run_cli(capsys, "analyze", folder, "--noise-sd", sd)
    assert f"noise sd {float(sd):.4g} (given)" in out.splitlines()[0]


def test_the_binomial_sd_of_a_rate():
    assert binomial_sd(0.5, 100) == pytest.approx(math.sqrt(0.5 * 0.5 / 100), rel=1e-4)
    # shrunk by half an item (Jeffreys): a rate at a bound is not noiseless
    assert binomial_sd(1.0, 200) == pytest.approx(math.sqrt(0.5 / 201 * 200.5 / 201 / 200))
    assert 0.6 / 200 < binomial_sd(1.0, 200) < 0.75 / 200
    assert binomial_sd(0.0, 200) == pytest.approx(binomial_sd(1.0, 200))
    # a rate that sits at 1.0 for most of the run keeps the noise of its rise through the middle
    values = np.array([0.50, 0.80, 1.0, 1.0, 1.0, 1.0])
    known = known_noise(None, 500, values, "eval/accuracy")
    assert known.source == "binomial" and known.eval_size == 500
    rms = math.sqrt(np.mean([binomial_sd(v, 500) ** 2 for v in values]))
    assert known.sd == pytest.approx(rms) and known.sd > 5 * binomial_sd(1.0, 500)


def test_eval_size_through_the_cli_and_the_library(capsys, sparse_dip):
    folder, s = sparse_dip
    values = s.run.series(s.metric).dropna().to_numpy(dtype=float)
    code, out, _ = run_cli(capsys, "analyze", folder, "--eval-size", "400", "--format", "json")
    doc = json.loads(out)["runs"][0]
    assert code == 0 and doc["noise_sd_source"] == "binomial" and doc["eval_size"] == 400
    assert doc["noise_sd"] == pytest.approx(math.sqrt(np.mean([binomial_sd(v, 400) ** 2
                                                             for v in values])))
    _, out, _ = run_cli(capsys, "analyze", folder, "--eval-size", "400")
    assert "(binomial, 400 items)" in out.splitlines()[0]
    from phasewatch import analyze

    a = analyze(folder, eval_size=400)
    assert a.extra["noise_sd"] == doc["noise_sd"]


@pytest.mark.parametrize("argv, words", [
    (["--noise-sd", "0"], "finite number > 0"),
    (["--noise-sd", "-0.01"], "finite number > 0"),
    (["--noise-sd", "nan"], "finite number > 0"),
    (["--eval-size", "0"], "whole number >= 1"),
    (["--noise-sd", "0.01", "--eval-size", "500"], "give one of them"),
    (["--metric", "train/loss", "--eval-size", "500"], "train/loss ranges over [0.02927, 2.014]"),
])
def test_bad_noise_options_are_usage_errors_that_say_how_to_fix_them(capsys, argv, words):
    code, out, err = run_cli(capsys, "analyze", SAMPLES / "demo", *argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_sweep_passes_the_noise_on_and_checks_it_first(capsys, sparse_dip, tmp_path):
    folder, _ = sparse_dip
    code, _, err = run_cli(capsys, "sweep", folder, "--noise-sd", "-1", "--no-progress")
    assert code == 2 and "--noise-sd" in err
    table = tmp_path / "t.json"
    code, _, _ = run_cli(capsys, "sweep", folder, "--noise-sd", "0.0172", "--workers", "1",
                         "--no-progress", "-o", table)
    rows = json.loads(table.read_text())["runs"]
    assert code == 0 and rows[0]["noise_sd"] == pytest.approx(0.0172)


def test_a_given_sd_on_a_short_series_is_judged_as_known():
    """4 evaluations that step up after the first: with the scatter of 3 values (2 degrees of
    freedom) the t test cannot call it (p = 0.026 > 0.01) and the noise from second differences
    needs 5 evaluations; with the sd known the rise is 6 sds, and effect sizes in sds are
    reported. The shift test itself becomes a z test."""
    from phasewatch.few_point_tests import start_shift

    values = [0.50, 0.56, 0.545, 0.555]
    a = analyze_run(run_of(values))
    assert [p.name for p in a.phases] == ["plateau"]
    assert a.phases[0].stats["change_sd"] is None
    b = analyze_run(run_of(values), noise_sd=0.01)
    assert [p.name for p in b.phases] == ["improvement", "plateau"]
    assert b.phases[0].stats["change_sd"] == pytest.approx(6.0)
    assert start_shift(np.array(values)).p > 0.01
    z = start_shift(np.array(values), known_sd=0.01)
    assert z.noise == 0.01 and z.t == pytest.approx(0.05333 / (0.01 * math.sqrt(4 / 3)), rel=1e-3)
    assert z.p < 1e-4


def test_without_the_options_the_output_is_unchanged(capsys):
    """No new key, no new words: the default output of the demo, through text and JSON."""
    _, text, _ = run_cli(capsys, "analyze", SAMPLES / "demo")
    _, doc, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json")
    run = json.loads(doc)["runs"][0]
    assert not {"noise_sd_source", "eval_size"} & set(run)
    assert text.splitlines()[0].endswith(f"noise sd {run['noise_sd']:.4g}")


def test_pool_noise_judges_several_runs_against_the_median_of_their_estimates(capsys):
    from phasewatch.noise import second_difference_sd

    paths = [SAMPLES / "sft", SAMPLES / "seeds" / "sft_s1", SAMPLES / "seeds" / "sft_s2"]
    code, out, _ = run_cli(capsys, "analyze", *paths, "--pool-noise", "--format", "json")
    runs = json.loads(out)["runs"]
    own = [second_difference_sd(prepared_values(p), robust=False) for p in paths]
    assert code == 0 and {r["noise_sd_source"] for r in runs} == {"pooled"}
    assert {r["noise_pooled_runs"] for r in runs} == {3}
    assert [r["noise_sd"] for r in runs] == [pytest.approx(float(np.median(own)))] * 3
    _, out, _ = run_cli(capsys, "analyze", *paths, "--pool-noise")
    assert out.splitlines()[0].endswith("(pooled over 3 runs)")


def test_pool_noise_reads_each_log_once(capsys, monkeypatch):
    """The series --pool-noise reads are the ones analysed: no log is read twice."""
    import phasewatch.io

    read, reads = phasewatch.io.read_run, []
    monkeypatch.setattr(phasewatch.io, "read_run", lambda path, *a, **k: reads.append(path) or read(path, *a, **k))
    paths = [SAMPLES / "sft", SAMPLES / "seeds" / "sft_s1", SAMPLES / "seeds" / "sft_s2"]
    code, out, _ = run_cli(capsys, "analyze", *paths, "--pool-noise", "--format", "json")
    assert code == 0 and len(json.loads(out)["runs"]) == 3
    assert sorted(reads) == sorted(str(p) for p in paths)


def read_run(path):
    from phasewatch.io import read_run as read

    return read(path)


def prepared_values(path):
    from phasewatch.signals import prepare

    run = read_run(path)
    return prepare(run, "eval/accuracy", "max").values


@pytest.mark.parametrize("argv, words", [
    ([SAMPLES / "sft", "--pool-noise"], "needs 2 or more runs"),
    ([SAMPLES / "sft", SAMPLES / "rl", "--pool-noise", "--noise-sd", "0.01"], "use one of them"),
])
def test_pool_noise_errors(capsys, argv, words):
    code, out, err = run_cli(capsys, "analyze", *argv)
    assert code == 2 and out == "" and words in err


def test_plot_draws_the_phases_analyze_finds_with_the_noise_given(capsys, tmp_path):
    """The demo on 500 prompts, binomial noise: analyze finds a plateau at 670-1160 that the
    estimated noise does not; the figure's data carry the same phases."""
    import csv

    figure, data = tmp_path / "demo.png", tmp_path / "demo.csv"
    _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--eval-size", "500", "--format",
                        "json")
    phases = [(p["name"], p["start_step"], p["end_step"])
              for p in json.loads(out)["runs"][0]["phases"]]
    code, _, _ = run_cli(capsys, "plot", SAMPLES / "demo", "-o", figure, "--data", data,
                         "--eval-size", "500")
    rows = list(csv.DictReader(data.open()))
    drawn = [(r["kind"].removeprefix("phase:"), int(r["step"]), int(r["end_step"]))
             for r in rows if r["kind"].startswith("phase:")]
    assert code == 0 and drawn == phases and ("plateau", 630, 1160) in drawn
    code, _, err = run_cli(capsys, "plot", SAMPLES / "demo", "-o", figure, "--noise-sd", "0")
    assert code == 2 and "--noise-sd" in err


def test_sweep_pools_the_noise_as_analyze_does(capsys, tmp_path):
    paths = [SAMPLES / "sft", SAMPLES / "seeds" / "sft_s1", SAMPLES / "seeds" / "sft_s2"]
    _, out, _ = run_cli(capsys, "analyze", *paths, "--pool-noise", "--format", "json")
    pooled = json.loads(out)["runs"][0]["noise_sd"]
    table = tmp_path / "t.json"
    code, _, err = run_cli(capsys, "sweep", *paths, "--pool-noise", "--workers", "1",
                           "--no-progress", "-o", table)
    rows = json.loads(table.read_text())["runs"]
    assert code == 0 and "pooled over 3 runs" in err
    assert [r["noise_sd"] for r in rows] == [pytest.approx(pooled)] * 3


def test_a_given_sd_is_not_lowered_to_the_runs_own_estimate_for_an_early_dip():
    """A reading 3 given sds below a flat start is not a disruption: the early-dip rule judges
    it against the given sd, not against the smaller scatter of this run's other readings."""
    y = 0.5 + np.random.default_rng(0).normal(0, 0.002, 10)
    y[1], y[2] = 0.44, 0.47
    estimated = analyze_run(run_of(y))
    given = analyze_run(run_of(y), noise_sd=0.02)
    assert [p.name for p in estimated.phases][:2] == ["disruption", "readaptation"]
    assert [p.name for p in given.phases] == ["plateau"]


def test_a_series_constant_for_any_practical_purpose_has_no_phases_live_or_offline(tmp_path):
    """A 4-way multiple-choice model at chance: its eval loss is ln 4 at every evaluation to
    within 7e-4 (0.05% of the level), with float-level scatter after a few early wiggles.
    Judged against that scatter every wiggle was a phase (an improvement of -31 sd, an overfit
    of +29 sd, a live overfit alert); judged against a noise of 0.1% of the level it is one
    plateau, its best reading is no outlier, and the live monitor says nothing."""
    from phasewatch import analyze, watch

    rng = np.random.default_rng(0)
    loss = np.log(4) + np.concatenate([[2e-4, 5e-4, -1.5e-4, 1.2e-4, -0.7e-4, 3e-4, 0.5e-4],
                                       rng.normal(0, 1e-6, 55)])
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": 50 * (i + 1), "eval_loss": float(v)}) + "\n"
                            for i, v in enumerate(loss)))
    result = analyze(path)
    assert [p.name for p in result.phases] == ["plateau"]
    assert result.extra["noise_sd_source"] == "floor"
    assert result.extra["noise_sd"] == pytest.approx(1e-3 * float(loss.max()))
    assert not result.extra["outlier_steps"]
    assert any("constant for any practical purpose" in w for w in result.warnings)
    assert list(watch(path)) == []
