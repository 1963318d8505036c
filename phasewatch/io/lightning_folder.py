"""What PyTorch Lightning writes beside its logger's log: the run's config and its name.

CSVLogger and TensorBoardLogger write the module's `save_hyperparameters()` to
`version_N/hparams.yaml`, beside `metrics.csv` or the event files. Unread, a sweep of trial
40d's runs (lr 0.01 against 0.003, seed 0) had no `hp.*` column and `inspect --format json` no
config, so the two `version_0` rows could not be told apart. The file is YAML: read with
`yaml.safe_load` when PyYAML is importable (it is not a phasewatch dependency), else (or when
it holds a tag safe_load refuses, `!!python/object`) its flat `key: value` lines, each value a
Python or YAML scalar (`flat_yaml`): never evaluated.

A logger's folder is `save_dir/<name>/version_N/` (`<name>` is `lightning_logs` unless given),
so two experiments' runs were both named `version_0` in a sweep and a comparison. A version
folder with hparams.yaml (each logger writes one) is named after its experiment: `A/version_0`
for `A/lightning_logs/version_0`, `exp1/version_0` for `logs/exp1/version_0` (`run_name`).

TensorBoardLogger also writes `hp_metric` -1 at step 0 with the hparams (`default_hp_metric`),
a placeholder for a metric the user may log later: not a record of the training.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

HPARAMS = "hparams.yaml"
MAX_BYTES = 1 << 20  # a bigger file is not a logger's hparams
PLACEHOLDER = "hp_metric"
PLACEHOLDER_VALUE = -1.0
DEFAULT_LOGGER_NAME = "lightning_logs"
VERSION = re.compile(r"version_(\d+)")  # a logger's version folder (`fullmatch`)
_WORDS = {"true": True, "false": False, "null": None, "~": None, "": None}


def lightning_hparams(folder: Path) -> dict[str, Any] | None:
    """The hparams in the Lightning log folder `folder` (`version_N/`), {} when its
    hparams.yaml holds none readable; None when it has none (yet: a follow looks again)."""
    path = Path(folder) / HPARAMS
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BYTES:
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


def without_placeholder(step: int, values: dict[str, Any]) -> dict[str, Any]:
    """`values` less TensorBoardLogger's `hp_metric` placeholder (-1 at step 0)."""
    if step == 0 and values.get(PLACEHOLDER) == PLACEHOLDER_VALUE:
        return {k: v for k, v in values.items() if k != PLACEHOLDER}
    return values


def take_hparams(source, folder: Path) -> None:
    """Give `source`'s run the hparams of `folder`, once they are there (the log's own
    settings win), and its name (`run_name`); a source asks at each read until then. (At a
    read: the name given the folder when it was opened is the version's alone.)"""
    if getattr(source, "_hparams_read", False):
        return
    found = lightning_hparams(folder)
    if found is None:
        return
    source._hparams_read = True
    for key, value in found.items():
        source.info.config.setdefault(str(key), value)
    source.info.name = run_name(folder) or source.info.name


def run_name(folder: Path) -> str | None:
    """`<experiment>/version_N` of a Lightning version folder: its logger's name, or the folder
    above it when that is Lightning's default; None for a folder not named `version_N`."""
    folder = Path(folder).absolute()
    if not VERSION.fullmatch(folder.name):
        return None
    above = folder.parent
    if above.name == DEFAULT_LOGGER_NAME and above.parent.name:
        above = above.parent
    return f"{above.name}/{folder.name}" if above.name else folder.name
