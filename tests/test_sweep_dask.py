"""sweep on a real dask.distributed LocalCluster of 2 worker processes: the serial table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from phasewatch.cli import main
from phasewatch.sweep import sweep
from phasewatch.synth import generate

distributed = pytest.importorskip("distributed", reason="needs the dask extra: "
                                  "pip install 'phasewatch[dask]'")


@pytest.fixture(scope="module")
def cluster():
    from phasewatch.sweep.engines import local_cluster

    with local_cluster(2) as local:
        yield local


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask_runs")
    for i, kind in enumerate(("three_phase", "dip_recover", "flat", "three_phase_loss")):
        folder = generate(kind, seed=10 + i, n_points=60, eval_every=5).write(root / f"r{i}")
        meta = json.loads((folder / "run.json").read_text())
        meta["config"]["seed"] = i
        (folder / "run.json").write_text(json.dumps(meta))
    (root / "r9_empty").mkdir()
    return root


def test_cluster_has_two_worker_processes(cluster):
    with distributed.Client(cluster) as client:
        info = client.scheduler_info()
        assert len(info["workers"]) == 2
        pids = set(client.run(lambda: __import__("os").getpid()).values())
        assert len(pids) == 2 and __import__("os").getpid() not in pids


def test_dask_table_equals_serial(cluster, runs):
    """(The local pool's equality with serial is in test_sweep.py.)"""
    serial = sweep([str(runs / "r*")], workers=1)
    on_dask = sweep([str(runs / "r*")], scheduler=cluster.scheduler_address)
    assert len(serial) == 5 and serial["error"].notna().sum() == 1
    pd.testing.assert_frame_equal(serial, on_dask)


def test_dask_reads_memory_urls_from_the_workers(cluster, runs):
    """A memory:// filesystem lives in one process: the workers only see what was written in
    theirs, so write it there (as a bucket would be visible to every worker)."""
    files = {f"/dask/{p.parent.name}/{p.name}": p.read_bytes()
             for p in sorted(runs.glob("r[0-3]/*"))}

    def put(files=files):
        import fsspec

        mem = fsspec.filesystem("memory")
        for path, data in files.items():
            mem.pipe(path, data)

    import fsspec

    put()  # the driver globs
    with distributed.Client(cluster) as client:
        client.run(put)
    local = sweep([str(runs / "r[0-3]")], workers=1)
    remote = sweep(["memory://dask/r*"], scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local.drop(columns="path"), remote.drop(columns="path"))
    fsspec.filesystem("memory").rm("/dask", recursive=True)


def test_cli_scheduler(cluster, runs, tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["sweep", str(runs / "r*"), "--scheduler", cluster.scheduler_address,
                 "--no-progress", "-o", str(out)]) == 0
    assert "5 runs (1 unreadable)" in capsys.readouterr().err
    assert len(json.loads(out.read_text())["runs"]) == 5


def test_unreachable_scheduler_is_a_usage_error():
    from phasewatch.errors import UsageError
    from phasewatch.sweep.engines import dask_client

    with pytest.raises(UsageError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        dask_client("tcp://127.0.0.1:9", timeout="2s")


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunked_tasks_keep_the_order_and_count_runs(cluster, runs, chunk):
    """Chunks of runs per Dask task: rows in the order of the paths, the bar moves per run."""
    from phasewatch.sweep import SweepOptions, expand_paths
    from phasewatch.sweep.engines import run_dask, run_serial

    paths = expand_paths([str(runs / "r*")])
    ticks: list[int] = []
    with distributed.Client(cluster) as client:
        rows = run_dask(paths, SweepOptions(), client, ticks.append, chunk=chunk)
    assert [r["row"]["path"] for r in rows] == paths
    assert sum(ticks) == len(paths) and max(ticks) <= chunk
    assert rows == run_serial(paths, SweepOptions())


def test_chunk_size_amortises_and_balances():
    from phasewatch.sweep.engines import chunk_size

    assert chunk_size(1000, 2) == 8      # 125 tasks: 62 per worker
    assert chunk_size(40, 2) == 2        # 20 tasks, 10 per worker
    assert chunk_size(5, 2) == 1
    assert chunk_size(10_000, 64) == 8 and chunk_size(100, 64) == 1


def _callbacks(dask_worker) -> dict[str, float]:
    return {name: pc.callback_time for name, pc in dask_worker.periodic_callbacks.items()}


def test_local_cluster_workers_run_without_the_profiler_and_with_slower_checks(cluster):
    """engines.DASK_CONFIG reaches the worker processes: no 10 ms stack sampling, the loop
    check and the monitors at their longer intervals (ms)."""
    with distributed.Client(cluster) as client:
        workers = list(client.run(_callbacks).values())
        nthreads = {w["nthreads"] for w in client.scheduler_info()["workers"].values()}
    assert len(workers) == 2 and nthreads == {1}
    for callbacks in workers:
        assert "profile" not in callbacks and "profile-cycle" not in callbacks
        assert callbacks["tick"] == 1000 and callbacks["memory_monitor"] == 1000
        assert callbacks["monitor"] == 2000
    for nanny in cluster.workers.values():  # the nannies, in this process
        assert nanny.periodic_callbacks["tick"].callback_time == 1000


def test_the_configuration_file_gives_dask_the_same_settings(tmp_path):
    """What docs/sweeps.md tells to put in ~/.config/dask/ is read back as DASK_CONFIG,
    the nanny's allocator variable unset (None) and its other variables kept."""
    import dask

    from phasewatch.sweep.engines import DASK_CONFIG, dask_yaml

    (tmp_path / "phasewatch.yaml").write_text(dask_yaml())
    # as `dask worker` sees it: distributed's defaults, then the files
    collected = dask.config.merge(dask.config.config,
                                  dask.config.collect(paths=[str(tmp_path)], env={}))
    for key, value in DASK_CONFIG.items():
        assert dask.config.get(key, config=collected) == value
    environ = dask.config.get("distributed.nanny.pre-spawn-environ", config=collected)
    assert environ["MALLOC_TRIM_THRESHOLD_"] is None and environ["OMP_NUM_THREADS"] == 1


def test_local_cluster_workers_keep_glibcs_own_trim_threshold(cluster):
    with distributed.Client(cluster) as client:
        values = client.run(lambda: __import__("os").environ.get("MALLOC_TRIM_THRESHOLD_"))
        blas = client.run(lambda: __import__("os").environ.get("OMP_NUM_THREADS"))
    assert set(values.values()) == {None} and set(blas.values()) == {"1"}


def test_docs_give_the_same_configuration_file():
    """docs/sweeps.md's configuration file for `dask worker` is engines.dask_yaml()."""
    from pathlib import Path

    from phasewatch.sweep.engines import dask_yaml

    text = (Path(__file__).resolve().parent.parent / "docs" / "sweeps.md").read_text()
    assert f"```yaml\n{dask_yaml()}```" in text


def test_report_on_dask_is_the_serial_page(cluster, runs, tmp_path, capsys):
    """The report's tasks return curves and phases besides the row: the page built from a
    Dask cluster's results is byte for byte the one built in process."""
    serial, on_dask = tmp_path / "serial.html", tmp_path / "dask.html"
    assert main(["report", str(runs / "r*"), "--workers", "1", "--no-progress",
                 "-o", str(serial)]) == 0
    assert main(["report", str(runs / "r*"), "--scheduler", cluster.scheduler_address,
                 "--no-progress", "-o", str(on_dask)]) == 0
    capsys.readouterr()
    page = serial.read_bytes()
    assert page == on_dask.read_bytes() and page.count(b'<details class="run"') == 5
