"""The checkpoint hook's settings of an OpenMMLab run, from the config its runner dumped beside
its logs: the metric it keeps the best checkpoint by.

mmengine's `Runner` writes the whole config it ran as Python: `work_dir/<config name>.py`, and
its `LocalVisBackend` again as `work_dir/<timestamp>/vis_data/config.py`, beside `scalars.json`
(a copied log keeps its config next to it). Its `CheckpointHook` keeps the best checkpoint by
`save_best` (a metric as the evaluator names it: `PCK`, `coco/AP`; a list keeps one a metric),
higher or lower better by `rule` ("greater", "less"; none: mmengine infers it from the name):

    default_hooks = dict(
        checkpoint=dict(interval=10, rule='greater', save_best='PCK', type='CheckpointHook'),
        logger=dict(interval=50, type='LoggerHook'))

Only those two settings are read, into the run's config as `default_hooks.checkpoint`
(`trainer_best.declared_best_metric` takes the metric from there, as from a Trainer's
`metric_for_best_model`). The file is parsed, never run: values that are no literal (`type=
CheckpointHook` in a config of the new, import-based style) are passed over.

Every `.py` beside the log is a candidate, and Python's parser takes up to ~700 bytes of memory
per byte of source (a list of 256 kB of names: 0.35 s and 180 MB; of 1 MB: 1.8 s and 720 MB), so
a file is read only up to `MAX_BYTES`, and one larger is passed over with a note naming it: a
config mmengine dumps is a few to tens of kB (mmdet's Faster R-CNN ~10 kB; a dataset's class
names written inline add a few kB more), and a larger `.py` is no such dump (a script, a
module of data).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from phasewatch.errors import PhasewatchError
from phasewatch.files import read_capped

CONFIG = "config.py"  # LocalVisBackend's copy, in vis_data/
MAX_BYTES = 256 << 10  # the most of a `.py` read (module docstring)
READ = ("save_best", "rule")  # the CheckpointHook settings the metric choice takes


def config_files(log: Path) -> list[Path]:
    """The configs a run's log may have beside it, nearest first: the `.py` files of the log's
    folder (`vis_data/config.py`, a copied log's `<name>.py`, mmcv 1.x's work_dir), then, in a
    runner's layout, those of the run's `vis_data/` (the text log's) and of the work_dir above
    the run's `<timestamp>/` (its dumped `<config name>.py`)."""
    folder = log.parent
    places = [folder]
    if folder.name == "vis_data":
        places.append(folder.parent.parent)
    elif (folder / "vis_data").is_dir():
        places += [folder / "vis_data", folder.parent]
    found: list[Path] = []
    for place in places:
        near = sorted(place.glob("*.py"), key=lambda p: (p.name != CONFIG, p.name))
        found += [p for p in near if p.is_file() and p not in found]
    return found


def checkpoint_settings(log: Path) -> tuple[dict[str, Any], str | None]:
    """({"default_hooks": {"checkpoint": {...}}} of the first config beside `log` that sets the
    checkpoint hook's `save_best`, or {}), and a warning for a config that does not parse."""
    unread = None
    for path in config_files(log):
        try:
            data = read_capped(path, MAX_BYTES)
            if data is None:
                unread = unread or (f"{path.name}: not read as the run's config (larger than "
                                    f"{MAX_BYTES >> 10} kB: no config mmengine dumps)")
                continue
            tree = ast.parse(data.decode("utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError, PhasewatchError, RecursionError,
                MemoryError) as exc:
            # (a chain of thousands of attributes or signs is too deep for the parser)
            line = getattr(exc, "lineno", None)
            unread = unread or (f"{path.name}{f', line {line}' if line else ''}: not read as "
                                f"the run's config ({type(exc).__name__})")
            continue
        found = _checkpoint(tree)
        if found.get("save_best") is not None:
            return {"default_hooks": {"checkpoint": found}}, None
    return {}, unread


def _checkpoint(tree: ast.Module) -> dict[str, Any]:
    """The `save_best` and `rule` of the module's `default_hooks = dict(checkpoint=dict(...))`
    (or `{'checkpoint': {...}}`), the last assignment winning as when Python runs it."""
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "default_hooks" for t in node.targets):
            hook = _items(node.value).get("checkpoint")
            found = {key: value for key, value in _literals(_items(hook)).items()
                     if key in READ} if hook is not None else {}
    return found


def _items(node: ast.AST | None) -> dict[str, ast.AST]:
    """The keys of a `dict(key=...)` call or a `{'key': ...}` display, with their value nodes."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {k.arg: k.value for k in node.keywords if k.arg is not None}
    if isinstance(node, ast.Dict):
        return {k.value: v for k, v in zip(node.keys, node.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return {}


def _literals(items: dict[str, ast.AST]) -> dict[str, Any]:
    values = {}
    for key, node in items.items():
        try:
            values[key] = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            continue  # a name or a call: no setting this reader takes
    return values
