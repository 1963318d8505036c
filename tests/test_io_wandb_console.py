"""A W&B run file with no history row says why, from its exit record and the console the SDK
captured into it: three such files in a reading of public repositories ("no history rows"
alone, where one run had stopped with `NameError: name 'math' is not defined` before its
dataloader and another with a TypeError inside wandb.log). Where that console holds a training
log (a Trainer's dict lines, W&B initialised but never logged to), the file is read from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.io.wandb_console import ConsoleTail

CRASH = """
import sys, wandb
wandb.init(project="p", dir=sys.argv[1])
print("Prepare the dataloaders...")
steps = math.ceil(10 / 4)
"""

QUIET = """
import sys, wandb
run = wandb.init(project="p", dir=sys.argv[1])
print("nothing logged")
run.finish()
"""


# A Hugging Face Trainer run with W&B initialised but `report_to` not naming it: the Trainer's
# dict lines go to the console only, with its progress bar redrawn by `\r` (the shape of a
# CodeBERT classifier's run file in a public repository: 408 such rows, 3 evaluations).
PRINTED = """
import sys, wandb
run = wandb.init(project="p", dir=sys.argv[1])
for i in range(1, 31):
    sys.stderr.write(f"\\r {i}/30 [00:0{i % 10}<00:10,  3.2it/s]")
    if i % 3 == 0:
        print({"loss": round(0.7 - 0.01 * i, 4), "grad_norm": 9.5, "learning_rate": 2e-05,
               "epoch": round(i / 10, 2)})
    if i % 10 == 0:
        print({"eval_loss": round(0.6 - 0.001 * i, 4), "eval_accuracy": 0.5 + 0.002 * i,
               "eval_runtime": 37.2, "epoch": float(i // 10)})
print({"train_runtime": 1483.8, "train_loss": 0.57, "epoch": 3.0})
run.finish()
"""

# Two Trainer runs printed to the console one after the other: the first ends with its closing
# `train_runtime` row, the second starts at epoch 1 again (`io.hf_runs`)
TWO_RUNS = """
import sys, wandb
run = wandb.init(project="p", dir=sys.argv[1])
for i in range(1, 31):
    if i % 3 == 0:
        print({"loss": round(0.7 - 0.01 * i, 4), "epoch": round(i / 10, 2)})
    if i % 10 == 0:
        print({"eval_loss": round(0.6 - 0.001 * i, 4), "epoch": float(i // 10)})
print({"train_runtime": 1483.8, "train_loss": 0.57, "epoch": 3.0})
for e in (1, 2, 3):
    print({"loss": round(0.5 - 0.01 * e, 4), "epoch": float(e)})
    print({"eval_loss": round(0.4 - 0.01 * e, 4), "epoch": float(e)})
print({"train_runtime": 100.0, "train_loss": 0.47, "epoch": 3.0})
run.finish()
"""


def _run_file(script: str, root: Path) -> Path:
    """The `.wandb` file the real SDK writes for `script`, console capture on, whether the
    script fails or not."""
    pytest.importorskip("wandb")
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline",
           "WANDB_DISABLE_GIT": "true", "WANDB_DIR": str(root)}
    env.pop("WANDB_CONSOLE", None)
    try:
        subprocess.run([sys.executable, "-c", script, str(root)], env=env, timeout=120,
                       capture_output=True, check=False)  # the script may fail: CRASH does
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"wandb could not write an offline run here: {exc}")
    files = list((root / "wandb").glob("offline-run-*/*.wandb"))
    if len(files) != 1:
        pytest.skip("wandb wrote no offline run file here")
    return files[0]


def test_a_run_that_crashed_before_logging_says_its_exit_and_its_error(tmp_path, capsys):
    path = _run_file(CRASH, tmp_path)
    assert main(["inspect", str(path)]) == 3
    err = capsys.readouterr().err
    assert "no history rows" in err and "exit code 1" in err, err
    assert "NameError: name 'math' is not defined" in err, err
    assert "Traceback" not in err, err


def test_a_run_that_ended_without_logging_says_it_ended(tmp_path, capsys):
    path = _run_file(QUIET, tmp_path)
    assert main(["analyze", str(path)]) == 3
    err = capsys.readouterr().err
    assert "the run ended with exit code 0" in err and "Python error" not in err, err


def test_a_run_that_printed_its_log_is_read_from_its_console(tmp_path, capsys):
    """Before: exit 3, "no history rows ...: a run that stopped before it logged a history
    row leaves no curve to read", of a run that ran to its end and printed its curve."""
    path = _run_file(PRINTED, tmp_path)
    run = read_run(path)
    assert run.format == "wandb"
    loss, accuracy = run.column("loss"), run.column("eval_accuracy")
    assert list(loss.values) == [round(0.7 - 0.01 * i, 4) for i in range(3, 31, 3)]
    assert list(accuracy.values) == [0.52, 0.54, 0.56]
    assert run.finished
    assert any(w.startswith("no history rows (wandb.log calls) in this run file: read the "
                            "training log its console output holds") and "hf_console" in w
               for w in run.warnings), run.warnings
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "metric eval_accuracy (max)" in out and "recommended stop: epoch 3" in out, out


def test_a_console_of_two_runs_is_read_from_the_new_run(tmp_path):
    """The console is looked through as its text, not as the run file's bytes, whose lines are
    none of the console's (before: exit 3, "no history rows ... leaves no curve to read")."""
    run = read_run(_run_file(TWO_RUNS, tmp_path))
    assert list(run.column("eval_loss").values) == [0.39, 0.38, 0.37]
    assert "its console output, line 15: a new run starts after the run that ended at line 14 " \
        "(its train_runtime row); the earlier run's records are left out" in run.warnings


def test_the_console_tail_keeps_the_end_of_a_long_console():
    """Chunks are kept up to the tail's size: the traceback at the end of a long console (a
    progress bar's hundreds of chunks before it) is found, the start let go."""
    tail = ConsoleTail()
    for i in range(20000):
        tail.add(f"\rMap: {i}/20000 [00:01<00:00, 1000.00 examples/s]")
    tail.add("\nTraceback (most recent call last):\n  File \"run.py\", line 83, in main\n"
             "    n = math.ceil(3 / 2)\nNameError: name 'math' is not defined\n")
    assert sum(len(chunk) for chunk in tail._chunks) < 2 * 256 * 1024
    assert "NameError: name 'math' is not defined" in tail.why_empty()
    assert ConsoleTail().why_empty() == ""
