"""`phasewatch.analyze` and `sweep` give `analyze`'s answers on runs evaluated on several
validation sets: the same series, the same warnings (a notebook, a sweep table and the command
line must agree)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import phasewatch
from phasewatch.cli import main


@pytest.fixture()
def two_sets(tmp_path) -> str:
    """A verl-style run evaluated on two validation sets that rise at different rates."""
    rng = np.random.default_rng(0)
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps({
        "step": step,
        "val-core/gsm8k/acc/mean@1": 0.3 + 0.4 * (1 - math.exp(-step / 100)) + rng.normal(0, 0.01),
        "val-core/math/acc/mean@1": 0.2 + 0.3 * (1 - math.exp(-step / 150)) + rng.normal(0, 0.01),
    }) + "\n" for step in range(0, 400, 10)))
    return str(path)


def analyze_json(capsys, *args: str) -> dict:
    assert main(["analyze", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


OPTIONS = [((), {}), (("--metric", "val-core/*"), {"metric": "val-core/*"}),
           (("--aggregate", "mean"), {"aggregate": "mean"}),
           (("--metric", "val-core/*", "--aggregate", "mean"),
            {"metric": "val-core/*", "aggregate": "mean"})]


@pytest.mark.parametrize("args,kwargs", OPTIONS)
def test_the_api_analyses_the_series_analyze_does(two_sets, capsys, args, kwargs):
    # Was: phasewatch.analyze(path, metric="val-core/*") raised "no metric 'val-core/*'", took
    # no `aggregate`, and without a metric left out analyze's warning that it analysed the
    # first of 2 validation sets only.
    expected = analyze_json(capsys, two_sets, *args)
    got = phasewatch.analyze(two_sets, **kwargs).to_dict()
    assert got["metric"] == expected["metric"]
    assert got["warnings"] == expected["warnings"]
    assert got["phases"] == expected["phases"]
    assert got["recommended_stop_step"] == expected["recommended_stop_step"]


@pytest.mark.parametrize("args,kwargs", OPTIONS)
def test_a_sweep_row_is_analyzes_on_a_run_of_several_sets(two_sets, tmp_path, capsys, args,
                                                          kwargs):
    # Was: `sweep --metric 'val-core/*'` made every row an error ("no metric"), sweep had no
    # --aggregate, and n_warnings left out the validation-sets warning analyze gives.
    expected = analyze_json(capsys, two_sets, *args)
    table = tmp_path / "sweep.json"
    assert main(["sweep", two_sets, *args, "--workers", "1", "--no-progress",
                 "-o", str(table)]) == 0
    [row] = json.loads(table.read_text())["runs"]
    assert row["error"] is None
    assert row["metric"] == expected["metric"]
    assert row["n_warnings"] == len(expected["warnings"])
    assert row["recommended_step"] == expected["recommended_stop_step"]
    assert row["best_value"] == pytest.approx(expected["best_value"])
    capsys.readouterr()
    assert main(["report", two_sets, *args, "--workers", "1", "--no-progress",
                 "-o", str(tmp_path / "report.html")]) == 0
    assert expected["metric"] in Path(tmp_path / "report.html").read_text()
