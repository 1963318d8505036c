"""`phasewatch join SFT_PATH RL_PATH [--switch-step S] -o OUT`: two trainers' runs (TRL's
SFTTrainer then GRPOTrainer from an SFT checkpoint) as one SFT-then-RL native run folder."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from phasewatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
TRL = ROOT / "sample_logs" / "trl"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def trainer_folder(folder: Path, rows: list[dict], max_steps: int) -> Path:
    """An HF/TRL output folder: checkpoint-N/trainer_state.json with `rows` as log_history."""
    last = max(r["step"] for r in rows)
    state = {"global_step": last, "max_steps": max_steps, "logging_steps": 10,
             "log_history": [{"epoch": r["step"] / 100, **r} for r in rows]}
    (folder / f"checkpoint-{last}").mkdir(parents=True)
    (folder / f"checkpoint-{last}" / "trainer_state.json").write_text(json.dumps(state))
    return folder


def sft_rows(last: int = 400, at_300: float | None = None) -> list[dict]:
    """SFT: evaluations every 20 steps that fall from 0.66 to 0.02 by step 40 and climb back to
    ~0.5; a train loss every 10 steps."""
    rng = np.random.default_rng(3)
    rows = []
    for step in range(0, last + 1, 10):
        if step:
            rows.append({"step": step, "loss": 2.0 / (1 + step / 50), "mean_token_accuracy": 0.9})
        if step % 20 == 0:
            acc = 0.66 if step == 0 else 0.02 + 0.48 * (1 - np.exp(-(step - 40) / 80)) * (step > 40)
            value = float(round(acc + rng.normal(0, 0.01) * (step > 0), 4))
            rows.append({"step": step, "eval_accuracy": value if step != 300 or at_300 is None
                         else at_300, "eval_loss": 1.0})
    return rows


def rl_rows(last: int = 200, start: float = 0.52) -> list[dict]:
    """RL from the SFT checkpoint: a step-0 evaluation, then a rise; reward every 5 steps."""
    rng = np.random.default_rng(4)
    rows = [{"step": 0, "eval_accuracy": start, "eval_loss": 0.01}]
    for step in range(5, last + 1, 5):
        rows.append({"step": step, "loss": 0.001, "reward": 0.3 + step / 1000})
        if step % 20 == 0:
            rows.append({"step": step, "eval_accuracy": float(round(
                start + 0.25 * step / last + rng.normal(0, 0.01), 4)), "eval_loss": 0.01})
    return rows


@pytest.fixture
def runs(tmp_path):
    sft = trainer_folder(tmp_path / "sft_out", sft_rows(at_300=0.5), 400)
    rl = trainer_folder(tmp_path / "grpo_out", rl_rows(), 200)
    return sft, rl, tmp_path / "joined"


def read_joined(folder: Path) -> tuple[dict[int, dict], dict]:
    rows: dict[int, dict] = {}
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["step"] not in rows  # one row a step
        rows[row.pop("step")] = row
    return rows, json.loads((folder / "run.json").read_text())


def test_switch_defaults_to_the_sft_runs_last_step(capsys, runs):
    sft, rl, out = runs
    code, stdout, err = run_cli(capsys, "join", sft, rl, "-o", out)
    assert code == 0, err
    assert "sft_to_rl at step 400" in stdout and "dropped" not in err
    rows, meta = read_joined(out)
    # the reader's epoch boundaries are kept (RL's shifted); one stage switch
    assert [e for e in meta["events"] if e["name"] != "epoch_boundary"] == [
        {"step": 400, "name": "sft_to_rl"}]
    assert {"step": 500, "name": "epoch_boundary"} in meta["events"]  # RL's epoch 1 at step 100
    assert meta["algorithm"] == "sft_then_rl" and meta["status"] == "finished"
    assert meta["config"]["steps"] == 600  # RL's max_steps after the switch
    assert [s["step_offset"] for s in meta["stages"]] == [0, 400]
    assert meta["stages"][1]["source_steps"] == [0, 200] and meta["stages"][1]["steps"] == [400, 600]
    assert max(rows) == 600 and rows[405]["reward"] == pytest.approx(0.305)


def test_switch_step_drops_the_later_sft_records_and_says_so(capsys, runs):
    sft, rl, out = runs
    code, _, err = run_cli(capsys, "join", sft, rl, "--switch-step", "300", "-o", out)
    assert code == 0, err
    # SFT steps 310..400: 10 train rows, of which 320, 340, ... 400 also hold an evaluation
    assert ("dropped 10 SFT records after step 300: RL started from step 300 (no "
            f"checkpoint-300 in {sft} now: it holds checkpoint-400)") in err
    rows, meta = read_joined(out)
    assert [e["step"] for e in meta["events"] if e["name"] == "sft_to_rl"] == [300]
    assert max(e["step"] for e in meta["events"] if e["step"] < 300) == 200
    assert sorted(rows)[:3] == [0, 10, 20] and max(rows) == 500
    assert "mean_token_accuracy" not in rows[310] and rows[310]["reward"] == pytest.approx(0.31)
    assert "metrics only in the SFT run: mean_token_accuracy" in err
    assert "metrics only in the RL run: reward" in err
    assert "metrics in both runs, one series across the switch: eval_accuracy (" in err
    # each trainer's loss is its own objective (trial 38: SFT's eval NLL went on as DPO's
    # preference loss, "overfit +178 sd" at the switch): the RL run's under rl/
    assert ("losses in both runs, kept apart: eval_loss, loss (each trainer's loss is its own "
            "objective; the RL run's are rl/eval_loss, rl/loss)") in err
    assert rows[310]["rl/loss"] == 0.001 and "loss" not in rows[310]


def test_at_the_switch_step_the_later_record_rl_step_0_supersedes(capsys, runs):
    """SFT's evaluation of checkpoint-300 (0.5) and RL's step-0 evaluation of the same model
    (0.52) share step 300: the later record is kept, as for a step re-logged in any log; SFT's
    train loss at 300, which RL did not log at its step 0, stays, and so does SFT's eval loss
    there (RL's own eval loss is rl/eval_loss)."""
    sft, rl, out = runs
    code, _, err = run_cli(capsys, "join", sft, rl, "--switch-step", "300", "-o", out)
    assert code == 0
    assert "step 300: RL's step-0 record supersedes SFT's for epoch, eval_accuracy (" in err
    rows, _ = read_joined(out)
    assert rows[300]["eval_accuracy"] == 0.52 and rows[300]["rl/eval_loss"] == 0.01
    assert rows[300]["eval_loss"] == 1.0
    assert rows[300]["loss"] == pytest.approx(2.0 / 7)


def test_analyze_of_the_joined_folder_has_its_stage_boundary_at_the_switch(capsys, runs):
    sft, rl, out = runs
    assert run_cli(capsys, "join", sft, rl, "--switch-step", "300", "-o", out)[0] == 0
    code, stdout, _ = run_cli(capsys, "analyze", out, "--format", "json")
    assert code == 0
    phases = json.loads(stdout)["runs"][0]["phases"]
    names = [p["name"] for p in phases]
    assert names[:2] == ["disruption", "readaptation"]
    rl_first = next(p for p in phases if p["start_step"] == 300)
    assert rl_first["name"] == "improvement" and phases[-1]["end_step"] == 500
    assert all(p["end_step"] <= 300 or p["start_step"] >= 300 for p in phases)


def test_the_trial_runs_join_into_the_committed_sample(capsys, tmp_path, monkeypatch):
    """sample_logs/trl: a TRL SFTTrainer run and the GRPOTrainer run started from its
    checkpoint-700 (CPU, a 2-layer GPT-2). `join` writes sample_logs/trl/joined byte for byte,
    and analyze finds SFT's disruption, readaptation and decline and RL's improvement from 700."""
    monkeypatch.chdir(ROOT)  # the sources in run.json are the paths as given
    out = tmp_path / "joined"
    code, _, err = run_cli(capsys, "join", "sample_logs/trl/sft_out", "sample_logs/trl/grpo_out",
                           "--switch-step", "700", "-o", out)
    assert code == 0, err
    assert "dropped 50 SFT records after step 700: RL started from checkpoint-700" in err
    assert (out / "metrics.jsonl").read_bytes() == (TRL / "joined" / "metrics.jsonl").read_bytes()
    meta = json.loads((out / "run.json").read_text())
    for stage in meta["stages"]:  # the source as a path of this machine
        assert Path(stage.pop("source_path")) == (ROOT / stage["source"]).resolve()
    committed = json.loads((TRL / "joined" / "run.json").read_text())
    assert {**meta, "name": "joined"} == committed
    code, stdout, _ = run_cli(capsys, "analyze", TRL / "joined", "--format", "json")
    phases = json.loads(stdout)["runs"][0]["phases"]
    assert [(p["name"], p["start_step"]) for p in phases] == [
        ("disruption", 0), ("readaptation", 40), ("overfit", 640), ("improvement", 700)]


def test_the_checkpoint_to_keep_is_named_in_its_stages_own_folder(capsys, runs, monkeypatch):
    """Trial 37: after `join`, "recommended stop: step 920" named no checkpoint: the steps are
    the pipeline's, and the one to load was the RL run's checkpoint-300 (its step 320)."""
    sft, rl, out = runs
    assert run_cli(capsys, "join", sft, rl, "--switch-step", "300", "-o", out)[0] == 0
    monkeypatch.chdir(out.parent.parent)  # the run.json's absolute source_path finds them
    code, stdout, _ = run_cli(capsys, "analyze", out)
    assert code == 0
    assert (f"checkpoint to keep: step 500 (the RL run's step 200, in {rl}: saved: "
            "checkpoint-200)") in stdout
    code, stdout, _ = run_cli(capsys, "analyze", out, "--format", "json")
    saved = json.loads(stdout)["runs"][0]["saved_checkpoint"]
    assert saved["path"] == str(rl / "checkpoint-200") and saved["step"] == 200
    assert saved["stage"] == f"the RL run's step 200, in {rl}"


def test_an_sft_run_given_second_is_refused(capsys, runs, tmp_path):
    """Trial 37: `join GRPO_RUN SFT_RUN` was accepted and read as a GRPO 'SFT stage' with a
    disruption 0.87 -> 0 where SFT began."""
    sft, _, out = runs
    grpo = trainer_folder(tmp_path / "grpo_named", [{**r, "reward_std": 0.1} for r in rl_rows()],
                          200)
    code, _, err = run_cli(capsys, "join", grpo, sft, "-o", out)
    assert code == 2 and not out.exists()
    assert "the first run is GRPO" in err and "give the SFT run first" in err


@pytest.mark.parametrize("case", ["exists", "force", "is_input", "file"])
def test_out_is_not_overwritten_without_force(capsys, runs, case):
    sft, rl, out = runs
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "run.json").write_text("{}")
    args = ["join", sft, rl, "-o", out]
    if case == "exists":
        code, _, err = run_cli(capsys, *args)
        assert code == 2 and f"{out} exists and is not empty; pass --force" in err
        assert (out / "run.json").read_text() == "{}"
    elif case == "force":
        assert run_cli(capsys, *args, "--force")[0] == 0
        assert (out / "notes.txt").read_text() == "mine" and (out / "metrics.jsonl").is_file()
    elif case == "is_input":
        code, _, err = run_cli(capsys, "join", sft, rl, "-o", sft, "--force")
        assert code == 2 and "is the input" in err
        assert (sft / "checkpoint-400" / "trainer_state.json").is_file()
    else:
        shutil.rmtree(out)
        out.write_text("x")
        code, _, err = run_cli(capsys, *args, "--force")
        assert code == 2 and "is not a folder" in err


def test_bad_input_follows_the_error_contract(capsys, runs, tmp_path):
    sft, rl, out = runs
    code, _, err = run_cli(capsys, "join", tmp_path / "missing", rl, "-o", out)
    assert code == 3 and str(tmp_path / "missing") in err and "Traceback" not in err
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    code, _, err = run_cli(capsys, "join", sft, broken, "-o", out)
    assert code == 3 and "broken.jsonl" in err
    for step, words in (("500", "after the SFT run's last record (step 400"), ("-1", "0 or more")):
        code, _, err = run_cli(capsys, "join", sft, rl, "--switch-step", step, "-o", out)
        assert code == 2 and words in err
    assert not out.exists()  # nothing written on an error


def test_a_force_that_fails_to_read_keeps_the_old_folder(capsys, runs, tmp_path):
    sft, rl, out = runs
    assert run_cli(capsys, "join", sft, rl, "-o", out)[0] == 0
    before = (out / "metrics.jsonl").read_bytes()
    code, _, _ = run_cli(capsys, "join", sft, tmp_path / "missing", "-o", out, "--force")
    assert code == 3 and (out / "metrics.jsonl").read_bytes() == before


def test_an_sft_run_then_an_rl_run_analysed_side_by_side_suggest_join(capsys, tmp_path):
    """Trial 37: `analyze SFT_OUT GRPO_OUT` printed two unrelated blocks, RL's steps over SFT's,
    with no word of `join`; two arms of the native format (independent runs) get none."""
    code, _, err = run_cli(capsys, "analyze", TRL / "sft_out", TRL / "grpo_out")
    assert code == 0 and "an SFT run, then a GRPO run" in err and "phasewatch join" in err
    code, _, err = run_cli(capsys, "analyze", TRL / "grpo_out", TRL / "sft_out")
    assert code == 0 and "phasewatch join" not in err
    code, _, err = run_cli(capsys, "analyze", ROOT / "sample_logs" / "sft",
                           ROOT / "sample_logs" / "rl")
    assert code == 0 and "phasewatch join" not in err


def test_the_comparison_and_csv_tables_say_where_each_pipelines_rl_began(capsys, runs, tmp_path):
    """Two pipelines, SFT cut at 300 and at 400: the comparison line puts the switch between the
    stages' phases; the CSV's `stage_switch_step` says it on every row (a "how long should SFT
    be" table, as the sweep's)."""
    sft, rl, out = runs
    assert run_cli(capsys, "join", sft, rl, "--switch-step", "300", "-o", out)[0] == 0
    assert run_cli(capsys, "join", sft, rl, "-o", tmp_path / "joined400")[0] == 0
    code, stdout, _ = run_cli(capsys, "analyze", out, tmp_path / "joined400")
    assert code == 0
    assert stdout.count("stage switch:") == 2  # not SFT's epoch 3 beginning at the switch step
    lines = {line.split()[0]: line for line in stdout.splitlines()[-2:]}
    assert lines[str(out)].endswith("disruption@0 > readaptation@20 | RL from 300: improvement@300")
    assert "| RL from 400: improvement@400" in lines[str(tmp_path / "joined400")]
    code, stdout, _ = run_cli(capsys, "analyze", out, tmp_path / "joined400", "--format", "csv")
    rows = stdout.splitlines()
    column = rows[0].split(",").index("stage_switch_step")
    assert {r.split(",")[0]: r.split(",")[column] for r in rows[1:]} == {
        str(out): "300", str(tmp_path / "joined400"): "400"}


def reward_only_rl(folder: Path, checkpoints: bool) -> Path:
    """A GRPO run that logs a reward and no evaluation (the analysed series is then the RL
    stage's alone): an output folder with its checkpoint, or its trainer_state.json alone (a
    log copied without the checkpoints, trial 38b)."""
    rng = np.random.default_rng(5)
    rows = [{"step": s, "loss": 0.001, "reward_std": 0.1,
             "reward": float(round(0.2 + 0.5 * min(s, 120) / 120 + rng.normal(0, 0.02), 4))}
            for s in range(5, 201, 5)]
    if checkpoints:
        return trainer_folder(folder, rows, 200)
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps(
        {"global_step": 200, "max_steps": 200, "log_history": rows}))
    return folder


@pytest.mark.parametrize("checkpoints", [True, False])
def test_a_reward_logged_by_rl_only_names_the_switch_and_the_rl_runs_step(capsys, tmp_path,
                                                                          checkpoints):
    """Trial 38b: the reward of a joined SFT -> GRPO run (RL only) said 'recommended stop: step
    143' with no word of the switch, and, the GRPO log copied without its checkpoints, nothing
    of GRPO's own step 85: a user looked for a checkpoint-143 no run wrote."""
    sft = trainer_folder(tmp_path / "sft_out", [r for r in sft_rows() if "eval_accuracy" not in r],
                         400)
    rl = reward_only_rl(tmp_path / "grpo_out", checkpoints)
    out = tmp_path / "joined"
    assert run_cli(capsys, "join", sft, rl, "-o", out)[0] == 0
    code, stdout, _ = run_cli(capsys, "analyze", out, "--format", "json")
    run = json.loads(stdout)["runs"][0]
    stop = run["recommended_stop_step"]
    assert code == 0 and run["metric"] == "reward" and stop > 400 and "events" not in run
    assert run["stage_only"] == [{"step": 400, "name": "sft_to_rl", "stage": "rl"}]
    saved = run["saved_checkpoint"]
    assert (saved["stage_name"], saved["stage_step"], saved["stage_folder"]) == ("rl", stop - 400,
                                                                                 str(rl))
    assert saved["step"] == (200 if checkpoints else None)  # the folder's one checkpoint
    code, stdout, _ = run_cli(capsys, "analyze", out)
    assert ("  stage switch: sft_to_rl at step 400 (reward is logged in the RL stage only, from "
            "step 405: the phases above are the RL stage's)") in stdout
    line = next(s for s in stdout.splitlines() if "checkpoint to keep:" in s)
    assert line.startswith(f"  checkpoint to keep: step {stop} (the RL run's step {stop - 400}, "
                           f"in {rl}: ")
    assert ("checkpoint-200, reward" in line if checkpoints else
            line.endswith(": the folder holds no checkpoint-N)"))
    code, stdout, _ = run_cli(capsys, "analyze", out, "--format", "csv")  # SFT's length too
    rows = stdout.splitlines()
    assert {r.split(",")[rows[0].split(",").index("stage_switch_step")] for r in rows[1:]} == {"400"}
    code, stdout, err = run_cli(capsys, "watch", out, "--format", "jsonl")
    summary = json.loads(stdout.splitlines()[-1])
    assert summary["saved_checkpoint"]["stage_step"] == summary["best_step"] - 400
    assert f"checkpoint to keep: step {summary['best_step']} (the RL run's step " \
           f"{summary['best_step'] - 400}, in {rl}: " in err


def test_a_metric_logged_by_sft_only_is_said_to_be_the_sft_stages(capsys, tmp_path):
    rows = [{**r, "mean_token_accuracy": 0.5 + r["step"] / 1000} if "mean_token_accuracy" in r
            else r for r in sft_rows(at_300=0.5)]
    sft = trainer_folder(tmp_path / "sft_out", rows, 400)
    rl = trainer_folder(tmp_path / "grpo_out", rl_rows(), 200)
    out = tmp_path / "joined"
    assert run_cli(capsys, "join", sft, rl, "-o", out)[0] == 0
    code, stdout, _ = run_cli(capsys, "analyze", out, "--metric", "mean_token_accuracy")
    assert code == 0 and ("stage switch: sft_to_rl at step 400 (mean_token_accuracy is logged "
                          "in the SFT stage only, up to step 400: the phases above are the SFT "
                          "stage's)") in stdout
    # its checkpoint, in the SFT run's own folder
    assert f"checkpoint to keep: step 400 (the SFT run's step 400, in {sft}: saved: " \
           "checkpoint-400)" in stdout


def test_the_best_saved_checkpoint_is_the_best_of_every_stage(capsys, tmp_path):
    """Trial 39: the best evaluation of a joined run was in the SFT stage, not saved, and "best
    saved" looked in the SFT folder only: SFT's checkpoint-250 (exact match 0.285), where the RL
    run's checkpoint-75 held 0.61."""
    sft = trainer_folder(tmp_path / "sft_out", sft_rows(), 400)  # best ~0.5 at 360, not saved
    rl = trainer_folder(tmp_path / "grpo_out", rl_rows(start=0.2), 200)  # checkpoint-200: 0.45
    out = tmp_path / "joined"
    assert run_cli(capsys, "join", sft, rl, "-o", out)[0] == 0
    code, stdout, _ = run_cli(capsys, "analyze", out, "--format", "json")
    assert code == 0
    run = json.loads(stdout)["runs"][0]
    saved = run["saved_checkpoint"]
    assert run["recommended_stop_step"] == saved["stage_step"] == 360
    assert saved["path"] == str(rl / "checkpoint-200")  # not SFT's checkpoint-400: 0.2 there
    assert saved["saved_stage"] == f"the RL run's, in {rl}"
    stdout = run_cli(capsys, "analyze", out)[1]
    assert f"best saved: checkpoint-200 (the RL run's, in {rl}), eval_accuracy 0.45" in stdout



def saving_folder(folder: Path, rows: list[dict], max_steps: int, every: int) -> Path:
    """`trainer_folder` with a checkpoint every `every` steps, each with the rows up to it."""
    for step in range(every, max_steps + 1, every):
        trainer_folder(folder, [r for r in rows if r["step"] <= step], max_steps)
    return folder


def test_a_train_loss_checkpoint_of_a_joined_run_is_ranked_by_readings(capsys, tmp_path):
    """A joined run judged by its train loss names the stage's checkpoint by the median of the
    readings beside it, as a single run's folder does (`SavedCheckpoint.reading`); it said "its
    median with the evaluations beside it" of a run with no evaluation."""
    rng = np.random.default_rng(5)  # falls to its best near step 240, between two saves
    sft = saving_folder(tmp_path / "sft_out", [
        {"step": s, "loss": round(0.2 + 1.8 * np.exp(-s / 60) + 0.002 * max(s - 250, 0)
                                  + rng.normal(0, 0.01), 4)} for s in range(10, 421, 10)], 420, 70)
    rl = trainer_folder(tmp_path / "grpo_out", [
        {"step": s, "loss": round(0.5 + rng.normal(0, 0.01), 4)} for s in range(10, 201, 10)],
        200)
    out = tmp_path / "joined"
    assert run_cli(capsys, "join", sft, rl, "-o", out)[0] == 0
    code, stdout, _ = run_cli(capsys, "analyze", out)
    assert code == 0 and "metric loss (min)" in stdout, stdout
    assert "best saved: checkpoint-" in stdout, stdout
    assert "its median with the readings beside it" in stdout, stdout
    assert "evaluations beside it" not in stdout, stdout
