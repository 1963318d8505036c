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

from phasewatch.errors import InputError, require
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
    directories = {f.parent for f in files}
    collector = RecordCollector(path, FORMAT)
    rows: list[tuple[float, int, int, int, dict[str, float]]] = []
    for file_index, file in enumerate(files):
        prefix = ""
        if len(directories) > 1 and file.parent != path:
            prefix = file.parent.relative_to(path).as_posix() + "/"
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
            collector.warn(f"{file.name}: stopped at an unreadable record ({exc})")
        if incomplete_tail(file):
            collector.warn(f"{file.name}: the last record is incomplete (the writer stopped mid-write)")
    if not rows:
        names = ", ".join(f.name for f in files[:3])
        raise InputError(f"no scalar summaries in the event files ({names})", path)
    rows.sort(key=lambda row: row[:3])
    for _, _, _, step, values in rows:
        collector.add(step, values)
    return collector.build(name=path.name if path.is_dir() else path.parent.name)
