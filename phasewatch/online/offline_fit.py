"""The offline detector run live on a short stage's values: what `analyze` would say of the
evaluations seen so far. The refit's events (`short_run`, `refit_events`) read its phases and
recommendation, and a short series takes its noise from it (`Series`), so that the live level
tests judge a stage of up to `REFIT_REACH` evaluations by the noise `analyze` finds in it."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from phasewatch.results import Phase

REFIT_REACH = 60  # the refit runs while a series has at most this many values: a dense run of
# 41-60 evaluations can end before the level tests' window has filled on its late decline
SHORT_RUN_FROM = 8  # the refit starts at this many values (fewer give no phases worth a stop)


def offline_fit(steps, values, noise_sd: float | None
                ) -> tuple[tuple[Phase, ...], int | None, float]:
    """The offline detector's phases of these (oriented) values, its recommended step and
    its noise sd, as the refit reads them: with the noise the user gave (`noise_sd`), as every
    refit and `analyze` judge by it."""
    return _offline_phases(tuple(int(x) for x in steps), tuple(float(v) for v in values),
                           noise_sd)


def offline_phases(steps, values, noise_sd: float | None) -> tuple[Phase, ...]:
    """`offline_fit`'s phases."""
    return offline_fit(steps, values, noise_sd)[0]


@functools.lru_cache(maxsize=256)
def _offline_phases(steps: tuple[int, ...], values: tuple[float, ...],
                    noise_sd: float | None) -> tuple[tuple[Phase, ...], int | None, float]:
    """`analyze_run`'s phases, recommended step and noise sd of these values. Cached: a monitor that
    rewinds (a step re-logged, a resumed run) replays the values it had already refitted, and
    a log that re-logs its metric at every step made one refit per record into dozens."""
    from phasewatch.analysis import analyze_run  # imported on first use: start-up time
    from phasewatch.run import Run

    metric = "performance"
    run = Run.from_columns({metric: (np.asarray(steps, dtype=np.int64),
                                     np.asarray(values, dtype=np.float64))}, "live", "buffer")
    analysis = analyze_run(run, metric, "max", use_tokens=False, noise_sd=noise_sd)
    best = analysis.recommended_stop_step
    return (tuple(analysis.phases), None if best is None else int(best),
            float(analysis.extra.get("noise_sd") or 0.0))
