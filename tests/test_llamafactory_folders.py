"""LLaMA-Factory output folders (trial 40c): one metric live and offline, and a previous run's
trainer_state.json left in a re-used output_dir.

LLaMA-Factory writes `trainer_log.jsonl` as it trains (`eval_loss`, never `eval_accuracy`) and
the Trainer's `trainer_state.json` at the end, where `compute_accuracy: true` adds
`eval_accuracy`, its teacher-forced next-token accuracy. A watch of the folder took eval_loss
and `analyze` of the finished folder eval_accuracy (sft_lr6e-4: stop 162 live, 360 offline).
Re-run into the same folder, the old trainer_state.json stays until the new run ends, and a
follow of the folder followed it, said the run had finished and exited while the new run trained.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from watch_follower import Follower, replay

from phasewatch.cli import main
from phasewatch.folders import single_run
from phasewatch.io import read_run
from phasewatch.signals import choose_metric


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


LF_ARGS = b"\x80\x02cllamafactory.hparams.training_args\nTrainingArguments\n"  # as pickled


def _lf_line(step: int, total: int, **values) -> str:
    """A line as LLaMA-Factory's LogCallback.on_log writes it."""
    row = {"current_steps": step, "total_steps": total, **values,
           "percentage": round(100 * step / total, 2), "elapsed_time": f"0:00:{step % 60:02d}",
           "remaining_time": "0:00:10"}
    return json.dumps(row) + "\n"


def _state(rows: list[dict], step: int, max_steps: int) -> str:
    return json.dumps({"global_step": step, "max_steps": max_steps, "log_history": rows}, indent=2)


def _sft_rows(n: int = 20, accuracy: bool = True) -> list[dict]:
    """An SFT run's history: eval_loss falls to step 80 then rises (an overfit), the token
    accuracy rises and stays flat (compute_accuracy: it does not see the overfit)."""
    rows = []
    for i in range(n + 1):
        step = 10 * i
        rows.append({"step": step, "loss": 3.0 - 0.1 * i, "learning_rate": 1e-4})
        loss = 2.0 - 0.1 * min(i, 8) + 0.06 * max(0, i - 8) + 0.004 * (-1) ** i
        row = {"step": step, "eval_loss": round(loss, 4), "eval_runtime": 1.0}
        if accuracy:
            row["eval_accuracy"] = round(0.2 + 0.2 * min(i, 6) / 6 + 0.003 * (-1) ** i, 4)
        rows.append(row)
    return rows


def _lf_folder(folder: Path, rows: list[dict], with_log: bool = True) -> Path:
    folder.mkdir(parents=True)
    last = rows[-1]["step"]
    if with_log:
        (folder / "trainer_log.jsonl").write_text("".join(
            _lf_line(r["step"], last, **{k: v for k, v in r.items() if k in ("loss", "eval_loss")})
            for r in rows))
    (folder / "trainer_state.json").write_text(_state(rows, last, last))
    return folder


# ------------------------------------------------------------------ compute_accuracy
def test_the_token_accuracy_of_a_finished_folder_is_not_its_held_out_metric(tmp_path, capsys):
    folder = _lf_folder(tmp_path / "sft", _sft_rows())
    run = read_run(folder)
    assert "eval_accuracy" not in run.metrics and "eval_token_accuracy" in run.metrics
    assert choose_metric(run) == "eval/loss"  # as a watch of its trainer_log.jsonl takes it
    [note] = [w for w in run.warnings if "compute_accuracy" in w]
    assert "eval_accuracy as eval_token_accuracy" in note and "teacher-forced" in note
    code, out, _ = cli(capsys, "inspect", folder)
    assert code == 0 and "performance metric: eval_loss" in out
    [line] = [li for li in out.splitlines() if li.startswith("eval_token_accuracy")]
    assert line.split()[-1] == "eval/token_accuracy"  # no held-out accuracy role
    live, _ = replay(folder / "trainer_log.jsonl", stop_on=())
    offline, result = replay(folder, stop_on=())
    assert live == offline and result.metric == "eval_loss"
    code, out, _ = cli(capsys, "analyze", folder, "--metric", "eval_token_accuracy")
    assert code == 0 and "metric eval_token_accuracy (max)" in out


def test_a_checkpoint_of_a_run_whose_log_was_deleted_is_known_by_its_arguments(tmp_path):
    folder = tmp_path / "sft"
    (folder / "checkpoint-200").mkdir(parents=True)
    (folder / "checkpoint-200" / "training_args.bin").write_bytes(b"PK" + LF_ARGS)
    (folder / "checkpoint-200" / "trainer_state.json").write_text(_state(_sft_rows(), 200, 400))
    assert "eval_token_accuracy" in read_run(folder).metrics


def test_other_folders_keep_eval_accuracy(tmp_path):
    """A plain HF output folder (no LLaMA-Factory file), and a LLaMA-Factory reward model's,
    whose eval_accuracy is the accuracy on held-out preference pairs."""
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "trainer_state.json").write_text(_state(_sft_rows(), 200, 200))
    assert choose_metric(read_run(hf)) == "eval/accuracy"
    rm = _lf_folder(tmp_path / "rm", _sft_rows())
    (rm / "value_head.safetensors").write_bytes(b"\0" * 8)
    run = read_run(rm)
    assert "eval_accuracy" in run.metrics and not any("compute_accuracy" in w for w in run.warnings)


# ------------------------------------------------------------------ a previous run's state
def _later(path: Path, seconds: float = 5.0) -> None:
    """Make `path` written `seconds` after now (the order a trainer writes in, without sleeping)."""
    when = time.time() + seconds
    os.utime(path, (when, when))


def test_a_previous_runs_trainer_state_does_not_win_over_the_new_runs_log(tmp_path):
    folder = _lf_folder(tmp_path / "rerun", _sft_rows(), with_log=False)
    (folder / "trainer_log.jsonl").write_text(
        "".join(_lf_line(s, 200, loss=2.5 - s / 100) for s in (10, 20, 30)))
    _later(folder / "trainer_log.jsonl")
    found = single_run(folder)
    assert found.path == folder / "trainer_log.jsonl"
    assert "trainer_state.json (last written" in found.note and "is a previous run's" in found.note
    assert "trainer_log.jsonl was written since" in found.note and "at step 30" in found.note
    assert any("previous run's" in w for w in read_run(folder).warnings)


def test_a_copied_folder_is_not_a_new_run(tmp_path):
    """`cp -r` writes the files in any order: a log that ends at the state's last step, and
    checkpoints that hold the start of its history, are the same run's."""
    rows = _sft_rows()
    folder = _lf_folder(tmp_path / "copy", rows)
    _later(folder / "trainer_log.jsonl")
    (folder / "checkpoint-100").mkdir()
    (folder / "checkpoint-100" / "trainer_state.json").write_text(_state(rows[:22], 100, 200))
    _later(folder / "checkpoint-100" / "trainer_state.json")
    assert single_run(folder).path == folder / "trainer_state.json"


def test_a_new_runs_checkpoint_makes_the_state_a_previous_runs(tmp_path):
    """A checkpoint saved since with another history is a new run's; a TensorBoard log started
    since is not enough (an evaluation-only run into the folder starts one too)."""
    rows = _sft_rows()
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(_state(rows, 200, 200))
    start = folder / "runs" / "Dec05_05-45-33_vm"
    start.mkdir(parents=True)
    (start / f"events.out.tfevents.{int(time.time()) + 5}.vm.1.0").write_bytes(b"")
    assert single_run(folder).path == folder / "trainer_state.json"
    new = [dict(r, loss=r.get("loss", 0) + 1) for r in rows[:12]]
    (folder / "checkpoint-50").mkdir()
    (folder / "checkpoint-50" / "trainer_state.json").write_text(_state(new, 50, 200))
    _later(folder / "checkpoint-50" / "trainer_state.json")
    found = single_run(folder)
    assert found.path == folder / "checkpoint-50" / "trainer_state.json"
    assert "checkpoint-50/trainer_state.json, saved since" in found.note


def test_a_previous_runs_folder_is_parsed_once_while_unchanged(tmp_path, monkeypatch):
    """Finding the folder's run and each read of its follow asked which checkpoints are the
    new run's: every history was parsed again, though nothing had changed (a folder and two
    checkpoints: each history 2 times to find the run, 10 more in three follow reads)."""
    from phasewatch import stale_state
    from phasewatch.followed_states import CheckpointStates
    from phasewatch.io import open_source

    rows = _sft_rows()
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(_state(rows, 200, 200))

    def save(step: int, later: float) -> Path:
        new = [dict(r, loss=r.get("loss", 0) + 1) for r in rows[:step // 5]]
        (folder / f"checkpoint-{step}").mkdir()
        saved = folder / f"checkpoint-{step}" / "trainer_state.json"
        saved.write_text(_state(new, step, 200))
        _later(saved, later)
        return saved

    saved = save(50, 5.0)
    parsed, history = [], stale_state._history
    monkeypatch.setattr(stale_state, "_history", lambda p: parsed.append(p) or history(p))
    found = single_run(folder)
    assert found.path == saved
    source = CheckpointStates(open_source(found.path, follow=True), folder)
    for _ in range(3):
        list(source.read(final=False))
    assert sorted(parsed) == [saved, folder / "trainer_state.json"]
    # a new checkpoint changes the folder: asked again
    newer = save(60, 10.0)
    assert single_run(folder).path == newer
    assert len(parsed) == 5  # the three histories, once each


def test_real_trainer_rerun_into_a_followed_folder(tmp_path):
    """The real HF Trainer with LLaMA-Factory's log callback (its on_init_end and on_log, as in
    llamafactory/train/callbacks.py) trains twice into one folder; the follow is started on the
    finished first run, as trial 40c's was, before the second starts. It reads the first run's
    trainer_state.json, then the second run's trainer_log.jsonl once it is written, and ends
    with the second run (it used to say the run had finished and exit while it trained)."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tiny_trainer import tiny_trainer

    out = tmp_path / "out"

    class LogCallback(transformers.TrainerCallback):
        def on_init_end(self, args, state, control, **kwargs):
            if (out / "trainer_log.jsonl").exists():  # overwrite_output_dir
                os.remove(out / "trainer_log.jsonl")

        def on_log(self, args, state, control, **kwargs):
            last = state.log_history[-1]
            logs = {"current_steps": state.global_step, "total_steps": state.max_steps,
                    "loss": last.get("loss"), "eval_loss": last.get("eval_loss"),
                    "lr": last.get("learning_rate"), "epoch": last.get("epoch"),
                    "percentage": round(state.global_step / state.max_steps * 100, 2),
                    "elapsed_time": "0:00:01", "remaining_time": "0:00:01"}
            os.makedirs(out, exist_ok=True)
            with open(out / "trainer_log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps({k: v for k, v in logs.items() if v is not None}) + "\n")
            time.sleep(0.1)  # a real step takes a while

    def train(steps: int, lr: float) -> None:
        trainer = tiny_trainer(out, callbacks=[LogCallback()], max_steps=steps,
                               eval_strategy="steps", eval_steps=2, logging_steps=2,
                               save_strategy="steps", save_steps=10, learning_rate=lr)
        trainer.train()
        trainer.save_state()  # LLaMA-Factory's run_sft does, at the end

    train(20, 1e-3)
    follower = Follower(out, stop_on=())
    follower.wait_for_message("says its run ended before this follow began")
    train(30, 3e-3)
    followed = follower.ends_by_itself(timeout=60)
    watched = follower.watch.result
    [note] = [m for m in follower.messages if "is a previous run's" in m]
    assert "trainer_log.jsonl was written since" in note and "reading trainer_log.jsonl" in note
    assert _said(follower, "following trainer_log.jsonl, LLaMA-Factory's log as the run trains")
    assert not _said(follower, "following trainer_state.json")  # the ended run is not read
    live, result = replay(out / "trainer_log.jsonl", stop_on=())
    assert followed == live and watched.n_records == result.n_records
    assert watched.last_step == 30 and watched.reason == "finished"
    assert watched.metric == replay(out, stop_on=())[1].metric == "eval_loss"


def _said(follower: Follower, text: str) -> list[str]:
    return [m for m in follower.messages if text in m]


# ------------------------------------------------------------------ several eval sets
def _two_set_rows(n: int = 12) -> list[dict]:
    """`eval_on_each_dataset`: the target set's loss falls, the forgetting probe's rises."""
    rows = []
    for i in range(n + 1):
        step = 10 * i
        rows.append({"step": step, "loss": 3.0 - 0.1 * i})
        for name, loss in (("base_val", 2.0 + 0.2 * i), ("expert_val", 6.0 - 0.3 * i)):
            rows.append({"step": step, f"eval_{name}_loss": loss, f"eval_{name}_accuracy": 0.3,
                         f"eval_{name}_runtime": 1.0})
    return rows


def test_several_eval_sets_are_read_from_the_checkpoints_while_the_log_has_none(tmp_path,
                                                                                capsys):
    """LLaMA-Factory copies only `eval_loss` into trainer_log.jsonl: with two sets it has no
    evaluation (trial 40c: the live watch took the train loss), the checkpoints have both."""
    folder = tmp_path / "two"
    folder.mkdir()
    rows = _two_set_rows()
    (folder / "trainer_log.jsonl").write_text("".join(
        _lf_line(r["step"], 240, loss=r["loss"]) for r in rows if "loss" in r))
    (folder / "checkpoint-60").mkdir()
    (folder / "checkpoint-60" / "trainer_state.json").write_text(_state(rows[:19], 60, 240))
    found = single_run(folder)
    assert found.path == folder / "checkpoint-60" / "trainer_state.json"
    assert "trainer_log.jsonl holds no evaluation" in found.note
    # both sets' losses hold the role eval/loss (the second showed eval/expert_val_loss)
    code, out, _ = cli(capsys, "inspect", folder)
    roles = {line.split()[0]: line.split()[-1] for line in out.splitlines()
             if line.startswith("eval_")}
    assert code == 0 and roles["eval_base_val_loss"] == roles["eval_expert_val_loss"] == "eval/loss"
    assert roles["eval_expert_val_token_accuracy"] == "eval/expert_val_token_accuracy"
    # a log with an evaluation is the run's, as before
    (folder / "trainer_log.jsonl").write_text(_lf_line(10, 240, eval_loss=1.0))
    assert single_run(folder).path == folder / "trainer_log.jsonl"


# ------------------------------------------------------------------ the rest of trial 40c
def test_a_stage_saved_by_llamaboard_names_the_run(tmp_path, capsys):
    """LlamaBoard saves training_args.yaml (`stage: sft`); with it `analyze SFT DPO` suggests
    join (the CLI saves no stage, and the hint never fired for LLaMA-Factory runs)."""
    sft = _lf_folder(tmp_path / "sft", _sft_rows(accuracy=False))
    assert read_run(sft).algorithm in ("", None)
    (sft / "training_args.yaml").write_text("finetuning_type: full\nstage: sft\n")
    assert read_run(sft).algorithm == "sft"
    rows = [{"step": s, "loss": 0.7 - s / 1000, "rewards/chosen": -s / 100,
             "rewards/rejected": -s / 50, "rewards/accuracies": min(1.0, s / 50)}
            for s in range(10, 110, 10)]
    dpo = _lf_folder(tmp_path / "dpo", rows)
    code, _, err = cli(capsys, "analyze", sft, dpo)
    assert code == 0 and "an SFT run, then a DPO run" in err and "phasewatch join" in err


def test_a_metric_of_one_stage_is_drawn_over_the_whole_run_and_said(tmp_path, capsys):
    """A joined SFT -> DPO run's default eval_loss is the SFT stage's (the DPO loss is
    rl/eval_loss): the figure drew steps 0-108 with no switch and no word of the rest."""
    from test_join import reward_only_rl, run_cli, sft_rows, trainer_folder

    from phasewatch.plot import phase_figure

    sft = trainer_folder(tmp_path / "sft_out", [r for r in sft_rows() if "eval_accuracy" not in r],
                         400)
    rl = reward_only_rl(tmp_path / "grpo_out", True)
    out = tmp_path / "joined"
    assert run_cli(capsys, "join", sft, rl, "-o", out)[0] == 0
    run = read_run(out)
    fig = phase_figure(run, metric="reward")
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "reward: RL stage only (none before the switch)" in texts
    assert fig.axes[0].get_xlim()[0] <= run.steps[0] < 400  # the SFT stage, empty, on the axis


def test_a_replay_says_which_metric_the_trainer_kept_its_best_checkpoint_by(tmp_path, capsys):
    """`analyze` warned that the Trainer kept its best checkpoint by eval_loss, not the
    eval_accuracy analysed; `watch` (replay) did not: its choice is made on the first records,
    before the best checkpoint's step."""
    from phasewatch.live import LiveWatch

    rows = _sft_rows()
    folder = tmp_path / "hf_best"
    folder.mkdir()
    best = next(r["eval_loss"] for r in rows if r["step"] == 80 and "eval_loss" in r)
    (folder / "trainer_state.json").write_text(json.dumps(
        {"global_step": 200, "max_steps": 200, "best_metric": best, "best_global_step": 80,
         "log_history": rows}))
    said: list[str] = []
    watch = LiveWatch(folder, notice=said.append, info=said.append)
    list(watch.alerts())
    [note] = [m for m in said if "kept its best checkpoint by" in m]
    assert "by eval_loss" in note and "not by eval_accuracy" in note
    code, out, _ = cli(capsys, "analyze", folder)
    assert code == 0 and note.split(": ", 1)[1] in out
    said.clear()
    list(LiveWatch(folder, notice=said.append, info=said.append, metric="eval_accuracy").alerts())
    assert not [m for m in said if "kept its best checkpoint by" in m]  # as analyze --metric
