"""The saved checkpoint to keep in a joined SFT-then-RL run (`phasewatch join`).

A joined run's steps are the pipeline's: RL step 320 of a GRPO run started from SFT's
checkpoint-600 is step 920 there, and no folder holds a checkpoint-920 (trial 37: "recommended
stop: step 920", and the user subtracted the offset and analysed the RL folder again to learn
which checkpoint to load). Its run.json `stages` say where each stage came from: the stage the
recommended step falls in (the SFT stage up to and including the switch step, whose model is
SFT's checkpoint there), that stage's own output folder and its own step give the checkpoint,
chosen by the one rule of `saved_checkpoints.choose` on that stage's evaluations.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from phasewatch.io.native import RUN_FILE
from phasewatch.saved_checkpoints import SavedCheckpoint, candidate_folders, choose, output_folder


def joined_stages(path: str | Path) -> list[dict[str, Any]]:
    """The run.json `stages` of a joined run folder, [] for any other path."""
    folder = Path(path)
    if not folder.is_dir():
        return []
    try:
        meta = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    stages = meta.get("stages") if isinstance(meta, dict) else None
    return [s for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []


def _stage_of(stages: list[dict[str, Any]], step: int) -> dict[str, Any] | None:
    """The stage that holds the model of `step`: the first whose step range reaches it."""
    for stage in stages:
        span, offset = stage.get("steps"), stage.get("step_offset", 0)
        if not (isinstance(span, list) and len(span) == 2 and isinstance(offset, int)
                and all(isinstance(x, int) for x in span)):
            return None  # not as `join` writes it: nothing to map a step by
        if step <= span[1]:
            return stage
    return None


def _source(stage: dict[str, Any], folder: Path) -> Path | None:
    """The stage's log on this machine: its absolute path as joined, else its path as given
    to `join` from here, or from beside the joined folder."""
    for key, base in (("source_path", None), ("source", None), ("source", folder.parent)):
        given = stage.get(key)
        if isinstance(given, str) and given:
            path = Path(given) if base is None else base / given
            if path.exists():
                return path
    return None


def joined_checkpoint(path: str | Path, stages: list[dict[str, Any]], run, analysis, eval_steps,
                      oriented, sign: float) -> SavedCheckpoint | None:
    """The saved checkpoint of the recommended step of the joined run at `path` (its
    `joined_stages`), in the stage's own output folder and steps (`eval_steps`, `oriented`: the
    analysed evaluations, joined steps). The stage's own step and folder are said whenever the
    stages are known, whether or not the series was split at the switch and whether or not the
    folder holds checkpoints (trial 38b: a reward logged by GRPO only, whose log was copied
    without its checkpoints, said 'recommended stop: step 143' and nothing of GRPO's step 85);
    None only for a recommended step no stage holds. Where the recommended step's own checkpoint
    is not there to load, the best saved one is the best of every stage's (`_best_elsewhere`)."""
    folder = Path(path)
    stop = analysis.recommended_stop_step
    stage = None if stop is None else _stage_of(stages, int(stop))
    if stage is None:
        return None
    own = int(stop) - int(stage.get("step_offset", 0))
    source = _source(stage, folder)
    found = None if source is None else output_folder(
        candidate_folders(source, stage.get("format")))
    if found is None:
        saved = SavedCheckpoint(own, None)
        if source is None:  # moved or on another machine: the path join was given
            where = stage.get("source_path") or stage.get("source") or "its folder"
            saved.missing = "not found on this machine"
        else:
            where = candidate_folders(source, stage.get("format"))[0]
            saved.missing = "the folder holds no checkpoint-N"
    else:
        where = found[0]
        saved = _stage_choice(stage, found, run, eval_steps, oriented, sign, own)
    if not (saved.best == "saved" and saved.step == own):
        _best_elsewhere(saved, stage, stages, folder, run, eval_steps, oriented, sign)
    name = str(stage.get("name", ""))
    saved.stage = f"the {name.upper()} run's step {own}, in {where}"
    saved.stage_of = {"name": name, "step": own, "folder": str(where)}
    return saved


def _stage_choice(stage: dict[str, Any], found: tuple[Path, list[int]], run, eval_steps,
                  oriented, sign: float, own: int | None) -> SavedCheckpoint:
    """`saved_checkpoints.choose` among one stage's checkpoints (`found`: its folder and their
    steps), scored by the stage's own evaluations in its own steps."""
    import numpy as np

    where, steps = found
    offset = int(stage.get("step_offset", 0))
    first, last = stage["steps"]
    keep = (eval_steps >= first) & (eval_steps <= last)
    config = run.config.get(stage.get("name", ""), {})
    return choose(where, steps, np.asarray(eval_steps)[keep] - offset, np.asarray(oriented)[keep],
                  sign, own, config.get("save_steps") if isinstance(config, dict) else None)


def _best_elsewhere(saved: SavedCheckpoint, stage: dict[str, Any], stages: list[dict[str, Any]],
                    folder: Path, run, eval_steps, oriented, sign: float) -> None:
    """Put into `saved` the best saved checkpoint of another stage where it scores better than
    `saved`'s (trial 39: a joined SFT -> Online DPO run whose best evaluation was the model
    before SFT named SFT's checkpoint-250, exact match 0.285, as the best saved, where the RL
    run's checkpoint-75 held 0.61)."""
    def score(found: SavedCheckpoint) -> float:  # higher is better; what ranked it, else its value
        raw = found.level if found.level is not None else found.value
        return -math.inf if found.step is None or raw is None else sign * raw

    for other in stages:
        if other is stage or (source := _source(other, folder)) is None:
            continue
        found = output_folder(candidate_folders(source, other.get("format")))
        if found is None:
            continue
        rival = _stage_choice(other, found, run, eval_steps, oriented, sign, None)
        if score(rival) > score(saved):
            name = str(other.get("name", ""))
            saved.step, saved.path, saved.value = rival.step, rival.path, rival.value
            saved.value_step, saved.level = rival.value_step, rival.level
            saved.saved_stage = f"the {name.upper()} run's, in {found[0]}"
