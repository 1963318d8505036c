"""`phasewatch join SFT_PATH RL_PATH [--switch-step S] -o OUT`: the two runs of an SFT trainer
and an RL trainer started from one of its checkpoints (TRL's SFTTrainer then GRPOTrainer), as
one SFT-then-RL native run folder that `analyze`, `plot`, `watch` and `report` take as one run
with two training stages (`phasewatch.join`)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from phasewatch.errors import UsageError

HELP = ("join an SFT run and the RL run started from one of its checkpoints into one "
        "SFT-then-RL run folder (sft_to_rl at the switch step)")
OWN_FILES = ("metrics.jsonl", "run.json", "run.json.tmp", "expert_logprobs")  # what --force replaces
LISTED = 8  # metric names listed on stderr before "... (N in all)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sft_path", metavar="SFT_PATH",
                        help="the SFT run: any log or run folder analyze reads (an HF/TRL output "
                        "folder, TensorBoard, JSONL, ...)")
    parser.add_argument("rl_path", metavar="RL_PATH",
                        help="the RL run started from an SFT checkpoint; its steps count from 0")
    parser.add_argument("--switch-step", type=int, default=None, metavar="S",
                        help="the SFT step of the checkpoint RL started from (checkpoint-S): SFT "
                        "records after S are dropped and RL step 0 becomes step S (default: the "
                        "SFT run's last step)")
    parser.add_argument("-o", "--out", required=True, metavar="OUT",
                        help="the run folder to write (metrics.jsonl + run.json)")
    parser.add_argument("--force", "--overwrite", action="store_true",
                        help="replace the run folder OUT holds (its metrics.jsonl, run.json and "
                        "expert_logprobs/; other files are left)")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f", ... ({len(names)} in all)" if len(names) > LISTED else "")


def _check_out(out: Path, inputs: list[str], force: bool) -> None:
    """OUT may be new or an empty folder; with --force a folder whose run files are replaced.
    An input inside OUT's own files is refused even then (it would be overwritten)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder; choose another -o")
    resolved = out.resolve()
    for path in inputs:
        where = Path(path).resolve()
        if where == resolved or (where.parent == resolved and where.name in OWN_FILES):
            raise UsageError(f"-o {out} is the input {path}; write the joined run elsewhere")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} exists and is not empty; pass --force to replace the run "
                         "folder in it, or choose another -o")


def _clear(out: Path) -> None:
    """--force: OUT's run files go (after the inputs were read and joined)."""
    if out.is_dir():
        for name in OWN_FILES:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()


def _performance_note(out: Path, joined) -> str | None:
    """Which metric `analyze OUT` takes, with its values in each stage; a warning where a stage
    has none (that stage then goes unanalysed)."""
    from phasewatch.commands.inspect import performance
    from phasewatch.io import read_run

    joined_run = read_run(out)
    perf = performance(joined_run)
    if perf is None:
        return ("note: the joined run has none of the performance roles analyze looks for; "
                "give analyze --metric")
    steps = joined_run.column(perf["metric"]).steps
    s = joined.switch_step
    before, after = int((steps <= s).sum()), int((steps > s).sum())
    word = "higher" if perf["direction"] == "max" else "lower"
    line = (f"analyze takes {perf['metric']} ({word} is better): {before} values up to the "
            f"switch step {s}, {after} after it")
    if not before or not after:
        stage = "SFT" if not before else "RL"
        line += (f"; warning: none in the {stage} stage, which analyze cannot name; give "
                 "analyze --metric a metric both runs log")
    return line


def _started_from(path: str, sft, step: int) -> str:
    """'checkpoint-600', or where the SFT folder has no such checkpoint (now: save_total_limit
    deletes old ones), 'step 650 (no checkpoint-650 in runs/sft now: the nearest are
    checkpoint-600 and checkpoint-700)' (trial 37: a --switch-step 650 was said to be
    'checkpoint-650')."""
    from phasewatch.saved_checkpoints import candidate_folders, output_folder

    found = output_folder(candidate_folders(path, sft.format))
    if found is None or step in found[1]:
        return f"checkpoint-{step}"
    folder, steps = found
    near = sorted(sorted(steps, key=lambda s: (abs(s - step), s))[:2])
    names = " and ".join(f"checkpoint-{s}" for s in near)
    held = f"it holds {names}" if len(steps) == len(near) else f"the nearest are {names}"
    return f"step {step} (no checkpoint-{step} in {folder} now: {held})"


def run(args: argparse.Namespace) -> int:
    from phasewatch.io import read_run
    from phasewatch.join import RL_PREFIX, join_runs, write_joined

    if args.switch_step is not None and args.switch_step < 0:
        raise UsageError(f"--switch-step must be a step (0 or more), not {args.switch_step}")
    out = Path(args.out)
    _check_out(out, [args.sft_path, args.rl_path], args.force)
    sft, rl = read_run(args.sft_path), read_run(args.rl_path)
    for label, run_ in (("SFT", sft), ("RL", rl)):
        for warning in run_.warnings:
            print(f"{label} {run_.source}: warning: {warning}", file=sys.stderr)
    joined = join_runs(sft, rl, args.switch_step, name=out.resolve().name)
    s = joined.switch_step
    if joined.dropped:
        print(f"dropped {joined.dropped} SFT records after step {s}: RL started from "
              f"{_started_from(args.sft_path, sft, s)}", file=sys.stderr)
    if joined.superseded:
        print(f"step {s}: RL's step-0 record supersedes SFT's for {_names(joined.superseded)} "
              "(the later record of a step is kept)", file=sys.stderr)
    if joined.sft_only:
        print(f"metrics only in the SFT run: {_names(joined.sft_only)}", file=sys.stderr)
    if joined.rl_only:
        print(f"metrics only in the RL run: {_names(joined.rl_only)}", file=sys.stderr)
    if joined.apart:  # trial 38: SFT's eval NLL went on as DPO's preference loss
        print(f"losses in both runs, kept apart: {_names(joined.apart)} (each trainer's loss is "
              f"its own objective; the RL run's are "
              f"{_names([RL_PREFIX + name for name in joined.apart])})", file=sys.stderr)
    if joined.shared:  # trial 37: SFT's token entropy went on as GRPO's
        print(f"metrics in both runs, one series across the switch: {_names(joined.shared)} "
              "(a name both trainers log can mean two things: check that each is the same "
              "measure in both)", file=sys.stderr)
    _clear(out)
    write_joined(joined, out)
    note = _performance_note(out, joined)
    if note:
        print(note, file=sys.stderr)
    sft_stage, rl_stage = joined.meta["stages"]
    a, b = sft_stage["steps"]
    (c, d), (e, f) = rl_stage["source_steps"], rl_stage["steps"]
    print(f"wrote {out}: SFT steps {a}-{b} ({sft.source}), RL steps {c}-{d} as {e}-{f} "
          f"({rl.source}), sft_to_rl at step {s}; {len(joined.rows)} steps")
    return 0
