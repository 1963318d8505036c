"""`phasewatch inspect`: the exact JSON contract of DESIGN.md, the text view, exit codes."""

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
        {"step": 1, "loss": 1.25},  # resumed: supersedes step 1
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
    assert list(doc) == ["schema_version", "source", "format", "n_records", "n_steps", "metrics", "warnings"]
    assert doc["schema_version"] == 1 and doc["source"] == str(path) and doc["format"] == "jsonl"
    assert doc["n_records"] == 6 and doc["n_steps"] == 4
    assert doc["metrics"] == {
        "eval_accuracy": {"count": 2, "first_step": 0, "last_step": 2},
        "loss": {"count": 3, "first_step": 0, "last_step": 2},  # NaN at step 3 not counted
    }
    [warning] = doc["warnings"]
    assert warning.startswith("line 4: step counter went back from 2 to 1")


def test_text_view(tmp_path, capsys):
    path = write_log(tmp_path)
    code, out, _ = run_cli(capsys, "inspect", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{path}  [jsonl]"
    assert lines[1] == "6 records, 4 distinct steps"
    assert lines[2] == "events: resume@1"
    assert lines[4].split() == ["eval_accuracy", "2", "0", "2", "eval/accuracy"]
    assert lines[5].split() == ["loss", "3", "0", "2", "train/loss"]
    assert lines[6].startswith("warning: line 4: step counter went back")


def test_run_folder_and_metric_without_finite_values(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text('{"step": 0, "a": NaN, "b": 1}\n')
    (folder / "run.json").write_text(json.dumps({"schema_version": 1, "name": "r"}))
    code, out, _ = run_cli(capsys, "inspect", str(folder), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "native"
    assert doc["metrics"]["a"] == {"count": 0, "first_step": None, "last_step": None}


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
