"""Which expert tokens and sequences move: the analytics people ask of a token store.

- `sequence_nll` / `nll_trajectories`: mean NLL of every sequence at a step / at every step;
- `top_changes`: the tokens (or sequences) whose NLL rose most ("squeezed": their p fell) and
  fell most (learned) between two steps, decoded when the store has token ids (`ids.py`);
- `squeezing`: per pair of consecutive steps and per split, the share of tokens whose p fell,
  and whether the split's mean NLL fell at the same time. Ren & Sutherland (ICLR 2025, "Learning
  dynamics of LLM finetuning") show that training on some responses pushes probability away
  from others and squeezes it into the already-likely tokens; here it shows as tokens losing
  probability while the mean NLL of the expert data falls: `squeezed_share` is that share on
  the steps where the mean fell (NaN where it did not);
- `position_breakdown`: mean NLL and divergent share by position inside the sequence (the
  first tokens of an answer often carry its format, and diverge first).

Everything reads whole step arrays (one or two at a time) as float64: memory is ~8 bytes per
token per step held, fine for probe sets of millions of tokens. No torch.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from phasewatch.tokens.ids import TokenIds, read_token_ids
from phasewatch.tokens.store import TokenStore

DIVERGENT_P = 0.05
CONTEXT_TOKENS = 6


def _step_array(store: TokenStore, step: int) -> np.ndarray:
    return np.asarray(store.logprobs(step=int(step)), dtype=np.float64)


def _seq_bounds(store: TokenStore, split: str | None = None) -> tuple[np.ndarray, np.ndarray, list[int]]:
    chosen = [i for i, s in enumerate(store.sequences) if split is None or s.split == split]
    starts = np.asarray([store.sequences[i].offset for i in chosen], dtype=np.int64)
    ends = np.asarray([store.sequences[i].end for i in chosen], dtype=np.int64)
    return starts, ends, chosen


def _token_mask(store: TokenStore, split: str | None) -> np.ndarray:
    mask = np.zeros(store.n_tokens, dtype=bool)
    for s in store.sequences:
        if split is None or s.split == split:
            mask[s.offset:s.end] = True
    return mask


def sequence_nll(store: TokenStore, step: int, split: str | None = None) -> np.ndarray:
    """Mean NLL of each sequence (of `split`, in index order) at `step`."""
    starts, ends, _ = _seq_bounds(store, split)
    cs = np.concatenate([[0.0], np.cumsum(_step_array(store, step))])
    return -(cs[ends] - cs[starts]) / (ends - starts)


def nll_trajectories(store: TokenStore, split: str | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(steps, sequence ids, matrix [n_steps, n_sequences]) of per-sequence mean NLL."""
    _, _, chosen = _seq_bounds(store, split)
    ids = [store.sequences[i].id for i in chosen]
    matrix = np.vstack([sequence_nll(store, step, split) for step in store.steps])
    return store.steps, ids, matrix


@dataclass
class Change:
    """One token or sequence whose NLL moved between two steps."""

    sequence: str
    split: str
    position: int | None       # token position inside the sequence (None for a sequence)
    nll_before: float
    nll_after: float
    text: str | None            # the token (decoded), or the sequence's text, when ids are stored
    context: str | None = None  # the tokens just before it

    @property
    def change(self) -> float:
        return self.nll_after - self.nll_before

    def to_dict(self) -> dict:
        return {**asdict(self), "change": self.change}


def top_changes(store: TokenStore, before: int | None = None, after: int | None = None, n: int = 10,
                unit: str = "token", split: str | None = None) -> dict[str, list[Change]]:
    """{"rising": NLL up most (p squeezed), "falling": NLL down most} between two steps
    (default: the first and the last stored step), for tokens or whole sequences; at most `n`
    each, and only those that moved that way."""
    if unit not in ("token", "sequence"):
        raise ValueError("unit must be 'token' or 'sequence'")
    steps = store.steps
    before = int(steps[0]) if before is None else int(before)
    after = int(steps[-1]) if after is None else int(after)
    ids = read_token_ids(store.folder, store.n_tokens, store.warnings)
    if unit == "sequence":
        starts, ends, chosen = _seq_bounds(store, split)
        a, b = sequence_nll(store, before, split), sequence_nll(store, after, split)
        delta = b - a
        out = {}
        for key, order in (("rising", np.argsort(-delta, kind="stable")), ("falling", np.argsort(delta, kind="stable"))):
            order = order[:n][(delta[order[:n]] > 0) if key == "rising" else (delta[order[:n]] < 0)]
            out[key] = [Change(store.sequences[chosen[k]].id, store.sequences[chosen[k]].split, None,
                               float(a[k]), float(b[k]),
                               None if ids is None else ids.decode_span(int(starts[k]), int(ends[k])))
                        for k in order]
        return out
    a, b = -_step_array(store, before), -_step_array(store, after)
    delta = np.where(_token_mask(store, split), b - a, np.nan)
    rising = np.argsort(np.where(np.isnan(delta), np.inf, -delta), kind="stable")[:n]
    falling = np.argsort(np.where(np.isnan(delta), np.inf, delta), kind="stable")[:n]
    rising = rising[delta[rising] > 0]  # only tokens that moved that way (NaN compares False)
    falling = falling[delta[falling] < 0]
    return {"rising": [_token_change(store, ids, int(t), a, b) for t in rising],
            "falling": [_token_change(store, ids, int(t), a, b) for t in falling]}


def _token_change(store: TokenStore, ids: TokenIds | None, token: int, a: np.ndarray, b: np.ndarray) -> Change:
    seq, pos = store.locate(token)
    assert seq is not None
    text = context = None
    if ids is not None:
        text = ids.decode(token)
        context = ids.decode_span(max(seq.offset, token - CONTEXT_TOKENS), token)
    return Change(seq.id, seq.split, pos, float(a[token]), float(b[token]), text, context)


def squeezing(store: TokenStore) -> list[dict]:
    """Per consecutive pair of stored steps and per split: mean NLL change, share of tokens whose
    p fell, and `squeezed_share` (that share when the mean NLL fell, else NaN)."""
    steps = store.steps
    masks = {split: _token_mask(store, split) for split in store.splits}
    rows = []
    prev = _step_array(store, steps[0]) if len(steps) else None
    for step_before, step in itertools.pairwise(steps):
        cur = _step_array(store, step)
        for split, mask in masks.items():
            before, after = prev[mask], cur[mask]
            change = float(before.mean() - after.mean())  # NLL after - NLL before
            fell = float(np.mean(after < before))
            rows.append({"step": int(step), "from_step": int(step_before), "split": split,
                         "nll_change": change, "p_fell_share": fell,
                         "squeezed_share": fell if change < 0 else float("nan")})
        prev = cur
    return rows


POSITION_BINS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def position_breakdown(store: TokenStore, step: int | None = None, split: str | None = None,
                       bins: tuple[int, ...] = POSITION_BINS) -> list[dict]:
    """Mean NLL, divergent share and token count by position inside the sequence, in bins
    [0], [1], [2, 4), [4, 8)... (the last bin open-ended), at `step` (default: the last)."""
    step = int(store.steps[-1]) if step is None else int(step)
    lp = _step_array(store, step)
    mask = _token_mask(store, split)
    position = np.zeros(store.n_tokens, dtype=np.int64)
    for s in store.sequences:
        position[s.offset:s.end] = np.arange(s.length)
    edges = np.asarray(bins, dtype=np.int64)
    which = np.searchsorted(edges, position[mask], side="right") - 1
    nll = -lp[mask]
    count = np.bincount(which, minlength=len(edges))
    total = np.bincount(which, weights=nll, minlength=len(edges))
    div = np.bincount(which, weights=(np.exp(-nll) < DIVERGENT_P).astype(float), minlength=len(edges))
    rows = []
    for k, lo in enumerate(edges):
        if count[k] == 0:
            continue
        hi = int(edges[k + 1]) if k + 1 < len(edges) else None
        rows.append({"positions": f"{lo}" if hi == lo + 1 else f"{lo}-{'' if hi is None else hi - 1}",
                     "first": int(lo), "n_tokens": int(count[k]), "nll": float(total[k] / count[k]),
                     "divergent_share": float(div[k] / count[k])})
    return rows
