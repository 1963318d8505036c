"""The functions a notebook calls: `analyze`, `changepoints` (and `read_run`, `watch`).

Each takes a path (any supported log, format sniffed from content) or an already read `Run`,
and the same options as the command of the same name, so a notebook and the command line
give the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phasewatch.run import Run


def _run(path_or_run: str | Path | Run) -> Run:
    if isinstance(path_or_run, Run):
        return path_or_run
    from phasewatch.io import checked_path, read_run

    checked_path(path_or_run, also=" or a phasewatch Run")
    return read_run(path_or_run)


def analyze(path_or_run: str | Path | Run, metric: str | None = None,
            direction: str | None = None, aggregate: str | None = None, **options: Any):
    """The phases of one run's performance metric: an `Analysis` (`.phases`,
    `.changepoints`, `.recommended_stop_step`, `.to_dict()` = the `analyze --format json` run).

    `metric` and `aggregate` choose the series as `phasewatch analyze --metric --aggregate`
    does: a name, or a glob of validation sets (`val-core/*`); several sets give the first with
    a warning, or their mean with `aggregate="mean"`. Options as `phasewatch analyze`:
    `baseline` ('first', 'mean-of-first:K', 'step:S'), `keep_outliers`, `penalty`, `noise_sd`
    (the sd of one evaluation, when known) or `eval_size` (items a rate is evaluated on:
    binomial noise), `expert_data` (True / False: whether the run trains on expert data, where
    the log cannot show it), and the other `analysis.AnalyzeConfig` fields. Given the path of a log in
    a Hugging Face output folder, `.saved_checkpoint` names the `checkpoint-N` to load, as the
    command's "checkpoint to keep" (JSON `saved_checkpoint`).
    """
    from dataclasses import fields

    from phasewatch.analysis import AnalyzeConfig
    from phasewatch.errors import api_terms

    names = ("metric", "direction", "aggregate", *(f.name for f in fields(AnalyzeConfig)))
    # a path: in a Hugging Face output folder, also the saved checkpoint to load (a Run read
    # elsewhere has no folder to look in)
    path = None if isinstance(path_or_run, Run) else path_or_run
    with api_terms(names):
        analysis, _ = analysis_and_run(_run(path_or_run), metric, direction, aggregate,
                                       path=path, **options)
    return analysis


def analysis_and_run(run: Run, metric: str | None = None, direction: str | None = None,
                     aggregate: str | None = None, path: str | Path | None = None,
                     **options: Any):
    """(`analyze`'s Analysis, the Run it analysed): with `aggregate="mean"` that run holds the
    mean of the sets as one more metric (`analysis.metric`), which the caller reads its values
    from (`sweep` rows). Its warnings start with the reader's, then the choice of series.
    `path`: where `run` was read from (`analysis_of_choice`)."""
    from phasewatch.metric_sets import choose_series

    choice = choose_series(run, metric, aggregate)
    # what the reader skipped (bad lines, a cut line...), then which of several sets was taken
    choice.warnings = [*run.warnings, *choice.warnings]
    return analysis_of_choice(choice, direction, path, **options), choice.run


def analysis_of_choice(choice, direction: str | None = None, path: str | Path | None = None,
                       **options: Any):
    """The Analysis of a chosen series (`metric_sets.SeriesChoice`, its warnings first), and
    where the log at `path` is in a Hugging Face output folder with `checkpoint-N` folders,
    `saved_checkpoint`: the saved checkpoint to load (`saved_checkpoints.for_run`). The one
    place `phasewatch.analyze` and `phasewatch analyze` get both from."""
    from phasewatch.analysis import analyze_run
    from phasewatch.early_end import said_once
    from phasewatch.saved_checkpoints import for_run

    analysis = analyze_run(choice.run, metric=choice.metric, direction=direction, **options)
    analysis.warnings[:0] = choice.warnings
    analysis.warnings[:] = said_once(choice.run, analysis.warnings)  # the crash, said once
    planned, steps = options.get("planned_steps"), choice.run.steps
    if planned is not None and steps.size and int(steps.max()) > planned:
        # a plan the log outruns judged what is early against a shorter run: said as `watch`
        # says it (trial 61: `analyze --planned-steps 100` of a 590-step log said nothing)
        from phasewatch.live_result import past_plan
        from phasewatch.xaxis import step_unit

        analysis.warnings.append(past_plan(planned, int(steps.max()), step_unit(choice.run)))
    if path is not None:
        in_hf, saved = for_run(path, choice.run, analysis)  # the checkpoint to load, on disk
        if in_hf:
            analysis.saved_checkpoint = saved
    return analysis


def changepoints(path_or_run: str | Path | Run, metric: str | Sequence[str],
                 model: str = "normal", penalty: float | None = None,
                 min_size: int | None = None) -> dict[str, Any]:
    """Change points of one series, or one joint segmentation of several metrics: the
    `changepoints --format json` object (source, metrics, changepoints with intervals, method,
    penalty, warnings: the reader's first). Options as `phasewatch changepoints`."""
    from phasewatch.errors import api_terms

    with api_terms(("metric", "model", "penalty", "min_size")):
        return changepoints_result(path_or_run, metric, model, penalty, min_size)


def changepoints_result(path_or_run: str | Path | Run, metric: str | Sequence[str],
                        model: str = "normal", penalty: float | None = None,
                        min_size: int | None = None) -> dict[str, Any]:
    """`changepoints`, with usage errors in the command line's terms (`--min-size`)."""
    from phasewatch.changepoint import MODELS, Segmenter
    from phasewatch.errors import UsageError

    if model not in MODELS:
        raise UsageError(f"model {model!r} is not one of {', '.join(MODELS)}")
    run = _run(path_or_run)
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if not metrics:
        raise UsageError("changepoints needs at least one metric")
    if min_size is not None and min_size < 2:
        raise UsageError("--min-size must be at least 2")
    from phasewatch.xaxis import one_counter, shared_step_unit

    one_counter(run, [run.resolve_metric(m) for m in metrics], "segment them one at a time")
    steps, values, own, warnings = _aligned(run, metrics)
    seg = Segmenter(model=model, penalty=penalty, min_size=min_size).fit(steps, values)
    # what the steps count, as `analyze` says it: a Keras log's epochs, a validation logged
    # per epoch beside per-batch metrics, an HF console log that states no step (epoch/10000)
    unit = shared_step_unit((run, metric) for metric in own)
    return {"source": run.source, "metrics": own,
            "changepoints": [c.to_dict() for c in seg.changepoints],
            "method": seg.method, "penalty": seg.penalty,
            "warnings": [*run.warnings, *warnings, *seg.warnings],
            **({"step_unit": unit} if unit != "step" else {})}


def _aligned(run: Run, metrics: list[str]):
    """Steps where every metric has a finite value, the (n, d) values, the run's own names
    and a warning when the metrics do not share all their steps (numpy columns: no pandas on
    the command's start-up path)."""
    import numpy as np

    own = [run.resolve_metric(m) for m in metrics]
    columns = [run.column(m) for m in metrics]
    steps = columns[0].steps
    for column in columns[1:]:
        steps = np.intersect1d(steps, column.steps, assume_unique=True)
    values = np.empty((steps.size, len(columns)), dtype=np.float64)
    for k, column in enumerate(columns):
        values[:, k] = column.values if column.size == steps.size else \
            column.values[np.searchsorted(column.steps, steps)]
    warnings = []
    if len(metrics) > 1:
        counts = [len(column) for column in columns]
        if steps.size < max(counts):
            warnings.append(f"segmented the {steps.size} steps where all of {', '.join(own)} "
                            f"have finite values (of {max(counts)})")
    return np.array(steps, dtype=np.int64), values, own, warnings
