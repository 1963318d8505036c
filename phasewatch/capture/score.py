"""log p(completion token | prefix) under a causal LM, in padded batches (torch).

Why each detail matters:
- sequences are sorted by length into batches (less padding), results returned in input order;
- padding on the right needs nothing else (a causal model never attends to later positions);
  on the left, the attention mask hides the pads and `position_ids` restart at each sequence's
  first real token, so a left-padded batch scores the same as the sequences alone;
- logits are upcast to float32 before `log_softmax`: bf16 has 8 bits of mantissa, and a
  log-softmax over 100k+ logits in bf16 misplaces small probabilities by whole nats;
- only the completion positions are upcast (the full float32 logits of a batch would be
  batch x length x vocab x 4 bytes);
- `torch.no_grad`, dropout off (eval mode), and every module's training flag restored as it
  was: scoring must not change the training it watches (no gradients, no RNG draws).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from phasewatch.capture.encode import Encoded


@dataclass(frozen=True)
class ScoreConfig:
    """batch_size: sequences per forward pass; padding_side: "right" or "left" (both exact)."""

    batch_size: int = 8
    padding_side: str = "right"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.padding_side not in ("right", "left"):
            raise ValueError("padding_side must be 'right' or 'left'")


@contextmanager
def scoring_mode(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no gradients for the duration; each module's own flag restored afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, flag in flags:
            module.training = flag


def model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def batches(encoded: Sequence[Encoded], batch_size: int) -> list[list[int]]:
    """Indices of `encoded` grouped into batches of similar length (longest first)."""
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i].ids), i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def score_batch(model: torch.nn.Module, items: Sequence[Encoded], pad_id: int,
                padding_side: str = "right") -> list[np.ndarray]:
    """float32 log-probs of each item's completion tokens (call inside `scoring_mode`)."""
    device = model_device(model)
    width = max(len(e.ids) for e in items)
    ids = torch.full((len(items), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    starts = []
    for row, e in enumerate(items):
        start = width - len(e.ids) if padding_side == "left" else 0
        ids[row, start:start + len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
        mask[row, start:start + len(e.ids)] = 1
        starts.append(start)
    kwargs: dict[str, Any] = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    accepted = _forward_params(model)
    if padding_side == "left" and "position_ids" in accepted:
        kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(device)
    if "use_cache" in accepted:
        kwargs["use_cache"] = False
    out = model(**kwargs)
    logits = out.logits if hasattr(out, "logits") else out[0] if isinstance(out, tuple) else out
    results = []
    for row, e in enumerate(items):
        first = starts[row] + e.n_prompt  # position of the first scored token
        last = starts[row] + len(e.ids)
        rows = logits[row, first - 1:last - 1].float()  # position t predicts token t + 1
        target = ids[row, first:last].to(rows.device)
        logp = torch.log_softmax(rows, dim=-1).gather(-1, target[:, None])[:, 0]
        results.append(logp.cpu().numpy().astype(np.float32))
    return results


def score_encoded(model: torch.nn.Module, encoded: Sequence[Encoded], pad_id: int,
                  config: ScoreConfig = ScoreConfig(), subset: Sequence[int] | None = None
                  ) -> dict[int, np.ndarray]:
    """{index: completion log-probs} for `encoded` (or the batches `subset` selects)."""
    out: dict[int, np.ndarray] = {}
    groups = batches(encoded, config.batch_size)
    chosen = range(len(groups)) if subset is None else subset
    with scoring_mode(model):
        for g in chosen:
            items = [encoded[i] for i in groups[g]]
            for i, lp in zip(groups[g], score_batch(model, items, pad_id, config.padding_side)):
                out[i] = lp
    return out


def pad_token_id(tokenizer: Any) -> int:
    """A harmless id for the padded positions (masked out, so any valid id will do)."""
    for value in (getattr(tokenizer, "pad_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        if value is not None:
            return int(value)
    return 0


def _forward_params(model: torch.nn.Module) -> set[str]:
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return set()
    return set(params)
