"""Offline W&B runs written by the real SDK in a subprocess, for the readers' tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def offline_run(script: str, root: Path, *args: str, timeout: float = 120) -> Path:
    """The `offline-run-*` folder that `script` (Python run with `root` and `args` as its
    arguments, `wandb.init(dir=root)` or `WANDB_DIR`) writes under `root/wandb`; the test is
    skipped where the SDK cannot write one here (no wandb, no network-free mode)."""
    pytest.importorskip("wandb")
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline",
           "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "off", "WANDB_DIR": str(root)}
    try:
        subprocess.run([sys.executable, "-c", script, str(root), *args], env=env, check=True,
                       timeout=timeout, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"wandb could not write an offline run here: {exc}")
    [folder] = list((root / "wandb").glob("offline-run-*"))
    return folder
