"""A fall that is never recovered is a disruption only in a run that trains on expert data
(`phasewatch.expert_data`): in a policy-gradient run it is an overfit from the start."""

import json

import numpy as np
import pytest

from phasewatch import analyze, watch
from phasewatch.expert_data import overfit_if_unrecovered, policy_gradient_only
from phasewatch.results import Phase
from phasewatch.run import Run


def _run(values, extra=None, **metadata):
    steps = np.arange(len(values), dtype=np.int64) * 10
    columns = {"eval/score": (steps, np.asarray(values, dtype=np.float64))}
    for name, column in (extra or {}).items():
        columns[name] = (steps, np.asarray(column, dtype=np.float64))
    return Run.from_columns(columns, "test", "jsonl", **metadata)


def _collapse(n, seed=0):
    """A score at 0.6 for one evaluation, then down to 0.2 for good, with small noise."""
    rng = np.random.default_rng(seed)
    return np.r_[0.6, 0.2 + rng.normal(0, 0.01, n - 1)]


PG_LOSS = {"actor/pg_loss": np.linspace(0.1, -0.1, 25)}


@pytest.mark.parametrize("how", [{"algorithm": "grpo"}, {"algorithm": "GRPO"}, {"extra": PG_LOSS}])
def test_collapse_of_a_policy_gradient_run_is_an_overfit(how):
    run = _run(_collapse(25), **how)
    assert policy_gradient_only(run) is not None
    result = analyze(run, metric="eval/score", direction="max")
    assert [p.name for p in result.phases] == ["overfit", "plateau"]
    assert result.recommended_stop_step == 0
    assert sum("trained by a policy gradient alone" in w for w in result.warnings) == 1


@pytest.mark.parametrize("how", [{}, {"algorithm": "sft"},
                                 {"extra": {**PG_LOSS, "actor/expert/sft_loss": np.ones(25)}}])
def test_the_same_fall_with_expert_data_or_unknown_is_a_disruption(how):
    run = _run(_collapse(25), **how)
    assert policy_gradient_only(run) is None
    result = analyze(run, metric="eval/score", direction="max")
    assert [p.name for p in result.phases] == ["disruption", "plateau"]


def test_a_recovered_fall_stays_a_disruption_in_a_policy_gradient_run():
    rng = np.random.default_rng(1)
    values = np.r_[0.6, 0.3, 0.2, 0.2, np.linspace(0.25, 0.8, 16), np.full(5, 0.8)]
    run = _run(values + rng.normal(0, 0.01, values.size), algorithm="grpo")
    names = [p.name for p in analyze(run, metric="eval/score", direction="max").phases]
    assert names[:2] == ["disruption", "readaptation"]


def test_a_short_collapse_of_a_policy_gradient_run_is_an_overfit():
    values = [0.6, 0.2, 0.21, 0.19, 0.2]
    assert [p.name for p in analyze(_run(values), metric="eval/score",
                                    direction="max").phases] == ["disruption", "plateau"]
    assert [p.name for p in analyze(_run(values, algorithm="ppo"), metric="eval/score",
                                    direction="max").phases] == ["overfit", "plateau"]


def test_an_overfit_before_the_renamed_fall_is_joined_to_it():
    phases = [Phase("plateau", 0, 10), Phase("overfit", 10, 20), Phase("disruption", 20, 30),
              Phase("plateau", 30, 40)]
    renamed, note = overfit_if_unrecovered(phases, "score", "its algorithm, grpo")
    assert [(p.name, p.start_step, p.end_step) for p in renamed] == [
        ("plateau", 0, 10), ("overfit", 10, 30), ("plateau", 30, 40)]
    assert note == ("score: the fall from step 20 is never recovered, and the run is trained by "
                    "a policy gradient alone (its algorithm, grpo), with no expert data it could "
                    "still learn: an overfit from its best point, not a disruption")
    recovered = [Phase("disruption", 0, 10), Phase("plateau", 10, 20),
                 Phase("readaptation", 20, 30)]
    assert overfit_if_unrecovered(recovered, "score", "its algorithm, grpo") == (recovered, None)


def test_a_collapse_read_early_in_its_plan_stays_a_disruption_so_far():
    """Read within the first 40% of its planned run, the fall may still be recovered: named as
    the live monitor names it; past that part of the plan, an overfit."""
    early = analyze(_run(_collapse(25), algorithm="grpo"), metric="eval/score", direction="max",
                    planned_steps=1000)
    assert [p.name for p in early.phases] == ["disruption", "plateau"]
    assert not any("policy gradient alone" in w for w in early.warnings)
    late = analyze(_run(_collapse(25), algorithm="grpo"), metric="eval/score", direction="max",
                   planned_steps=400)
    assert [p.name for p in late.phases] == ["overfit", "plateau"]


def _jsonl(tmp_path, with_policy_loss):
    rows = [{"step": 10 * i, "eval/score": float(v),
             **({"actor/pg_loss": 0.01 * i} if with_policy_loss else {})}
            for i, v in enumerate(_collapse(25))]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize("with_policy_loss", [True, False])
def test_watch_says_overfit_where_analyze_does_past_the_early_part_of_the_plan(
        tmp_path, with_policy_loss):
    """Live, the disruption from the start of a run with no expert data becomes an overfit,
    the start its best, once the planned run's early part (40%) is over without a recovery:
    what analyze of the log read there says."""
    path = _jsonl(tmp_path, with_policy_loss)
    alerts = list(watch(path, metric="eval/score", direction="max", planned_steps=400))
    events = [(a.event, a.best_step) for a in alerts]
    if with_policy_loss:
        overfit = next(a for a in alerts if a.event == "overfit")
        assert overfit.step >= 0.4 * 400 and overfit.best_step == 0
        assert events[0][0] == "disruption"
    else:
        assert "overfit" not in [event for event, _ in events]
    analysed = analyze(str(path), metric="eval/score", direction="max", planned_steps=400)
    assert analysed.phases[0].name == ("overfit" if with_policy_loss else "disruption")


def test_expert_data_option_overrides_what_the_log_shows(tmp_path, capsys):
    """--expert-data yes / no (analyze, plot, watch; `expert_data` in the API) says what the log
    cannot: a policy-gradient run told it has expert data keeps its disruption, and a run with
    nothing to show for it told it has none names its unrecovered fall an overfit."""
    from phasewatch.cli import main

    told = analyze(_run(_collapse(25), algorithm="grpo"), metric="eval/score", direction="max",
                   expert_data=True)
    assert [p.name for p in told.phases] == ["disruption", "plateau"]
    untold = analyze(_run(_collapse(25)), metric="eval/score", direction="max", expert_data=False)
    assert [p.name for p in untold.phases] == ["overfit", "plateau"]
    assert any("(--expert-data no)" in w for w in untold.warnings)

    path = _jsonl(tmp_path, with_policy_loss=True)
    for flag, first in (("auto", "overfit"), ("yes", "disruption")):
        assert main(["analyze", str(path), "--metric", "eval/score", "--expert-data", flag,
                     "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["runs"][0]["phases"][0]["name"] == first
        assert main(["watch", str(path), "--metric", "eval/score", "--planned-steps", "400",
                     "--expert-data", flag, "--format", "jsonl"]) in (0, 1)
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        events = [line.get("event") for line in lines[:-1]]
        assert ("overfit" in events) == (first == "overfit")
        assert lines[-1]["phases"][0] == first  # the whole run's, as analyze with the option


def test_monitoring_docs_quote_the_live_overfit_as_watch_prints_it(tmp_path, capsys):
    """docs/monitoring.md quotes the alert of a verifier's held-out accuracy that collapses as
    its RL starts (0.9917, then 0.6 to the end, a train reward beside it, 500 steps planned):
    the quote is what `watch` prints."""
    from pathlib import Path

    from phasewatch.cli import main

    rows = [{"step": 25 * i, "accuracy": v, "mean_reward": 0.1 * (i % 3)}
            for i, v in enumerate([0.9916666666666667, 0.6083333333333333] + [0.6] * 19)]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    main(["watch", str(path), "--metric", "accuracy", "--planned-steps", "500"])
    printed = next(line for line in capsys.readouterr().out.splitlines()
                   if line.split()[3:4] == ["overfit"])  # the event, not the disruption's hint
    docs = Path(__file__).resolve().parents[1] / "docs" / "monitoring.md"
    quoted = " ".join(docs.read_text().split())
    assert " ".join(printed.split()) in quoted


def test_detection_docs_quote_the_warning_as_analyze_prints_it(tmp_path):
    """docs/detection.md quotes the warning said beside an unrecovered fall of a run that logs
    a policy-gradient loss: the quote is `analyze`'s."""
    from pathlib import Path

    result = analyze(str(_jsonl(tmp_path, with_policy_loss=True)), metric="eval/score",
                     direction="max")
    warning = next(w for w in result.warnings if "policy gradient alone" in w)
    said = warning.split(": ", 1)[1]  # after the metric's name
    docs = Path(__file__).resolve().parents[1] / "docs" / "detection.md"
    assert " ".join(said.split()) in " ".join(docs.read_text().split())
