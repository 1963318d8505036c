"""The train metric beside a held-out metric (`phasewatch.train_beside`): an overfit over whose
steps the train loss got worse too is a divergence of training and is said so (analyze, its
JSON, the comparison table, watch's summary); the train metric is judged by its level at the
phase's ends against its noise, never by two readings; a policy-gradient loss is said to be no
performance measure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch import analyze
from phasewatch.cli import main
from phasewatch.commands.analyze_tables import print_comparison

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "real_corpus" / "data"


def write_log(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "metrics.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)
    return folder


def overfit_log(folder: Path, train_after: float, seed: int = 0) -> Path:
    """An eval loss that falls 2.0 -> 1.0 to step 1000, then rises to 1.8 at step 2000
    (evaluated every 50 steps); a train loss every 10 steps that falls 3.0 -> 1.0 to step 1000,
    then goes linearly to `train_after` (0.5: keeps falling, the textbook overfit; 3.0: rises
    back, hf-siasio-8ev's divergence)."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(0, 2001, 10):
        t = step / 1000
        train = 3.0 - 2.0 * t if t <= 1 else 1.0 + (train_after - 1.0) * (t - 1)
        row = {"step": step, "train/loss": round(train + rng.normal(0, 0.05), 5)}
        if step % 50 == 0:
            held = 2.0 - t if t <= 1 else 1.0 + 0.8 * (t - 1)
            row["eval/loss"] = round(held + rng.normal(0, 0.02), 5)
        rows.append(row)
    return write_log(folder, rows)


def overfit_phase(a):
    return next(p for p in a.phases if p.name == "overfit")


def test_a_held_out_overfit_while_the_train_loss_rises_is_said_to_be_a_divergence(tmp_path):
    """hf-siasio-8ev: eval loss 680 -> 2799 from step 1250 while its train loss rose from 2114
    to 8629: "overfit" without a word of the train loss beside it."""
    a = analyze(overfit_log(tmp_path / "diverged", train_after=3.0))
    overfit = overfit_phase(a)
    worse = overfit.stats["train_worse"]
    assert worse["metric"] == "train/loss" and worse["role"] == "train/loss"
    assert worse["end"] - worse["start"] > 1.0 and worse["change_se"] > 3
    said = [w for w in a.warnings if "is no overfit to the training data" in w]
    assert len(said) == 1
    assert (f"eval/loss: the overfit from step {overfit.start_step} to step {overfit.end_step} "
            "is no overfit to the training data: the train loss (train/loss) rose "
            f"{worse['start']:.4g} -> {worse['end']:.4g} over the same steps (the means of its "
            f"first and last {worse['readings']} readings there") in said[0]
    assert json.loads(json.dumps(a.to_dict()))["phases"][-1]["train_worse"] == worse


def test_the_textbook_overfit_says_nothing_of_the_train_loss(tmp_path):
    """Held-out worse while train keeps improving: an overfit, with nothing to add."""
    a = analyze(overfit_log(tmp_path / "textbook", train_after=0.5))
    assert "train_worse" not in overfit_phase(a).stats
    assert not any("over the same steps" in w for w in a.warnings)


def test_the_comparison_table_marks_the_overfit_whose_train_got_worse(tmp_path, capsys):
    runs = [analyze(overfit_log(tmp_path / name, train_after=after))
            for name, after in (("diverged", 3.0), ("textbook", 0.5))]
    print_comparison(runs)
    lines = capsys.readouterr().out.splitlines()
    assert "overfit@" in lines[1] and lines[1].endswith("(train worse too)")
    assert "overfit@" in lines[2] and "train worse" not in lines[2]


def test_watch_summary_carries_the_note(tmp_path, capsys):
    folder = overfit_log(tmp_path / "diverged", train_after=3.0)
    assert main(["watch", str(folder / "metrics.jsonl"), "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.splitlines()[-1])
    assert [w["phase"] for w in summary["train_worse"]] == ["overfit"]
    assert summary["train_worse"][0]["start_step"] == overfit_phase(analyze(folder)).start_step
    assert "is no overfit to the training data" in summary["message"]
    assert "is no overfit to the training data" in err


def test_a_train_loss_within_its_noise_is_not_said_to_have_moved(tmp_path):
    """hfconsole-dyndpo-helpful-4ev: "train/loss rose 0.6842 -> 0.6869 over the same steps"
    compared the single readings at epochs 0.22 and 0.89 (noise ~0.005 per reading) where the
    means of the halves fell 0.6806 -> 0.6791."""
    rng = np.random.default_rng(3)
    rows = []
    for step in range(100, 401, 10):
        train = 0.681 - 0.00001 * (step - 100) + rng.normal(0, 0.005)
        train = {100: 0.6842, 400: 0.6869}.get(step, train)  # a low first, a high last reading
        row = {"step": step, "train/loss": round(train, 5)}
        if step % 100 == 0:
            row["eval/loss"] = {100: 0.677, 200: 0.6745, 300: 0.6751, 400: 0.673}[step]
        rows.append(row)
    a = analyze(write_log(tmp_path / "flat", rows))
    assert not any("over the same steps" in w for w in a.warnings)


def test_a_train_loss_that_fell_beyond_its_noise_is_said_by_its_end_levels(tmp_path):
    """The same held-out loss beside a train loss that falls 0.70 -> 0.64: said, between the
    means of its first and last readings, not its two single readings."""
    rng = np.random.default_rng(3)
    rows = []
    for step in range(100, 401, 10):
        row = {"step": step, "train/loss": round(0.70 - 0.0002 * (step - 100)
                                                 + rng.normal(0, 0.005), 5)}
        if step % 100 == 0:
            row["eval/loss"] = {100: 0.677, 200: 0.6745, 300: 0.6751, 400: 0.673}[step]
        rows.append(row)
    a = analyze(write_log(tmp_path / "falling", rows))
    said = [w for w in a.warnings if "over the same steps" in w]
    assert len(said) == 1 and said[0].startswith("the train loss (train/loss) fell ")
    assert "the means of its first and last 7 readings there" in said[0]


@pytest.mark.parametrize("name", ["loss_pg", "actor/pg_loss", "policy_loss"])
def test_a_policy_gradient_loss_is_said_to_measure_no_performance(tmp_path, name):
    """grpo-drgrpo-aser-reward --metric loss_pg: "overfit 0 -> 199", "recommended stop: step 0"
    and no word that a policy-gradient loss is no performance measure."""
    rng = np.random.default_rng(1)
    rows = [{"step": s, name: round(float(rng.normal(0.01 + 0.0002 * s, 0.01)), 5),
             "mean_reward": round(float(rng.random()), 3)} for s in range(200)]
    a = analyze(write_log(tmp_path / "pg", rows), metric=name)
    said = [w for w in a.warnings if "is a policy-gradient loss" in w]
    assert len(said) == 1 and said[0].startswith(f"{name} is a policy-gradient loss")
    assert "analyse the reward (mean_reward)" in said[0]
    assert not any("instability of training" in w for w in a.warnings)


def test_an_rl_run_judges_its_reward_beside_a_held_out_overfit_not_its_policy_loss(tmp_path):
    """TRL GRPO's `loss` (beside `reward_std`: `algorithm_names`) is a policy-gradient loss: its
    rise says nothing of training getting worse; the train reward beside it does."""
    rng = np.random.default_rng(2)
    rows = []
    for step in range(0, 2001, 10):
        t = step / 1000
        row = {"step": step, "loss": round(0.01 * step / 200 + rng.normal(0, 0.002), 5),
               "reward": round(0.2 + 0.3 * t + rng.normal(0, 0.02), 4),
               "reward_std": 0.1}
        if step % 50 == 0:
            held = 0.3 + 0.3 * t if t <= 1 else 0.6 - 0.25 * (t - 1)
            row["eval_accuracy"] = round(held + rng.normal(0, 0.01), 4)
        rows.append(row)
    a = analyze(write_log(tmp_path / "grpo", rows))
    assert a.metric == "eval_accuracy" and "train_worse" not in overfit_phase(a).stats
    assert any("loss is a policy-gradient loss" in w
               for w in analyze(write_log(tmp_path / "grpo", rows), metric="loss").warnings)


@pytest.mark.skipif(not (CORPUS / "hf-siasio-8ev").exists(), reason="real corpus not present")
@pytest.mark.parametrize("metric", [None, "eval_wer"])
def test_hf_siasio_divergence(metric):
    a = analyze(CORPUS / "hf-siasio-8ev", metric=metric)
    worse = overfit_phase(a).stats["train_worse"]
    assert worse["metric"] == "loss" and worse["start"] < 3000 and worse["end"] > 8000


def test_a_train_loss_at_its_floor_that_moves_by_nothing_is_no_divergence(tmp_path):
    """json-grokking-mod113-wd0-401: a held-out loss rising from its first evaluation beside a
    train loss that fell 4.75 -> 1e-6 at once and then "rose 1.218e-06 -> 1.737e-06 ... 22.9 se
    apart, so training itself got worse, a divergence of training": many se of its own tiny
    scatter, nothing at the scale it moved over the run."""
    rng = np.random.default_rng(4)
    rows = []
    for step in range(0, 4001, 10):
        floor = 1e-6 * (1 + step / 4000) * (1 + rng.normal(0, 0.01))
        train = 4.75 * (1 - step / 200) + floor if step < 200 else floor
        row = {"step": step, "train/loss": train}
        if step % 50 == 0:
            held = 4.76 - 3.76 * step / 500 if step <= 500 else 1.0 + (step - 500) / 70
            row["eval/loss"] = round(held + rng.normal(0, 0.05), 4)
        rows.append(row)
    a = analyze(write_log(tmp_path / "floor", rows))
    overfit = overfit_phase(a)
    assert 400 <= overfit.start_step <= 600
    assert "train_worse" not in overfit.stats
    assert not any("divergence of training" in w for w in a.warnings)


@pytest.mark.parametrize("name, word", [
    ("rollout/outcome_reward_mean", "readings"),   # the policy's own rollouts: training
    ("training/score_mean", "readings"),
    ("rollout/val_outcome_reward", "evaluations"),  # a held-out split named in it
    ("judge/outcome_reward_mean", "evaluations"),   # placed nowhere: an evaluation as before
    # a name without `/`: its first word (a W&B run's `train_loss_local` read "medians of 1087
    # evaluations each"; `train_acc` beside `val_acc`, as most PyTorch scripts print them)
    ("train_loss_local", "readings"),
    ("train_acc", "readings"),
    ("train_val_acc", "evaluations"),
    ("trainer_score", "evaluations"),               # another word than a train prefix
])
def test_a_series_named_under_rollout_counts_readings(tmp_path, capsys, name, word):
    """hfconsole-prorag-rl-reward-101: an RL trainer's `rollout/outcome_reward_mean` (no role)
    read "(ends: medians of 33 evaluations each)", as if the log held a held-out set; a name
    whose first part places it on training (`train_beside.TRAIN_PREFIXES`) counts readings,
    unless a word of it names a held-out split."""
    rng = np.random.default_rng(3)
    rows = [{"step": i, name: float(1.5 + rng.normal(0, 0.5))} for i in range(100)]
    log = write_log(tmp_path / "run", rows)
    assert main(["analyze", str(log), "--metric", name]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "each)" in line)
    other = "evaluations" if word == "readings" else "readings"
    assert f"of 33 {word} each" in line and other not in line, line
