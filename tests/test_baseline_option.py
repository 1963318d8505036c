"""`--baseline` chooses the reference effects are measured from; the phases come from the data.

`analyze sample_logs/sft --baseline step:100` used to print one `plateau 0 -> 510  0.056 ->
0.676` where the default prints disruption / readaptation / overfit: the chosen level fed the
rules that name the phases and became the first phase's start value.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run
from phasewatch.run import RecordCollector
from tests.test_phases import make_run

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
SPECS = ("first", "mean-of-first:4", "step:100")


def _accuracy_rows(every: int) -> list[tuple[int, float]]:
    """(step, eval/accuracy) of sample_logs/demo, every `every`-th evaluation."""
    rows = [json.loads(line) for line in (SAMPLES / "demo" / "metrics.jsonl").open()]
    evals = [(r["step"], r["eval/accuracy"]) for r in rows if r.get("eval/accuracy") is not None]
    return evals[::every]


def _run_of(rows: list[tuple[int, float]], metric: str = "eval/accuracy"):
    collector = RecordCollector("baseline-test", "synthetic")
    for line, (step, value) in enumerate(rows, start=1):
        collector.add(step, {metric: value}, line=line)
    return collector.build(events=[])


def _runs():
    return {
        "sft": read_run(SAMPLES / "sft"),
        "sparse (every 100th step of demo, 21 evaluations)": _run_of(_accuracy_rows(10)),
        "short fall (5 evaluations)": _run_of([(0, 0.546), (100, 0.05), (200, 0.06), (300, 0.055),
                                               (400, 0.052)]),
        "short rise (5 evaluations)": _run_of([(0, 0.3), (100, 0.31), (200, 0.45), (300, 0.62),
                                               (400, 0.78)]),
        "sparse loss (lower is better)": _run_of([(step, 1.0 - value) for step, value
                                                  in _accuracy_rows(10)], metric="eval/loss"),
    }


@pytest.mark.parametrize("name", list(_runs()))
def test_the_baseline_moves_only_what_is_measured_from_the_start(name):
    run = _runs()[name]
    metric = "eval/loss" if "loss" in name else "eval/accuracy"
    results = {spec: analyze_run(run, metric=metric, baseline=spec) for spec in SPECS}
    ref = results["first"]
    sign = 1.0 if ref.direction == "max" else -1.0  # gain and depth are higher-is-better terms
    assert len({r.baseline for r in results.values()}) == len(SPECS)  # three different levels
    for spec, a in results.items():
        assert [(p.name, p.start_step, p.end_step) for p in a.phases] == \
               [(p.name, p.start_step, p.end_step) for p in ref.phases], spec
        assert [(c.step, c.low, c.high) for c in a.changepoints] == \
               [(c.step, c.low, c.high) for c in ref.changepoints], spec
        assert a.recommended_stop_step == ref.recommended_stop_step
        shift = sign * (a.baseline - ref.baseline)
        for p, q in zip(a.phases, ref.phases):
            # the values at the phase's edges are the data's, whatever the baseline
            for key in ("start_value", "end_value", "change", "decline_since_peak"):
                assert p.stats.get(key) == q.stats.get(key), (spec, key)
            if "gain_over_baseline" in q.stats:
                assert p.stats["gain_over_baseline"] == pytest.approx(
                    q.stats["gain_over_baseline"] - shift, abs=1e-12)
            if "depth" in q.stats:
                from_start = p.start_step == a.phases[0].start_step
                expected = q.stats["depth"] + (shift if from_start else 0.0)
                assert p.stats["depth"] == pytest.approx(expected, abs=1e-12), spec
    # the run does carry what the test checks: a fall from the start or a rise over it
    assert any("depth" in p.stats or "gain_over_baseline" in p.stats for p in ref.phases)


def test_recovery_is_timed_to_the_chosen_level():
    """time_to_recover is until the data regain the level the depth is measured from: on
    sample_logs/sft, the step-0 evaluation (0.546) is regained 230 steps after the trough, a
    chosen level of 0.056 (the evaluation at step 100) 30 steps after it."""
    run = read_run(SAMPLES / "sft")
    first = analyze_run(run, baseline="first").phases[0].stats
    low = analyze_run(run, baseline="step:100").phases[0].stats
    assert first["time_to_recover"] == 230 and low["time_to_recover"] == 30
    assert first["start_value"] == low["start_value"] == 0.546


def test_the_printed_lines_name_the_level_they_measure_from(capsys):
    """A trough or a gain measured from a baseline other than the start says so."""
    from phasewatch.cli import main

    root = Path(__file__).resolve().parents[1] / "sample_logs" / "sft"
    assert main(["analyze", str(root)]) == 0
    default = capsys.readouterr().out
    assert "below the start" in default and "above the start" in default
    assert main(["analyze", str(root), "--baseline", "step:100"]) == 0
    moved = capsys.readouterr().out
    assert "below the baseline" in moved and "above the baseline" in moved
    assert "the start" not in moved


def test_a_run_that_starts_on_a_plateau_measures_from_the_start(capsys):
    """Which level a gain is measured from is the option's (`baseline_rule` in the JSON), not
    read off the first phase's start value: a plateau's is the level it holds, not the first
    evaluation."""
    from phasewatch.commands.analyze import print_text

    rng = np.random.default_rng(3)
    y = np.r_[np.full(30, 0.40), np.linspace(0.40, 0.70, 30)] + rng.normal(0, 0.01, 60)
    a = analyze_run(make_run(y))
    assert [p.name for p in a.phases] == ["plateau", "improvement"]
    assert a.phases[0].stats["start_value"] != a.baseline and a.extra["baseline_rule"] == "first"
    print_text(a)
    assert "above the start" in capsys.readouterr().out
    moved = analyze_run(make_run(y), baseline="mean-of-first:5")
    assert moved.extra["baseline_rule"] == "mean-of-first:5"
