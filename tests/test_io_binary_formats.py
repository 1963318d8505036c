"""TensorBoard, W&B offline and MLflow stores, written with each ecosystem's own writer."""

import json
import sys
import textwrap

import numpy as np
import pytest
from wandb_offline import offline_run

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- TensorBoard
def test_tensorboard_simple_value_from_torch_summary_writer(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "run"))
    for step in range(0, 50, 10):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
        if step % 20 == 0:
            writer.add_scalar("eval/accuracy", step / 100, step)
    writer.add_text("notes", "not a metric", 0)
    writer.add_histogram("weights", np.arange(10), 0)
    writer.close()
    run = read_run(tmp_path / "run")
    assert run.format == "tensorboard"
    assert run.metrics == ["eval/accuracy", "train/loss"]
    np.testing.assert_allclose(run.series("train/loss").to_numpy(), [1.0 / (s + 1) for s in range(0, 50, 10)], rtol=1e-6)
    assert run.series("eval/accuracy").index.tolist() == [0, 20, 40]
    np.testing.assert_allclose(run.series("eval/accuracy").to_numpy(), [0.0, 0.2, 0.4], rtol=1e-6)


def write_tensor_scalars(folder, values, start=0):
    """TF2-style scalars (tensor + scalars plugin) with tensorboard's own writer."""
    from tensorboard.summary import Writer

    writer = Writer(str(folder))
    for i, value in enumerate(values):
        writer.add_scalar("epoch_loss", value, step=start + i)
    writer.flush()
    writer.close()


def test_tensorboard_tensor_scalars_and_subdirectories(tmp_path):
    pytest.importorskip("tensorboard")
    write_tensor_scalars(tmp_path / "logs" / "train", [0.9, 0.7, 0.5])
    write_tensor_scalars(tmp_path / "logs" / "validation", [1.0, 0.8, 0.75])
    run = read_run(tmp_path / "logs")
    assert run.metrics == ["train/epoch_loss", "validation/epoch_loss"]
    np.testing.assert_allclose(run.series("train/epoch_loss").to_numpy(), [0.9, 0.7, 0.5], rtol=1e-6)
    np.testing.assert_allclose(run.series("validation/epoch_loss").to_numpy(), [1.0, 0.8, 0.75], rtol=1e-6)
    assert run.events == []  # interleaved directories are not a resume
    assert run.own_name("eval/loss") == "validation/epoch_loss"  # what analyze takes


def test_tensorboard_resumed_run_in_a_second_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    folder = tmp_path / "run"
    write_tensor_scalars(folder, [5.0, 4.0, 3.0, 2.0])  # steps 0..3, then a crash
    write_tensor_scalars(folder, [3.5, 2.5, 1.5], start=2)  # resumed from step 2's checkpoint
    assert len(list(folder.iterdir())) == 2
    run = read_run(folder)
    np.testing.assert_allclose(run.series("epoch_loss").to_numpy(), [5.0, 4.0, 3.5, 2.5, 1.5], rtol=1e-6)
    assert [(e.name, e.step) for e in run.events] == [("resume", 2)]


def write_epochs_beside_batches(folder, epochs=12, batches=50):
    """A PyTorch script's usual logging: the train loss per batch (global step), the
    validation loss per epoch (the epoch number as its step), one event file."""
    from tensorboard.summary import Writer

    writer = Writer(str(folder))
    for epoch in range(1, epochs + 1):
        for batch in range(batches):
            step = (epoch - 1) * batches + batch + 1
            writer.add_scalar("train/batch_loss", 2.0 / step ** 0.5, step=step)
        writer.add_scalar("val/loss", 1.0 + 0.3 / epoch + 0.02 * max(0, epoch - 6), step=epoch)
    writer.flush()
    writer.close()


def test_tensorboard_tags_counting_epochs_beside_batches_are_no_resume(tmp_path, capsys):
    """The stream's step falls from 50 to 1 at every epoch, but no tag's own counter goes
    back: no resume events or warnings offline, no rewinds live (the monitor saw every
    record and agrees with analyze)."""
    pytest.importorskip("tensorboard")
    folder = tmp_path / "run"
    write_epochs_beside_batches(folder)
    run = read_run(folder)
    assert run.events == [] and not any("went back" in w for w in run.warnings)
    assert run.series("val/loss").index.tolist() == list(range(1, 13))
    assert run.series("train/batch_loss").index.tolist() == list(range(1, 601))
    code, out, err = cli(capsys, "watch", str(folder), "--metric", "val/loss", "--format", "jsonl")
    assert code == 0 and "went back" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    code, out, _ = cli(capsys, "analyze", str(folder), "--metric", "val/loss", "--format", "json")
    offline = json.loads(out)["runs"][0]
    assert summary["records"] == 612 and summary["phases"] == [p["name"] for p in offline["phases"]]
    assert summary["live_best_step"] == offline["recommended_stop_step"]
    # a real resume in a second event file is still one
    from tensorboard.summary import Writer

    writer = Writer(str(folder))
    for step in range(400, 420):
        writer.add_scalar("train/batch_loss", 0.5, step=step)
    writer.close()
    assert [(e.name, e.step) for e in read_run(folder).events] == [("resume", 400)]


def test_tensorboard_truncated_file_keeps_records_and_warns(tmp_path):
    pytest.importorskip("tensorboard")
    write_tensor_scalars(tmp_path / "run", [3.0, 2.0, 1.0])
    [file] = list((tmp_path / "run").iterdir())
    data = file.read_bytes()
    file.write_bytes(data[:-10])
    run = read_run(file)
    np.testing.assert_allclose(run.series("epoch_loss").to_numpy(), [3.0, 2.0], rtol=1e-6)
    assert any("incomplete" in w for w in run.warnings)


def test_tensorboard_missing_package_is_exit_3_with_hint(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tensorboard")
    write_tensor_scalars(tmp_path / "run", [1.0])
    for name in list(sys.modules):
        if name == "tensorboard" or name.startswith("tensorboard."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import now fails
    code, out, err = cli(capsys, "inspect", str(tmp_path / "run"))
    assert code == 3 and out == ""
    assert "pip install 'phasewatch[tensorboard]'" in err and str(tmp_path / "run") in err


# ---------------------------------------------------------------- W&B offline
WANDB_SCRIPT = textwrap.dedent(
    """
    import sys, wandb
    run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="fixture",
                     config={"lr": 0.5}, settings=wandb.Settings(console="off"))
    run.define_metric("train/global_step")
    run.define_metric("*", step_metric="train/global_step", step_sync=True)
    for i in range(6):
        row = {"train/global_step": 10 * i, "train/loss": 1.0 / (i + 1)}
        if i % 2 == 0:
            row["eval/accuracy"] = i / 10
        run.log(row)
    run.log({"train/global_step": 20, "train/loss": 9.0})  # counter back: 30-50 abandoned
    for i in range(300):  # enough rows for several 32 KiB blocks
        run.log({"train/global_step": 1000 + i, "bulk/value": float(i), "bulk/note": "x" * 300})
    run.finish()
    """
)


@pytest.fixture(scope="module")
def wandb_run_dir(tmp_path_factory):
    return offline_run(WANDB_SCRIPT, tmp_path_factory.mktemp("wandb"), timeout=90)


def test_wandb_offline_run_written_by_the_sdk(wandb_run_dir):
    run = read_run(wandb_run_dir)
    assert run.format == "wandb" and run.name == "fixture"
    assert run.config == {"lr": 0.5}
    assert run.series("bulk/value").to_dict() == {1000 + i: float(i) for i in range(300)}
    loss = run.series("train/loss")
    # the counter went back to 20: the later value wins and the records before it from step
    # 20 on are the abandoned branch's, dropped from every metric (as TensorBoard purges
    # orphaned data at a restart, and as watch rewinds), the evaluations at 20 and 40 too
    assert loss.index.tolist() == [0, 10, 20]
    np.testing.assert_allclose(loss.to_numpy(), [1.0, 0.5, 9.0])
    assert run.series("eval/accuracy").to_dict() == {0: 0.0}
    assert "train/global_step" not in run.metrics and "_runtime" not in run.metrics


WANDB_TABLE_SCRIPT = textwrap.dedent(
    """
    import sys, wandb
    run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="tables",
                     settings=wandb.Settings(console="off"))
    for step in range(1, 7):
        row = {"train/reward": 0.1 * step}
        if step % 2 == 0:  # as TRL logs its completions: a table every few steps
            row["completions"] = wandb.Table(columns=["prompt", "completion"],
                                             data=[["p", "c"]] * step)
        run.log(row, step=step)
    run.finish()
    """
)


def test_wandb_logged_table_is_no_metric(tmp_path):
    """wandb-trl-ppo-scores-500: a completions table logged every few steps was read as the
    metrics `completions.nrows`, `completions.ncols`, `completions.size`, and analyze offered
    them as held-out scores; the `.wandb` file holds the table as keys beside its
    `completions._type`, which `wandb-history.jsonl` holds as one object (left out)."""
    run = read_run(offline_run(WANDB_TABLE_SCRIPT, tmp_path, timeout=90))
    assert run.metrics == ["train/reward"]
    assert run.series("train/reward").index.tolist() == [1, 2, 3, 4, 5, 6]


def test_wandb_cut_file_keeps_intact_records(wandb_run_dir, tmp_path):
    [file] = list(wandb_run_dir.glob("*.wandb"))
    data = file.read_bytes()
    cut = tmp_path / file.name
    cut.write_bytes(data[: len(data) * 6 // 10 + 3])  # killed mid-write
    run = read_run(cut)
    assert run.series("train/loss").index.tolist() == [0, 10, 20]
    assert run.series("train/loss")[20] == 9.0
    bulk = run.series("bulk/value")
    assert 0 < len(bulk) < 300  # the rows before the cut, none after
    assert bulk.to_dict() == {1000 + i: float(i) for i in range(len(bulk))}
    assert any("ends inside" in w for w in run.warnings)


def test_wandb_damaged_block_is_skipped_and_reported(wandb_run_dir, tmp_path):
    [file] = list(wandb_run_dir.glob("*.wandb"))
    data = bytearray(file.read_bytes())
    assert len(data) > 3 * 32768
    at = data.find(b"bulk/value", 32768)  # a row in the second 32 KiB block
    data[at : at + 4] = b"XXXX"  # its checksum now fails
    damaged = tmp_path / file.name
    damaged.write_bytes(bytes(data))
    run = read_run(damaged)
    [warning] = [w for w in run.warnings if "damaged data" in w]
    assert "skipped to the next 32 KiB block" in warning
    bulk = run.series("bulk/value")
    assert 0 < len(bulk) < 300 and bulk.index.max() == 1299  # later blocks still read
    assert run.series("train/loss").index.tolist() == [0, 10, 20]


def test_wandb_missing_sdk_is_exit_3_with_hint(wandb_run_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb.proto.wandb_internal_pb2", None)
    code, out, err = cli(capsys, "inspect", str(wandb_run_dir))
    assert code == 3 and out == "" and "pip install 'phasewatch[wandb]'" in err


# ---------------------------------------------------------------- MLflow file store
def mlflow_run(root, experiment="1", run_id="abc123", metrics=None, name="my-run"):
    run_dir = root / experiment / run_id
    (run_dir / "metrics").mkdir(parents=True)
    (run_dir / "meta.yaml").write_text(f"run_id: {run_id}\nexperiment_id: '{experiment}'\n")
    (root / experiment / "meta.yaml").write_text(f"experiment_id: '{experiment}'\nname: exp\n")
    (run_dir / "tags").mkdir()
    (run_dir / "tags" / "mlflow.runName").write_text(name)
    (run_dir / "params").mkdir()
    (run_dir / "params" / "lr").write_text("0.001")
    for metric, lines in (metrics or {}).items():
        file = run_dir / "metrics" / metric
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("".join(f"{line}\n" for line in lines))
    return run_dir


def test_mlflow_store_experiment_and_run_paths(tmp_path):
    metrics = {
        "train/loss": ["1000 2.0 0", "1010 1.5 1", "1020 1.0 2"],
        "eval/accuracy": ["1000 0.1 0", "1020 0.3 2"],
        "val-core/gsm8k/acc/mean_at_1": ["1020 0.25 2"],
    }
    run_dir = mlflow_run(tmp_path / "mlruns", metrics=metrics)
    for path in (tmp_path / "mlruns", tmp_path / "mlruns" / "1", run_dir, run_dir / "metrics" / "train" / "loss"):
        run = read_run(path)
        assert run.format == "mlflow" and run.name == "my-run"
        assert run.series("train/loss").to_dict() == {0: 2.0, 1: 1.5, 2: 1.0}
        assert run.series("eval/accuracy").to_dict() == {0: 0.1, 2: 0.3}
        assert run.config == {"lr": "0.001"}
    assert run.n_records == 3  # one per (timestamp, step)


def test_mlflow_resume_by_timestamp_bad_line_and_two_field_lines(tmp_path):
    metrics = {"loss": ["1 5.0 0", "2 4.0 1", "3 3.0 2", "9 3.5 1", "10 2.5 2", "oops", "11 2.0 3"],
               "old": ["0 0.5"]}
    run = read_run(mlflow_run(tmp_path / "mlruns", metrics=metrics))
    assert run.series("loss").to_dict() == {0: 5.0, 1: 3.5, 2: 2.5, 3: 2.0}
    assert run.series("old").to_dict() == {0: 0.5}
    assert [(e.name, e.step) for e in run.events] == [("resume", 1)]
    assert any("loss:6" in w for w in run.warnings)


def test_mlflow_several_runs_are_listed(tmp_path, capsys):
    mlflow_run(tmp_path / "mlruns", run_id="run_a", metrics={"loss": ["1 1.0 0"]})
    mlflow_run(tmp_path / "mlruns", run_id="run_b", metrics={"loss": ["1 1.0 0"]})
    code, out, _ = cli(capsys, "inspect", str(tmp_path / "mlruns"))
    assert code == 0 and "folder of 2 runs" in out and "1/run_a" in out and "1/run_b" in out
    with pytest.raises(InputError, match="holds 2 runs"):  # one run was asked for
        read_run(tmp_path / "mlruns")
