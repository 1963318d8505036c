"""Cost of checking TFRecord checksums when reading a large TensorBoard event file.

Writes an event file of `--events` scalar events (three tags each, as a trainer logs loss,
learning rate and grad norm) and times `read_run` on it three ways, best of `--repeat`:
- both checksums (length and data) with google-crc32c: what the reader does now;
- the length checksum only, with tensorboard's pure-Python CRC: what it did before;
- no checksum at all: the floor (protobuf decoding and the table).
CPU seconds of this process, measured back to back in one run.

    .venv/bin/python benchmarks/bench_tensorboard_crc.py [--events 300000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from pathlib import Path

import google_crc32c
from tensorboard.compat.proto import event_pb2, summary_pb2

import phasewatch.io.tensorboard as tb
from phasewatch.io import read_run


def masked(data: bytes) -> int:
    value = google_crc32c.value(data)
    return (((value >> 15) | (value << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def write(path: Path, n: int) -> None:
    with open(path, "wb") as fh:
        events = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2")]
        for i in range(n):
            events.append(event_pb2.Event(wall_time=2.0 + i, step=i, summary=summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=tag, simple_value=1.0 / (i + k))
                       for k, tag in enumerate(("train/loss", "train/lr", "train/grad_norm"), 1)])))
            if len(events) >= 10000 or i == n - 1:
                out = []
                for event in events:
                    data = event.SerializeToString()
                    header = struct.pack("<Q", len(data))
                    out.append(header + struct.pack("<I", masked(header)) + data
                               + struct.pack("<I", masked(data)))
                fh.write(b"".join(out))
                events = []


def timed(modes, name, path: Path, repeat: int) -> tuple[float, int]:
    original = tb.checksums
    tb.checksums = modes[name]
    try:
        best, rows = float("inf"), 0
        for _ in range(repeat):
            start = time.process_time()
            run = read_run(path)
            best = min(best, time.process_time() - start)
            rows = sum(steps.size for steps, _ in run.columns().values())
        return best, rows
    finally:
        tb.checksums = original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=2)
    opts = parser.parse_args()
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    modes = {
        "length + data, google-crc32c (now)": tb.checksums,
        "length only, Python CRC (before)": lambda: (masked_crc32c, None),
        "no checksum (floor)": lambda: (None, None),
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-tb-") as folder:
        path = Path(folder) / "events.out.tfevents.1.host"
        write(path, opts.events)
        size = path.stat().st_size
        print(f"event file: {opts.events:,} events x 3 scalars, {size / 1e6:.1f} MB")
        print(f"{'checks':<38} {'CPU s':>7} {'MB/s':>7} {'values':>10}")
        for name in modes:
            seconds, rows = timed(modes, name, path, opts.repeat)
            print(f"{name:<38} {seconds:>7.2f} {size / 1e6 / seconds:>7.1f} {rows:>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
