"""`watch --noise-sd` / `--eval-size`: the live monitor judges against the noise it is given,
as `analyze` does, and the whole-run answer at the end is analyze's with the same option."""

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.online import MonitorConfig, PhaseMonitor

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


def flat_then_decline(seed: int, drop: float = 0.05) -> list[tuple[int, float]]:
    """120 evaluations at 0.6 with noise sd 0.01, then 60 that fall steadily by `drop`."""
    rng = np.random.default_rng(seed)
    curve = np.r_[np.full(120, 0.6), 0.6 - drop * np.arange(1, 61) / 60]
    return [(10 * i, float(v)) for i, v in enumerate(curve + rng.normal(0, 0.01, curve.size))]


def stopped(records, **options) -> bool:
    monitor = PhaseMonitor("eval/accuracy", **options)
    for step, value in records:
        monitor.update(step, {"eval/accuracy": value})
    return monitor.should_stop


def test_the_monitor_judges_against_a_given_noise_sd():
    runs = [flat_then_decline(seed) for seed in range(6)]
    # a 5-sd decline is an overfit against the run's own noise or the true sd, given; told the
    # noise is 5 times larger, it is a 1-sd wobble
    assert all(stopped(r) for r in runs)
    assert all(stopped(r, noise_sd=0.01) for r in runs)
    assert not any(stopped(r, noise_sd=0.05) for r in runs)


def test_a_bad_noise_option_is_a_value_error_in_the_library():
    with pytest.raises(ValueError, match="noise_sd"):
        MonitorConfig(noise_sd=0.0)
    with pytest.raises(ValueError, match="give one of them"):
        MonitorConfig(noise_sd=0.01, eval_size=500)


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_watch_ends_with_the_phases_analyze_finds_with_the_same_noise(capsys):
    demo = SAMPLES / "demo"
    code, out, _ = run_cli(capsys, "analyze", demo, "--eval-size", "500", "--format", "json")
    assert code == 0
    offline = json.loads(out)["runs"][0]
    code, out, _ = run_cli(capsys, "watch", demo, "--eval-size", "500", "--format", "jsonl")
    assert code == 0  # the expert NLLs the monitor also follows keep their own noise
    summary = json.loads(out.splitlines()[-1])
    assert summary["phases"] == [p["name"] for p in offline["phases"]]
    assert "plateau" in summary["phases"]  # what --eval-size 500 changes on this run (docs)
    assert summary["best_step"] == offline["recommended_stop_step"]


@pytest.mark.parametrize("argv, words", [
    (["--noise-sd", "-1"], "finite number > 0"),
    (["--eval-size", "500", "--metric", "expert/nll_heldout"], "not a rate in [0, 1]"),
])
def test_bad_noise_options_of_watch_are_usage_errors(capsys, argv, words):
    code, _, err = run_cli(capsys, "watch", SAMPLES / "demo", *argv)
    assert code == 2 and words in err and "Traceback" not in err
