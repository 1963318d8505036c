"""Statistics of one split at one step, computed from its 65,536-bin key histogram."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from phasewatch.tokens.keys import KeyCodec
from phasewatch.tokens.writer import SPLITS

#: Histogram slots: one per split, and one for tokens in no sequence (validated, then dropped).
NO_SPLIT = len(SPLITS)
N_SLOTS = len(SPLITS) + 1


@dataclass(frozen=True)
class SummaryConfig:
    """Thresholds and streaming parameters of the summary pass."""

    divergent_p: float = 0.05
    """A token is divergent when the policy's p of the expert token is below this."""
    mastered_p: float = 0.95
    """A token is mastered when p is above this."""
    learned_p: float = 0.5
    """A token is learned at the first stored step where p is above this."""
    quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    """Quantiles of p reported per step."""
    nll_cap: float = 30.0
    """Cap on -log p in the divergent NLL mass, so one p ~ 1e-300 token cannot dominate."""
    chunk_tokens: int = 1 << 20
    """Most tokens per window read and counted at once (2 MB of float16)."""
    workers: int | None = None
    """Worker processes counting windows; None = the CPUs this process may use (at most 8)."""
    process_min_bytes: int = 256 << 20
    """Stores with fewer bytes of step files to read are summarised in this process: starting
    worker processes (~0.1-0.2 s) would cost more than it saves. 0 = always use workers."""

    def __post_init__(self) -> None:
        for name in ("divergent_p", "mastered_p", "learned_p"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        if not self.quantiles or not all(0 <= q <= 1 for q in self.quantiles):
            raise ValueError(f"quantiles must be in [0, 1], got {self.quantiles}")
        if self.chunk_tokens < 1 or self.nll_cap <= 0:
            raise ValueError("chunk_tokens must be >= 1 and nll_cap > 0")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1 (or None for all CPUs), got {self.workers}")
        if self.process_min_bytes < 0:
            raise ValueError(f"process_min_bytes must be >= 0, got {self.process_min_bytes}")


@dataclass
class SplitStats:
    """Summary of one split's expert tokens at one step. `p` is the policy's probability."""

    step: int
    split: str
    n_tokens: int
    mean_logprob: float
    logprob_std: float
    p_quantiles: dict[str, float]
    divergent_share: float
    mastered_share: float
    mean_phi: float
    mean_binary_entropy: float
    divergent_nll: float
    newly_learned_share: float | None = None
    """Share of this split's tokens first reaching p > learned_p at this step (None: not tracked)."""
    learned_share: float | None = None
    """Share that has reached p > learned_p at this step or before."""

    @property
    def nll(self) -> float:
        """Mean negative log-likelihood of the expert tokens (nats per token)."""
        return -self.mean_logprob

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("split")
        out["nll"] = self.nll
        return out


def quantile_label(q: float) -> str:
    """0.05 -> 'p05', 0.5 -> 'p50', 0.975 -> 'p97.5'."""
    pct = q * 100
    return f"p{round(pct):02d}" if abs(pct - round(pct)) < 1e-9 else f"p{pct:g}"


@dataclass(frozen=True)
class HistogramTables:
    """Per-key quantities in ascending order of log p, to turn a histogram into statistics."""

    order: np.ndarray  # keys sorted by value (valid keys only)
    logp: np.ndarray
    p: np.ndarray
    phi: np.ndarray
    entropy: np.ndarray
    divergent_nll: np.ndarray
    divergent_end: int  # sorted positions [:divergent_end] have p < divergent_p
    mastered_start: int  # sorted positions [mastered_start:] have p > mastered_p


def histogram_tables(codec: KeyCodec, config: SummaryConfig) -> HistogramTables:
    logp = codec.values[codec.order]
    p = np.exp(logp)
    one_minus_p = -np.expm1(logp)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -p * logp - np.where(one_minus_p > 0, one_minus_p * np.log(one_minus_p), 0.0)
    divergent_end = int(np.searchsorted(logp, math.log(config.divergent_p), side="left"))
    mastered_start = int(np.searchsorted(logp, math.log(config.mastered_p), side="right"))
    divergent_nll = np.minimum(-logp, config.nll_cap)
    divergent_nll[divergent_end:] = 0.0
    return HistogramTables(
        codec.order, logp, p, p * one_minus_p, entropy, divergent_nll, divergent_end, mastered_start
    )


def stats_from_histogram(
    counts: np.ndarray, step: int, split: str, tables: HistogramTables, config: SummaryConfig
) -> SplitStats:
    """Statistics of one split at one step from its key histogram (length 65,536, key order)."""
    sorted_counts = counts[tables.order]
    nonzero = np.flatnonzero(sorted_counts)
    weights = sorted_counts[nonzero].astype(np.float64)
    n = int(sorted_counts.sum())
    if n == 0:
        nan = float("nan")
        return SplitStats(step, split, 0, nan, nan, {quantile_label(q): nan for q in config.quantiles},
                          nan, nan, nan, nan, nan)
    logp = tables.logp[nonzero]
    mean = _weighted_sum(weights, logp) / n
    std = math.sqrt(max(_weighted_sum(weights, (logp - mean) ** 2) / n, 0.0))
    cumulative = np.cumsum(sorted_counts[nonzero])
    p = tables.p[nonzero]
    quantiles = {}
    for q in config.quantiles:
        # np.quantile's default (linear): interpolate between order statistics floor(h), floor(h)+1.
        h = (n - 1) * q
        lo = math.floor(h)
        i_lo = int(np.searchsorted(cumulative, lo, side="right"))
        i_hi = int(np.searchsorted(cumulative, min(lo + 1, n - 1), side="right"))
        quantiles[quantile_label(q)] = float(p[i_lo] + (h - lo) * (p[i_hi] - p[i_lo]))
    return SplitStats(
        step=step,
        split=split,
        n_tokens=n,
        mean_logprob=mean,
        logprob_std=std,
        p_quantiles=quantiles,
        divergent_share=float(sorted_counts[: tables.divergent_end].sum()) / n,
        mastered_share=float(sorted_counts[tables.mastered_start:].sum()) / n,
        mean_phi=_weighted_sum(weights, tables.phi[nonzero]) / n,
        mean_binary_entropy=_weighted_sum(weights, tables.entropy[nonzero]) / n,
        divergent_nll=_weighted_sum(weights, tables.divergent_nll[nonzero]) / n,
    )


def _weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """sum(weights * values) without BLAS: `weights @ values` goes through the BLAS thread pool,
    whose spinning threads took ~12 ms per call and stole the counting threads' CPU on a busy
    machine (measured), for a 65,536-element product that numpy sums in microseconds."""
    return float(np.multiply(weights, values).sum())
