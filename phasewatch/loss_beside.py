"""The held-out loss beside a held-out score: say so when the two put the run's best apart.

A classifier's held-out loss often rises while its held-out accuracy still climbs: the loss
counts how confident the model is on the answers it gets wrong, and it grows more confident as
it fits the training set, while more of its answers come out right. A fine-tune judged by its
accuracy then reads `improvement` to the end with the best checkpoint last, and its loss, which
the same evaluations logged, reads `overfit` from half-way: a user who calibrates, ranks or
samples from the probabilities wants the earlier checkpoint, and one who did not look at the
loss never learns the two disagree. The other way round too: a score that is called overfit
while the loss keeps falling to a later step. The loss is analysed as `--metric` would analyse
it (the same rules, its own noise), so the step the note names is the one that command prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from phasewatch.errors import PhasewatchError
from phasewatch.output import metric_option
from phasewatch.results import Analysis, Phase
from phasewatch.run import Run
from phasewatch.signals import MIN_FOR_TREND, n_finite
from phasewatch.train_beside import is_held_out

HELD_OUT_LOSS = "eval/loss"


# the options that concern the run, which the loss is analysed with too; the others (a noise
# sd, a prompt count, a baseline, a penalty) are the score's
RUN_OPTIONS = ("keep_outliers", "use_events", "planned_steps", "expert_data")


def loss_beside_note(run: Run, analysis: Analysis, analyze: Callable[..., Analysis],
                     opts: dict[str, Any]) -> str | None:
    """What to say when `analysis` is of a held-out score (higher is better) and the run's
    held-out loss, analysed by `analyze(run, name, "min", **options)` with the `RUN_OPTIONS`
    of `opts`, puts its best more than one evaluation before the score's and is called overfit
    after it, or the score is called overfit and the loss keeps improving to more than one
    evaluation after the score's best; None otherwise."""
    loss = run.own_name(HELD_OUT_LOSS)
    score, stop = analysis.metric, analysis.recommended_stop_step
    if (loss is None or loss == score or analysis.direction != "max" or stop is None
            or not is_held_out(run, score) or n_finite(run, HELD_OUT_LOSS) < MIN_FOR_TREND
            or np.ptp(run.column(HELD_OUT_LOSS).values) == 0):
        return None
    try:
        beside = analyze(run, loss, "min", **{k: v for k, v in opts.items() if k in RUN_OPTIONS})
    except PhasewatchError:
        return None
    best = beside.recommended_stop_step
    if best is None or beside.direction != "min":
        return None
    between = _evaluations_between(run.column(HELD_OUT_LOSS).steps, best, stop)
    loss_overfit = _first(beside.phases, "overfit", after=best)
    score_overfit = _first(analysis.phases, "overfit", after=stop)
    if best < stop and between >= 1 and loss_overfit is not None and score_overfit is None:
        worse = loss_overfit.stats.get("decline_since_peak")
        by = loss_overfit.stats.get("decline_sd")
        start = loss_overfit.start_step
        size = (f", {worse:.4g} above that best by step {loss_overfit.end_step} ({by:.1f} noise "
                "sds)" if worse is not None and by is not None else "")
        return (f"the held-out loss {loss} is called overfit from step {start} "
                f"({'its best' if start == best else f'its best at step {best}'}){size}, while "
                f"{score} improves to step {stop}: a held-out loss that rises as the score holds or climbs most often means a "
                f"model more confident in the answers it gets wrong; if you use its "
                f"probabilities, step "
                f"{best} is the checkpoint by the loss ({metric_option(loss)})")
    if stop < best and between >= 1 and score_overfit is not None and loss_overfit is None:
        return (f"{score} is called overfit from step {score_overfit.start_step} while the "
                f"held-out loss {loss} of the same evaluations improves to step {best}: the two "
                f"disagree on the checkpoint to keep ({metric_option(loss)} reads the run by "
                "the loss)")
    return None


def _first(phases: list[Phase], name: str, after: int) -> Phase | None:
    """The first phase called `name` that ends after step `after`."""
    return next((p for p in phases if p.name == name and p.end_step > after), None)


def _evaluations_between(steps: np.ndarray, a: int, b: int) -> int:
    """How many of `steps` lie strictly between steps `a` and `b`."""
    lo, hi = min(a, b), max(a, b)
    return int(np.count_nonzero((steps > lo) & (steps < hi)))
