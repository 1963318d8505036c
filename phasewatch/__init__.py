"""phasewatch: find the disruption, readaptation and overfit phases of SFT-then-RL training."""

from phasewatch.errors import InputError, PhasewatchError, UsageError
from phasewatch.run import Event, Run

__version__ = "0.1.0"

__all__ = ["Event", "InputError", "PhasewatchError", "Run", "UsageError", "__version__", "read_run"]


def read_run(path, **kwargs) -> Run:
    """Read any supported log file or run folder into a `Run` (format sniffed from content)."""
    from phasewatch.io import read_run as _read_run

    return _read_run(path, **kwargs)
