"""Hugging Face Trainer console output: the `{'loss': ..., 'epoch': ...}` lines of nohup / slurm.

`Trainer.log` prints each log row as a Python dict (`ProgressCallback` through `tqdm.write`,
`PrinterCallback` with `print`): training rows `{'loss': 0.52, 'grad_norm': 1.3,
'learning_rate': 2e-05, 'epoch': 0.24}`, evaluation rows `{'eval_loss': '0.4042',
'eval_runtime': ..., 'epoch': '0.2356'}` (recent versions print the numbers as strings) and a
final summary with `train_runtime`, which says the run finished. The rest of the output
(model loading, warnings, progress bars, samples) is not a record and is skipped; a dict line
that cannot be read is reported with its line number.

The dicts are parsed with `ast.literal_eval` (literals only, never code), a numpy scalar's repr
(`np.float64(0.68)`, numpy 2) read as its number (`io.py_literal`). They carry no step,
only the fractional epoch (the batches of the epoch done over the batches it has). Where the
Trainer's banner (`***** Running training *****`, printed at INFO verbosity) lets the steps an
epoch takes be known exactly (`TrainingBanner.steps_per_epoch`) and the printed epoch resolves
one step, each row gets its optimizer step, round(epoch x steps per epoch), and the `epoch`
stays a metric. Otherwise the rows are counted in ten-thousandths of an epoch (epoch x 10,000,
`step_units.ROWS_PER_EPOCH`), the run's step unit is "epoch/10000" (`phasewatch.xaxis.unit_scale`) and
every output says "epoch 1.35", never a step. Without such a banner, the Trainer's progress
bar gives the step where its draws and the rows went through one logging handler (`... - INFO -
71%|###| 2610/3657 [03:28<11:00, 1.59it/s]`): `ProgressCallback` moves the bar to the global
step before it logs, so the last draw before a row is the row's step, and the bar's total is
the planned length (`ProgressBar`). The choice is made at the first row, from what
came before it, so a followed log and a replay of the whole file agree. Rows printed with a
coarse epoch (`round(epoch, 2)` in older versions) can share a value; the later row then wins,
and a warning says how many did.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from phasewatch.io.hf_runs import read_from_last_run
from phasewatch.io.lines import BadLine
from phasewatch.io.model_task import printed_model_class
from phasewatch.io.post_training import END_KEY, PostTrainingEvaluations
from phasewatch.io.py_literal import python_literal
from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_console import ANSI
from phasewatch.planned import epoch_resolution
from phasewatch.step_units import EPOCH_ROWS, ROWS_PER_EPOCH, positions_in_unit
from phasewatch.values import to_float

FORMAT = "hf_console"
EPOCH_KEY = "epoch"
MAX_DICT_CHARS = 20_000   # a log row is a few hundred characters; longer is not one
# A Python dict literal with quoted keys, not nested in braces, anywhere on the line (a
# progress bar drawn before it with '\r' stays in front).
DICT = re.compile(r"\{\s*'[^{}]*\}")
HF_MARKS = (b"Running training", b"Num examples", b"it/s]", b"s/it]", b"transformers",
            b"Trainer")
SNIFF_MORE_BYTES = 8 * 1024 * 1024
# The Trainer's banner (`***** Running training *****`); `Total optimization steps` is its last
# field (an evaluation's banner prints `Num examples` again)
BANNER_START = "Running training"
BANNER_FIELDS = {
    "examples": re.compile(r"\bNum examples = ([\d,]+)\s*$"),
    "epochs": re.compile(r"\bNum Epochs = ([\d,]+)\s*$"),
    "device_batch": re.compile(r"\bInstantaneous batch size per device = ([\d,]+)\s*$"),
    "adjusted_batch": re.compile(r"\bbatch size has been adjusted to: ([\d,]+)\s*$"),
    "batch": re.compile(r"\bTotal train batch size \(.*\) = ([\d,]+)\s*$"),
    "accumulation": re.compile(r"\bGradient Accumulation steps = ([\d,]+)\s*$"),
    "steps": re.compile(r"\bTotal optimization steps = ([\d,]+)\s*$"),
}
# A tqdm draw of an iteration bar (`2610/3657 [03:28<11:00,  1.59it/s]`); a `datasets.map` bar
# counts examples (`examples/s`) and is none
BAR_DRAW = re.compile(r"(?<![\d/])(\d+)/(\d+) \[[^\]\r\n]*(?:it/s|s/it)\]")


class TrainingBanner:
    """What the Trainer's banner states: the planned length and the steps an epoch takes.
    `Num Epochs` is rounded up when `max_steps` ends the run sooner (1 for 100 steps of a
    1,000-step epoch); then the optimization steps over the steps an epoch takes (examples /
    total batch) give the epochs."""

    def __init__(self) -> None:
        self.fields: dict[str, int] = {}
        self.open = False

    def feed(self, line: str) -> None:
        if BANNER_START in line:
            self.open, self.fields = True, {}
            return
        for name, pattern in BANNER_FIELDS.items() if self.open else ():
            found = pattern.search(line)
            if found:
                self.fields[name] = int(found.group(1).replace(",", ""))
                self.open = name != "steps"

    def planned_epochs(self) -> float | None:
        fields = self.fields
        if not fields.get("epochs"):
            return None
        epochs = float(fields["epochs"])
        if fields.get("examples") and fields.get("batch") and fields.get("steps"):
            epochs = min(epochs, fields["steps"] * fields["batch"] / fields["examples"])
        return epochs

    def steps_per_epoch(self) -> int | None:
        """The optimizer steps an epoch takes, where the banner fixes them exactly, else None.

        The Trainer's epoch is `e + batches done / L` (L: the batches of an epoch on one
        process), its step `e x U + updates done` with U = ceil(L / G) updates of G accumulated
        batches (older versions: L // G). The epoch is U steps only when G divides L: then a
        row at epoch x is at step x x U. L is ceil(examples / batch per device) on one process
        (world size = total batch / (per-device batch x G)); on several, the two ways the
        examples are sharded must give the same L. `Total optimization steps` N and `Num
        Epochs` E must agree with U ((E - 1) x U < N <= E x U, whether the epochs or
        `max_steps` set N): a banner that does not (a dropped last batch, a custom sampler)
        or lacks a line fixes nothing. Without a length (`Num Epochs` 2**63 - 1) nothing
        either: a streamed dataset that runs out starts a new epoch."""
        f = self.fields
        examples, epochs, steps = f.get("examples"), f.get("epochs"), f.get("steps")
        batch = f.get("adjusted_batch") or f.get("device_batch")
        total, accumulation = f.get("batch"), f.get("accumulation")
        if not all((examples, epochs, steps, batch, total, accumulation)) or epochs >= 2**31:
            return None
        world, rest = divmod(total, batch * accumulation)
        if rest or world < 1:
            return None
        lengths = {_ceil(examples, batch)} if world == 1 else \
            {_ceil(_ceil(examples, world), batch), _ceil(_ceil(examples, batch), world)}
        if len(lengths) != 1:
            return None
        batches = lengths.pop()
        if batches % accumulation:
            return None
        per_epoch = batches // accumulation
        if not (epochs - 1) * per_epoch < steps <= epochs * per_epoch:
            return None
        return per_epoch


class ProgressBar:
    """The tqdm bars a console log draws, where the log keeps their order with the rows.

    `ProgressCallback` moves the training bar to the global step (`on_step_end`) before
    `Trainer.log` prints the row, so the last draw before a row is its step where both went
    through one writer: a logging handler, whose prefix (`2025-03-06 23:06:56,737 - INFO - `)
    heads the draws and the rows alike. hfconsole-phi2-qlora-10ev draws `2610/3657` before its
    row at epoch 2.14 and `2700/3657` before its evaluation at 2.21: its 115 rows, at epochs
    rounded to 0.01 (19 sharing one with the row before), are at steps 2610-3657 of 3657. A
    terminal's bar is redrawn with `\r` on stderr while the rows go to a buffered stdout, with
    no prefix: the rows come in blocks apart from the draws (hfconsole-hotpotqa-grpo-reward: 30
    rows after the draws 1-620 of 1875; hfconsole-unlearning-sft-grpo-reward: 8 rows after each
    8 draws), so the draw before a row is not its step and they give none."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}  # total -> its counter at the last draw
        self.latest: tuple[int, str] | None = None  # the last draw's total and prefix

    def feed(self, text: str) -> None:
        draws = list(BAR_DRAW.finditer(text)) if "/" in text else ()
        if not draws:
            return
        count, total = int(draws[-1].group(1)), int(draws[-1].group(2))
        if count <= total:
            self.last[total] = count
            head = text[:draws[-1].start()]
            percent = head.rfind("%|")  # the text before the bar's `71%|`
            self.latest = (total, _prefix(head[:percent].rstrip("0123456789")
                                          if percent >= 0 else head))

    def training(self, epoch: float, stated: int | None, row_head: str) -> int | None:
        """The total of the training bar, taken at the first row (its text before the dict
        `row_head`): the bar drawn last before it, with the row's writer's prefix, at a step
        > 0 for a row past epoch 0 (not an evaluation bar drawn before an evaluation at the
        start), and with the banner's `Total optimization steps` where it states one."""
        if self.latest is None:
            return None
        total, prefix = self.latest
        if not prefix or prefix != _prefix(row_head) or stated not in (None, total):
            return None
        return total if (self.last[total] > 0) == (epoch > 0) else None


def _prefix(text: str) -> str:
    """A logging handler's prefix without its numbers (time, line): what one writer puts
    before each of its lines."""
    return re.sub(r"\d+(?:[.,]\d+)?", "#", text).strip(" \t|")


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


EPOCH_TEXT = re.compile(r"'epoch':\s*('[^']*'|\"[^\"]*\"|[^,}\s]+)")


def _row(text: str) -> str | None:
    """The last dict literal (its text) on a line that has an 'epoch' key, or None."""
    found = DICT.findall(ANSI.sub("", text))
    for candidate in reversed(found):
        if f"'{EPOCH_KEY}'" in candidate:
            return candidate
    return None


def _row_of(text: str) -> dict[str, Any] | None:
    """The dict row a line prints, or None (`hf_runs.last_new_run`)."""
    candidate = _row(text)
    try:
        return _parse(candidate) if candidate is not None else None
    except BadLine:
        return None


def _has_row(text: str) -> bool:
    for line in text.splitlines():
        candidate = _row(line)
        if candidate is not None:
            try:
                return isinstance(_parse(candidate), dict)
            except BadLine:
                continue
    return False


# The start of a JSON document or JSON lines (`{"`, `[{`, `[1, 2]`...), which are other readers';
# not a log line's `[2024-08-19 10:27:57,181] [INFO]` (DeepSpeed's launcher) or `[INFO|...]`.
JSON_START = re.compile(rb'\{"|\[\s*(?:[{\["\]]|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s*[,\]]|true|false|null)')


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file() or JSON_START.match(head.lstrip()):
        return False
    if _has_row(head.decode("utf-8", errors="replace")):
        return True
    if not any(mark in head for mark in HF_MARKS):
        return False
    with open(path, "rb") as fh:  # model loading can print more than the head first
        more = fh.read(SNIFF_MORE_BYTES)
    return _has_row(more.decode("utf-8", errors="replace"))


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return not JSON_START.match(text.lstrip().encode("utf-8", "replace")[:256]) and _has_row(text)


# The usual row: 'key': number or 'key': 'number' items only. Read by this pattern without
# building a syntax tree (5-10x faster than literal_eval); anything else goes to literal_eval.
_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf"
_ITEM = r"'([^'\\]*)':\s*(?:'(" + _NUMBER + r")'|(" + _NUMBER + r"))"
_SIMPLE = re.compile(r"\{\s*" + _ITEM + r"(?:\s*,\s*" + _ITEM + r")*\s*,?\s*\}$")
_ITEMS = re.compile(_ITEM)


def _parse(candidate: str) -> dict[str, Any]:
    if len(candidate) > MAX_DICT_CHARS:
        raise BadLine(f"a dict of {len(candidate)} characters is not a log row")
    if _SIMPLE.match(candidate):
        return {key: quoted or bare for key, quoted, bare in _ITEMS.findall(candidate)}
    try:
        row = python_literal(candidate)  # numpy 2's `np.float64(0.68)`, a bare nan: `py_literal`
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
        raise BadLine(f"not a readable Python dict ({type(exc).__name__})") from None
    if not isinstance(row, dict) or not all(isinstance(k, str) for k in row):
        raise BadLine("not a dict with string keys")
    return row


class LineParser:
    """Lines with a `{... 'epoch': ...}` dict give one record: at its optimizer step where the
    banner before the first row fixes the steps per epoch, or where the progress bar drawn
    before it states it (`ProgressBar`), else at epoch x 10,000."""

    def __init__(self) -> None:
        self.finished = False
        self.banner = TrainingBanner()
        self.per_epoch: int | None = None  # steps per epoch, decided at the first row
        self.bars = ProgressBar()
        self.bar_total: int | None = None  # the training bar's total, where it gives the steps
        self.step_unit = "step"
        self.model: str | None = None  # the model class transformers names as it loads it
        self._decided = False
        self._at_zero = False  # decided by a row at epoch 0 only (`feed`)
        self._last: tuple[int, frozenset] | None = None
        self._shared = 0
        self._rows = 0  # of training or evaluation, not the final summary
        self._later_banner: int | None = None
        self.post_training = PostTrainingEvaluations()  # an evaluate() after train()
        self.ended_through = self.rows_from = 0  # the log's last run's lines (`hf_runs`)

    @property
    def settings(self) -> dict[str, Any]:
        """The planned length in the rows' steps, for the run's config (`phasewatch.planned`),
        and the model's class as transformers named it loading it (`model_task`: a token
        classifier's `eval_accuracy` counts tokens)."""
        return {**({} if self.model is None else {"architectures": [self.model]}), **self._plan()}

    def _plan(self) -> dict[str, int]:
        if self._decided and self.bar_total is not None:
            return {"planned_steps": self.bar_total}
        if self._decided and self.per_epoch is not None:
            steps = self.banner.fields.get("steps")
            return {} if not steps else {"planned_steps": steps}
        epochs = self.banner.planned_epochs()
        return {} if epochs is None else {"planned_steps": round(epochs * ROWS_PER_EPOCH)}

    @property
    def notes(self) -> list[str]:
        notes = []
        if self._shared:
            # most of a run's rows can go (trial 35b: 2347 of 2400 GRPO rows logged at every
            # step with the epoch printed to 2 decimals): say how few are left, and where a log
            # with the steps is
            notes.append(f"{self._shared} of {self._rows} log rows share their epoch value with "
                         "the row before (the epoch is printed rounded); the later row is kept, "
                         f"so {self._rows - self._shared} are read: the Trainer's "
                         "trainer_state.json or its TensorBoard / W&B log has every row's step")
        if self._later_banner is not None:
            notes.append(f"a later training banner (line {self._later_banner}) states other "
                         "steps per epoch; its rows are counted as the first training's")
        return notes + [positions_in_unit(w, self.step_unit) for w in self.post_training.warnings]

    def _decide(self, candidate: str, epoch: float, head: str) -> None:
        """Steps per epoch (or None), from the banner and how the first row prints its epoch;
        without them, the training bar drawn before it (or None: the rows count
        ten-thousandths of an epoch)."""
        self._decided = True
        per_epoch = self.banner.steps_per_epoch()
        printed = EPOCH_TEXT.search(candidate)
        if per_epoch is not None and printed is not None:
            largest = float(self.banner.fields["epochs"]) - 1e-9  # its last row is exact
            if epoch_resolution(printed.group(1), largest) * per_epoch >= 1:
                per_epoch = None  # the printed epoch does not tell one step from the next
        else:
            per_epoch = None
        self.per_epoch = per_epoch
        if per_epoch is None:
            self.bar_total = self.bars.training(epoch, self.banner.fields.get("steps"), head)
        self.step_unit = "step" if per_epoch is not None or self.bar_total else EPOCH_ROWS
        self._banner_fields = dict(self.banner.fields)

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        candidate = _row(line)
        if lineno < self.rows_from and (lineno <= self.ended_through or candidate is not None):
            return []  # the run before the log's last (`hf_runs`)
        head = line if candidate is None else line[:max(line.rfind(candidate), 0)]
        self.bars.feed(head)
        if candidate is None:
            if self.model is None:
                self.model = printed_model_class(line)
            self.banner.feed(line)
            if self._decided and self.per_epoch is not None and not self.banner.open \
                    and self.banner.fields != self._banner_fields and "steps" in self.banner.fields:
                if self.banner.steps_per_epoch() != self.per_epoch and self._later_banner is None:
                    self._later_banner = lineno
                self._banner_fields = dict(self.banner.fields)
            return []
        row = _parse(candidate)
        epoch = to_float(row.get(EPOCH_KEY))
        if epoch is None or math.isnan(epoch) or epoch < 0 or epoch > 1e9:
            raise BadLine(f"the epoch is not a number >= 0: {row.get(EPOCH_KEY)!r}")
        # a row at epoch 0 (an evaluation before training: an unlearning pipeline's
        # `{'model_utility': np.float64(0.26), ..., 'epoch': 0}`) is at step 0 in any unit, and
        # its bare `0` says nothing of how finely the training rows print their epoch: it
        # decides for a log of such rows alone, and the first row past it decides again (it
        # decided for good, and a log whose banner fixes the steps was read in ten-thousandths
        # of an epoch)
        if not self._decided or (self._at_zero and epoch > 0):
            self._decide(candidate, epoch, head)
            self._at_zero = epoch == 0
        if self.bar_total is not None:
            step = self.bars.last[self.bar_total]
        else:
            step = round(epoch * (self.per_epoch or ROWS_PER_EPOCH))
        keys = frozenset(k for k in row if k != EPOCH_KEY)
        self._rows += END_KEY not in row
        if self._last is not None and self._last[0] == step and self._last[1] & keys:
            self._shared += 1
        self._last = (step, keys)
        if END_KEY in row:
            self.finished = True
        row = self.post_training.kept(step, row, lineno)
        return [(step, row)] if row else []


class Source(LogFileSource):
    FORMAT, PARSER, WHAT = FORMAT, LineParser, "`{'loss': ..., 'epoch': ...}` lines"
    _looked_ahead = False  # the file looked through for a new run (`hf_runs`)

    def read(self, final: bool = True):
        if not self._looked_ahead:
            self._looked_ahead = True
            read_from_last_run(self, _row_of)
        yield from super().read(final)

    def end_marker(self, text, values) -> bool:
        return self.parser.finished


source = Source.open
read = Source.run_of
