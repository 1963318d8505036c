"""Metrics of a few values (records_sparse), wide rows, and the alias lookup built once.

The store is checked against a plain-Python reference of the one rule (`record_reference`: per
metric, a resumed run's abandoned branch is dropped and the latest value in file order wins) on
mixes of the paths a metric can take: values added one at
a time (kept as triplets, or moved into the column groups once a metric has `PROMOTE` values
in a batch), wide rows, blocks. The alias lookup is checked against the rule written as a scan
of every pattern over every name (what it replaced)."""

from __future__ import annotations

import fnmatch
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from record_reference import resolved

from phasewatch import records
from phasewatch.io.verl_console import LineParser
from phasewatch.presets import (
    BARE_ACCURACY,
    ROLE_CANDIDATES,
    aliases_for,
    beside_preference,
    role_matches,
)
from phasewatch.records import ColumnStore
from phasewatch.records_sparse import ResolvedColumns, Row
from phasewatch.run import RecordCollector

NAMES = ["a", "b", "c", "d", "e"]
value = st.floats(-5, 5)
# (how, step, {name: value}): 0 one value at a time, 1 a wide row, 2 a block of one record
op = st.tuples(st.integers(0, 2), st.integers(0, 9),
               st.dictionaries(st.sampled_from(NAMES), value, max_size=5))


def reference(ops):
    return resolved((step, name, v) for _, step, values in ops for name, v in values.items())


def as_dicts(columns):
    return {name: dict(zip(s.tolist(), v.tolist())) for name, (s, v) in columns.items()}


def apply(store: ColumnStore, ops):
    for how, step, values in ops:
        if how == 0:
            for name, v in values.items():
                store.add(name, step, v)
        elif how == 1:
            store.add_row(step, list(values), np.array(list(values.values()), dtype=np.float64))
        elif values:
            store.add_block(np.array([step]), {n: (np.array([0]), np.array([v])) for n, v in values.items()})


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(op, max_size=40), later=st.lists(op, max_size=20), promote=st.sampled_from([1, 2, 16]),
       pending=st.integers(1, 8))
def test_every_path_resolves_as_the_reference(ops, later, promote, pending):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "PROMOTE", promote)  # low: metrics move to the groups mid-run
        patch.setattr(records, "PENDING_LIMIT", pending)
        check_paths(ops, later)


def check_paths(ops, later):
    store = ColumnStore()
    apply(store, ops)
    columns = store.resolve()
    assert as_dicts(columns) == reference(ops)
    for steps, values in columns.values():
        assert steps.dtype == np.int64 and values.dtype == np.float64
        assert (np.diff(steps) > 0).all()
    assert sorted(columns) == sorted(reference(ops)) and len(columns) == len(reference(ops))
    apply(store, later)  # after a resolve, more records come after the resolved ones
    assert as_dicts(store.resolve()) == reference(ops + later)


def test_a_wide_row_costs_no_python_object_per_metric():
    n = 200_000
    names = [f"k{i}" for i in range(n)]
    store = ColumnStore()
    store.add_row(1, names, np.arange(n, dtype=np.float64))
    store.add_row(2, names[:10], np.full(10, -1.0))
    columns = store.resolve()
    assert isinstance(columns, ResolvedColumns) and len(columns) == n
    assert columns.n_packed == n and not columns.plain()  # all packed: no per-metric entries
    steps, values = columns["k5"]
    assert steps.tolist() == [1, 2] and values.tolist() == [5.0, -1.0]
    assert columns["k199999"][1].tolist() == [199999.0]
    assert "k200000" not in columns and "k3" in columns
    with pytest.raises(KeyError):
        columns["nope"]
    assert [a.tolist() for a in columns.step_arrays()] == [[1, 2]]


def test_a_verl_line_of_many_items_becomes_one_row_of_columns():
    items = [f"k{i}:{i / 4}" for i in range(1000)] + ["train/lr(1e-3):0.5", "bad item", "x:np.float64(2.5)"]
    parser = LineParser()
    [(step, row)] = parser.feed("step:7 - " + " - ".join(items), 3)
    assert step == 7 and isinstance(row, Row)
    assert row["k10"] == 2.5 and row["train/lr"] == pytest.approx(5e-4) and row["x"] == 2.5
    assert len(row) == 1002 and "bad item" not in row
    assert "line 3: 'bad item'" in parser.notes[0]
    # the same values as the item-by-item path of short lines, 1_000 refused by both
    for text in ("0.5", "nan", "-inf", "1e-3", "1_000", " 2 ", "0x10", "np.float64(0.25)"):
        wide = parser.feed("step:1 - " + " - ".join([f"k{i}:{text}" for i in range(300)]), 1)[0][1]
        short = parser.feed(f"step:1 - k0:{text}", 1)[0][1]
        assert (dict(wide.items()).get("k0"), len(wide)) == (short.get("k0"), 300 * len(short)) or (
            np.isnan(short["k0"]) and np.isnan(wide["k0"]))


def test_collector_takes_a_row_whole():
    collector = RecordCollector("mem", "verl_console")
    collector.add(1, Row(["acc", "loss"], np.array([0.5, 2.0])), 1)
    collector.add(2, {"acc": 0.6}, 2)
    run = collector.build()
    assert run.series("acc").to_dict() == {1: 0.5, 2: 0.6} and run.n_records == 2
    assert run.metrics == ["acc", "loss"] and run.n_steps == 2


def keras_train_accuracy(role, name, present):
    """A bare `acc` / `accuracy` has the preference role only beside a preference run's other
    names (`presets.BARE_ACCURACY`, `presets.beside_preference`)."""
    return (role == "train/preference_accuracy" and name in BARE_ACCURACY
            and not beside_preference(present))


def old_aliases_for(metrics):
    """The rule as it was written before the lookup: every pattern scanned over every name."""
    present = sorted(set(metrics))
    aliases = {}
    for canonical, candidates in ROLE_CANDIDATES.items():
        if canonical in present:
            continue
        for pattern in candidates:
            found = sorted(m for m in present if fnmatch.fnmatchcase(m, pattern)
                           and not keras_train_accuracy(canonical, m, present))
            if found:
                aliases[canonical] = found[0]
                break
    taken = set(present) | set(aliases)
    for own in present:
        if own.startswith("eval_") and len(own) > 5 and f"eval/{own[5:]}" not in taken:
            aliases[f"eval/{own[5:]}"] = own
    return aliases


def old_role_matches(role, metrics):
    present = sorted(set(metrics))
    if role in present:
        return [role]
    for pattern in ROLE_CANDIDATES.get(role, ()):
        found = sorted(m for m in present if fnmatch.fnmatchcase(m, pattern)
                       and not keras_train_accuracy(role, m, present))
        if found:
            return found
    return []


PIECES = sorted({p for cands in ROLE_CANDIDATES.values() for c in cands for p in (c, c.replace("*", "x"),
                 c.replace("*", "a/b"), c.replace("*", ""))} | {"eval_x", "eval_", "k1", "eval/x"})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_alias_lookup_equals_the_pattern_scan(names):
    assert aliases_for(names) == old_aliases_for(names)
    assert aliases_for(dict.fromkeys(names).keys()) == old_aliases_for(names)
    for role in ROLE_CANDIDATES:
        assert role_matches(role, names) == old_role_matches(role, names)


def run_table(run):
    return (run.table.to_dict("list"), run.n_records, run.events, run.warnings, run.aliases)


cell = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**6, 10**6), st.none(),
                 st.booleans(), st.sampled_from(["0.5", "abc"]), st.just(10**400))
line = st.one_of(
    st.tuples(st.just("row"), st.integers(0, 30),
              st.dictionaries(st.sampled_from([f"m{i}" for i in range(60)] + ["eval_acc"]), cell, max_size=3)),
    st.sampled_from([("garbage", 0, {}), ("blank", 0, {}), ("nested", 0, {}), ("bigstep", 0, {})]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(line, min_size=1, max_size=60), st.integers(0, 2))
def test_a_block_of_many_key_sets_reads_as_the_line_path(tmp_path_factory, lines, many):
    """The bulk path's block with a new key set every few lines (`_read_sparse_block`)."""
    from phasewatch.io import fastjson, jsonl
    from phasewatch.io.lines import read_lines

    text = []
    fixed = {"garbage": "{oops", "blank": " ", "nested": '{"step": 3, "a": {"b": 1}}',
             "bigstep": '{"step": 1e30, "m1": 2}'}
    for kind, step, values in lines:
        text.append(json.dumps({"step": step, **values}) if kind == "row" else fixed[kind])
    path = tmp_path_factory.mktemp("log") / "log.jsonl"
    path.write_text("\n".join(text) + "\n")
    try:
        line_collector = RecordCollector(path, "x")
        read_lines(path, jsonl.LineParser(), line_collector)
        expected = run_table(line_collector.build())
    except Exception as exc:  # noqa: BLE001 - the line path rejects the file: so must the bulk path
        expected = (type(exc), str(exc))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fastjson, "MANY_KEY_SETS", many)  # every block takes the sparse path
        bulk = RecordCollector(path, "x")
        try:
            if not fastjson.read_json_lines(path, jsonl.LineParser(), bulk, block_bytes=200):
                return  # declined: the line path reads it
            got = run_table(bulk.build())
        except Exception as exc:  # noqa: BLE001
            got = (type(exc), str(exc))
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(NAMES),
                          st.one_of(value, st.sampled_from([float("nan"), float("inf"), -float("inf")]))),
                max_size=40))
def test_packed_summaries_equal_the_per_metric_ones(triplets):
    """run.metric_summary and inspect's table, vectorised over packed metrics, equal what the
    per-metric code gives for the same columns held as a plain dict."""
    from phasewatch.metric_table import metric_table
    from phasewatch.run import Run

    store = ColumnStore()
    for step, name, v in triplets:
        store.add(name, step, v)
    packed = Run.from_columns(store.resolve(), "mem", "x")
    plain = Run.from_columns(dict(packed.columns().items()), "mem", "x")
    assert packed.metric_summary() == plain.metric_summary()
    assert list(packed.metric_summary()) == sorted(packed.metric_summary())
    assert metric_table(packed.columns()).as_dicts() == metric_table(plain.columns()).as_dicts()
