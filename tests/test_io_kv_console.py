"""Print-statement logs of home-made training scripts: a step token (`[step 11]`, `Epoch 3:`,
`iter 1500:`, `Step: 40,`) then `name=value` items, amid the script's other output."""

from __future__ import annotations

import json
import math

import pytest
from _files import write
from watch_follower import eval_curve, follow_while_written

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# Each shape, written for steps 10, 20, 30, 40 with a value falling 0.9, 0.8, 0.7, 0.6.
SHAPES = {
    "bracketed step": ("[step {s}] avg_loss={v} acc=0.3125", "avg_loss", "step"),
    "epoch, commas": ("Epoch {s}: train_loss=0.2381, val_loss={v}, val_acc=0.912", "val_loss",
                      "epoch"),
    "epoch banner": ("=== Epoch {s}  val_loss={v} ===", "val_loss", "epoch"),
    "iter": ("iter {s}: loss={v}, lr=3e-4", "loss", "step"),
    "spaced items": ("Step: {s}, reward = {v}, kl = 0.012", "reward", "step"),
    "iteration, step=": ("iteration {s} | step=7 loss={v}", "loss", "step"),
    "logger prefix": ("12:00:01 INFO train.py: gen-val step {s}: strict={v}  lenient=0.58",
                      "strict", "step"),
    # the cs336 alignment scripts' print (FlyingFish760/assignment5-alignment `EI/sft.py`): two
    # tokens in brackets, `name: value` fields, one name of two words, its value not a number
    "bracketed epoch and step, colon fields": (
        "[Epoch:1/3](Step: {s}/1380), train_loss: {v}, token_entropy: 1.9062, spent time: 0.0min",
        "train_loss", "step"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_line_shape_is_read(tmp_path, shape):
    template, name, unit = SHAPES[shape]
    lines = [template.format(s=s, v=round(1.0 - s / 100, 2)) for s in (10, 20, 30, 40)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert sniff_format(path).FORMAT == "kv_console"
    run = read_run(path)
    series = run.series(name)
    assert series.index.tolist() == [10, 20, 30, 40]
    assert series.tolist() == [0.9, 0.8, 0.7, 0.6]
    assert run.step_unit == unit and run.warnings == []


def test_step_token_with_a_total_gives_the_planned_length(tmp_path):
    path = write(tmp_path, "".join(f"step {s}/1000 loss={1 / s:.3f}\n" for s in (1, 2, 3)))
    run = read_run(path)
    assert run.series("loss").index.tolist() == [1, 2, 3]
    assert run.config["max_steps"] == 1000


# An excerpt of a real GRPO script's output (JunyiJ/PostTraining-LLM-Small, logs/*.log):
# samples the model wrote, with `Step N:` and equations, around the `[step N]` records.
GRPO_SCRIPT_OUTPUT = """\
=== Epoch 1/8 ===
\u26a0\ufe0f Sampling slow: 40.0s, steps=138
[timing] sample processed in 191.74s
**Step 1:** The teacher buys 45 pens. Divide by the set size: 45 pens / 5 pens/set = 9 sets.
**Step 6:**  Simplify: x = 24
Step 8 | Loss: 0.096 | Pol: 0.095 | Val: 0.108
{'tokens_shape': (2, 512), 'ratio_mean': 0.9998, 'policy_loss': 0.0949}
[step 10] avg_loss=-0.0315 acc=0.8200
Resume checkpoint saved (next_epoch=1, global_step=10)
Let me know if you would like me to explain any step in more detail!
epoch 1  step 15  loss 0.2790  backbone_lr 2.55e-06
[step 20] avg_loss=0.0050 acc=0.9200
step 25: mode=train
[step 30] avg_loss=-0.0087 acc=0.7000
"""


def test_console_noise_and_model_samples_are_skipped(tmp_path):
    path = write(tmp_path, GRPO_SCRIPT_OUTPUT)
    assert sniff_format(path).FORMAT == "kv_console"
    run = read_run(path)
    # `Step 8 | Loss: 0.096 | Pol: 0.095 | Val: 0.108` is a record too (`name: value` fields)
    assert set(run.metrics) == {"avg_loss", "acc", "Loss", "Pol", "Val"}
    assert run.series("Loss").to_dict() == {8: 0.096}
    assert run.series("acc").to_dict() == {10: 0.82, 20: 0.92, 30: 0.70}
    assert run.warnings == [] and run.step_unit == "step"


@pytest.mark.parametrize("records, taken", [(3, True), (1, False)])
def test_samples_filling_the_head_before_the_records_are_looked_past(tmp_path, records, taken):
    samples = "".join(f"[eval] Q{i}: compute the distance. Please reason step-by-step.\n"
                      for i in range(1500))
    assert len(samples) > 64 * 1024
    text = "=== Epoch 1/8 ===\n" + samples
    text += "".join(f"[step {s}] avg_loss=0.01 acc=0.{s}\n" for s in (10, 20, 30)[:records])
    path = write(tmp_path, text)
    if taken:
        assert sniff_format(path).FORMAT == "kv_console"
        assert read_run(path).series("acc").to_dict() == {10: 0.1, 20: 0.2, 30: 0.3}
    else:
        with pytest.raises(InputError, match="unknown log format"):
            sniff_format(path)


def test_an_epochs_evaluation_of_colon_fields_with_spaced_names_is_read(tmp_path):
    """The same scripts' end-of-epoch evaluation, `[Epoch:1/3], format accuracy: 0.976, ...`:
    a bracket left of the fields and names of two words; it was prose, and the evaluation lost.
    Placed at the last step logged, as any end-of-epoch line in a log counted in steps."""
    lines = [f"[Epoch:1/3](Step: {s}/1380), train_loss: {2 - s / 100}, token_entropy: 1.9, "
             "spent time: 0.1min" for s in (4, 8, 12)]
    lines.append("[Epoch:1/3], format accuracy: 0.976, answer accuracy: 0.421, reward accuracy: 0.4")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("answer accuracy").to_dict() == {12: 0.421}
    assert run.series("train_loss").index.tolist() == [4, 8, 12]
    assert "spent time" not in run.metrics  # `0.1min` is no number


def test_end_of_epoch_line_in_a_log_counted_in_steps_goes_at_the_last_step(tmp_path):
    # Sustella/qwen_sapiens's run log: periodic `gen-val step N:` lines, then the epoch's
    # validation loss printed when the epoch ends.
    text = "".join(f"10:0{i}:00 INFO   gen-val step {s}: strict=0.{40 + i}  lenient=0.6\n"
                   for i, s in enumerate((10, 20, 30)))
    text += "16:04:13 INFO === Epoch 1  val_loss=0.2627 ===\n"
    run = read_run(write(tmp_path, text))
    assert run.series("val_loss").to_dict() == {30: 0.2627}
    assert run.step_unit == "step"
    assert any("placed at the last step logged before them" in w for w in run.warnings)


def test_step_line_in_a_log_counted_in_epochs_is_reported(tmp_path):
    text = "".join(f"Epoch {e}: val_loss={1 / e:.3f}\n" for e in (1, 2, 3))
    text += "step 500 loss=0.3\nEpoch 4: val_loss=0.2\n"
    run = read_run(write(tmp_path, text))
    assert run.step_unit == "epoch"
    assert run.series("val_loss").index.tolist() == [1, 2, 3, 4] and "loss" not in run.metrics
    assert any("line 4" in w and "counted in epochs" in w for w in run.warnings)


@pytest.mark.parametrize("text", [
    "Notes on the run.\nWe tried step 1 lr=3 first, then more.\nIt went fine.\n",
    "step 1 x=2\nstep 1 x=3\nstep 1 x=4\n",  # three lines, but the step never grows
    "step 20 | loss 0.41 | eval_acc 0.62\nstep 30 | loss 0.40\nstep 40 | loss 0.39\n",  # no `=`
    # a field that is no item and no bracket: prose, however many `name: number` fields follow
    "".join(f"Step {s} (of the proof), the sum: {s}, the product: {2 * s}\n" for s in (1, 2, 3)),
])
def test_text_that_is_not_a_log_stays_unknown(tmp_path, capsys, text):
    path = write(tmp_path, text, "notes.txt")
    code, _, err = run_cli(capsys, "inspect", path)
    assert code == 3 and f"{path}: unknown log format" in err and "kv_console" in err


def test_bad_values_are_handled_as_the_other_line_readers_do(tmp_path):
    rows = [(1, "0.9", "0.1"), (2, "nan", "abc"), (3, "0.7", "0.3"), (4, "0.6", "0.4")]
    kv = write(tmp_path, "".join(f"step {s} loss={lo} acc={a}\n" for s, lo, a in rows))
    tune = write(tmp_path, "".join(f"Step {s} | loss:{lo} acc:{a} \n" for s, lo, a in rows),
                 "log_1.txt")
    assert sniff_format(tune).FORMAT == "torchtune"
    ours, theirs = read_run(kv), read_run(tune)
    for name in ("loss", "acc"):
        assert ours.series(name).to_dict() == theirs.series(name).to_dict()
    assert 2 not in ours.series("acc").index
    assert ours.warnings == theirs.warnings


def test_analyze_names_the_overfit_of_a_per_epoch_script(tmp_path, capsys):
    lines = ["Loading model...", "=== Training: 28 epochs ==="]
    for e in range(1, 29):
        train = 1.2 * math.exp(-e / 6) + 0.05
        acc = 0.55 + 0.35 * (1 - math.exp(-e / 4)) - 0.012 * max(0, e - 14)
        lines.append(f"Epoch {e}/28: train_loss={train:.4f}, val_loss={1.1 - acc:.4f}, "
                     f"val_acc={acc:.4f}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert len(lines) == 30
    code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
    result = json.loads(out)["runs"][0]
    assert code == 0 and result["metric"] == "val_acc" and result["direction"] == "max"
    assert [p["name"] for p in result["phases"]][-1] == "overfit"
    assert 12 <= result["recommended_stop_step"] <= 16
    code, out, _ = run_cli(capsys, "analyze", path)
    assert code == 0 and "recommended stop: epoch" in out
    assert read_run(path).config["max_steps"] == 28


def test_followed_in_pieces_equals_the_replay(tmp_path):
    curve = eval_curve()
    text = "".join(f"[step {s}] eval_accuracy={a} loss={1 - a:.4f}\nsample: x = {s}\n"
                   for s, a in curve)
    path = tmp_path / "train.log"
    follower = follow_while_written(path, text)
    assert follower.watch.result.n_records == len(curve)


def _epoch_blocks(epochs, total=30, start=1):
    """A training script that prints each epoch as a block (a header, then `Name: value` lines
    between ` - `), as 0Xero7/slm_training's logs do, after its config dump."""
    lines = ["use_experimental: True", "-" * 80, "max_seq_len: 128", "lr: 0.0001",
             f"num_epochs: {total}", "-" * 80, "Model Parameter Count: 66829394", "-" * 80]
    for e in range(start, start + epochs):
        train, valid = 7.3 - 0.1 * e, 6.5 - 0.05 * e + 0.004 * max(0, e - 15) ** 2
        lines += [f"Epoch: {e}/{total}", f"Time Taken: {30 + e / 10:.2f}s - LR: {1e-4 / e:.2e}",
                  f"Train Loss: {train:.4f} - Train Perplexity: {math.exp(train):.2f}",
                  f"Valid Loss: {valid:.4f} - Valid Perplexity: {math.exp(valid):.2f}", "-" * 80]
    return "\n".join(lines) + "\n"


def test_epoch_blocks_of_name_value_lines_are_read(tmp_path, capsys):
    path = write(tmp_path, _epoch_blocks(30))
    assert sniff_format(path).FORMAT == "kv_console"
    run = read_run(path)
    assert run.step_unit == "epoch" and run.config["max_steps"] == 30
    valid = run.series("Valid Loss")
    assert list(valid.index) == list(range(1, 31))
    assert valid[1] == pytest.approx(6.45) and valid[30] == pytest.approx(5.0 + 0.004 * 225)
    assert run.series("Train Perplexity")[2] == pytest.approx(round(math.exp(7.1), 2))
    # `146.09s` is no number: its item is left out; `use_experimental: True` comes before any
    # header, so it is no record either
    assert "Time Taken" not in run.metrics and "use_experimental" not in run.metrics
    assert run.series("LR")[1] == pytest.approx(1e-4)
    code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
    result = json.loads(out)["runs"][0]
    assert code == 0 and result["metric"] == "Valid Loss" and result["direction"] == "min"
    assert [p["name"] for p in result["phases"]][-1] == "overfit"


def test_a_block_ends_at_prose_or_at_a_header_of_the_other_counter(tmp_path):
    text = ("step 10 | loss: 0.9 | lr: 0.001\nstep 20 | loss: 0.8 | lr: 0.001\n"
            "Epoch 1\nval loss: 0.7\n"  # an epoch banner in a log counted in steps: no header
            "step 30 | loss: 0.7 | lr: 0.001\n"
            "step 40\nloss: 0.6\nThe model answered: 42 after thinking\nloss: 0.5\n")
    run = read_run(write(tmp_path, text))
    assert run.step_unit == "step"
    assert "val loss" not in run.metrics
    # the item line after the `step 40` header is a record at 40; the prose ends nothing (it
    # is no item line), and the next item line is still the block's
    assert run.series("loss").to_dict() == {10: 0.9, 20: 0.8, 30: 0.7, 40: 0.5}


def test_epoch_blocks_followed_in_pieces_equal_the_replay(tmp_path):
    text = _epoch_blocks(30)
    path = tmp_path / "train.log"
    follower = follow_while_written(path, text, size=97)
    assert follower.watch.result.n_records == 90  # three item lines an epoch


def test_a_name_of_two_words_before_its_equals_sign_is_kept_whole(tmp_path, capsys):
    """`val acc=0.41` was read as `acc` (and `train loss=2.1` as `loss`): the validation
    accuracy lost its split, took the bare `acc` of a preference accuracy on the training
    batches, and analyze judged the run on its train loss. A name of two words is kept where
    only a delimiter, the step token or the item before stands before its first word; prose
    and a word after a number keep one word."""
    log = write(tmp_path, "".join(
        f"step {s} train loss={2.1 - 0.1 * s:.2f}, val acc={0.4 + 0.03 * s:.2f}\n" for s in range(1, 9)))
    run = read_run(log)
    assert set(run.metrics) == {"train loss", "val acc"}
    code, out, _ = run_cli(capsys, "analyze", "--format", "json", log)
    assert code == 0 and json.loads(out)["runs"][0]["metric"] == "val acc"
    prose = write(tmp_path, "".join(f"12:00 INFO step {s} the model has loss={1.0 / s:.3f} lr 3e-4 "
                                    f"grad={0.5 / s:.3f}\n" for s in range(1, 6)), name="prose.log")
    assert set(read_run(prose).metrics) == {"loss", "grad"}


def test_a_logger_prefix_before_an_item_ahead_of_the_step_token_is_no_part_of_its_name(tmp_path):
    """Words before the step token are a logger's prefix, wherever the items stand: `INFO
    loss=2.1 step=5` was read as a metric `INFO loss` (the step token, written with `=`, is
    taken out of the line before its items are read, and the name's word before it was
    looked for from the line's start)."""
    log = write(tmp_path, "".join(f"INFO loss={2.0 - 0.1 * s:.2f} step={s} val acc={0.4 + 0.02 * s:.2f}\n"
                                  for s in range(1, 6)))
    assert set(read_run(log).metrics) == {"loss", "val acc"}


def test_a_name_of_two_words_after_two_step_tokens_is_kept_whole(tmp_path):
    """The tokens between the first and a name's first word are no words of the line: `epoch 3
    step 200 val acc=0.4` was read as `acc` where `epoch=3 step=200 val acc=0.4` read `val
    acc` (only a token written with `=` was taken out before the name's word was looked for)."""
    for spaced in (True, False):
        log = write(tmp_path, "".join(
            (f"Epoch 1 | Step {s} | " if spaced else f"epoch=1 step={s} ")
            + f"val acc={0.4 + 0.02 * s:.2f} train loss={2.0 - 0.1 * s:.2f}\n" for s in range(1, 6)))
        assert set(read_run(log).metrics) == {"val acc", "train loss"}, spaced


def test_a_value_printed_with_thousands_separators_is_read_whole(tmp_path):
    """An RL inventory agent's print, `[rl] iter 1  train_cost~6825  VAL=3,349.80
    loss_pi=-0.002` (teodor-georgiev/vn2-opus `logs/rl_train.log`, Python's `{:,.2f}`), was read
    as VAL = 3 at every iteration: the comma ended the value. A comma before three digits and
    no more ends no item; one before other digits, or a first group from 0 (a decimal comma's
    `0,125`), still does."""
    costs = [3385.0, 3349.8, 3344.2, 3380.2, 3455.6, 3501.4]
    log = write(tmp_path, "[rl] iter 0 (init policy): VAL=3,385.00\n" + "".join(
        f"[rl] iter {i:>3}  train_cost~6825  VAL={v:,.2f}  loss_pi=-0.002 entropy=+1.837\n"
        for i, v in enumerate(costs[1:], 1)))
    assert read_run(log).series("VAL").tolist() == costs
    other = write(tmp_path, "".join(f"step {s} a=1,234,b={s} c=0,125 d=1,2345\n" for s in range(1, 5)),
                  name="other.log")
    run = read_run(other)
    assert (run.series("a").iloc[0], run.series("c").iloc[0], run.series("d").iloc[0]) == (1234, 0, 1)
    assert run.series("b").tolist() == [1, 2, 3, 4]


def test_a_return_of_two_words_is_the_train_reward_beside_a_loss(tmp_path, capsys):
    """`step 100 | mean return=12.3 | loss=1.9`: the name of two words kept whole (`mean
    return`) took no role where its last word alone (`return`) had the train reward's, and
    analyze judged the run on its train loss instead."""
    log = write(tmp_path, "".join(f"step {100 * i} | mean return={10 + 0.8 * i:.2f} | loss={2 - 0.02 * i:.3f}\n"
                                  for i in range(40)))
    code, out, _ = run_cli(capsys, "analyze", "--format", "json", log)
    assert code == 0 and json.loads(out)["runs"][0]["metric"] == "mean return"


def _dashed_epochs(epochs: int) -> str:
    """A custom seq2seq loop's print (a T5 / Marian translation fine-tune): tqdm bars, then per
    epoch `Epoch N - Training Loss: X` and `Epoch N - Validation BLEU: Y` (`:.4f`, `:.2f`)."""
    lines = ["Loading tokenizer and model...", "Using device: cuda"]
    for epoch in range(1, epochs + 1):
        loss, bleu = 3.0 / epoch, 30.0 - 18.0 / epoch
        lines += [f"Training Epoch {epoch}: 100%|##########| 938/938 [04:01<00:00,  3.88it/s]",
                  f"Epoch {epoch} - Training Loss: {loss:.4f}",
                  "Validation BLEU: 100%|##########| 32/32 [00:40<00:00,  1.26s/it]",
                  f"Epoch {epoch} - Validation BLEU: {bleu:.2f}",
                  f"Model checkpoint for epoch {epoch} saved to ./ckpt/epoch_{epoch}"]
    return "\n".join(lines) + "\n"


def test_an_epochs_items_after_a_dash_are_read(tmp_path, capsys):
    path = write(tmp_path, _dashed_epochs(7))
    assert sniff_format(path).FORMAT == "kv_console"
    run = read_run(path)
    assert run.step_unit == "epoch"
    assert list(run.series("Validation BLEU").index) == list(range(1, 8))
    assert run.series("Validation BLEU")[7] == pytest.approx(round(30.0 - 18.0 / 7, 2))
    assert run.series("Training Loss")[2] == pytest.approx(1.5)
    both = read_run(write(tmp_path, "Epoch 1 - Train Loss: 2.81 - Val Loss: 2.40\n"
                          "Epoch 2 - Train Loss: 2.10, Val Loss: 2.19\n"
                          "Epoch 3 - Train Loss: 1.88 | Val Loss: 2.15\n", "both.log"))
    assert list(both.series("Val Loss")) == pytest.approx([2.40, 2.19, 2.15])


@pytest.mark.parametrize("text", [
    # a model's worked answer: one whole number after the dash is prose
    "Step 1 - Count the apples: 5\nStep 2 - Add the pears: 7\nStep 3 - Total: 12\n",
    # a field that is no item
    "".join(f"Epoch {e} - the loss went down to 0.{9 - e}, lr: 0.001\n" for e in (1, 2, 3)),
])
def test_prose_after_a_step_token_and_a_dash_stays_unknown(tmp_path, text):
    with pytest.raises(InputError, match="unknown log format"):
        read_run(write(tmp_path, text))


def test_a_dashed_line_that_is_no_block_item_line_is_read_as_before(tmp_path):
    """`Epoch N - loss: X - val_loss: Y - 12s`: the bare `12s` is no `Name: value` item, so the
    line is no block's item line; its items are still read by the inline `name: value` rule."""
    text = "".join(f"Epoch {e} - loss: {1 / e:.4f} - val_loss: {1.2 / e:.4f} - 12s\n"
                   for e in range(1, 8))
    run = read_run(write(tmp_path, text))
    assert list(run.series("val_loss").index) == list(range(1, 8))
    assert run.series("loss")[4] == pytest.approx(0.25)
