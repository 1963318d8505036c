"""A Hugging Face run killed and resumed into its output folder (trial 34): the Trainer writes
one TensorBoard folder per start, `OUT/runs/<date>_<host>/`. They are one run: `analyze` of
`OUT/runs` reads them as one (the resumed start's records supersede the steps it logs again, as
the checkpoints' trainer_state.json has it), and `watch OUT/runs --follow` moves on to the new
start's folder when it appears (it stayed on the first start's, and a replay refused the path
as "2 runs")."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from watch_follower import Follower, assert_same, eval_curve, replay

from phasewatch import read_run

pytest.importorskip("tensorboard")
pytest.importorskip("torch.utils.tensorboard")

KILLED_AT, RESUMED_FROM = 2140, 2000  # steps of eval_curve: the second start re-logs 2000-2140


def _start(out: Path, name: str, points) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(out / "runs" / name))
    for i, (step, acc) in enumerate(points):
        writer.add_scalar("eval/accuracy", acc, step)
        if i % 20 == 0:
            writer.flush()
            time.sleep(0.01)
    writer.close()


def test_a_resumed_trainers_starts_are_one_run_followed_and_replayed_alike(tmp_path):
    out = tmp_path / "out"
    curve = eval_curve()
    first = [(s, a) for s, a in curve if s <= KILLED_AT]
    resumed = [(s, a) for s, a in curve if s >= RESUMED_FROM]
    follower = Follower(out / "runs", stop_on=(), idle_exit=2.0)
    follower.wait_for_message("does not exist yet")
    # the killed start's evaluations after the resume point differ: the resumed ones must win
    _start(out, "Dec04_15-08-55_vm", first[:-8] + [(s, a - 0.2) for s, a in first[-8:]])
    follower.wait_for_message("following")
    time.sleep(0.2)
    _start(out, "Dec04_15-10-39_vm", resumed)
    followed = follower.ends_by_itself(timeout=40)
    replayed, result = replay(out / "runs", stop_on=())
    assert_same(followed, replayed)
    assert result.n_values == len(curve)  # every evaluation once, the resumed ones kept

    run = read_run(out / "runs")
    series = run.series("eval/accuracy")
    assert list(series.index) == [s for s, _ in curve]
    assert series.iloc[-1] == pytest.approx(curve[-1][1], abs=1e-6)
    resumed_values = dict(resumed)
    for step, value in series.items():
        if RESUMED_FROM <= step <= KILLED_AT:
            assert value == pytest.approx(resumed_values[step], abs=1e-6)
    assert any("2 starts of one Trainer run" in w for w in run.warnings)
