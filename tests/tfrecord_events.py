"""TensorBoard event files written record by record with the real protos and checksums, for
tests that need a file the writer would never produce (a damaged record, a huge tensor, a step
beyond int64). Shared by the tests and `benchmarks/audit_issue18.py`."""

import struct
from pathlib import Path


def event_file(path: Path, events) -> Path:
    """`path` holding a file-version event, then `events`, each framed as TFRecord."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for event in [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2"), *events]:
            data = event.SerializeToString()
            header = struct.pack("<Q", len(data))
            fh.write(header + struct.pack("<I", masked_crc32c(header)) + data
                     + struct.pack("<I", masked_crc32c(data)))
    return path


def scalar_event(step, value, tag="loss"):
    """One simple_value scalar event."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    return event_pb2.Event(wall_time=1.0 + step, step=step, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]))
