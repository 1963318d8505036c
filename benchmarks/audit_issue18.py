"""Issue 18 as a hostile user: each reported input through the real CLI, in a subprocess with
a time limit, checked for its exit code, its message and the absence of a traceback.

Prints one row per case: the issue's bullet, exit code, wall and CPU seconds (the children's
user + system time: what the case costs whatever the machine's load; limits are on wall time)
and PASS/FAIL with the reason. Permission cases run the command as user `nobody` when
this script runs as root (root reads everything). Follow-rotation and webhook bullets are
covered by tests/test_follow_rotation.py and tests/test_alert_sinks.py (real files and real
local servers); the 2 GB memory bullet by benchmarks/bench_memory.py.

    .venv/bin/python benchmarks/audit_issue18.py [--only SUBSTRING] [--big]

`--big` adds the slow cases at the issue's full size (1e6 metric names, a verl line of 5M
items, a 100 MB line); without it they run at a tenth of that. The issue's verl line of 5M
`kN:0.5` items is 74 MB, over the readers' 64 MB line cap (skipped with a warning); a second
case reads a line of as many shorter items. benchmarks/bench_wide.py measures both wide cases
(time, peak RSS) against an earlier revision.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from tfrecord_events import event_file  # the tests' event-file writer
from tfrecord_events import scalar_event as scalar

GOOD = "".join(json.dumps({"step": i, "loss": 1 / (i + 1), "eval/accuracy": 0.5 + i / 100}) + "\n"
               for i in range(30))
LFS = ("version https://git-lfs.github.com/spec/v1\noid sha256:"
       "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")
NOBODY = 65534


@dataclass
class Case:
    bullet: str
    build: object  # tmp -> argv (after `phasewatch`)
    codes: set[int]
    needle: str = ""  # must appear in stderr (or stdout)
    limit: float = 20.0
    as_nobody: bool = False
    check: object = None  # (stdout, stderr) -> reason or None
    extra: dict = field(default_factory=dict)


def write(path: Path, content, mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def huge_tensor_event():
    from tensorboard.compat.proto import (
        event_pb2,
        summary_pb2,
        tensor_pb2,
        tensor_shape_pb2,
        types_pb2,
    )

    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2_000_000_000)])
    return event_pb2.Event(wall_time=50.0, step=50, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(
            tag="loss", tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape,
                                                      float_val=[1.0]),
            metadata=summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")))]))


def tb_damaged(tmp: Path):
    path = event_file(tmp / "tb" / "events.out.tfevents.1.host", [scalar(i, 1 / (i + 1)) for i in range(200)])
    data = bytearray(path.read_bytes())
    data[len(data) // 5:len(data) // 5 + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return ["inspect", str(path), "--format", "json"]


def count_at_least(metric: str, n: int):
    def check(out, err):
        got = json.loads(out)["metrics"].get(metric, {}).get("count", 0)
        return None if got >= n else f"{metric}: {got} values, expected >= {n}"
    return check


def trainer_state_damaged(tmp: Path):
    rows = [json.dumps({"step": i, "loss": 1 / (i + 1)}) if i != 10 else '{"step": 10, "lo\x00ss'
            for i in range(100)]
    path = write(tmp / "trainer_state.json", '{"log_history": [\n' + ",\n".join(rows) + "\n]}")
    return ["inspect", str(path), "--format", "json"]


def fifo(name):
    def build(tmp: Path):
        if name == "step":
            run = tmp / "run"
            write(run / "metrics.jsonl", GOOD)
            (run / "expert_logprobs").mkdir()
            write(run / "expert_logprobs" / "index.json", json.dumps(
                {"schema_version": 1, "dtype": "float32", "n_tokens": 4,
                 "sequences": [{"id": 0, "split": "train", "offset": 0, "length": 4}]}))
            os.mkfifo(run / "expert_logprobs" / "step_0.npy")
            return ["tokens", str(run)]
        if name == "mlflow":
            base = tmp / "mlruns" / "0" / "abc"
            write(base / "meta.yaml", "run_id: abc\nexperiment_id: '0'\nstatus: 3\nlifecycle_stage: active\n")
            (base / "metrics").mkdir(parents=True)
            os.mkfifo(base / "metrics" / "loss")
            return ["inspect", str(tmp / "mlruns" / "0" / "abc")]
        if name == "native":
            write(tmp / "run" / "run.json", "{}")
            os.mkfifo(tmp / "run" / "metrics.jsonl")
            return ["inspect", str(tmp / "run")]
        os.mkfifo(tmp / "metrics.jsonl")
        return ["inspect", str(tmp / "metrics.jsonl")]
    return build


def unreadable(kind):
    def build(tmp: Path):
        os.chmod(tmp, 0o755)
        if kind == "folder":
            runs = tmp / "runs"
            write(runs / "a" / "metrics.jsonl", GOOD)
            write(runs / "b" / "metrics.jsonl", GOOD)
            os.chmod(runs / "b", 0o000)
            return ["inspect", str(runs)]
        if kind == "tb":
            folder = tmp / "tb"
            event_file(folder / "events.out.tfevents.1.a", [scalar(i, 0.5) for i in range(10)])
            event_file(folder / "events.out.tfevents.2.b", [scalar(i, 0.5) for i in range(10, 20)])
            os.chmod(folder / "events.out.tfevents.2.b", 0o000)
            return ["inspect", str(folder)]
        path = write(tmp / "metrics.jsonl", GOOD)
        os.chmod(path, 0o000)
        return ["watch", str(path), "--follow", "--idle-exit", "3"]
    return build


def cases(big: bool) -> list[Case]:
    scale = 1 if big else 10
    n_names = 1_000_000 // scale
    n_items = 5_000_000 // scale
    long_mb = 100 // scale
    return [
        Case("deep JSON (~1000 levels) in a JSONL line", lambda t: ["inspect", str(write(
            t / "m.jsonl", GOOD + "[" * 1000 + "]" * 1000 + "\n"))], {0}, "line 31"),
        Case("deep JSON in run.json", lambda t: ["inspect", str(write(t / "r" / "run.json", "[" * 5000 + "]" * 5000)
                                                          .parent)] if write(t / "r" / "metrics.jsonl", GOOD) else [],
             {3}, "run.json"),
        Case("deep JSON in tokens index.json", lambda t: (write(t / "r" / "metrics.jsonl", GOOD), write(
            t / "r" / "expert_logprobs" / "index.json", "[" * 5000 + "]" * 5000), ["tokens", str(t / "r")])[-1],
             {3}, "index.json"),
        Case("integer of 400 digits as a value", lambda t: ["inspect", str(write(
            t / "m.jsonl", GOOD + '{"step": 30, "loss": ' + "9" * 400 + "}\n"))], {0}),
        Case("step 1e30", lambda t: ["inspect", str(write(t / "m.jsonl", GOOD + '{"step": 1e30, "loss": 0.1}\n'))],
             {0}, "out of range"),
        Case("step beyond int64", lambda t: ["inspect", str(write(
            t / "m.jsonl", GOOD + f'{{"step": {2**64}, "loss": 0.1}}\n'))], {0}, "out of range"),
        Case("token step file name beyond int64", lambda t: (
            write(t / "r" / "metrics.jsonl", GOOD),
            write(t / "r" / "expert_logprobs" / "index.json", json.dumps(
                {"schema_version": 1, "dtype": "float32", "n_tokens": 4,
                 "sequences": [{"id": 0, "split": "train", "offset": 0, "length": 4}]})),
            write(t / "r" / "expert_logprobs" / f"step_{10**30}.npy", b"\x93NUMPY junk"),
            ["tokens", str(t / "r")])[-1], {0, 3}),
        Case("CSV cell over 131,072 characters", lambda t: ["inspect", str(write(
            t / "m.csv", "step,loss,acc\n" + "".join(f"{i},{1 / (i + 1)},0.5\n" for i in range(20))
            + "21," + "1" * 200_000 + ",0.5\n"))], {0}, "field limit"),
        Case("plot of values near +-1e308", lambda t: ["plot", str(write(t / "m.jsonl", "".join(
            json.dumps({"step": i, "eval/accuracy": 1.7e308 * (-1) ** i}) + "\n" for i in range(40)))),
            "-o", str(t / "f.png")], {0, 3}),
        Case("unreadable folder among runs", unreadable("folder"), {3, 4}, "permission", as_nobody=True),
        Case("unreadable TensorBoard file in a folder", unreadable("tb"), {0}, "events.out.tfevents.2.b",
             as_nobody=True),
        # says so and waits for the permission to be granted (--idle-exit ends it), as the test
        Case("watch -f on a permission-denied file", unreadable("watch"), {0, 3}, "permission denied",
             as_nobody=True),
        Case("run.json performance_metric is a list", lambda t: (write(t / "r" / "metrics.jsonl", GOOD), write(
            t / "r" / "run.json", json.dumps({"performance_metric": ["a"]})), ["inspect", str(t / "r")])[-1],
             {0}, "not a string"),
        Case("FIFO as the log", fifo("log"), {3}, "FIFO", limit=10),
        Case("FIFO as a run's metrics.jsonl", fifo("native"), {3}, "FIFO", limit=10),
        Case("FIFO as step_*.npy", fifo("step"), {0, 3}, "FIFO", limit=10),
        Case("FIFO as an MLflow metric file", fifo("mlflow"), {0, 3}, "FIFO", limit=10),
        Case("--stop-file under a file", lambda t: ["watch", str(write(t / "m.jsonl", GOOD)), "--stop-file",
                                                    str(write(t / "plain", "x") / "stop")], {2, 3}, "stop"),
        Case("--min-delta nan", lambda t: ["watch", str(write(t / "m.jsonl", GOOD)), "--min-delta", "nan"], {2},
             "min-delta"),
        Case('"1_000" as a step', lambda t: ["inspect", str(write(
            t / "m.jsonl", GOOD + '{"step": "1_000", "loss": 0.1}\n')), "--format", "json"], {0}, "not an integer",
             check=lambda out, err: None if json.loads(out)["metrics"]["loss"]["last_step"] == 29
             else "1_000 was read as a step"),
        Case("cut CSV last line that parses", lambda t: ["inspect", str(write(
            t / "m.csv", "step,loss,acc\n" + "".join(f"{i},{1 / (i + 1)},0.5\n" for i in range(20))
            + "100,0.009,0."))], {0}, "newline"),
        Case("cut verl last line that parses", lambda t: ["inspect", str(write(t / "v.log", "".join(
            f"step:{i} - acc:0.5{i} - loss:1.0\n" for i in range(1, 20)) + "step:20 - acc:0."))], {0}, "newline"),
        Case("Git LFS pointer in a native folder", lambda t: (write(t / "r" / "run.json", "{}"), write(
            t / "r" / "metrics.jsonl", LFS), ["inspect", str(t / "r")])[-1], {3}, "Git LFS"),
        Case("Git LFS pointer as a TensorBoard file", lambda t: (write(
            t / "r" / "events.out.tfevents.1.host", LFS), ["inspect", str(t / "r")])[-1], {3}, "Git LFS"),
        Case("Git LFS pointer as a W&B file", lambda t: (write(
            t / "r" / "run-abc.wandb", LFS), ["inspect", str(t / "r")])[-1], {3}, "Git LFS"),
        Case("TensorBoard tensor of declared shape [2e9]", lambda t: ["inspect", str(event_file(
            t / "tb" / "events.out.tfevents.1.host", [scalar(i, 0.5) for i in range(10)] + [huge_tensor_event()]))],
             {0}, limit=10),
        Case("TensorBoard record damaged mid-file", tb_damaged, {0}, "skipped",
             check=count_at_least("loss", 195)),
        Case("trainer_state.json damaged mid-file", trainer_state_damaged, {0}, "skipped",
             check=count_at_least("loss", 95)),
        Case(f"{n_names:,} distinct metric names, one a line", lambda t: ["inspect", str(write(
            t / "m.jsonl", "".join(f'{{"step": {i}, "metric_{i}": 0.5}}\n' for i in range(n_names))))],
             {0}, limit=60 if big else 20),
        Case(f"verl line with {n_items:,} key:value items", lambda t: ["inspect", str(write(
            t / "v.log", "step:1 - " + " - ".join(f"k{i}:0.5" for i in range(n_items)) + "\n"
            + "".join(f"step:{i} - acc:0.5\n" for i in range(2, 20))))], {0, 3}, limit=60 if big else 20),
        # the line above is 74 MB at 5M items: over the readers' 64 MB line cap, skipped with a
        # warning; this one (`m<hex>:1` items, under the cap) is read, every item a metric
        Case(f"verl line with {n_items:,} short items (read, not skipped)", lambda t: ["inspect", str(write(
            t / "v.log", "step:1 - " + " - ".join(f"m{i:x}:1" for i in range(n_items)) + "\n"
            + "".join(f"step:{i} - acc:0.5\n" for i in range(2, 20))))], {0}, limit=60 if big else 20,
             check=lambda out, err: None if out.count("\n") > n_items
             else f"{out.count(chr(10))} lines of output, expected a row for each of {n_items:,} metrics"),
        Case(f"a {long_mb} MB line in watch", lambda t: ["watch", str(write(
            t / "m.jsonl", GOOD + '{"step": 30, "loss": "' + "x" * (long_mb * 10**6) + '"}\n'
            + json.dumps({"step": 31, "loss": 0.1}) + "\n"))], {0}, limit=30),
    ]


def follow_bad_line(tmp: Path) -> tuple[str, int, float, str]:
    """One hostile line appended to a live log: `watch --follow` skips and counts it, and the
    metric of a record with step 1e30 goes on being watched."""
    path = write(tmp / "m.jsonl", GOOD)
    proc = subprocess.Popen([sys.executable, "-m", "phasewatch", "watch", str(path), "--follow",
                             "--idle-exit", "3", "--format", "jsonl", "--poll", "0.1"],
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.perf_counter()
    time.sleep(2)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("[" * 5000 + "]" * 5000 + "\n")
        fh.write('{"step": 1e30, "eval/accuracy": 0.1}\n')
        fh.write('{"step": 31, "eval/accuracy": ' + "9" * 400 + "}\n")
        fh.writelines(json.dumps({"step": i, "eval/accuracy": 0.8 - i / 200}) + "\n" for i in range(32, 60))
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return "FAIL: still running after 30 s", -9, time.perf_counter() - start, err
    last = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    steps = [row.get("step") for row in last if "step" in row]
    reason = None
    if proc.returncode != 0 or "Traceback" in err:
        reason = f"exit {proc.returncode}"
    elif not steps or max(s for s in steps if s is not None) < 59:
        reason = f"the monitor stopped before step 59 (last {steps[-1:]})"
    return ("PASS" if reason is None else "FAIL: " + reason), proc.returncode, time.perf_counter() - start, err


def sighup(tmp: Path) -> tuple[str, int, float, str]:
    path = write(tmp / "m.jsonl", GOOD)
    proc = subprocess.Popen([sys.executable, "-m", "phasewatch", "watch", str(path), "--follow"],
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.perf_counter()
    time.sleep(10)  # started and following (a loaded machine takes seconds to import)
    proc.send_signal(signal.SIGHUP)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return "FAIL: SIGHUP did not end it", -9, time.perf_counter() - start, err
    ok = "Traceback" not in err and proc.returncode in (0, 1, 129) and ("summary" in (out + err).lower()
                                                                      or "watched" in (out + err).lower())
    return ("PASS" if ok else f"FAIL: exit {proc.returncode}, no summary"), proc.returncode, \
        time.perf_counter() - start, err


AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _nobody_can_run() -> bool:
    """setpriv, as the tests do (subprocess's user= cannot exec this interpreter here)."""
    if not shutil.which("setpriv"):
        return False
    try:
        return subprocess.run([*AS_NOBODY, sys.executable, "-c", "import phasewatch"], check=False,
                              cwd="/", env={"PYTHONPATH": str(REPO)},
                              capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


def run_case(case: Case, tmp: Path) -> tuple[str, int, float, str]:
    argv = case.build(tmp)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp)}
    prefix = []
    if case.as_nobody and os.geteuid() == 0:
        if not _nobody_can_run():
            return "SKIP: as root every file is readable, and nobody cannot run this Python", 0, 0.0, ""
        os.chmod(tmp, 0o777)
        prefix = AS_NOBODY
    start = time.perf_counter()
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "phasewatch", *argv], env=env, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace")
    try:
        out, err = proc.communicate(timeout=case.limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return f"FAIL: over {case.limit:.0f} s", -9, time.perf_counter() - start, err
    elapsed = time.perf_counter() - start
    code = proc.returncode
    reason = None
    if "Traceback" in err or "internal error" in err:
        reason = "traceback / internal error"
    elif code not in case.codes:
        reason = f"exit {code}, expected {sorted(case.codes)}"
    elif case.needle and case.needle.lower() not in (err + out).lower():
        reason = f"no '{case.needle}' in the messages"
    elif case.check is not None:
        reason = case.check(out, err)
    return ("PASS" if reason is None else "FAIL: " + reason), code, elapsed, err


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="")
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--show-errors", action="store_true", help="print each case's stderr tail")
    opts = parser.parse_args()
    rows = []
    for case in cases(opts.big):
        if opts.only.lower() not in case.bullet.lower():
            continue
        tmp = Path(tempfile.mkdtemp(prefix="pw-audit-"))
        try:
            before = _children_cpu()
            status, code, seconds, err = run_case(case, tmp)
            cpu = _children_cpu() - before
        finally:
            for root, dirs, _files in os.walk(tmp):
                for d in dirs:
                    os.chmod(Path(root) / d, 0o755)
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append((case.bullet, code, seconds, cpu, status, err.strip().splitlines()[-1:] if err.strip() else []))
    for name, fn in (("a bad line appended to a live log (watch --follow)", follow_bad_line),
                     ("SIGHUP ends watch --follow with its summary", sighup)):
        if opts.only.lower() not in name.lower():
            continue
        tmp = Path(tempfile.mkdtemp(prefix="pw-audit-"))
        try:
            before = _children_cpu()
            status, code, seconds, err = fn(tmp)
            cpu = _children_cpu() - before
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append((name, code, seconds, cpu, status, err.strip().splitlines()[-1:] if err.strip() else []))
    width = max(len(r[0]) for r in rows)
    print(f"{'bullet':<{width}}  {'exit':>4}  {'wall s':>7}  {'cpu s':>6}  result")
    for bullet, code, seconds, cpu, status, tail in rows:
        print(f"{bullet:<{width}}  {code:>4}  {seconds:>7.1f}  {cpu:>6.1f}  {status}")
        if opts.show_errors and tail:
            print(f"{'':<{width}}  stderr: {tail[0][:150]}")
    failed = sum(r[4].startswith("FAIL") for r in rows)
    skipped = sum(r[4].startswith("SKIP") for r in rows)
    print(f"{len(rows) - failed - skipped} of {len(rows)} pass, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
