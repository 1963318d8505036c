"""The train loss beside a watched held-out loss (`MonitorConfig.train_loss`): whether it has
improved since the held-out loss's stage began.

`analyze` names a held-out loss's rise from the start that is never recovered an overfit only
where the train loss improved over it (`expert_data.held_out_loss_overfit`: the model learns
the training data and gets worse on data of its kind); beside a train loss that rose too, the
rise stays a disruption (the run itself got worse). Live, the monitor follows that train loss
here so that its call is the same (`from_start.unrecovered_overfit`); without it, a held-out
loss rising beside a rising train loss would be stopped as an overfit that `analyze` of the
same log calls a disruption.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

import numpy as np

from phasewatch.online.config import MonitorConfig
from phasewatch.online.offline_fit import REFIT_REACH
from phasewatch.online.series import Series
from phasewatch.online.series_noise import independent_count
from phasewatch.online.state import MEDIAN_SE, TrainLossState


class TrainLoss:
    """The train loss's level where the held-out loss's stage began and now (bounded: the
    series' ring buffer and the stage's first `cfg.min_window` readings).

    The level at the start is the median of the stage's first `min_window` readings, and its
    standard error is that of such a median under the noise estimated now (as the current
    level's, `Series.se_level`). Taken as the first reading alone with no error (the noise is
    unknown there), a flat train loss whose first reading is two sds high reads as improved
    by 3 se of the current level alone, and the held-out loss's rise would be stopped as an
    overfit that `analyze` calls a disruption."""

    def __init__(self, name: str, cfg: MonitorConfig):
        self.series = Series(name, -1.0, cfg, performance=False)
        # (step, level, its se) at each of the held-out loss's latest evaluations: the level
        # where a decline of the held-out loss began (`improvement_since`), long gone from the
        # ring buffer where the train loss is logged far more often than it is evaluated
        self.at_evaluations: deque[tuple[int, float, float]] = deque(maxlen=REFIT_REACH + 1)
        self.restart(None)

    def restart(self, step: int | None) -> None:
        """A new stage from `step` (None: the run's start): the train loss is judged from its
        first level at or after it."""
        self.from_step = step
        self.at_start: float | None = None
        self.first: list[float] = []

    def update(self, step: int, value: float) -> None:
        s = self.series
        s.add(step, value)
        if self.at_start is None and (self.from_step is None or step >= self.from_step):
            self.first.append(s.values[-1])
            if len(self.first) >= s.cfg.min_window:
                self.at_start = statistics.median(self.first)

    def note_evaluation(self, step: int) -> None:
        """The held-out loss was evaluated at `step`: keep the train loss's level there."""
        s = self.series
        if s.level is not None:
            self.at_evaluations.append((step, s.level, s.se_level))

    def improvement_since(self, step: int) -> tuple[float, float] | None:
        """The train loss's level at the held-out evaluation at `step` (or the latest before
        it) and now, in the loss's own units, when now is K_SE standard errors of the gap
        better (`improved`'s margin); else None."""
        from phasewatch.train_beside import K_SE  # on first use: the monitor's import time

        s = self.series
        then = next((e for e in reversed(self.at_evaluations) if e[0] <= step), None)
        if then is None or s.level is None:
            return None
        _, level, se = then
        if s.level - level < K_SE * s.se_gap(se) or s.level <= level:
            return None
        return s.raw(level), s.raw(s.level)

    def improved(self) -> bool:
        """The train loss's level is now K_SE standard errors below its level at the stage's
        start (`train_beside.TrainMove.improved`'s margin, between levels here); or, while the
        stage's readings are all still buffered, `analyze`'s own reading of them says it
        improved (`train_beside.end_means`): on a handful of readings the level's noise counts
        the fall itself (hf-thesis-web-5ev: 0.328, 0.269, 0.248, 0.237, 0.244 is 5.7 se by
        `analyze`, 1.1 by the levels)."""
        from phasewatch.train_beside import K_SE  # on first use: the monitor's import time

        s = self.series
        if self.at_start is None or s.level is None:
            return False
        se_start = MEDIAN_SE * s.sigma / math.sqrt(independent_count(len(self.first),
                                                                     s.window_logs))
        return s.level - self.at_start >= K_SE * s.se_gap(se_start) or self._short_improved(K_SE)

    def _short_improved(self, k_se: float) -> bool:
        """`analyze`'s reading of the stage's readings says the train loss improved by `k_se`
        (False once the stage's first readings have left the buffer)."""
        from phasewatch.train_beside import MIN_READINGS, end_means

        s = self.series
        stage = [v for st, v in zip(s.steps, s.values)
                 if self.from_step is None or st >= self.from_step]
        kept = len(s.values) == s.n or (self.from_step is not None and s.steps[0] <= self.from_step)
        if len(stage) < MIN_READINGS or not kept:
            return False  # too few, or the stage's first readings are gone from the buffer
        start, end, _, se, steady = end_means(np.asarray(stage, dtype=np.float64))
        return end > start and (steady or end - start >= k_se * se)

    def state(self) -> TrainLossState:
        return TrainLossState(series=self.series.state(), from_step=self.from_step,
                              at_start=self.at_start, first=list(self.first),
                              at_evaluations=[list(e) for e in self.at_evaluations])

    def load(self, st: TrainLossState) -> None:
        self.series.load(st.series)
        self.from_step, self.at_start, self.first = st.from_step, st.at_start, list(st.first)
        self.at_evaluations.clear()
        self.at_evaluations.extend((int(a), float(b), float(c)) for a, b, c in st.at_evaluations)
