"""Where a run's token store is, whatever wrote the run's log.

The native reader knows its run folder's `expert_logprobs/`; a TRL / HF output folder (or any
other log's folder) may hold one too, written by `phasewatch.capture`'s callbacks. These helpers
find it beside any log, so `analyze` joins its token signals and `plot --kind tokens` draws a
store that has no metrics log at all. Path checks only: importing this loads no numpy.
"""

from __future__ import annotations

from pathlib import Path

STORE_DIR = "expert_logprobs"
INDEX_FILE = "index.json"
STORE_FILES = (INDEX_FILE, "token_text.json")  # a store's JSON files, which are no logs


def find_token_store(path: str | Path) -> Path | None:
    """The store folder beside a log file or in a run folder (also the parent of a Trainer's
    `checkpoint-N/` folder), or None."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    candidates = [folder, folder / STORE_DIR]
    if folder.name.startswith("checkpoint-"):
        candidates.append(folder.parent / STORE_DIR)
    for candidate in candidates:
        if candidate.name == STORE_DIR and (candidate / INDEX_FILE).is_file():
            return candidate
    return None


def is_store_folder(folder: str | Path) -> bool:
    """`folder` is a token store itself (its index.json names `n_tokens` and `sequences`, as
    `TokenStoreWriter` writes them first), not a training log's folder."""
    try:
        with open(Path(folder) / INDEX_FILE, "rb") as fh:
            head = fh.read(4096)
    except OSError:  # no index.json (or a folder without one)
        return False
    return b'"n_tokens"' in head and b'"sequences"' in head


def store_not_a_log(folder: str | Path):
    """The usage error for a token store given where a training log is read (trial 33: the
    TRL store's index.json and token_text.json were read as JSON logs of `length`, `offset`)."""
    from phasewatch.errors import UsageError

    folder = Path(folder)
    run = folder.parent if folder.name not in ("", "..") else folder.resolve().parent
    return UsageError(f"{folder}: this is an expert log-prob (token) store, not a training log; "
                      f"read it with `phasewatch tokens {folder}`, and give the run's folder "
                      f"({run}) for its metrics")


def run_or_store(path: str | Path):
    """`read_run(path)`; for a folder that holds a token store but no training log, an empty
    `Run` (no records) whose `token_store` is that store, for the token figure and analytics."""
    import pandas as pd

    from phasewatch.errors import InputError
    from phasewatch.io import read_run
    from phasewatch.run import Run

    p = Path(path)
    try:
        if is_store_folder(p):  # the store itself: read_run refuses it as a log
            raise InputError("a token store", p)
        return read_run(path)
    except InputError:
        store = p if (p / INDEX_FILE).is_file() else p / STORE_DIR
        if not (store / INDEX_FILE).is_file():
            raise
        table = pd.DataFrame({"step": pd.Series([], dtype="int64"), "metric": pd.Series([], dtype=str),
                              "value": pd.Series([], dtype="float64")})
        return Run(table, str(p), "token-store", token_store=store,
                   warnings=["no training log here: only the expert log-prob store is read"])
