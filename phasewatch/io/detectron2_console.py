"""Detectron2's console and the `log.txt` it writes in `OUTPUT_DIR` (projects built on it alike:
Mask2Former, Detic, ...): a line every 20 iterations (`CommonMetricPrinter`) and, at each
evaluation, the results `print_csv_format` prints for copying.

    [03/08 18:57:01 d2.utils.events]:  eta: 0:17:23  iter: 19  total_loss: 2.107  loss_cls:
        0.8012  loss_box_reg: 0.6524  time: 0.3493  data_time: 0.0283  lr: 0.00039962
        max_mem: 2717M
    [03/08 19:10:12 d2.evaluation.testing]: copypaste: Task: bbox
    [03/08 19:10:12 d2.evaluation.testing]: copypaste: AP,AP50,AP75,APs,APm,APl
    [03/08 19:10:12 d2.evaluation.testing]: copypaste: 39.4630,60.1020,43.0270,...

(each one line in the file). That is the console's coloured form; `log.txt`, and a console
that is no terminal (a run under `nohup`, in a notebook, in a batch job), take the plain one,
`[03/08 18:57:01] detectron2.utils.events INFO:  eta: ...` (`setup_logger`'s
`plain_formatter`, which keeps the logger's whole name), read as the same line. A training line is read at its `iter` under the names
`metrics.json` gives the same values (`total_loss`, `loss_cls`, ..., `lr`); the ETA, the
timings and the memory are no readings (`lr: N/A`, before the scheduler logs one, neither).
An evaluation's results are `<task>/<name>` (`bbox/AP`, `segm/AP50`, `sem_seg/mIoU`, as
`metrics.json` and TensorBoard name them: the held-out metrics), at the iteration of the
training line after them: `DefaultTrainer` runs its writers after its `EvalHook`, so they
are that iteration's. The final evaluation comes after the last line: `DefaultTrainer`'s
`after_train` runs it once the step counter has passed the last iteration (`max_iter`, where
`metrics.json` and TensorBoard put it), so it is read one after the last line's `iter`.
Several test datasets' results (`DATASETS.TEST`, each printed after `Evaluation results for
<dataset> in csv format:`) are `<dataset>/bbox/AP`, as `metrics.json` flattens them.
The Markdown tables printed beside them say the same and are not read. An item that is no
`name: number` is left out and said with its line (`lines.UnreadItems`); a results line whose
values do not match its names, or comes without them, is a skipped line with its number.

The training loop's end is `IterationTimer.after_train`'s `Total training time: ...` line
(`detectron2/engine/hooks.py`), printed after an `Exception during training:` too (the loop's
`finally`), which is then no finish but a crash: the hooks' `after_train` run before the
exception is raised out of the script, the writers' last, whose printer writes a training line
at the iteration that raised; once it has come the run has ended (`crashed`: a follow ends), and
the crash is said with that iteration. The hooks' `after_train` runs in their order, the timer's
first, so the final evaluation comes after that line: `EvalHook.after_train` runs it whatever
`TEST.EVAL_PERIOD` is (0, the default, only skips the evaluations before), on every dataset
of `DATASETS.TEST`, and may take minutes. The run has finished once the results of every test
dataset and task evaluated before have come after it and, where `log.txt` begins with
`default_setup`'s `Running with full config:` dump, every dataset it lists in `DATASETS.TEST`
has had its results (`TEST: []`: at the line). Without the dump, a log that evaluated before
waits for those results only: one that did not has finished at the line, unless an
evaluation starts (`Start inference on ...`) before its results are printed.

The run's planned length is the dump's `SOLVER.MAX_ITER`, or the one `DefaultTrainer`'s
`Auto-scaling the config to ...` line gives (`detectron2_config`).
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.detectron2_config import PLAN, auto_scaled, dump_plan
from phasewatch.io.lines import NUMBER, BadLine, UnreadItems, line_sniffers
from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_console import ANSI

FORMAT = "detectron2_console"

EVENTS = re.compile(r"\b(?:d2|detectron2)\.utils\.events\]: +(?:eta: .*?  )?iter: (?P<iter>\d+)"
                    r"(?P<items>.*)$")
ITEM = re.compile(r"(?<!\S)(?P<name>[A-Za-z_][\w/.-]*): (?P<value>\S+)")
COPYPASTE = re.compile(r"\]: copypaste: (?P<text>.*?)\s*$")
# `DefaultTrainer.test` names each test dataset before its results
DATASET = re.compile(r"\]: Evaluation results for (?P<dataset>\S+) in csv format:")
TASK = re.compile(r"^Task: (?P<task>\S+)$")
SINGLE = re.compile(rf"^(?P<name>[\w/.-]+)=(?P<value>{NUMBER})$")  # a result that is no table
# (the console's colours: `[32m[... d2.utils.events]: [0m eta: ...`; `log.txt`'s plain form:
# `] detectron2.utils.events INFO:  eta: ...`)
SNIFF = re.compile(rb"\b(?:d2|detectron2)\.utils\.events(?:\]:| INFO:) (?:\x1b\[[0-9;]*m)? *"
                   rb"(?:eta: [^\n]*?  )?iter: \d+ ")
# `setup_logger`'s plain formatter, `[%(asctime)s] %(name)s %(levelname)s: %(message)s`: read
# as the coloured one, `[%(asctime)s %(name)s]: %(message)s`, which the markers below match
PLAIN = re.compile(r"\[(?P<time>\d\d/\d\d \d\d:\d\d:\d\d)\] (?P<name>\S+) "
                   r"(?:DEBUG|INFO|WARNING|ERROR|CRITICAL): ")
NOT_READ = frozenset({"time", "data_time", "last_time", "last_data_time", "max_mem"})
TRAINED = "]: Total training time: "  # the training loop is over (`IterationTimer.after_train`)
FAILED = "]: Exception during training:"  # ... by an exception, logged before that line
STARTED = "]: Starting training from iteration "  # a training loop begins (`TrainerBase.train`)
CRASH_SAID = "(`Exception during training:` and its traceback): its training ended there, not finished"
INFERENCE = "]: Start inference on "  # an evaluation begins (`inference_on_dataset`)
CONFIG = "]: Running with full config:"  # `default_setup`'s YAML dump of the config follows
LOGGED = re.compile(r"\[\d\d/\d\d \d\d:\d\d:\d\d ")  # a logged line: the dump is over
KEY = re.compile(r"(?P<key>\w+):(?: +(?P<value>.*?))?\s*$")  # a YAML key, its value
LISTED = re.compile(r"- +(?P<value>.*?)\s*$")  # an item of a YAML block list

sniff, sniff_text = line_sniffers(SNIFF, 2)


def listed_tests(dump: list[str]) -> tuple[str, ...] | None:
    """`DATASETS.TEST` of a config dump, None where it says nothing readable of it. yacs
    dumps with `yaml.safe_dump`: keys sorted, `  TEST: []`, or `  TEST:` then `  - name`
    lines. The lines come without their indentation (`line_split`), so a section is told by
    its opening, a key with no value and no list items after it (`DATASETS` holds lists and
    numbers only): its `TEST` is the one met before the next section opens."""
    in_datasets, key, items = False, None, []
    for text in dump:
        if (item := LISTED.match(text)) is not None:
            items.append(item["value"].strip("'\""))
            continue
        if in_datasets and key == "TEST":  # the list after `TEST:` is over
            return tuple(items) if items else None
        if key is not None and not items:  # a key that opened a mapping: a section
            in_datasets = key == "DATASETS"
        key, items = None, []
        if (found := KEY.match(text)) is None:
            continue
        value = found["value"]
        if not value:
            key = found["key"]
        elif in_datasets and found["key"] == "TEST":
            if not (value.startswith("[") and value.endswith("]")):
                return None
            return tuple(name.strip().strip("'\"") for name in value[1:-1].split(",")
                         if name.strip())
    return tuple(items) if in_datasets and key == "TEST" and items else None


class LineParser:
    """A record per training line at its iteration, an evaluation's results with the next."""

    def __init__(self) -> None:
        self.last: int | None = None  # the last training line's iteration
        self.task: str | None = None  # the copypaste block's task
        self.names: list[str] | None = None  # and its names, awaiting the values
        self.dataset: str | None = None  # the test dataset the results are of
        # evaluation results awaiting their iteration, by test dataset
        self.results: dict[str | None, dict[str, Any]] = {}
        self.unread = UnreadItems("items of training lines that are no `name: number` were "
                                  "left out")
        self.trained = False  # the training loop's end line was read
        self.failed = False  # ... after an exception
        self.failed_after: int | None = None  # the last training line's iteration before it
        self.crashed_at: int | None = None  # the iteration the writer's line after it names
        self.inferring = False  # an evaluation has begun whose results are not printed yet
        self.evaluated: set[tuple[str | None, str]] = set()  # (dataset, task) before the end
        self.final: set[tuple[str | None, str]] = set()  # ... and after it
        self.tested: set[str | None] = set()  # the datasets whose results came after the end
        self.tests: tuple[str, ...] | None = None  # DATASETS.TEST, where the config dump says
        self.dump: list[str] | None = None  # the config dump's lines, while they are read
        # the run's planned length, `SOLVER.MAX_ITER` of the dump (`detectron2_config`)
        self.settings: dict[str, int] = {}

    @property
    def finished(self) -> bool:
        """The training loop ended without an exception, and the final evaluation after it
        has given what the evaluations before gave and is done with every test dataset the
        config lists (module docstring)."""
        return self.trained and not self.failed and not self.inferring \
            and self.evaluated <= self.final and (
                self.tests is None or set(self.tests) <= self.tested
                # results printed with no dataset's name before them: the one listed
                or (len(self.tests) == 1 and None in self.tested))

    @property
    def crashed(self) -> bool:
        """The training loop ended by an exception and its `after_train` hooks are over: the
        writers' hook, the last (`DefaultTrainer.build_hooks`), printed its line after the
        others' (a final evaluation `EvalHook` runs where the exception came at the last
        iteration). Nothing more comes: the exception is raised out of the script."""
        return self.failed and self.trained and self.crashed_at is not None

    @property
    def ended_by(self) -> str | None:
        """What ended the training loop where it is not its planned end (`Run.ended_by`):
        "crash" after `Exception during training:`; "interrupt" where `Total training time`
        came with no exception before it at an iteration short of the dump's `MAX_ITER`: the
        loop (`for self.iter in range(start_iter, max_iter)`) has no other way out than an
        exception, and `TrainerBase.train` logs every `Exception` but not a KeyboardInterrupt
        (Ctrl-C, SIGINT) or a SystemExit, which still run its `after_train` hooks."""
        if self.failed:
            return "crash"
        plan = self.settings.get(PLAN)
        if self.trained and plan is not None and self.last is not None and self.last + 1 < plan:
            return "interrupt"
        return None

    @property
    def crash_note(self) -> str | None:
        """The note of a crash the log shows (`Run.end_note`), else None."""
        if not self.failed:
            return None
        where = f"at iteration {self.crashed_at}" if self.crashed_at is not None else \
            "before its first logged iteration" if self.failed_after is None else \
            f"after iteration {self.failed_after}, the last it logged"
        return f"the run crashed {where} {CRASH_SAID}"

    @property
    def notes(self) -> list[str]:
        crash = self.crash_note
        return self.unread.notes if crash is None else [*self.unread.notes, crash]

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        line = ANSI.sub("", line) if "\x1b" in line else line
        if line.startswith("[") and (plain := PLAIN.match(line)) is not None:
            line = f"[{plain['time']} {plain['name']}]: {line[plain.end():]}"
        if "copypaste: " in line and (found := COPYPASTE.search(line)) is not None:
            self._copypaste(found["text"])
            return []
        if " in csv format:" in line and (found := DATASET.search(line)) is not None:
            self.dataset = found["dataset"]
            if self.trained:  # (an evaluator may return no results: the dataset is done)
                self.tested.add(self.dataset)
            return []
        if "iter: " not in line or (found := EVENTS.search(line)) is None:
            self._progress(line)
            return []
        values: dict[str, Any] = {}
        unread: list[str] = []
        for item in ITEM.finditer(found["items"]):
            name, value = item["name"], item["value"]
            if name in NOT_READ or (name, value) == ("lr", "N/A"):
                continue
            if re.fullmatch(NUMBER, value):
                values[name] = value
            else:
                unread.append(f"{name}: {value}")
        if self.failed and self.trained:
            # after an exception, the writers' `after_train` prints the iteration it came at
            # (`CommonMetricPrinter`: at `storage.iter`, never `max_iter` after one)
            self.crashed_at = int(found["iter"])
        if not any("loss" in name for name in values):
            raise BadLine("a training line (`iter: N`) with no loss")
        self.unread.add(lineno, unread)
        self.last = int(found["iter"])
        self.inferring = False  # (an evaluation that printed no results is over)
        if self.trained and not self.failed:  # training again after its end: resumed
            self._start_again()
        values.update(self._evaluated())
        return [(self.last, values)]

    def _start_again(self) -> None:
        """A training loop begins after the one before ended (a run resumed into the log)."""
        self.trained = self.failed = False
        self.failed_after = self.crashed_at = None
        self.final.clear()
        self.tested.clear()

    def _progress(self, line: str) -> None:
        """Lines that say where the run is: its training loop's end, an evaluation's start;
        and the config dump, for the test datasets the final evaluation will evaluate."""
        if self.dump is not None:
            if not LOGGED.match(line):
                self.dump.append(line)
                return
            self.settings.update(dump_plan(self.dump))
            self.tests, self.dump = listed_tests(self.dump), None
        if CONFIG in line:
            self.dump = []
        elif TRAINED in line:
            self.trained = True
        elif FAILED in line:
            self.failed, self.failed_after = True, self.last
        elif STARTED in line and self.trained:
            self._start_again()
        elif INFERENCE in line:
            self.inferring = True
        else:  # `DefaultTrainer` rescaled `MAX_ITER` to the world size
            self.settings.update(auto_scaled(line))

    def _evaluated(self) -> dict[str, Any]:
        """The results awaiting their iteration, named as `metrics.json` names them: an
        evaluation of several test datasets under `<dataset>/` (`DefaultTrainer.test` keeps
        each dataset's results apart where `DATASETS.TEST` holds more than one)."""
        results, self.results, self.dataset = self.results, {}, None
        if len(results) == 1:
            return next(iter(results.values()))
        return {f"{dataset}/{name}": value for dataset, named in results.items()
                for name, value in named.items()}

    def _copypaste(self, text: str) -> None:
        """A line of `print_csv_format`'s: the task, then its names, then their values (or a
        result that is no table, `name=value`)."""
        if (task := TASK.match(text)) is not None:
            self.task, self.names = task["task"], None
        elif self.task is not None and self.names is None:
            self.names = text.split(",")
        elif self.task is not None and self.names is not None:
            numbers, names, task_name = text.split(","), self.names, self.task
            self.task, self.names = None, None
            if len(numbers) != len(names) or not all(re.fullmatch(NUMBER, n) for n in numbers):
                raise BadLine(f"evaluation results whose values ({text[:60]}) do not match "
                              f"their names ({','.join(names)[:60]})")
            self.results.setdefault(self.dataset, {}).update(
                zip((f"{task_name}/{name}" for name in names), numbers))
            self._reported(task_name)
        elif (single := SINGLE.match(text)) is not None:
            self.results.setdefault(self.dataset, {})[single["name"]] = single["value"]
            self._reported(single["name"])
        else:
            raise BadLine("evaluation results without their `copypaste: Task: ...` line")

    def _reported(self, task: str) -> None:
        """An evaluation's results of `task` on the dataset named before them are in."""
        (self.final if self.trained else self.evaluated).add((self.dataset, task))
        if self.trained:
            self.tested.add(self.dataset)
        self.inferring = False

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """The final evaluation, after the last training line: at `max_iter`, one after that
        line's iteration (module docstring)."""
        if not self.results or self.last is None:
            return []
        return [(self.last + 1, self._evaluated())]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("Detectron2's `d2.utils.events]:  eta: ...  iter: N  total_loss: X ...` lines")
    # a training line cut by a killed writer still parses ('total_loss: 0.' of 0.6441 read 0)
    cut_line_may_parse = True

    def read(self, final: bool = True):
        yield from super().read(final)
        # as the lines say: an evaluation begun after the training loop's end withdraws it
        self.info.finished, self.info.crashed = self.parser.finished, self.parser.crashed
        self.info.ended_by, self.info.end_note = self.parser.ended_by, self.parser.crash_note


source = Source.open
read = Source.run_of
