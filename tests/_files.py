"""The one writer of a test's log file: the reader tests each put a few lines of a console log
into `tmp_path` and read them back, and each had its own copy of these three lines. Also the
notebook cell that printed such a log, and the read that checks which reader took it, which
each console reader's tests wrote again."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasewatch.io import read_run
from phasewatch.run import Run


def write(tmp_path: Path, text: str, name: str = "train.log") -> Path:
    """`text` as the file `name` in `tmp_path` (UTF-8), its path returned. Pass the name a
    reader sniffs by (`nohup.out`, mmengine's `<date>_<time>.log`) where the test needs it."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def notebook_cell(tmp_path: Path, command: str, printed: str, name: str = "run.ipynb",
                  on: str = "stdout") -> Path:
    """A saved notebook `name` in `tmp_path` of one code cell, `command`, that printed
    `printed` on the stream `on` (`stderr` for a logger's lines: `!./run.sh`, `!python ...`).
    Skips the test where nbformat, which writes it, is not installed."""
    pytest.importorskip("nbformat")
    from notebook_books import stream, write_book

    return write_book(tmp_path / name, [(command, [stream(printed, name=on)])])


def read_as(path: Path, format: str) -> Run:
    """The run `read_run` reads from `path`, checked to be read by the reader `format` (the
    sniffing the test relies on)."""
    run = read_run(path)
    assert run.format == format, f"{path.name} was read as {run.format}, not {format}"
    return run
