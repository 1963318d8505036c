"""LineTail's lines: a line longer than the cap is skipped with a warning and the numbering
goes on, a long line arriving in pieces is joined once, line ends split across reads split as
Python's universal newlines do, and lines are numbered by the file's newlines."""

from __future__ import annotations

import pytest
from line_follower import Follower, lines, write

from phasewatch.follow import LineTail


def test_a_long_line_is_skipped_with_a_warning_and_numbering_goes_on(tmp_path):
    log = tmp_path / "log.jsonl"
    write(log, lines(0, 2) + '{"step": 2, "x": "' + "y" * 300_000 + '"}\n' + lines(3, 5))
    f = Follower(log, max_line=100_000).poll()
    assert [n for n, _ in f.lines] == [1, 2, 4, 5]
    assert f.tail.too_long == [3]
    assert len(f.notices) == 1 and "log.jsonl:3: line longer than" in f.notices[0]


@pytest.mark.parametrize("length", [100_001, 120_000, 200_000])
def test_a_line_just_over_the_cap_is_skipped_whichever_piece_tips_it(tmp_path, length):
    """The cap holds for the whole line, also when its last piece (the one with the newline)
    is what takes it over, not only when the unfinished part alone grows past it."""
    log = tmp_path / "log.jsonl"
    record = '{"step": 2, "x": "' + "y" * (length - 20) + '"}'
    write(log, lines(0, 2) + record + "\n" + lines(3, 5))
    f = Follower(log, max_line=100_000).poll()
    assert len(record) == length
    assert [n for n, _ in f.lines] == [1, 2, 4, 5]
    assert f.tail.too_long == [3]
    assert len(f.notices) == 1 and "log.jsonl:3: line longer than" in f.notices[0]


def test_a_line_at_the_cap_is_kept(tmp_path):
    log = tmp_path / "log.jsonl"
    record = '{"step": 2, "x": "' + "y" * (100_000 - 20) + '"}'
    write(log, lines(0, 2) + record + "\n")
    f = Follower(log, max_line=100_000).poll()
    assert f.lines[-1] == (3, record) and f.tail.too_long == []


def test_a_long_line_arriving_in_pieces_is_joined_once(tmp_path):
    log = tmp_path / "log.jsonl"
    record = '{"step": 1, "x": "' + "z" * 3_000_000 + '"}'
    f = Follower(log)
    write(log, "")
    for start in range(0, len(record), 700_000):
        write(log, record[start:start + 700_000])
        f.poll()
    write(log, "\n")
    f.poll()
    assert f.lines == [(1, record)]


def test_cr_line_ends_split_across_reads_split_like_universal_newlines_numbered_by_newlines(
        tmp_path):
    """A lone \\r ends a piece, as universal newlines split, but the pieces are numbered by the
    file's newlines, as `sed -n` and an editor number its lines (trial 40b: a record on line 58
    of an HF console log, after tqdm's \\r redraws, was said to be on "line 1026")."""
    from phasewatch.io.jsonlines import iter_lines

    log = tmp_path / "log.txt"
    text = "a\r\nb\rc\r\r\nd\n\re"
    write(log, "")
    f = Follower(log)
    for ch in text:
        write(log, ch)
        f.poll()
    f.poll(final=True)
    pieces, at = [], 0
    for piece in text.splitlines(keepends=True):  # each piece on the line its start is on
        if piece.strip():
            pieces.append((text[:at].count("\n") + 1, piece.strip()))
        at += len(piece)
    assert pieces == [(1, "a"), (2, "b"), (2, "c"), (3, "d"), (4, "e")]
    assert f.lines == pieces == list(iter_lines(log))
    assert f.tail.unterminated == 4


def test_a_terminated_file_has_no_unterminated_line(tmp_path):
    log = tmp_path / "log.txt"
    write(log, "a\nb\r")
    tail = LineTail(log)
    assert list(tail.read(final=True)) == [(1, "a"), (2, "b")]
    assert tail.unterminated is None


def test_a_long_line_arriving_in_small_pieces_is_joined_once():
    """A 32 MB line in 64 KB reads: joining `pending + piece` at each read copies ~8 GB (seconds
    of CPU); kept as pieces and joined once it is ~32 MB of copying (tens of ms)."""
    import time
    from pathlib import Path

    from phasewatch.line_split import LineSplitter

    piece = b"x" * (64 << 10)
    splitter = LineSplitter(Path("log.jsonl"), notice=lambda _: None, too_long=[], max_line=1 << 30)
    start = time.process_time()
    for _ in range(512):
        assert list(splitter.feed(piece)) == []
    lines = list(splitter.feed(b"\n"))
    cpu = time.process_time() - start
    assert [(n, len(text)) for n, text in lines] == [(1, 512 * len(piece))]
    assert cpu < 1.0, f"{cpu:.2f} CPU-s to read one 32 MB line: quadratic joining?"


@pytest.mark.parametrize("block_bytes", [1, 7, 1 << 20])
def test_the_bulk_reader_numbers_lines_by_newlines_too(tmp_path, block_bytes):
    """The JSON-lines bulk path (`blocks.nonblank_lines`) numbers as `iter_lines` and the
    tail do: a lone \\r splits, only a newline starts the next line."""
    from phasewatch.io.blocks import blocks, nonblank_lines
    from phasewatch.io.jsonlines import iter_lines

    log = tmp_path / "log.jsonl"
    log.write_bytes(b'{"a": 1}\r{"a": 2}\r\n\r\n{"a": 3}\r \r{"a": 4}\n{"a": 5}')
    found, first = [], 1
    for block in blocks(log, block_bytes):
        linenos, texts, count = nonblank_lines(block, first)
        found += [(n, t.decode()) for n, t in zip(linenos, texts)]
        first += count
    assert found == list(iter_lines(log)) == list(LineTail(log).read(final=True)) == [
        (1, '{"a": 1}'), (1, '{"a": 2}'), (3, '{"a": 3}'), (3, '{"a": 4}'), (4, '{"a": 5}')]
