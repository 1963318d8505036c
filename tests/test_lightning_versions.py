"""PyTorch Lightning's logger folders, `save_dir/lightning_logs/version_N/` (trial 40, Lightning
2.6.6): a Trainer with CSVLogger and TensorBoardLogger in one save_dir writes one training twice
(metrics.csv in version_0, event files in version_1), which every command called "2 runs" and a
`watch --follow` started before `fit` never followed; a run resumed with `fit(ckpt_path=...)`
writes a new version continuing an earlier one's steps, which was read as a fresh run whose
baseline is the resume point. Versions holding the same records are one run, a resume is read
after what it continues, and a version starting at step 0 stays a run of its own."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from watch_follower import Follower, assert_same, eval_curve, replay

from phasewatch import read_run
from phasewatch.analysis import analyze_run
from phasewatch.errors import InputError
from phasewatch.folders import find_runs, single_run

HPARAMS = "lr: 0.01\nseed: 0\n"
HEADER = "epoch,step,train_loss_step,val_acc\n"


def _curve(n=40, seed=0):
    """(step, val_acc) every 10 steps: a dip, a rise to a peak at step 190, an overfit."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    acc = 0.6 - 0.09 * np.exp(-(((t - 5) / 2) ** 2)) + 0.15 / (1 + np.exp(-(t - 12) / 2))
    acc = acc - np.where(t > 19, 0.12 * (t - 19) / (n - 19), 0.0) + rng.normal(0, 0.004, n)
    return [(int(i * 10 + 9), float(np.float32(a))) for i, a in zip(range(n), acc)]


def _csv(version: Path, points, loss_scale=1.0, hparams=HPARAMS) -> None:
    """A CSVLogger's version folder: a train-loss row and a validation row per step."""
    version.mkdir(parents=True)
    (version / "hparams.yaml").write_text(hparams)
    rows = [HEADER]
    for step, acc in points:
        rows.append(f"{step // 20},{step - 5},{loss_scale * 2 / (step + 1)!r},\n")
        rows.append(f"{step // 20},{step},,{acc!r}\n")
    (version / "metrics.csv").write_text("".join(rows))


def _tensorboard(version: Path, points, loss_scale=1.0) -> None:
    """A TensorBoardLogger's version folder holding the same records (float32, and its
    `hp_metric` placeholder at step 0)."""
    writer_class = pytest.importorskip("torch.utils.tensorboard").SummaryWriter
    version.mkdir(parents=True)
    (version / "hparams.yaml").write_text(HPARAMS)
    writer = writer_class(log_dir=str(version))
    writer.add_scalar("hp_metric", -1, 0)
    for step, acc in points:
        writer.add_scalar("train_loss_step", loss_scale * 2 / (step + 1), step - 5)
        writer.add_scalar("val_acc", acc, step)
    writer.close()


def _acc(run) -> dict[int, float]:
    return {int(s): float(v) for s, v in run.series("val_acc").items()}


def test_a_csv_and_a_tensorboard_version_of_one_training_are_one_run(tmp_path):
    points = _curve()
    _csv(tmp_path / "lightning_logs" / "version_0", points)
    _tensorboard(tmp_path / "lightning_logs" / "version_1", points)
    for given in (tmp_path, tmp_path / "lightning_logs"):
        runs = find_runs(given)
        assert [r.path for r in runs] == [tmp_path / "lightning_logs/version_0/metrics.csv"]
    run = read_run(tmp_path)
    assert _acc(run) == pytest.approx(dict(points))
    assert any("version_1 holds the same records as version_0" in w
               and "read once, from version_0/metrics.csv" in w for w in run.warnings)
    # the version folders given one by one are read as they are
    assert single_run(tmp_path / "lightning_logs/version_1").path == \
        tmp_path / "lightning_logs/version_1"


@pytest.mark.parametrize("how", ["other records", "other hparams"])
def test_two_trainings_from_step_0_stay_two_runs(tmp_path, how):
    points = _curve()
    _csv(tmp_path / "lightning_logs" / "version_0", points)
    if how == "other records":
        _csv(tmp_path / "lightning_logs" / "version_1", _curve(seed=1), loss_scale=0.5)
    else:  # the same records (a deterministic run), under other settings
        _csv(tmp_path / "lightning_logs" / "version_1", points, hparams="lr: 0.003\nseed: 0\n")
    with pytest.raises(InputError, match="2 runs .*version_0, lightning_logs/version_1"):
        single_run(tmp_path)


def _resumed(root: Path, crash=29, resume=15, hparams=HPARAMS):
    """version_0 logs evaluations 0..crash (a branch that goes on declining after the resume
    point), version_1 resumes from evaluation `resume` with the run's own curve."""
    points = _curve()
    abandoned = [(s, a - 0.05 if i > resume else a) for i, (s, a) in enumerate(points[:crash])]
    _csv(root / "version_0", abandoned)
    _csv(root / "version_1", points[resume:], hparams=hparams)
    return points


def test_a_resumed_version_is_read_after_the_version_it_continues(tmp_path):
    root = tmp_path / "lightning_logs"
    points = _resumed(root)
    first = points[15][0] - 5  # the resumed version's first record: its train loss
    runs = find_runs(tmp_path)
    assert len(runs) == 1 and runs[0].parts == (root / "version_0/metrics.csv",)
    for given in (tmp_path, root, root / "version_1"):
        run = read_run(given)
        assert _acc(run) == pytest.approx(dict(points))  # the resumed branch's values win
        assert any(f"version_1 resumes version_0 (Trainer.fit with ckpt_path) at step {first}, "
                   f"where version_0 had logged up to step {points[28][0]}" in w
                   for w in run.warnings), run.warnings
    analysis = analyze_run(read_run(root), metric="val_acc")
    assert analysis.recommended_stop_step == max(points, key=lambda p: p[1])[0]
    assert [p.name for p in analysis.phases][-1] == "overfit"
    # the crashed version alone is what it logged
    assert len(_acc(read_run(root / "version_0"))) == 29


def test_each_versions_hparams_are_read_once(tmp_path, monkeypatch):
    """Each comparison of two versions parsed both hparams.yaml again (four versions: 14
    parses for one `find_runs`, 4 of them the readers'): now one a version for the comparisons."""
    from phasewatch.io import lightning_folder

    root = tmp_path / "lightning_logs"
    _resumed(root)
    _csv(root / "version_2", _curve(seed=2))
    _csv(root / "version_3", _curve(seed=3)[:20], hparams="lr: 0.003\nseed: 0\n")
    read, hparams = [], lightning_folder.lightning_hparams
    monkeypatch.setattr(lightning_folder, "lightning_hparams",
                        lambda folder: read.append(Path(folder).name) or hparams(folder))
    assert len(find_runs(tmp_path)) == 3
    assert sorted(read) == sorted(f"version_{n}" for n in range(4) for _ in range(2))
    read.clear()
    # a read of the resume: each of its versions' readers, none for the (unchanged) comparisons
    assert read_run(root / "version_1").warnings and sorted(read) == ["version_0", "version_1"]


@pytest.mark.parametrize("how", ["from step 0", "other hparams"])
def test_a_version_that_is_no_resume_is_a_run_of_its_own(tmp_path, how):
    root = tmp_path / "lightning_logs"
    if how == "from step 0":
        _csv(root / "version_0", _curve()[:29])
        _csv(root / "version_1", _curve(seed=2))
    else:
        _resumed(root, hparams="lr: 0.003\nseed: 0\n")
    assert len(find_runs(tmp_path)) == 2
    assert read_run(root / "version_1").warnings == []


def test_a_follow_started_before_fit_follows_the_trainings_log(tmp_path):
    """Lightning's own CSVLogger and TensorBoardLogger in one save_dir, written while a follow
    of the save_dir (which does not exist yet) runs: it follows one of them and alerts as a
    replay of the finished folder does (it waited through the whole run, then said
    "2 runs")."""
    loggers = pytest.importorskip("lightning.pytorch.loggers")
    pytest.importorskip("tensorboard")
    save_dir = tmp_path / "run"
    # idle_exit counts while the folder does not exist yet: at 2 s, a full run on 2 busy cores
    # once ended the follow before it found a log (it passes alone in 7 s)
    follower = Follower(save_dir, metric="eval/accuracy", stop_on=(), idle_exit=10.0)
    follower.wait_for_message("does not exist yet")
    csv, tb = loggers.CSVLogger(str(save_dir)), loggers.TensorBoardLogger(str(save_dir))
    for logger in (csv, tb):
        logger.log_hyperparams({"lr": 0.01, "seed": 0})
    for i, (step, acc) in enumerate(eval_curve()):
        for logger in (csv, tb):
            logger.log_metrics({"eval/accuracy": acc}, step)
        if i % 10 == 9:
            for logger in (csv, tb):
                logger.save()
            time.sleep(0.01)
    for logger in (csv, tb):
        logger.finalize("success")
    assert sorted(p.name for p in (save_dir / "lightning_logs").iterdir()) == \
        ["version_0", "version_1"]
    followed = follower.ends_by_itself(timeout=40)
    assert any("following lightning_logs/version_" in m for m in follower.messages)
    replayed, result = replay(save_dir, metric="eval/accuracy", stop_on=())
    assert_same(followed, replayed)
    assert result.n_values == len(eval_curve())


def test_a_resumed_runs_checkpoint_to_keep_may_be_in_the_version_it_continues(tmp_path, capsys):
    """ModelCheckpoint saves into each version's folder: the best model, saved before the crash,
    is the earlier version's file (trial 40: version_0's epoch=6-step=140.ckpt, where version_2's
    epoch=7-step=150.ckpt was named, 0.0057 below it); files of the abandoned branch are not."""
    from phasewatch.cli import main

    root = tmp_path / "lightning_logs"
    points = _resumed(root)
    best = max(points, key=lambda p: p[1])[0]
    assert points[15][0] <= best <= points[28][0]  # the best is logged again after the resume
    saves = {"version_0": [points[14][0], points[20][0]], "version_1": [points[16][0], best]}
    saves["version_0"].append(best)  # the abandoned branch's save of that step: not this run's
    for version, steps in saves.items():
        (root / version / "checkpoints").mkdir()
        for step in steps:
            (root / version / "checkpoints" / f"epoch=0-step={step + 1}.ckpt").write_bytes(b"")
    assert main(["analyze", str(root / "version_1"), "--metric", "val_acc"]) == 0
    out = capsys.readouterr().out
    assert f"saved: version_1/checkpoints/epoch=0-step={best + 1}.ckpt" in out
    (root / "version_1" / "checkpoints" / f"epoch=0-step={best + 1}.ckpt").unlink()
    (root / "version_1" / "checkpoints" / f"epoch=0-step={points[16][0] + 1}.ckpt").unlink()
    # before the resume point, version_0's file is the run's
    (root / "version_0" / "checkpoints" / f"epoch=0-step={best + 1}.ckpt").unlink()
    assert main(["analyze", str(root), "--metric", "val_acc"]) == 0
    out = capsys.readouterr().out
    assert f"version_0/checkpoints/epoch=0-step={points[14][0] + 1}.ckpt" in out, out


def test_a_follow_moves_on_to_the_version_that_resumes_its_run(tmp_path):
    """The run crashes and is resumed into a new version while the save_dir is followed: the
    follow moves on to it (it stayed on the crashed version's log, which no longer grows), and
    its alerts are a replay's of the folder."""
    from watch_follower import write_in_pieces

    root = tmp_path / "run" / "lightning_logs"
    points = _curve(80)
    crash, resume = 58, 30
    abandoned = [(s, a - 0.05 if i > resume else a) for i, (s, a) in enumerate(points[:crash])]
    follower = Follower(tmp_path / "run", metric="val_acc", stop_on=(), idle_exit=2.0)
    follower.wait_for_message("does not exist yet")
    for name, part in (("version_0", abandoned), ("version_1", points[resume:])):
        _csv(root / name, [])
        text = "".join(f"{s // 20},{s - 5},{2 / (s + 1)!r},\n{s // 20},{s},,{a!r}\n"
                       for s, a in part)
        write_in_pieces(root / name / "metrics.csv", HEADER + text)
        if name == "version_0":
            follower.wait_for_message("following lightning_logs/version_0/metrics.csv")
    followed = follower.ends_by_itself(timeout=40)
    assert any("version_1 resumes the run" in m for m in follower.messages), follower.messages
    replayed, result = replay(tmp_path / "run", metric="val_acc", stop_on=())
    assert_same(followed, replayed)
    assert result.n_values == len(points)


def test_a_resume_written_before_the_follow_wraps_its_source_is_still_followed(tmp_path):
    """The folder was opened on version_0 and its resume, version_1, written before the follow
    wrapped that source to look for resumes: the first read looks (the wrap's first look at the
    versions counted version_1 as already seen, and the follow stayed on version_0 to its
    --idle-exit: CI, session 40)."""
    from phasewatch.followed_states import said_followed
    from phasewatch.io import open_source

    points = _curve(60)
    root = tmp_path / "run" / "lightning_logs"
    _csv(root / "version_0", points[:45])
    source = open_source(tmp_path / "run", follow=True)
    _csv(root / "version_1", points[30:])
    said: list[str] = []
    followed = said_followed(source, tmp_path / "run", said.append)
    steps = [record.step for record in followed.read(final=False) if "val_acc" in record.values]
    followed.close()
    assert any("version_1 resumes the run" in m for m in said), said
    assert steps[-1] == points[-1][0]
