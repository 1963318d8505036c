"""The native run folder the reference trainer writes (DESIGN.md "Native run folder").

RUN/metrics.jsonl  {"step": int, "<metric>": number|null, ...} per line, keys may be sparse
RUN/run.json       name, algorithm, performance_metric, direction, events, config
RUN/expert_logprobs/  optional token store (see phasewatch.tokens)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.io import jsonl
from phasewatch.io.fastjson import read_json_lines
from phasewatch.io.jsonlines import loads, read_json_object
from phasewatch.io.lines import BadLine, as_step
from phasewatch.io.source import LineRecordSource, Record, collect
from phasewatch.run import Event, RecordCollector, Run
from phasewatch.values import to_step

FORMAT = "native"
METRICS_FILE = "metrics.jsonl"
RUN_FILE = "run.json"
TOKENS_DIR = "expert_logprobs"


def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return (path / METRICS_FILE).is_file()
    return path.name == METRICS_FILE and (path.parent / RUN_FILE).is_file()


class LineParser:
    """Parses metrics.jsonl lines: a JSON object with an integer `step`; other keys are metrics."""

    step_keys: tuple[str, ...] = ("step",)

    def step_key(self, keys) -> str | None:
        """The key holding the step in a row with these keys (for the bulk reader)."""
        return next((key for key in self.step_keys if key in keys), None)

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        """Records in this line; raises ValueError (with a reason) if it is not one."""
        obj = loads(line)
        if not isinstance(obj, dict):
            raise BadLine("not a JSON object")
        for key in self.step_keys:
            if key in obj:
                step = as_step(obj[key])
                values = {k: v for k, v in obj.items() if k != key}
                return [(step, values)]
        raise BadLine("no 'step' key")


# run.json `status` values (and events) that mean the run is over.
END_STATUSES = ("finished", "interrupted", "stopped", "failed")
END_EVENTS = ("stopped", "interrupted")


class Source(LineRecordSource):
    """metrics.jsonl line by line (in bulk for a whole file), run.json as the metadata.

    run.json is re-read whenever it changes, after the lines: the trainer rewrites it (an
    event, the end status) before it logs the step the event belongs to, so the metadata read
    after a batch of lines always covers them.
    """

    def __init__(self, path: Path, follow: bool = False, notice=None):
        folder = path if path.is_dir() else path.parent
        # A metrics.jsonl with no run.json beside it (the trainer writes run.json first) is
        # another logger's JSON lines, whose step may be `iteration` or `epoch`: parsed as
        # the generic reader parses the file itself.
        own = (folder / RUN_FILE).is_file()
        self._parser_class = LineParser if own else jsonl.LineParser
        super().__init__(path, FORMAT if own else jsonl.FORMAT, self._parser_class,
                         file=folder / METRICS_FILE, source=folder, follow=follow, notice=notice)
        self.folder = folder
        self._stamp: tuple[int, int] | None = None
        self._event_warnings: list[str] = []
        self.info.name = folder.name
        self.refresh()

    def bulk(self, collector: RecordCollector) -> bool:
        if self.report.total or self.tail.bytes_read:
            return False
        done = read_json_lines(self.file, self._parser_class(), collector)
        if done:
            self.refresh()
        return done

    def read(self, final: bool = True):
        records: list[Record] = list(super().read(final))
        self.refresh()
        yield from records

    def refresh(self) -> None:
        """Re-read run.json if it changed (a damaged one while following keeps the last)."""
        path = self.folder / RUN_FILE
        try:
            st = path.stat()
        except OSError:
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            meta = read_run_json(path)
        except InputError:
            if self.tail.follow:
                return
            raise
        self._stamp = stamp
        info = self.info
        self._event_warnings = []
        text = self._text_field
        info.name = text(meta, "name") or self.folder.name
        info.algorithm = text(meta, "algorithm")
        info.performance_metric = text(meta, "performance_metric")
        info.direction = text(meta, "direction")
        if info.direction not in (None, "max", "min"):
            self._event_warnings.append(f"{RUN_FILE}: direction {info.direction!r} is not "
                                        "'max' or 'min'; ignored")
            info.direction = None
        config = meta.get("config")
        info.config = config if isinstance(config, dict) else {}
        events = []
        listed = meta.get("events")
        for i, event in enumerate(listed if isinstance(listed, list) else []):
            try:
                events.append(Event(step=to_step(event["step"]), name=str(event["name"])))
            except (KeyError, TypeError, ValueError):
                self._event_warnings.append(
                    f"{RUN_FILE}: event {i} is not {{'step': int, 'name': str}}; ignored")
        info.events = events
        tokens = self.folder / TOKENS_DIR
        info.token_store = tokens if (tokens / "index.json").is_file() else None
        status = str(meta.get("status", "")).lower()
        info.finished = status in END_STATUSES or any(e.name in END_EVENTS for e in events)
        # the trainer's own ends short of its `steps` (`trainer.loop`): a `stopped` event where
        # its monitor stopped it, `interrupted` on a KeyboardInterrupt
        ended = {e.name for e in events} | {status}
        info.ended_by = ("crash" if "failed" in ended else "interrupt" if "interrupted" in ended
                         else "early stop" if "stopped" in ended else None)

    def _text_field(self, meta: dict[str, Any], key: str) -> str | None:
        """A run.json field that must be text (a list or number there is ignored, said once)."""
        value = meta.get(key)
        if value is None or isinstance(value, str):
            return value
        self._event_warnings.append(f"{RUN_FILE}: '{key}' is not a string; ignored")
        return None

    @property
    def warnings(self) -> list[str]:
        return self._warnings + self._event_warnings

    @warnings.setter
    def warnings(self, value: list[str]) -> None:
        self._warnings = value

    def warn(self, message: str, line: int | None = None) -> None:
        # to the list the property reads from (appending to `warnings`, a new list each
        # time, lost the message: a folder's note of which log it read)
        self._warnings.append(f"line {line}: {message}" if line is not None else message)


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))


def read_run_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return read_json_object(path, "run.json")
