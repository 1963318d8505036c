"""Slow checks of the reference trainer's phases on real (short) runs of the default presets.

`make test-slow`: pre-trains policy A for seed 0 (about a minute, cached in ~/.cache/phasewatch)
and trains the first 200 steps of SFT and RL.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from phasewatch.trainer.config import preset  # noqa: E402
from phasewatch.trainer.loop import train  # noqa: E402
from phasewatch.trainer.task import B_CONTENT_TOKENS  # noqa: E402

pytestmark = pytest.mark.slow


def eval_rows(folder):
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("eval/accuracy") is not None]


def test_sft_dip_follows_the_format_shift_formula(tmp_path):
    """acc ~ (1 - pi_B) acc_A + pi_B q^K while the format shifts (TRAINER.md), and the dip is real."""
    train(preset("sft", steps=200, threads=1), tmp_path / "sft", progress=False)
    rows = eval_rows(tmp_path / "sft")
    acc_a = rows[0]["eval/accuracy"]
    assert rows[0]["eval/expert_format_rate"] < 0.05  # policy A answers in its own format
    assert min(r["eval/accuracy"] for r in rows) <= acc_a - 0.05  # disruption: >= 5 points
    shifting = [r for r in rows if 0.05 <= r["eval/expert_format_rate"] <= 0.95]
    assert shifting, "no eval step caught the format shift"
    for r in shifting + rows[-3:]:
        pi_b, q = r["eval/expert_format_rate"], r["expert/content_token_accuracy"]
        predicted = (1 - pi_b) * acc_a + pi_b * q**B_CONTENT_TOKENS
        assert r["eval/accuracy"] == pytest.approx(predicted, abs=0.12), r["step"]


def test_rl_does_not_dip(tmp_path):
    train(preset("rl", steps=200, threads=1), tmp_path / "rl", progress=False)
    rows = eval_rows(tmp_path / "rl")
    start = rows[0]["eval/accuracy"]
    assert min(r["eval/accuracy"] for r in rows) > start - 0.05
    assert max(r["eval/expert_format_rate"] for r in rows) < 0.05
