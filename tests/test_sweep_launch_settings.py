"""Runs compared by their training settings, not by where they were written: two seeds of one
real HF Trainer configuration (TrainingArguments in its TensorBoard events) whose output_dir
and run_name differ were two configurations, and the report had no seed group for them."""

from __future__ import annotations

import pytest

from phasewatch.cli import main
from phasewatch.sweep import by_config, sweep

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tensorboard")


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    from scripted_eval import ScriptedMetrics
    from tiny_trainer import tiny_trainer

    root = tmp_path_factory.mktemp("seeds")
    for seed in (0, 1):
        trainer = tiny_trainer(
            root / f"seed{seed}", compute_metrics=ScriptedMetrics(seed=seed),
            run_name=f"trial-{seed}", max_steps=8, eval_strategy="steps", eval_steps=1,
            save_strategy="no", logging_steps=1, report_to=["tensorboard"], learning_rate=2e-3,
            seed=seed)
        trainer.train()
        trainer.save_state()
    return root


def test_launch_settings_are_no_hyperparameters(two_seeds):
    table = sweep([str(two_seeds / "seed0"), str(two_seeds / "seed1")], workers=1)
    assert list(table["seed"]) == [0, 1]
    assert set(table["hp.learning_rate"]) == {2e-3}  # a training setting stays
    columns = {c.removeprefix("hp.") for c in table.columns if c.startswith("hp.")}
    launch = columns & {"output_dir", "run_name", "report_to"}
    assert not launch, launch
    configs = by_config(table)
    assert len(configs) == 1 and configs["n_runs"].iloc[0] == 2


def test_the_report_groups_the_two_seeds(two_seeds, tmp_path):
    page = tmp_path / "r.html"
    assert main(["report", str(two_seeds / "seed0"), str(two_seeds / "seed1"), "--workers", "1",
                 "--no-progress", "-o", str(page)]) == 0
    text = page.read_text()
    assert "No seed groups" not in text and "2 seeds" in text


def test_the_docs_list_the_launch_settings_the_code_leaves_out():
    import re
    from pathlib import Path

    from phasewatch.sweep.row import LAUNCH_SETTINGS

    text = (Path(__file__).parent.parent / "docs" / "sweeps.md").read_text()
    section = text[text.index("**Launch settings are no hyperparameters.**"):]
    section = section[:section.index("\n\n")]
    said = set(re.findall(r"`([a-z_]+)`", section)) - {"args"}
    assert said == LAUNCH_SETTINGS


def test_an_openmmlab_work_dir_is_a_launch_setting():
    """OpenMMLab (mmengine) writes each run under its config's `work_dir`: seeds of one
    configuration launched into different work_dirs are one configuration."""
    from phasewatch.run import RecordCollector
    from phasewatch.sweep.row import hyperparameters

    collector = RecordCollector("run", "jsonl")
    collector.add(1, {"eval/accuracy": 0.5}, line=1)
    run = collector.build(config={"optim_wrapper": {"optimizer": {"lr": 0.01}},
                                  "work_dir": "work_dirs/seed1", "randomness": {"seed": 1}})
    assert hyperparameters(run) == {"optim_wrapper.optimizer.lr": 0.01, "randomness.seed": 1}
