"""Git LFS pointer files: a repository clone without `git lfs pull` holds these ~130-byte text
stubs instead of the logs. Inside a run folder they would otherwise surface as "Expecting
value" or "no scalar summaries"; every reader asks `raise_if_lfs_pointer` before reporting
that a file holds no record, so the message says what to do."""

from __future__ import annotations

from pathlib import Path

from phasewatch.errors import InputError

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
MESSAGE = ("this is a Git LFS pointer file, not the log itself; fetch the real file with "
           "`git lfs pull` (or download it from the hub's 'resolve' URL) and try again")


def is_lfs_pointer(path: Path) -> bool:
    """Whether `path` is a small regular file starting like an LFS pointer (never blocks)."""
    try:
        if not path.is_file() or path.stat().st_size > 1024:
            return False
        with open(path, "rb") as fh:
            return fh.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX
    except OSError:
        return False


def raise_if_lfs_pointer(*paths: Path) -> None:
    """InputError naming the first of `paths` that is an LFS pointer, if any."""
    for path in paths:
        if is_lfs_pointer(Path(path)):
            raise InputError(MESSAGE, path)
