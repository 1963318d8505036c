"""The options of `analysis.analyze_run`: what `phasewatch analyze`, `phasewatch.analyze` and
`plot` pass through, with their defaults (the phase rules' own from `phases.PhaseConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from phasewatch.phases import PhaseConfig


@dataclass
class AnalyzeConfig:
    """Options of `analyze_run` (keyword arguments override these defaults)."""

    min_size_fraction: float = 0.02   # shortest segment, as a fraction of the points
    penalty_factor: float = 2.0       # BIC-style penalty multiplier (see changepoint.Segmenter)
    max_points: int = 1000            # longer series are segmented on block means first
    use_events: bool = True           # known events (SFT->RL switch, epochs, resumes) as boundaries
    use_tokens: bool = True
    baseline: str = "first"           # first | mean-of-first:K | step:S (phase_stats.Baseline)
    keep_outliers: bool = False       # analyse every finite value (no outlier is left out)
    penalty: float | None = None      # per-change-point penalty; None = automatic (BIC-style)
    noise_sd: float | None = None     # sd of one evaluation, metric's units; None = estimated
    eval_size: int | None = None      # items a rate in [0, 1] is evaluated on (binomial noise)
    k_sd: float = PhaseConfig.k_sd
    t_min: float = PhaseConfig.t_min
    short_flat_fraction: float = PhaseConfig.short_flat_fraction
    turn_flat_fraction: float = PhaseConfig.turn_flat_fraction
    recover_sd: float = PhaseConfig.recover_sd
    jump_k_sd: float = PhaseConfig.jump_k_sd
    transient_fraction: float = PhaseConfig.transient_fraction
    smooth_fraction: float = PhaseConfig.smooth_fraction
    level_sd: float = PhaseConfig.level_sd
    early_fraction: float = PhaseConfig.early_fraction
    planned_steps: int | None = None  # the run's planned last step; None: the log's config's
    expert_data: bool | None = None   # the run trains on expert data; None: read from the log
