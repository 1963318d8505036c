"""`phasewatch plot`: not built yet (see the open issues)."""

from __future__ import annotations

import argparse

from phasewatch.errors import UsageError

HELP = "plot (not available yet)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    raise UsageError("'phasewatch plot' is not available in this version yet")
