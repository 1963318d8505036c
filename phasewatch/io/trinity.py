"""Trinity-RFT runs (where CHORD is implemented): its explorer and trainer log separately,
and each pair of logs is one run.

- TensorBoard: `<checkpoint_root>/<project>/<name>/monitor/tensorboard/{explorer,trainer}/`.
  PATH may be the job folder, its `monitor/`, or `monitor/tensorboard/`. The generic reader
  would prefix every tag with its sub-folder (`trainer/actor/mu`), so no metric would find its
  role; here the tags keep their names and each role keeps its own step counter (the explorer
  runs ahead of the trainer: their steps are not one sequence).
- W&B: two runs named `<name>_explorer` and `<name>_trainer` (tags `explorer`, `trainer`)
  in one `wandb/` folder. PATH is that folder (holding one such pair) and the two runs are
  read as one, with a step counter per role; followed from the job's start, the role whose
  run appears second is taken up when it does.
- Console: `Step N: {...}` lines (`trinity.utils.monitor`, a Python dict repr) in the job's
  output; see `trinity_console`.

Metric names (checked against Trinity's source): explorer `rollout/*`, `eval/<taskset>/...`,
`time/*`; trainer verl-style `actor/*`, `critic/*`; CHORD's `mix_chord` loss adds `actor/mu`,
`actor/loss`, `actor/usual/pg_loss` and `actor/expert/sft_loss` (`sft_phi_loss`), mapped to
roles in `presets.py`.
"""

from __future__ import annotations

from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.io import tensorboard, trinity_console, wandb
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.run import Run

FORMAT = "trinity"
ROLES = ("explorer", "trainer")
MAX_RUN_FOLDERS = 200
NAME_PROBE_BYTES = 64 * 1024  # the run record comes first


# ------------------------------------------------------------------ TensorBoard layout
def tensorboard_root(folder: Path) -> Path | None:
    """The `monitor/tensorboard` folder at or under `folder` holding role sub-folders with
    event files, else None."""
    for candidate in (folder, folder / "tensorboard", folder / "monitor" / "tensorboard"):
        if candidate.is_dir() and any(
                (candidate / role).is_dir() and tensorboard.event_files(candidate / role, limit=1)
                for role in ROLES):
            return candidate
    return None


class TensorBoardSource(tensorboard.Source):
    """The generic event-file reader over the role folders; the folder prefix it puts on each
    tag is taken off again and kept as the record's group."""

    format = FORMAT + "_tensorboard"

    def __init__(self, path: Path, follow: bool = False, notice=None):
        root = tensorboard_root(path)
        if root is None:
            raise InputError("no Trinity-RFT monitor/tensorboard/{explorer,trainer} folders",
                             path)
        super().__init__(root, follow=follow, notice=notice)
        self.source = path
        self.info.name = _job_name(root)

    def _scan(self) -> None:
        found = [f for role in ROLES if (self.path / role).is_dir()
                 for f in tensorboard.event_files(self.path / role)]
        for file in found:
            if file not in self.files:
                role = file.relative_to(self.path).parts[0]
                self.files[file] = tensorboard._EventFile(file, len(self.files), role + "/")

    def read(self, final: bool = True):
        for record in super().read(final):
            prefix = record.group
            values = {k.removeprefix(prefix): v for k, v in record.values.items()}
            yield Record(record.step, values, record.line, prefix.rstrip("/"))


def _job_name(root: Path) -> str:
    """`<name>` of `<name>/monitor/tensorboard`."""
    parts = root.parts
    if len(parts) >= 3 and parts[-1] == "tensorboard" and parts[-2] == "monitor":
        return parts[-3]
    return root.parent.name if root.name == "tensorboard" else root.name


# ------------------------------------------------------------------ W&B pair
def _wandb_run_record(file: Path) -> tuple[bool, str | None]:
    """(whether to wait for the run record, the run's display name) from the first records
    of a `.wandb` file. Waiting only while the file is young: shorter than NAME_PROBE_BYTES,
    W&B's header so far, and no run record yet; an unnamed run (offline runs may have no
    display name), an unreadable record or another file are not waited for."""
    try:
        pb = __import__("wandb.proto.wandb_internal_pb2", fromlist=["Record"])
    except ImportError:
        return False, None
    try:
        with open(file, "rb") as fh:
            data = fh.read(NAME_PROBE_BYTES)
    except OSError:
        return False, None
    if not data.startswith(wandb.MAGIC):
        return wandb.MAGIC.startswith(data), None  # empty or the header still being written
    reader = wandb.LogReader()
    for _, payload in reader.read(data[wandb.HEADER.size:], wandb.HEADER.size,
                                  lambda message: None, final=False):
        record = pb.Record()
        try:
            record.ParseFromString(payload)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError differs between backends
            return False, None
        if record.WhichOneof("record_type") == "run":
            return False, record.run.display_name or None
    return len(data) < NAME_PROBE_BYTES, None


def _wandb_run_name(file: Path) -> str | None:
    """The display name in the first records of a `.wandb` file (None if not found)."""
    return _wandb_run_record(file)[1]


def wandb_pairs(folder: Path) -> dict[str, dict[str, Path]]:
    """`<name>` -> {role: run file} of the W&B runs in `folder`'s run sub-folders (symlinks
    such as `latest-run` left out) named `<name>_explorer` / `<name>_trainer`."""
    if not folder.is_dir():
        return {}
    pairs: dict[str, dict[str, Path]] = {}
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return {}
    for child in children[:MAX_RUN_FOLDERS]:
        files = wandb.run_files(child)
        if len(files) != 1:
            continue
        name = _wandb_run_name(files[0])
        for role in ROLES:
            if name and name.endswith("_" + role) and len(name) > len(role) + 1:
                pairs.setdefault(name[:-len(role) - 1], {})[role] = files[0]
    return pairs


def young_wandb_run(folder: Path) -> bool:
    """Whether `folder` (a `wandb/` folder or one run's folder) holds a W&B run whose run record
    (its name) is not written yet: a follower waits for it before deciding whether the folder
    is a Trinity-RFT pair or a plain run. False when the wandb SDK is not installed."""
    try:
        __import__("wandb.proto.wandb_internal_pb2")
    except ImportError:
        return False
    try:
        runs = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return False
    files = [f for run in runs[:MAX_RUN_FOLDERS] for f in wandb.run_files(run)]
    return any(_wandb_run_record(f)[0] for f in files)


def is_pair_folder(folder: Path) -> bool:
    """A `wandb/` folder whose runs are the parts of one Trinity-RFT job: every run named
    `<name>_explorer` or `<name>_trainer` for one <name> (both roles, or, while the job starts,
    the first one; a run whose name is not written yet is not counted)."""
    try:
        runs = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
                and wandb.run_files(p)][:MAX_RUN_FOLDERS]
    except OSError:
        return False
    if not runs:
        return False
    pairs = wandb_pairs(folder)
    if len(pairs) != 1:
        return False
    (files,) = pairs.values()
    settled = [p for p in runs if not _wandb_run_record(wandb.run_files(p)[0])[0]]
    return len(settled) == len(files) and (len(files) == 2 or len(runs) == 1)


class WandbPairSource(RecordSource):
    """The explorer's and the trainer's W&B runs read together, each role its own group.
    Followed from the job's start, the second role's run is taken up when it appears."""

    format = FORMAT + "_wandb"

    def __init__(self, path: Path, follow: bool = False, notice=None):
        pairs = wandb_pairs(path)
        if len(pairs) != 1:
            names = ", ".join(sorted(pairs)) or "none"
            raise InputError(f"this folder holds {len(pairs)} Trinity-RFT W&B runs ({names}); "
                             "a folder with one <name>_explorer / <name>_trainer pair is read "
                             "as one run (pass one run's folder to read it alone)", path)
        (name, files), = pairs.items()
        super().__init__(path)
        self.follow, self.notice = follow, notice
        self.parts = {role: wandb.Source(file, follow=follow, notice=notice)
                      for role, file in sorted(files.items())}
        self.info.name = name

    def _take_up_missing_role(self) -> None:
        files = wandb_pairs(self.path).get(self.info.name, {})
        for role in ROLES:
            if role not in self.parts and role in files:
                self.parts[role] = wandb.Source(files[role], follow=self.follow,
                                                notice=self.notice)
        self.parts = dict(sorted(self.parts.items()))

    def read(self, final: bool = True):
        if len(self.parts) < len(ROLES):
            self._take_up_missing_role()
        for role, part in self.parts.items():
            for record in part.read(final):
                yield Record(record.step, record.values, record.line, role)
            self.info.config.update(part.info.config)
        # Over when both roles' runs are (one role alone may still be waiting for the other).
        self.info.finished = len(self.parts) == len(ROLES) and all(
            p.info.finished for p in self.parts.values())
        self.warnings = [f"{role}: {w}" for role, p in self.parts.items() for w in p.warnings]

    def finish(self, collector) -> None:
        for part in self.parts.values():
            if part.undecodable:
                collector.warn(f"{part.path.name}: skipped {part.undecodable} records the "
                               "installed wandb SDK could not decode")
        if collector.n_records == 0:
            raise InputError("no history rows in the explorer's or the trainer's run", self.path)


# ------------------------------------------------------------------ MLflow pair
def mlflow_pair(path: Path) -> dict[str, str] | None:
    """{role: run id} when `path` (an MLflow SQLite store, or `store.db/NAME`) names Trinity's
    `<NAME>_explorer` / `<NAME>_trainer` runs rather than one run (or, without a name, holds
    only such a pair); else None."""
    from phasewatch.io import mlflow_sqlite, sqlite_ro

    file, wanted = sqlite_ro.split_member(path)
    try:
        conn = sqlite_ro.connect(file)
    except InputError:
        return None
    try:
        runs = mlflow_sqlite.list_runs(conn, file)
    except InputError:
        return None
    finally:
        conn.close()
    if wanted is not None and any(wanted in (r[0], r[1]) or (
            len(wanted) >= mlflow_sqlite.MIN_ID_PREFIX and r[0].startswith(wanted))
            for r in runs):
        return None  # one run of its own
    by_name = {r[1]: r[0] for r in runs}
    names = {wanted} if wanted is not None else \
        {r[1][:-len(role) - 1] for r in runs for role in ROLES if r[1].endswith("_" + role)}
    if len(names) != 1 or (wanted is None and len(runs) != 2):
        return None
    (name,) = names
    pair = {role: by_name[f"{name}_{role}"] for role in ROLES if f"{name}_{role}" in by_name}
    return pair if len(pair) == 2 else None


class MlflowPairSource(RecordSource):
    """Trinity's explorer and trainer MLflow runs (run names `<name>_<role>`) read as one."""

    format = FORMAT + "_mlflow"

    def __init__(self, path: Path, pair: dict[str, str], follow: bool = False, notice=None):
        from phasewatch.io import mlflow_sqlite, sqlite_ro

        file, wanted = sqlite_ro.split_member(path)
        super().__init__(file, source=path)
        self.parts = {role: mlflow_sqlite.Source(file / run_id, follow=follow, notice=notice)
                      for role, run_id in pair.items()}
        self.info.name = wanted or self.parts["explorer"].info.name.rsplit("_", 1)[0]

    def read(self, final: bool = True):
        for role, part in self.parts.items():
            for record in part.read(final):
                yield Record(record.step, record.values, record.line, role)
            self.info.config.update(part.info.config)
        self.info.finished = all(p.info.finished for p in self.parts.values())

    def finish(self, collector) -> None:
        for role, part in self.parts.items():
            if part.bad:
                collector.warn(f"{role} run {part.run_id}: table metrics: skipped "
                               f"{len(part.bad)} rows without a numeric value (rowid "
                               f"{', '.join(part.bad[:10])})")
        if collector.n_records == 0:
            raise InputError("table metrics: no values in the explorer's or the trainer's run",
                             self.path)

    def close(self) -> None:
        for part in self.parts.values():
            part.close()


# ------------------------------------------------------------------ dispatch
def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return tensorboard_root(path) is not None or is_pair_folder(path)
    return path.is_file() and trinity_console.sniff(path, head)


def source(path: Path, follow: bool = False, notice=None) -> RecordSource:
    path = Path(path)
    if path.is_file():
        return trinity_console.source(path, follow=follow, notice=notice)
    if tensorboard_root(path) is not None:
        return TensorBoardSource(path, follow=follow, notice=notice)
    return WandbPairSource(path, follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
