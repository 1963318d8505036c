"""A framework's running mean over its last episodes (SB3's `rollout/ep_rew_mean`) is read with
every value kept, and the analysis says what its noise sds are (`phasewatch.running_means`)."""

from __future__ import annotations

import collections
import json

import numpy as np

from phasewatch.cli import main


def _running_mean_rows(seed: int = 3) -> list[tuple[int, float]]:
    """What SB3 logs: at each rollout, the mean of a deque of the last 100 episode returns
    (`ep_info_buffer`), here with one episode ending every other rollout, so each mean is
    logged twice, as on real SB3 runs whose episodes outlast a rollout."""
    rng = np.random.default_rng(seed)
    episodes: collections.deque = collections.deque(maxlen=100)
    rows = []
    for it in range(400):
        level = -60 + 900 / (1 + np.exp(-(it - 200) / 30))
        if it % 2 == 0:
            episodes.append(level + rng.normal(0, 20))
        rows.append((512 * (it + 1), float(np.mean(episodes))))
    return rows


def _analyze(capsys, path, metric: str) -> dict:
    assert main(["analyze", str(path), "--metric", metric, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def test_a_running_mean_keeps_every_value_and_says_what_its_sds_are(tmp_path, capsys):
    """A held pair of an SB3 running mean that dips below its neighbours was left out as an
    outlier pair (on a real car-racing run, 161 values, the best logged among them), against
    a noise read from differences that are half exact repeats. The same values logged as an
    evaluation (`eval/mean_reward`) are still judged for outliers: the rule is the series'."""
    rows = _running_mean_rows()
    progress = tmp_path / "progress.csv"
    progress.write_text("rollout/ep_rew_mean,eval/mean_reward,time/total_timesteps\n"
                        + "".join(f"{v},{v},{s}\n" for s, v in rows))
    running = _analyze(capsys, progress, "rollout/ep_rew_mean")
    assert running["outlier_steps"] == []
    note = next(w for w in running["warnings"] if "Stable-Baselines3's mean" in w)
    assert "none is left out as an outlier" in note and "EvalCallback's eval/mean_reward" in note
    evaluation = _analyze(capsys, progress, "eval/mean_reward")
    assert evaluation["outlier_steps"], "the control: these values do hold an outlier pair"
    assert not any("Stable-Baselines3's mean" in w for w in evaluation["warnings"])
    assert main(["watch", str(progress), "--metric", "rollout/ep_rew_mean"]) == 0
    assert "Stable-Baselines3's mean over its last" in capsys.readouterr().err
