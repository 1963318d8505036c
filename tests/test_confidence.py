"""Runs of 6-12 evaluations state how far their phases can be trusted (phasewatch.confidence),
in analyze's text, JSON and csv outputs and in the sweep table."""

import json

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.cli import main
from phasewatch.run import RecordCollector


def run_of(values, metric="eval/accuracy"):
    collector = RecordCollector("few", "synthetic")
    for i, value in enumerate(values):
        collector.add(100 * i, {metric: float(value)}, line=i + 1)
    return collector.build(events=[])


def dip_and_recovery(n, depth, seed=0):
    """A dip to `depth` below the start at a third of the run, back by the end, noise 0.01."""
    t = np.linspace(0, 1, n)
    curve = 0.6 - depth * np.interp(t, [0, 0.33, 1], [0, 1, 0])
    return curve + np.random.default_rng(seed).normal(0, 0.01, n)


@pytest.mark.parametrize("n,depth,expected", [
    (7, 0.3, "high"),       # every change ~30 sds: right on ~0.9 of such runs
    (10, 0.05, "moderate"),  # changes of a few sds on 9-12 evaluations
    (7, 0.03, "low"),        # ... on 6-8 evaluations
])
def test_the_tier_follows_the_size_of_the_changes_and_the_length(n, depth, expected):
    a = analyze_run(run_of(dip_and_recovery(n, depth)))
    assert a.extra["confidence"] == expected, [(p.name, p.stats["change_sd"]) for p in a.phases]


def test_a_flat_run_of_few_evaluations_is_no_more_than_moderate():
    flat = 0.6 + np.random.default_rng(3).normal(0, 0.01, 10)
    a = analyze_run(run_of(flat))
    assert [p.name for p in a.phases] == ["plateau"] and a.extra["confidence"] == "moderate"


def test_longer_runs_state_no_confidence():
    a = analyze_run(run_of(dip_and_recovery(13, 0.3)))
    assert "confidence" not in a.extra


def test_text_json_csv_and_sweep_carry_the_same_confidence(tmp_path, capsys):
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps({"step": 100 * i, "eval/accuracy": float(v)}) + "\n"
                            for i, v in enumerate(dip_and_recovery(10, 0.05))))
    assert main(["analyze", str(path)]) == 0
    assert "confidence moderate" in capsys.readouterr().out.splitlines()[0]
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["confidence"] == "moderate"
    assert main(["analyze", str(path), "--format", "csv"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    column = header.split(",").index("confidence")
    assert {r.split(",")[column] for r in rows} == {"moderate"}
    assert main(["sweep", str(path), "--workers", "1", "--no-progress"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert row.split(",")[header.split(",").index("confidence")] == "moderate"


def test_a_short_series_plateau_that_moved_says_it_is_not_established(tmp_path, capsys):
    """3 evaluations rising 0.4516 -> 0.7419: no test can establish that (Kendall p = 1/3), so
    a plateau, whose printed line must not read as 'flat'."""
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps({"step": s, "val_accuracy": v}) + "\n" for s, v in
                            ((10, 0.4516), (20, 0.5161), (30, 0.7419))))
    assert main(["analyze", str(path)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.split()[0] == "plateau" and "change +0.2903" in line
    assert line.endswith("not established")


def test_the_watch_summary_states_the_whole_runs_confidence(tmp_path, capsys):
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps({"step": 100 * i, "eval/accuracy": float(v)}) + "\n"
                            for i, v in enumerate(dip_and_recovery(10, 0.05))))
    assert main(["watch", str(path), "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["confidence"] == "moderate"
    assert "(moderate confidence), checkpoint to keep" in err


def test_a_noise_estimate_below_the_values_step_is_low_confidence():
    """Trial 35: a flat token accuracy on 4,992 tokens (+-1 token, then 6 lower) read a noise
    sd of half a token and was "overfit, -12.2 sd, high confidence"."""
    import numpy as np

    from phasewatch.analysis import analyze_run
    from phasewatch.confidence import below_resolution
    from phasewatch.run import Run

    counts = np.array([2978, 2978, 2979, 2979, 2978, 2972])
    values = np.round(counts / 4992, 5)
    steps = np.arange(6) * 80
    a = analyze_run(Run.from_columns({"eval/accuracy": (steps, values)}, "t", "t"),
                    "eval/accuracy", "max")
    assert a.extra["confidence"] == "low"
    assert any("below the step its values move in (0.0002" in w for w in a.warnings)
    assert below_resolution(values, 0.001) is None  # an estimate above one step: not said
    rng = np.random.default_rng(0)
    assert below_resolution(rng.normal(0.6, 0.01, 6), 1e-6) is None  # no lattice


def test_a_noise_estimate_below_the_values_step_is_said_on_a_long_run_too():
    """A held-out accuracy on 120 items over 21 evaluations (0.992, 0.608, then 0.600 nineteen
    times) read a noise sd of an eighth of one item and printed a fall of "399.3 sd" with no
    warning: the rule was applied to runs of at most 12 evaluations only. The same shape on
    50 items: one item up and back, then a fall of 10 items that stays."""
    from phasewatch.run import Run

    counts = np.array([40] * 3 + [41] + [40] * 4 + [30] * 12)
    steps = np.arange(counts.size) * 50
    a = analyze_run(Run.from_columns({"eval/accuracy": (steps, counts / 50)}, "t", "t"),
                    "eval/accuracy", "max")
    assert 0 < a.extra["noise_sd"] < 0.02
    assert "confidence" not in a.extra  # a run of 20 evaluations has none to lower
    said = [w for w in a.warnings if "below the step its values move in (0.02" in w]
    assert len(said) == 1 and "confidence low" not in said[0]
    # a run whose noise spans several items is not warned of
    rng = np.random.default_rng(1)
    noisy = np.clip(np.round(rng.normal(0.7, 0.06, 20) * 50), 0, 50) / 50
    b = analyze_run(Run.from_columns({"eval/accuracy": (steps, noisy)}, "t", "t"),
                    "eval/accuracy", "max")
    assert not any("below the step its values move in" in w for w in b.warnings)
    # a log that states its set's size: its own note says it (`quantised_rate_note`), once
    c = analyze_run(Run.from_columns({"eval_accuracy": (steps, counts / 50),
                                      "eval_runtime": (steps, np.full(steps.size, 2.0)),
                                      "eval_samples": (steps, np.full(steps.size, 50.0))},
                                     "t", "t"), "eval_accuracy", "max")
    assert [w for w in c.warnings if "multiples of 1/50" in w]
    assert not any("below the step its values move in" in w for w in c.warnings)


def test_a_noise_free_lattice_run_is_not_said_to_have_effects_in_sds():
    """csv-sb3-aiml-evalreward-10: -3, -1, then 1 at eight evaluations (noise-free) was told both
    "no effect is given in noise sds" and "its effects in sds are too large"."""
    a = analyze_run(run_of([-3, -1] + [1] * 8, metric="eval/mean_reward"))
    assert a.extra["noise_sd"] == 0 and a.extra["confidence"] == "low"
    said = [w for w in a.warnings if "below the step its values move in" in w]
    assert len(said) == 1 and "no noise can be read from them: confidence low" in said[0]
    assert not any("effects in sds are too large" in w for w in a.warnings)


@pytest.mark.parametrize("metric, word", [("train/reward", "readings"),
                                          ("eval/accuracy", "evaluations")])
def test_the_resolution_warning_counts_a_train_series_in_readings(metric, word):
    """A train reward on a lattice of quarters over 10 logs was told "the noise sd estimated
    from its 10 evaluations", beside notes on the same values that count readings."""
    a = analyze_run(run_of([0.5, 0.75, 0.75] + [1.0] * 7, metric=metric))
    said = [w for w in a.warnings if "below the step its values move in" in w]
    assert len(said) == 1 and f"estimated from its 10 {word} (" in said[0], said
