"""The metrics of TRL's online RL trainers (trial 39: RLOO, Online DPO, KTO after SFT): a KL and a
gradient norm are lower-is-better as a run's health, an entropy has no better direction; the
train reward is the reward model's `objective/scores` before the KL-penalised
`objective/rlhf_reward`; a trainer_state.json read from an output folder has the arguments its
TensorBoard log holds (beta, learning_rate), so a sweep can compare them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.presets import default_direction


@pytest.mark.parametrize("name", ["objective/kl", "kl", "eval_kl", "train/objective/kl",
                                  "actor/kl_loss", "policy/approxkl_avg", "train/approx_kl",
                                  "grad_norm", "actor/grad_norm", "train/gradnorm"])
def test_a_kl_and_a_gradient_norm_are_lower_is_better(name):
    assert default_direction(name) == "min"


@pytest.mark.parametrize("name", ["kl_coef", "klass_accuracy", "objective/non_score_reward"])
def test_a_kl_coefficient_and_words_holding_kl_are_not(name):
    assert default_direction(name) == "max"


def _json_run(analyze_out: str) -> dict:
    return json.loads(analyze_out)["runs"][0]


def _online_dpo_log(tmp_path: Path, *, hacked: bool) -> Path:
    """An Online DPO log_history: the scores rise 0.87 -> 0.99 while the KL grows 0.02 -> 2, so
    the rlhf_reward (scores - 0.1 KL) falls 0.87 -> 0.79 (trial 39's odpo_sim, whose held-out
    task went 0.29 -> 0.99); `hacked`: the KL blows up to 14 at steps 90-110."""
    rng = np.random.default_rng(3)
    rows = []
    for step in range(5, 205, 5):
        scores = 0.87 + 0.12 * (1 - np.exp(-step / 50)) + rng.normal(0, 0.005)
        kl = 0.02 + 2.0 * step / 200 + rng.normal(0, 0.02)
        if hacked:
            kl = 0.05 + (14.0 if step >= 110 else 0.6 * max(0, step - 85)) + rng.normal(0, 0.05)
        rows.append({"step": step, "objective/scores": scores, "objective/kl": kl,
                     "objective/rlhf_reward": scores - 0.1 * kl,
                     "objective/non_score_reward": -0.1 * kl,
                     "objective/entropy": 2.3 - step / 100 + rng.normal(0, 0.02),
                     "rewards/chosen": 0.01 * step, "rewards/rejected": 0.005 * step,
                     "val/contain_eos_token": 1.0, "beta": 0.1, "loss": 0.69})
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 200, "max_steps": 200, "log_history": rows}))
    return path


def test_an_online_dpo_run_is_judged_on_its_scores_and_says_the_kl_penalty_outgrew_them(
        tmp_path, capsys):
    """Trial 39, noem/odpo_sim: "objective/rlhf_reward (max) overfit 5 -> 200, stop 15"."""
    log = _online_dpo_log(tmp_path, hacked=False)
    assert main(["analyze", str(log), "--format", "json"]) == 0
    result = _json_run(capsys.readouterr().out)
    assert result["metric"] == "objective/scores" and result["direction"] == "max"
    assert "overfit" not in [p["name"] for p in result["phases"]]
    assert result["recommended_stop_step"] >= 100
    said = " ".join(result["warnings"])
    assert "objective/scores rose" in said and "objective/rlhf_reward" in said
    assert "KL penalty outgrew the gain" in said
    assert read_run(log).algorithm == "online_dpo"


def test_the_score_taken_says_why_where_both_rise(tmp_path, capsys):
    log = _online_dpo_log(tmp_path, hacked=False)
    rows = json.loads(log.read_text())
    for row in rows["log_history"]:  # a KL too small to outgrow the gain
        row["objective/rlhf_reward"] = row["objective/scores"] - 0.001 * row["objective/kl"]
    log.write_text(json.dumps(rows))
    assert main(["analyze", str(log), "--format", "json"]) == 0
    said = " ".join(_json_run(capsys.readouterr().out)["warnings"])
    assert "taking objective/scores" in said and "outgrew" not in said


def test_the_rlhf_reward_analysed_by_name_says_the_same(tmp_path, capsys):
    log = _online_dpo_log(tmp_path, hacked=False)
    assert main(["analyze", str(log), "--metric", "objective/rlhf_reward", "--format", "json"]) == 0
    said = " ".join(_json_run(capsys.readouterr().out)["warnings"])
    assert "KL penalty outgrew the gain" in said


def test_a_kl_blow_up_is_no_improvement(tmp_path, capsys):
    """Trial 39: `analyze odpo_lenbias --metric objective/kl` printed `objective/kl (max) ...
    improvement 90 -> 110 1.951 -> 13.48` and its stop at the KL's peak, without a word."""
    log = _online_dpo_log(tmp_path, hacked=True)
    assert main(["analyze", str(log), "--metric", "objective/kl", "--format", "json"]) == 0
    result = _json_run(capsys.readouterr().out)
    assert result["direction"] == "min"
    assert "improvement" not in [p["name"] for p in result["phases"]]
    assert result["recommended_stop_step"] < 90
    assert any("lower is taken to be better, as a run's health" in w for w in result["warnings"])


def test_an_entropy_says_it_has_no_better_direction(tmp_path, capsys):
    """Trial 39: an entropy collapse 0.34 -> 0.07 was an "overfit", a spike an "improvement",
    with no word that either direction is a guess."""
    log = _online_dpo_log(tmp_path, hacked=False)
    assert main(["analyze", str(log), "--metric", "objective/entropy", "--format", "json"]) == 0
    warnings = _json_run(capsys.readouterr().out)["warnings"]
    assert any("an entropy has no better direction" in w for w in warnings), warnings


def test_a_cross_entropy_is_a_loss():
    assert default_direction("train/CrossEntropyLoss") == "min"


def test_a_trainer_state_has_the_arguments_of_the_tensorboard_log_beside_it(tmp_path, capsys):
    """Trial 39: a sweep of TRL output folders (read from checkpoint-N/trainer_state.json) had
    no beta and no learning_rate column, and named its RLOO runs grpo."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    arms = {"rloo_b0": 0.0, "rloo_b1": 1.0}
    for name, beta in arms.items():
        out = tmp_path / name
        writer = torch_tb.SummaryWriter(log_dir=str(out / "runs" / "Dec05_03-00-51_vm"))
        writer.add_text("args", json.dumps({"learning_rate": 3e-4, "beta": beta, "max_steps": -1,
                                            "num_generations": 8,
                                            "normalize_advantages": False}))
        writer.add_scalar("train/reward", 1.0, 5)
        writer.close()
        rows = [{"step": s, "reward": 1 + 0.01 * s, "reward_std": 0.1, "kl": 0.01 * s,
                 "entropy": 0.3, "loss": 0.0} for s in range(5, 105, 5)]
        state = out / "checkpoint-100" / "trainer_state.json"
        state.parent.mkdir(parents=True)
        state.write_text(json.dumps({"global_step": 100, "max_steps": 100, "save_steps": 50,
                                     "log_history": rows}))
    run = read_run(tmp_path / "rloo_b1")
    assert run.format == "trainer_state" and run.algorithm == "rloo"
    assert run.config["beta"] == 1.0 and run.config["max_steps"] == 100  # the state's wins
    table = tmp_path / "sweep.csv"
    assert main(["sweep", str(tmp_path / "rloo_b0"), str(tmp_path / "rloo_b1"),
                 "-o", str(table)]) == 0
    import pandas as pd

    frame = pd.read_csv(table).sort_values("name")
    assert frame["algorithm"].tolist() == ["rloo", "rloo"]
    assert frame["hp.beta"].tolist() == [0.0, 1.0]
    assert frame["hp.learning_rate"].tolist() == [3e-4, 3e-4]
