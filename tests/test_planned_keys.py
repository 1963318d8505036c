"""The planned length under the names real trainers' configs give it (`planned.PLANNED_STEP_KEYS`):
nanoGPT's `max_iters` (its W&B config, and the settings its console prints), Megatron-LM's
`train_iters`, torchtitan's `training.steps`, the `max_train_steps` of Hugging Face's accelerate
examples and diffusers' scripts, and the count verl writes to
`actor_rollout_ref.actor.optim.total_training_steps` when `trainer.total_training_steps` is
null. Before, none of these was read: a run stopped at a third of its `max_iters` had no note
that it ended early, and `watch` judged "early" with no plan. The runs here are written by the
real writers' clients (the wandb SDK offline, the mlflow client), each stopped at step 300 of a
plan of 1000, with a constant learning rate (no plan from its decay)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from mlflow_runs import ENV
from wandb_offline import offline_run

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.planned import planned_key

PLAN = 1000  # the logs end at step 300: runs stopped at 30% of their plan

WANDB_SCRIPT = textwrap.dedent(
    """
    import json, sys, wandb
    config, counter = json.loads(sys.argv[2]), sys.argv[3]
    run = wandb.init(mode="offline", dir=sys.argv[1], project="p", config=config,
                     settings=wandb.Settings(console="off"))
    for k in range(16):  # an evaluation every 20 steps, to step 300
        values = {"val/loss": 2.0 - 0.05 * k + 0.002 * (-1) ** k, "lr": 3e-4}
        if counter == "iter":  # nanoGPT logs its iteration as a value, no step=
            run.log({"iter": 20 * k, **values})
        else:  # Megatron-LM, torchtitan, verl: step=
            run.log(values, step=20 * k)
    run.finish()
    """
)

# The configs as each writer gives them to wandb.init (nested where it nests them)
WANDB_CONFIGS = [
    ("max_iters", {"max_iters": PLAN, "lr_decay_iters": PLAN, "eval_interval": 20}, "iter"),
    ("train_iters", {"train_iters": PLAN, "eval_interval": 20, "micro_batch_size": 4}, "step"),
    ("training.steps", {"training": {"steps": PLAN, "warmup_steps": 10},
                        "metrics": {"log_freq": 20}}, "step"),
    ("actor_rollout_ref.actor.optim.total_training_steps",
     {"trainer": {"total_training_steps": None, "total_epochs": 2},
      "actor_rollout_ref": {"actor": {"optim": {"lr": 1e-6, "total_training_steps": PLAN}}}},
     "step"),
]


def _plan_said(capsys, path: str, metric: str) -> tuple[str, str]:
    """(`inspect`'s output, `watch`'s stderr) for the run at `path`."""
    assert main(["inspect", path]) == 0
    inspected = capsys.readouterr().out
    assert main(["watch", path, "--metric", metric]) in (0, 1)
    return inspected, capsys.readouterr().err


@pytest.mark.parametrize("key, config, counter", WANDB_CONFIGS, ids=[c[0] for c in WANDB_CONFIGS])
def test_a_wandb_config_states_the_plan_under_its_writers_name(tmp_path, capsys, key, config,
                                                                counter):
    folder = offline_run(WANDB_SCRIPT, tmp_path, json.dumps(config), counter, timeout=90)
    run = read_run(folder)
    assert planned_key(run.config) == (PLAN, key)
    inspected, said = _plan_said(capsys, str(folder), "val/loss")
    assert f"planned to end at step {PLAN} (from the run's config `{key}`)\n" in inspected
    assert f"planned length: {PLAN} steps, from the run's config `{key}`;" in said


MLFLOW_SCRIPT = textwrap.dedent(
    """
    import sys, mlflow
    mlflow.set_tracking_uri(sys.argv[1])
    with mlflow.start_run(run_name="no_trainer"):
        # accelerate's MLflowTracker.store_init_configuration: the script's vars(args)
        mlflow.log_params({"max_train_steps": PLAN, "num_train_epochs": 3, "learning_rate": 5e-5})
        for k in range(16):
            mlflow.log_metrics({"eval_loss": 2.0 - 0.05 * k + 0.002 * (-1) ** k}, step=20 * k)
    """
).replace("PLAN", str(PLAN))


def test_an_mlflow_param_max_train_steps_is_the_plan(tmp_path, capsys):
    """HF's accelerate examples (run_*_no_trainer.py) and diffusers' scripts log vars(args) to
    their tracker, MLflow's as string params; their loop ends at `max_train_steps`."""
    pytest.importorskip("mlflow")
    db = tmp_path / "mlflow.db"
    subprocess.run([sys.executable, "-c", MLFLOW_SCRIPT, f"sqlite:///{db}"], env=ENV, check=True,
                   capture_output=True, timeout=300)
    run = read_run(db / "no_trainer")
    assert run.config.get("max_train_steps") == str(PLAN)  # as MLflow keeps it, a string
    assert planned_key(run.config) == (PLAN, "max_train_steps")
    inspected, said = _plan_said(capsys, str(db / "no_trainer"), "eval_loss")
    assert f"planned to end at step {PLAN} (from the run's config `max_train_steps`)\n" in inspected
    assert f"planned length: {PLAN} steps, from the run's config `max_train_steps`;" in said


NANOGPT_HEAD = """Overriding config with config/train_shakespeare_char.py:
# train a miniature character-level shakespeare model
eval_interval = 250
max_iters = 5000
lr_decay_iters = 5000 # make equal to max_iters usually
min_lr = 1e-4 # learning_rate / 10 usually
Overriding: max_iters = 2000
tokens per iteration will be: 16,384
"""


def test_nanogpts_console_states_max_iters_among_its_settings(tmp_path, capsys):
    """nanoGPT's configurator prints the config file it reads, then each command-line override
    (`Overriding: max_iters = 2000`, the one train.py runs to); its `step N` lines count the same
    iterations. A `max_iters = N` printed after the first record is no setting."""
    lines = [f"step {250 * k}: train loss {4.0 - 0.3 * k:.4f}, val loss {4.1 - 0.3 * k:.4f}"
             for k in range(5)]
    log = tmp_path / "train.log"
    log.write_text(NANOGPT_HEAD + "\n".join(lines[:3]) + "\nmax_iters = 9000\n"
                   + "\n".join(lines[3:]) + "\n")
    assert read_run(log).config.get("max_iters") == 2000
    inspected, said = _plan_said(capsys, str(log), "val loss")
    assert ("planned to end at step 2000 (stated by the log: nanoGPT's `max_iters = N`, among "
            "the settings it prints)\n") in inspected
    assert ("planned length: 2000 steps, stated by the log: nanoGPT's `max_iters = N`, among the "
            "settings it prints;") in said


@pytest.mark.parametrize("config", [
    {"num_iterations": 1, "num_train_epochs": 3},  # TRL GRPO: updates per batch, not the run
    {"num_steps": 128, "total_timesteps": 500000},  # CleanRL: a rollout's steps; env steps
    {"n_steps": 2048, "num_timesteps": 0},  # Stable-Baselines3's model attributes
    {"lr_decay_iters": 5000},  # nanoGPT's schedule, not its length
    {"max_epochs": 10, "num_epochs": 10},  # Lightning, torchtune: epochs
])
def test_names_other_writers_use_for_something_else_give_no_plan(config):
    assert planned_key(config) is None


def test_a_stated_max_steps_comes_before_the_new_names():
    """A config holding both (a nanoGPT fork on HF's Trainer) keeps `max_steps`."""
    assert planned_key({"max_iters": 5000, "max_steps": 800}) == (800, "max_steps")
    assert planned_key({"max_iters": 5000, "max_steps": -1}) == (5000, "max_iters")
