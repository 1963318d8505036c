"""PyTorch Lightning's logger folders (`save_dir/<name>/version_N/`): which versions are one run.

Each Lightning logger takes the next free `version_N` of its folder, so versions are not runs:
  - A Trainer given CSVLogger and TensorBoardLogger with one save_dir writes one training twice:
    `metrics.csv` in version_0 and event files in version_1 (trial 40, Lightning 2.6.6). Read as
    two runs, every command on the folder said "this folder holds 2 runs (version_0,
    version_1)", and a `watch --follow` of it started before `fit` followed neither. Two versions
    holding the same records (the same values of the same metrics at the same steps: records,
    not names, tell; TensorBoard keeps float32, the CSV its float64 digits) are one run, read
    from the one with more records (the lower version on a tie), and a warning says which.
  - `Trainer.fit(ckpt_path=...)` writes a new version that continues an earlier one: trial 40's
    run crashed at step 300 (version_0 logged 0-294), resumed from its step-140 checkpoint into
    version_2, whose first step is 144. Read alone, version_2 was a fresh run whose baseline was
    the resume point (0.743: "overfit 149 -> 399, stop 149", where the run peaked at 0.7487 at
    step 139). A version whose first step is past 0 and within an earlier version's steps, with
    the same metrics (and the same hparams.yaml where both have one), is read after it as one
    run, as an HF Trainer's `runs/<date>_<host>` starts are (`io.tensorboard.trainer_starts`):
    its records supersede the earlier version's from the step it went back to, and a warning
    names both versions and that step. A version starting at step 0 is a run of its own (a
    re-run), and the versions of a folder given one by one are read as they are, except that a
    resumed version is read after the version(s) it continues.
A version with no records yet (a logger that has written only hparams.yaml) is left out while
another has some: it is a follow's early look at a run being written.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.io.lightning_folder import HPARAMS, VERSION

SAME = 0.9  # share of the smaller version's (metric, step) points two versions of one run share
CLOSE = 1e-6  # relative: a float32 against the float64 written of it
MAX_CACHED = 64


@dataclass(frozen=True)
class _Log:
    """One version's log, as compared: its (metric, step) -> value points, its first and last
    steps, its metrics and its hparams.yaml (read once: each comparison parsed both files
    again, 10 parses for one `find_runs` of a folder of four versions)."""

    folder: Path
    found: object  # folders.Found
    format: str
    points: dict
    first: int
    last: int
    names: frozenset
    hparams: dict | None  # `lightning_hparams`: None when the version has no hparams.yaml

    @property
    def number(self) -> int:
        return int(VERSION.fullmatch(self.folder.name).group(1))


def versions(folder: Path) -> list[Path] | None:
    """The `version_N` folders of a Lightning logger's folder, in version order, when every
    sub-folder is one and there are two or more; else None."""
    from phasewatch.folder_logs import subdirs_in

    subdirs = subdirs_in(folder)
    if len(subdirs) < 2 or not all(VERSION.fullmatch(p.name) for p in subdirs):
        return None
    return sorted(subdirs, key=lambda p: int(VERSION.fullmatch(p.name).group(1)))


def logger_runs(folder: Path, own: Callable[[Path], list]) -> list | None:
    """The runs of a Lightning logger's folder (`folders.Found` each: twins read once, a resume
    read after what it continues), or None when `folder` is not one. `own(version)` is the
    run(s) a version folder holds by itself."""
    found_versions = versions(folder)
    if found_versions is None:
        return None
    logs, others = _logs([(v, own(v)) for v in found_versions])
    kept: list[_Log] = []
    twins: dict[Path, list[_Log]] = {}  # a kept version -> the versions holding its records
    for log in logs:
        twin = next((k for k in kept if _same_records(k, log)), None)
        if twin is None:
            kept.append(log)
            twins[log.folder] = []
        elif len(log.points) > len(twin.points):
            kept[kept.index(twin)] = log
            twins[log.folder] = twins.pop(twin.folder) + [twin]
        else:
            twins[twin.folder].append(log)
    chains: list[list[_Log]] = []
    for log in kept:
        chain = next((c for c in reversed(chains) if _continues(c[-1], log)), None)
        if chain is None:
            chains.append([log])
        else:
            chain.append(log)
    runs = [_found([(log, twins[log.folder]) for log in chain]) for chain in chains]
    return sorted(runs + others, key=lambda f: _number(f.name))


def resumed(folder: Path, found: list) -> list:
    """`found`, the run of version folder `folder` by itself, read after the earlier version(s)
    it continues when it is a resume (`_continues`); else as it is."""
    chain = _chain(folder, found)
    return found if len(chain) < 2 else [_found([(c, []) for c in chain])]


def version_of(path: Path) -> Path | None:
    """The `version_N` folder of a log (the folder itself, or a file in it), else None."""
    folder = path if path.is_dir() else path.parent
    return folder if VERSION.fullmatch(folder.name) else None


def continued_versions(path: str | Path) -> list[tuple[Path, int]]:
    """The earlier version folders the log at `path` (a version folder, or a log file in one)
    continues, oldest first, each with the step a later version of the run went back to (the
    earliest such: that version's records from it on are an abandoned branch); [] when the log
    is no resume. ModelCheckpoint's files of a resumed run are in each version's folder (trial
    40: the best, `epoch=6-step=140.ckpt`, in version_0, the resume's in version_2)."""
    folder = version_of(Path(path))
    if folder is None:
        return []
    from phasewatch.folders import run_of_version

    chain = _chain(folder, run_of_version(folder))
    return [(log.folder, min(later.first for later in chain[i + 1:]))
            for i, log in enumerate(chain[:-1])]


def resumed_by(path: Path) -> Path | None:
    """The log of the version that resumes the one whose log is `path` (a later version whose
    log continues it: `_continues`), the same reader's first (CSVLogger's version continues
    CSVLogger's, not its TensorBoard twin), then the lowest; None when there is none yet."""
    folder = version_of(path)
    found_versions = versions(folder.parent) if folder is not None else None
    if found_versions is None:
        return None
    from phasewatch.folders import run_of_version

    mine, _ = _logs([(folder, run_of_version(folder))])
    if not mine or mine[0].found.path != path:
        return None
    later = [v for v in found_versions if _number(v)[0] > mine[0].number]
    logs, _ = _logs([(v, run_of_version(v)) for v in later])
    resumes = [log for log in logs if _continues(mine[0], log)]
    if not resumes:
        return None
    return Path(min(resumes, key=lambda c: (c.format != mine[0].format, c.number)).found.path)


def _chain(folder: Path, found: list) -> list[_Log]:
    """The versions a version folder's one run is read after, then its own: [its log] when it
    is no resume, [] when it is not one version's one log."""
    found_versions = versions(folder.parent) if VERSION.fullmatch(folder.name) else None
    if len(found) != 1 or found_versions is None:
        return []
    logs, _ = _logs([(folder, found)])
    if not logs or logs[0].first <= 0:
        return logs
    log = logs[0]
    earlier = [v for v in found_versions if _number(v)[0] < log.number]
    from phasewatch.folders import run_of_version

    candidates, _ = _logs([(v, run_of_version(v)) for v in earlier])
    chain = [log]
    while chain[0].first > 0:
        before = [c for c in candidates if c.number < chain[0].number and _continues(c, chain[0])]
        if not before:
            break
        # a twin of the same format first (the TensorBoard version continues the TensorBoard
        # one), then the latest
        chain.insert(0, max(before, key=lambda c: (c.format == log.format, c.number)))
    return chain


def _found(chain: list[tuple[_Log, list[_Log]]]):
    """The Found of one run: its last version's log, read after the earlier ones (`parts`)."""
    from phasewatch.folders import Found, relative

    notes = []
    pairs = [f"{', '.join(t.folder.name for t in twins)} "
             f"{'holds' if len(twins) == 1 else 'hold'} the same records as {log.folder.name}"
             for log, twins in chain if twins]
    if pairs:
        read = ", ".join(relative(log.found.path, log.folder.parent) for log, twins in chain
                         if twins)
        notes.append(f"{'; '.join(pairs)} (the loggers of one Trainer, such as CSVLogger and "
                     f"TensorBoardLogger in one save_dir): read once, from {read}")
    for (earlier, _), (later, _) in itertools.pairwise(chain):
        notes.append(f"{later.folder.name} resumes {earlier.folder.name} (Trainer.fit with "
                     f"ckpt_path) at step {later.first}, where {earlier.folder.name} had logged "
                     f"up to step {earlier.last}: read as one run, {later.folder.name}'s records "
                     f"superseding {earlier.folder.name}'s from step {later.first} on")
    last = chain[-1][0]
    return Found(last.found.path, "\n".join(notes), root=last.folder,
                 parts=tuple(log.found.path for log, _ in chain[:-1]))


def _continues(earlier: _Log, later: _Log) -> bool:
    """Whether `later` is a resume of `earlier`: it starts past step 0 and within `earlier`'s
    steps, logs the same metrics, and has the same hparams.yaml where both have one."""
    if not (later.first > 0 and earlier.first < later.first <= earlier.last):
        return False
    return later.names == earlier.names and _same_hparams(earlier, later)


def _same_records(a: _Log, b: _Log) -> bool:
    """Whether two versions are one training's logs: most of the smaller one's points are the
    other's too (the other logger may not have flushed its last records yet), with the same
    values, and the same hparams.yaml where both have one (two runs of other settings can
    log the same step-0 validation of one starting model)."""
    if not _same_hparams(a, b):
        return False
    shared = a.points.keys() & b.points.keys()
    if not shared or len(shared) < SAME * min(len(a.points), len(b.points)):
        return False
    return all(_close(a.points[key], b.points[key]) for key in shared)


def _close(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= CLOSE * max(abs(x), abs(y))


def _same_hparams(a: _Log, b: _Log) -> bool:
    """Whether two versions' hparams.yaml are equal, where both have one that reads."""
    mine, theirs = a.hparams, b.hparams
    return not mine or not theirs or mine == theirs


def _logs(pairs) -> tuple[list[_Log], list]:
    """The versions' logs with records (read, or from the cache while unchanged), and the
    runs that are not compared: a version holding several runs, or a log that does not read
    (its error is the reader's when it is opened)."""
    logs, others = [], []
    for folder, found in pairs:
        if len(found) != 1:
            others.extend(found)
            continue
        try:
            log = _read(folder, found[0])
        except InputError:
            others.append(found[0])
            continue
        if log is not None:
            logs.append(log)
    return logs, others


_cache: dict[tuple, _Log | None] = {}


def _read(folder: Path, found) -> _Log | None:
    """The version's log as compared, None when it holds no record yet."""
    path = Path(found.path)
    key = (folder, path, _signature(path, folder))
    if key in _cache:
        return _cache[key]
    from phasewatch.io.lightning_folder import lightning_hparams
    from phasewatch.values import to_float

    module = _reader(path)
    source = module.source(path)  # (`open_log`, with the module kept for its format)
    points: dict[tuple[str, int], float] = {}
    try:
        for record in source.read(final=True):
            for name, value in record.values.items():
                number = to_float(value)
                if number is not None:
                    points[(record.group + name, record.step)] = number
    finally:
        source.close()
    steps = [step for _, step in points]
    log = _Log(folder, found, module.FORMAT, points, min(steps), max(steps),
               frozenset(name for name, _ in points), lightning_hparams(folder)) if points else None
    if len(_cache) >= MAX_CACHED:
        _cache.clear()
    _cache[key] = log
    return log


def _reader(path: Path):
    """The reader of one version's log (a file, or a folder a reader takes whole), by content;
    not `io.sniff_format`, which would look for the run of the version folder again."""
    from phasewatch.io import iter_readers, read_head

    head = read_head(path)
    module = next((m for m in iter_readers() if m.sniff(path, head)), None)
    if module is None:
        raise InputError("unknown log format", path)
    return module


def open_log(path: Path, follow: bool = False, notice=None):
    """The source of one version's log, by its reader (`_reader`)."""
    return _reader(path).source(path, follow=follow, notice=notice)


def after_earlier_versions(parts: tuple[Path, ...], source, notice=None):
    """`source`, the log of a resumed version, read after the logs of the versions it
    continues (`parts`, each read whole), as one stream: the step counter going back at the
    resume is then a resume of one run (`records`), later records superseding earlier ones."""
    from phasewatch.folders import relative
    from phasewatch.io.joined_log import RotatedLog

    opened = [open_log(part, notice=notice) for part in parts]
    names = [relative(part, part.parent.parent if part.is_file() else part.parent)
             for part in (*parts, Path(source.source))]
    return RotatedLog(opened, source, names[:-1], current_name=names[-1])


def _signature(path: Path, folder: Path) -> tuple:
    """What changes when a log grows: its files' sizes and times (a folder's event files), and
    its version's hparams.yaml (kept in its `_Log`; a logger writes it at the start)."""
    files = [path] if not path.is_dir() else sorted(p for p in path.iterdir() if p.is_file())
    if folder / HPARAMS not in files:
        files.append(folder / HPARAMS)
    out = []
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            continue
        out.append((file.name, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def _number(path: Path) -> tuple[int, str]:
    match = VERSION.fullmatch(Path(path).name)
    return (int(match.group(1)), "") if match else (1 << 62, str(path))

