"""Token analytics on stores built with known values: top-N changes (decoded with stored ids),
per-sequence NLL, squeezing, per-position breakdown; `tokens --top`, `plot --kind tokens` on a
store without metrics, and token signals in `analyze` for a TRL-style folder holding a store."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.tokens import TokenStoreWriter, open_store
from phasewatch.tokens.analytics import (
    nll_trajectories,
    position_breakdown,
    sequence_nll,
    squeezing,
    top_changes,
)
from phasewatch.tokens.ids import read_token_ids, write_token_ids

SEQS = [{"id": "a", "split": "train", "length": 4}, {"id": "b", "split": "train", "length": 3},
        {"id": "c", "split": "heldout", "length": 5}]
N = 12


def build(folder, steps, ids=True):
    """Step 0: every token p = 0.5. Step k: log p = log(0.5) / (1 + 3k) (learned), except token 5
    (sequence b, position 1: p = 0.04) and token 9 (sequence c, position 2: p = 0.3)."""
    store = folder / "expert_logprobs"
    with TokenStoreWriter(store, SEQS, dtype="float32") as w:
        for k, step in enumerate(steps):
            lp = np.full(N, math.log(0.5) / (1 + 3 * k))
            if k:
                lp[5] = math.log(0.04)
                lp[9] = math.log(0.3)
            w.append(step, lp)
    if ids:
        write_token_ids(store, np.arange(100, 100 + N), {100 + i: chr(ord("A") + i) for i in range(N)})
    return store


def test_sequence_nll_and_trajectories(tmp_path):
    store = open_store(build(tmp_path, [0, 10, 20]))
    lp = np.asarray(store.logprobs(step=10), dtype=np.float64)
    assert sequence_nll(store, 10).tolist() == pytest.approx([-lp[0:4].mean(), -lp[4:7].mean(), -lp[7:].mean()])
    assert sequence_nll(store, 10, "heldout").tolist() == pytest.approx([-lp[7:].mean()])
    steps, ids, matrix = nll_trajectories(store, "train")
    assert steps.tolist() == [0, 10, 20] and ids == ["a", "b"] and matrix.shape == (3, 2)
    assert matrix[0].tolist() == pytest.approx([math.log(2)] * 2)


def test_top_changes_name_the_planted_tokens_and_decode_them(tmp_path):
    store = open_store(build(tmp_path, [0, 10, 20]))
    top = top_changes(store, n=5)
    rising = top["rising"]
    assert [(c.sequence, c.position) for c in rising] == [("b", 1), ("c", 2)]  # only those rose
    assert rising[0].text == "F" and rising[0].context == "E"  # token 5, after token 4 of "b"
    assert rising[0].change == pytest.approx(math.log(0.5 / 0.04), rel=1e-5)
    assert rising[1].change == pytest.approx(math.log(0.5 / 0.3), rel=1e-5)
    assert len(top["falling"]) == 5 and all(c.change < 0 for c in top["falling"])
    held = top_changes(store, n=5, split="heldout")["rising"]
    assert [(c.sequence, c.position) for c in held] == [("c", 2)]
    seqs = top_changes(store, n=3, unit="sequence")
    assert [c.sequence for c in seqs["rising"]] == ["b"]  # b's mean NLL rose; a and c fell
    assert seqs["rising"][0].text == "EFG"


def test_stores_without_ids_stay_valid_and_name_by_position(tmp_path):
    folder = build(tmp_path, [0, 10], ids=False)
    assert read_token_ids(folder, N) is None
    rising = top_changes(open_store(folder), n=1)["rising"]
    assert rising[0].text is None and (rising[0].sequence, rising[0].position) == ("b", 1)
    np.save(folder / "token_ids.npy", np.arange(3))  # wrong length: ignored with a warning
    warnings: list[str] = []
    assert read_token_ids(folder, N, warnings) is None and "token_ids.npy" in warnings[0]


def test_squeezing_counts_tokens_losing_probability_while_the_mean_falls(tmp_path):
    store = open_store(build(tmp_path, [0, 10, 20]))
    rows = {(r["step"], r["split"]): r for r in squeezing(store)}
    first = rows[(10, "train")]  # 7 train tokens: token 5 fell, the 6 others rose
    assert first["nll_change"] < 0 and first["p_fell_share"] == pytest.approx(1 / 7)
    assert first["squeezed_share"] == pytest.approx(1 / 7)
    second = rows[(20, "heldout")]  # planted tokens unchanged, the rest rose further
    assert second["p_fell_share"] == 0 and second["squeezed_share"] == 0
    # a pair of steps where the mean NLL rose: no squeezing figure
    with TokenStoreWriter(tmp_path / "up", SEQS, dtype="float32") as w:
        w.append(0, np.full(N, -0.1))
        w.append(1, np.full(N, -1.0))
    assert all(math.isnan(r["squeezed_share"]) for r in squeezing(open_store(tmp_path / "up")))


def test_position_breakdown(tmp_path):
    store = open_store(build(tmp_path, [0, 10]))
    rows = {r["positions"]: r for r in position_breakdown(store, 10)}
    assert rows["0"]["n_tokens"] == 3 and rows["1"]["n_tokens"] == 3 and rows["2-3"]["n_tokens"] == 5
    assert rows["4-7"]["n_tokens"] == 1
    assert rows["1"]["divergent_share"] == pytest.approx(1 / 3)  # token 5, p = 0.04
    assert rows["1"]["nll"] == pytest.approx((2 * math.log(2) / 4 - math.log(0.04)) / 3, rel=1e-5)


def test_tokens_command_top(tmp_path, capsys):
    build(tmp_path, [0, 10, 20])
    assert main(["tokens", str(tmp_path), "--top", "2", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)["analytics"]
    assert [t["text"] for t in doc["tokens"]["rising"]] == ["F", "J"]
    assert doc["squeezing_summary"]["train"]["pairs_nll_fell"] == 2
    assert main(["tokens", str(tmp_path), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "NLL rose most (p squeezed)" in out and "[F]" in out and "by position" in out


def test_plot_tokens_on_a_store_without_metrics(tmp_path, capsys):
    build(tmp_path, [0, 10, 20])
    assert not (tmp_path / "metrics.jsonl").exists()
    assert main(["plot", str(tmp_path), "--kind", "tokens", "-o", str(tmp_path / "t.png"), "--dpi", "50"]) == 0
    assert (tmp_path / "t.png").stat().st_size > 1000


@pytest.mark.parametrize("command", ["analyze", "inspect", "watch"])
def test_a_token_store_given_as_a_log_says_to_read_it_with_tokens(tmp_path, capsys, command):
    """Trial 33: `analyze OUT/expert_logprobs` (a TRL store: index.json, token_text.json) read
    the store's JSON files as logs ("no performance metric found ... Metrics in this run:
    length, offset"). A usage error (exit 2) says what it is and what reads it, for the folder
    and for its index.json; `tokens` and `plot --kind tokens` read it as before."""
    import phasewatch
    from phasewatch.errors import UsageError

    store = build(tmp_path, [0, 10, 20])
    assert (store / "token_text.json").is_file()
    for path in (store, store / "index.json"):
        assert main([command, str(path)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert (f"{store}: this is an expert log-prob (token) store, not a training log; read it "
                f"with `phasewatch tokens {store}`, and give the run's folder ({tmp_path}) for "
                "its metrics") in err
        assert "length" not in err and "no performance metric" not in err
    with pytest.raises(UsageError, match="phasewatch tokens"):
        phasewatch.analyze(store)
    assert main(["tokens", str(store)]) == 0
    assert main(["plot", str(store), "--kind", "tokens", "-o", str(tmp_path / "t.png"),
                 "--dpi", "50"]) == 0
    capsys.readouterr()


def test_analyze_joins_token_signals_of_a_trl_output_folder(tmp_path, capsys):
    """A TRL/HF output folder: checkpoint-N/trainer_state.json and expert_logprobs/ (as the
    capture callback writes it) beside each other."""
    steps = list(range(0, 200, 10))
    history = [{"step": s, "eval_accuracy": 0.5 - 0.3 * math.exp(-((s - 40) / 20) ** 2) + s / 1000,
                "epoch": s / 100} for s in steps]
    ckpt = tmp_path / "checkpoint-190"
    ckpt.mkdir()
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": 190, "log_history": history}))
    build(tmp_path, steps)
    assert main(["analyze", str(ckpt / "trainer_state.json"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    text = json.dumps(doc)
    assert "tokens/nll_train" in text and "tokens/nll_heldout" in text
