"""Losses of the arms, as in the CHORD paper (DESIGN.md "Background").

All take per-token tensors `[n, L]` with a boolean mask of the tokens that count, and average over
the counted tokens of the whole batch ("token-mean"), not per sequence.

- `sft_loss`: token-mean NLL of the expert tokens, optionally weighted per token by a detached
  weight: `phi = p (1 - p)` (CHORD-phi) or `p` (SFT-IS).
- `grpo_loss`: PPO-clip on group-normalised advantages, no KL term.
- `chord_loss`: `(1 - mu) * L_GRPO + mu * L_SFT`.
- `mu_schedule`: linear warm-up 0 -> mu_peak, half-cosine decay to mu_valley, then constant.
"""

from __future__ import annotations

import math

import torch

SFT_WEIGHTINGS = ("none", "phi", "p")


def _token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def sft_weights(logprobs: torch.Tensor, weighting: str = "none") -> torch.Tensor:
    """Detached per-token weights of the SFT term."""
    if weighting == "none":
        return torch.ones_like(logprobs)
    p = logprobs.detach().exp()
    if weighting == "phi":
        return p * (1.0 - p)
    if weighting == "p":
        return p
    raise ValueError(f"unknown SFT weighting {weighting!r}; choose from {SFT_WEIGHTINGS}")


def sft_loss(logprobs: torch.Tensor, mask: torch.Tensor, weighting: str = "none") -> torch.Tensor:
    """Token-mean of `-w * log p` over the expert tokens (w = 1, phi = p(1-p), or p; detached)."""
    return _token_mean(-sft_weights(logprobs, weighting) * logprobs, mask)


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-6) -> torch.Tensor:
    """GRPO advantages: (r - mean of the group) / (std of the group + eps); 0 for a uniform group.

    `rewards` is `[n_prompts * group_size]`, the samples of one prompt being consecutive. The
    standard deviation is the population one (`unbiased=False`).
    """
    groups = rewards.view(-1, group_size)
    mean = groups.mean(1, keepdim=True)
    std = groups.std(1, unbiased=False, keepdim=True)
    return ((groups - mean) / (std + eps)).view(-1)


def grpo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
              mask: torch.Tensor, clip_eps: float = 0.2) -> torch.Tensor:
    """PPO-clip surrogate, token-mean over rollout tokens, no KL:

    `-mean_t min(r_t A, clip(r_t, 1 - eps, 1 + eps) A)`, `r_t = exp(logp_t - old_logp_t)`,
    the advantage `A` of a sequence shared by its tokens.
    """
    ratio = torch.exp(logprobs - old_logprobs)
    adv = advantages[:, None]
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * adv)
    return -_token_mean(surrogate, mask)


def chord_loss(grpo: torch.Tensor, sft: torch.Tensor, mu: float) -> torch.Tensor:
    """CHORD's mixture `(1 - mu) * L_GRPO + mu * L_SFT`."""
    return (1.0 - mu) * grpo + mu * sft


def mu_schedule(step: int, peak: float, valley: float, warmup_steps: int, decay_steps: int) -> float:
    """CHORD-mu's global coefficient at a (1-based) training step.

    Linear warm-up from 0 to `peak` over `warmup_steps`, half-cosine decay from `peak` to `valley`
    over the next `decay_steps`, then `valley`.
    """
    if warmup_steps > 0 and step <= warmup_steps:
        return peak * step / warmup_steps
    t = step - warmup_steps
    if t >= decay_steps:
        return valley
    return valley + (peak - valley) * 0.5 * (1.0 + math.cos(math.pi * t / decay_steps))
