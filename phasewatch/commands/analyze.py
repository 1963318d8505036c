"""`phasewatch analyze PATH [PATH ...]`: the phases of each run's performance metric."""

from __future__ import annotations

import argparse
import sys

from phasewatch.commands.options import (
    add_noise_arguments,
    add_phase_arguments,
    noise_options,
    phase_options,
)
from phasewatch.commands.phase_line import _fmt, phase_line
from phasewatch.results import Analysis, not_established, too_few_to_name
from phasewatch.step_units import at, scaled_words, unit_scale
from phasewatch.values import PRACTICAL_CHANGE

HELP = "find the phases (disruption, readaptation, improvement, plateau, overfit) of runs"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="log files, run folders or folders of runs (several runs: compared side "
                        "by side; a run that fails is reported, the others still run, exit 4)")
    parser.add_argument("--metric", help="performance metric (default: the run's declared one, "
                        "else held-out accuracy/score, eval loss, train reward)")
    parser.add_argument("--direction", choices=("max", "min"),
                        help="whether higher (max) or lower (min) is better "
                             "(default: from the run, else from the metric name)")
    parser.add_argument("--aggregate", choices=("mean",),
                        help="when the metric names several validation sets (verl val-core/<set>/..., "
                        "OpenRLHF eval_<set>_pass1) or --metric is a glob: analyse their mean "
                        "(default: the first set, with a warning listing them)")
    parser.add_argument("--x", choices=("step", "epoch", "tokens", "samples"), dest="x_unit",
                        help="report phases in this unit, read from the counter the log carries "
                        "(default: step; epoch for HF console logs)")
    add_phase_arguments(parser)
    add_noise_arguments(parser)
    parser.add_argument("--pool-noise", action="store_true",
                        help="several runs of one metric evaluated on the same set: judge them all "
                        "against one noise sd, the median over the runs of each one's "
                        "second-difference sd (not with --noise-sd or --eval-size)")
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text", dest="output",
                        help="text for people; json (DESIGN.md schema); csv: one row per phase")


def print_text(analysis: Analysis) -> None:
    se = analysis.extra.get("baseline_se")
    print(f"{analysis.source}  metric {analysis.metric} ({analysis.direction}), "
          f"baseline {_fmt(analysis.baseline)}" + (f" ± {_fmt(se, 2)}" if se else "")
          + f", noise sd {_fmt(analysis.extra.get('noise_sd'))}" + _noise_source(analysis)
          + (f", confidence {analysis.extra['confidence']}" if "confidence" in analysis.extra
             else ""))
    x = analysis.extra.get("x")
    steps_count = analysis.extra.get("step_unit", "step")  # "epoch": the log's steps are epochs
    unit = x["unit"] if x else steps_count
    if x and unit_scale(steps_count) != 1:  # an HF console log: no step, its epoch
        print(f"  x axis: {unit} (from {x['counter']}; the rows read carry no training step: the "
              f"JSON output's steps are {scaled_words(steps_count)})")
    elif x:
        print(f"  x axis: {unit} (from {x['counter']}; steps in the JSON output)")
    reading = analysis.value_word  # a train loss's or reward's values are readings
    at_start = analysis.extra.get("baseline_rule", "first") == "first"
    reference = "the start" if at_start else "the baseline"
    if few := too_few_to_name(analysis):  # no phase row: one reading, or two
        first, last = analysis.phases[0], analysis.phases[-1]
        values = f"{_fmt(first.stats.get('start_value'))} at {at(first.start_step, steps_count)}"
        if last.end_step != first.start_step:
            values += f" -> {_fmt(last.stats.get('end_value'))} at {at(last.end_step, steps_count)}"
        print(f"  {few} ({values})")
    for k, phase in enumerate([] if few else analysis.phases):
        # a later fall's depth is measured from the level it fell from (phase_stats)
        fell_from = (reference if k == 0 or phase.name != "disruption"
                     else f"where it began ({at(phase.start_step, steps_count)})")
        line = phase_line(phase, analysis.direction, unit, fell_from, steps_count,
                          analysis.baseline, reading)
        if not_established(analysis, phase):
            line += "  not established"
        print(line)
    for event in analysis.extra.get("events", []):  # a known stage switch (trial 37: RL's
        # start showed only as a boundary "600 [600, 600]")
        print(f"  stage switch: {event['name']} at {at(event['step'], steps_count)} (each "
              "stage's phases are named separately)")
    for event in analysis.extra.get("stage_only", []):
        print(_one_stage_line(analysis, event, steps_count))
    if analysis.changepoints and x:
        print("  boundaries: " + ", ".join(f"{c['at']:.4g} [{c['low']:.4g}, {c['high']:.4g}]"
                                           for c in x["changepoints"]))
    elif analysis.changepoints:
        print("  boundaries: " + ", ".join(f"{c.step} [{c.low}, {c.high}]"
                                           for c in analysis.changepoints))
    if x and x["recommended_stop"] is not None:
        # the step beside it, where there is one (not an HF console log's epoch x 10,000)
        steps = ("" if unit_scale(steps_count) != 1 else
                 f" ({steps_count} {_fmt(analysis.recommended_stop_step)})")
        print(f"  recommended stop: {unit} {x['recommended_stop']:.4g}{steps}"
              + _against_last(analysis))
    else:
        print(f"  recommended stop: {at(analysis.recommended_stop_step, steps_count)}"
              + _against_last(analysis))
    if (held := analysis.extra.get("best_held")) is not None:
        value = analysis.extra.get("stop_value")
        print(f"  best held: {analysis.metric} {_fmt(value)} at each of the {held['evaluations']} "
              f"{analysis.value_word}s from {at(held['from_step'], steps_count)} to "
              f"{at(held['to_step'], steps_count)}: any checkpoint of those is as good by it")
    saved = analysis.saved_checkpoint  # an HF output folder's checkpoints
    if saved is not None and analysis.recommended_stop_step is not None:
        print(f"  checkpoint to keep: {at(analysis.recommended_stop_step, steps_count)} "
              f"({saved.text(analysis.metric)})")
    for warning in analysis.warnings:
        print(f"  warning: {warning}")


def _one_stage_line(analysis: Analysis, event: dict, steps_count: str) -> str:
    """The switch of a series logged in one stage only (`stages.note_one_stage`): it splits
    nothing, yet the phases are that stage's alone (trial 38b: a joined run's GRPO reward
    named no switch, and read as a run of its own)."""
    stage, phases = event["stage"].upper(), analysis.phases
    span = "" if not phases else (f", up to {at(phases[-1].end_step, steps_count)}"
                                  if event["stage"] == "sft" else
                                  f", from {at(phases[0].start_step, steps_count)}")
    return (f"  stage switch: {event['name']} at {at(event['step'], steps_count)} "
            f"({analysis.metric} is logged in the {stage} stage only{span}: the phases above "
            f"are the {stage} stage's)")


def _against_last(analysis: Analysis) -> str:
    """' (no better than the last, step 250, beyond the noise)' when the data do not rank
    the recommended checkpoint above the last one (`checkpoint.beats_last`): "as good" said it
    of a last evaluation 3.7 noise sds worse, which a difference of two noisy readings cannot
    rank (trial 37b); ' (not established against the last, epoch 3: 3 evaluations, noise
    unknown)' where no noise ranks it (`checkpoint.unranked_stop`). A single evaluation is the
    stop for want of any other, not because every evaluation is the same: a TensorBoard log
    with one eval loss at its last step had "the metric is the same at every evaluation
    analysed: any is as good" said of it."""
    from phasewatch.checkpoint import stop_alone, unranked_stop

    if alone := stop_alone(analysis):  # trial 34b: a stop on a constant metric
        return f" ({alone})"
    unranked = unranked_stop(analysis)  # a run of 3-4 evaluations, the noise unknown
    if (analysis.extra.get("stop_beats_last") is not False and unranked is None) \
            or not analysis.phases:
        return ""
    unit = analysis.extra.get("step_unit", "step")
    last = analysis.phases[-1]
    where = at(last.end_step, unit)
    if "end_x" in last.stats and unit_scale(unit) == 1:  # --x: as the stop is said beside it
        where = f"{analysis.extra['x']['unit']} {last.stats['end_x']:.4g} ({where})"
    if unranked is not None:
        return f" (not established against the last, {where}: {unranked})"
    if (ranked := analysis.extra.get("stop_ranked_at")) is not None:
        # its own reading beats the last: say what ranked it (`checkpoint.plateau_rank`)
        own = analysis.extra.get("stop_value")
        return (f" (no better than the last, {where}, beyond the noise: inside the plateau from "
                f"{at(ranked['plateau_from_step'], unit)} it is ranked at the plateau's level, "
                f"{_fmt(ranked['level'])}" + (f", not its own {_fmt(own)})" if own is not None
                                              else ")"))
    return f" (no better than the last, {where}, beyond the noise)"


def _noise_source(analysis: Analysis) -> str:
    """' (given)', ' (binomial, 500 items)', ' (pooled over 4 runs)' or ' (0.1% of the level:
    constant)' when the noise was not estimated from the data; '' when it was."""
    source = analysis.extra.get("noise_sd_source")
    if source is None:
        return ""
    if source == "pooled":
        return f" (pooled over {analysis.extra['noise_pooled_runs']} runs)"
    if source == "floor":
        return f" ({PRACTICAL_CHANGE:.1%} of the level: constant)"
    return " (given)" if source == "given" else f" (binomial, {analysis.extra['eval_size']} items)"


def pooled_noise(args: argparse.Namespace, choose) -> tuple[float, int]:
    """(sd, runs) of `--pool-noise` over the runs of `args.paths`, each chosen by `choose(path)`
    as `analyze` chooses it (`known_noise.pooled_noise_of`)."""
    from phasewatch.each_run import expand
    from phasewatch.known_noise import pooled_noise_of

    def read(path: str):
        choice = choose(path)
        return choice.run, choice.metric

    check_pool_noise(args)
    return pooled_noise_of(expand(args.paths), read, args.direction, args.keep_outliers)


def check_pool_noise(args: argparse.Namespace) -> None:
    """A usage error for --pool-noise beside a noise given by --noise-sd or --eval-size."""
    from phasewatch.errors import UsageError

    if args.noise_sd is not None or args.eval_size is not None:
        raise UsageError("--pool-noise estimates the noise from the runs; --noise-sd and "
                         "--eval-size give it: use one of them")


def run(args: argparse.Namespace) -> int:
    from phasewatch.api import analysis_of_choice
    from phasewatch.each_run import exit_code, run_each
    from phasewatch.io import read_run
    from phasewatch.metric_sets import choose_series
    from phasewatch.output import emit_json
    from phasewatch.xaxis import annotate, step_unit, x_axis

    options = {**phase_options(args), **noise_options(args)}
    chosen = {}  # path -> its series, read once by --pool-noise and kept for the analysis

    def read_choice(path: str):
        run = read_run(path)
        choice = choose_series(run, args.metric, args.aggregate)
        # what the reader skipped or resolved (bad lines, a cut last line, a resume) comes
        # first: the analysis is of what could be read
        choice.warnings = [*run.warnings, *choice.warnings]
        return choice

    def choose(path: str):
        if path not in chosen:
            chosen[path] = read_choice(path)
        return chosen[path]

    pooled = pooled_noise(args, choose) if args.pool_noise else None
    if pooled is not None:
        options["noise_sd"] = pooled[0]

    # each run's algorithm, in order: an SFT run then an RL run, two trainers' logs (not the
    # native format, whose pipelines are one run), may be one pipeline's two stages
    algorithms = []
    values_of = {}  # id(analysis) -> the values of its series, for `compared_warnings`
    axes = {}  # id(analysis) -> its --x axis, for the comparison table

    def one(path: str):
        choice = chosen.pop(path, None) or read_choice(path)
        algorithms.append(None if choice.run.format == "native" else choice.run.algorithm)
        # as phasewatch.analyze: with the saved checkpoint to load in an HF output folder
        analysis = analysis_of_choice(choice, args.direction, path, **options)
        axis = x_axis(choice.run, args.x_unit, analysis.metric)
        if pooled is not None:
            analysis.extra.update(noise_sd_source="pooled", noise_pooled_runs=pooled[1])
        annotate(analysis, axis, step_unit(choice.run, analysis.metric))
        values_of[id(analysis)] = choice.run.column(analysis.metric).values  # no pandas
        axes[id(analysis)] = axis
        return analysis

    analyses, failures = run_each(args.paths, one)
    code = exit_code(analyses, failures)
    if not analyses:
        return code
    from phasewatch.compared import compared_warnings
    from phasewatch.output import warn

    compared = compared_warnings(analyses, [values_of[id(a)] for a in analyses], args.metric)
    for message in compared:
        warn(message)
    if len(algorithms) == 2 and algorithms[0] == "sft" and algorithms[1] not in (None, "sft"):
        # trial 37: two TRL output folders analysed side by side, RL's steps over SFT's
        warn(f"an SFT run, then a {algorithms[1].upper()} run: if RL started from one of the SFT "
             "run's checkpoints, `phasewatch join SFT_RUN RL_RUN --switch-step S -o OUT` makes "
             "them one SFT-then-RL run, RL's steps after SFT's")
    if args.output == "json":
        doc = {"runs": [a.to_dict() for a in analyses]}
        if failures:
            doc["failed"] = [f.to_dict() for f in failures]
        if compared:
            doc["warnings"] = compared
        emit_json(doc)
        return code
    from phasewatch.commands.analyze_tables import print_comparison, write_csv

    if args.output == "csv":
        write_csv(analyses, sys.stdout, args.x_unit, [axes[id(a)] for a in analyses])
        return code
    for i, analysis in enumerate(analyses):
        if i:
            print()
        print_text(analysis)
    if len(analyses) > 1:
        print()
        print_comparison(analyses, [axes[id(a)] for a in analyses])
    for failure in failures:
        print(f"{failure.source}  not analysed: {failure.error}")
    return code
