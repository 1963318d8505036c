"""Hostile records inside each format's own framing: TensorBoard tensors of huge declared
shape, damaged records and steps beyond 2**53, W&B history rows with a NaN step, a verl line
over the line cap, MLflow metric files with bad lines."""

from __future__ import annotations

import json

import pytest
from hostile_inputs import assert_clean, run_cli, tensorboard_file
from tfrecord_events import scalar_event

from phasewatch.io import read_run


def test_tensorboard_tensor_of_huge_declared_shape_is_refused_before_decoding(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import (
        event_pb2,
        summary_pb2,
        tensor_pb2,
        tensor_shape_pb2,
        types_pb2,
    )

    dim = tensor_shape_pb2.TensorShapeProto.Dim(size=2_000_000_000)
    shape = tensor_shape_pb2.TensorShapeProto(dim=[dim])
    huge = event_pb2.Event(wall_time=50.0, step=50, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(
            tag="loss", tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape,
                                                      float_val=[1.0]),
            metadata=summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")))]))
    path = tensorboard_file(tmp_path, [scalar_event(i, 1.0 / (i + 1)) for i in range(10)] + [huge])
    assert path.stat().st_size < 2000
    code, out, err, elapsed = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert_clean(code, err, elapsed, {0}, path)
    assert json.loads(out)["metrics"]["loss"]["count"] == 10
    assert elapsed < 5


def test_tensorboard_damaged_record_is_skipped_and_reading_resyncs(tmp_path):
    pytest.importorskip("tensorboard")
    path = tensorboard_file(tmp_path, [scalar_event(i, 1.0 / (i + 1)) for i in range(100)])
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 8] = b"\xff" * 8  # inside a record: its framing can no longer be trusted
    path.write_bytes(bytes(data))
    run = read_run(path)
    n = len(run.series("loss"))
    assert 95 <= n < 100  # one or two records lost, not the rest of the file
    assert any("damaged" in w or "undecodable" in w for w in run.warnings)
    steps = run.series("loss").index.tolist()
    assert steps[-1] == 99


def test_tensorboard_step_beyond_2_53_is_skipped(tmp_path):
    pytest.importorskip("tensorboard")
    path = tensorboard_file(tmp_path, [scalar_event(i, 0.5) for i in range(5)]
                            + [scalar_event(2**62, 0.1)])
    run = read_run(path)
    assert run.series("loss").index.tolist() == [0, 1, 2, 3, 4]
    assert any("beyond 2**53" in w for w in run.warnings)


def test_wandb_history_row_with_a_nan_step_is_skipped_and_counted():
    pb = pytest.importorskip("wandb.proto.wandb_internal_pb2")
    from phasewatch.io.wandb import StepMetrics, _history_records

    bad: list[str] = []
    rows = []
    for step in ["3", "NaN", "Infinity", "1e30", "4"]:
        history = pb.HistoryRecord()
        for key, value in (("_step", step), ("loss", "0.5")):
            item = history.item.add()
            item.key, item.value_json = key, value
        rows.extend(_history_records(history, StepMetrics(), bad))
    assert [r.step for r in rows] == [3, 4]
    assert bad == ["loss", "loss", "loss"]


def test_a_verl_line_over_the_line_cap_is_skipped_and_the_log_read_on(tmp_path, capsys):
    """The issue's verl line of 5M `kN:0.5` items is 74 MB, over the 64 MB line cap: one
    warning naming the line, then the lines after it are read."""
    from phasewatch.line_split import MAX_LINE_BYTES

    path = tmp_path / "v.log"
    item = " - k0:0.5"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("step:1" + item * (MAX_LINE_BYTES // len(item) + 1) + "\n")
        fh.writelines(f"step:{i} - acc:0.5 - loss:{1 / i}\n" for i in range(2, 20))
    code, out, err, elapsed = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert_clean(code, err, elapsed, {0}, path)
    assert f"{path}:1: line longer than 64 MB" in err
    summary = json.loads(out)
    assert summary["metrics"]["acc"]["count"] == 18 and summary["metrics"]["loss"]["first_step"] == 2


@pytest.mark.parametrize("bad", ["1700000000 0.5 " + "9" * 30, "1700000000 0.5 1e30",
                                 "1700000000 nan-ish 3", "1700000000"])
def test_mlflow_metric_file_with_hostile_lines(bad, tmp_path, capsys):
    run = tmp_path / "1" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: abc\nexperiment_id: '1'\n")
    (tmp_path / "1" / "meta.yaml").write_text("experiment_id: '1'\nname: exp\n")
    lines = [f"{1700000000 + i} {0.5 + i / 100} {i}" for i in range(10)]
    (run / "metrics" / "acc").write_text("\n".join([*lines[:5], bad, *lines[5:]]) + "\n")
    code, out, err, elapsed = run_cli(capsys, "inspect", str(run), "--format", "json")
    assert_clean(code, err, elapsed, {0}, run)
    summary = json.loads(out)
    assert summary["metrics"]["acc"]["count"] == 10
    assert summary["warnings"]  # the bad line is reported
