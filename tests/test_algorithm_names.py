"""A run's algorithm from its trainer's config keys and metric names, where its log does not name it."""

import json
from pathlib import Path

import pytest

from phasewatch import read_run
from phasewatch.algorithm_names import infer_algorithm

REAL = Path(__file__).resolve().parents[2] / "shared" / "real_logs"


@pytest.mark.parametrize("config, expected", [
    ({"algorithm": {"adv_estimator": "grpo", "kl_ctrl": {"kl_coef": 0.001}}}, "grpo"),  # verl, nested
    ({"algorithm.adv_estimator": "gae"}, "ppo"),  # verl, flat: GAE is PPO with a critic
    ({"algorithm": {"algorithm_type": "mix_chord"}}, "mix_chord"),  # Trinity-RFT
    ({"stage": "dpo", "finetuning_type": "lora"}, "dpo"),  # LLaMA-Factory
    ({"algorithm": "SFT"}, "sft"),
])
def test_a_config_that_names_the_algorithm_wins(config, expected):
    assert infer_algorithm(["loss", "reward_std"], config) == expected


@pytest.mark.parametrize("config, expected", [
    ({"num_generations": 8, "normalize_advantages": False, "beta": 0.05}, "rloo"),  # TRL 1.x
    ({"rloo_k": 4, "kl_coef": 0.05}, "rloo"),  # TRL 0.x RLOOConfig
    ({"desirable_weight": 1.0, "undesirable_weight": 1.0, "beta": 0.1}, "kto"),
    ({"num_generations": 8, "scale_rewards": "group", "beta": 0.0}, "grpo"),  # GRPOConfig
])
def test_trl_config_keys_name_the_trainer(config, expected):
    """TRL 1.x's RLOOTrainer logs GRPO's metric names (`reward_std`): its config tells it apart
    (trial 39: three RLOO runs were named grpo in a sweep)."""
    names = ["reward", "reward_std", "kl", "entropy"]
    if expected == "kto":
        names = ["rewards/chosen", "rewards/rejected", "kl"]
    assert infer_algorithm(names, config) == expected


def test_config_values_that_are_not_names_are_ignored():
    """DeepSpeed's ZeRO `stage: 2`, an empty string: the metric names decide."""
    assert infer_algorithm(["train/reward_std"], {"stage": 2, "algorithm": ""}) == "grpo"


@pytest.mark.parametrize("names, expected", [
    (["rewards/chosen", "rewards/rejected", "rewards/margins", "loss"], "dpo"),  # TRL DPO
    (["eval_rewards/chosen", "eval_rewards/rejected"], "dpo"),
    # trial 39: TRL's OnlineDPOTrainer and KTOTrainer log DPO's rewards/chosen and /rejected
    (["rewards/chosen", "rewards/rejected", "objective/scores", "objective/kl", "beta"],
     "online_dpo"),
    (["train/rewards/chosen", "train/rewards/rejected", "train/val/contain_eos_token"],
     "online_dpo"),
    (["rewards/chosen", "rewards/rejected", "rewards/margins", "kl", "logps/chosen"], "kto"),
    (["eval_rewards/chosen", "eval_rewards/rejected", "eval_kl"], "kto"),
    # TRL 0.x RLOOTrainer: PPO's names without its value loss
    (["objective/rlhf_reward", "objective/scores", "loss/policy_avg", "val/ratio"], "rloo"),
    (["objective/rlhf_reward", "loss/policy_avg", "loss/value_avg"], "ppo"),
    (["reward", "reward_std", "kl", "completions/mean_length"], "grpo"),  # TRL GRPO
    (["train/reward", "train/reward_std"], "grpo"),  # through HF's W&B / TensorBoard callbacks
    (["actor/pg_loss", "critic/vf_loss", "critic/score/mean"], "ppo"),  # verl with a critic
    (["policy_loss", "critic_loss", "reward"], "ppo"),  # OpenRLHF PPO
    (["loss", "mean_token_accuracy", "eval_loss"], "sft"),  # TRL SFT
    (["gpt_loss", "eval gpt_loss"], "sft"),  # OpenRLHF SFT
    (["actor/mu", "actor/expert/sft_loss", "actor/usual/pg_loss"], "chord_mu"),  # Trinity CHORD
    (["actor/mu", "actor/expert/sft_phi_loss"], "chord_phi"),
])
def test_trainers_are_named_by_the_metrics_only_they_log(names, expected):
    assert infer_algorithm(names, {}) == expected


@pytest.mark.parametrize("names", [
    ["loss", "learning_rate", "eval_loss", "eval_accuracy"],  # HF Trainer: SFT or any fine-tuning
    ["actor/pg_loss", "critic/score/mean", "val/test_score/gsm8k"],  # verl without its config
    ["policy_loss", "reward", "kl"],  # OpenRLHF without a critic: GRPO, RLOO, REINFORCE++...
    [],
])
def test_nothing_is_guessed_from_names_other_trainers_share(names):
    assert infer_algorithm(names, {}) is None


def test_a_log_that_names_its_algorithm_keeps_it(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "reward_std": 0.1, "eval/accuracy": 0.5}) + "\n" for s in range(3)))
    (tmp_path / "run.json").write_text(json.dumps({"schema_version": 1, "algorithm": "chord_mu"}))
    assert read_run(tmp_path).algorithm == "chord_mu"


def test_a_jsonl_log_without_a_name_gets_its_trainers(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1.0 / (s + 1), "mean_token_accuracy": 0.5})
                            + "\n" for s in range(3)))
    assert read_run(path).algorithm == "sft"


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real_logs is not here")
@pytest.mark.parametrize("folder, expected", [
    ("trl_grpo_unsloth", "grpo"), ("wandb_offline_grpo", "grpo"), ("verl_ppo_qwen05b", "ppo"),
    ("hf_tensorboard", None), ("llamafactory_grpo", None),  # a loss and a preference accuracy
])
def test_real_logs(folder, expected):
    assert read_run(REAL / folder).algorithm == expected
