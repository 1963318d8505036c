"""MLflow file stores: `mlruns/<experiment>/<run>/metrics/<name>`, lines `timestamp value step`.

Each metric is its own file (a name with "/" becomes nested folders: `metrics/eval/accuracy`
is `eval/accuracy`); each line is `<ms timestamp> <value> <step>` (very old stores omit the
step, which then is 0, as MLflow itself reads it). No mlflow package is needed.

PATH may be the store (`mlruns/`), an experiment folder or a run folder; a store or experiment
with several runs is their runs (`phasewatch.folders`; deleted runs left out), one of them is
its run folder `mlruns/<experiment id>/<run id>`. Lines from all metric files
are merged in timestamp order, so a resumed run that re-logs steps supersedes the old values.
Followed, each metric file is read as it grows and the run's status says when it is over.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.files import open_regular, regular_files
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.run import Run
from phasewatch.values import to_float, to_step

FORMAT = "mlflow"
META = "meta.yaml"


def is_run(folder: Path) -> bool:
    return (folder / "metrics").is_dir() and (folder / META).is_file()


_DELETED = re.compile(r"^lifecycle_stage:\s*'?deleted'?\s*$", re.MULTILINE)


def is_deleted(folder: Path) -> bool:
    """A run the user deleted (`lifecycle_stage: deleted`; it stays on disk until `mlflow gc`):
    left out when a store or experiment is listed, still readable when named."""
    if not is_run(folder):
        return False
    try:
        return bool(_DELETED.search(_text(folder / META)))
    except (OSError, UnicodeDecodeError, InputError):
        return False


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def find_runs(folder: Path) -> list[Path]:
    """Run folders at PATH: itself, its children (an experiment) or grandchildren (a store)."""
    if is_run(folder):
        return [folder]
    runs = [child for child in _children(folder) if is_run(child)]
    if not runs:
        runs = [run for child in _children(folder) for run in _children(child) if is_run(run)]
    return [run for run in runs if not is_deleted(run)]


def run_of_metric_file(path: Path) -> Path | None:
    """The run folder of a file under `<run>/metrics/` (metric names may nest), else None."""
    for parent in path.parents:
        if parent.name == "metrics" and is_run(parent.parent):
            return parent.parent
    return None


def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return bool(find_runs(path))
    return run_of_metric_file(path) is not None


# meta.yaml `status:` of a run that is over (mlflow.entities.RunStatus FINISHED, FAILED, KILLED).
END_STATUSES = frozenset({"3", "4", "5", "FINISHED", "FAILED", "KILLED"})
# ... and those that say what ended it, as `Run.ended_by` names it (the file store's numbers too)
ENDED_BY = {"4": "crash", "FAILED": "crash", "5": "kill", "KILLED": "kill"}
_STATUS = re.compile(r"^status:\s*'?(\w+)'?\s*$", re.MULTILINE)


class Source(RecordSource):
    """Every metric file of one run, each read as it grows (new metric files are picked up);
    each read's new lines are merged in timestamp order and lines with one timestamp and step
    (one `log_metrics` call) make one record. The run's `status` in meta.yaml says when it
    is over."""

    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        folder = path if path.is_dir() else run_of_metric_file(path) or path.parent
        runs = find_runs(folder)
        if len(runs) != 1:
            listed = ", ".join(str(r.relative_to(folder)) for r in runs[:10])
            more = f" ... ({len(runs)} in all)" if len(runs) > 10 else ""
            raise InputError(f"this MLflow store holds {len(runs)} runs; pass one run folder: "
                             f"{listed}{more}", path)
        run_dir = runs[0]
        super().__init__(run_dir)
        self.follow = follow
        self.metrics_dir = run_dir / "metrics"
        self.tails: dict[Path, Any] = {}
        self.bad: list[str] = []
        self.not_regular: dict[Path, str] = {}  # metric "files" that are FIFOs, sockets...
        self.info.name = _tag(run_dir, "mlflow.runName") or run_dir.name

    def read(self, final: bool = True):
        from phasewatch.follow import LineTail

        final = final or not self.follow
        files = self._metric_files()
        entries: list[tuple[int, int, str, float]] = []
        for file in files:
            tail = self.tails.get(file)
            if tail is None:
                tail = self.tails[file] = LineTail(file, follow=self.follow)
            name = file.relative_to(self.metrics_dir).as_posix()
            for lineno, text in tail.read(final):
                if text is None:
                    continue
                parts = text.split()
                try:
                    if len(parts) not in (2, 3):
                        raise ValueError
                    if lineno == tail.unterminated:
                        # MLflow ends every line: this one was cut mid-write, its step or value
                        # lost or shortened ('1700000000000 0.95 1' of '... 0.95 12')
                        raise ValueError
                    timestamp, value = int(parts[0]), to_float(parts[1])
                    if value is None:
                        raise ValueError
                    step = to_step(int(parts[2])) if len(parts) == 3 else 0
                except ValueError:
                    self.bad.append(f"{name}:{lineno}")
                    continue
                entries.append((timestamp, step, name, value))
        self.info.name = _tag(self.path, "mlflow.runName") or self.path.name
        self.info.config = _params(self.path)
        status = _status(self.path)
        self.info.finished, self.info.ended_by = status in END_STATUSES, ENDED_BY.get(status or "")
        entries.sort(key=lambda e: (e[0], e[1]))  # stable: file order breaks ties
        # One record per (timestamp, step): what one `log_metrics` call wrote.
        group_key, values = None, {}
        for timestamp, step, name, value in entries:
            if (timestamp, step) != group_key and values:
                yield Record(group_key[1], values)
                values = {}
            group_key = (timestamp, step)
            values[name] = value
        if values:
            yield Record(group_key[1], values)

    def _metric_files(self) -> list[Path]:
        """The regular files under metrics/ (`files.regular_files`: a FIFO there is reported
        by `finish`, never opened)."""
        return regular_files(self.metrics_dir.rglob("*"), self.not_regular)

    def finish(self, collector) -> None:
        for path, kind in self.not_regular.items():
            if collector.n_records == 0:
                raise InputError(f"this metric file is {kind}, not a regular file, and the run "
                                 "has no other metric values (phasewatch reads regular files: "
                                 "copy the stream to a file)", path)
            collector.warn(f"skipped {path}: it is {kind}, not a regular file")
        if self.bad:
            bad = self.bad
            shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
            collector.warn(f"skipped {len(bad)} metric lines that are not 'timestamp value step' "
                           f"({shown})")
        if collector.n_records == 0:
            raise InputError(f"no metric values in {self.metrics_dir}", self.path)

    def close(self) -> None:
        for tail in self.tails.values():
            tail.close()


def _text(path: Path) -> str:
    """A small metadata file's text; a FIFO or device is refused (InputError), not waited on."""
    with open_regular(path) as fh:
        return fh.read(1 << 20).decode("utf-8")


def _status(run_dir: Path) -> str | None:
    try:
        match = _STATUS.search(_text(run_dir / META))
    except (OSError, UnicodeDecodeError, InputError):
        return None
    return match.group(1).upper() if match else None


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))


def _tag(run_dir: Path, name: str) -> str | None:
    file = run_dir / "tags" / name
    try:
        return _text(file).strip() or None
    except (OSError, UnicodeDecodeError, InputError):
        return None


def _params(run_dir: Path) -> dict[str, str]:
    folder = run_dir / "params"
    params = {}
    if folder.is_dir():
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            try:
                params[file.relative_to(folder).as_posix()] = _text(file).strip()
            except (OSError, UnicodeDecodeError, InputError):
                continue
    return params
