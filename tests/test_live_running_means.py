"""The live monitor judges a running mean (SB3's `rollout/ep_rew_mean`, a `win_rate_100`) against
the noise of its level, as `analyze` does (`online.series_noise.level_of_running_mean`), and
every other series as before."""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_running_means import _sb3_rows
from watch_follower import replay

from phasewatch.online import PhaseMonitor
from phasewatch.online.state import MEDIAN_SE
from phasewatch.running_means import level_noise, mean_variance

POKEMON = (Path(__file__).resolve().parents[1] / "benchmarks" / "real_corpus" / "data"
           / "jsonl-pokemon-tcg-ppo-winrate-87" / "metrics.jsonl")


def _win_rates(seed: int, n: int = 200, per_log: int = 4) -> list[float]:
    """A flat win rate of 0.3 over the last 100 games, logged every `per_log` games."""
    rng = np.random.default_rng(seed)
    games: collections.deque = collections.deque(rng.random(100) < 0.3, maxlen=100)
    rates = []
    for _ in range(n):
        games.extend(rng.random(per_log) < 0.3)
        rates.append(float(np.mean(games)))
    return rates


def _watched(tmp_path, name: str, values: list[float]) -> list:
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": 50 * (i + 1), name: v}) + "\n"
                            for i, v in enumerate(values)))
    return replay(path, metric=name)[0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_flat_win_rate_over_its_last_100_games_raises_no_live_alert(tmp_path, seed):
    """A win rate over the last 100 games logged every 4 moves by sqrt(4 / 100) of its binomial
    sd (0.046) from log to log: measured in that step, its wander of a few hundredths was a
    '5-20 se' improvement, disruption or overfit on each of these runs, each stopped. Against
    its level noise, a flat run raises nothing. The same values under a name that is no running
    mean are read as before: their swings alerted on, the run stopped (seed 3 too since the
    noise of a lattice is its mean absolute difference, 0.0086, not one step of 0.01: 4551d7f)."""
    rates = _win_rates(seed)
    assert _watched(tmp_path, "metrics/win_rate_100", rates) == []
    other = _watched(tmp_path, "metrics/win_rate", rates)
    assert any(a.event == "overfit" for a in other), other


def test_the_level_noise_and_its_window_set_the_live_standard_errors():
    """The monitor's sd of an SB3 `rollout/ep_rew_mean` is the level noise `analyze` reads from
    the same values (here about 2, the episode sd 20 over 100 episodes, with a window of about
    10 logs at 10 episodes a log), never below the noise read as for any series, and its
    level's se counts the window's values as sharing their episodes; the same values named
    `train/reward` are read as before, each value independent."""
    values = [v for _, v in _sb3_rows(0, rise=0.0, n=256, per_log=10)]
    running, other = (PhaseMonitor(metric=name, stop_on=())
                      for name in ("rollout/ep_rew_mean", "train/reward"))
    for i, v in enumerate(values):
        running.update(2048 * (i + 1), {"rollout/ep_rew_mean": v})
        other.update(2048 * (i + 1), {"train/reward": v})
    s, t = running.trackers_[0].series, other.trackers_[0].series
    level = level_noise("rollout/ep_rew_mean", np.asarray(s.values))
    assert level is not None and 5 <= level.window <= 20
    assert s.window_logs == level.window and 1.5 < level.sd < 2.7
    assert s.sigma == max(level.sd, t.sigma)  # never below the noise read as for any series
    k = s.window_now
    assert s.se_level == pytest.approx(MEDIAN_SE * s.sigma * math.sqrt(mean_variance(k, s.window_logs)))
    assert t.window_logs == 1.0
    assert t.se_level == pytest.approx(MEDIAN_SE * t.sigma / math.sqrt(k))


@pytest.mark.skipif(not POKEMON.exists(), reason="the real-log corpus is not built here")
def test_the_pokemon_win_rate_watched_live_is_not_stopped_as_an_overfit():
    """jsonl-pokemon-tcg-ppo-winrate-87's `metrics/win_rate_100`: `analyze` reads improvement;
    the monitor stopped it as 'overfit ... 0.0319 (22.6 se) below its best level 0.2778', a
    sag within the binomial sd of 100 games (0.045)."""
    alerts, _ = replay(POKEMON, metric="metrics/win_rate_100")
    assert not any(a.event == "overfit" for a in alerts), alerts
    assert [a.event for a in alerts][-1:] == ["improvement"]


def test_watch_says_when_it_reads_a_running_means_level_noise(tmp_path, capsys):
    """`watch`'s note on a running mean says what the monitor judges its changes against (the
    level noise once the values tell it, the step between logs until then), not `analyze`'s
    note on a series read without its level noise ("the sd multiples overstate every change")."""
    from phasewatch.cli import main

    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": 50 * (i + 1), "metrics/win_rate_100": v}) + "\n"
                            for i, v in enumerate(_win_rates(0, n=40))))
    assert main(["watch", str(path), "--metric", "metrics/win_rate_100"]) == 0
    said = capsys.readouterr().err
    assert "the monitor measures its changes against the noise of one value about the curve" \
        in said, said
    assert "multiples overstate" not in said
