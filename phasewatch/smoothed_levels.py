"""Levels on a smoothed series: the moving average the detector reads turns on, how near it
must come to a plateau's level to be at it, and where it first does (`phases.refine_turns`
places boundaries with them; `whole_run_trend` a trend's end)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phasewatch.rolling import centred_mean

if TYPE_CHECKING:
    from phasewatch.phases import PhaseConfig

# A trend meets the plateau after it where this little of its move is left (`meets_level`)
MOVE_DONE = 0.02


def smoothing_window(n: int, cfg: PhaseConfig) -> int:
    """The moving average's window on `n` values: `smooth_fraction` of them, odd, at least 3."""
    return max(3, int(cfg.smooth_fraction * n) | 1)


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (shorter at the edges)."""
    return centred_mean(y, window)


def level_tolerance(sd: float, window: int, cfg: PhaseConfig) -> float:
    """How near a smoothed curve must come to a plateau's level to be at it: within `level_sd`
    noise sds, and never closer than the smoothed curve's own noise (sd / sqrt(window)) can
    tell (on a sparse run the average of 3 evaluations is far noisier than `level_sd` and would
    reach the level late)."""
    return max(cfg.level_sd * np.sqrt(window), 1.0) * sd / np.sqrt(window)


def plateau_level(y: np.ndarray, start: int, end: int) -> float:
    """A plateau's level: the mean of its later two thirds (its start may still carry the end
    of the trend before it), like the moving average (`smooth`) compared with it. On skewed
    noise a median is no level a moving average reaches: a GRPO reward's failed batches held
    its mean at 0.566 below its median 0.599, and its rise, over by step ~90, ran to step 429."""
    return float(np.mean(y[start + (end - start) // 3:end + 1]))


def meets_level(ys: np.ndarray, lo: int, hi: int, level: float, falling: bool, move: float,
                near: float, most: float = np.inf) -> int | None:
    """The first index in [lo, hi] where the smoothed series `ys`, falling or rising to
    `level`, is within `near` of it, or within MOVE_DONE of the trend's `move` to it: a fall of
    100 sds is over where 98% of it is done, not where a drift of 1.5 sds after it ends (trial
    34b: an eval loss 0.201 -> 0.029 by step 600, then 0.030 -> 0.028 by step 2000). What is
    left of the move there is at most `most` (a change the phases would call significant is
    no drift: a loss falling 4042 -> 0.05 by halves, 98% done at 80, fell on from 26.6 to 0.12
    29 noise sds, and that stretch was a plateau). None if it never is."""
    gap = (ys[lo:hi + 1] - level) * (1 if falling else -1)
    reached = np.flatnonzero(gap <= max(near, min(MOVE_DONE * move, most)))
    return lo + int(reached[0]) if reached.size else None
