"""TFRecord framing, as TensorBoard's event files use it: each record is `length` (uint64),
`masked crc32c(length)` (uint32), the payload, `masked crc32c(payload)` (uint32). Read by
`io.tensorboard` (damaged records skipped: `resync`) and `io.trainer_args`."""

from __future__ import annotations

import struct

RECORD_HEADER = struct.Struct("<QI")  # uint64 length, uint32 masked crc32c of the length
U32 = struct.Struct("<I")  # the payload's masked crc32c after it
MASK_DELTA = 0xA282EAD8
EVENT_FIRST_BYTE = 0x09  # an Event starts with its wall_time (field 1, a double): tag 0x09


def resync(data: bytes, start: int, crc, data_crc) -> int | None:
    """The position of the next intact record at or after `start`, or None.

    A record is `length, crc(length), payload, crc(payload)`; a candidate must have both
    checksums right, so random bytes are not taken for a record. Only positions whose payload
    starts like an Event are checked."""
    size = RECORD_HEADER.size
    pos = start
    while True:
        mark = data.find(bytes((EVENT_FIRST_BYTE,)), pos + size)
        if mark < 0:
            return None
        pos = mark - size
        length, length_crc = RECORD_HEADER.unpack_from(data, pos)
        end = pos + size + length + 4
        if end <= len(data) and crc(data[pos:pos + 8]) == length_crc:
            payload = data[pos + size:end - 4]
            if data_crc(payload) == U32.unpack_from(data, end - 4)[0]:
                return pos
        pos += 1


def checksums():
    """TFRecord's masked CRC32-C: (for the 8-byte length, for record data or None).

    google-crc32c's C code (hardware CRC instructions: ~1.2 GB/s) checks every record; without
    it tensorboard's pure-Python CRC (~0.6 MB/s) is used for the 8-byte lengths only, since
    checking the data with it would make reading a large event file take minutes."""
    try:
        import google_crc32c
    except ImportError:
        google_crc32c = None
    if google_crc32c is not None and google_crc32c.implementation == "c":
        raw = google_crc32c.value

        def masked(data: bytes) -> int:
            value = raw(data)
            return (((value >> 15) | (value << 17)) + MASK_DELTA) & 0xFFFFFFFF

        return masked, masked
    try:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    except ImportError:  # pragma: no cover
        return None, None
    return masked_crc32c, None
