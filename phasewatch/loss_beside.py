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
from phasewatch.presets import role_matches
from phasewatch.results import Analysis, Phase
from phasewatch.run import Run
from phasewatch.signals import MIN_FOR_TREND, choose_direction, n_finite
from phasewatch.train_beside import is_held_out

HELD_OUT_LOSS = "eval/loss"
HELD_OUT_SCORES = ("eval/accuracy", "eval/other_score")  # a score beside an analysed loss

# the options that concern the run, which the series beside is analysed with too; the others
# (a noise sd, a prompt count, a baseline, a penalty) are the analysed series' own
RUN_OPTIONS = ("keep_outliers", "use_events", "planned_steps", "expert_data")


def loss_beside_note(run: Run, analysis: Analysis, analyze: Callable[..., Analysis],
                     opts: dict[str, Any]) -> str | None:
    """What to say when `analysis` is of a held-out score and the run's held-out loss (or of
    the held-out loss and the run's held-out score) disagree on the checkpoint: the loss is
    called overfit from its best, more than one evaluation before the score's best, and the
    score is not; or the score is called overfit and the loss improves to more than one
    evaluation after the score's best. The series beside is analysed by
    `analyze(run, name, direction, **options)` with the `RUN_OPTIONS` of `opts`. None when
    they agree, or the run has no such pair."""
    pair = _pair(run, analysis)
    if pair is None or analysis.recommended_stop_step is None:
        return None
    score, loss, of_score = pair
    try:  # a score beside the loss in its own direction (a WER is lower-is-better)
        beside = analyze(run, loss if of_score else score,
                         "min" if of_score else choose_direction(run, score),
                         **{k: v for k, v in opts.items() if k in RUN_OPTIONS})
    except PhasewatchError:
        return None
    on_score, on_loss = (analysis, beside) if of_score else (beside, analysis)
    stop, best = on_score.recommended_stop_step, on_loss.recommended_stop_step
    if stop is None or best is None or on_loss.direction != "min" \
            or _evaluations_between(run.column(HELD_OUT_LOSS).steps, best, stop) < 1:
        return None
    loss_overfit = _first(on_loss.phases, "overfit", after=best)
    score_overfit = _first(on_score.phases, "overfit", after=stop)
    if best < stop and loss_overfit is not None and score_overfit is None \
            and _improves_after(on_score.phases, best):
        start = loss_overfit.start_step
        worse, by = (loss_overfit.stats.get(k) for k in ("decline_since_peak", "decline_sd"))
        size = (f", {worse:.4g} above that best by step {loss_overfit.end_step} ({by:.1f} noise "
                "sds)" if worse is not None and by is not None else "")
        keep = (f"if you use its probabilities, step {best} is the checkpoint by the loss "
                f"({metric_option(loss)})" if of_score else
                f"step {stop} is the checkpoint by {score} ({metric_option(score)})")
        return (f"the held-out loss {loss} is called overfit from step {start} "
                f"({'its best' if start == best else f'its best at step {best}'}){size}, "
                f"while {score} improves to step {stop}: a held-out loss that rises as the "
                "score holds or climbs most often means a model more confident in the answers "
                f"it gets wrong; {keep}")
    if stop < best and score_overfit is not None and loss_overfit is None \
            and _improves_after(on_loss.phases, stop):
        other = loss if of_score else score
        return (f"{score} is called overfit from step {score_overfit.start_step} while the "
                f"held-out loss {loss} of the same evaluations improves to step {best}: the two "
                f"disagree on the checkpoint to keep ({metric_option(other)} reads the run by "
                f"{'the loss' if of_score else 'the score'})")
    return None


def _pair(run: Run, analysis: Analysis) -> tuple[str, str, bool] | None:
    """(held-out score, held-out loss, whether `analysis` is of the score), the log's own
    names, when `analysis` is of one of the two and the other has enough values to move; a
    score only where one name takes the role (not per-entity F1s with no headline)."""
    loss = run.own_name(HELD_OUT_LOSS)
    if loss is None or not _moves(run, HELD_OUT_LOSS):
        return None
    metric = analysis.metric
    if metric == loss:
        if analysis.direction != "min":
            return None
        scores = [role for role in HELD_OUT_SCORES if len(role_matches(role, run.metrics)) == 1
                  and _moves(run, role)]
        return (run.own_name(scores[0]), loss, False) if scores else None
    return (metric, loss, True) if is_held_out(run, metric) else None


def _moves(run: Run, role: str) -> bool:
    """Whether `role` has enough finite values for a trend and more than one value."""
    return n_finite(run, role) >= MIN_FOR_TREND and np.ptp(run.column(role).values) > 0


def _improves_after(phases: list[Phase], step: int) -> bool:
    """Whether a phase of improvement (or readaptation) goes on past `step`: the series still
    gets better after the other's best (a score called a plateau whose best reading comes later
    is no score that improves)."""
    return any(p.name in ("improvement", "readaptation") and p.end_step > step for p in phases)


def _first(phases: list[Phase], name: str, after: int) -> Phase | None:
    """The first phase called `name` that ends after step `after`."""
    return next((p for p in phases if p.name == name and p.end_step > after), None)


def _evaluations_between(steps: np.ndarray, a: int, b: int) -> int:
    """How many of `steps` lie strictly between steps `a` and `b`."""
    lo, hi = min(a, b), max(a, b)
    return int(np.count_nonzero((steps > lo) & (steps < hi)))
