"""The planned length a learning-rate schedule gives away: a linear or cosine decay ends there.

Hugging Face's Trainer (and TRL's trainers, and LLaMA-Factory through it) decay the learning
rate from its peak, after the warm-up, to exactly 0 at `max_steps`: linearly by default
(`lr_scheduler_type="linear"`), along half a cosine with `"cosine"` (the usual choice of SFT
recipes and of LLaMA-Factory's examples; verl's `warmup_style: cosine` too), or along half a
cosine to a floor (`"cosine_with_min_lr"`; nanoGPT's and most pre-training scripts' schedule,
whose floor is a tenth of the peak). The rate they log at each row is on that curve. A log that
states no plan (an HF console log, a W&B or TensorBoard run without its config) still tells it:
where the curve through the logged rates after their peak ends. It is taken only where the
rates follow one such curve within a thousandth of the peak (a rate printed to 3 or 4 digits
does; a step decay, an exponential or inverse-square-root decay, or a linear decay that stops
at a floor does not) and have fallen a tenth of the peak or more, so that the curve is not
extrapolated far past the fall it was read from. A cosine must show its top: the highest rate
logged within the first quarter of its half period, where it bends down (a convex decay's tail
can pass for the end of a cosine; its top cannot). A cosine to 0 is tried before one to a
floor: while a floor does not show yet, a cosine to a tenth of the peak reads as one to 0
that ends a few percent later (transformers' `cosine_with_min_lr` read at a third of its run:
5% late), and the end moves to its own once it does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from phasewatch.values import to_float

# the learning rate as frameworks log it (HF / TRL / LLaMA-Factory, their W&B and TensorBoard
# callbacks' `train/` prefix; verl's actor)
LR_NAMES = ("learning_rate", "train/learning_rate", "lr", "train/lr", "actor/lr")
MIN_DECAY_POINTS = 5   # rates after the peak a line is read from
MIN_FALL = 0.1         # ... which have fallen at least this share of the peak
LINE_TOLERANCE = 1e-3  # largest residual from the curve, as a share of the peak
COSINE_TOP = 0.25      # the highest rate lies within this share of the cosine's half period
MAX_FLOOR = 0.5        # a cosine's floor is at most this share of its peak
FLOOR_SEEN = 0.02      # ... and 0 below this share


@dataclass(frozen=True)
class Decay:
    """Where a learning-rate decay ends (`end`, a step), its `shape` ("linear" or "cosine") and
    the rate it ends at as a share of its peak (`floor`: 0 but for a cosine to a floor)."""

    end: int
    shape: str
    floor: float = 0.0

    def words(self) -> str:
        """"linear decay to 0", "cosine decay to its floor, 0.1 of its peak"."""
        to = "0" if self.floor < FLOOR_SEEN else f"its floor, {self.floor:.2g} of its peak"
        return f"{self.shape} decay to {to}"


def decay_end(steps: Sequence[float], rates: Sequence[float]) -> Decay | None:
    """Where a linear or cosine decay of `rates`, logged at `steps`, ends, or None where the
    rates after their peak follow neither (module docstring)."""
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
    if y.size < MIN_DECAY_POINTS or np.any(np.diff(y) > 0) or peak - y[-1] < MIN_FALL * peak \
            or not x[-1] > x[0]:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    if slope < 0 and np.max(np.abs(y - (slope * x + intercept))) <= LINE_TOLERANCE * peak:
        return Decay(round(float(-intercept / slope)), "linear")
    warmup_from = steps[peak_at - 1] if peak_at else -math.inf
    return _cosine(x, y / peak, warmup_from)


def _cosine(x, r, warmup_from: float) -> Decay | None:
    """Half a cosine through the rates `r` (the highest 1, at x[0]), fitted by least squares:
    r = floor + (top - floor) / 2 x (1 + cos(pi (x - start) / (end - start))), its start (the
    warm-up's end) after `warmup_from` (the last rate before the highest) and at or before x[0],
    its floor 0 where that fits (HF's `cosine`), else up to MAX_FLOOR; None where it misses a
    rate by more than LINE_TOLERANCE, or where x[0], the highest rate logged, lies more than
    COSINE_TOP of the half period after its top (a convex decay's tail, module docstring)."""
    import numpy as np
    from scipy.optimize import least_squares

    span = x[-1] - x[0]
    t = (x - x[0]) / span  # 0 .. 1
    # (a rate logged twice at one step: the warm-up ended there)
    low = min(max((warmup_from - x[0]) / span, -10.0), -1e-9)
    # from a cosine to 0 starting at the highest rate and through the last one
    guess_end = 1.0 / max(math.acos(min(max(2 * r[-1] - 1, -1.0), 1.0)) / math.pi, 2e-3)

    def misses(theta):
        top, start, end, floor = theta
        return floor + (top - floor) / 2 * (1 + np.cos(np.pi * (t - start) / (end - start))) - r

    for most_floor in (0.0, MAX_FLOOR):
        fit = least_squares(misses, x0=(1.0, 0.0, guess_end, most_floor / 5),
                            bounds=((1.0 - LINE_TOLERANCE, low, 1.0 - LINE_TOLERANCE, 0.0),
                                    (2.0, 0.0, 1e3, most_floor + 1e-12)))
        top, start, end, floor = fit.x
        if np.max(np.abs(fit.fun)) <= LINE_TOLERANCE * top:
            if -start > COSINE_TOP * (end - start):
                return None
            return Decay(round(float(x[0] + end * span)), "cosine", float(floor / top))
    return None


def finished_before(end: int, finished_at: int | None, decay: str, unit: str = "step") -> str | None:
    """Why the plan read from the learning rate's decay (`decay`, its words), which ends at
    step `end`, does not hold where the log says its run finished at step `finished_at` (None:
    it does not say) before it: the words the plan `finished_at` is given with instead, else
    None. A finished log's plan is not past its last step: a linear decay to a floor that ends
    at the last epoch (SpeechBrain's from 1e-3 to 1e-4 over 35 epochs, then its test line)
    reads as one to 0 that would end four epochs later. The one rule `inspect` and `watch` say
    the plan by (`analyze` takes no plan from a finished log's rates at all)."""
    from phasewatch.step_units import at

    if finished_at is None or end <= finished_at:
        return None
    return (f"the log says the run finished at {at(finished_at, unit)}, where the learning "
            f"rate's {decay} read from its rates would end at {at(end, unit)}")


def lr_plan(run) -> tuple[Decay, str] | None:
    """(where the learning rate's linear or cosine decay ends, the rate's name in the log), from
    the first of `LR_NAMES` the run logs; None without one."""
    name = next((name for name in LR_NAMES if name in run.metrics), None)
    if name is None:
        return None
    column = run.column(name)
    found = decay_end(column.steps, column.values)
    return None if found is None else (found, name)


class LiveDecay:
    """The same end read as a run's records arrive (`watch`): the rates of the first of
    `LR_NAMES` logged, judged again at each of their first 16 and then at every power of two
    (a log of the rate at every step is judged about twenty times, not at each), so a replay
    and a follow of one log judge the same rates and give the same plan."""

    def __init__(self) -> None:
        self.name: str | None = None
        self._steps: list[float] = []
        self._rates: list[float] = []
        self.decay: Decay | None = None

    def add(self, step: int, values) -> bool:
        """Take a record's values; True when the decay read changed: its end, or its words at
        the same end (a cosine read as one to 0 whose floor shows later, at the end it was read
        to end at: the plan's source must not keep saying "to 0" where `analyze` says "to its
        floor")."""
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
        decay = decay_end(self._steps, self._rates)
        changed = _reading(decay) != _reading(self.decay)
        self.decay = decay
        return changed


def _reading(decay: Decay | None) -> tuple[int, str] | None:
    """What a user is told of `decay`: where it ends and its words (`Decay.words`; its floor's
    last digits, refitted with each rate, are not told)."""
    return None if decay is None else (decay.end, decay.words())
