"""The real-corpus live benchmark's scoring (`benchmarks/bench_live_alerts.py`): the patience
baseline stops where HF's EarlyStoppingCallback does, and a series is scored only when every
accepted label agrees on whether it overfits."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_live_alerts import Scored, overfit_kind, patience_stop


def test_patience_stops_after_n_evaluations_without_a_strictly_better_one():
    steps = [10, 20, 30, 40, 50, 60, 70]
    # accuracy: best 0.6 at step 20; a tie (0.6) is no new best, as with threshold 0
    assert patience_stop(steps, [0.5, 0.6, 0.6, 0.55, 0.58, 0.7, 0.5], 1.0, 3) == 50
    # a loss: lower is better, and a new best resets the count
    assert patience_stop(steps, [1.0, 0.9, 0.95, 0.8, 0.85, 0.9, 0.7], -1.0, 2) == 60
    assert patience_stop(steps, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 1.0, 1) is None


def test_a_series_is_scored_only_where_its_accepted_labels_agree_on_an_overfit():
    assert overfit_kind({"expected": ["improvement", "overfit"],
                         "alternatives": [["improvement", "plateau", "overfit"]]}) == "overfit"
    assert overfit_kind({"expected": ["improvement", "plateau"], "alternatives": []}) == "none"
    assert overfit_kind({"expected": ["improvement", "overfit"],
                         "alternatives": [["improvement", "plateau"]]}) is None


def test_the_delay_is_from_the_labelled_best_over_the_runs_span():
    row = Scored("x m", "overfit", 11, 700, 200, 0, 1000, "", {})
    assert row.delay(700) == 0.5
    assert Scored("x m", "none", 11, 700, 200, 0, 1000, "", {}).delay(700) is None
