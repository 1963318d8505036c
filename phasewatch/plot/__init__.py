"""Paper figures: phases of one run, comparisons of training arms, expert-token probabilities.

Every function returns a matplotlib `Figure` you can keep adjusting; `save_figure` writes it with
the paper settings (Type 42 fonts, fixed metadata: the same input gives the same bytes);
`save_data` writes the numbers it was drawn from as CSV.
"""

from phasewatch.plot.compare import compare_figure
from phasewatch.plot.data import figure_data, save_data
from phasewatch.plot.phase import analyze, phase_figure
from phasewatch.plot.smoothing import Smoothing
from phasewatch.plot.style import (
    ARM_COLORS,
    PHASE_COLORS,
    figure_size,
    paper_style,
    save_figure,
)
from phasewatch.plot.tokens import token_figure

__all__ = [
    "ARM_COLORS",
    "PHASE_COLORS",
    "Smoothing",
    "analyze",
    "compare_figure",
    "figure_data",
    "figure_size",
    "paper_style",
    "phase_figure",
    "save_data",
    "save_figure",
    "token_figure",
]
