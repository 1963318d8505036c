"""The command line's JSON outputs as a test reads them: `analyze --format json`'s first run
and `watch --format jsonl`'s closing summary, each command checked to exit 0. The metric-choice
tests compare the two on one log (the metric, the checkpoint) and each file wrote these lines
again."""

from __future__ import annotations

import json
from pathlib import Path

from phasewatch.cli import main


def analyzed(capsys, path: Path, *options: str) -> dict:
    """The first (only) run of `phasewatch analyze PATH --format json OPTIONS`."""
    assert main(["analyze", str(path), "--format", "json", *options]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def watched(capsys, path: Path, *options: str) -> tuple[dict, str]:
    """The summary object that ends `phasewatch watch PATH --format jsonl OPTIONS`, and what
    the watch wrote on stderr."""
    assert main(["watch", str(path), "--format", "jsonl", *options]) == 0
    out, err = capsys.readouterr()
    return json.loads(out.splitlines()[-1]), err
