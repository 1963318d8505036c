"""W&B's `wandb-history.jsonl` of wandb < 0.10 run folders (`phasewatch.io.wandb_history`).
The installed wandb writes `.wandb` files only, so the rows are written here as those versions
wrote them (the layout of the sweep's mfts/spaceinvaders-wandb-challenge run, a few rows):
`_step`, `_runtime`, `_timestamp` in every row, a logged video as a `{"_type": ...}` object.
Read as plain JSON lines before, its 2 metrics came with 3 that are none: `_runtime`,
`_timestamp` and the video's `gameplays/size`."""

from __future__ import annotations

import json
import math

from watch_follower import follow_while_written

from phasewatch.cli import main
from phasewatch.io import read_run

VIDEO = {"_type": "video-file", "path": "media/videos/openaigym.video.0.mp4",
         "sha256": "968fe1cf2bdd6964908801ea2fa39bb340b14d1f21d53a82c148357a11b9ed07", "size": 192147}


def history(path, steps=60) -> None:
    rows = []
    for step in range(steps):
        row = {"_runtime": 4.9 + step, "_timestamp": 1582070918.2 + step, "_step": step}
        if step % 2 == 0:
            row["episodic_reward"] = 180.0 + step
        else:
            row["cumulative_avg_reward"] = 136.6 + step / 2
        if step == 2:
            row = {"gameplays": VIDEO, "_runtime": 6.2, "_timestamp": 1582070919.5, "_step": 2}
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_bookkeeping_and_media_are_not_metrics(tmp_path):
    folder = tmp_path / "wandb" / "run-20200219_000833-1krfkyje"
    folder.mkdir(parents=True)
    path = folder / "wandb-history.jsonl"
    history(path)
    run = read_run(path)
    assert run.format == "wandb_history"
    assert sorted(run.metrics) == ["cumulative_avg_reward", "episodic_reward"]
    assert 2 not in run.series("episodic_reward").index  # the video's row holds no metric
    assert run.series("episodic_reward").index[:3].tolist() == [0, 4, 6]
    assert run.name == "run-20200219_000833-1krfkyje"


def test_old_hugging_face_rows_at_their_global_step(tmp_path, capsys):
    """transformers' WandbCallback of 2020 logged with `step=global_step`: `_step` is the step;
    a nested dict (a script's `{"eval": {...}}`) is named as W&B names it, `eval.loss`."""
    path = tmp_path / "wandb-history.jsonl"
    rows = []
    for k in range(1, 31):
        step = 50 * k
        rows.append({"loss": 2.5 * math.exp(-k / 8) + 0.5, "learning_rate": 5e-5, "epoch": k / 10,
                     "_step": step, "_runtime": float(k), "_timestamp": 1.6e9 + k})
        if k % 3 == 0:
            rows.append({"eval_loss": 2.0 * math.exp(-k / 6) + 0.6 + 0.01 * max(k - 18, 0) ** 2,
                         "eval": {"loss": 1.0, "acc": 0.5}, "_step": step, "_runtime": float(k),
                         "_timestamp": 1.6e9 + k})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_run(path)
    assert run.series("loss").index[0] == 50
    assert "eval.acc" in run.metrics and "eval/acc" not in run.metrics
    assert main(["analyze", "--format", "json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "eval_loss"


def test_the_summary_beside_it_is_no_history(tmp_path):
    summary = tmp_path / "wandb-summary.json"  # each key's last value, with the same keys
    summary.write_text(json.dumps({"_runtime": 503.9, "_timestamp": 1582071417.1,
                                   "episodic_reward": 210.0, "_step": 197, "gameplays": VIDEO}))
    assert read_run(summary).format == "jsonl"


def test_a_row_without_its_step_is_reported(tmp_path):
    path = tmp_path / "wandb-history.jsonl"
    history(path, steps=10)
    with path.open("a") as fh:
        fh.write(json.dumps({"episodic_reward": 5.0, "_runtime": 1.0}) + "\n")
    run = read_run(path)
    assert any("line 11" in w and "_step" in w for w in run.warnings), run.warnings


def test_followed_in_pieces_equals_the_replay(tmp_path):
    source = tmp_path / "whole.jsonl"
    rows = [{"val_loss": 1.0 / (k + 1) + 0.002 * max(k - 40, 0) ** 2, "_step": k,
             "_runtime": float(k), "_timestamp": 1.6e9 + k} for k in range(80)]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "wandb-history.jsonl"
    follow_while_written(path, source.read_text())


def test_an_old_run_folder_is_one_run_without_its_system_metrics(tmp_path):
    """An old W&B run folder holds wandb-events.jsonl (GPU, CPU, memory over time) beside the
    history: the folder is one run, its history, not a store of two."""
    folder = tmp_path / "run-20200219_000833-1krfkyje"
    folder.mkdir()
    history(folder / "wandb-history.jsonl")
    (folder / "wandb-events.jsonl").write_text("".join(
        json.dumps({"system.gpu.0.gpu": 90.0 + k, "system.cpu": 12.5, "_runtime": 10 * k,
                    "_timestamp": 1582070918.2 + 10 * k}) + "\n" for k in range(8)))
    (folder / "wandb-summary.json").write_text(json.dumps({"episodic_reward": 238.0, "_step": 59}))
    run = read_run(folder)
    assert run.format == "wandb_history"
    assert sorted(run.metrics) == ["cumulative_avg_reward", "episodic_reward"]
