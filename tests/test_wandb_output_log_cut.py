"""W&B's console capture (a run folder's `files/output.log`, phasewatch's verl and HF console
readers read it) keeps the first 4096 characters of a line and drops the rest unsaid: a wide
verl step line lost its trailing metrics, and an item cut inside its value ('0.12' of
0.123456) was read as a value."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from phasewatch.io import read_run

WRITER = textwrap.dedent(
    """
    import sys, wandb
    run = wandb.init(mode="offline", project="p", dir=sys.argv[1],
                     settings=wandb.Settings(console="wrap"))
    for step in range(1, 6):
        print(sys.argv[2].replace("STEP", str(step)), flush=True)
    run.finish()
    """
)


def step_line(pad: str) -> str:
    """A verl step line of 4096+ characters: 300 timings, then the scores past the cut."""
    items = [f"actor/pg_loss{pad}:0.01"] + [f"timing_s/t{i:03d}:0.123456" for i in range(300)]
    return "step:STEP - " + " - ".join(items + ["val-core/gsm8k/acc/mean@1:0.5"])


def test_a_line_wandb_cut_is_read_to_its_last_whole_item_and_said(tmp_path):
    pytest.importorskip("wandb")
    # the 4096th character inside a value's digits, after '0.1': the cut leaves a number
    pad = next("x" * n for n in range(25)
               if step_line("x" * n).replace("STEP", "1")[:4096].endswith(":0.1"))
    line = step_line(pad)
    subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), line], check=True,
                   capture_output=True, timeout=300, env={**os.environ, "WANDB_SILENT": "true"})
    log = next(tmp_path.glob("wandb/offline-run-*/files/output.log"))
    kept = line.replace("STEP", "1")[:4096]
    assert log.read_text().splitlines()[0] == kept  # W&B cut it there
    whole = kept.split(" - ")[1:-1]  # its items but the last, cut inside its value ('0.1')
    run = read_run(log)
    assert sorted(run.metrics) == sorted(item.split(":")[0] for item in whole)  # not '0.1'
    said = [w for w in run.warnings if "W&B cut these 5 lines at 4096 characters" in w]
    assert len(said) == 1 and "lines 1, 2, 3, 4, 5" in said[0], run.warnings
    assert f"the metrics after {whole[-1]!r} on line 1 are lost" in said[0]
    assert f"{next(log.parent.parent.glob('run-*.wandb')).name}, beside files/" in said[0]
    # what reading it gives: the history, what the run logged with wandb.log (not the console)
    assert "every metric the run logged with wandb.log" in said[0]
