"""An output folder's `trainer_state.json` left by a previous run while a new one trains.

Re-running a config into the same `output_dir` (LLaMA-Factory's and TRL's `overwrite_output_dir`)
leaves the last run's `trainer_state.json` in place until the new run saves its own at the end;
LLaMA-Factory deletes its `trainer_log.jsonl` at the start. A follow of the folder read that old
file, said the run had finished and exited while the new run trained (trial 40c: `watch --follow
runs/rerun` printed the previous run's `eval_accuracy=0.3834` at step 126, then "checkpoint to
keep: step 360 (saved: checkpoint-360)", and ended 8 s into the new run; training ended 4 s
later). `analyze` or `inspect` of the folder mid-run read the same file.

The file is a previous run's when something the run writes as it trains is newer and not its:
  - the LLaMA-Factory log `trainer_log.jsonl`, written after it and ending before its
    `global_step` (a finished run's log ends at its last step: a copy with `cp -r`, whose times
    come out in any order, is not taken for a new run);
  - a `checkpoint-N/trainer_state.json` written after it whose history is not the start of its
    own (a copy's checkpoints hold the same rows).
A TensorBoard log `runs/<date>_<host>/` started after it is no such sign: an evaluation run into
the same folder (`do_eval` alone) starts one too, and leaves the training's history the
folder's. The folder's run is then what the new run writes (`folders.run_of_version`); a follow
of the folder moves to it when it appears (`followed_states.CheckpointStates`).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

_CURRENT_STEPS = re.compile(rb'"current_steps"\s*:\s*(\d+)')
TAIL_BYTES = 4096
MAX_CACHED = 64


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _last_step(log: Path) -> int | None:
    """The `current_steps` of the last line of a trainer_log.jsonl."""
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - TAIL_BYTES))
            found = _CURRENT_STEPS.findall(fh.read())
    except OSError:
        return None
    return int(found[-1]) if found else None


def _history(state: Path) -> list | None:
    try:
        doc = json.loads(state.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    rows = doc.get("log_history") if isinstance(doc, dict) else None
    return rows if isinstance(rows, list) else None


def _clock(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


_cache: dict[tuple, list[Path]] = {}


def new_checkpoints(folder: Path) -> list[Path]:
    """The `checkpoint-N/trainer_state.json` files of `folder` saved after its own
    trainer_state.json and holding another history than its (a new run's), lowest step first.
    One that holds the start of its history makes it none: the folder is a copy (`cp -r` gives
    its files new times in any order), and the smallest file, read first, tells. Kept while
    `folder_stamp` is unchanged: finding the folder's run and each read of its follow asked
    again, and parsed every history each time (a folder and two checkpoints: 10 parses of each
    in three reads of an unchanged folder)."""
    key = (Path(folder).absolute(), folder_stamp(folder))
    if key not in _cache:
        if len(_cache) >= MAX_CACHED:
            _cache.clear()
        _cache[key] = _new_checkpoints(folder)
    return list(_cache[key])


def _new_checkpoints(folder: Path) -> list[Path]:
    from phasewatch.folder_logs import subdirs_in
    from phasewatch.folders import checkpoint_step

    state = folder / "trainer_state.json"
    written = _mtime(state)
    if written is None:
        return []
    newer = []
    for child in subdirs_in(folder):
        number, saved = checkpoint_step(child.name), child / "trainer_state.json"
        if number is not None and (_mtime(saved) or 0) > written:
            newer.append((number, saved))
    if not newer:
        return []
    own = _history(state)
    if own is None:
        return []
    found = []
    for _, saved in sorted(newer):
        theirs = _history(saved)
        if theirs is not None and theirs == own[:len(theirs)]:
            return []
        if theirs is not None:
            found.append(saved)
    return found


def previous_run(folder: Path) -> str | None:
    """Why `folder/trainer_state.json` is a previous run's (what is newer, and when each was
    written), else None (no such file, or nothing newer of another run)."""
    state = folder / "trainer_state.json"
    written = _mtime(state)
    if written is None:
        return None
    from phasewatch.io.trainer_state import global_step_of

    when = f"last written {_clock(written)}"
    log = folder / "trainer_log.jsonl"
    log_time, step = _mtime(log), global_step_of(state)
    if log_time is not None and log_time > written and step is not None:
        last = _last_step(log)
        if last is not None and last < step:
            return (f"trainer_state.json ({when}, at step {step}) is a previous run's: "
                    f"trainer_log.jsonl was written since ({_clock(log_time)}, at step {last})")
    newer = new_checkpoints(folder)
    if newer:
        return (f"trainer_state.json ({when}) is a previous run's: "
                f"{newer[-1].parent.name}/trainer_state.json, saved since "
                f"({_clock(_mtime(newer[-1]) or 0)}), holds another history")
    return None


def folder_stamp(folder: Path) -> tuple:
    """What changes when a run writes into `folder` (its listing, its logs, its checkpoints'
    states, its TensorBoard starts): `previous_run` is asked again only when this does."""
    from phasewatch.folder_logs import subdirs_in

    paths = [folder, folder / "trainer_state.json", folder / "trainer_log.jsonl", folder / "runs"]
    paths += [child / "trainer_state.json" for child in subdirs_in(folder)
              if child.name.startswith("checkpoint-")]
    return tuple(_mtime(path) for path in paths)


def ended_before(folder: Path, when: float) -> bool:
    """Whether `folder/trainer_state.json` says its run ended (its `global_step` at its
    `max_steps`, or HF's closing `train_runtime` row) and was written before `when` (a follow's
    start: the run it holds is over, and a follow waits for the next one, `live_open`)."""
    from phasewatch.io.trainer_state import file_reached_max_steps

    state = folder / "trainer_state.json"
    written = _mtime(state)
    if written is None or written >= when:
        return False
    if file_reached_max_steps(state):
        return True
    try:
        with state.open("rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 65536))
            return b'"train_runtime"' in fh.read()
    except OSError:
        return False
