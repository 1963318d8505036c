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
    chunk_tokens: int = 1 << 18
    """Most tokens per window read and counted at once (512 KB of float16: it stays in the
    core's cache between the read and the count)."""
    workers: int | None = None
    """Lane threads counting tokens; None = the CPUs this process may use (at most 8)."""
    kernel: str = "auto"
    """Counting kernel: "compiled" (built at install with a C compiler), "numpy" (its twin,
    slower), or "auto" (compiled when built)."""

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
        if self.kernel not in ("auto", "compiled", "numpy"):
            raise ValueError(f"kernel must be 'auto', 'compiled' or 'numpy', got {self.kernel!r}")


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


#: First key of the negative values (-0.0); +0.0 is key 0.
NEGATIVE = 0x8000


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
        nan = float("nan")
        return SplitStats(step, split, 0, nan, nan, {quantile_label(q): nan for q in config.quantiles},
                          nan, nan, nan, nan, nan)
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
    quantiles = {quantile_label(q): _quantile(q, n, n_zero, descending, p_block)
                 for q in config.quantiles}
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


def _quantile(q: float, n: int, n_zero: int, descending: np.ndarray, p_block: np.ndarray) -> float:
    """`np.quantile(p, q)` (method linear) with numpy's own float operations, from the +0 count
    and the cumulative counts of the other values in descending order."""
    virtual = (n - 1) * q  # numpy's virtual index for method="linear"
    if virtual >= n - 1:
        return _order_statistic(n - 1, n, n_zero, descending, p_block)
    below = max(math.floor(virtual), 0)
    a = _order_statistic(below, n, n_zero, descending, p_block)
    b = _order_statistic(below + 1, n, n_zero, descending, p_block)
    gamma = virtual - below
    diff = b - a
    return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)  # numpy's _lerp


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
