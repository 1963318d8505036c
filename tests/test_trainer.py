"""Reference trainer: task grading, run folder contract, determinism, CLI errors, interruption.

Runs use the `tiny` preset (a few steps of a small GRU, pre-training of a few steps cached in a
temporary folder), so each takes about a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.tokens import open_store
from phasewatch.trainer import task
from phasewatch.trainer.config import PRESETS, preset
from phasewatch.trainer.loop import train

DESIGN_METRICS = (
    "eval/accuracy", "eval/accuracy_sampled", "eval/format_valid", "eval/expert_format_rate",
    "eval/response_length", "expert/nll_train", "expert/nll_heldout", "train/loss",
    "train/sft_loss", "train/rl_loss", "train/reward", "train/entropy", "train/mu", "train/grad_norm",
)


def tiny_run(tmp_path: Path, name: str = "run", **overrides):
    cfg = preset("tiny", **overrides)
    out = tmp_path / name
    result = train(cfg, out, cache_dir=tmp_path / "cache", progress=False)
    return cfg, out, result


# ------------------------------------------------------------------------------------- the task
def test_teacher_a_is_right_exactly_when_the_units_do_not_carry():
    index = np.arange(task.N_PROBLEMS)
    a, b = task.decode_problem(index)
    right = task.teacher_a_answer(index) == a + b
    assert right.mean() == pytest.approx(0.55)  # 55 of the 100 units pairs do not carry
    assert np.array_equal(right, (a % 10 + b % 10) < 10)


def test_expert_traces_parse_to_the_true_sum_and_are_longer():
    index = np.array([0, 99 * 100 + 99, 47 * 100 + 85])
    traces = task.b_responses(index, np.array([0, 1, 2]))
    a, b = task.decode_problem(index)
    assert [task.parse_answer(t) for t in traces] == list(a + b)
    # 99 + 99: scratchpad d0=8 c0=1 d1=9 c1=1, answer 198
    assert traces[1] == [task.MARK, task.QUIRK0 + 1] + [task.DIGIT0 + d for d in (8, 1, 9, 1)] + [
        task.SEP] + [task.DIGIT0 + d for d in (1, 9, 8)] + [task.EOS]
    assert len(traces[1]) >= 3 * len(task.a_responses(a[1:2] + b[1:2])[0]) - 3


def test_grading_rejects_mixed_formats_and_missing_eos():
    index = np.array([12 * 100 + 34] * 4)  # 12 + 34 = 46
    good_a = task.a_responses(np.array([46]))[0]
    good_b = task.b_responses(index[:1], None)[0]
    mixed = [task.DIGIT0, task.MARK] + good_b[1:]
    no_eos = good_a[:-1] + [task.DIGIT0]
    rows = [good_a, good_b, mixed, no_eos]
    width = task.MAX_RESPONSE_LEN
    responses = np.array([r + [task.PAD] * (width - len(r)) for r in rows])
    graded = task.grade(index, responses)
    assert graded.valid.tolist() == [True, True, False, False]
    assert graded.correct.tolist() == [True, True, False, False]
    assert graded.expert_format.tolist() == [False, True, False, False]
    assert graded.rewards(-0.1).tolist() == [1.0, 1.0, -0.1, -0.1]


def test_heldout_prompts_are_disjoint_from_the_expert_set():
    splits = task.Splits.make(seed=3, expert_size=512, heldout_size=500)
    assert not set(splits.expert) & set(splits.heldout)
    rl = splits.sample_training_prompts(np.random.default_rng(0), 2000)
    assert not set(rl.tolist()) & set(splits.heldout.tolist())


# ------------------------------------------------------------------------- the run folder contract
def test_run_folder_holds_every_design_metric_and_a_valid_token_store(tmp_path):
    cfg, out, _ = tiny_run(tmp_path, algorithm="chord_mu")
    meta = json.loads((out / "run.json").read_text())
    assert meta["schema_version"] == 1
    assert (meta["algorithm"], meta["performance_metric"], meta["direction"]) == ("chord_mu", "eval/accuracy", "max")
    assert meta["config"]["steps"] == cfg.steps
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(cfg.steps + 1))
    seen = set().union(*rows)
    assert set(DESIGN_METRICS) <= seen
    eval_steps = [r["step"] for r in rows if "eval/accuracy" in r]
    assert eval_steps == [0, 3, 6]
    run = read_run(out)
    assert run.performance_metric == "eval/accuracy"
    mu = run.series("train/mu")
    assert mu.iloc[0] == pytest.approx(0.9 * 0.5 * (1 + np.cos(np.pi / cfg.mu_decay_steps)) + 0.05 * (
        1 - 0.5 * (1 + np.cos(np.pi / cfg.mu_decay_steps))))
    store = open_store(out / "expert_logprobs")
    assert store.dtype == np.float16
    assert store.steps.tolist() == eval_steps
    assert store.split_sequences("train") == cfg.probe_train
    assert store.split_sequences("heldout") == cfg.probe_heldout
    values = np.asarray(store.logprobs(0), dtype=float)
    assert np.all(values <= 0) and np.all(np.isfinite(values))


def test_sft_then_rl_records_the_switch_and_changes_the_loss(tmp_path):
    cfg, out, _ = tiny_run(tmp_path, algorithm="sft_then_rl")
    meta = json.loads((out / "run.json").read_text())
    assert meta["events"] == [{"step": cfg.switch_step, "name": "sft_to_rl"}]
    rows = {r["step"]: r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())}
    assert rows[cfg.switch_step]["train/mu"] == 1.0 and "train/sft_loss" in rows[cfg.switch_step]
    after = rows[cfg.switch_step + 1]
    assert after["train/mu"] == 0.0 and "train/reward" in after and "train/sft_loss" not in after


def test_the_logged_eval_matches_a_recomputation_with_the_stored_policy(tmp_path):
    """Step 0 is the pre-trained policy A: its logged accuracy is what grading it gives."""
    from phasewatch.trainer.model import generate
    from phasewatch.trainer.pretrain import established_policy

    cfg, out, _ = tiny_run(tmp_path)
    policy = established_policy(cfg, tmp_path / "cache")
    index = task.Splits.make(cfg.seed, cfg.expert_size, cfg.eval_prompts).heldout[: cfg.eval_prompts]
    responses, _ = generate(policy, task.prompts(index), greedy=True)
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert first["eval/accuracy"] == pytest.approx(task.grade(index, responses).correct.mean())


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    _, a, _ = tiny_run(tmp_path, "a", algorithm="chord_phi")
    _, b, _ = tiny_run(tmp_path, "b", algorithm="chord_phi")
    _, c, _ = tiny_run(tmp_path, "c", algorithm="chord_phi", seed=1)
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()
    assert (a / "metrics.jsonl").read_text() != (c / "metrics.jsonl").read_text()


def test_interrupted_run_leaves_a_readable_partial_log(tmp_path, monkeypatch):
    from phasewatch.trainer import loop

    real_log = loop.RunWriter.log

    def log_then_interrupt(self, step, values):
        real_log(self, step, values)
        if step == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop.RunWriter, "log", log_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(tmp_path)
    run = read_run(tmp_path / "run")
    assert run.series("train/loss").index.tolist() == [1, 2, 3, 4]
    assert run.events[-1].name == "interrupted" and run.events[-1].step == 4


def test_stop_on_stops_at_the_alert_and_records_it(tmp_path, monkeypatch):
    from phasewatch.trainer import loop

    class Alert:
        event = "disruption"

    class FakeMonitor:
        def update(self, step, metrics):
            assert "eval/accuracy" in metrics
            return [Alert()] if step >= 3 else []

    cfg = preset("tiny")
    real = loop._monitor("disruption", cfg.steps)
    assert real is not None  # the real PhaseMonitor is available
    assert real.config.planned_steps == cfg.steps  # told the run's length, as `watch` would be
    monkeypatch.setattr(loop, "_monitor", lambda stop_on, planned_steps: FakeMonitor())
    result = train(cfg, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False, stop_on="disruption")
    assert result.stopped and result.final_step == 3
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {"step": 3, "name": "stopped"} in meta["events"]


def test_stop_on_monitor_is_told_of_the_switch_after_the_last_sft_eval(tmp_path, monkeypatch):
    """The RL stage's evaluations must not be judged against the SFT stage's peak."""
    from phasewatch.trainer import loop

    calls = []

    class RecordingMonitor:
        def update(self, step, metrics):
            calls.append(("update", step))
            return []

        def mark_event(self, step, name):
            calls.append((name, step))

    monkeypatch.setattr(loop, "_monitor", lambda stop_on, planned_steps: RecordingMonitor())
    cfg = preset("tiny", algorithm="sft_then_rl")
    train(cfg, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False, stop_on="overfit")
    switch = calls.index(("sft_to_rl", cfg.switch_step))
    assert all(step <= cfg.switch_step for kind, step in calls[:switch])
    assert all(step > cfg.switch_step for kind, step in calls[switch + 1:])
    assert len(calls) > switch + 1  # the RL stage was evaluated too


# ------------------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--preset", "nope"], "choose from demo, sft, rl"),
        (["--preset", "tiny", "--steps", "-5"], "steps must be >= 0"),
        (["--preset", "tiny", "--mu-peak", "1.5"], "mu_peak must be in [0, 1]"),
        (["--preset", "tiny", "--mu", "-0.1"], "mu must be in [0, 1]"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path, capsys, argv, needle):
    code = main(["train", "--out", str(tmp_path / "x"), *argv])
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_trains_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--out", str(out), "--quiet", "--cache-dir", str(tmp_path / "c")]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite", "--algorithm", "rl"]) == 0
    assert json.loads((out / "run.json").read_text())["algorithm"] == "rl"


def test_train_command_imports_without_torch_and_says_how_to_install(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import phasewatch.commands.train\n"
        "from phasewatch.cli import main\n"
        f"sys.exit(main(['train', '--preset', 'tiny', '--out', {str(tmp_path / 'x')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "pip install 'phasewatch[trainer]'" in proc.stderr


def test_rl_stage_with_its_own_optimizer_differs_only_after_the_switch(tmp_path):
    cfg, kept, _ = tiny_run(tmp_path, "kept", algorithm="sft_then_rl", rl_lr=0.0)
    _, fresh, _ = tiny_run(tmp_path, "fresh", algorithm="sft_then_rl", rl_lr=cfg.lr)
    rows_kept = (kept / "metrics.jsonl").read_text().splitlines()
    rows_fresh = (fresh / "metrics.jsonl").read_text().splitlines()
    split = cfg.switch_step + 1  # line index of the first RL step (line 0 is step 0)
    assert rows_kept[:split + 1] == rows_fresh[:split + 1]  # the first RL update uses the old weights
    assert rows_kept[split + 1:] != rows_fresh[split + 1:]


def test_the_untrained_control_starts_from_a_model_without_habits(tmp_path):
    """control_untrained skips pre-training: the starting policy is the freshly initialised
    network (no format of its own to disrupt), and its first evaluation is near zero."""
    import torch

    from phasewatch.trainer.model import Policy
    from phasewatch.trainer.pretrain import established_policy

    cfg = preset("control_untrained", **{k: v for k, v in PRESETS["tiny"].items()
                                         if k not in ("algorithm", "pretrain_steps")})
    assert cfg.pretrain_steps == 0
    start = established_policy(cfg, cache_dir=tmp_path / "cache")
    torch.manual_seed(cfg.seed + 1000)  # what pre-training seeds before building the network
    fresh = Policy(cfg.embed, cfg.hidden, cfg.layers)
    for (name, a), (_, b) in zip(start.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name
    _, out, _ = tiny_run(tmp_path, pretrain_steps=0)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert next(r for r in rows if "eval/accuracy" in r)["eval/accuracy"] <= 0.05


def test_every_preset_is_valid_and_help_comes_from_the_config(capsys):
    for name in PRESETS:
        preset(name)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "GRPO samples per prompt" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("given", [["--preset", "sft_then_rl"], ["--preset=sft_then_rl"]])
def test_a_presets_help_shows_its_values(capsys, given):
    """`train --preset sft_then_rl --help` showed the demo's `--algorithm (default sft)` and
    `--rl-lr (default 0.0)` (trial 33): the defaults shown are the preset's, the ones it sets
    beside the demo's."""
    with pytest.raises(SystemExit):
        main(["train", *given, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "config overrides (default: preset sft_then_rl's value)" in text
    assert "(default sft_then_rl in preset sft_then_rl; sft in demo)" in text
    assert "optimizer state) (default 0.0003 in preset sft_then_rl; 0.0 in demo)" in text
    assert "(optimizer updates) (default 2000)" in text  # not set by the preset: as before
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "config overrides (default: preset demo's value)" in text
    assert "training arm (default sft)" in text and "optimizer state) (default 0.0)" in text
    assert " in demo)" not in text
