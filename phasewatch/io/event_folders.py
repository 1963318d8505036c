"""Which TensorBoard event files under a folder are its run's, and which sub-folders are runs
of their own (`nested_runs`): the folder side of `io.tensorboard`, which reads the files."""

from __future__ import annotations

import os
import re
from pathlib import Path

EVENT_FILE_MARK = "tfevents"
MAX_FOLDER_DEPTH = 4
_NAME_TIME = re.compile(r"tfevents\.(\d+)")
# the writing process in an event file's name, `events.out.tfevents.<time>.<host>.<pid>.<n>`
_NAME_WRITER = re.compile(r"tfevents\.\d+\.(.+\.\d+)\.\d+$")
BESIDE_A_LOG = "event files beside another log"
OTHER_WRITER = "written by another process than this folder's event files"


def event_files(folder: Path, limit: int | None = None) -> list[Path]:
    """Event files under `folder` (a few levels deep), oldest first within each directory; not
    those of a run nested in it (`nested_runs`)."""
    return _walk(folder, limit)[0]


def nested_runs(folder: Path) -> list[tuple[Path, str]]:
    """The sub-folders of `folder`, a folder with event files of its own, that are runs of their
    own, in a folder not named as a split of one run (`validation/`): event files beside
    another log (Detectron2's `metrics.json`, a `log.txt`), or written by processes none of
    which wrote the folder's own (the host and pid in the file names). A second training given
    an OUTPUT_DIR inside the first's writes one, and so does each `learn()` of
    Stable-Baselines3 given the folder as `tensorboard_log` (`PPO_1/`, `PPO_2/`); read with the
    folder's, their series were extra tags of it. The parts of one run (torch's `add_scalars`
    folders, Keras' `train/` and `validation/`) are written by the process that writes it.
    Each with why: `BESIDE_A_LOG` or `OTHER_WRITER`."""
    return _walk(folder)[1]


def nested_note(folder: Path, nested: list[tuple[Path, str]]) -> str:
    """A line per reason the `nested_runs` of `folder` are runs of their own, naming them."""
    names: dict[str, list[str]] = {}
    for path, why in nested:
        names.setdefault(why, []).append(f"{path.relative_to(folder)}/")
    return "\n".join(
        f"{found[0]}: a run of its own ({why}), not read with this folder's; give it to read it"
        if len(found) == 1 else f"{', '.join(found)}: runs of their own ({why}), not read with "
        "this folder's; give one to read it" for why, found in names.items())


def _writers(names: list[str]) -> set[str] | None:
    """The processes (`<host>.<pid>`) that wrote these event files, None when a name says none
    (a writer that names its files otherwise)."""
    found = [_NAME_WRITER.search(name) for name in names if EVENT_FILE_MARK in name]
    return {m.group(1) for m in found if m} if found and all(found) else None


def _apart(own: set[str] | None, theirs: set[str] | None) -> bool:
    """Whether event files were written by other processes than the folder's own, as their
    names say (unknown: not apart)."""
    return own is not None and theirs is not None and not own & theirs


def _walk(folder: Path, limit: int | None = None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(event files, nested runs) of `folder`: `event_files`, `nested_runs`."""
    from phasewatch.folder_logs import log_files
    from phasewatch.folders import is_split_name

    found: list[Path] = []
    nested: list[tuple[Path, str]] = []
    base_depth = len(folder.parts)
    own = False  # whether `folder` holds event files itself (its first directory walked)
    own_writers: set[str] | None = None
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if len(here.parts) - base_depth >= MAX_FOLDER_DEPTH:
            dirs[:] = []
        dirs.sort()
        if len(here.parts) == base_depth:
            own = any(EVENT_FILE_MARK in name for name in files)
            own_writers = _writers(files) if own else None
        elif own and any(EVENT_FILE_MARK in name for name in files) \
                and not is_split_name(here.name) \
                and (why := OTHER_WRITER if _apart(own_writers, _writers(files))
                     else BESIDE_A_LOG if log_files(here) else None):
            nested.append((here, why))
            dirs[:] = []
            continue
        for name in sorted(files):
            if EVENT_FILE_MARK in name:
                found.append(here / name)
                if limit is not None and len(found) >= limit:
                    return found, nested
    return sorted(found, key=lambda p: (str(p.parent), _name_time(p), p.name)), nested


def _name_time(path: Path) -> int:
    match = _NAME_TIME.search(path.name)
    return int(match.group(1)) if match else 0
