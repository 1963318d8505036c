"""The callbacks' log lines name phasewatch once, whatever the script's `logging` set-up.

Run in a fresh interpreter (pytest's own handlers on the root logger would hide the case of a
script that sets up no logging): the real HF Trainer on a tiny model, trained once with no
handler anywhere, then again under `logging.basicConfig(format="%(name)s: %(message)s")`, the
set-up of the HF example scripts, where the lines read "phasewatch: phasewatch: watching ...".
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

SCRIPT = textwrap.dedent("""
    import logging, sys
    sys.path.insert(0, {tests!r})
    from tiny_trainer import tiny_trainer
    from phasewatch.callbacks.hf import PhasewatchCallback

    def train(out):
        tiny_trainer(out, callbacks=[PhasewatchCallback()], max_steps=2, eval_strategy="steps",
                     eval_steps=1, save_strategy="no", logging_steps=1000).train()

    train({out!r} + "/a")
    print("--- basicConfig", file=sys.stderr, flush=True)
    logging.basicConfig(format="%(name)s: %(message)s")
    train({out!r} + "/b")
""")


def test_the_prefix_is_said_once_with_and_without_a_logging_set_up(tmp_path):
    script = SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    bare, configured = done.stderr.split("--- basicConfig")
    for said in (bare, configured):
        [line] = [x for x in said.splitlines() if "watching eval_loss" in x]
        assert line.startswith("phasewatch: watching eval_loss (lower is better), chosen"), line
        assert line.count("phasewatch:") == 1, line
