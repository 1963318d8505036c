"""The bulk JSON-lines path gives exactly the line path's Run (values, events, warnings)."""

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from phasewatch.io import jsonl, native
from phasewatch.io.fastjson import read_json_lines
from phasewatch.io.lines import read_lines
from phasewatch.run import RecordCollector


def both_paths(path, parser_class):
    bulk = RecordCollector(path, "x")
    assert read_json_lines(path, parser_class(), bulk), "the bulk path declined"
    line = RecordCollector(path, "x")
    read_lines(path, parser_class(), line)
    return bulk.build(), line.build()


def assert_same(a, b):
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.n_records == b.n_records
    assert a.events == b.events
    assert a.warnings == b.warnings
    assert a.aliases == b.aliases


def test_duplicates_resumes_sparse_keys_and_odd_values(tmp_path):
    lines = [json.dumps({"step": s, "loss": 1.0 / (s + 1), "lr": 1e-5}) for s in range(6)]
    lines += [json.dumps({"step": s, "loss": 10.0 + s, "lr": None}) for s in (3, 4, 5)]  # resume
    lines += [json.dumps({"step": 5, "eval/acc": 0.5})]  # another row for the same step
    lines += [json.dumps({"step": 5, "eval/acc": 0.5})]  # exact double logging
    lines += ['{"step": 6, "loss": NaN, "acc": "0.25", "flag": true, "note": "text"}']  # line path
    lines += ["", "   ", '{"step": 7, "loss": [1, 2], "nested": {"a": 1}}', "garbage", '{"step": 8.0, "loss": 2}']
    lines += ['{"step": 9, "loss": 123456789012345678901234567890}']  # beyond int64 and orjson
    lines += ['{"step": 10, "loss": 1e400}', '{"step": 11, "lo']
    path = tmp_path / "metrics.jsonl"
    path.write_text("\r\n".join(lines))
    bulk, line = both_paths(path, native.LineParser)
    assert_same(bulk, line)
    assert bulk.series("loss")[3] == 13.0 and [(e.name, e.step) for e in bulk.events] == [("resume", 3)]
    assert bulk.series("loss")[8] == 2.0 and bulk.series("acc")[6] == 0.25
    assert any("lines 16, 20" in w for w in bulk.warnings)  # garbage, truncated last line
    assert bulk.series("loss")[9] == pytest.approx(1.2345678901234568e29)


def test_jsonl_parser_nested_rows_decline_bulk_and_fall_back(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1, "eval": {"acc": 0.5}}\n{"step": 2, "eval": {"acc": 0.6}}\n')
    assert not read_json_lines(path, jsonl.LineParser(), RecordCollector(path, "x"))
    from phasewatch.io import read_run

    assert read_run(path).series("eval/acc").to_dict() == {1: 0.5, 2: 0.6}


def test_collector_mixing_single_rows_and_columns_keeps_file_order():
    rows = [(0, {"a": 1.0}), (1, {"a": 2.0, "b": 5.0}), (2, {"a": 3.0}), (1, {"a": 20.0}), (3, {"b": 7.0})]
    one_by_one = RecordCollector("mem", "x")
    for i, (step, values_) in enumerate(rows, start=1):
        one_by_one.add(step, values_, i)
    mixed = RecordCollector("mem", "x")
    mixed.add(0, {"a": 1.0}, 1)
    mixed.add_columns(steps=[1, 2], lines=[2, 3], columns={"a": ([0, 1], [2.0, 3.0]), "b": ([0], [5.0])})
    mixed.add(1, {"a": 20.0}, 4)
    mixed.add_columns(steps=[3], lines=[5], columns={"b": ([0], [7.0])})
    assert_same(mixed.build(), one_by_one.build())
    assert mixed.build().series("a").to_dict() == {0: 1.0, 1: 20.0}  # step 2 abandoned


values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**6, 10**6), st.none(),
    st.booleans(), st.sampled_from(["0.5", "abc", "", "NaN"]),
)
row = st.tuples(
    st.one_of(st.integers(0, 20), st.sampled_from(["3", 4.0, 2.5, None])),
    st.dictionaries(st.sampled_from(["loss", "acc", "lr", "reward"]), values, max_size=4),
)
line_kind = st.sampled_from(["row", "row", "row", "row", "blank", "garbage", "nan", "no_step"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(line_kind, row), min_size=1, max_size=40),
       step_key=st.sampled_from(["step", "global_step", "_step"]), crlf=st.booleans(),
       parser=st.sampled_from([jsonl.LineParser, native.LineParser]))
# the two readers met a step's metrics in different orders: "acc, loss" against "loss, acc"
@example(rows=[("row", (0, {"loss": 0.0, "acc": 0.0})), ("row", (0, {"loss": 1.0, "acc": 1.0}))],
         step_key="step", crlf=False, parser=jsonl.LineParser)
def test_fuzz_bulk_equals_line_path(tmp_path, rows, step_key, crlf, parser):
    rows[0] = ("row", (0, rows[0][1][1]))  # the first line is a record (else bulk declines)
    text = []
    for kind, (step, values) in rows:
        if kind == "blank":
            text.append("  ")
        elif kind == "garbage":
            text.append("{oops")
        elif kind == "nan":
            text.append(json.dumps({step_key: step, **values, "loss": float("nan")}))
        elif kind == "no_step":
            text.append(json.dumps(values or {"x": 1}))
        else:
            text.append(json.dumps({step_key: step, **values}))
    path = tmp_path / "log.jsonl"
    path.write_text(("\r\n" if crlf else "\n").join(text) + "\n")
    try:
        line = RecordCollector(path, "x")
        read_lines(path, parser(), line)
        line_run = line.build()
    except Exception as exc:  # noqa: BLE001 - the line path rejects the file: so must the bulk path
        try:
            accepted = read_json_lines(path, parser(), RecordCollector(path, "x"))
        except Exception as bulk_exc:  # noqa: BLE001
            assert type(bulk_exc) is type(exc) and str(bulk_exc) == str(exc)
        else:
            assert not accepted
        return
    bulk = RecordCollector(path, "x")
    if read_json_lines(path, parser(), bulk):  # it may decline (then the line path reads it)
        assert_same(bulk.build(), line_run)
    else:
        assert parser is native.LineParser and step_key != "step"


@pytest.mark.parametrize("block_bytes", [1, 37, 64, 1000])
def test_small_blocks_give_the_same_run_with_lines_straddling_blocks(tmp_path, block_bytes):
    """Blocks cut inside the file (and inside lines longer than a block) change nothing:
    resumes across blocks, bad and blank lines, CRLF, a BOM and nested rows in a later block."""
    lines = [json.dumps({"step": s, "loss": 1.0 / (s + 1), "lr": 1e-5}) for s in range(40)]
    lines += ["", "garbage", json.dumps({"step": 3, "loss": 9.0, "note": "x" * 300})]  # resume
    lines += [json.dumps({"step": s, "eval": {"acc": s / 100}}) for s in range(41, 45)]
    lines += ['{"step": 45, "loss": NaN}', json.dumps({"step": 46, "loss": 0.5})]
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    for parser_class in (native.LineParser, jsonl.LineParser):
        bulk = RecordCollector(path, "x")
        assert read_json_lines(path, parser_class(), bulk, block_bytes=block_bytes)
        line = RecordCollector(path, "x")
        read_lines(path, parser_class(), line)
        assert_same(bulk.build(), line.build())
    assert any("line 42" in w for w in bulk.build().warnings)


@pytest.mark.parametrize("odd", ['"loss": [1, 2]', '"loss": {}', '"loss": true',
                                 '"loss": "0.5"', '"loss": null', '"lo\\"ss": 0.5'])
def test_a_block_whose_only_quotes_are_keys_skips_the_type_check_safely(tmp_path, odd):
    # numbers in every row but one, whose value is nested, a bool, text, null or whose key has
    # an escaped quote: the block's quotes then are (or are not) all keys' quotes, and either
    # way the run is the line path's
    lines = [json.dumps({"step": s, "loss": 1.0 / (s + 1), "lr": s}) for s in range(40)]
    lines[17] = '{"step": 17, ' + odd + ', "lr": 17}'
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for parser in (native.LineParser, jsonl.LineParser):
        if parser is jsonl.LineParser and odd == '"loss": {}':
            continue  # the generic parser flattens nested rows: the bulk path declines
        bulk, line = both_paths(path, parser)
        assert_same(bulk, line)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(['{"a": 1}', '"', "x", " ", "\r", "\n", "\r\n", "é"]), max_size=30),
       bom=st.booleans(), block_bytes=st.integers(1, 12))
def test_blocks_are_the_file_s_lines_whole_without_copying_the_read(tmp_path, parts, bom, block_bytes):
    # a block is one read plus the rest of its last line: together they are the file's lines
    # (a \r\n across two reads stays one line end) and quotes, as the whole text counts them
    from phasewatch.io.blocks import blocks
    from phasewatch.io.fastjson import _quote_count

    text = "".join(parts).encode()
    path = tmp_path / "log.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text)
    found = list(blocks(path, block_bytes))
    assert [line for block in found for line in block.lines()] == text.splitlines()
    for block in found:
        assert _quote_count(block) == (block.data[:block.end] + block.rest).count(b'"')
        assert block.isascii() == (block.data + block.rest).isascii()


def test_quotes_are_counted_across_the_pieces_of_a_long_block():
    from phasewatch.io.blocks import Block
    from phasewatch.io.fastjson import QUOTE_PIECE, _quote_count

    data = (b'{"a": 1}\n' * (3 * QUOTE_PIECE // 9)) + b'{"b"'
    block = Block(data, data.rfind(b"\n") + 1, b'{"b": "x"}\n')
    assert _quote_count(block) == data.count(b'"') - 2 + 4
    assert _quote_count(Block(data, len(data), b'"\\""')) == -1  # an escaped quote: no count
