"""Many runs -> one table: `sweep(paths)` analyses each run (tasks of up to 8 runs) in this
process, a local process pool or on a Dask cluster, and returns a DataFrame with one row per run.

    >>> import phasewatch.sweep as sw
    >>> table = sw.sweep(["runs/*"], workers=2)          # local processes
    >>> table = sw.sweep(["s3://bucket/runs/*"], scheduler="tcp://host:8786")

Every engine runs the same function (`row.summarize_run`) and returns the rows in the order of
the paths, so the tables are identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from phasewatch.sweep.by_config import by_config
from phasewatch.sweep.engines import default_workers, run_dask, run_processes, run_serial
from phasewatch.sweep.paths import expand_paths
from phasewatch.sweep.row import SweepOptions, summarize_run
from phasewatch.sweep.table import build_table, write_table

__all__ = ["SweepOptions", "build_table", "by_config", "expand_paths", "run_tasks",
           "summarize_run", "sweep", "write_table"]


def run_tasks(paths: Sequence[str], options: SweepOptions, workers: int | None = None,
              scheduler: Any = None, progress: bool = True) -> list[dict[str, Any]]:
    """`summarize_run` on every path: on the Dask cluster at `scheduler` (an address or a
    `distributed.Client`), else `workers` local processes (default: all CPUs; 1 = in process).
    A tqdm bar on stderr when `progress`."""
    from tqdm import tqdm

    bar = tqdm(total=len(paths), unit="run", disable=not progress, leave=False,
               desc="sweep")
    try:
        if scheduler is not None:
            from phasewatch.sweep.engines import dask_client

            client = dask_client(scheduler) if isinstance(scheduler, str) else scheduler
            try:
                return run_dask(paths, options, client, bar.update)
            finally:
                if isinstance(scheduler, str):
                    client.close()
        if workers == 1:
            return run_serial(paths, options, bar.update)
        return run_processes(paths, options, workers or default_workers(), bar.update)
    finally:
        bar.close()


def sweep(paths: Sequence[str], options: SweepOptions | None = None,
          workers: int | None = None, scheduler: Any = None, progress: bool = False):
    """The sweep table of the runs at `paths` (paths, globs, folders of runs, fsspec URLs)."""
    options = options or SweepOptions()
    runs = expand_paths(list(paths))
    rows = run_tasks(runs, options, workers, scheduler, progress)
    return build_table([r["row"] for r in rows])
