"""The options several commands share (analyze, plot, watch, sweep): how the phases are found
and measured, the noise of one evaluation, the run's planned length. One definition each, so
the commands decide alike."""

from __future__ import annotations

import argparse

from phasewatch.values import finite_float


def add_phase_arguments(parser: argparse.ArgumentParser) -> None:
    """--baseline, --keep-outliers, --penalty, --planned-steps, --expert-data: how the phases are found and
    measured (analyze and plot share them, so a figure can draw the phases an analysis with
    them found; watch has its own --planned-steps, the same option)."""
    parser.add_argument("--baseline", default="first", metavar="first|mean-of-first:K|step:S",
                        help="the starting level the depth of a fall from the start and the gain "
                        "are measured from (the phases do not depend on it): the "
                        "first evaluation (default), the mean of the first K, or the evaluation "
                        "at step S (else the nearest one, with a warning)")
    parser.add_argument("--keep-outliers", action="store_true",
                        help="analyse every finite value (default: an evaluation its neighbours "
                        "contradict, e.g. a failed eval, is left out and reported)")
    parser.add_argument("--penalty", type=float, metavar="P",
                        help="penalty per change point of the segmentation (default: automatic, "
                        "BIC-style; larger finds fewer boundaries). The noise sd is read about the "
                        "segmentation's fitted lines, so it moves too (fewer lines leave the run's "
                        "own changes in it): add --noise-sd to move only the boundaries")
    parser.add_argument("--planned-steps", type=planned_step, metavar="STEPS",
                        help="the step the run is planned to end at (default: the log's "
                        "max_steps / total_training_steps / total_steps / steps, if it has one): "
                        "a log that ends before it is a run read while it trains, whose early "
                        "part is judged against the whole plan, as watch judges it")
    add_expert_data_argument(parser)


def add_expert_data_argument(parser: argparse.ArgumentParser) -> None:
    """--expert-data: whether the run trains on expert data (analyze, plot and watch)."""
    parser.add_argument("--expert-data", choices=("auto", "yes", "no"), default="auto",
                        help="whether the run trains on expert data (SFT, CHORD), where a fall "
                        "from the start is a disruption even if never recovered; without it "
                        "(a policy gradient alone) such a fall is an overfit. Default: read from "
                        "the log (its algorithm, a policy-gradient loss or a train reward, and "
                        "no metric named for expert data)")


def expert_data_option(args: argparse.Namespace) -> bool | None:
    """--expert-data as analyze's `expert_data` option: None to read it from the log."""
    return {"yes": True, "no": False}.get(args.expert_data)


def planned_step(text: str) -> int:
    """argparse type of --planned-steps: a whole step. An epoch (49.33, what an HF console log
    without steps shows) is refused with what to give instead."""
    try:
        return int(text)
    except ValueError:
        pass
    number = finite_float(text)
    raise argparse.ArgumentTypeError(
        f"expected a step (a whole number), got {text!r}; on an HF console log without the INFO "
        "banner, whose output says epochs, the steps count epoch x 10,000: give "
        f"{round(number * 10_000)} for {number:g} epochs")


def phase_options(args: argparse.Namespace) -> dict:
    """The analyze options of `add_phase_arguments` (a bad --baseline is a usage error now)."""
    from phasewatch.phase_stats import Baseline

    return {"baseline": Baseline.parse(args.baseline), "keep_outliers": args.keep_outliers,
            "penalty": args.penalty, "planned_steps": args.planned_steps,
            "expert_data": expert_data_option(args)}


def add_noise_arguments(parser: argparse.ArgumentParser) -> None:
    """--noise-sd and --eval-size: the noise of one evaluation when the user knows it (analyze,
    sweep and report share them)."""
    parser.add_argument("--noise-sd", type=float, metavar="SD",
                        help="the sd of one evaluation in the metric's units, e.g. of 3-5 "
                        "evaluations of one checkpoint with different seeds (default: estimated "
                        "from the run, which on runs of a few evaluations is uncertain)")
    parser.add_argument("--eval-size", type=int, metavar="N",
                        help="for a rate in [0, 1] (an accuracy): the number of items it is "
                        "evaluated on; the noise is the binomial sd sqrt(p(1-p)/N), its root "
                        "mean square over the run's values (not with --noise-sd)")


def noise_options(args: argparse.Namespace) -> dict:
    """The analyze options of --noise-sd / --eval-size, checked (a usage error says how to fix
    a bad value before any run is read)."""
    from phasewatch.known_noise import checked_noise_options

    checked_noise_options(args.noise_sd, args.eval_size)
    return {"noise_sd": args.noise_sd, "eval_size": args.eval_size}
