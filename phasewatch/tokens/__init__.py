"""Expert log-prob store: per-token log-probabilities of the policy on the expert data.

Layout (DESIGN.md "Native run folder"):
    expert_logprobs/index.json         schema_version, dtype, n_tokens, sequences[id, split, offset, length]
    expert_logprobs/step_%08d.npy      1-D array of n_tokens natural-log probabilities at that step
"""

from phasewatch.tokens.writer import TokenStoreWriter

__all__ = ["TokenStoreWriter"]
