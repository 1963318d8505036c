"""build-nanogpt's console output (`phasewatch.io.build_nanogpt_console`), read at the steps its
`log/log.txt` gives the same values. It was read by `kv_console`, which took the train lines
only: the validation loss and HellaSwag accuracy, printed without a step, were lost. Each
console here is written as `train_gpt2.py` prints it, beside the log.txt the same run writes."""

from __future__ import annotations

import json
import math

import pytest
from _files import notebook_cell, read_as
from watch_follower import eval_curve, follow_while_written

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import build_nanogpt_console, read_run, sniff_format

BANNER = ["using device: cuda", "total desired batch size: 524288",
          "=> calculated gradient accumulation steps: 4", "found 99 shards for split train",
          "found 1 shards for split val", "using fused AdamW: True"]
SHARED = ("val_loss", "hellaswag_accuracy", "train_loss")  # the names log.txt's reader gives


def _loss(step: int) -> float:
    return 3.3 + 7.6 * math.exp(-step / 300)


def _accuracy(step: int) -> float:
    return 0.25 + 0.05 * (1 - math.exp(-step / 800)) - 0.01 * math.exp(-((step - 250) / 150) ** 2)


def run_lines(steps: int = 1000, every: int = 250, first: int = 0, ranks: int = 2,
              accuracy=_accuracy, print_every: int = 1) -> tuple[list[str], list[str]]:
    """(console lines, log.txt lines) of `train_gpt2.py`'s loop from `first` (a fork resumed
    from its checkpoint) to `steps` - 1, in its order: at the top of an evaluation step (and the
    last) the validation loss, then HellaSwag, then every rank's samples (not at step 0), then
    the update's train line (`print_every`: a fork that prints one every so many steps)."""
    console, log = list(BANNER), []
    for step in range(first, steps):
        last = step == steps - 1
        if step % every == 0 or last:
            val, acc = _loss(step) + 0.05, accuracy(step)
            correct = round(acc * 10042)
            console += [f"validation loss: {val:.4f}",
                        f"HellaSwag accuracy: {correct}/10042={correct / 10042:.4f}"]
            log += [f"{step} val {val:.4f}", f"{step} hella {correct / 10042:.4f}"]
            if step > 0:
                console += [f"rank {rank} sample {i}: Hello, I'm a language model, step {i} | "
                            f"of {step} more" for rank in range(ranks) for i in range(4)]
        lr = 6e-4 * min(1.0, (step + 1) / 100)
        if step % print_every == 0:
            console.append(f"step {step:5d} | loss: {_loss(step):.6f} | lr {lr:.4e} | norm: "
                           f"{0.3 + 15 / (1 + step):.4f} | dt: 791.31ms | tok/sec: 662560.16")
        log.append(f"{step} train {_loss(step):.6f}")
    return console, log


def write(path, lines, end="\n"):
    path.write_text("\n".join(lines) + end)
    return path


def assert_same_run(console, logged, names=SHARED):
    for name in names:
        a, b = console.series(name), logged.series(name)
        assert a.index.tolist() == b.index.tolist(), name
        assert a.tolist() == b.tolist(), name


def test_the_console_and_log_txt_of_one_run_give_the_same_values_at_the_same_steps(tmp_path):
    lines, log = run_lines()
    console = read_run(write(tmp_path / "nohup.out", lines))
    logged = read_run(write(tmp_path / "log.txt", log))
    assert (console.format, logged.format) == ("build_nanogpt_console", "build_nanogpt")
    assert set(console.metrics) == {*SHARED, "lr", "grad_norm"} and set(logged.metrics) == {*SHARED}
    assert_same_run(console, logged)
    assert console.series("val_loss").index.tolist() == [0, 250, 500, 750, 999]
    assert console.resolve_metric("eval/accuracy") == "hellaswag_accuracy"
    assert console.resolve_metric("train/grad_norm") == "grad_norm"
    assert not console.warnings


def test_inspect_analyze_and_watch_read_both_files_alike(tmp_path, capsys):
    lines, log = run_lines()
    paths = write(tmp_path / "nohup.out", lines), write(tmp_path / "log.txt", log)
    inspected, analysed, watched = [], [], []
    for path in paths:
        assert main(["inspect", "--format", "json", str(path)]) == 0
        metrics = json.loads(capsys.readouterr().out)["metrics"]
        inspected.append({name: metrics[name] for name in SHARED})
        assert main(["analyze", "--format", "json", str(path)]) == 0
        result = json.loads(capsys.readouterr().out)["runs"][0]
        analysed.append({key: result[key] for key in ("metric", "phases", "recommended_stop_step")})
        assert main(["watch", "--format", "jsonl", str(path)]) == 0
        watched.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    assert inspected[0] == inspected[1] and analysed[0] == analysed[1]
    assert analysed[0]["metric"] == "hellaswag_accuracy"
    assert watched[0] == watched[1]


def test_a_resumed_fork_puts_its_first_validation_at_its_checkpoint_step(tmp_path):
    """No train line before it tells the step: it waits for the first one."""
    lines, log = run_lines(first=500)
    console = read_run(write(tmp_path / "nohup.out", lines))
    assert_same_run(console, read_run(write(tmp_path / "log.txt", log)))
    assert console.series("val_loss").index[0] == 500


def test_a_run_started_again_in_the_same_console_starts_its_validations_at_0(tmp_path):
    """The first run stopped at step 300; the second, appended to the same file, validates at
    0 after the first's train lines: not at step 301. log.txt holds the second run only (the
    script empties it at its start), and the console's later lines are read."""
    first, _ = run_lines(steps=1000)
    stopped = first[:first.index(next(line for line in first if line.startswith("step   300")))]
    again, log = run_lines()
    console = read_run(write(tmp_path / "nohup.out", stopped + again))
    assert_same_run(console, read_run(write(tmp_path / "log.txt", log)))


def test_a_fork_printing_every_tenth_update_places_a_validation_at_its_own_step(tmp_path):
    lines, _ = run_lines(steps=501, every=50, print_every=10)
    console = read_run(write(tmp_path / "nohup.out", lines))
    assert console.series("val_loss").index.tolist() == list(range(0, 501, 50))


@pytest.mark.parametrize("cut, print_every", [
    ("validation loss: 3.07", 1),  # placed at once, after the train line of step 999
    ("validation loss: 3.07", 10),  # held for its train line (a fork printing every tenth)
    ("step  1000 | loss: 3.3", 1),
])
def test_a_cut_last_line_is_left_out_and_said(tmp_path, cut, print_every):
    """The script ends every line: one without its newline was cut, and a value cut there
    still parses (3.07 of 3.0717), held for its train line or not."""
    lines, _ = run_lines(steps=1001, print_every=print_every)
    whole = read_run(write(tmp_path / "whole.out", lines))
    at = max(i for i, line in enumerate(lines) if line.startswith(cut[:10]))
    run = read_run(write(tmp_path / "nohup.out", [*lines[:at], cut], end=""))
    assert [w for w in run.warnings if f"line {at + 1}:" in w and "left out" in w], run.warnings
    kept = 5 if cut.startswith("step") else 4
    assert run.series("val_loss").tolist() == whole.series("val_loss").tolist()[:kept]
    assert run.series("val_loss").index.tolist() == [0, 250, 500, 750, 1000][:kept]
    assert len(run.series("train_loss")) == len(whole.series("train_loss")) - 1


def test_a_damaged_line_is_named_and_the_rest_read(tmp_path):
    lines, log = run_lines()
    at = lines.index(next(line for line in lines if line.startswith("step   500")))
    lines[at] = "step   500 | loss: 5.18rank 1 sample 0: Hello, I'm a language model, and"
    lines.insert(at + 3, "HellaSwag accuracy: 2451/10042=0.24rank 0 sample 1: Hello, I'm a")
    run = read_run(write(tmp_path / "nohup.out", lines))
    assert any(f"lines {at + 1}, {at + 4}" in w for w in run.warnings), run.warnings
    assert 500 not in run.series("train_loss").index and len(run.series("train_loss")) == 999
    assert_same_run(run, read_run(write(tmp_path / "log.txt", log)), ("val_loss",))


def test_a_validation_after_a_damaged_train_line_is_at_its_own_step(tmp_path):
    """Another rank's text broke the train line of step 249, right before the validation of
    step 250: that validation was read at 249, the broken line's step, one before log.txt's."""
    lines, log = run_lines()
    at = lines.index(next(line for line in lines if line.startswith("step   249")))
    lines[at] = "step   249 | loss: 3.61rank 1 sample 0: Hello, I'm a language model, and"
    run = read_run(write(tmp_path / "nohup.out", lines))
    assert any(f"line {at + 1};" in w for w in run.warnings), run.warnings
    assert_same_run(run, read_run(write(tmp_path / "log.txt", log)), ("val_loss", "hellaswag_accuracy"))


def test_a_follow_places_a_validation_at_once_and_reads_what_is_appended(tmp_path):
    """A validation right after the train lines of steps 248 and 249 is at 250 before its train
    line is written (HellaSwag and the samples come first); the rest, appended, reads as the
    whole file does."""
    lines, _ = run_lines()
    path = tmp_path / "nohup.out"
    at = lines.index("validation loss: " + f"{_loss(250) + 0.05:.4f}") + 1
    write(path, lines[:at])
    source = build_nanogpt_console.source(path, follow=True)
    try:
        first = list(source.read(final=False))
        assert (first[-1].step, dict(first[-1].values)) == (250, {"val_loss": f"{_loss(250) + 0.05:.4f}"})
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines[at:]) + "\n")
        followed = first + list(source.read(final=True))
    finally:
        source.close()
    whole = list(build_nanogpt_console.source(write(tmp_path / "whole.out", lines)).read())
    assert [(r.step, dict(r.values)) for r in followed] == [(r.step, dict(r.values)) for r in whole]


def test_followed_as_the_script_prints_equals_the_replay(tmp_path):
    curve = dict(eval_curve())
    lines, _ = run_lines(steps=max(curve) + 1, every=10, ranks=1,
                         accuracy=lambda step: curve.get(step, curve[max(curve)]))
    follow_while_written(tmp_path / "nohup.out", "\n".join(lines) + "\n", size=4096)


@pytest.mark.parametrize("text", [
    "".join(f"step {k} | loss: {3 - k / 10:.3f} | norm: 1.2\n" for k in range(10)),  # no timing
    "".join(f"substep {k:5d} | loss: 3.1 | lr 6e-4 | norm: 0.3 | dt: 791.31ms | "
            f"tok/sec: 662560.16\n" for k in range(10)),  # another word's end
    "validation loss: 3.0717\nHellaSwag accuracy: 3087/10042=0.3074\n",  # no train line
])
def test_other_text_is_not_taken(tmp_path, text):
    assert not build_nanogpt_console.sniff_text(text)
    path = write(tmp_path / "notes.txt", [text], end="")
    try:
        taken = sniff_format(path).FORMAT
    except InputError:  # an unknown format is also "not taken"
        taken = None
    assert taken != "build_nanogpt_console"


def test_a_notebook_cell_that_trained_with_the_script_keeps_its_validation_curve(tmp_path):
    """build-nanogpt run in Colab (`!torchrun ... train_gpt2.py`): the cell's printed output was
    offered to `kv_console` only, which took the train lines and lost the validation loss and
    HellaSwag accuracy."""
    lines, log = run_lines(steps=501)
    book = notebook_cell(tmp_path, "!python train_gpt2.py", "\n".join(lines) + "\n",
                         name="gpt2.ipynb")
    run = read_as(book, "build_nanogpt_console")
    assert_same_run(run, read_run(write(tmp_path / "log.txt", log)))
    assert run.series("val_loss").index.tolist() == [0, 250, 500]


def test_a_fork_printing_through_a_logger_is_read_behind_its_prefix(tmp_path):
    """A public fork logs every line through `logging` (`%(asctime)s %(filename)s
    %(message)s`): kv_console took its train lines and lost its validations."""
    lines, log = run_lines(ranks=0)
    prefixed = [f"2024-06-14 18:{k // 60 % 60:02d}:{k % 60:02d},384 train.py {line}"
                for k, line in enumerate(lines)]
    run = read_run(write(tmp_path / "log", prefixed))
    assert run.format == "build_nanogpt_console" and not run.warnings
    assert_same_run(run, read_run(write(tmp_path / "log.txt", log)))
    assert run.series("val_loss").index.tolist() == [0, 250, 500, 750, 999]
