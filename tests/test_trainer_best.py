"""The metric a Hugging Face Trainer kept its best checkpoint by (`phasewatch.trainer_best`):
declared in the run's config (`metric_for_best_model`, as W&B keeps TrainingArguments), it is the
metric analysed, live as offline; found from a trainer_state.json's `best_metric`, it is named
(trial 38c)."""

import json

import pytest

from phasewatch.cli import main


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def native(tmp_path, config):
    """A run folder: eval_loss falling then rising, eval_f1 rising at every evaluation."""
    folder = tmp_path / "run"
    folder.mkdir()
    rows = [{"step": 100 * i, "eval_loss": 1.0 - 0.1 * min(i, 4) + 0.08 * max(i - 4, 0),
             "eval_f1": 0.5 + 0.03 * i} for i in range(12)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "run.json").write_text(json.dumps({"name": "run", "config": config}))
    return folder


def test_a_declared_metric_for_best_model_is_analysed_live_and_offline(capsys, tmp_path):
    folder = native(tmp_path, {"metric_for_best_model": "f1", "greater_is_better": True})
    code, out, _ = run_cli(capsys, "analyze", folder, "--format", "json")
    run = json.loads(out)["runs"][0]
    assert (run["metric"], run["direction"]) == ("eval_f1", "max")
    assert ("taking eval_f1: the Trainer kept its best checkpoint by it (its metric_for_best_model,"
            " f1); pass --metric to judge the run by another") in run["warnings"]
    code, _, err = run_cli(capsys, "watch", folder)
    assert code == 0 and "up to step 1100; eval_f1:" in err


def test_a_declared_loss_changes_nothing(capsys, tmp_path):
    """The Trainer's own default when none is named: the default order decides (an accuracy
    before the loss)."""
    folder = native(tmp_path, {"metric_for_best_model": "loss", "load_best_model_at_end": True})
    rows = [{**json.loads(line), "eval_accuracy": 0.5 + 0.01 * i} for i, line in
            enumerate((folder / "metrics.jsonl").read_text().splitlines())]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _ = run_cli(capsys, "analyze", folder, "--format", "json")
    assert code == 0 and json.loads(out)["runs"][0]["metric"] == "eval_accuracy"


@pytest.mark.parametrize("kept", [
    {"best_global_step": 8280},
    # before transformers 4.52 only best_model_checkpoint held the step (written on Windows here)
    {"best_model_checkpoint": "D:\\runs\\sentiment\\checkpoint-8280"},
])
def test_a_trainer_states_best_metric_names_the_metric_it_kept_its_best_by(capsys, tmp_path, kept):
    """A sentiment run: accuracy best at the majority-class checkpoint, macro-F1 (its
    metric_for_best_model, kept only as best_metric 0.246 at step 8280) best later."""
    history = []
    for i, step in enumerate(range(1035, 10351, 1035)):
        history.append({"step": step, "epoch": i + 1.0, "eval_accuracy": 0.902 - 0.05 * (i % 3 == 1),
                        "eval_macro_f1": [0.19, 0.2, 0.21, 0.22, 0.23, 0.235, 0.24, 0.246, 0.24, 0.235][i],
                        "eval_loss": 0.4})
    state = {"global_step": 10350, "max_steps": 10350, "best_metric": 0.246, **kept,
             "log_history": history}
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(state))
    code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
    run = json.loads(out)["runs"][0]
    assert code == 0 and run["metric"] == "eval_accuracy"
    assert ("the Trainer kept its best checkpoint by eval_macro_f1 (its best_metric, 0.246 at step "
            "8280), not by eval_accuracy: pass --metric eval_macro_f1 to judge the run by it") \
        in run["warnings"]


def test_greater_is_better_as_an_mlflow_parameter_string(tmp_path):
    """MLflow keeps TrainingArguments as strings: "False" is lower-is-better."""
    from phasewatch.io import read_run
    from phasewatch.trainer_best import declared_best_metric

    folder = native(tmp_path, {"metric_for_best_model": "wer", "greater_is_better": "False"})
    rows = (folder / "metrics.jsonl").read_text().replace('"eval_f1"', '"eval_wer"')
    (folder / "metrics.jsonl").write_text(rows)
    assert declared_best_metric(read_run(folder))[:2] == ("eval_wer", "min")


@pytest.mark.parametrize("metric, values, best, says", [
    # a WER kept by name: the Trainer's default greater_is_better=True for it
    ("eval_wer", [0.48, 0.455, 0.457, 0.438, 0.41, 0.40, 0.39, 0.37, 0.36, 0.345], 0.48,
     ("greater_is_better=True; the Trainer's default for a metric whose name does not end in "
      "'loss'")),
    # a loss with greater_is_better=True set by hand: the highest eval loss kept
    ("eval_loss", [1.17, 1.10, 1.07, 1.02, 0.96, 0.93, 0.95, 0.97, 1.0, 1.05], 1.17,
     "greater_is_better=True)"),
])
def test_a_best_checkpoint_that_is_the_worst_evaluation_is_said(capsys, tmp_path, metric, values,
                                                                best, says):
    """hf-whisper-bangla's best_metric was its first WER, the worst of 40; hf-kgc-evalloss-69ev
    kept checkpoint-50, its highest eval loss of 69, with nothing said: the Trainer ranked the
    checkpoints the other way, and load_best_model_at_end loads the worst."""
    history = [{"step": 50 * (i + 1), metric: v} for i, v in enumerate(values)]
    state = {"global_step": 500, "best_metric": best, "best_global_step": 50,
             "log_history": history}
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(state))
    code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
    run = json.loads(out)["runs"][0]
    (said,) = [w for w in run["warnings"] if "the Trainer's best checkpoint is the worst" in w]
    assert code == 0 and f"its best_metric, {best:.4g} at step 50, is the highest of 10" in said
    assert says in said and said.endswith("set greater_is_better=False")
    # `watch` run to the end says it with its whole-run answer, as analyze does
    code, _, err = run_cli(capsys, "watch", path)
    assert code == 0 and said in err
    # kept at its real best: nothing said
    top = min(range(len(values)), key=values.__getitem__)
    state.update(best_metric=values[top], best_global_step=50 * (top + 1))
    path.write_text(json.dumps(state))
    code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
    assert not any("Trainer's best checkpoint" in w for w in json.loads(out)["runs"][0]["warnings"])
    assert "Trainer's best checkpoint" not in run_cli(capsys, "watch", path)[2]


def test_a_kept_lowest_value_of_a_name_that_does_not_say_its_direction_is_no_mistake(capsys,
                                                                                      tmp_path):
    """A run's eval_objective (a name that says neither way), kept at its lowest by
    greater_is_better=False: higher is better is only phasewatch's guess for that name (the
    Trainer's default too, so the run set False on purpose), and the warning told the user to
    set greater_is_better=True."""
    values = [0.9, 0.7, 0.6, 0.5, 0.45, 0.42, 0.40, 0.41, 0.43, 0.46]
    history = [{"step": 50 * (i + 1), "eval_objective": v} for i, v in enumerate(values)]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 500, "best_metric": 0.40, "best_global_step": 350,
                                "log_history": history}))
    code, out, _ = run_cli(capsys, "analyze", path, "--metric", "eval_objective", "--format",
                           "json")
    run = json.loads(out)["runs"][0]
    assert code == 0 and run["direction"] == "max"
    assert not any("Trainer's best checkpoint" in w for w in run["warnings"])
    # ... and the guess is said, as of any name that does not say its direction (an HF eval_
    # name is also its eval/ spelling, which is no role)
    assert ("eval_objective: higher is taken to be better (its name does not say which way is "
            "better); pass --direction min if lower is") in run["warnings"]
    # a name that says higher is better, kept at its lowest: said
    path.write_text(path.read_text().replace("eval_objective", "eval_accuracy"))
    code, out, _ = run_cli(capsys, "analyze", path, "--metric", "eval_accuracy", "--format", "json")
    (said,) = [w for w in json.loads(out)["runs"][0]["warnings"]
               if "the Trainer's best checkpoint is the worst" in w]
    assert said.endswith("set greater_is_better=True")


def test_the_metric_it_names_is_quoted_so_the_suggestion_runs_as_printed(capsys, tmp_path):
    """compute_metrics returned "Weighted F1" (hf-vit-fruit-10ev): the warning's "pass --metric
    eval_Weighted F1", typed as printed, was a usage error ('unrecognized arguments: F1'). The
    name is quoted as a shell takes it, and the command the warning gives analyses that metric."""
    import shlex

    history = [{"step": 100 * (i + 1), "epoch": i + 1.0, "eval_accuracy": 0.80 + 0.01 * min(i, 5),
                "eval_Weighted F1": 0.70 + 0.02 * min(i, 6), "eval_loss": 0.5} for i in range(10)]
    state = {"global_step": 1000, "max_steps": 1000, "best_metric": 0.82,
             "best_global_step": 700, "log_history": history}
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(state))
    code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
    warning = next(w for w in json.loads(out)["runs"][0]["warnings"] if "kept its best" in w)
    assert code == 0 and "pass --metric 'eval_Weighted F1' to judge the run by it" in warning
    typed = shlex.split(warning.split("pass ", 1)[1].split(" to judge", 1)[0])
    code, out, _ = run_cli(capsys, "analyze", path, *typed, "--format", "json")
    assert code == 0 and json.loads(out)["runs"][0]["metric"] == "eval_Weighted F1"


@pytest.mark.parametrize("greater, direction", [(False, "min"), (True, "max")])
def test_a_declared_metric_whose_name_says_no_direction_gets_no_contradicting_notes(
        capsys, tmp_path, greater, direction):
    """`metric_for_best_model="custom"`, `greater_is_better` set: the direction is the config's,
    and the metric a best checkpoint is kept by is no train loss. The notes said "higher is
    taken to be better (its name does not say ...)" of a metric analysed lower-is-better, and
    "taking its train loss (eval_custom)"."""
    folder = native(tmp_path, {"metric_for_best_model": "custom", "greater_is_better": greater})
    rows = (folder / "metrics.jsonl").read_text().replace('"eval_f1"', '"eval_custom"')
    (folder / "metrics.jsonl").write_text(rows)
    code, out, _ = run_cli(capsys, "analyze", folder, "--format", "json")
    run = json.loads(out)["runs"][0]
    assert (code, run["metric"], run["direction"]) == (0, "eval_custom", direction)
    assert ("taking eval_custom: the Trainer kept its best checkpoint by it (its "
            "metric_for_best_model, custom); pass --metric to judge the run by another"
            ) in run["warnings"]
    assert not [w for w in run["warnings"] if "train loss" in w or "taken to be better" in w]
