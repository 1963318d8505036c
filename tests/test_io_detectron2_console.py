"""Detectron2's console (and its OUTPUT_DIR/log.txt): `d2.utils.events]:  eta: ...  iter: N
total_loss: X  loss_cls: X ...  lr: X  max_mem: NM` every 20 iterations and, at each
evaluation, `copypaste:` lines of its results. The loose `name: value` reader took the
training lines and lost the evaluations without a word, so the run was judged by its train
loss."""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from _files import notebook_cell, read_as, write

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.io.detectron2_console import Source

HEAD = "[03/08 {h:02d}:{m:02d}:{s:02d} {logger}]: "
TASK_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def box_ap(iteration: int) -> float:
    """A box AP at its best at iteration 1199, falling after it: the detector overfits."""
    return round(20 + 20 * (1 - math.exp(-iteration / 400)) - max(0, iteration - 1199) * 0.006, 4)


def line(iteration: int, logger: str, text: str) -> str:
    return HEAD.format(h=18 + iteration // 3600, m=iteration // 60 % 60, s=iteration % 60,
                       logger=logger) + text


def evaluation(iteration: int) -> list[str]:
    """What `DefaultTrainer.test` prints: the inference's start and end, the Markdown table,
    then `print_csv_format`."""
    ap = box_ap(iteration)
    values = [ap, ap * 1.5, ap * 1.1, ap * 0.6, ap * 1.1, ap * 1.3]
    return [line(iteration, "d2.evaluation.evaluator", "Start inference on 500 batches"),
            line(iteration, "d2.evaluation.evaluator", "Total inference time: 0:00:41.318215 "
                 "(0.083471 s / iter per device, on 1 devices)"),
            line(iteration, "d2.evaluation.coco_evaluation", "Evaluation results for bbox: "),
            "|   AP   |  AP50  |  AP75  |  APs   |  APm   |  APl   |",
            "|:------:|:------:|:------:|:------:|:------:|:------:|",
            "| " + " | ".join(f"{v:.3f}" for v in values) + " |",
            line(iteration, "d2.engine.defaults",
                 "Evaluation results for coco_2017_val in csv format:"),
            line(iteration, "d2.evaluation.testing", "copypaste: Task: bbox"),
            line(iteration, "d2.evaluation.testing", "copypaste: " + ",".join(TASK_NAMES)),
            line(iteration, "d2.evaluation.testing",
                 "copypaste: " + ",".join(f"{v:.4f}" for v in values))]


def total_loss(iteration: int) -> float:
    return round(0.4 + 1.8 * math.exp(-iteration / 500), 4)


def d2_log(max_iter: int = 2000, period: int = 200) -> tuple[str, str]:
    """The console of a run of `max_iter` iterations evaluated every `period`, in the order
    detectron2 writes it (its writers run after the EvalHook; the training loop's end, then
    the last evaluation, in `after_train`, after the last line, its scalars at `max_iter`),
    and the `metrics.json` its JSONWriter writes beside it."""
    lines = [line(0, "d2.engine.train_loop", "Starting training from iteration 0")]
    rows = []
    for iteration in range(19, max_iter, 20):
        evaluated = (iteration + 1) % period == 0 and iteration + 1 != max_iter
        if evaluated:
            lines += evaluation(iteration)
        loss = total_loss(iteration)
        eta = "1 day, 2:03:04" if iteration < 100 else "0:17:23"
        lr = "N/A" if iteration == 19 else "0.02"
        lines.append(line(iteration, "d2.utils.events",
                          f" eta: {eta}  iter: {iteration}  total_loss: {loss}  loss_cls: "
                          f"{loss * 0.4:.4g}  loss_box_reg: {loss * 0.3:.4g}  time: 0.3493  "
                          f"last_time: 0.3311  data_time: 0.0283  lr: {lr}  max_mem: 2717M"))
        row = {"iteration": iteration, "total_loss": loss, "loss_cls": float(f"{loss * 0.4:.4g}"),
               "loss_box_reg": float(f"{loss * 0.3:.4g}")}
        if iteration != 19:
            row["lr"] = 0.02
        if evaluated:
            row["bbox/AP"] = box_ap(iteration)
        rows.append(row)
    lines += [line(max_iter, "d2.engine.hooks", "Overall training speed: 1997 iterations in "
                   "0:11:38 (0.3497 s / it)"),
              line(max_iter, "d2.engine.hooks", "Total training time: 0:12:01 (0:00:23 on hooks)"),
              *evaluation(max_iter)]
    rows.append({"iteration": max_iter, "bbox/AP": box_ap(max_iter)})
    return "\n".join(lines) + "\n", "".join(json.dumps(row) + "\n" for row in rows)


def test_training_lines_and_evaluations_are_read_as_metrics_json_holds_them(tmp_path, capsys):
    console, metrics = d2_log()
    path = write(tmp_path, console, name="log.txt")
    run = read_as(path, "detectron2_console")
    assert sorted(run.metrics) == ["bbox/AP", "bbox/AP50", "bbox/AP75", "bbox/APl", "bbox/APm",
                                   "bbox/APs", "loss_box_reg", "loss_cls", "lr", "total_loss"]
    assert not run.warnings, run.warnings
    same = read_run(write(tmp_path, metrics, name="metrics.json"))
    for name in ("bbox/AP", "total_loss", "lr"):
        assert run.series(name).to_dict() == pytest.approx(same.series(name).to_dict()), name
    assert run.series("bbox/AP").index.tolist() == [*range(199, 1800, 200), 2000]
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("bbox/AP", "max")
    assert result["phases"][-1]["name"] == "overfit"


def test_a_colored_console_and_damaged_lines(tmp_path):
    """The terminal's colours; a loss that is no number is said with its line, the line's other
    items read; results whose values do not match their names, and results without their task
    line, are skipped lines with their numbers."""
    lines = d2_log(1000)[0].splitlines()
    colored = [f"\x1b[32m{text[:text.index(']: ') + 3]}\x1b[0m{text[text.index(']: ') + 3:]}"
               if "d2.utils.events" in text else text for text in lines]
    run = read_run(write(tmp_path, "\n".join(colored) + "\n", name="console.txt"))
    assert run.series("bbox/AP").index.tolist() == [199, 399, 599, 799, 1000]
    assert len(run.series("total_loss")) == 50
    damaged = next(i for i, text in enumerate(lines) if "iter: 319 " in text)
    lines[damaged] = lines[damaged].replace("loss_cls: ", "loss_cls: x")
    values = [i for i, text in enumerate(lines) if "copypaste: " in text and "," in text
              and "AP," not in text]
    lines[values[1]] = lines[values[1]][:-8]  # cut: five values for six names
    task = [i for i, text in enumerate(lines) if "copypaste: Task" in text][2]
    del lines[task:task + 2]
    run = read_run(write(tmp_path, "\n".join(lines) + "\n", name="log.txt"))
    assert run.series("bbox/AP").index.tolist() == [199, 799, 1000]
    assert 319 in run.series("total_loss").index and 319 not in run.series("loss_cls").index
    said = [w for w in run.warnings if "left out" in w]
    assert said == [("items of training lines that are no `name: number` were left out "
                     f"(line {damaged + 1}: loss_cls: x{total_loss(319) * 0.4:.4g})")], run.warnings
    skipped = [w for w in run.warnings if w.startswith("skipped 2 of")]
    assert skipped and f"lines {values[1] + 1}, {task + 1}" in skipped[0], run.warnings


def two_datasets(other: str, before: bool = False) -> str:
    """`d2_log(1000)` with each evaluation's results of a second test dataset `other` (an AP
    of 50) after coco_2017_val's, or before them."""
    lines = d2_log(1000)[0].splitlines()
    for i in reversed([i for i, text in enumerate(lines) if "in csv format:" in text]):
        block = lines[i:i + 4]
        lines[i + 4 * (not before):i + 4 * (not before)] = [
            block[0].replace("coco_2017_val", other), *block[1:3],
            block[3][:block[3].index("copypaste: ") + 11] + "50,70,55,30,52,61"]
    return "\n".join(lines) + "\n"


def test_an_evaluation_of_two_test_datasets_keeps_each_apart(tmp_path, capsys):
    """`DATASETS.TEST` of two datasets: `DefaultTrainer.test` prints each one's results after
    its name, and metrics.json holds them as `<dataset>/bbox/AP`; the second dataset's
    results no longer take the first's place under one `bbox/AP`. They are held-out results as
    `bbox/AP` is: analyze takes the first set's, saying there are two (it took the train loss,
    asking for --metric)."""
    run = read_run(write(tmp_path, two_datasets("voc_2007_test"), name="log.txt"))
    assert "bbox/AP" not in run.metrics, sorted(run.metrics)
    coco, voc = run.series("coco_2017_val/bbox/AP"), run.series("voc_2007_test/bbox/AP")
    assert coco.index.tolist() == voc.index.tolist() == [199, 399, 599, 799, 1000]
    assert coco.tolist() == pytest.approx([box_ap(i) for i in coco.index])
    assert set(voc.tolist()) == {50}
    assert not run.warnings, run.warnings
    assert main(["analyze", str(tmp_path / "log.txt"), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("coco_2017_val/bbox/AP", "max")
    assert any(w.startswith("2 validation sets hold eval/accuracy: coco_2017_val/bbox/AP, "
                            "voc_2007_test/bbox/AP; analysed coco_2017_val/bbox/AP only")
               for w in result["warnings"]), result["warnings"]


@pytest.mark.parametrize("train_set", ["coco_2017_train", "balloon_train"])
def test_a_training_set_among_the_test_datasets_is_no_held_out_set(tmp_path, capsys,
                                                                   train_set):
    """`DATASETS.TEST` may list the training set before the validation set, to compare them:
    its AP is measured on the data the model trains on, so the validation set's is analysed,
    the only held-out one (analyze took `coco_2017_train/bbox/AP`, the first, as a validation
    set's)."""
    write(tmp_path, two_datasets(train_set, before=True), name="log.txt")
    assert main(["analyze", str(tmp_path / "log.txt"), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "coco_2017_val/bbox/AP"
    assert not any("validation sets hold" in w for w in result["warnings"]), result["warnings"]


def test_a_training_line_cut_by_a_killed_writer_is_left_out_and_said(tmp_path):
    """The last line, cut inside a value, still parses: `total_loss: 0.` read as 0 at the
    last iteration. It is left out with the warning that says so, the lines before it read."""
    lines = d2_log(1000)[0].splitlines()
    last = max(i for i, text in enumerate(lines) if "iter: " in text)
    cut = lines[last][:lines[last].index("total_loss: ") + len("total_loss: 0.")]
    run = read_run(write(tmp_path, "\n".join(lines[:last] + [cut]), name="log.txt"))
    assert run.series("total_loss").index.tolist()[-1] == 979
    assert run.series("total_loss").iloc[-1] == pytest.approx(total_loss(979))
    assert run.series("bbox/AP").index.tolist() == [199, 399, 599, 799]
    said = [w for w in run.warnings if "does not end with a newline" in w]
    assert said and said[0].startswith(f"line {last + 1}: "), run.warnings


def test_a_notebook_cell_that_trained_a_detector_is_read(tmp_path):
    book = notebook_cell(tmp_path, "trainer.train()", d2_log(600)[0], name="d2.ipynb", on="stderr")
    run = read_as(book, "detectron2_console")
    assert run.series("bbox/AP").index.tolist() == [199, 399, 600]


def test_the_training_loops_end_and_the_final_evaluation_end_the_run(tmp_path):
    """`Total training time` ends the training loop; the final evaluation comes after it, so
    a log that evaluated before has finished once that evaluation's results are in. The same
    line after `Exception during training:` is no end, and a run resumed into the log after
    its end goes on."""
    text = d2_log(1000)[0]
    assert read_run(write(tmp_path, text, name="log.txt")).finished
    before_results = text[:text.rindex("Evaluation results for coco_2017_val")]
    assert not read_run(write(tmp_path, before_results, name="log.txt")).finished
    end = text.index(line(1000, "d2.engine.hooks", "Overall"))
    failed = (text[:end] + line(999, "d2.engine.train_loop", "Exception during training:")
              + "\nTraceback (most recent call last):\n" + text[end:])
    assert not read_run(write(tmp_path, failed, name="log.txt")).finished
    resumed = text + line(1000, "d2.engine.train_loop", "Starting training from iteration 0\n") \
        + text[:end]
    assert not read_run(write(tmp_path, resumed, name="log.txt")).finished
    none_before = d2_log(600, period=10_000)[0]  # TEST.EVAL_PERIOD 0: the final one only
    assert read_run(write(tmp_path, none_before, name="log.txt")).finished


@pytest.mark.parametrize("period", [200, 10_000], ids=["periodic evaluations", "final only"])
def test_a_follow_ends_with_the_final_evaluation(tmp_path, period):
    """`watch --follow` of a log.txt ended at --idle-exit only (it never saw the run end): it
    now ends when the run has, the final evaluation, which comes seconds or minutes after the
    training loop's end, read as a replay of the final file reads it."""
    text = d2_log(2000, period)[0]
    # cut in the final evaluation's inference
    follows_to_the_end(tmp_path, text, text.rindex(
        line(2000, "d2.evaluation.coco_evaluation", "Evaluation results")))


def follows_to_the_end(tmp_path, text: str, cut: int) -> None:
    """`text[:cut]` written as log.txt and followed until caught up, the rest appended later
    than the grace after an end (0.3 s in tests): the follow ends "finished" at iteration 2000
    on `bbox/AP`, with the alerts and the summary (the whole run's phases) a replay gives."""
    from watch_follower import Follower, replay

    path = write(tmp_path, text[:cut], name="log.txt")
    follower = Follower(path, stop_on=(), idle_exit=5.0)
    follower.wait_for_message("caught up")
    time.sleep(1.0)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text[cut:])
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=())
    assert followed == replayed
    ours = follower.watch.result
    assert (ours.reason, ours.last_step, ours.metric) == ("finished", 2000, "bbox/AP")
    assert ours.to_dict() == result.to_dict()


def with_config(text: str, tests: str) -> str:
    """`text` as `default_setup` begins it: the config file's contents, then the whole config
    dumped as YAML (`DATASETS.TEST` given as `tests`, after `TEST:`), `TEST.EVAL_PERIOD` 0."""
    head = HEAD.format(h=18, m=0, s=0, logger="detectron2")
    dump = [head + "Contents of args.config_file=configs/my_run.yaml:",
            "_BASE_: Base-RCNN-FPN.yaml", "DATASETS:", '  TEST: ("voc_2007_test",)',
            head + "Running with full config:", "CUDNN_BENCHMARK: false", "DATALOADER:",
            "  NUM_WORKERS: 4", "DATASETS:", "  PRECOMPUTED_PROPOSAL_TOPK_TEST: 1000",
            "  PROPOSAL_FILES_TEST: []", f"  TEST:{tests}", "  TRAIN:", "  - coco_2017_train",
            "SOLVER:", "  MAX_ITER: 2000", "TEST:", "  EVAL_PERIOD: 0", "  PRECISE_BN:",
            "    ENABLED: false", head + "Full config saved to ./output/config.yaml"]
    return "\n".join(dump) + "\n" + text


def test_the_config_dump_says_which_test_datasets_the_final_evaluation_waits_for(tmp_path):
    """With `TEST.EVAL_PERIOD` 0 the final evaluation still comes, after the training loop's
    end, on every dataset of `DATASETS.TEST`: the run had finished at `Total training time`,
    before it. Where the config dump lists the datasets, the run has finished once each has
    its results; `TEST: []`, at that line."""
    text = with_config(d2_log(600, period=10_000)[0], "\n  - coco_2017_val")
    trained = text.index("Start inference on", text.index("Total training time"))
    assert not read_run(write(tmp_path, text[:trained], name="log.txt")).finished
    assert read_run(write(tmp_path, text, name="log.txt")).finished
    empty = with_config(d2_log(600, period=10_000)[0], " []")
    assert read_run(write(tmp_path, empty[:empty.rindex("Start inference on")],
                          name="log.txt")).finished
    two = with_config(two_datasets("voc_2007_test"), "\n  - coco_2017_val\n  - 'voc_2007_test'")
    voc = two.rindex("Evaluation results for voc_2007_test")
    assert not read_run(write(tmp_path, two[:voc], name="log.txt")).finished
    assert read_run(write(tmp_path, two, name="log.txt")).finished
    flow = with_config(two_datasets("voc_2007_test"), " [coco_2017_val, voc_2007_test]")
    assert not read_run(write(tmp_path, flow[:flow.rindex("Evaluation results for voc")],
                              name="log.txt")).finished


def test_a_follow_waits_for_a_slow_final_evaluation_the_config_lists(tmp_path):
    """No evaluation before the end (`TEST.EVAL_PERIOD: 0`) and a final one slow to start
    (its test set loaded for longer than the grace after an end): the follow ended at
    `Total training time`, before the results, with the train loss as its metric. It now
    waits for them and gives the alerts a replay gives."""
    text = with_config(d2_log(2000, period=10_000)[0], "\n  - coco_2017_val")
    follows_to_the_end(tmp_path, text, text.index("\n", text.index("Total training time")) + 1)


def plain(console: str) -> str:
    """The same log as detectron2's `log.txt` writes it (`setup_logger`'s plain formatter, the
    logger's whole name): `[03/08 18:57:01] detectron2.utils.events INFO:  eta: ...`."""
    return re.sub(r"^\[(\d\d/\d\d \d\d:\d\d:\d\d) d2\.(\S+)\]: ", r"[\1] detectron2.\2 INFO: ",
                  console, flags=re.MULTILINE)


def test_log_txt_in_the_plain_form_reads_as_the_console(tmp_path, capsys):
    """detectron2 writes `log.txt` (and a console that is no terminal) with its plain formatter,
    `[date] detectron2.utils.events INFO: ...`, not the coloured `[date d2.utils.events]: ...`
    the reader looked for: a real log.txt was read as a generic console, its training losses
    only, every evaluation lost. It reads as the console does, its run's end with it."""
    console, _ = d2_log(1000)
    text = plain(console)
    assert "] detectron2.utils.events INFO:  eta: " in text and "d2." not in text
    run = read_as(write(tmp_path, text, name="log.txt"), "detectron2_console")
    same = read_run(write(tmp_path, console, name="console.log"))
    assert sorted(run.metrics) == sorted(same.metrics) and "bbox/AP" in run.metrics
    for name in run.metrics:
        assert run.series(name).to_dict() == pytest.approx(same.series(name).to_dict()), name
    assert run.finished and not run.warnings, run.warnings
    cut = text[:text.rindex("Evaluation results for coco_2017_val")]
    assert not read_run(write(tmp_path, cut, name="log.txt")).finished


def crashed_log(at: int, evaluates: bool = False) -> str:
    """A 2000-iteration run whose step `at` raised: `TrainerBase.train` logs `Exception during
    training:` and its traceback, runs the `after_train` hooks (the timer's lines; `EvalHook`'s
    final evaluation only where `at` is the last iteration; the writers' hook last, whose
    printer writes a line at the iteration that raised) and re-raises."""
    text = d2_log(2000, period=200)[0]
    stop = text.index(line(at // 20 * 20 + 19, "d2.utils.events", ""))
    stop = text.rindex("\n", 0, stop) + 1 if at % 20 != 19 else text.index("\n", stop) + 1
    loss = total_loss(at)
    tail = [line(at, "d2.engine.train_loop", "Exception during training:"),
            "Traceback (most recent call last):",
            '  File "detectron2/engine/train_loop.py", line 155, in train',
            "    self.run_step()",
            "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
            line(at, "d2.engine.hooks", "Overall training speed: 1200 iterations in 0:07:00 "
                 "(0.3500 s / it)"),
            line(at, "d2.engine.hooks", "Total training time: 0:07:14 (0:00:14 on hooks)"),
            *(evaluation(at + 1) if evaluates else []),
            line(at, "d2.utils.events", f" eta: 0:04:40  iter: {at}  total_loss: {loss}  "
                 f"loss_cls: {loss * 0.4:.4g}  loss_box_reg: {loss * 0.3:.4g}  time: 0.3493  "
                 "data_time: 0.0283  lr: 0.02  max_mem: 2717M")]
    return text[:stop] + "\n".join(tail) + "\n"


def test_a_follow_of_a_crashed_run_ends_there_and_says_where(tmp_path, capsys):
    """`Exception during training:` (and its traceback, the timer's `Total training time`):
    the run has ended, but `watch --follow` waited for --idle-exit, which it then gave as the
    reason. It ends once the trainer's `after_train` hooks are over (the writers' line at the
    iteration that raised, after any final evaluation), exit 0 as for a run that ended, and
    says the run crashed and at which iteration; analyze says it too."""
    path = write(tmp_path, crashed_log(1247), name="log.txt")
    run = read_run(path)
    assert not run.finished and run.series("total_loss").index[-1] == 1247
    assert any("the run crashed at iteration 1247" in w for w in run.warnings), run.warnings
    started = time.monotonic()
    assert main(["watch", str(path), "--follow", "--idle-exit", "8"]) == 0
    err = capsys.readouterr().err
    assert time.monotonic() - started < 6
    assert "the run crashed at iteration 1247" in err and "the log says the run crashed" in err
    # the last iteration raised: its final evaluation runs before the writers' line
    text = crashed_log(1999, evaluates=True)
    for cut, crashed in ((text.rindex("Start inference on"), False), (len(text), True)):
        source = Source.open(write(tmp_path, text[:cut], name="log.txt"))
        list(source.read())
        assert source.info.crashed is crashed and not source.info.finished


def test_the_json_summary_of_a_crashed_run_says_it_crashed(tmp_path, capsys):
    """`watch --format jsonl` ends with one summary object: a crash is the log's, so a replay
    and a follow both say `"crashed": true` (and `"finished": false`); a run that finished
    has no such key."""
    path = write(tmp_path, crashed_log(1247), name="log.txt")
    for follow in ([], ["--follow", "--idle-exit", "8"]):
        assert main(["watch", str(path), "--format", "jsonl", *follow]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (summary["finished"], summary.get("crashed")) == (False, True), summary
