"""What PyTorch Lightning writes beside its logger's log: the run's config and its name.

CSVLogger and TensorBoardLogger write the module's `save_hyperparameters()` to
`version_N/hparams.yaml`, beside `metrics.csv` or the event files. Unread, a sweep of trial
40d's runs (lr 0.01 against 0.003, seed 0) had no `hp.*` column and `inspect --format json` no
config, so the two `version_0` rows could not be told apart. The file is YAML, read as
`io.yaml_config` reads a config: never evaluated.

A logger's folder is `save_dir/<name>/version_N/` (`<name>` is `lightning_logs` unless given),
so two experiments' runs were both named `version_0` in a sweep and a comparison. A version
folder with hparams.yaml (each logger writes one) is named after its experiment: `A/version_0`
for `A/lightning_logs/version_0`, `exp1/version_0` for `logs/exp1/version_0` (`run_name`).

TensorBoardLogger also writes `hp_metric` -1 at step 0 with the hparams (`default_hp_metric`),
a placeholder for a metric the user may log later: not a record of the training.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.yaml_config import take_config, yaml_config

HPARAMS = "hparams.yaml"
PLACEHOLDER = "hp_metric"
PLACEHOLDER_VALUE = -1.0
DEFAULT_LOGGER_NAME = "lightning_logs"
VERSION = re.compile(r"version_(\d+)")  # a logger's version folder (`fullmatch`)


def lightning_hparams(folder: Path) -> dict[str, Any] | None:
    """The hparams in the Lightning log folder `folder` (`version_N/`), {} when its
    hparams.yaml holds none readable; None when it has none (yet: a follow looks again)."""
    return yaml_config(Path(folder) / HPARAMS)


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
    if take_config(source, lightning_hparams(folder), "_hparams_read"):
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
