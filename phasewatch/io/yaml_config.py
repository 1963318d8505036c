"""A run's config from a YAML file a trainer writes beside its log (Lightning's hparams.yaml,
Ultralytics' args.yaml): read with `yaml.safe_load` when PyYAML is importable (it is not a
phasewatch dependency), else (or when it holds a tag safe_load refuses, `!!python/object`) its
flat `key: value` lines, each value a Python or YAML scalar (`flat_yaml`): never evaluated."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from phasewatch.errors import PhasewatchError
from phasewatch.files import read_capped

MAX_BYTES = 1 << 20  # a bigger file is not a trainer's config
_WORDS = {"true": True, "false": False, "null": None, "~": None, "": None}


def yaml_config(path: Path) -> dict[str, Any] | None:
    """The mapping in the YAML file `path`, {} when it holds none readable; None when there is
    no such file (yet: a follow looks again)."""
    try:
        data = read_capped(path, MAX_BYTES)
    except (OSError, PhasewatchError):  # (a FIFO is refused, not waited on)
        return None
    if data is None:
        return {}
    text = data.decode("utf-8", errors="replace")
    try:
        import yaml
    except ImportError:
        return flat_yaml(text)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return flat_yaml(text)
    return doc if isinstance(doc, dict) else {}


def take_config(source, found: dict[str, Any] | None, flag: str) -> bool:
    """Give `source`'s run the settings `found` in a file beside its log, once they are there
    (the log's own settings win); False while there are none (the source asks at each read
    until then, `flag` naming the attribute that says it has them)."""
    if getattr(source, flag, False) or found is None:
        return False
    setattr(source, flag, True)
    for key, value in found.items():
        source.info.config.setdefault(str(key), value)
    return True


def flat_yaml(text: str) -> dict[str, Any]:
    """The top-level `key: value` lines of a YAML text, values as scalars (`_scalar`); a key
    whose value is a nested block (indented lines below it) is left out."""
    out: dict[str, Any] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line or line[0] in " \t#-" or ":" not in line:
            continue
        key, _, value = line.partition(":")
        nested = i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t", "-")
        if not value.strip() and nested:
            continue
        out[key.strip().strip("'\"")] = _scalar(value.split(" #", 1)[0].strip())
    return out


def _scalar(text: str) -> Any:
    """A YAML scalar: true / false / null, a number or a quoted string or a flow list
    (`ast.literal_eval`: literals only), else the text itself."""
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
