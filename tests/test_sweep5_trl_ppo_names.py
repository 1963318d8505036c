"""TRL's PPO / RLOO / Online DPO trainers (>= 0.11) log `objective/rlhf_reward`,
`objective/scores`, `objective/kl`, `objective/entropy`, `loss/policy_avg`, TRL's older
PPOTrainer `env/reward_mean`: none had a role, so a PPO run's log_history was refused with "no
performance metric found" (fifth new-user sweep: a TRL PPO trajectory, 1 file). Home-made RL
loops' `reward_mean` (2 repositories of the fourth and fifth sweeps) had none either, so such a
run was analysed on its policy loss beside its reward (5 files). The train reward is the reward
model's `objective/scores`, before the KL-penalised `objective/rlhf_reward` (trial 39)."""

from __future__ import annotations

import json
import math

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run


def _reward(step: int) -> float:
    return -0.6 + 0.5 * (1 - math.exp(-step / 20)) + 0.01 * math.sin(step)


def _ppo_row(step: int) -> dict:
    """One PPOTrainer log row, as in its trainer_state.json `log_history`."""
    reward = _reward(step)
    return {"eps": 3, "objective/kl": 10 - step / 20, "objective/entropy": 24 + step / 10,
            "objective/non_score_reward": -0.5, "objective/rlhf_reward": reward,
            "objective/scores": reward + 0.5, "policy/approxkl_avg": 0.2, "loss/policy_avg": 0.03,
            "loss/value_avg": 9.8 - step / 20, "val/clipfrac_avg": 0.0, "val/ratio": 0.95,
            "lr": 5e-6, "episode": 4 * step, "epoch": step / 100, "step": step}


def test_trl_ppo_log_history_is_judged_on_its_scores(tmp_path, capsys):
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"global_step": 100, "max_steps": 100,
                                 "log_history": [_ppo_row(s) for s in range(1, 101)]}))
    run = read_run(state)
    assert run.resolve_metric("train/reward") == "objective/scores"
    assert run.resolve_metric("train/loss") == "loss/policy_avg"
    assert run.resolve_metric("train/kl") == "objective/kl"
    assert run.resolve_metric("train/entropy") == "objective/entropy"
    assert main(["analyze", "--format", "json", str(state)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "objective/scores" and result["direction"] == "max"
    assert main(["watch", "--format", "jsonl", str(state)]) == 0
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert summary["metric"] == "objective/scores"


@pytest.mark.parametrize("reward_name", ["reward_mean", "env/reward_mean"])
def test_a_mean_reward_is_taken_before_the_policy_loss(tmp_path, capsys, reward_name):
    log = tmp_path / "train.jsonl"
    log.write_text("".join(json.dumps({"step": s, "policy_loss": 0.1 - s / 1000, "kl_mean": s / 100,
                                       reward_name: _reward(s), "reward_std": 0.1}) + "\n"
                           for s in range(1, 61)))
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == reward_name and result["direction"] == "max"
