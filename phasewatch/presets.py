"""Metric-name presets: each framework's own names for the roles DESIGN.md defines.

A role is a canonical metric name (what the reference trainer writes). Readers call
`aliases_for(metrics)` so `run.series("eval/accuracy")` finds e.g. `eval_accuracy` in a TRL log;
the original names stay in the run. Candidates are ordered: the first present wins.
"""

from __future__ import annotations

from collections.abc import Iterable

# canonical name -> candidate names in other frameworks, most specific first.
ROLE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "eval/accuracy": (
        "eval/accuracy", "eval_accuracy", "eval/acc", "eval_acc",
        "val-core/*/acc/mean@*", "val-core/*/reward/mean@*", "val/test_score/*",
        "eval/reward", "eval_reward", "eval/score", "eval_score",
        "eval/rewards/mean", "eval_rewards/mean",
    ),
    "expert/nll_train": ("expert/nll_train",),
    "expert/nll_heldout": ("expert/nll_heldout",),
    "train/loss": ("train/loss", "loss", "train_loss", "actor/pg_loss"),
    "train/reward": (
        "train/reward", "reward", "train/rewards/mean", "critic/score/mean", "critic/rewards/mean",
        "rollout/reward", "accuracy", "rewards/accuracy_reward/mean",
    ),
    "train/entropy": ("train/entropy", "entropy", "actor/entropy", "policy_entropy"),
    "eval/response_length": (
        "eval/response_length", "completions/mean_length", "completion_length",
        "response_length/mean", "response_length",
    ),
    "train/grad_norm": ("train/grad_norm", "grad_norm", "actor/grad_norm"),
    "train/lr": ("train/lr", "learning_rate", "lr", "actor/lr"),
    "eval/loss": ("eval/loss", "eval_loss"),
}

# Metrics that can serve as the performance series, in order of preference, with direction.
PERFORMANCE_ROLES: tuple[tuple[str, str], ...] = (
    ("eval/accuracy", "max"),
    ("eval/loss", "min"),
    ("train/reward", "max"),
)

LOWER_IS_BETTER = ("loss", "nll", "error", "perplexity", "ppl", "wer", "cer")


def default_direction(metric: str) -> str:
    """'min' for losses, NLL, error rates, perplexity, WER; else 'max' (DESIGN.md contract)."""
    lowered = metric.lower()
    return "min" if any(word in lowered for word in LOWER_IS_BETTER) else "max"


def _match(pattern: str, metrics: list[str]) -> str | None:
    if "*" not in pattern:
        return pattern if pattern in metrics else None
    import fnmatch

    found = sorted(m for m in metrics if fnmatch.fnmatchcase(m, pattern))
    return found[0] if found else None


def aliases_for(metrics: Iterable[str]) -> dict[str, str]:
    """canonical name -> this run's own name, for each role whose candidate is present."""
    present = sorted(set(metrics))
    aliases: dict[str, str] = {}
    for canonical, candidates in ROLE_CANDIDATES.items():
        if canonical in present:
            continue
        for pattern in candidates:
            own = _match(pattern, present)
            if own is not None:
                aliases[canonical] = own
                break
    return aliases
