"""The summary pass over thread lanes: same results as one lane, a numpy reference on an
interleaved store, errors in lane order, no thread left behind."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from test_tokens_summary import fragmented_store

from phasewatch.errors import InputError
from phasewatch.tokens import SummaryConfig, TokenStoreWriter, open_store, summarize_store
from phasewatch.tokens.counting import compiled_available
from phasewatch.tokens.windows import lane_ranges


def lane_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("phasewatch-lane")]


def test_lane_ranges_cover_the_tokens_in_whole_windows():
    for n, lanes, chunk in [(8_000_000, 2, 1 << 20), (10, 4, 3), (9, 2, 1), (5, 8, 100), (1, 3, 7)]:
        ranges, size = lane_ranges(n, lanes, chunk)
        assert ranges[0][0] == 0 and ranges[-1][1] == n and 1 <= size <= chunk
        assert all(b == c for (_, b), (c, _) in itertools.pairwise(ranges))
        assert all(a % size == 0 for a, _ in ranges) and len(ranges) == min(lanes, n)


@pytest.mark.parametrize("chunk_tokens, workers", [(1 << 20, 2), (37, 3), (500, 2)])
def test_threads_give_exactly_the_single_lane_result(tmp_path, chunk_tokens, workers):
    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    alone = summarize_store(store, SummaryConfig(workers=1, chunk_tokens=chunk_tokens))
    pooled = summarize_store(store, SummaryConfig(workers=workers, chunk_tokens=chunk_tokens))
    assert pooled.rows == alone.rows and pooled.learned_at == alone.learned_at
    assert pooled.steps == alone.steps
    assert not lane_threads()


@pytest.mark.parametrize("kernel", ["numpy", pytest.param("compiled", marks=pytest.mark.skipif(
    not compiled_available(), reason="the compiled kernel is not built (no C compiler at install)"))])
def test_interleaved_store_matches_a_plain_numpy_reference(tmp_path, kernel):
    """Every fifth sequence held out (the benchmark's layout), against boolean-mask numpy: the
    same numbers bit for bit (n, mean, quantiles, shares), std and phi to float64 rounding."""
    rng = np.random.default_rng(11)
    lengths = rng.integers(50, 400, 500)
    splits = np.array(["heldout" if i % 5 == 4 else "train" for i in range(lengths.size)])
    seqs = [{"id": f"s{i}", "split": str(s), "length": int(n)} for i, (s, n) in enumerate(zip(splits, lengths))]
    folder = tmp_path / "expert_logprobs"
    arrays = []
    with TokenStoreWriter(folder, seqs) as writer:
        for step in range(4):
            x = -rng.exponential(1.5 / (1 + step), int(lengths.sum()))
            writer.append(step, x)
            arrays.append(x.astype(np.float16).astype(np.float64))
    mask = np.repeat(splits == "train", lengths)
    summary = summarize_store(open_store(folder), SummaryConfig(workers=2, chunk_tokens=4096, kernel=kernel))
    for i, x in enumerate(arrays):
        for split, m in (("train", mask), ("heldout", ~mask)):
            row, v = summary.rows[split][i], x[m]
            p = np.exp(v)
            assert row.n_tokens == v.size
            assert row.mean_logprob == v.mean()
            assert list(row.p_quantiles.values()) == np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
            assert row.divergent_share == np.mean(p < 0.05) and row.mastered_share == np.mean(p > 0.95)
            assert row.logprob_std == pytest.approx(v.std(), rel=1e-13)
            assert row.mean_phi == pytest.approx(np.mean(p * (1 - p)), rel=1e-13)


def bad_value_store(tmp_path, bad=1.0):
    rng = np.random.default_rng(3)
    folder = tmp_path / "expert_logprobs"
    seqs = [{"id": f"s{i}", "split": "train" if i % 2 else "heldout", "length": 7} for i in range(300)]
    with TokenStoreWriter(folder, seqs) as writer:
        for step in range(5):
            writer.append(step, -rng.exponential(1.0, 2100))
    x = np.load(folder / "step_00000003.npy")
    x[1234] = bad  # in the second of 2 lanes: met first, at step 3
    x[1900] = bad
    np.save(folder / "step_00000003.npy", x)
    x = np.load(folder / "step_00000004.npy")
    x[10] = bad  # in the first lane, a step later
    np.save(folder / "step_00000004.npy", x)
    return folder


@pytest.mark.parametrize("bad", [1.0, float("nan"), float("-inf")])
def test_a_bad_value_in_a_thread_gives_the_in_process_error(tmp_path, bad):
    folder = bad_value_store(tmp_path, bad)
    store = open_store(folder)
    with pytest.raises(InputError) as alone:
        summarize_store(store, SummaryConfig(workers=1, chunk_tokens=256))
    with pytest.raises(InputError) as pooled:
        summarize_store(store, SummaryConfig(workers=2, chunk_tokens=256))
    assert str(pooled.value) == str(alone.value)
    assert pooled.value.path == str(folder / "step_00000003.npy")
    assert "step 3: token 1234 (sequence 's176' (heldout) token 2)" in str(pooled.value)
    assert not lane_threads()



def test_a_file_truncated_after_open_is_named(tmp_path):
    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    path = folder / "step_00000015.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(InputError, match="truncated after the store was opened") as info:
        summarize_store(store, SummaryConfig(workers=2, chunk_tokens=100))
    assert info.value.path == str(path)
    assert not lane_threads()


@pytest.mark.parametrize("workers", [1, 2])
def test_steps_too_long_for_32_bit_counts_get_more_lanes(tmp_path, monkeypatch, workers):
    """A lane counts in 32 bits; steps of more tokens are split into more lanes (run by the same
    threads) whose counts add up in 64 bits. Shown with the limit lowered to 1,000 tokens."""
    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    expected = summarize_store(store, SummaryConfig(workers=workers))
    monkeypatch.setattr("phasewatch.tokens.lane.MAX_LANE_TOKENS", 1000)
    monkeypatch.setattr("phasewatch.tokens.summary.MAX_LANE_TOKENS", 1000)
    assert store.n_tokens > 2000
    split = summarize_store(store, SummaryConfig(workers=workers, chunk_tokens=300))
    assert split.rows == expected.rows and split.learned_at == expected.learned_at
    assert not lane_threads()
