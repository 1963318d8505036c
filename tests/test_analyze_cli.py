"""`phasewatch analyze` and `phasewatch changepoints` through the CLI: contracts, errors."""

import json
from pathlib import Path

import pytest

from phasewatch import synth
from phasewatch.cli import main

REAL = Path(__file__).resolve().parents[2] / "shared" / "real_logs"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture(scope="module")
def three_phase(tmp_path_factory):
    s = synth.generate("three_phase", seed=7, n_points=200, eval_every=5, noise_sd=0.01, ar=0.0)
    return s.write(tmp_path_factory.mktemp("run") / "three_phase"), s


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_json_contract(capsys, three_phase):
    folder, _s = three_phase
    code, out, _ = run_cli(capsys, "analyze", folder, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and len(doc["runs"]) == 1
    run = doc["runs"][0]
    assert {"source", "metric", "direction", "baseline", "changepoints", "phases",
            "recommended_stop_step", "warnings"} <= set(run)
    assert run["metric"] == "eval/accuracy" and run["direction"] == "max"
    assert [p["name"] for p in run["phases"]] == ["disruption", "readaptation", "overfit"]
    for left, right in zip(run["phases"][:-1], run["phases"][1:]):
        assert left["end_step"] == right["start_step"]
    for cp in run["changepoints"]:
        assert set(cp) == {"step", "low", "high"} and cp["low"] <= cp["step"] <= cp["high"]
    assert run["recommended_stop_step"] == run["phases"][2]["start_step"]


def test_analyze_text_is_one_line_per_phase(capsys, three_phase):
    folder, _ = three_phase
    code, out, _ = run_cli(capsys, "analyze", folder)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["disruption", "readaptation", "overfit"]
    assert "recommended stop: step" in out


def test_a_later_falls_depth_is_said_from_where_it_began(capsys, tmp_path):
    """A fall after a rise is measured from the level it fell from, and the line says so (not
    "below the start", a level the fall never started from)."""
    import numpy as np

    t = np.arange(80)
    y = np.interp(t, [0, 8, 16, 40, 79], [0.30, 0.60, 0.20, 0.80, 0.82])
    y = y + np.random.default_rng(0).normal(0, 0.005, t.size)
    log = tmp_path / "m.jsonl"
    log.write_text("".join(json.dumps({"step": int(i * 10), "eval/accuracy": float(v)}) + "\n"
                           for i, v in enumerate(y)))
    code, out, _ = run_cli(capsys, "analyze", log)
    assert code == 0
    fall = next(line for line in out.splitlines() if line.strip().startswith("disruption"))
    start, trough = (float(v) for v in fall.split()[4:7:2])
    depth = float(fall.split("trough ")[1].split()[0])
    assert "below where it began (step 80)" in fall and depth == pytest.approx(start - trough,
                                                                                abs=1e-3)


def test_analyze_several_runs_compares_them(capsys, three_phase, tmp_path):
    folder, _ = three_phase
    flat = synth.generate("flat", seed=1, n_points=100).write(tmp_path / "flat")
    code, out, _ = run_cli(capsys, "analyze", folder, flat, "--format", "json")
    runs = json.loads(out)["runs"]
    assert code == 0 and [r["source"] for r in runs] == [str(folder), str(flat)]
    assert [p["name"] for p in runs[1]["phases"]] == ["plateau"]
    code, out, _ = run_cli(capsys, "analyze", folder, flat)
    table = out.split("\n\n")[-1].splitlines()
    assert table[0].split()[:2] == ["run", "metric"] and len(table) == 3
    assert "disruption@0 > readaptation@" in table[1]
    assert table[2].endswith("plateau@0; stop no better than the last")  # as its text says


def test_analyze_metric_and_direction_options(capsys, three_phase):
    folder, _ = three_phase
    code, out, _ = run_cli(capsys, "analyze", folder, "--metric", "expert/nll_heldout",
                           "--format", "json")
    run = json.loads(out)["runs"][0]
    assert code == 0 and run["direction"] == "min"  # from the name
    code, out, _ = run_cli(capsys, "analyze", folder, "--metric", "eval/accuracy",
                           "--direction", "min", "--format", "json")
    names = [p["name"] for p in json.loads(out)["runs"][0]["phases"]]
    assert names[0] != "disruption"  # turned upside down, the dip is a rise


def test_unknown_metric_is_a_usage_error_listing_the_closest(capsys, three_phase):
    folder, _ = three_phase
    code, _, err = run_cli(capsys, "analyze", folder, "--metric", "eval/acuracy")
    assert code == 2 and "eval/accuracy" in err.split("closest first:")[1].split(",")[0]
    code, _, err = run_cli(capsys, "changepoints", folder, "--metric", "nope")
    assert code == 2 and "no metric 'nope'" in err


def test_unknown_metric_lists_the_logs_own_names_and_a_close_match(capsys, tmp_path):
    """The names a user can type are the log's own (`inspect` shows them), not the roles they
    are read as (`eval/loss`); a typo gets the metric it is closest to."""
    pytest.importorskip("transformers")
    from transformers.trainer_callback import TrainerState

    history = []
    for step in range(10, 210, 10):
        history.append({"step": step, "epoch": step / 200, "loss": 2 - step / 200})
        if step % 50 == 0:
            history.append({"step": step, "epoch": step / 200, "eval_loss": 1.5 - step / 400,
                            "eval_accuracy": 0.5 + step / 1000})
    path = tmp_path / "trainer_state.json"
    TrainerState(global_step=200, max_steps=200, log_history=history).save_to_json(str(path))
    own = {"epoch", "loss", "eval_loss", "eval_accuracy"}
    for command in (["analyze"], ["watch"], ["plot", "-o", tmp_path / "f.png"]):
        for typed, guess in (("nosuch", None), ("eval_los", "eval_loss"),
                             ("eval/acuracy", "eval_accuracy")):
            code, _, err = run_cli(capsys, command[0], path, *command[1:], "--metric", typed)
            listed = set(err.split("closest first: ")[1].strip().split(", "))
            assert code == 2 and listed == own, (command, err)
            assert (f"did you mean {guess}?" in err) if guess else "did you mean" not in err


def test_missing_input_is_exit_3(capsys, tmp_path):
    code, _, err = run_cli(capsys, "analyze", tmp_path / "absent.jsonl")
    assert code == 3 and "absent.jsonl" in err and "Traceback" not in err


def test_changepoints_json_contract(capsys, three_phase):
    folder, s = three_phase
    code, out, _ = run_cli(capsys, "changepoints", folder, "--metric", "eval/accuracy",
                           "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert {"schema_version", "source", "metrics", "changepoints", "method", "penalty"} <= set(doc)
    assert doc["metrics"] == ["eval/accuracy"] and doc["method"] == "pelt/normal"
    trough, peak = s.truth["trough_step"], s.truth["peak_step"]
    steps = [c["step"] for c in doc["changepoints"]]
    assert any(abs(st - trough) <= 60 for st in steps) and any(abs(st - peak) <= 100 for st in steps)


def test_changepoints_joint_segmentation_and_options(capsys, three_phase):
    folder, _ = three_phase
    code, out, _ = run_cli(capsys, "changepoints", folder, "--metric", "eval/accuracy",
                           "--metric", "expert/nll_heldout", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["metrics"] == ["eval/accuracy", "expert/nll_heldout"]
    code, out, _ = run_cli(capsys, "changepoints", folder, "--metric", "eval/accuracy",
                           "--penalty", "1e9", "--model", "mean", "--format", "json")
    doc = json.loads(out)
    assert doc["changepoints"] == [] and doc["penalty"] == 1e9 and doc["method"] == "pelt/mean"
    code, _, err = run_cli(capsys, "changepoints", folder, "--metric", "eval/accuracy",
                           "--min-size", "1")
    assert code == 2 and "--min-size" in err


def test_changepoints_of_a_log_counted_in_epochs_say_epoch_as_analyze_does(capsys, tmp_path):
    """A Keras CSVLogger file counts epochs: `analyze` says "epoch 12", `changepoints` said
    "step 12" of the same row (and its JSON had no step_unit)."""
    log = tmp_path / "training_log.csv"
    rows = [f"{e},{0.5 + 0.02 * min(e, 12) + 0.004 * (e % 2):.4f}" for e in range(30)]
    log.write_text("epoch,val_accuracy\n" + "\n".join(rows) + "\n")
    code, out, _ = run_cli(capsys, "changepoints", log, "--metric", "val_accuracy")
    lines = out.splitlines()[1:]
    assert code == 0 and lines and all(line.startswith("  epoch ") for line in lines)
    code, out, _ = run_cli(capsys, "changepoints", log, "--metric", "val_accuracy",
                           "--format", "json")
    assert json.loads(out)["step_unit"] == "epoch"
    code, out, _ = run_cli(capsys, "analyze", log)
    assert "recommended stop: epoch " in out


@pytest.mark.skipif(not REAL.exists(), reason="../shared/real_logs not present")
def test_real_verl_log_picks_the_validation_score(capsys):
    log = next((REAL / "verl_ppo_qwen05b").glob("*.log"))
    code, out, _ = run_cli(capsys, "analyze", log, "--format", "json")
    run = json.loads(out)["runs"][0]
    assert code == 0 and run["metric"] == "val/test_score/openai/gsm8k"
    assert run["phases"][0]["name"] == "improvement"
    assert "disruption" not in [p["name"] for p in run["phases"]]


@pytest.mark.skipif(not (SAMPLES / "sft_then_rl").exists(), reason="sample_logs not built")
def test_reference_sft_then_rl_run_starts_with_a_disruption(capsys):
    code, out, _ = run_cli(capsys, "analyze", SAMPLES / "sft_then_rl", "--format", "json")
    run = json.loads(out)["runs"][0]
    names = [p["name"] for p in run["phases"]]
    assert code == 0 and names[:2] == ["disruption", "readaptation"]
    assert run["phases"][0]["depth"] > 0.3


@pytest.mark.skipif(not (SAMPLES / "demo" / "expert_logprobs").exists(),
                    reason="sample_logs/demo has no token store")
def test_token_store_signals_are_reported_per_phase(capsys):
    code, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json")
    run = json.loads(out)["runs"][0]
    assert code == 0
    signals = run["phases"][0]["signals"]
    assert "tokens/nll_gap" in signals and "expert/nll_heldout" in signals
    assert all(set(v) == {"mean", "start", "end", "change"} for v in signals.values())


def test_csv_baseline_outlier_and_penalty_options(capsys, tmp_path):
    """--format csv has one row per phase with the JSON's numbers; --baseline, --keep-outliers
    and --penalty change what they say they change; a bad --baseline is a usage error."""
    import csv
    import io

    rows = [{"step": 10 * i, "eval/accuracy": v} for i, v in enumerate(
        [0.50, 0.52, 0.48, 0.51, 0.49, 0.50, 0.02, 0.51, 0.50, 0.49, 0.50, 0.52, 0.50, 0.51])]
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json")
    doc = json.loads(out)["runs"][0]
    _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["phase"] for r in table] == [p["name"] for p in doc["phases"]]
    assert float(table[0]["depth"]) == pytest.approx(doc["phases"][0]["depth"], rel=1e-5)
    assert table[0]["baseline"] == "0.546"

    _, out, _ = run_cli(capsys, "analyze", log, "--format", "json")
    run = json.loads(out)["runs"][0]
    assert run["baseline"] == 0.5 and any("outlier" in w for w in run["warnings"])
    _, out, _ = run_cli(capsys, "analyze", log, "--format", "json", "--keep-outliers",
                        "--baseline", "mean-of-first:4")
    run = json.loads(out)["runs"][0]
    assert run["baseline"] == pytest.approx(0.5025)
    assert not any("outlier" in w for w in run["warnings"])
    _, out, _ = run_cli(capsys, "analyze", log, "--format", "json", "--baseline", "step:25")
    assert json.loads(out)["runs"][0]["baseline"] == 0.48  # the evaluation nearest step 25
    _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json", "--penalty", "1e6")
    assert json.loads(out)["runs"][0]["segments"] == []  # a huge penalty: no change points
    _, out, _ = run_cli(capsys, "analyze", log, "--format", "json", "--penalty", "5")
    # 14 evaluations are read by the broken line: the option changes no phase, and says so
    assert any(w.startswith("--penalty 5 sets the segmentation's penalty")
               for w in json.loads(out)["runs"][0]["warnings"])
    code, _, err = run_cli(capsys, "analyze", log, "--baseline", "median")
    assert code == 2 and "mean-of-first:K" in err


def test_the_penalty_moves_the_noise_sd_and_the_help_says_how_to_keep_it(capsys):
    """The noise sd is read about the segmentation's lines, so --penalty moves it (trial 33
    finding 10: 0.0105 -> 0.0456 with --penalty 1e6, unexplained); the help and detection.md
    say so, and --noise-sd keeps it while the boundaries move."""
    def noise(*extra):
        _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json", *extra)
        return json.loads(out)["runs"][0]["noise_sd"]

    assert noise("--penalty", "1e6") > 2 * noise()
    assert noise("--penalty", "1e6", "--noise-sd", "0.0135") == noise("--noise-sd", "0.0135")
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ("The noise sd is read about the segmentation's fitted lines, so it moves too (fewer "
            "lines leave the run's own changes in it): add --noise-sd to move only the "
            "boundaries") in text
    docs = " ".join((SAMPLES.parent / "docs" / "detection.md").read_text().split())
    assert "The noise sd is read about the segmentation's fitted lines" in docs
    assert "give `--noise-sd` too to move only the boundaries" in docs


@pytest.mark.parametrize("command", ["analyze", "changepoints", "sweep"])
@pytest.mark.parametrize("penalty", ["-1", "nan", "inf"])
def test_a_negative_or_non_finite_penalty_is_a_usage_error(capsys, command, penalty):
    """A penalty below 0 (every split pays for itself) or NaN (every comparison false) used to
    run silently and print phases with another noise sd than the default's (sweep: an error on
    every row, exit 0): exit 2 instead."""
    extra = ["--metric", "eval/accuracy"] if command == "changepoints" else []
    code, out, err = run_cli(capsys, command, SAMPLES / "demo", *extra, "--penalty", penalty)
    assert code == 2 and out == ""
    assert "--penalty" in err and ">= 0" in err


def test_a_baseline_step_with_no_evaluation_says_which_one_it_used(capsys):
    """--baseline step:S takes the evaluation nearest S; when there is none at S (a typo, a
    step past the end of the run) the starting level silently came from another step."""
    _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json",
                        "--baseline", "step:30")
    run = json.loads(out)["runs"][0]
    assert run["baseline"] == 0.548 and not any("--baseline" in w for w in run["warnings"])
    _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json",
                        "--baseline", "step:99999")
    run = json.loads(out)["runs"][0]
    assert run["baseline"] == 0.672
    assert any("step:99999" in w and "step 2000" in w for w in run["warnings"])
    _, out, _ = run_cli(capsys, "analyze", SAMPLES / "demo", "--format", "json",
                        "--baseline", "mean-of-first:500")
    run = json.loads(out)["runs"][0]
    assert any("mean-of-first:500" in w and "201" in w for w in run["warnings"])


def _accuracy_warnings(capsys, log, values) -> list[str]:
    """`analyze`'s warnings on `values` written to `log` as an eval accuracy every 10 steps."""
    log.write_text("".join(json.dumps({"step": 10 * i, "eval/accuracy": v}) + "\n"
                           for i, v in enumerate(values)))
    _, out, _ = run_cli(capsys, "analyze", log, "--format", "json")
    return json.loads(out)["runs"][0]["warnings"]


def test_left_out_values_are_counted_in_words_that_agree_with_the_count(capsys, tmp_path):
    """One outlier is "1 outlier", not "1 isolated outliers"; the warning says how to keep
    it. One non-finite value is "1 non-finite value"."""
    values = [0.50, 0.52, 0.48, 0.51, 0.49, 0.50, 0.02, 0.51, 0.50, 0.49, 0.50, 0.52, 0.50, 0.51]
    rows = [{"step": 10 * i, "eval/accuracy": v} for i, v in enumerate(values)]
    rows[3]["eval/accuracy"] = "nan"
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps(r).replace('"nan"', "NaN") + "\n" for r in rows))
    _, out, _ = run_cli(capsys, "analyze", log, "--format", "json")
    warnings = json.loads(out)["runs"][0]["warnings"]
    assert any("1 isolated outlier left out (step 60" in w and "--keep-outliers" in w
               for w in warnings), warnings
    assert any("1 non-finite value left out (step 30)" in w for w in warnings), warnings
    # two failed evaluations in a row are no "isolated" outliers (trial 38c)
    values[6:8] = [0.02, 0.03]
    warnings = _accuracy_warnings(capsys, log, values)
    assert any("2 outliers (single readings or pairs the points around them contradict) left "
               "out (steps 60: 0.02, 70: 0.03;" in w for w in warnings), warnings


def test_an_outlier_left_out_is_named_with_its_value(capsys, tmp_path):
    """csv-lightning-arcroute-valreward-17: the bottom of a collapse (-37.06 between -11.14
    and -23.44) was left out as "1 isolated outlier left out (step 7334; ...)" beside an overfit
    line saying the run fell 10.94 below its best: the step alone does not tell a failed
    evaluation from a collapse's bottom, so each value left out is given with its step; one
    that is the run's best says so."""
    values = [0.50, 0.52, 0.48, 0.51, 0.49, 0.50, 0.02, 0.51, 0.50, 0.49, 0.50, 0.52, 0.50, 0.51]
    log = tmp_path / "run.jsonl"
    warnings = _accuracy_warnings(capsys, log, values)
    assert any("1 isolated outlier left out (step 60: 0.02; --keep-outliers keeps it)" in w
               for w in warnings), warnings
    values[6] = 0.98  # the run's best reading, far above readings that agree around it
    warnings = _accuracy_warnings(capsys, log, values)
    assert any("1 isolated outlier left out (step 60: 0.98, the best logged value; "
               "--keep-outliers keeps it)" in w for w in warnings), warnings


def test_csv_rows_of_a_short_series_say_how_confident_they_are(capsys, tmp_path):
    """A 5-evaluation series is named with a confidence (text: 'confidence moderate'); the CSV
    rows carried the phase without it, so a table read an overfit from 5 points as certain."""
    import csv
    import io

    rows = [{"step": 100 * (i + 1), "eval/loss": v}
            for i, v in enumerate([0.321, 0.345, 0.371, 0.398, 0.420])]
    log = tmp_path / "short.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, out, _ = run_cli(capsys, "analyze", log, SAMPLES / "demo", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    short = [r for r in table if r["source"] == str(log)]
    assert [(r["phase"], r["confidence"]) for r in short] == [("overfit", "moderate")]
    assert {r["confidence"] for r in table if r["source"] != str(log)} == {""}


@pytest.mark.parametrize("direction, gain, words", [
    ("max", 0.25, "best 0.25 above the start"),
    ("max", -0.09308, "best still 0.09308 below the start"),
    ("min", 0.31, "best 0.31 below the start"), ("min", -0.2, "best still 0.2 above the start")])
def test_a_rise_that_stays_short_of_the_start_says_below_not_a_negative_above(direction, gain,
                                                                              words):
    """A readaptation that never gets back to the starting level printed "best -0.09308 above
    the start": the size is printed, the word says the side."""
    from phasewatch.commands.analyze import phase_line
    from phasewatch.results import Phase

    phase = Phase("readaptation", 60, 300)
    phase.stats.update(start_value=0.2, end_value=0.5, change=0.3, change_sd=24.0,
                       gain_over_baseline=gain)
    assert phase_line(phase, direction).endswith(words)
    fall = Phase("disruption", 0, 60)
    fall.stats.update(start_value=0.6, end_value=0.62, change=0.02, depth=-0.02,
                      time_to_recover=None)
    better_side = "above" if direction == "max" else "below"  # a "fall" ending on the better side
    low = "trough" if direction == "max" else "worst"  # a loss's worst point is its highest
    assert f"{low} 0.02 {better_side} the start" in phase_line(fall, direction)


def test_runs_compared_on_different_metrics_say_so(capsys, tmp_path):
    # trial 34b: one run's CSV (held-out accuracy) beside its JSONL (train reward), compared
    # without a word; the same metric in two spellings is one metric
    def log(name, metric):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"step": 10 * i, metric: 0.5 + 0.01 * i}) + "\n"
                                for i in range(20)))
        return path

    held, reward = log("held", "eval/accuracy"), log("reward", "train/reward")
    code, _, err = run_cli(capsys, "analyze", held, reward)
    assert code == 0 and "compared on different metrics (eval/accuracy, train/reward)" in err
    code, _, err = run_cli(capsys, "analyze", held, log("hf", "eval_accuracy"))
    assert "different metrics" not in err


def test_a_held_out_metric_passed_over_for_too_few_values_is_named(capsys, tmp_path):
    # trial 34b: a verl log's held-out reward, logged once at the end, was left for the train
    # batches' score without a word
    log = tmp_path / "m.jsonl"
    rows = [{"step": s, "train/reward": 0.1 + 0.01 * s} for s in range(1, 30)]
    rows.append({"step": 29, "eval/accuracy": 0.4})
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, out, _ = run_cli(capsys, "analyze", log)
    assert code == 0 and "metric train/reward" in out
    assert ("taking train/reward, passing over eval/accuracy (1 value: too few for a trend "
            "(fewer than 3)); pass --metric to analyse it anyway") in out


def test_a_held_out_metric_constant_at_every_evaluation_is_passed_over_live_and_offline(
        capsys, tmp_path):
    """trial 38c: an exact-match accuracy 0 at all 8 evaluations was the metric ("recommended
    stop: step 0", the untrained model), beside an eval loss that fell and rose. One that is
    constant only at first (0, 0, 0, then rising) is still the metric, live as offline: `watch`
    waits for it to move before it chooses."""
    def log(name, accuracy):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"step": s, "eval_match_accuracy": accuracy(s),
                                            "eval_loss": 5.8 - 2.3 * min(s, 2) + 0.3 * max(s - 2, 0)})
                                + "\n" for s in range(8)))
        return path

    constant, later = log("constant", lambda s: 0.0), log("later", lambda s: 0.1 * max(s - 3, 0))
    code, out, _ = run_cli(capsys, "analyze", constant)
    assert code == 0 and "metric eval_loss (min)" in out
    assert ("taking eval_loss, passing over eval_match_accuracy (0 at all 8 evaluations: it "
            "cannot move)") in out
    for path, metric in ((constant, "eval_loss"), (later, "eval_match_accuracy")):
        code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
        assert json.loads(out)["runs"][0]["metric"] == metric
        code, _, err = run_cli(capsys, "watch", path)
        assert f"up to step 7; {metric}:" in err


def test_the_stop_of_a_constant_metric_says_any_checkpoint_is_as_good(capsys, tmp_path):
    # trial 34b: a token accuracy at 0.9773 on every evaluation: "recommended stop: step 100"
    log = tmp_path / "m.jsonl"
    log.write_text("".join(json.dumps({"step": 100 * i, "eval/accuracy": 0.9773}) + "\n"
                           for i in range(1, 21)))
    code, out, _ = run_cli(capsys, "analyze", log)
    assert code == 0
    assert "recommended stop: step 100 (the metric is the same at every evaluation analysed: " \
           "any is as good)" in out


def test_watch_and_the_table_say_the_stop_of_a_constant_metric_as_analyze_does(capsys, tmp_path):
    """csv-lightning-dqn-cartpole-39: a per-step CartPole reward, 1 at all 39 logs (its noise
    unknown, not 0): `analyze` said any checkpoint is as good, while `watch` and the
    comparison table said the stop was "not established against the last: 39 evaluations,
    noise unknown", as of a 3-evaluation run that nothing could rank."""
    logs = []
    for name in ("a", "b"):
        logs.append(tmp_path / f"{name}.jsonl")
        logs[-1].write_text("".join(json.dumps({"step": 50 * k + 49, "reward": 1.0}) + "\n"
                                    for k in range(39)))
    same = "the metric is the same at every reading analysed: any is as good"  # a train reward
    code, out, _ = run_cli(capsys, "analyze", logs[0])
    assert code == 0 and f"recommended stop: step 49 ({same})" in out
    code, _, err = run_cli(capsys, "watch", logs[0])
    assert code == 0 and f"checkpoint to keep: step 49 ({same})" in err
    assert "not established" not in err
    code, out, _ = run_cli(capsys, "analyze", *logs)
    assert code == 0 and "not established" not in out


def test_a_train_series_words_count_readings_where_a_held_out_one_counts_evaluations(
        capsys, tmp_path):
    """A train reward at 1 on each of 39 logs, and a train loss logged 4 times: the notes a
    short or constant series gets said "39 evaluations" and "only 4 evaluations" of values
    scored on the training batches, where the phase line beside them counted readings. The
    same values under held-out names keep "evaluations"."""
    for name, value_word in (("reward", "reading"), ("eval/accuracy", "evaluation")):
        log = tmp_path / "constant.jsonl"
        log.write_text("".join(json.dumps({"step": 50 * k + 49, name: 1.0}) + "\n"
                               for k in range(39)))
        code, out, _ = run_cli(capsys, "analyze", log)
        assert code == 0
        assert f"same at every {value_word} analysed" in out, out
        assert f"at each of the 39 {value_word}s from step 49" in out, out
        assert f"constant over its 39 {value_word}s" in out, out
    for name, value_word in (("train/loss", "reading"), ("eval/loss", "evaluation")):
        log = tmp_path / "short.jsonl"
        log.write_text("".join(json.dumps({"step": s, name: v}) + "\n"
                               for s, v in ((1, 2.0), (2, 1.5), (3, 1.2), (4, 1.1))))
        code, out, _ = run_cli(capsys, "analyze", log)
        assert code == 0 and f"only 4 {value_word}s of {name}: no monotone trend" in out, out


def test_a_bare_accuracy_counts_readings_only_where_the_log_puts_it_on_training(
        capsys, tmp_path):
    """A bare `accuracy` is the train side of Keras' `val_accuracy` pair and a preference
    run's accuracy beside its chosen / rejected rewards (readings of training); in a GRPO
    study's eval history (accuracy on 100 held-out problems, beside its format rate) it is an
    evaluation, which had read "only 5 readings of accuracy"."""
    values = (0.70, 0.83, 0.80, 0.85, 0.81)
    for beside, value_word in (({"format_rate": 1.0, "n_problems": 100}, "evaluation"),
                               ({"val_accuracy": 0.5}, "reading"),
                               ({"chosen_reward": 0.1, "reject_reward": -0.1}, "reading")):
        log = tmp_path / "history.jsonl"
        log.write_text("".join(json.dumps({"step": 10 * (k + 1), "accuracy": v, **beside}) + "\n"
                               for k, v in enumerate(values)))
        code, out, _ = run_cli(capsys, "analyze", log, "--metric", "accuracy")
        assert code == 0 and f"only 5 {value_word}s of accuracy" in out, (beside, out)


def test_a_stop_whose_ends_are_equal_is_not_said_to_be_as_good_as_any(capsys, tmp_path):
    """3 evaluations 0.5, 0.9, 0.5 (and 4, 0.5, 0.9, 0.9, 0.5): one plateau of change 0, the
    noise unknown, and the stop at the 0.9; "the metric is the same at every evaluation
    analysed: any is as good" was said of it by analyze, watch and the comparison table."""
    for values in ((0.5, 0.9, 0.5), (0.5, 0.9, 0.9, 0.5)):
        log = tmp_path / "m.jsonl"
        log.write_text("".join(json.dumps({"step": 100 * (i + 1), "eval_accuracy": v}) + "\n"
                               for i, v in enumerate(values)))
        code, out, _ = run_cli(capsys, "analyze", log)
        assert code == 0 and "recommended stop: step 200" in out, out
        assert "any is as good" not in out, out
        code, _, err = run_cli(capsys, "watch", log)
        assert code == 0 and "checkpoint to keep: step 200" in err and "any is as good" not in err
        code, out, _ = run_cli(capsys, "analyze", log, log)
        assert code == 0 and "any is as good" not in out, out


def test_the_stop_of_a_single_evaluation_says_it_is_the_only_one(capsys, tmp_path):
    # a TRL SFT TensorBoard log with one eval loss at its last step: "the metric is the same at
    # every evaluation analysed: any is as good" was said of one evaluation
    log = tmp_path / "m.jsonl"
    log.write_text("".join(json.dumps({"step": 10 * i, "train/loss": 2.0 - 0.01 * i}) + "\n"
                           for i in range(1, 30)) + json.dumps({"step": 290, "eval/loss": 2.09}) + "\n")
    code, out, _ = run_cli(capsys, "analyze", log, "--metric", "eval/loss")
    assert code == 0
    assert "recommended stop: step 290 (the only evaluation of eval/loss: nothing to rank it " \
           "against)" in out
    assert "any is as good" not in out


def test_the_comparison_table_gives_the_evaluation_at_each_runs_stop(capsys, tmp_path):
    """Trial 36b: the table's "best" was each run's best single reading (one lucky batch of a
    GRPO reward at step 304) beside a stop at another step; its column is now the evaluation at
    the stop, as each run's JSON `stop_value`."""
    paths, series = [], []
    for seed in (1, 2):
        s = synth.generate("three_phase", seed=seed, n_points=200, eval_every=5, noise_sd=0.01,
                           ar=0.0)
        paths.append(s.write(tmp_path / f"run{seed}"))
        series.append(s.run.series(s.metric))
    code, out, _ = run_cli(capsys, "analyze", *paths)
    assert code == 0
    header, *rows = out.split("\n\n")[-1].strip().splitlines()
    assert header.split()[-4:] == ["stop", "at", "stop", "phases"]
    code, out, _ = run_cli(capsys, "analyze", *paths, "--format", "json")
    for row, run, values in zip(rows, json.loads(out)["runs"], series):
        stop, at_stop = row.split()[3:5]
        assert int(stop) == run["recommended_stop_step"]
        assert run["stop_value"] == pytest.approx(values.loc[int(stop)])
        assert float(at_stop) == pytest.approx(run["stop_value"], rel=1e-3)
        assert run["stop_value"] <= run["best_value"] == pytest.approx(values.max())


def test_a_training_reward_chosen_beside_periodic_scores_names_them(capsys, tmp_path):
    """jsonl-recgrpo-ndcg-6ev (trial 37b): a recommender's GRPO batch reward was analysed
    ('improvement') with no word of the ndcg@10 and recall@10 it logged every 200 steps."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = [{"step": s, "reward_mean": 0.05 + 0.02 * s / 1400 + float(rng.normal(0, 0.01)),
             "kl": 0.001 * s / 1400 + float(rng.normal(0, 1e-4))} for s in range(0, 1400, 10)]
    rows += [{"step": s, "eval": 1, "ndcg@10": 0.026 + float(rng.normal(0, 3e-4)),
              "recall@10": 0.05 + float(rng.normal(0, 3e-4))} for s in range(200, 1400, 200)]
    log = tmp_path / "grpo.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _ = run_cli(capsys, "analyze", log)
    assert code == 0 and "metric reward_mean" in out
    assert ("warning: reward_mean is scored on the training batches, which cannot show an "
            "overfit; ndcg@10, recall@10 are logged at a few steps only") in out
    code, out, _ = run_cli(capsys, "analyze", log, "--metric", "reward_mean")
    assert "ndcg@10" not in out  # chosen by the user: nothing to say


def test_the_periodic_series_named_beside_a_training_reward_put_the_scores_first(capsys, tmp_path):
    """jsonl-tinker-gptoss-rl-test-7ev: the note names four, in name order, and a Tinker RL
    log's test set counts (`ac_tokens_per_turn`, `by_group/frac_all_bad`, ...) came before its
    test `correct` and `reward/total`, the second cut off behind 'and 4 more' (its test
    reward now has the held-out role: here a success rate stands in for it)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = [{"step": s, "env/all/reward/total": 0.3 + s / 400 + float(rng.normal(0, 0.02))}
            for s in range(75)]
    for s in range(10, 75, 10):
        rows[s].update({f"test/test/env/all/{k}": float(v + rng.normal(0, 0.01)) for k, v in (
            ("ac_tokens_per_turn", 4000.0), ("by_group/frac_all_bad", 0.45),
            ("by_group/frac_all_good", 0.55), ("correct", 0.55), ("format_boxed", 0.8),
            ("success_rate", 0.5))})
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _ = run_cli(capsys, "analyze", log)
    assert code == 0
    [note] = [line for line in out.splitlines() if "scored on the training batches" in line]
    assert ("; test/test/env/all/correct, test/test/env/all/success_rate, "
            "test/test/env/all/ac_tokens_per_turn") in note
