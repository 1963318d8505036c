"""The summary pass in C: one call per step reads the file, counts it and reduces it (`_count.c`).

Why: `phasewatch tokens` is judged end to end, process start included, and most of its time was
fixed costs around the pass: the numpy import alone was half of what 1.5 GB/s allows for a
480 MB store. This path imports no numpy: the store is opened without it (`store`), and one
C call per step reads the step file with `pread` into a cache-sized buffer per thread (no page
faults, and a file truncated meanwhile is a short read, not a SIGBUS), counts the 16-bit keys
per split into 65,536-bin histograms, sets the learned-at bits (one per token), and reduces the histograms to
a few sums per split (n, sums of log p, of squared deviations, of phi, entropy and capped
divergent NLL, the divergent and mastered counts, the p of the order statistics the quantiles
need). `threads` threads count contiguous shares of the tokens with the GIL released. Python
then divides (`stats`), with the same arithmetic as the numpy pass (`numpy_pass`), which runs
when the extension was not built: the numbers are the same (the tests compare them).
"""

from __future__ import annotations

import math

from phasewatch.errors import InputError
from phasewatch.tokens.layout import SPLITS
from phasewatch.tokens.slots import slot_runs
from phasewatch.tokens.stats import (
    N_SLOTS,
    SplitStats,
    SummaryConfig,
    empty_stats,
    quantile,
    quantile_label,
    quantile_ranks,
)
from phasewatch.tokens.store import StepFile, TokenStore

try:
    from phasewatch.tokens import _count
except ImportError:  # built without a C compiler: the numpy pass does the same work
    _count = None

KERNELS = ("auto", "compiled", "numpy")


def compiled_available() -> bool:
    return _count is not None


def resolve(kernel: str) -> str:
    """"auto" -> "compiled" when the extension is built, else "numpy"."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if kernel == "auto":
        return "compiled" if _count is not None else "numpy"
    if kernel == "compiled" and _count is None:
        raise ValueError(
            "the compiled token pass is not built (phasewatch/tokens/_count.c); reinstall with a "
            "C compiler present (`pip install -e .`), or use kernel='numpy'"
        )
    return kernel


class FusedPass:
    """`step(file)` -> `(invalid?, {slot: SplitStats}, newly learned per slot)`, steps in order
    (the learned-at state, one byte per token, carries from step to step)."""

    def __init__(self, store: TokenStore, config: SummaryConfig, track_learned: bool, threads: int):
        self.store, self.config, self.threads = store, config, threads
        self.tables = _count.tables(store.files[0].itemsize if store.files else 2, config.divergent_p,
                                    config.mastered_p, config.learned_p, config.nll_cap)
        self.ends, self.slots = slot_runs(store)
        self.seen = bytearray((store.n_tokens + 63) // 64 * 8) if track_learned else None  # bit per token
        # Tokens per slot are fixed by the index, so the order statistics each quantile needs
        # are known before any step is read (a step with an invalid value stops the pass).
        counts = [0] * N_SLOTS
        previous = 0
        for end, slot in zip(self.ends, self.slots):
            counts[slot] += end - previous
            previous = end
        self.n = counts
        self.ranks = tuple(
            tuple(sorted({k for q in config.quantiles for k in quantile_ranks(q, n)[:2]})) if n else ()
            for n in counts
        )

    def step(self, file: StepFile) -> tuple[bool, dict[int, SplitStats], list[int]]:
        try:
            n_invalid, per_slot = _count.step(
                self.tables, str(file.path), file.data_offset, self.store.n_tokens, self.ends,
                self.slots, self.seen, self.ranks, self.threads, self.config.chunk_tokens,
            )
        except EOFError as exc:
            raise InputError(
                f"cannot read tokens from {exc}: the file ends early; it changed or was truncated "
                "after the store was opened", file.path,
            ) from None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", file.path) from None
        if n_invalid:
            return True, {}, []
        stats = {}
        for slot, split in enumerate(SPLITS):
            stats[slot] = self._stats(file.step, split, slot, per_slot[slot])
        return False, stats, [row[9] for row in per_slot]

    def _stats(self, step: int, split: str, slot: int, sums: tuple) -> SplitStats:
        n, _n_zero, total, squares, phi, entropy, div_nll, n_div, n_mast, _newly, ps = sums
        if n == 0:
            return empty_stats(step, split, self.config)
        if n != self.n[slot]:  # every token of the slot is valid here, so all were counted
            raise RuntimeError(f"the compiled pass counted {n} tokens of {split}, the index has {self.n[slot]}")
        by_rank = dict(zip(self.ranks[slot], ps))
        mean = total / n
        return SplitStats(
            step=step,
            split=split,
            n_tokens=n,
            mean_logprob=mean,
            logprob_std=math.sqrt(max(squares / n, 0.0)),
            p_quantiles={quantile_label(q): quantile(q, n, by_rank.__getitem__) for q in self.config.quantiles},
            divergent_share=n_div / n,
            mastered_share=n_mast / n,
            mean_phi=phi / n,
            mean_binary_entropy=entropy / n,
            divergent_nll=div_nll / n,
        )
