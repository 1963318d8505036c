"""A plateau of a reward on a lattice (a few completions per prompt: 0.6, 0.8, 1.0) is summarised
by means, not medians: the medians of its first and last 67 evaluations read "1 -> 0.8, change
-0.2, level 1" while the means were 0.848 and 0.851 (trial 38b, jsonl-autoresearch-grpo-reward)."""

import json

import numpy as np

from phasewatch.cli import main
from phasewatch.phase_stats import on_lattice, typical


def test_typical_is_the_median_off_a_lattice_and_the_mean_on_one():
    rng = np.random.default_rng(1)
    smooth = rng.normal(0.5, 0.05, 60)
    assert not on_lattice(smooth) and typical(smooth) == np.median(smooth)
    lattice = rng.choice([0.6, 0.8, 1.0], size=60, p=[0.2, 0.35, 0.45])
    assert on_lattice(lattice) and typical(lattice) == np.mean(lattice)
    assert not on_lattice(np.array([0.6, 0.8, 0.8]))  # too few to tell a lattice


def test_a_lattice_plateau_prints_the_means_it_holds(tmp_path, capsys):
    rng = np.random.default_rng(2)
    values = rng.choice([0.6, 0.8, 1.0], size=201, p=[0.2, 0.35, 0.45])
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": i + 1, "mean_reward": float(v)}) + "\n"
                            for i, v in enumerate(values)))
    assert main(["analyze", str(path), "--format", "json"]) == 0
    [plateau] = json.loads(capsys.readouterr().out)["runs"][0]["phases"]
    assert plateau["name"] == "plateau" and plateau["ends_means"] == 67
    assert plateau["start_value"] == np.mean(values[:67])
    assert plateau["end_value"] == np.mean(values[-67:])
    assert plateau["level"] == np.mean(values)
    assert main(["analyze", str(path)]) == 0
    assert ("(ends: means of 67 readings each; its values repeat, a quarter of them or fewer "
            "distinct)") in capsys.readouterr().out

