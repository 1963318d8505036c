"""Turning the command line's PATH|GLOB arguments into one run per entry, local or fsspec URL.

A local argument is a run (any log file or run folder `read_run` sniffs), a glob of runs, or a
folder of runs (found by `phasewatch.folders`, as for analyze). A URL (`s3://`,
`gs://`, `memory://`, `file://`...) is read through fsspec: globbed on its filesystem, and each
run copied by the worker that analyses it into a private temporary folder (the readers
memory-map token stores and tail files, which needs a local file); nothing is downloaded up
front and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from phasewatch.errors import InputError, UsageError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*(::[A-Za-z][A-Za-z0-9+.\-]*)*://")
_MAGIC = re.compile(r"[*?\[]")


def is_url(path: str) -> bool:
    """An fsspec URL (`proto://...`), as opposed to a local path."""
    return bool(_URL.match(str(path)))


def _fsspec():
    try:
        import fsspec
    except ImportError as exc:  # a dependency of dask, pandas' optional readers...
        raise UsageError("reading URLs needs fsspec: pip install 'phasewatch[dask]' "
                         "(or pip install fsspec, plus s3fs/gcsfs for object stores)") from exc
    return fsspec


def _url_fs(url: str):
    fsspec = _fsspec()
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"{url}: cannot open this URL's filesystem ({exc}); install the "
                         "fsspec backend for it (s3fs for s3://, gcsfs for gs://...)") from exc


def _never_a_log(path: str, is_file: bool | None = None) -> bool:
    """A file a folder of runs never takes as a log (`phasewatch.folder_logs`: README.md, model
    configs, weights, images...): a glob such as 'runs/*' skips it as the folder would."""
    from phasewatch.folder_logs import never_a_log

    if is_file is None:
        is_file = os.path.isfile(path)
    return is_file and never_a_log(Path(path.rstrip("/")))


def _expand_local(arg: str) -> list[str]:
    """A glob's matches (less the files that are never logs), and each folder of runs as its
    runs (`phasewatch.folders`, the rule analyze and plot follow); anything else as given (a
    bad path keeps its error for its row)."""
    from phasewatch.each_run import expand

    if _MAGIC.search(arg):
        found = sorted(glob.glob(arg))
        if not found:
            raise InputError("no file or folder matches this pattern", arg)
        matches = [m for m in found if not _never_a_log(m)]
        if not matches:
            raise InputError("no run matches this pattern (files that are never logs, such as "
                             "README.md or images, are left out)", arg)
        return expand(matches)
    return expand([arg])


def _expand_url(arg: str) -> list[str]:
    """A `file://` URL as the local path it names (the same runs as that path, as URLs); a glob
    on another filesystem as its matches, less the files that are never logs. A folder URL on
    another filesystem stays one entry: telling its runs apart needs its files' contents,
    which the workers read, not the driver (a folder of runs is an error naming the glob)."""
    fs, path = _url_fs(arg)
    if _is_local(fs):
        return ["file://" + p for p in _expand_local(path)]
    if not _MAGIC.search(arg):
        return [arg]
    found = fs.glob(path, detail=True)
    if not found:
        raise InputError("no file or folder matches this pattern", arg)
    matches = sorted(m for m, info in found.items()
                     if not _never_a_log(m, info.get("type") == "file"))
    if not matches:
        raise InputError("no run matches this pattern (files that are never logs, such as "
                         "README.md or images, are left out)", arg)
    return [fs.unstrip_protocol(m) for m in matches]


def _is_local(fs) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def expand_paths(args: Sequence[str]) -> list[str]:
    """One entry per run, in the order given (globs sorted), duplicates dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for arg in args:
        for path in (_expand_url(arg) if is_url(arg) else _expand_local(arg)):
            if path not in seen:
                seen.add(path)
                out.append(path)
    return out


@contextlib.contextmanager
def local_path(path: str) -> Iterator[Path]:
    """A local path holding the run at `path`: itself, or a temporary copy of a URL's file or
    folder (removed afterwards). `file://` URLs are used in place. `STORE/RUN`, one run of a
    file of several (an MLflow or Trackio database), copies the file and names the run in it."""
    if not is_url(path):
        yield Path(path)
        return
    fs, inner = _url_fs(path)
    if _is_local(fs):
        yield Path(inner)
        return
    inner = inner.rstrip("/")
    member = ""
    try:
        is_dir = fs.isdir(inner)
        exists = is_dir or fs.exists(inner)
        if not exists and "/" in inner and fs.isfile(inner.rsplit("/", 1)[0]):
            inner, member = inner.rsplit("/", 1)  # a run of a store file
            exists = True
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path) from exc
    if not exists:
        raise InputError("no such file or folder", path)
    tmp = tempfile.mkdtemp(prefix="phasewatch-sweep-")
    try:
        name = os.path.basename(inner) or "run"
        target = os.path.join(tmp, name)
        try:
            if is_dir:
                fs.get(inner + "/", target + "/", recursive=True)
            else:
                fs.get_file(inner, target)
        except OSError as exc:
            raise InputError(f"cannot read: {exc}", path) from exc
        yield Path(target, member) if member else Path(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
