"""The planned length a learning-rate schedule gives away: a linear decay reaches 0 at the end.

Hugging Face's Trainer (and TRL's trainers, and LLaMA-Factory through it) decay the learning
rate linearly from its peak, after the warm-up, to exactly 0 at `max_steps` by default
(`lr_scheduler_type="linear"`); the rate they log at each row is on that line. A log that states
no plan (an HF console log, a W&B or TensorBoard run without its config) still tells it: where
the line through the logged rates after their peak meets 0. It is taken only when the rates lie
on one straight line within a thousandth of the peak (a rate printed to 3 or 4 digits does; a
cosine, a step decay or a floor does not) and have fallen a tenth of the peak or more, so that
the line is not extrapolated more than ten times past the fall it was read from.
"""

from __future__ import annotations

from collections.abc import Sequence

from phasewatch.values import to_float

# the learning rate as frameworks log it (HF / TRL / LLaMA-Factory, their W&B and TensorBoard
# callbacks' `train/` prefix; verl's actor)
LR_NAMES = ("learning_rate", "train/learning_rate", "lr", "train/lr", "actor/lr")
MIN_DECAY_POINTS = 5   # rates after the peak a line is read from
MIN_FALL = 0.1         # ... which have fallen at least this share of the peak
LINE_TOLERANCE = 1e-3  # largest residual from the line, as a share of the peak


def linear_decay_end(steps: Sequence[float], rates: Sequence[float]) -> int | None:
    """The step where a linear decay of `rates` (logged at `steps`) reaches 0, or None where the
    rates after their peak are not one straight line down (module docstring)."""
    import numpy as np  # on first use: importing the live watch stays light

    rates = np.asarray(rates, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.float64)
    keep = np.isfinite(rates)
    steps, rates = steps[keep], rates[keep]
    if rates.size < MIN_DECAY_POINTS or not rates.max() > 0:
        return None
    peak_at = int(np.argmax(rates))
    peak = float(rates[peak_at])
    x, y = steps[peak_at:], rates[peak_at:]
    if y.size < MIN_DECAY_POINTS or np.any(np.diff(y) > 0) or peak - y[-1] < MIN_FALL * peak:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    if not slope < 0 or np.max(np.abs(y - (slope * x + intercept))) > LINE_TOLERANCE * peak:
        return None
    return round(float(-intercept / slope))


def lr_plan(run) -> tuple[int, str] | None:
    """(the step a linear learning-rate decay reaches 0 at, the rate's name in the log), from
    the first of `LR_NAMES` the run logs; None without one."""
    name = next((name for name in LR_NAMES if name in run.metrics), None)
    if name is None:
        return None
    column = run.column(name)
    end = linear_decay_end(column.steps, column.values)
    return None if end is None else (end, name)


class LiveDecay:
    """The same end read as a run's records arrive (`watch`): the rates of the first of
    `LR_NAMES` logged, judged again at each of their first 16 and then at every power of two
    (a log of the rate at every step is judged about twenty times, not at each), so a replay
    and a follow of one log judge the same rates and give the same plan."""

    def __init__(self) -> None:
        self.name: str | None = None
        self._steps: list[float] = []
        self._rates: list[float] = []
        self.end: int | None = None

    def add(self, step: int, values) -> bool:
        """Take a record's values; True when the end read changed."""
        if self.name is None:
            self.name = next((name for name in LR_NAMES if name in values), None)
        rate = to_float(values.get(self.name)) if self.name is not None else None
        if rate is None:
            return False
        self._steps.append(float(step))
        self._rates.append(rate)
        n = len(self._rates)
        if n > 16 and n & (n - 1):
            return False
        end = linear_decay_end(self._steps, self._rates)
        changed, self.end = end != self.end, end
        return changed
