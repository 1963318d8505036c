"""`phasewatch tokens` and the detector signals (`signals_for_run`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.tokens import TokenStoreWriter, signals_for_run

SEQS = [{"id": f"t{i}", "split": "train", "length": 4} for i in range(3)] + [
    {"id": f"h{i}", "split": "heldout", "length": 4} for i in range(2)
]


def make_run(tmp_path, steps=(0, 10, 20, 30)):
    """Train tokens get steadily likelier; held-out ones improve, then get worse (overfit)."""
    run = tmp_path / "run"
    run.mkdir()
    lines = [json.dumps({"step": s, "eval/accuracy": 0.5 + 0.01 * s}) for s in range(0, 31, 5)]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run / "run.json").write_text(json.dumps({"schema_version": 1, "name": "toy", "events": []}))
    nll_train = {0: 3.0, 10: 1.0, 20: 0.5, 30: 0.2}
    nll_heldout = {0: 3.0, 10: 1.2, 20: 1.5, 30: 2.0}
    with TokenStoreWriter(run / "expert_logprobs", SEQS, "float32") as writer:
        for step in steps:
            writer.append(step, np.r_[np.full(12, -nll_train[step]), np.full(8, -nll_heldout[step])])
    return run, nll_train, nll_heldout


def test_json_output(tmp_path, capsys):
    run, nll_train, _nll_heldout = make_run(tmp_path)
    assert main(["tokens", str(run), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1
    assert doc["n_steps"] == 4 and doc["n_tokens"] == 20
    assert doc["splits"] == {"train": {"n_tokens": 12, "n_sequences": 3},
                             "heldout": {"n_tokens": 8, "n_sequences": 2}}
    train = doc["steps"]["train"]
    assert [r["step"] for r in train] == [0, 10, 20, 30]
    assert [r["nll"] for r in train] == pytest.approx(list(nll_train.values()), rel=2 ** -8)
    assert set(train[0]["p_quantiles"]) == {"p05", "p25", "p50", "p75", "p95"}
    assert doc["steps"]["heldout"][3]["nll"] == pytest.approx(2.0, rel=2 ** -8)
    # p = e^-3 ~ 0.0498 < 0.05: every train token divergent at step 0
    assert doc["divergence"]["divergent_share"] == 1.0
    assert doc["divergence"]["score"] == pytest.approx(3.0, rel=2 ** -8)
    # train tokens reach p > 0.5 at step 20 (p = e^-0.5); held-out tokens never
    assert doc["learned_at"]["train"]["step_quantiles"]["p50"] == 20
    assert doc["learned_at"]["heldout"]["never_learned_share"] == 1.0
    assert doc["warnings"] == []


def test_sequences_writes_every_sequences_nll_at_every_step(tmp_path, capsys):
    import csv

    run, nll_train, nll_heldout = make_run(tmp_path)
    out = tmp_path / "sequences.csv"
    assert main(["tokens", str(run), "--sequences", str(out)]) == 0
    assert f"wrote {out} (20 rows: step, split, sequence, nll)" in capsys.readouterr().err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 * 5  # steps x sequences
    for row in rows:
        truth = (nll_train if row["split"] == "train" else nll_heldout)[int(row["step"])]
        assert row["sequence"][0] == row["split"][0]
        assert float(row["nll"]) == pytest.approx(truth, rel=1e-6)  # float32 store
    assert main(["tokens", str(run), "--sequences", str(tmp_path / "no" / "x.csv")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_text_output_is_a_table(tmp_path, capsys):
    run, _, _ = make_run(tmp_path)
    assert main(["tokens", str(run)]) == 0
    out = capsys.readouterr().out
    assert "train: p = policy probability" in out and "heldout:" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("step"))
    assert header.split() == ["step", "NLL", "p05", "p25", "p50", "p75", "p95", "div%", "mast%", "phi", "H"]
    assert "divergence at start (step 0, train): mean NLL 3.0" in out
    assert "divergent share 100.0%, divergent NLL mass (score) 3.0" in out


def test_text_output_shows_a_sample_of_many_steps(tmp_path, capsys):
    run = tmp_path / "expert_logprobs"
    with TokenStoreWriter(run, SEQS) as writer:
        for step in range(100):
            writer.append(step, np.full(20, -1.0 / (1 + step)))
    assert main(["tokens", str(run), "--max-rows", "5"]) == 0
    out = capsys.readouterr().out
    assert "(showing 5 of 100 steps)" in out
    rows = [line.split()[0] for line in out.splitlines() if line[:8].strip().isdigit()]
    assert rows[:5] == ["0", "25", "50", "74", "99"]


def test_bad_store_exits_3_naming_the_file(tmp_path, capsys):
    run, _, _ = make_run(tmp_path)
    path = run / "expert_logprobs" / "step_00000010.npy"
    x = np.load(path)
    x[2] = np.nan
    np.save(path, x)
    assert main(["tokens", str(run)]) == 3
    err = capsys.readouterr().err
    assert str(path) in err and "NaN" in err and "Traceback" not in err


def test_missing_store_exits_3(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["tokens", str(tmp_path / "empty")]) == 3
    assert "no expert log-prob store" in capsys.readouterr().err


def test_strict_fails_on_a_damaged_file(tmp_path, capsys):
    run, _, _ = make_run(tmp_path)
    path = run / "expert_logprobs" / "step_00000030.npy"
    path.write_bytes(path.read_bytes()[:-3])
    assert main(["tokens", str(run), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_steps"] == 3
    assert any("step_00000030.npy: skipped: truncated" in w for w in doc["warnings"])
    assert main(["tokens", str(run), "--strict"]) == 3
    assert "step_00000030.npy: truncated" in capsys.readouterr().err


def test_signals_for_run(tmp_path):
    run_dir, nll_train, nll_heldout = make_run(tmp_path)
    run = read_run(run_dir)
    assert run.token_store is not None
    signals = signals_for_run(run)
    assert {"tokens/nll_train", "tokens/nll_heldout", "tokens/nll_gap", "tokens/divergent_share_train",
            "tokens/divergent_share_heldout", "tokens/mastered_share_train", "tokens/mean_phi_train",
            "tokens/p50_train", "tokens/divergent_nll_train"} <= set(signals)
    gap = signals["tokens/nll_gap"]
    assert gap.index.tolist() == [0, 10, 20, 30]
    expected = [nll_heldout[s] - nll_train[s] for s in (0, 10, 20, 30)]
    assert gap.to_numpy() == pytest.approx(expected, abs=0.02)
    assert signals["tokens/divergent_share_train"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_signals_for_run_without_store(tmp_path):
    run_dir, _, _ = make_run(tmp_path)
    for path in (run_dir / "expert_logprobs").iterdir():
        path.unlink()
    (run_dir / "expert_logprobs").rmdir()
    assert signals_for_run(read_run(run_dir)) == {}


def test_signals_for_run_reports_store_warnings(tmp_path):
    run_dir, _, _ = make_run(tmp_path, steps=(0, 10, 20, 30))
    (run_dir / "expert_logprobs" / "step_00000020.npy").unlink()
    warnings: list[str] = []
    signals = signals_for_run(read_run(run_dir), warnings)
    assert signals["tokens/nll_train"].index.tolist() == [0, 10, 30]
    assert any("between step 10 and step 30" in w for w in warnings)
