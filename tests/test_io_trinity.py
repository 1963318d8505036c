"""Trinity-RFT runs: its TensorBoard layout written by torch's SummaryWriter (what Trinity's
TensorboardMonitor uses), its W&B explorer/trainer pair written by the wandb SDK offline, and
its console `Step N: {...}` lines printed through Trinity's logging format with numpy values."""

from __future__ import annotations

import io
import logging
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from phasewatch.cli import main
from phasewatch.io import open_source, read_run, sniff_format


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def explorer_rows(n=60, detailed=False):
    """(step, values) of an explorer: rollout accuracy each step, an evaluation every 5 with a
    dip, a recovery and a decline."""
    rng = np.random.default_rng(0)
    for step in range(1, n + 1):
        values = {"rollout/accuracy/mean": 0.3 + step / (3 * n), "time/explore_step": 1.5}
        if step % 5 == 0 or step == 1:
            acc = 0.5 - 0.3 * math.exp(-step / 8) * (step < 20) + 0.002 * step * (step < 40) \
                - 0.004 * (step - 40) * (step >= 40) + rng.normal(0, 0.004)
            if detailed:
                for stat, v in (("mean", acc), ("max", acc + 0.3), ("min", acc - 0.3),
                                ("std", 0.1)):
                    values[f"eval/gsm8k/accuracy/mean@4/{stat}"] = v
            else:
                values["eval/gsm8k/accuracy/mean@4"] = acc
        yield step, values


def trainer_rows(n=60):
    for step in range(1, n + 1):
        mu = 0.9 * (1 - step / n) + 0.05
        yield step, {"actor/mu": mu, "actor/loss": 1.0 / step, "actor/usual/pg_loss": -0.01 * step,
                     "actor/expert/sft_phi_loss": 0.4 + 1 / step, "actor/grad_norm": 1.0}


# ------------------------------------------------------------------ TensorBoard
def write_tensorboard(job, detailed=False, n=60):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    for role, rows in (("explorer", explorer_rows(n, detailed)), ("trainer", trainer_rows(n))):
        writer = torch_tb.SummaryWriter(str(job / "monitor" / "tensorboard" / role))
        for step, values in rows:
            for key, value in values.items():
                writer.add_scalar(key, value, step)
        writer.close()


def test_tensorboard_layout_is_one_run_with_roles(tmp_path):
    job = tmp_path / "checkpoints" / "proj" / "chord-run"
    write_tensorboard(job)
    for path in (job, job / "monitor", job / "monitor" / "tensorboard"):
        run = read_run(path)
        assert run.format == "trinity_tensorboard" and run.name == "chord-run"
        assert run.aliases["eval/accuracy"] == "eval/gsm8k/accuracy/mean@4"
        assert run.aliases["train/mu"] == "actor/mu"
        assert run.aliases["train/sft_loss"] == "actor/expert/sft_phi_loss"
        assert run.aliases["train/rl_loss"] == "actor/usual/pg_loss"
        assert run.aliases["train/loss"] == "actor/loss"
        assert not any(m.startswith(("explorer/", "trainer/")) for m in run.metrics)
        assert len(run.series("actor/mu")) == 60 and len(run.series("eval/accuracy")) == 13
        assert not run.events  # explorer and trainer steps are not one counter: no resume
    assert analyze_run(run).metric == "eval/gsm8k/accuracy/mean@4"


def test_detailed_stats_take_the_mean_not_the_max(tmp_path):
    job = tmp_path / "job"
    write_tensorboard(job, detailed=True, n=20)
    run = read_run(job)
    assert run.aliases["eval/accuracy"] == "eval/gsm8k/accuracy/mean@4/mean"
    assert analyze_run(run).metric == "eval/gsm8k/accuracy/mean@4/mean"


def test_tensorboard_layout_followed_with_the_trainer_lagging(tmp_path):
    """Explorer rows arrive ahead of the trainer's; the followed alerts equal the replay."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    from watch_follower import Follower, replay

    job = tmp_path / "job"
    follower = Follower(job, stop_on=(), idle_exit=3.0)
    writers = {role: torch_tb.SummaryWriter(str(job / "monitor" / "tensorboard" / role))
               for role in ("explorer", "trainer")}
    explorer, trainer = list(explorer_rows(300)), list(trainer_rows(300))
    for i in range(300):
        for key, value in explorer[i][1].items():
            writers["explorer"].add_scalar(key, value, explorer[i][0])
        if i >= 10:
            for key, value in trainer[i - 10][1].items():
                writers["trainer"].add_scalar(key, value, trainer[i - 10][0])
        if i % 20 == 0:
            for writer in writers.values():
                writer.flush()
    for writer in writers.values():
        writer.close()
    followed = follower.ends_by_itself(timeout=60)
    replayed, _ = replay(job, stop_on=())
    assert len(replayed) >= 1 and followed == replayed
    assert not follower.watch.result.resumes


# ------------------------------------------------------------------ W&B pair
WANDB_PAIR = textwrap.dedent(
    """
    import json, sys, wandb
    rows = json.loads(sys.argv[2])
    for role in ("explorer", "trainer"):
        run = wandb.init(mode="offline", dir=sys.argv[1], project="proj", group="chord-run",
                         name=f"chord-run_{role}", tags=[role], config={"role": role},
                         settings=wandb.Settings(console="off"), reinit="finish_previous")
        for step, values in rows[role]:
            run.log(values, step=step)
        run.finish()
    """
)


@pytest.fixture(scope="module")
def wandb_pair(tmp_path_factory):
    pytest.importorskip("wandb")
    import json

    root = tmp_path_factory.mktemp("trinity_wandb")
    rows = {"explorer": list(explorer_rows()), "trainer": list(trainer_rows())}
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline",
           "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "off"}
    try:
        subprocess.run([sys.executable, "-c", WANDB_PAIR, str(root), json.dumps(rows)], env=env,
                       check=True, timeout=180, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"wandb could not write offline runs here: {exc}")
    return root / "wandb"


def test_wandb_explorer_and_trainer_runs_merge_into_one(wandb_pair):
    run = read_run(wandb_pair)
    assert run.format == "trinity_wandb" and run.name == "chord-run"
    assert run.aliases["eval/accuracy"] == "eval/gsm8k/accuracy/mean@4"
    assert run.aliases["train/mu"] == "actor/mu"
    assert len(run.series("actor/mu")) == 60 and len(run.series("eval/accuracy")) == 13
    source = open_source(wandb_pair)
    list(source.read())
    assert source.info.finished and source.info.config == {"role": "trainer"}
    assert not run.events
    # each run alone is still a plain W&B run
    [explorer] = [p for p in wandb_pair.iterdir() if p.is_dir() and not p.is_symlink()
                  and read_run(p).name == "chord-run_explorer"]
    assert sniff_format(explorer).FORMAT == "wandb"


WANDB_ROLE = textwrap.dedent(
    """
    import json, sys, time, wandb
    role, rows = sys.argv[2], json.loads(sys.argv[3])
    run = wandb.init(mode="offline", dir=sys.argv[1], project="proj", group="chord-run",
                     name=f"chord-run_{role}", tags=[role], config={"role": role},
                     settings=wandb.Settings(console="off"))
    for i, (step, values) in enumerate(rows):
        run.log(values, step=step)
        if i % 10 == 0:
            time.sleep(0.05)  # a training step's time: the follower reads the run as it grows
    run.finish()
    """
)


@pytest.mark.slow  # two wandb SDK processes: about 25 s
def test_wandb_pair_followed_while_explorer_and_trainer_write(tmp_path):
    """Trinity's explorer and trainer write their W&B runs at the same time, each in its own
    process (the trainer a few seconds behind); `watch --follow` on the `wandb/` folder,
    started before either exists, raises the alerts a replay of the final files raises."""
    pytest.importorskip("wandb")
    import json

    from watch_follower import Follower, replay

    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline",
           "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "off"}
    folder = tmp_path / "wandb"
    follower = Follower(folder, stop_on=(), idle_exit=120.0)  # ends on both runs' exit records
    follower.wait_for_message("does not exist yet")
    n = 200
    writers = {}
    for role, rows in (("explorer", explorer_rows(n)), ("trainer", trainer_rows(n))):
        writers[role] = subprocess.Popen(
            [sys.executable, "-c", WANDB_ROLE, str(tmp_path), role, json.dumps(list(rows))],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if role == "explorer":
            time.sleep(3.0)  # the trainer starts once the first batch is explored
    for role, writer in writers.items():
        if writer.wait(300) != 0:
            follower.stop.set()
            pytest.skip(f"wandb could not write the {role} run here: "
                        f"{writer.stderr.read().decode(errors='replace')[-300:]}")
    followed = follower.ends_by_itself(timeout=120)
    assert follower.watch.source.format == "trinity_wandb", (follower.watch.source.path, follower.messages)
    assert set(follower.watch.source.parts) == {"explorer", "trainer"}
    replayed, result = replay(folder, stop_on=())
    assert len(replayed) >= 2 and followed == replayed
    assert result.finished and not follower.watch.result.resumes


def test_a_folder_of_jobs_lists_each_pair_once(wandb_pair, tmp_path, capsys):
    """Jobs side by side (`<checkpoint_root>/<project>/<name>/monitor/wandb/`): each job's
    explorer/trainer pair is one run of the folder, not two."""
    import json
    import shutil

    for job in ("chord-a", "chord-b"):
        shutil.copytree(wandb_pair, tmp_path / "proj" / job / "monitor" / "wandb", symlinks=True)
    code, out, _ = cli(capsys, "inspect", str(tmp_path / "proj"), "--format", "json")
    runs = json.loads(out)["runs"]
    assert code == 0 and [r["format"] for r in runs] == ["trinity_wandb"] * 2
    assert [Path(r["source"]).parts[-3] for r in runs] == ["chord-a", "chord-b"]


# ------------------------------------------------------------------ console
def console_log(rows, ray_prefix: bool) -> str:
    """Lines as Trinity's monitor prints them: its logger format, `Step {step}: {data}` with
    the numpy scalars its metrics are."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(
        "%(levelname)s %(asctime)s [%(filename)s:%(lineno)d] %(message)s", "%m-%d %H:%M:%S"))
    logger = logging.getLogger("trinity.test_console")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for role, step, data in rows:
        data = {k: np.float64(v) if isinstance(v, float) else v for k, v in data.items()}
        if ray_prefix:
            stream.write(f"({role.capitalize()} pid={100 + len(role)}) ")
        logger.info(f"Step {step}: {data}")
    return stream.getvalue()


def interleaved(n=60):
    explorer, trainer = list(explorer_rows(n)), list(trainer_rows(n))
    for i in range(n):
        yield ("explorer", *explorer[i])
        if i >= 3:
            yield ("trainer", *trainer[i - 3])


@pytest.mark.parametrize("ray_prefix", [True, False])
def test_console_step_lines_with_numpy_reprs(tmp_path, ray_prefix):
    text = console_log(interleaved(), ray_prefix)
    assert "np.float64(" in text  # numpy 2 reprs, as Trinity prints them
    path = tmp_path / "trinity.log"
    path.write_text("Launching Trinity-RFT...\n" + text + "tqdm 100%|####|\n")
    run = read_run(path)
    assert run.format == "trinity_console"
    assert run.aliases["train/mu"] == "actor/mu"
    assert len(run.series("actor/mu")) == 57 and len(run.series("eval/accuracy")) == 13
    assert not run.events  # the trainer's steps lag the explorer's: two counters, no resume


def test_console_nan_inf_and_bad_lines(tmp_path):
    rows = [("trainer", 1, {"actor/loss": float("nan"), "actor/mu": float("inf")}),
            ("trainer", 2, {"actor/loss": 0.5, "actor/mu": np.float32(0.25)})]
    text = console_log(rows, ray_prefix=False)
    text += "INFO 11-30 12:00:00 [monitor.py:1] Step 3: {'actor/loss': 0.4\n"  # cut
    text += "INFO 11-30 12:00:00 [monitor.py:1] Step 4: {'actor/loss': __import__('os')}\n"
    text += "INFO 11-30 12:00:00 [monitor.py:1] Step 5: {'actor/loss': 0.3}\n"
    path = tmp_path / "trinity.log"
    path.write_text(text)
    run = read_run(path)
    table = run.table.set_index(["metric", "step"])["value"]
    assert math.isnan(table[("actor/loss", 1)]) and table[("actor/mu", 1)] == math.inf
    assert table[("actor/mu", 2)] == 0.25 and table[("actor/loss", 5)] == 0.3
    assert any("lines 3, 4" in w for w in run.warnings), run.warnings


def test_a_follower_waits_only_for_a_young_wandb_run(tmp_path):
    """A `.wandb` file with only its header (the SDK just started) is waited for; once its run
    record is there, or for any other file, nothing is waited for."""
    pytest.importorskip("wandb")
    from phasewatch.io.trinity import young_wandb_run

    real = Path(__file__).resolve().parents[2] / "shared" / "real_logs" / "wandb_offline_grpo"
    if not real.is_dir():
        pytest.skip("../shared/real_logs is not here")
    data = (real / "run-7yj6c945.wandb").read_bytes()
    run = tmp_path / "wandb" / "offline-run-1"
    run.mkdir(parents=True)
    for size, young in ((0, True), (7, True), (len(data), False)):
        (run / "run-1.wandb").write_bytes(data[:size])
        assert young_wandb_run(tmp_path / "wandb") is young, size
    (run / "run-1.wandb").write_bytes(b"not a W&B file" * 10)
    assert not young_wandb_run(tmp_path / "wandb")
