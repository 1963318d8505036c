"""W&B offline run files (`run-<id>.wandb`), decoded with the wandb SDK's protobuf schema.

A `.wandb` file is W&B's transaction log: a LevelDB-style log (7-byte header ":W&B", magic,
version; then 32 KiB blocks of CRC-checked chunks) whose records are `wandb_internal_pb2.Record`
protobufs. Recent SDKs (>= 0.19) moved the file reader into their Go core and no longer ship a
Python one, so the framing is read here (it is ~30 lines, and reading it ourselves lets a
damaged or still-growing file keep every intact record), and each record is decoded with the
SDK's `Record` message, which is the part that changes between versions.

Steps: every history row has W&B's own counter `_step` (one per `wandb.log` call), but
frameworks log against their own step via `define_metric(..., step_metric=...)` (HF's
WandbCallback: `train/global_step`). Each metric's step is therefore its step metric's value in
the same row when one is defined (the `metric` records say so, globs included), else `_step`.
Keys starting with "_" (`_step`, `_runtime`, `_timestamp`) are W&B bookkeeping, not metrics.
"""

from __future__ import annotations

import fnmatch
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError, require
from phasewatch.io.jsonlines import loads
from phasewatch.run import RecordCollector, Run, to_float

FORMAT = "wandb"
MAGIC = b":W&B"
HEADER = struct.Struct("<4sHB")  # ident, magic 0xBEE1, version 0
CHUNK = struct.Struct("<IHB")  # crc32, length, type
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_TYPE_CRC = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}


def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return bool(run_files(path))
    return head.startswith(MAGIC)


def run_files(folder: Path) -> list[Path]:
    """`*.wandb` files directly in `folder` (a W&B run folder holds one)."""
    return sorted(p for p in folder.glob("*.wandb") if p.is_file())


def iter_records(data: bytes, warn) -> Iterator[tuple[int, bytes]]:
    """(record number, payload) of every intact record in a W&B transaction log.

    A chunk with a bad checksum or type loses the record it belongs to: the rest of its 32 KiB
    block is skipped (chunks never cross blocks) and reading resumes at the next block.
    """
    offset, number, pending = HEADER.size, 0, None
    size = len(data)
    while offset < size:
        room = BLOCK - offset % BLOCK
        if room < CHUNK.size:
            offset += room
            continue
        if offset + CHUNK.size > size:
            warn(f"the file ends inside a record header at byte {offset} (still being written?)")
            return
        crc, length, kind = CHUNK.unpack_from(data, offset)
        start, end = offset + CHUNK.size, offset + CHUNK.size + length
        if end > size:
            warn(f"the file ends inside record {number + 1} (still being written, or cut off)")
            return
        payload = data[start:end]
        if kind not in _TYPE_CRC or zlib.crc32(payload, _TYPE_CRC[kind]) != crc:
            warn(f"damaged data at byte {offset}; skipped to the next 32 KiB block")
            offset += room
            pending = None
            continue
        offset = end
        if kind == FULL:
            number += 1
            yield number, payload
        elif kind == FIRST:
            pending = [payload]
        elif pending is not None:
            pending.append(payload)
            if kind == LAST:
                number += 1
                yield number, b"".join(pending)
                pending = None


class StepMetrics:
    """Which step metric each key is logged against (`define_metric` records)."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}
        self.globs: list[tuple[str, str]] = []

    def define(self, metric) -> None:
        if not metric.step_metric:
            return
        if metric.name:
            self.exact[metric.name] = metric.step_metric
        elif metric.glob_name:
            self.globs.append((metric.glob_name, metric.step_metric))

    def step_key(self, key: str) -> str:
        if key in self.exact:
            return self.exact[key]
        for pattern, step_metric in self.globs:
            if fnmatch.fnmatchcase(key, pattern):
                return step_metric
        return "_step"


def _key(item) -> str:
    """A history/config key; nested dicts (`{"eval": {"acc": 1}}`) read "eval.acc" as in W&B."""
    return ".".join(item.nested_key) if item.nested_key else item.key


def read(path: Path) -> Run:
    pb = require("wandb.proto.wandb_internal_pb2", "wandb", path, "read W&B offline run files")
    file = path
    if path.is_dir():
        files = run_files(path)
        if len(files) != 1:
            names = ", ".join(p.name for p in files)
            raise InputError(f"this folder holds several W&B run files ({names}); pass one", path)
        file = files[0]
    data = _read_bytes(file)
    if len(data) < HEADER.size or not data.startswith(MAGIC):
        raise InputError("not a W&B run file (no ':W&B' header)", file)
    _, magic, version = HEADER.unpack_from(data)
    if magic != 0xBEE1 or version != 0:
        raise InputError(f"unsupported W&B log header (magic {magic:#x}, version {version})", file)

    collector = RecordCollector(file, FORMAT)
    step_metrics = StepMetrics()
    config: dict[str, Any] = {}
    name = None
    undecodable = 0
    for _, payload in iter_records(data, collector.warn):
        record = pb.Record()
        try:
            record.ParseFromString(payload)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError differs between backends
            undecodable += 1
            continue
        kind = record.WhichOneof("record_type")
        if kind == "history":
            _add_history(record.history, step_metrics, collector)
        elif kind == "metric":
            step_metrics.define(record.metric)
        elif kind == "run":
            name = record.run.display_name or record.run.run_id or None
            _update_config(config, record.run.config)
        elif kind == "config":
            _update_config(config, record.config)
    if undecodable:
        collector.warn(f"skipped {undecodable} records the installed wandb SDK could not decode")
    if collector.n_records == 0:
        raise InputError("no history rows (wandb.log calls) in this run file", file)
    return collector.build(name=name or file.stem, config=config)


def _add_history(history, step_metrics: StepMetrics, collector: RecordCollector) -> None:
    """One history row -> one record per step metric its keys use (usually one)."""
    row = {_key(item): _json(item.value_json) for item in history.item}
    by_step: dict[int, dict[str, Any]] = {}
    for key, value in row.items():
        if key.startswith("_"):
            continue
        step_key = step_metrics.step_key(key)
        if key == step_key or key in step_metrics.exact.values():
            continue  # a step counter, not a metric
        step = to_float(row.get(step_key))
        if step is None or not step.is_integer():
            step = to_float(row.get("_step"))
            if step is None:
                continue
        by_step.setdefault(int(step), {})[key] = value
    for step, values in by_step.items():
        collector.add(step, values)


def _update_config(config: dict[str, Any], record) -> None:
    for item in record.update:
        key = _key(item)
        if not key.startswith("_"):
            config[key] = _json(item.value_json)


def _json(text: str) -> Any:
    try:
        return loads(text)
    except (ValueError, json.JSONDecodeError):
        return None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc
