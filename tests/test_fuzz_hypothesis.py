"""Hypothesis: random hostile lines mixed into real records never crash a reader and never
make a record disappear silently."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phasewatch.errors import InputError
from phasewatch.io import read_run

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
        # every good record after the hostile lines is there; one before them is there unless
        # a hostile line was a record of an earlier step: a resume, whose abandoned branch
        # (the good records from that step on) is dropped and reported
        resumed = any("went back" in w for w in run.warnings)
        for i in range(10):
            assert i in series.index or (i < 5 and resumed), (i, run.warnings)
