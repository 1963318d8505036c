"""Token-level signals for the phase detector, one `pd.Series` per signal indexed by step.

- `tokens/nll_train`, `tokens/nll_heldout`: mean NLL of the expert tokens per split;
- `tokens/nll_gap` = heldout - train: rises while the expert set is memorised (overfit);
- `tokens/divergent_share_train|heldout`: share of expert tokens with p < 0.05 (disruption
  starts where the policy finds the expert very unlikely);
- `tokens/mastered_share_train`, `tokens/mean_phi_train`, `tokens/p50_train`,
  `tokens/divergent_nll_train` (the divergence score's quantity, per step).
"""

from __future__ import annotations

import pandas as pd

from phasewatch.tokens.store import open_store
from phasewatch.tokens.summary import SummaryConfig, TokenSummary, summarize_store

PER_SPLIT = ("nll", "divergent_share")
TRAIN_ONLY = ("mastered_share", "mean_phi", "p50", "divergent_nll")


def signals_from_summary(summary: TokenSummary) -> dict[str, pd.Series]:
    frames = {split: summary.frame(split) for split in summary.rows}
    out: dict[str, pd.Series] = {}
    for split, frame in frames.items():
        if frame.empty:
            continue
        columns = PER_SPLIT + (TRAIN_ONLY if split == "train" else ())
        for column in columns:
            name = f"tokens/{column}_{split}"
            out[name] = frame[column].astype(float).rename(name)
    if "tokens/nll_train" in out and "tokens/nll_heldout" in out:
        gap = out["tokens/nll_heldout"] - out["tokens/nll_train"]
        out["tokens/nll_gap"] = gap.rename("tokens/nll_gap")
    return out


def signals_for_run(run, warnings: list[str] | None = None,
                    config: SummaryConfig | None = None) -> dict[str, pd.Series]:
    """Token signals of a run with a token store (`run.token_store`), else `{}`.

    Store warnings (skipped files, missing steps) are appended to `warnings` when given.
    Raises `InputError` for an unusable store.
    """
    if getattr(run, "token_store", None) is None:
        return {}
    summary = summarize_store(open_store(run.token_store), config)
    if warnings is not None:
        warnings.extend(f"expert_logprobs/{w}" for w in summary.warnings)
    return signals_from_summary(summary)
