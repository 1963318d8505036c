"""LineTail against every rotation and truncation pattern of issue 18: what a follower reads
must equal a replay of the final files, oldest first (nothing lost, nothing read twice).

Each test scripts the writer between the follower's reads (`poll`), so the races are exact:
two rotations between two polls, a truncate followed by a bigger write before the next poll,
a writer that keeps writing to the rotated file. The rotate-wait clock is the tail's own
`clock` parameter, advanced by hand, so no test sleeps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from line_follower import Follower, copytruncate, lines, replay, write

from phasewatch.follow import NEW_FILE


def test_two_rename_rotations_between_polls_read_the_file_in_between(tmp_path):
    log = tmp_path / "train.log"
    write(log, lines(0, 10))
    f = Follower(log, rotate_wait=0).poll()
    write(log, lines(10, 12))  # unread tail of the first file
    os.rename(log, tmp_path / "train.log.1")
    write(log, lines(12, 30))  # a whole file the follower never sees at the path
    os.rename(tmp_path / "train.log.1", tmp_path / "train.log.2")
    os.rename(log, tmp_path / "train.log.1")
    write(log, lines(30, 35))
    f.poll()
    assert f.lines == replay(tmp_path / "train.log.2", tmp_path / "train.log.1", log)
    assert sum(1 for line in f.lines if line != NEW_FILE) == 35


def test_dated_rotations_and_old_rotations_left_alone(tmp_path):
    log = tmp_path / "metrics.jsonl"
    write(tmp_path / "metrics.jsonl-20240101", lines(900, 905, "old"))  # before we started
    write(log, lines(0, 5))
    f = Follower(log, rotate_wait=0).poll()
    os.rename(log, tmp_path / "metrics.jsonl-20240102")
    write(log, lines(5, 9))
    os.rename(log, tmp_path / "metrics.jsonl-20240103")
    write(log, lines(9, 12))
    f.poll()
    assert f.lines == replay(tmp_path / "metrics.jsonl-20240102",
                             tmp_path / "metrics.jsonl-20240103", log)


def test_copytruncate_race_truncate_then_bigger_write_before_the_next_poll(tmp_path):
    log = tmp_path / "train.log"
    write(log, lines(0, 20))
    f = Follower(log).poll()
    write(log, lines(20, 25))  # written after the poll, before the copy
    copytruncate(log, tmp_path / "train.log.1")
    write(log, lines(25, 80))  # bigger than what was read: the size alone looks like growth
    assert log.stat().st_size > 20 * 20
    f.poll()
    assert f.lines == replay(tmp_path / "train.log.1", log)
    assert any("truncated" in n and "train.log.1" in n for n in f.notices)
    write(log, lines(80, 82))
    f.poll()
    assert f.lines == replay(tmp_path / "train.log.1", log)


def test_copytruncate_of_lines_never_read_reads_the_copy(tmp_path):
    log = tmp_path / "train.log"
    write(log, lines(0, 5))
    f = Follower(log).poll()
    with open(log, "r+", encoding="utf-8") as fh:
        fh.truncate(0)  # a first copytruncate without a copy: lines 0-4 were read
    f.poll()
    write(log, lines(5, 9))  # written and copied away before the follower looks again
    copytruncate(log, tmp_path / "train.log.1")
    write(log, lines(9, 12))
    f.poll()
    read = [text for _, text in f.lines if text is not None]
    assert read == lines(0, 12).splitlines()  # 5-8 from the copy, in order, none twice


def test_truncate_and_rewrite_without_a_copy_restarts_at_the_top(tmp_path):
    log = tmp_path / "log.csv"
    write(log, "step,acc\n" + "".join(f"{i},0.{i}\n" for i in range(1, 9)))
    f = Follower(log).poll()
    write(log, "step,acc\n" + "".join(f"{i},0.{i}\n" for i in range(100, 130)), mode="w")
    f.poll()
    first = f.lines.index(NEW_FILE)
    assert f.lines[first + 1:] == replay(log)
    assert f.lines.count(NEW_FILE) == 1


def test_rewrite_with_the_same_size_is_noticed_by_content(tmp_path):
    log = tmp_path / "log.jsonl"
    write(log, lines(0, 10))
    f = Follower(log).poll()
    size = log.stat().st_size
    text = lines(50, 60)  # same length as lines(0, 10)? make it exactly the size
    text = (text * 2)[:size - 1] + "\n"
    write(log, text, mode="w")
    assert log.stat().st_size == size
    f.poll()
    assert NEW_FILE in f.lines


def test_create_rotation_while_the_writer_still_holds_the_old_file(tmp_path):
    log = tmp_path / "train.log"
    writer = open(log, "a", encoding="utf-8")  # noqa: SIM115 - the trainer's handle
    writer.write(lines(0, 10))
    writer.flush()
    f = Follower(log, rotate_wait=5.0).poll()
    os.rename(log, tmp_path / "train.log.1")  # logrotate `create`: new empty file at the path
    write(log, "")
    writer.write(lines(10, 20))  # still lands in the rotated file
    writer.flush()
    f.poll()
    f.now += 3.0
    writer.write(lines(20, 25))
    writer.flush()
    f.poll()
    f.now += 4.0  # 4 s since the last growth: still within rotate_wait
    f.poll()
    assert NEW_FILE not in f.lines
    writer.close()  # the trainer reopens its log (SIGHUP)
    writer = open(log, "a", encoding="utf-8")  # noqa: SIM115
    writer.write(lines(25, 40))
    writer.flush()
    f.now += 2.0  # quiet for 6 s: move on
    f.poll()
    writer.close()
    assert f.lines == replay(tmp_path / "train.log.1", log)
    assert sum(1 for line in f.lines if line != NEW_FILE) == 40


def test_final_read_does_not_wait_for_the_rotated_file(tmp_path):
    log = tmp_path / "train.log"
    write(log, lines(0, 3))
    f = Follower(log, rotate_wait=60.0).poll()
    os.rename(log, tmp_path / "train.log.1")
    write(log, "")  # logrotate `create`: the writer has not reopened yet
    f.poll()
    assert NEW_FILE not in f.lines  # the old file may still get lines
    f.poll(final=True)
    assert f.lines == replay(tmp_path / "train.log.1", log) and NEW_FILE in f.lines


def test_new_file_with_data_and_a_quiet_old_one_switches_without_waiting(tmp_path):
    log = tmp_path / "train.log"
    write(log, lines(0, 3))
    f = Follower(log, rotate_wait=60.0).poll()
    os.rename(log, tmp_path / "train.log.1")
    write(log, lines(3, 6))  # the writer has moved on
    f.poll()
    assert f.lines == replay(tmp_path / "train.log.1", log)


def test_sighup_ends_watch_follow_with_its_summary(tmp_path):
    """A closed terminal (SIGHUP) ends `watch --follow` like Ctrl-C: summary printed, exit 0."""
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": i, "eval/accuracy": 0.5 + 0.001 * (i % 3)}) + "\n"
                           for i in range(20)))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "phasewatch", "watch", str(log), "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": repo})
    first = proc.stderr.readline()  # "following ... (caught up ...)": handlers are installed
    assert "caught up" in first, first
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "phasewatch: watched 20 records" in err


# ------------------------------------------------------------------ property: follow == replay
PIECES = st.lists(st.sampled_from(["a", "b1", "é", " ", "\n", "\r\n", "\r", "{\"x\": 1}",
                                   "\n\n"]), min_size=1, max_size=12).map("".join)
OPS = st.lists(st.one_of(st.tuples(st.just("append"), PIECES), st.just(("poll",)),
                         st.just(("rotate",)), st.just(("copytruncate",))), max_size=25)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_follow_equals_replay_of_the_final_files(tmp_path_factory, ops):
    """Any sequence of writes (split anywhere, any line ends), polls, rename rotations and
    copytruncates: the follower's lines equal a replay of the final files, oldest first.
    Limit of the property, as of the follower: one rotation between two polls (the order of
    several rotated files comes from their mtimes, which a fast test can make equal)."""
    folder = tmp_path_factory.mktemp("follow")
    log = folder / "train.log"
    write(log, "")
    f = Follower(log, rotate_wait=0).poll()  # following starts: rotated files before are history
    finals = []  # rotated files, in the order the writer produced them
    k = 0
    unpolled_rotation = False
    for op in ops:
        if op[0] == "append":
            write(log, op[1])
        elif op[0] == "poll":
            f.poll()
            unpolled_rotation = False
        elif op[0] == "rotate" and not unpolled_rotation:
            k += 1
            os.rename(log, folder / f"train.log.{k}")
            finals.append(folder / f"train.log.{k}")
            write(log, "")
            unpolled_rotation = True
        elif op[0] == "copytruncate" and not unpolled_rotation:
            k += 1
            shutil.copyfile(log, folder / f"train.log.{k}")
            finals.append(folder / f"train.log.{k}")
            with open(log, "r+", encoding="utf-8") as fh:
                fh.truncate(0)
            f.poll()  # as after a rotation: the copy is found at the next poll
    f.poll(final=True)
    expected = replay(*finals, log)
    got = f.lines
    # A file that never held a line adds only its NEW_FILE marker: compare the lines, and the
    # markers only where both sides have lines around them.
    assert [x for x in got if x != NEW_FILE] == [x for x in expected if x != NEW_FILE]


def test_watch_follow_across_rotations_alerts_as_a_replay_of_the_final_files(tmp_path):
    """End to end through the live monitor: two rename rotations within one poll and a
    copytruncate while `watch --follow` reads; its alerts equal those of a replay of the final
    files concatenated in order."""
    import threading
    import time

    from phasewatch.live import LiveWatch

    log = tmp_path / "metrics.jsonl"
    rows = [json.dumps({"step": i, "eval/accuracy": 0.5 + (0.2 if i >= 60 else 0.0)
                        + 0.002 * (i % 3)}) + "\n" for i in range(120)]
    write(log, "".join(rows[:20]))

    def writer():
        for i in range(20, 120):
            if 41 <= i < 44:
                continue  # written into the second file below
            time.sleep(0.005)
            write(log, rows[i])
            if i == 40:  # two rotations, faster than a poll
                os.rename(log, tmp_path / "metrics.jsonl.1")
                write(log, "".join(rows[41:44]))
                os.rename(log, tmp_path / "metrics.jsonl.2")
                write(log, "")
            if i == 90:
                copytruncate(log, tmp_path / "metrics.jsonl.3")

    thread = threading.Thread(target=writer)

    def start_writing(message):  # once the follower has caught up: it is following now
        if "caught up" in message and not thread.is_alive():
            thread.start()

    live = LiveWatch(log, follow=True, poll=0.05, idle_exit=2.0, notice=lambda m: None,
                     info=start_writing)
    followed = [(a.event, a.step) for a in live.alerts()]
    thread.join()
    whole = tmp_path / "whole.jsonl"
    parts = [tmp_path / f"metrics.jsonl.{k}" for k in (1, 2, 3)] + [log]
    whole.write_text("".join(p.read_text() for p in parts))
    assert sorted(json.loads(x)["step"] for x in whole.read_text().splitlines()) == list(range(120))
    replayed = [(a.event, a.step) for a in LiveWatch(whole, notice=lambda m: None,
                                                       info=lambda m: None).alerts()]
    assert followed == replayed
    assert live.result.n_records == 120


def test_copytruncate_of_the_new_file_while_a_rotated_file_is_read(tmp_path):
    """The follower notices a rename rotation late and reads the rotated file in between;
    while its lines are being used (a monitor can take a while), the writer copytruncates the
    new file. The copy, made before the new file was opened, holds its first lines: they are
    read, not lost (CI saw watch's alerts move 30 steps when the copy was skipped)."""
    log = tmp_path / "train.log"
    write(log, lines(0, 10))
    f = Follower(log).poll()
    os.rename(log, tmp_path / "train.log.1")
    write(log, lines(10, 13))
    os.rename(log, tmp_path / "train.log.2")
    write(log, lines(13, 20))

    def writer_moves_on():
        write(log, lines(20, 30))
        copytruncate(log, tmp_path / "train.log.3")
        write(log, lines(30, 35))

    assert steps_read_while(f, 10, writer_moves_on) == list(range(35))


def test_a_second_copytruncate_while_the_first_copy_is_read(tmp_path):
    """A truncation is noticed and the end of its copy read; while those lines are used, the
    writer logs more and copytruncates again. The second copy holds the lines written between
    the two truncations: read, not lost."""
    log = tmp_path / "train.log"
    write(log, lines(0, 10))
    f = Follower(log).poll()
    write(log, lines(10, 20))
    copytruncate(log, tmp_path / "train.log.1")
    write(log, lines(20, 25))

    def writer_moves_on():
        write(log, lines(25, 30))
        copytruncate(log, tmp_path / "train.log.2")
        write(log, lines(30, 33))

    assert steps_read_while(f, 10, writer_moves_on) == list(range(33))


def steps_read_while(f, step, writer):
    """The steps a follower reads when `writer` acts while the line of `step` is being used
    (between two lines of one read), then at a final read."""
    for line in f.tail.read():
        f.lines.append(line)
        if line[1] is not None and json.loads(line[1])["step"] == step:
            writer()
    f.poll(final=True)
    return [json.loads(text)["step"] for _, text in f.lines if text is not None]
