"""In an Ultralytics YOLO run folder, `analyze` and `watch` name the file in `weights/` that holds
the model of the recommended epoch, and say which epoch best.pt holds and by what: the trainer
saves best.pt at the last epoch of its highest *fitness* (0.1 mAP50 + 0.9 mAP50-95, from
Ultralytics 8.3.198 mAP50-95 alone; boxes plus masks for a segmenter), not at phasewatch's
recommended epoch, and `epoch{N}.pt` (`save_period`) holds results.csv's epoch N + 1. The folders
are written as the trainers leave them: results.csv with their column names, args.yaml (YOLOv5:
opt.yaml), and `weights/*.pt` files that hold nothing (phasewatch only lists them)."""

from __future__ import annotations

import json

import phasewatch
from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.live import LiveWatch
from phasewatch.yolo_weights import fitnesses, run_folder
from tests.yolo_columns import DETECT, SEGMENT, V5

# args.yaml as the trainer writes it (`vars(self.args)`: every key of its defaults); `compile`
# is in those of 8.3.197 and later, not of 8.3.194 and before
ARGS = ("task: {task}\nmode: train\nmodel: yolov8s.pt\ndata: data.yaml\nepochs: 30\ntime: null\n"
        "patience: 100\nbatch: 16\nimgsz: 640\nsave: {save}\nsave_period: {period}\n"
        "{compile}lr0: 0.01\n")
PEAK = 12  # the epoch of the best mAP50-95: the recommended stop
SPIKE = 14  # an epoch of a high mAP50 that makes 0.1 mAP50 + 0.9 mAP50-95 highest there


def map5095(epoch: int) -> float:
    """mAP50-95 rising to 0.5 at epoch 12, then falling (the overfit phasewatch stops before)."""
    return round(0.5 - (0.03 * (PEAK - epoch) if epoch < PEAK else 0.004 * (epoch - PEAK)), 5)


def map50(epoch: int) -> float:
    return 0.85 if epoch == SPIKE else 0.7


def detect_run(folder, weights=("last.pt", "best.pt"), epochs=30, compile_key=False,
               save="true", period=-1, fifty=map50, wide=map5095):
    """`runs/detect/train/`: results.csv of `epochs` rows (from 1), args.yaml, and empty
    `weights/` files named `weights`."""
    folder.mkdir(parents=True)
    rows = [",".join(DETECT)]
    for e in range(1, epochs + 1):
        rows.append(",".join(str(v) for v in (
            e, 9.5 * e, 1.2 - 0.01 * e, 1.1, 1.1, 0.8, 0.7, fifty(e), wide(e), 1.3, 1.2, 1.2,
            0.001, 0.001, 0.001)))
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    (folder / "args.yaml").write_text(ARGS.format(
        task="detect", save=save, period=period,
        compile="compile: false\n" if compile_key else ""))
    (folder / "weights").mkdir()
    for name in weights:
        (folder / "weights" / name).write_bytes(b"\x80not a pickle")
    return folder


def saved_of(folder, metric="metrics/mAP50-95(B)"):
    analysis = phasewatch.analyze(folder, metric=metric)
    assert analysis.recommended_stop_step == PEAK, analysis.recommended_stop_step
    return analysis.saved_checkpoint


def test_the_recommended_epochs_own_periodic_file_holds_it_one_past_its_name(tmp_path):
    """`epoch{N}.pt` is saved after the loop's epoch N, which results.csv logs as N + 1."""
    folder = detect_run(tmp_path / "train", weights=("last.pt", "best.pt", "epoch10.pt",
                                                     "epoch11.pt"), period=1)
    saved = saved_of(folder)
    assert saved.step == PEAK and saved.best == "saved"
    assert saved.path == str(folder / "weights" / "epoch11.pt")
    assert saved.text("metrics/mAP50-95(B)") == (
        "saved: weights/epoch11.pt (epoch 12: the trainer numbers its files from 0, "
        "results.csv's epochs from 1); best.pt: epoch 14, the highest Ultralytics' fitness "
        "0.1 mAP50 + 0.9 mAP50-95")
    assert saved.to_dict()["best_pt"] == [
        {"epoch": SPIKE, "by": "Ultralytics' fitness 0.1 mAP50 + 0.9 mAP50-95"}]


def test_best_pt_is_named_where_its_fitness_puts_it_at_the_recommended_epoch(tmp_path):
    folder = detect_run(tmp_path / "train", fifty=lambda e: 0.7)  # no spike: best.pt is 12
    saved = saved_of(folder)
    assert saved.step == PEAK and saved.path == str(folder / "weights" / "best.pt")
    assert saved.text("metrics/mAP50-95(B)") == (
        "saved: weights/best.pt (epoch 12, the highest Ultralytics' fitness 0.1 mAP50 + 0.9 "
        "mAP50-95)")


def test_otherwise_the_best_scored_file_that_exists(tmp_path):
    """No file of epoch 12: best.pt (epoch 14, 0.492) scores above last.pt (epoch 30, 0.428)
    and epoch4.pt (epoch 5, 0.29) by the level phasewatch ranks evaluations by."""
    folder = detect_run(tmp_path / "train", weights=("last.pt", "best.pt", "epoch4.pt"))
    saved = saved_of(folder)
    assert saved.best == "not found" and saved.step == SPIKE
    assert saved.path == str(folder / "weights" / "best.pt")
    assert saved.text("metrics/mAP50-95(B)").startswith(
        "no weights of epoch 12 saved; best saved: weights/best.pt (epoch 14, the highest "
        "Ultralytics' fitness 0.1 mAP50 + 0.9 mAP50-95), metrics/mAP50-95(B) 0.492")
    (folder / "weights" / "best.pt").unlink()  # e.g. copied away: last.pt holds epoch 30
    saved = saved_of(folder)
    assert saved.path == str(folder / "weights" / "last.pt") and saved.step == 30
    assert "weights/last.pt (epoch 30, the last)" in saved.text("metrics/mAP50-95(B)")


def test_of_equal_fitness_best_pt_holds_the_later_epoch(tmp_path):
    """`best_fitness == fitness` after a strictly-greater update: a tie overwrites best.pt."""
    wide = lambda e: 0.45 if e in (9, 15) else round(0.3 + 0.001 * e, 5)
    folder = detect_run(tmp_path / "train", fifty=lambda e: 0.7, wide=wide)
    assert run_folder(read_run(folder / "results.csv")).best_pt.epochs == (15,)


def test_a_segmenters_fitness_is_its_boxes_plus_its_masks(tmp_path):
    """SegmentMetrics.fitness: box mAPs peak at epoch 8, mask mAPs higher still at 14."""
    folder = tmp_path / "segment" / "train"
    folder.mkdir(parents=True)
    rows = [",".join(SEGMENT)]
    for e in range(1, 21):
        box = 0.6 if e == 8 else 0.5
        mask = 0.4 + (0.15 if e == 14 else 0.0)
        rows.append(",".join(str(v) for v in (
            e, 9.5 * e, 1.2, 2.0, 1.1, 1.1, 0.8, 0.7, box + 0.2, box, 0.8, 0.7, mask + 0.2, mask,
            1.3, 2.1, 1.2, 1.2, 0.001, 0.001, 0.001)))
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    (folder / "args.yaml").write_text(ARGS.format(task="segment", save="true", period=-1,
                                                  compile=""))
    (folder / "weights").mkdir()
    (folder / "weights" / "best.pt").write_bytes(b"")
    yolo = run_folder(read_run(folder / "results.csv"))
    assert yolo.best_pt.epochs == (14,)
    assert yolo.best_pt.by == (
        "Ultralytics' fitness 0.1 mAP50 + 0.9 mAP50-95, of boxes plus of masks",)
    assert yolo.files == {14: folder / "weights" / "best.pt"}


def test_which_release_trained_it_decides_best_pt_where_the_weightings_disagree(tmp_path):
    """From 8.3.198 the fitness is mAP50-95 alone (epoch 12 here), before it 0.1 mAP50 + 0.9
    mAP50-95 (epoch 14). An args.yaml with `compile` (8.3.197 writes it) does not say which:
    both are said, and best.pt is ranked as the lower of the two (still above last.pt, epoch
    30); one without `compile` is older than 8.3.198 (the tests above)."""
    folder = detect_run(tmp_path / "train", compile_key=True)
    saved = saved_of(folder)
    assert saved.step == SPIKE and saved.path == str(folder / "weights" / "best.pt")
    assert saved.text("metrics/mAP50-95(B)") == (
        "no file surely of epoch 12; best saved: weights/best.pt (epoch 14 by Ultralytics' "
        "fitness 0.1 mAP50 + 0.9 mAP50-95 (before 8.3.198) or epoch 12 by Ultralytics' fitness "
        "mAP50-95 (from 8.3.198) (args.yaml does not say which release trained it); ranked as "
        "epoch 14, the lower of the two), metrics/mAP50-95(B) 0.492, 0.008 from epoch 12's 0.5")
    assert [b["epoch"] for b in saved.to_dict()["best_pt"]] == [SPIKE, PEAK]
    same = detect_run(tmp_path / "same", fifty=lambda e: 0.7, compile_key=True)
    assert saved_of(same).text("metrics/mAP50-95(B)") == (
        "saved: weights/best.pt (epoch 12, the highest Ultralytics' fitness 0.1 mAP50 + 0.9 "
        "mAP50-95 (and, from 8.3.198, mAP50-95: the same epoch))")


def test_without_save_only_the_last_epoch_is_saved(tmp_path):
    folder = detect_run(tmp_path / "train", save="false")
    yolo = run_folder(read_run(folder / "results.csv"))
    assert yolo.best_pt.epochs == (30,) and yolo.files == {30: folder / "weights" / "best.pt"}


def test_yolov5_counts_epochs_and_names_files_from_0(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    rows = [",".join(f"{name:>20}" for name in V5)]
    for e in range(30):
        wide = map5095(e + 1)
        rows.append(",".join(f"{v:>20.5g}" for v in (
            e, 0.05, 0.03, 0.0, 0.9, 0.9, map50(e + 1), wide, 0.05, 0.03, 0.0, 0.001, 0.001,
            0.001)))
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    (folder / "opt.yaml").write_text("weights: yolov5s.pt\nepochs: 30\nsave_period: 1\n"
                                     "nosave: false\n")
    (folder / "weights").mkdir()
    for name in ("last.pt", "best.pt", "epoch11.pt"):
        (folder / "weights" / name).write_bytes(b"")
    analysis = phasewatch.analyze(folder)
    assert analysis.recommended_stop_step == PEAK - 1  # epoch 11 of a loop from 0
    saved = analysis.saved_checkpoint
    assert saved.path == str(folder / "weights" / "epoch11.pt") and saved.best == "saved"
    assert saved.text("metrics/mAP_0.5:0.95") == (
        "saved: weights/epoch11.pt; best.pt: epoch 13, the highest YOLOv5's fitness 0.1 "
        "mAP@0.5 + 0.9 mAP@0.5:0.95")
    assert fitnesses({"metrics/accuracy_top1": {}, "lr/0": {}}, True, None)[0].formula \
        == "top-1 accuracy"


def test_analyze_json_and_the_watch_summary_name_the_file(tmp_path, capsys):
    folder = detect_run(tmp_path / "train", weights=("last.pt", "best.pt", "epoch11.pt"),
                        period=1)
    assert main(["analyze", str(folder), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["saved_checkpoint"]["path"] == str(folder / "weights" / "epoch11.pt")
    assert main(["watch", str(folder / "results.csv"), "--format", "jsonl"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["saved_checkpoint"]["step"] == PEAK
    assert summary["saved_checkpoint"]["best_pt"] == [
        {"epoch": SPIKE, "by": "Ultralytics' fitness 0.1 mAP50 + 0.9 mAP50-95"}]


def test_watch_alerts_name_the_files_up_to_the_alert_and_say_to_copy_what_is_overwritten(
        tmp_path):
    """A run of 100 planned epochs, watched at epoch 30: at the overfit alert (epoch 19) no file
    holds epoch 12, and best.pt, holding epoch 14, is named with the warning that the trainer
    will overwrite it at its next best; last.pt (epoch 30, after the alert) is not offered."""
    folder = detect_run(tmp_path / "train")
    (folder / "args.yaml").write_text((folder / "args.yaml").read_text()
                                      .replace("epochs: 30", "epochs: 100"))
    watch = LiveWatch(folder, follow=False, metric="metrics/mAP50-95(B)", notice=lambda m: None,
                      info=lambda m: None)
    alerts = [a for a in watch.alerts() if a.event == "overfit"]
    assert alerts and alerts[0].best_step == PEAK and SPIKE <= alerts[0].step < 30
    saved = alerts[0].saved
    assert saved.path == str(folder / "weights" / "best.pt") and saved.rotating
    assert saved.text("metrics/mAP50-95(B)").endswith(
        "; the trainer overwrites best.pt at each new best: copy it now")
    assert watch.result.saved.path == saved.path and not watch.result.saved.rotating


def test_another_trainers_results_csv_beside_weights_names_no_file(tmp_path):
    """A U-Net script's own results.csv (epoch, Dice) with a weights/ folder: its files are not
    a YOLO trainer's, and no epoch is said of them."""
    folder = tmp_path / "unet"
    folder.mkdir()
    (folder / "results.csv").write_text("epoch,Train Loss,Validation Dice\n" + "".join(
        f"{e},{1 / e:.4f},{min(e, 10) / 12:.4f}\n" for e in range(1, 21)))
    (folder / "weights").mkdir()
    (folder / "weights" / "last.pt").write_bytes(b"")
    assert phasewatch.analyze(folder, metric="Validation Dice").saved_checkpoint is None


def test_an_early_8_0_results_csv_from_epoch_0_holds_epoch_n_in_epoch_n_pt(tmp_path):
    """Ultralytics 8.0's first releases logged the loop's own epoch (from 0), in columns padded
    to 23 characters, and named the periodic file by it too."""
    folder = detect_run(tmp_path / "train", weights=("last.pt", "epoch11.pt"), period=1)
    rows = (folder / "results.csv").read_text().splitlines()
    padded = [rows[0]] + [",".join(f"{v:>23}" for v in [int(r.split(",")[0]) - 1,
                                                         *r.split(",")[1:]]) for r in rows[1:]]
    (folder / "results.csv").write_text("\n".join(padded) + "\n")
    analysis = phasewatch.analyze(folder, metric="metrics/mAP50-95(B)")
    assert analysis.recommended_stop_step == PEAK - 1
    saved = analysis.saved_checkpoint
    assert saved.step == PEAK - 1 and saved.path == str(folder / "weights" / "epoch11.pt")
    assert saved.text("metrics/mAP50-95(B)") == "saved: weights/epoch11.pt"
