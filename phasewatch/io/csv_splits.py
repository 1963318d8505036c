"""One run written as a CSV file per split (`train.csv` beside `valid.csv`), read as one run.

A script that writes each split's metrics to a file of their own names the columns alike in
each (`epoch,loss,acc` in train.csv and in valid.csv); the CSV reader reads each file's bare
columns under its split (`csv_layouts.under_split`: `train_loss`, `valid_loss`). Read as two
runs, `analyze` judged train.csv by its train loss, valid.csv without the train loss beside
it, and `sweep` and `report` made two rows of one training. The CSV files of a folder named
for different splits (`csv_layouts.file_split`) whose rows are keyed by the same step column
are one run: each file is a group of its own (`Record.group`: its step counter is compared, and
a resume found, only within it), the groups joined on that column. A name both files write as
it is (the learning rate, a counter) is read from the first of them (train.csv first).
Two files of one split (`eval.csv`, `eval_rewards.csv`), files keyed by different columns
(batches in one, epochs in the other) and any other CSV of the folder are runs of their own.

A script writes valid.csv from its first evaluation on, epochs after train.csv: a follow of
the folder started before then finds train.csv alone. It follows the folder as its splits all
the same (`first_of_splits`), and looks at the folder again at each read, as the TensorBoard
reader does for event files that appear later, so valid.csv is read from when it appears and
the follow gives the alerts a replay of the finished folder gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.io import csv
from phasewatch.io.csv_layouts import file_split, under_split
from phasewatch.io.joined_log import NamedCollector, named_warning
from phasewatch.io.lines import find_step_key
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.run import Run

FORMAT = "csv_splits"
TRAIN = "train"
# each file's lines are numbered in a range of their own (file k's line n is read as
# k * LINE_STRIDE + n), so a line a collector names is one place, which `where` names by file
LINE_STRIDE = 1 << 40


def split_files(folder: Path, least: int = 2,
                complete: bool = False) -> tuple[str, dict[Path, list[str]]] | None:
    """(the step column, {file: its columns as read}) of the CSV files directly in `folder`
    that are one run's splits (module docstring), train.csv first; None when there are fewer
    than `least` such files (a follow takes one: `first_of_splits`). `complete`: a file whose
    first line is not whole yet (its writer is writing the header) is left out, for now."""
    from phasewatch.io import read_head
    from phasewatch.io.jsonlines import first_line

    by_split: dict[str, list[tuple[Path, list[str], str | None]]] = {}
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and file_split(p.name))
    except OSError:
        return None
    for path in files:
        try:
            head = read_head(path)
        except InputError:
            continue
        if complete and not (first_line(head) or ("", False))[1]:
            continue
        header = csv.header_of(head) if csv.sniff(path, head) else None
        if header is not None:
            names, step = header[0], find_step_key(header[0])
            by_split.setdefault(file_split(path.name), []).append((path, names, step))
    if len(by_split) < least or any(len(found) > 1 for found in by_split.values()):
        return None
    steps = {step for (_, _, step), in by_split.values()}
    if len(steps) > 1 or None in steps:
        return None
    order = sorted(by_split, key=lambda split: (split != TRAIN, split))
    return steps.pop(), {path: under_split(names, path.name, names.index(step))[0]
                         for split in order for path, names, step in by_split[split]}


def first_of_splits(found) -> bool:
    """Whether a followed folder's one log (`found`, a `folders.Found`) is a CSV file named for
    its split directly in the folder, keyed by a step column: the first of its run's split
    files, the others still to come (module docstring). The folder is then followed whole."""
    log, folder = found.path, found.name
    return log.parent == folder and file_split(log.name) is not None \
        and split_files(folder, least=1) is not None


def sniff(path: Path, head: bytes) -> bool:
    return path.is_dir() and split_files(path) is not None


def joined(folder: Path, found: list) -> list:
    """`found`, the runs of the log files of `folder` (`folders.Found` each), with the files
    that are one run's splits (`split_files`) as that one run, named by the folder."""
    files = split_files(folder)
    if files is None:
        return found
    from phasewatch.folders import Found

    return [Found(folder, root=folder), *(f for f in found if f.path not in files[1])]


class Source(RecordSource):
    """The split files' CSV sources, read one after another each time (train.csv first), each
    file's records a group of their own named by its split. Following, the folder is looked at
    again before each read, and a split's file that has appeared is read from then on."""

    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        found = split_files(path, least=1 if follow else 2)
        if found is None:
            raise InputError("no CSV files of one run's splits here (train.csv beside "
                             "valid.csv, keyed by the same step column)", path)
        self._bad_line = None  # set on each part, those that appear later too
        super().__init__(path)
        self.step, self.follow, self._notice = found[0], follow, notice
        self.info.name = path.name
        self.parts: list = []
        self.files: dict[Path, list[str]] = {}  # each part's file: its columns as read
        self._owner: dict[str, int] = {}  # a name -> the part it is read from
        self._counts: list[int] = []  # records read of each part
        self._warned: list[int] = []  # its warnings said so far
        self._ambiguous: set[str] = set()  # names printed alike for different metrics
        self._take(found[1])

    def _take(self, files: dict[Path, list[str]]) -> list[Path]:
        """Parts for the files of `files` not read yet, after those that are; their paths."""
        new = [file for file in files if file not in self.files]
        for file in new:
            part = csv.source(file, follow=self.follow, notice=self._notice)
            part.on_bad_line = self._bad_line
            for name in files[file]:
                self._owner.setdefault(name, len(self.parts))
            self.parts.append(part)
            self.files[file] = files[file]
            self._counts.append(0)
            self._warned.append(0)
        return new

    def _look_again(self) -> None:
        """Follow the split files that have appeared since the last read (and are keyed by the
        same step column), as a replay of the folder then reads them; said once each."""
        found = split_files(self.path, least=1, complete=True)
        if found is None or found[0] != self.step or not self.files.keys() <= found[1].keys():
            return
        for file in self._take(found[1]):
            if self._notice is not None:
                self._notice(f"{self.path}: {file.name} appeared: following it too, its rows "
                             f"joined on the {self.step} column")

    @property
    def joined_note(self) -> str:
        """What the warnings say of the files joined (nothing while a follow has one)."""
        if len(self.files) < 2:
            return ""
        names = [file.name for file in self.files]
        shared = [f"{name} from {names[index]}" for name, index in self._owner.items()
                  if name != self.step and sum(name in columns for columns in self.files.values()) > 1]
        both = f"; a column of several files is read from the first: {', '.join(shared)}" \
            if shared else ""
        return (f"{', '.join(names[:-1])} and {names[-1]}, one file per split, are read as one "
                f"run, their rows joined on their {self.step} column{both}")

    @property
    def on_bad_line(self):
        return self._bad_line

    @on_bad_line.setter
    def on_bad_line(self, callback) -> None:
        self._bad_line = callback
        for part in getattr(self, "parts", ()):
            part.on_bad_line = callback

    def read(self, final: bool = True) -> Iterator[Record]:
        if self.follow:
            self._look_again()
        for index, part in enumerate(self.parts):
            group, base = file_split(part.file.name), index * LINE_STRIDE
            for record in part.read(final):
                values = {name: value for name, value in record.values.items()
                          if self._owner.setdefault(name, index) == index}
                self._counts[index] += 1
                yield Record(record.step, values, base + record.line if record.line else 0, group)
            self.warnings.extend(named_warning(part.file.name, w)
                                 for w in part.warnings[self._warned[index]:])
            self._warned[index] = len(part.warnings)
            self._take_info(index, part)
        self.info.finished = all(part.info.finished for part in self.parts)

    def _take_info(self, index: int, part) -> None:
        """A part's settings, step unit and events; the names it printed where no other
        part printed the same name for another (`loss` is train_loss and valid_loss: neither)."""
        info = self.info
        for name, value in part.info.config.items():
            info.config.setdefault(name, value)
        if self._counts[index]:
            info.step_unit = part.info.step_unit
        for event in part.info.events:
            if event not in info.events:
                info.events.append(event)
        for printed, name in part.info.printed_names.items():
            if info.printed_names.get(printed, name) != name or printed in self._ambiguous:
                self._ambiguous.add(printed)
                info.printed_names.pop(printed, None)
            else:
                info.printed_names[printed] = name

    def where(self, line: int) -> str:
        """The file and its own line of a record's `line` (`LINE_STRIDE`)."""
        index, own = divmod(line, LINE_STRIDE)
        return f"{self.parts[min(index, len(self.parts) - 1)].file.name} line {own}"

    @property
    def notes(self) -> list[str]:
        """What `finish` says, for a watch, which collects no run."""
        return [*filter(None, [self.joined_note]),
                *(named_warning(part.file.name, note) for part in self.parts for note in part.notes)]

    def finish(self, collector) -> None:
        """Each file's own report (its bad lines, its notes), naming it; a file with no record
        yet beside others that have some is said, not an error."""
        if not any(self._counts):
            for part in self.parts:  # each file's own error (`LineReport.finish`)
                part.finish(collector)
        if self.joined_note:
            collector.warn(self.joined_note)
        for part, count in zip(self.parts, self._counts):
            if count:
                part.finish(NamedCollector(collector, part.file.name))
            else:
                collector.warn(f"{part.file.name}: no records yet: the run is read without it")

    def close(self) -> None:
        for part in self.parts:
            part.close()


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
