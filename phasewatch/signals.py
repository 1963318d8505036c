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

from phasewatch.errors import UsageError
from phasewatch.noise import noise_scale
from phasewatch.outliers import spike_mask
from phasewatch.output import counted
from phasewatch.presets import (
    FALLBACK_ROLES,
    LOWER_IS_BETTER,
    PERFORMANCE_ROLES,
    ROLE_CANDIDATES,
    default_direction,
)
from phasewatch.run import Run
from phasewatch.stepseries import StepSeries
from phasewatch.trainer_best import declared_best_metric, kept_best_by
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
    the run's reward was logged at every step: the reward is taken, and `short_choice_note`
    says so when no role has enough values.
    """
    if metric:
        run.resolve_metric(metric)  # UsageError listing what exists, closest first
        return metric
    declared = run.performance_metric
    if declared and run.own_name(declared):
        return declared
    if (best := declared_best_metric(run)) is not None:  # the Trainer's metric_for_best_model
        return best[0]
    present = [role for role, _ in PERFORMANCE_ROLES if run.own_name(role)]
    if present:
        # enough values for a trend, and not constant where a later role moves (trial 38c:
        # an exact-match accuracy 0 at all 8 evaluations beside an eval loss that fell and rose)
        usable = [r for r in present if n_finite(run, r) >= MIN_FOR_TREND]
        moving = [r for r in usable if np.ptp(run.column(r).values) > 0]
        return (moving or usable or present)[0]
    for role, _ in FALLBACK_ROLES:
        if run.own_name(role):
            return role
    available = ", ".join(run.metrics[:20]) or "none"
    raise UsageError(
        "no performance metric found (looked for the run's declared one and for "
        f"{', '.join(r for r, _ in PERFORMANCE_ROLES + FALLBACK_ROLES)}); pick one with --metric. "
        f"Metrics in this run: {available}"
    )


def n_finite(run: Run, metric: str) -> int:
    """How many finite values of `metric` the run holds."""
    return int(run.column(metric).values.size)


def short_choice_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric has too few values for a trend test: the
    log's longer series, by name, so the user can pass one (a run that logs its held-out
    metric once at the end and its scores under names no framework uses)."""
    n_chosen = n_finite(run, chosen)
    if n_chosen >= MIN_FOR_TREND:
        return None
    own = run.resolve_metric(chosen)
    longer = sorted(((n, name) for name in run.metrics if name != own
                     and (n := n_finite(run, name)) >= MIN_FOR_TREND), key=lambda t: (-t[0], t[1]))
    if not longer:
        return None
    shown = ", ".join(f"{name} ({n} values)" for n, name in longer[:5])
    more = f" and {len(longer) - 5} more" if len(longer) > 5 else ""
    return (f"{own} was chosen by its name but has only {counted(n_chosen, 'value')}, too few "
            "to show phases; "
            f"longer series in this log: {shown}{more}: pass --metric to analyse one")


def choice_notes(run: Run, chosen: str) -> list[str]:
    """What to say of a metric chosen without --metric (analyze and watch alike)."""
    notes = (trainer_best_note(run, chosen), passed_over_note(run, chosen), fallback_note(run, chosen),
             short_choice_note(run, chosen), periodic_scores_note(run, chosen),
             score_beside_loss_note(run, chosen))
    return [note for note in notes if note is not None]


# words of a series logged now and then that is no score: timings, throughput, memory
_NOT_SCORES = ("time", "timing", "runtime", "per_second", "throughput", "memory", "mem_", "epoch",
               "grad", "scale", "norm", "loss")


def periodic_scores_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric is the training reward and the log also has
    series logged at a third of its steps or fewer, as evaluations are, under names no framework
    uses: name them (trial 37b: a recommender's GRPO batch reward was analysed, "improvement",
    beside ndcg@10 and recall@10 logged every 200 steps on rows marked "eval", which were flat)."""
    if chosen != "train/reward" or run.performance_metric:
        return None
    own = run.resolve_metric(chosen)
    most = n_finite(run, chosen) // 3
    known = set(run.aliases.values())  # a role's own name (train/kl, train/loss): not a score
    periodic = [name for name in run.metrics if name != own and name not in known
                and not any(word in name.lower() for word in _NOT_SCORES)
                and MIN_FOR_TREND <= n_finite(run, name) <= most
                and np.ptp(run.column(name).values) > 0]
    if not periodic:
        return None
    more = f" and {len(periodic) - 4} more" if len(periodic) > 4 else ""
    return (f"{own} is scored on the training batches, which cannot show an overfit; "
            f"{', '.join(periodic[:4])}{more} are logged at a few steps only, as evaluations "
            "are: pass --metric to analyse a held-out score")


def trainer_best_note(run: Run, chosen: str) -> str | None:
    """Why the Trainer's metric was taken (`trainer_best.declared_best_metric`), or which metric
    it kept its best checkpoint by where that is not the one analysed (`kept_best_by`)."""
    own = run.own_name(chosen)
    declared = declared_best_metric(run)
    if declared is not None and declared[0] == own:
        return (f"taking {own}: the Trainer kept its best checkpoint by it (its "
                f"metric_for_best_model, {run.config['metric_for_best_model']}); pass --metric "
                "to judge the run by another")
    kept = kept_best_by(run)
    if kept is None or kept == own:
        return None
    return (f"the Trainer kept its best checkpoint by {kept} (its best_metric, "
            f"{run.config['best_metric']:.6g} at step {run.config['best_global_step']}), not by "
            f"{own}: pass --metric {kept} to judge the run by it")


def passed_over_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric is not the first role the log has: the ones
    before it had too few values (trial 34b: a verl log's held-out reward, logged once at the
    end, left for the train batches' score without a word), or the same value at every
    evaluation (trial 38c: an accuracy 0 at all 8)."""
    present = [role for role, _ in PERFORMANCE_ROLES if run.own_name(role)]
    if chosen not in present or present.index(chosen) == 0 or run.performance_metric:
        return None
    def why(role: str) -> str:
        n = n_finite(run, role)
        if n < MIN_FOR_TREND:
            return f"{counted(n, 'value')}: too few for a trend (fewer than {MIN_FOR_TREND})"
        return f"{float(run.column(role).values[0]):.4g} at all {n} evaluations: it cannot move"
    skipped = "; ".join(f"{run.own_name(role)} ({why(role)})"
                        for role in present[:present.index(chosen)])
    return (f"taking {run.own_name(chosen)}, passing over {skipped}; pass --metric to analyse "
            "it anyway")


def score_beside_loss_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric is the held-out loss and the log also has a
    held-out score (`eval/other_score`: a CER, a BLEU, an F1) with enough values for a trend:
    the loss comes first by the documented order, but a paper reports the score, and the two
    can tell different stories (trial 38b: an ASR run's eval_loss one improvement to the end,
    its eval_cer an improvement, then a plateau from step 60)."""
    if chosen != "eval/loss" or run.performance_metric:
        return None
    score = run.own_name("eval/other_score")
    if score is None or n_finite(run, "eval/other_score") < MIN_FOR_TREND:
        return None
    return (f"taking {run.own_name(chosen)}, the held-out loss; {score} is a held-out score "
            f"too: pass --metric {score} to judge the run by it")


# words of a series' name that may make it a score a user would judge a run by, words that make
# it a failure count or a spread instead, and the endings of a score's own name
_SCORE_WORDS = ("reward", "acc", "score", "pass", "f1", "bleu", "chrf", "rouge", "exact",
                "match", "win", "success", "correct")
_NOT_MEANS = ("fail", "error", "std", "min", "max")
_SCORE_ENDS = ("mean", "reward", "score", "accuracy", "acc", "pass_rate")


def fallback_note(run: Run, chosen: str) -> str | None:
    """What to say when the metric chosen without --metric is a train metric (`FALLBACK_ROLES`):
    the log has no held-out metric or reward phasewatch knows by name, and a train loss cannot
    show overfitting. Series whose names look like scores are named (trial 38b: a home-made
    GRPO log's `reward/selected_mean` rose 7.3 se while "no held-out metric or reward in this
    log" sent the analysis to a policy-gradient loss of 0 +- 2e-4)."""
    if is_performance_metric(run, chosen):
        return None
    known = set(run.aliases.values())
    maybe = [name for name in run.metrics if name not in known
             and any(word in name.lower() for word in _SCORE_WORDS)
             and not any(word in name.lower() for word in _NOT_SCORES + _NOT_MEANS)
             and n_finite(run, name) >= MIN_FOR_TREND and np.ptp(run.column(name).values) > 0]
    # a mean or a named score first (`reward/selected_mean` before `reward/valid_rate`)
    maybe.sort(key=lambda name: not name.lower().endswith(_SCORE_ENDS))
    more = f" and {len(maybe) - 4} more" if len(maybe) > 4 else ""
    hint = (f"; series that may be one: {', '.join(maybe[:4])}{more}" if maybe else "")
    return (f"no held-out metric or reward phasewatch knows by name in this log: taking its "
            f"train loss ({run.resolve_metric(chosen)}), which cannot show an overfit to the "
            f"training data{hint}; pass --metric to choose another")


def is_performance_metric(run: Run, metric: str) -> bool:
    """Whether `metric` is the run's declared performance metric or a performance role (held-out
    accuracy or score, eval loss, reward), as opposed to a length, a rate or a train loss."""
    own = run.resolve_metric(metric)
    if run.performance_metric and run.own_name(run.performance_metric) == own:
        return True
    return any(run.own_name(role) == own for role, _ in PERFORMANCE_ROLES)


def choose_direction(run: Run, metric: str, direction: str | None = None) -> str:
    """--direction, else the run's (if it declared it for this metric), else from the name."""
    if direction:
        if direction not in ("max", "min"):
            raise UsageError(f"--direction must be 'max' or 'min', not {direction!r}")
        return direction
    if run.direction in ("max", "min") and run.performance_metric in (None, metric):
        return run.direction
    best = declared_best_metric(run)
    if best is not None and run.own_name(metric) == best[0]:
        return best[1]  # the Trainer's greater_is_better
    for role, role_direction in PERFORMANCE_ROLES:
        if metric == role and role_direction is not None:
            return role_direction
    return default_direction(run.resolve_metric(metric))


# words that say a name is a score, higher is better (LOWER_IS_BETTER's say the other way)
_HIGHER_WORDS = ("acc", "reward", "score", "f1", "bleu", "rouge", "chrf", "exact", "match", "auc",
                 "pass", "success", "win", "correct", "margin", "return", "precision", "recall",
                 "ndcg", "map", "chosen")


def guessed_direction_note(run: Run, metric: str, direction: str | None) -> str | None:
    """When the direction of `metric` is the default's guess: no --direction, none declared by
    the run, no role of it, and no word of its name says which way is better (trial 38b: a
    stereotype rate, lower is better, read as higher-is-better without a word: its "best" was
    the run's most stereotyped batch)."""
    if direction or (run.direction in ("max", "min") and run.performance_metric in (None, metric)):
        return None
    own = run.own_name(metric) or metric  # (live, the metric may not be logged yet)
    if own in run.aliases.values() or own in ROLE_CANDIDATES:
        return None  # a role's name: its direction is known
    lowered = own.lower()
    if any(word in lowered for word in LOWER_IS_BETTER + _HIGHER_WORDS):
        return None
    return (f"{own}: higher is taken to be better (its name does not say which way is better); "
            "pass --direction min if lower is")


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


def prepare(run: Run, metric: str, direction: str, keep_outliers: bool = False) -> PreparedSeries:
    """The series of `metric` turned higher-is-better, non-finite values and outliers (points
    their neighbours contradict, `outliers.spike_mask`) left out unless `keep_outliers`."""
    raw = run.column(metric, finite=False)
    metric = raw.name  # the run's own name, in the messages
    values, steps = raw.values, raw.steps
    warnings: list[str] = []
    finite = np.abs(values) <= MAX_VALUE  # False for NaN and infinities too
    n_bad = int((~finite).sum())
    if n_bad:
        where = ", ".join(str(s) for s in steps[~finite][:5]) + (", ..." if n_bad > 5 else "")
        huge = "" if np.isfinite(values[~finite]).sum() == 0 else f" or beyond +-{MAX_VALUE:g}"
        warnings.append(f"{metric}: {counted(n_bad, f'non-finite{huge} value')} left out "
                        f"({'step' if n_bad == 1 else 'steps'} {where})")
    steps, values = steps[finite], values[finite]
    sign = 1.0 if direction == "max" else -1.0
    turned = sign * values
    outliers = np.zeros(turned.size, dtype=bool) if keep_outliers else \
        spike_mask(turned, noise_scale(turned), steps=steps)
    outlier_steps = steps[outliers].tolist()
    if outlier_steps:
        shown = ", ".join(str(s) for s in outlier_steps[:5])
        n_out = len(outlier_steps)
        top = int(np.argmax(turned))  # the checkpoint a user would pick from the log by eye
        best = "" if not outliers[top] else (
            f": the best logged value, {values[top]:.4g}" if n_out == 1 else
            f"; the best logged value, {values[top]:.4g} at step {steps[top]}, is one of them")
        warnings.append(f"{metric}: {counted(n_out, 'isolated outlier')} left out "
                        f"({'step' if n_out == 1 else 'steps'} {shown}"
                        f"{', ...' if n_out > 5 else ''}{best}; --keep-outliers keeps "
                        f"{'it' if n_out == 1 else 'them'})")
    cadence = cadence_warning(steps)
    if cadence:
        warnings.append(f"{metric}: {cadence}")
    return PreparedSeries(metric=metric, direction=direction, steps=steps[~outliers],
                          values=turned[~outliers], sign=sign, outlier_steps=outlier_steps, warnings=warnings)


def other_signals(run: Run, exclude: str) -> dict[str, StepSeries]:
    """Supporting series present in the run (expert NLL, entropy, length, reward, loss), their
    finite values by step."""
    names = ("expert/nll_train", "expert/nll_heldout", "train/entropy", "eval/response_length",
             "train/reward", "train/loss")
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
