"""Which metric `analyze` and `watch` take without `--metric`, when a held-out metric is logged
only once or twice: a final `val_loss` beside a reward logged at every step, or beside scores
under names no framework uses. The choice must be the same live and offline, and a choice that
cannot show phases must name the longer series the user can pass instead."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from cli_json import analyzed, watched


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _reward_rows(n: int = 40) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"step": 10 * k, "train/reward": round(0.2 + 0.5 * (1 - np.exp(-k / 8))
                                                   + 0.01 * rng.standard_normal(), 4)}
            for k in range(1, n + 1)]


def test_a_held_out_metric_logged_once_gives_way_to_the_reward_live_and_offline(capsys, tmp_path):
    rows = _reward_rows()
    rows[-1]["eval/accuracy"] = 0.61  # one evaluation, at the end
    log = _write(tmp_path / "metrics.jsonl", rows)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "train/reward"
    assert offline["phases"][0]["name"] == "improvement"
    summary, _ = watched(capsys, log)
    assert summary["metric"] == "train/reward"


def test_a_held_out_metric_with_three_values_is_still_preferred_live_and_offline(capsys, tmp_path):
    rows = _reward_rows()
    for k, value in ((9, 0.40), (19, 0.52), (29, 0.58), (39, 0.60)):
        rows[k]["eval/accuracy"] = value  # four evaluations: enough for a trend test
    log = _write(tmp_path / "metrics.jsonl", rows)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "eval/accuracy"
    summary, _ = watched(capsys, log)
    assert summary["metric"] == "eval/accuracy"


def test_a_one_value_choice_names_the_longer_series(capsys, tmp_path):
    # the epoch, learning rate, gradient norm and timings are no series to judge a run by
    rows = [{"step": 10 * k, "strict": 0.4 + 0.01 * k, "lenient": 0.5 + 0.01 * k, "epoch": k / 20,
             "learning_rate": 1e-4 / k, "grad_norm": 1 / k, "train_runtime": 3.0 * k}
            for k in range(1, 21)]
    rows[-1]["val_loss"] = 0.26
    log = _write(tmp_path / "metrics.jsonl", rows)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "val_loss"
    note = next(w for w in offline["warnings"] if "longer series" in w)
    assert "val_loss was chosen by its name but has only 1 value" in note
    assert "longer series in this log: lenient (20 values), strict (20 values): pass --metric" in note
    summary, err = watched(capsys, log)
    assert summary["metric"] == "val_loss"
    assert "lenient (20 values), strict (20 values)" in err


def test_no_note_when_the_chosen_metric_has_enough_values(capsys, tmp_path):
    rows = _reward_rows(10)
    log = _write(tmp_path / "metrics.jsonl", rows)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "train/reward"
    assert not any("longer series" in w for w in offline["warnings"])


def test_following_waits_for_a_third_held_out_value_and_agrees_with_the_replay(tmp_path):
    """An evaluation every 10 steps beside a reward at every 2: at the first evaluations the
    held-out metric has 1 or 2 values, which `choose_metric` would pass over for the reward;
    the follower waits until it has 3, then chooses what the replay of the whole log chooses."""
    from watch_follower import assert_same, eval_curve, follows_a_held_choice

    accuracy = dict(eval_curve())
    lines = [json.dumps({"step": s, "reward": 0.2, **({"eval_accuracy": accuracy[s]}
                                                      if s in accuracy else {})})
             for s in range(0, max(accuracy) + 1, 2)]
    # steps 0-14 first: two evaluations
    followed, replayed, result = follows_a_held_choice(tmp_path / "log.jsonl", lines, 8)
    assert result.metric == "eval_accuracy"
    assert_same(followed, replayed)


def test_a_mean_reward_under_the_methods_own_prefix_is_the_reward_not_the_loss(capsys, tmp_path):
    """csv-sdpo-reward (trial 35b finding 12): a self-distillation trainer logs
    `train/self_distillation/reward_mean` beside `train/loss`; the warning said the log had no
    reward and the distillation loss was analysed."""
    rows = [{"step": r["step"], "train/loss": 0.01, "train/self_distillation/reward_mean":
             r["train/reward"], "train/self_distillation/reward_std": 0.3} for r in _reward_rows()]
    run = analyzed(capsys, _write(tmp_path / "history.jsonl", rows))
    assert run["metric"] == "train/self_distillation/reward_mean"
    assert not any("no held-out metric or reward" in w for w in run["warnings"])
    summary, _ = watched(capsys, tmp_path / "history.jsonl")
    assert summary["metric"] == "train/self_distillation/reward_mean"


def test_a_constant_choice_names_the_series_that_move_scores_first(capsys, tmp_path):
    """A CartPole DQN's Lightning CSV (csv-lightning-dqn-cartpole-39): the per-step `reward`,
    1 at every log, is the reward role's first name, beside `total_reward`, the episode return,
    which rose 16 -> 200; "plateau, change +0" was all `analyze` said. `total_reward`, the
    role's next name, is taken (a role's name constant at every evaluation gives way to its
    next that moves), the note saying what was passed over. With the return under a name no
    role lists (`episode_score`), the constant `reward` stays the choice and the note names
    the series that move, those that look like scores before the rest (epsilon, a schedule;
    train_loss), and no series that is constant itself."""
    rows = [{"step": 50 * k + 49, "epsilon": round(0.95 - 0.02 * k, 3), "reward": 1.0,
             "train_loss": round(10.0 / (k + 1), 4), "total_reward": float(min(200, 16 + 6 * k)),
             "done": 0.0, "epoch": k}
            for k in range(39)]
    offline = analyzed(capsys, _write(tmp_path / "metrics.jsonl", rows))
    assert offline["metric"] == "total_reward"
    assert ("taking total_reward, passing over reward (1 at all 39 readings: it cannot "
            "move); pass --metric to analyse it anyway") in offline["warnings"]
    rows = [{("episode_score" if name == "total_reward" else name): value
             for name, value in row.items()} for row in rows]
    log = _write(tmp_path / "renamed.jsonl", rows)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "reward"
    note = next(w for w in offline["warnings"] if "cannot show phases" in w)
    assert note == ("reward was chosen by its name but is 1 at all 39 readings: it cannot "
                    "show phases; series in this log that move: episode_score (39 values), "
                    "epsilon (39 values), train_loss (39 values): pass --metric to analyse one")
    summary, err = watched(capsys, log)
    assert summary["metric"] == "reward" and "series in this log that move: episode_score" in err
    rows = [{**row, "reward": 0.5 + 0.01 * k} for k, row in enumerate(rows)]  # the reward moves
    assert not any("cannot show phases" in w
                   for w in analyzed(capsys, _write(tmp_path / "moves.jsonl", rows))["warnings"])


def _pose_rows(pose_map) -> list[dict]:
    """An Ultralytics pose model's results.csv rows as JSON lines: the box mAP rises from 0
    while the keypoints' mAP is `pose_map(epoch)`."""
    return [{"epoch": k, "train/pose_loss": round(10.0 - 0.1 * k, 3), "lr/pg0": 0.001,
             "metrics/mAP50-95(B)": round(0.6 * (1 - np.exp(-k / 8)), 4),
             "metrics/mAP50-95(P)": pose_map(k)}
            for k in range(1, 41)]


def test_a_role_name_constant_at_every_evaluation_gives_way_to_its_next_name(capsys, tmp_path):
    """A YOLOv8 pose model whose keypoint mAP50-95(P) was 0 at all 50 epochs (it learned no
    keypoint; csv-yolopose-skateboard-mapbox-50) while its box mAP50-95(B) rose 0.001 -> 0.61
    was analysed on the keypoints, the task's own output and the first name of the held-out
    accuracy: "plateau, change +0", a note listing its learning rates first. The box mAP, the
    role's next name, is taken instead, live as offline, and the note says what was passed
    over; a keypoint mAP that moves is still the one taken."""
    log = _write(tmp_path / "dead.jsonl", _pose_rows(lambda k: 0.0))
    offline = analyzed(capsys, log)
    assert offline["metric"] == "metrics/mAP50-95(B)"
    assert offline["phases"][0]["name"] == "improvement"
    assert ("taking metrics/mAP50-95(B), passing over metrics/mAP50-95(P) (0 at all 40 "
            "evaluations: it cannot move); pass --metric to analyse it anyway") in offline["warnings"]
    assert not any("cannot show phases" in w for w in offline["warnings"])
    summary, _ = watched(capsys, log)
    assert summary["metric"] == "metrics/mAP50-95(B)"
    alive = _write(tmp_path / "alive.jsonl", _pose_rows(lambda k: round(0.4 * (1 - np.exp(-k / 10)), 4)))
    assert analyzed(capsys, alive)["metric"] == "metrics/mAP50-95(P)"
    summary, _ = watched(capsys, alive)
    assert summary["metric"] == "metrics/mAP50-95(P)"
