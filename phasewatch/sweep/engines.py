"""Where the per-run tasks run: in this process, a local process pool, or a Dask cluster.

Every engine calls `row.summarize_run(path, options)` once per run. The parallel engines send
runs in chunks of up to 8 per task (`chunk_size`), so a task's fixed cost is paid once per chunk;
what is sent is the chunk's path strings and the small options object, what comes back is one
row (a few dozen scalars) per run. Runs are read where the task runs: a worker on another
machine reads the same path or URL itself, so a sweep over object storage moves no log through
the driver. Dask workers run best with `DASK_CONFIG` (`local_cluster` applies it; for `dask
worker`, `dask_yaml()` gives it as a configuration file).

Results come back in the order the paths were given, whatever order the workers finish in, so
every engine gives the same table.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from phasewatch.errors import UsageError
from phasewatch.sweep.row import SweepOptions, summarize_run

Progress = Callable[[int], None]


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _summarize_chunk(paths: Sequence[str], options: SweepOptions) -> list[dict[str, Any]]:
    return [summarize_run(p, options) for p in paths]


def chunk_size(n_runs: int, slots: int) -> int:
    """Runs per task: up to 8, and at least 8 tasks per worker slot.

    A task's fixed cost (a pool round trip ~0.07 ms; a Dask task ~2 ms of scheduler, comm and
    worker bookkeeping) is paid once per chunk, while 8+ tasks per slot keep the load even: the
    last chunk a worker runs costs at most 8 runs of waiting for the others."""
    return max(1, min(8, n_runs // (max(1, slots) * 8)))


def _chunks(paths: Sequence[str], size: int) -> list[list[str]]:
    return [list(paths[i:i + size]) for i in range(0, len(paths), size)]


def run_serial(paths: Sequence[str], options: SweepOptions,
               progress: Progress | None = None) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        out.append(summarize_run(path, options))
        if progress:
            progress(1)
    return out


def run_processes(paths: Sequence[str], options: SweepOptions, workers: int | None = None,
                  progress: Progress | None = None, chunk: int | None = None) -> list[dict[str, Any]]:
    """A local process pool. Paths go out in small chunks (a few per worker round trip keeps
    the per-task overhead low while the progress bar still moves and the load stays even)."""
    workers = workers or default_workers()
    if workers <= 1 or len(paths) <= 1:
        return run_serial(paths, options, progress)
    pieces = _chunks(paths, chunk or chunk_size(len(paths), workers))
    results: list[list[dict[str, Any]] | None] = [None] * len(pieces)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        with _one_blas_thread():  # the workers start as the tasks are submitted
            futures = {pool.submit(_summarize_chunk, piece, options): k
                       for k, piece in enumerate(pieces)}
        for future in as_completed(futures):
            k = futures[future]
            results[k] = future.result()
            if progress:
                progress(len(results[k]))
    return [r for chunk_rows in results for r in chunk_rows]


#: Worker processes are one per core: a BLAS (numpy's OpenBLAS) that also starts a thread per
#: core in each would oversubscribe the cores (2 workers x 2 threads on 2 cores). Dask's nanny
#: sets the same variables for its workers.
ONE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """While worker processes start: one BLAS thread each (unless the user chose a number)."""
    saved = {key: os.environ.get(key) for key in ONE_THREAD_ENV}
    for key in ONE_THREAD_ENV:
        os.environ.setdefault(key, "1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _pool_context():
    """spawn: each worker is a fresh interpreter started with the environment of the moment
    (`_one_blas_thread`), none of the caller's threads (a progress bar's, a Dask client's)
    copied in; it imports phasewatch once."""
    import multiprocessing

    return multiprocessing.get_context("spawn")


#: Dask settings for the processes of a sweep's cluster (workers, their nannies, a local
#: scheduler). Dask's defaults serve its dashboard and its memory accounting, at a cost per
#: second or per allocation that a sweep's tasks pay and do not use. With the defaults an idle
#: worker used 17 ms of CPU per second and a local cluster's driver 26; with these, 2 and 6
#: (profile_sweep.py, which also prints what they cost per run).
DASK_CONFIG: dict[str, Any] = {
    # the statistical profiler: every 10 ms the event loop takes the GIL from the task to walk
    # its stack (the dashboard's profile page; 5 of the 17 ms per second)
    "distributed.worker.profile.enabled": False,
    # the event-loop health check every 20 ms; it only warns when the loop stalls for > 3 s
    "distributed.admin.tick.interval": "1s",
    # process memory against the spill/pause/terminate limits every 100 ms, host CPU, network
    # and disk counters every 500 ms: a sweep's worker holds one run at a time
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    # the nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 so that freed memory goes back
    # to the system at once; each run's arrays then come back as fresh pages: 430 page faults
    # and ~1.3 ms of system time per run instead of 23 and 0.3 (profile_sweep.py). Unset, glibc
    # keeps its own adaptive thresholds, as in the process pool's workers.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


def dask_yaml() -> str:
    """`DASK_CONFIG` as a Dask configuration file, for the machines of a cluster you start
    yourself (`~/.config/dask/phasewatch.yaml`, read by `dask worker` and `dask scheduler`).
    A file rather than environment variables: those cannot unset the nanny's variable."""
    import yaml

    nested: dict[str, Any] = {}
    for key, value in DASK_CONFIG.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return yaml.safe_dump(nested, default_flow_style=False, sort_keys=False)


def local_cluster(n_workers: int | None = None, **kwargs: Any):
    """A `distributed.LocalCluster` for sweeps on this machine: `n_workers` processes (default
    all CPUs) of one thread each (the analysis holds the GIL), no dashboard, `DASK_CONFIG`.
    Close it (or use it as a context manager) when done."""
    try:
        import dask
        from distributed import LocalCluster
    except ImportError as exc:
        raise UsageError("a Dask cluster needs dask.distributed: "
                         "pip install 'phasewatch[dask]'") from exc
    options: dict[str, Any] = {"threads_per_worker": 1, "processes": True,
                               "dashboard_address": None} | kwargs
    # the scheduler, the nannies and the worker processes they start read the settings as
    # they are created, all before LocalCluster returns
    with dask.config.set(DASK_CONFIG):
        return LocalCluster(n_workers=n_workers or default_workers(), **options)


def dask_client(address: str, timeout: str = "20s"):
    """A `distributed.Client` connected to the scheduler at `address` (install hint if absent)."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise UsageError("--scheduler needs dask.distributed: pip install 'phasewatch[dask]'") from exc
    try:
        return Client(address, timeout=timeout)
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def dask_slots(client) -> int:
    """Task slots of the cluster: the worker threads (1 per process suits these GIL-holding
    tasks), at least 1 while workers are still joining."""
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def run_dask(paths: Sequence[str], options: SweepOptions, client,
             progress: Progress | None = None, chunk: int | None = None) -> list[dict[str, Any]]:
    """Runs in chunks on `client`'s cluster (a `distributed.Client`): one Dask task per chunk of
    up to 8 runs (`chunk_size`), so the scheduler's per-task cost is paid once per chunk; the
    progress bar still counts runs."""
    from distributed import as_completed as dask_completed

    pieces = _chunks(paths, chunk or chunk_size(len(paths), dask_slots(client)))
    futures = client.map(_summarize_chunk, pieces, options=options, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[list[dict[str, Any]] | None] = [None] * len(futures)
    for future in dask_completed(futures):
        k = index[future.key]
        results[k] = future.result()
        future.release()
        if progress:
            progress(len(results[k]))
    return [r for chunk_rows in results for r in chunk_rows]  # type: ignore[union-attr]
