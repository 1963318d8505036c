"""phasewatch: find the disruption, readaptation and overfit phases of SFT-then-RL training.

    import phasewatch
    run = phasewatch.read_run("runs/sft")                    # any supported log, sniffed
    analysis = phasewatch.analyze(run)                       # or a path; options as the CLI
    phasewatch.changepoints(run, "eval/accuracy")            # the `changepoints` JSON object
    for alert in phasewatch.watch("runs/sft", follow=True):  # live alerts, as `watch`
        print(alert.message)

The top-level names are imported on first use (PEP 562), so a process that needs only a light
module (the token pass's worker processes, `phasewatch --version`) does not pay for pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from phasewatch.errors import InputError, PhasewatchError, UsageError

if TYPE_CHECKING:
    from phasewatch.api import analyze, changepoints
    from phasewatch.live import LiveWatch, watch
    from phasewatch.online import Alert, PhaseMonitor
    from phasewatch.results import Analysis
    from phasewatch.run import Event, Run

__version__ = "0.1.0"

__all__ = ["Alert", "Analysis", "Event", "InputError", "LiveWatch", "PhaseMonitor",
           "PhasewatchError", "Run", "UsageError", "__version__", "analyze", "changepoints",
           "read_run", "watch"]

_LAZY = {"Event": "phasewatch.run", "Run": "phasewatch.run", "analyze": "phasewatch.api",
         "changepoints": "phasewatch.api", "watch": "phasewatch.live",
         "LiveWatch": "phasewatch.live", "Alert": "phasewatch.online",
         "PhaseMonitor": "phasewatch.online", "Analysis": "phasewatch.results"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'phasewatch' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (tab completion in a notebook), though most load on first use."""
    return sorted(__all__)


def read_run(path, **kwargs) -> Run:
    """Read any supported log file or run folder into a `Run` (format sniffed from content)."""
    from phasewatch.io import read_run as _read_run

    return _read_run(path, **kwargs)
