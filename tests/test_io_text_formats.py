"""Text log formats: each test writes a small file the way the framework does and checks values."""

import json
import math

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run, sniff_format
from phasewatch.planned import planned_steps


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def lines(path, rows):
    return write(path, "".join(json.dumps(r) + "\n" for r in rows))


# ---------------------------------------------------------------- generic JSONL
@pytest.mark.parametrize("step_key", ["step", "global_step", "_step", "iteration", "current_steps"])
def test_jsonl_any_step_like_key(tmp_path, step_key):
    path = lines(tmp_path / "log.jsonl", [{step_key: s, "loss": s / 40} for s in range(0, 30, 10)])
    run = read_run(path)
    if step_key == "current_steps":
        assert run.format == "llamafactory"  # more specific reader wins, same values
    else:
        assert run.format == "jsonl"
    assert run.series("loss").to_dict() == {0: 0.0, 10: 0.25, 20: 0.5}
    assert step_key not in run.metrics


def test_jsonl_nested_objects_flatten_and_strings_and_nan(tmp_path):
    path = write(
        tmp_path / "m.jsonl",
        '{"step": 1, "eval": {"acc": 0.5, "n": 10}, "loss": "0.25", "note": "warmup"}\n'
        '{"step": 2, "eval": {"acc": 0.75}, "loss": NaN}\n'
        '{"step": 3, "loss": Infinity}\n',
    )
    run = read_run(path)
    assert run.series("eval/acc").to_dict() == {1: 0.5, 2: 0.75}
    assert run.series("eval/n").to_dict() == {1: 10.0}
    assert run.series("loss").to_dict() == {1: 0.25}  # NaN and inf are records, not finite
    raw = run.series("loss", finite=False)
    assert math.isnan(raw[2]) and raw[3] == math.inf
    assert "note" not in run.metrics and run.warnings == []


def test_jsonl_without_step_key_uses_record_number_and_says_so(tmp_path):
    path = lines(tmp_path / "m.jsonl", [{"loss": 3.0}, {"loss": 2.0}, {"loss": 1.0}])
    run = read_run(path)
    assert run.series("loss").to_dict() == {0: 3.0, 1: 2.0, 2: 1.0}
    assert any("record number as the step" in w for w in run.warnings)


ACCURACY = [0.5, 0.62, 0.66, 0.69, 0.7, 0.71, 0.72, 0.71, 0.69, 0.67, 0.66, 0.64]


@pytest.mark.parametrize("name", ["log.jsonl", "progress.csv", "history.json"])
def test_numbered_records_are_said_records_not_training_steps(tmp_path, capsys, name):
    """A log that states no step is read by its record numbers (JSON lines, a table of numbers
    under a header, a JSON list whose `epoch` is fractional), which count its records: texts
    said "recommended stop: step 6" and the figure's axis "training step"."""
    path = tmp_path / name
    if name.endswith(".jsonl"):
        lines(path, [{"val_acc": v} for v in ACCURACY])
    elif name.endswith(".csv"):
        path.write_text("loss,val_acc\n" + "".join(f"{1 / (k + 1)},{v}\n"
                                                    for k, v in enumerate(ACCURACY)))
    else:
        path.write_text(json.dumps([{"epoch": 0.5 * (k + 1), "val_acc": v}
                                    for k, v in enumerate(ACCURACY)]))
    assert read_run(path).step_unit == "record"
    assert main(["analyze", str(path), "--metric", "val_acc"]) == 0
    assert "recommended stop: record 6\n" in capsys.readouterr().out
    assert main(["analyze", str(path), "--metric", "val_acc", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["step_unit"] == "record"
    assert main(["watch", str(path), "--metric", "val_acc"]) == 0
    assert "checkpoint to keep: record 6" in capsys.readouterr().err


def test_jsonl_header_without_step_is_the_runs_settings(tmp_path):
    """A training script that logs its arguments first (`{"type": "config", "args": ...}`) and
    then records with a step: the header is config, not metrics at a made-up step, and the
    records keep their own steps (the ninth held-out batch's verifier log was read with the
    record number as the step and 20 `args/...` "metrics")."""
    header = {"type": "config", "argv": ["train.py", "--steps", "500"],
              "args": {"steps": 500, "lr": 2e-5, "model": "Qwen"}}
    rows = [{"step": s, "accuracy": 0.9 - s / 1000} for s in (0, 25, 50)]
    run = read_run(lines(tmp_path / "m.jsonl", [header, *rows]))
    assert run.series("accuracy").to_dict() == {0: 0.9, 25: 0.875, 50: 0.85}
    assert sorted(run.metrics) == ["accuracy"]
    assert run.config["args"] == header["args"] and run.config["type"] == "config"
    assert run.warnings == [("line 1: a record without a step before the records with one; "
                             "read as the run's settings (type, argv, args), not as metrics")]
    assert planned_steps(run.config) == 500  # the script's --steps


def test_jsonl_one_record_without_step_is_a_record(tmp_path):
    """A file of one record without a step has no later record to make it a header."""
    run = read_run(lines(tmp_path / "m.jsonl", [{"loss": 3.0}]))
    assert run.series("loss").to_dict() == {0: 3.0}


def test_jsonl_resume_and_double_logging(tmp_path):
    rows = [{"step": s, "loss": float(s)} for s in range(5)]
    rows += [{"step": 3, "loss": 30.0}, {"step": 4, "loss": 40.0}, {"step": 4, "loss": 40.0}]
    rows += [{"step": 5, "loss": 50.0}, {"step": 5, "acc": 0.9}]
    run = read_run(lines(tmp_path / "m.jsonl", rows))
    assert run.series("loss").to_dict() == {0: 0.0, 1: 1.0, 2: 2.0, 3: 30.0, 4: 40.0, 5: 50.0}
    assert run.series("acc").to_dict() == {5: 0.9}
    assert [(e.name, e.step) for e in run.events] == [("resume", 3)]
    assert any(w.startswith("line 6:") and "from 4 to 3" in w for w in run.warnings)


# ---------------------------------------------------------------- CSV / W&B CSV
def test_csv_step_column_sparse_cells(tmp_path):
    path = write(tmp_path / "log.csv", "global_step,loss,eval_accuracy\n0,2.0,\n10,1.5,0.25\n20,1.0,\n")
    run = read_run(path)
    assert run.format == "csv"
    assert run.series("loss").to_dict() == {0: 2.0, 10: 1.5, 20: 1.0}
    assert run.series("eval_accuracy").to_dict() == {10: 0.25}
    assert run.series("eval/accuracy").to_dict() == {10: 0.25}  # role alias


def test_tsv_and_quoted_header(tmp_path):
    path = write(tmp_path / "log.tsv", '"iteration"\t"train/loss"\n1\t0.5\n2\t0.25\n')
    assert read_run(path).series("train/loss").to_dict() == {1: 0.5, 2: 0.25}


def test_wandb_csv_export_single_run(tmp_path):
    path = write(
        tmp_path / "wandb_export.csv",
        '"Step","grpo-7b - train/reward","grpo-7b - train/reward__MIN","grpo-7b - train/reward__MAX"\n'
        '"0","0.1","0.05","0.2"\n"5","0.3","0.2","0.4"\n',
    )
    run = read_run(path)
    assert run.name == "grpo-7b"
    assert run.series("train/reward").to_dict() == {0: 0.1, 5: 0.3}
    assert run.series("train/reward__MIN").to_dict() == {0: 0.05, 5: 0.2}
    assert run.series("train/reward__MAX").to_dict() == {0: 0.2, 5: 0.4}


def test_wandb_csv_export_several_runs_keep_prefix(tmp_path):
    path = write(tmp_path / "export.csv", "_step,run-a - loss,run-b - loss\n1,0.5,0.7\n2,0.4,\n")
    run = read_run(path)
    assert run.series("run-a - loss").to_dict() == {1: 0.5, 2: 0.4}
    assert run.series("run-b - loss").to_dict() == {1: 0.7}
    assert any("holds 2 runs" in w for w in run.warnings)


def test_tensorboard_csv_download(tmp_path):
    path = write(tmp_path / "run-sft-tag-eval_accuracy.csv",
                 "Wall time,Step,Value\n1719642696.5,100,0.25\n1719642796.5,200,0.5\n")
    run = read_run(path)
    assert run.metrics == ["eval_accuracy"]
    assert run.series("eval/accuracy").to_dict() == {100: 0.25, 200: 0.5}


def test_csv_row_with_wrong_cell_count_is_reported(tmp_path):
    path = write(tmp_path / "log.csv", "step,loss\n1,0.5\n2,0.4,9\n3,0.3\n")
    run = read_run(path)
    assert run.series("loss").to_dict() == {1: 0.5, 3: 0.3}
    assert any("line 3" in w and "3 cells" in w for w in run.warnings)


def test_csv_header_written_again_is_no_bad_record(tmp_path):
    # a script that writes its header at every start (csv-gsm8k-sft-evalloss-6ev: line 2
    # repeats line 1, "skipped 1 of 273 lines that are not valid records ... 'step'")
    path = write(tmp_path / "log.csv", "step,loss\nstep,loss\n1,0.5\n2,0.4\nstep , loss\n3,0.3\n")
    run = read_run(path)
    assert run.series("loss").to_dict() == {1: 0.5, 2: 0.4, 3: 0.3}
    assert run.warnings == []


def test_csv_header_written_again_with_a_new_column_reads_the_rows_after_it(tmp_path):
    # a restart in append mode that logs one metric more: every row after its header was
    # skipped ("3 cells where the header has 2"), the new held-out loss with them
    text = "step,loss\n1,0.9\n2,0.8\nstep,loss,eval_loss\n3,0.7,\n4,0.6,0.65\n5,0.5,0.6\n"
    path = write(tmp_path / "log.csv", text)
    run = read_run(path)
    assert run.series("loss").to_dict() == {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6, 5: 0.5}
    assert run.series("eval_loss").to_dict() == {4: 0.65, 5: 0.6}
    assert [w for w in run.warnings if "line 4 writes the header again" in w
            and "now with eval_loss" in w] and not [w for w in run.warnings if "skipped" in w]
    # followed as it grows, the same rows
    from phasewatch.io import open_source

    log = write(tmp_path / "live.csv", text[:text.index("step,loss,eval")])
    source = open_source(log, follow=True, notice=lambda message: None)
    followed = [(r.step, dict(r.values)) for r in source.read(final=False)]
    with open(log, "a") as fh:
        fh.write(text[text.index("step,loss,eval"):])
    followed += [(r.step, dict(r.values)) for r in source.read(final=True)]
    source.close()
    assert [s for s, _ in followed] == [1, 2, 3, 4, 5] and followed[-1][1]["eval_loss"] == "0.6"


def test_csv_row_of_words_that_is_no_header_is_still_a_bad_record(tmp_path):
    # words only, or words naming another step-like column than the header's
    path = write(tmp_path / "log.csv", "step,phase,loss\n1,a,0.5\nfoo,epoch,bar\n3,b,0.3\n")
    run = read_run(path)
    assert run.series("loss").to_dict() == {1: 0.5, 3: 0.3}
    assert any("line 3" in w for w in run.warnings)


# ---------------------------------------------------------------- trainer_state.json
def trainer_state(log_history, **extra):
    return {"global_step": log_history[-1]["step"], "log_history": log_history, **extra}


def test_trainer_state_train_and_eval_rows_merge_with_alias_and_epochs(tmp_path):
    history = []
    for step in range(10, 110, 10):
        history.append({"loss": 1.0 / step, "learning_rate": 1e-5, "epoch": step / 40, "step": step})
        if step % 20 == 0:
            history.append({"eval_loss": 2.0 / step, "eval_accuracy": step / 100, "epoch": step / 40, "step": step})
    path = write(tmp_path / "trainer_state.json", json.dumps(trainer_state(history), indent=2))
    run = read_run(path)
    assert run.format == "trainer_state"
    assert run.n_records == 15 and run.n_steps == 10
    assert run.series("eval_accuracy").to_dict() == {s: s / 100 for s in range(20, 110, 20)}
    assert run.series("eval/accuracy").equals(run.series("eval_accuracy"))
    assert run.series("eval/loss")[40] == pytest.approx(0.05)
    assert run.series("train/lr").iloc[0] == 1e-5
    # epoch 1 begins at step 40, epoch 2 at 80 (epoch = step / 40)
    assert [(e.name, e.step) for e in run.events] == [("epoch_boundary", 40), ("epoch_boundary", 80)]
    assert run.config["global_step"] == 100


def test_trainer_state_rows_without_a_step_name_the_metrics_only_they_hold(tmp_path):
    """hf-cpt-rouge: a script appended each epoch's test-set scores (predict_loss,
    predict_rouge-l, ...) to log_history without a step; the warning gave line numbers only,
    and nothing said a test ROUGE per epoch was in the file and not read. Keys the rows with
    a step hold too (epoch) are not named, and nothing is added where none is lost."""
    history = []
    for epoch in range(1, 4):
        history.append({"eval_loss": 1.0 / epoch, "eval_rouge-l": 30 + epoch, "epoch": float(epoch),
                        "step": 549 * epoch})
        history.append({"epoch": float(epoch), "predict_loss": 0.9 / epoch,
                        "predict_rouge-l": 31 + epoch})
    path = write(tmp_path / "trainer_state.json", json.dumps({"log_history": history}))
    skipped = [w for w in read_run(path).warnings if w.startswith("skipped 3 log rows")]
    assert skipped and skipped[0].endswith(
        ": predict_loss, predict_rouge-l are logged in those rows only, so are not read"), skipped
    history = [row if "step" in row else {"epoch": row["epoch"], "eval_loss": 0.5}
               for row in history]
    path = write(tmp_path / "trainer_state.json", json.dumps({"log_history": history}))
    skipped = [w for w in read_run(path).warnings if w.startswith("skipped 3 log rows")]
    assert skipped and "not read" not in skipped[0], skipped


def test_trainer_state_shape_under_other_names_and_bare_list(tmp_path):
    rows = [{"reward": 0.1, "step": 5}, {"reward": 0.2, "step": 10}]
    as_dict = write(tmp_path / "training_logs.json", json.dumps({"log_history": rows}))
    as_list = write(tmp_path / "history.json", json.dumps(rows, indent=1))
    for path in (as_dict, as_list):
        run = read_run(path)
        assert run.format == "trainer_state"
        assert run.series("reward").to_dict() == {5: 0.1, 10: 0.2}
        assert run.series("train/reward").to_dict() == {5: 0.1, 10: 0.2}


def test_trainer_state_truncated_keeps_complete_rows_and_says_where(tmp_path):
    rows = [{"loss": float(s), "step": s} for s in range(1, 6)]
    text = json.dumps(trainer_state(rows), indent=2)
    cut = text[: text.index('"step": 5') + 4]  # the crash hit mid-row 5
    path = write(tmp_path / "trainer_state.json", cut)
    run = read_run(path)
    assert run.series("loss").to_dict() == {s: float(s) for s in range(1, 5)}
    [warning] = run.warnings
    line = cut.count("\n") + 1 - cut[cut.rindex("{"):].count("\n")
    assert warning.startswith(f"line {line}:") and "truncated" in warning


def test_trainer_state_rows_without_step_are_reported(tmp_path):
    rows = [{"loss": 1.0, "step": 1}, {"loss": 2.0}, {"loss": 3.0, "step": "x"}, {"loss": 4.0, "step": 4}]
    run = read_run(write(tmp_path / "trainer_state.json", json.dumps({"log_history": rows}, indent=1)))
    assert run.series("loss").to_dict() == {1: 1.0, 4: 4.0}
    assert any("skipped 2 log rows" in w for w in run.warnings)


# ---------------------------------------------------------------- LLaMA-Factory
def test_llamafactory_trainer_log(tmp_path):
    rows = [
        {"current_steps": 1, "total_steps": 100, "loss": 0.65, "lr": 1e-9, "epoch": 0.01,
         "percentage": 1.0, "elapsed_time": "0:01:03", "remaining_time": "3 days, 17:51:32"},
        {"current_steps": 2, "total_steps": 100, "loss": 0.5, "lr": 2e-9, "epoch": 0.02,
         "percentage": 2.0, "elapsed_time": "1 day, 2:00:01", "remaining_time": "1:00:00"},
        {"current_steps": 2, "total_steps": 100, "eval_loss": 0.7, "epoch": 0.02,
         "percentage": 2.0, "elapsed_time": "1 day, 2:00:05", "remaining_time": "1:00:00"},
    ]
    run = read_run(lines(tmp_path / "trainer_log.jsonl", rows))
    assert run.format == "llamafactory"
    assert run.series("loss").to_dict() == {1: 0.65, 2: 0.5}
    assert run.series("train/lr").to_dict() == {1: 1e-9, 2: 2e-9}
    assert run.series("eval/loss").to_dict() == {2: 0.7}
    # the step's first line's time: the eval line after it is later (trial 40c: every LF log
    # warned "elapsed_time: logged several times at one step with different values")
    assert run.series("elapsed_time").to_dict() == {1: 63.0, 2: 86400 + 7200 + 1.0}
    assert not any("elapsed_time" in w for w in run.warnings)
    assert not {"total_steps", "percentage", "remaining_time"} & set(run.metrics)
    # the job's planned length goes to the config, where `watch` finds it (phasewatch.planned)
    assert run.config == {"total_steps": 100}


# ---------------------------------------------------------------- verl
VERL_LOG = """\
2025-01-01 INFO worker.py:1752 -- Started a local Ray instance.
\x1b[36m(TaskRunner pid=123)\x1b[0m {'actor_rollout_ref': {'actor': {'clip_ratio': 0.2,
\x1b[36m(TaskRunner pid=123)\x1b[0m                                  'ppo_epochs': 1}}}
\x1b[36m(TaskRunner pid=123)\x1b[0m step:1 - actor/entropy:0.612 - actor/kl_loss:0.001 - critic/score/mean:0.25 - response_length/mean:300.5
Training Progress:   1%|          | 1/100 [00:20<33:00, 20.00s/it]
\x1b[36m(TaskRunner pid=123)\x1b[0m <|im_start|>user Let's solve this step by step: step:3 is not a record
\x1b[36m(WorkerDict pid=456, ip=10.0.0.1)\x1b[0m step:2 - actor/entropy:np.float64(0.598) - critic/score/mean:np.float64(0.5) - val-core/openai/gsm8k/acc/mean@1:0.41 - actor/pg_loss:-0.012
step:3 - actor/entropy:nan - critic/score/mean:0.75 - broken - timing/gen:1e-3
"""


def test_verl_console_log(tmp_path):
    path = write(tmp_path / "train.log", VERL_LOG)
    run = read_run(path)
    assert run.format == "verl_console"
    assert run.n_records == 3
    assert run.series("critic/score/mean").to_dict() == {1: 0.25, 2: 0.5, 3: 0.75}
    assert run.series("actor/entropy").to_dict() == {1: 0.612, 2: 0.598}
    assert run.series("actor/pg_loss").to_dict() == {2: -0.012}
    assert run.series("timing/gen").to_dict() == {3: 0.001}
    assert run.series("eval/accuracy").to_dict() == {2: 0.41}  # val-core/... role
    assert run.series("train/entropy").to_dict() == {1: 0.612, 2: 0.598}
    assert run.series("train/kl").to_dict() == {1: 0.001}
    assert run.series("train/reward").to_dict() == {1: 0.25, 2: 0.5, 3: 0.75}
    [warning] = run.warnings
    assert "skipped 1 unreadable key:value items" in warning and "line 8" in warning


def test_verl_jsonl_file_logger(tmp_path):
    rows = [{"step": 1, "data": {"actor/entropy": 0.6, "val-core/gsm8k/reward/mean@4": 0.3}},
            {"step": 2, "data": {"actor/entropy": 0.5}}]
    run = read_run(lines(tmp_path / "exp.jsonl", rows))
    assert run.format == "verl_jsonl"
    assert run.series("actor/entropy").to_dict() == {1: 0.6, 2: 0.5}
    assert run.series("eval/accuracy").to_dict() == {1: 0.3}


def test_sniffing_is_by_content_not_name(tmp_path):
    verl = write(tmp_path / "metrics.csv", VERL_LOG)  # a misleading name
    assert sniff_format(verl).FORMAT == "verl_console"
    csv = write(tmp_path / "log.jsonl", "step,loss\n1,0.5\n")
    assert sniff_format(csv).FORMAT == "csv"


def test_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    bom = "\ufeff"
    csv = write(tmp_path / "excel.csv", bom + "step,loss\n1,0.5\n")
    jsonl = write(tmp_path / "log.jsonl", bom + '{"step": 1, "loss": 0.5}\n')
    state = write(tmp_path / "trainer_state.json", bom + json.dumps({"log_history": [{"loss": 0.5, "step": 1}]}))
    for path in (csv, jsonl, state):
        run = read_run(path)
        assert run.series("loss").to_dict() == {1: 0.5} and run.warnings == []


def test_verl_log_with_a_long_preamble(tmp_path):
    preamble = "".join(f"\x1b[36m(TaskRunner pid=7)\x1b[0m sample text {i} " + "x" * 80 + "\n" for i in range(2000))
    path = write(tmp_path / "job.out", preamble + VERL_LOG)
    assert len(preamble) > 64 * 1024
    run = read_run(path)
    assert run.format == "verl_console" and run.n_records == 3


def test_jsonl_header_followed_in_pieces_equals_the_replay(tmp_path):
    """Live, the header waits for the record after it like the replay's reader does: no
    `args` metric, and the followed alerts are the replay's."""
    from watch_follower import eval_curve, follow_while_written

    curve = eval_curve()
    text = json.dumps({"type": "config", "args": {"steps": curve[-1][0], "lr": 1e-5}}) + "\n"
    text += "".join(json.dumps({"step": s, "eval/accuracy": a}) + "\n" for s, a in curve)
    path = tmp_path / "log.jsonl"
    follower = follow_while_written(path, text)
    assert follower.watch.result.n_records == len(curve)
