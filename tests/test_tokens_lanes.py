"""The summary pass in worker processes: same results as in process, errors, early close, deaths."""

from __future__ import annotations

import faulthandler
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from test_tokens_summary import fragmented_store

from phasewatch.errors import InputError
from phasewatch.tokens import (
    LearnedAtTracker,
    SummaryConfig,
    TokenStoreWriter,
    iter_step_summaries,
    lane_pool,
    open_store,
    summarize_store,
)
from phasewatch.tokens.lane_pool import WorkerError
from phasewatch.tokens.windows import lane_ranges

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds worker processes in /proc")


@pytest.fixture(autouse=True)
def no_hang():
    """A hang is a failure: dump the stacks and end the run instead of waiting forever."""
    faulthandler.dump_traceback_later(60, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def workers_config(**kw) -> SummaryConfig:
    return SummaryConfig(process_min_bytes=0, **kw)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def worker_pids(parent: int | None = None) -> list[int]:
    """Live worker processes (children of `parent`, default this process)."""
    parent = os.getpid() if parent is None else parent
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and b"lane_worker" in cmdline:
            out.append(int(name))
    return out


def wait_gone(pids: list[int], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids), f"workers still running: {pids}"


def test_lane_ranges_cover_the_tokens_in_whole_windows():
    for n, lanes, chunk in [(8_000_000, 2, 1 << 20), (10, 4, 3), (9, 2, 1), (5, 8, 100), (1, 3, 7)]:
        ranges, size = lane_ranges(n, lanes, chunk)
        assert ranges[0][0] == 0 and ranges[-1][1] == n and 1 <= size <= chunk
        assert all(b == c for (_, b), (c, _) in itertools.pairwise(ranges))
        assert all(a % size == 0 for a, _ in ranges) and len(ranges) == min(lanes, n)
    assert lane_ranges(8_000_000, 2, 1 << 20) == ([(0, 4_000_000), (4_000_000, 8_000_000)], 1_000_000)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("chunk_tokens, workers", [(1 << 20, 2), (37, 3), (500, 2)])
def test_workers_give_exactly_the_in_process_result(tmp_path, dtype, chunk_tokens, workers):
    folder, _, _ = fragmented_store(tmp_path)  # many short sequences, splits interleaved
    if dtype == "float32":
        index = json.loads((folder / "index.json").read_text())
        index["dtype"] = "float32"
        (folder / "index.json").write_text(json.dumps(index))
        for path in folder.glob("step_*.npy"):
            np.save(path, np.load(path).astype(np.float32))
    store = open_store(folder)
    alone = summarize_store(store, SummaryConfig(workers=1, chunk_tokens=chunk_tokens))
    assert alone.worker_peak_rss_mb == []
    pooled = summarize_store(store, workers_config(workers=workers, chunk_tokens=chunk_tokens))
    assert len(pooled.worker_peak_rss_mb) == workers and min(pooled.worker_peak_rss_mb) > 0
    assert pooled.rows == alone.rows  # every statistic, newly_learned_share and learned_share
    assert pooled.learned_at == alone.learned_at
    assert pooled.steps == alone.steps
    assert worker_pids() == []


def test_small_stores_stay_in_process(tmp_path):
    folder, _, _ = fragmented_store(tmp_path)
    summary = summarize_store(open_store(folder), SummaryConfig(workers=2))  # far below 256 MB
    assert summary.worker_peak_rss_mb == []


def bad_value_store(tmp_path, bad=1.0):
    rng = np.random.default_rng(3)
    folder = tmp_path / "expert_logprobs"
    seqs = [{"id": f"s{i}", "split": "train" if i % 2 else "heldout", "length": 7} for i in range(300)]
    with TokenStoreWriter(folder, seqs) as writer:
        for step in range(5):
            writer.append(step, -rng.exponential(1.0, 2100))
    x = np.load(folder / "step_00000003.npy")
    x[1234] = bad  # in the second of 2 lanes: met first, at step 3
    x[1900] = bad
    np.save(folder / "step_00000003.npy", x)
    x = np.load(folder / "step_00000004.npy")
    x[10] = bad  # in the first lane, a step later
    np.save(folder / "step_00000004.npy", x)
    return folder


@pytest.mark.parametrize("bad", [1.0, float("nan"), float("-inf")])
def test_a_bad_value_in_a_worker_gives_the_in_process_error(tmp_path, bad):
    folder = bad_value_store(tmp_path, bad)
    store = open_store(folder)
    with pytest.raises(InputError) as alone:
        summarize_store(store, SummaryConfig(workers=1, chunk_tokens=256))
    with pytest.raises(InputError) as pooled:
        summarize_store(store, workers_config(workers=2, chunk_tokens=256))
    assert str(pooled.value) == str(alone.value)
    assert pooled.value.path == str(folder / "step_00000003.npy")
    assert "step 3: token 1234 (sequence 's176' (heldout) token 2)" in str(pooled.value)
    assert worker_pids() == []


def test_a_file_truncated_after_open_is_named_by_the_worker_error(tmp_path):
    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    path = folder / "step_00000015.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(InputError, match="truncated after the store was opened") as info:
        summarize_store(store, workers_config(workers=2, chunk_tokens=100))
    assert info.value.path == str(path)
    assert worker_pids() == []


def big_store(tmp_path, n_steps=60, n_tokens=200_000):
    """Enough distinct keys per step that a worker's replies overflow its pipe (it blocks)."""
    rng = np.random.default_rng(7)
    folder = tmp_path / "expert_logprobs"
    seqs = [{"id": "t", "split": "train", "length": n_tokens // 2},
            {"id": "h", "split": "heldout", "length": n_tokens // 2}]
    with TokenStoreWriter(folder, seqs) as writer:
        for step in range(n_steps):
            writer.append(step, -rng.exponential(3.0, n_tokens))
    return folder


def test_closing_the_stream_early_ends_the_workers(tmp_path):
    store = open_store(big_store(tmp_path))
    stream = iter_step_summaries(store, workers_config(workers=3), LearnedAtTracker(store.n_tokens))
    step, _ = next(stream)
    assert step == 0
    pids = worker_pids()
    assert len(pids) == 3  # all blocked on full pipes
    stream.close()
    assert worker_pids() == []  # killed and reaped by close()
    wait_gone(pids, 1.0)


def test_a_worker_killed_midway_is_an_error_not_a_hang(tmp_path):
    store = open_store(big_store(tmp_path))
    stream = iter_step_summaries(store, workers_config(workers=2))
    next(stream)
    pids = sorted(worker_pids())
    os.kill(pids[-1], signal.SIGKILL)
    with pytest.raises(WorkerError, match=r"worker 1 .* ended .*\(killed by SIGKILL\)"):
        for _ in stream:
            pass
    assert worker_pids() == []


@pytest.mark.parametrize("boot, message", [
    ("import sys; sys.stderr.write('Traceback: boom\\n'); sys.exit(3)", r"exit code 3\); its last output:\nTraceback: boom"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", r"killed by SIGKILL"),
    ("import sys; sys.stdout.write('hello, this is no frame'); sys.stdout.flush()", r"not a frame"),
])
def test_a_worker_that_fails_at_start_is_reported(tmp_path, monkeypatch, boot, message):
    monkeypatch.setattr(lane_pool, "BOOT", boot)
    folder, _, _ = fragmented_store(tmp_path)
    with pytest.raises(WorkerError, match=message):
        summarize_store(open_store(folder), workers_config(workers=2))
    assert worker_pids() == []


def test_ctrl_c_in_the_parent_leaves_no_worker_behind(tmp_path):
    folder = big_store(tmp_path)
    script = textwrap.dedent(f"""
        import os, sys, time
        from phasewatch.tokens import SummaryConfig, iter_step_summaries, open_store
        stream = iter_step_summaries(open_store({str(folder)!r}), SummaryConfig(workers=2, process_min_bytes=0))
        next(stream)
        print("ready", flush=True)
        for _ in stream:
            time.sleep(0.05)  # slow consumer: the workers block on full pipes
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    assert parent.stdout.readline().strip() == "ready"
    pids = worker_pids(parent.pid)
    assert len(pids) == 2
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    wait_gone(pids)
