"""Values of the per-step summaries on hand-made stores with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasewatch.tokens import (
    SummaryConfig,
    TokenStoreWriter,
    divergence_score,
    iter_step_summaries,
    open_store,
    summarize_store,
)

P_TRAIN = np.array([0.01, 0.2, 0.5, 0.9, 0.99])
P_HELDOUT = np.array([0.001, 0.04, 0.3])


def known_store(tmp_path, dtype="float32"):
    seqs = [{"id": "t0", "split": "train", "length": 2}, {"id": "t1", "split": "train", "length": 3},
            {"id": "h0", "split": "heldout", "length": 3}]
    folder = tmp_path / "expert_logprobs"
    with TokenStoreWriter(folder, seqs, dtype) as writer:
        writer.append(0, np.log(np.concatenate([P_TRAIN, P_HELDOUT])))
    return folder


def assert_p_close(value, p):
    """float32 stores: log p is known to a relative 2**-8 (bfloat16 key, midpoint value)."""
    assert abs(math.log(value) - math.log(p)) <= 2 ** -8 * abs(math.log(p)) + 1e-12


def test_known_values_float32(tmp_path):
    summary = summarize_store(open_store(known_store(tmp_path)))
    train = summary.rows["train"][0]
    assert train.n_tokens == 5
    tol = {"rel": 2 ** -8, "abs": 1e-6}  # float32 stores are summarised on bfloat16 keys
    assert train.mean_logprob == pytest.approx(np.log(P_TRAIN).mean(), **tol)
    assert train.nll == pytest.approx(-np.log(P_TRAIN).mean(), **tol)
    assert_p_close(train.p_quantiles["p50"], 0.5)
    assert_p_close(train.p_quantiles["p25"], 0.2)
    assert_p_close(train.p_quantiles["p75"], 0.9)
    # linear interpolation between 0.01 and 0.2 at h = 0.2 (in p, as np.quantile does)
    assert train.p_quantiles["p05"] == pytest.approx(0.01 + 0.2 * (0.2 - 0.01), rel=5e-3)
    assert train.divergent_share == pytest.approx(1 / 5)
    assert train.mastered_share == pytest.approx(1 / 5)
    assert train.mean_phi == pytest.approx(np.mean(P_TRAIN * (1 - P_TRAIN)), rel=3e-3)
    entropy = -(P_TRAIN * np.log(P_TRAIN) + (1 - P_TRAIN) * np.log(1 - P_TRAIN))
    assert train.mean_binary_entropy == pytest.approx(entropy.mean(), rel=3e-3)
    assert train.divergent_nll == pytest.approx(-np.log(0.01) / 5, rel=3e-3)
    held = summary.rows["heldout"][0]
    assert held.n_tokens == 3
    assert held.divergent_share == pytest.approx(2 / 3)
    assert held.mastered_share == 0
    assert_p_close(held.p_quantiles["p50"], 0.04)
    assert summary.precision.startswith("bfloat16")


def test_float16_statistics_equal_numpy_on_the_same_values(tmp_path):
    rng = np.random.default_rng(1)
    logp = np.concatenate([-rng.exponential(2.0, 5000), [0.0, -0.0, -1e-7, -20.0]])
    folder = tmp_path / "expert_logprobs"
    with TokenStoreWriter(folder, [{"id": "x", "split": "train", "length": logp.size}]) as writer:
        writer.append(0, logp)
    row = summarize_store(open_store(folder)).rows["train"][0]
    x = logp.astype(np.float16).astype(np.float64)  # exactly what the store holds
    p = np.exp(x)
    assert row.mean_logprob == pytest.approx(x.mean(), rel=1e-12)
    assert row.logprob_std == pytest.approx(x.std(), rel=1e-9)
    expected = np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95])
    np.testing.assert_allclose(list(row.p_quantiles.values()), expected, rtol=1e-12)
    assert row.divergent_share == np.mean(p < 0.05)
    assert row.mastered_share == np.mean(p > 0.95)
    assert row.mean_phi == pytest.approx(np.mean(p * (1 - p)), rel=1e-12)
    assert row.divergent_nll == pytest.approx(np.mean(np.where(p < 0.05, np.minimum(-x, 30), 0)), rel=1e-12)


def test_float32_values_within_the_stated_bound(tmp_path):
    rng = np.random.default_rng(2)
    logp = -rng.exponential(3.0, 20000).astype(np.float32)
    folder = tmp_path / "expert_logprobs"
    with TokenStoreWriter(folder, [{"id": "x", "split": "train", "length": logp.size}], "float32") as w:
        w.append(0, logp)
    row = summarize_store(open_store(folder)).rows["train"][0]
    x = logp.astype(np.float64)
    assert abs(row.mean_logprob - x.mean()) <= 2 ** -8 * np.abs(x).mean()
    for q, value in zip([0.05, 0.25, 0.5, 0.75, 0.95], row.p_quantiles.values()):
        exact_logq = np.log(np.quantile(np.exp(x), q))
        assert abs(math.log(value) - exact_logq) <= 2 ** -8 * abs(exact_logq) + 1e-9


def learned_store(tmp_path):
    # token:           a     b     c     d     (train)   e (heldout)
    probs = {
        0: [0.10, 0.70, 0.10, 0.01, 0.2],
        10: [0.60, 0.80, 0.30, 0.02, 0.2],
        20: [0.40, 0.90, 0.55, 0.03, 0.9],
        30: [0.90, 0.95, 0.20, 0.04, 0.9],
    }
    seqs = [{"id": "s", "split": "train", "length": 4}, {"id": "h", "split": "heldout", "length": 1}]
    folder = tmp_path / "expert_logprobs"
    with TokenStoreWriter(folder, seqs, "float32") as writer:
        for step, p in probs.items():
            writer.append(step, np.log(p))
    return folder


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_learned_at_first_step_above_one_half(tmp_path, dtype):
    folder = learned_store(tmp_path)
    if dtype == "float16":  # same values, re-saved as float16
        import json
        index = json.loads((folder / "index.json").read_text())
        index["dtype"] = "float16"
        (folder / "index.json").write_text(json.dumps(index))
        for path in folder.glob("step_*.npy"):
            np.save(path, np.load(path).astype(np.float16))
    learned = summarize_store(open_store(folder)).learned_at
    train = learned["train"]
    # b known at start; a learned at 10 (forgetting at 20 does not reset it); c at 20; d never
    assert train.n_tokens == 4
    assert train.known_at_start_share == pytest.approx(0.25)
    assert train.learned_during_share == pytest.approx(0.5)
    assert train.never_learned_share == pytest.approx(0.25)
    # steps [10, 20] at the nearest order statistic (as np.quantile(method="nearest"))
    assert train.step_quantiles == {"p05": 10, "p25": 10, "p50": 10, "p75": 20, "p95": 20}
    held = learned["heldout"]
    assert held.learned_during_share == 1.0 and held.step_quantiles["p50"] == 20


def test_no_token_learned_during_training(tmp_path):
    folder = tmp_path / "expert_logprobs"
    with TokenStoreWriter(folder, [{"id": "s", "split": "train", "length": 2}]) as writer:
        writer.append(0, np.log([0.9, 0.1]))
        writer.append(1, np.log([0.9, 0.2]))
    learned = summarize_store(open_store(folder)).learned_at["train"]
    assert learned.step_quantiles["p50"] is None
    assert learned.never_learned_share == 0.5 and learned.known_at_start_share == 0.5


def fragmented_store(tmp_path, n_seqs=400, n_steps=6, seed=5):
    """Many short sequences alternating splits, so windows hold many split pieces."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 20, n_seqs)
    splits = np.where(rng.random(n_seqs) < 0.3, "heldout", "train")
    seqs = [{"id": str(i), "split": str(s), "length": int(n)} for i, (s, n) in enumerate(zip(splits, lengths))]
    folder = tmp_path / "expert_logprobs"
    arrays = []
    with TokenStoreWriter(folder, seqs) as writer:
        for step in range(n_steps):
            x = -rng.exponential(2.0 / (1 + step), lengths.sum())
            writer.append(step * 5, x)
            arrays.append(x.astype(np.float16).astype(np.float64))
    mask = np.repeat(splits == "train", lengths)
    return folder, arrays, mask


@pytest.mark.parametrize("chunk_tokens, workers", [(1 << 20, 1), (64, 1), (37, 2), (500, 3), (9, 4)])
def test_windows_and_threads_do_not_change_the_result(tmp_path, chunk_tokens, workers):
    folder, arrays, mask = fragmented_store(tmp_path)
    summary = summarize_store(open_store(folder), SummaryConfig(chunk_tokens=chunk_tokens, workers=workers))
    assert summary.steps == [0, 5, 10, 15, 20, 25]
    for i, x in enumerate(arrays):
        for split, m in (("train", mask), ("heldout", ~mask)):
            row = summary.rows[split][i]
            p = np.exp(x[m])
            assert row.n_tokens == m.sum()
            assert row.mean_logprob == pytest.approx(x[m].mean(), rel=1e-12)
            assert row.p_quantiles["p50"] == pytest.approx(np.quantile(p, 0.5), rel=1e-12)
            assert row.divergent_share == pytest.approx(np.mean(p < 0.05))
    first = np.full(mask.size, -1)
    for i, x in reversed(list(enumerate(arrays))):
        first[x > math.log(0.5)] = i
    for split, m in (("train", mask), ("heldout", ~mask)):
        learned = summary.learned_at[split]
        assert learned.never_learned_share == pytest.approx(np.mean(first[m] == -1))
        assert learned.known_at_start_share == pytest.approx(np.mean(first[m] == 0))
        during = np.asarray(summary.steps)[first[m][first[m] > 0]]
        expected = {f"p{round(q * 100):02d}": int(np.quantile(during, q, method="nearest"))
                    for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
        assert learned.step_quantiles == expected
        for i, row in enumerate(summary.rows[split]):
            assert row.newly_learned_share == pytest.approx(np.mean(first[m] == i))
            assert row.learned_share == pytest.approx(np.mean((first[m] >= 0) & (first[m] <= i)))


def test_stopping_a_stream_early_does_not_hang(tmp_path):
    folder, _, _ = fragmented_store(tmp_path, n_steps=20)
    from phasewatch.tokens import LearnedAtTracker

    store = open_store(folder)
    stream = iter_step_summaries(store, SummaryConfig(chunk_tokens=50, workers=3),
                                 LearnedAtTracker(store.n_tokens))
    next(stream)
    stream.close()  # the lanes end at once


def test_iter_step_summaries_streams_in_step_order(tmp_path):
    folder, arrays, mask = fragmented_store(tmp_path)
    store = open_store(folder)
    stream = iter_step_summaries(store, SummaryConfig(chunk_tokens=100, workers=2))
    step, first = next(stream)
    assert step == 0 and first["train"].mean_logprob == pytest.approx(arrays[0][mask].mean())
    assert [s for s, _ in stream] == [5, 10, 15, 20, 25]


def test_divergence_score_from_first_step(tmp_path):
    folder = known_store(tmp_path)
    score = divergence_score(open_store(folder))
    assert score.step == 0 and score.split == "train"
    assert score.divergent_share == pytest.approx(0.2)
    assert score.mean_nll == pytest.approx(-np.log(P_TRAIN).mean(), rel=2 ** -8)
    assert score.score == pytest.approx(-np.log(0.01) / 5, rel=3e-3)
    assert "p < 0.05" in score.definition
    held = divergence_score(open_store(folder), "heldout")
    expected = (-np.log(0.001) - np.log(0.04)) / 3
    assert held.score == pytest.approx(expected, rel=3e-3)


def test_divergence_score_caps_extreme_tokens(tmp_path):
    folder = tmp_path / "expert_logprobs"
    with TokenStoreWriter(folder, [{"id": "s", "split": "train", "length": 2}], "float32") as writer:
        writer.append(0, [-500.0, -0.01])
    score = divergence_score(open_store(folder))
    assert score.score == pytest.approx(30 / 2)
    assert score.mean_nll == pytest.approx(500.01 / 2, rel=2 ** -8)


@pytest.mark.parametrize("bad", [{"divergent_p": 0}, {"learned_p": 1.5}, {"quantiles": ()},
                                 {"chunk_tokens": 0}, {"workers": 0}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        SummaryConfig(**bad)
