"""The follower on a very long line: time and peak memory of `LineTail` reading one line of
N MB that arrives in 64 KB pieces (a writer flushing as it goes), and the same file read whole.

Issue 18 measured 69 s for a 100 MB line in `watch` (the pending bytes were concatenated with
each new chunk: quadratic). Pieces are now kept in a list and joined once.

    .venv/bin/python benchmarks/bench_follow.py [--mb 100] [--against REV]

`--against REV` times the follower of another revision (e.g. 3616da1, before issue 18) too.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from phasewatch.follow import CHUNK, LineTail

REPO = Path(__file__).resolve().parents[1]


def old_tail(rev: str):
    """`LineTail` as revision `rev` of phasewatch/follow.py defines it."""
    code = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:phasewatch/follow.py"],
                          capture_output=True, text=True, check=True).stdout
    folder = Path(tempfile.mkdtemp())
    (folder / "old_follow.py").write_text(code)
    spec = importlib.util.spec_from_file_location("old_follow", folder / "old_follow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LineTail


def follow_pieces(tail_class, record: bytes, **options) -> float:
    """Seconds to follow `record` written in 64 KB pieces, one read after each."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.jsonl"
        path.write_bytes(b"")
        tail = tail_class(path, follow=True, notice=lambda m: None, **options)
        start = time.perf_counter()
        got = []
        with open(path, "ab") as writer:
            for i in range(0, len(record), CHUNK):
                writer.write(record[i:i + CHUNK])
                writer.flush()
                got.extend(tail.read())
            writer.write(b"\n")
        got.extend(tail.read())
        elapsed = time.perf_counter() - start
        tail.close()
    assert len(got) == 1 and len(got[0][1]) == len(record)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--against", metavar="REV", help="also time this revision's follower")
    opts = parser.parse_args()
    size = int(opts.mb * 1e6)
    record = b'{"step": 1, "blob": "' + b"x" * (size - 24) + b'"}'
    if opts.against:
        seconds = follow_pieces(old_tail(opts.against), record)
        print(f"{opts.against}: one {len(record) / 1e6:.0f} MB line in 64 KB pieces followed "
              f"in {seconds:.2f} s")
    pieces = follow_pieces(LineTail, record, max_line=2 * size)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.jsonl"
        path.write_bytes(record + b"\n")
        start = time.perf_counter()
        whole = list(LineTail(path, max_line=2 * size).read(final=True))
        once = time.perf_counter() - start
        assert len(whole) == 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"one {len(record) / 1e6:.0f} MB line: {len(record) // CHUNK + 1} pieces of 64 KB "
          f"followed in {pieces:.2f} s; read whole in {once:.2f} s; "
          f"peak RSS {peak / 1e6:.0f} MB ({peak / len(record):.1f}x the line)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
