"""Expert log-prob store: per-token log-probabilities of the policy on the expert data.

Layout (DESIGN.md "Native run folder"):
    expert_logprobs/index.json         schema_version, dtype, n_tokens, sequences[id, split, offset, length]
    expert_logprobs/step_%08d.npy      1-D array of n_tokens natural-log probabilities at that step

- `TokenStoreWriter` writes a store (reference trainer, or any other trainer);
- `open_store` validates and memory-maps one;
- `summarize_store` / `iter_step_summaries` stream per-step summaries per split;
- `divergence_score` scores how far the expert data is from the policy at the start;
- `signals_for_run` turns a run's store into per-step signals for the phase detector.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Imported on first use (PEP 562): the `tokens` command and a trainer writing a store should
#: not wait for the modules they do not use (the summaries need numpy).
_LAZY = {
    "DivergenceScore": "divergence", "divergence_score": "divergence",
    "signals_for_run": "signals", "signals_from_summary": "signals",
    "step_signals_for_run": "signals",
    "TokenStore": "store", "open_store": "store",
    "LearnedAtTracker": "summary", "SplitStats": "summary", "SummaryConfig": "summary",
    "TokenSummary": "summary", "iter_step_summaries": "summary", "summarize_store": "summary",
    "TokenStoreWriter": "writer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"phasewatch.tokens.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'phasewatch.tokens' has no attribute {name!r}")


__all__ = [
    "DivergenceScore",
    "LearnedAtTracker",
    "SplitStats",
    "SummaryConfig",
    "TokenStore",
    "TokenStoreWriter",
    "TokenSummary",
    "divergence_score",
    "iter_step_summaries",
    "open_store",
    "signals_for_run",
    "signals_from_summary",
    "step_signals_for_run",
    "summarize_store",
]
