"""`analyze`, `inspect`, `changepoints` and `watch` run without importing pandas (its import alone took
longer than analysing a 100k-step run), and `Run.series`/`Run.table` still give pandas views."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from phasewatch.io import read_run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs" / "sft"

PROBE = """
import contextlib, io, json, sys
from phasewatch.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "pandas": "pandas" in sys.modules}))
"""


@pytest.mark.parametrize("argv", [
    ["analyze", "{run}", "--format", "json"],
    ["analyze", "{run}", "--metric", "train/loss"],
    ["inspect", "{run}", "--format", "json"],
    ["changepoints", "{run}", "--metric", "eval/accuracy", "--metric", "train/loss"],
    ["watch", "{run}", "--format", "jsonl"],
])
def test_command_does_not_import_pandas(argv, tmp_path):
    # the sample run without its expert log-prob store (token signals are pandas frames)
    for name in ("metrics.jsonl", "run.json"):
        shutil.copy(SAMPLE / name, tmp_path / name)
    argv = [a.format(run=tmp_path) for a in argv]
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "pandas": False}


def test_column_and_series_agree():
    run = read_run(SAMPLE)
    for metric in run.metrics:
        column, series = run.column(metric), run.series(metric)
        assert column.name == series.name
        assert np.array_equal(column.steps, series.index.to_numpy())
        assert np.array_equal(column.values, series.to_numpy())
        assert not column.values.flags.writeable  # shared with the run: read-only


def test_step_series_slices_as_pandas_masks_do():
    run = read_run(SAMPLE)
    column, series = run.column("eval/accuracy"), run.series("eval/accuracy")
    lo, hi = int(column.steps[3]), int(column.steps[-4]) + 1
    mask = (series.index >= lo) & (series.index <= hi)
    assert np.array_equal(column.between(lo, hi).values, series[mask].to_numpy())
    assert np.array_equal(column.since(lo).steps, series[series.index >= lo].index.to_numpy())
    assert column.to_pandas().equals(series)


def test_analyze_of_a_run_with_an_expert_token_store_does_not_import_pandas():
    done = subprocess.run([sys.executable, "-c", PROBE, "analyze", str(SAMPLE), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    assert (SAMPLE / "expert_logprobs").is_dir()
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"code": 0, "pandas": False}
