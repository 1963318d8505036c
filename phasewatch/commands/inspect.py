"""`phasewatch inspect PATH`: what a log holds (format, steps, metrics and their values, warnings),
and which performance metric `analyze` would take from it, so a user sees at once whether the
log is the one they meant and whether the numbers look right (a loss of 1e6, an accuracy that
never moves)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from phasewatch.metric_table import MetricTable, metric_table
from phasewatch.output import digits_apart, listed
from phasewatch.presets import ROLE_CANDIDATES, later_matches, role_matches
from phasewatch.step_counters import run_counters
from phasewatch.step_units import at, scaled_words, step_text, unit_scale, unit_word
from phasewatch.whole_plan import plan_source, run_plan

HELP = "show what a log file or run folder holds: format, steps, metrics and values, warnings"
NOTES_SHOWN = 10  # metrics whose values that are no reading get a note each; then a count


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH",
                        help="a log file, a run folder, or a folder of runs (listed)")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="output")


def performance(run) -> dict | None:
    """The metric `analyze` would take (its choice rules), with its first, last and best value;
    None when the run has none of the performance roles."""
    from phasewatch.choice_notes import fallback_note
    from phasewatch.errors import UsageError
    from phasewatch.metric_sets import choose_series, sets_kind
    from phasewatch.presets import bare_split_loss
    from phasewatch.signals import choose_direction, choose_metric

    try:
        role = choose_metric(run)
        choice = choose_series(run)  # of several validation sets, the one analyze takes
        metric = choose_metric(run, choice.metric)
        direction = choose_direction(run, metric)
    except UsageError:
        return None
    series = run.column(metric)
    own = series.name
    train = fallback_note(run, role) is not None  # a train loss: no held-out metric logged
    beside = bare_split_loss(own, run.metrics)  # a console's `val=` read beside its `loss=`
    sets = len(choice.sets) if len(choice.sets) > 1 else None
    kind = sets_kind(choice.sets, run.metrics) if sets else None
    if series.size == 0:
        return {"metric": own, "direction": direction, "train_fallback": train,
                "loss_beside": beside, "sets": sets,
                "sets_kind": kind, "count": 0,
                "first_step": None, "last_step": None, "first": None, "last": None,
                "best": None, "best_step": None}
    steps, values = series.steps, series.values
    best = int(np.argmax(values) if direction == "max" else np.argmin(values))
    return {"metric": own, "direction": direction, "train_fallback": train,
            "loss_beside": beside, "sets": sets, "sets_kind": kind, "count": series.size,
            "first_step": int(steps[0]), "last_step": int(steps[-1]),
            "first": float(values[0]), "last": float(values[-1]), "best": float(values[best]),
            "best_step": int(steps[best])}


def summarize(run) -> dict:
    """The `inspect` JSON contract (without schema_version): the contract's keys, each metric's
    values (`first`, `last`, `min`, `max`), `performance` and `config` added."""
    return {
        "source": run.source,
        "format": run.format,
        "n_records": run.n_records,
        "n_steps": run.n_steps,
        "metrics": metric_table(run.columns()).as_dicts(),
        "warnings": list(run.warnings) + non_finite_notes(run),
        "performance": performance(run),
        "planned_steps": run_plan(run),
        # the settings the log states (Lightning's hparams.yaml, HF's TrainingArguments...)
        "config": dict(run.config),
    }


def non_finite_notes(run, shown: int = NOTES_SHOWN) -> list[str]:
    """What each metric's count leaves out, said as `analyze` says it of the metric it takes
    (`signals.non_finite_note`): a NaN evaluation left a count one short, unexplained. The
    first `shown` such metrics by name, then how many more."""
    from phasewatch.output import listed
    from phasewatch.signals import non_finite_note

    columns = run.columns()
    names = sorted(_with_non_finite(columns))
    notes = [non_finite_note(name, *columns[name]) for name in names[:shown]]
    if len(names) > shown:
        notes.append(f"values left out as non-finite in {len(names) - shown} more metrics "
                     f"({listed(names[shown:], 5)})")
    return notes


def _with_non_finite(columns) -> list[str]:
    """The metrics with a value that is no reading (`values.MAX_VALUE`); millions of packed
    metrics (`metric_table`) in one pass over their values."""
    from phasewatch.values import MAX_VALUE

    packed = hasattr(columns, "packed")
    found = [name for name, (_, values) in (columns.plain() if packed else columns).items()
             if not (np.abs(values) <= MAX_VALUE).all()]
    if packed:
        names, starts, _, values = columns.packed()
        rows = np.flatnonzero(~(np.abs(values) <= MAX_VALUE))
        if rows.size:
            owners = np.unique(np.searchsorted(starts, rows, side="right") - 1)
            ids = np.flatnonzero(np.diff(starts))  # the packed metrics, as `names` lists them
            found += [names[i] for i in np.searchsorted(ids, owners).tolist()]
    return found


def _num(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def performance_line(perf: dict | None, unit: str = "step") -> str:
    if perf is None:
        return "performance metric: none of the usual ones (analyze needs --metric)"
    if not perf["count"]:
        return f"performance metric: {perf['metric']} ({perf['direction']}), no finite values"
    better = "higher" if perf["direction"] == "max" else "lower"
    what = "; the train loss, as no held-out metric or reward is known by name" \
        if perf.get("train_fallback") else ""
    if perf.get("loss_beside"):
        what = f"; read as the held-out loss beside {perf['loss_beside']}"
    if perf.get("sets"):
        kind = perf.get("sets_kind") or "validation sets"
        what += f"; 1 of {perf['sets']} {kind}, as analyze takes it"
    head = f"performance metric: {perf['metric']} ({better} is better{what}), "
    if perf["count"] == 1:  # no first, last and best of a single value
        return f"{head}1 value, at {at(perf['first_step'], unit)}: {_num(perf['first'])}"
    span = f"{step_text(perf['first_step'], unit)}-{step_text(perf['last_step'], unit)}"
    digits = digits_apart(perf["first"], perf["last"], perf["best"])
    return (f"{head}{perf['count']} values over {unit_word(unit)}s {span}: first "
            f"{_num(perf['first'], digits)}, last {_num(perf['last'], digits)}, best "
            f"{_num(perf['best'], digits)} at {at(perf['best_step'], unit)}")


def list_runs(path: str, output: str) -> int:
    """A folder of runs: one line (JSON: one summary) per run; a run that cannot be read is
    reported and the others still listed (exit 4 when some failed)."""
    from phasewatch.each_run import exit_code, run_each
    from phasewatch.io import read_run
    from phasewatch.output import emit_json

    summaries, failures = run_each([path], lambda run_path: summarize(read_run(run_path)))
    if output == "json":
        emit_json({"source": path, "format": "folder of runs", "runs": summaries,
                   "failed": [f.to_dict() for f in failures]})
        return exit_code(summaries, failures)
    kind = "folder" if Path(path).is_dir() else "store"  # a folder, or an mlflow.db / Trackio .db
    print(f"{path}  [{kind} of {len(summaries) + len(failures)} runs]")
    width = max((len(s["source"]) for s in summaries), default=10)
    for s in summaries:
        perf = s["performance"]
        metric = perf["metric"] if perf else "no performance metric"
        print(f"  {s['source']:<{width}}  {s['format']:<14} {s['n_records']:>8} records "
              f"{s['n_steps']:>8} steps  {len(s['metrics']):>4} metrics  {metric}")
    for f in failures:
        print(f"  {f.source:<{width}}  not readable: {f.error}")
    return exit_code(summaries, failures)


def run(args: argparse.Namespace) -> int:
    from phasewatch.each_run import expand
    from phasewatch.io import read_run
    from phasewatch.output import counted, emit_json

    if len(expand([args.path])) > 1:
        return list_runs(args.path, args.output)
    run_ = read_run(args.path)
    if args.output == "json":
        emit_json(summarize(run_))
        return 0
    print(f"{run_.source}  [{run_.format}]")
    print(f"{counted(run_.n_records, 'record')}, {counted(run_.n_steps, 'distinct step')}")
    unit = getattr(run_, "step_unit", "step") or "step"
    if unit_scale(unit) != 1:  # an HF console log whose banner does not fix its steps
        print(f"no training step in the log: positions are {unit_word(unit)}s "
              f"(the JSON output's steps are {scaled_words(unit)})")
    if (plan := plan_source(run_, unit)) is not None:  # in `watch`'s words (`PlanSource.where`)
        print(f"planned to end at {at(plan.steps, unit)} ({plan.where()})")
    if run_.events:
        print("events: " + ", ".join(f"{e.name}@{e.step}" for e in run_.events))
    perf = performance(run_)
    # a metric logged per epoch beside per-batch steps says epochs (`step_counters`)
    counters = run_counters(run_)
    from phasewatch.signals import timings_only

    if perf is None and timings_only(run_):
        print(f"performance metric: none: the log holds only timings of the run "
              f"({listed(run_.metrics, 20)})")
    else:
        print(performance_line(perf, counters.units.get(perf["metric"], unit) if perf else unit))
    roles = role_column(run_, perf["metric"] if perf else None)
    for piece in table_text(metric_table(run_.columns()), roles, unit=unit):
        sys.stdout.write(piece)
    if run_.printed_names:  # the names the console shows beside those of the table
        print("printed names read under others: " + listed(
            [f"{printed} as {own}" for printed, own in run_.printed_names.items()], 8)
            + " (--metric takes either)")
    for warning in run_.warnings + non_finite_notes(run_) + ([counters.note] if counters.note
                                                             else []):
        print(f"warning: {warning}")
    return 0


def role_column(run, chosen: str | None) -> dict[str, str]:
    """Each metric's role for the table's role column. A name's role where it has one
    (eval_exact_match: eval/accuracy), before its HF spelling (eval/exact_match), which is no
    role (trial 38: the column showed the spelling). A role's later name that analyze takes
    (`chosen`, from `signals.choose_metric`: a pose model's box mAP `metrics/mAP50-95(B)`
    where its keypoint mAP `(P)` is 0 at every epoch) carries the role in place of the names
    passed over, so the column agrees with the performance line above it."""
    roles: dict[str, str] = {}
    for canon, own in sorted(run.aliases.items(), key=lambda item: item[0] not in ROLE_CANDIDATES):
        # each named set's metric too (eval_expert_val_loss beside eval_base_val_loss: trial 40c
        # showed eval/loss for the first set and eval/expert_val_loss for the second)
        matched = role_matches(canon, run.metrics) if canon in ROLE_CANDIDATES else [own]
        if chosen is not None and chosen not in matched and canon in ROLE_CANDIDATES \
                and chosen in later_matches(canon, run.metrics):
            matched, own = [chosen], chosen
        # (a Lightning `_epoch` series with too few values gives its role to its `_step` twin)
        for name in matched if own in matched else [own]:
            roles.setdefault(name, canon)
    return roles


TABLE_HEADER = ("metric", "count", "steps", "first", "last", "min", "max", "role")


def table_text(table: MetricTable, roles: dict[str, str], rows_per_piece: int = 1 << 16,
               unit: str = "step"):
    """The metric table as text, in pieces of `rows_per_piece` lines (one string of 5M lines
    is GBs). Each column's distinct values are formatted once and shared by the rows that hold
    them (a verl line of 5M items has a handful of distinct values): no per-row formatting."""
    names = table.names
    steps = np.stack([table.count > 0, table.first_step, table.last_step], axis=1)  # (any step may be < 0)
    columns = [_shared_strings(table.count, str),
               _shared_strings(steps, lambda row: f"{step_text(int(row[1]), unit)}-"
                               f"{step_text(int(row[2]), unit)}" if row[0] else "-")]
    columns += [_shared_strings(getattr(table, f), lambda v: "-" if math.isnan(v) else f"{v:.4g}")
                for f in ("first", "last", "min", "max")]
    widths = [max(len(TABLE_HEADER[0]), max(map(len, names), default=0))]
    widths += [max(len(TABLE_HEADER[i + 1]), max(map(len, strings), default=0))
               for i, (strings, _) in enumerate(columns)]
    padded = [[s.rjust(w) for s in strings] for (strings, _), w in zip(columns, widths[1:])]
    head = "  ".join([TABLE_HEADER[0].ljust(widths[0]),
                      *(h.rjust(w) for h, w in zip(TABLE_HEADER[1:7], widths[1:])), TABLE_HEADER[7]])
    yield head.rstrip() + "\n"
    row_role = {i: roles[name] for i, name in enumerate(names) if name in roles} if roles else {}
    for lo in range(0, len(names), rows_per_piece):
        hi = min(len(names), lo + rows_per_piece)
        cells = [[strings[k] for k in index[lo:hi].tolist()] for strings, (_, index) in zip(padded, columns)]
        lines = map("  ".join, zip((n.ljust(widths[0]) for n in names[lo:hi]), *cells))
        if any(lo <= i < hi for i in row_role):
            lines = (line + "  " + row_role[i] if i in row_role else line
                     for i, line in zip(range(lo, hi), lines))
        yield "\n".join(lines) + "\n"


def _shared_strings(values: np.ndarray, fmt) -> tuple[list[str], np.ndarray]:
    """(the distinct values formatted, each row's index into them); floats compared by their
    bits (-0.0 and 0.0 stay apart), rows of a 2-D array as one value."""
    keys = values.view(np.int64) if values.dtype == np.float64 else values
    if len(keys) == 0:  # a log with no numeric metric
        return [], np.zeros(0, dtype=np.intp)
    if (keys == keys[0]).all():  # one value in every row (a wide verl line)
        unique, index = keys[:1], np.zeros(len(keys), dtype=np.intp)
    elif keys.ndim == 2:
        unique, index = _unique_rows(keys)
    else:
        unique, index = np.unique(keys, return_inverse=True)
    if keys.ndim == 2:
        return [fmt(row) for row in unique.tolist()], index.reshape(-1)
    as_values = unique.view(np.float64) if values.dtype == np.float64 else unique
    return [fmt(v) for v in as_values.tolist()], index.reshape(-1)


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(rows, axis=0, return_inverse=True), through one int64 key per row when the
    columns' ranges allow it (several times faster than sorting rows)."""
    low = rows.min(axis=0)
    spans = [int(s) + 1 for s in (rows.max(axis=0) - low)]
    if np.prod([float(s) for s in spans]) >= 2.0**62:
        return np.unique(rows, axis=0, return_inverse=True)
    key = np.zeros(len(rows), dtype=np.int64)
    for j, span in enumerate(spans):
        key = key * span + (rows[:, j] - low[j])
    _, first, index = np.unique(key, return_index=True, return_inverse=True)
    return rows[first], index
