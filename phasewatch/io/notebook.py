"""Jupyter notebooks (`.ipynb`) as researchers leave them: the training runs their outputs show.

What a notebook's cells show is found by `notebook_cells.read_book`: the Hugging Face / TRL
Trainer's progress table (an HTML output; format `notebook`, the Trainer's own metric names)
and training logs a cell printed (its stream outputs, read by the console reader that takes
them: `hf_console`, `verl_console`, `kv_console`...). Each is one run, numbered from 1 in cell
order. A notebook of one run is read as PATH; of several it is a store of runs
(`MEMBERS`): `inspect nb.ipynb` lists them as `nb.ipynb/1`, `nb.ipynb/2`..., which
`analyze`, `plot` and `watch` take as PATH (`analyze nb.ipynb` takes each).

Jupyter rewrites the whole file on each save. Followed (`watch --follow`), the notebook is
read again when it changes and only the run's records after those already read are new (as
for `trainer_state.json`); a run that now differs from what was read (the cell run again)
gives its records from the first difference, and the step going back is a resume.
"""

from __future__ import annotations

import re
from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.io.notebook_cells import FORMAT, Book, BookRun, read_book
from phasewatch.io.printed_log import CONSOLE_READERS
from phasewatch.io.source import RecordSource, collect
from phasewatch.io.sqlite_ro import split_member
from phasewatch.run import RecordCollector, Run

MEMBERS = True  # `nb.ipynb/N` names the notebook's N-th run
MAX_LISTED = 8
SNIFF_MORE_BYTES = 8 * 1024 * 1024
_START = re.compile(r'^\s*\{\s*"(?:cells|metadata|nbformat|nbformat_minor)"\s*:')
# nbformat's own keys and the notebook metadata every front end writes (`kernelspec`,
# `language_info`; Colab's `colab`)
_MARKS = re.compile(r'"(?:cell_type|nbformat|kernelspec|language_info|colab)"\s*:')


def sniff(path: Path, head: bytes) -> bool:
    """A JSON object whose first key is one of nbformat's and which names a Jupyter key in the
    head. Jupyter writes the keys sorted (`cells` first); Colab starts with `nbformat` and
    Kaggle with `metadata`, the cells coming after a metadata that can be larger than the head
    (widget states)."""
    file, _ = split_member(path)
    if not file.is_file():
        return False
    if not head:
        from phasewatch.io import read_head

        head = read_head(file)
    text = head.decode("utf-8-sig", errors="replace")
    if _START.match(text) is None:
        return False
    if _MARKS.search(text) is not None:
        return True
    if file.stat().st_size <= len(head):
        return False
    with open(file, "rb") as fh:  # a metadata of widget states before any Jupyter key
        more = fh.read(SNIFF_MORE_BYTES)
    return _MARKS.search(more.decode("utf-8", errors="replace")) is not None


def members(file: Path) -> list[str]:
    """The runs' numbers (`1`, `2`...) for a notebook of several runs (`folders.store_members`
    lists them as `nb.ipynb/1`...); [] when it cannot be read."""
    try:
        return [str(k) for k in range(1, len(read_book(file).runs) + 1)]
    except (InputError, OSError):
        return []


def holds_training(file: Path) -> bool:
    """Whether a notebook shows a training run (a folder's notebooks without one are not its
    logs: tutorials, data exploration)."""
    return bool(members(file))


def nothing_found(book: Book, path: Path) -> InputError:
    """The error for a notebook that shows no run: what was looked for, and where it stopped."""
    looked = ("phasewatch reads the Hugging Face / TRL Trainer's progress table (an HTML output "
              "whose first column is Step or Epoch, beside Training Loss), fastai's (epoch, "
              "train_loss, valid_loss...) and training logs a "
              f"cell printed ({', '.join(CONSOLE_READERS)} lines)")
    cells = f"{book.code_cells} code cells, {book.with_outputs} with outputs"
    if book.code_cells and not book.with_outputs:
        cells += "; the notebook was saved without outputs (cleared, or stripped by nbstripout)"
    single = ""
    if book.single_rows:
        where = ", ".join(str(n) for n in book.single_rows[:MAX_LISTED])
        single = (f"; cell{'s' if len(book.single_rows) > 1 else ''} {where} show"
                  f"{'' if len(book.single_rows) > 1 else 's'} a single log row (a printed "
                  "evaluation or the TrainOutput summary), not a curve")
    first = f"; first problem: {book.problems[0]}" if book.problems else ""
    return InputError(f"no training output in this notebook ({cells}): {looked}{single}{first}",
                      path)


def choose(book: Book, wanted: str | None, path: Path) -> tuple[int, BookRun]:
    """(number, run) of `nb.ipynb/N`, or of the notebook's only run; else InputError."""
    runs = book.runs
    if wanted is not None:
        if wanted.isdigit() and 1 <= int(wanted) <= len(runs):
            return int(wanted), runs[int(wanted) - 1]
        raise InputError(f"no run {wanted!r} in this notebook; its runs: {_listing(book, path)}",
                         path)
    if len(runs) == 1:
        return 1, runs[0]
    if not runs:
        raise nothing_found(book, path)
    raise InputError(f"this notebook shows {len(runs)} training runs; pass one as {path}/N: "
                     f"{_listing(book, path)}", path)


def _listing(book: Book, path: Path) -> str:
    return ", ".join(f"{path.name}/{k} (cell {run.cell}, {run.format})"
                     for k, run in enumerate(book.runs, 1)) or "none"


class Source(RecordSource):
    """One run of a notebook, read again whole when the file changes."""

    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        file, wanted = split_member(Path(path))
        super().__init__(file, source=path)
        self.follow = follow
        self.wanted = wanted
        self.info.name = file.stem if wanted is None else f"{file.stem}/{wanted}"
        self._stamp: tuple[int, int] | None = None
        self._seen: list[tuple] = []
        self._warned: set[str] = set()
        self._first = self._parse(strict=not follow)  # the format is the run's (a console's)

    def _parse(self, strict: bool) -> BookRun | None:
        try:
            st = self.path.stat()
            book = read_book(self.path)
            _, run = choose(book, self.wanted, self.path)
        except (InputError, OSError) as exc:
            if strict:
                if isinstance(exc, OSError):
                    raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from exc
                raise
            return None  # followed: not saved yet, caught mid-save, no run yet
        self._stamp = (st.st_mtime_ns, st.st_size)
        self.format = run.format
        for warning in [*book.problems, *run.warnings]:
            if warning not in self._warned:
                self._warned.add(warning)
                self.warnings.append(warning)
        return run

    def read(self, final: bool = True):
        run, self._first = self._first, None
        if run is None:
            try:
                st = self.path.stat()
            except OSError:
                st = None
            if st is not None and (st.st_mtime_ns, st.st_size) == self._stamp and not final:
                return
            run = self._parse(strict=final or not self.follow)
            if run is None:
                return
        self.info.config.update(run.config)
        self.info.step_unit = run.step_unit
        self.info.finished = run.finished
        self.info.printed_names.update(run.printed_names)
        if run.declared[0] is not None:
            self.info.performance_metric, self.info.direction = run.declared
        keys = [(r.step, r.group, dict(r.values)) for r in run.records]
        k = 0
        for old, new in zip(self._seen, keys):
            if old != new:
                break
            k += 1
        self._seen = keys
        yield from run.records[k:]

    def finish(self, collector: RecordCollector) -> None:
        if collector.n_records == 0:
            raise InputError("the notebook's run holds no values", self.source)


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
