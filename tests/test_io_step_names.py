"""Step columns real loggers name otherwise (`lines.STEP_KEYS`, `lines.find_step_key`).

Each table is written in the layout its writer writes (the writers are not installed here):
OpenAI Baselines' logger copied into an Atari A2C (`logger.logkv("frame", frame_idx)`,
AtariRL/atari-pytorch), a DQN's per-step metrics (`Timestamp,Timestep,...`,
orwellian225/rl-power-grid), a Stable-Baselines3 fork that logs "time/total timesteps"
(BoogaQ/PPO-exploration), Ray Tune / RLlib's `progress.csv` and `result.json`
(`training_iteration`), and tables of one row per training episode (`Episode`, 922029/sumo116;
`episode_count`, maxwelllokshin1/rl-flappybird). Before, the first and the last two were read
against their row numbers with the counter offered as a metric, and the others were "unknown
log format" or read by record number. RLlib's mean episode return is its train reward
(`role_candidates`): a Ray run had "performance metric: none of the usual ones".
"""

from __future__ import annotations

import csv
import json

from phasewatch.io import read_run
from phasewatch.signals import choose_metric


def write_csv(path, header, rows) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def test_baselines_logger_frame_is_the_step(tmp_path):
    path = tmp_path / "progress.csv"
    write_csv(path, ["episode_reward", "frame", "value"],
              [[0.01 * k, 640 * k, 0.2 - 0.01 * k] for k in range(1, 31)])
    run = read_run(path)
    assert run.series("value").index.tolist() == [640 * k for k in range(1, 31)]
    assert "frame" not in run.metrics
    assert not [w for w in run.warnings if "row number" in w]


def test_a_timestep_column_beside_a_timestamp(tmp_path):
    path = tmp_path / "baseline_dqn_metrics.csv"
    write_csv(path, ["Timestamp", "Timestep", "Loss", "Reward_Mean", "Length_Mean"],
              [[f"2024-10-20 15:37:{k % 60:02d}", k, 1.0 / k, 0.1 * k, 18.0] for k in range(1, 41)])
    run = read_run(path)
    assert run.series("Reward_Mean").index.tolist() == list(range(1, 41))
    assert "Timestep" not in run.metrics


def test_total_timesteps_written_with_a_space(tmp_path):
    """The fork's `logger.record("time/total timesteps", self.num_timesteps)`: "total timesteps"
    in its CSV header, a progress cell such as "0.82%" beside it."""
    path = tmp_path / "run-2020-08-27-08-48-51-995033.csv"
    rows = [[8192 * k, 12.0 + 5 * k, f"{0.82 * (k - 1):.2f}%", 556 * k] for k in range(1, 26)]
    write_csv(path, ["total timesteps", "ep_rew_mean", "Progress", "num_episodes"], rows)
    run = read_run(path)
    assert run.series("ep_rew_mean").index.tolist() == [8192 * k for k in range(1, 26)]
    assert "total timesteps" not in run.metrics


RAY_HEADER = ["episode_reward_max", "episode_reward_mean", "episode_len_mean",
              "episodes_this_iter", "timesteps_total", "done", "episodes_total",
              "training_iteration", "trial_id", "date", "time_this_iter_s", "hostname",
              "config/lr"]


def ray_result(k: int) -> dict:
    return {"episode_reward_max": 50.0 + k, "episode_reward_mean": 20.0 + k,
            "episode_len_mean": 20.0 + k, "episodes_this_iter": 10, "timesteps_total": 4000 * k,
            "done": False, "episodes_total": 10 * k, "training_iteration": k,
            "trial_id": "a1b2c3", "date": "2021-03-01_10-00-00", "time_this_iter_s": 1.5,
            "hostname": "node", "config": {"lr": 5e-5}}


def test_ray_tune_progress_csv_and_result_json_count_training_iterations(tmp_path):
    progress = tmp_path / "progress.csv"
    flat = [{**{k: v for k, v in ray_result(k).items() if k != "config"}, "config/lr": 5e-5}
            for k in range(1, 21)]
    write_csv(progress, RAY_HEADER, [[row[c] for c in RAY_HEADER] for row in flat])
    run = read_run(progress)
    assert run.series("episode_reward_mean").index.tolist() == list(range(1, 21))
    assert "training_iteration" not in run.metrics

    result = tmp_path / "result.json"
    result.write_text("".join(json.dumps(ray_result(k)) + "\n" for k in range(1, 21)))
    run = read_run(result)
    assert run.series("episode_reward_mean").index.tolist() == list(range(1, 21))
    assert not [w for w in run.warnings if "record number" in w]
    # the mean return of the iteration's training episodes is the run's train reward
    assert run.resolve_metric(choose_metric(run)) == "episode_reward_mean"


def test_rllib_new_api_stack_return(tmp_path):
    """RLlib's new API stack nests it: `{"env_runners": {"episode_return_mean": ...}}`."""
    result = tmp_path / "result.json"
    rows = [{"training_iteration": k, "env_runners": {"episode_return_mean": 9.0 + k,
                                                      "episode_len_mean": 9.0 + k},
             "learners": {"default_policy": {"total_loss": 1.0 / k}}} for k in range(1, 21)]
    result.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run = read_run(result)
    assert run.resolve_metric(choose_metric(run)) == "env_runners/episode_return_mean"
    assert run.series("env_runners/episode_return_mean").index.tolist() == list(range(1, 21))


def test_one_row_per_training_episode(tmp_path):
    """`Episode` counts the rows' episodes; `episode_count` too, where `frames` beside it is the
    length of that evaluation's episode, a value, not a counter."""
    path = tmp_path / "soro.csv"
    write_csv(path, ["Episode", "C1", "C2", "Total"],
              [[k, 120.0 + k, 250.0 - k, 370.0] for k in range(1, 11)])
    assert read_run(path).series("Total").index.tolist() == list(range(1, 11))

    path = tmp_path / "eval_log.csv"
    write_csv(path, ["episode_count", "frames", "pipes"],
              [[51 + 50 * k, 183 + (37 * k) % 200, k % 7] for k in range(30)])
    run = read_run(path)
    assert run.series("pipes").index.tolist() == [51 + 50 * k for k in range(30)]
    assert run.series("frames").tolist() == [183 + (37 * k) % 200 for k in range(30)]


def test_steps_that_count_episodes_are_said_as_episodes(tmp_path, capsys):
    """A table whose only counter counts episodes is said in episodes, as one counted in epochs
    is said in epochs: a Q-learner's `[{"episode": 0, "avg_reward": ...}]` of 800 rows
    (traffic-rl-openenv) read "recommended stop: step 16" and "steps 0-799", training steps its
    run never counted."""
    from phasewatch.cli import main

    path = tmp_path / "training_log.json"
    path.write_text(json.dumps([{"episode": k, "avg_reward": 0.02 + 0.001 * k} for k in range(40)]))
    run = read_run(path)
    assert run.step_unit == "episode"
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "recommended stop: episode " in out and " step " not in out
    for name, key in (("soro.csv", "Episode"), ("eval_log.csv", "episode_count")):
        table = tmp_path / name
        write_csv(table, [key, "reward"], [[k, 0.1 * k] for k in range(1, 11)])
        assert read_run(table).step_unit == "episode"
    steps = tmp_path / "steps.csv"
    write_csv(steps, ["step", "episode", "reward"], [[100 * k, k, 0.1 * k] for k in range(1, 11)])
    assert read_run(steps).step_unit == "step"
