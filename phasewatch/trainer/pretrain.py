"""Pre-training the established policy A inside the trainer (never downloaded), cached per seed.

A is trained on the flawed A teacher's direct answers, with a small share of expert-format
(B) examples mixed in so that B's first token is not impossibly unlikely (CHORD-phi's weight
p(1-p) is ~0 for tokens of probability ~0). Those B examples carry random digits: A has seen the
expert's *layout*, never its algorithm, so the content must be learned from the expert data. The result is a sharply peaked policy with ~55%
accuracy that answers in format A.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from phasewatch.trainer import task
from phasewatch.trainer.config import TrainConfig
from phasewatch.trainer.losses import sft_loss
from phasewatch.trainer.model import Policy, pack, response_logits, token_logprobs


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "phasewatch" / "pretrained"


def pretrain_batch(rng: np.random.Generator, cfg: TrainConfig) -> tuple[np.ndarray, list[list[int]]]:
    index = rng.integers(0, task.N_PROBLEMS, size=cfg.pretrain_batch)
    use_b = rng.random(cfg.pretrain_batch) < cfg.pretrain_b_fraction
    responses = task.a_responses(task.teacher_a_answer(index))
    if use_b.any():
        quirks = rng.integers(0, cfg.n_quirks, size=int(use_b.sum())) if cfg.n_quirks else None
        for j, seq in zip(np.flatnonzero(use_b), task.b_responses(index[use_b], quirks)):
            responses[j] = [
                task.DIGIT0 + int(rng.integers(10)) if task.is_content_token(t) else t for t in seq
            ]
    return task.prompts(index), responses


def pretrain(cfg: TrainConfig, progress=None) -> Policy:
    torch.manual_seed(cfg.seed + 1000)
    rng = np.random.default_rng([cfg.seed, 1])
    policy = Policy(cfg.embed, cfg.hidden, cfg.layers)
    optim = torch.optim.Adam(policy.parameters(), lr=cfg.pretrain_lr)
    for _ in range(cfg.pretrain_steps):
        prompts, responses = pretrain_batch(rng, cfg)
        seq, mask = pack(prompts, responses)
        loss = sft_loss(token_logprobs(response_logits(policy, seq), seq), mask)
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optim.step()
        if progress is not None:
            progress.update(1)
    return policy


def cache_path(cfg: TrainConfig, cache_dir: Path | None) -> Path:
    key = json.dumps({"v": 1, **cfg.pretrain_key()}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (cache_dir or default_cache_dir()) / f"policy_a_seed{cfg.seed}_{digest}.pt"


def established_policy(cfg: TrainConfig, cache_dir: Path | None = None, use_cache: bool = True,
                       progress=None) -> Policy:
    """The pre-trained policy A for this config, from the cache when there (loaded weights_only)."""
    path = cache_path(cfg, cache_dir)
    if use_cache and path.is_file():
        policy = Policy(cfg.embed, cfg.hidden, cfg.layers)
        policy.load_state_dict(torch.load(path, weights_only=True))
        return policy
    policy = pretrain(cfg, progress)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(policy.state_dict(), tmp)
        os.replace(tmp, path)
    return policy
