"""On a Hugging Face output folder, `analyze` and `watch` name the saved checkpoint to load
beside the recommended step (trial 29 finding 4): evaluations and saves on other cadences, and
`save_total_limit` deleting older checkpoints, leave the best evaluation without a checkpoint.
The folders are written with transformers' own `TrainerState.save_to_json`."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from phasewatch.alerts import format_alert
from phasewatch.cli import main
from phasewatch.live import LiveWatch

LAST = 2000


def peaked(step: int, rng) -> float:
    """Held-out accuracy rising to a sharp peak at step 900, then overfitting."""
    return round(0.8 - 0.3 * abs(step - 900) / 900 + rng.normal(0, 0.002), 4)


def write_hf_folder(out: Path, eval_every: int, save_every: int, keep: int | None = None,
                    save_steps: int | None = None, pause: float = 0.0,
                    started: threading.Event | None = None) -> dict[int, float]:
    """An HF output folder as the Trainer leaves it: a train loss every 50 steps, an evaluation
    every `eval_every`, `checkpoint-N/trainer_state.json` every `save_every` (the newest `keep`
    kept, as save_total_limit does), the folder's own trainer_state.json at the end. Returns
    the evaluations (step -> eval_accuracy)."""
    from transformers.trainer_callback import TrainerState

    rng = np.random.default_rng(0)
    state = TrainerState(max_steps=LAST, num_train_epochs=1, logging_steps=50,
                         eval_steps=eval_every, save_steps=save_steps or save_every)
    out.mkdir(parents=True)
    evals: dict[int, float] = {}
    saved: list[Path] = []
    for step in range(50, LAST + 1, 50):
        epoch = step / LAST
        state.log_history.append({"epoch": epoch, "loss": round(2.0 / (1 + step / 500), 4),
                                  "step": step})
        if step % eval_every == 0:
            evals[step] = peaked(step, rng)
            state.log_history.append({"epoch": epoch, "eval_accuracy": evals[step], "step": step})
        state.global_step = step
        if step % save_every == 0:
            folder = out / f"checkpoint-{step}"
            folder.mkdir()
            state.save_to_json(str(folder / "trainer_state.json"))
            saved.append(folder)
            if keep is not None and len(saved) > keep:
                shutil.rmtree(saved.pop(0))
            if started is not None:
                started.set()
            time.sleep(pause)
    state.log_history.append({"epoch": 1.0, "step": LAST, "train_runtime": 10.0,
                              "train_loss": 0.5})
    state.save_to_json(str(out / "trainer_state.json"))
    return evals


def analyze_json(path: Path, capsys) -> dict:
    assert main(["analyze", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def watch_jsonl(path: Path, capsys) -> tuple[list[dict], str]:
    assert main(["watch", str(path), "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    return [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_checkpoints_on_another_cadence_than_the_evaluations(tmp_path, capsys):
    """Eval every 50 steps, save every 200: the best evaluation (900) has no checkpoint. The
    recommendation stays the data's; beside it, the best saved checkpoint with its value."""
    out = tmp_path / "out"
    evals = write_hf_folder(out, eval_every=50, save_every=200)
    run = analyze_json(out, capsys)
    assert run["recommended_stop_step"] == 900
    saved = run["saved_checkpoint"]
    assert saved["step"] in (800, 1000) and saved["best_step_checkpoint"] == "not saved"
    assert saved["path"] == str(out / f"checkpoint-{saved['step']}")
    assert saved["value"] == evals[saved["step"]] and saved["value_step"] == saved["step"]

    assert main(["analyze", str(out)]) == 0
    text = capsys.readouterr().out
    off = abs(evals[saved["step"]] - evals[900])  # how far from the recommended evaluation
    assert (f"checkpoint to keep: step 900 (not saved; best saved: checkpoint-{saved['step']}, "
            f"eval_accuracy {evals[saved['step']]:.4g}, {off:.3g} from step 900's "
            f"{evals[900]:.4g})") in text

    # the same log outside an HF output folder: the same answer, and nothing else is said
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(out / "trainer_state.json", alone / "trainer_state.json")
    plain = analyze_json(alone, capsys)
    assert "saved_checkpoint" not in plain
    assert {k: v for k, v in run.items() if k not in ("saved_checkpoint", "source")} == \
        {k: v for k, v in plain.items() if k != "source"}


def test_the_python_api_names_the_saved_checkpoint_as_the_command(tmp_path, capsys):
    """`phasewatch.analyze(path)` is the Analysis `phasewatch analyze PATH` prints, with the
    saved checkpoint to load (trial 33 finding 6: the API left it None); the folder's
    trainer_state.json and a checkpoint's own both count as in the folder. A Run read
    beforehand has no folder: no saved checkpoint."""
    import phasewatch

    out = tmp_path / "out"
    write_hf_folder(out, eval_every=50, save_every=200, keep=3)
    for path in (out, out / "checkpoint-2000"):
        command = analyze_json(path, capsys)
        api = phasewatch.analyze(path)
        assert api.saved_checkpoint is not None
        assert api.saved_checkpoint.path == str(out / f"checkpoint-{api.saved_checkpoint.step}")
        assert json.loads(json.dumps(api.to_dict())) == command
        assert phasewatch.analyze(str(path)).to_dict() == api.to_dict()
    assert phasewatch.analyze(phasewatch.read_run(out)).saved_checkpoint is None


def test_checkpoints_at_steps_with_no_evaluation(tmp_path, capsys):
    """Eval every 150 steps, save every 200: a checkpoint is scored by the evaluation nearest
    it, and the outputs say which evaluation the value is from."""
    out = tmp_path / "out"
    evals = write_hf_folder(out, eval_every=150, save_every=200)
    run = analyze_json(out, capsys)
    saved = run["saved_checkpoint"]
    assert run["recommended_stop_step"] == 900 and saved["best_step_checkpoint"] == "not saved"
    assert saved["step"] % 200 == 0 and saved["value_step"] % 150 == 0
    assert abs(saved["value_step"] - saved["step"]) <= 100  # the evaluation nearest it
    assert saved["value"] == evals[saved["value_step"]]
    # the saved checkpoints nearest the peak: 800 (eval 750 or 900) and 1000 (eval 1050)
    assert saved["step"] in (800, 1000)
    assert main(["analyze", str(out)]) == 0
    assert (f"best saved: checkpoint-{saved['step']}, eval_accuracy "
            f"{saved['value']:.4g} at step {saved['value_step']}") in capsys.readouterr().out


@pytest.mark.parametrize("save_steps", [100, 1])  # as the Trainer writes it; a wrong one
def test_the_best_checkpoint_was_deleted_by_save_total_limit(tmp_path, capsys, save_steps):
    """Save every 100 steps with save_total_limit=2: checkpoint-900 was saved, then deleted;
    the outputs say so and name the best checkpoint that is left. A `save_steps` the
    checkpoints contradict is not believed (the cadence comes from the folder)."""
    out = tmp_path / "out"
    evals = write_hf_folder(out, eval_every=50, save_every=100, keep=2, save_steps=save_steps)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["checkpoint-1900",
                                                                  "checkpoint-2000"]
    run = analyze_json(out, capsys)
    saved = run["saved_checkpoint"]
    assert run["recommended_stop_step"] == 900
    assert saved["best_step_checkpoint"] == "deleted"
    better = max((1900, 2000), key=lambda s: (evals[s], -s))
    assert saved["step"] == better and saved["value"] == evals[better]

    records, err = watch_jsonl(out, capsys)
    summary = records[-1]
    assert summary["event"] == "summary" and summary["best_step"] == 900
    assert summary["saved_checkpoint"] == saved  # the whole-run answer, as analyze's
    assert "checkpoint to keep: step 900 (deleted, likely by save_total_limit; best saved: " \
           f"checkpoint-{better}" in err
    overfit = next(r for r in records if r["event"] == "overfit")
    # a replay: the checkpoints there now were saved after the alert, and are not offered
    assert "saved_checkpoint" in overfit and overfit["saved_checkpoint"] is None


def test_a_replay_stopped_before_the_folders_checkpoints_says_they_are_later(tmp_path, capsys):
    """`watch --stop-on overfit` replaying a finished folder (save_total_limit=2 kept
    checkpoint-1900 and -2000) stops at step 1000: no checkpoint up to the stop is left, and
    the summary must not say the folder holds none (it said "no checkpoint left in the
    folder" beside two)."""
    out = tmp_path / "out"
    write_hf_folder(out, eval_every=50, save_every=100, keep=2)
    assert main(["watch", str(out), "--stop-on", "overfit"]) == 1
    err = capsys.readouterr().err
    assert "stopped: overfit" in err and "checkpoint to keep: step 900 (deleted" in err
    assert "no checkpoint left in the folder" not in err
    assert "no checkpoint up to step 1000 left in the folder, only 2 later ones)" in err


def test_watch_replay_alerts_name_a_checkpoint_saved_by_then(tmp_path, capsys):
    out = tmp_path / "out"
    write_hf_folder(out, eval_every=50, save_every=200)
    records, _ = watch_jsonl(out, capsys)
    alerts = [r for r in records if r["event"] != "summary"]
    assert alerts and all("saved_checkpoint" in r for r in records)
    for alert in alerts:
        saved = alert["saved_checkpoint"]
        if saved is not None:
            assert saved["step"] <= alert["step"] and Path(saved["path"]).is_dir()
    assert main(["watch", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best checkpoint" in text and "best saved: checkpoint-" in text


def test_watch_follow_names_checkpoints_that_exist_when_the_alert_is_given(tmp_path):
    """Followed while the trainer saves (save_total_limit=2): an alert names a checkpoint saved
    up to its step that was among the newest two then (or none, when the follow lagged behind
    the writer and those were deleted already); the summary, one of the two left."""
    out = tmp_path / "out"
    started = threading.Event()
    writer = threading.Thread(target=write_hf_folder, args=(out, 50, 100, 2),
                              kwargs={"pause": 0.15, "started": started})
    writer.start()
    started.wait(20)
    watch = LiveWatch(out, follow=True, poll=0.01, stop_on=(), notice=lambda m: None,
                      info=lambda m: None)
    alerts = list(watch.alerts())
    writer.join()
    assert alerts and watch.result.reason == "finished"
    for alert in alerts:
        saved = alert.to_dict()["saved_checkpoint"]
        assert saved is None or alert.step - 300 < saved["step"] <= alert.step, alert
    assert watch.result.to_dict()["saved_checkpoint"]["step"] in (1900, 2000)


def test_the_folder_is_read_when_each_alert_is_given(tmp_path):
    """Checkpoints that appear or disappear between two alerts change what the second says."""
    out = tmp_path / "out"
    write_hf_folder(out, eval_every=50, save_every=100)
    watch = LiveWatch(out, stop_on=(), notice=lambda m: None, info=lambda m: None)
    alerts = watch.alerts()
    first = next(alerts)
    before = first.saved
    assert before is not None and before.step is not None and before.step <= first.step
    for folder in out.glob("checkpoint-*"):
        shutil.rmtree(folder)  # all deleted: the next alert has nothing to name
    (out / "checkpoint-100").mkdir()  # and one appears
    later = list(alerts)
    assert later
    for alert in later:
        assert alert.to_dict()["saved_checkpoint"]["step"] == 100
        assert "best saved: checkpoint-100" in format_alert(alert)


def test_a_log_outside_an_hf_output_folder_is_watched_as_before(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    rng = np.random.default_rng(0)
    path.write_text("".join(json.dumps({"step": s, "eval/accuracy": peaked(s, rng)}) + "\n"
                            for s in range(50, LAST + 1, 50)))
    records, err = watch_jsonl(path, capsys)
    assert records and all("saved_checkpoint" not in r for r in records)
    assert "best saved" not in err


def test_the_rule_the_callbacks_share():
    """`best_saved`: the best score among the checkpoints that exist, ties to the earlier;
    `save_interval`: the run's save_steps when the checkpoints agree, else their gaps (the
    newest may be the end-of-training save, off the cadence)."""
    from phasewatch.saved_checkpoints import best_saved, save_interval

    assert best_saved({200: 0.5, 400: 0.7, 600: 0.7, 800: None}) == 400
    assert best_saved({200: 0.5, 400: 0.7}, exists=lambda s: s != 400) == 200
    assert best_saved({}) is None
    assert save_interval([200, 400, 600, 700]) == 200
    assert save_interval([960, 1000]) == 40
    assert save_interval([960, 1000], save_steps=1) == 40
    assert save_interval([520, 960, 1000], save_steps=40) == 40
    assert save_interval([1000]) is None


def test_an_alert_says_to_copy_its_checkpoint_when_older_ones_are_being_deleted(tmp_path):
    """save_total_limit deletes the checkpoint an alert names at the next save (trial 30: an
    alert named checkpoint-125, deleted 1 s later): where the watch sees checkpoints being
    deleted, the alert says to copy the one it names now, while the trainer runs (here: its
    trainer_state.json plans 4000 steps, 2000 done)."""
    out = tmp_path / "out"
    write_hf_folder(out, eval_every=50, save_every=100)
    still_running(out)
    watch = LiveWatch(out, stop_on=(), notice=lambda m: None, info=lambda m: None)
    alerts = watch.alerts()
    first = next(alerts)
    assert first.saved is not None and not first.saved.rotating  # all are there: none deleted
    assert "being deleted" not in format_alert(first)
    shutil.rmtree(out / "checkpoint-100")  # seen in the first listing, gone now
    later = [a for a in alerts if a.saved is not None and a.saved.step is not None]
    assert later
    for alert in later:
        step = alert.saved.step
        assert alert.to_dict()["saved_checkpoint"]["being_deleted"] is True
        assert (f"older checkpoints are being deleted: copy checkpoint-{step} now"
                in format_alert(alert))


def still_running(out: Path, **fields) -> None:
    """The trainer_state.json files of `out` as a trainer still going would leave them."""
    for path in out.glob("**/trainer_state.json"):
        state = json.loads(path.read_text())
        state.update({"max_steps": 2 * LAST, **fields})
        path.write_text(json.dumps(state))


@pytest.mark.parametrize("case", ["finished", "stopped", "kept by the trainer"])
def test_no_copy_now_once_the_run_is_over_or_of_the_trainers_own_best(tmp_path, case):
    """Trial 31: a replay of a finished folder said 'older checkpoints are being deleted: copy
    checkpoint-700 now' of the checkpoint HF protects as best_model_checkpoint."""
    out = tmp_path / "out"
    write_hf_folder(out, eval_every=50, save_every=100)
    if case == "stopped":  # stopped early (an overfit stop): TrainerControl says so
        still_running(out, stateful_callbacks={
            "TrainerControl": {"args": {"should_training_stop": True}, "attributes": {}}})
    watch = LiveWatch(out, stop_on=(), notice=lambda m: None, info=lambda m: None)
    alerts = watch.alerts()
    next(alerts)
    shutil.rmtree(out / "checkpoint-100")  # rotation seen, as in the test above
    later = [a for a in alerts if a.saved is not None and a.saved.step is not None]
    if case == "kept by the trainer":  # running, and the trainer keeps the one named last
        kept = later[-1].saved.step
        still_running(out, best_model_checkpoint=f"run/checkpoint-{kept}")
        watch = LiveWatch(out, stop_on=(), notice=lambda m: None, info=lambda m: None)
        later = [a for a in watch.alerts() if a.saved is not None and a.saved.step is not None]
        assert all(a.saved.rotating for a in later if a.saved.step != kept)  # still copy those
        later = [a for a in later if a.saved.step == kept]
    assert later
    for alert in later:
        assert not alert.saved.rotating and "copy checkpoint" not in format_alert(alert)


def test_the_save_cadence_tells_rotation_from_one_listing():
    from phasewatch.live_checkpoints import LiveCheckpoints

    assert LiveCheckpoints([]).rotating([150, 175], save_steps=25)  # -125, -100... deleted
    assert not LiveCheckpoints([]).rotating([25, 50], save_steps=25)
    assert not LiveCheckpoints([]).rotating([200])  # one checkpoint: no cadence to tell by


def test_the_csv_names_the_checkpoint_to_load(tmp_path, capsys):
    """Trial 31 finding 9: text and JSON named the checkpoint to load; the CSV had only the
    recommended step (one with no checkpoint) and no stop_beats_last. New columns at the end."""
    import csv
    import io

    out = tmp_path / "out"
    write_hf_folder(out, eval_every=50, save_every=200)
    run = analyze_json(out, capsys)
    assert main(["analyze", str(out), "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(table[0])[-4:] == ["stop_beats_last", "saved_checkpoint", "saved_checkpoint_step",
                                   "stage_switch_step"]
    for row in table:
        assert row["saved_checkpoint"] == run["saved_checkpoint"]["path"]
        assert int(row["saved_checkpoint_step"]) == run["saved_checkpoint"]["step"]
        assert row["stop_beats_last"] == str(run["stop_beats_last"])
    # outside an HF output folder the checkpoint columns are empty
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(out / "trainer_state.json", alone / "trainer_state.json")
    assert main(["analyze", str(alone), "--format", "csv"]) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["saved_checkpoint"] == row["saved_checkpoint_step"] == ""


SFT4 = [0.66, 0.0, 0.03, 0.08, 0.185, 0.205, 0.215, 0.255, 0.255, 0.255, 0.23, 0.215, 0.24, 0.27,
        0.24, 0.275, 0.225, 0.26, 0.285, 0.3, 0.265, 0.245, 0.24, 0.25, 0.235, 0.295, 0.18, 0.2,
        0.205, 0.23, 0.275, 0.265, 0.265, 0.255, 0.24, 0.27, 0.245, 0.3, 0.275, 0.25, 0.265]


@pytest.mark.parametrize("values, every, saves", [
    (SFT4, 50, (1000, 1800, 2000)),  # trial 31 sft4: callback checkpoint-1000, CLI -1800
    ([0.66 - 0.02 * k for k in range(10)] + [0.4 + 0.012 * k for k in range(20)]
     + [0.64, 0.64, 0.63, 0.625], 20, (400, 500, 600)),  # ties 400 / 500 (sft1: 500 vs 400)
])
def test_the_callback_and_analyze_keep_the_same_checkpoint(values, every, saves):
    """Trial 31 finding 3: the callback scored saves by the monitor's window median, analyze
    and watch by `point_levels`; both now score with `score_saves`."""
    from phasewatch.callbacks._common import MonitorHost
    from phasewatch.saved_checkpoints import choose

    host = MonitorHost("eval/accuracy", "max", (), None, None, None)
    steps = [every * k for k in range(len(values))]
    for step, value in zip(steps, values):
        host.observe(step, {"eval/accuracy": value})
        if step in saves:
            host.saved_step(step)
    cli = choose(Path("out"), list(saves), steps, values, 1.0, None)
    assert host.best_saved_step() == cli.step
    restored = MonitorHost("eval/accuracy", "max", (), None, None, None)
    restored.load(json.loads(json.dumps(host.state())))
    assert restored.best_saved_step() == cli.step
    if cli.level is not None:  # the text quotes the level that ranked it, not the raw value alone
        assert f"(ranked by {cli.level:.4g}, its median" in cli.text("eval_accuracy")


def test_one_rule_picks_the_checkpoint_to_load():
    """`to_load`, for analyze, watch and the callbacks alike: the best step's own checkpoint
    where it was saved and still exists, else the best-scored one that exists (the HF callback
    ranked by score alone, and could name checkpoint-108 as the one to keep beside a best step
    of 96 that had its own checkpoint)."""
    from phasewatch.saved_checkpoints import to_load

    scores = {96: 0.48, 108: 0.49, 120: 0.47}
    assert to_load(scores, 96) == 96
    assert to_load(scores, 100) == 108  # no checkpoint of its own: the best-scored
    assert to_load(scores, 96, exists=lambda step: step != 96) == 108  # deleted by rotation
    assert to_load(scores, None) == 108
    assert to_load({96: None, 108: 0.49}, 96) == 108  # saved, but no evaluation scores it


def test_the_comparison_names_trainer_output_folders_by_the_folder(tmp_path, capsys):
    """Trial 38: the table named runs `dpo_b01/checkpoint-400/trainer_state.json`; the text
    above it names the file, the table the folder."""
    folders = []
    for name in ("beta01", "beta05"):
        state = tmp_path / name / "checkpoint-40" / "trainer_state.json"
        state.parent.mkdir(parents=True)
        state.write_text(json.dumps({"global_step": 40, "max_steps": 40, "log_history": [
            {"step": s, "eval_accuracy": 0.5 + 0.01 * s} for s in range(0, 41, 10)]}))
        folders.append(tmp_path / name)
    assert main(["analyze", *map(str, folders)]) == 0
    table = capsys.readouterr().out.split("\nrun ")[1].splitlines()[1:]
    assert [line.split()[0] for line in table] == [str(f) for f in folders]


def test_a_train_loss_checkpoint_is_ranked_by_a_median_of_readings(tmp_path, capsys):
    """A run with no evaluation is judged by its train loss, whose values are readings of the
    training batches (`Analysis.value_word`): the level a checkpoint is ranked by is their
    median, not one "with the evaluations beside it" (a ChatGLM LoRA output folder's
    checkpoint-23000, 112292454/ChatGLM-Efficient-Tuning-main, said so of its train loss)."""
    from transformers.trainer_callback import TrainerState

    rng = np.random.default_rng(1)
    state = TrainerState(max_steps=LAST, num_train_epochs=1, logging_steps=10, save_steps=300)
    out = tmp_path / "out"
    out.mkdir()
    for step in range(10, LAST + 1, 10):
        loss = 0.2 + 1.8 * np.exp(-step / 300) + rng.normal(0, 0.01)
        state.log_history.append({"epoch": step / LAST, "loss": round(loss, 4), "step": step})
        state.global_step = step
        if step % 300 == 0:
            (out / f"checkpoint-{step}").mkdir()
            state.save_to_json(str(out / f"checkpoint-{step}" / "trainer_state.json"))
    state.log_history.append({"epoch": 1.0, "step": LAST, "train_runtime": 10.0,
                              "train_loss": 0.5})
    state.save_to_json(str(out / "trainer_state.json"))
    assert main(["analyze", str(out)]) == 0
    analyzed = capsys.readouterr().out
    assert main(["watch", str(out)]) == 0
    watched = capsys.readouterr().err
    for said in (analyzed, watched):
        assert "best saved: checkpoint-1800, loss" in said, said
        assert "its median with the readings beside it" in said, said
        assert "evaluations beside it" not in said, said
