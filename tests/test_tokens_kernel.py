"""The counting kernel of the token pass: the compiled kernel, its numpy twin and a per-token
reference give the same integers; bad arguments are errors, never out-of-bounds writes."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.tokens import SummaryConfig, open_store, summarize_store
from phasewatch.tokens.counting import Runs, compiled_available, count, count_numpy, resolve
from phasewatch.tokens.keys import N_KEYS

N_SLOTS = 3
needs_compiled = pytest.mark.skipif(
    not compiled_available(),
    reason="the compiled kernel is not built (no C compiler at install time); the numpy twin is tested",
)


def random_runs(rng: np.random.Generator, n_tokens: int) -> Runs:
    lengths = rng.integers(1, 60, n_tokens)
    ends = np.cumsum(lengths)
    ends = ends[ends < n_tokens]
    ends = np.append(ends, n_tokens).astype(np.int64)
    return Runs(ends, rng.integers(0, N_SLOTS, ends.size).astype(np.uint8))


def reference(keys, first, runs: Runs, learn_keys, limit, seen):
    """Token by token: the definition the kernels must meet."""
    hist = np.zeros((N_SLOTS, N_KEYS), dtype=np.int64)
    newly = np.zeros(N_SLOTS, dtype=np.int64)
    seen = None if seen is None else seen.copy()
    starts = np.concatenate([[0], runs.ends[:-1]])
    for i, key in enumerate(keys.tolist()):
        token = first + i
        slot = int(runs.slots[np.searchsorted(starts, token, side="right") - 1])
        hist[slot, key] += 1
        if learn_keys is not None and learn_keys[i] < limit and not seen[i]:
            seen[i] = True
            newly[slot] += 1
    return hist, seen, newly


def run_kernel(kernel, keys, first, runs, learn_keys, limit, seen):
    hist = np.zeros((N_SLOTS, N_KEYS), dtype=np.uint32)
    newly = np.zeros(N_SLOTS, dtype=np.int64)
    seen = None if seen is None else seen.copy()
    if kernel == "numpy":
        count_numpy(keys, first, runs, hist, learn_keys, limit, seen, newly)
    else:
        count(kernel, keys, first, runs, hist, learn_keys, limit, seen, newly)
    return hist, seen, newly


@pytest.mark.parametrize("kernel", ["numpy", pytest.param("compiled", marks=needs_compiled)])
@pytest.mark.parametrize("tracking", [False, True])
def test_kernels_equal_the_per_token_reference(kernel, tracking):
    rng = np.random.default_rng(7)
    n_tokens = 5000
    runs = random_runs(rng, n_tokens)
    for first, size in [(0, n_tokens), (0, 1), (17, 900), (4999, 1), (1234, 0), (2500, 2500)]:
        keys = rng.integers(0, N_KEYS, size).astype(np.uint16)
        # the keys themselves (float16 stores) or 0/1 flags with limit 1 (float32 stores)
        learn_keys, limit = ((keys, 0xA000) if first % 2 else
                             ((rng.random(size) < 0.6).astype(np.uint16), 1)) if tracking else (None, 0)
        seen = rng.random(size) < 0.3 if tracking else None
        expected = reference(keys, first, runs, learn_keys, limit, seen)
        got = run_kernel(kernel, keys, first, runs, learn_keys, limit, seen)
        np.testing.assert_array_equal(got[0], expected[0])
        if tracking:
            np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(got[2], expected[2])


@needs_compiled
def test_compiled_equals_numpy_on_large_windows_and_accumulates():
    rng = np.random.default_rng(3)
    n_tokens = 300_000
    runs = random_runs(rng, n_tokens)
    hists = {k: np.zeros((N_SLOTS, N_KEYS), dtype=np.uint32) for k in ("numpy", "compiled")}
    seens = {k: np.zeros(n_tokens, dtype=bool) for k in hists}
    newlies = {k: np.zeros(N_SLOTS, dtype=np.int64) for k in hists}
    for _ in range(3):  # steps: counts accumulate, seen only grows
        keys = (rng.normal(0xA000, 3000, n_tokens).astype(np.int64) % N_KEYS).astype(np.uint16)
        for start in range(0, n_tokens, 70_001):  # windows starting inside runs
            stop = min(n_tokens, start + 70_001)
            for kernel, hist in hists.items():
                count(kernel, keys[start:stop], start, runs, hist, keys[start:stop], 0x9000,
                      seens[kernel][start:stop], newlies[kernel])
    np.testing.assert_array_equal(hists["compiled"], hists["numpy"])
    np.testing.assert_array_equal(seens["compiled"], seens["numpy"])
    np.testing.assert_array_equal(newlies["compiled"], newlies["numpy"])
    assert newlies["numpy"].sum() == seens["numpy"].sum()


@needs_compiled
@pytest.mark.parametrize("case, error", [
    ("runs short", ValueError), ("slot too large", ValueError), ("learn_keys without seen", ValueError),
    ("limit past 16 bits", ValueError), ("learn_keys of bytes", TypeError),
    ("keys int32", TypeError), ("hist int64", TypeError), ("hist read-only", (TypeError, ValueError, BufferError)),
    ("negative first", ValueError),
])
def test_compiled_kernel_rejects_bad_arguments(case, error):
    from phasewatch.tokens._count import count as compiled

    keys = np.arange(100, dtype=np.uint16)
    ends, slots = np.array([40, 100], dtype=np.int64), np.array([0, 1], dtype=np.uint8)
    hist = np.zeros((N_SLOTS, N_KEYS), dtype=np.uint32)
    newly = np.zeros(N_SLOTS, dtype=np.int64)
    learn_keys, limit, seen = None, 0, None
    first = 0
    if case == "runs short":
        ends = np.array([40, 99], dtype=np.int64)
    elif case == "slot too large":
        slots = np.array([0, N_SLOTS], dtype=np.uint8)
    elif case == "learn_keys without seen":
        learn_keys = keys
    elif case == "limit past 16 bits":
        learn_keys, limit, seen = keys, 1 << 16, np.zeros(100, dtype=bool)
    elif case == "learn_keys of bytes":
        learn_keys, seen = np.zeros(100, dtype=np.uint8), np.zeros(100, dtype=bool)
    elif case == "keys int32":
        keys = keys.astype(np.int32)
    elif case == "hist int64":
        hist = hist.astype(np.int64)
    elif case == "hist read-only":
        hist.flags.writeable = False
    elif case == "negative first":
        first = -1
    with pytest.raises(error):
        compiled(keys, first, ends, slots, hist, learn_keys, limit, seen, newly)


def test_resolve_names_the_kernels():
    assert resolve("numpy") == "numpy"
    assert resolve("auto") == ("compiled" if compiled_available() else "numpy")
    with pytest.raises(ValueError, match="kernel must be one of"):
        resolve("fortran")
    if not compiled_available():
        with pytest.raises(ValueError, match="not built"):
            resolve("compiled")


@needs_compiled
@pytest.mark.parametrize("workers", [1, 2])
def test_the_pass_gives_the_same_summary_with_either_kernel(tmp_path, workers):
    from test_tokens_summary import fragmented_store

    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    runs = {kernel: summarize_store(store, SummaryConfig(workers=workers, chunk_tokens=300, kernel=kernel))
            for kernel in ("numpy", "compiled")}
    assert runs["compiled"].rows == runs["numpy"].rows
    assert runs["compiled"].learned_at == runs["numpy"].learned_at
