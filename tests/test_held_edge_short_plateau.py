"""A trend beside a plateau of only two or three evaluations (`whole_run_trend.trend_edges`):
such a plateau holds no level but the evaluation at its edge, so the trend's edge there is that
evaluation, and a median of one or two evaluations is read as their mean
(`whole_run_trend.edge_variance`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.commands.analyze import phase_line
from phasewatch.run import Run
from phasewatch.whole_run_trend import edge_variance


def test_the_median_of_one_or_two_evaluations_is_as_noisy_as_their_mean():
    """pi/2 over n is the large-sample variance of a median; of one evaluation it is that
    evaluation's (1), of two their mean's (1/2)."""
    assert edge_variance("held", 1) == pytest.approx(1.0)
    assert edge_variance("held", 2) == pytest.approx(0.5)
    assert edge_variance("held", 12) == pytest.approx(math.pi / 2 / 12)



def test_a_plateau_of_three_evaluations_lends_no_held_level_to_the_trend_beside_it():
    """nb-keras-binary-19ep's val_accuracy: three flat epochs (0.588, 0.588, 0.5947), a rise,
    then a long plateau. The rise was printed "(start: the level held before it, median of 1
    evaluations ...)": a plateau that short holds no level but the evaluation at its edge, as
    its own line says (no "ends: medians"), and a median of one is that evaluation, not a
    noisier level (its variance pi/2 in `edge_scales` made the rise's change look less sure).
    The edge is the evaluation; a plateau of 6 or more still lends its held level."""
    head = [0.588, 0.588, 0.5947, 0.684, 0.76, 0.752, 0.7773]
    tail = [0.7653, 0.794, 0.762, 0.7547, 0.778, 0.7867, 0.786, 0.7887, 0.786, 0.7833, 0.7813,
            0.7833]
    y = np.array(head + tail)
    steps = np.arange(y.size, dtype=np.int64)
    analysis = analyze_run(Run.from_columns({"val_accuracy": (steps, y)}, "t", "t"),
                           "val_accuracy", "max")
    names = [phase.name for phase in analysis.phases]
    assert names == ["plateau", "improvement", "plateau"], names
    rise = analysis.phases[1]
    assert not {key for key in rise.stats if key.startswith("start_held")}, rise.stats
    assert rise.stats["start_value"] == pytest.approx(y[rise.start_step])
    assert "of 1 evaluations" not in phase_line(rise, direction="max", baseline=float(y[0]))
    assert rise.stats.get("end_held", 0) >= 3  # the long plateau after it still lends its level
