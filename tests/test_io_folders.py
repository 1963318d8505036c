"""Folders as users have them: HF/TRL output dirs (checkpoints only), LLaMA-Factory and verl
output folders, a folder with one log of any format, folders of many runs (exit 4)."""

import json
import math
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.each_run import EXIT_SOME_FAILED
from phasewatch.errors import InputError
from phasewatch.folders import find_runs, single_run
from phasewatch.io import read_run

REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real_logs"
REAL_FOLDERS = ("hf_tensorboard", "llamafactory_grpo", "trl_grpo_unsloth", "verl_ppo_qwen05b",
                "wandb_offline_grpo")


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def accuracy(i: int) -> float:
    """A held-out curve with a dip, a recovery and a slow decline (30 evaluations)."""
    return round(0.5 - 0.3 * math.exp(-((i - 5) / 2.5) ** 2) + 0.01 * min(i, 18)
                 - 0.006 * max(i - 18, 0) + 0.004 * ((i * 7) % 5 - 2), 4)


def trainer_state(steps: list[int], per_epoch: int = 100) -> dict:
    history = []
    for i, step in enumerate(steps):
        history.append({"loss": 1.0 / (i + 1), "learning_rate": 1e-5, "epoch": step / per_epoch,
                        "step": step})
        history.append({"eval_accuracy": accuracy(i), "eval_loss": 1 - accuracy(i),
                        "epoch": step / per_epoch, "step": step})
    return {"global_step": steps[-1], "log_history": history}


def write_hf_output_dir(root: Path, checkpoints: list[int]) -> Path:
    """An HF/TRL output_dir as TRL leaves it: no trainer_state.json of its own, one per
    checkpoint, each with the history up to that checkpoint; model files beside them."""
    root.mkdir(parents=True)
    every = [10 * i for i in range(30)]
    for ckpt in checkpoints:
        folder = root / f"checkpoint-{ckpt}"
        folder.mkdir()
        state = trainer_state([s for s in every if s <= ckpt])
        (folder / "trainer_state.json").write_text(json.dumps(state, indent=2))
        (folder / "config.json").write_text('{"model_type": "qwen2"}')
    (root / "config.json").write_text('{"model_type": "qwen2", "epoch": 1}')
    (root / "all_results.json").write_text('{"epoch": 3.0, "train_loss": 0.4}')
    (root / "tokenizer.json").write_text('{"added_tokens": [{"id": 1, "content": "<s>"}]}')
    return root


def test_hf_output_dir_with_only_checkpoints_reads_the_newest_numerically(tmp_path, capsys):
    out_dir = write_hf_output_dir(tmp_path / "out", [90, 290, 100])  # 290 > 100 > 90
    found = single_run(out_dir)
    assert found.path == out_dir / "checkpoint-290" / "trainer_state.json"
    run = read_run(out_dir)
    assert run.format == "trainer_state" and run.series("eval_accuracy").index.max() == 290
    assert any("checkpoint-290" in w and "3 checkpoints" in w for w in run.warnings)
    code, out, _ = cli(capsys, "inspect", out_dir)
    assert code == 0 and "checkpoint-290/trainer_state.json" in out


def test_hf_output_dir_prefers_its_own_trainer_state(tmp_path):
    out_dir = write_hf_output_dir(tmp_path / "out", [100])
    (out_dir / "trainer_state.json").write_text(json.dumps(trainer_state([0, 10, 20, 30])))
    assert single_run(out_dir).path == out_dir / "trainer_state.json"


def test_llamafactory_output_folder(tmp_path):
    folder = tmp_path / "saves" / "qwen" / "lora" / "sft"
    folder.mkdir(parents=True)
    lines = [json.dumps({"current_steps": 5 * i, "total_steps": 100, "loss": 1 / i, "lr": 1e-4,
                         "epoch": i / 20, "percentage": i, "elapsed_time": "0:00:10",
                         "remaining_time": "0:10:00"}) for i in range(1, 21)]
    (folder / "trainer_log.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "all_results.json").write_text('{"epoch": 1.0}')
    (folder / "adapter_config.json").write_text('{"r": 8}')
    (folder / "training_loss.png").write_bytes(b"\x89PNG\r\n")
    run = read_run(folder)
    assert run.format == "llamafactory" and run.n_records == 20


def test_verl_project_folder_one_or_several_experiments(tmp_path):
    project = tmp_path / "verl_grpo_gsm8k"
    project.mkdir()

    def experiment(name: str, shift: float) -> None:
        rows = [json.dumps({"step": s, "data": {"critic/score/mean": 0.1 * s + shift,
                                                "train/lr(1e-3)": 0.01}}) for s in range(1, 11)]
        (project / f"{name}.jsonl").write_text("\n".join(rows) + "\n")

    experiment("qwen_a", 0.0)
    run = read_run(project)
    assert run.format == "verl_jsonl" and run.n_records == 10
    experiment("qwen_b", 0.5)
    runs = find_runs(project)
    assert [r.path.name for r in runs] == ["qwen_a.jsonl", "qwen_b.jsonl"]
    with pytest.raises(InputError, match="holds 2 runs"):
        read_run(project)


def test_folder_with_one_log_of_any_format(tmp_path):
    folder = tmp_path / "job_1234"
    folder.mkdir()
    (folder / "slurm-1234.out").write_text(
        "Loading checkpoint shards: 100%|##########| 2/2\n"
        "(TaskRunner pid=77) step:1 - critic/score/mean:0.10 - actor/entropy:1.2\n"
        "(TaskRunner pid=77) step:2 - critic/score/mean:0.20 - actor/entropy:1.1\n")
    (folder / "run.sh").write_text("python -m verl.trainer.main_ppo\n")
    (folder / "config.yaml").write_text("trainer:\n  total_epochs: 1\n")
    run = read_run(folder)
    assert run.format == "verl_console" and run.n_records == 2


def test_empty_folder_says_no_log(tmp_path, capsys):
    (tmp_path / "README.md").write_text("notes\n")
    code, _out, err = cli(capsys, "inspect", tmp_path)
    assert code == 3 and "no training log found" in err and str(tmp_path) in err


def test_a_folder_whose_log_is_still_empty_names_the_file(tmp_path, capsys):
    """A folder whose log was created before its first record (opened, nothing written yet):
    the error says which file is empty, not only that no log was found (metrics.jsonl, the
    native name, is read and said to hold no records)."""
    (tmp_path / "eval_log.csv").write_text("")
    code, _out, err = cli(capsys, "analyze", tmp_path)
    assert code == 3 and "no training log found" in err and "eval_log.csv is empty" in err


def native_run(folder: Path, n: int = 30) -> Path:
    folder.mkdir(parents=True)
    rows = [json.dumps({"step": 10 * i, "eval/accuracy": accuracy(i)}) for i in range(n)]
    (folder / "metrics.jsonl").write_text("\n".join(rows) + "\n")
    return folder


def test_folder_of_runs_inspect_lists_analyze_takes_each(tmp_path, capsys):
    root = tmp_path / "sweep"
    native_run(root / "seed0")
    native_run(root / "seed1")
    write_hf_output_dir(root / "trl_out", [150, 290])
    code, out, _ = cli(capsys, "inspect", root)
    assert code == 0 and "folder of 3 runs" in out
    assert "seed0" in out and "seed1" in out and "checkpoint-290" in out
    code, out, _err = cli(capsys, "analyze", root, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["runs"]) == 3 and "failed" not in doc


def test_a_failing_run_is_reported_the_others_still_run(tmp_path, capsys):
    root = tmp_path / "runs"
    native_run(root / "good_a")
    native_run(root / "good_b")
    bad = root / "broken"
    bad.mkdir()
    # a trainer_state.json damaged in its first row: recognised, but no record can be read
    (bad / "trainer_state.json").write_text('{"global_step": 5,\n "log_history": [\n  {"step": 1, "loss": }\n]}')
    code, out, err = cli(capsys, "analyze", root, "--format", "json")
    assert code == EXIT_SOME_FAILED == 4
    doc = json.loads(out)
    assert {Path(r["source"]).name for r in doc["runs"]} == {"good_a", "good_b"}
    [failed] = doc["failed"]
    assert failed["exit_code"] == 3 and "trainer_state.json:3" in failed["error"]
    assert "phasewatch: error:" in err and "trainer_state.json:3" in err
    # text output: the failure is listed after the comparison
    code, out, err = cli(capsys, "analyze", root)
    assert code == 4 and "not analysed" in out
    # several PATH arguments, one of them missing: the others still run
    code, out, err = cli(capsys, "analyze", root / "good_a", tmp_path / "nope", "--format", "json")
    assert code == 4 and len(json.loads(out)["runs"]) == 1 and "no such file" in err


def test_one_run_keeps_its_own_exit_code(tmp_path, capsys):
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"step": 1, "loss": 0.5\n')
    code, out, err = cli(capsys, "analyze", bad)
    assert code == 3 and out == ""
    root = tmp_path / "all_bad"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / "trainer_state.json").write_text('{"log_history": [{"step": 1, "loss": }]}')
    code, out, err = cli(capsys, "analyze", root)
    assert code == 3 and err.count("phasewatch: error:") == 2


def test_plot_folder_of_runs_draws_the_good_ones(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    root = tmp_path / "runs"
    native_run(root / "a")
    native_run(root / "b")
    (root / "c").mkdir()
    (root / "c" / "trainer_state.json").write_text('{"log_history": [{"step": 1, "loss": }]}')
    code, _out, err = cli(capsys, "plot", root, "-o", tmp_path / "cmp.png")
    assert code == 4 and (tmp_path / "cmp.png").stat().st_size > 0
    assert "trainer_state.json:1" in err


# ---------------------------------------------------------------- the real logs
real = pytest.mark.skipif(not REAL_LOGS.is_dir(), reason="../shared/real_logs is absent")


@real
@pytest.mark.parametrize("name", REAL_FOLDERS)
def test_inspect_reads_every_real_logs_folder(name, capsys):
    folder = REAL_LOGS / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    code, out, err = cli(capsys, "inspect", folder, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["n_records"] > 0 and doc["metrics"]


@real
def test_analyze_all_real_logs_does_not_stop_at_the_first_failure(capsys):
    folders = [REAL_LOGS / n for n in REAL_FOLDERS if (REAL_LOGS / n).is_dir()]
    code, out, _err = cli(capsys, "analyze", *folders, "--format", "json")
    doc = json.loads(out)
    analysed = len(doc["runs"])
    failed = len(doc.get("failed", []))
    assert analysed + failed == len(folders) and analysed >= 3
    assert code == (4 if failed else 0)
    code, out, _ = cli(capsys, "inspect", REAL_LOGS)
    assert code == 0 and f"folder of {len(folders)} runs" in out


def write_scalars(folder: Path, values: list[float]) -> None:
    from tensorboard.summary import Writer

    writer = Writer(str(folder))
    for i, value in enumerate(values):
        writer.add_scalar("val-core/gsm8k/acc/mean@1", value, step=i)
    writer.flush()
    writer.close()


def test_tensorboard_experiments_are_runs_but_train_validation_is_one(tmp_path):
    pytest.importorskip("tensorboard")
    project = tmp_path / "tensorboard_log" / "verl_grpo"  # verl: <project>/<experiment>/
    write_scalars(project / "qwen_lr1e-6", [0.1, 0.2, 0.3])
    write_scalars(project / "qwen_lr3e-6", [0.2, 0.3, 0.4])
    runs = find_runs(tmp_path / "tensorboard_log")
    assert [r.path.name for r in runs] == ["qwen_lr1e-6", "qwen_lr3e-6"]
    keras = tmp_path / "logs"
    write_scalars(keras / "train", [0.9, 0.7])
    write_scalars(keras / "validation", [1.0, 0.8])
    assert [r.path for r in find_runs(keras)] == [keras]


def test_a_folder_with_another_loggers_metrics_jsonl_reads_as_the_file_does(tmp_path):
    """A `metrics.jsonl` without the trainer's run.json beside it is some other logger's JSON
    lines (here stepped by `iteration`, as a GRPO script in the real-log corpus writes it): the
    folder gives the run the file gives, not 'no step key' at line 1."""
    folder = tmp_path / "grpo"
    folder.mkdir()
    rows = [{"iteration": i, "accuracy": 0.5 + 0.01 * i, "loss": 1.0 / (i + 1)} for i in range(12)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_folder, from_file = read_run(folder), read_run(folder / "metrics.jsonl")
    assert from_folder.format == from_file.format == "jsonl"
    assert from_folder.series("accuracy").tolist() == from_file.series("accuracy").tolist()
    assert from_folder.series("accuracy").index.tolist() == list(range(12))


def test_a_folder_holding_one_log_file_names_the_run(tmp_path):
    """Given as a folder, `run7/metrics.csv` is run `run7` (a sweep of such folders had every
    row named `metrics`); given as the file, its stem."""
    for name, fmt in (("run7", "metrics.csv"), ("run8", "train_log.jsonl")):
        folder = tmp_path / name
        folder.mkdir()
        rows = [(s, 0.5 + s / 1000) for s in range(0, 100, 10)]
        if fmt.endswith(".csv"):
            text = "step,eval_accuracy\n" + "".join(f"{s},{a}\n" for s, a in rows)
        else:
            text = "".join(json.dumps({"step": s, "eval_accuracy": a}) + "\n" for s, a in rows)
        (folder / fmt).write_text(text)
        assert read_run(folder).name == name
        assert read_run(folder / fmt).name == Path(fmt).stem


def test_an_output_log_is_the_run_unless_it_is_wandbs_console_capture(tmp_path):
    """`python train.py > output.log` (verl-opd-aime-collapse-27ev's folder, real corpus) was
    refused as 'no training log found': `output.log` was passed over everywhere as W&B's capture
    of a run's console. It is that only in a W&B run's `files/` or beside its metadata, where
    the run's history holds the same records; a sweep's glob skips it there too."""
    from phasewatch.sweep.paths import _never_a_log

    text = "".join(f"step:{s} - val/test_score:{0.5 + s / 1000:.4f} - actor/loss:0.1\n"
                   for s in range(0, 200, 10))
    own = tmp_path / "run"
    own.mkdir()
    (own / "output.log").write_text(text)
    assert read_run(own).series("val/test_score").size == 20
    assert not _never_a_log(str(own / "output.log"))
    files = tmp_path / "wandb" / "run-1" / "files"
    files.mkdir(parents=True)
    (files / "output.log").write_text(text)
    beside = tmp_path / "beside"
    beside.mkdir()
    (beside / "output.log").write_text(text)
    (beside / "wandb-metadata.json").write_text("{}")
    for folder in (files, beside):
        with pytest.raises(InputError, match="no training log found"):
            read_run(folder)
        assert _never_a_log(str(folder / "output.log"))


def test_folders_of_other_logs_in_runs_are_several_runs(tmp_path):
    """Only a Trainer's TensorBoard starts (`runs/<date>_<host>/` with event files) are one run
    (tests/test_watch_follow_resumed_starts.py); other logs in such folders stay apart."""
    out = tmp_path / "out"
    for name in ("Dec04_15-08-55_vm", "Dec04_15-10-39_vm"):
        (out / "runs" / name).mkdir(parents=True)
        (out / "runs" / name / "metrics.jsonl").write_text('{"step": 1, "eval/accuracy": 0.5}\n')
    with pytest.raises(InputError, match="holds 2 runs"):
        read_run(out / "runs")


def test_a_newest_checkpoint_at_the_runs_last_step_needs_no_warning(tmp_path):
    """The Trainer saves its last step: a checkpoint whose global_step is the run's max_steps
    holds the whole history, and the warning that steps after it are missing was noise on
    every command of every finished TRL output folder (trial 38). Keys sorted, as HF writes."""
    out_dir = write_hf_output_dir(tmp_path / "out", [90, 290])
    state_path = out_dir / "checkpoint-290" / "trainer_state.json"
    state = json.loads(state_path.read_text())
    for max_steps, warned in ((400, True), (290, False)):
        state_path.write_text(json.dumps({**state, "max_steps": max_steps, "logging_steps": 10,
                                          "stateful_callbacks": {"x": "y" * 9000}},
                                         indent=2, sort_keys=True))
        run = read_run(out_dir)
        assert any("checkpoint-290" in w and "2 checkpoints" in w for w in run.warnings) == warned
