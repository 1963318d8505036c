"""Preprocessing between a Run and the detector: metric choice, direction, NaNs, outliers.

The detector wants one clean higher-is-better series with its steps. Getting there is where real
logs bite: the metric may be spelled the framework's way, lower may be better, values may be NaN,
an evaluation may fail and read absurdly low for one step. Each of these is handled here, once,
and reported in `warnings` rather than silently "fixed". Indices are never shifted: points that
are left out are left out together with their steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phasewatch.direction_words import lower_beside
from phasewatch.errors import UsageError
from phasewatch.heldout_names import is_token_classifier, score_before_accuracy
from phasewatch.known_noise import known_noise
from phasewatch.noise import constant_floor_sd, noise_scale, off_bound_sd, pinned_at_bound
from phasewatch.outliers import local_scale, spike_mask
from phasewatch.output import counted, listed
from phasewatch.presets import (
    FALLBACK_ROLES,
    PERFORMANCE_ROLES,
    bare_split_loss,
    default_direction,
    later_matches,
    names_of_roles,
    role_matches,
)
from phasewatch.run import Run
from phasewatch.running_means import is_running_mean
from phasewatch.stepseries import StepSeries
from phasewatch.trainer_best import declared_best_metric
from phasewatch.values import MAX_VALUE

MIN_FOR_TREND = 3  # fewest values a trend test is reported for (2 have none); a role with fewer
#                   is passed over for one with more when the metric is chosen


@dataclass
class PreparedSeries:
    """The performance series ready for segmentation.

    `values` are turned so higher is better (`sign` * own units) with outliers left out;
    `steps` are the steps they were logged at.
    """

    metric: str
    direction: str
    steps: np.ndarray
    values: np.ndarray
    sign: float
    outlier_steps: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def own_units(self, value: float) -> float:
        return float(self.sign * value) + 0.0  # + 0.0: a zero loss turned round is not "-0"


def choose_metric(run: Run, metric: str | None = None) -> str:
    """--metric, else the run's declared performance metric, else the first performance role
    with enough values for a trend test, else the first performance role or fallback present.

    Returns the name to pass to `run.series` (canonical names are resolved via aliases). A
    held-out metric logged once or twice (a final `val_loss`) tells nothing about phases when
    the run's reward was logged at every step: the reward is taken, and `choice_notes.short_choice_note`
    says so when no role has enough values.
    """
    if metric:
        run.resolve_metric(metric)  # UsageError listing what exists, closest first
        return metric
    declared = run.performance_metric
    if declared and run.own_name(declared):
        return declared
    if (best := declared_best_metric(run)) is not None:  # metric_for_best_model, save_best
        return best.own
    candidates = metric_candidates(run)
    if candidates:
        # enough values for a trend, and not constant where a later one moves (trial 38c: an
        # exact-match accuracy 0 at all 8 evaluations beside an eval loss that fell and rose)
        usable = [name for name in candidates if n_finite(run, name) >= MIN_FOR_TREND]
        moving = [name for name in usable if np.ptp(run.column(name).values) > 0]
        return (moving or usable or candidates)[0]
    from phasewatch.choice_notes import score_like_hint  # they import this module
    from phasewatch.train_beside import is_policy_loss

    passed_over = ""
    for role, _ in FALLBACK_ROLES:
        if (own := run.own_name(role)) and is_policy_loss(run, own):
            # A policy-gradient loss is set by advantages centred on zero whatever the policy
            # earns: it measures no performance, so it is no default (jsonl-rdan-grpo-reward:
            # `actor/pg_loss` was analysed, with a warning that its phases say nothing, beside
            # `reward/selected_mean` and five other rewards no role names)
            passed_over = f"; its train loss, {own}, is a policy-gradient loss, which measures no performance"
        elif own:
            return role
    available = listed(run.metrics, 20)
    if timings_only(run):
        # LLaMA-Factory's trainer_log.jsonl of a trainer that logged no loss: only its progress
        # rows (`elapsed_time`, `remaining_time`); --metric on a clock judges nothing
        raise UsageError(f"this log holds no metric of the model, only timings of the run "
                         f"({available}): there is nothing to judge the training by (a trainer "
                         "that logged no loss, or a log cut before its first loss row)")
    hint = f" ({may_be})" if (may_be := score_like_hint(run)) else ""
    raise UsageError(
        "no performance metric found (looked for the run's declared one and for "
        f"{', '.join(r for r, _ in PERFORMANCE_ROLES + FALLBACK_ROLES)}{passed_over}); pick one "
        f"with --metric{hint}. Metrics in this run: {available}"
    )


def metric_candidates(run: Run) -> list[str]:
    """The names `choose_metric` picks from, in its order: each performance role the log holds
    (`roles_present`, by the role's name), each followed by the log's names for its later
    candidates (`presets.later_matches`), taken only where every name before them reads the
    same at every evaluation or has too few values: a pose model's keypoint mAP
    `metrics/mAP50-95(P)`, 0 at all 50 epochs of a model that learned no keypoint, is passed
    over for its box mAP `metrics/mAP50-95(B)`, the task's other output, where before the run
    was a plateau at 0 with a hint listing its learning rates first."""
    names: list[str] = []
    for role in roles_present(run):
        names += [role, *(name for name in later_matches(role, run.metrics) if name not in names)]
    return names


def timings_only(run: Run) -> bool:
    """Whether every series of `run` times the run (`timing_names.is_timing`): no metric of the
    model to choose, by default or by --metric."""
    from phasewatch.timing_names import is_timing

    return bool(run.metrics) and all(is_timing(name) for name in run.metrics)


def roles_present(run: Run) -> list[str]:
    """The performance roles `run` holds, in the order of choice (`PERFORMANCE_ROLES`), except
    that a held-out score matched by several names of one kind (seqeval's per-entity
    `eval_T005_f1`, `eval_T007_f1`, no overall F1) is a breakdown, no headline: it comes after
    the held-out loss; and that a segmentation overlap (`heldout_names.is_overlap`: a U-Net's
    `Validation Dice`) comes before the accuracy beside it, which counts pixels, mostly
    background (0.993 -> 0.9996 while the Dice rose 0.30 -> 0.91: csv-unet-valdice-100), as an
    F1 before the accuracies no task is judged by beside it (`score_before_accuracy`: seqeval's
    token accuracy `overall_accuracy`, a multi-label classifier's `subset_accuracy`, a token
    classifier's bare `accuracy`)."""
    present = [role for role, _ in PERFORMANCE_ROLES if run.own_name(role)]
    score, loss, accuracy = "eval/other_score", "eval/loss", "eval/accuracy"
    scores = role_matches(score, run.metrics) if score in present else []
    if loss in present and len(scores) > 1:
        present.remove(score)
        present.insert(present.index(loss) + 1, score)
    elif accuracy in present and len(scores) == 1 \
            and score_before_accuracy(scores[0], run.own_name(accuracy) or accuracy,
                                      is_token_classifier(run.config)):
        present.remove(score)
        present.insert(present.index(accuracy), score)
    return present


def n_finite(run: Run, metric: str) -> int:
    """How many finite values of `metric` the run holds."""
    return int(run.column(metric).values.size)


def is_performance_metric(run: Run, metric: str) -> bool:
    """Whether `metric` is the run's declared performance metric or a name of a performance role
    (held-out accuracy or score, eval loss, reward: its own name, one of several sets or levels
    beside it, or a later candidate such as a pose model's box mAP), as opposed to a length, a
    rate or a train loss."""
    own = run.resolve_metric(metric)
    if run.performance_metric and run.own_name(run.performance_metric) == own:
        return True
    roles = [role for role, _ in PERFORMANCE_ROLES]
    return any(run.own_name(role) == own for role in roles) \
        or own in names_of_roles(roles, run.metrics)


def choose_direction(run: Run, metric: str, direction: str | None = None) -> str:
    """--direction, else the run's (if it declared it for this metric), else from the name."""
    if direction:
        if direction not in ("max", "min"):
            raise UsageError(f"--direction must be 'max' or 'min', not {direction!r}")
        return direction
    if run.direction in ("max", "min") and run.performance_metric in (None, metric):
        return run.direction
    best = declared_best_metric(run)
    if best is not None and run.own_name(metric) == best.own and best.direction is not None:
        return best.direction  # the Trainer's greater_is_better, the CheckpointHook's rule
    for role, role_direction in PERFORMANCE_ROLES:
        if metric == role and role_direction is not None:
            return role_direction
    own = run.resolve_metric(metric)
    if bare_split_loss(own, run.metrics) is not None:
        return "min"  # a console's `val=` beside its `loss=`: the held-out loss
    if lower_beside(own, run.metrics) is not None:
        return "min"  # DARTS' `Obj/valid` beside `Acc/valid`, QCNet's `val_MR` beside `val_minADE`
    return default_direction(own)


def cadence_warning(steps: np.ndarray) -> str | None:
    """Say so when the evaluation interval changes during the run (mixed cadences)."""
    if steps.size < 4:
        return None
    gaps = np.diff(steps)
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        return None
    lo, hi = np.percentile(gaps, [5, 95])
    if hi > 2 * max(lo, 1):
        return (f"uneven logging interval ({int(lo)} to {int(hi)} steps between points); "
                "trends are fitted against steps, not point counts")
    return None


def outlier_scale(values: np.ndarray) -> np.ndarray:
    """The noise an outlier must stand out from, per point: `noise_scale`, or on a rate pinned
    at a bound the noise of its readings off the bound (`off_bound_sd`, as the analysis judges it): its
    readings at the bound differ by exactly 0, and a reward at 0 on 84 of 100 steps lost a
    2/16 among zeros as an outlier at step 22 while the same 2/16 at step 2 was its checkpoint
    (trial 39b). Never below the noise a series constant for any practical purpose is judged
    against (`noise.constant_floor_sd`: an eval loss at ln 4 within 7e-4 lost its best reading
    as an outlier of its float-level scatter). Raised to the noise of the part of the run each
    point lies in (`outliers.local_scale`: a stretch of exact repeats set 0.0021 for readings
    that scatter by 0.01-0.02)."""
    scale = max(noise_scale(values), constant_floor_sd(values))
    scale = max(scale, off_bound_sd(values)) if pinned_at_bound(values) else scale
    return local_scale(values, scale)


SWITCH_START = 2  # evaluations after a stage switch that are the new stage's start, never outliers


def stage_starts(run: Run, steps: np.ndarray) -> np.ndarray:
    """Whether each of `steps` is one of the first `SWITCH_START` evaluations after a known
    switch of training stage (`stages.STAGE_EVENTS`): the new stage's start, which its
    neighbours before the switch do not contradict. A fresh optimizer at the SFT -> RL switch
    dropped an accuracy 11 points at the first evaluation after it and took 60 steps to bring it
    back (paper trial, sft_then_rl_s1: 0.822 at the switch, 0.712, 0.756, 0.760, ...); the 0.712
    was left out as an outlier and the dip read as part of an improvement."""
    from phasewatch.stages import STAGE_EVENTS  # stages -> phases -> ... imports this module

    starts = np.zeros(steps.size, dtype=bool)
    for event in run.events:
        if event.name in STAGE_EVENTS:
            first = int(np.searchsorted(steps, event.step, side="right"))  # the first after it
            starts[first:first + SWITCH_START] = True
    return starts


def non_finite_note(metric: str, steps: np.ndarray, values: np.ndarray) -> str:
    """'' or the note on a series' values that are no reading, left out: non-finite (a NaN
    evaluation loss: Python's json writes `NaN`), or beyond +-MAX_VALUE, with their steps. One
    note, said by `analyze` of the metric it takes (`prepare`) and by `inspect` of each metric
    (`inspect.non_finite_notes`), whose counts hold finite values only."""
    bad = ~(np.abs(values) <= MAX_VALUE)  # True for NaN and infinities too
    n_bad = int(bad.sum())
    if not n_bad:
        return ""
    where = ", ".join(str(s) for s in steps[bad][:5]) + (", ..." if n_bad > 5 else "")
    huge = "" if np.isfinite(values[bad]).sum() == 0 else f" or beyond +-{MAX_VALUE:g}"
    return (f"{metric}: {counted(n_bad, f'non-finite{huge} value')} left out "
            f"({'step' if n_bad == 1 else 'steps'} {where})")


def prepare(run: Run, metric: str, direction: str, keep_outliers: bool = False,
            noise_sd: float | None = None, eval_size: int | None = None,
            use_events: bool = True) -> PreparedSeries:
    """The series of `metric` turned higher-is-better, non-finite values and outliers (points
    their neighbours contradict, `outliers.spike_mask`) left out unless `keep_outliers`.

    Outliers are judged against the noise the user gives (`noise_sd`, or a rate's `eval_size`:
    `known_noise`) when given, as every change is, else against `outlier_scale`; the first
    evaluations after a known stage switch are never outliers (`stage_starts`, unless not
    `use_events`)."""
    raw = run.column(metric, finite=False)
    metric = raw.name  # the run's own name, in the messages
    values, steps = raw.values, raw.steps
    warnings: list[str] = []
    finite = np.abs(values) <= MAX_VALUE  # False for NaN and infinities too
    warnings += [note] if (note := non_finite_note(metric, steps, values)) else []
    steps, values = steps[finite], values[finite]
    sign = 1.0 if direction == "max" else -1.0
    turned = sign * values
    known = known_noise(noise_sd, eval_size, values, metric)
    # a running mean's values move with their episodes: none is out (`running_means`)
    outliers = np.zeros(turned.size, dtype=bool) if keep_outliers or is_running_mean(metric) else \
        spike_mask(turned, known.sd if known else outlier_scale(turned), steps=steps)
    if use_events:
        outliers &= ~stage_starts(run, steps)
    outlier_steps = steps[outliers].tolist()
    if outlier_steps:
        # each with its value: a step alone does not tell a failed evaluation from the bottom
        # of a collapse (csv-lightning-arcroute-valreward-17's -37.06 at step 7334, left out
        # beside an overfit line that says the run fell 10.94, not 31.26, below its best)
        shown = ", ".join(f"{s}: {v:.4g}" for s, v in zip(outlier_steps[:5],
                                                          values[outliers][:5]))
        n_out = len(outlier_steps)
        top = int(np.argmax(turned))  # the checkpoint a user would pick from the log by eye
        best = "" if not outliers[top] else (
            ", the best logged value" if n_out == 1 else
            f"; the best logged value, {values[top]:.4g} at step {steps[top]}, is one of them")
        # "isolated" only where they are (a pair of neighbours that agree is left out too,
        # against the points around it: trial 38c read "isolated" beside steps 20, 21)
        paired = bool(np.any(outliers[1:] & outliers[:-1]))
        what = (f"{counted(n_out, 'outlier')} (single readings or pairs the points around them "
                "contradict)" if paired else counted(n_out, "isolated outlier"))
        warnings.append(f"{metric}: {what} left out "
                        f"({'step' if n_out == 1 else 'steps'} {shown}"
                        f"{', ...' if n_out > 5 else ''}{best}; --keep-outliers keeps "
                        f"{'it' if n_out == 1 else 'them'})")
    cadence = cadence_warning(steps)
    if cadence:
        warnings.append(f"{metric}: {cadence}")
    return PreparedSeries(metric=metric, direction=direction, steps=steps[~outliers],
                          values=turned[~outliers], sign=sign, outlier_steps=outlier_steps, warnings=warnings)


def other_signals(run: Run, exclude: str) -> dict[str, StepSeries]:
    """Supporting series present in the run (expert NLL, entropy, length, reward, loss, KL to
    the reference model), their finite values by step."""
    names = ("expert/nll_train", "expert/nll_heldout", "train/entropy", "eval/response_length",
             "train/response_length", "train/reward", "train/loss",
             "train/kl")  # a reward's rise with the policy far from its reference (trial 39)
    out: dict[str, StepSeries] = {}
    own_exclude = run.resolve_metric(exclude)
    for name in names:
        own = run.own_name(name)
        if own is None or own == own_exclude:
            continue
        series = run.column(name)
        if len(series):
            out[name] = series
    return out
