"""Readers: one module per source format, each giving the same stream of records.

Each reader module defines:
    FORMAT: str                                  the format's name (shown by `inspect`)
    def sniff(path: Path, head: bytes) -> bool   cheap content check; `head` is the first
                                                 64 KiB of a file (b"" for a folder)
    def source(path, follow=False, notice=None) -> RecordSource
                                                 the records and run metadata, readable again
                                                 and again as the log grows (`io.source`)
    def read(path: Path) -> Run                  `collect(source(path))`
Line-based formats define their `LineParser` (`feed(line, lineno) -> [(step, values)]`) and
use `io.source.LineRecordSource`, so every line is split and parsed by the same code whether a
file is read whole, replayed or followed.

`read_run` sniffs by content in the order of READERS (most specific first), not by file name,
and collects the records into a Run; `phasewatch.live` feeds the same records to the monitor.
A new format plugs in as one more module with these functions. Single-file stores holding
several runs (MLflow SQLite, Trackio, a notebook) set `MEMBERS = True` and accept `store.db/RUN`; URL
readers are chosen by scheme (`URL_READERS`) and get the address as given.
"""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from phasewatch.errors import InputError, UsageError

if TYPE_CHECKING:  # run.py imports pandas (~0.35 s): not on the path of io.jsonlines users (`tokens`)
    from phasewatch.run import Run

# Most specific first: a verl JSONL line is also generic JSONL, a trainer_state.json is JSON.
READERS: tuple[str, ...] = (
    "native",
    "trinity",
    "mlflow",
    "mlflow_sqlite",
    "trackio",
    "dvclive",  # a DVCLive folder: plots/metrics/**/*.tsv, one TSV a metric
    "tensorboard",
    "wandb",
    "wandb_history",  # wandb < 0.10 run folders: `wandb-history.jsonl`
    "sb3_evaluations",  # SB3 EvalCallback's `evaluations.npz`: a zip of numpy arrays
    "notebook",  # a Jupyter notebook is JSON: before the JSON readers
    "trainer_state",
    "llamafactory",
    "generic_json",
    "verl_jsonl",
    "verl_console",
    "torchtune",
    "olmo_console",
    "hf_console",
    "mmengine",  # JSON lines with mmengine's training-row keys: before the generic reader
    "sb3_monitor",  # `#{"t_start": ...}`, then `r,l,t` per episode
    "jsonl",
    "csv_splits",  # a folder of one run's CSV files, one per split: train.csv beside valid.csv
    "csv",
    "paddle_console",  # `Epoch N/M` + `step N/M - name: value`, `Eval begin...` blocks
    "keras_console",  # `Epoch N/M` + a progress bar's `- name: value` items
    "sb3_console",  # Stable-Baselines3's `| rollout/ |` tables
    "llmc",  # llm.c's main.log: nothing but `s:N tel:X` / `s:N trl:X ...` / `s:N eval:X` lines
    "llmc_console",  # llm.c's stdout: its settings table, `step K/N | loss X ...`, `val loss X`
    "build_nanogpt",  # build-nanogpt's log/log.txt: nothing but `N val X` / `N train X` lines
    "build_nanogpt_console",  # its stdout: `step N | loss: X | ... | tok/sec: X`, `validation loss: X`
    "modded_nanogpt",  # the speedrun's log: its source code, then `step:N/M val_loss:X ...`
    "mmengine_console",  # OpenMMLab's text log: `Epoch(train) [E][I/N]  lr: ...`, `Epoch(val)`
    "fairseq_console",  # fairseq-train: `| train_inner | epoch N:  I / M loss=...`, `valid on`
    "megatron_console",  # Megatron-LM: `iteration N/ M | consumed samples: ... | lm loss: ...`
    "yolo_console",  # YOLOv5 / YOLOv8 train.py: `Epoch gpu_mem box ...` rows, `all` rows
    "timm_console",  # timm's train.py: `Train: E [ U/N (P%)]  Loss: ...`, `Test: [ B/B] ...`
    "metriclogger_console",  # torchvision references, DETR, DeiT: `Epoch: [E]  [ I/N]  eta: ...`
    "progressmeter_console",  # the PyTorch ImageNet example, MoCo: `Epoch: [E][ I/N]\tTime ...`
    "spacy_console",  # spacy train: `E  #  LOSS NER  ENTS_F ... SCORE` and a row an evaluation
    "boosting_console",  # XGBoost `[N]\tset-metric:value`, LightGBM `[N]\tset's metric: value`
    "catboost_console",  # CatBoost: `N:\tlearn: X\ttest: Y\tbest: Z (I)\ttotal: ...`
    "opennmt_console",  # onmt_train: `Step N/ M; acc: ...; ppl: ...`, `Validation perplexity: X`
    "marian_console",  # Marian NMT: `Ep. E : Up. N : Sen. S : Cost X`, `[valid] Ep. E : Up. N : bleu : X`
    "espnet_console",  # ESPnet2 train.log: `Nepoch results: [train] loss=X, ... [valid] ...`
    "icefall_console",  # k2 / icefall log-train: `Epoch E, batch B, loss[...], tot_loss[...]`
    "speechbrain_console",  # SpeechBrain's train_log.txt: `epoch: N, lr: X - train loss: X - valid ...`
    "accelerate_console",  # accelerate loops: `epoch N: {'accuracy': X, ...}`, `step N: {...}`
    "detectron2_console",  # detectron2's log.txt: `d2.utils.events]:  eta: ...  iter: N  ...`
    "kv_console",  # print() lines `step N name=value`: the loosest shape, tried last
)

HEAD_BYTES = 64 * 1024
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"


def reader_module(name: str) -> ModuleType:
    return importlib.import_module(f"phasewatch.io.{name}")


def iter_readers():
    """The reader modules in sniffing order, each imported when reached: a log the first
    readers take does not pay for importing the others (start-up time is what a user waits for)."""
    for name in READERS:
        try:
            yield reader_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"phasewatch.io.{name}":
                raise


def available_readers() -> list[ModuleType]:
    return list(iter_readers())


def read_head(path: Path) -> bytes:
    """The first HEAD_BYTES of a file (b"" for a folder); a FIFO or device is refused by
    `open_regular` rather than blocking forever."""
    from phasewatch.files import open_regular

    if path.is_dir():
        return b""
    try:
        with open_regular(path) as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc


def sniff_format(path: str | Path) -> ModuleType:
    """The reader module for `path`, chosen by content; InputError if none fits."""
    remote = url_reader(path)
    if remote is not None:
        return remote
    path = Path(path)
    if not path.exists():
        if not _inside_file(path):
            raise InputError("no such file or folder", path)
        # `store.db/RUN`: one run of a single-file store (MLflow SQLite, Trackio)
        for module in available_readers():
            if getattr(module, "MEMBERS", False) and module.sniff(path, b""):
                return module
        raise InputError("no such file or folder", path)
    head = read_head(path)
    if path.is_file():
        if not head.strip() and len(head) < HEAD_BYTES:
            raise InputError("the file is empty" + (" (only blank lines)" if head else ""), path)
        if head.startswith(LFS_POINTER_PREFIX):
            raise InputError(
                "this is a Git LFS pointer file, not the log itself; fetch the real file with "
                "`git lfs pull` (or download it from the hub's 'resolve' URL) and try again",
                path,
            )
        from phasewatch.io import native

        if path.name == native.RUN_FILE and native.sniff(path.parent, b""):
            raise InputError(f"this is the run's metadata, not its log; give the run's folder "
                             f"({path.parent}) or its {native.METRICS_FILE}", path)
        from phasewatch.tokens.sources import STORE_FILES, is_store_folder, store_not_a_log

        if path.name in STORE_FILES and is_store_folder(path.parent):
            raise store_not_a_log(path.parent)
    if path.is_dir():
        # The folder's one run (`phasewatch.folders`): the folder itself when a reader takes
        # it whole, else its one log file; InputError listing them when it holds several.
        from phasewatch.folders import single_run

        found = single_run(path).path
        if found != path:
            return sniff_format(found)
    for module in iter_readers():
        if module.sniff(path, head):
            return module
    tried = ", ".join(m.FORMAT for m in available_readers())
    if path.is_dir():
        from phasewatch.folders import no_log_in_folder

        raise no_log_in_folder(path)
    from phasewatch.io import sqlite_ro

    if sqlite_ro.is_sqlite(head):
        problem = sqlite_ro.problem_error(path)
        if problem is not None:
            raise problem
        tables = sqlite_ro.schema_of(path) or {}
        message = (f"an SQLite database, but neither an MLflow store (mlflow.db) nor a Trackio "
                   f"project (its tables: {', '.join(sorted(tables)) or 'none'})")
        if not tables or {"alembic_version", "experiments", "runs", "metrics"} & {*tables}:
            # a database just created, or a tracker still creating its tables (MLflow's
            # migrations run for seconds and rebuild tables one by one; Trackio adds columns
            # after creating its tables): a follow waits for the store
            from phasewatch.errors import NotReadyError

            raise NotReadyError(message, path, "its writer to create its tables")
        raise InputError(message, path)
    encoding = _utf16(head)
    if encoding is not None:
        raise InputError(
            f"the file is {encoding} text (what Windows PowerShell's `>` and Out-File write); "
            "logs are read as UTF-8: convert it with `iconv -f UTF-16 -t UTF-8 FILE > NEW` "
            "(PowerShell: `Get-Content FILE | Set-Content -Encoding utf8 NEW`)", path)
    if _looks_binary(head):
        raise InputError(
            f"binary content that is not a known log format (formats tried: {tried})", path
        )
    from phasewatch.io.crash_tail import crash_hint
    from phasewatch.io.csv_cells import headerless_hint
    from phasewatch.io.elsewhere import elsewhere_hint

    raise InputError(f"unknown log format (formats tried: {tried}){_not_utf8_hint(head)}"
                     f"{crash_hint(path)}{headerless_hint(head)}{elsewhere_hint(head)}", path)


# `SCHEME://...` addresses read over the network, by scheme (PATH arguments may be URLs).
URL_READERS = {"mlflow+http": "mlflow_rest", "mlflow+https": "mlflow_rest"}


def url_reader(path: str | Path) -> ModuleType | None:
    """The reader of a URL PATH (`mlflow+http://HOST:PORT/RUN_ID`), else None. A `Path` has
    folded the `//` to `/`, so one slash is enough."""
    scheme, sep, _ = str(path).partition(":/")
    return reader_module(URL_READERS[scheme]) if sep and scheme in URL_READERS else None


def _inside_file(path: Path) -> bool:
    """Whether a parent of a path that does not exist is a file (`mlflow.db/RUN`)."""
    for parent in path.parents:
        if parent.exists():
            return parent.is_file()
    return False


def _sniff_with_parts(path: str | Path) -> ModuleType:
    """`sniff_format(path)`, or where the file's own content does not tell (a CSV log whose
    header went to `NAME.1` with logrotate's copytruncate), the format of its newest rotated
    part: the file continues it."""
    try:
        return sniff_format(path)
    except InputError:
        from phasewatch.io.rotated import rotated_parts

        parts = rotated_parts(Path(path)) if Path(path).is_file() else []
        try:
            if parts:
                return sniff_format(parts[-1])
        except InputError:
            pass
        raise


def open_source(path: str | Path, follow: bool = False, notice=None):
    """The `RecordSource` of any supported log (format sniffed from content). `follow`: the
    log may still grow (a partial last line waits; a missing file is waited for)."""
    with input_errors(path):
        return _open_source(path, follow, notice)


def _open_source(path: str | Path, follow: bool = False, notice=None):
    note, folder, parts, module = "", None, (), None
    if Path(path).is_dir():
        from phasewatch.folders import single_run  # a folder's one log, and why that one
        from phasewatch.io import csv_splits

        found = single_run(path)
        path, note, parts = found.path, found.note, found.parts
        if found.path != found.name and found.name.is_dir():
            folder = found.name  # the folder given names its run, not its log's file name
        if follow and csv_splits.first_of_splits(found):  # train.csv, valid.csv still to come
            path, module = found.name, csv_splits
    module = module or _sniff_with_parts(path)
    source = module.source(path if module.__name__.endswith("_rest") else Path(path),
                           follow=follow, notice=notice)
    if not module.__name__.endswith("_rest"):  # a local line log: its rotated parts first
        from phasewatch.io.rotated import with_rotated_parts

        source = with_rotated_parts(source, notice)
    if parts:  # a resumed Lightning version: the version(s) it continues first
        from phasewatch.lightning_versions import after_earlier_versions

        source = after_earlier_versions(parts, source, notice)
    if folder is not None:
        source.info.name = folder.name
    for line in note.splitlines():  # a Found's note: a line per thing it says
        source.warn(line)
    return source


def read_run(path: str | Path, first: int | None = None) -> Run:
    """Read any supported log file or run folder; the format is sniffed from content. `first`
    reads only the log's first records (`source.collect`)."""
    from phasewatch.io.source import collect

    checked_path(path)
    with input_errors(path):
        run = collect(open_source(path), first)
    return with_token_store(run, path)


def with_token_store(run: Run, path: str | Path) -> Run:
    """`run` with the token store found beside its log `path` (e.g. written by the
    phasewatch.capture callbacks), where its reader found none of its own."""
    if run.token_store is None:
        from phasewatch.tokens.sources import find_token_store

        run.token_store = find_token_store(path)
    return run


def checked_path(path: object, also: str = "") -> None:
    """A path is a str or os.PathLike: say so, naming what was given, rather than let open()
    raise a TypeError from deep inside a reader (`phasewatch.watch(123)`). `also` names what
    else the caller takes."""
    if not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"expected a log path (str or pathlib.Path){also}, got "
                         f"{type(path).__name__} {path!r}")


@contextmanager
def input_errors(path: str | Path):
    """An OSError while reading a log (a folder or file without read permission, a file
    removed mid-read) is the input's problem: InputError naming the file, exit 3."""
    try:
        yield
    except InputError:
        raise
    except OSError as exc:
        where = exc.filename if exc.filename is not None else path
        hint = " (check its permissions)" if isinstance(exc, PermissionError) else ""
        raise InputError(f"cannot read: {exc.strerror or exc}{hint}", where) from exc


def _utf16(head: bytes) -> str | None:
    """'UTF-16' if the file starts with a UTF-16 byte-order mark, or is ASCII text stored as
    UTF-16 without one (a NUL beside every character); else None."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and not head.startswith(b"\xff\xfe\x00\x00"):
        return "UTF-16"
    sample = head[:512]
    if len(sample) >= 8:
        for text, nul in ((sample[0::2], sample[1::2]), (sample[1::2], sample[0::2])):
            if not nul.strip(b"\x00") and text.isascii() and b"\x00" not in text:
                return "UTF-16"
    return None


# bytes no text holds: C0 controls but tab, newline, vertical tab, form feed, carriage return
# and escape (a console's colours), and DEL
CONTROL_BYTES = bytes(b for b in (*range(32), 127) if b not in b"\t\n\x0b\x0c\r\x1b")
MAX_CONTROL_SHARE = 0.01  # random (compressed) bytes hold ~11% of them; text none


def _looks_binary(head: bytes) -> bool:
    """Whether the file's head is no text. A NUL or more than MAX_CONTROL_SHARE control bytes
    says binary (an image, an archive, a pickle). Bytes that are not UTF-8 alone do not: a
    console written in a legacy encoding (GBK / GB18030 on a Chinese Windows, Latin-1) is text,
    whose ASCII names and numbers every reader decodes (the other bytes replaced), and is
    refused, when no reader takes it, as an unknown format (`_not_utf8_hint`)."""
    sample = head[:4096]
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, CONTROL_BYTES))
    return controls > MAX_CONTROL_SHARE * len(sample)


def _not_utf8_hint(head: bytes) -> str:
    """What an unknown format's message adds for text that is not UTF-8: the first line whose
    bytes UTF-8 does not decode, and that the names a reader needs are ASCII ones; "" for UTF-8
    text (a multi-byte character cut at the head's end is still UTF-8)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            line = head.count(b"\n", 0, exc.start) + 1
            return (f"; the file is text that is not UTF-8 (line {line} holds bytes UTF-8 does "
                    "not decode: a legacy encoding such as GBK / GB18030 or Latin-1): such a "
                    "log is read where its metric names and numbers are ASCII, its other bytes "
                    "replaced")
    return ""
