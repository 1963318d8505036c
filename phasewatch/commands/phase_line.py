"""The line `analyze` prints for one phase: its span, values and change, and what its kind
says beside them (a disruption's trough and recovery, a rise's best, a plateau's level, an
overfit's decline from its best), in the metric's own units and direction."""

from __future__ import annotations

import math

from phasewatch.commands.ends_read import ends_read
from phasewatch.output import counted, digits_apart
from phasewatch.phases import PhaseConfig
from phasewatch.step_units import at, step_text, unit_scale, unit_word


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


UNIT_NAMES = {"epoch": "epoch", "tokens": "token", "samples": "sample"}  # one; `counted`


def _side(size, word: str, opposite: str) -> str:
    """'0.09 below' for a size of 0.09 on the `word` side, '0.09 above' for -0.09: a size is
    printed as a size and the word says which side (a rise that stays short of the start is
    "best 0.09 below the start", not "-0.09 above")."""
    if size is None:
        return f"- {word}"
    return f"{_fmt(abs(size))} {word if size >= 0 else opposite}"


def phase_line(phase, direction: str = "max", unit: str = "step",
               reference: str = "the start", steps_count: str = "step",
               baseline: float | None = None, reading: str = "evaluation") -> str:
    """One line a person reads at a glance: name, steps, values, change, the effect size, in
    the metric's own units and direction (for a loss, worse is above). With another x `unit`
    (`--x epoch`) the phase's span is given in it. `reference` names the level depth and gain
    are measured from ("the baseline" when `--baseline` put it elsewhere than the start).
    `steps_count`: what the steps are ("epoch" for a Keras History: "recovered after 3
    epochs"). `baseline`: the level gains are measured from (`_short_of_held_end`).
    `reading`: what one value is ("evaluation"; "reading" on a series scored on the training
    batches, `train_beside.is_train_metric`), where the line counts them."""
    s = phase.stats
    change_sd = s.get("change_sd")
    worse, better = ("below", "above") if direction == "max" else ("above", "below")
    start, end = phase.start_step, phase.end_step
    if unit != "step" and "start_x" in s:
        start, end = f"{s['start_x']:.4g}", f"{s['end_x']:.4g}"
    digits = digits_apart(s.get("start_value"), s.get("end_value"))
    line = (f"  {phase.name:<13}{start:>8} -> {end:<8}"
            f"{_fmt(s.get('start_value'), digits):>9} -> {_fmt(s.get('end_value'), digits):<9}"
            f" change {s.get('change', 0):+.4g}"
            + (f" ({change_sd:+.1f} sd)" if change_sd is not None else ""))
    if phase.name == "disruption":
        recover = s.get("time_to_recover")
        if recover is not None and unit != "step" and s.get("time_to_recover_x", 0) > 0:
            recover = counted(f"{s['time_to_recover_x']:.3g}", UNIT_NAMES.get(unit, unit))
        elif recover is not None:
            steps_taken = recover
            recover = (f"{step_text(recover, steps_count)} {unit_word(steps_count)}"
                       + ("" if recover == unit_scale(steps_count) else "s"))
            if unit == "epoch" and "trough_x" in s and steps_taken:
                # trough and recovery in one epoch of a whole-epoch counter (Lightning's): "0
                # epochs" read as no time at all (trial 40d: 10 steps, both in epoch 2)
                recover += f", within epoch {s['trough_x']:.4g}"
        # a loss's worst point is its highest: "trough 0.23 above the start" read as a dip
        low = "trough" if direction == "max" else "worst"
        line += f"  {low} {_side(s.get('depth'), worse, better)} {reference}, "
        short, short_sd = s.get("end_short"), s.get("end_short_sd")
        if recover is not None:
            line += f"recovered after {recover}"
        elif short is None:
            line += "not recovered"
        elif short_sd is not None and abs(short_sd) <= PhaseConfig.recover_sd:
            # never back at the level, but within the noise of it: the phases' own rule of a
            # recovery (`phases.PhaseConfig.recover_sd`), and what "the last ... is as good
            # within the noise" beside it says ("not recovered (... 0.5 sd)" read as both)
            line += (f"back within the noise of {reference} (the run ends "
                     f"{_side(short, worse, better)} it, {abs(short_sd):.1f} sd)")
        else:  # by how much, at the run's end
            # a fall whose floor sits further off than its end (the loss rising on after the
            # fall's boundary): "worse still", so the two numbers are not read as a contradiction
            ends = "worse still at its end:" if short > (s.get("depth") or 0) else "the run ends"
            line += (f"not recovered ({ends} {_side(short, worse, better)} {reference}"
                     + (f", {abs(short_sd):.1f} sd" if short_sd is not None else "") + ")")
    elif phase.name in ("readaptation", "improvement"):
        # where the start printed is a mean (`ends_averaged`), not the first evaluation the
        # gain is measured from, the line names that one as the header does
        ref = "the baseline" if {"ends_averaged", "start_averaged"} & set(s) else reference
        gain = s.get("gain_over_baseline")
        # a rise that stays short of the start is still below it: "best 0.0061 below the start"
        # read as a best that is the start's better (trial 36b)
        still = " still" if gain is not None and gain < 0 else ""
        short = _short_of_held_end(s, gain, baseline, direction)
        line += f"  best{' ' + reading if short else ''}{still} {_side(gain, better, worse)} {ref}"
        if s.get("peak_step") is not None:
            level = _best_is_end_level(phase, baseline, direction)
            line += (f" ({'the level it ends on, at ' if level else ''}"
                     f"{_peak(s, unit, steps_count, reading)})")
        line += ", short of the level held after it" if short else ""
    elif phase.name == "plateau" and "level" in s:
        line += f"  level {_fmt(s['level'], digits)}"
    elif phase.name == "overfit":
        line += f"  {_side(s.get('decline_since_peak'), worse, better)} " + _from_peak(
            s, unit, steps_count, reading, worse, better)
    return line + ends_read(s, reading)


def _short_of_held_end(stats: dict, gain: float | None, baseline: float | None,
                       direction: str) -> bool:
    """Whether a rise ends on the level the plateau after it holds (`end_held`, `end_held_mean`:
    `whole_run_trend.trend_edges`) beyond its best evaluation, which `gain_over_baseline`
    measures, by more than one noise sd (`change` / `change_sd`; within it the two are one
    level): "change -0.367 ... best 0.276 below the start (step 3)" (wandb-alpaca-sft, a fall
    to a floor it reached after its boundary, 1.4 sd apart) read as two answers to one
    question."""
    held = {"end_held", "end_held_mean"} & set(stats)
    change_sd = stats.get("change_sd")
    if not held or gain is None or baseline is None or "peak_averaged" in stats \
            or not change_sd:
        return False
    end_gain = (stats["end_value"] - baseline) * (1.0 if direction == "max" else -1.0)
    return end_gain - gain > abs(stats["change"] / change_sd)


def _best_is_end_level(phase, baseline: float | None, direction: str) -> bool:
    """Whether a rise's best, as its line quotes it, is the level it ends on read from several
    evaluations (a mean of its last stretch, the median of the plateau held after it:
    `ends_read` says which), not the evaluation logged at its last step, which `peak_step`
    names: "best 0.2534 above the baseline (step 93)" of a GRPO score logged 0.37 at step 93,
    the 0.14 quoted being the median of the 202 evaluations held after it
    (verl-consis-grpo-score-700; jsonl-countdown-sft-grpo-acc's "(step 500)" quoted the mean of
    its last 30 evaluations, 0.83, where step 500 logged 0.75)."""
    s = phase.stats
    gain = s.get("gain_over_baseline")
    read = {"ends_averaged", "end_averaged", "end_held", "end_held_mean"} & set(s)
    if gain is None or baseline is None or not read or "peak_averaged" in s \
            or s.get("peak_step") != phase.end_step or s.get("end_value") is None:
        return False
    best = baseline + (gain if direction == "max" else -gain)
    return math.isclose(best, s["end_value"], rel_tol=1e-9, abs_tol=1e-12)


def _from_peak(stats: dict, unit: str, steps_count: str, reading: str, worse: str,
               better: str) -> str:
    """'its best (step 130)', or where the overfit holds a better evaluation than the peak its
    decline is measured from (`checkpoint.note_better_after_peak`), that peak by its value and
    the better one beside it: 'step 130's 0.901; its best, 0.904 at step 150, is 0.003 above
    it (0.5 sd)', not "its best" of a value the same phase beats."""
    where = _peak(stats, unit, steps_count, reading)
    if "better_step" not in stats or "peak_averaged" in stats:
        return f"its best ({where})"
    there = (f"{unit} {stats['better_x']:.4g}" if unit != "step" and "better_x" in stats
             else at(stats["better_step"], steps_count))
    sd = stats.get("better_sd")
    return (f"{where}'s {_fmt(stats['peak_value'])}, where it is measured from; its best, "
            f"{_fmt(stats['better_value'])} at {there}, is "
            f"{_side(stats['better_by'], better, worse)} it"
            + (f" ({sd:.1f} sd)" if sd is not None else ""))


def _peak(stats: dict, unit: str, steps_count: str, reading: str = "evaluation") -> str:
    """Where a phase's best is, so the value quoted can be looked up: on a dense run the best
    is where the 3-point median peaks, not a single lucky evaluation."""
    where = (f"{unit} {stats['peak_x']:.4g}" if unit != "step" and "peak_x" in stats
             else at(stats.get("peak_step"), steps_count))
    if "peak_averaged" in stats:  # a noisy run's best level, not one lucky evaluation
        return f"around {where}: a mean of {stats['peak_averaged']} {reading}s"
    return where
