"""Reinforcement-learning loggers count environment steps (`lines.STEP_KEYS`): Stable-Baselines3's
`progress.csv` (`time/total_timesteps`), OpenAI Baselines' (`TimestepsSoFar`, `total_timesteps`).
The four real `logs/progress.csv` of the sweep (TobiasLudwig02/RLFlappyBird, haakontveit1/rl_racer,
sottsout/SAC_PROJECT, davidADSP/SIMPLE) were all 'unknown log format'. Stable-Baselines3 is not
installed here: the files are written with `csv` in the layout its CSV logger writes (the keys of
the first dump as the header, empty cells for keys a row does not log), a few rows each."""

from __future__ import annotations

import csv
import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run

PPO_KEYS = ["rollout/ep_rew_mean", "time/fps", "time/iterations", "time/total_timesteps",
            "time/time_elapsed", "rollout/ep_len_mean", "train/clip_fraction", "train/loss",
            "train/learning_rate", "train/entropy_loss"]


def sb3_progress(path, iterations=40) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=PPO_KEYS)
        writer.writeheader()
        for it in range(1, iterations + 1):
            row = {"rollout/ep_rew_mean": -7.5 + 0.4 * it, "time/fps": 1171 - it,
                   "time/iterations": it, "time/total_timesteps": 1024 * it,
                   "time/time_elapsed": 2 * it, "rollout/ep_len_mean": 50 + it}
            if it > 1:  # the first dump has no training stats yet
                row.update({"train/clip_fraction": 0.015, "train/loss": 1.0 / it,
                            "train/learning_rate": 0.0003, "train/entropy_loss": -1.38})
            writer.writerow(row)


def test_sb3_progress_csv_counts_timesteps(tmp_path, capsys):
    path = tmp_path / "progress.csv"
    sb3_progress(path)
    run = read_run(path)
    assert run.format == "csv"
    reward = run.series("rollout/ep_rew_mean")
    assert reward.index.tolist() == [1024 * it for it in range(1, 41)]
    assert "time/total_timesteps" not in run.metrics  # the step, not a metric
    assert run.series("train/loss").index[0] == 2048  # the sparse first row
    assert main(["analyze", "--metric", "rollout/ep_rew_mean", str(path)]) == 0
    assert "rollout/ep_rew_mean" in capsys.readouterr().out


def test_baselines_ppo1_and_sb3_json_and_an_episode_count(tmp_path):
    ppo1 = tmp_path / "baselines.csv"
    ppo1.write_text("TimeElapsed,loss_vf_loss,EpisodesSoFar,EpRewMean,TimestepsSoFar,EpLenMean\n"
                    + "".join(f"{2.4 * k},0.05,{12 * k},{0.01 * k},{1024 * k},84.0\n" for k in range(1, 19)))
    assert read_run(ppo1).series("EpRewMean").index[-1] == 18 * 1024
    sb3_json = tmp_path / "progress.json"  # SB3's "json" format: one object per dump
    sb3_json.write_text("".join(json.dumps({"rollout/ep_rew_mean": 0.1 * k, "time/total_timesteps": 2048 * k,
                                            "time/fps": 900}) + "\n" for k in range(1, 11)))
    run = read_run(sb3_json)
    assert run.series("rollout/ep_rew_mean").index.tolist() == [2048 * k for k in range(1, 11)]
    assert not any("record number" in w for w in run.warnings)
    sac = tmp_path / "sac.csv"  # an off-policy log that kept its episodes, not its timesteps
    sac.write_text("rollout/ep_rew_mean,time/episodes,rollout/success_rate,train/critic_loss\n"
                   + "".join(f"{-50 + k / 10},{k},0.0,{'' if k < 5 else 0.5}\n" for k in range(30)))
    assert read_run(sac).series("train/critic_loss").index[0] == 5


def test_a_trainer_that_groups_its_metrics_by_kind_counts_system_step(tmp_path):
    """A home-made GRPO trainer's JSONL (trial 38b): `system/step` 1..N beside `actor/*` and
    `reward/*`, no `step`: its own count, not the record number (every step was one less)."""
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"actor/pg_loss": 0.001 * i, "reward/selected_mean": 0.3 + 0.001 * i,
                                        "system/step": i}) + "\n" for i in range(1, 31)))
    run = read_run(path)
    assert list(run.series("reward/selected_mean").index[[0, -1]]) == [1, 30]
    assert not any("step-like key" in w for w in run.warnings)


def baselines_progress(path, dumps=30) -> None:
    """What OpenAI Baselines' `CSVOutputFormat.writekvs` leaves (`baselines/logger.py`, copied by
    morikatron/GAIL_PPO's `algo/logger.py`): the keys of the dumps, sorted, as the header, then
    `str(value)` per key per dump; a script that logs no `total_timesteps` has no step column."""
    keys = sorted(["agent acc", "loss", "mean 100 episode reward", "num episodes"])
    rows = [{"agent acc": 0.8, "loss": 10.0 / k, "mean 100 episode reward": min(200.0, 25.0 * k),
             "num episodes": 4 * k} for k in range(1, dumps + 1)]
    path.write_text(",".join(keys) + "\n" + "".join(",".join(str(r[k]) for k in keys) + "\n" for r in rows))


def test_a_baselines_csv_without_a_step_column_is_read_by_its_row_numbers(tmp_path, capsys):
    """GAIL_PPO's `sample_result/ppo/progress.csv` (Baselines' logger, no timestep key) was
    'unknown log format'; its rows are its dumps, in order, as a JSON-lines log without steps
    is read by its record numbers, and a warning says so."""
    path = tmp_path / "progress.csv"
    baselines_progress(path)
    run = read_run(path)
    assert run.format == "csv"
    reward = run.series("mean 100 episode reward")
    assert reward.index.tolist() == list(range(30)) and reward.iloc[-1] == 200.0
    assert any("using the row number as the step" in w for w in run.warnings)
    assert main(["analyze", "--metric", "mean 100 episode reward", str(path)]) == 0
    out = capsys.readouterr().out
    assert "improvement" in out and "row number" in out
    assert main(["watch", "--metric", "mean 100 episode reward", str(path)]) == 0
    assert "watched 30 records" in capsys.readouterr().err


def test_a_table_of_words_or_a_header_of_numbers_is_still_no_log(tmp_path, capsys):
    """Rows with words (a list of runs and their final scores) or a header that is a row of
    numbers are no log read row by row: 'unknown log format' as before."""
    runs = tmp_path / "summary.csv"
    runs.write_text("run_name,final_accuracy\n" + "".join(f"run-{k},0.{k}\n" for k in range(1, 9)))
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("".join(f"{k},{k * 0.5}\n" for k in range(10)))
    for path in (runs, numbers):
        assert main(["inspect", str(path)]) == 3
        assert "unknown log format" in capsys.readouterr().err


def test_baselines_deepq_mean_100_episode_reward_is_its_reward_a_running_mean(tmp_path, capsys):
    """Baselines' deepq (and Stable Baselines 2's DQN) log `mean 100 episode reward`, the mean
    return of the last 100 episodes, beside `steps`: it was no role, so `analyze` took the
    train `loss` a script logs beside it (morikatron/GAIL_PPO's table) and left a one-log drop
    of that running mean out as an outlier. It is the run's reward and a running mean, as
    `EpRewMean` is: analysed by default, every value kept, its note said."""
    keys = ["% time spent exploring", "episodes", "loss", "mean 100 episode reward", "steps"]
    rows = []
    for k in range(1, 41):
        reward = round(min(150.0, 10.0 + 8.0 * k) + 3.0 * math.sin(k) - (25.0 if k == 30 else 0.0), 1)
        rows.append([max(2, 100 - 5 * k), 4 * k, 10.0 / k, reward, 1000 * k])
    path = tmp_path / "progress.csv"
    path.write_text(",".join(keys) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "metric mean 100 episode reward (max)" in out
    assert "OpenAI Baselines' mean over its last 100 episodes" in out
    assert "isolated outlier" not in out


def baselines_ddpg_progress(path, epochs=40, evaluated=False) -> None:
    """What OpenAI Baselines' DDPG leaves in progress.csv (`ddpg/training.py`: one dump per
    epoch, the keys sorted): `total/steps`, its counter of environment steps, beside
    `total/epochs`; `rollout/return`, the mean return of every training episode since the start
    (its list is set once, before the epoch loop), `rollout/return_history` over the last 100;
    with an eval env, `eval/return`, the mean of the epoch's evaluation episodes."""
    rows = []
    for k in range(1, epochs + 1):
        recent = min(5000.0, -1200.0 + 400.0 * k) + 150.0 * math.sin(1.7 * k)
        row = {"total/steps": 2000 * k, "total/epochs": k, "total/episodes": 30 * k,
               "rollout/return": -1200.0 + 3000.0 * (1 - math.exp(-k / 15)),
               "rollout/return_history": round(recent, 2), "train/loss_actor": -k / 10,
               "train/loss_critic": 10.0 / k}
        if evaluated:
            row["eval/return"] = round(recent + 300.0 + 120.0 * math.cos(k), 2)
        rows.append(row)
    keys = sorted(rows[0])
    path.write_text(",".join(keys) + "\n"
                    + "".join(",".join(str(r[key]) for key in keys) + "\n" for r in rows))


def test_baselines_ddpg_counts_total_steps_and_its_return_over_the_last_100(tmp_path, capsys):
    """A DDPG progress.csv (HzCeee/DDPG-AI-Pilot's, 1,494 epochs) had 'no performance metric'
    and steps read as its row numbers: its step is `total/steps`, its train reward the mean
    return of the last 100 episodes, a running mean; not the mean since the start."""
    path = tmp_path / "progress.csv"
    baselines_ddpg_progress(path)
    run = read_run(path)
    assert run.series("rollout/return_history").index.tolist() == [2000 * k for k in range(1, 41)]
    assert not any("row number" in w for w in run.warnings), run.warnings
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "rollout/return_history" and result["direction"] == "max"
    assert any("mean over its last 100 episodes" in w for w in result["warnings"])


def test_baselines_ddpg_evaluations_are_its_held_out_reward(tmp_path, capsys):
    path = tmp_path / "progress.csv"
    baselines_ddpg_progress(path, evaluated=True)
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "eval/return" and result["direction"] == "max", result["metric"]
