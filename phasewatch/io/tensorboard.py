"""TensorBoard event files (`events.out.tfevents.*`), read with the tensorboard package.

Scalars arrive in two encodings: `simple_value` (TF1, torch's SummaryWriter, HF Trainer) and
a rank-0 `tensor` tagged with the `scalars` plugin (TF2 `tf.summary.scalar`, tensorboard's own
`tensorboard.summary.Writer`). Both are read; images, histograms, text and hparams are not
metrics and are left out.

PATH may be one event file or a folder. A folder's event files are read together: files in one
directory are one run written in several sessions (a resume starts a new file), and events are
merged in wall-time order so a resumed block supersedes what it re-logs. When event files sit
in several directories (Keras writes `train/` and `validation/`), each tag is prefixed with its
directory relative to PATH so the series stay apart.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pandas as pd

from phasewatch.errors import InputError, require
from phasewatch.presets import aliases_for
from phasewatch.run import RecordCollector, Run

FORMAT = "tensorboard"
EVENT_FILE_MARK = "tfevents"
FILE_VERSION_MARK = b"brain.Event:"
MAX_FOLDER_DEPTH = 4
_NAME_TIME = re.compile(r"tfevents\.(\d+)")


def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return bool(event_files(path, limit=1))
    return FILE_VERSION_MARK in head[:256]


def event_files(folder: Path, limit: int | None = None) -> list[Path]:
    """Event files under `folder` (a few levels deep), oldest first within each directory."""
    found: list[Path] = []
    base_depth = len(folder.parts)
    for root, dirs, files in os.walk(folder):
        if len(Path(root).parts) - base_depth >= MAX_FOLDER_DEPTH:
            dirs[:] = []
        dirs.sort()
        for name in sorted(files):
            if EVENT_FILE_MARK in name:
                found.append(Path(root) / name)
                if limit is not None and len(found) >= limit:
                    return found
    return sorted(found, key=lambda p: (str(p.parent), _name_time(p), p.name))


def _name_time(path: Path) -> int:
    match = _NAME_TIME.search(path.name)
    return int(match.group(1)) if match else 0


def incomplete_tail(path: Path) -> bool:
    """True if the last TFRecord in the file is cut off (the writer died mid-record).

    The loader stops quietly at such a record; this check turns the silence into a warning.
    Each record is: uint64 length, uint32 crc, `length` bytes, uint32 crc.
    """
    size = path.stat().st_size
    offset = 0
    with open(path, "rb") as fh:
        while offset < size:
            fh.seek(offset)
            header = fh.read(8)
            if len(header) < 8:
                return True
            (length,) = struct.unpack("<Q", header)
            offset += 8 + 4 + length + 4
    return offset != size


def _scalar(value, plugins: dict[str, str]):
    """The float in a summary value if it is a scalar, else None."""
    kind = value.WhichOneof("value")
    if value.metadata.plugin_data.plugin_name:
        plugins[value.tag] = value.metadata.plugin_data.plugin_name
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor" or plugins.get(value.tag, "scalars") != "scalars":
        return None
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(value.tensor)
    except (ValueError, TypeError):
        return None
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None
    return float(array.reshape(-1)[0])


def read(path: Path) -> Run:
    loader_module = require(
        "tensorboard.backend.event_processing.event_file_loader",
        "tensorboard",
        path,
        "read TensorBoard event files",
    )
    files = event_files(path) if path.is_dir() else [path]
    if not files:
        raise InputError("no TensorBoard event files (events.out.tfevents.*) in this folder", path)
    by_directory: dict[Path, list[Path]] = {}
    for file in files:
        by_directory.setdefault(file.parent, []).append(file)
    runs = []
    for directory, directory_files in by_directory.items():
        prefix = ""
        if len(by_directory) > 1 and directory != path:
            prefix = directory.relative_to(path).as_posix() + "/"
        runs.append(_read_directory(loader_module, path, directory_files, prefix))
    if all(run.n_records == 0 for run in runs):
        names = ", ".join(f.name for f in files[:3])
        raise InputError(f"no scalar summaries in the event files ({names})", path)
    return _combine(runs, path)


def _read_directory(loader_module, source: Path, files: list[Path], prefix: str) -> Run:
    """One directory's event files as one run: events merged in wall-time order."""
    collector = RecordCollector(source, FORMAT)
    rows: list[tuple[float, int, int, int, dict[str, float]]] = []
    for file_index, file in enumerate(files):
        plugins: dict[str, str] = {}
        loader = loader_module.LegacyEventFileLoader(str(file))
        try:
            for event_index, event in enumerate(loader.Load()):
                if not event.HasField("summary"):
                    continue
                values = {}
                for value in event.summary.value:
                    number = _scalar(value, plugins)
                    if number is not None:
                        values[prefix + value.tag] = number
                if values:
                    rows.append((event.wall_time, file_index, event_index, int(event.step), values))
        except Exception as exc:  # protobuf raises its own DecodeError types
            if "DecodeError" not in type(exc).__name__ and not isinstance(exc, (OSError, ValueError)):
                raise
            collector.warn(f"{prefix}{file.name}: stopped at an unreadable record ({exc})")
        if incomplete_tail(file):
            collector.warn(f"{prefix}{file.name}: the last record is incomplete (the writer stopped mid-write)")
    rows.sort(key=lambda row: row[:3])
    for _, _, _, step, values in rows:
        collector.add(step, values)
    return collector.build()


def _combine(runs: list[Run], path: Path) -> Run:
    """Directories hold different series (their tags are prefixed), so resumes are found per
    directory and the tables simply stack."""
    table = pd.concat([run.table for run in runs], ignore_index=True)
    table = table.sort_values(["metric", "step"], kind="stable").reset_index(drop=True)
    return Run(
        table=table,
        source=str(path),
        format=FORMAT,
        n_records=sum(run.n_records for run in runs),
        name=path.name if path.is_dir() else path.parent.name,
        events=sorted((e for run in runs for e in run.events), key=lambda e: e.step),
        warnings=[w for run in runs for w in run.warnings],
        aliases=aliases_for(table["metric"].unique().tolist()),
    )
