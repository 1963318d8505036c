"""Held-out losses and rewards under a split's prefix, whatever the sets between are called.

`presets.ROLE_CANDIDATES` lists the names frameworks write; this rule covers the names people
build from a split prefix, a loss word and their own set names: `eval/nll`, `eval/perplexity`,
`val/ppl`, `val/gsm8k/loss`, fairseq's `valid_ppl`, and verl's `val-aux/<source>/loss` and
`val-aux/<source>/reward/mean@N`. verl files each data source's headline score (`acc` when
its reward function returns one, else `reward`, at the largest N) under `val-core/`, which the
listed candidates take, and every other validation metric under `val-aux/`.

A loss, NLL or perplexity takes the role `eval/loss` (lower is better); a reward takes
`eval/other_score` (a held-out score that is neither an accuracy nor a loss; higher is
better). Either ranks after every candidate its role lists, so a log holding a listed name
keeps that choice, and a `val-core/` reward (listed under `eval/accuracy`) stays ahead of a
`val-aux/` one. A split or set called train (`eval/train/loss`) is not held out.
"""

from __future__ import annotations

import re
from functools import lru_cache

# split prefixes, in order of preference; `val-*` is any other verl-style section (`val-aux`)
SPLITS = ("eval", "val", "validation", "valid", "dev", "val-core", "val-*", "test")
# the last part of the name: (pattern, role, direction), in order of preference
LEAVES = (
    ("loss", "eval/loss", "min"),
    ("nll_loss", "eval/loss", "min"),  # fairseq's `valid_nll_loss`
    ("nll", "eval/loss", "min"),
    ("perplexity", "eval/loss", "min"),
    ("ppl", "eval/loss", "min"),
    (r"reward/mean(?:@|_at_)\d+", "eval/other_score", "max"),  # verl; MLflow writes `@` as `_at_`
    ("reward", "eval/other_score", "max"),
)
TRAIN_WORDS = frozenset({"train", "training"})
_LEAF = "|".join(f"(?P<leaf{i}>{pattern})" for i, (pattern, _, _) in enumerate(LEAVES))
# `val/ppl`, `val/gsm8k/loss`, `val-aux/openai/gsm8k/reward/mean@1`
_SLASHED = re.compile(r"(?P<split>eval|val|validation|valid|dev|test|val-(?P<section>[^/]+))"
                      rf"/(?:(?P<sets>.+)/)?(?:{_LEAF})")
# `eval_nll`, `valid_ppl`, `test_reward` (no sets: `eval_<x>_loss` is HF's named set, known by
# its runtime)
_JOINED = re.compile(rf"(?P<split>eval|val|validation|valid|dev|test)_(?:{_LEAF})")


@lru_cache(maxsize=1 << 16)
def held_out_match(name: str) -> tuple[str, int, str] | None:
    """(role, rank among the rule's names, direction) when `name` (any case) is a held-out loss,
    NLL, perplexity or reward by this rule; else None. Ranks: split first (`SPLITS`), then the
    leaf (`LEAVES`), a name without sets before one with; sets of one split and leaf share a
    rank, so `val/gsm8k/loss` and `val/math/loss` are several validation sets of one metric."""
    if name[:1] not in "evtdEVTD" or not name:
        return None
    lowered = name.lower()
    match = _SLASHED.fullmatch(lowered) or _JOINED.fullmatch(lowered)
    if match is None:
        return None
    parts = match.groupdict()
    section, sets = parts.get("section"), parts.get("sets")
    if section in TRAIN_WORDS or (sets and TRAIN_WORDS.intersection(sets.split("/"))):
        return None
    split = match["split"] if section is None or section == "core" else "val-*"
    leaf = next(i for i in range(len(LEAVES)) if match[f"leaf{i}"] is not None)
    _, role, direction = LEAVES[leaf]
    return role, 100 * SPLITS.index(split) + 10 * leaf + (1 if sets else 0), direction


def held_out_direction(name: str) -> str | None:
    """'min' for a held-out loss, NLL or perplexity by this rule, 'max' for a held-out reward,
    else None (a set called `answer_qa` must not make a reward lower-is-better through "wer")."""
    found = held_out_match(name)
    return found[2] if found else None
