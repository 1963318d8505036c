"""records.ColumnStore and ResumeScan against a plain-Python reference of the same rules
(`record_reference`: a resumed run's abandoned branch is dropped, the latest value in file
order wins); the first record of each run of steps below the running maximum starts a resume."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from record_reference import collected, resolved

from phasewatch.records import ColumnStore
from phasewatch.resumes import ResumeScan
from phasewatch.run import RecordCollector

NAMES = ["a", "b", "c", "d"]
record = st.tuples(st.integers(0, 12), st.dictionaries(st.sampled_from(NAMES),
                                                       st.floats(-5, 5), max_size=4))


def reference(records):
    return resolved((step, name, value) for step, values in records
                    for name, value in values.items())


def as_dicts(columns):
    return {name: dict(zip(steps.tolist(), values.tolist())) for name, (steps, values) in columns.items()}


def feed(store: ColumnStore, records, how: list[int]):
    """Records in batches: a batch size of 0 means one at a time through `add`."""
    i = 0
    for size in how + [len(records)]:
        batch = records[i:i + max(size, 1)]
        if not batch:
            break
        if size == 0:
            for step, values in batch:
                for name, value in values.items():
                    store.add(name, step, value)
        else:
            steps = np.array([s for s, _ in batch], dtype=np.int64)
            columns = {}
            for name in NAMES:
                rows = [(k, v[name]) for k, (_, v) in enumerate(batch) if name in v]
                if rows:
                    order = np.random.default_rng(len(rows)).permutation(len(rows))  # any order
                    columns[name] = (np.array([rows[j][0] for j in order]),
                                     np.array([rows[j][1] for j in order]))
            store.add_block(steps, columns)
        i += len(batch)


@settings(max_examples=150, deadline=None)
@given(st.lists(record, max_size=40), st.lists(st.integers(0, 6), max_size=8))
def test_store_resolves_as_the_reference_whatever_the_batches(records, how):
    store = ColumnStore()
    feed(store, records, how)
    columns = store.resolve()
    expected = {k: v for k, v in reference(records).items() if v}
    assert as_dicts(columns) == expected
    for steps, values in columns.values():
        assert steps.dtype == np.int64 and values.dtype == np.float64
        assert (np.diff(steps) > 0).all()
    assert as_dicts(store.resolve()) == expected  # resolving again changes nothing


@settings(max_examples=80, deadline=None)
@given(st.lists(record, max_size=30), st.lists(record, max_size=30), st.lists(st.integers(0, 5), max_size=6))
def test_records_added_after_a_resolve_come_after(first, second, how):
    store = ColumnStore()
    feed(store, first, how)
    store.resolve()
    feed(store, second, how)
    assert as_dicts(store.resolve()) == {k: v for k, v in reference(first + second).items() if v}


def test_metrics_of_the_same_rows_share_one_step_array():
    store = ColumnStore()
    for block in range(5):
        steps = np.arange(block * 100, block * 100 + 100)
        rows = np.arange(100)
        evals = rows[::10]
        store.add_block(steps, {"loss": (rows, rows * 1.0), "lr": (rows, rows * 2.0),
                                "acc": (evals, evals * 1.0)})
    columns = store.resolve()
    assert columns["loss"][0] is columns["lr"][0]
    assert columns["acc"][0] is not columns["loss"][0] and columns["acc"][0].size == 50


def test_a_metric_that_changes_company_keeps_file_order():
    store = ColumnStore()
    store.add_block(np.array([0, 1]), {"a": ([0, 1], [1.0, 2.0]), "b": ([0, 1], [5.0, 6.0])})
    store.add_block(np.array([2, 1]), {"a": ([0, 1], [3.0, 20.0])})  # b gone; a re-logs step 1
    store.add_block(np.array([3]), {"a": ([0], [4.0]), "b": ([0], [7.0])})
    # a's counter went back to 1: its step 2 was the abandoned branch's
    assert as_dicts(store.resolve()) == {"a": {0: 1.0, 1: 20.0, 3: 4.0},
                                         "b": {0: 5.0, 1: 6.0, 3: 7.0}}


def test_collector_builds_the_same_run_twice():
    collector = RecordCollector("mem", "x")
    collector.add(1, {"loss": 1.0, "acc": None}, 1)
    collector.add_columns([2, 1], [2, 3], {"loss": ([0, 1], [2.0, 3.0]), "acc": ([], [])})
    first, second = collector.build(), collector.build()
    # the counter went back to 1: the abandoned step 2 is dropped
    assert first.series("loss").to_dict() == second.series("loss").to_dict() == {1: 3.0}
    assert first.metrics == second.metrics == ["loss"]
    assert [(e.name, e.step) for e in first.events] == [("resume", 1)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-3, 8), max_size=40), st.lists(st.integers(1, 7), max_size=8))
def test_resume_scan_in_blocks_equals_one_at_a_time(steps, cuts):
    one = ResumeScan()
    for line, step in enumerate(steps, start=1):
        one.one(step, line)
    blocks = ResumeScan()
    i = 0
    for size in cuts + [len(steps)]:
        part = steps[i:i + size]
        blocks.block(np.array(part, dtype=np.int64), np.arange(i + 1, i + 1 + len(part)))
        i += len(part)
    assert blocks.found == one.found
    running, expected = None, []
    for line, step in enumerate(steps, start=1):  # the rule, written out
        back = running is not None and step < running
        was_back = line > 1 and steps[line - 2] < max(steps[:line - 1])
        if back and not was_back:
            expected.append((step, running, line))
        elif back and step < steps[line - 2]:  # back again within a backwards run
            expected.append((step, steps[line - 2], line))
        running = step if running is None else max(running, step)
    assert one.found == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(record, max_size=40))
def test_run_steps_is_the_union_of_the_metrics_steps(records):
    collector = RecordCollector("mem", "x")
    for line, (step, values) in enumerate(records, start=1):
        collector.add(step, values, line)
    run = collector.build()
    expected = sorted({s for by_step in collected(records).values() for s in by_step})
    assert run.steps.tolist() == expected and run.n_steps == len(expected)
    table_run = RecordCollector("mem", "x").build()
    table_run.table = run.table  # the same rows given as a table
    assert table_run.steps.tolist() == expected
    if expected:
        run.steps[0] = -99  # a copy: the run's columns are untouched
        assert run.steps.tolist() == expected
