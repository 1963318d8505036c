"""LineSource: partial lines, truncation, rotation, disappearance, driven deterministically.

Each test scripts the writer's actions; the source calls `on_idle` whenever it has caught up,
which performs the next action (so no sleeps and no races), and the last action stops it.
"""

from __future__ import annotations

import itertools
import os
import threading

from phasewatch.follow import NEW_FILE, LineSource


def follow_with(path, actions, poll=0.001):
    """Run a following LineSource, doing the next action each time it catches up."""
    stop = threading.Event()
    notices: list[str] = []
    todo = list(actions)

    def on_idle():
        if todo:
            todo.pop(0)()
        else:
            stop.set()

    source = LineSource(path, follow=True, poll_interval=poll, stop=stop,
                        notice=notices.append, on_idle=on_idle)
    return list(source), notices


def append(path, data: str):
    def act():
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(data)
    return act


def test_replay_reads_every_line_and_an_unterminated_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("a\n\n  b  \r\nc", encoding="utf-8")
    assert list(LineSource(path)) == [(1, "a"), (3, "b"), (4, "c")]


def test_partial_lines_wait_for_their_newline(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1', encoding="utf-8")
    lines, notices = follow_with(path, [
        append(path, ', "x": 1}\n{"st'),
        append(path, 'ep": 2}'),
        append(path, "\n"),
    ])
    assert lines == [(1, '{"step": 1, "x": 1}'), (2, '{"step": 2}')]
    assert notices == []


def test_follow_and_replay_see_the_same_lines(tmp_path):
    text = "".join(f"line {i}\n" for i in range(1000))
    whole = tmp_path / "whole.txt"
    whole.write_text(text, encoding="utf-8")
    grown = tmp_path / "grown.txt"
    grown.write_text("", encoding="utf-8")
    cuts = [0, 7, 8, 333, 3000, 3001, len(text)]  # cut inside lines and at their ends
    actions = [append(grown, text[a:b]) for a, b in itertools.pairwise(cuts)]
    followed, _ = follow_with(grown, actions)
    assert followed == list(LineSource(whole))
    assert len(followed) == 1000


def test_truncation_restarts_from_the_top(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("step,acc\n1,0.5\n2,0.6\n", encoding="utf-8")

    def truncate_and_rewrite():
        with open(path, "w", encoding="utf-8") as fh:  # same inode, size 0, then new rows
            fh.write("step,acc\n")

    lines, notices = follow_with(path, [truncate_and_rewrite, append(path, "7,0.9\n")])
    assert lines == [(1, "step,acc"), (2, "1,0.5"), (3, "2,0.6"), NEW_FILE,
                     (1, "step,acc"), (2, "7,0.9")]
    assert len(notices) == 1 and "truncated" in notices[0]


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("old 1\n", encoding="utf-8")

    def rotate():
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("old 2\nold 3")  # written just before the rotation, last line unterminated
        os.rename(path, tmp_path / "metrics.jsonl.1")
        path.write_text("new 1\n", encoding="utf-8")

    lines, notices = follow_with(path, [rotate, append(path, "new 2\n")])
    assert lines == [(1, "old 1"), (2, "old 2"), (3, "old 3"), NEW_FILE,
                     (1, "new 1"), (2, "new 2")]
    assert len(notices) == 1 and "replaced" in notices[0]


def test_a_file_that_disappears_is_waited_for(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("a\n", encoding="utf-8")
    waits = []
    lines, notices = follow_with(path, [
        lambda: path.unlink(),
        lambda: waits.append(1),  # still gone: the source keeps waiting
        lambda: path.write_text("b\n", encoding="utf-8"),
    ])
    assert lines == [(1, "a"), NEW_FILE, (1, "b")]
    assert "disappeared" in notices[0] and "waiting" in notices[0]
    assert len([n for n in notices if "disappeared" in n]) == 1


def test_stop_ends_following_promptly(tmp_path):
    path = tmp_path / "log"
    path.write_text("a\n", encoding="utf-8")
    stop = threading.Event()
    source = LineSource(path, follow=True, poll_interval=30.0, stop=stop)
    out = []
    thread = threading.Thread(target=lambda: out.extend(source))
    thread.start()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and out == [(1, "a")]
