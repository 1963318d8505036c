"""The live level (`Series.add`) keeps its window sorted between records: the median it gives
must be the one a sort of the window gives, at every record, for ties and zeros of both signs,
through the window's growth and after a state reload (a rewind); on a lattice (a window of few
distinct values, `phase_stats.on_lattice`) it is the window's mean, as `analyze` reads a level."""

from itertools import islice

import numpy as np
import pytest

from phasewatch.online.config import MonitorConfig
from phasewatch.online.series import Series, _median
from phasewatch.phase_stats import LATTICE_MIN, on_lattice


def test_level_is_the_median_of_the_window_at_every_record():
    rng = np.random.default_rng(0)
    for kind in range(4):
        cfg = MonitorConfig(window=15, noise_window=40 if kind == 3 else 256)
        series = Series("eval/accuracy", -1.0 if kind == 2 else 1.0, cfg)
        values = rng.standard_normal(600)
        if kind >= 1:  # quantised: many equal values in a window
            values = np.round(values * 2) / 2
        if kind == 2:  # zeros, turned to -0.0 by the sign
            values[rng.random(600) < 0.3] = 0.0
        for step, value in enumerate(values.tolist()):
            series.add(step, value)
            k = min(len(series.values), series.window_now)
            window = list(islice(series.values, len(series.values) - k, None))
            if k >= LATTICE_MIN and on_lattice(np.array(window)):
                assert series.level == pytest.approx(np.mean(window), abs=1e-12)
                continue
            expected = _median(window)
            assert series.level == expected and np.signbit(series.level) == np.signbit(expected)
            if step == 300:  # a reload (what a rewind does) starts the sorted window afresh
                series.load(series.state())


def test_the_level_of_a_reward_on_a_lattice_is_its_windows_mean():
    """A GRPO batch reward of 1.0, 1.5 or 2.0 a step (trainer-state-grpo-deepstock-reward-1800):
    a window median is one of those values, and `watch` said "reward level 1 is 1 (7.0 se)
    below its best level 2" of windows whose means were about 1.3 and 1.6. The level of a window
    on a lattice is its mean, as `analyze` reads a plateau's (`phase_stats.typical`)."""
    rng = np.random.default_rng(5)
    series = Series("reward", 1.0, MonitorConfig())
    levels = []
    for step, value in enumerate(rng.choice([1.0, 1.5, 2.0], size=600, p=[0.25, 0.5, 0.25])):
        series.add(step, float(value))
        levels.append(series.level)
    window = series.window_values()
    assert len(window) >= LATTICE_MIN and series.level == pytest.approx(np.mean(window))
    assert len({round(level, 9) for level in levels[100:]}) > 3  # not three lattice values
