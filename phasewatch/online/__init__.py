"""Live phase monitor: `PhaseMonitor.update(step, metrics) -> [Alert]`, bounded and resumable.

- `config`: options (`MonitorConfig`), `Alert`, `StopReason`;
- `series`: one metric's ring buffer, smoothed level and noise (robust scale, AR(1) inflation:
  `phasewatch.noise`, the same formula as the offline detector);
- `tracker`: the phase state machine of one performance metric (DESIGN.md semantics);
- `nll_gap`: the held-out / train expert NLL overfit signal;
- `monitor`: `PhaseMonitor`, which feeds them and decides when to stop;
- `state`: the versioned, JSON-able state `state_dict()` saves and `load_state_dict()` resumes.

Significance: two levels differ when their gap exceeds
    max(z * sqrt(se_a**2 + se_b**2), min_delta_sd * sigma, min_delta_abs,
        min_delta_rel * |reference level|).
`min_delta_sd` (off by default) is a floor in noise sds: set it to the offline detector's
`PhaseConfig.k_sd` (3) and a dip the offline analysis would call noise within a plateau is not
announced live either. It is 0 by default: on the benchmark's runs it costs more in detection
from accuracy alone than it saves in false stops.
"""

from phasewatch.online.config import EVENTS, Alert, MonitorConfig, StopReason
from phasewatch.online.monitor import PhaseMonitor
from phasewatch.online.state import STATE_VERSION, MonitorState

__all__ = ["EVENTS", "STATE_VERSION", "Alert", "MonitorConfig", "MonitorState", "PhaseMonitor",
           "StopReason"]
