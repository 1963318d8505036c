"""Following a log while its writer writes it, for the `watch --follow` tests: a run's
held-out accuracy curve to write (`eval_curve`), a LiveWatch following a path in a thread
(`Follower`), a replay of the final file (`replay`), both at once around the holding of
records before a metric is chosen (`follows_a_held_choice`), and the check that both gave the same
alerts (`assert_same`)."""

from __future__ import annotations

import subprocess
import threading
import time

from test_watch import curve_records

from phasewatch.live import LiveWatch


def eval_curve(n=300, seed=0):
    """(step, held-out accuracy) of a run with a disruption, a readaptation and an overfit."""
    return [(r["step"], r["eval/accuracy"]) for r in curve_records(n, seed) if "eval/accuracy" in r]


class Follower:
    """A LiveWatch following `path` in a thread, collecting alerts and messages."""

    def __init__(self, path, **options):
        self.stop = threading.Event()
        self.messages: list[str] = []
        self.watch = LiveWatch(path, follow=True, poll=0.01, stop=self.stop,
                               notice=self.messages.append, info=self.messages.append, **options)
        self.alerts: list = []
        self.error: Exception | None = None  # what the watch raised (exit 2 / 3 in the CLI)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.alerts.extend(self.watch.alerts())
        except Exception as exc:  # noqa: BLE001 - kept for `ends_by_itself` to raise or return
            self.error = exc

    def wait_for_message(self, text, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for m in self.messages):
                return
            time.sleep(0.01)
        raise AssertionError(f"no message with {text!r}: {self.messages}")

    def ends_by_itself(self, timeout=20.0, raises: type[Exception] | None = None) -> list:
        """The alerts, once the watch has ended; what it raised is raised here, unless it is
        the `raises` expected (then it is in `error`)."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(5)
            raise AssertionError(f"the watch did not end by itself: {self.messages}")
        if self.error is not None and not (raises and isinstance(self.error, raises)):
            raise self.error
        if raises is not None and self.error is None:
            raise AssertionError(f"the watch raised no {raises.__name__}")
        return self.alerts


def let_writer_finish(writer: subprocess.Popen, timeout: float = 300) -> None:
    """Tell a tracker-writer subprocess (waiting for a line on stdin) to log its run, and wait
    for it to end cleanly; killed if it is still running when this fails."""
    try:
        writer.stdin.write("go\n")
        writer.stdin.close()
        assert writer.wait(timeout) == 0
    finally:
        if writer.poll() is None:
            writer.kill()


def write_in_pieces(path, text: str, size: int = 777) -> None:
    """Write `text` to `path` in pieces that cut lines anywhere, as a trainer's buffered writes
    do, while a follower reads it."""
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, len(text), size):
            fh.write(text[start:start + size])
            fh.flush()
            time.sleep(0.003)


def follow_while_written(path, text: str, size: int = 777) -> Follower:
    """Follow `path` from before it exists while `text` is written to it in pieces (lines cut
    anywhere) and assert the alerts are those a replay of the final file gives; the follower,
    for what its watch ended with."""
    follower = Follower(path, stop_on=(), idle_exit=1.0)
    follower.wait_for_message("does not exist yet")
    write_in_pieces(path, text, size)
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)
    return follower


def replay(path, **options):
    watch = LiveWatch(path, notice=lambda m: None, info=lambda m: None, **options)
    return list(watch.alerts()), watch.result


def follows_a_held_choice(path, lines: list[str], first: int):
    """Write `lines[:first]` to `path`, follow it until the watch says it holds the records
    (no metric to choose yet), append the rest; the followed alerts, and the alerts and result
    of a replay of the final file."""
    path.write_text("\n".join(lines[:first]) + "\n")
    follower = Follower(path, stop_on=(), idle_exit=1.5)
    follower.wait_for_message("holding them")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines[first:]) + "\n")
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=())
    return followed, replayed, result


def assert_same(followed, replayed):
    assert len(replayed) >= 2, replayed  # a run with phases: the comparison is not empty
    # where they part: a flaky follow (an idle exit on a loaded machine) is told from a changed
    # alert by the first pair that differs, not by two reprs of dozens of alerts
    apart = next((i for i, (a, b) in enumerate(zip(followed, replayed)) if a != b),
                 min(len(followed), len(replayed)))
    assert followed == replayed, (
        f"{len(followed)} followed, {len(replayed)} replayed alerts; the first apart (#{apart}): "
        f"followed {followed[apart:apart + 1]}, replayed {replayed[apart:apart + 1]}")
