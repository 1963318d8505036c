"""A resumed run's abandoned branch is cut from every metric (`branch_cuts`), whichever path
the records take into the collector, as `record_reference.collected` writes the rule out, and
`analyze` keeps the checkpoint `watch` keeps."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from record_reference import collected

from phasewatch.cli import main as cli_main
from phasewatch.run import RecordCollector

NAMES = ["a", "b", "c", "d"]
record = st.tuples(st.integers(0, 12), st.dictionaries(st.sampled_from(NAMES),
                                                       st.floats(-5, 5), max_size=4))


def as_dicts(run) -> dict[str, dict[int, float]]:
    return {name: dict(zip(steps.tolist(), values.tolist()))
            for name, (steps, values) in run.columns().items() if steps.size}


def blocks(n: int, sizes: list[int]) -> list[tuple[int, int]]:
    out, first = [], 0
    for size in sizes + [n]:
        end = min(n, first + max(size, 1))
        if end > first:
            out.append((first, end))
        first = end
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(record, max_size=40), st.lists(st.integers(1, 8), max_size=8))
def test_every_path_cuts_the_abandoned_branch_of_every_metric(records, sizes):
    expected = {k: v for k, v in collected(records).items() if v}
    one = RecordCollector("mem", "x")
    for line, (step, values) in enumerate(records, start=1):
        one.add(step, values, line)
    assert as_dicts(one.build()) == expected
    columns_path, triplets_path = RecordCollector("mem", "x"), RecordCollector("mem", "x")
    for first, end in blocks(len(records), sizes):
        batch = records[first:end]
        steps = np.array([s for s, _ in batch], dtype=np.int64)
        lines = np.arange(first + 1, end + 1)
        columns = {}
        for name in NAMES:
            rows = [(k, v[name]) for k, (_, v) in enumerate(batch) if name in v]
            if rows:
                columns[name] = (np.array([k for k, _ in rows]), np.array([v for _, v in rows]))
        columns_path.add_columns(steps, lines, columns)
        items = [(k, name, value) for k, (_, v) in enumerate(batch) for name, value in v.items()]
        triplets_path.add_triplets(steps, lines, [name for _, name, _ in items],
                                   np.array([k for k, _, _ in items], dtype=np.int64),
                                   np.array([value for *_, value in items], dtype=np.float64))
    assert as_dicts(columns_path.build()) == expected
    assert as_dicts(triplets_path.build()) == expected


def jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def checkpoints(path: str, capsys) -> tuple[int, int, str]:
    """(analyze's recommended stop, watch's checkpoint to keep, analyze's warnings)."""
    assert cli_main(["analyze", path, "--metric", "eval/accuracy", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["runs"][0]
    assert cli_main(["watch", path, "--metric", "eval/accuracy", "--format", "jsonl"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return report["recommended_stop_step"], summary["best_step"], " ".join(report["warnings"])


def test_an_evaluation_of_the_abandoned_branch_is_dropped_as_watch_drops_it(tmp_path, capsys):
    """A run evaluated at 40 (its best), crashed at 50 and resumed from its step-10 checkpoint,
    evaluated next at 70: the value at 40 belongs to the branch the resume abandoned, whose
    loss records are dropped; analyze kept it and named step 40, which no longer exists."""
    rows = [{"step": s, "loss": 1 - s / 100} for s in range(10, 40, 10)]
    rows += [{"step": 40, "eval/accuracy": 0.9}, {"step": 50, "loss": 0.5}]
    rows += [{"step": s, "loss": 0.95 - s / 100} for s in range(10, 70, 10)]
    rows += [{"step": s, "eval/accuracy": a} for s, a in ((70, 0.5), (80, 0.6), (90, 0.55))]
    stop, kept, warnings = checkpoints(jsonl(tmp_path / "resumed.jsonl", rows), capsys)
    assert stop == kept == 80
    assert "went back from 50 to 10" in warnings


def test_an_evaluation_the_resumed_run_made_is_kept(tmp_path, capsys):
    """The same run whose first attempt crashed before evaluating: the evaluation at 40 comes
    after the resume, so it is the resumed run's and stays its best."""
    rows = [{"step": s, "loss": 1 - s / 100} for s in range(10, 60, 10)]
    rows += [{"step": s, "loss": 0.95 - s / 100} for s in range(10, 40, 10)]
    rows += [{"step": 40, "eval/accuracy": 0.9}]
    rows += [{"step": s, "eval/accuracy": a} for s, a in ((70, 0.5), (80, 0.6), (90, 0.55))]
    stop, kept, _ = checkpoints(jsonl(tmp_path / "resumed.jsonl", rows), capsys)
    assert stop == kept == 40


def test_building_again_after_more_records_keeps_the_resume():
    """A collector built, fed more records and built again gives what one build of all of them
    gives (`ColumnStore._reseed`), the resume and its warning included: the first build's store
    no longer holds the abandoned branch whose counter went back."""
    rows = [(s, {"loss": 1 - s / 100}) for s in range(10, 60, 10)] + [(40, {"eval": 0.5})]
    rows += [(s, {"loss": 0.9 - s / 100}) for s in range(20, 90, 10)] + [(70, {"eval": 0.6})]
    once, twice = RecordCollector("mem", "x"), RecordCollector("mem", "x")
    for line, (step, values) in enumerate(rows, start=1):
        once.add(step, values, line)
    for line, (step, values) in enumerate(rows[:9], start=1):
        twice.add(step, values, line)
    twice.build()
    for line, (step, values) in enumerate(rows[9:], start=10):
        twice.add(step, values, line)
    whole, again = once.build(), twice.build()
    assert as_dicts(again) == as_dicts(whole) and as_dicts(whole)["eval"] == {70: 0.6}
    assert again.warnings == whole.warnings and "went back from" in " ".join(whole.warnings)
    assert [e.step for e in again.events if e.name == "resume"] == [20]
