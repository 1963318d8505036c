"""HF Trainer console dict lines (nohup / slurm output) and generic JSON documents."""

import json
import math

import pytest

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format
from phasewatch.io.hf_console import source as console_source
from phasewatch.step_units import ROWS_PER_EPOCH


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def eval_accuracy(i: int) -> float:
    """Dip, recovery, slow decline over 30 evaluations (as in the SFT phases)."""
    return 0.5 - 0.3 * math.exp(-((i - 5) / 2.5) ** 2) + 0.01 * min(i, 18) - 0.006 * max(i - 18, 0)


def nohup_text(n_evals: int = 30, strings: bool = True) -> str:
    """What `nohup python train.py > train.log` holds with the HF Trainer: loading noise, tqdm
    bars drawn with '\\r', `tqdm.write` dict lines (numbers as strings in recent versions),
    and the final summary row."""
    out = ["Loading checkpoint shards: 100%|##########| 2/2 [00:03<00:00,  1.52s/it]",
           "***** Running training *****", "  Num examples = 4,000", "  Num Epochs = 3"]
    for i in range(n_evals):
        epoch = (i + 1) * 0.1
        loss = 1.0 / (i + 2)
        bar = f"\r {i * 3}%|##     | {i * 10}/300 [00:{i:02d}<01:00,  4.2it/s]"
        q = (lambda v: f"'{v:.4g}'") if strings else (lambda v: f"{v:.4g}")
        out.append(f"{bar}\r{{'loss': {q(loss)}, 'grad_norm': {q(1.5)}, "
                   f"'learning_rate': {q(2e-5)}, 'epoch': {q(epoch)}}}")
        out.append(f"{{'eval_loss': {q(1 - eval_accuracy(i))}, 'eval_accuracy': "
                   f"{q(eval_accuracy(i))}, 'eval_runtime': {q(3.2)}, "
                   f"'eval_samples_per_second': {q(100.0)}, 'epoch': {q(epoch)}}}")
    out.append("{'train_runtime': 321.5, 'train_samples_per_second': 12.4, 'train_loss': 0.31, "
               f"'epoch': {n_evals * 0.1:.1f}}}")
    out.append("wandb: Synced 5 W&B file(s)")
    return "\n".join(out) + "\n"


def test_hf_console_lines_become_records_at_epoch_steps(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(nohup_text())
    run = read_run(log)
    assert run.format == "hf_console"
    acc = run.series("eval/accuracy")  # role through HF's eval_ prefix
    assert acc.size == 30 and acc.index[0] == round(0.1 * ROWS_PER_EPOCH)
    assert acc.iloc[0] == pytest.approx(eval_accuracy(0), abs=1e-4)
    assert run.series("learning_rate").iloc[0] == pytest.approx(2e-5)
    assert not run.warnings


def test_hf_console_plain_numbers_and_printer_callback(tmp_path):
    log = tmp_path / "slurm-77.out"
    log.write_text(nohup_text(strings=False))
    assert read_run(log).series("eval_loss").size == 30


def test_hf_console_analyze_reports_in_epochs_by_default(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(nohup_text())
    code, out, err = cli(capsys, "analyze", log, "--format", "json")
    assert code == 0, err
    [result] = json.loads(out)["runs"]
    assert result["metric"] == "eval_accuracy" and result["x"]["unit"] == "epoch"
    phases = result["phases"]
    assert phases[0]["start_x"] == pytest.approx(0.1, abs=1e-6)
    assert phases[-1]["end_x"] == pytest.approx(3.0, abs=1e-6)
    assert phases[0]["name"] == "disruption"
    code, out, _ = cli(capsys, "analyze", log)
    assert code == 0 and "x axis: epoch" in out
    # the log states no step (no banner): its epoch x 10,000 is never offered as a step
    assert result["step_unit"] == "epoch/10000"
    code, out, err = cli(capsys, "analyze", log, "--x", "step", "--format", "json")
    assert code == 2 and "--x step: the rows read from this log carry no training step" in err


def test_hf_console_is_parsed_as_literals_never_run(tmp_path):
    marker = tmp_path / "pwned"
    log = tmp_path / "train.log"
    text = nohup_text(5)
    text += f"{{'loss': __import__('os').system('touch {marker}'), 'epoch': 0.9}}\n"
    log.write_text(text)
    run = read_run(log)
    assert not marker.exists()
    assert any("line 15" in w or "skipped" in w for w in run.warnings), run.warnings


def test_hf_console_bad_input_names_file_and_line(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("Running training\n{'loss': 0.5, 'epoch': 'soon'}\n")
    with pytest.raises(InputError) as info:
        read_run(log)
    assert info.value.line == 2 and "epoch" in str(info.value)
    code, _out, err = cli(capsys, "inspect", log)
    assert code == 3 and f"{log}:2:" in err


def test_hf_console_followed_line_by_line(tmp_path):
    log = tmp_path / "train.log"
    lines = [line + "\n" for line in nohup_text(4).split("\n")[:-1]]
    log.write_text("".join(lines[:5]))
    src = console_source(log, follow=True)
    first = list(src.read(final=False))
    assert [r.values.get("loss") for r in first] == ["0.5"]
    with open(log, "a") as fh:
        fh.write(lines[5][:20])  # half a line: waits
    assert list(src.read(final=False)) == []
    with open(log, "a") as fh:
        fh.write(lines[5][20:] + "".join(lines[6:]))
    rest = list(src.read(final=False))
    assert len(rest) == 8 and src.info.finished
    src.close()


def test_hf_console_sniffed_after_a_long_model_loading_preamble(tmp_path):
    log = tmp_path / "nohup.out"
    noise = "".join(f"Loading weights shard {i}: transformers warning\n" for i in range(3000))
    log.write_text(noise + nohup_text(3))
    assert sniff_format(log).FORMAT == "hf_console"


# ---------------------------------------------------------------- generic JSON
def test_generic_json_list_of_epoch_objects_under_a_key(tmp_path):
    doc = {"model": "resnet", "lr": 0.1,
           "history": [{"epoch": e, "loss": 1 / e, "val_acc": 0.4 + 0.01 * e} for e in range(1, 21)]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc, indent=2))
    run = read_run(path)
    assert run.format == "generic_json" and run.config == {"model": "resnet", "lr": 0.1}
    assert run.series("val_acc").index.tolist() == list(range(1, 21))


def test_keras_history_dumped_to_json_is_a_run_of_epochs(tmp_path, capsys):
    """`json.dump(model.fit(...).history, f)`: a list of per-epoch values per metric. analyze
    takes val_accuracy (not the train `accuracy`) and finds the epoch where it peaked."""
    acc = [0.5 + 0.015 * e - 0.002 * max(0, e - 10) ** 2 for e in range(20)]
    history = {"loss": [1 / (e + 1) for e in range(20)], "accuracy": [0.5 + 0.02 * e for e in range(20)],
               "val_loss": [0.8 - 0.02 * e for e in range(20)], "val_accuracy": acc}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history))
    run = read_run(path)
    assert run.format == "generic_json" and run.series("val_accuracy").index.tolist() == list(range(20))
    assert any("Keras' History" in w for w in run.warnings)
    code, out, _ = cli(capsys, "analyze", path, "--format", "json")
    result = json.loads(out)["runs"][0]
    assert code == 0 and result["metric"] == "val_accuracy"
    assert [p["name"] for p in result["phases"]] == ["improvement", "overfit"]
    assert result["recommended_stop_step"] == max(range(20), key=acc.__getitem__)
    # a model's preprocessor config has numeric lists too, and is no log
    config = tmp_path / "preprocessor.json"
    config.write_text(json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.2, 0.2, 0.2]}))
    assert sniff_format(config).FORMAT != "generic_json" and read_run(config).metrics == []


def test_generic_json_several_lists_keep_apart(tmp_path):
    doc = {"logs": {"train": [{"step": s, "loss": 1 / (s + 1)} for s in range(0, 100, 10)],
                    "eval": [{"step": s, "loss": 2 / (s + 1), "acc": s / 100} for s in range(0, 100, 50)]}}
    path = tmp_path / "log.json"
    path.write_text(json.dumps(doc))
    run = read_run(path)
    assert set(run.metrics) == {"logs/train/loss", "logs/eval/loss", "logs/eval/acc"}
    assert run.series("logs/eval/acc").tolist() == [0.0, 0.5]


def test_generic_json_fractional_epochs_are_numbered_with_a_warning(tmp_path, capsys):
    rows = [{"epoch": round(0.25 * i, 2), "eval_accuracy": eval_accuracy(i)} for i in range(1, 31)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(rows))
    run = read_run(path)
    assert run.series("eval_accuracy").index.tolist() == list(range(30))
    assert any("not an integer step" in w for w in run.warnings)
    code, out, err = cli(capsys, "analyze", path, "--x", "epoch", "--format", "json")
    assert code == 0, err
    result = json.loads(out)["runs"][0]
    assert result["phases"][-1]["end_x"] == pytest.approx(7.5)


def test_generic_json_damaged_names_the_line(tmp_path, capsys):
    path = tmp_path / "log.json"
    text = json.dumps({"history": [{"step": s, "loss": 1.0} for s in range(40)]}, indent=1)
    path.write_text(text[: len(text) // 2])
    code, _out, err = cli(capsys, "inspect", path)
    assert code == 3 and f"{path}:" in err and "not valid JSON" in err


def test_generic_json_does_not_claim_jsonl_or_tokenizers(tmp_path):
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n')
    assert sniff_format(jsonl).FORMAT == "jsonl"
    tok = tmp_path / "vocab_like.json"
    tok.write_text(json.dumps({"added_tokens": [{"id": 1, "content": "<s>"}]}, indent=2))
    with pytest.raises(InputError):
        sniff_format(tok)


def test_hf_console_bare_nan_loss_is_a_value(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("{'loss': 0.5, 'epoch': 0.1}\n{'loss': nan, 'grad_norm': nan, 'epoch': 0.2}\n"
                   "{'loss': 0.4, 'epoch': 0.3}\n")
    run = read_run(log)
    loss = run.series("loss", finite=False)
    assert loss.size == 3 and math.isnan(loss.iloc[1]) and not run.warnings


def test_hf_console_numpy_scalar_reprs_are_values(tmp_path):
    # numpy 2 prints a numpy scalar as `np.float64(0.68)`: an evaluation script's printed
    # metrics dict (hfconsole-qwen-sft-trainloss: six per-epoch evaluations from epoch 0) was
    # skipped whole as "not a readable Python dict", and its held-out metrics were lost
    log = tmp_path / "train.log"
    log.write_text("{'model_utility': np.float64(0.2641), 'privleak': numpy.float32(45.5), "
                   "'n': np.int64(400), 'gap': np.float64(nan), 'epoch': 0}\n"
                   "{'loss': 2.95, 'grad_norm': 70.5, 'epoch': 0.5}\n"
                   "{'model_utility': np.float64(0.4016), 'privleak': numpy.float32(33.3), "
                   "'n': np.int64(400), 'gap': np.float64(-inf), 'note': 'np.float64(1)', "
                   "'epoch': 1.0}\n")
    run = read_run(log)
    assert not run.warnings
    utility = run.series("model_utility")
    assert list(utility.values) == pytest.approx([0.2641, 0.4016])
    assert list(utility.index) == [0, ROWS_PER_EPOCH]
    assert run.series("privleak").iloc[1] == pytest.approx(33.3)
    gap = run.series("gap", finite=False)
    assert math.isnan(gap.iloc[0]) and gap.iloc[1] == -math.inf
    assert run.series("loss").iloc[0] == pytest.approx(2.95)


@pytest.mark.parametrize("utility", ["np.float64(0.26)", "0.26"])
def test_hf_console_an_evaluation_at_epoch_0_leaves_the_steps_to_the_training_rows(
        tmp_path, utility):
    # an evaluation printed before training, `'epoch': 0`, was the first row and decided alone
    # how finely the epoch is printed (a bare 0: to 0.01), so a log whose banner fixes 500
    # steps an epoch, with rows printing 4 digits, lost its steps for epoch x 10,000
    banner = ["***** Running training *****", "  Num examples = 4,000", "  Num Epochs = 3",
              "  Instantaneous batch size per device = 8",
              "  Total train batch size (w. parallel, distributed & accumulation) = 8",
              "  Gradient Accumulation steps = 1", "  Total optimization steps = 1,500"]
    rows = [f"{{'loss': '{1 / i:.4g}', 'epoch': '{i * 50 / 500:.4g}'}}" for i in range(1, 31)]
    log = tmp_path / "train.log"
    log.write_text("\n".join([*banner, f"{{'model_utility': {utility}, 'epoch': 0}}", *rows])
                   + "\n")
    run = read_run(log)
    assert run.step_unit == "step"
    assert list(run.series("loss").index[:2]) == [50, 100]
    assert list(run.series("model_utility").index) == [0]
