"""Hostile input through every command path: each case must end in exit 0 (the valid part
read, the rest reported), 2 or 3, with a one-line message naming the file, never a traceback
or an internal error (exit 70), within a time limit."""

from __future__ import annotations

import json

import pytest
from hostile_inputs import GOOD, assert_clean, run_cli, text

LFS = ("version https://git-lfs.github.com/spec/v1\noid sha256:"
       "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")


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


def test_plot_of_values_near_the_float_limit_is_exit_3_with_a_message(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = CASES["huge-values"][0](tmp_path)
    code, _, err, elapsed = run_cli(capsys, "plot", str(path), "--metric", "eval/accuracy",
                                    "--output", str(tmp_path / "out.png"))
    assert_clean(code, err, elapsed, {0, 3}, path)
    assert code == 3 and "no values to draw (all NaN, infinite or beyond +-1e+150)" in err
