"""A line log rotated while its run went on: `train.log.2`, `train.log.1`, then `train.log`.

logrotate (rename, or copytruncate) and Python's RotatingFileHandler move the older lines to
`NAME.1` (and `NAME.1` to `NAME.2`, ...), and the run keeps writing `NAME`. Read alone, `NAME`
holds only the run's tail: a run that peaked before the rotation is read as starting at its
decline, and `watch --follow`, which followed the rename and saw every record, ended with a
whole-run answer from the tail only (a checkpoint 0.08 below the run's best). So a log with
rotated parts beside it is read from its oldest part on, as one log (`joined_log.RotatedLog`),
and says so; every command that reads it (analyze, inspect, a replay, the end of a follow)
reads the same records. This module finds the parts; `joined_log` reads them.

A launcher that starts a new file at each launch of a resumed run is read the same way, by the
naming its reader states (`Source.ROTATION`, `NAMINGS`): ESPnet's `train.1.log`, `train.2.log`
and icefall's `log-train-<date>`, one a launch (a one-GPU launch's and DDP rank 0's being the
same process's). An earlier launch whose log lacks its reader's end line crashed or was
stopped, and is said so (`joined_log.say_unfinished`); `watch --follow` of the last launch
moves on to the next one's file when it appears (`launch_follow`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from phasewatch.errors import InputError
from phasewatch.io.joined_log import RotatedLog
from phasewatch.output import counted

MAX_PARTS = 1000  # logrotate's `rotate N` is rarely above a few dozen
# A launcher's own naming of the files of a run's launches, which a reader states as its
# `Source.ROTATION` (any other log keeps logrotate's naming only: a Kaldi-style `train.1.log`
# of parallel job 1 is no rotation):
# - "before_suffix": ESPnet's `espnet2.bin.launch` moves `train.log` to `train.1.log` (and that
#   to `train.2.log`) at each launch, so a resumed run's `train.log` holds only the epochs since
#   its last launch;
# - "launch_date": icefall's `setup_logger` opens `log-train-YYYY-MM-DD-HH-MM-SS` (with `-RANK`
#   under DDP) at each launch, so a resumed run is one file a launch, the latest its last.
NAMINGS = ("", "before_suffix", "launch_date")
LAUNCHERS = ("before_suffix", "launch_date")  # a file a launch: each part an earlier launch
LAUNCH_DATED = re.compile(r"(?P<stem>.+)-(?P<date>\d{4}(?:-\d{2}){5})(?P<rank>-\d+)?")
MAIN_PROCESS = (None, "-0")  # a one-GPU launch's file (no rank) and DDP rank 0's: the run's


def _process(launch: re.Match) -> str | None:
    """Whose log a `LAUNCH_DATED` file is: the run's own ("", a one-GPU launch's or rank 0's,
    so a run resumed on another number of GPUs goes on in it), else its DDP rank's."""
    return "" if launch["rank"] in MAIN_PROCESS else launch["rank"]


def rotated_parts(path: Path, naming: str = "") -> list[Path]:
    """The rotated parts beside `path`, oldest first: `NAME.1`, `NAME.2`, ... (consecutive
    from 1; a higher number is older: logrotate's default, Python's RotatingFileHandler), else
    `NAME-YYYYMMDD` (logrotate's `dateext`; a later date is newer). Compressed parts
    (`NAME.2.gz`) are not read. A `naming` of `NAMINGS` (the reader's `ROTATION`) adds its
    launcher's: "before_suffix" `STEM.1.SUFFIX`, ...; "launch_date" the files of the same stem
    (and DDP rank, a one-GPU launch's being rank 0's) dated before `path`'s, `path` being the
    launch read last."""
    numbered = _numbered(lambda n: path.with_name(f"{path.name}.{n}"))
    if not numbered and naming == "before_suffix" and path.suffix:
        numbered = _numbered(lambda n: path.with_name(f"{path.stem}.{n}{path.suffix}"))
    if numbered:
        return numbered[::-1]
    if naming == "launch_date" and (launch := LAUNCH_DATED.fullmatch(path.name)) is not None:
        return _launches(path, launch, later=False)[-MAX_PARTS:]
    dated = re.compile(re.escape(path.name) + r"-\d{8}(\d{2})?")
    try:
        return sorted(p for p in path.parent.iterdir() if dated.fullmatch(p.name) and p.is_file())
    except OSError:
        return []


def _launches(path: Path, launch: re.Match, later: bool) -> list[Path]:
    """The files of the launches before `path`'s, or with `later` after it (`LAUNCH_DATED`:
    same stem, same process, an earlier or later date), oldest first: a one-GPU launch and a
    DDP launch's rank 0 are the same process (`_process`), as a run resumed on another number
    of GPUs continues it."""
    def keep(found: re.Match) -> bool:
        when = found["date"] > launch["date"] if later else found["date"] < launch["date"]
        return when and (found["stem"], _process(found)) == (launch["stem"], _process(launch))

    siblings = _dated_siblings(path, keep)
    return [p for _, p in sorted((found["date"], p) for found, p in siblings)]


def _dated_siblings(path: Path, keep: Callable[[re.Match], bool]) -> list[tuple[re.Match, Path]]:
    """The files beside `path` named as `LAUNCH_DATED` whose name's parts `keep` accepts, with
    those parts; none where the folder cannot be listed."""
    try:
        return [(found, p) for p in path.parent.iterdir()
                if (found := LAUNCH_DATED.fullmatch(p.name)) is not None and keep(found)
                and p.is_file()]
    except OSError:
        return []


def later_launches(path: Path, naming: str) -> list[Path]:
    """The files of the launches after `path`'s (naming "launch_date": the same stem and process,
    a later date), oldest first; [] for any other log."""
    launch = LAUNCH_DATED.fullmatch(path.name) if naming == "launch_date" else None
    return [] if launch is None else _launches(path, launch, later=True)


def other_ranks(path: Path, naming: str) -> list[Path]:
    """Under DDP every rank writes its own log, icefall's `log-train-<date>-<rank>`: for rank 0's
    or a one-GPU launch's (naming "launch_date"), the other ranks' files of its stem, of any
    launch; [] for any other log. Rank 0's is the run: icefall writes its TensorBoard from
    rank 0, and the other ranks' batch losses are their own shards' beside the same
    all-reduced validation."""
    launch = LAUNCH_DATED.fullmatch(path.name) if naming == "launch_date" else None
    if launch is None or _process(launch) != "":
        return []
    return sorted(p for _, p in _dated_siblings(
        path, lambda found: found["stem"] == launch["stem"] and _process(found) != ""))


def rank_note(path: Path, naming: str, earlier: int = 0) -> str | None:
    """What to say of a DDP rank's log other than rank 0's named by itself (naming
    "launch_date": icefall's `log-train-<date>-<rank>`), which is read as named, with that
    rank's own `earlier` launches (said only where there are some: a run of one launch has
    none): every rank logs the same validation (icefall all-reduces it in
    `compute_validation_loss` and every rank prints it), so phasewatch's answer on it is
    the run's, but each rank's batch losses are its own data shard's, and rank 0's log is the
    run's (its TensorBoard and checkpoints are rank 0's). None for any other log."""
    launch = LAUNCH_DATED.fullmatch(path.name) if naming == "launch_date" else None
    if launch is None or _process(launch) == "":
        return None
    rank, main = launch["rank"][1:], f"{launch['stem']}-{launch['date']}-0"
    launches = f", with rank {rank}'s earlier launches" if earlier else ""
    return (f"read as DDP rank {rank}'s log{launches}: its validation "
            f"lines are those every rank logs (the same all-reduced values), but its batch losses "
            f"are rank {rank}'s own data shard's; rank 0's log ({main}"
            f"{' beside it' if path.with_name(main).is_file() else ', not beside it'}) is the "
            "run's, as its TensorBoard is: name it, or the folder, for the run's train loss")


def rotation_naming(reader) -> str:
    """The naming of its launcher's rotated parts the reader module states (`NAMINGS`)."""
    return getattr(getattr(reader, "Source", None), "ROTATION", "")


def without_rotated_parts(logs: list[tuple[Path, ModuleType]]) -> list[Path]:
    """The logs of a folder (each with its reader) less those that are a rotated part of another
    among them: a log is read with its parts (`with_rotated_parts`), so a folder of `train.log`
    and its `train.log.1` (ESPnet's `train.1.log`) holds one run, not one per file; nor is a
    DDP rank's log beside rank 0's (`other_ranks`) a run of its own."""
    parts = {part for path, reader in logs for naming in [rotation_naming(reader)]
             for part in rotated_parts(path, naming) + other_ranks(path, naming)}
    return [path for path, _ in logs if path not in parts]


def _numbered(name: Callable[[int], Path]) -> list[Path]:
    """The files `name(1)`, `name(2)`, ... that exist, up to the first missing one."""
    found: list[Path] = []
    while len(found) < MAX_PARTS and (part := name(len(found) + 1)).is_file():
        found.append(part)
    return found


def with_rotated_parts(source, notice=None):
    """`source`, preceded by the rotated parts of the line log it reads where there are any
    (each read by the reader its content calls for: a run folder's `metrics.jsonl.1` is JSON
    lines); else `source` itself."""
    from phasewatch.io import sniff_format
    from phasewatch.io.source import LineRecordSource

    if not isinstance(source, LineRecordSource):
        return source
    opened, said = [], []
    # a reader whose launcher names its parts its own way says so (espnet's, icefall's)
    naming = getattr(source, "ROTATION", "")
    if ranks := other_ranks(source.file, naming):
        shown = ", ".join(p.name for p in ranks[:3]) + (", ..." if len(ranks) > 3 else "")
        said.append(f"the logs of the other DDP ranks beside it ({counted(len(ranks), 'file')}: "
                    f"{shown}) are not read: rank 0's is the run's (the others' batch losses are "
                    "their own data shards', beside the same validation)")
    for part in rotated_parts(source.file, naming):
        try:
            reader = sniff_format(part).source(part, follow=False, notice=notice)
        except InputError:  # an empty or unreadable part: not read, and said
            said.append(_unread_part(part, source.file.name, naming))
            continue
        if isinstance(reader, LineRecordSource):
            opened.append(reader)
    if (note := rank_note(source.file, naming, len(opened))) is not None:
        said.insert(0, note)  # before what is said of its ranks and launches
    joined = _joined(source, opened, naming, said)
    if naming == "launch_date" and source.tail.follow and not later_launches(source.file, naming):
        from phasewatch.io.launch_follow import LaunchesFollowed  # the run's next launches

        return LaunchesFollowed(joined, notice)
    return joined


def _joined(source, opened: list, naming: str, said: list[str]):
    """`source` after the `opened` parts, as one `RotatedLog` (said, after what else was
    `said` of its parts and ranks), or itself if none (`said` among its warnings)."""
    if not opened:
        for message in said:
            source.warn(message)
        return source
    names = ", ".join(p.file.name for p in opened)
    if naming == "launch_date":
        said.append(f"read as one run joined from {len(opened) + 1} files, one a launch, oldest "
                    f"first: {names}, then {source.file.name} (a resumed run's launches each "
                    "write their own file)")
    else:
        said.append(f"read the rotated parts of {source.file.name} first, oldest first: {names} "
                    "(a log rotated while its run went on holds only the run's tail)")
    return RotatedLog(opened, source, launches=naming in LAUNCHERS, said=said)


def _unread_part(part: Path, name: str, naming: str) -> str:
    """What to say of a rotated part or earlier launch `part` of the log `name` that holds no
    log phasewatch reads (empty, or a launch that crashed before its first logged step)."""
    if naming not in LAUNCHERS:
        return (f"{part.name} beside it looks like a rotated part of {name} but holds no log "
                "phasewatch reads: left out")
    from phasewatch.io.crash_tail import python_error

    why = python_error(part) or "empty, or in a form phasewatch does not read"
    return (f"{part.name} beside it, an earlier launch of the run, holds no record: it ended "
            f"before its first logged step ({why}); left out")
