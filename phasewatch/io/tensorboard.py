"""TensorBoard event files (`events.out.tfevents.*`), read with the tensorboard package.

Scalars arrive in two encodings: `simple_value` (TF1, torch's SummaryWriter, HF Trainer) and
a rank-0 `tensor` tagged with the `scalars` plugin (TF2 `tf.summary.scalar`, tensorboard's own
`tensorboard.summary.Writer`). Both are read; images, histograms, text and hparams are not
metrics and are left out. One text is read: HF Trainer's TensorBoardCallback writes its
TrainingArguments (`args`) and the model's config (`model_config`) as JSON texts at the start,
which become `run.config` (the arguments over the model config, as HF's W&B callback merges
them), so a sweep of TensorBoard runs has their hyperparameters. Lightning's TensorBoardLogger
writes its hparams to `hparams.yaml` beside the event files instead, read as the config too,
and a placeholder `hp_metric` (-1 at step 0) that is left out (`io.lightning_folder`); a
`trainer.validate()` after `fit` that evaluates weights the curve already has a point for is
left out of the curve (`io.lightning_after_fit`). A detectron2 OUTPUT_DIR's `config.yaml` is
the run's config too, its planned length (`io.detectron2_config`).

PATH may be one event file or a folder. A folder's event files are read together: files in one
directory are one run written in several sessions (a resume starts a new file), and events are
merged in wall-time order so a resumed block supersedes what it re-logs. When event files sit
in several directories (Keras writes `train/` and `validation/`), each tag is prefixed with its
directory relative to PATH so the series stay apart, except in a Hugging Face Trainer's `runs/`
(`trainer_starts`): its `<date>_<host>` folders are the starts of one run (a run resumed into its
output folder writes one per start), read as one run in wall-time order. Keras' `epoch_<metric>` tags have the epoch
for their step: a run of only those says its steps are epochs (`xaxis.step_unit_of_tags`).
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

from phasewatch.errors import InputError, require
from phasewatch.files import open_regular
from phasewatch.io.detectron2_config import take_detectron2_config
from phasewatch.io.event_folders import EVENT_FILE_MARK, event_files
from phasewatch.io.jsonlines import loads
from phasewatch.io.lfs import raise_if_lfs_pointer
from phasewatch.io.lightning_after_fit import AfterFit
from phasewatch.io.lightning_folder import take_hparams, without_placeholder
from phasewatch.io.post_training import (
    PostTrainingEvaluations,
    ends_training,
    loads_best,
    replace_notes,
)
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.io.tfrecord import RECORD_HEADER, U32, checksums, resync
from phasewatch.run import Run
from phasewatch.values import MAX_STEP
from phasewatch.xaxis import step_unit_of_tags

FORMAT = "tensorboard"
FILE_VERSION_MARK = b"brain.Event:"
# HF TrainingArguments' default logging_dir: runs/ + datetime.now().strftime("%b%d_%H-%M-%S")
# + "_" + socket.gethostname(), one per Trainer (per start of a run)
_TRAINER_START = re.compile(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_.")
# HF's TensorBoardCallback: add_text("model_config", ...) then add_text("args", ...), JSON each;
# in this order in run.config (later keys win). Texts above the cap are not configs.
CONFIG_TEXTS = ("model_config/text_summary", "args/text_summary")
MAX_CONFIG_TEXT = 1 << 20


def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return bool(event_files(path, limit=1))
    return FILE_VERSION_MARK in head[:256]


def trainer_starts(folder: Path) -> list[Path]:
    """The `<date>_<host>` TensorBoard folders in `folder` when it is a Hugging Face Trainer's
    `runs/` (every sub-folder so named, each holding event files, none beside them), else [].
    A Trainer writes one per start, so a run killed and resumed into its output folder leaves
    two: they are one run, the resumed start's records superseding the steps it logs again
    (trial 34: read apart, the resume was two unrelated runs and a follow of `runs/` never
    moved to the new start's folder)."""
    if folder.name != "runs":
        return []
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    starts = [c for c in children if not c.name.startswith(".")]
    if not starts or not all(c.is_dir() and _TRAINER_START.match(c.name)
                             and any(EVENT_FILE_MARK in f.name for f in c.iterdir())
                             for c in starts):
        return []
    return starts


def _scalar(value, plugins: dict[str, str]):
    """The float in a summary value if it is a scalar, else None."""
    kind = value.WhichOneof("value")
    if value.metadata.plugin_data.plugin_name:
        plugins[value.tag] = value.metadata.plugin_data.plugin_name
    if kind == "simple_value":
        return float32_as_logged(value.simple_value)
    if kind != "tensor" or plugins.get(value.tag, "scalars") != "scalars":
        return None
    if any(dim.size != 1 for dim in value.tensor.tensor_shape.dim):
        return None  # not one number; checked before decoding (a declared [2e9] would allocate)
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(value.tensor)
    except (ValueError, TypeError):
        return None
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None
    number = float(array.reshape(-1)[0])
    return float32_as_logged(number) if array.dtype.itemsize == 4 and array.dtype.kind == "f" \
        else number


_F32 = struct.Struct("<f")


def float32_as_logged(number: float) -> float:
    """The shortest decimal that a float32 holds as `number` (0.546, not 0.5460000038146973).

    TensorBoard stores scalars as float32: the 0.546 a trainer logged comes back as the float32
    nearest it. Read as that float32's exact value, the same run gives other numbers in
    `inspect` and `analyze --format json` than its JSONL or CSV log does; the shortest decimal
    that rounds to the same float32 is the number that was logged whenever it had at most 9
    significant digits (a float32 carries no more)."""
    if not math.isfinite(number):
        return number
    stored = _F32.pack(number)
    for digits in (6, 7, 8):
        short = float(f"{number:.{digits}g}")
        try:
            if _F32.pack(short) == stored:
                return short
        except OverflowError:
            break
    return float(f"{number:.9g}")


class _EventFile:
    """One event file read incrementally: the offset of the next TFRecord is kept, and only
    complete records are decoded (a record still being written is read next time)."""

    def __init__(self, path: Path, index: int, group: str):
        self.path, self.index, self.group = path, index, group
        self.offset = 0
        self.n_events = 0
        self.plugins: dict[str, str] = {}
        self.configs: dict[str, dict] = {}  # CONFIG_TEXTS tag -> its JSON object
        self.broken = False  # the file cannot be read at all (permissions)

    def read(self, event_pb2, crcs, warn, final: bool) -> list[tuple]:
        """(wall_time, file index, event index, step, values) of the new scalar events.

        `crcs` is (length checksum, data checksum or None): a record whose checksums fail is
        skipped and said so; after a bad length the next intact record is searched for."""
        if self.broken:
            return []
        try:
            with open_regular(self.path) as fh:  # a FIFO is refused, not waited on
                fh.seek(self.offset)
                data = fh.read()
        except InputError as exc:
            warn(f"{self.group}{self.path.name}: {exc.message}")
            self.broken = True
            return []
        except OSError as exc:
            warn(f"{self.group}{self.path.name}: cannot read ({exc.strerror or exc})")
            self.broken = True
            return []
        crc, data_crc = crcs
        rows, pos = [], 0
        while pos + RECORD_HEADER.size <= len(data):
            length, length_crc = RECORD_HEADER.unpack_from(data, pos)
            if crc is not None and crc(data[pos:pos + 8]) != length_crc:
                found = resync(data, pos + 1, crc, data_crc or crc)
                if found is None:
                    if final:  # nothing after the damage can be framed: say so and stop
                        warn(f"{self.group}{self.path.name}: skipped {len(data) - pos} damaged "
                             f"bytes at the end (from byte {self.offset + pos}; no readable "
                             "record after them)")
                        pos = len(data)
                    break  # while following, a record may still complete the framing
                warn(f"{self.group}{self.path.name}: skipped {found - pos} damaged bytes at "
                     f"byte {self.offset + pos} (bad record length checksum); reading on from "
                     f"byte {self.offset + found}")
                pos = found
                continue
            end = pos + RECORD_HEADER.size + length + 4
            if end > len(data):
                break  # still being written
            payload = data[pos + RECORD_HEADER.size:pos + RECORD_HEADER.size + length]
            start, pos = pos, end
            if data_crc is not None and data_crc(payload) != U32.unpack_from(data, end - 4)[0]:
                # the length's own checksum held, so the next record starts right after
                warn(f"{self.group}{self.path.name}: skipped a damaged record at byte "
                     f"{self.offset + start} ({length} bytes; bad data checksum)")
                continue
            try:
                event = event_pb2.Event.FromString(payload)
            except Exception:  # noqa: BLE001 - protobuf's DecodeError differs by backend
                warn(f"{self.group}{self.path.name}: skipped an undecodable record at byte "
                     f"{self.offset + start} ({length} bytes)")
                continue
            self.n_events += 1
            if not event.HasField("summary"):
                continue
            step = int(event.step)
            if abs(step) > MAX_STEP:
                warn(f"{self.group}{self.path.name}: skipped an event with step {step} "
                     "(beyond 2**53)")
                continue
            values = {}
            for value in event.summary.value:
                if value.tag in CONFIG_TEXTS:
                    self._config_text(value, warn)
                    continue
                number = _scalar(value, self.plugins)
                if number is not None:
                    values[self.group + value.tag] = number
            if values:
                rows.append((event.wall_time, self.index, self.n_events, step, values,
                             self.group))
        self.offset += pos
        if final and not self.broken and pos < len(data):
            warn(f"{self.group}{self.path.name}: the last record is incomplete "
                 "(the writer stopped mid-write)")
        return rows


    def _config_text(self, value, warn) -> None:
        """HF's TrainingArguments / model config text: a JSON object (else a warning)."""
        texts = value.tensor.string_val
        if value.WhichOneof("value") != "tensor" or len(texts) != 1:
            return
        if len(texts[0]) > MAX_CONFIG_TEXT:
            warn(f"{self.group}{self.path.name}: the {value.tag} text is over "
                 f"{MAX_CONFIG_TEXT >> 20} MB; not read as the run's config")
            return
        try:  # `loads`: JSON nested past the recursion limit is a ValueError too
            doc = loads(texts[0].decode("utf-8"))
        except ValueError:  # UnicodeDecodeError among them
            doc = None
        if not isinstance(doc, dict):
            warn(f"{self.group}{self.path.name}: the {value.tag} text is not a JSON object; "
                 "not read as the run's config")
            return
        self.configs[value.tag] = doc


class Source(RecordSource):
    """Event files of a file or folder, read incrementally; a folder is rescanned at each read
    so event files that appear later (a resumed run, a new writer) are read too. Each read's
    new events are merged in wall-time order."""

    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path)
        self.follow = follow
        self._event_pb2 = require("tensorboard.compat.proto.event_pb2", "tensorboard", path,
                                  "read TensorBoard event files")
        self._crcs = checksums()
        if self._crcs[1] is None:
            self.warn("record data checksums not checked: install google-crc32c "
                      "(pip install 'phasewatch[tensorboard]') to have damaged records skipped")
        self.files: dict[Path, _EventFile] = {}
        self.info.name = path.name if path.is_dir() else path.parent.name
        self.n_scalar_events = 0
        self._scalar_tags: dict[str, str] = {}  # name in the run -> its directory prefix
        # per directory: an HF run's evaluate() after train() (`post_training`)
        self._post_training: dict[str, PostTrainingEvaluations] = {}
        self._after_fit: dict[str, AfterFit] = {}  # per directory: Lightning's validate()
        self._post_notes: list[str] = []

    def _scan(self) -> None:
        found = event_files(self.path) if self.path.is_dir() else [self.path]
        directories = sorted({f.parent for f in found} | {f.path.parent for f in self.files.values()})
        # a Trainer's runs/ (`trainer_starts`), told from the folders found: no second listing
        one_run = self.path.name == "runs" and all(
            d.parent == self.path and _TRAINER_START.match(d.name) for d in directories)
        for file in found:
            if file in self.files:
                continue
            group = ""
            if self.path.is_dir() and len(directories) > 1 and file.parent != self.path \
                    and not one_run:
                group = file.parent.relative_to(self.path).as_posix() + "/"
            self.files[file] = _EventFile(file, len(self.files), group)

    def read(self, final: bool = True):
        self._scan()
        # TensorBoardLogger's version_N/: its hparams.yaml beside the event files
        folder = self.path if self.path.is_dir() else self.path.parent
        take_hparams(self, folder)
        take_detectron2_config(self, folder)  # a detectron2 OUTPUT_DIR's config.yaml
        rows = []
        for file in self.files.values():
            rows.extend(file.read(self._event_pb2, self._crcs, self.warn, final))
        for tag in CONFIG_TEXTS:  # files in order: a resumed run's texts win
            for file in self.files.values():
                self.info.config.update(file.configs.get(tag, {}))
        rows.sort(key=lambda row: row[:3])
        self.n_scalar_events += len(rows)
        self._scalar_tags.update({name: group for *_, values, group in rows for name in values})
        self.info.step_unit = step_unit_of_tags(
            name[len(group):] for name, group in self._scalar_tags.items())
        loaded_best = loads_best(self.info.config)
        names = [file.path.name for file in self.files.values()]
        for _, index, _, step, values, group in rows:
            if ends_training(values):
                self.info.finished = True
            check = self._post_training.setdefault(group, PostTrainingEvaluations())
            check.loaded_best = loaded_best
            values = check.kept(step, without_placeholder(step, values))
            if values:
                after_fit = self._after_fit.setdefault(group, AfterFit(group + names[index]))
                yield from after_fit.take(Record(step, values, 0, group), group + names[index])
        for after_fit in self._after_fit.values():
            yield from after_fit.end(final)
        self._post_notes = replace_notes(
            self.warnings, self._post_notes,
            [*self._post_training.values(), *(a.check for a in self._after_fit.values())])

    def finish(self, collector) -> None:
        if not self.files:
            raise InputError("no TensorBoard event files (events.out.tfevents.*) in this folder",
                             self.path)
        if collector.n_records == 0:
            raise_if_lfs_pointer(*self.files)
            names = ", ".join(f.name for f in list(self.files)[:3])
            raise InputError(f"no scalar summaries in the event files ({names})", self.path)


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
