"""A run planned to hold at most 40 evaluations: from its 17th value the monitor reads its noise
as white, as `analyze` reads it (`Series.planned_few`). From a few dozen differences, the bend
where a flat held-out score starts to fall reads as autocorrelation, and the AR(1) inflation put
the noise at up to 4.3x its scatter: a fall of 4-5 sds that `analyze` names an overfit got no
stop."""

from __future__ import annotations

import numpy as np

from phasewatch.analysis import analyze_run
from phasewatch.online import PhaseMonitor
from phasewatch.run import Run

STEPS = list(range(10, 350, 10))  # 34 evaluations
# flat near 0.897 for 10 evaluations, a fall of 0.02 over 8, then flat: white noise, sd 0.005
VALUES = [0.893, 0.8904, 0.8958, 0.8991, 0.9027, 0.8975, 0.8942, 0.8931, 0.9007, 0.9052,
          0.8964, 0.8865, 0.8856, 0.8961, 0.8869, 0.8749, 0.8809, 0.8732, 0.8739, 0.8746,
          0.8734, 0.8798, 0.8767, 0.8741, 0.879, 0.8811, 0.8688, 0.8757, 0.8721, 0.8761,
          0.8706, 0.8771, 0.8768, 0.8755]


def overfit_stops(planned: int | None) -> list[tuple[int, int | None]]:
    monitor = PhaseMonitor(metric="score", planned_steps=planned)
    return [(step, a.best_step) for step, v in zip(STEPS, VALUES)
            for a in monitor.update(step, {"score": v}) if a.event == "overfit"]


def test_a_run_planned_to_few_evaluations_is_stopped_where_analyze_names_the_overfit():
    analysis = analyze_run(Run.from_columns({"score": (np.asarray(STEPS), np.asarray(VALUES))},
                                            "t", "t"), "score", "max")
    assert [p.name for p in analysis.phases] == ["plateau", "overfit", "plateau"]
    stops = overfit_stops(planned=STEPS[-1])
    assert len(stops) == 1
    step, best = stops[0]
    assert STEPS[-1] > step > 150  # after the fall, before the run's end
    assert abs(best - analysis.recommended_stop_step) <= 10  # within one evaluation


def test_without_a_short_plan_the_first_values_keep_the_autocorrelation_estimate():
    """No plan, or a plan of 100 evaluations: the first 34 values may be the start of a long run,
    whose noise the AR(1) estimate guards (white noise over the first 40 values of long real
    runs stopped three of them falsely)."""
    assert overfit_stops(planned=None) == []
    assert overfit_stops(planned=1000) == []
