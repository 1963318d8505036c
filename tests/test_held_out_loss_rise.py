"""A held-out loss rising from the start to a level it never leaves, while the train loss falls,
is an overfit, not a disruption (`expert_data.held_out_loss_overfit`): a user told
"disruption" waits for a readaptation that a held-out loss of the training data's own kind does
not have. A fall that is recovered, one of a held-out accuracy, or one beside a train loss that
does not fall keeps its name."""

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch import analyze, watch
from phasewatch.synth_eased import generate_regime

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _rise(n=22, seed=0):
    """An eval loss at 0.70, rising to 0.90 by 40% of the run, then flat there."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / (n - 1)
    return 0.70 + 0.20 * np.minimum(t / 0.4, 1.0) + rng.normal(0, 0.008, n)


def _columns(values, metric="eval_loss", train="falling"):
    steps = np.arange(len(values), dtype=np.int64) * 100
    columns = {metric: (steps, np.asarray(values, dtype=np.float64))}
    if train is not None:
        train_steps = np.arange(0, int(steps[-1]) + 1, 20, dtype=np.int64)
        level = np.linspace(1.0, 0.2, train_steps.size)
        columns["train/loss"] = (train_steps, level if train == "falling" else level[::-1])
    return columns


def _analyze(values, metric="eval_loss", train="falling", direction="min", **options):
    from phasewatch.run import Run

    run = Run.from_columns(_columns(values, metric, train), "test", "jsonl")
    return analyze(run, metric=metric, direction=direction, **options)


def test_a_held_out_loss_rising_for_good_as_the_train_loss_falls_is_an_overfit():
    result = _analyze(_rise())
    assert [p.name for p in result.phases] == ["overfit", "plateau"]
    assert result.recommended_stop_step == 0
    note = next(w for w in result.warnings if "is never recovered" in w)
    assert note.startswith("eval_loss: the rise from step 0 is never recovered, while the train "
                           "loss (train/loss) fell")
    assert "an overfit from its best point, not a disruption" in note


@pytest.mark.parametrize("train", [None, "rising"])
def test_the_same_rise_without_a_falling_train_loss_stays_a_disruption(train):
    assert [p.name for p in _analyze(_rise(), train=train).phases] == ["disruption", "plateau"]


def test_a_held_out_accuracy_falling_for_good_stays_a_disruption():
    """The disruption of the model's own task: its accuracy falls as the expert data acts."""
    result = _analyze(1.6 - _rise(), metric="eval_accuracy", direction="max")
    assert [p.name for p in result.phases] == ["disruption", "plateau"]


def test_a_recovered_rise_stays_a_disruption():
    values = np.r_[_rise(10)[:5], np.linspace(0.85, 0.55, 12)]
    names = [p.name for p in _analyze(values).phases]
    assert names[:2] == ["disruption", "readaptation"]


def test_a_short_held_out_loss_that_jumps_and_holds_is_an_overfit():
    result = _analyze([0.70, 0.90, 0.91, 0.90, 0.905])
    assert [p.name for p in result.phases] == ["overfit", "plateau"]


def test_read_early_in_its_plan_the_rise_is_a_disruption_so_far():
    """Within the first 40% of the planned run a rise may still be recovered, as the live
    monitor judges it; the log read past that part names it an overfit."""
    early = _analyze(_rise(), planned_steps=10_000)
    assert [p.name for p in early.phases] == ["disruption", "plateau"]
    assert [p.name for p in _analyze(_rise(), planned_steps=2_200).phases] == [
        "overfit", "plateau"]


@pytest.mark.parametrize("metric, direction, overfit", [("eval_loss", "min", True),
                                                       ("eval_accuracy", "max", False)])
def test_watch_names_the_rise_an_overfit_past_the_early_part_of_the_plan(
        tmp_path, metric, direction, overfit):
    """Live, the disruption from the start of a held-out loss becomes an overfit, the start its
    best, once the planned run's early part is over without a recovery; a held-out accuracy's
    fall stays a disruption."""
    values = _rise() if direction == "min" else 1.6 - _rise()
    rows = [{"step": 100 * i, metric: float(v), "loss": 1.0 - 0.03 * i}
            for i, v in enumerate(values)]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    alerts = list(watch(path, metric=metric, direction=direction, planned_steps=2_200))
    assert alerts[0].event == "disruption"
    ends = [a for a in alerts if a.event == "overfit"]
    assert bool(ends) == overfit
    # the disruption says by when it must recover not to be an overfit, where one will follow
    hint = ("not recovered by step 880 (40% of the planned run), a held-out loss's rise while "
            "loss improves is an overfit from its start")
    assert (hint in alerts[0].message) == overfit, alerts[0].message
    assert hint in " ".join((DOCS / "monitoring.md").read_text().split())  # quoted as printed
    if overfit:
        assert ends[0].step >= 0.4 * 2_200 and ends[0].best_step == 0
        said = ("a held-out loss's rise never recovered is an overfit from its start, not a "
                "disruption (learning the training data improves a held-out loss of its kind)")
        assert said in ends[0].message
        docs = DOCS / "monitoring.md"  # quoted as watch prints it
        assert said in " ".join(docs.read_text().split())


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_watch_does_not_call_a_rise_back_at_the_start_unrecovered(tmp_path, seed):
    """A held-out loss that rose and came back to its starting level before the planned run's
    early part ended is no overfit from the start, even while the noise of a run of 22
    evaluations keeps its readaptation from being said yet: "still above the starting level"
    would contradict the values (a dip of the `lower` regime's kind, recovered by 36% of the
    plan)."""
    rng = np.random.default_rng(seed)
    clean = np.interp(np.arange(22), [0, 3, 8, 21], [0.70, 0.90, 0.68, 0.68])
    rows = [{"step": 100 * i, "eval_loss": float(v), "loss": 1.0 - 0.03 * i}
            for i, v in enumerate(clean + rng.normal(0, 0.01, 22))]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    alerts = list(watch(path, metric="eval_loss", direction="min", planned_steps=2_200))
    assert [a.event for a in alerts] == ["disruption", "readaptation"]


def test_the_synthetic_truth_of_a_loss_never_recovered_is_an_overfit():
    """The generators' truth follows the same semantics: a loss's dip_no_recovery (its train
    loss falls in every run) is an overfit then a plateau; an accuracy's stays a disruption."""
    loss = generate_regime("dip_no_recovery", "lower", seed=3)
    assert [name for name, _, _ in loss.truth["phases"]] == ["overfit", "plateau"]
    accuracy = generate_regime("dip_no_recovery", "medium", seed=3)
    assert [name for name, _, _ in accuracy.truth["phases"]] == ["disruption", "plateau"]


def _hf_log(tmp_path):
    """An HF Trainer's rows as JSONL: `loss` every 20 steps, falling with noise; `eval_loss`
    every 100, rising from the start to a level it holds."""
    rng = np.random.default_rng(5)
    rows = [{"step": s, "loss": round(float(1.2 * np.exp(-s / 900) + rng.normal(0, 0.03)), 4)}
            for s in range(20, 2101, 20)]
    rows += [{"step": 100 * i, "eval_loss": round(float(v), 4)} for i, v in enumerate(_rise())]
    path = tmp_path / "trainer_log.jsonl"
    rows.sort(key=lambda row: row["step"])
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_detection_docs_quote_the_note_as_analyze_prints_it(tmp_path):
    """docs/detection.md quotes the note said beside a held-out loss's rise never recovered."""
    result = analyze(str(_hf_log(tmp_path)))
    assert result.metric == "eval_loss"
    note = next(w for w in result.warnings if "is never recovered" in w)
    docs = DOCS / "detection.md"
    assert " ".join(note.split()) in " ".join(docs.read_text().split())


@pytest.mark.parametrize("metric, direction, overfit", [("eval_loss", "min", True),
                                                       ("eval_accuracy", "max", False)])
def test_the_trainer_callbacks_watch_a_held_out_loss_as_watch_does(metric, direction, overfit):
    """The HF and Lightning callbacks' monitor host reads the metric's role as `watch` reads it
    from the log (`MonitorConfig.held_out_loss`), unless the options say it."""
    from phasewatch.callbacks._common import MonitorHost

    host = MonitorHost(metric, direction, ("overfit",), None, None, {"planned_steps": 2_200})
    values = _rise() if direction == "min" else 1.6 - _rise()
    for i, value in enumerate(values):
        host.observe(100 * i, {metric: float(value)})
    assert host.monitor.config.held_out_loss is overfit
    ends = [a for a in host.alerts if a.event == "overfit"]
    assert bool(ends) == overfit and all(a.best_step == 0 for a in ends)
    told = MonitorHost(metric, direction, (), None, None, {"held_out_loss": False})
    told.observe(0, {metric: 0.7})
    assert told.monitor.config.held_out_loss is False


def test_watch_leaves_the_rise_of_a_log_with_no_train_loss_a_disruption(tmp_path):
    """With no train loss in the log `analyze` keeps the name disruption (nothing shows the
    training data being learned), and so does `watch` past the early part of the plan: it
    stopped there as an overfit, from the start, where `analyze` of the same log did not."""
    path = tmp_path / "eval_only.jsonl"
    path.write_text("".join(json.dumps({"step": 100 * i, "eval_loss": float(v)}) + "\n"
                            for i, v in enumerate(_rise())))
    assert [p.name for p in analyze(str(path), planned_steps=2_200).phases] == [
        "disruption", "plateau"]
    alerts = list(watch(path, metric="eval_loss", direction="min", planned_steps=2_200))
    assert [a.event for a in alerts] == ["disruption"]
    assert "not recovered by" not in alerts[0].message  # no overfit it could become


@pytest.mark.parametrize("train_falls", [True, False])
def test_watch_names_the_rise_as_analyze_does_by_what_the_train_loss_did(tmp_path, train_falls):
    """An HF Trainer's log: `loss` every 20 steps with noise, `eval_loss` every 100 rising from
    the start to a level it holds. Beside a train loss that falls, `analyze` names the rise an
    overfit and `watch` stops it as one past the early part of the plan; beside a train loss
    that rises too, `analyze` keeps the disruption, and `watch`, which stopped it as an overfit
    because the log held a train loss at all, now follows that train loss and keeps it too."""
    rng = np.random.default_rng(11)
    rows = [{"step": s, "loss": round(float((1.2 * np.exp(-s / 900) if train_falls else
                                             0.3 + 0.4 * s / 2100) + rng.normal(0, 0.03)), 4)}
            for s in range(20, 2101, 20)]
    rows += [{"step": 100 * i, "eval_loss": round(float(v), 4)} for i, v in enumerate(_rise())]
    rows.sort(key=lambda row: row["step"])
    path = tmp_path / "trainer_log.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    names = [p.name for p in analyze(str(path), planned_steps=2_200).phases]
    assert names == (["overfit", "plateau"] if train_falls else ["disruption", "plateau"])
    alerts = list(watch(path, metric="eval_loss", direction="min", planned_steps=2_200))
    want = ["disruption", "overfit"] if train_falls else ["disruption"]
    assert [a.event for a in alerts] == want


@pytest.mark.parametrize("seed", range(6))
def test_a_flat_train_loss_whose_first_reading_is_high_has_not_improved(tmp_path, seed):
    """The same HF log beside a flat train loss (0.5, noise sd 0.03) whose first reading is two
    sds high (0.56, then 0.49 and 0.51): `analyze` keeps the rise a disruption (the train loss
    did not improve over it). The monitor took the first reading alone, with no standard
    error, as the train loss's start, so the flat loss read as 3 se below it and the rise was
    stopped as an overfit; the start is now the median of the first readings, its error that
    of such a median."""
    rng = np.random.default_rng(seed)
    rows = [{"step": 20, "loss": 0.56}, {"step": 40, "loss": 0.49}, {"step": 60, "loss": 0.51}]
    rows += [{"step": s, "loss": round(float(0.5 + rng.normal(0, 0.03)), 4)}
             for s in range(80, 2101, 20)]
    rows += [{"step": 100 * i, "eval_loss": round(float(v), 4)} for i, v in enumerate(_rise())]
    rows.sort(key=lambda row: row["step"])
    path = tmp_path / "trainer_log.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert [p.name for p in analyze(str(path), planned_steps=2_200).phases] == [
        "disruption", "plateau"]
    alerts = list(watch(path, metric="eval_loss", direction="min", planned_steps=2_200))
    assert [a.event for a in alerts] == ["disruption"]


# A short run's held-out loss: a fall to its best at the 7th of 10 evaluations, then worse at
# each of the last three (a ResNet's validation loss as its train loss kept falling)
_FALL_THEN_RISE = [3.29, 2.73, 2.30, 2.21, 1.86, 1.82, 1.64, 1.79, 1.90, 2.10]


def test_a_closing_rise_from_the_best_beside_a_falling_train_loss_is_an_overfit():
    """`expert_data.held_out_rise_at_end`: the noise read about a short run's broken line counts
    its bend, and the rise after the best was a plateau of "+2.5 sd" between end medians."""
    result = _analyze(_FALL_THEN_RISE)
    assert [(p.name, p.start_step) for p in result.phases] == [("improvement", 0),
                                                              ("overfit", 600)]
    assert result.recommended_stop_step == 600
    note = next(w for w in result.warnings if "worse at each of its last 3" in w)
    assert note.startswith("eval_loss: worse at each of its last 3 evaluations since its best "
                           "(step 600)")
    assert "while the train loss (train/loss) fell" in note


@pytest.mark.parametrize("values, train", [
    (_FALL_THEN_RISE, None),  # no train loss beside: nothing says the run learns its data
    (_FALL_THEN_RISE, "rising"),  # the run itself getting worse
    (_FALL_THEN_RISE[:-1] + [1.85], "falling"),  # the last one better again: not each worse
])
def test_the_closing_rise_needs_each_worse_and_a_falling_train_loss(values, train):
    names = [p.name for p in _analyze(values, train=train).phases]
    assert "overfit" not in names and names[-1] == "plateau"
