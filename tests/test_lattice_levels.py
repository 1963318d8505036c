"""A plateau of a reward on a lattice (a few completions per prompt: 0.6, 0.8, 1.0) is summarised
by means, not medians: the medians of its first and last 67 evaluations read "1 -> 0.8, change
-0.2, level 1" while the means were 0.848 and 0.851 (trial 38b, jsonl-autoresearch-grpo-reward)."""

import json

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.noise import MAD_TO_SD, noise_scale
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



def test_the_noise_of_a_reward_on_a_coarse_lattice_is_its_sd_not_a_lattice_step():
    """A GRPO batch reward of {1.0, 1.5, 2.0} (sd 0.354): the MAD of its differences is a
    whole lattice step (0.5 -> noise 0.52, 1.5 times the sd) for as long as a quarter of them
    tie at it; the mean absolute difference is not quantised."""
    rng = np.random.default_rng(3)
    lattice = rng.choice([1.0, 1.5, 2.0], size=1500, p=[0.25, 0.5, 0.25])
    assert abs(noise_scale(lattice) / lattice.std() - 1) < 0.1
    smooth = rng.normal(1.5, 0.354, 1500)  # off a lattice: the MAD, as before
    d = np.diff(smooth)
    assert noise_scale(smooth) == pytest.approx(
        np.median(np.abs(d - np.median(d))) * MAD_TO_SD / np.sqrt(2))


def test_a_lattice_reward_that_rises_in_its_first_steps_then_holds_is_an_improvement(
        tmp_path, capsys):
    """trainer-state-grpo-deepstock-reward-1800's shape: a GRPO reward of 4 completions rising
    0.2 -> 1.5 over the first 40 of 1800 steps, then a level whose readings are 1.0, 1.5 or
    2.0 (sd 0.354): judged against a noise of one lattice step (0.52) the rise was inside one
    plateau."""
    rng = np.random.default_rng(4)
    rise = [float(rng.binomial(4, (0.2 + 1.3 * i / 40) / 2) / 2) for i in range(40)]
    level = rng.choice([1.0, 1.5, 2.0], size=1760, p=[0.25, 0.5, 0.25]).tolist()
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": i + 1, "reward": v}) + "\n"
                            for i, v in enumerate(rise + level)))
    assert main(["analyze", str(path), "--metric", "reward", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["noise_sd"] == pytest.approx(np.std(level), rel=0.1)
    assert [p["name"] for p in run["phases"]] == ["improvement", "plateau"]


@pytest.mark.parametrize("scale", [0.1, 0.2, 0.3, 0.7, 3.0])
def test_the_noise_of_a_lattice_scales_with_its_values(scale):
    """The same reward lattice in other units ({0.1, 0.15, 0.2}: a log's tenths, as it prints
    them) reads the same noise in those units: the ties at the MAD are counted up to float
    rounding (0.15 - 0.1 and 0.2 - 0.15 differ in their last bits), so a lattice of tenths is
    judged as one of halves is; counted exactly, its noise was the lattice step's, 1.59 times."""
    rng = np.random.default_rng(3)
    lattice = rng.choice([1.0, 1.5, 2.0], size=1500, p=[0.25, 0.5, 0.25])
    scaled = np.round(lattice * scale, 10)
    assert noise_scale(scaled) == pytest.approx(scale * noise_scale(lattice), rel=1e-6)
