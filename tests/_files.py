"""The one writer of a test's log file: the reader tests each put a few lines of a console log
into `tmp_path` and read them back, and each had its own copy of these three lines."""

from __future__ import annotations

from pathlib import Path


def write(tmp_path: Path, text: str, name: str = "train.log") -> Path:
    """`text` as the file `name` in `tmp_path` (UTF-8), its path returned. Pass the name a
    reader sniffs by (`nohup.out`, mmengine's `<date>_<time>.log`) where the test needs it."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
