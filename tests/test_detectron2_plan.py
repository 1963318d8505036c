"""A detectron2 run's planned length, its config's `SOLVER.MAX_ITER`: read from the config
`default_setup` logs (`Running with full config:`) and from the `config.yaml` it saves beside
`metrics.json`. Unread, a run whose config said `MAX_ITER: 111000` and whose log ended at
iteration 29,979 got no note that it ended early, and `watch` judged what is early with no
plan."""

from __future__ import annotations

import json
import sys

import pytest
from _files import read_as, write
from test_io_detectron2_console import HEAD, crashed_log, d2_log, line

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.whole_plan import run_plan

EARLY = "the log ends at step 599, before the step 2000 its run plans"
SAID = "planned length: 2000 steps, from the run's config `SOLVER.MAX_ITER`"


def cut_at_600() -> tuple[str, str]:
    """The console and metrics.json of a run of 2000 iterations read at iteration 600 (its
    last line `iter: 599`)."""
    console, metrics = d2_log(2000)
    end = console.index("\n", console.index("  iter: 599  ")) + 1
    rows = [row for row in metrics.splitlines(keepends=True) if json.loads(row)["iteration"] < 600]
    return console[:end], "".join(rows)


def dumped(text: str, max_iter: int = 2000, world: int = 0, scaled: int | None = None) -> str:
    """`text` as `default_setup` begins it: the config file's contents (a `MAX_ITER` of its
    own, unsorted), then the whole config dumped by yacs (keys sorted, `MAX_ITER` after
    `SOLVER`'s sections `AMP` and `CLIP_GRADIENTS`, and a `MAX_ITER` of a project's section
    sorted after `SOLVER`); `scaled`, `DefaultTrainer`'s auto-scaling line."""
    head = HEAD.format(h=18, m=0, s=0, logger="detectron2")
    lines = [head + "Contents of args.config_file=configs/my_run.yaml:",
             "_BASE_: Base-RCNN-FPN.yaml", "SOLVER:", "  MAX_ITER: 90000",
             head + "Running with full config:", "CUDNN_BENCHMARK: false", "DATASETS:",
             "  TEST:", "  - coco_2017_val", "MODEL:", "  RPN:", "    BATCH_SIZE_PER_IMAGE: 256",
             "SOLVER:", "  AMP:", "    ENABLED: false", "  BASE_LR: 0.02", "  CLIP_GRADIENTS:",
             "    CLIP_TYPE: value", "    ENABLED: false", "  GAMMA: 0.1",
             "  IMS_PER_BATCH: 16", f"  MAX_ITER: {max_iter}",
             f"  REFERENCE_WORLD_SIZE: {world}", "  STEPS:", "  - 1500", "TEACHER:",
             "  MAX_ITER: 7", "TEST:", "  EVAL_PERIOD: 200",
             head + "Full config saved to ./output/config.yaml"]
    if scaled is not None:
        lines.append(HEAD.format(h=18, m=0, s=1, logger="d2.engine.defaults")
                     + f"Auto-scaling the config to batch_size=32, learning_rate=0.04, "
                       f"max_iter={scaled}, warmup=500.")
    return "\n".join(lines) + "\n" + text


def config_yaml(max_iter: int = 2000, world: int = 0) -> str:
    """OUTPUT_DIR/config.yaml as `default_setup` saves it (`cfg.dump()`, indented)."""
    return (f"CUDNN_BENCHMARK: false\nMODEL:\n  RPN:\n    BATCH_SIZE_PER_IMAGE: 256\nSOLVER:\n"
            f"  AMP:\n    ENABLED: false\n  BASE_LR: 0.02\n  MAX_ITER: {max_iter}\n"
            f"  REFERENCE_WORLD_SIZE: {world}\nTEST:\n  EVAL_PERIOD: 200\nVERSION: 2\n")


def early_notes(path, capsys) -> list[str]:
    """`analyze`'s notes that the log ends before its plan."""
    assert main(["analyze", str(path), "--format", "json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["runs"][0]["warnings"]
    return [w for w in warnings if "the log ends at" in w]


def test_the_console_plan_is_the_dumped_configs_max_iter(tmp_path, capsys):
    """Only the dump's `SOLVER.MAX_ITER`: not the config file's (90000), nor a project
    section's (7). A run cut at iteration 600 of 2000 is said to end early, by `inspect`,
    `analyze` and `watch`; the whole run is not."""
    cut = write(tmp_path, dumped(cut_at_600()[0]), name="log.txt")
    run = read_as(cut, "detectron2_console")
    assert run.config["SOLVER.MAX_ITER"] == 2000
    assert main(["inspect", str(cut), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["planned_steps"] == 2000
    notes = early_notes(cut, capsys)
    assert len(notes) == 1 and EARLY in notes[0]
    assert main(["watch", str(cut), "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert SAID in err
    summary = json.loads(out.splitlines()[-1])
    assert summary["planned"] == {"steps": 2000, "from": "config", "key": "SOLVER.MAX_ITER"}
    whole = write(tmp_path, dumped(d2_log(2000)[0]), name="log.txt")
    assert early_notes(whole, capsys) == []


def test_the_trainers_auto_scaling_line_replaces_the_dumped_max_iter(tmp_path, capsys):
    """`DefaultTrainer.auto_scale_workers` rescales `MAX_ITER` after the dump and says so."""
    path = write(tmp_path, dumped(cut_at_600()[0], max_iter=4000, world=8, scaled=2000),
                 name="log.txt")
    assert read_run(path).config["SOLVER.MAX_ITER"] == 2000
    assert EARLY in early_notes(path, capsys)[0]


@pytest.mark.parametrize("pyyaml", [True, False])
def test_metrics_json_takes_the_config_yaml_beside_it(tmp_path, capsys, monkeypatch, pyyaml):
    """A metrics.json, given as a file or as its OUTPUT_DIR, with config.yaml beside it; read
    with PyYAML or without it (its lines)."""
    if not pyyaml:
        monkeypatch.setitem(sys.modules, "yaml", None)
    write(tmp_path, config_yaml(), name="config.yaml")
    metrics = write(tmp_path, cut_at_600()[1], name="metrics.json")
    for path in (metrics, tmp_path):
        assert main(["inspect", str(path), "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["planned_steps"] == 2000, path
        assert EARLY in early_notes(path, capsys)[0]
    assert main(["watch", str(metrics)]) == 0
    assert SAID in capsys.readouterr().err


def test_a_lazy_configs_train_max_iter(tmp_path, capsys):
    """A LazyConfig run's config.yaml holds its length under `train.max_iter`."""
    pytest.importorskip("yaml")
    write(tmp_path, "dataloader:\n  train:\n    total_batch_size: 16\ntrain:\n  amp:\n"
          "    enabled: false\n  eval_period: 200\n  max_iter: 2000\n", name="config.yaml")
    metrics = write(tmp_path, cut_at_600()[1], name="metrics.json")
    assert EARLY in early_notes(metrics, capsys)[0]
    assert main(["watch", str(metrics)]) == 0
    assert "2000 steps, from the run's config `train.max_iter`" in capsys.readouterr().err


def test_no_plan_where_it_may_have_been_rescaled_or_the_yaml_is_not_detectron2s(tmp_path):
    """config.yaml is saved before `auto_scale_workers`: with `REFERENCE_WORLD_SIZE` set it
    cannot say the run's length. Another program's config.yaml beside a metrics.json is not
    taken as the run's."""
    write(tmp_path, config_yaml(world=8), name="config.yaml")
    metrics = write(tmp_path, cut_at_600()[1], name="metrics.json")
    assert run_plan(read_run(metrics)) is None
    write(tmp_path, "steps: 2000\nlr: 0.1\n", name="config.yaml")
    run = read_run(metrics)
    assert run_plan(run) is None and "steps" not in run.config


def test_an_output_dir_read_from_its_event_files_takes_the_config_yaml(tmp_path, capsys):
    """An OUTPUT_DIR with TensorBoard event files is read from them (`TensorboardXWriter`, at
    the same iterations as metrics.json): its config.yaml is the run's config there too."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    write(tmp_path, config_yaml(), name="config.yaml")
    metrics = cut_at_600()[1]
    write(tmp_path, metrics, name="metrics.json")
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path))
    for row in map(json.loads, metrics.splitlines()):
        for name, value in row.items():
            if name != "iteration":
                writer.add_scalar(name, value, row["iteration"])
    writer.close()
    assert read_run(tmp_path).format == "tensorboard"
    assert EARLY in early_notes(tmp_path, capsys)[0]


def interrupted_at_600() -> str:
    """The console of a run of 2000 iterations whose loop a KeyboardInterrupt ended after
    iteration 599: `TrainerBase.train` logs no `Exception during training:` for it (it catches
    `Exception` only) but its `finally` runs the `after_train` hooks, the timer's lines first;
    `EvalHook` runs no final evaluation short of `max_iter`."""
    console = cut_at_600()[0]
    return console + "\n".join([
        line(599, "d2.engine.hooks", "Overall training speed: 598 iterations in 0:03:29 "
             "(0.3497 s / it)"),
        line(599, "d2.engine.hooks", "Total training time: 0:03:40 (0:00:11 on hooks)")]) + "\n"


@pytest.mark.parametrize("case, said", [
    ("cut", "detectron2 has no early stopping, and its log has no `Total training time` line"),
    ("crashed", "it crashed there (`Exception during training:`, which detectron2's"),
    ("interrupted", "it was interrupted there (`Total training time` with no `Exception"),
    ("metrics.json", "detectron2 has no early stopping: the run was killed or crashed, or is"),
])
def test_the_early_end_note_says_what_the_detectron2_log_shows_of_its_end(tmp_path, capsys,
                                                                          case, said):
    """detectron2 has no early-stopping callback, which the note named as a cause: it says
    what the console shows (its crash, its loop's end with no exception: an interrupt, no end
    line at all: killed or still training), and where metrics.json cannot show it, log.txt."""
    if case == "metrics.json":
        write(tmp_path, config_yaml(), name="config.yaml")
        path = write(tmp_path, cut_at_600()[1], name="metrics.json")
    else:
        text = {"cut": cut_at_600()[0], "crashed": crashed_log(1247),
                "interrupted": interrupted_at_600()}[case]
        path = write(tmp_path, dumped(text), name="log.txt")
    notes = early_notes(path, capsys)
    assert len(notes) == 1 and said in notes[0], notes
    assert "early-stopping callback" not in notes[0]
