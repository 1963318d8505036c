"""Stable-Baselines3's `EvalCallback` file `evaluations.npz`, written here as EvalCallback
writes it (`np.savez(path, timesteps=..., results=..., ep_lengths=...)`, `successes=...` where
the environment reports success): a LunarLander PPO run's file in a public repository (10
evaluations of 5 episodes) stopped at "binary content that is not a known log format"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.io import read_run

STEPS = np.arange(10_000, 110_000, 10_000)
# each evaluation's mean return (the real file's: a fall after the first, one dip at 50k) and
# its 5 episodes around it
MEANS = np.array([-19.1, -25.7, -90.3, -110.5, -24.1, -151.2, -119.2, -132.0, -121.4, -134.8])
RETURNS = MEANS[:, None] + np.array([6.0, -4.5, 1.5, -9.0, 6.0])[None, :]
LENGTHS = np.full((10, 5), 742)


def _write(path: Path, n: int = 10, **extra) -> Path:
    np.savez(path, timesteps=STEPS[:n], results=RETURNS[:n], ep_lengths=LENGTHS[:n], **extra)
    return path.with_suffix(".npz") if path.suffix != ".npz" else path


def test_each_evaluation_is_its_episodes_mean_at_its_timesteps(tmp_path):
    """Before: InputError, binary content that is not a known log format."""
    run = read_run(_write(tmp_path / "evaluations.npz"))
    assert run.format == "sb3_evaluations"
    reward = run.column("eval/mean_reward")
    assert list(reward.steps) == list(STEPS)
    assert np.allclose(reward.values, RETURNS.mean(axis=1))
    assert list(run.column("eval/mean_ep_length").values) == [742.0] * 10
    assert run.config["n_eval_episodes"] == 5


def test_analyze_judges_the_held_out_return(tmp_path, capsys):
    path = _write(tmp_path / "evaluations.npz")
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "metric eval/mean_reward (max)" in out, out


def test_successes_are_a_success_rate(tmp_path):
    successes = np.zeros((10, 5), dtype=bool)
    successes[5:, :3] = True
    run = read_run(_write(tmp_path / "evaluations.npz", successes=successes))
    assert list(run.column("eval/success_rate").values) == [0.0] * 5 + [0.6] * 5


def test_an_old_sb3s_returns_of_one_environment_each_are_read(tmp_path):
    """SB3 before 1.2 summed a VecEnv's rewards as arrays of one (a Curve Fever DQN run's file:
    results (20, 5, 1) float32 beside ep_lengths (20, 5)). Before: refused as not
    EvalCallback's evaluations file."""
    path = tmp_path / "evaluations.npz"
    np.savez(path, timesteps=STEPS, results=RETURNS[:, :, None].astype(np.float32),
             ep_lengths=LENGTHS)
    run = read_run(path)
    assert np.allclose(run.column("eval/mean_reward").values, RETURNS.mean(axis=1), atol=1e-4)
    assert list(run.column("eval/mean_ep_length").values) == [742.0] * 10
    assert run.config["n_eval_episodes"] == 5


@pytest.mark.parametrize("results, lengths", [
    (np.ones((10, 5, 2)), LENGTHS),  # two numbers per episode
    (np.ones((10, 5, 1)), np.full((10, 4), 742)),  # episodes that are not ep_lengths'
    (np.ones((10, 5, 1)), None),  # no ep_lengths to match
])
def test_other_arrays_are_refused_naming_the_file_and_what_evalcallback_writes(
        tmp_path, capsys, results, lengths):
    path = tmp_path / "evaluations.npz"
    extra = {} if lengths is None else {"ep_lengths": lengths}
    np.savez(path, timesteps=STEPS, results=results, **extra)
    assert main(["inspect", str(path)]) == 3
    err = capsys.readouterr().err
    assert str(path) in err and "'results' holds" in err, err
    assert "not EvalCallback's evaluations file (it writes" in err and "Traceback" not in err


def test_an_array_of_objects_is_refused_not_unpickled(tmp_path, capsys):
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = [1.0, 2.0], [3.0]
    path = tmp_path / "evaluations.npz"
    np.savez(path, timesteps=STEPS[:2], results=ragged)
    assert main(["inspect", str(path)]) == 3
    err = capsys.readouterr().err
    assert "does not unpickle" in err and "Traceback" not in err, err


def test_another_zip_is_not_taken(tmp_path, capsys):
    path = tmp_path / "arrays.npz"
    np.savez(path, weights=np.ones(3))
    assert main(["inspect", str(path)]) == 3
    assert "not a known log format" in capsys.readouterr().err


def test_a_follow_gives_the_evaluations_each_rewrite_adds(tmp_path):
    from phasewatch.io.sb3_evaluations import source

    path = _write(tmp_path / "evaluations.npz", n=4)
    followed = source(path, follow=True)
    assert [r.step for r in followed.read(final=False)] == list(STEPS[:4])
    _write(path, n=10)
    assert [r.step for r in followed.read(final=False)] == list(STEPS[4:])


def test_a_restarted_run_rewriting_the_file_with_fewer_evaluations_loses_none(tmp_path):
    """A run started again rewrites evaluations.npz from its first evaluation: the follower
    gives its evaluations at once, going back in steps, a resume its consumer resolves (a count
    of those given before held them back until the new run had more)."""
    from phasewatch.io.sb3_evaluations import source

    path = _write(tmp_path / "evaluations.npz", n=6)
    followed = source(path, follow=True)
    assert len(list(followed.read(final=False))) == 6
    np.savez(path, timesteps=STEPS[:3], results=RETURNS[:3] + 50.0, ep_lengths=LENGTHS[:3])
    again = list(followed.read(final=False))
    assert [r.step for r in again] == list(STEPS[:3])
    assert again[0].values["eval/mean_reward"] == np.float64(MEANS[0] + 50.0)


def test_a_log_folder_shows_it_beside_the_monitor_file(tmp_path, capsys):
    """EvalCallback's `log_path` often holds the Monitor files too: the folder is both runs,
    the training episodes and the evaluations (a folder's other `.npz` files stay unread)."""
    _write(tmp_path / "evaluations.npz")
    np.savez(tmp_path / "weights.npz", w=np.ones(3))
    (tmp_path / "0.monitor.csv").write_text(
        '#{"t_start": 1758042302.9, "env_id": "LunarLander-v3"}\nr,l,t\n'
        + "".join(f"{-139.2 + 3 * i},{99 + i},{0.02 * i}\n" for i in range(20)))
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "folder of 2 runs" in out and "sb3_evaluations" in out and "sb3_monitor" in out, out
