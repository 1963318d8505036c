"""A W&B run file with no history row says why, from its exit record and the console the SDK
captured into it: three such files in a reading of public repositories ("no history rows"
alone, where one run had stopped with `NameError: name 'math' is not defined` before its
dataloader and another with a TypeError inside wandb.log)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from phasewatch.cli import main
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
