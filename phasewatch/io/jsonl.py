"""Generic JSON lines: one JSON object per line with any step-like key.

Covers the many home-made `metrics.jsonl` / `log.jsonl` files: the step may be called `step`,
`global_step`, `_step`, `iteration`... (see `lines.STEP_KEYS`); nested objects are flattened
with "/" (`{"eval": {"acc": 1}}` -> `eval/acc`), and a COCO evaluation's summary list (DETR's
`log.txt`) is read as named numbers (`coco_stats`). A file with no step key at all is read with
the record number as the step, and a warning says so. A first record without a step before
records with one is the script's header (its arguments, `{"type": "config", "args": {...}}`):
its values go to the run's config, not into its metrics at a made-up step. Records whose step key is `epoch` (no
step or iteration key beside it) have epochs for steps, and the run says so (`Run.step_unit`).
A detectron2 `metrics.json` takes the `config.yaml` beside it as its run's config, where its
planned length is (`detectron2_config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from phasewatch.io.coco_stats import CocoSummaries, is_summary_key
from phasewatch.io.detectron2_config import METRICS, take_detectron2_config
from phasewatch.io.fastjson import read_json_lines
from phasewatch.io.jsonlines import first_json_object, loads
from phasewatch.io.lines import BadLine, RecordWithoutStep, as_step, find_step_key
from phasewatch.io.post_training import ends_training
from phasewatch.io.source import LineRecordSource, collect
from phasewatch.run import RecordCollector, Run
from phasewatch.xaxis import NUMBERED_UNIT, StepKeys

FORMAT = "jsonl"


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and first_json_object(head) is not None


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become "a/b" keys; other values are kept as they are."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out


class LineParser:
    """One JSON object per line; the step key is found per line among `lines.STEP_KEYS`.

    If the first record has no step-like key, the second decides what it was: the header of a
    log whose records have steps (its values go to `settings`, the run's config), or the first
    record of a log without steps, read whole with the record number (0, 1, 2, ...) as the
    step; `notes` says which.
    """

    flattens_nested = True

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.settings: dict[str, Any] = {}
        self._row_number_steps: bool | None = None
        self._first: tuple[dict[str, Any], int] | None = None  # a first object without a step
        self._n = 0
        self.step_keys = StepKeys()  # the keys steps were read from, for `step_unit`
        self._coco = CocoSummaries(self.notes)

    @staticmethod
    def expands_list(key: str) -> bool:
        """Whether a list under this key is read as numbers (the bulk reader leaves its rows to
        `feed`)."""
        return is_summary_key(key)

    def step_key(self, keys) -> str | None:
        """The key holding the step in a row with these keys (for the bulk reader)."""
        key = find_step_key(keys)
        if key is not None:
            self.step_keys.add(key)
        return key

    @property
    def step_unit(self) -> str:
        """"epoch" when every record took its step from `epoch`, "record" when the records are
        numbered, else "step" (`xaxis.step_unit_of_keys`)."""
        return NUMBERED_UNIT if self._row_number_steps else self.step_keys.unit

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        obj = loads(line)
        if not isinstance(obj, dict):
            raise BadLine("not a JSON object")
        key = self.step_key(obj)
        if self._row_number_steps is None:
            if key is None and self._first is None:
                self._first = (obj, lineno)  # the next record says what it is
                return []
            self._row_number_steps = key is None
            if key is None:
                self.notes.append(
                    "no step-like key (step, global_step, _step, iteration, ...) in the records; "
                    "using the record number as the step"
                )
                return [*self.flush(), self._numbered(self._values(obj, lineno))]
            if self._first is not None:
                header, at = self._first
                self._first = None
                self.settings.update(header)  # nested as written: `args.max_steps` is a plan
                self.notes.append(
                    f"line {at}: a record without a step before the records with one; read as "
                    f"the run's settings ({', '.join(list(header)[:4])}"
                    f"{', ...' if len(header) > 4 else ''}), not as metrics"
                )
        values = self._values({k: v for k, v in obj.items() if k != key}, lineno)
        if self._row_number_steps:
            return [self._numbered(values)]
        if key is None:
            keys = ", ".join(list(obj)[:4]) + (", ..." if len(obj) > 4 else "")
            raise RecordWithoutStep("no step-like key (step, global_step, _step, iteration, ...) "
                                    f"among its keys {keys}")
        return [(as_step(obj[key]), values)]

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """The first record, when no record came after it to say it was a header."""
        if self._first is None:
            return []
        first, at = self._first
        self._first = None
        self._row_number_steps = True
        return [self._numbered(self._values(first, at))]

    def _values(self, obj: Mapping[str, Any], lineno: int) -> dict[str, Any]:
        """A row's values: nested objects flattened, COCO summary lists named."""
        return self._coco.expand(flatten(obj), lineno)

    def _numbered(self, values: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._n += 1
        return self._n - 1, values


class Source(LineRecordSource):
    """Generic JSON lines; a whole file is read by the bulk path (`fastjson`)."""

    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path, FORMAT, LineParser, follow=follow, notice=notice)
        self.info.name = path.stem

    def bulk(self, collector: RecordCollector) -> bool:
        if self.report.total or self.tail.bytes_read:
            return False
        self._take_config()
        parser = LineParser()
        done = read_json_lines(self.file, parser, collector)
        self.info.step_unit = parser.step_unit
        return done

    def read(self, final: bool = True):
        self._take_config()
        yield from super().read(final)

    def _take_config(self) -> None:
        if self.path.name == METRICS:  # a detectron2 OUTPUT_DIR's: its config.yaml, its plan
            take_detectron2_config(self, self.path.parent)

    def end_marker(self, text, values) -> bool:
        # HF Trainer's last `log` call (train_runtime, train_loss...) ends training
        return bool(values) and ends_training(values)


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
