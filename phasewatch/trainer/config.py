"""One dataclass config for the reference trainer; its field help strings also build the CLI.

`phasewatch train --preset NAME` starts from `PRESETS[NAME]` and applies `--field value`
overrides; `TrainConfig.validate()` rejects bad values with a `UsageError` saying what is valid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from phasewatch.errors import UsageError

ALGORITHMS = ("sft", "rl", "sft_then_rl", "chord_mu", "chord_phi", "sft_is")
EXPERT_STYLES = ("divergent", "close")


def _f(default: Any, help: str, choices: tuple[str, ...] | None = None):
    meta = {"help": help}
    if choices:
        meta["choices"] = choices
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    algorithm: str = _f("sft", "training arm", ALGORITHMS)
    steps: int = _f(2000, "training steps (optimizer updates)")
    lr: float = _f(1e-3, "Adam learning rate (no weight decay, so a small expert set overfits)")
    lr_warmup_steps: int = _f(100, "linear learning-rate warm-up steps (then constant)")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    grad_clip: float = _f(1.0, "clip the global gradient norm to this (0 = off)")
    batch_size: int = _f(64, "expert examples per SFT step")
    expert_size: int = _f(768, "problems in the expert (SFT) set")
    expert_style: str = _f(
        "divergent",
        "expert answer format: 'divergent' = marker + LSD-first scratchpad (differs from the "
        "established policy); 'close' = correct answers in the established policy's own format "
        "(control: little or no dip)",
        EXPERT_STYLES,
    )
    n_quirks: int = _f(4, "quirk symbols, one drawn per expert example (memorisable only; 0 = none)")
    rl_prompts: int = _f(16, "prompts per RL step")
    group_size: int = _f(8, "GRPO samples per prompt")
    clip_eps: float = _f(0.2, "PPO clip range")
    temperature: float = _f(1.0, "rollout sampling temperature")
    malformed_reward: float = _f(-0.1, "reward of a malformed answer (correct 1, wrong 0)")
    switch_step: int = _f(800, "sft_then_rl: last SFT step; RL from the next step on")
    rl_lr: float = _f(0.0, "sft_then_rl: learning rate of the RL stage, which then starts with a fresh "
                      "optimizer (0 = keep lr and the SFT optimizer state)")
    mu_peak: float = _f(0.9, "chord_mu: peak of mu after warm-up")
    mu_valley: float = _f(0.05, "chord_mu: final mu after the half-cosine decay")
    mu_warmup_steps: int = _f(0, "chord_mu: linear warm-up steps from 0 to mu_peak")
    mu_decay_steps: int = _f(800, "chord_mu: half-cosine decay steps from mu_peak to mu_valley")
    mu: float = _f(0.1, "chord_phi / sft_is: constant mu")
    eval_every: int = _f(10, "evaluate every N steps (and at step 0)")
    eval_prompts: int = _f(500, "held-out prompts for the accuracy evaluation")
    nll_examples: int = _f(256, "expert examples per split for expert/nll_train and nll_heldout")
    probe_train: int = _f(24, "expert training sequences in the token log-prob store")
    probe_heldout: int = _f(24, "held-out expert sequences in the token log-prob store")
    embed: int = _f(64, "token embedding size")
    hidden: int = _f(128, "GRU hidden size")
    layers: int = _f(1, "GRU layers")
    pretrain_steps: int = _f(1800, "steps pre-training the established policy A (cached per seed)")
    pretrain_batch: int = _f(256, "batch size of the pre-training")
    pretrain_lr: float = _f(3e-3, "learning rate of the pre-training")
    pretrain_b_fraction: float = _f(
        0.02, "share of expert-format examples mixed into pre-training, so the expert's first "
        "token is not impossibly unlikely")
    threads: int = _f(2, "torch CPU threads")
    seed: int = _f(0, "random seed (data split, pre-training, training)")

    _NONNEG = ("steps", "lr_warmup_steps", "rl_lr", "switch_step", "mu_warmup_steps", "mu_decay_steps", "pretrain_steps",
               "n_quirks", "probe_train", "probe_heldout", "weight_decay", "grad_clip")
    _POSITIVE = ("lr", "batch_size", "expert_size", "rl_prompts", "eval_every", "eval_prompts",
                 "nll_examples", "embed", "hidden", "layers", "pretrain_batch", "pretrain_lr",
                 "threads", "temperature")
    _UNIT = ("mu_peak", "mu_valley", "mu", "pretrain_b_fraction", "clip_eps")

    def validate(self) -> TrainConfig:
        """Raise `UsageError` for a value out of range; returns self."""
        for f in fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise UsageError(f"{f.name} must be one of {', '.join(choices)}; got {value!r}")
        for name in self._NONNEG:
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must be >= 0; got {getattr(self, name)}")
        for name in self._POSITIVE:
            if not getattr(self, name) > 0:
                raise UsageError(f"{name} must be > 0; got {getattr(self, name)}")
        for name in self._UNIT:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be in [0, 1]; got {getattr(self, name)}")
        if self.group_size < 2:
            raise UsageError(f"group_size must be >= 2 (GRPO normalises within a group); got {self.group_size}")
        if self.n_quirks > 8:
            raise UsageError(f"n_quirks must be <= 8; got {self.n_quirks}")
        if self.probe_train > self.expert_size:
            raise UsageError(f"probe_train ({self.probe_train}) must be <= expert_size ({self.expert_size})")
        if self.probe_train + self.probe_heldout == 0:
            raise UsageError("probe_train + probe_heldout must be > 0 (the token store needs a sequence)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pretrain_key(self) -> dict[str, Any]:
        """What the cached established policy depends on."""
        names = ("embed", "hidden", "layers", "pretrain_steps", "pretrain_batch", "pretrain_lr",
                 "pretrain_b_fraction", "n_quirks", "seed")
        return {n: getattr(self, n) for n in names}


#: Each preset is a set of overrides of the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "demo": {"algorithm": "sft"},
    "sft": {"algorithm": "sft"},
    "rl": {"algorithm": "rl", "lr": 3e-4},  # at 1e-3, RL dipped briefly in 2 of 3 seeds (docs/trainer.md)
    "sft_then_rl": {"algorithm": "sft_then_rl", "rl_lr": 3e-4},
    "chord_mu": {"algorithm": "chord_mu"},
    "chord_phi": {"algorithm": "chord_phi"},
    "sft_is": {"algorithm": "sft_is"},
    "control_close": {"algorithm": "sft", "expert_style": "close"},
    "control_large": {"algorithm": "sft", "expert_size": 4096},
    "control_untrained": {"algorithm": "sft", "pretrain_steps": 0},  # no habits to disrupt
    "tiny": {"algorithm": "sft", "steps": 6, "eval_every": 3, "eval_prompts": 32, "nll_examples": 16,
             "expert_size": 16, "batch_size": 8, "probe_train": 4, "probe_heldout": 4,
             "pretrain_steps": 20, "pretrain_batch": 32, "hidden": 32, "embed": 16, "rl_prompts": 4,
             "group_size": 4, "switch_step": 3, "mu_decay_steps": 4, "threads": 1},
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return replace(TrainConfig(), **{**PRESETS[name], **overrides}).validate()
