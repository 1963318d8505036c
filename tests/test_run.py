"""The Run model and duplicate resolution, independent of any file format."""

import numpy as np
import pytest

from phasewatch.errors import UsageError
from phasewatch.run import RecordCollector, to_float


def build(records):
    c = RecordCollector("mem", "test")
    for i, (step, values) in enumerate(records, start=1):
        c.add(step, values, line=i)
    return c.build()


def test_rows_for_one_step_merge_and_double_logging_collapses():
    run = build([(0, {"a": 1}), (0, {"b": 2}), (1, {"a": 3}), (1, {"a": 3})])
    assert run.n_records == 4
    assert run.n_steps == 2
    assert run.series("a").tolist() == [1.0, 3.0]
    assert run.series("b").tolist() == [2.0]
    assert run.events == [] and run.warnings == []


def test_resume_later_record_supersedes_and_is_an_event():
    run = build([(0, {"a": 0}), (1, {"a": 1}), (2, {"a": 2}), (1, {"a": 10}), (2, {"a": 20}), (3, {"a": 3})])
    assert run.series("a").tolist() == [0.0, 10.0, 20.0, 3.0]
    assert [(e.name, e.step) for e in run.events] == [("resume", 1)]
    assert "line 4" in run.warnings[0] and "went back from 2 to 1" in run.warnings[0]


def test_non_finite_values_are_records_but_not_counted():
    run = build([(0, {"a": float("nan")}), (1, {"a": "Infinity"}), (2, {"a": "0.5", "note": "text"})])
    summary = run.metric_summary()
    assert summary == {"a": {"count": 1, "first_step": 2, "last_step": 2}}
    assert np.isnan(run.series("a", finite=False).iloc[0])


def test_unknown_metric_lists_closest_first():
    run = build([(0, {"eval/accuracy": 1, "train/loss": 2})])
    with pytest.raises(UsageError, match="closest first: eval/accuracy"):
        run.series("eval/acuracy")


def test_aliases_map_framework_names_to_roles():
    run = build([(0, {"eval_accuracy": 0.5, "loss": 1.0})])
    assert run.series("eval/accuracy").tolist() == [0.5]
    assert run.resolve_metric("train/loss") == "loss"


@pytest.mark.parametrize("raw,expected", [("1e-3", 1e-3), (True, 1.0), (None, None), ("abc", None), ([1], None)])
def test_to_float(raw, expected):
    assert to_float(raw) == expected
