"""Errors a user can act on. Each carries the exit code of the command-line contract.

The CLI prints `str(error)` (never a traceback) and exits with `error.exit_code`:
2 usage error, 3 unreadable or invalid input; anything else is an internal error (70).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class PhasewatchError(Exception):
    """Base class for errors phasewatch reports to the user without a traceback."""

    exit_code = 70


class UsageError(PhasewatchError):
    """The command was called wrongly (bad option value, unknown metric...). Exit code 2."""

    exit_code = 2


def in_api_terms(message: str, names: Iterable[str]) -> str:
    """`message`, written for the command line (`--noise-sd 0 ...`), in the terms of a Python
    call that gave the same options as keywords (`noise_sd 0 ...`)."""
    for name in names:
        message = message.replace(f"--{name.replace('_', '-')}", name)
    return message


@contextmanager
def api_terms(names: Iterable[str]) -> Iterator[None]:
    """Usage errors raised inside, which the command line shares, re-raised naming the
    keyword arguments `names` rather than their command-line flags."""
    try:
        yield
    except UsageError as exc:
        message = in_api_terms(str(exc), names)
        if message == str(exc):
            raise
        raise UsageError(message) from None


class InputError(PhasewatchError):
    """An input file is unreadable or invalid. Exit code 3.

    The message names the file, and the line where there is one, as `FILE:LINE: message`,
    the format editors and terminals turn into links.
    """

    exit_code = 3

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class NotReadyError(InputError):
    """The input is there but holds nothing to read yet, and its writer is still creating it:
    a tracker's store made before its run starts (MLflow creates and migrates `mlflow.db`
    seconds before `start_run`; Trackio's `<project>.db` may hold only system metrics). A
    replay reports it (exit 3); `watch --follow` waits for `waiting_for` instead."""

    def __init__(self, message: str, path: str | Path | None = None,
                 waiting_for: str = "it to be written"):
        super().__init__(message, path)
        self.waiting_for = waiting_for


BAD_LINE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, ArithmeticError, RecursionError, LookupError)
"""What parsing one hostile line or record may raise (a cell over csv's field limit, JSON
nested too deeply, a number out of range, a missing key). Readers catch exactly these around
one record: the record is skipped and reported, the rest of the log is read; any other
exception is a bug and reaches the CLI's exit 70."""


class MissingDependencyError(InputError):
    """An optional package is needed to read this input; the message says how to install it."""

    def __init__(self, package: str, extra: str, path: str | Path | None = None, purpose: str = ""):
        what = f" to {purpose}" if purpose else ""
        super().__init__(
            f"the optional package '{package}' is needed{what}; "
            f"install it with: pip install 'phasewatch[{extra}]'",
            path,
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, path: str | Path | None = None, purpose: str = ""):
    """Import an optional module or raise `MissingDependencyError` with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra, path, purpose) from exc
