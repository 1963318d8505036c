"""The header of a step file (`.npy`): its dtype, length and where the data starts.

Why not only `numpy.lib.format`: the `tokens` command imports no numpy when the compiled pass is
there (numpy's import is half of the command's fixed cost), so the headers `np.save` writes, 1-D
native float arrays, are read here with a strict pattern. Anything else (other writers' spacing,
big-endian or object arrays, damaged headers) goes to numpy's own parser, which says what is
wrong. The header is never evaluated: both read it as literals only.
"""

from __future__ import annotations

import re
import struct
import sys
from typing import BinaryIO, NamedTuple

MAGIC = b"\x93NUMPY"
_HEADER = re.compile(
    r"\{'descr': '(?P<order>[<|])f(?P<size>[248])', 'fortran_order': (?:False|True), "
    r"'shape': \((?P<n>[0-9]+),\), \}[ ]*\n"
)
_FLOAT = {2: "float16", 4: "float32", 8: "float64"}
#: numpy's own default (`max_header_size`): a damaged length field must not make the header
#: read take a whole step file (GBs) into memory.
MAX_HEADER_BYTES = 10_000


class NpyHeader(NamedTuple):
    dtype_name: str
    shape: tuple
    data_offset: int
    native: bool
    has_object: bool
    kind: str


def read_header(fh: BinaryIO) -> NpyHeader:
    """Parse the header of the `.npy` file open in `fh` (at its start). Raises ValueError,
    SyntaxError or EOFError for a damaged header (numpy's exceptions), OSError if unreadable."""
    head = fh.read(12)
    if len(head) == 12 and head[:6] == MAGIC and head[6] in (1, 2, 3) and head[7] == 0:
        if head[6] == 1:
            (length,), start = struct.unpack("<H", head[8:10]), 10
        else:
            (length,), start = struct.unpack("<I", head[8:12]), 12
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"the header claims {length:,} bytes, over the {MAX_HEADER_BYTES:,} "
                             "a .npy header may have: the file is damaged")
        fh.seek(start)
        text = fh.read(length)
        match = _HEADER.fullmatch(text.decode("latin-1")) if len(text) == length else None
        if match and (match["order"] == "|" or sys.byteorder == "little"):
            size = int(match["size"])
            return NpyHeader(_FLOAT[size], (int(match["n"]),), start + length, True, False, "f")
    fh.seek(0)
    return _numpy_header(fh)


def _numpy_header(fh: BinaryIO) -> NpyHeader:
    """numpy's parser: every header it accepts, and its messages for the rest."""
    import numpy as np

    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    return NpyHeader(str(dtype) if dtype.kind != "f" else dtype.name, tuple(shape), fh.tell(),
                     dtype.isnative, dtype.hasobject, dtype.kind)
