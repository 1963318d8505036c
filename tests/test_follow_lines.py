"""LineTail's lines: a line longer than the cap is skipped with a warning and the numbering
goes on, a long line arriving in pieces is joined once, line ends split across reads count as
Python's universal newlines do."""

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


def test_cr_line_ends_split_across_reads_count_like_universal_newlines(tmp_path):
    log = tmp_path / "log.txt"
    text = "a\r\nb\rc\r\r\nd\n\re"
    write(log, "")
    f = Follower(log)
    for ch in text:
        write(log, ch)
        f.poll()
    f.poll(final=True)
    expected = [(n, t.strip()) for n, t in enumerate(text.splitlines(), 1) if t.strip()]
    assert f.lines == expected
    assert f.tail.unterminated == len(text.splitlines())


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
