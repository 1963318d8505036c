"""Many runs, one command: the PATH arguments of analyze, plot, inspect and sweep as one entry
per run (a folder of runs as its runs, `folders.find_runs`), each run's failure reported while
the others still run, and the exit code of the whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.folders import find_runs, store_members

EXIT_SOME_FAILED = 4
"""Exit code of analyze/plot/inspect when some of several runs could not be read or analysed
(the others were; each failure is reported on stderr)."""


def expand(paths: list[str]) -> list[str]:
    """PATH arguments -> one entry per run: a folder of runs and a store of several runs
    (`mlflow.db`, a Trackio project) become their runs (in order), any other argument stays
    as given (a missing path keeps its error for its own row)."""
    out: list[str] = []
    for arg in paths:
        path = Path(arg)
        if not path.is_dir():
            members = store_members(path)
            if members:
                out.extend(str(m.path) for m in members)
            else:
                out.append(arg)
            continue
        try:
            runs = find_runs(path)
        except InputError:
            out.append(arg)
            continue
        if len(runs) > 1:
            out.extend(str(r.name) for r in runs)
        else:
            out.append(arg)
    return out


@dataclass
class Failure:
    """A run that could not be read or analysed, and why (the message names file and line)."""

    source: str
    error: Exception

    @property
    def exit_code(self) -> int:
        return int(getattr(self.error, "exit_code", 70))

    def to_dict(self) -> dict:
        return {"source": self.source, "error": str(self.error), "exit_code": self.exit_code}


def run_each(paths: list[str], action) -> tuple[list, list[Failure]]:
    """`action(path)` for each run of `paths` (folders of runs expanded). A user error
    (unreadable log, no such metric...) in one run is reported on stderr as it happens and the
    others still run; with a single run the error is raised as before (its own exit code)."""
    import sys

    from phasewatch.errors import PhasewatchError

    runs = expand(paths)
    if len(runs) == 1:
        return [action(runs[0])], []
    results, failures = [], []
    for path in runs:
        try:
            results.append(action(path))
        except PhasewatchError as exc:
            failures.append(Failure(path, exc))
            where = "" if path in str(exc) else f"{path}: "  # which run, when the error does not say
            print(f"phasewatch: error: {where}{exc}", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - a bug met in one run must not stop the others
            failures.append(Failure(path, exc))
            print(f"phasewatch: internal error in {path} ({type(exc).__name__}: {exc}); this "
                  "is a bug, please report it", file=sys.stderr)
    return results, failures


def exit_code(results: list, failures: list[Failure]) -> int:
    """0 when every run ran, EXIT_SOME_FAILED when some failed, the first failure's own code
    (3 unreadable input, 2 usage) when none ran."""
    if not failures:
        return 0
    if not results:
        return failures[0].exit_code
    return EXIT_SOME_FAILED
