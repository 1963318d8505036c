"""The planned length of a run, from its config: what the live monitor judges "early" against.

Trainers write it in their settings: Hugging Face's `max_steps` (TrainingArguments, -1 when the
run is set by epochs instead), TRL's on-policy trainers' `num_total_batches` (PPO, RLOO: the
updates `total_episodes` makes, one logged step each; their `num_train_epochs` is not the run's
length, and their logged `epoch` is the share of the prompts seen: a PPO run of 500 updates,
all logged, was "planned to end at step 30000", 3 epochs x the 10,000 steps its epoch 0.05 at
step 500 said one takes, and its fall at update 171 read as early: wandb-trl-ppo-scores-500),
verl's `trainer.total_training_steps` (or the count verl computes, which it writes to
`actor_rollout_ref.actor.optim.total_training_steps`), LLaMA-Factory's `total_steps` (on every
line of its trainer_log.jsonl), phasewatch's own trainer `steps`, torchtitan's `training.steps`,
nanoGPT's `max_iters`, Megatron-LM's `train_iters`, the `max_train_steps` of Hugging Face's
accelerate examples and diffusers' scripts, detectron2's `SOLVER.MAX_ITER` and its LazyConfig
`train.max_iter` (each a run's last step, as its loop ends there and logs its steps: `PLANNED_STEP_KEYS`, which names the writers); a reader that finds the plan in a console
banner gives `planned_steps`, in the log's own step units (a Hugging Face console log: its
`Total optimization steps` where its banner fixes the steps per epoch, or its progress bar's
total where the bar gives the rows' steps, else `Num Epochs` x 10,000, as its rows count
ten-thousandths of an epoch); where none of these says it, the end of the learning rate's
linear or cosine decay does (`lr_schedule`): the plan of a log read whole is `whole_plan`'s,
that of a run followed `live_plan`'s, both from what is here. A config may hold the key flattened
("trainer.total_training_steps", as W&B and MLflow show nested settings) or nested, and as a
string (MLflow parameters are strings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from phasewatch.values import to_float

# Each the run's last step, in the steps its log is placed at; the first one a config holds
# (> 0) is the plan. Names another writer uses for something else are not here (see below).
PLANNED_STEP_KEYS = (
    "max_steps",  # Hugging Face TrainingArguments (-1: set by epochs), Lightning
    "num_total_batches",  # TRL PPO / RLOO: the updates `total_episodes` makes
    "trainer.total_training_steps",  # verl, where the command line sets it
    "total_training_steps",  # verl's, flattened by a tracker that drops the section
    # verl otherwise: len(train_dataloader) x total_epochs, written here by RayPPOTrainer
    # (`trainer.total_training_steps` stays null); its loop logs step=global_steps up to it
    "actor_rollout_ref.actor.optim.total_training_steps",
    "total_steps",  # LLaMA-Factory's trainer_log.jsonl
    "steps",  # phasewatch's reference trainer, a script's `config={"steps": N}`
    "training.steps",  # torchtitan's [training] steps: logs step=self.step up to it
    "max_iters",  # nanoGPT: `if iter_num > max_iters: break`, logs its `iter`
    "train_iters",  # Megatron-LM: `while iteration < args.train_iters`, logs each iteration
    # Hugging Face's accelerate examples (run_*_no_trainer.py) and diffusers' train_*.py
    # scripts: `completed_steps` / `global_step` >= max_train_steps ends the run, logged at it
    "max_train_steps",
    # detectron2: `for self.iter in range(start_iter, max_iter)`, its last training line at
    # max_iter - 1 and the evaluation after training at max_iter (`io.detectron2_config`);
    # yacs configs (the console's dump, OUTPUT_DIR/config.yaml), then LazyConfig's
    "SOLVER.MAX_ITER",
    "train.max_iter",
    "planned_steps",  # a console banner's plan, as its reader states it
)
# Names of a run's length left out, as a writer uses them for something else or counts other
# steps than the log's (docs/monitoring.md, `planned_steps`): `num_iterations` (TRL's GRPO:
# the updates per batch, 1), `num_steps` and `n_steps` (CleanRL, Stable-Baselines3: a rollout's
# steps per environment), `total_timesteps` / `num_timesteps` (environment steps: the step
# axis of the log may count updates or episodes instead; SB3's `num_timesteps` is its counter so
# far), `lr_decay_iters` (nanoGPT's schedule, not its length), `max_epochs` / `num_epochs`
# (Lightning, torchtune: epochs, and their logged epoch is a whole number, which does not say
# how many steps one takes).
# A training script's own arguments, as it logs them (`{"type": "config", "args": vars(args)}`
# heading a JSON-lines log): `--max-steps` or `--steps`.
SCRIPT_ARGS = "args"


EPOCHS_KEY = "num_train_epochs"  # Hugging Face TrainingArguments, with max_steps -1
EPOCH_METRICS = ("train/epoch", "epoch")  # the epoch HF logs beside each row


def planned_steps(config: Mapping[str, Any]) -> int | None:
    """The run's planned last step, as one of `PLANNED_STEP_KEYS` states it, or None when its
    config does not say (or says -1). A run set by epochs: `planned_epochs`, `epoch_plan`."""
    found = planned_key(config)
    return None if found is None else found[0]


def planned_key(config: Mapping[str, Any]) -> tuple[int, str] | None:
    """(`planned_steps`, the key that states it: "max_steps", "args.steps"), or None."""
    script = config.get(SCRIPT_ARGS)
    for key, where in [(key, config) for key in PLANNED_STEP_KEYS] \
            + [(key, script) for key in PLANNED_STEP_KEYS if isinstance(script, Mapping)]:
        value = _lookup(where, key)
        if isinstance(value, bool):
            continue
        try:
            steps = int(str(value).strip()) if isinstance(value, str) else value
        except ValueError:
            continue
        name = key if where is config else f"{SCRIPT_ARGS}.{key}"
        if isinstance(steps, int) and steps > 0:
            return steps, name
        if isinstance(steps, float) and steps.is_integer() and steps > 0:
            return int(steps), name
    return None


# DVCLive's Hugging Face callback (dvclive's and transformers') writes the TrainingArguments to
# params.yaml and calls `live.next_step()` once a Trainer log: its steps count the Trainer's logs
# (an evaluation's is one of its own), its `max_steps` the optimizer's steps (max_steps 40,
# logging every 5 and evaluating every 10, logs steps 0-12). No step of the log says which
# optimizer step it is, so that plan is none, nor is `num_train_epochs`, which max_steps
# overrides; with max_steps -1 the planned epochs x the steps an epoch takes, as the `epoch`
# logged at each step says it, is in the log's steps.
TRAINER_ARGUMENTS = frozenset({"max_steps", "logging_steps", "per_device_train_batch_size"})


def plan_in_other_steps(config: Mapping[str, Any], format: str) -> str | None:
    """Why the planned length `config` states counts other steps than the log's (its format
    `format`), said where the plan would be; None where it does not (or states none)."""
    found = planned_key(config) if format == "dvclive" and TRAINER_ARGUMENTS <= config.keys() \
        else None
    if found is None or found[1] != "max_steps":
        return None
    return (f"the run's config `max_steps` {found[0]} counts the Trainer's optimizer steps, and "
            "DVCLive's Hugging Face callback steps its log once a Trainer log (an evaluation's "
            "is a step of its own): not a plan in the log's steps")


# Formats whose plan is in the log's own text, not in a config: where each states it.
STATED_BY_LOG = {
    "hf_console": "the Trainer's console banner, its `Total optimization steps` or else its "
                  "`Num Epochs` x 10,000, or its progress bar's `N/TOTAL`",
    "keras_console": "the console's `Epoch N/M`",
    "paddle_console": "the console's `Epoch N/M`",
    "kv_console": "the console counter's `N/TOTAL`",
    "olmo_console": "the console's `[step=N/MAX]`",
    "verl_console": "verl's console, its `Total training steps` or `total_training_steps`",
    "llamafactory": "the `total_steps` of its trainer_log.jsonl lines",
    "llmc_console": "llm.c's console, its `step N/MAX`",
    "megatron_console": "Megatron's console, its `iteration N/ MAX`",
    "modded_nanogpt": "the speedrun's console, its `step:N/MAX`",
    "opennmt_console": "OpenNMT-py's console, its `Step N/MAX`",
    "timm_console": "timm's console, its `Scheduled epochs: N` x the updates of an epoch",
    "espnet_console": "ESPnet's `N/MAXepoch started` line",
    "accelerate_console": "the loop's banner, its `Num Epochs` or `Total optimization steps`",
    "notebook": "the notebook's progress bar",
}
# A plan a console log states under a key of its own, whatever its format: where it says it.
STATED_BY_KEY = {
    "max_iters": "nanoGPT's `max_iters = N`, among the settings it prints",
    "actor_rollout_ref.actor.optim.total_training_steps":
        "verl's console, its `Size of train dataloader` x the config's `total_epochs`",
}


@dataclass
class PlanSource:
    """The planned length a watch judges "early" against, and where it came from: `origin`
    "option" (--planned-steps, `planned_steps=`), "config" (a key of the run's config: W&B's,
    Trackio's, MLflow's params, trainer_state.json's, a JSON-lines log's settings), "log" (the
    log's own text: a console banner or counter, `STATED_BY_LOG`), "epochs" (the config's
    `num_train_epochs` x the steps an epoch takes, from the logged `epoch`: refined as the run
    goes on, so `steps` is the last estimate), "epoch_count" (the config's `epochs`, in a
    run whose steps are its epochs: `EpochSteps`) or "lr" (where the logged learning rate's
    linear or cosine decay ends, `lr_schedule`, `decay` its words; refined as the run goes on
    too), "finished" (that decay read past the step where the log says the run finished,
    which is the plan: `past_end` says why, `lr_schedule.finished_before`)."""

    steps: int
    origin: str
    key: str | None = None
    format: str = ""
    epochs: float | None = None
    decay: str = "linear decay to 0"
    past_end: str | None = None  # origin "finished": why the decay's end does not hold

    @classmethod
    def of_config(cls, config: Mapping[str, Any], format: str) -> PlanSource | None:
        found = planned_key(config)
        if found is None:
            return None
        stated = format in STATED_BY_LOG or format.startswith("notebook")
        return cls(found[0], "log" if stated else "config", found[1], format)

    def where(self) -> str:
        """"from the run's config `steps`", "from --planned-steps", ...: where the plan comes
        from, in the words `inspect` ("planned to end at step 200 (from ...)") and `watch`
        ("planned length: 200 steps, from ...") both say it by."""
        if self.origin == "finished":
            return self.past_end or "the log says the run finished there"
        if self.origin == "option":
            return "from --planned-steps"
        if self.origin == "log":
            stated = STATED_BY_KEY.get(self.key or "") or STATED_BY_LOG.get(self.format) \
                or STATED_BY_LOG["notebook"]
            return f"stated by the log: {stated}"
        if self.origin == "epoch_count":
            return (f"from the run's config `{self.key}` {self.epochs:g}, as its steps are its "
                    "epochs, a row each")
        if self.origin == "lr":
            return f"from the learning rate's {self.decay_words().removesuffix(',')}"
        if self.origin == "epochs":
            per_epoch = self.steps / self.epochs if self.epochs else float("nan")
            return (f"from the run's config `{EPOCHS_KEY}` {self.epochs:g} x the {per_epoch:.4g} "
                    "steps an epoch takes, as the `epoch` it logs says")
        return f"from the run's config `{self.key}`"

    def decay_words(self) -> str:
        """The learning rate's decay this plan is read from, with the rate's name, as the texts
        name it before saying where it ends: "linear decay to 0, `lr`,"."""
        return f"{self.decay}, `{self.key}`,"

    def finished_at(self, last: int | None, unit: str = "step") -> PlanSource:
        """This plan, or, where it is where the learning rate's decay ends and the log says the
        run finished at step `last` before that (`lr_schedule.finished_before`), the plan that
        ends at `last`, saying why: the one rule `inspect` and `watch` read a finished log's
        plan by."""
        from phasewatch.lr_schedule import finished_before

        if self.origin != "lr" or last is None:
            return self
        why = finished_before(self.steps, last, self.decay_words(), unit)
        return self if why is None else PlanSource(last, "finished", self.key, past_end=why)

    def length(self, unit: str = "step") -> str:
        """"200 steps"; in a log whose steps are not steps, where it ends ("epoch 29")."""
        from phasewatch.step_units import at

        if unit == "step" and self.origin != "epoch_count":  # else its last step, not a count
            return f"{self.steps} steps"
        return f"up to {at(self.steps, unit)}"

    def said(self, unit: str = "step") -> str:
        """What `watch` says on stderr when its monitor starts with this plan."""
        overrides = "" if self.origin == "option" else " (--planned-steps overrides)"
        refined = ", refined as the run goes on" if self.origin in ("epochs", "lr") else ""
        return (f"planned length: {self.length(unit)}, {self.where()}{refined}; the monitor "
                f"judges what is early against it{overrides}")

    def to_dict(self) -> dict[str, Any]:
        """The `watch --format jsonl` summary's `planned`."""
        return {"steps": self.steps, "from": self.origin, "key": self.key}


def planned_epochs(config: Mapping[str, Any]) -> float | None:
    """The epochs a run set by epochs plans (`num_train_epochs`), if its config says: a
    Hugging Face run with `max_steps` -1, as TensorBoard and W&B show its arguments."""
    return _positive_number(_lookup(config, EPOCHS_KEY))


def epoch_resolution(text: str, largest: float) -> float:
    """The most a printed epoch can be off, doubled (the step of its last digit), up to epoch
    `largest`: ProgressCallback's `f"{epoch:.4g}"` strings keep 4 significant digits;
    older versions' bare numbers were `round(epoch, 2)`; a bare number with more decimals is
    the float itself."""
    if text.startswith(("'", '"')):
        return 10.0 ** (math.floor(math.log10(max(largest, 1e-9))) - 3)
    decimals = len(text.partition(".")[2].partition("e")[0]) if "." in text else 0
    return 0.01 if decimals <= 2 and "e" not in text.lower() else 1e-12


# How far off a plan from a printed epoch may be: it only says where the early part (the first
# `EARLY_FRACTION`) ends, and 2% moves that by under 1% of the run
PLAN_TOLERANCE = 0.02


def epoch_plan(epochs: float, step: int, values: Mapping[str, Any],
               rounded: bool = False, least: bool = False) -> int | None:
    """`epochs` x the steps an epoch takes, from the epoch a record at `step` logs; None when
    it logs none or none past the start. A `rounded` epoch (two rows at different steps logged
    the same one: an exact epoch grows with every step) is as exact as its last printed digit
    (`epoch_resolution`), and gives no plan it cannot fix within `PLAN_TOLERANCE`:
    wandb-mistral-qlora-trainloss-409 logs `train/epoch` rounded to 0.01 (0.00 to step 2500,
    0.01 from 2510: its epoch takes ~500,000 steps), and 4090 / 0.01 made a plan of 409,000
    steps, 251,000 at the first 0.01 (the true epoch is 0.005-0.015 there: any plan from
    167,000 to 502,000 steps). With `least`, the fewest steps the plan can be instead (the
    epoch at its largest), which a coarse epoch still gives."""
    raw = logged_epoch(values)
    epoch = _positive_number(raw)
    if epoch is None or step <= 0:
        return None
    if rounded:
        text = f"'{raw}'" if isinstance(raw, str) else repr(float(raw))
        half = epoch_resolution(text, epoch) / 2
        if least:
            return math.floor(epochs * step / (epoch + half))
        if epoch <= half or (epoch + half) / (epoch - half) > 1 + PLAN_TOLERANCE:
            return None
    return round(epochs * step / epoch)


def logged_epoch(values: Mapping[str, Any]) -> Any:
    """The epoch a record logs beside its values (`EPOCH_METRICS`), as logged, or None."""
    return next((values[n] for n in EPOCH_METRICS if n in values), None)


def _positive_number(value: Any) -> float | None:
    """`value` as a finite number above 0 (`values.to_float`; a flag is no count), else None."""
    number = None if isinstance(value, bool) else to_float(value)
    return number if number is not None and math.isfinite(number) and number > 0 else None


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    if key in config:
        return config[key]
    head, _, rest = key.partition(".")
    inner = config.get(head) if rest else None
    return _lookup(inner, rest) if isinstance(inner, Mapping) else None


# The early part of a run: a fall from the start that is still going on after this fraction of
# the plan is an overfit, not a disruption (`online.plan`, `fall_so_far`).
EARLY_FRACTION = 0.4
