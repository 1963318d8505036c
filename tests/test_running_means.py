"""A framework's running mean over its last episodes (SB3's `rollout/ep_rew_mean`) is read with
every value kept, and the analysis says what its noise sds are (`phasewatch.running_means`)."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.running_means import is_running_mean, mean_variance, stated_window


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
    evaluation (`eval/mean_reward`) are still judged for outliers: the rule is the series'.
    The pair: one held value mid-run (logged at two rollouts) 60 below its neighbours."""
    rows = _running_mean_rows()
    dip = (rows[300][0], rows[301][0])
    rows = [(s, v - 60.0 if s in dip else v) for s, v in rows]
    progress = tmp_path / "progress.csv"
    progress.write_text("rollout/ep_rew_mean,eval/mean_reward,time/total_timesteps\n"
                        + "".join(f"{v},{v},{s}\n" for s, v in rows))
    running = _analyze(capsys, progress, "rollout/ep_rew_mean")
    assert running["outlier_steps"] == []
    note = next(w for w in running["warnings"] if "Stable-Baselines3's mean" in w)
    assert "none is left out as an outlier" in note and "EvalCallback's eval/mean_reward" in note
    evaluation = _analyze(capsys, progress, "eval/mean_reward")
    assert evaluation["outlier_steps"] == list(dip), "the control: these values hold an outlier pair"
    assert not any("Stable-Baselines3's mean" in w for w in evaluation["warnings"])
    assert main(["watch", str(progress), "--metric", "rollout/ep_rew_mean"]) == 0
    assert "Stable-Baselines3's mean over its last" in capsys.readouterr().err


def _sb3_rows(seed: int, rise: float, n: int = 800, window: int = 100, per_log: int = 4,
              episode_sd: float = 20.0) -> list[tuple[int, float]]:
    """An SB3-like `rollout/ep_rew_mean`: white-noise episode returns about a level that rises
    by `rise` over the first third of the run and then holds, `per_log` episodes a log, each
    value the mean of the last `window` (the buffer full from the first log: its fill-up is
    left, `running_means`). Its level noise is episode_sd / sqrt(window) = 2."""
    rng = np.random.default_rng(seed)
    episodes: collections.deque = collections.deque(rng.normal(0, episode_sd, window), maxlen=window)
    rows = []
    for it in range(n):
        level = rise * min(1.0, it / (n / 3))
        episodes.extend(level + rng.normal(0, episode_sd, per_log))
        rows.append((2048 * (it + 1), float(np.mean(episodes))))
    return rows


def _both_names(tmp_path, rows) -> str:
    """A progress.csv holding `rows` under SB3's running-mean name and under `train/reward`."""
    path = tmp_path / "progress.csv"
    path.write_text("rollout/ep_rew_mean,train/reward,time/total_timesteps\n"
                    + "".join(f"{v},{v},{s}\n" for s, v in rows))
    return str(path)


def test_a_flat_running_mean_is_one_plateau_against_the_noise_of_its_level(tmp_path, capsys):
    """Successive values of a mean over 100 episodes logged every 4 differ by sqrt(4 / 100) of
    the scatter of one value, and measured in that step every wander of the window was a phase
    (each of these runs: 3 to 7 phases, 'disruption, readaptation, overfit, ...'). Against the
    level noise read from the data (2, lag-k second differences levelling off at 25 logs), with
    standard errors that count 25 values as one, a flat run is one plateau. The same values
    under a name that is no running mean are read as before: the noise of one log's step, and
    the same swings named."""
    for seed in range(4):
        path = _both_names(tmp_path, _sb3_rows(seed, rise=0.0))
        running = _analyze(capsys, path, "rollout/ep_rew_mean")
        assert [p["name"] for p in running["phases"]] == ["plateau"], seed
        assert 1.5 < running["noise_sd"] < 2.7, running["noise_sd"]
        note = next(w for w in running["warnings"] if "Stable-Baselines3's mean" in w)
        assert "measured in sds of one value about the curve" in note
        other = _analyze(capsys, path, "train/reward")
        assert len(other["phases"]) > 1 and other["noise_sd"] < 1.2, seed
        assert not any("Stable-Baselines3's mean" in w for w in other["warnings"])


def test_a_running_mean_that_rises_then_holds_is_improvement_then_plateau(tmp_path, capsys):
    """A rise of 15 level sds over the first third of the run, then flat: improvement, plateau
    (the old reading named swings of the held level overfits and improvements)."""
    for seed in range(4):
        running = _analyze(capsys, _both_names(tmp_path, _sb3_rows(seed, rise=30.0)),
                           "rollout/ep_rew_mean")
        assert [p["name"] for p in running["phases"]] == ["improvement", "plateau"], seed


@pytest.mark.parametrize(("name", "window"), [
    ("metrics/win_rate_100", 100), ("reward_100", 100), ("mean_reward_100", 100),
    ("return_100", 100), ("success_rate_100", 100), ("eval/ep_rew_50", 50),
    ("recall_100", None), ("ndcg_10", None), ("hits_10", None), ("acc_5", None),
    ("reward_5", None), ("win_rate", None), ("eval/return", None)])
def test_a_name_that_states_its_window_is_a_running_mean(name, window):
    """A reward / return / win or success rate followed by _N (N >= 10) is a mean over its last
    N episodes; a ranking cut-off or a top-k is not."""
    assert stated_window(name) == window
    assert is_running_mean(name) == (window is not None)


def test_a_win_rate_over_its_last_100_games_is_judged_against_its_binomial_level_noise(tmp_path,
                                                                                       capsys):
    """A win rate over the last 100 games logged once a game (a trading-card PPO agent's
    `metrics/win_rate_100`) rises from 0.2 to 0.5 over 300 games and holds for 1200: its held
    level wanders by a few hundredths, many sds of the step one game makes (0.007) but within
    the binomial sd of 100 games (0.05), and the old reading named those wanders overfits and
    improvements. Read as improvement, plateau (seeds 0-5: 5 of 6; seed 2 one improvement)."""
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        games: collections.deque = collections.deque(rng.random(100) < 0.2, maxlen=100)
        lines = []
        for game in range(1500):
            games.append(rng.random() < 0.2 + 0.3 * min(1.0, game / 300))
            lines.append(json.dumps({"step": 50 * (game + 1),
                                     "metrics/win_rate_100": float(np.mean(games))}))
        path = tmp_path / "metrics.jsonl"
        path.write_text("\n".join(lines) + "\n")
        run = _analyze(capsys, path, "metrics/win_rate_100")
        assert [p["name"] for p in run["phases"]] == ["improvement", "plateau"], seed
        assert 0.045 < run["noise_sd"] < 0.052
        assert any("the binomial sd of a rate over 100 episodes" in w for w in run["warnings"])


def test_the_variance_of_a_mean_of_running_means_counts_shared_episodes():
    """mean_variance: 1 for one value, 1 / n for independent values, and for a window of m logs
    the variance of a mean of n values that a simulation of block means gives."""
    assert mean_variance(1, 25) == pytest.approx(1.0)
    assert mean_variance(40, 1) == pytest.approx(1 / 40)
    rng = np.random.default_rng(1)
    blocks = rng.normal(0, np.sqrt(10), (20000, 10 + 30 - 1))
    values = np.stack([blocks[:, j:j + 10].mean(axis=1) for j in range(30)], axis=1)  # sd 1
    assert np.var(values.mean(axis=1)) == pytest.approx(mean_variance(30, 10), rel=0.05)
