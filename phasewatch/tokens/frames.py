"""A small framed binary protocol between the summary pass and its worker processes.

A frame is `b"PWL1"`, the header length and the payload length (little-endian uint32 each), a
JSON object (the header), then the payload: the raw bytes of the numpy arrays the header lists
as `"arrays": [[dtype, size], ...]`, each padded to 8 bytes so every array is aligned.

Why not pickle (multiprocessing's default): the project never unpickles anything derived from a
log. JSON and raw arrays of a few fixed numeric dtypes can only ever decode into numbers.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

MAGIC = b"PWL1"
PREFIX = struct.Struct("<4sII")
#: The only dtypes a frame may carry (never object arrays).
DTYPES = frozenset({"<u2", "<u4", "<i8", "<f8"})
#: Largest header a worker's frame may have: its headers are a few hundred bytes.
MAX_REPLY_HEADER = 1 << 20


class FrameError(Exception):
    """The stream is not (or no longer) a sequence of valid frames."""


def _padded(n_bytes: int) -> int:
    return -(-n_bytes // 8) * 8


def write_frame(stream: BinaryIO, header: dict, arrays: Sequence[np.ndarray] = ()) -> None:
    """Write one frame and flush it (blocks while the pipe is full: that is the backpressure)."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    for a in arrays:
        if a.dtype.str not in DTYPES:
            raise ValueError(f"frames carry {sorted(DTYPES)} arrays, not {a.dtype.str}")
    head = json.dumps({**header, "arrays": [[a.dtype.str, a.size] for a in arrays]},
                      separators=(",", ":")).encode()
    payload = sum(_padded(a.nbytes) for a in arrays)
    stream.write(PREFIX.pack(MAGIC, len(head), payload))
    stream.write(head)
    for a in arrays:
        stream.write(memoryview(a).cast("B"))
        stream.write(bytes(_padded(a.nbytes) - a.nbytes))
    stream.flush()


def read_frame(stream: BinaryIO, max_header: int = MAX_REPLY_HEADER) -> tuple[dict, list[np.ndarray]] | None:
    """The next frame's header and arrays, or None at the end of the stream (between frames).

    Raises `FrameError` on anything else: a stream ending inside a frame, bad magic, a header
    that is not a JSON object, a dtype not in `DTYPES`, sizes that do not add up.
    """
    prefix = _read_exactly(stream, PREFIX.size, allow_eof=True)
    if prefix is None:
        return None
    magic, n_head, n_payload = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise FrameError(f"not a frame (starts with {bytes(prefix[:16])!r})")
    if n_head > max_header:
        raise FrameError(f"frame header of {n_head} bytes (at most {max_header})")
    try:
        header = json.loads(bytes(_read_exactly(stream, n_head)))
    except ValueError as exc:
        raise FrameError(f"frame header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise FrameError("frame header is not a JSON object")
    payload = np.empty(n_payload, dtype=np.uint8)
    if n_payload:
        _read_exactly(stream, n_payload, into=payload)
    arrays, offset = [], 0
    for item in header.get("arrays", []):
        if not (isinstance(item, list) and len(item) == 2 and item[0] in DTYPES
                and isinstance(item[1], int) and item[1] >= 0):
            raise FrameError(f"bad array description {item!r}")
        dtype = np.dtype(item[0])
        if offset + item[1] * dtype.itemsize > n_payload:
            raise FrameError("frame arrays larger than its payload")
        arrays.append(payload[offset : offset + item[1] * dtype.itemsize].view(dtype))
        offset += _padded(item[1] * dtype.itemsize)
    return header, arrays


def _read_exactly(stream: BinaryIO, n: int, allow_eof: bool = False,
                  into: np.ndarray | None = None) -> memoryview | None:
    buffer = memoryview(np.empty(n, dtype=np.uint8) if into is None else into).cast("B")
    got = 0
    while got < n:
        k = stream.readinto(buffer[got:])
        if not k:
            if got == 0 and allow_eof:
                return None
            raise FrameError(f"the stream ended inside a frame ({got} of {n} bytes)")
        got += k
    return buffer
