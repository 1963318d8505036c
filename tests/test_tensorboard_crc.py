"""TFRecord data checksums: a record whose payload was damaged (it may still decode, as a wrong
number) is skipped and reported, and every other record is read with its exact value."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from tfrecord_events import event_file, scalar_event

from phasewatch.io import read_run

pytest.importorskip("tensorboard")
pytest.importorskip("google_crc32c", reason="data checksums need google-crc32c (the tensorboard extra)")


def write_events(path, values, tag="loss"):
    """An event file with one simple_value per step, with the real protos and checksums."""
    return event_file(path, [scalar_event(i, v, tag) for i, v in enumerate(values)])


VALUES = [0.5 + i / 1000 for i in range(60)]


def expected(skip):
    return {i: np.float32(v) for i, v in enumerate(VALUES) if i != skip}


def test_a_changed_value_byte_is_caught_by_the_data_checksum(tmp_path):
    path = write_events(tmp_path / "events.out.tfevents.1.host", VALUES)
    data = bytearray(path.read_bytes())
    where = data.find(struct.pack("<f", np.float32(VALUES[30])))
    assert where > 0
    data[where + 3] ^= 0x40  # the exponent byte: the record still decodes, as another number
    path.write_bytes(bytes(data))
    run = read_run(path)
    got = run.series("loss").to_dict()
    assert got == pytest.approx(expected(30), rel=1e-7)
    [warning] = [w for w in run.warnings if "damaged record" in w]
    assert "bad data checksum" in warning and path.name in warning


def test_a_damaged_checksum_field_skips_that_record_only(tmp_path):
    path = write_events(tmp_path / "events.out.tfevents.1.host", VALUES)
    data = bytearray(path.read_bytes())
    first_len = struct.unpack_from("<Q", data, 0)[0]
    pos = 8 + 4 + first_len + 4  # record of step 0
    for _ in range(10):  # to the record of step 10
        pos += 8 + 4 + struct.unpack_from("<Q", data, pos)[0] + 4
    length = struct.unpack_from("<Q", data, pos)[0]
    data[pos + 12 + length] ^= 0xFF  # its data checksum
    path.write_bytes(bytes(data))
    run = read_run(path)
    assert run.series("loss").to_dict() == pytest.approx(expected(10), rel=1e-7)
    assert sum("damaged record" in w for w in run.warnings) == 1


def test_garbage_over_several_records_resyncs_on_both_checksums(tmp_path):
    path = write_events(tmp_path / "events.out.tfevents.1.host", VALUES)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 90] = bytes(range(90))
    path.write_bytes(bytes(data))
    run = read_run(path)
    got = run.series("loss").to_dict()
    assert 54 <= len(got) < 60 and max(got) == 59
    assert all(got[step] == pytest.approx(np.float32(VALUES[step]), rel=1e-7) for step in got)
    assert any("skipped" in w for w in run.warnings)
