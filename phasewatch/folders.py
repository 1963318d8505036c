"""Folders as users have them: which log of a folder is its run, and which folders hold many runs.

A folder is one run when it holds, in this order of preference:
  - a folder a reader takes whole: phasewatch's own run (`metrics.jsonl`), an MLflow run, a
    DVCLive folder (or those a `dvc.yaml` names), a W&B run (`*.wandb`), TensorBoard event files;
  - `trainer_state.json` (HF / TRL `save_state`), else LLaMA-Factory's `trainer_log.jsonl`,
    else the newest `checkpoint-N/trainer_state.json` (numerically: checkpoint-1000 is newer
    than checkpoint-900). TRL scripts never call `save_state()`, so a TRL `output_dir` often has
    its history only in the checkpoints; each holds the whole history up to that step;
  - exactly one log file of any supported format (a verl console `.log`, a nohup/slurm
    output, a JSON export...). Files that are never logs (model configs, tokenizers, weights,
    `all_results.json`...: `folder_logs`) are not considered; a CSV file per split of one run
    (`train.csv` beside `valid.csv`: `io.csv_splits`) is one log.
A single-file store of several runs (MLflow's `mlflow.db`, a Trackio project `.db`, a Jupyter
notebook showing several trainings) is its runs, each named `store/RUN` (`store_members`), whether given itself or found in a folder.
Otherwise it is a folder of runs: its log files (when it holds several) and the sub-folders
(a few levels down) that are runs, each found by the same rules. TensorBoard sub-folders named
like the parts of one run (Keras' `train/` and `validation/` or a named `dev-validation/`,
Trinity's `explorer/` and `trainer/`) are one run; other sub-folders with event files (verl's
`tensorboard_log/<project>/<experiment>/`, HF's `runs/<date>_<host>/`) are runs of their own.
A PyTorch Lightning logger's `version_N` folders are runs by what they hold (`lightning_versions`):
two loggers' versions of one training are one run, a resumed version is read after the one it
continues.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from phasewatch.errors import InputError, PhasewatchError
from phasewatch.folder_logs import files_in, log_files, subdirs_in

MAX_DEPTH = 4          # how far below PATH runs are looked for
MAX_FOLDERS = 5000     # folders visited at most (a home directory given by mistake stays quick)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Sub-folders that belong to a run and are never runs themselves.
_SKIP_DIRS = re.compile(r"^(checkpoint-\d+|global_step_?\d+|__pycache__|node_modules|"
                        r"expert_logprobs|site-packages)$")


# TensorBoard sub-folders that are parts of one run (Keras, Lightning, Trinity-RFT roles), not
# runs of their own: a tree of only these is read as one run with the folder as tag prefix.
SPLIT_NAMES = frozenset({"train", "training", "validation", "val", "valid", "eval", "evaluation",
                         "test", "explorer", "trainer"})


def checkpoint_step(path: str | os.PathLike) -> int | None:
    """N of an HF checkpoint folder `.../checkpoint-N` (a path written on any system, as a
    trainer_state.json's `best_model_checkpoint` keeps it), else None."""
    match = _CHECKPOINT.match(re.split(r"[/\\]", str(path).rstrip("/\\"))[-1])
    return int(match.group(1)) if match else None


def trainer_output_folder(state: Path) -> Path:
    """The HF output folder of a `trainer_state.json`: its own folder, or a `checkpoint-N/`'s
    parent."""
    return state.parent.parent if checkpoint_step(state.parent.name) is not None else state.parent


def is_split_name(name: str) -> bool:
    """A sub-folder name of `SPLIT_NAMES`, or a validation split named by its user
    (`dev-validation/` beside `train/`: `heldout_names.is_named_validation_split`)."""
    from phasewatch.heldout_names import is_named_validation_split

    return name.lower() in SPLIT_NAMES or is_named_validation_split(name)


@dataclass(frozen=True)
class Found:
    """One run found in a folder: `path` is what a reader opens; `note` says why that file;
    `root` is what names the run (its folder, or the file when a folder holds several logs);
    `parts`: logs read before `path`, whole, as its run's earlier part (a Lightning version
    that resumes an earlier one: `lightning_versions`)."""

    path: Path
    note: str = ""
    root: Path | None = None
    parts: tuple[Path, ...] = ()

    @property
    def name(self) -> Path:
        return self.root if self.root is not None else self.path


def newest_checkpoint_state(folder: Path, since_state: bool = False) -> tuple[Path, int] | None:
    """(newest `checkpoint-N/trainer_state.json`, number of checkpoints with one), or None;
    `since_state`: of those a new run saved after the folder's trainer_state.json (`stale_state`)."""
    if since_state:
        from phasewatch.stale_state import new_checkpoints

        newer = new_checkpoints(folder)
        return (newer[-1], len(newer)) if newer else None
    best: tuple[int, Path] | None = None
    count = 0
    for child in subdirs_in(folder):
        number = checkpoint_step(child.name)
        state = child / "trainer_state.json"
        if number is not None and state.is_file():
            count += 1
            if best is None or number > best[0]:
                best = (number, state)
    return (best[1], count) if best else None


def trainer_tensorboard_first(folder: Path) -> list[Path]:
    """The TensorBoard logs in `folder/runs/<name>/` (the HF Trainer's default logging_dir,
    `runs/<date>_<host>`) when `folder` has no run of its own that ranks with or above its
    checkpoints yet (no `checkpoint-N/trainer_state.json`, `trainer_state.json`, a
    `trainer_log.jsonl` with an evaluation, nor a run read whole); else []. LLaMA-Factory's log
    without one may be a run evaluated on several sets (`llamafactory.evaluations_elsewhere`),
    whose evaluations only its checkpoints hold. The Trainer creates its TensorBoard
    log before its first checkpoint, whose trainer_state.json then becomes the folder's run: a
    follow of the folder cannot tell yet which log a replay of the finished folder will read
    (`live_open.TrainerFolderWait` waits when the log's arguments are the Trainer's)."""
    runs = subdirs_in(folder / "runs")
    if not runs:
        return []
    from phasewatch.io.tensorboard import EVENT_FILE_MARK

    logs = [d for d in runs if any(EVENT_FILE_MARK in f.name for f in files_in(d))]
    if not logs or newest_checkpoint_state(folder) is not None:
        return []
    here = run_of_folder(folder)
    if any(f.path == folder or f.path.name == "trainer_state.json" for f in here):
        return []
    from phasewatch.io.llamafactory import holds_evaluation

    if any(f.path.name == "trainer_log.jsonl" and holds_evaluation(f.path) for f in here):
        return []  # LLaMA-Factory's log, evaluated: the run as a replay reads it (its values)
    return logs


def _is_wandb_pointer(folder: Path) -> bool:
    """W&B's `latest-run` symlink: it moves to each new run, so the run folder it points to
    is read instead (also found in the same folder)."""
    return folder.name == "latest-run" and folder.is_symlink()


def store_members(path: Path) -> list[Found] | None:
    """The runs of a single-file store that holds several (an MLflow `mlflow.db`, a Trackio
    project `.db` or its Parquet export), each as `store/RUN`; None for any other file and
    for a store of one run (read as the file itself)."""
    from phasewatch.io import mlflow_sqlite, notebook, trackio

    if not path.is_file():
        return None
    for module in (mlflow_sqlite, trackio, notebook):
        if module.sniff(path, b""):
            try:
                names = module.members(path)
            except InputError:
                return None  # unreadable: the reader names the problem when it opens the file
            if len(names) > 1:
                return [Found(path / name, root=path / name) for name in names]
            return None
    return None


def _with_members(files: list[Path]) -> list[Found]:
    """One Found per run of `files`: a store of several runs gives each of them."""
    return [found for file in files for found in (store_members(file) or [Found(file, root=file)])]


def run_of_folder(folder: Path) -> list[Found]:
    """The run(s) `folder` itself holds (not looking into sub-folders except checkpoints, and
    a Lightning logger's `version_N`): one Found for a run folder, several for a folder of log
    files, none for neither."""
    from phasewatch import lightning_versions

    found = run_of_version(folder)
    if not found:
        return lightning_versions.logger_runs(folder, run_of_version) or []
    return lightning_versions.resumed(folder, found)


def run_of_version(folder: Path) -> list[Found]:
    """The run(s) of `folder` by itself (a Lightning version folder as if it had no others)."""
    from phasewatch.io import native

    if native.sniff(folder, b""):
        return [Found(folder, root=folder)]
    from phasewatch.tokens.sources import is_store_folder

    if is_store_folder(folder):
        return []  # a token store: its index.json and token_text.json are no logs
    # the other formats' readers only for a folder that is not a native run (start-up time:
    # ~4 ms of imports that analyze of a native run does not need)
    from phasewatch.io import dvclive, mlflow, tensorboard, trinity, wandb

    if mlflow.is_run(folder) or trinity.sniff(folder, b"") or dvclive.is_run(folder):
        return [Found(folder, root=folder)]  # (Trinity-RFT: its explorer + trainer logs)
    if named := dvclive.runs_named_in(folder):  # a DVC project: its dvc.yaml names the runs
        return [Found(run, root=folder if len(named) == 1 else run) for run in named]
    runs = wandb.run_files(folder)
    if len(runs) == 1:
        return [Found(folder, root=folder)]
    if runs:
        return [Found(p, root=p) for p in runs]
    if any(tensorboard.EVENT_FILE_MARK in p.name for p in files_in(folder)):
        from phasewatch.io.event_folders import nested_note, nested_runs

        inner = nested_runs(folder)
        return [Found(folder, nested_note(folder, inner), root=folder),
                *(run for d, _ in inner for run in run_of_folder(d))]
    starts = tensorboard.trainer_starts(folder)
    if starts:
        note = (f"{len(starts)} starts of one Trainer run ({', '.join(s.name for s in starts)}: "
                "a resume writes one per start), read as one; a later start's records supersede "
                "the steps it logs again") if len(starts) > 1 else ""
        return [Found(folder, note, root=folder)]
    from phasewatch.stale_state import previous_run

    stale = previous_run(folder)  # a previous run's trainer_state.json: the new run's log
    newest = newest_checkpoint_state(folder, stale is not None)
    for name in ("trainer_state.json", "trainer_log.jsonl"):
        if (folder / name).is_file() and not (stale and name == "trainer_state.json"):
            from phasewatch.io.llamafactory import evaluations_elsewhere

            elsewhere = newest is not None and name == "trainer_log.jsonl" and \
                evaluations_elsewhere(folder / name, newest[0])
            if elsewhere:
                return [Found(newest[0], f"{stale}: {elsewhere}" if stale else elsewhere, folder)]
            return [Found(folder / name, f"{stale}: reading {name}" if stale else "", folder)]
    if newest is not None:
        from phasewatch.io.trainer_state import file_reached_max_steps

        state, count = newest  # a run that ended there has its whole history in it
        note = f"{stale}: reading {state.parent.name}/trainer_state.json" if stale else \
            "" if file_reached_max_steps(state) else (
            f"history from {state.parent.name}/trainer_state.json, the newest of {count} "
            "checkpoints (the output folder has no trainer_state.json of its own; steps logged "
            "after that checkpoint are not in it)")
        return [Found(state, note, root=folder)]
    from phasewatch.io.csv_splits import joined  # train.csv beside valid.csv: one run

    found = joined(folder, _with_members(log_files(folder)))
    if len(found) == 1:
        return [Found(found[0].path, root=folder)]
    return found


def find_runs(path: str | Path) -> list[Found]:
    """Every run at `path`: itself when it is a file or a run folder, else the runs below it."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    if not path.is_dir():
        return _with_members([path])
    if not os.access(path, os.R_OK | os.X_OK):  # else the error names a file looked for in it
        raise InputError("cannot list this folder: Permission denied (check its permissions: "
                         "reading a folder needs r and x)", path)
    found = run_of_folder(path)
    if found:
        return found
    return _runs_below(path)


def _runs_below(root: Path) -> list[Found]:
    from phasewatch.io import mlflow, tensorboard

    runs: list[Found] = []
    seen: set[Path] = set()
    visited = 0
    frontier = [(root, 0)]
    while frontier:
        folder, depth = frontier.pop(0)
        for child in subdirs_in(folder):
            real = child.resolve()
            if real in seen or _SKIP_DIRS.match(child.name) or visited >= MAX_FOLDERS \
                    or mlflow.is_deleted(child) or _is_wandb_pointer(child):
                continue
            seen.add(real)
            visited += 1
            here = run_of_folder(child)
            if here:
                runs.extend(here)
            elif depth + 1 < MAX_DEPTH:
                frontier.append((child, depth + 1))
    if runs and all(r.path.is_dir() and is_split_name(r.path.name) and
                    tensorboard.sniff(r.path, b"") and not log_files(r.path) for r in runs):
        return [Found(root, root=root)]  # one TensorBoard run split over sub-folders (train/, validation/)
    return sorted(runs, key=lambda r: str(r.path))


def no_log_in_folder(path: Path) -> PhasewatchError:
    """The error for a folder with no log of any format, naming entries that are not regular
    files (a FIFO as metrics.jsonl is refused unread, so the folder looks empty) and empty
    files; for a token store, the usage error saying to read it with `phasewatch tokens`."""
    from phasewatch.files import special_files
    from phasewatch.io import available_readers
    from phasewatch.tokens.sources import is_store_folder, store_not_a_log

    if is_store_folder(path):
        return store_not_a_log(path)

    tried = ", ".join(m.FORMAT for m in available_readers())
    special = special_files(path)
    why = f"; {', '.join(special)}: nothing phasewatch can read" if special else ""
    return InputError(f"no training log found in this folder (formats tried: {tried}){why}", path)


def single_run(path: str | Path) -> Found:
    """The one run at `path`; InputError when there is none or several (listing them). A folder
    that is a run and holds others (`event_folders.nested_runs`) is its own run."""
    path = Path(path)
    runs = find_runs(path)
    own = [run for run in runs if run.name == path]
    if len(runs) == 1 or len(own) == 1:
        return own[0] if own else runs[0]
    if not runs:
        raise no_log_in_folder(path)
    shown = ", ".join(relative(r.name, path) for r in runs[:8])
    more = f", ... ({len(runs)} in all)" if len(runs) > 8 else ""
    raise InputError(f"this folder holds {len(runs)} runs ({shown}{more}); pass one of them, "
                     "or give the folder to analyze/plot/inspect, which take each", path)


def relative(path: Path, root: Path) -> str:
    """`path` as shown from `root` (`..` where it is outside), or whole on another drive."""
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return str(path)
