"""How far the expert data is from the policy when expert training starts.

Computed from the first stored step's log-probs (the policy before, or at the very start of,
expert training) on the expert training split:
- `divergent_share`: share of expert tokens with p < 0.05;
- `mean_nll`: mean -log p of the expert tokens (nats per token);
- `score` (the combined score): the divergent NLL mass, mean over ALL expert tokens of
  `min(-log p, 30) * [p < 0.05]`, in nats per token. It is the part of the SFT loss that comes
  from tokens the policy finds very unlikely: the tokens whose gradients pull the policy away from
  its own established patterns (and the ones CHORD's phi = p(1-p) down-weights). It grows with
  both how many expert tokens are divergent and how unlikely they are, and ignores the mass of
  merely uncertain tokens that the mean NLL mixes in. The cap keeps a handful of p ~ 1e-30 tokens
  from dominating.

Measured (benchmarks/divergence_vs_dip.py, 60 reference-trainer runs, docs/tokens.md): the dip
depth follows the MEAN NLL best (Spearman +0.83 over all runs, +0.84..+0.92 per batch); the
divergent share (+0.63) and the combined score (+0.50) less: in that task the divergent tokens are
the format marker and digits the policy corrects without a format switch, while the dip comes
with the mass of merely uncertain expert tokens. Use `mean_nll` to anticipate a dip; the score is
kept as it was defined before measuring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from phasewatch.tokens.store import TokenStore
from phasewatch.tokens.summary import SplitStats, SummaryConfig, TokenSummary, summarize_store

SCORE_DEFINITION = (
    "mean over expert tokens of min(-log p, {cap:g}) * [p < {p:g}] at the first stored step "
    "(nats per token: the SFT loss carried by divergent tokens)"
)


@dataclass
class DivergenceScore:
    step: int
    split: str
    n_tokens: int
    divergent_share: float
    mean_nll: float
    score: float
    definition: str

    def to_dict(self) -> dict:
        return asdict(self)


def divergence_from_stats(stats: SplitStats, config: SummaryConfig) -> DivergenceScore:
    return DivergenceScore(
        step=stats.step,
        split=stats.split,
        n_tokens=stats.n_tokens,
        divergent_share=stats.divergent_share,
        mean_nll=stats.nll,
        score=stats.divergent_nll,
        definition=SCORE_DEFINITION.format(cap=config.nll_cap, p=config.divergent_p),
    )


def divergence_score(source: TokenStore | TokenSummary, split: str = "train") -> DivergenceScore | None:
    """The divergence at the first stored step of `split` (None if the store lacks that split).

    Given a store, only its first step file is read.
    """
    summary = source if isinstance(source, TokenSummary) else summarize_store(source, first_step_only=True)
    rows = summary.rows.get(split) or []
    if not rows:
        return None
    return divergence_from_stats(rows[0], summary.config)
