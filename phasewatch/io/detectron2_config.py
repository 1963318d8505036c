"""A detectron2 run's config: where its planned length, `SOLVER.MAX_ITER`, is read from.

`default_setup` (`detectron2/engine/defaults.py`) logs the whole config as YAML after
`Running with full config:`, in the console and in `log.txt`, and saves it as
`OUTPUT_DIR/config.yaml`, in the folder its `metrics.json` and TensorBoard event files are
written to (each read with it); a LazyConfig run (the new-style Python configs) saves only the
file, its length under `train.max_iter`. The loop runs `for self.iter in range(start_iter,
max_iter)`; the console's `iter: N` and metrics.json's `"iteration"` are that counter, the
last training line at `max_iter - 1` and the evaluation after training at `max_iter`
(`after_train` sets the counter there): `max_iter` is the step its loop ends at, in the steps
it logs (`phasewatch.planned`). Unread, a run whose config says `MAX_ITER: 111000` and whose
log ends at iteration 29,979 was analysed with nothing saying it ended early, and `watch`
judged what is early without a plan.

`DefaultTrainer` rescales `MAX_ITER` by the world size when `SOLVER.REFERENCE_WORLD_SIZE` is
set and differs from it, after the config was logged and saved, and logs `Auto-scaling the
config to ..., max_iter=N, ...` before its first iteration: the console takes that where it
comes; config.yaml, which cannot say the world size, then gives no plan. yacs dumps with
`yaml.safe_dump`, its keys sorted, so where the lines come without their indentation (the
console's lines, or a config.yaml read without PyYAML) `SOLVER`'s `MAX_ITER` is the first
`MAX_ITER` after the `SOLVER:` line: only its sections sorted before it (`AMP`,
`CLIP_GRADIENTS`) come between, and none holds one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from phasewatch.io.yaml_config import MAX_BYTES, take_config, yaml_config

METRICS = "metrics.json"  # detectron2's JSONWriter's file in OUTPUT_DIR
CONFIG = "config.yaml"  # default_setup's copy of the config, beside it
PLAN = "SOLVER.MAX_ITER"  # the yacs config's (`phasewatch.planned.PLANNED_STEP_KEYS`)
LAZY_PLAN = "train.max_iter"  # a LazyConfig's
SCALED = "REFERENCE_WORLD_SIZE"  # set (not 0): the trainer may rescale MAX_ITER
AUTO_SCALED = re.compile(r"\]: Auto-scaling the config to .*\bmax_iter=(?P<max_iter>\d+)")


def section_value(lines: Iterable[str], section: str, key: str) -> str | None:
    """The value of the first `key: value` line after a `section:` line of a sorted YAML
    dump (module docstring), its lines stripped or not; None when there is none."""
    opened = False
    for text in lines:
        name, colon, value = text.strip().partition(":")
        if not colon:
            continue
        if name == section and not value.strip():
            opened = True
        elif opened and name == key and value.strip():
            return value.split(" #", 1)[0].strip()
    return None


def dump_plan(lines: list[str]) -> dict[str, int]:
    """{"SOLVER.MAX_ITER": N} from the lines of `Running with full config:` (or of a
    config.yaml), {} where they do not say it."""
    value = section_value(lines, "SOLVER", "MAX_ITER")
    return {PLAN: int(value)} if value is not None and value.isdigit() else {}


def auto_scaled(line: str) -> dict[str, int]:
    """{"SOLVER.MAX_ITER": N} from `DefaultTrainer`'s `Auto-scaling the config to ...` line."""
    found = AUTO_SCALED.search(line) if "Auto-scaling" in line else None
    return {} if found is None else {PLAN: int(found["max_iter"])}


def detectron2_config(folder: Path) -> dict[str, Any] | None:
    """The config of the detectron2 run whose OUTPUT_DIR is `folder` (its config.yaml), {}
    where the file is no detectron2 config (no `SOLVER` or LazyConfig `train` section), less
    `MAX_ITER` where the trainer may have rescaled it; None while there is no such file."""
    path = Path(folder) / CONFIG
    found = yaml_config(path)
    if not found:
        return found
    solver, train = found.get("SOLVER"), found.get("train")
    if isinstance(solver, Mapping):
        if solver.get(SCALED):
            found["SOLVER"] = {k: v for k, v in solver.items() if k != "MAX_ITER"}
        return found
    if isinstance(train, Mapping):
        return found
    return _unnested(path, found)


def _unnested(path: Path, found: dict[str, Any]) -> dict[str, Any]:
    """A config.yaml read without PyYAML (`yaml_config` keeps its top-level lines only): its
    plan from its lines (`section_value`), where it is a detectron2 config."""
    try:
        with open(path, "rb") as file:
            lines = file.read(MAX_BYTES).decode("utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    if (plan := dump_plan(lines)):
        scaled = section_value(lines, "SOLVER", SCALED)
        return {**found, **plan} if scaled in (None, "0") else found
    lazy = section_value(lines, "train", "max_iter")
    return {**found, LAZY_PLAN: int(lazy)} if lazy is not None and lazy.isdigit() else {}


def take_detectron2_config(source, folder: Path) -> None:
    """Give `source`'s run the config.yaml in `folder` where that is a detectron2 OUTPUT_DIR
    (its `metrics.json` there: the source is that file, or the event files beside it), once it
    is there (the log's own settings win); a source asks at each read until then."""
    if not getattr(source, "_d2_config_read", False) and (Path(folder) / METRICS).is_file():
        take_config(source, detectron2_config(folder), "_d2_config_read")
