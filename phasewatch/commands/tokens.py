"""`phasewatch tokens`: not built yet (see the open issues)."""

from __future__ import annotations

import argparse

from phasewatch.errors import UsageError

HELP = "tokens (not available yet)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    raise UsageError("'phasewatch tokens' is not available in this version yet")
