"""A training reward chosen without --metric beside series named as scores that no role
claims, logged as often as it is (`choice_notes.scores_beside_reward_note`): they are named,
for one may be the held-out score the run is judged by."""

from __future__ import annotations

import json

import numpy as np

from phasewatch.cli import main


def _analyze(capsys, *argv) -> tuple[int, str]:
    code = main(["analyze", *map(str, argv)])
    return code, capsys.readouterr().out


def _verifier_rows(seed: int = 0) -> list[dict]:
    """jsonl-verifier-warmstart-rl-21ev's shape: a held-out `accuracy` on 120 actions at every
    evaluation, 0.99 at step 0 and 0.60 from the next on (a collapse to one class), beside a
    train `mean_reward` swinging about zero, a reward component and an advantage statistic."""
    rng = np.random.default_rng(seed)
    rows = [{"step": 0, "accuracy": 0.9917}]
    for step in range(25, 525, 25):
        rows.append({"step": step, "mean_reward": float(rng.normal(0.0, 0.25)),
                     "accuracy": 0.6 + float(rng.integers(0, 2)) / 120,
                     "rewards/format_reward": float(rng.uniform(0.3, 0.7)),
                     "prompt/correctness_adv_zero_group_frac": float(rng.uniform(0, 1))})
    return rows


def test_a_train_reward_chosen_beside_an_unclaimed_accuracy_names_it(capsys, tmp_path):
    """The reward's plateau was all `analyze` said of a run whose held-out accuracy fell from
    0.99 to 0.60 at its first update and stayed there. The reward's own component and an
    advantage statistic are scored on the training batches too: not named."""
    log = tmp_path / "training_log.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in _verifier_rows()))
    code, out = _analyze(capsys, log)
    assert code == 0 and "metric mean_reward" in out
    assert ("warning: mean_reward is scored on the training batches, which cannot show an "
            "overfit; accuracy may be a held-out score: pass --metric accuracy to analyse it"
            ) in out
    assert "rewards/format_reward may" not in out and "adv_zero" not in out
    code, out = _analyze(capsys, log, "--metric", "mean_reward")  # named: nothing to say
    assert code == 0 and "may be a held-out score" not in out


def test_no_note_without_an_unclaimed_score(capsys, tmp_path):
    """A GRPO log whose only score-named series are the reward's components says nothing."""
    rows = [{key: value for key, value in row.items() if key != "accuracy"}
            for row in _verifier_rows(1)[1:]]
    log = tmp_path / "training_log.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, out = _analyze(capsys, log)
    assert code == 0 and "metric mean_reward" in out and "may be a held-out score" not in out


def test_a_held_out_score_with_train_inside_a_word_of_its_name_is_named(capsys, tmp_path):
    """A name says it is train-side by a word of its own: "train" inside "constraint" does not,
    and a held-out `constraint_accuracy` (an instruction-following check) beside the train
    reward was never named. A `minibatch` statistic is train-side, as `batch` is."""
    rows = [{("constraint_accuracy" if key == "accuracy" else key): value
             for key, value in row.items()} for row in _verifier_rows()]
    for k, row in enumerate(rows[1:]):
        row["minibatch_score"] = 0.5 + 0.01 * (k % 3)
    log = tmp_path / "training_log.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, out = _analyze(capsys, log)
    assert code == 0 and "metric mean_reward" in out
    assert ("constraint_accuracy may be a held-out score: pass --metric constraint_accuracy to "
            "analyse it") in out, out


def test_a_score_filed_under_the_train_rewards_own_path_is_not_named(capsys, tmp_path):
    """Tinker's RL log files the reward of each iteration's rollouts as `env/all/reward/total`
    and what the same rollouts scored beside it (`env/all/correct`, `env/all/format`):
    jsonl-tinker-arithmetic-rl-100 was told "env/all/correct may be a held-out score". A score
    under another path is still named."""
    rng = np.random.default_rng(0)
    rows = [{"step": s, "env/all/reward/total": min(1.0, 0.7 + 0.06 * s) - float(rng.uniform(0, .02)),
             "env/all/correct": min(1.0, 0.7 + 0.06 * s) - float(rng.uniform(0, .02)),
             "env/all/format": min(1.0, 0.8 + 0.05 * s)} for s in range(30)]
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, out = _analyze(capsys, log)
    assert code == 0 and "metric env/all/reward/total" in out
    assert "held-out score" not in out
    for row in rows:
        row["probe/accuracy"] = row.pop("env/all/correct")
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, out = _analyze(capsys, log)
    assert "probe/accuracy may be a held-out score" in out
