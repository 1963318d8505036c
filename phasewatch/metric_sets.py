"""Several validation sets behind one role: say so, or average them on request.

verl logs one held-out series per data source (`val-core/aime24/acc/mean@16`,
`val-core/math500/acc/mean@16`), OpenRLHF one per dataset (`eval_aime_pass1`,
`eval_math500_pass1`). The role `eval/accuracy` then names several series, and its alias alone
would be the first by name: a silent choice. `choose_series` lists them in a warning (analysing
the log's own total over them when it gives one, `overall_set`, else the first) or, with
`aggregate="mean"`, analyses their mean at the steps where every
set was evaluated. `--metric` may also be a glob (`'val-core/*/acc/mean@*'`) to average, or
a Lightning metric without its loader (`val_acc` for `val_acc/dataloader_idx_0`, `..._1`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.heldout_names import held_out_match, several_accuracies
from phasewatch.level_names import taxonomic_levels
from phasewatch.presets import ROLE_CANDIDATES, role_matches
from phasewatch.run import Run
from phasewatch.set_names import loader_bases, set_order
from phasewatch.train_beside import SPLIT_WORDS
from phasewatch.unknown_metric import unknown_metric_message

AGGREGATES = ("mean",)
# a set named only by these words is the log's own total over the others (verl's
# `val-core/total/all/acc/mean@8` beside `val-core/difficulty/easy/...`)
OVERALL_WORDS = frozenset({"all", "total", "overall", "average", "avg", "mean"})
_PART = re.compile(r"[/_]")  # a name's parts, for `trained_apart`: `test/nnPU/error`, `eval_g0_acc`
_MEAN_LABEL = re.compile(r"(?P<name>.+) \(mean of \d+ sets\)")


def mean_label(name: str, sets: list[str]) -> str:
    """The metric name of the mean of `sets` behind the role or pattern `name`."""
    return f"{name} (mean of {len(sets)} sets)"


def averaged_name(label: str) -> str | None:
    """The role or pattern whose sets' mean `label` (a `mean_label`) is, else None."""
    match = _MEAN_LABEL.fullmatch(label)
    return match["name"] if match else None


@dataclass
class SeriesChoice:
    """The run to analyse (with the aggregate series added, if one was asked for), the metric
    to pass on (None: let the analysis choose as before) and what to tell the user."""

    run: Run
    metric: str | None
    warnings: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)


def series_names(run: Run, metric: str | None) -> tuple[str | None, list[str]]:
    """(the role or pattern, the run's own series it names): several when it covers several
    validation sets. A plain metric the run holds names itself only."""
    if metric is None:
        from phasewatch.signals import choose_metric

        metric = choose_metric(run, None)
    if any(c in metric for c in "*?["):
        found = sorted(m for m in run.metrics if fnmatch.fnmatchcase(m, metric))
        if not found:
            raise UsageError(unknown_metric_message(metric, run.metrics))
        return metric, found
    if metric in ROLE_CANDIDATES and metric not in run.metrics:
        found = role_matches(metric, run.metrics)
        if found:
            return metric, found
    if metric not in run.metrics:  # Lightning's loaders of `val_acc` (`val_acc/dataloader_idx_0`)
        loaders = sorted((own for own, base in loader_bases(run.metrics).items() if base == metric),
                         key=set_order)
        if len(loaders) > 1:
            return metric, loaders
    own = run.own_name(metric)
    return metric, [own] if own is not None else []


def choose_series(run: Run, metric: str | None = None, aggregate: str | None = None) -> SeriesChoice:
    """What `analyze`/`plot` analyse: see the module docstring."""
    if aggregate is not None and aggregate not in AGGREGATES:
        raise UsageError(f"--aggregate must be one of {', '.join(AGGREGATES)}, not {aggregate!r}")
    name, sets = series_names(run, metric)
    if len(sets) <= 1:
        if metric is not None and any(c in metric for c in "*?["):
            return SeriesChoice(run, sets[0], sets=sets)
        return SeriesChoice(run, metric, sets=sets)
    levels = taxonomic_levels(sets)
    sets = levels or sets  # coarsest level first
    listed = ", ".join(sets[:8]) + (f", ... ({len(sets)} in all)" if len(sets) > 8 else "")
    if aggregate is None:
        overall = overall_set(sets)
        chosen = overall or (levels[-1] if levels else None) \
            or (run.own_name(name) if name in ROLE_CANDIDATES else sets[0])
        chosen = chosen or sets[0]
        kind = sets_kind(sets, run.metrics)
        apart = trained_apart(sets, run.metrics)
        if apart is not None:  # why they are no validation sets, in the log's own names
            listed += (f" ({' and '.join(apart)} each have a training series of their own: "
                       "models or estimators trained apart, not one model's validation sets)")
        warning = (f"{len(sets)} {kind} hold {name}: {listed}; analysed {chosen} "
                   + ("(the log's total over the sets). " if overall else
                      "only, the finest level (the log does not say which level the run is "
                      "judged by). " if levels else "only. ")
                   + "Choose one with --metric NAME"
                   # a mean of a top-1 and a top-5 accuracy measures nothing
                   + (", or analyse their mean with --aggregate mean"
                      if kind == "validation sets" else ""))
        return SeriesChoice(run, chosen, [warning], sets)
    label = mean_label(name, sets)
    new_run, dropped = with_mean(run, sets, label)
    warnings = [f"analysed {label}: {listed}"]
    if dropped:
        warnings.append(f"{dropped} evaluation steps left out of the mean: not every set was "
                        "evaluated there")
    return SeriesChoice(new_run, label, warnings, sets)


def sets_kind(sets: list[str], names: Iterable[str] = ()) -> str:
    """What the several series behind one role are, for the notices that name them
    (`analyze`'s warning, `inspect`'s performance line): "taxonomic levels" of one validation
    set (`level_names`), "accuracies" of different kinds on one split
    (`heldout_names.several_accuracies`), "held-out series" of models or estimators trained
    apart (`trained_apart`, by the log's other `names`), else "validation sets"."""
    if taxonomic_levels(sets):
        return "taxonomic levels"
    if several_accuracies(sets):
        return "accuracies"
    return "held-out series" if trained_apart(sets, names) is not None else "validation sets"


def trained_apart(sets: list[str], names: Iterable[str]) -> list[str] | None:
    """The parts the held-out `sets` differ by (`test/nnPU/error`, `test/uPU/error`: nnPU,
    uPU) where each also names a training series of the log's (`names`), outside any held-out
    split (`nnPU/loss`, `train/nnPU/error`), and no loss is logged that none of them names;
    else None. Then each part is something trained on its own (a model, an estimator, an
    objective) and the sets are its scores on one held-out set, not one model's scores on
    several: a mean of them is no score of anything, so none is offered. A dataset is not
    trained apart: one model's validation sets (`val/gsm8k/loss`, `val/math/loss`) have no
    training series of their own, or one loss beside them (`train/loss`) where a multi-task
    run logs one per dataset too."""
    parts = [_PART.split(name.lower()) for name in sets]
    if len(sets) < 2 or len({len(p) for p in parts}) != 1:
        return None
    varying = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) > 1]
    own = [{p[i] for i in varying} for p in parts]
    if not varying or any(own_parts & SPLIT_WORDS for own_parts in own):
        return None  # series of different splits, not of things trained apart
    held = set(sets)
    training = [set(_PART.split(name.lower())) for name in names
                if name not in held and held_out_match(name) is None]
    if not all(any(own_parts <= words for words in training) for own_parts in own):
        return None
    every = set().union(*own)
    if any(not words & every and any("loss" in word for word in words) for words in training):
        return None  # one loss of the whole model beside them: its validation sets
    return ["/".join(_PART.split(sets[k])[i] for i in varying) for k in range(len(sets))]


def overall_set(sets: list[str]) -> str | None:
    """The one set whose name differs from the others' only in OVERALL_WORDS: the total the
    log itself gives, which a reader of the run judges it by, rather than the first set by
    name (a split by difficulty's "easy"). None when there is no such set, or several."""
    parts = [name.split("/") for name in sets]
    if len({len(p) for p in parts}) != 1:
        return None
    varying = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) > 1]
    found = [name for name, p in zip(sets, parts)
             if varying and all(p[i].lower() in OVERALL_WORDS for i in varying)]
    return found[0] if len(found) == 1 else None


def with_mean(run: Run, sets: list[str], label: str) -> tuple[Run, int]:
    """A copy of `run` with one more metric, `label`: the mean of `sets` at each step where all
    of them are finite; and how many steps some set missed."""
    import pandas as pd  # here, not at import: `analyze` without --aggregate runs without it

    columns = [run.series(name) for name in sets]
    frame = pd.concat(columns, axis=1, join="outer")
    complete = frame.dropna()
    if complete.empty:
        raise UsageError(f"the sets {', '.join(sets)} are never evaluated at the same step; "
                         "choose one with --metric")
    mean = complete.to_numpy(dtype=np.float64).mean(axis=1)
    rows = pd.DataFrame({"step": complete.index.to_numpy(dtype=np.int64),
                         "metric": pd.Series([label] * len(mean), dtype=object),
                         "value": mean})
    table = pd.concat([run.table, rows], ignore_index=True)
    return dataclasses.replace(run, table=table), int(len(frame) - len(complete))
