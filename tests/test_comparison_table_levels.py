"""The comparison table of `analyze RUN1 RUN2` says the level each stop was ranked by, and a short
series' confidence (trial 39b): "at stop 2.165" and "2.542", a GRPO reward's single lucky
batches (the maximum it can take), stood where the runs' text said "best 0.8917 ... a mean of
30 evaluations"; dyndpo's 4 evaluations showed as a plain "plateau@epoch 0.22", which the text
called "not established" with "confidence low"."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from phasewatch.cli import main
from phasewatch.whole_run_trend import stretch_size


def write_reward(path, seed: int) -> np.ndarray:
    """A GRPO batch reward in steps of 1/8 rising to a ceiling of 2.0 (trl-grpo-gsm8k-2900)."""
    rng = np.random.default_rng(seed)
    n = 1500
    level = 1.2 + 0.5 * (1 - np.exp(-np.arange(n) / 300))
    values = np.clip(np.round((level + rng.normal(0, 0.35, n)) * 8) / 8, 0.0, 2.0)
    path.write_text("".join(json.dumps({"step": i + 1, "reward": float(v)}) + "\n"
                            for i, v in enumerate(values)))
    return values


def write_short(path, values: list[float]) -> None:
    path.write_text("".join(json.dumps({"step": 100 * (i + 1), "eval_loss": v}) + "\n"
                            for i, v in enumerate(values)))


def test_at_stop_is_the_level_the_stop_was_ranked_by(tmp_path, capsys):
    paths = [tmp_path / f"run{k}.jsonl" for k in range(2)]
    values = [write_reward(p, seed) for p, seed in zip(paths, (3, 4))]
    assert main(["analyze", *map(str, paths), "--format", "json"]) == 0
    docs = json.loads(capsys.readouterr().out)["runs"]
    k = stretch_size(values[0].size)  # the stretch a long run's best is averaged over: 75
    for doc, y in zip(docs, values):
        level = doc["stop_level"]
        stop = doc["recommended_stop_step"]
        assert level["evaluations"] == k
        assert doc["stop_value"] == y[stop - 1] == 2.0  # the stretch's best batch, at the ceiling
        assert level["value"] < 1.9  # the mean of the k it was ranked among
        assert any(np.isclose(y[lo:lo + k].mean(), level["value"]) and lo < stop <= lo + k
                   for lo in range(y.size - k + 1))
    assert main(["analyze", *map(str, paths)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith(str(tmp_path))]
    for row, doc in zip(rows[-2:], docs):
        assert f"{doc['stop_level']['value']:.4g}*" in row.split()
        assert " 2 " not in row
    notes = [line for line in lines if line.startswith("* ")]
    assert len(notes) == 2
    assert f"the mean of the {k} evaluations the stop was ranked by" in notes[0]
    assert notes[0].endswith("the evaluation at the stop is 2")


def test_a_short_series_says_its_confidence_and_what_is_not_established(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_short(a, [0.6786, 0.6753, 0.6723, 0.6737])
    write_short(b, [0.6867, 0.6819, 0.6806])
    assert main(["analyze", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith((str(a), str(b)))][-2:]
    # the stop of a, 4 evaluations, is not ranked against its last: 4 evaluations leave no
    # noise estimate (as its text says); b's is its last
    unranked = "; stop not established against the last (4 evaluations, noise unknown)"
    for row, hedge in zip(rows, (unranked, "")):
        assert row.endswith("plateau@100 (not established); confidence low" + hedge), row
    assert main(["analyze", str(a), str(b), "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["phase"], r["confidence"], r["established"]) for r in table] == [
        ("plateau", "low", "False")] * 2
