"""What `analyze` and `watch` say when they take a held-out task score without --metric
(`heldout_names.TASK_SCORES`): the accuracy a segmentation overlap or an F1 was taken before,
and the scores of other kinds the same evaluation logged, ranked after it. The choice is
`signals.roles_present`'s and the held-out rule's ranks; these notes never change it."""

from __future__ import annotations

import numpy as np

from phasewatch.heldout_names import (
    accuracy_kind,
    is_overlap,
    is_token_classifier,
    score_before_accuracy,
    task_score_kind,
)
from phasewatch.output import listed, metric_option
from phasewatch.run import Run
from phasewatch.signals import MIN_FOR_TREND, n_finite

# what the score is and what the accuracy passed over counts, by the accuracy's first word
# (`heldout_names.WEAK_ACCURACIES`)
WEAK_ACCURACY_WORDS = {
    "overall": ("seqeval's entity F1", "right tokens, the O tag of no entity among them"),
    "subset": ("an F1", "only the examples with every label right"),
}


def score_before_accuracy_note(run: Run, chosen: str) -> str | None:
    """When a segmentation overlap or an F1 was taken before the held-out accuracy beside it
    (`heldout_names.score_before_accuracy`): what that accuracy counts. A pixel accuracy counts
    right pixels, background among them (a U-Net's `Validation Accuracy` 0.993 -> 0.9996
    beside its Dice 0.30 -> 0.91; a mean of per-class accuracies, `eval_mean_accuracy`, counts
    background as one class); seqeval's token accuracy the `O` tokens; a subset accuracy only
    the examples with every label right. It is one option away."""
    own = run.own_name(chosen) or chosen
    accuracy = run.own_name("eval/accuracy")
    tokens = is_token_classifier(run.config)
    if run.performance_metric or accuracy is None or accuracy == own \
            or not score_before_accuracy(own, accuracy, tokens):
        return None
    # a token classifier's bare accuracy is seqeval's `overall_accuracy` renamed (run_ner.py)
    kind = "overall" if tokens and accuracy_kind(accuracy) == "accuracy" \
        else (accuracy_kind(accuracy) or "").split("_")[0]
    what, counts = ("a segmentation overlap", "right pixels, background among them") \
        if is_overlap(own) else WEAK_ACCURACY_WORDS[kind]
    return (f"taking {own}, {what}, before the accuracy {accuracy}, which counts {counts}: "
            f"pass {metric_option(accuracy)} to judge the run by it")


def other_scores_note(run: Run, chosen: str) -> str | None:
    """When the task score taken has scores of other kinds beside it on its split, with values
    that move: they rank after it by kind (`TASK_SCORES`: a line recogniser's `val_wer` before
    its `val_cer`, as a Whisper Trainer's `eval_wer` before its `eval_cer`), and the user may
    judge the run by one of them."""
    own = run.own_name(chosen) or chosen
    if run.performance_metric or task_score_kind(own) is None:
        return None
    others = scores_of_other_kinds(run, own)
    if not others:
        return None
    if len(others) == 1:
        return (f"{others[0]} is a held-out score too, ranked after {own} by its kind: pass "
                f"{metric_option(others[0])} to judge the run by it")
    return (f"{listed(others, 4)} are held-out scores too, ranked after {own} by their kinds: "
            "pass --metric to judge the run by one")


def scores_of_other_kinds(run: Run, score: str) -> list[str]:
    """The held-out task scores of `run` on the split of `score`, of kinds other than its, with
    values that move: the scores a user may judge the run by instead."""
    kind = task_score_kind(score)
    if kind is None:
        return []
    return [name for name in run.metrics
            if (other := task_score_kind(name)) is not None
            and other[0] == kind[0] and other[1] != kind[1]
            and n_finite(run, name) >= MIN_FOR_TREND and np.ptp(run.column(name).values) > 0]
