"""rl_games (Isaac Gym, Isaac Lab) writes its mean return three times to TensorBoard,
`rewards/step` by env frame, `rewards/iter` by epoch and `rewards/time` by second, beside
`losses/a_loss`, `losses/c_loss` and `info/*`: none had a role, so `analyze` of its
`runs/<name>/summaries` folder stopped asking for --metric."""

from __future__ import annotations

import math

from tfrecord_events import event_file, scalar_event

from phasewatch.api import analyze
from phasewatch.io import read_run

FRAMES = 65536


def rl_games_summaries(folder, epochs: int = 40):
    events = []
    for epoch in range(1, epochs + 1):
        frame = epoch * FRAMES
        reward = 6000 * (1 - math.exp(-epoch / 8)) + 40 * math.sin(epoch)
        events += [scalar_event(frame, 5 * math.exp(-epoch / 20), "losses/c_loss"),
                   scalar_event(frame, -0.01, "losses/a_loss"),
                   scalar_event(frame, 3e-4, "info/last_lr"),
                   scalar_event(frame, reward, "rewards/step"),
                   scalar_event(epoch, reward, "rewards/iter"),
                   scalar_event(frame, min(1000, 100 + 20 * epoch), "episode_lengths/step")]
    return event_file(folder / "events.out.tfevents.1.host.1.0", events)


def test_the_mean_return_by_frame_is_the_run_s_reward(tmp_path):
    folder = tmp_path / "runs" / "Ant" / "summaries"
    rl_games_summaries(folder)
    run = read_run(folder)
    assert run.own_name("train/reward") == "rewards/step"
    result = analyze(folder)
    assert result.metric == "rewards/step"
    assert result.recommended_stop_step is not None and result.recommended_stop_step % FRAMES == 0


def test_its_console_sends_the_user_to_the_summaries(tmp_path, capsys):
    """Its console prints throughput alone each epoch: it was "unknown log format" and the
    formats tried, no word of where the rewards are."""
    from phasewatch.cli import main

    path = tmp_path / "train.log"
    path.write_text("".join(
        f"fps step: {260000 + e} fps step and policy inference: {230000 + e} fps total: "
        f"{180000 + e} epoch: {e}/500 frames: {e * FRAMES}\n" for e in range(1, 6))
        + "saving next best rewards:  [5771.3906]\n")
    assert main(["analyze", str(path)]) == 3
    err = capsys.readouterr().err
    assert "it is rl_games' console" in err and "runs/<experiment>/summaries" in err
