"""Files and folders the user may not read: exit 3 naming the file, for a one-off read, a
follow and a folder with one unreadable event file (run as an unprivileged user)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hostile_inputs import GOOD, as_unprivileged, tensorboard_file
from tfrecord_events import scalar_event


@pytest.fixture
def open_tmp():
    """A temporary folder an unprivileged user can enter (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="pw-perm-"))
    path.chmod(0o755)
    yield path
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(path)


@pytest.mark.parametrize("what", ["file", "folder", "file-in-folder"])
def test_permission_denied_is_exit_3_naming_the_file(what, open_tmp):
    if what == "file":
        target = open_tmp / "metrics.jsonl"
        target.write_text(GOOD)
        target.chmod(0)
    else:
        target = open_tmp / "run"
        target.mkdir()
        (target / "metrics.jsonl").write_text(GOOD)
        (target / "run.json").write_text("{}")
        (target if what == "folder" else target / "metrics.jsonl").chmod(0)
    result = as_unprivileged(["inspect", str(target)])
    assert result.returncode == 3, result.stderr
    assert "Permission denied" in result.stderr and str(target) in result.stderr
    assert "Traceback" not in result.stderr


def test_watch_follow_on_a_permission_denied_file_says_so(open_tmp):
    target = open_tmp / "metrics.jsonl"
    target.write_text(GOOD)
    target.chmod(0)
    result = as_unprivileged(["watch", str(target), "--follow", "--idle-exit", "1"])
    assert result.returncode in (0, 3)
    assert "Permission denied" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreadable_tensorboard_file_in_a_folder_is_reported(open_tmp):
    pytest.importorskip("tensorboard")
    run = open_tmp / "tb"
    run.mkdir()
    good = tensorboard_file(run, [scalar_event(i, 0.5) for i in range(5)])
    other = run / "sub"
    other.mkdir()
    locked = tensorboard_file(other, [scalar_event(i, 0.4, "acc") for i in range(5)])
    locked.chmod(0)
    run.chmod(0o755)
    result = as_unprivileged(["inspect", str(run)])
    assert result.returncode in (0, 3), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert good.exists()
    assert "Permission denied" in result.stderr + result.stdout
