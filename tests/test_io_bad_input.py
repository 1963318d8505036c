"""Bad input: each case through `phasewatch inspect` (exit 3 naming the file and line, or the
good part read with warnings), plus hypothesis fuzzing of the JSONL, CSV and trainer_state
readers: never a traceback, never a silent loss."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from record_reference import collected

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import READERS, read_run
from phasewatch.io.jsonlines import SNIFF_LINES


def inspect(capsys, path, fmt="json"):
    code = main(["inspect", str(path), "--format", fmt])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if fmt == "json" and code == 0 else out), err


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    path.write_text("")
    code, out, err = inspect(capsys, path)
    assert code == 3 and out == ""
    assert err.strip() == f"phasewatch: error: {path}: the file is empty"


def test_blank_lines_only(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_text("\n  \n\t\n")
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}: the file is empty" in err


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": 0.5}\n{"step": 2, "lo')
    code, out, _ = inspect(capsys, path)
    assert code == 0
    assert out["n_records"] == 2 and out["metrics"]["loss"] == {
        "count": 2, "first_step": 0, "last_step": 1, "first": 1.0, "last": 0.5, "min": 0.5, "max": 1.0}
    [warning] = out["warnings"]
    assert warning.startswith("line 3: skipped the last line, which is incomplete")


@pytest.mark.parametrize("bulk", [True, False])
def test_a_last_record_without_a_step_is_no_truncated_write(tmp_path, bulk):
    """jsonl-opd-gsm8k-correct-51 ends with its script's `{"event": "done", "num_steps": 51}`:
    a whole JSON object, read as "skipped the last line, which is incomplete (truncated
    write?)", as if the log had been cut. The same in the bulk reader and line by line (the
    path a follow takes); a line cut short is still said to be incomplete."""
    from phasewatch.io import open_source
    from phasewatch.io.source import collect

    path = tmp_path / "train_log.jsonl"
    path.write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": 0.5}\n'
                    '{"event": "done", "num_steps": 2}\n')
    # `first` (a stopped watch's records) reads line by line, not in bulk
    run = read_run(path) if bulk else collect(open_source(path), first=1000)
    assert list(run.series("loss").index) == [0, 1]
    [warning] = run.warnings
    assert warning.startswith("line 3: skipped the last line, a complete record with no "
                              "step-like key") and "among its keys event, num_steps" in warning
    assert "incomplete" not in warning and "truncated" not in warning


@pytest.mark.parametrize("bulk", [True, False])
def test_a_csv_summary_row_is_no_truncated_write(tmp_path, bulk):
    """A word-level RNN LM's CSV (csv-rnn-lm-frankenstein-validppl-40) ends with the row
    `final,,,5.98`, the test perplexity after the epochs: a whole row whose epoch cell is a
    word, which was "skipped the last line, which is incomplete (truncated write?)". It is a
    summary row, left out and said so; a row with fewer cells than the header is still cut."""
    from phasewatch.io import open_source
    from phasewatch.io.source import collect

    header = "Epoch,Train_PPL,Valid_PPL,Test_PPL\n"
    rows = "".join(f"{e},{3.5 - 0.1 * e},{300 - 20 * e},\n" for e in range(1, 6))
    path = tmp_path / "perplexity.csv"
    path.write_text(header + rows + "final,,,5.98\n")
    run = read_run(path) if bulk else collect(open_source(path), first=1000)
    assert list(run.series("Valid_PPL").index) == [1, 2, 3, 4, 5]
    assert "Test_PPL" not in run.metrics
    [warning] = run.warnings
    assert warning.startswith("line 7: skipped the last line, a complete record with the word "
                              "'final' in its step column Epoch, no number (a summary row, "
                              "with Test_PPL)"), warning
    assert "incomplete" not in warning and "truncated" not in warning
    path.write_text(header + rows + "final,,\n")  # cut: fewer cells than the header
    [warning] = read_run(path).warnings
    assert warning.startswith("line 7: skipped the last line, which is incomplete"), warning


def test_only_line_truncated_is_exit_3_with_line(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 0, "loss": 1.')
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}:1: no valid record in the file" in err


def test_literal_nan_and_infinity(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 0, "loss": NaN}\n{"step": 1, "loss": Infinity}\n{"step": 2, "loss": -Infinity}\n'
                    '{"step": 3, "loss": 0.5}\n')
    code, out, _ = inspect(capsys, path)
    assert code == 0 and out["n_records"] == 4 and out["n_steps"] == 4
    assert out["metrics"]["loss"] == {"count": 1, "first_step": 3, "last_step": 3,
                                      "first": 0.5, "last": 0.5, "min": 0.5, "max": 0.5}
    assert out["warnings"] == ["loss: 3 non-finite values left out (steps 0, 1, 2)"]
    values = read_run(path).series("loss", finite=False)
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf


def test_numbers_as_strings(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": "0", "loss": "1.5", "lr": "1e-5", "tag": "warmup"}\n{"step": "1.0", "loss": " 0.5 "}\n')
    code, out, _ = inspect(capsys, path)
    assert code == 0 and set(out["metrics"]) == {"loss", "lr"}
    assert read_run(path).series("loss").to_dict() == {0: 1.5, 1: 0.5}


def test_git_lfs_pointer(tmp_path, capsys):
    path = tmp_path / "trainer_state.json"
    path.write_text("version https://git-lfs.github.com/spec/v1\n"
                    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}: this is a Git LFS pointer file, not the log itself" in err
    assert "git lfs pull" in err


def test_binary_junk(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(bytes(range(256)) * 8)
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}: binary content that is not a known log format" in err
    assert "formats tried: " + ", ".join(READERS) in err


def test_text_in_a_legacy_encoding_is_no_binary_content(tmp_path, capsys):
    """A console written in GB18030 (a Chinese Windows' default) whose names are Chinese: text no
    reader knows, refused as an unknown format that says its encoding, where it was called
    "binary content"; its line of ASCII items is read whatever the encoding."""
    lines = ["模型训练开始，起始时间：2024-07-13 06:23:43"]
    lines += [f"当前Batch：{10 * b}/600 | 当前epoch:0/5 | 当前损失值：{10 - b / 10:.4f} | 当前准确率："
              f"{b / 10:.2f}%" for b in range(1, 40)]
    path = tmp_path / "train_log.txt"
    path.write_bytes("\n".join(lines).encode("gb18030") + b"\n")
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}: unknown log format" in err and "binary" not in err
    assert "text that is not UTF-8 (line 1 holds bytes UTF-8 does not decode" in err
    ascii_items = [f"step {s} loss={2 - s / 30:.4f} acc={s / 40:.4f} 备注" for s in range(1, 30)]
    path.write_bytes("\n".join([lines[0], *ascii_items]).encode("gb18030") + b"\n")
    assert read_run(path).series("loss").index.tolist() == list(range(1, 30))


def test_control_bytes_without_a_nul_are_binary_content(tmp_path, capsys):
    path = tmp_path / "events.out"
    path.write_bytes(bytes(range(1, 256)) * 8)  # no NUL, not UTF-8, a tenth of it controls
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}: binary content that is not a known log format" in err


def test_directory_with_no_logs(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "sub").mkdir()
    code, _, err = inspect(capsys, tmp_path)
    assert code == 3 and f"{tmp_path}: no training log found in this folder" in err
    assert "formats tried: " + ", ".join(READERS) in err


def test_unknown_text_format_lists_formats_tried(tmp_path, capsys):
    path = tmp_path / "train.log"
    path.write_text("epoch 1 done, loss was low\nall good\n")
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}: unknown log format (formats tried: {', '.join(READERS)})" in err


def test_missing_path(tmp_path, capsys):
    code, _, err = inspect(capsys, tmp_path / "nope.jsonl")
    assert code == 3 and "no such file or folder" in err


def test_mostly_good_file_reads_good_part_and_lists_bad_lines(tmp_path, capsys):
    rows = [json.dumps({"step": s, "loss": 1.0 / (s + 1)}) for s in range(20)]
    rows[4] = "garbage line"
    rows[9] = '{"loss": 0.3}'  # no step
    rows[12] = '["not", "an", "object"]'
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(rows) + "\n")
    code, out, _ = inspect(capsys, path)
    assert code == 0 and out["metrics"]["loss"]["count"] == 17
    [warning] = out["warnings"]
    assert warning.startswith("skipped 3 of 20 lines that are not valid records (lines 5, 10, 13; first: ")


def test_a_damaged_json_line_is_named_by_its_line_and_column_only(tmp_path, capsys):
    """json's own message says "line 1 column 12" of the one line it was given, which read
    beside the file's line 3 as a contradiction; only its column is said."""
    rows = [json.dumps({"step": s, "eval/accuracy": 0.5}) for s in range(6)]
    rows[2] = '{"step": 2 "eval/accuracy": 0.5}'
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(rows) + "\n")
    code, out, _ = inspect(capsys, path)
    said = ("skipped 1 of 6 lines that are not valid records (line 3; first: not valid JSON: "
            "Expecting ',' delimiter at column 12)")
    assert code == 0 and out["warnings"] == [said]


def test_invalid_trainer_state_is_exit_3_with_line(tmp_path, capsys):
    path = tmp_path / "trainer_state.json"
    path.write_text('{\n  "global_step": 3,\n  "log_history": [\n    {"loss": 1.0, "step": oops}\n  ]\n}\n')
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}:4: the log rows are not valid JSON" in err


def test_csv_header_only(tmp_path, capsys):
    path = tmp_path / "log.csv"
    path.write_text("step,loss\n")
    code, _, err = inspect(capsys, path)
    assert code == 3 and f"{path}: no valid record in the file" in err


def test_non_monotonic_steps_warn_not_sorted_silently(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": s, "x": s}) + "\n" for s in [0, 1, 2, 3, 1, 2, 3, 4]))
    code, out, _ = inspect(capsys, path, fmt="text")
    assert code == 0 and "events: resume@1" in out
    assert "warning: line 5: step counter went back from 3 to 1" in out


# ---------------------------------------------------------------- fuzzing
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
metric_names = st.sampled_from(["loss", "eval/acc", "reward", "kl"])
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
rows_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.dictionaries(metric_names, finite, min_size=1, max_size=4)),
    min_size=1, max_size=40,
)
garbage_strategy = st.sampled_from(
    ['{"step": 1, "loss": ', "%%%", "[1, 2]", '{"loss": 1, "step": 1.5}', "step,loss", "\x00\x01"]
)


def expected_table(records):
    """Reference: `record_reference.collected`, keyed by (step, metric)."""
    table = collected(list(records))
    return {(step, key): value for key, by_step in table.items() for step, value in by_step.items()}


def actual_table(run):
    return {(int(r.step), r.metric): r.value for r in run.table.itertuples()}


@FUZZ
@given(rows=rows_strategy, data=st.data())
def test_fuzz_jsonl_never_traceback_never_silent_loss(tmp_path, rows, data):
    bad = data.draw(st.sets(st.integers(0, len(rows) - 1), max_size=len(rows)))
    garbage = data.draw(st.lists(garbage_strategy, min_size=len(rows), max_size=len(rows)))
    text_lines = [garbage[i] if i in bad else json.dumps({"step": s, **v}) for i, (s, v) in enumerate(rows)]
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(text_lines) + "\n")
    good = [row for i, row in enumerate(rows) if i not in bad]
    if not good or all(i in bad for i in range(min(SNIFF_LINES, len(rows)))):
        # Nothing to read, or no record where the format is recognised: a clear error.
        with pytest.raises(InputError) as info:
            read_run(path)
        assert str(path) in str(info.value)
        return
    run = read_run(path)
    assert actual_table(run) == pytest.approx(expected_table(good))
    assert run.n_records == len(good)
    if bad:
        skipped = [w for w in run.warnings if "skipped" in w]
        assert len(skipped) == 1
        shown = sorted(bad)[:10]
        if len(bad) > 1 or max(bad) != len(rows) - 1:
            assert f"skipped {len(bad)} of {len(rows)} lines" in skipped[0]
        assert all(f"{i + 1}" in skipped[0] for i in shown)


@FUZZ
@given(rows=rows_strategy, data=st.data())
def test_fuzz_csv_never_traceback_never_silent_loss(tmp_path, rows, data):
    columns = ["loss", "eval/acc", "reward", "kl"]
    bad = data.draw(st.sets(st.integers(0, len(rows) - 1), max_size=len(rows)))
    corruptions = data.draw(st.lists(st.sampled_from(["1,2", "x,1,2,3,4", "", '"']), min_size=len(rows), max_size=len(rows)))
    lines = ["step," + ",".join(columns)]
    for i, (step, values) in enumerate(rows):
        if i in bad:
            lines.append(corruptions[i] or "1.5,,,,")  # non-integer step
        else:
            lines.append(",".join([str(step)] + [repr(values[c]) if c in values else "" for c in columns]))
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join(lines) + "\n")
    good = [row for i, row in enumerate(rows) if i not in bad]
    if not good:
        with pytest.raises(InputError):
            read_run(path)
        return
    run = read_run(path)
    assert actual_table(run) == pytest.approx(expected_table(good))
    if bad:
        assert any(f"{len(bad)} of {len(rows) + 1} lines" in w or "last line" in w for w in run.warnings)


@FUZZ
@given(rows=rows_strategy, cut=st.floats(0.0, 1.0))
def test_fuzz_trainer_state_truncated_anywhere(tmp_path, rows, cut):
    history = [{**values, "step": step} for step, values in rows]
    text = json.dumps({"global_step": 1, "log_history": history}, indent=2)
    end = int(len(text) * cut)
    path = tmp_path / "trainer_state.json"
    path.write_text(text[:end])
    # A row is complete if its closing brace is inside the cut.
    decoder = json.JSONDecoder()
    start = text.index("[") + 1
    complete = []
    for row in history:
        start = text.index("{", start)
        _, stop = decoder.raw_decode(text, start)
        if stop <= end:
            complete.append((row["step"], {k: v for k, v in row.items() if k != "step"}))
        start = stop
    try:
        run = read_run(path)
    except InputError as exc:
        assert not complete and str(path) in str(exc)
        return
    assert actual_table(run) == pytest.approx(expected_table(complete))
    if len(complete) < len(history):
        assert any("truncated" in w for w in run.warnings)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2000), name=st.sampled_from(
    ["metrics.jsonl", "trainer_state.json", "log.csv", "train.log", "events.out.tfevents.1", "run-x.wandb"]))
def test_fuzz_arbitrary_bytes_only_input_errors(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    try:
        run = read_run(path)
    except InputError as exc:
        assert str(path) in str(exc)
    else:
        assert run.n_records > 0


def test_a_native_runs_metadata_file_points_to_its_folder(tmp_path, capsys):
    """run.json given instead of the run: exit 3 with the folder to give, whatever the events
    inside it look like (a list of per-step objects would pass for a generic JSON log)."""
    (tmp_path / "metrics.jsonl").write_text('{"step": 0, "eval/accuracy": 0.5}\n')
    (tmp_path / "run.json").write_text(json.dumps(
        {"schema_version": 1, "events": [{"step": 10, "name": "sft_to_rl"}]}))
    assert main(["analyze", str(tmp_path / "run.json")]) == 3
    err = capsys.readouterr().err
    assert "the run's metadata, not its log" in err and f"({tmp_path})" in err


@pytest.mark.parametrize("text, header", [("1,46.98\n2,54.84\n3,60.52\n", "'step,accuracy'"),
                                          ("1\t0.5\n2\t0.6\n", "'step<TAB>accuracy'"),
                                          # a decimal-comma locale's table: `;` between cells
                                          ("1;49,22\n2;55,10\n", "'step;accuracy'")])
def test_a_table_without_a_header_says_to_add_one(tmp_path, capsys, text, header):
    """A script's `progress.csv` written without a header (`1,46.98` per epoch; a public CIFAR
    project's, read in the third reader trial) was "unknown log format" and a list of the formats
    tried: nothing said what was missing."""
    path = tmp_path / "progress.csv"
    path.write_text(text)
    assert main(["analyze", str(path)]) == 3
    err = capsys.readouterr().err
    assert "unknown log format" in err and "is a row of numbers: a table needs a header row" in err
    assert header in err
