"""`watch --follow` on a DVCLive folder while the real dvclive library appends to it (in a
subprocess): the alerts equal a replay of the final folder, a TSV that appears later is read,
and the records read as the folder grew are the replay's, row for row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from watch_follower import Follower, assert_same, eval_curve, let_writer_finish, replay

from phasewatch.io import dvclive as reader
from phasewatch.io.source import collect

pytest.importorskip("dvclive", reason="dvclive is not installed (it is in the dev extra)")

EVAL_FROM = 5  # the eval TSV appears at this step, after the follow has started
# the follow ends this long after the writer's last row: a writer stalled as long on a loaded
# machine (2 cores, 2 test workers) ended it early, on the train rows before the eval TSV came
IDLE_EXIT = 10.0

WRITER = """
import json, sys, time
from dvclive import Live
with Live(sys.argv[1], save_dvc_exp=False, dvcyaml=None) as live:
    live.log_params({"lr": 0.001, "model": {"layers": 2}})
    print("started", flush=True)
    sys.stdin.readline()  # the follower is on
    for i, acc in enumerate(json.loads(sys.argv[2])):
        live.log_metric("train/loss", 1.0 / (i + 1))
        if i >= int(sys.argv[3]):
            live.log_metric("eval/accuracy", acc)
        live.next_step()
        if i % 25 == 0:
            time.sleep(0.02)
"""


def start_writer(tmp_path) -> tuple[subprocess.Popen, list[float]]:
    """The writer, started: the run's folder is there (its params.yaml), no TSV yet."""
    accuracy = [acc for _, acc in eval_curve()]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1"}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "dvclive"), json.dumps(accuracy),
         str(EVAL_FROM)], cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    while (line := writer.stdout.readline()) and line.strip() != "started":
        pass
    return writer, accuracy


def followed_while_logged(tmp_path, path):
    """`path` (the folder, or a file in it) followed while the writer logs, and replayed once it
    has: (the follower, the replay's result, the accuracy logged); their alerts are the same."""
    writer, accuracy = start_writer(tmp_path)
    follower = Follower(path, stop_on=(), idle_exit=IDLE_EXIT)
    let_writer_finish(writer, timeout=120)
    followed = follower.ends_by_itself(timeout=60)
    replayed, result = replay(path, stop_on=())
    assert_same(followed, replayed)
    return follower, result, accuracy


def test_dvclive_folder_followed_while_live_logs(tmp_path):
    follower, result, accuracy = followed_while_logged(tmp_path, tmp_path / "dvclive")
    assert follower.watch.result.metric == "eval/accuracy"
    # one record a step, none lost or read twice, in the follow as in the replay
    assert follower.watch.result.n_records == result.n_records == len(accuracy)
    assert follower.watch.result.n_values == result.n_values == len(accuracy) - EVAL_FROM


def test_records_read_as_the_folder_grows_are_the_replays(tmp_path):
    """The source read again and again while the writer appends gives the records (steps,
    names, values, grouping) a read of the final folder gives; the eval TSV, which appears
    after the first reads, from its first row."""
    writer, accuracy = start_writer(tmp_path)
    folder = tmp_path / "dvclive"
    finish_at = time.monotonic() + 120
    followed, reads = [], 0
    source = None
    try:
        writer.stdin.write("go\n")
        writer.stdin.close()
        while writer.poll() is None and time.monotonic() < finish_at:
            if source is None and reader.is_run(folder):
                source = reader.source(folder, follow=True)
            if source is not None:
                got = [(r.step, dict(r.values)) for r in source.read(final=False)]
                reads += bool(got)
                followed.extend(got)
            time.sleep(0.002)
        assert writer.wait(60) == 0
        followed.extend((r.step, dict(r.values)) for r in source.read(final=True))
    finally:
        if writer.poll() is None:
            writer.kill()
        if source is not None:
            source.close()
    whole = [(r.step, dict(r.values)) for r in reader.source(folder).read(final=True)]
    assert reads > 5  # read while it grew, not only at the end
    assert followed == whole
    assert [step for step, _ in whole] == list(range(len(accuracy)))
    assert [v["eval/accuracy"] for _, v in whole[EVAL_FROM:]] == accuracy[EVAL_FROM:]
    run = collect(reader.source(folder))
    assert run.config == {"lr": 0.001, "model": {"layers": 2}}


def test_one_tsv_followed_alone_is_the_metric_its_folder_names(tmp_path):
    """`watch --follow dvclive/plots/metrics/eval/accuracy.tsv`, started before DVCLive writes
    that file: the file alone, its metric `eval/accuracy` as the folder's read names it (not the
    header's `accuracy`), alerts equal to a replay of the final file."""
    tsv = tmp_path / "dvclive/plots/metrics/eval/accuracy.tsv"
    follower, result, accuracy = followed_while_logged(tmp_path, tsv)
    assert follower.watch.result.metric == result.metric == "eval/accuracy"
    assert follower.watch.result.n_records == result.n_records == len(accuracy) - EVAL_FROM
