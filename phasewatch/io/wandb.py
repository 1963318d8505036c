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
the same row when one is defined (the `metric` records say so, globs included), else the run's
own counter logged as a value (nanoGPT's `iter`: `wandb_counter`), else `_step`;
but a `<prefix>/global_step` logged beside the key in the same row wins over another declared
step metric (OpenRLHF declares `eval/*` against `eval/epoch`, never logs it, and logs
`eval/global_step`; W&B's step_sync fills the row's `eval/epoch` with 0).
Keys starting with "_" (`_step`, `_runtime`, `_timestamp`) are W&B bookkeeping, not metrics.
A file with no history row whose captured console holds a training log (a Trainer's dict lines
printed, W&B initialised but never logged to) is read from that console by its console reader
(`printed_log`), with a warning: the curve the run printed, where W&B kept no other.
A logged table, image or other media object is no number: the file holds it as nested keys
beside its `<name>._type` (`completions._type` "table-file", `completions.nrows`,
`completions.size`, `completions.sha256`), which are left out, as `wandb_history` leaves the
object out (`media_keys`).
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
from phasewatch.files import open_regular
from phasewatch.io.jsonlines import loads
from phasewatch.io.lfs import raise_if_lfs_pointer
from phasewatch.io.post_training import (
    END_KEY,
    PostTrainingEvaluations,
    loads_best,
    replace_notes,
)
from phasewatch.io.printed_log import MIN_PRINTED_RECORDS, located, read_printed
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.io.wandb_console import ConsoleTail
from phasewatch.io.wandb_counter import WANDB_STEP, OwnCounter, integer_step
from phasewatch.run import Run

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
    """(record number, payload) of every intact record in a whole W&B transaction log."""
    yield from LogReader().read(data[HEADER.size:], HEADER.size, warn, final=True)


class LogReader:
    """Reads the records of a W&B transaction log as it grows; keeps the absolute offset of
    the next chunk (blocks are aligned on the file) and the pieces of a record split across
    blocks.

    A chunk with a bad checksum or type loses the record it belongs to: the rest of its 32 KiB
    block is skipped (chunks never cross blocks) and reading resumes at the next block. A
    chunk not yet complete is read next time (or, in a final read, reported as cut off).
    """

    def __init__(self) -> None:
        self.offset = HEADER.size
        self.number = 0
        self.pending: list[bytes] | None = None

    def read(self, data: bytes, base: int, warn, final: bool) -> Iterator[tuple[int, bytes]]:
        """Records in `data`, the file's bytes from offset `base` (== `self.offset`) on."""
        size = base + len(data)
        while self.offset < size:
            offset = self.offset
            room = BLOCK - offset % BLOCK
            if room < CHUNK.size:
                self.offset += room
                continue
            rel = offset - base
            if offset + CHUNK.size > size:
                if final:
                    warn(f"the file ends inside a record header at byte {offset} "
                         "(still being written?)")
                return
            crc, length, kind = CHUNK.unpack_from(data, rel)
            end = offset + CHUNK.size + length
            if end > size:
                if final:
                    warn(f"the file ends inside record {self.number + 1} "
                         "(still being written, or cut off)")
                return
            payload = data[rel + CHUNK.size:rel + CHUNK.size + length]
            if kind not in _TYPE_CRC or zlib.crc32(payload, _TYPE_CRC[kind]) != crc:
                if not final and end == size and not any(payload):
                    return  # zeros where the writer has not written yet: look again later
                warn(f"damaged data at byte {offset}; skipped to the next 32 KiB block")
                self.offset += room
                self.pending = None
                continue
            self.offset = end
            if kind == FULL:
                self.number += 1
                yield self.number, payload
            elif kind == FIRST:
                self.pending = [payload]
            elif self.pending is not None:
                self.pending.append(payload)
                if kind == LAST:
                    self.number += 1
                    yield self.number, b"".join(self.pending)
                    self.pending = None


class StepMetrics:
    """Which step metric each key is logged against: its `define_metric` records, else the
    run's own counter (`wandb_counter.OwnCounter`), else W&B's `_step`."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}
        self.globs: list[tuple[str, str]] = []
        self.own = OwnCounter()

    def define(self, metric) -> None:
        if not metric.step_metric:
            return
        if metric.name:
            self.exact[metric.name] = metric.step_metric
        elif metric.glob_name:
            self.globs.append((metric.glob_name, metric.step_metric))

    def declared(self, key: str) -> str | None:
        """The step metric `key` is declared against, if any."""
        if key in self.exact:
            return self.exact[key]
        for pattern, step_metric in self.globs:
            if fnmatch.fnmatchcase(key, pattern):
                return step_metric
        return None


def _key(item) -> str:
    """A history/config key; nested dicts (`{"eval": {"acc": 1}}`) read "eval.acc" as in W&B."""
    return ".".join(item.nested_key) if item.nested_key else item.key


class Source(RecordSource):
    """A `.wandb` file read as it grows: history rows become records, `metric` records say
    which step each key is logged against, `run`/`config` records give the name and config,
    and the `exit` record says the run finished, with exit code 0 (wandb-mistral-qlora-
    trainloss-409's says 255: it stopped at step 4090 of an epoch of ~500,000 steps, and a run
    that says it finished gets no "the log ends before its plan" warning)."""

    format = FORMAT
    # wandb >= 0.19 (wandb-core) writes the offline transaction log in blocks, every
    # `x_transaction_log_flush_interval` s (15 by default; measured with 0.31: the first block
    # 14.6 s after `wandb.init`, the next at 29.6 s, nothing between): a follow idle for less
    # than that would end a live run, or call it one without `wandb.log` calls.
    quiet_between_writes = 20.0
    quiet_between_writes_why = "wandb writes its .wandb file in blocks, about every 15 s"

    def __init__(self, path: Path, follow: bool = False, notice=None):
        self.pb = require("wandb.proto.wandb_internal_pb2", "wandb", path,
                          "read W&B offline run files")
        file = path
        if path.is_dir():
            files = run_files(path)
            if len(files) != 1:
                names = ", ".join(p.name for p in files)
                raise InputError(f"this folder holds several W&B run files ({names}); pass one",
                                 path)
            file = files[0]
        super().__init__(file)
        self.follow = follow
        self.reader = LogReader()
        self.step_metrics = StepMetrics()
        self.header_checked = False
        self.undecodable = 0
        self.bad_steps: list[str] = []  # metrics of history rows without a usable step
        self._post_training = PostTrainingEvaluations()
        self._end_pending = False  # train_runtime in the summary, no history row since
        self._post_notes: list[str] = []
        self.console = ConsoleTail()  # why a file without history rows has none
        self._history = False  # a history row was read
        self._printed_read = False  # the console's log read where no history row came
        self.info.name = file.stem

    def read(self, final: bool = True):
        final = final or not self.follow
        try:
            with open_regular(self.path) as fh:  # a FIFO is refused, not waited on
                if not self.header_checked:
                    head = fh.read(HEADER.size)
                    if len(head) < HEADER.size and not final:
                        return
                    _check_header(head, self.path)
                    self.header_checked = True
                fh.seek(self.reader.offset)
                data = fh.read()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from exc
        base = self.reader.offset
        for _, payload in self.reader.read(data, base, self.warn, final):
            record = self.pb.Record()
            try:
                record.ParseFromString(payload)
            except Exception:  # noqa: BLE001 - protobuf's DecodeError differs between backends
                self.undecodable += 1
                continue
            kind = record.WhichOneof("record_type")
            if kind == "history":
                self._history = True
                self.console.history_came()
                yield from self._kept(_history_records(record.history, self.step_metrics,
                                                       self.bad_steps))
            elif kind == "summary":
                # HF's WandbCallback writes train_runtime to the summary when train() returns,
                # then a history row at the last step: the end of training (`post_training`)
                self._end_pending |= any(_key(item).endswith(END_KEY)
                                         for item in record.summary.update)
            elif kind == "metric":
                self.step_metrics.define(record.metric)
            elif kind == "run":
                self.info.name = record.run.display_name or record.run.run_id or self.info.name
                _update_config(self.info.config, record.run.config)
            elif kind == "config":
                _update_config(self.info.config, record.config)
            elif kind == "exit":  # written on a crash too: 255 for a killed or failed run
                self.info.finished = record.exit.exit_code == 0
                self.console.exited(record.exit)
            elif kind in ("output_raw", "output"):
                self.console.add(getattr(record, kind).line)
        self._post_notes = replace_notes(self.warnings, self._post_notes, [self._post_training])
        if final and not self._history and not self._printed_read:
            self._printed_read = True
            yield from self._printed()

    def _printed(self):
        """The records of the training log the captured console holds, in a file with no
        history row; nothing where no console reader takes it (the error says why the file is
        empty) or it shows one row, a summary and no curve."""
        try:
            printed = read_printed(self.path, self.console.whole())
        except InputError:
            return
        if printed is None or len(printed.records) < MIN_PRINTED_RECORDS:
            return
        self.warn("no history rows (wandb.log calls) in this run file: read the training log "
                  "its console output holds (the script's stdout and stderr, which the W&B "
                  f"SDK keeps in the file), as {printed.format} reads a console log; line "
                  "numbers count the lines of that output")
        self.warnings.extend(located("its console output", w) for w in printed.warnings)
        self.info.step_unit = printed.step_unit
        self.info.finished = self.info.finished or printed.finished
        self.info.printed_names.update(printed.printed_names)
        if self.info.performance_metric is None and printed.declared[0] is not None:
            self.info.performance_metric, self.info.direction = printed.declared
        for key, value in printed.config.items():
            self.info.config.setdefault(key, value)
        yield from printed.records

    def _kept(self, records):
        """The history records without an evaluate() after train() (`post_training`)."""
        check = self._post_training
        check.loaded_best = loads_best(self.info.config)
        for record in records:
            if self._end_pending:
                check.ended_at(record.step)
                self._end_pending = False
            values = check.kept(record.step, record.values)
            if values:
                yield Record(record.step, values)

    def finish(self, collector) -> None:
        counter_note = self.step_metrics.own.note()
        if counter_note:
            collector.warn(counter_note)
        if self.undecodable:
            collector.warn(f"skipped {self.undecodable} records the installed wandb SDK could "
                           "not decode")
        if self.bad_steps:
            collector.warn(f"skipped {len(self.bad_steps)} values whose history row has no "
                           f"usable step (NaN, infinite or beyond 2**53; first: "
                           f"{self.bad_steps[0]!r})")
        if collector.n_records == 0:
            raise InputError("no history rows (wandb.log calls) in this run file"
                             + self.console.why_empty(), self.path)


def _check_header(head: bytes, file: Path) -> None:
    if len(head) < HEADER.size or not head.startswith(MAGIC):
        raise_if_lfs_pointer(file)
        raise InputError("not a W&B run file (no ':W&B' header)", file)
    _, magic, version = HEADER.unpack_from(head)
    if magic != 0xBEE1 or version != 0:
        raise InputError(f"unsupported W&B log header (magic {magic:#x}, version {version})", file)


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))


def _history_records(history, step_metrics: StepMetrics, bad: list[str]):
    """One history row -> one record per step metric its keys use (usually one)."""
    row = {_key(item): _json(item.value_json) for item in history.item}
    media = media_keys(row)
    own = step_metrics.own
    own.see(row, any(not key.startswith("_") and key not in media for key in row))
    by_step: dict[int, dict[str, Any]] = {}
    for key, value in row.items():
        if key.startswith("_") or key in media:
            continue
        declared = step_metrics.declared(key)
        step_key = declared or own.key or WANDB_STEP
        if key == step_key or key == own.key or key in step_metrics.exact.values() or \
                key.rpartition("/")[2] == "global_step":
            continue  # a step counter, not a metric
        sibling = _sibling_step(key)
        if sibling != step_key and sibling in row:
            # OpenRLHF declares eval/* against eval/epoch but logs eval/global_step (W&B's
            # step_sync fills eval/epoch with its last value, 0): the training step the
            # framework logged beside the key wins.
            step = integer_step(row.get(sibling))
        elif declared is None and own.key is not None:  # `wandb_counter`, rule 2
            step = own.step()
        else:
            step = integer_step(row.get(step_key))
        if step is None:
            step = integer_step(row.get(WANDB_STEP))
            if step is None:  # NaN, 1e30, text: no usable step, counted and reported
                bad.append(key)
                continue
        by_step.setdefault(step, {})[key] = value
    for step, values in by_step.items():
        yield Record(step, values)


def media_keys(row: dict[str, Any]) -> set[str]:
    """The keys of a history row that describe a logged media object (a `wandb.Table`, an
    image, a histogram): every `<name>.<field>` beside a `<name>._type`. A TRL PPO run's
    completions table logged `completions.nrows` (8 -> 10,000), `completions.size` and
    `completions.ncols` at 11 steps, which analyze then offered as held-out scores ("logged at
    a few steps only, as evaluations are") beside its reward (wandb-trl-ppo-scores-500); the
    same run's `wandb-history.jsonl` holds the object whole, and it was left out there."""
    objects = {key[:-len("._type")] for key in row if key.endswith("._type")}
    return {key for key in row if any(key.startswith(f"{name}.") for name in objects)} \
        if objects else set()


def _sibling_step(key: str) -> str:
    """`eval/acc` -> `eval/global_step`; `acc` -> `global_step`."""
    prefix = key.rpartition("/")[0]
    return f"{prefix}/global_step" if prefix else "global_step"


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
