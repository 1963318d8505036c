"""The phasewatch/ package of another git revision, for the benchmarks' `--against REV` rows."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkout(rev: str, into: Path) -> Path:
    """The phasewatch/ package at git revision `rev`, extracted under `into` (no worktree: only
    the package, so the other revision runs against this tree's installed dependencies)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "phasewatch"], check=True,
                             capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
