"""OLMo's trainer console (`phasewatch.io.olmo_console`): `[step=N/MAX,epoch=E]` blocks of
indented `name=value` lines, written here in the shape `Trainer.log_metrics_to_console` prints
them (a few lines, not a copied log)."""

from __future__ import annotations

import json

import numpy as np
from watch_follower import follow_while_written

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.planned import planned_steps

PREFIX = "2025-12-27 22:12:56.867\tnode-03:0\tolmo.train:990\tINFO\t"


def olmo_log(path, steps=range(10, 210, 10), eval_every=50) -> None:
    lines = [PREFIX + "TrainConfig(run_name='olmo-test', max_duration=200, ...)",
             "    System/Peak GPU Memory (MB)=1,218"]
    for step in steps:
        loss = 9.0 * np.exp(-step / 80) + 2.5
        lines += [PREFIX + f"[step={step}/200,epoch=0]", "    optim/total_grad_norm=1.608",
                  f"    train/CrossEntropyLoss={loss:.3f}",
                  f"    train/Perplexity={int(np.exp(loss)):,}"]
        if step % eval_every == 0:
            held = 2.8 + 7.0 * np.exp(-step / 40) + 0.02 * max(step - 100, 0)
            lines += [PREFIX + "[eval_step=4/4]", PREFIX + "c4_en-validation",
                      f"    eval/c4_en-validation/CrossEntropyLoss={held:.4f}"]
    path.write_text("\n".join(lines) + "\n")


def test_blocks_are_records_at_their_step_and_the_last_block_is_read(tmp_path):
    log = tmp_path / "train.log"
    olmo_log(log)
    run = read_run(log)
    assert run.format == "olmo_console"
    loss = run.series("train/CrossEntropyLoss")
    assert loss.index.tolist() == list(range(10, 210, 10))  # step 200, the last block, too
    assert run.series("train/Perplexity").iloc[0] == int(np.exp(9.0 * np.exp(-10 / 80) + 2.5))
    # an evaluator's block comes after its step's training block, under its own label
    assert run.series("eval/c4_en-validation/CrossEntropyLoss").index.tolist() == [50, 100, 150, 200]
    assert "System/Peak GPU Memory (MB)" not in run.metrics  # before any step: no record
    assert planned_steps(run.config) == 200


def test_analyze_and_watch_take_the_evaluators_loss(tmp_path, capsys):
    log = tmp_path / "train.log"
    olmo_log(log, eval_every=20)
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("eval/c4_en-validation/CrossEntropyLoss", "min")
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()
               if ln.startswith("{")][-1]
    assert summary["metric"] == "eval/c4_en-validation/CrossEntropyLoss"


def test_followed_in_pieces_equals_the_replay(tmp_path):
    """Written in pieces while `watch --follow` runs: each block is read when the next line
    closes it, the last when the log ends; alerts as a replay of the final file gives them."""
    source = tmp_path / "whole.log"
    olmo_log(source, eval_every=10)
    path = tmp_path / "train.log"
    follower = follow_while_written(path, source.read_text())
    assert follower.watch.result.n_records == replayed_records(path)


def replayed_records(path) -> int:
    return read_run(path).n_records


def test_a_last_block_at_a_step_out_of_range_is_reported_and_the_rest_read(tmp_path):
    log = tmp_path / "train.log"
    olmo_log(log, steps=range(10, 60, 10))
    with log.open("a") as fh:
        fh.write(PREFIX + "[step=99999999999999999999/200,epoch=0]\n    train/CrossEntropyLoss=2.5\n")
    run = read_run(log)
    assert run.series("train/CrossEntropyLoss").index.tolist() == [10, 20, 30, 40, 50]
    assert any("out of range" in w for w in run.warnings), run.warnings
