"""Issue 12: every number `analyze` prints agrees with the data it summarises
(benchmarks/audit_numbers.py checks it on every real series at hand; these tests keep the
fixes it led to, and run it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run
from phasewatch.phase_stats import phase_stats
from phasewatch.results import Phase

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import audit_numbers

FAST_RUNS = ("demo", "sft", "rl")


def test_a_rise_best_is_not_one_lucky_last_reading():
    """A dense rise that ends on a lucky reading (1.1) beside a poor one (0.9): its end is
    printed as their mean (1.0), below the 1.05 the 3-point median holds at step 40, so the
    best is 1.05 at step 40 (before: the last reading, 'best at step 49', where the recommended
    checkpoint was step 40; tb-t5-summarization's train loss: 215000 against 174000)."""
    steps = np.arange(50)
    y = np.concatenate([np.linspace(0.0, 1.0, 31), np.full(17, 1.0), [0.9, 1.1]])
    y[39:42] = [1.0, 1.05, 1.05]
    end = (y[-2] + y[-1]) / 2  # boundary_levels' end of a run of more than 40 evaluations
    stats = phase_stats(Phase("improvement", 0, 49), y[0], end, steps, y, 1.0, 0.01, y[0])
    assert stats["peak_step"] in (40, 41)
    assert stats["gain_over_baseline"] == pytest.approx(1.05)
    assert stats["gain_over_baseline"] >= stats["end_value"] - y[0]


def test_a_rise_ending_on_its_best_level_names_the_higher_of_the_last_two():
    """When the end as printed (the mean of the last two) is the best level, the best is the
    higher of those two evaluations, which holds that level (never below the end printed)."""
    steps = np.arange(50)
    y = np.concatenate([np.linspace(0.0, 1.0, 48), [1.3, 1.2]])
    stats = phase_stats(Phase("improvement", 0, 49), y[0], 1.25, steps, y, 1.0, 0.01, y[0])
    assert stats["peak_step"] == 48
    assert stats["gain_over_baseline"] == pytest.approx(1.3)


def test_a_short_overfit_from_the_start_declines_from_its_best(tmp_path):
    """wandb-cause-span-5ev's eval loss: 0.151, 0.148, 0.202, 0.211, 0.249 as train loss falls,
    an overfit from the first evaluation. Its best is the 0.148 at the second, the checkpoint
    kept: the decline is 0.1004 from there (before: 0.0975 'from its best (step 3125)', the
    first evaluation, beside 'recommended stop: step 6250')."""
    path = tmp_path / "metrics.jsonl"
    values = [0.151, 0.148, 0.202, 0.211, 0.249]
    train = [0.157, 0.12, 0.10, 0.09, 0.077]
    path.write_text("".join(json.dumps({"step": 3125 * (i + 1), "eval/loss": v, "train/loss": t})
                            + "\n" for i, (v, t) in enumerate(zip(values, train))))
    analysis = analyze_run(read_run(str(path)), metric="eval/loss")
    [overfit] = analysis.phases
    assert overfit.name == "overfit"
    assert overfit.stats["peak_step"] == 6250
    assert overfit.stats["decline_since_peak"] == pytest.approx(0.249 - 0.148)
    assert analysis.recommended_stop_step == 6250


def audit_sample(name: str) -> list:
    path = ROOT / "sample_logs" / name
    return audit_numbers.audit(("sample_logs", name, str(path), None))


@pytest.mark.parametrize("name", FAST_RUNS)
def test_sample_runs_print_only_what_their_data_say(name):
    assert audit_sample(name) == []


def test_the_audit_catches_a_wrong_number(monkeypatch):
    """The audit can fail: a depth 0.01 off the data, and an effect's word in the wrong
    direction, are each reported."""
    import phasewatch.commands.phase_line as command
    from phasewatch import analysis

    real_stats, real_side = analysis.phase_stats, command._side

    def off_depth(*args, **kwargs):
        stats = real_stats(*args, **kwargs)
        if "depth" in stats:
            stats["depth"] += 0.01
        return stats

    monkeypatch.setattr(analysis, "phase_stats", off_depth)
    assert any(row[0].startswith("depth") for row in audit_sample("demo"))
    monkeypatch.setattr(analysis, "phase_stats", real_stats)
    monkeypatch.setattr(command, "_side", lambda size, word, opposite: real_side(size, opposite, word))
    assert any("its word" in row[0] for row in audit_sample("demo"))


@pytest.mark.slow
def test_every_sample_and_shared_real_log_prints_only_what_its_data_say():
    """sample_logs/ and ../shared/real_logs (when present): zero violations."""
    entries = [e for e in audit_numbers.series_list([]) if e[0] in ("sample_logs", "real_logs")]
    assert any(e[0] == "sample_logs" for e in entries)
    violations = [(e[1], row) for e in entries for row in audit_numbers.audit(e)]
    assert violations == []


def test_a_phase_line_prints_its_values_with_the_digits_its_change_needs():
    """csv-sb3-trnsys-dqn-evalreward-40: a reward of -3.16893e8 plus a few hundred printed
    "-3.169e+08 -> -3.169e+08 change +297.7", two equal values beside their difference."""
    from phasewatch.commands.phase_line import phase_line

    start, end = -316893428.125, -316893130.375
    stats = {"start_value": start, "end_value": end, "change": end - start, "change_sd": 0.0,
             "level": -316893397.0}
    words = phase_line(Phase("plateau", 5000, 200000, stats)).split()
    shown = [float(w) for w in (words[4], words[6])]
    assert shown[1] - shown[0] == pytest.approx(end - start, abs=1.0)
    assert float(words[words.index("level") + 1]) == pytest.approx(-316893397.0, abs=1.0)
    # inspect's first, last and best of the same reward, "-3.169e+08" three times before
    from phasewatch.commands.inspect import performance_line

    line = performance_line({"metric": "eval/mean_reward", "direction": "max", "count": 40,
                             "first": -316893673.9, "last": -316893129.1,
                             "best": -316892848.3, "first_step": 5000, "last_step": 200000,
                             "best_step": 180000})
    assert "first -316893674, last -316893129, best -316892848 at step 180000" in line
    # a change as large as its values keeps the usual four digits
    stats = {"start_value": 0.5463, "end_value": 0.02217, "change": 0.02217 - 0.5463}
    assert "0.5463 -> 0.02217" in phase_line(Phase("disruption", 0, 70, stats))


def test_the_audit_catches_a_phase_whose_change_goes_against_its_name():
    """An overfit of a loss whose value fell (json-grokking-mod113-orthograd-401's val loss
    before 3c76ec9: "overfit 800 -> 32400 ... change -0.01612 ... 0.01612 below its best")."""
    run = {"direction": "min", "phases": [
        {"name": "improvement", "start_step": 0, "change": -4.524},
        {"name": "overfit", "start_step": 800, "change": -0.01612},
        {"name": "plateau", "start_step": 32400, "change": 0.2}]}
    found = list(audit_numbers.check_phase_signs(run))
    assert [f[0] for f in found] == ["phase name vs its change's sign (overfit@800)"]
    run["phases"][1]["change"] = 0.123
    assert not list(audit_numbers.check_phase_signs(run))
