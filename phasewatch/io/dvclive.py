"""DVCLive runs: a folder (`dvclive/` unless named) with one TSV per metric under
`plots/metrics/`, `params.yaml` and `metrics.json`.

`Live().log_metric(name, value)` appends a row to `plots/metrics/<name>.tsv` at once (a name
with "/" is a folder: `train/loss` is `plots/metrics/train/loss.tsv`): a header `step<TAB>loss`
(`timestamp` first where the row was logged with `timestamp=True`, as DVCLive 1.x and 2.x always
wrote it), then one row a call; `live.next_step()` moves the step on. DVCLive's Lightning logger
and Hugging Face callback write the same folder. Each TSV's metric is named by its path under
`plots/metrics` (the header names only its last part), its steps read from the `step` column, so
the held-out roles and directions apply as to any tracker's names; `params.yaml` (`log_params`)
is the run's config, read with `yaml.safe_load` (`io.yaml_config`), never evaluated.
`metrics.json` holds only the latest values and is not read. The Hugging Face callback calls
`next_step()` once a Trainer log, so such a run's steps count the Trainer's logs (an
evaluation's is a step of its own), not its optimizer steps; its `epoch` metric is there.

PATH is the DVCLive folder or a folder whose `dvc.yaml` names it (DVCLive writes one in the
folder it runs in, `metrics: [dvclive/metrics.json]`: `runs_named_in`), or one TSV of the
folder (`dvclive/plots/metrics/eval/loss.tsv`): that metric alone, named as the folder's read
names it (`eval/loss`, not its header's `loss`, which would take a held-out loss for the train
loss), with the folder's params.yaml (`lone_metrics_dir`); a TSV with DVCLive's header copied
out of `plots/metrics` with its split's folder (`results/val/acc.tsv`) keeps that split too.
A lone TSV right under `plots/metrics` whose name no role takes (`acc.tsv`: a loop's
`log_metric("acc", ...)`) is the run's metric, with a warning (`lone_declared`): DVCLive writes
one file a metric, so a path to one names its metric as `--metric` would.

The rows of all TSVs are merged by step (each file's rows in its order), and one step's rows
of different files are one record, as a replay of the final folder reads them. Followed, each
file is read as it grows (`follow.LineTail`: a row waits for its line end; a TSV that appears
later is read from its header) and a read gives only complete steps: DVCLive writes every row
of a step before any row of the next, so every row below the highest step a first pass over the
files read is there when a second pass is done. The records come as a replay gives them, the
highest step once a later one is read, or at the end.
"""

from __future__ import annotations

import heapq
import math
import os
import stat
from collections import deque
from pathlib import Path, PurePosixPath
from typing import Any

from phasewatch.errors import InputError
from phasewatch.files import regular_files
from phasewatch.io.jsonlines import first_line, skipped_summary
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.io.yaml_config import yaml_config
from phasewatch.run import Run
from phasewatch.values import to_float, to_step

FORMAT = "dvclive"
METRICS = ("plots", "metrics")
SUFFIX = ".tsv"
PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"
SUMMARY = "metrics.json"
DEFAULT_DIR = "dvclive"  # `Live()`'s folder when none is given
STEP = "step"
DEFAULT_COLUMNS = {2: (0, 1), 3: (1, 2)}  # cells -> (step, value): `step v`, `timestamp step v`
# The folders a TSV read alone outside `plots/metrics` keeps as its metric's split: DVCLive
# itself always writes `<dir>/plots/metrics/<name>.tsv` (`Live(dir=...)` and the Lightning
# logger's `dir=` move only `<dir>`), but a run's `plots/metrics/val/acc.tsv` copied out with its
# folder (`results/val/acc.tsv`) was read as a plain table whose one metric, `acc`, named no
# split: no performance metric (exit 2), or a held-out loss taken as the train loss
SPLIT_FOLDERS = frozenset({"train", "val", "valid", "validation", "eval", "test"})


def is_run(folder: Path) -> bool:
    """A DVCLive folder: it has `plots/metrics/` (made with the first `log_metric`)."""
    return folder.joinpath(*METRICS).is_dir()


def runs_named_in(folder: Path) -> list[Path]:
    """The DVCLive folders the `dvc.yaml` in `folder` names, that are there: the folder of its
    `metrics.json`, or above its `plots/metrics` (DVCLive writes both entries)."""
    file = folder / DVC_YAML
    if not file.is_file():
        return []
    doc = yaml_config(file) or {}
    found: list[Path] = []
    for entry in _entries(doc.get("metrics")) + _entries(doc.get("plots")):
        path = PurePosixPath(entry)
        if path.name == SUMMARY:
            named = path.parent
        elif path.parts[-2:] == METRICS:
            named = path.parent.parent
        else:
            continue
        run = Path(os.path.normpath(folder / named))
        if run not in found and is_run(run):
            found.append(run)
    return found


def _entries(value: Any) -> list[str]:
    """The paths of a dvc.yaml `metrics` or `plots` list: strings, or a mapping's keys (a plot
    with its settings, `- dvclive/plots/metrics: {x: step}`)."""
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        keys = item.keys() if isinstance(item, dict) else [item]
        out.extend(key for key in keys if isinstance(key, str))
    return out


def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return is_run(path) or bool(runs_named_in(path))
    line = first_line(head)
    return lone_metrics_dir(path) is not None and line is not None \
        and _header(line[0].split("\t"), path.stem) is not None


def lone_metrics_dir(file: Path) -> Path | None:
    """The folder a `.tsv` file read alone is named from (`metric_name`; absolute:
    `eval/loss.tsv` may be given from inside it): the nearest `plots/metrics` it lies in, else,
    where its folder is a split (`SPLIT_FOLDERS`: `results/val/acc.tsv`), the folder above the
    split, so the metric keeps it; else None."""
    if file.suffix != SUFFIX or file.is_dir():
        return None
    parents = Path(os.path.abspath(file)).parents
    found = next((parent for parent in parents if parent.parts[-2:] == METRICS), None)
    if found is None and parents[0].name.lower() in SPLIT_FOLDERS:
        return parents[1]
    return found


def run_folder(metrics_dir: Path) -> Path:
    """The run folder of the folder a lone TSV is named from (`lone_metrics_dir`): above
    `plots/metrics`; for a split's folder taken out of it, the folder that holds the split."""
    return metrics_dir.parent.parent if metrics_dir.parts[-2:] == METRICS else metrics_dir


def metric_name(file: Path, metrics_dir: Path) -> str:
    """A TSV's metric: its path under plots/metrics without `.tsv` (`eval/loss`), the name
    `log_metric` was given; its header names only the last part (`loss`), which loses the
    split."""
    return file.relative_to(metrics_dir).with_suffix("").as_posix()


def lone_declared(file: Path, metrics_dir: Path) -> str | None:
    """The metric of a TSV read alone, where it is the run's metric: a name of no folder
    (one under a folder, `train/acc`, `foo/acc`, is placed by it) that no role takes (a role's
    name keeps the choice every log's metric gets: `loss`, `lr`), that times nothing and counts
    no steps (`epoch.tsv`, `timestamp.tsv` are no metric of the model); else None. The file is
    the one metric there is to read, named as `--metric` names it: `acc.tsv` alone exited 2,
    "pass --metric acc"."""
    from phasewatch.io.lines import find_step_key
    from phasewatch.presets import ROLE_CANDIDATES, aliases_for
    from phasewatch.timing_names import is_timing

    name = metric_name(file, metrics_dir)
    if "/" in name or name in ROLE_CANDIDATES or aliases_for([name]) or is_timing(name) \
            or find_step_key([name]):
        return None
    return name


def run_name(folder: Path) -> str:
    """The run's name: its folder's, or the folder it ran in where it is DVCLive's default
    `dvclive` (every run's)."""
    folder = Path(folder).absolute()
    return folder.parent.name if folder.name == DEFAULT_DIR and folder.parent.name \
        else folder.name


class _Table:
    """One metric's TSV, read as it grows: its rows not given yet, in file order."""

    def __init__(self, path: Path, name: str, tail: Any):
        self.path, self.name, self.tail = path, name, tail
        self.columns: tuple[int, int, int] | None = None  # (cells, step at, value at)
        self.rows: deque[tuple[int, str, float]] = deque()  # (step, name, value)
        self.n_lines = 0
        self.bad: list[int] = []
        self.first_reason = ""

    def feed(self, lineno: int, text: str) -> tuple[int, float] | None:
        """(step, value) of a row; None for the header; ValueError for a damaged row."""
        cells = text.split("\t")
        if self.columns is None:
            self.columns = _header(cells)
            if self.columns is not None:
                return None
        if lineno == self.tail.unterminated:  # DVCLive ends every row: this one was cut
            raise ValueError("the last row has no line end (cut mid-write)")
        width, step_at, value_at = self.columns or (len(cells), *DEFAULT_COLUMNS.get(
            len(cells), (0, 0)))
        if len(cells) != width or step_at == value_at:
            raise ValueError(f"{len(cells)} tab-separated cells, not "
                             f"{width if self.columns else '2 (step, value)'}")
        cell = cells[step_at]  # DVCLive writes plain integers: parsed at once
        plain = len(cell) < 16 and cell.isascii() and cell.isdigit()
        step = int(cell) if plain else to_step(cell)
        value = to_float(cells[value_at])
        if value is None:
            raise ValueError(f"value {cells[value_at][:40]!r} is not a number")
        return step, value

    def take_below(self, limit: float) -> list[tuple[int, str, float]]:
        """The rows not given yet up to the first at `limit` or above."""
        rows, out = self.rows, []
        while rows and rows[0][0] < limit:
            out.append(rows.popleft())
        return out


def _header(cells: list[str], name: str | None = None) -> tuple[int, int, int] | None:
    """(cells, step at, value at) of a header row (`step<TAB>name`, `timestamp<TAB>step<TAB>
    name`), else None; with `name`, only DVCLive's own header (`[timestamp, ]step, name`, the
    last part of the metric's name): how a lone file is told from any TSV with a step column."""
    names = [cell.strip() for cell in cells]
    if STEP not in names or len(names) < 2:
        return None
    if name is not None and names not in ([STEP, name], ["timestamp", STEP, name]):
        return None
    step_at = names.index(STEP)
    value_at = len(names) - 1 if step_at != len(names) - 1 else len(names) - 2
    return len(names), step_at, value_at


class Source(RecordSource):
    """Every metric TSV of one DVCLive folder, each read as it grows (new files are picked
    up), merged into records by step (module docstring); params.yaml read again when it
    changes."""

    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        folder = Path(path)
        metrics_dir = lone_metrics_dir(folder)
        self.lone: Path | None = None  # the one TSV read, where one is given
        if metrics_dir is not None:
            self.lone, folder = Path(os.path.abspath(path)), run_folder(metrics_dir)
        elif not is_run(folder):
            named = runs_named_in(folder)
            if len(named) != 1:
                raise InputError(f"not a DVCLive folder (no {'/'.join(METRICS)}/)", path)
            folder = named[0]
        super().__init__(folder, source=Path(path) if self.lone else None)
        self.follow = follow
        self.notice = notice
        self.metrics_dir = metrics_dir or folder.joinpath(*METRICS)
        self.tables: dict[Path, _Table] = {}
        self.not_regular: dict[Path, str] = {}  # "TSVs" that are FIFOs, sockets...
        self._top = -math.inf  # the highest step read
        self._params_seen: tuple[int, int] | None = None
        self.info.name = run_name(folder)
        if self.lone is not None and (name := lone_declared(self.lone, self.metrics_dir)):
            self.info.performance_metric = name
            self.warn(f"the file holds one metric, {name}, which no role names: it is analysed "
                      f"as the run's metric, as --metric {name} would be")

    def read(self, final: bool = True):
        final = final or not self.follow
        self._read_tables(final)
        limit = math.inf
        if not final:  # every row below the highest step read is there after a second pass
            limit = self._top
            self._read_tables(final)
        self._take_params()
        tables = [self.tables[path] for path in sorted(self.tables)]
        merged = heapq.merge(*(t.take_below(limit) for t in tables), key=lambda r: r[:2])
        step, values = None, {}
        for row_step, name, value in merged:
            if values and (row_step != step or name in values):
                yield Record(step, values)
                values = {}
            step = row_step
            values[name] = value
        if values:
            yield Record(step, values)

    def _read_tables(self, final: bool) -> None:
        """Read what each TSV gained (the new ones from their top)."""
        from phasewatch.follow import LineTail

        kwargs = {"notice": self.notice} if self.notice is not None else {}
        for file in self._metric_files():
            table = self.tables.get(file)
            if table is None:
                table = self.tables[file] = _Table(
                    file, metric_name(file, self.metrics_dir),
                    LineTail(file, follow=self.follow, **kwargs))
            for lineno, text in table.tail.read(final):
                if text is None:  # the file was replaced or truncated: its header comes again
                    table.columns = None
                    continue
                table.n_lines += 1
                try:
                    row = table.feed(lineno, text)
                except ValueError as exc:
                    self._bad(table, lineno, str(exc))
                    continue
                if row is not None:
                    table.rows.append((row[0], table.name, row[1]))
                    self._top = max(self._top, row[0])

    def _bad(self, table: _Table, lineno: int, reason: str) -> None:
        table.bad.append(lineno)
        table.first_reason = table.first_reason or reason
        if self.on_bad_line is not None:
            self.on_bad_line(table.path, lineno, reason)

    def _metric_files(self) -> list[Path]:
        """The regular `*.tsv` files under plots/metrics, or the lone one given
        (`files.regular_files`: a FIFO there is reported by `finish`, never opened)."""
        files = [self.lone] if self.lone is not None else self.metrics_dir.rglob(f"*{SUFFIX}")
        return regular_files(files, self.not_regular)

    def _take_params(self) -> None:
        """params.yaml as the run's config, read again whenever it changed (DVCLive rewrites it
        at each `log_param`)."""
        file = self.path / PARAMS
        try:
            st = file.stat()
        except OSError:
            return
        seen = (st.st_mtime_ns, st.st_size)
        if seen != self._params_seen and stat.S_ISREG(st.st_mode):
            self._params_seen = seen
            self.info.config = {str(k): v for k, v in (yaml_config(file) or {}).items()}

    def finish(self, collector) -> None:
        for path, kind in self.not_regular.items():
            collector.warn(f"skipped {path}: it is {kind}, not a regular file")
        for table in self.tables.values():
            if table.bad:
                where = table.path.relative_to(self.path).as_posix()
                collector.warn(f"{where}: " + skipped_summary(table.bad, table.n_lines,
                                                              table.first_reason))
        if collector.n_records == 0:
            if not self.tables and self.lone is not None:
                raise InputError("no such regular file (removed while it was read?)",
                                 self.source)
            if not self.tables:
                raise InputError(f"no metric files ({'/'.join(METRICS)}/*{SUFFIX}) in this "
                                 "DVCLive folder", self.path)
            bad = [t for t in self.tables.values() if t.bad]
            if bad:
                raise InputError(f"no valid row in the metric files; first problem: "
                                 f"{bad[0].first_reason}", bad[0].path, bad[0].bad[0])
            if self.lone is not None:
                raise InputError("no metric rows in this DVCLive file (only its header)",
                                 self.source)
            raise InputError(f"no metric rows in {self.metrics_dir} (only headers)", self.path)

    def close(self) -> None:
        for table in self.tables.values():
            table.tail.close()


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
