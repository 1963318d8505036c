"""The jobs `bench_tokens.py` runs in child processes (`bench_tokens.py --child KIND ARGS...`),
each giving one JSON result: a store built, the pass alone timed, the numpy baseline, numba's
costs, one step's primitives. Fresh processes keep the parent small and each job's imports and
memory its own (see `bench_tokens.timed_command`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]


def child_build(folder: str, tokens_per_step: int, n_steps: int, interleaved: bool) -> dict:
    """Sequences of 200-1800 tokens; train first, then held-out (or every fifth held out)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from phasewatch.tokens import TokenStoreWriter

    rng = np.random.default_rng(0)
    lengths = rng.integers(200, 1800, size=tokens_per_step // 1000 + 10)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), tokens_per_step)]
    lengths = np.append(lengths, tokens_per_step - lengths.sum())
    lengths = lengths[lengths > 0]
    n_train = int(0.8 * lengths.size)
    if interleaved:
        split = ["heldout" if i % 5 == 0 else "train" for i in range(lengths.size)]
    else:
        split = ["train" if i < n_train else "heldout" for i in range(lengths.size)]
    seqs = [{"id": f"ex{i}", "split": s, "length": int(n)} for i, (s, n) in enumerate(zip(split, lengths))]
    base = -rng.exponential(3.0, tokens_per_step).astype(np.float32)
    rate = rng.uniform(0.5, 2.0, tokens_per_step).astype(np.float32)
    with TokenStoreWriter(Path(folder) / "expert_logprobs", seqs, dtype="float16") as writer:
        for i in range(n_steps):
            writer.append(i * 10, base * np.exp(-rate * i / n_steps * 3))
    return {"sequences": len(seqs)}


def child_pass(folder: str, kernel: str = "auto") -> dict:
    """The pass alone: imports and opening the store are outside the clock."""
    sys.path.insert(0, str(ROOT))
    from phasewatch.tokens import SummaryConfig, open_store, summarize_store
    from phasewatch.tokens.fused import resolve

    if kernel == "numpy":  # its imports (numpy) outside the clock too
        import phasewatch.tokens.numpy_pass  # noqa: F401
    store = open_store(folder)
    t0, cpu0 = time.perf_counter(), time.process_time()
    summary = summarize_store(store, SummaryConfig(kernel=kernel))
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0,
            "bytes": sum(f.path.stat().st_size for f in store.files), "steps": len(summary.steps),
            "kernel": resolve(kernel)}


def child_baseline(folder: str, max_steps: int) -> dict:
    """The obvious numpy program; also returns its statistics, to check phasewatch's."""
    t_start = time.perf_counter()
    import numpy as np

    store = Path(folder) / "expert_logprobs"
    index = json.loads((store / "index.json").read_text())
    masks = {}
    for split in ("train", "heldout"):
        m = np.zeros(index["n_tokens"], bool)
        for s in index["sequences"]:
            if s["split"] == split:
                m[s["offset"] : s["offset"] + s["length"]] = True
        masks[split] = m
    files = sorted(store.glob("step_*.npy"))[: max_steps or None]
    t0 = time.perf_counter()
    n_bytes = 0
    rows: dict[str, list[dict]] = {"train": [], "heldout": []}
    for path in files:
        logp = np.load(path, allow_pickle=False).astype(np.float64)
        n_bytes += path.stat().st_size
        for split, m in masks.items():
            x = logp[m]
            p = np.exp(x)
            rows[split].append({
                "n_tokens": int(x.size), "mean_logprob": float(x.mean()), "logprob_std": float(x.std()),
                "p_quantiles": np.quantile(p, QUANTILES).tolist(),
                "divergent_share": float(np.mean(p < 0.05)), "mastered_share": float(np.mean(p > 0.95)),
                "mean_phi": float(np.mean(p * (1 - p))),
            })
    end = time.perf_counter()
    return {"seconds": end - t0, "end_to_end_seconds": end - t_start, "bytes": n_bytes,
            "steps": len(files), "rows": rows}


def child_numba(tokens: int) -> dict:
    t0 = time.perf_counter()
    import numpy as np

    t1 = time.perf_counter()
    import numba

    t2 = time.perf_counter()

    @numba.njit(nogil=True, cache=True)
    def histogram(keys, out):  # pragma: no cover - compiled
        for i in range(keys.size):
            out[keys[i]] += 1

    keys = np.random.default_rng(0).integers(0x8000, 0xA000, tokens).astype(np.uint16)
    out = np.zeros(1 << 16, dtype=np.int64)
    t3 = time.perf_counter()
    histogram(keys[:10], out)
    t4 = time.perf_counter()
    best = min(_timed(histogram, keys, out) for _ in range(5))
    return {"numpy": t1 - t0, "numba": t2 - t1, "first_call": t4 - t3, "ns_per_token": best / tokens * 1e9}


def child_primitives(folder: str) -> dict:
    """ns per token (wall) of one real step: `np.bincount` of its keys (in memory), and the
    compiled pass's call for the step (read, count, learned-at, sums) on 1 and 2 threads."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from phasewatch.tokens import SummaryConfig, open_store
    from phasewatch.tokens.fused import FusedPass, compiled_available

    store = open_store(folder)
    file = store.files[len(store.files) // 2]
    keys = np.load(file.path).view(np.uint16)

    def best(work, rounds: int = 5) -> float:
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            work()
            times.append(time.perf_counter() - t0)
        return min(times) / keys.size * 1e9

    out = {"np.bincount (in memory)": [best(lambda: np.bincount(keys, minlength=1 << 16))]}
    if compiled_available():
        engines = [FusedPass(store, SummaryConfig(), True, threads) for threads in (1, 2)]
        out["compiled pass, one step"] = [best(lambda e=engine: e.step(file)) for engine in engines]
    return out


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def child_result(child: list[str]) -> dict:
    """The result of the child job `child` names: KIND, then its arguments as strings."""
    kind, rest = child[0], child[1:]
    if kind == "build":
        return child_build(rest[0], int(rest[1]), int(rest[2]), rest[3] == "1")
    if kind == "pass":
        return child_pass(*rest)
    if kind == "baseline":
        return child_baseline(rest[0], int(rest[1]))
    if kind == "primitives":
        return child_primitives(rest[0])
    return child_numba(int(rest[0]))
