"""Fixtures shared by several test files: the MLflow SQLite store the real client wrote
(test_io_mlflow_stores.py reads it; test_io_mlflow_server.py compares the server's reading
with it), and a short finish grace for the follows that end on a log's end marker."""

from __future__ import annotations

import pytest
from mlflow_runs import log_runs


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(mlflow.db written by the client, {run name: run id})."""
    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    return db, log_runs(f"sqlite:///{db}")


@pytest.fixture(autouse=True)
def short_finish_grace(monkeypatch):
    """A follow ends FINISH_GRACE seconds (10) after the log's end marker if nothing more came;
    the dozen tests that follow a log to its end wait 0.3 s instead (the same rule, a shorter
    wait; tests/test_watch_follow_files.py follows a second train() in within a 2 s grace)."""
    import phasewatch.live

    monkeypatch.setattr(phasewatch.live, "FINISH_GRACE", 0.3)
