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

from phasewatch.tokens.divergence import DivergenceScore, divergence_score
from phasewatch.tokens.signals import signals_for_run, signals_from_summary
from phasewatch.tokens.store import TokenStore, open_store
from phasewatch.tokens.summary import (
    LearnedAtTracker,
    SplitStats,
    SummaryConfig,
    TokenSummary,
    iter_step_summaries,
    summarize_store,
)
from phasewatch.tokens.writer import TokenStoreWriter

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
    "summarize_store",
]
