"""Hostile input through every command path: each case must end in exit 0 (the valid part
read, the rest reported), 2 or 3, with a one-line message naming the file, never a traceback
or an internal error (exit 70), within a time limit. Then hypothesis: random hostile lines
mixed into real records never crash a reader and never make a record disappear silently.
Cases that could hang (FIFOs) run in a subprocess with a timeout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfrecord_events import event_file, scalar_event

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run

TIME_LIMIT = 10.0
GOOD = "".join(json.dumps({"step": i, "loss": 1 / (i + 1), "eval/accuracy": 0.5 + i / 100}) + "\n"
               for i in range(30))
TOKEN_INDEX = {"schema_version": 1, "dtype": "float32", "n_tokens": 4,
               "sequences": [{"id": 0, "split": "train", "offset": 0, "length": 4}]}
LFS = ("version https://git-lfs.github.com/spec/v1\noid sha256:"
       "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")


def text(name, content):
    def build(tmp):
        path = tmp / name
        path.write_text(content, encoding="utf-8")
        return path
    return build


def folder(**files):
    def build(tmp):
        path = tmp / "run"
        path.mkdir()
        for name, content in files.items():
            (path / name.replace("__", ".")).write_text(content, encoding="utf-8")
        return path
    return build


def csv_rows(n=20):
    return "step,loss,acc\n" + "".join(f"{i},{1 / (i + 1):.4f},0.5\n" for i in range(n))


# name -> (builder, expected exit codes, text the message or warnings must hold)
CASES = {
    "deep-json-line": (text("m.jsonl", GOOD + "[" * 5000 + "]" * 5000 + "\n"), {0}, "nested"),
    "deep-json-value": (text("m.jsonl", GOOD + '{"step": 30, "loss": ' + "[" * 5000
                             + "]" * 5000 + "}\n"), {0}, ""),
    "deep-json-only": (text("m.jsonl", "[" * 100000 + "\n"), {3}, ""),
    "309-digit-value": (text("m.jsonl", GOOD + '{"step": 30, "loss": ' + "9" * 400 + "}\n"),
                        {0}, ""),
    "5000-digit-value": (text("m.jsonl", GOOD + '{"step": 30, "loss": -' + "9" * 5000 + "}\n"),
                         {0}, ""),
    "step-1e30": (text("m.jsonl", GOOD + '{"step": 1e30, "loss": 0.1}\n'), {0}, "out of range"),
    "step-beyond-int64": (text("m.jsonl", GOOD + f'{{"step": {2**64}, "loss": 0.1}}\n'), {0},
                          "out of range"),
    "step-nan": (text("m.jsonl", GOOD + '{"step": NaN, "loss": 0.1}\n'), {0}, "not an integer"),
    "step-underscore": (text("m.jsonl", GOOD + '{"step": "1_000", "loss": 0.1}\n'), {0},
                        "not an integer"),
    "nul-bytes": (text("m.jsonl", GOOD + "\x00" * 1000 + "\n"), {0}, ""),
    "invalid-utf8": (lambda tmp: tmp / "m.jsonl" if (tmp / "m.jsonl").write_bytes(
        GOOD.encode() + b"\xff\xfe{\n") else None, {0}, ""),
    "csv-huge-cell": (text("m.csv", csv_rows() + "21," + "1" * 200_000 + ",0.5\n"), {0},
                      "field limit"),
    "csv-step-1e30": (text("m.csv", csv_rows() + "1e30,0.1,0.5\n"), {0}, "out of range"),
    "csv-cut-last-line": (text("m.csv", csv_rows() + "100,0.009,0."), {0},
                          "ends mid-value"),
    "csv-nul": (text("m.csv", csv_rows() + "21,\x00,0.5\n"), {0}, ""),
    "verl-cut-last-line": (text("v.log", "".join(f"step:{i} - acc:0.5{i} - loss:1.0\n"
                                                 for i in range(1, 20)) + "step:20 - acc:0."),
                           {0}, "ends mid-value"),
    "verl-huge-step": (text("v.log", "".join(f"step:{i} - acc:0.5 - loss:1.0\n"
                                             for i in range(1, 20)) + "step:" + "9" * 400
                            + " - acc:0.1\n"), {0}, ""),
    "trainer-state-deep": (text("trainer_state.json", '{"log_history": [' + ",".join(
        json.dumps({"step": i, "loss": 1 / (i + 1)}) for i in range(20))
        + ', {"step": 21, "loss": ' + "[" * 3000 + "]" * 3000 + "}]}"), {0}, "damaged"),
    "trainer-state-damaged-middle": (text("trainer_state.json", '{"log_history": [\n' + ",\n".join(
        json.dumps({"step": i, "loss": 1 / (i + 1)}) if i != 10 else '{"step": 10, "lo\x00ss'
        for i in range(30)) + "\n]}"), {0}, "damaged log rows skipped"),
    "trainer-state-step-inf": (text("trainer_state.json", '{"log_history": [' + ",".join(
        json.dumps({"step": s, "loss": 0.5}) for s in [1, 2, 1e30, 4]) + "]}"), {0}, "out of range"),
    "run-json-metric-list": (folder(run__json=json.dumps({"performance_metric": ["a"],
                                                           "direction": 3, "events": "x"}),
                                    metrics__jsonl=GOOD), {0}, "not a string"),
    "run-json-deep": (folder(run__json="[" * 5000 + "]" * 5000, metrics__jsonl=GOOD), {3},
                      "nested too deeply"),
    "run-json-event-inf": (folder(run__json=json.dumps({"events": [{"step": 1e400, "name": "x"}]})
                                  .replace("Infinity", "1e400"), metrics__jsonl=GOOD), {0}, ""),
    "lfs-in-native-folder": (folder(metrics__jsonl=LFS, run__json="{}"), {3}, "Git LFS pointer"),
    "lfs-run-json": (folder(metrics__jsonl=GOOD, run__json=LFS), {3}, "Git LFS pointer"),
    "lfs-tensorboard": (folder(events__out__tfevents__1__host=LFS), {3},
                        "Git LFS pointer"),
    "lfs-trainer-state": (folder(trainer_state__json=LFS), {3}, "Git LFS pointer"),
    "lfs-wandb": (folder(run_abc__wandb=LFS), {3}, "Git LFS pointer"),
    "empty": (text("m.jsonl", ""), {3}, "empty"),
    "crlf-and-cr": (text("m.jsonl", GOOD.replace("\n", "\r")), {0}, ""),
    "huge-values": (text("m.jsonl", "".join(json.dumps({"step": i, "eval/accuracy":
                                                        1.7e308 * (-1) ** i}) + "\n"
                                            for i in range(40))), {0, 3}, ""),
}


def run_cli(capsys, *args):
    start = time.perf_counter()
    code = main(list(args))
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    return code, out, err, elapsed


def assert_clean(code, err, elapsed, codes, path):
    assert code in codes, err
    assert "Traceback" not in err and "internal error" not in err, err
    if code in (2, 3):
        assert err.startswith("phasewatch: error: ") or "error:" in err
        assert code == 2 or str(path) in err
    assert elapsed < TIME_LIMIT


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_through_inspect(name, tmp_path, capsys):
    build, codes, expect = CASES[name]
    path = build(tmp_path)
    code, out, err, elapsed = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert_clean(code, err, elapsed, codes, path)
    said = err if code else " ".join(json.loads(out)["warnings"])
    assert expect in said, said


@pytest.mark.parametrize("command", ["analyze", "changepoints", "watch"])
@pytest.mark.parametrize("name", ["deep-json-line", "step-1e30", "csv-huge-cell", "huge-values",
                                  "run-json-metric-list", "trainer-state-damaged-middle"])
def test_hostile_input_through_the_other_commands(name, command, tmp_path, capsys):
    path = CASES[name][0](tmp_path)
    extra = ["--metric", "loss" if name.startswith(("csv", "trainer")) else "eval/accuracy"]
    code, _, err, elapsed = run_cli(capsys, command, str(path), *extra)
    assert_clean(code, err, elapsed, {0, 2, 3}, path)


def tensorboard_file(tmp_path, events):
    pytest.importorskip("tensorboard.compat.proto.event_pb2")
    return event_file(tmp_path / "events.out.tfevents.1.host", events)


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


def run_subprocess(*args, timeout=20):
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    return subprocess.run([sys.executable, "-m", "phasewatch", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


@pytest.mark.parametrize("where", ["log", "native-metrics", "run-json", "token-step-file"])
def test_fifos_are_refused_not_waited_on(where, tmp_path):
    if where == "log":
        target = tmp_path / "metrics.jsonl"
        os.mkfifo(target)
        args = ["inspect", str(target)]
    elif where == "native-metrics":
        (tmp_path / "run.json").write_text("{}")
        os.mkfifo(tmp_path / "metrics.jsonl")
        args = ["inspect", str(tmp_path)]
    elif where == "run-json":
        os.mkfifo(tmp_path / "run.json")
        (tmp_path / "metrics.jsonl").write_text(GOOD)
        args = ["inspect", str(tmp_path)]
    else:  # a valid index, so the command gets as far as the step file
        (tmp_path / "tokens").mkdir()
        (tmp_path / "tokens" / "index.json").write_text(json.dumps(TOKEN_INDEX))
        os.mkfifo(tmp_path / "tokens" / "step_00000010.npy")
        args = ["tokens", str(tmp_path / "tokens")]
    result = run_subprocess(*args)  # a hang is a TimeoutExpired: the test fails
    assert result.returncode in (0, 3), result.stderr  # (2 would be a wrong command line)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if where != "run-json":  # (a FIFO run.json is skipped: the metrics are read)
        assert "FIFO" in result.stderr, result.stderr


def test_a_token_step_file_named_beyond_int64_is_ignored_with_a_warning(tmp_path):
    np = pytest.importorskip("numpy")
    store = tmp_path / "tokens"
    store.mkdir()
    (store / "index.json").write_text(json.dumps(TOKEN_INDEX))
    np.save(store / "step_00000010.npy", np.full(4, -0.5, dtype=np.float32))
    (store / f"step_{10**30}.npy").write_bytes(b"\x93NUMPY junk")
    result = run_subprocess("tokens", str(store))
    assert result.returncode == 0, result.stderr
    assert "the step in its name is too large" in result.stdout  # the summary's warnings
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("option, value", [("--min-delta", "nan"), ("--min-delta", "inf"),
                                           ("--z", "nan"), ("--z", "-inf")])
def test_non_finite_watch_thresholds_are_usage_errors(option, value, tmp_path):
    path = text("m.jsonl", GOOD)(tmp_path)
    result = run_subprocess("watch", str(path), option, value)
    assert result.returncode == 2 and option in result.stderr and "finite" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


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


def test_watch_follow_skips_and_counts_bad_lines_and_keeps_the_metric(tmp_path):
    """Hostile lines appended to a live log (a step of 1e30, deep nesting, a huge cell) are
    skipped and reported; the follower's alerts equal a replay of the final file."""
    from phasewatch.live import LiveWatch

    path = tmp_path / "metrics.jsonl"
    rows = [{"step": i, "eval/accuracy": 0.5 + (0.2 if i >= 40 else 0.0) + 0.001 * (i % 3)}
            for i in range(80)]
    bad = ['{"step": 1e30, "eval/accuracy": 0.1}', "[" * 5000 + "]" * 5000,
           '{"step": NaN, "eval/accuracy": 0.9}', '{"step": 41, "eval/accuracy": ' + "9" * 400 + "}"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:30]))

    def writer():
        with open(path, "a", encoding="utf-8") as fh:
            for i in range(30, 80):
                time.sleep(0.01)
                fh.write(json.dumps(rows[i]) + "\n")
                if i == 35:
                    fh.write("\n".join(bad) + "\n")
                fh.flush()

    notices: list[str] = []
    thread = threading.Thread(target=writer)
    thread.start()
    live = LiveWatch(path, follow=True, poll=0.02, idle_exit=1.0, notice=notices.append,
                     info=notices.append)
    followed = [(a.event, a.step) for a in live.alerts()]
    thread.join()
    replayed = [(a.event, a.step) for a in LiveWatch(path, notice=lambda m: None,
                                                       info=lambda m: None).alerts()]
    assert followed == replayed
    assert any(event == "improvement" for event, _ in followed)
    assert live.result.metric == "eval/accuracy"
    said = " ".join(notices)
    assert "out of range" in said and "not an integer" in said


# ------------------------------------------------------------------ hypothesis
HOSTILE_VALUES = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
    st.none(), st.booleans(),
    st.recursive(st.integers(), lambda inner: st.lists(inner, max_size=3), max_leaves=10),
)
HOSTILE_LINES = st.one_of(
    st.builds(lambda s, v: json.dumps({"step": s, "loss": v}, allow_nan=True),
              HOSTILE_VALUES, HOSTILE_VALUES),
    st.builds(lambda d: "[" * d + "]" * d, st.integers(500, 3000)),
    st.text(max_size=200).map(lambda t: t.replace("\n", " ")),
    st.builds(lambda d: '{"step": 1, "x": ' + "[" * d, st.integers(1, 3000)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile=st.lists(HOSTILE_LINES, min_size=1, max_size=8), ext=st.sampled_from(["jsonl", "csv"]))
def test_hypothesis_hostile_lines_between_good_records(tmp_path_factory, hostile, ext):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"log.{ext}"
    if ext == "jsonl":
        good = [json.dumps({"step": i, "loss": 1.0 / (i + 1)}) for i in range(10)]
    else:
        good = ["step,loss"] + [f"{i},{1.0 / (i + 1)}" for i in range(10)]
        hostile = [h.replace("\r", " ") for h in hostile]
    lines = good[:5] + hostile + good[5:]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        run = read_run(path)
    except InputError:
        return  # a clear error (e.g. a hostile line made it look like another format)
    series = run.series("loss", finite=False) if "loss" in run.metrics else None
    if run.format == ext and series is not None:  # (a JSON line can make a CSV sniff as JSONL)
        for i in range(10):  # every good record is there (a hostile line may resume a step)
            assert i in series.index


def as_unprivileged(args, timeout=20):
    """Run the CLI as a user the permission bits apply to (root reads everything)."""
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": repo}
    return subprocess.run([*prefix, sys.executable, "-m", "phasewatch", *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          check=False, cwd="/")


@pytest.fixture
def open_tmp():
    """A temporary folder an unprivileged user can enter (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="pw-perm-"))
    path.chmod(0o755)
    yield path
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(path)


@pytest.mark.parametrize("what", ["file", "folder", "file-in-folder"])
def test_permission_denied_is_exit_3_naming_the_file(what, open_tmp):
    if what == "file":
        target = open_tmp / "metrics.jsonl"
        target.write_text(GOOD)
        target.chmod(0)
    else:
        target = open_tmp / "run"
        target.mkdir()
        (target / "metrics.jsonl").write_text(GOOD)
        (target / "run.json").write_text("{}")
        (target if what == "folder" else target / "metrics.jsonl").chmod(0)
    result = as_unprivileged(["inspect", str(target)])
    assert result.returncode == 3, result.stderr
    assert "Permission denied" in result.stderr and str(target) in result.stderr
    assert "Traceback" not in result.stderr


def test_watch_follow_on_a_permission_denied_file_says_so(open_tmp):
    target = open_tmp / "metrics.jsonl"
    target.write_text(GOOD)
    target.chmod(0)
    result = as_unprivileged(["watch", str(target), "--follow", "--idle-exit", "1"])
    assert result.returncode in (0, 3)
    assert "Permission denied" in result.stderr
    assert "Traceback" not in result.stderr


def test_plot_of_values_near_the_float_limit_is_exit_3_with_a_message(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = CASES["huge-values"][0](tmp_path)
    code, _, err, elapsed = run_cli(capsys, "plot", str(path), "--metric", "eval/accuracy",
                                    "--output", str(tmp_path / "out.png"))
    assert_clean(code, err, elapsed, {0, 3}, path)
    assert code == 3 and "no values to draw (all NaN, infinite or beyond +-1e+150)" in err


def test_an_unreadable_tensorboard_file_in_a_folder_is_reported(open_tmp):
    pytest.importorskip("tensorboard")
    run = open_tmp / "tb"
    run.mkdir()
    good = tensorboard_file(run, [scalar_event(i, 0.5) for i in range(5)])
    other = run / "sub"
    other.mkdir()
    locked = tensorboard_file(other, [scalar_event(i, 0.4, "acc") for i in range(5)])
    locked.chmod(0)
    run.chmod(0o755)
    result = as_unprivileged(["inspect", str(run)])
    assert result.returncode in (0, 3), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert good.exists()
    assert "Permission denied" in result.stderr + result.stdout


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


def test_a_genuine_bug_is_exit_70_asking_for_a_report(tmp_path, capsys, monkeypatch):
    """Exit 70 is kept for bugs: one line asking for a report, the traceback only with
    PHASEWATCH_DEBUG=1."""
    import phasewatch.commands.inspect as inspect_command

    def broken(run):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(inspect_command, "summarize", broken)
    path = text("m.jsonl", GOOD)(tmp_path)
    code, _, err, _ = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert code == 70 and "Traceback" not in err
    assert "internal error (ZeroDivisionError: a bug); this is a bug, please report it" in err
    monkeypatch.setenv("PHASEWATCH_DEBUG", "1")
    code, _, err, _ = run_cli(capsys, "inspect", str(path), "--format", "json")
    assert code == 70 and "Traceback" in err
