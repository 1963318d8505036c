"""README.md's command synopsis and docs/contracts.md's command-line contract list every option
each command takes, as its parser defines it (less options hidden from `--help`), and no option
it does not take: `plot --x`, `analyze --aggregate`, `watch --check-finite` and more were in
neither. `train`'s settings, one option per field of its config, are its `--FIELD VALUE`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from phasewatch.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```\n(phasewatch inspect .*?)```", re.DOTALL)
OPTION = re.compile(r"(?<![\w-])(-[a-zA-Z]|--[a-zA-Z][\w-]*)")
FIELDS = "--FIELD"  # train's config fields (`commands.train`: each an option, dest cfg_<field>)


def synopsis(path: Path) -> dict[str, str]:
    """Each command's lines of the synopsis block in `path`, joined."""
    [block] = BLOCK.findall(path.read_text(encoding="utf-8"))
    lines: dict[str, str] = {}
    command = ""
    for line in block.splitlines():
        if line.startswith("phasewatch "):
            command = line.split()[1]
        lines[command] = lines.get(command, "") + " " + line
    return lines


def parsers() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub.choices[name] for name in COMMANDS}


@pytest.mark.parametrize("doc", ["README.md", "docs/contracts.md"])
def test_the_synopsis_lists_every_option_of_every_command(doc):
    shown = synopsis(ROOT / doc)
    assert set(shown) == set(COMMANDS)
    missing, unknown = [], []
    for name, parser in parsers().items():
        actions = [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS
                   and not isinstance(a, argparse._HelpAction)]
        fields = [a for a in actions if a.dest.startswith("cfg_")]
        listed = set(OPTION.findall(shown[name]))
        missing += [f"{name} {a.option_strings[-1]}" for a in actions
                    if not listed & set(a.option_strings)
                    and not (a in fields and FIELDS in listed)]
        known = {option for a in actions for option in a.option_strings}
        unknown += [f"{name} {option}" for option in sorted(listed - known)
                    if not (option == FIELDS and fields)]
    assert not missing, f"{doc}: options not in the synopsis: {missing}"
    assert not unknown, f"{doc}: no such options: {unknown}"
