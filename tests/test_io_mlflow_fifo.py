"""A FIFO (or other non-regular file) as an MLflow metric file (or a DVCLive TSV): never opened
(it would block), named in the error when it is all the run has, and in a warning when other
metrics exist."""

from __future__ import annotations

import os

import pytest

from phasewatch.errors import InputError
from phasewatch.io import read_run

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def mlflow_run(tmp_path):
    run = tmp_path / "mlruns" / "0" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: abc\nexperiment_id: '0'\nstatus: 3\nlifecycle_stage: active\n")
    os.mkfifo(run / "metrics" / "loss")
    return run


def test_a_fifo_as_the_only_metric_file_is_named(tmp_path):
    run = mlflow_run(tmp_path)
    with pytest.raises(InputError) as err:
        read_run(run)
    message = str(err.value)
    assert str(run / "metrics" / "loss") in message
    assert "FIFO" in message and "not a regular file" in message


def test_a_fifo_beside_other_metrics_is_skipped_with_a_warning(tmp_path):
    run = mlflow_run(tmp_path)
    (run / "metrics" / "acc").write_text("1700000000000 0.5 1\n1700000000001 0.6 2\n")
    result = read_run(run)
    assert result.series("acc").to_dict() == {1: 0.5, 2: 0.6}
    assert any("metrics/loss" in w and "FIFO" in w for w in result.warnings)


def test_a_fifo_among_a_dvclive_runs_tsvs_is_skipped_with_a_warning(tmp_path):
    # DVCLive's and MLflow's metric files are listed by one function (`files.regular_files`)
    from phasewatch.files import regular_files

    metrics = tmp_path / "dvclive" / "plots" / "metrics"
    (metrics / "eval").mkdir(parents=True)
    (metrics / "eval" / "acc.tsv").write_text("step\tacc\n0\t0.5\n1\t0.6\n")
    os.mkfifo(metrics / "loss.tsv")
    result = read_run(tmp_path / "dvclive")
    assert result.series("eval/acc").to_dict() == {0: 0.5, 1: 0.6}
    assert any("loss.tsv" in w and "FIFO" in w for w in result.warnings)
    found: dict = {}
    assert regular_files(metrics.rglob("*"), found) == [metrics / "eval" / "acc.tsv"]
    assert found == {metrics / "loss.tsv": "a FIFO (named pipe)"}
