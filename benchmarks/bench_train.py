"""Speed of the reference trainer: steps/s and tokens/s, and the `train --preset demo` budget.

    .venv/bin/python benchmarks/bench_train.py [--threads 2] [--full]

Times, on the demo preset's model: pre-training steps, SFT steps, GRPO steps (rollouts included),
evaluations; the rollout sampler against a naive sampler that re-reads the whole prefix for every
token (the baseline, measured in the same run); and the demo's wall time extrapolated from those
rates against the 3-minute target (`--full` runs the demo end to end instead, ~2 minutes).
The machine is shared: numbers are noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from phasewatch.trainer import task
from phasewatch.trainer.config import preset
from phasewatch.trainer.loop import Evaluator, ExpertSet, train
from phasewatch.trainer.losses import sft_loss
from phasewatch.trainer.model import Policy, generate, response_logits, token_logprobs
from phasewatch.trainer.pretrain import pretrain

TARGET_SECONDS = 180.0


@torch.no_grad()
def naive_generate(policy: Policy, prompts: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """Baseline sampler: runs the GRU over the whole sequence again for every new token."""
    seq = torch.from_numpy(prompts)
    done = torch.zeros(len(prompts), dtype=torch.bool)
    for _ in range(task.MAX_RESPONSE_LEN):
        logits, _ = policy(seq)
        token = torch.multinomial(torch.softmax(logits[:, -1], -1), 1, generator=generator).squeeze(-1)
        token = torch.where(done, torch.full_like(token, task.PAD), token)
        seq = torch.cat([seq, token[:, None]], 1)
        done |= token == task.EOS
        if bool(done.all()):
            break
    return seq[:, task.PROMPT_LEN :].numpy()


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="time the demo preset end to end")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = preset("demo", threads=args.threads)
    policy = Policy(cfg.embed, cfg.hidden, cfg.layers)
    optim = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    splits = task.Splits.make(0, cfg.expert_size, cfg.eval_prompts)
    rng = np.random.default_rng(0)
    expert = ExpertSet.make(splits.expert, "divergent", cfg.n_quirks, rng)
    heldout = ExpertSet.make(splits.heldout, "divergent", cfg.n_quirks, rng)
    evaluator = Evaluator(cfg, splits, expert, heldout)
    gen = torch.Generator().manual_seed(0)

    def sft_step():
        seq, mask = expert.subset(rng.integers(0, len(expert.index), cfg.batch_size)).packed()
        loss = sft_loss(token_logprobs(response_logits(policy, seq), seq), mask)
        optim.zero_grad()
        loss.backward()
        optim.step()

    rl_prompts = task.prompts(np.repeat(splits.sample_training_prompts(rng, cfg.rl_prompts), cfg.group_size))

    def rl_step():
        responses, _ = generate(policy, rl_prompts, greedy=False, generator=gen)
        seq = torch.from_numpy(np.concatenate([rl_prompts, responses], 1))
        loss = -token_logprobs(response_logits(policy, seq), seq).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()

    # B-format rollouts are the long ones: time the samplers on a policy that writes them.
    sft_tokens = sum(len(r) for r in expert.responses) / len(expert.responses) * cfg.batch_size
    t_pre = timed(lambda: pretrain(preset("demo", pretrain_steps=1)), 5)
    t_sft = timed(sft_step, 50)
    t_rl = timed(rl_step, 10)
    t_eval = timed(lambda: evaluator(policy, 0), 3)
    t_inc = timed(lambda: generate(policy, rl_prompts, greedy=False, generator=gen), 10)
    t_naive = timed(lambda: naive_generate(policy, rl_prompts, gen), 10)
    rollout_tokens = len(rl_prompts) * task.MAX_RESPONSE_LEN

    print(f"reference trainer speed ({args.threads} threads, shared machine: noisy)\n")
    print("| operation | time | rate |")
    print("|---|---|---|")
    print(f"| pre-training step (batch {cfg.pretrain_batch}) | {1e3 * t_pre:.1f} ms | {1 / t_pre:.0f} steps/s |")
    print(f"| SFT step (batch {cfg.batch_size}) | {1e3 * t_sft:.1f} ms | {1 / t_sft:.0f} steps/s, "
          f"{sft_tokens / t_sft:,.0f} expert tokens/s |")
    print(f"| GRPO step ({len(rl_prompts)} rollouts) | {1e3 * t_rl:.1f} ms | {1 / t_rl:.1f} steps/s |")
    print(f"| evaluation ({cfg.eval_prompts} prompts x2, NLL, probe) | {1e3 * t_eval:.0f} ms | |")
    print(f"\n| sampler ({len(rl_prompts)} rollouts, <= {task.MAX_RESPONSE_LEN} tokens) | time | "
          "tokens/s (upper bound) | ratio |")
    print("|---|---|---|---|")
    print(f"| naive (re-reads the prefix per token; baseline) | {1e3 * t_naive:.1f} ms | "
          f"{rollout_tokens / t_naive:,.0f} | 1.0x |")
    print(f"| incremental GRU state (trainer) | {1e3 * t_inc:.1f} ms | {rollout_tokens / t_inc:,.0f} | "
          f"{t_naive / t_inc:.1f}x |")

    n_evals = cfg.steps // cfg.eval_every + 1
    cached = cfg.steps * t_sft + n_evals * t_eval
    fresh = cached + cfg.pretrain_steps * t_pre
    print(f"\n| train --preset demo ({cfg.steps} steps, {n_evals} evals) | seconds | vs 180 s target |")
    print("|---|---|---|")
    print(f"| estimated, policy A cached | {cached:.0f} | {cached / TARGET_SECONDS:.2f}x |")
    print(f"| estimated, + pre-training A ({cfg.pretrain_steps} steps) | {fresh:.0f} | {fresh / TARGET_SECONDS:.2f}x |")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            train(cfg, Path(tmp) / "demo", cache_dir=Path(tmp) / "cache", progress=False)
            wall = time.perf_counter() - start
        print(f"| measured end to end, fresh cache | {wall:.0f} | {wall / TARGET_SECONDS:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
