"""The lanes of the summary pass: one in this process, or one per worker process.

Why worker processes rather than threads: a thread pool of pread + bincount reached only ~1.5x
the CPU of one thread on 2 cores (1.03 GB/s), since each window still needs some Python (with
the GIL) between the numpy calls; two processes share nothing and use both cores.

Why `subprocess` and frames (`frames`) rather than `multiprocessing`: nothing is pickled (the
project never unpickles anything derived from a log), the user's `__main__` is never re-imported
(spawn/forkserver would run a script without a main guard again) and no process with threads is
forked. Workers run `python -c BOOT`, which puts the parent's copy of phasewatch first on the
path and imports the worker; the packages' `__init__` import their names lazily, so a worker
loads only numpy and the light modules it uses (pandas would cost +0.25 s and +45 MB each).

Flow: each worker gets its lane's spec, then writes one frame per step (sparse histograms) into
its stdout pipe (enlarged to 1 MB when allowed) and blocks while the parent has not read it, so
it runs at most about one step ahead: memory stays flat. The parent reads the lanes in order, so
the first error it meets is the one the in-process lane would have met first.

Failure: a worker that dies is seen as the end of its stream: `WorkerError` with its exit status
and the end of its stderr (kept in a temporary file, never a pipe that could fill up). `close()`
kills the workers (early close of the stream, an error, Ctrl-C: workers ignore SIGINT and leave
it to the parent). A parent killed outright leaves its workers blocked on a pipe nobody reads:
their next write fails (EPIPE) and they exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import phasewatch
from phasewatch.errors import InputError, PhasewatchError
from phasewatch.tokens.frames import FrameError, read_frame, write_frame
from phasewatch.tokens.lane import InvalidValue, Lane, LaneSpec
from phasewatch.tokens.lane_worker import spec_frame
from phasewatch.tokens.stats import N_SLOTS

#: Run in the worker: ignore Ctrl-C (the parent ends its workers); import phasewatch from where
#: the parent's came from, not from the current directory (which `-c` puts first on the path).
BOOT = """\
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.path[0] = sys.argv[1]
from phasewatch.tokens.lane_worker import main
sys.exit(main())
"""
#: Worker environment: no BLAS threads (workers do no linear algebra), and glibc malloc keeps
#: freed memory instead of returning it to the OS: each window allocates the same few 512 KB
#: histograms, which the default trimming handed back and faulted in again (measured: 70,000
#: page faults and ~13% of a worker's CPU on the interleaved benchmark store). Memory stays flat:
#: the heap only holds the largest set of arrays a window needs.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MALLOC_MMAP_THRESHOLD_": str(1 << 28), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
PIPE_BYTES = 1 << 20
STDERR_TAIL = 2000


class WorkerError(PhasewatchError):
    """A worker process of the summary pass failed (died, or broke the protocol)."""


class InProcessLanes:
    """One lane holding every window, run in this process."""

    def __init__(self, spec: LaneSpec):
        self.lane = Lane(spec)

    def count_step(self, position: int, out: np.ndarray) -> np.ndarray | None:
        return self.lane.count_step(position, out)

    def finish(self) -> list[int]:
        return []

    def close(self) -> None:
        pass


class WorkerLanes:
    """One worker process per lane; `count_step` sums the lanes' replies for one step."""

    def __init__(self, specs: list[LaneSpec]):
        self.procs: list[subprocess.Popen] = []
        self.stderr: list = []  # a temporary file per worker
        self.files = contextlib.ExitStack()
        try:
            for _ in specs:
                self._start()
            for proc, spec in zip(self.procs, specs):
                with contextlib.suppress(BrokenPipeError):  # it died at start: reported when read
                    write_frame(proc.stdin, *spec_frame(spec))
                    proc.stdin.close()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        stderr = self.files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (lives with the worker)
        self.stderr.append(stderr)
        env = {**os.environ, **WORKER_ENV}
        proc = subprocess.Popen(
            [sys.executable, "-c", BOOT, str(Path(phasewatch.__file__).parent.parent)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, close_fds=True,
        )
        self.procs.append(proc)
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux
            with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep 64 KB
                fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def count_step(self, position: int, out: np.ndarray) -> np.ndarray | None:
        """Add every lane's histograms of the step at `position` into `out`; the newly learned
        tokens per slot (None when not tracked). Raises the first lane's error."""
        newly = None
        for lane in range(len(self.procs)):
            header, arrays = self._reply(lane)
            kind = header.get("type")
            if kind == "invalid":
                raise InvalidValue.from_dict(header)
            if kind == "input_error":
                raise InputError(str(header["message"]), header.get("path"))
            if kind != "step" or header.get("position") != position:
                raise self._broken(lane, f"sent {kind!r} for step position {header.get('position')}, "
                                         f"expected step position {position}")
            slots = header["slots"]
            if len(arrays) != 2 * len(slots) or not all(0 <= s < N_SLOTS for s in slots):
                raise self._broken(lane, "sent a malformed step")
            for slot, keys, counts in zip(slots, arrays[0::2], arrays[1::2]):
                if keys.dtype != np.uint16 or keys.size != counts.size:
                    raise self._broken(lane, "sent a malformed step")
                out[slot, keys] += counts
            if header["newly"] is not None:
                lane_newly = np.asarray(header["newly"], dtype=np.int64)
                newly = lane_newly if newly is None else newly + lane_newly
        return newly

    def finish(self) -> list[int]:
        """After the last step: each worker's peak RSS (KB), once all have ended cleanly."""
        peaks = []
        for lane, proc in enumerate(self.procs):
            header, _ = self._reply(lane)
            if header.get("type") != "done":
                raise self._broken(lane, f"sent {header.get('type')!r} after the last step")
            peaks.append(int(header.get("peak_rss_kb", 0)))
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise self._broken(lane, "did not exit after its last step") from None
        return peaks

    def close(self) -> None:
        """End every worker (at once: a finished one has already exited) and free its pipes."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):  # a spec never sent to a dead worker
                    stream.close()
        self.files.close()
        self.procs, self.stderr = [], []

    def _reply(self, lane: int) -> tuple[dict, list[np.ndarray]]:
        try:
            got = read_frame(self.procs[lane].stdout)
        except FrameError as exc:
            raise self._broken(lane, str(exc)) from None
        if got is None:
            raise self._broken(lane, "ended before its work was done")
        return got

    def _broken(self, lane: int, what: str) -> WorkerError:
        proc = self.procs[lane]
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        try:
            status = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        except ValueError:
            status = f"killed by signal {-code}"
        stderr = self.stderr[lane]
        stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - STDERR_TAIL))
        tail = stderr.read().decode(errors="replace").strip()
        return WorkerError(
            f"token summary worker {lane} (pid {proc.pid}) {what} ({status})"
            + (f"; its last output:\n{tail}" if tail else "")
        )
