"""What a figure marks is what the analysis said, through the public API and the command.

Each test is a defect a user hit: a figure that marked or analysed something other than what
`phasewatch.analyze` with the same options reports.
"""

from __future__ import annotations

from pathlib import Path

import phasewatch
from phasewatch.io import read_run
from phasewatch.plot import figure_data, phase_figure

ROOT = Path(__file__).resolve().parents[1]
RL = ROOT / "sample_logs" / "rl"  # one evaluation (step 210) its neighbours contradict


def marked_outliers(fig) -> list[int]:
    frame = figure_data(fig).to_frame()
    return sorted(int(s) for s in frame[frame.kind == "outlier"].step)


def test_the_analysis_carries_the_steps_it_left_out():
    run = read_run(RL)
    assert phasewatch.analyze(run).extra["outlier_steps"] == [210]
    assert phasewatch.analyze(run, keep_outliers=True).extra["outlier_steps"] == []
    # the JSON of `analyze` carries them too (a compatible key of the run's extras)
    assert phasewatch.analyze(run).to_dict()["outlier_steps"] == [210]


def test_a_short_series_carries_its_outlier_steps():
    from phasewatch.run import RecordCollector

    collector = RecordCollector("mem:short", "test")
    for step, value in zip((0, 100, 200, 300), (0.2, 0.3, 0.35, 0.4)):
        collector.add(step, {"eval/accuracy": value})
    analysis = phasewatch.analyze(collector.build(name="short"))
    assert analysis.extra["confidence"] is not None  # the short-series path
    assert analysis.extra["outlier_steps"] == []


def test_a_figure_of_an_analysis_that_kept_its_outliers_marks_none():
    # Was: phasewatch.analyze(run, keep_outliers=True) then phase_figure(run, analysis) marked
    # step 210 "outlier (left out)": the figure recomputed the outliers with default options.
    run = read_run(RL)
    kept = phasewatch.analyze(run, keep_outliers=True)
    assert marked_outliers(phase_figure(run, kept, panels=None)) == []
    assert marked_outliers(phase_figure(run, phasewatch.analyze(run), panels=None)) == [210]
