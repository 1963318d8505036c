"""sweep: the recovery columns, and the table per configuration (seeds as mean, sd, n)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from phasewatch.cli import main
from phasewatch.sweep import by_config, sweep

SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"


def _run(folder: Path, algorithm: str, seed: int, values: list[float], **config) -> Path:
    """A native run: held-out accuracy every 10 steps."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({
        "schema_version": 1, "name": folder.name, "algorithm": algorithm,
        "performance_metric": "eval/accuracy", "direction": "max",
        "config": {"algorithm": algorithm, "seed": seed, "lr": 1e-3, **config}}))
    (folder / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": 10 * i, "eval/accuracy": v}) + "\n" for i, v in enumerate(values)))
    return folder


def _dip(seed: int, back: int) -> list[float]:
    """0.55, a fall to 0.05 by step 50, back at 0.55 at step `back`, then up to 0.8."""
    import numpy as np

    rng = np.random.default_rng(seed)
    steps = np.arange(0, 1000, 10)
    level = np.interp(steps, [0, 50, back, back + 300, 1000], [0.55, 0.05, 0.56, 0.8, 0.8])
    return [round(float(v), 3) for v in level + rng.normal(0, 0.005, steps.size)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("configs")
    for seed, back in enumerate((300, 340, 380)):
        _run(root / f"sft_s{seed}", "sft", seed, _dip(seed, back))
    for seed, back in enumerate((200, 230)):
        _run(root / f"mu_s{seed}", "chord_mu", seed, _dip(10 + seed, back))
    _run(root / "mu_lr", "chord_mu", 0, _dip(20, 250), lr=3e-3)  # another configuration
    return root


def test_recovery_is_a_column_as_analyze_says_it(runs, capsys):
    """trial 40e finding 6: "recovered after 240 steps" was in analyze, not in the sweep."""
    table = sweep([str(runs / "*")], workers=1)
    for _, row in table.iterrows():
        assert main(["analyze", row["path"], "--format", "json"]) == 0
        ref = json.loads(capsys.readouterr().out)["runs"][0]
        dip = next(p for p in ref["phases"] if p["name"] == "disruption")
        assert row["time_to_recover"] == dip["time_to_recover"] is not None
        assert row["recovered_step"] == dip["trough_step"] + dip["time_to_recover"]
    assert str(table["recovered_step"].dtype) == "Int64"


def test_seeds_of_one_configuration_are_one_row(runs, tmp_path):
    table = sweep([str(runs / "*")], workers=1)
    configs = by_config(table)
    assert list(configs["algorithm"]) == ["chord_mu", "chord_mu", "sft"]
    # in the order of their first run (globs sorted: mu_lr, mu_s0, mu_s1, sft_s0...)
    assert list(configs["n_runs"]) == [1, 2, 3] and list(configs["seeds"]) == ["0", "0,1", "0,1,2"]
    sft = configs.iloc[2]
    seeds = table[table["algorithm"] == "sft"]["recovered_step"].astype(float)
    assert math.isclose(sft["recovered_step_mean"], seeds.mean())
    assert math.isclose(sft["recovered_step_sd"], seeds.std(ddof=1))
    assert sft["recovered_step_n"] == 3 and sft["hp.lr"] == 0.001
    alone = configs.iloc[0]
    assert alone["hp.lr"] == 0.003 and pd.isna(alone["best_value_sd"]) and alone["best_value_n"] == 1
    # the CLI writes the same table; JSON under "configs"
    out = tmp_path / "configs.json"
    assert main(["sweep", str(runs / "*"), "--workers", "1", "--no-progress", "--by-config",
                 "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [c["n_runs"] for c in doc["configs"]] == [1, 2, 3]
    assert doc["configs"][2]["recovered_step_mean"] == pytest.approx(sft["recovered_step_mean"])


def test_a_number_some_seeds_lack_is_counted():
    """A dip on one seed of three is that seed's depth with n 1, not a mean over three."""
    table = pd.DataFrame({"path": ["a", "b", "c"], "name": ["a", "b", "c"],
                          "algorithm": ["rl"] * 3, "seed": [0, 1, 2], "metric": ["acc"] * 3,
                          "direction": ["max"] * 3, "step_unit": ["step"] * 3,
                          "phases": ["disruption>readaptation", "improvement", "improvement"],
                          "dip_depth": [0.16, None, None], "error": [None] * 3})
    row = by_config(table).iloc[0]
    assert row["dip_depth_mean"] == 0.16 and row["dip_depth_n"] == 1 and pd.isna(row["dip_depth_sd"])
    assert row["phases"] == "improvement (2); disruption>readaptation (1)"


@pytest.mark.skipif(not (SAMPLES / "seeds").is_dir(), reason="needs the sample logs")
def test_the_sweeps_doc_examples_run():
    """docs/sweeps.md's `>>>` example (by_config on the sample logs) prints what it shows."""
    import doctest

    text = (SAMPLES.parent / "docs" / "sweeps.md").read_text(encoding="utf-8")
    text = re.sub(r"^```.*$", "", text, flags=re.MULTILINE)  # a fence ends the expected output
    test = doctest.DocTestParser().get_doctest(text, {}, "sweeps.md", "docs/sweeps.md", 0)
    assert test.examples
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    import os

    cwd = os.getcwd()
    os.chdir(SAMPLES.parent)
    try:
        runner.run(test)
    finally:
        os.chdir(cwd)
    assert runner.failures == 0
