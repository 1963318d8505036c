"""One SFT-then-RL run from the two runs two trainers write (`phasewatch join`).

TRL's `SFTTrainer` then `GRPOTrainer` (and most stacks: an SFT job, then an RL job started from
one of its checkpoints) write two output folders whose steps both start at 0. `join_runs` puts
them on one step axis as a native run folder would hold them (docs/contracts.md): the SFT
records up to the switch step S (the checkpoint RL started from), then the RL records shifted
by S (RL step 0 -> S), with the `sft_to_rl` event at S, which `analyze`, `plot` and `watch` take
as the start of a new training stage.

Where both runs have a record at S (SFT's evaluation of checkpoint-S and RL's step-0 evaluation
of the same model), the later record supersedes, per metric, as it does for a step re-logged in
any log (`run.RecordCollector`): RL's value is kept, SFT's values of metrics RL did not log at
its step 0 stay. Metric names are merged as the runs wrote them, but a loss both trainers log
(`loss`, `eval_loss`): each trainer's is its own objective (SFT's token NLL, DPO's preference
loss, GRPO's policy loss), so the RL run's is written as `rl/<name>` (trial 38: SFT's eval NLL,
0.004 at the switch, went on as DPO's preference loss, 0.693 = log 2, "overfit +178 sd").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasewatch.errors import UsageError
from phasewatch.run import Run

STAGE_EVENT = "sft_to_rl"
RL_PREFIX = "rl/"  # the RL run's own loss, when the SFT run logs one of the same name


def _own_objective(name: str) -> bool:
    """A loss: what each trainer's is differs, whatever the name."""
    return "loss" in name.lower()


@dataclass
class Joined:
    """The joined run as rows to write, its run.json fields, and what the join did."""

    rows: list[tuple[int, dict[str, float]]]
    switch_step: int
    meta: dict[str, Any]
    dropped: int = 0  # SFT steps after the switch step (records of checkpoints RL did not use)
    superseded: list[str] = field(default_factory=list)  # SFT metrics at S replaced by RL's
    sft_only: list[str] = field(default_factory=list)
    rl_only: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)  # one series across the switch
    apart: list[str] = field(default_factory=list)  # losses of both: the RL run's as rl/<name>


def _rows(run: Run, offset: int = 0, last: int | None = None) -> dict[int, dict[str, float]]:
    """step -> {metric: value} of every record of `run` (its own names), shifted by `offset`,
    up to step `last` (before shifting); a non-finite value stays a record (written as null)."""
    rows: dict[int, dict[str, float]] = {}
    for name, (steps, values) in run.columns().items():
        for step, value in zip(steps.tolist(), values.tolist()):
            if last is not None and step > last:
                break
            rows.setdefault(step + offset, {})[name] = value
    return rows


def _declared(sft: Run, rl: Run, field_name: str) -> str | None:
    """A run.json field both runs declare alike (a performance metric, a direction), else None:
    `analyze` then chooses by its rules over the merged names."""
    a, b = getattr(sft, field_name), getattr(rl, field_name)
    return a if a is not None and a == b else None


def join_runs(sft: Run, rl: Run, switch_step: int | None = None, name: str = "joined") -> Joined:
    """`sft` up to `switch_step` (default: its last step), then `rl` shifted by it."""
    from phasewatch.planned import planned_steps

    if sft.algorithm not in (None, "sft") and rl.algorithm == "sft":  # trial 37
        raise UsageError(f"the first run is {sft.algorithm.upper()} ({sft.source}) and the second "
                         f"SFT ({rl.source}): give the SFT run first, then the RL run started "
                         "from one of its checkpoints")
    sft_steps = sft.steps
    if sft_steps.size == 0:
        raise UsageError(f"{sft.source}: the SFT run has no records to join")
    first, last = int(sft_steps[0]), int(sft_steps[-1])
    s = last if switch_step is None else int(switch_step)
    if s < first:
        raise UsageError(f"--switch-step {s} is before the SFT run's first record (step {first}, "
                         f"{sft.source}): nothing of the SFT stage would be kept")
    if s > last:
        raise UsageError(f"--switch-step {s} is after the SFT run's last record (step {last}, "
                         f"{sft.source}): RL can only start from a checkpoint the SFT run reached")
    if rl.n_steps == 0:
        raise UsageError(f"{rl.source}: the RL run has no records to join")
    rl_first, rl_last = int(rl.steps[0]), int(rl.steps[-1])
    if rl_first < 0:
        raise UsageError(f"{rl.source}: the RL run starts at step {rl_first}; its steps must "
                         "count from 0 (the switch step) on")
    sft_names, rl_names = set(sft.columns()), set(rl.columns())
    apart = sorted(name for name in sft_names & rl_names if _own_objective(name))
    rows = _rows(sft, last=s)
    rl_rows = {step: {(RL_PREFIX + k if k in apart else k): v for k, v in values.items()}
               for step, values in _rows(rl, offset=s).items()}
    superseded = sorted(set(rows.get(s, {})) & set(rl_rows.get(s, {})))
    for step, values in rl_rows.items():  # the later record supersedes, metric by metric
        rows.setdefault(step, {}).update(values)
    # a resume is the reader's reading of a step counter that went back, resolved in the rows
    events = [_event(e.step, e.name) for e in sft.events
              if e.step <= s and e.name not in ("resume", STAGE_EVENT)]
    events.append(_event(s, STAGE_EVENT))
    events += [_event(e.step + s, e.name) for e in rl.events if e.name != "resume"]
    rl_plan = planned_steps(rl.config)
    meta = {
        "name": name,
        "algorithm": "sft_then_rl",
        "performance_metric": _declared(sft, rl, "performance_metric"),
        "direction": _declared(sft, rl, "direction"),
        "events": sorted(events, key=lambda e: e["step"]),
        # the plan `watch` judges "early" against: RL's own plan (else its last step) after S
        "config": {"steps": s + (rl_plan if rl_plan is not None else rl_last),
                   "sft": dict(sft.config), "rl": dict(rl.config)},
        "stages": [
            _stage("sft", sft, first, s, 0),
            _stage("rl", rl, rl_first, rl_last, s),
        ],
        "status": "finished",
    }
    return Joined(rows=sorted(rows.items()), switch_step=s, meta=meta,
                  dropped=int((sft_steps > s).sum()), superseded=superseded,
                  sft_only=sorted(sft_names - rl_names), rl_only=sorted(rl_names - sft_names),
                  shared=sorted(sft_names & rl_names - {"epoch"} - set(apart)), apart=apart)


def _event(step: int, name: str) -> dict[str, Any]:
    return {"step": int(step), "name": name}


def _stage(stage: str, run: Run, first: int, last: int, offset: int) -> dict[str, Any]:
    """run.json `stages` entry: where a stage's records came from and where they now are."""
    local = Path(run.source)  # absolute too, so a stage's checkpoints are found from anywhere
    return {"name": stage, "source": run.source,
            **({"source_path": str(local.resolve())} if local.exists() else {}),
            "format": run.format, "algorithm": run.algorithm, "source_steps": [first, last],
            "steps": [first + offset, last + offset], "step_offset": offset}


def write_joined(joined: Joined, folder: str | Path) -> Path:
    """The joined run as a native run folder (metrics.jsonl + run.json), with the project's
    run-folder writer (`trainer.logging.RunWriter`, no token store)."""
    from phasewatch.trainer.logging import RunWriter

    meta = dict(joined.meta)
    writer = RunWriter(Path(folder), meta.pop("name"), meta.pop("algorithm"), meta.pop("config"),
                       None, performance_metric=meta.pop("performance_metric"),
                       direction=meta.pop("direction"))
    try:
        for step, values in joined.rows:
            writer.log(step, values)  # a non-finite value is written as null
    finally:
        writer.close(**meta)
    return Path(folder)
