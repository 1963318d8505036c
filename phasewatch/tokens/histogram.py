"""The numpy pass's statistics: one split at one step from its 65,536-bin key histogram.

The compiled pass computes the same sums in C (`_count.c`); both build `SplitStats` with the
arithmetic of `stats` (quantiles, the divisions), so they give the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasewatch.tokens.keys import KeyCodec
from phasewatch.tokens.stats import (
    NEGATIVE,
    SplitStats,
    SummaryConfig,
    empty_stats,
    quantile,
    quantile_label,
)


@dataclass(frozen=True)
class HistogramTables:
    """Per-key quantities over the valid negative keys `[NEGATIVE, limit)`, in key order.

    In that block the value falls as the key grows (sign-magnitude floats), so a key range is a
    value range: shares at a threshold are sums over a key range, and the ascending order of
    values is the block reversed. The one other valid key, +0 (key 0), has log p = 0, p = 1,
    phi = entropy = 0: it only counts, and is mastered. No table lookup by a gathered index:
    `stats_from_histogram` works on views of the histogram, which costs a fraction of gathering
    all 65,536 counts into sorted order at every split and step.
    """

    limit: int  # first invalid key after the negative block (-inf)
    logp: np.ndarray
    p: np.ndarray
    phi: np.ndarray
    entropy: np.ndarray
    divergent_nll: np.ndarray
    divergent_from: int  # keys [divergent_from, limit) have p < divergent_p
    mastered_to: int  # keys [NEGATIVE, mastered_to) (and +0) have p > mastered_p


def histogram_tables(codec: KeyCodec, config: SummaryConfig) -> HistogramTables:
    logp = codec.values[NEGATIVE : codec.neg_inf_key].copy()
    p = np.exp(logp)
    one_minus_p = -np.expm1(logp)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -p * logp - np.where(one_minus_p > 0, one_minus_p * np.log(one_minus_p), 0.0)
    # Thresholds on p itself (as `np.exp(x) < 0.05` would), so that shares equal a plain numpy
    # computation on the same values; p falls as the key grows, so each is one key range.
    divergent_from = NEGATIVE + int(np.count_nonzero(p >= config.divergent_p))
    mastered_to = NEGATIVE + int(np.count_nonzero(p > config.mastered_p))
    divergent_nll = np.minimum(-logp, config.nll_cap)
    divergent_nll[: divergent_from - NEGATIVE] = 0.0
    return HistogramTables(codec.neg_inf_key, logp, p, p * one_minus_p, entropy, divergent_nll,
                           divergent_from, mastered_to)


def stats_from_histogram(
    counts: np.ndarray, step: int, split: str, tables: HistogramTables, config: SummaryConfig
) -> SplitStats:
    """Statistics of one split at one step from its key histogram (length 65,536, key order).

    Counts of invalid keys are ignored (the pass raises on them before). For float16 the values
    are exact: n, shares and quantiles equal numpy's on the same values bit for bit (the
    quantiles follow `np.quantile`'s own arithmetic), and so does the mean while the sum of log p
    stays below 2**29 in magnitude (every partial sum of float16 values is then exact in float64,
    here and in numpy's pairwise sum); std, phi, entropy: within float64 rounding.
    """
    negative = counts[NEGATIVE : tables.limit]
    n_zero = int(counts[0])
    n = int(negative.sum()) + n_zero
    if n == 0:
        return empty_stats(step, split, config)
    occupied = negative != 0  # the keys in use: a narrow block for real data
    lo, hi = int(occupied.argmax()), occupied.size - int(occupied[::-1].argmax())
    weights = negative[lo:hi].astype(np.float64)  # exact: counts below 2**53
    logp = tables.logp[lo:hi]
    mean = _dot(weights, logp) / n
    centred = logp - mean
    variance = (np.einsum("i,i,i->", weights, centred, centred) + n_zero * mean * mean) / n
    # Descending values: +0 first, then the block in key order.
    descending = np.cumsum(negative[lo:hi], dtype=np.int64)  # int64: searchsorted by a Python int
    p_block = tables.p[lo:hi]

    def order_statistic(k: int) -> float:
        return _order_statistic(k, n, n_zero, descending, p_block)

    quantiles = {quantile_label(q): quantile(q, n, order_statistic) for q in config.quantiles}
    return SplitStats(
        step=step,
        split=split,
        n_tokens=n,
        mean_logprob=mean,
        logprob_std=math.sqrt(max(variance, 0.0)),
        p_quantiles=quantiles,
        divergent_share=int(counts[tables.divergent_from : tables.limit].sum()) / n,
        mastered_share=(int(counts[NEGATIVE : tables.mastered_to].sum()) + n_zero) / n,
        mean_phi=_dot(weights, tables.phi[lo:hi]) / n,
        mean_binary_entropy=_dot(weights, tables.entropy[lo:hi]) / n,
        divergent_nll=_dot(weights, tables.divergent_nll[lo:hi]) / n,
    )


def _order_statistic(k: int, n: int, n_zero: int, descending: np.ndarray, p_block: np.ndarray) -> float:
    """p of the k-th smallest value (0-based): the (n - 1 - k)-th largest."""
    rank = n - 1 - k - n_zero
    if rank < 0:
        return 1.0  # +0
    return float(p_block[int(np.searchsorted(descending, rank, side="right"))])


def _dot(weights: np.ndarray, values: np.ndarray) -> float:
    """sum(weights * values) without BLAS: `weights @ values` goes through the BLAS thread pool,
    whose spinning threads took ~12 ms per call and stole the counting threads' CPU on a busy
    machine (measured); einsum sums in numpy's own loop."""
    return float(np.einsum("i,i->", weights, values))
