"""The `logging` logger phasewatch's callbacks and expert-log-prob capture write to, with the
logger's name said once before each message whatever the user's logging set-up.

A message carries no "phasewatch:" of its own: a handler whose format names the logger
(`logging.basicConfig()`'s "WARNING:phasewatch:...", the HF example scripts' "%(name)s - ...")
already says where it came from, and a prefix in the text doubled it ("phasewatch: phasewatch:
best step ..."). Without any handler Python's last-resort handler prints the bare message, which
amid a trainer's console says nothing of its origin; `NamedLastResort` takes that case instead and
prints "phasewatch: message", as the last-resort handler would with the logger's name in front.
"""

from __future__ import annotations

import logging
import sys

ROOT = "phasewatch"


class NamedLastResort(logging.StreamHandler):
    """Writes "name: message" to the current sys.stderr when no other handler would receive the
    record (the case `logging.lastResort` covers, at its level), and nothing otherwise."""

    def __init__(self) -> None:
        logging.Handler.__init__(self, logging.WARNING)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    @property
    def stream(self):
        # looked up at each record, as the last-resort handler does (a redirected stderr)
        return sys.stderr

    def handle(self, record: logging.LogRecord) -> bool:
        if self._others_receive(record):
            return False
        return super().handle(record)

    def _others_receive(self, record: logging.LogRecord) -> bool:
        """Whether the record meets a handler other than this one on its way up the loggers
        (as `Logger.callHandlers` counts them: whatever their level)."""
        node: logging.Logger | None = logging.getLogger(record.name)
        while node is not None:
            if any(handler is not self for handler in node.handlers):
                return True
            node = node.parent if node.propagate else None
        return False


def get_logger(name: str = ROOT) -> logging.Logger:
    """`logging.getLogger(name)` for a name under "phasewatch", the named last resort set on
    the "phasewatch" logger once."""
    root = logging.getLogger(ROOT)
    if not any(isinstance(handler, NamedLastResort) for handler in root.handlers):
        root.addHandler(NamedLastResort())
    return logging.getLogger(name)
