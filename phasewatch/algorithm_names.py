"""The training algorithm of a run whose log does not name it, read from what its trainer logs.

`sweep` and `report` group runs into arms by algorithm. The native format names it; most other
logs do not, so without this a sweep of TRL SFT and GRPO runs is one arm called "unknown". Each
framework's trainers write distinctive config keys and metric names (the names are checked
against the frameworks' sources and real logs; see the notes in `presets.py`):

- config: `algorithm` (a string), verl `algorithm.adv_estimator` (`gae` is PPO with a critic;
  otherwise the estimator: grpo, rloo, reinforce_plus_plus...), Trinity-RFT
  `algorithm.algorithm_type`, LLaMA-Factory `stage` (sft, dpo, ppo, kto, rm, pt);
- TRL's config classes (TensorBoard's `args` text, the W&B config): RLOOConfig's `rloo_k`
  (TRL 0.x) or `normalize_advantages` beside `num_generations` (1.x, whose RLOOTrainer logs
  GRPO's metric names: trial 39's RLOO runs were named grpo), KTOConfig's `desirable_weight`;
- metric names: TRL DPO's `rewards/chosen` and `rewards/rejected`, beside Online DPO's
  `objective/*` and `val/contain_eos_token` (its OnlineDPOTrainer) or KTO's `kl` (its
  KTOTrainer; DPO logs no KL); TRL GRPO's `reward_std`; a value critic (verl `critic/vf_loss`,
  OpenRLHF `critic_loss`, TRL PPO `loss/value_avg`) means PPO, TRL 0.x's `loss/policy_avg` and
  `objective/rlhf_reward` without one RLOO; TRL SFT's `mean_token_accuracy` and OpenRLHF SFT's
  `gpt_loss` mean SFT; Trinity-RFT CHORD's `actor/mu` beside `actor/expert/sft_loss`
  (`sft_phi_loss`: the phi weighting).

Nothing is guessed beyond that: a plain HF Trainer loss is SFT or any other fine-tuning, and a
critic-free policy gradient without its config could be GRPO, RLOO or REINFORCE++, so those stay
unnamed (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: verl's advantage estimators that need no critic keep their own name; `gae` is PPO.
_ESTIMATOR_NAMES = {"gae": "ppo"}
_CONFIG_KEYS = ("algorithm.adv_estimator", "algorithm.algorithm_type", "algorithm", "stage")
_CRITIC = ("critic/vf_loss", "critic_loss", "loss/value_avg")
_ONLINE_DPO = ("objective/scores", "objective/rlhf_reward", "val/contain_eos_token")
_TRAIN_PREFIXES = ("train/", "train_", "eval/", "eval_")


def infer_algorithm(metrics: Iterable[str], config: Mapping[str, Any]) -> str | None:
    """The algorithm a run's config names, else the one its metric names identify, else None."""
    for key in _CONFIG_KEYS:
        value = _config_value(config, key)
        if isinstance(value, str) and value.strip():
            name = value.strip().lower()
            return _ESTIMATOR_NAMES.get(name, name) if key == "algorithm.adv_estimator" else name
    if _config_value(config, "rloo_k") is not None or (
            _config_value(config, "normalize_advantages") is not None
            and _config_value(config, "num_generations") is not None):
        return "rloo"
    if _config_value(config, "desirable_weight") is not None:
        return "kto"
    names = {_unprefixed(m) for m in metrics}
    if "rewards/chosen" in names and "rewards/rejected" in names:
        if any(n in names for n in _ONLINE_DPO):
            return "online_dpo"
        return "kto" if "kl" in names else "dpo"
    if "actor/mu" in names and any(n.startswith("actor/expert/sft") for n in names):
        return "chord_phi" if "actor/expert/sft_phi_loss" in names else "chord_mu"
    if any(n in names for n in _CRITIC):
        return "ppo"
    if "loss/policy_avg" in names and "objective/rlhf_reward" in names:
        return "rloo"
    if "reward_std" in names:
        return "grpo"
    if "mean_token_accuracy" in names or "gpt_loss" in names:
        return "sft"
    return None


def _unprefixed(metric: str) -> str:
    """`train/reward_std` and `reward_std` alike (HF's W&B and TensorBoard callbacks prefix)."""
    for prefix in _TRAIN_PREFIXES:
        if metric.startswith(prefix):
            return metric[len(prefix):]
    return metric


def _config_value(config: Mapping[str, Any], dotted: str) -> Any:
    """`config["a.b"]` or `config["a"]["b"]`: readers keep configs flat or nested."""
    if dotted in config:
        value = config[dotted]
        return None if isinstance(value, Mapping) else value
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return None if isinstance(node, Mapping) else node
