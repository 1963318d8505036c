"""Shared by the hostile-input tests (test_fuzz_*.py): a good log to mix hostile lines into,
builders of input files, and the ways a case is run (the CLI in-process with a time limit, a
subprocess for what could hang, an unprivileged user for permission bits) and judged
(`assert_clean`: exit 0, 2 or 3 with a message naming the file, never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from tfrecord_events import event_file

from phasewatch.cli import main

TIME_LIMIT = 10.0
GOOD = "".join(json.dumps({"step": i, "loss": 1 / (i + 1), "eval/accuracy": 0.5 + i / 100}) + "\n"
               for i in range(30))


def text(name, content):
    def build(tmp):
        path = tmp / name
        path.write_text(content, encoding="utf-8")
        return path
    return build


def run_cli(capsys, *args):
    start = time.perf_counter()
    code = main(list(args))
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    return code, out, err, elapsed


def assert_clean(code, err, elapsed, codes, path):
    assert code in codes, err
    assert "Traceback" not in err and "internal error" not in err, err
    if code in (2, 3):
        assert err.startswith("phasewatch: error: ") or "error:" in err
        assert code == 2 or str(path) in err
    assert elapsed < TIME_LIMIT


def tensorboard_file(tmp_path, events):
    pytest.importorskip("tensorboard.compat.proto.event_pb2")
    return event_file(tmp_path / "events.out.tfevents.1.host", events)


def run_subprocess(*args, timeout=20):
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    return subprocess.run([sys.executable, "-m", "phasewatch", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def as_unprivileged(args, timeout=20):
    """Run the CLI as a user the permission bits apply to (root reads everything)."""
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": repo}
    return subprocess.run([*prefix, sys.executable, "-m", "phasewatch", *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          check=False, cwd="/")
