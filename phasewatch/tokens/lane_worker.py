"""A worker process of the summary pass: runs one lane over every step, replies in frames.

Started by `lane_pool` (never imported by the parent's pass otherwise). Reads one frame on stdin,
the lane's spec (`spec_frame`), then writes to stdout, for each step in order, either

    {"type": "step", "position", "slots": [slot, ...], "newly": [n per slot] | null}
        arrays: per listed slot, its nonzero keys (uint16) and their counts (uint32, or int64
        when a count could exceed 2^32): a sparse histogram, a few hundred KB at most;

or, and then it stops, `{"type": "invalid", position, token, value, ...}` (a bad log-prob: see
`lane.InvalidValue`) or `{"type": "input_error", "message", "path"}` (an unreadable file); after
the last step `{"type": "done", "peak_rss_kb"}`. Anything unexpected ends the process with a
traceback on stderr, which the parent reports.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

import numpy as np

from phasewatch.errors import InputError
from phasewatch.tokens.frames import read_frame, write_frame
from phasewatch.tokens.keys import N_KEYS
from phasewatch.tokens.lane import InvalidValue, Lane, LaneSpec
from phasewatch.tokens.stats import N_SLOTS

#: A spec names every step file; allow a long list of them.
MAX_SPEC_HEADER = 1 << 30


def spec_frame(spec: LaneSpec) -> tuple[dict, list[np.ndarray]]:
    """The frame (header, arrays) that sends `spec` to a worker."""
    header = {"type": "spec", "files": [[str(p), int(o)] for p, o in spec.files], "dtype": spec.dtype,
              "n_tokens": spec.n_tokens, "start": spec.start, "stop": spec.stop,
              "window_tokens": spec.window_tokens, "learned_p": spec.learned_p}
    return header, [np.ascontiguousarray(spec.segments, dtype=np.int64).ravel()]


def spec_from_frame(header: dict, arrays: list[np.ndarray]) -> LaneSpec:
    return LaneSpec(files=[(str(p), int(o)) for p, o in header["files"]], dtype=str(header["dtype"]),
                    n_tokens=int(header["n_tokens"]), start=int(header["start"]), stop=int(header["stop"]),
                    window_tokens=int(header["window_tokens"]), segments=arrays[0].reshape(-1, 3),
                    learned_p=None if header["learned_p"] is None else float(header["learned_p"]))


def step_frame(position: int, hist: np.ndarray, newly: np.ndarray | None) -> tuple[dict, list[np.ndarray]]:
    """A step's histograms (N_SLOTS x N_KEYS) as sparse (keys, counts) per nonzero slot."""
    slots, arrays = [], []
    count_dtype = np.uint32 if hist.sum() < 1 << 32 else np.int64
    for slot in range(hist.shape[0]):
        keys = np.flatnonzero(hist[slot])
        if keys.size:
            slots.append(slot)
            arrays += [keys.astype(np.uint16), hist[slot, keys].astype(count_dtype)]
    header = {"type": "step", "position": position, "slots": slots,
              "newly": None if newly is None else newly.tolist()}
    return header, arrays


def peak_rss_kb() -> int:
    """This process's peak resident memory (VmHWM), in KB; 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def serve(spec_in: BinaryIO, out: BinaryIO) -> int:
    got = read_frame(spec_in, max_header=MAX_SPEC_HEADER)
    if got is None:
        return 1  # the parent went away before sending the spec
    spec = spec_from_frame(*got)
    lane = Lane(spec)
    hist = np.zeros((N_SLOTS, N_KEYS), dtype=np.int64)
    for position in range(len(spec.files)):
        hist[:] = 0
        try:
            newly = lane.count_step(position, hist)
        except InvalidValue as bad:
            write_frame(out, {"type": "invalid", **bad.to_dict()})
            return 0
        except InputError as exc:
            write_frame(out, {"type": "input_error", "message": exc.message, "path": exc.path})
            return 0
        write_frame(out, *step_frame(position, hist, newly))
    write_frame(out, {"type": "done", "peak_rss_kb": peak_rss_kb()})
    return 0


def main() -> int:
    # Frames go to a private copy of stdout; fd 1 becomes stderr, so a stray print (a library's
    # warning) can never corrupt the protocol.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    with open(0, "rb", closefd=False) as spec_in, out:
        return serve(spec_in, out)


if __name__ == "__main__":
    sys.exit(main())
