"""What a reward's rise came with (`phasewatch.reward_beside`): a rise of a reward the policy is
trained on is said beside the share of completions cut at the length limit going to most of
them, the KL to the reference growing many-fold to a large level, or the entropy collapsing,
each judged by its end levels against its noise; nothing is said of a signal within its noise,
of a small KL, or of a held-out accuracy's rise. The KL is among the phases' `signals`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch import analyze

SAID = "check a score the policy is not trained on"


def write_log(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "metrics.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)
    return folder


def ramp(step: int, low: float, high: float, start: int = 100, end: int = 160) -> float:
    """`low` up to `start`, a straight line to `high` at `end`, then `high`."""
    t = min(max((step - start) / (end - start), 0.0), 1.0)
    return low + (high - low) * t


def rl_log(folder: Path, clipped: tuple[float, float] | None = None,
           kl: tuple[float, float] | None = None, entropy: tuple[float, float] | None = None,
           held_out: str | None = None, seed: int = 0) -> Path:
    """A GRPO-style log every 5 steps to 300: a reward 0.5 flat to step 100, rising to 2.1 at
    step 160, then flat (noise 0.02); beside it, each given signal going from its first value
    to its second over the same steps (noise: clipped share 0.01, KL 2% of its level, entropy
    0.005); with `held_out`, that held-out score every 20 steps rising 0.3 -> 0.6 likewise (the
    metric analysed)."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(0, 301, 5):
        row = {"step": step, "reward": ramp(step, 0.5, 2.1) + rng.normal(0, 0.02)}
        if clipped is not None:
            row["completions/clipped_ratio"] = float(np.clip(
                ramp(step, *clipped) + rng.normal(0, 0.01), 0, 1))
        if kl is not None:
            level = np.exp(ramp(step, *np.log(kl)))
            row["kl"] = level * (1 + rng.normal(0, 0.02))
        if entropy is not None:
            row["entropy"] = ramp(step, *entropy) + rng.normal(0, 0.005)
        if held_out and step % 20 == 0:
            row[held_out] = ramp(step, 0.3, 0.6) + rng.normal(0, 0.01)
        rows.append(row)
    return write_log(folder, rows)


def rise(a):
    return next(p for p in a.phases if p.name in ("improvement", "readaptation"))


def test_a_reward_rising_as_completions_hit_the_length_limit_is_said(tmp_path):
    """Trial 39, noem/rloo_lenbias_b0: "eval_reward (max) improvement 60 -> 90 (+67.3 sd)",
    stop 130 and no word, while completions/clipped_ratio went 0 -> 0.99 over those steps."""
    a = analyze(rl_log(tmp_path / "cut", clipped=(0.0, 0.99)))
    assert a.metric == "reward"
    move = rise(a).stats["rose_with"]
    assert [m["signal"] for m in move] == ["clipped_ratio"]
    assert move[0]["metric"] == "completions/clipped_ratio"
    assert move[0]["start"] < 0.1 and move[0]["end"] > 0.9
    assert move[0].get("steady") or move[0]["change_se"] > 3
    said = [w for w in a.warnings if SAID in w]
    assert len(said) == 1
    assert said[0].startswith("reward rose ")
    assert "the share of completions cut at the length limit (completions/clipped_ratio) went" in said[0]
    assert "a reward that grows with length can be gamed" in said[0]
    assert json.loads(json.dumps(a.to_dict()))["phases"][1]["rose_with"] == move


def test_the_same_rise_with_the_clipped_share_flat_is_not_said(tmp_path):
    a = analyze(rl_log(tmp_path / "flat", clipped=(0.02, 0.02)))
    assert "rose_with" not in rise(a).stats
    assert not [w for w in a.warnings if SAID in w]


def test_a_clipped_share_that_rose_beyond_noise_but_to_few_completions_is_not_said(tmp_path):
    """A longer answer cut now and then (trl-sft-grpo-glaive: 0.17 -> 0.24) is no hack."""
    a = analyze(rl_log(tmp_path / "few", clipped=(0.02, 0.3)))
    assert "rose_with" not in rise(a).stats


def test_a_kl_that_grew_many_fold_to_a_large_level_is_said_and_is_a_signal(tmp_path):
    """Trial 39's Online DPO on a length-biased reward: objective/kl 0.017 -> 13.9 while its
    scores rose; the JSON's `signals` did not hold the KL at all."""
    a = analyze(rl_log(tmp_path / "kl", kl=(0.02, 14.0)))
    phase = rise(a)
    move = phase.stats["rose_with"]
    assert [m["signal"] for m in move] == ["kl"]
    assert move[0]["metric"] == "kl" and move[0]["role"] == "train/kl"
    assert move[0]["end"] > 10 * move[0]["start"] and move[0]["end"] > 5
    said = next(w for w in a.warnings if SAID in w)
    assert "the KL to the reference model (kl) grew" in said and "-fold" in said
    assert "train/kl" in phase.stats["signals"]


def test_a_small_kl_that_grew_many_fold_from_none_is_not_said(tmp_path):
    """Every KL-regularised run's KL grows many-fold from a policy equal to its reference: the
    corpus's GRPO runs 0.0004 -> 0.14, 0.001 -> 0.058 per token, their rewards rising too."""
    a = analyze(rl_log(tmp_path / "small", kl=(0.0005, 0.14)))
    assert "rose_with" not in rise(a).stats
    assert "train/kl" in rise(a).stats["signals"]


def test_an_entropy_collapse_is_said_and_a_fall_by_a_third_is_not(tmp_path):
    a = analyze(rl_log(tmp_path / "collapse", entropy=(0.34, 0.07)))
    assert [m["signal"] for m in rise(a).stats["rose_with"]] == ["entropy"]
    assert "the entropy (entropy) collapsed 0.3" in next(w for w in a.warnings if SAID in w)
    a = analyze(rl_log(tmp_path / "narrower", entropy=(0.34, 0.23)))
    assert "rose_with" not in rise(a).stats


@pytest.mark.parametrize("held_out", ["eval/exact_match", "val/test_score/openai/gsm8k"])
def test_a_held_out_score_rising_beside_the_same_signals_gets_no_warning(tmp_path, held_out):
    """The warning points to a held-out score: that score's own rise is what the task did (a
    verifier's test score too: verl-ppo-qwen05b-p512's rose 0 -> 0.52 as its entropy fell
    0.38 -> 0.09, a policy that learned GSM8K)."""
    a = analyze(rl_log(tmp_path / "em", clipped=(0.0, 0.99), kl=(0.02, 14.0),
                       entropy=(0.34, 0.07), held_out=held_out))
    assert a.metric == held_out
    assert all("rose_with" not in p.stats for p in a.phases)
    assert not [w for w in a.warnings if SAID in w]


def test_the_eval_twin_of_the_train_reward_is_a_reward(tmp_path):
    """TRL's `eval_reward` is the reward functions' mean on the eval prompts: gamed as `reward`
    is (trial 39's RLOO run analysed eval_reward)."""
    rows = [json.loads(line) for line in (rl_log(tmp_path / "twin", clipped=(0.0, 0.99))
                                          / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        if row["step"] % 10 == 0:
            row["eval_reward"] = row["reward"]
    a = analyze(write_log(tmp_path / "twin", rows))
    assert a.metric == "eval_reward"
    assert [m["signal"] for m in rise(a).stats["rose_with"]] == ["clipped_ratio"]


def test_a_rise_with_every_completion_cut_at_the_limit_throughout_is_said(tmp_path):
    """hfconsole-panacea-grpo-300: `completions/clipped_ratio` 1 at all 300 steps (no completion
    terminated) while the reward rose 4 sd: nothing was said, as the share did not move. Every
    reading of the reward scored unfinished answers; that is said, as a share that stayed, not
    one that went there. A share that went from few to most is still said as before."""
    a = analyze(rl_log(tmp_path / "held", clipped=(1.0, 1.0)))
    [move] = rise(a).stats["rose_with"]
    assert move["signal"] == "clipped_ratio" and min(move["start"], move["end"]) > 0.95
    [said] = [w for w in a.warnings if SAID in w]
    assert ("the share of completions cut at the length limit (completions/clipped_ratio) stayed "
            "above half, ") in said and "unfinished answers" in said and " went " not in said
    a = analyze(rl_log(tmp_path / "mostly", clipped=(0.9, 0.9)))
    assert "stayed above half" in next(w for w in a.warnings if SAID in w)
    a = analyze(rl_log(tmp_path / "went", clipped=(0.02, 0.98)))
    assert " went 0.0" in next(w for w in a.warnings if SAID in w)


@pytest.mark.parametrize("clipped", [(0.98, 0.6), (0.95, 0.9)])
def test_a_share_above_half_that_fell_over_the_rise_is_not_said_to_have_gone_there(tmp_path,
                                                                                    clipped):
    """Completions cut at the limit on most of a rise's steps, the share falling beyond its
    noise (steadily, 0.98 -> 0.6; or by its end means, 0.95 -> 0.9) while staying above half:
    the completions got shorter, and "went 0.995 -> 0.597: a reward that grows with length can
    be gamed" said the opposite. It stayed above half: the reward scored unfinished answers."""
    a = analyze(rl_log(tmp_path / "fell", clipped=clipped))
    [move] = rise(a).stats["rose_with"]
    assert move["end"] < move["start"] and move["end"] > 0.5
    [said] = [w for w in a.warnings if SAID in w]
    assert "(completions/clipped_ratio) stayed above half, " in said
    assert " went " not in said and "grows with length" not in said
