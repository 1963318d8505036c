"""One value conversion for every reader, the bulk JSONL path and the live monitor."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from phasewatch.io import read_run
from phasewatch.online import PhaseMonitor
from phasewatch.values import to_float

HUGE = int("9" * 401)


@pytest.mark.parametrize("raw, expected", [
    (True, 1.0), (False, 0.0), (np.bool_(True), 1.0),
    (3, 3.0), (0.25, 0.25), (np.float32(0.5), 0.5), (np.int64(7), 7.0),
    (HUGE, math.inf), (-HUGE, -math.inf),
    ("0.5", 0.5), (" 1e-3 ", 0.001), ("-2", -2.0),
    ("Infinity", math.inf), ("-Infinity", -math.inf), ("inf", math.inf),
    (None, None), ("", None), ("   ", None), ("abc", None), ("1_000", None),
    ("1" * 41, None), ([1.0], None), ({"a": 1}, None), (b"1.0", None), (object(), None),
])
def test_to_float(raw, expected):
    assert to_float(raw) == expected


@pytest.mark.parametrize("raw", ["NaN", "nan", float("nan"), " NaN "])
def test_nan_in_any_spelling_is_nan(raw):
    value = to_float(raw)
    assert value is not None and math.isnan(value)


def test_run_to_float_is_the_same_function():
    from phasewatch import run

    assert run.to_float is to_float


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("n", [3, 3000])  # the line path and the bulk path
def test_readers_and_monitor_agree_on_bools_huge_ints_and_strings(tmp_path, n):
    specials = {1: True, 2: HUGE, 3: "0.75", 4: "NaN", 5: "n/a"}
    rows = [{"step": i, "acc": specials.get(i, 0.5)} for i in range(max(n, 6))]
    run = read_run(_write(tmp_path / "m.jsonl", rows))
    series = run.series("acc", finite=False)
    offline = {int(s): v for s, v in series.items()}
    for step, raw in specials.items():
        expected = to_float(raw)
        if expected is None:
            assert step not in offline
        elif math.isnan(expected):
            assert math.isnan(offline[step])
        else:
            assert offline[step] == expected
    # the monitor reads the same numbers from the same records
    monitor = PhaseMonitor(metric="acc", check_finite=True, stop_on=())
    seen = []
    for row in rows[:6]:
        alerts = monitor.update(row["step"], {"acc": row["acc"]})
        seen += [(a.step, a.value) for a in alerts if a.event == "non_finite"]
    assert seen[0] == (2, math.inf) and seen[1][0] == 4 and math.isnan(seen[1][1])
    assert monitor.trackers_[0].series.n == 3  # steps 0, 1 (True) and 3 ("0.75"); 5 is text


def test_values_too_large_to_square_are_left_out_offline_and_live_without_overflow(tmp_path):
    """1.7e308 is a corrupted record: its square overflows float64 and it would make every fit
    inf or NaN. It stays in the run as logged; the analysis and the monitor leave it out, as
    they leave out NaN and infinities, with no RuntimeWarning on the way."""
    import warnings

    import phasewatch

    values = {s: 0.5 + 0.01 * (s % 3) for s in range(30)}
    values[7], values[20] = 1.7e308, -1e200
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": s, "acc": v}) + "\n" for s, v in values.items()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = phasewatch.analyze(path, metric="acc")
        monitor = PhaseMonitor(metric="acc", check_finite=True, stop_on=())
        flagged = [a.step for s, v in values.items() for a in monitor.update(s, {"acc": v})
                   if a.event == "non_finite"]
    assert "acc: 2 non-finite or beyond +-1e+150 values left out (steps 7, 20)" in result.warnings
    assert result.baseline == pytest.approx(0.5)
    assert flagged == [7, 20] and monitor.trackers_[0].series.n == 28
    assert read_run(path).column("acc", finite=False).values[7] == 1.7e308  # kept as logged


def test_watch_of_a_metric_with_no_usable_value_says_so(tmp_path, capsys):
    from phasewatch.cli import main

    path = tmp_path / "log.jsonl"
    path.write_text("".join(f'{{"step": {s}, "acc": NaN}}\n' for s in range(5)))
    main(["watch", str(path), "--metric", "acc"])
    assert "whole run: no values to analyse, checkpoint to keep: step -" in capsys.readouterr().err
