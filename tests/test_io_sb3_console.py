"""Stable-Baselines3's console tables (`phasewatch.io.sb3_console`). SB3 is not installed here: the
tables are drawn as its `HumanOutputFormat` draws them (keys grouped under `prefix/` section lines,
floats through `:<8.3g`, the box as wide as its longest key and value), the layout of the sweep's
ZeshiWu/ML-capstone-project- logs, which were 'unknown log format'."""

from __future__ import annotations

import json
import math

import pytest
from _files import notebook_cell, read_as
from watch_follower import Follower, assert_same, replay, write_in_pieces

from phasewatch.cli import main
from phasewatch.io import read_run


def sb3_table(values: dict, sections: bool = True) -> str:
    """One dump as SB3's HumanOutputFormat writes it; without `sections`, as OpenAI Baselines'
    HumanOutputFormat.writekvs does (baselines/logger.py: keys whole, no section lines)."""
    def fmt(v):
        return f"{v:<8.3g}" if isinstance(v, float) else str(v)  # `%-8.3g`
    rows: list[tuple[str, str]] = []
    section = None
    for key in sorted(values):
        prefix, _, name = key.rpartition("/") if sections else ("", "", key)
        if prefix and prefix != section:
            rows.append((prefix + "/", ""))
            section = prefix
        rows.append(("    " + name if prefix else name, fmt(values[key])))
    kw, vw = max(len(k) for k, _ in rows), max(len(v) for _, v in rows)
    dashes = "-" * (kw + vw + 7)
    lines = [dashes] + [f"| {k}{' ' * (kw - len(k))} | {v}{' ' * (vw - len(v))} |" for k, v in rows]
    return "\n".join(lines + [dashes]) + "\n"


def ppo_log(iterations=40) -> str:
    out = ["Using cuda device", "Wrapping the env in a VecTransposeImage."]
    for it in range(1, iterations + 1):
        values = {"rollout/ep_len_mean": 250.0 + it, "rollout/ep_rew_mean": 1.4 + 3 * (1 - math.exp(-it / 8)) - 0.15 * max(it - 35, 0),
                  "time/fps": 170, "time/iterations": it, "time/time_elapsed": 12 * it,
                  "time/total_timesteps": 2048 * it}
        if it > 1:
            values.update({"train/approx_kl": 0.008046303, "train/loss": 0.5 / it,
                           "train/learning_rate": 0.0003, "train/n_updates": 10 * (it - 1)})
        out.append(sb3_table(values).rstrip("\n"))
        if it % 10 == 0:
            out.append(f"Eval num_timesteps={2048 * it}, episode_reward=-1649.00 +/- 20.10")
    return "\n".join(out) + "\n"


def test_ppo_tables_are_records_at_their_timesteps(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(ppo_log())
    run = read_run(log)
    assert run.format == "sb3_console"
    reward = run.series("rollout/ep_rew_mean")
    assert reward.index.tolist() == [2048 * it for it in range(1, 41)]
    assert reward.iloc[0] == 1.75  # `1.75    `: the 3 significant digits SB3 prints
    assert run.series("train/approx_kl").iloc[0] == 0.00805
    assert "time/total_timesteps" not in run.metrics
    assert not run.warnings, run.warnings


def test_dqn_tables_and_a_notebook_cell(tmp_path):
    tables = "".join(sb3_table({"rollout/ep_len_mean": 208.0, "rollout/ep_rew_mean": 2.0 + k / 10,
                                "rollout/exploration_rate": 0.921 - k / 100, "time/episodes": 4 * k,
                                "time/fps": 17, "time/time_elapsed": 48, "time/total_timesteps": 831 * k})
                     for k in range(1, 13))
    run = read_as(notebook_cell(tmp_path, "model.learn(100_000)", tables, name="dqn.ipynb"),
                  "sb3_console")
    assert run.series("time/episodes").index.tolist() == [831 * k for k in range(1, 13)]


def test_a_table_without_its_step_is_reported(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(ppo_log(5) + sb3_table({"rollout/ep_rew_mean": 3.0, "time/fps": 10}))
    run = read_run(log)
    assert len(run.series("rollout/ep_rew_mean")) == 5
    assert any("without time/total_timesteps" in w for w in run.warnings), run.warnings


def a2c_log_txt(updates=30, decline_after=None) -> str:
    """A Baselines a2c run's `log.txt` (the default `stdout,log,csv` formats): `Logging to DIR`,
    then a box every `log_interval` updates, as HITzixin/minigrid-RL's `log/log.txt`."""
    out = ["Logging to ./log\n"]
    for k in range(updates):
        fall = 0.03 * max(k - decline_after, 0) if decline_after is not None else 0.0
        out.append(sb3_table(sections=False, values={
            "episode_reward": 0.9 * (1 - math.exp(-k / 6)) - fall, "explained_variance": -0.137,
            "fps": 2915, "nupdates": 1 + 100 * k, "policy_entropy": 1.95 - k / 100,
            "total_timesteps": 80 * (1 + 100 * k), "value_loss": 1.78e-05}))
    return "".join(out)


def test_a_baselines_log_txt_is_read_at_its_total_timesteps(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text(a2c_log_txt())
    run = read_run(log)
    assert run.format == "sb3_console"
    reward = run.series("episode_reward")
    assert reward.index.tolist() == [80 * (1 + 100 * k) for k in range(30)]
    assert reward.iloc[1] == 0.138  # 0.9 * (1 - e^(-1/6)) = 0.13816..., printed `0.138   `
    assert "total_timesteps" not in run.metrics and not run.warnings, run.warnings


@pytest.mark.parametrize("text, metric", [
    (ppo_log(60), "rollout/ep_rew_mean"),  # SB3's boxes
    (a2c_log_txt(60, decline_after=35), "episode_reward"),  # Baselines' log.txt, sniffed once
])  # its first box is whole
def test_followed_in_pieces_equals_the_replay(tmp_path, capsys, text, metric):
    source = tmp_path / "whole.log"
    source.write_text(text)
    assert main(["analyze", "--metric", metric, str(source)]) == 0
    capsys.readouterr()
    path = tmp_path / "train.log"
    follower = Follower(path, stop_on=(), idle_exit=1.0, metric=metric)
    follower.wait_for_message("does not exist yet")
    write_in_pieces(path, text)
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=(), metric=metric)
    assert_same(followed, replayed)


def test_a_baselines_ppo2_box_keys_its_misc_prefix_as_written(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("".join(sb3_table(sections=False, values={
        "eplenmean": 200.0, "eprewmean": 10.0 + k, "misc/nupdates": k,
        "misc/serial_timesteps": 128 * k, "misc/total_timesteps": 1024 * k,
        "loss/value_loss": 0.5 / k}) for k in range(1, 9)))
    run = read_run(log)
    assert run.format == "sb3_console"
    assert run.series("eprewmean").index.tolist() == [1024 * k for k in range(1, 9)]
    assert "loss/value_loss" in run.metrics


def test_a_box_without_a_step_row_is_not_taken_for_a_baselines_log(tmp_path):
    """A box of a script's own (a summary of hyperparameters) holds no step: not this format."""
    log = tmp_path / "out.txt"
    box = sb3_table(sections=False, values={"batch_size": 64, "gamma": 0.99, "lr": 0.0003})
    log.write_text(box * 6)
    assert main(["inspect", str(log)]) == 3


def eval_callback_log(rewards, lengths=None, success=None) -> str:
    """A PPO run with SB3's EvalCallback (verbose=1) every 10000 steps: its `Eval
    num_timesteps=...` lines (`:.2f`), then the table it dumps at that step (`:<8.3g`), as
    laddermoon/combatbench's baseline/sb3/runs/*/train.log."""
    out = []
    for k, reward in enumerate(rewards, start=1):
        step = 10000 * k
        out.append(sb3_table({"rollout/ep_rew_mean": 95.8, "time/fps": 76,
                              "time/total_timesteps": step - 2048}))
        out.append(f"Eval num_timesteps={step}, episode_reward={reward:.2f} +/- 0.00\n")
        length = lengths[k - 1] if lengths else 160.0
        out.append(f"Episode length: {length:.2f} +/- 0.00\n")
        values = {"eval/mean_ep_length": length, "eval/mean_reward": reward,
                  "time/total_timesteps": step, "train/loss": 12.5}
        if success is not None:
            out.append(f"Success rate: {100 * success[k - 1]:.2f}%\n")
            values["eval/success_rate"] = success[k - 1]
        out.append(sb3_table(values))
        out.append("New best mean reward!\n" if k == 1 else "")
    return "".join(out)


def test_the_eval_callback_lines_tell_apart_what_the_table_rounds_alike(tmp_path, capsys):
    """115.83, 115.33, 116.26, 116.26, 116.10 print as 116, 115, 116, 116, 116 in the table: read
    from the table alone the first evaluation was the best; the lines say the third."""
    log = tmp_path / "train.log"
    log.write_text(eval_callback_log([115.83, 115.33, 116.26, 116.26, 116.10]))
    run = read_run(log)
    assert run.series("eval/mean_reward").tolist() == [115.83, 115.33, 116.26, 116.26, 116.10]
    assert run.series("rollout/ep_rew_mean").iloc[0] == 95.8
    assert main(["analyze", str(log), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["recommended_stop_step"] == 30000


def test_the_table_keeps_its_value_where_it_is_the_finer(tmp_path):
    """A reward of 0.0123 prints `0.01` in the line and `0.0123` in the table: the table's
    stands; 1234.567 prints `1234.57` in the line and `1.23e+03` in the table: the line's; a
    success rate's `85.12%` is 0.8512, finer than the table's `0.851`."""
    log = tmp_path / "train.log"
    log.write_text(eval_callback_log([0.0123, 0.0456, 1234.567], lengths=[160.0, 1234.5, 99.0],
                                     success=[0.8512, 0.5, 0.25]))
    run = read_run(log)
    assert run.series("eval/mean_reward").tolist() == [0.0123, 0.0456, 1234.57]
    assert run.series("eval/mean_ep_length").tolist() == [160.0, 1234.5, 99.0]
    assert run.series("eval/success_rate").tolist() == [0.8512, 0.5, 0.25]


def her_log(epochs=12) -> str:
    """OpenAI Baselines' HER (baselines/her/experiment/train.py): one box per epoch, stepped by
    `epoch`, beside counts of test and train episodes, as the HER FetchPush logs print it."""
    return "".join(sb3_table(sections=False, values={
        "epoch": k, "stats_g/mean": 0.0, "test/episode": 20.0 * (k + 1),
        "test/mean_Q": -1.4 - k, "test/success_rate": 0.05 + 0.4 * (1 - math.exp(-k / 3)),
        "train/episode": 100.0 * (k + 1), "train/success_rate": 0.06}) for k in range(epochs))


def test_tables_stepped_by_epoch_say_their_steps_are_epochs(tmp_path, capsys):
    """HER's tables count epochs, and the run's texts say so ("recommended stop: epoch 11", not
    "step 11"), as a CSV or JSON-lines log stepped by `epoch` does; SB3's timesteps stay steps."""
    log = tmp_path / "log_file_FetchPush.txt"
    log.write_text(her_log())
    run = read_run(log)
    assert run.format == "sb3_console" and run.step_unit == "epoch"
    assert run.series("test/success_rate").index.tolist() == list(range(12))
    assert main(["analyze", "--metric", "test/success_rate", str(log)]) == 0
    out = capsys.readouterr().out
    assert "recommended stop: epoch 11" in out, out
    sb3 = tmp_path / "train.log"
    sb3.write_text(ppo_log(5))
    assert read_run(sb3).step_unit == "step"
