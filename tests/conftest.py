"""Fixtures shared by several test files: the MLflow SQLite store the real client wrote
(test_io_mlflow_stores.py reads it; test_io_mlflow_server.py compares the server's reading
with it)."""

from __future__ import annotations

import pytest
from mlflow_runs import log_runs


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(mlflow.db written by the client, {run name: run id})."""
    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    return db, log_runs(f"sqlite:///{db}")
