"""Token-level signals for the phase detector, one series per signal indexed by step.

- `tokens/nll_train`, `tokens/nll_heldout`: mean NLL of the expert tokens per split;
- `tokens/nll_gap` = heldout - train: rises while the expert set is memorised (overfit);
- `tokens/divergent_share_train|heldout`: share of expert tokens with p < 0.05 (disruption
  starts where the policy finds the expert very unlikely);
- `tokens/mastered_share_train`, `tokens/mean_phi_train`, `tokens/p50_train`,
  `tokens/divergent_nll_train` (the divergence score's quantity, per step).

`step_signals_for_run` gives them as numpy `StepSeries` (what `analyze` uses: no pandas on its
path); `signals_for_run` as `pandas.Series`, the same values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phasewatch.stepseries import StepSeries
from phasewatch.tokens.store import open_store
from phasewatch.tokens.summary import SummaryConfig, TokenSummary, summarize_store

if TYPE_CHECKING:
    import pandas as pd

PER_SPLIT = ("nll", "divergent_share")
TRAIN_ONLY = ("mastered_share", "mean_phi", "p50", "divergent_nll")


def step_signals(summary: TokenSummary) -> dict[str, StepSeries]:
    """The signals of a summary as numpy arrays, in the order of its rows (steps)."""
    out: dict[str, StepSeries] = {}
    for split, rows in summary.rows.items():
        if not rows:
            continue
        records = []  # a row as `TokenSummary.frame` has it: the quantiles as columns
        for row in rows:
            record = row.to_dict()
            record.update(record.pop("p_quantiles"))
            records.append(record)
        steps = np.array([record["step"] for record in records], dtype=np.int64)
        for column in PER_SPLIT + (TRAIN_ONLY if split == "train" else ()):
            name = f"tokens/{column}_{split}"
            values = np.array([record[column] for record in records], dtype=np.float64)
            out[name] = StepSeries(name, steps, values)
    held, train = out.get("tokens/nll_heldout"), out.get("tokens/nll_train")
    if held is not None and train is not None:
        if np.array_equal(held.steps, train.steps):
            steps, gap = held.steps, held.values - train.values
        else:  # aligned on the union of the steps (NaN where a split has no value), sorted
            steps = np.union1d(held.steps, train.steps)
            gap = np.full(steps.size, np.nan)
            both, at_held, at_train = np.intersect1d(held.steps, train.steps, return_indices=True)
            gap[np.searchsorted(steps, both)] = held.values[at_held] - train.values[at_train]
        out["tokens/nll_gap"] = StepSeries("tokens/nll_gap", steps, gap)
    return out


def signals_from_summary(summary: TokenSummary) -> dict[str, pd.Series]:
    """`step_signals` as `pandas.Series` indexed by step."""
    return {name: series.to_pandas() for name, series in step_signals(summary).items()}


def step_signals_for_run(run, warnings: list[str] | None = None,
                         config: SummaryConfig | None = None) -> dict[str, StepSeries]:
    """Token signals of a run with a token store (`run.token_store`), else `{}`.

    Store warnings (skipped files, missing steps) are appended to `warnings` when given.
    Raises `InputError` for an unusable store.
    """
    if getattr(run, "token_store", None) is None:
        return {}
    summary = summarize_store(open_store(run.token_store), config)
    if warnings is not None:
        warnings.extend(f"expert_logprobs/{w}" for w in summary.warnings)
    return step_signals(summary)


def signals_for_run(run, warnings: list[str] | None = None,
                    config: SummaryConfig | None = None) -> dict[str, pd.Series]:
    """`step_signals_for_run` as `pandas.Series` indexed by step."""
    return {name: series.to_pandas()
            for name, series in step_signals_for_run(run, warnings, config).items()}
