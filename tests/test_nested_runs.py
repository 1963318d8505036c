"""A run folder that holds another run: a Detectron2 OUTPUT_DIR (event files, `metrics.json`,
`inference/`) with a second training's OUTPUT_DIR inside it. Each folder is one run: the nested
one is listed beside the outer one, not read as extra tags of it; the sub-folders of one run
(a torch `add_scalars` tag's folder, Keras' `validation/`) stay parts of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.folders import find_runs, single_run
from phasewatch.io import read_run

pytest.importorskip("tensorboard")

ITERATIONS = range(19, 1000, 20)


def _events(folder: Path, tags: dict[str, float]) -> None:
    """Event files as Detectron2's TensorboardXWriter leaves them: a scalar per tag every 20
    iterations, the loss falling from `tags[tag]`."""
    from tensorboard.summary import Writer

    folder.mkdir(parents=True, exist_ok=True)
    writer = Writer(str(folder))
    for i, iteration in enumerate(ITERATIONS):
        for tag, first in tags.items():
            writer.add_scalar(tag, first / (1 + 0.1 * i), step=iteration)
    writer.close()


def _detectron2_output(folder: Path, first: float) -> None:
    """An OUTPUT_DIR: event files, `metrics.json` (one JSON object per line), `last_checkpoint`."""
    _events(folder, {"total_loss": first, "lr": 0.00025})
    (folder / "metrics.json").write_text("".join(
        json.dumps({"iteration": iteration, "total_loss": first / (1 + 0.1 * i), "lr": 0.00025,
                    "data_time": 0.002}) + "\n" for i, iteration in enumerate(ITERATIONS)))
    (folder / "last_checkpoint").write_text("model_final.pth")


@pytest.fixture
def nested(tmp_path: Path) -> Path:
    outer = tmp_path / "output"
    _detectron2_output(outer, 2.0)
    _detectron2_output(outer / "fold2", 3.0)
    (outer / "inference").mkdir()
    (outer / "inference" / "coco_instances_results.json").write_text("[]")
    return outer


def test_a_run_nested_in_a_run_folder_is_a_run_of_its_own(nested, capsys):
    runs = find_runs(nested)
    assert [r.name for r in runs] == [nested, nested / "fold2"]
    outer = read_run(nested)
    assert sorted(outer.metrics) == ["lr", "total_loss"]  # no `fold2/total_loss`
    assert outer.series("total_loss").iloc[0] == pytest.approx(2.0)
    assert read_run(nested / "fold2").series("total_loss").iloc[0] == pytest.approx(3.0)
    # the folder given is its own run, the nested one named in a warning
    assert single_run(nested).name == nested
    assert main(["watch", str(nested)]) == 0
    err = capsys.readouterr().err
    # as docs/formats.md quotes it
    assert ("fold2/: a run of its own (event files beside another log), not read with this "
            "folder's; give it to read it") in err
    assert main(["inspect", str(nested)]) == 0
    out = capsys.readouterr().out
    assert "[folder of 2 runs]" in out and f"{nested / 'fold2'}  tensorboard" in out


def test_the_sub_folders_of_one_run_are_still_read_with_it(tmp_path):
    """torch's `add_scalars("Loss", {"train": ..., "val": ...})` writes each to a folder of its
    own (`Loss_train/`, `Loss_val/`), beside the run's own event files; Keras writes
    `validation/`. A split's folder with a log beside its events is no run either."""
    run = tmp_path / "runs" / "exp1"
    _events(run, {"lr": 0.001})
    _events(run / "Loss_train", {"Loss": 2.0})
    _events(run / "validation", {"epoch_loss": 2.5})
    (run / "validation" / "log.jsonl").write_text(
        "".join(json.dumps({"step": s, "val_loss": 1.0}) + "\n" for s in range(5)))
    assert [r.name for r in find_runs(run)] == [run]
    assert sorted(read_run(run).metrics) == ["Loss_train/Loss", "lr", "validation/epoch_loss"]


def _as_written_by(folder: Path, pid: int) -> None:
    """Rename `folder`'s event files as if process `pid` had written them (the name holds
    `<host>.<pid>`): each `learn()` of a script run again is another process."""
    for path in folder.glob("events.out.tfevents.*"):
        head, _, counter = path.name.rpartition(".")
        path.rename(folder / f"{head.rpartition('.')[0]}.{pid}.{counter}")


def test_stable_baselines3_runs_beside_the_folders_own_are_runs_of_their_own(tmp_path):
    """SB3 given `tensorboard_log="logs"` writes each `learn()` to `logs/PPO_<n>/`; a run whose
    logger was configured with the folder itself writes its event files (and progress.csv) in
    `logs/`. Each folder is a run; the `PPO_<n>/` tags were read as tags of the outer one."""
    logs = tmp_path / "logs"
    _events(logs, {"rollout/ep_rew_mean": -80.0})
    _as_written_by(logs, 41356)
    (logs / "progress.csv").write_text("time/total_timesteps,rollout/ep_rew_mean\n10,-80.0\n")
    for n, pid in ((1, 34092), (2, 41904)):
        _events(logs / f"PPO_{n}", {"rollout/ep_rew_mean": -100.0 + n})
        _as_written_by(logs / f"PPO_{n}", pid)
    assert [r.name for r in find_runs(logs)] == [logs, logs / "PPO_1", logs / "PPO_2"]
    assert read_run(logs).metrics == ["rollout/ep_rew_mean"]
    assert read_run(logs / "PPO_2").series("rollout/ep_rew_mean").iloc[0] == pytest.approx(-98.0)
