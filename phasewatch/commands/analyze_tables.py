"""The tables `phasewatch analyze` prints for several runs: the comparison (one line per run)
and `--format csv` (one row per phase of each run)."""

from __future__ import annotations

import re

from phasewatch.commands.phase_line import _fmt
from phasewatch.results import Analysis, not_established, too_few_to_name
from phasewatch.step_units import at, step_text, unit_scale, unit_word


def print_comparison(analyses: list[Analysis], axes: list | None = None) -> None:
    """One line per run; a run whose steps are not steps (Keras epochs, an HF console log's
    epochs) says its unit: "stop epoch 1.35", "readaptation@epoch 0.225". With `--x` (`axes`:
    each run's `xaxis.XAxis`, or None where its steps are in the unit already) the stop and
    the phases are in that unit, named once in the header where every run shares it ("stop
    epoch", "phases @epoch"), as each run's phase lines above give them: in steps they read 240
    for two runs whose phase lines said epoch 2.4 and epoch 4.8. `at stop` is the level the
    stop was ranked by: the evaluation there, or, marked "*" and said below the
    table, the mean of the stretch it was chosen from on a train reward too noisy for one
    (`checkpoint.stop_level`; trial 39b: "at stop 2.542", a GRPO reward's maximum, where the
    run ended at 1.49). A short series' confidence and its plateaus not established are said
    as its text says them (trial 39b: dyndpo's "plateau@epoch 0.22", 4 evaluations, read as
    a plateau found)."""
    axis_of = {id(a): axis for a, axis in zip(analyses, axes or [None] * len(analyses))}
    units = {axis.unit if axis is not None else unit_word(a.extra.get("step_unit", "step"))
             for a, axis in zip(analyses, axis_of.values())}
    shared = units.pop() if len(units) == 1 and any(axis_of.values()) else None

    def where(a: Analysis, step) -> str:
        axis, unit = axis_of[id(a)], a.extra.get("step_unit", "step")
        if step is None:
            return "-"
        if axis is not None:
            value = f"{axis.at(step):.4g}"
            return value if shared else f"{axis.unit} {value}"
        if shared:
            return step_text(step, unit)
        return _fmt(step) if unit == "step" else at(step, unit)

    names = _run_names([a.source for a in analyses])
    width = max(len(name) for name in names)
    stop, phases = (f"stop {shared}", f"phases @{shared}") if shared else ("stop", "phases")
    print(f"{'run':<{width}}  {'metric':<22} {'baseline':>9} {stop:>8} {'at stop':>9}  {phases}")
    notes = []
    for name, a in zip(names, analyses):
        # the evaluation at the stop, not the run's best reading (trial 36b: "best 2.822"
        # beside "stop 214" was one lucky batch at step 304, and the run's text said 2.75)
        at_stop, level = _fmt(a.extra.get("stop_value")), a.extra.get("stop_level")
        if level is not None:
            notes.append(f"* {name}: the mean of the {level['evaluations']} evaluations the stop "
                         f"was ranked by (one is too noisy to rank by); the evaluation at the "
                         f"stop is {at_stop}")
            at_stop = _fmt(level["value"]) + "*"
        seq = _phase_sequence(a, where)
        if "confidence" in a.extra:
            seq += f"; confidence {a.extra['confidence']}"
        seq += _stop_hedge(a)
        print(f"{name:<{width}}  {a.metric:<22} {_fmt(a.baseline):>9} "
              f"{where(a, a.recommended_stop_step):>{max(8, len(stop))}} {at_stop:>9}  {seq}")
    for note in notes:
        print(note)


def _stop_hedge(a: Analysis) -> str:
    """What the stop rests on, as the run's text says it beside "recommended stop": "; stop no
    better than the last" (`stop_beats_last` false), "; stop not established against the last
    (3 evaluations, noise unknown)" (`checkpoint.unranked_stop`; trial 40b: marian's stop 20000
    at BLEU 0.4308 against 0.4213 at the end, 3 evaluations, was said without it)."""
    from phasewatch.checkpoint import unranked_stop

    if a.extra.get("stop_beats_last") is False:
        return "; stop no better than the last"
    unranked = unranked_stop(a)
    return "" if unranked is None else f"; stop not established against the last ({unranked})"


_CHECKPOINT_STATE = re.compile(r"[/\\]checkpoint-\d+[/\\]trainer_state\.json$")


def _run_names(sources: list[str]) -> list[str]:
    """Each run as the table names it: a Trainer output folder read from its newest checkpoint
    by the folder (`dpo_b01`, not `dpo_b01/checkpoint-400/trainer_state.json`: trial 38),
    unless two runs would then share a name; the text above the table names the file."""
    short = [_CHECKPOINT_STATE.sub("", source) for source in sources]
    return short if len(set(short)) == len(short) else list(sources)


def _phase_sequence(a: Analysis, where) -> str:
    """"improvement@0 > plateau@300 | RL from 700: improvement@700": a joined run's stage switch
    sits between its stages' phases (each stage's phases are named separately); an overfit or a
    disruption over whose steps the train metric got worse too is marked "(train worse too)"
    (`train_beside`: hf-siasio-8ev's "overfit@1250" was a divergence of training), a short
    series' plateau that moved "(not established)" (`not_established`); a series of one or two
    readings names none ("one evaluation: no phases", `too_few_to_name`)."""
    if few := too_few_to_name(a):
        return few
    stages, switches = [("", [])], list(a.stage_switch_steps)
    for p in a.phases:
        if switches and p.start_step is not None and p.start_step >= switches[0]:
            stages.append((f"RL from {where(a, switches.pop(0))}: ", []))
        mark = " (train worse too)" if "train_worse" in p.stats else ""
        mark += " (not established)" if not_established(a, p) else ""
        stages[-1][1].append(f"{p.name}@{where(a, p.start_step)}{mark}")
    return " | ".join(label + " > ".join(names) for label, names in stages if label or names)


CSV_COLUMNS = ("source", "metric", "direction", "baseline", "recommended_stop_step", "phase",
               "start_step", "end_step", "start_value", "end_value", "change", "change_sd",
               "trough_step", "depth", "time_to_recover", "peak_step", "gain_over_baseline",
               "decline_since_peak", "n_points", "confidence", "established", "level", "drift",
               "step_unit", "stop_beats_last", "saved_checkpoint", "saved_checkpoint_step",
               "stage_switch_step")
# the columns that hold a step (in epochs where the log states no step: `step_unit`)
CSV_STEPS = ("recommended_stop_step", "start_step", "end_step", "trough_step",
             "time_to_recover", "peak_step", "saved_checkpoint_step", "stage_switch_step")


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def x_columns(unit: str | None) -> tuple[str, ...]:
    """The columns `--x UNIT` adds (none without it, or for `--x step`): each step column again
    in the unit, named for it (`recommended_stop_epoch`, `start_epoch`, ...,
    `time_to_recover_epoch`), after the step columns, which stay steps."""
    if unit in (None, "step"):
        return ()
    return tuple(re.sub(r"_step$", "", k) + f"_{unit}" for k in CSV_STEPS)


def _in_unit(row: dict, axis, unit: str, steps_count: str) -> dict:
    """`row`'s step columns in `unit` (`x_columns`): read on the run's `--x` axis (a duration,
    `time_to_recover`, as the axis' difference over it: `xaxis.annotate`), or the step columns
    themselves where the run's steps count that unit already (`axis` None: a Keras log's
    epochs under `--x epoch`), else empty."""
    names = dict(zip(CSV_STEPS, x_columns(unit)))
    if axis is None:
        same = unit_word(steps_count) == unit
        return {names[k]: row.get(k) if same else None for k in CSV_STEPS}
    out = {names[k]: None if row.get(k) is None else axis.at(row[k]) for k in CSV_STEPS}
    trough, recover = row.get("trough_step"), row.get("time_to_recover")
    if trough is not None and recover is not None:
        out[names["time_to_recover"]] = axis.at(trough + recover) - axis.at(trough)
    return out


def write_csv(analyses: list[Analysis], stream, unit: str | None = None,
              axes: list | None = None) -> None:
    """One row per phase of each run (a run with no phases gets one row without a phase);
    `confidence` is filled for a short series (low, moderate, high), empty otherwise;
    `step_unit` says what the step columns count: "step", "epoch" (Keras), or "epoch" for an
    HF console log that states no step, whose step columns are then its epochs (1.35). The last
    columns repeat the JSON's `stop_beats_last` (True / False, empty where the recommended
    checkpoint is the last, or where no noise ranks it: a run of 3-4 evaluations whose text
    says "not established against the last") and, in a Hugging Face output folder, its
    `saved_checkpoint`: the folder to load (its path) and its step (the text's "checkpoint to
    keep"); `established` is False for a phase the text says is "not established" (a short
    series' plateau that moved), empty otherwise. With `--x` (`unit`; `axes`: each run's
    `xaxis.XAxis`, or None where its steps are in the unit already) the step columns follow
    again in that unit (`x_columns`), as the text and the JSON give the stop and the phases in
    it: in steps alone two runs of 100 and 50 steps an epoch read the same where their text said
    epoch 2.4 and epoch 4.8."""
    import csv  # only for --format csv: not on the path of the JSON and text outputs

    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS + x_columns(unit),
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for a, axis in zip(analyses, axes or [None] * len(analyses)):
        head = {"source": a.source, "metric": a.metric, "direction": a.direction,
                "baseline": a.baseline, "recommended_stop_step": a.recommended_stop_step,
                # a short series' phases are named with the confidence its few points support
                "confidence": a.extra.get("confidence"),
                "stop_beats_last": a.extra.get("stop_beats_last"),
                "stage_switch_step": next(iter(a.stage_switch_steps), None)}
        if a.saved_checkpoint is not None and (saved := a.saved_checkpoint.to_dict()):
            head.update(saved_checkpoint=saved.get("path"), saved_checkpoint_step=saved.get("step"))
        for phase in a.phases or [None]:
            row = dict(head)
            if phase is not None:
                row.update(phase.stats, phase=phase.name, start_step=phase.start_step,
                           end_step=phase.end_step)
                if not_established(a, phase):
                    row["established"] = False
            counts = a.extra.get("step_unit", "step")
            row["step_unit"] = unit_word(counts)
            if unit_scale(counts) != 1:
                row.update({k: float(step_text(row[k], counts)) for k in CSV_STEPS
                            if row.get(k) is not None})
            if x_columns(unit):
                row.update(_in_unit(row, axis, unit, counts))
            writer.writerow({k: _cell(v) for k, v in row.items()})
