"""A JSON-lines file read in blocks of whole lines (the bulk path, `fastjson`, parses each block).

Reading in blocks keeps only one block's parsed lines alive at a time instead of the whole
file's. A block is one read and the rest of its last line, read on to the next newline, so every
line is whole and the read itself is never copied (cutting it at its last newline and carrying
the cut line over copied every block twice: ~25 ms and 6,000 page faults on a 23 MB log).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from phasewatch.errors import InputError
from phasewatch.files import BOM, open_regular

_LONE_CR = re.compile(rb"\r(?!\n)")

#: Read size: peak memory is the table plus about one block's parsed lines (~8x the block as
#: Python objects). 4 MB blocks peaked 120 MB lower than 32 MB ones on a 200 MB log and were
#: no slower (the per-block work is per key set, not per line); 1 MB blocks took 16,000 fewer
#: page faults than 4 MB ones on a 23 MB log (a block's parsed lines fit in the memory the
#: block before freed, rather than in memory handed back to the system and faulted in again),
#: 0.03-0.06 s of a 0.4 s read, for 1.5% more instructions.
BLOCK_BYTES = 2**20


class Block(NamedTuple):
    """Whole lines of a file: `data[:end]`, then `rest` (`data[end:]`, the start of the last
    line, with the bytes that followed it up to and including its newline)."""

    data: bytes
    end: int
    rest: bytes

    def lines(self) -> list[bytes]:
        """`(data[:end] + rest).splitlines()`, without that copy: `data[:end]` ends with a
        newline, so its lines are those of `data` less those of `data[end:]`."""
        lines = self.data.splitlines()
        if self.end < len(self.data):
            del lines[len(lines) - len(self.data[self.end:].splitlines()):]
        if self.rest:
            lines += self.rest.splitlines()
        return lines

    def isascii(self) -> bool:
        return self.data.isascii() and self.rest.isascii()


def blocks(path: Path, block_bytes: int):
    """The file as `Block`s of about `block_bytes` (a line longer than a block stays whole),
    the BOM removed."""
    try:
        with open_regular(path) as fh:  # a FIFO is refused, never waited on
            yield from _cut_blocks(fh, path, block_bytes)
    except FileNotFoundError as exc:  # gone since it was sniffed
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc


def _cut_blocks(fh, path: Path, block_bytes: int):
    """`blocks` of an open file."""
    size = max(block_bytes, len(BOM))  # the first read holds a whole BOM
    first = True
    while True:
        try:
            chunk = fh.read(size)
            if not chunk:
                break
            if first:
                chunk, first = chunk.removeprefix(BOM), False
            end = chunk.rfind(b"\n") + 1
            # the last line's start, and its end (a lone \r ends a line, but a \r\n must not
            # be split: reading on to a \n keeps both in `rest`)
            rest = chunk[end:] + fh.readline() if end < len(chunk) else b""
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc
        yield Block(chunk, end, rest)


def nonblank_lines(block: Block, first_lineno: int = 1) -> tuple[Sequence[int], list[bytes], int]:
    """Line numbers and stripped bytes of the non-blank lines of `block`, as
    `jsonlines.iter_lines` (which splits decoded text at the same \\n, \\r, \\r\\n and numbers
    it by the newlines) would give them, and how many numbered lines it holds. The numbers are
    a `range` when no line is blank (the usual block: no int object per line)."""
    stripped = list(map(bytes.strip, block.lines()))
    count = len(stripped)
    if (b"\r" in block.data or b"\r" in block.rest) and (  # memchr first: most logs have none
            _LONE_CR.search(block.data, 0, block.end) or _LONE_CR.search(block.rest)):
        # a \r that ends no \r\n splits a line the newlines do not (tqdm's redraws): the
        # lines are numbered by the newlines; a CRLF log's lines are its newlines already
        numbers = _newline_numbers(block, first_lineno)
        count = numbers[-1] - first_lineno + 1 if numbers else 0
    elif block.isascii() and all(stripped):
        return range(first_lineno, first_lineno + count), stripped, count
    else:
        numbers = range(first_lineno, first_lineno + count)
    linenos, lines = [], []
    for lineno, line in zip(numbers, stripped):
        if not line:
            continue
        if not line.isascii() and not line.decode("utf-8", errors="replace").strip():
            continue  # only Unicode whitespace: blank for the text path too
        linenos.append(lineno)
        lines.append(line)
    return linenos, lines, count


def _newline_numbers(block: Block, first_lineno: int) -> list[int]:
    """The number of each of `block.lines()`, counted by newlines: the pieces a lone \\r ends
    (a progress bar redrawn in place) share the number of the line they are on."""
    numbers, lineno = [], first_lineno
    for line in (block.data[:block.end] + block.rest).splitlines(keepends=True):
        numbers.append(lineno)
        lineno += line.endswith(b"\n")
    return numbers
