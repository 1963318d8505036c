"""`phasewatch plot`: outputs, kinds, exit codes, and reproducible bytes across processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from plot_inputs import make_store

from phasewatch.cli import main


def write_run(folder, name="sft_then_rl", n=120, seed=0, store=False):
    """A native run folder (metrics.jsonl + run.json) with a dip, a recovery and a slow decline."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    t = np.linspace(0, 1, n)
    acc = 0.5 - 0.25 * np.exp(-((t - 0.15) / 0.07) ** 2) + 0.3 / (1 + np.exp(-(t - 0.4) * 20))
    acc -= 0.15 * np.clip(t - 0.6, 0, None) + rng.normal(0, 0.01, n)
    with open(folder / "metrics.jsonl", "w") as fh:
        fh.writelines(json.dumps({"step": i * 10, "eval/accuracy": round(float(acc[i]), 4),
                                 "train/entropy": round(1 - 0.5 * t[i], 4)}) + "\n" for i in range(n))
    meta = {"schema_version": 1, "name": name, "algorithm": name,
            "performance_metric": "eval/accuracy", "direction": "max",
            "events": [{"step": 600, "name": "sft_to_rl"}] if name == "sft_then_rl" else [], "config": {}}
    (folder / "run.json").write_text(json.dumps(meta))
    if store:
        make_store(folder / "expert_logprobs")
    return folder


@pytest.fixture
def run_dir(tmp_path):
    return write_run(tmp_path / "run", store=True)


def test_bad_extension_is_a_usage_error(run_dir, tmp_path, capsys):
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "fig.jpg")]) == 2
    assert ".pdf, .png, .svg" in capsys.readouterr().err
    assert not (tmp_path / "fig.jpg").exists()


@pytest.mark.parametrize("extra,message", [
    (["--size", "enormous"], "--size must be"),
    (["--dpi", "5"], "--dpi"),
    (["--smoothing-width", "-1"], "width must be positive"),
])
def test_bad_options_are_usage_errors(run_dir, tmp_path, capsys, extra, message):
    paths = [str(run_dir)] * (1 + extra.count("PATH2"))  # "PATH2": a second path
    extra = [x for x in extra if x != "PATH2"]
    assert main(["plot", *paths, "-o", str(tmp_path / "f.png"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_one_run_kinds_refuse_several_paths(run_dir, tmp_path, capsys):
    argv = ["plot", str(run_dir), str(run_dir), "--kind", "tokens", "-o", str(tmp_path / "f.png")]
    assert main(argv) == 2
    assert "draws one run" in capsys.readouterr().err


def test_missing_output_folder_is_a_usage_error(run_dir, tmp_path, capsys):
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "nope" / "f.pdf")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unreadable_input_exits_3_naming_the_file(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "absent"), "-o", str(tmp_path / "f.pdf")]) == 3
    assert "absent" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\x00\x01\x02 binary")
    assert main(["plot", str(bad), "-o", str(tmp_path / "f.pdf")]) == 3
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "Traceback" not in err


def test_token_figure_from_the_cli(run_dir, tmp_path):
    out = tmp_path / "tokens.png"
    assert main(["plot", str(run_dir), "--kind", "tokens", "--size", "full", "--dpi", "100", "-o", str(out)]) == 0
    assert mpimg.imread(out).shape[:2] == (240, 675)


def test_token_figure_without_a_store_is_a_usage_error(tmp_path, capsys):
    folder = write_run(tmp_path / "run")
    assert main(["plot", str(folder), "--kind", "tokens", "-o", str(tmp_path / "f.pdf")]) == 2
    assert "no expert log-prob store" in capsys.readouterr().err


def test_phase_and_compare_figures_from_the_cli(run_dir, tmp_path, capsys):
    out = tmp_path / "phase.png"
    assert main(["plot", str(run_dir), "--size", "3.3x3", "--dpi", "100", "-o", str(out)]) == 0
    assert mpimg.imread(out).shape[:2] == (300, 330)
    assert "wrote" in capsys.readouterr().err
    other = write_run(tmp_path / "chord", name="chord_mu", seed=1)
    for layout in ("overlay", "grid"):
        out = tmp_path / f"compare_{layout}.svg"
        assert main(["plot", str(run_dir), str(other), "--layout", layout, "-o", str(out)]) == 0
        assert out.read_bytes().startswith(b"<?xml")
    assert main(["plot", str(run_dir), "--metric", "nope", "-o", str(tmp_path / "f.pdf")]) == 2
    assert "no metric 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["phase", "tokens"])
def test_same_input_same_bytes_across_processes(run_dir, tmp_path, kind):
    outputs = []
    for i in range(2):
        out = tmp_path / f"f{i}.pdf"
        subprocess.run([sys.executable, "-m", "phasewatch", "plot", str(run_dir), "--kind", kind,
                        "-o", str(out)], check=True, capture_output=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real_logs"


@pytest.mark.parametrize("relative", [
    "verl_ppo_qwen05b/Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567.log",
    "trl_grpo_unsloth/training_logs.json",
])
def test_real_logs_plot(relative, tmp_path):
    path = REAL_LOGS / relative
    if not path.exists():
        pytest.skip("shared/real_logs is not available")
    out = tmp_path / "real.png"
    assert main(["plot", str(path), "--dpi", "100", "-o", str(out)]) == 0
    image = mpimg.imread(out)
    assert image.shape[1] == 330 and image[..., :3].std() > 0.05


def test_labels_limits_and_data_from_the_cli(run_dir, tmp_path, capsys):
    import pandas as pd

    other = write_run(tmp_path / "chord", name="chord_mu", seed=1)
    out, data = tmp_path / "arms.png", tmp_path / "arms.csv"
    assert main(["plot", str(run_dir), str(other), "--label", "mine", "--label", "theirs",
                 "--xlim", "0,900", "--ylim=0,1", "--dpi", "60", "-o", str(out),
                 "--data", str(data)]) == 0
    assert "the figure's data" in capsys.readouterr().err
    table = pd.read_csv(data)
    assert set(table.run) == {"mine", "theirs"}
    assert {"raw", "smoothed", "stop"} <= set(table.kind)
    # the phase figure's bands and baseline go into the CSV too
    assert main(["plot", str(run_dir), "-o", str(out), "--data", str(data), "--dpi", "60"]) == 0
    kinds = set(pd.read_csv(data).kind)
    assert "baseline" in kinds and any(k.startswith("phase:") for k in kinds)


@pytest.mark.parametrize("extra,message", [
    (["--label", "a", "--label", "b"], "2 --label for 1 paths"),
    (["PATH2", "--label", "a"], "1 --label for 2 paths: give one per path"),
    (["--xlim", "5"], "--xlim must be LO,HI"),
    (["--ylim=1,0"], "--ylim needs LO < HI"),
    (["--data", "out.txt"], "must end in .csv"),
])
def test_bad_label_limit_and_data_options_are_usage_errors(run_dir, tmp_path, capsys, extra, message):
    paths = [str(run_dir)] * (1 + extra.count("PATH2"))  # "PATH2": a second path
    extra = [x for x in extra if x != "PATH2"]
    assert main(["plot", *paths, "-o", str(tmp_path / "f.png"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_labels_stay_with_their_runs_when_one_is_left_out(run_dir, tmp_path, capsys):
    import pandas as pd

    other = write_run(tmp_path / "chord", name="chord_mu", seed=1)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    data = tmp_path / "f.csv"
    code = main(["plot", str(run_dir), str(broken), str(other), "--label", "first", "--label",
                 "unreadable", "--label", "third", "--dpi", "50", "-o", str(tmp_path / "f.png"),
                 "--data", str(data)])
    assert code == 4  # drawn without the unreadable run, which is reported
    assert "broken.jsonl" in capsys.readouterr().err
    assert set(pd.read_csv(data).run) == {"first", "third"}


def test_data_csv_gives_x_in_the_unit_the_figure_shows(tmp_path):
    """`--x epoch --data`: the CSV carries the epoch of every drawn point (what the figure's
    axis shows), beside its step; phase bands get their end in epochs too."""
    import pandas as pd

    rows = [{"step": 10 * i, "epoch": round(i / 25, 4), "eval/accuracy": 0.5 + 0.001 * i}
            for i in range(60)]
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = tmp_path / "f.csv"
    assert main(["plot", str(log), "--x", "epoch", "--dpi", "50", "-o", str(tmp_path / "f.png"),
                 "--data", str(data)]) == 0
    table = pd.read_csv(data)
    assert list(table.columns) == ["panel", "run", "metric", "kind", "step", "value", "end_step",
                                   "epoch", "end_epoch"]
    raw = table[table.kind == "raw"]
    assert np.allclose(raw.epoch, raw.step / 250)  # one epoch = 250 steps in this log
    bands = table[table.kind.str.startswith("phase:")]
    assert len(bands) and np.allclose(bands.end_epoch, bands.end_step / 250)
    # without --x the table keeps its seven columns
    assert main(["plot", str(log), "--dpi", "50", "-o", str(tmp_path / "f.png"),
                 "--data", str(data)]) == 0
    assert "epoch" not in pd.read_csv(data).columns


def test_runs_counting_epochs_and_steps_are_not_overlaid_on_one_step_axis(tmp_path, capsys):
    """Trial 61: a Keras CSVLogger run (20 epochs) overlaid with a run of 2,000 optimizer steps
    was drawn at steps 1-20, a sliver at the left of an axis labelled "training step", with no
    word said (and `--x epoch` changed nothing). The overlay is refused with the way out; the
    grid, which gives each run an axis of its own, draws them."""
    keras = tmp_path / "training_log.csv"
    keras.write_text("epoch,loss,val_accuracy\n" + "".join(
        f"{e},{1 / (e + 1):.4f},{0.5 + 0.3 * (1 - np.exp(-e / 5)):.4f}\n" for e in range(20)))
    steps = write_run(tmp_path / "steps", name="sft")
    out = tmp_path / "f.png"
    assert main(["plot", str(keras), str(steps), "--dpi", "50", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{keras} in epochs" in err and "in steps" in err and "--layout grid" in err
    assert not out.exists()
    assert main(["plot", str(keras), str(steps), "--layout", "grid", "--dpi", "50",
                 "-o", str(out)]) == 0 and out.exists()
    # runs that count the same unit are overlaid as before
    assert main(["plot", str(steps), str(write_run(tmp_path / "other", name="rl")), "--dpi", "50",
                 "-o", str(out)]) == 0
