"""What the summary pass reports per split and step, and the arithmetic both passes share.

numpy-free: the compiled pass (`fused`) reduces a step to a few sums in C and builds its
`SplitStats` here; the numpy pass (`histogram`) builds them from a histogram with the same
formulas. `histogram_tables` and `stats_from_histogram` are re-exported from `histogram`
(imported on first use: it needs numpy).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from phasewatch.tokens.layout import SPLITS

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
    """Threads of the compiled pass, each counting a contiguous share of a step's tokens;
    None = the CPUs this process may use (at most 8). The numpy pass runs in one thread."""
    kernel: str = "auto"
    """"compiled" (the C pass, built at install with a C compiler), "numpy" (its twin, slower;
    the same numbers), or "auto" (compiled when built)."""

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
        # Field by field, not `asdict` (which deep-copies every value): the `tokens` JSON has a
        # row per split and step, and asdict took a tenth of the command's Python time.
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "split"}
        out["p_quantiles"] = dict(self.p_quantiles)
        out["nll"] = self.nll
        return out


def quantile_label(q: float) -> str:
    """0.05 -> 'p05', 0.5 -> 'p50', 0.975 -> 'p97.5'."""
    pct = q * 100
    return f"p{round(pct):02d}" if abs(pct - round(pct)) < 1e-9 else f"p{pct:g}"


def quantile_ranks(q: float, n: int) -> tuple[int, int, float]:
    """numpy's method="linear" for `np.quantile(x, q)` of n values: the two order statistics
    (0-based, smallest first) it interpolates between and the weight of the second."""
    virtual = (n - 1) * q  # numpy's virtual index
    if virtual >= n - 1:
        return n - 1, n - 1, 0.0
    below = max(math.floor(virtual), 0)
    return below, below + 1, virtual - below


def quantile(q: float, n: int, order_statistic: Callable[[int], float]) -> float:
    """`np.quantile(x, q)` (method linear) with numpy's own float operations (its `_lerp`),
    given the k-th smallest value of x for any k."""
    below, above, gamma = quantile_ranks(q, n)
    a = order_statistic(below)
    if above == below:
        return float(a)
    b = order_statistic(above)
    diff = b - a
    return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)


def empty_stats(step: int, split: str, config: SummaryConfig) -> SplitStats:
    nan = float("nan")
    return SplitStats(step, split, 0, nan, nan, {quantile_label(q): nan for q in config.quantiles},
                      nan, nan, nan, nan, nan)


#: First key of the negative values (-0.0); +0.0 is key 0.
NEGATIVE = 0x8000

_NUMPY_NAMES = ("HistogramTables", "histogram_tables", "stats_from_histogram")


def __getattr__(name: str) -> Any:
    if name in _NUMPY_NAMES:
        return getattr(importlib.import_module("phasewatch.tokens.histogram"), name)
    raise AttributeError(f"module 'phasewatch.tokens.stats' has no attribute {name!r}")
