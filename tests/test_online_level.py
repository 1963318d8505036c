"""The live level (`Series.add`) keeps its window sorted between records: the median it gives
must be the one a sort of the window gives, at every record, for ties and zeros of both signs,
through the window's growth and after a state reload (a rewind)."""

from itertools import islice

import numpy as np

from phasewatch.online.config import MonitorConfig
from phasewatch.online.series import Series, _median


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
            expected = _median(list(islice(series.values, len(series.values) - k, None)))
            assert series.level == expected and np.signbit(series.level) == np.signbit(expected)
            if step == 300:  # a reload (what a rewind does) starts the sorted window afresh
                series.load(series.state())
