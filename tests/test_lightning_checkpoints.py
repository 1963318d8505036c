"""In a PyTorch Lightning version folder, `analyze` and `watch` name the `checkpoints/*.ckpt`
file that holds the model of the recommended step (trial 40 finding 4): Lightning logs a
validation in `fit` at the global step less one (metrics.csv step 139) and ModelCheckpoint names
its file by the global step (`epoch=6-step=140.ckpt`); `analyze` said "recommended stop: step
139" and named no file, and no `step=139` file exists. The folders are written as Lightning
leaves them: CSVLogger's columns, ModelCheckpoint's default names (empty files: phasewatch only
lists them)."""

from __future__ import annotations

from pathlib import Path

import pytest

import phasewatch
from phasewatch.lightning_checkpoints import file_step
from phasewatch.live import LiveWatch

PEAK = 139


def accuracy(step: int) -> float:
    """Held-out accuracy rising to a sharp peak at logged step 139, then overfitting."""
    return round(0.75 - 0.2 * abs(step - PEAK) / 260 + 0.001 * (step % 20 == 9), 4)


def write_version(root: Path, saved=(100, 110, 140), name="epoch={epoch}-step={step}.ckpt"):
    """`lightning_logs/version_0/` of a run of 20 steps an epoch validated twice an epoch
    (logged at steps 9, 19, ...), with ModelCheckpoint's files at the global steps `saved`."""
    version = root / "lightning_logs" / "version_0"
    (version / "checkpoints").mkdir(parents=True)
    rows = ["epoch,step,train_loss_step,val_acc,val_loss"]
    for step in range(4, 400, 5):
        rows.append(f"{step // 20},{step},{1 / (step + 1):.5f},,")
        if step % 10 == 9:
            rows.append(f"{step // 20},{step},,{accuracy(step)},{1 - accuracy(step):.4f}")
    (version / "metrics.csv").write_text("\n".join(rows) + "\n")
    (version / "hparams.yaml").write_text("lr: 0.01\n")
    for step in saved:
        (version / "checkpoints" / name.format(epoch=(step - 1) // 20, step=step)).write_bytes(b"")
    return version


def test_analyze_names_the_file_of_the_recommended_step(tmp_path):
    version = write_version(tmp_path)
    analysis = phasewatch.analyze(version, metric="val_acc")
    assert analysis.recommended_stop_step == PEAK
    saved = analysis.saved_checkpoint.to_dict()
    assert saved["step"] == PEAK and saved["best_step_checkpoint"] == "saved"
    assert saved["path"] == str(version / "checkpoints" / "epoch=6-step=140.ckpt")
    # given the logger's save_dir, the log read is in version_0: its files are looked at
    assert phasewatch.analyze(tmp_path, metric="val_acc").saved_checkpoint.path == saved["path"]
    assert analysis.saved_checkpoint.text("val_acc") == (
        "saved: version_0/checkpoints/epoch=6-step=140.ckpt, named by the global step, one past the step "
        "logged")


def test_a_deleted_file_is_not_named_the_best_of_those_left_is(tmp_path):
    version = write_version(tmp_path, saved=(100, 110, 200))  # save_top_k dropped step=140
    analysis = phasewatch.analyze(version / "metrics.csv", metric="val_acc")
    saved = analysis.saved_checkpoint
    assert saved.best == "not found" and saved.step == 109
    assert saved.text("val_acc").startswith(
        "no step=140 file, Lightning's name for step 139; best saved: "
        "version_0/checkpoints/epoch=5-step=110.ckpt (logged at step 109), val_acc ")


def test_names_without_a_step_are_never_guessed(tmp_path):
    version = write_version(tmp_path, saved=(140,), name="epoch={epoch}-val_acc={step}.ckpt")
    (version / "checkpoints" / "last.ckpt").write_bytes(b"")
    analysis = phasewatch.analyze(version, metric="val_acc")
    assert analysis.saved_checkpoint is None
    assert [file_step(n) for n in ("epoch=6-step=140-v1.ckpt", "step=140-val_loss=0.68.ckpt",
                                   "last.ckpt", "mystep=140.ckpt", "epoch=6-step=140.pt")] \
        == [140, 140, None, None, None]


@pytest.mark.parametrize("follow", [False, True])
def test_watch_alerts_name_the_file_there_at_the_alert(tmp_path, follow):
    """Replayed, or followed from a log whose files appear later (a follow started before
    `fit`: the version folder is watched for them)."""
    version = write_version(tmp_path, saved=() if follow else (100, 110, 140))
    watch = LiveWatch(version / "metrics.csv", follow=follow, metric="val_acc", poll=0.01,
                      idle_exit=0.3, notice=lambda m: None, info=lambda m: None)
    if follow:
        for step in (100, 110, 140):
            (version / "checkpoints" / f"epoch={(step - 1) // 20}-step={step}.ckpt").write_bytes(b"")
    alerts = [a for a in watch.alerts() if a.event == "overfit"]
    assert alerts and alerts[0].best_step == PEAK
    assert alerts[0].saved.path == str(version / "checkpoints" / "epoch=6-step=140.ckpt")
    assert watch.result.saved.path == alerts[0].saved.path
