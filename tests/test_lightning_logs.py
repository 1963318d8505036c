"""What PyTorch Lightning's loggers write, as trial 40d's real Lightning 2.6.6 runs wrote it.

- Two or more validation dataloaders: every metric logged there is suffixed with its loader
  (`val_acc/dataloader_idx_0`); none took a role, so every default was the train loss
  ("improvement, stop 339" on a run that overfits after step 139).
- `hparams.yaml` beside metrics.csv and the event files: the run's config (a sweep had no
  `hp.lr`), and TensorBoardLogger's `hp_metric` placeholder (-1 at step 0) is no metric.
- The `epoch` column counts whole epochs: an epoch of 20 steps begins at 20, 40, not at the
  first row that carries it (24, 44).
"""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import pytest

from phasewatch import read_run
from phasewatch.cli import main
from phasewatch.commands.analyze import phase_line
from phasewatch.epochs import epoch_boundaries
from phasewatch.io.lightning_folder import lightning_hparams, run_name
from phasewatch.io.yaml_config import flat_yaml
from phasewatch.presets import aliases_for, role_matches

LOADERS = ["val_acc/dataloader_idx_0", "val_acc/dataloader_idx_1",
           "val_loss/dataloader_idx_0", "val_loss/dataloader_idx_1"]
HEADER = "epoch,step,train_loss_epoch,train_loss_step," + ",".join(LOADERS)


def expert(i: int) -> float:
    """Loader 0 (held-out expert data), at the i-th validation: a dip to the 2nd, a rise to the
    14th, then a decline (an overfit), as trial 40d's run A."""
    if i <= 2:
        return 0.60 - 0.045 * i
    if i <= 14:
        return 0.51 + 0.02 * (i - 2)
    return 0.75 - 0.006 * (i - 14)


def _metrics_csv(folder, epochs: int = 20) -> None:
    """A metrics.csv as Lightning's CSVLogger writes one: validate() at step 0, then 20 steps an
    epoch, the train loss every 5 steps, a validation every 10 (at global_step - 1) on two
    loaders, the epoch's train loss at its last step."""
    folder.mkdir(parents=True, exist_ok=True)
    lines, i = [HEADER], 0

    def val(epoch, step):
        nonlocal i
        acc = expert(i) + (0.004 if i % 2 else -0.004)
        lines.append(f"{epoch},{step},,,{acc},{0.97 - 0.01 * i},{2 - acc},{0.1 + 0.05 * i}")
        i += 1

    val(0, 0)
    for step in range(epochs * 20):
        epoch = step // 20
        if step % 5 == 4:
            lines.append(f"{epoch},{step},,{3.0 / (1 + step)},,,,")
        if step % 10 == 9:
            val(epoch, step)
        if step % 20 == 19:
            lines.append(f"{epoch},{step},{3.0 / (1 + step)},,,,,")
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def _cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_each_loaders_metric_takes_the_roles_of_its_name_without_the_loader():
    names = ["epoch", "train_loss_step", *LOADERS]
    aliases = aliases_for(names)
    assert aliases["eval/accuracy"] == "val_acc/dataloader_idx_0"  # the first loader's
    assert aliases["eval/loss"] == "val_loss/dataloader_idx_0"
    assert aliases["val_acc"] == "val_acc/dataloader_idx_0"  # --metric val_acc
    assert role_matches("eval/accuracy", names) == LOADERS[:2]  # several validation sets
    many = [f"val_acc/dataloader_idx_{k}" for k in (10, 2, 0, 1)]
    assert role_matches("eval/accuracy", many) == [many[2], many[3], many[1], many[0]]
    # a name listed without the loader is still taken before one with it
    assert aliases_for(["val_acc", "val_acc/dataloader_idx_0"])["eval/accuracy"] == "val_acc"


def test_analyze_watch_and_inspect_take_the_first_loaders_accuracy(tmp_path, capsys):
    run_dir = tmp_path / "A" / "lightning_logs" / "version_0"
    _metrics_csv(run_dir)
    code, out, err = _cli(capsys, "analyze", run_dir)
    assert code == 0, err
    assert "metric val_acc/dataloader_idx_0 (max)" in out
    assert "overfit" in out and "recommended stop: step 149" in out  # the peak, 0.748
    assert ("2 validation sets hold eval/accuracy: val_acc/dataloader_idx_0, "
            "val_acc/dataloader_idx_1; analysed val_acc/dataloader_idx_0 only") in out
    assert "train loss" not in out + err
    code, out, err = _cli(capsys, "watch", run_dir)
    assert code == 0, err
    assert "watched 141 records (41 values of val_acc/dataloader_idx_0)" in err
    code, out, _ = _cli(capsys, "inspect", run_dir)
    assert "performance metric: val_acc/dataloader_idx_0 (higher is better; 1 of 2" in out


def test_metric_val_acc_names_its_loaders_and_takes_the_first(tmp_path, capsys):
    _metrics_csv(tmp_path / "version_0")
    for command in ("analyze", "watch"):
        code, out, err = _cli(capsys, command, tmp_path / "version_0", "--metric", "val_acc")
        assert code == 0, err
        assert ("2 validation sets hold val_acc: val_acc/dataloader_idx_0, "
                "val_acc/dataloader_idx_1; analysed val_acc/dataloader_idx_0 only") in out + err
        assert "val_acc/dataloader_idx_0" in out


def test_hparams_yaml_is_the_runs_config_and_names_it_by_its_experiment(tmp_path, capsys):
    for experiment, lr in (("A", 0.01), ("C", 0.003)):
        folder = tmp_path / experiment / "lightning_logs" / "version_0"
        _metrics_csv(folder, epochs=3)
        (folder / "hparams.yaml").write_text(f"lr: {lr}\nseed: 0\nwarmup: 30\n")
        for path in (folder, folder / "metrics.csv"):
            run = read_run(path)
            assert run.config == {"lr": lr, "seed": 0, "warmup": 30}
            assert run.name == f"{experiment}/version_0"
    out = tmp_path / "sweep.csv"
    code, _, err = _cli(capsys, "sweep", tmp_path / "A/lightning_logs/version_0",
                        tmp_path / "C/lightning_logs/version_0", "-o", out)
    assert code == 0, err
    rows = out.read_text().splitlines()
    header = rows[0].split(",")
    got = sorted((r.split(",")[header.index("name")], r.split(",")[header.index("hp.lr")])
                 for r in rows[1:])
    assert got == [("A/version_0", "0.01"), ("C/version_0", "0.003")]
    assert run_name(tmp_path / "logs" / "exp1" / "version_3") == "exp1/version_3"


def test_hparams_without_pyyaml_are_read_from_flat_lines_never_evaluated(tmp_path, monkeypatch):
    text = ("lr: 0.01\nname: 'mlp'\nuse_amp: true\nscheduler: null\nlayers: [64, 64]\n"
            "optimizer:\n  name: adam\n  betas: [0.9, 0.99]\n"
            "cmd: __import__('os').system('exit 3')\nlabel: run A # a comment\n")
    expected = {"lr": 0.01, "name": "mlp", "use_amp": True, "scheduler": None,
                "layers": [64, 64], "cmd": "__import__('os').system('exit 3')",
                "label": "run A"}
    assert flat_yaml(text) == expected
    (tmp_path / "hparams.yaml").write_text(text)
    monkeypatch.setitem(sys.modules, "yaml", None)  # PyYAML not installed
    assert lightning_hparams(tmp_path) == expected
    assert lightning_hparams(tmp_path / "nowhere") is None


def test_tensorboard_loggers_hparams_are_read_and_its_placeholder_left_out(tmp_path):
    pytest.importorskip("tensorboard")
    loggers = pytest.importorskip("lightning.pytorch.loggers")
    logger = loggers.TensorBoardLogger(str(tmp_path), name="exp1")
    logger.log_hyperparams({"lr": 0.003, "seed": 1})  # writes hp_metric -1 at step 0
    for step in range(0, 100, 10):
        logger.log_metrics({"val_acc/dataloader_idx_0": 0.5 + step / 1000,
                            "val_acc/dataloader_idx_1": 0.9 - step / 1000}, step)
    logger.finalize("success")
    run = read_run(tmp_path / "exp1" / "version_0")
    assert run.config == {"lr": 0.003, "seed": 1}
    assert "hp_metric" not in run.metrics
    assert run.name == "exp1/version_0"
    assert run.aliases["eval/accuracy"] == "val_acc/dataloader_idx_0"


def test_whole_epochs_begin_every_epochs_steps_not_at_their_first_row(tmp_path):
    _metrics_csv(tmp_path / "version_0", epochs=5)
    run = read_run(tmp_path / "version_0")
    assert [e.step for e in run.events if e.name == "epoch_boundary"] == [20, 40, 60, 80]
    # a fractional counter (HF's) is interpolated as before; a count of epochs done at each
    # epoch's end (HF's evaluations), epochs of different lengths, or a single change, leave
    # the first row that carries the epoch
    hf = [(s, s / 223) for s in range(50, 700, 50)]
    assert [e.step for e in epoch_boundaries(hf)] == [223, 446]
    ends = [(0, 0.0)] + [(401 * k, float(k)) for k in range(1, 6)]
    assert [e.step for e in epoch_boundaries(ends)] == [401, 802, 1203, 1604]
    uneven = [(0, 0), (9, 0), (14, 1), (39, 1), (44, 2), (49, 2)]  # epochs of ~12 and ~30 steps
    assert [e.step for e in epoch_boundaries(uneven)] == [14, 44]
    assert [e.step for e in epoch_boundaries([(19, 0), (24, 1), (29, 1)])] == [24]
    # validation rows only, one per epoch at its last step (csv-lightning-rlbem-valloss-50:
    # 13 steps an epoch): the 0 at step 12 is the epoch that row is in, not epochs done, and
    # epoch 1 begins at 13, not at its one row, 25
    val_only = [(13 * k + 12, float(k)) for k in range(6)] + [(78, 6.0)]  # + its test row
    assert [e.step for e in epoch_boundaries(val_only)] == [13, 26, 39, 52, 65]


def test_a_recovery_within_one_epoch_is_said_in_steps_not_0_epochs():
    stats = {"start_value": 0.606, "end_value": 0.5157, "change": -0.09, "change_sd": -6.0,
             "depth": 0.09, "time_to_recover": 10, "trough_step": 49, "trough_x": 2.0,
             "time_to_recover_x": 0.0, "start_x": 0.0, "end_x": 2.0}
    phase = SimpleNamespace(name="disruption", start_step=0, end_step=49, stats=stats)
    line = phase_line(phase, "max", unit="epoch")
    assert "recovered after 10 steps, within epoch 2" in line and "0 epochs" not in line
    stats["time_to_recover_x"] = 1.5
    assert "recovered after 1.5 epochs" in phase_line(phase, "max", unit="epoch")
    stats["time_to_recover_x"] = 1.0  # `analyze --x epoch` said "recovered after 1 epochs"
    assert phase_line(phase, "max", unit="epoch").endswith("recovered after 1 epoch")
    stats["time_to_recover_x"] = 1200.0
    assert "recovered after 1.2e+03 tokens" in phase_line(phase, "max", unit="tokens")
    assert not math.isnan(stats["depth"])


def test_the_callback_watches_the_first_loaders_accuracy(tmp_path, caplog):
    """Trial 40d: the Lightning callback watched `train_loss` ("improvement at 80") of a run
    validated on two loaders. Chosen, or asked for as `val_acc`, the first loader's is
    watched, and a `val_acc` given is said to be the first of the loaders."""
    torch = pytest.importorskip("torch")
    pl = pytest.importorskip("lightning.pytorch")
    from phasewatch.callbacks.lightning import PhasewatchLightningCallback
    from phasewatch.online import StopReason

    class TwoLoaders(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
            self.n_val = 0

        def training_step(self, batch, _):
            loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _, dataloader_idx=0):
            self.log("val_acc", expert(self.n_val) if dataloader_idx == 0 else 0.9)

        def on_validation_epoch_end(self):
            self.n_val += 0 if self.trainer.sanity_checking else 1

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    torch.set_num_threads(1)
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    for metric in (None, "val_acc"):
        callback = PhasewatchLightningCallback(
            metric=metric, options={"warmup": 3, "window": 3, "confirm": 2})
        trainer = pl.Trainer(max_epochs=40, callbacks=[callback], accelerator="cpu",
                             logger=False, enable_progress_bar=False, enable_model_summary=False,
                             enable_checkpointing=False, default_root_dir=str(tmp_path))
        trainer.fit(TwoLoaders(), loader, [loader, loader])
        assert callback.monitor.trackers_[0].series.label == "val_acc/dataloader_idx_0"
        assert callback.stop_reason is StopReason.OVERFIT and 13 <= callback.best_step <= 16
    assert ("val_acc is logged once per validation dataloader (val_acc/dataloader_idx_0, "
            "val_acc/dataloader_idx_1); watching val_acc/dataloader_idx_0, the first") in caplog.text
