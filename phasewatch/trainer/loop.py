"""The training loop of every arm, top to bottom.

Each step mixes an SFT term on the expert set and a GRPO term on fresh rollouts with the arm's
coefficient mu (CHORD's `(1 - mu) L_GRPO + mu L_SFT`): `sft` is mu = 1, `rl` mu = 0,
`sft_then_rl` jumps from 1 to 0 after `switch_step`, `chord_mu` follows the schedule, `chord_phi`
(weight p(1-p)) and `sft_is` (weight p) use a constant mu. A term whose weight is 0 is not computed.

Every `eval_every` steps (and at step 0) the policy is evaluated on held-out prompts disjoint from
the expert set, its expert NLL is measured on the training and held-out expert sets, and the
per-token log-probs of the fixed expert probe set are stored.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phasewatch.trainer import task
from phasewatch.trainer.config import TrainConfig
from phasewatch.trainer.logging import RunWriter
from phasewatch.trainer.losses import (
    chord_loss,
    group_advantages,
    grpo_loss,
    mu_schedule,
    sft_loss,
)
from phasewatch.trainer.model import (
    Policy,
    generate,
    pack,
    response_logits,
    response_mask,
    token_logprobs,
)
from phasewatch.trainer.pretrain import established_policy

SFT_WEIGHTING = {"chord_phi": "phi", "sft_is": "p"}


def mu_at(cfg: TrainConfig, step: int) -> float:
    """The SFT share of the loss at a (1-based) training step."""
    if cfg.algorithm == "sft":
        return 1.0
    if cfg.algorithm == "rl":
        return 0.0
    if cfg.algorithm == "sft_then_rl":
        return 1.0 if step <= cfg.switch_step else 0.0
    if cfg.algorithm == "chord_mu":
        return mu_schedule(step, cfg.mu_peak, cfg.mu_valley, cfg.mu_warmup_steps, cfg.mu_decay_steps)
    return cfg.mu


@dataclass
class ExpertSet:
    """Expert traces for some problems, packed for teacher forcing."""

    index: np.ndarray
    responses: list[list[int]]

    @classmethod
    def make(cls, index: np.ndarray, style: str, n_quirks: int, rng: np.random.Generator) -> ExpertSet:
        if style == "close":
            a, b = task.decode_problem(index)
            return cls(index, task.a_responses(a + b))
        quirks = rng.integers(0, n_quirks, size=len(index)) if n_quirks else None
        return cls(index, task.b_responses(index, quirks))

    def subset(self, rows: np.ndarray | slice) -> ExpertSet:
        rows = np.arange(len(self.index))[rows]
        return ExpertSet(self.index[rows], [self.responses[i] for i in rows])

    def packed(self) -> tuple[torch.Tensor, torch.Tensor]:
        return pack(task.prompts(self.index), self.responses)


def _entropy(logits: torch.Tensor, mask: torch.Tensor) -> float:
    logp = torch.log_softmax(logits.detach(), -1)
    ent = -(logp.exp() * logp).sum(-1)
    return float((ent * mask).sum() / mask.sum().clamp_min(1))


class Evaluator:
    """Held-out accuracy (greedy and sampled), format rates, expert NLL, probe log-probs."""

    def __init__(self, cfg: TrainConfig, splits: task.Splits, expert: ExpertSet, heldout_expert: ExpertSet):
        self.cfg = cfg
        self.prompt_index = splits.heldout[: cfg.eval_prompts]
        self.prompts = task.prompts(self.prompt_index)
        self.nll_train = expert.subset(slice(0, cfg.nll_examples)).packed()
        self.nll_heldout = heldout_expert.subset(slice(0, cfg.nll_examples)).packed()
        probe = [expert.subset(slice(0, cfg.probe_train)), heldout_expert.subset(slice(0, cfg.probe_heldout))]
        self.probe_sequences = [
            {"id": f"{split}_{int(i)}", "split": split, "length": len(r)}
            for split, part in zip(("train", "heldout"), probe)
            for i, r in zip(part.index, part.responses)
        ]
        self.probe = pack(
            np.concatenate([task.prompts(p.index) for p in probe]),
            [r for p in probe for r in p.responses],
        )

    @torch.no_grad()
    def __call__(self, policy: Policy, step: int) -> tuple[dict[str, float], np.ndarray]:
        out: dict[str, float] = {}
        responses, _ = generate(policy, self.prompts, greedy=True)
        graded = task.grade(self.prompt_index, responses)
        out["eval/accuracy"] = graded.correct.mean()
        out["eval/format_valid"] = graded.valid.mean()
        out["eval/malformed_rate"] = 1.0 - graded.valid.mean()
        out["eval/expert_format_rate"] = graded.expert_format.mean()
        out["eval/response_length"] = graded.length.mean()
        expert_fmt = graded.expert_format
        out["eval/accuracy_expert_format"] = graded.correct[expert_fmt].mean() if expert_fmt.any() else None
        out["eval/accuracy_own_format"] = graded.correct[~expert_fmt].mean() if (~expert_fmt).any() else None
        sampler = torch.Generator().manual_seed(self.cfg.seed * 100003 + step)
        sampled, _ = generate(policy, self.prompts, greedy=False, generator=sampler)
        out["eval/accuracy_sampled"] = task.grade(self.prompt_index, sampled).correct.mean()
        for split, (seq, mask) in (("train", self.nll_train), ("heldout", self.nll_heldout)):
            logits = response_logits(policy, seq)
            lp = token_logprobs(logits, seq)
            out[f"expert/nll_{split}"] = float(-(lp * mask).sum() / mask.sum())
            if split == "heldout":
                # q: per-token accuracy of the expert's content tokens under teacher forcing.
                targets = seq[:, task.PROMPT_LEN :]
                content = mask & (targets >= task.DIGIT0) & (targets < task.DIGIT0 + 10)
                hits = (logits.argmax(-1) == targets) & content
                out["expert/content_token_accuracy"] = float(hits.sum() / content.sum())
        seq, mask = self.probe
        lp = token_logprobs(response_logits(policy, seq), seq)
        probe_logprobs = lp[mask].numpy()
        return out, probe_logprobs


def sft_term(policy: Policy, batch: ExpertSet, weighting: str) -> tuple[torch.Tensor, float]:
    """SFT loss on a batch of expert traces, and the policy's mean entropy on those positions."""
    seq, mask = batch.packed()
    logits = response_logits(policy, seq)
    return sft_loss(token_logprobs(logits, seq), mask, weighting), _entropy(logits, mask)


def grpo_term(policy: Policy, cfg: TrainConfig, prompt_index: np.ndarray,
              generator: torch.Generator) -> tuple[torch.Tensor, float, float]:
    """GRPO loss on `group_size` fresh rollouts per prompt; also the mean reward and entropy."""
    prompt_index = np.repeat(prompt_index, cfg.group_size)
    prompts = task.prompts(prompt_index)
    responses, _ = generate(policy, prompts, greedy=False, temperature=cfg.temperature, generator=generator)
    rewards = task.grade(prompt_index, responses).rewards(cfg.malformed_reward)
    advantages = group_advantages(torch.as_tensor(rewards, dtype=torch.float32), cfg.group_size)
    seq = torch.from_numpy(np.concatenate([prompts, responses], axis=1))
    mask = torch.from_numpy(response_mask(responses))
    logits = response_logits(policy, seq)
    logprobs = token_logprobs(logits, seq)
    # One update per batch of rollouts, sampled from the policy being updated: old = current.
    loss = grpo_loss(logprobs, logprobs.detach(), advantages, mask, cfg.clip_eps)
    return loss, float(rewards.mean()), _entropy(logits, mask)


@dataclass
class TrainResult:
    folder: Path
    final_step: int
    stopped: bool
    last_eval: dict[str, float]


def _optimizer(policy: Policy, cfg: TrainConfig, lr: float, warmup_steps: int):
    """AdamW with a linear learning-rate warm-up over `warmup_steps`, then constant."""
    optim = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    warmup = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda i: min(1.0, (i + 1) / warmup_steps) if warmup_steps else 1.0)
    return optim, warmup


def _monitor(stop_on: str | None, planned_steps: int):
    if stop_on is None:
        return None
    try:
        from phasewatch.online import PhaseMonitor
    except ImportError:  # the online monitor is optional for the trainer
        from phasewatch.output import warn

        warn(f"--stop-on {stop_on} ignored: phasewatch.online is not available")
        return None
    # the plan is the configured step count, as `watch` reads it from run.json's config
    return PhaseMonitor(metric="eval/accuracy", direction="max", planned_steps=planned_steps)


def train(cfg: TrainConfig, out: str | Path, name: str | None = None, cache_dir: Path | None = None,
          use_cache: bool = True, progress: bool = True, stop_on: str | None = None) -> TrainResult:
    """Train one arm from the established policy and write the native run folder `out`."""
    from tqdm.auto import tqdm

    cfg.validate()
    torch.set_num_threads(cfg.threads)
    heldout_size = max(cfg.eval_prompts, cfg.nll_examples, cfg.probe_heldout)
    splits = task.Splits.make(cfg.seed, cfg.expert_size, heldout_size)
    data_rng = np.random.default_rng([cfg.seed, 2])
    expert = ExpertSet.make(splits.expert, cfg.expert_style, cfg.n_quirks, data_rng)
    heldout_expert = ExpertSet.make(splits.heldout, cfg.expert_style, cfg.n_quirks, data_rng)
    evaluator = Evaluator(cfg, splits, expert, heldout_expert)

    bar_kw: dict[str, Any] = {"file": sys.stderr, "disable": not progress, "leave": False}
    with tqdm(total=cfg.pretrain_steps, desc="pre-training policy A", **bar_kw) as bar:
        policy = established_policy(cfg, cache_dir, use_cache, bar)
    torch.manual_seed(cfg.seed + 2000)
    rollout_gen = torch.Generator().manual_seed(cfg.seed + 3000)
    optim, warmup = _optimizer(policy, cfg, cfg.lr, cfg.lr_warmup_steps)
    writer = RunWriter(Path(out), name or Path(out).name, cfg.algorithm, cfg.to_dict(),
                       evaluator.probe_sequences)
    monitor = _monitor(stop_on, cfg.steps)
    order = np.empty(0, dtype=np.int64)
    step, stopped, last_eval = 0, False, {}

    def evaluate(step: int) -> bool:
        nonlocal last_eval
        metrics, logprobs = evaluator(policy, step)
        writer.store_logprobs(step, logprobs)
        last_eval = metrics
        if monitor is None:
            return False
        return any(alert.event == stop_on for alert in monitor.update(step, metrics))

    try:
        stopped = evaluate(0)
        writer.log(0, last_eval)
        if stopped:
            writer.event(0, "stopped")
        with tqdm(total=cfg.steps, desc=f"training {cfg.algorithm}", **bar_kw) as bar:
            for step in range(1, 0 if stopped else cfg.steps + 1):
                mu = mu_at(cfg, step)
                metrics: dict[str, float | None] = {"train/mu": mu}
                sft = grpo = torch.zeros(())
                entropy = None
                if mu > 0:
                    if len(order) < cfg.batch_size:  # reshuffle the expert set once per epoch
                        order = np.concatenate([order, data_rng.permutation(len(expert.index))])
                    rows, order = order[: cfg.batch_size], order[cfg.batch_size :]
                    sft, entropy = sft_term(policy, expert.subset(rows), SFT_WEIGHTING.get(cfg.algorithm, "none"))
                    metrics["train/sft_loss"] = sft.item()
                if mu < 1:
                    prompt_index = splits.sample_training_prompts(data_rng, cfg.rl_prompts)
                    grpo, reward, entropy = grpo_term(policy, cfg, prompt_index, rollout_gen)
                    metrics["train/rl_loss"] = grpo.item()
                    metrics["train/reward"] = reward
                loss = chord_loss(grpo, sft, mu)
                optim.zero_grad()
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip or float("inf"))
                optim.step()
                warmup.step()
                metrics.update({"train/loss": loss.item(), "train/entropy": entropy,
                                "train/grad_norm": float(norm)})
                if cfg.algorithm == "sft_then_rl" and step == cfg.switch_step:
                    writer.event(step, "sft_to_rl")
                    if cfg.rl_lr > 0:  # a new training stage: fresh optimizer, its own lr
                        optim, warmup = _optimizer(policy, cfg, cfg.rl_lr, 0)
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    stopped = evaluate(step)
                    metrics.update(last_eval)
                    bar.set_postfix(acc=f"{last_eval['eval/accuracy']:.3f}", refresh=False)
                    if stopped:
                        writer.event(step, "stopped")
                if monitor is not None and cfg.algorithm == "sft_then_rl" and step == cfg.switch_step:
                    # Evaluations from here on are of the RL stage: a known boundary, so a fall
                    # after the switch is a disruption of the new stage, not overfit of the old.
                    monitor.mark_event(step, "sft_to_rl")
                writer.log(step, metrics)
                bar.update(1)
                if stopped:
                    break
    except KeyboardInterrupt:
        writer.event(step, "interrupted")
        writer.close(status="interrupted")
        raise
    writer.close(status="finished")  # the end marker `watch --follow` stops on
    return TrainResult(Path(out), step, stopped, last_eval)
