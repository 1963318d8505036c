"""The metric a Hugging Face Trainer run kept its best checkpoint by: the run's own word on what
it is judged by.

`metric_for_best_model` is a TrainingArguments field; W&B, MLflow and TensorBoard's hparams keep
the arguments as the run's config (`eval_f1`, or `f1`, which the Trainer prefixes `eval_`), with
`greater_is_better` (its default: lower is better for a name ending in "loss", else higher).
Declared there and not a loss (a loss is what the Trainer takes when none is named, and comes
after an accuracy in the default order anyway), it is the metric `analyze` and `watch` take
(trial 38c: a topic classifier's W&B config declared `eval_f1`, rising at every evaluation,
while its eval loss "overfit"). OpenMMLab's CheckpointHook says the same with `save_best` and
`rule` (an MMPose run kept its best checkpoint by PCK while `coco/AP` was analysed). A `trainer_state.json` keeps no arguments, only `best_metric`
and `best_global_step` (before transformers 4.52, only the step in `best_model_checkpoint`'s
`checkpoint-N`: an ASR run kept checkpoint-3000 by its WER, 0.7432, while its eval loss,
analysed, was best at step 1000, its worst WER, and nothing said so): the metric is the one
evaluation whose value at that step is `best_metric`, where exactly one is; `watch` cannot know it before that step, so it is only
named (trial 38c: a sentiment run kept checkpoint-8280 by its macro-F1, 0.246, while its
accuracy, analysed by default, was best at the majority-class checkpoint 1035).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from phasewatch.direction_words import says_higher_is_better
from phasewatch.folders import checkpoint_step
from phasewatch.run import Run

EVAL_PREFIXES = ("eval_", "eval/")


class Declared(NamedTuple):
    """The metric a run's config says its best checkpoint is kept by."""

    own: str  # the run's own name of it
    direction: str | None  # as the config ranks it; None: its name says (`choose_direction`)
    said: str  # how the config says it, for the note that it was taken


def declared_best_metric(run: Run) -> Declared | None:
    """The metric a run's config keeps its best checkpoint by, when it is logged and is no
    loss: a Trainer's `metric_for_best_model` (`greater_is_better`), or OpenMMLab's
    CheckpointHook's `save_best` (`rule`: `io.mmengine_config`), the same choice in two
    frameworks' words; else None."""
    config = run.config
    name = config.get("metric_for_best_model")
    if isinstance(name, str) and name:
        bare = name[5:] if name.startswith(EVAL_PREFIXES) else name
        own = next((o for o in (name, *(p + bare for p in EVAL_PREFIXES)) if run.own_name(o)),
                   None)
        if own is None or bare.endswith("loss"):
            return None
        greater = _boolean(config.get("greater_is_better"))
        return Declared(own, "min" if greater is False else "max",
                        f"the Trainer kept its best checkpoint by it (its metric_for_best_model, "
                        f"{name})")
    hook = _checkpoint_hook(config)
    name, rule = _first(hook.get("save_best")), _first(hook.get("rule"))
    if not isinstance(name, str) or name in ("", "auto") or name.endswith("loss") \
            or (own := run.own_name(name)) is None:
        return None  # ("auto": the evaluator's first metric, which the default takes too)
    return Declared(own, {"greater": "max", "less": "min"}.get(str(rule).lower()),
                    f"its CheckpointHook kept the best checkpoint by it (save_best={name!r}"
                    f"{f', rule={rule!r}' if rule else ''} in its config)")


def _boolean(value):
    """A config's boolean as written (MLflow keeps parameters as strings: "False")."""
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return value


def _checkpoint_hook(config: dict) -> dict:
    """OpenMMLab's `default_hooks.checkpoint` settings, nested (the config file, W&B) or under
    flattened keys (`default_hooks.checkpoint.save_best`, `default_hooks/checkpoint/rule`:
    MLflow, TensorBoard's hparams)."""
    hooks = config.get("default_hooks")
    hook = hooks.get("checkpoint") if isinstance(hooks, dict) else None
    if isinstance(hook, dict):
        return hook
    return {key: config[f"default_hooks{sep}checkpoint{sep}{key}"] for key in ("save_best", "rule")
            for sep in "./" if f"default_hooks{sep}checkpoint{sep}{key}" in config}


def _first(value):
    """A setting that may be a list (`save_best=['coco/AP', 'PCK']`: a best checkpoint a
    metric): its first item, the one the hook names first."""
    return value[0] if isinstance(value, (list, tuple)) and value else value


def best_step(config: dict) -> int | None:
    """The step of a trainer_state.json's best checkpoint: `best_global_step`, or the N of its
    `best_model_checkpoint` (`.../checkpoint-N`)."""
    step = config.get("best_global_step")
    if isinstance(step, int) and not isinstance(step, bool):
        return step
    return checkpoint_step(config.get("best_model_checkpoint") or "")


def kept_best_by(run: Run) -> str | None:
    """The one evaluation metric whose value at the best checkpoint's step (`best_step`) is its
    `best_metric` (a trainer_state.json's record of the best checkpoint), else None."""
    best, step = run.config.get("best_metric"), best_step(run.config)
    if not isinstance(best, (int, float)) or step is None or not math.isfinite(best):
        return None
    matches = []
    for own in run.metrics:
        if own.startswith(EVAL_PREFIXES):
            column = run.column(own)
            at = np.flatnonzero(column.steps == step)
            if at.size and math.isclose(float(column.values[at[-1]]), float(best), rel_tol=1e-9):
                matches.append(own)
    return matches[0] if len(matches) == 1 else None


MIN_RANKED = 3  # evaluations among which a kept checkpoint can be told to be the worst


def worst_kept_note(run: Run, metric: str, direction: str, sd: float = 0.0) -> str | None:
    """A warning when the Trainer's best checkpoint (`kept_best_by`: its `best_metric` at
    `best_step`) is by `metric` itself the worst of its evaluations in `direction` (and the
    best beats it by more than the noise sd `sd`): the Trainer ranked the checkpoints the other
    way. Its `greater_is_better` is True by default for a `metric_for_best_model` whose name does
    not end in "loss", so a WER kept by name ranks the highest WER best, and a loss set
    greater_is_better=True by hand the highest loss; `load_best_model_at_end` and
    `EarlyStoppingCallback` then act on the wrong checkpoints. A Whisper run's best_metric was
    its first WER, 0.4804 at step 50, the worst of 40 (0.3447 at step 2000), and a
    knowledge-graph SFT kept checkpoint-50, its highest eval loss of 69, with nothing said.
    Not where `direction` is higher-is-better and no word of the name says so
    (`says_higher_is_better`): that is the default's guess, and the Trainer's default for such
    a name is the same, so a kept lowest value is its own greater_is_better=False, set by
    someone who knew the metric (a regression run's eval_mse kept at its lowest was told to
    set greater_is_better=True)."""
    if kept_best_by(run) != metric or (direction == "max" and not says_higher_is_better(metric)):
        return None
    step = best_step(run.config)
    column = run.column(metric)
    values = np.asarray(column.values, dtype=np.float64)
    finite = np.isfinite(values)
    values, steps = values[finite], np.asarray(column.steps)[finite]
    at = np.flatnonzero(steps == step)
    if values.size < MIN_RANKED or not at.size:
        return None
    y = values if direction == "max" else -values
    top = int(np.argmax(y))
    kept = float(y[at[-1]])
    if kept > float(np.min(y)) or float(y[top]) - kept <= max(sd, 0.0):
        return None
    better = "lower" if direction == "max" else "higher"
    default = ("; the Trainer's default for a metric whose name does not end in 'loss'"
               if direction == "min" and not metric.endswith("loss") else "")
    return (f"the Trainer's best checkpoint is the worst {metric} of the run: its best_metric, "
            f"{values[at[-1]]:.4g} at step {step}, is the {'lowest' if direction == 'max' else 'highest'} "
            f"of {values.size} evaluations (the best: {values[top]:.4g} at step {int(steps[top])}); "
            f"it ranked {better} {metric} as better (greater_is_better="
            f"{direction == 'min'}{default}), so load_best_model_at_end and EarlyStoppingCallback "
            f"act on the wrong checkpoints: set greater_is_better={direction == 'max'}")
