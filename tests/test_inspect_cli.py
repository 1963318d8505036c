"""`phasewatch inspect`: the exact JSON contract (docs/contracts.md), the text view, exit codes."""

import json
import subprocess
import sys

from phasewatch.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_log(tmp_path):
    rows = [
        {"step": 0, "loss": 2.0, "eval_accuracy": 0.5},
        {"step": 1, "loss": 1.5},
        {"step": 2, "loss": 1.0, "eval_accuracy": 0.25},
        {"step": 1, "loss": 1.25},  # resumed: replaces step 1, and loss's step 2 is abandoned
        {"step": 2, "loss": None, "eval_accuracy": 0.75},
        {"step": 3, "loss": float("nan")},
    ]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # json writes NaN literally
    return path


def test_json_contract(tmp_path, capsys):
    path = write_log(tmp_path)
    code, out, err = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert list(doc) == ["schema_version", "source", "format", "n_records", "n_steps", "metrics",
                         "warnings", "performance", "planned_steps", "config"]
    assert doc["schema_version"] == 1 and doc["source"] == str(path) and doc["format"] == "jsonl"
    assert doc["n_records"] == 6 and doc["n_steps"] == 4
    assert doc["metrics"] == {
        # the resumed record at step 2 (0.75) supersedes 0.25; values by step, not file order
        "eval_accuracy": {"count": 2, "first_step": 0, "last_step": 2,
                          "first": 0.5, "last": 0.75, "min": 0.5, "max": 0.75},
        # the counter went back to 1: 1.25 replaces 1.5 and the abandoned step 2 (1.0) is
        # dropped; NaN at step 3 not counted
        "loss": {"count": 2, "first_step": 0, "last_step": 1,
                 "first": 2.0, "last": 1.25, "min": 1.25, "max": 2.0},
    }
    assert doc["performance"] == {"metric": "eval_accuracy", "direction": "max",
                                  "train_fallback": False, "loss_beside": None,
                                  "sets": None, "sets_kind": None,
                                  "count": 2, "first_step": 0, "last_step": 2, "first": 0.5, "last": 0.75,
                                  "best": 0.75, "best_step": 2}
    resumed, nan = doc["warnings"]
    assert resumed.startswith("line 4: step counter went back from 2 to 1")
    assert nan == "loss: 1 non-finite value left out (step 3)"  # as analyze says it
    assert doc["planned_steps"] is None  # a JSONL log does not say
    assert doc["config"] == {}  # nor states settings


def test_text_view(tmp_path, capsys):
    path = write_log(tmp_path)
    code, out, _ = run_cli(capsys, "inspect", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{path}  [jsonl]"
    assert lines[1] == "6 records, 4 distinct steps"
    assert lines[2] == "events: resume@1"
    assert lines[3] == ("performance metric: eval_accuracy (higher is better), 2 values over "
                        "steps 0-2: first 0.5, last 0.75, best 0.75 at step 2")
    assert lines[4].split() == ["metric", "count", "steps", "first", "last", "min", "max", "role"]
    assert lines[5].split() == ["eval_accuracy", "2", "0-2", "0.5", "0.75", "0.5", "0.75", "eval/accuracy"]
    assert lines[6].split() == ["loss", "2", "0-1", "2", "1.25", "1.25", "2", "train/loss"]
    assert lines[7].startswith("warning: line 4: step counter went back")


def test_a_nan_evaluation_is_said_as_analyze_says_it(tmp_path, capsys):
    """A TRL DPO run's trainer_state.json (written by transformers' TrainerState, whose json
    writes `NaN`) with a NaN eval_loss at step 40, and a JSONL log with the same: inspect
    counted 9 values and said nothing; it gives the note analyze gives, word for word."""
    import pytest

    transformers = pytest.importorskip("transformers")
    history = []
    for i in range(1, 11):
        history.append({"loss": 0.69 - 0.02 * i, "rewards/accuracies": 0.5 + 0.03 * i,
                        "rewards/margins": 0.1 * i, "epoch": i / 10, "step": 10 * i})
        history.append({"eval_loss": float("nan") if i == 4 else 0.7 - 0.02 * i + 0.004 * (i % 3),
                        "eval_rewards/accuracies": 0.55 + 0.02 * i, "epoch": i / 10,
                        "step": 10 * i})
    state = tmp_path / "trainer_state.json"
    transformers.TrainerState(global_step=100, max_steps=100,
                              log_history=history).save_to_json(str(state))
    jsonl = tmp_path / "metrics.jsonl"
    jsonl.write_text("".join(json.dumps({"step": r["step"], "eval/loss": r["eval_loss"]}) + "\n"
                             for r in history if "eval_loss" in r))
    for path, metric in ((state, "eval_loss"), (jsonl, "eval/loss")):
        assert "NaN" in path.read_text()
        note = f"{metric}: 1 non-finite value left out (step 40)"
        code, out, _ = run_cli(capsys, "inspect", str(path))
        assert code == 0 and f"warning: {note}" in out.splitlines()
        assert "9 values over steps 10-100" in out
        code, out, _ = run_cli(capsys, "inspect", str(path), "--format", "json")
        assert json.loads(out)["warnings"][-1:] == [note]
        code, out, _ = run_cli(capsys, "analyze", str(path), "--metric", metric, "--format",
                               "json")
        assert note in json.loads(out)["runs"][0]["warnings"]


def test_non_finite_values_of_many_metrics_are_said_for_the_first_then_counted(tmp_path,
                                                                              capsys):
    """A log with a new metric name on every line (packed: `metric_table`): each of the
    first NOTES_SHOWN metrics with a NaN gets its note, the others one line."""
    from phasewatch.commands.inspect import NOTES_SHOWN

    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps({"step": i, "eval/acc": 0.5, f"m{i:04d}": float("nan")
                                        if i % 100 == 7 else 1.0}) + "\n" for i in range(3000)))
    _, out, _ = run_cli(capsys, "inspect", str(path), "--format", "json")
    warnings = json.loads(out)["warnings"]
    assert warnings[:NOTES_SHOWN] == [f"m{i:04d}: 1 non-finite value left out (step {i})"
                                      for i in range(7, 100 * NOTES_SHOWN, 100)]
    [more] = warnings[NOTES_SHOWN:]
    assert more == (f"values left out as non-finite in {30 - NOTES_SHOWN} more metrics (m1007, "
                    "m1107, m1207, m1307, m1407 and 15 more)")


def test_run_folder_and_metric_without_finite_values(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text('{"step": 0, "a": NaN, "b": 1}\n')
    (folder / "run.json").write_text(json.dumps({"schema_version": 1, "name": "r"}))
    code, out, _ = run_cli(capsys, "inspect", str(folder), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "native"
    assert doc["metrics"]["a"] == {"count": 0, "first_step": None, "last_step": None,
                                   "first": None, "last": None, "min": None, "max": None}
    assert doc["performance"] is None  # neither a declared metric nor a performance role


def test_a_run_without_a_performance_metric_says_so(tmp_path, capsys):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 0, "lr": 0.1}\n{"step": 1, "lr": 0.2}\n')
    code, out, _ = run_cli(capsys, "inspect", str(path))
    assert code == 0
    assert "performance metric: none of the usual ones (analyze needs --metric)" in out.splitlines()


def test_subprocess_bad_input_exit_3_without_traceback(tmp_path):
    path = tmp_path / "broken.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    result = subprocess.run([sys.executable, "-m", "phasewatch", "inspect", str(path)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.startswith(f"phasewatch: error: {path}: binary content")
    assert "Traceback" not in result.stderr


def test_usage_error_is_exit_2(capsys):
    code = None
    try:
        main(["inspect"])
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2


def test_text_table_equals_each_row_formatted_from_the_json(tmp_path, capsys):
    """The text table is formatted column-wise from shared strings (millions of metrics); it must
    be the table a row-by-row formatting of the JSON summary gives: widths, '-' for a metric with
    no finite value, -0 kept apart from 0, roles, pieces joined across their boundaries."""
    from phasewatch.commands.inspect import TABLE_HEADER, table_text
    from phasewatch.io import read_run
    from phasewatch.metric_table import metric_table

    items = " - ".join(f"m{i:x}:{(-0.0, 0.0, 1e300, 0.12345678)[i % 4]}" for i in range(300))
    lines = [f"step:1 - {items} - critic/score/mean:0.5 - nanny:nan"]
    lines += [f"step:{s} - critic/score/mean:{0.5 + s / 100} - actor/entropy:1.{s}" for s in range(2, 30)]
    path = tmp_path / "verl.log"
    path.write_text("\n".join(lines) + "\n")
    run = read_run(path)
    code, out, _ = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert code == 0
    metrics = json.loads(out)["metrics"]
    num = lambda v: "-" if v is None else f"{v:.4g}"
    roles = {own: canon for canon, own in run.aliases.items()}
    assert roles  # the role column is exercised
    rows = [(name, str(m["count"]), "-" if m["first_step"] is None else f"{m['first_step']}-{m['last_step']}",
             num(m["first"]), num(m["last"]), num(m["min"]), num(m["max"]), roles.get(name, ""))
            for name, m in metrics.items()]
    widths = [max(len(r[i]) for r in [TABLE_HEADER, *rows]) for i in range(7)]
    expected = ["  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:7], widths[1:])),
                           r[7]]).rstrip() + "\n" for r in [TABLE_HEADER, *rows]]
    got = "".join(table_text(metric_table(run.columns()), roles, rows_per_piece=7))
    assert got == "".join(expected)
    by_name = {r[0]: r for r in rows}
    assert by_name["m0"][3] == "-0" and by_name["m1"][3] == "0" and by_name["nanny"][2:] == ("-",) * 5 + ("",)


def test_unique_rows_through_one_key_equals_numpys_row_unique():
    import numpy as np

    from phasewatch.commands.inspect import _unique_rows

    rng = np.random.default_rng(3)
    small = np.stack([rng.integers(0, 2, 500), rng.integers(-5, 40, 500), rng.integers(-5, 40, 500)], axis=1)
    huge = small.copy()
    huge[:, 1] *= 2**50  # ranges whose product is past int64: numpy's row sort
    for rows in (small, huge):
        unique, index = _unique_rows(rows)
        want_unique, want_index = np.unique(rows, axis=0, return_inverse=True)
        assert unique.tolist() == want_unique.tolist()
        assert index.reshape(-1).tolist() == want_index.reshape(-1).tolist()


def test_a_log_with_no_numeric_metric_is_listed_not_a_crash(tmp_path, capsys):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"step": 1, "note": "x"}\n{"step": 2, "note": "y"}\n')
    code, out, _ = run_cli(capsys, "inspect", str(path))
    assert code == 0 and "performance metric: none of the usual ones" in out
    assert out.splitlines()[-1].split() == ["metric", "count", "steps", "first", "last", "min", "max", "role"]


def test_the_role_column_names_the_role_before_an_hf_spelling(tmp_path, capsys):
    """TRL's `eval_exact_match` is an accuracy and `eval_rewards/accuracies` a preference
    accuracy; the column showed their HF spellings, `eval/exact_match` and
    `eval/rewards/accuracies`, which are no roles (trial 38)."""
    import json

    from phasewatch.cli import main

    path = tmp_path / "dpo.jsonl"
    path.write_text("".join(json.dumps({"step": 10 * i, "eval_exact_match": 1.0 - 0.01 * i,
                                        "eval_rewards/accuracies": 0.5 + 0.01 * i,
                                        "eval_loss": 0.69 - 0.01 * i}) + "\n" for i in range(10)))
    assert main(["inspect", str(path)]) == 0
    roles = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()
             if line.startswith("eval_")}
    assert roles == {"eval_exact_match": "eval/accuracy", "eval_loss": "eval/loss",
                     "eval_rewards/accuracies": "eval/preference_accuracy"}


def test_the_role_column_marks_the_name_analyze_takes(tmp_path, capsys):
    """An Ultralytics pose model's results.csv whose keypoint mAP `metrics/mAP50-95(P)` is 0 at
    every epoch while the box mAP `metrics/mAP50-95(B)` rises: analyze takes the box mAP
    (`signals.metric_candidates`), and the role column marked the keypoints' as the accuracy;
    it marks the box mAP, and the keypoints' once they move."""
    from phasewatch.cli import main

    def roles(pose_map) -> dict[str, str]:
        names = ["epoch", "train/pose_loss", "metrics/mAP50-95(B)", "metrics/mAP50-95(P)", "lr/pg0"]
        rows = [[k, 10.0 - 0.1 * k, round(0.6 * (1 - 0.88 ** k), 4), pose_map(k), 0.001]
                for k in range(1, 41)]
        path = tmp_path / "results.csv"
        path.write_text(",".join(f"{n:>20}" for n in names) + "\n"
                        + "".join(",".join(f"{v:>20}" for v in row) + "\n" for row in rows))
        assert main(["inspect", str(path)]) == 0
        out = capsys.readouterr().out
        performance = next(line for line in out.splitlines() if line.startswith("performance"))
        return performance.split()[2], {line.split()[0]: line.split()[-1]
                                        for line in out.splitlines() if line.startswith("metrics/")}

    chosen, column = roles(lambda k: 0.0)
    assert chosen == "metrics/mAP50-95(B)"
    assert column == {"metrics/mAP50-95(B)": "eval/accuracy", "metrics/mAP50-95(P)": "0"}
    chosen, column = roles(lambda k: round(0.4 * (1 - 0.9 ** k), 4))
    assert chosen == "metrics/mAP50-95(P)" and column["metrics/mAP50-95(P)"] == "eval/accuracy"
    assert column["metrics/mAP50-95(B)"] != "eval/accuracy"
