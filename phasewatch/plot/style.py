"""Paper style: sizes, fonts, the colour-blind-safe palette, and deterministic saving.

Figures are drawn at their final printed size (a single column is ~3.3 in wide, the full text
width ~6.75 in) with 8 pt text, so nothing is scaled when the PDF is placed in LaTeX and the
fonts match the caption size. All settings live in `paper_style()`, a `plt.rc_context`: importing
phasewatch never changes a user's global rcParams.

The palette is Okabe & Ito's (2008), distinguishable under the common colour-vision deficiencies,
without its yellow (#F0E442 has a contrast of 1.3:1 on white paper: a yellow line vanishes in
print); every line colour has a contrast of at least 2:1 against white (`contrast_on_white`).
Every phase and every training arm has ONE fixed colour, so a reader who learned "purple is
overfit" in Figure 2 can rely on it in Figure 5. A comparison of more runs than colours draws
the colours again with other line styles (`run_styles`), never running out.

The user's own rcParams win: a setting the user changed from matplotlib's default (a serif font,
`text.usetex`, a font size) is kept, and the paper defaults fill in only what the user left at
matplotlib's default. The exception is what the output contract needs: Type 42 fonts in PDF/PS
and the fixed SVG hash salt (identical bytes for identical input).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib.colors import to_rgb

from phasewatch.errors import UsageError

# Okabe-Ito palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
GREY = "#7F7F7F"

# One colour per phase (the bands are a pale tint of it; the label text is the full colour).
PHASE_COLORS: dict[str, str] = {
    "disruption": OKABE_ITO["vermillion"],
    "readaptation": OKABE_ITO["blue"],
    "improvement": OKABE_ITO["green"],
    "plateau": GREY,
    "overfit": OKABE_ITO["purple"],
}
# Short forms used when a band is too narrow for the full name.
PHASE_ABBREVIATIONS: dict[str, str] = {
    "disruption": "disr.",
    "readaptation": "readapt.",
    "improvement": "impr.",
    "plateau": "plat.",
    "overfit": "overfit",
}

# One colour per training arm, keyed by the run's `algorithm` (or name) after normalisation.
ARM_COLORS: dict[str, str] = {
    "sft_then_rl": OKABE_ITO["blue"],
    "chord_mu": "#882255",  # Paul Tol's wine: vermillion beside RL's orange read as one hue
    "chord_phi": OKABE_ITO["green"],
    "rl": OKABE_ITO["orange"],
    "sft": OKABE_ITO["black"],
}
ARM_LABELS: dict[str, str] = {
    "sft_then_rl": "SFT-then-RL",
    "chord_mu": "CHORD-\u00b5",
    "chord_phi": "CHORD-\u03c6",
    "rl": "RL (GRPO)",
    "sft": "SFT",
}
# Colours handed, in order, to arms that are not in ARM_COLORS (no yellow: invisible in print;
# then Paul Tol's indigo, dark enough for paper and distinct from the arms above).
_SPARE_COLORS = (OKABE_ITO["sky_blue"], OKABE_ITO["purple"], "#332288", GREY,
                 OKABE_ITO["vermillion"])
# Arms whose colours other runs may take when the arm is not in the figure: with the spares
# they make 7 colours that stay apart under the common colour-vision deficiencies (blue, orange
# and wine would be read as sky blue, vermillion and purple)
_LENT_ARMS = ("chord_phi", "sft")
# Once every colour is taken, runs are told apart by the line (then a marker on it as well)
LINE_STYLES: dict[str, Any] = {"solid": "-", "dashed": (0, (4, 1.6)), "dotted": (0, (1, 1.3)),
                               "dash-dot": (0, (6, 1.6, 1, 1.6))}
MARKERS = (None, "o", "s", "^")
MIN_CONTRAST = 2.0  # every line colour against white paper (WCAG contrast ratio)

# Printed widths in inches.
WIDTHS = {"single": 3.3, "full": 6.75}
# Height of the main panel and of each extra stacked panel, in inches, per width.
MAIN_HEIGHT = {"single": 2.1, "full": 2.4}
PANEL_HEIGHT = {"single": 0.85, "full": 1.0}
DEFAULT_DPI = 300

FONT_SIZE = 8
PAPER_RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["Helvetica", "Arial", "Liberation Sans", "Nimbus Sans", "DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "text.usetex": False,
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "legend.fontsize": FONT_SIZE - 1,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "legend.columnspacing": 1.2,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.labelpad": 2.0,
    "axes.titlepad": 3.0,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.major.pad": 2.0,
    "ytick.major.pad": 2.0,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.0,
    "figure.dpi": 100,
    "savefig.dpi": DEFAULT_DPI,
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    # Type 42 (TrueType) embedding: journals reject Type 3 bitmap fonts, and text stays editable.
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    # Deterministic SVG ids.
    "svg.hashsalt": "phasewatch",
    "svg.fonttype": "path",
    "image.cmap": "viridis",
}
# Settings the output contract needs: applied even when the user set something else.
FORCED_RC = ("pdf.fonttype", "ps.fonttype", "svg.hashsalt", "figure.constrained_layout.use")

# No dates or version strings in the files: the same input gives the same bytes.
SOFTWARE = "phasewatch"
SAVE_METADATA: dict[str, dict[str, Any]] = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": SOFTWARE, "Creator": SOFTWARE},
    "png": {"Software": SOFTWARE},
    "svg": {"Date": None, "Creator": SOFTWARE},
}
FORMATS = tuple(SAVE_METADATA)


@contextlib.contextmanager
def paper_style(**overrides: Any) -> Iterator[None]:
    """Apply the paper rcParams inside a `with` block only (the user's globals are untouched).

    A paper default is applied only where the user's current value is still matplotlib's own
    default (the user's serif font or LaTeX stays); FORCED_RC always applies.
    """
    with mpl.rc_context(paper_rc(**overrides)):
        yield


def paper_rc(**overrides: Any) -> dict[str, Any]:
    """The rcParams a figure is drawn with: PAPER_RC under the user's own changes."""
    current, default = mpl.rcParams, mpl.rcParamsDefault
    chosen = {key: value for key, value in PAPER_RC.items()
              if key in FORCED_RC or current[key] == default[key]}
    return {**chosen, **overrides}


def contrast_on_white(color: str) -> float:
    """WCAG contrast ratio of `color` against white (1 = invisible, 21 = black)."""
    channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(color)]
    luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    return 1.05 / (luminance + 0.05)


def pale(color: str, strength: float = 0.16) -> tuple[float, float, float]:
    """`color` blended into white: an opaque tint, so overlapping bands never darken each other."""
    r, g, b = to_rgb(color)
    return (1 - strength * (1 - r), 1 - strength * (1 - g), 1 - strength * (1 - b))


def arm_key(name: str | None) -> str:
    """Normalise an algorithm/run name to an ARM_COLORS key ('CHORD-µ' -> 'chord_mu')."""
    text = (name or "").lower()
    for greek, latin in (("\u00b5", "mu"), ("\u03bc", "mu"), ("\u03c6", "phi"), ("\u03d5", "phi")):
        text = text.replace(greek, latin)
    key = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    aliases = {"sft_rl": "sft_then_rl", "sft_to_rl": "sft_then_rl", "grpo": "rl"}
    return aliases.get(key, key)


def arm_colors(keys: Sequence[str]) -> dict[str, str]:
    """Fixed colours for known arms; spare palette colours, in order, for the others."""
    out: dict[str, str] = {}
    spare = iter(_SPARE_COLORS * (1 + len(keys) // len(_SPARE_COLORS)))
    for key in keys:
        if key not in out:
            out[key] = ARM_COLORS.get(key) or next(spare)
    return out


@dataclass(frozen=True)
class RunStyle:
    """How one run (or seed group) of a comparison is drawn: its colour, line style, marker."""

    color: str
    linestyle: Any = "-"
    marker: str | None = None

    @property
    def varied(self) -> bool:
        """Whether the line is more than a solid line of its colour (colours ran out)."""
        return self.linestyle != "-" or self.marker is not None

    def line(self) -> dict[str, Any]:
        """Keyword arguments of the run's line (markers spaced along it, not on every point)."""
        if self.marker is None:
            return {"linestyle": self.linestyle}
        return {"linestyle": self.linestyle, "marker": self.marker, "markersize": 3.0,
                "markevery": 0.12, "markeredgewidth": 0}


def run_styles(keys: Sequence[str]) -> list[RunStyle]:
    """One style per entry (`keys`: its arm, in the figure's order). A known arm's first entry
    is a solid line of the arm's fixed colour; every other entry (other arms, a second entry of
    one arm) takes the first free colour of the spares, then of the arms not in the figure
    (`_LENT_ARMS`). When all colours are taken they come again with a dashed, a dotted, then a
    dash-dot line, then the four lines with markers: 112 runs of unknown arms all differ;
    beyond that, styles repeat. Never an error, however many entries."""
    known = {key for key in keys if key in ARM_COLORS}
    pool = [*_SPARE_COLORS, *(ARM_COLORS[arm] for arm in _LENT_ARMS if arm not in known)]
    combos = [RunStyle(color, dash, marker) for marker in MARKERS
              for dash in LINE_STYLES.values() for color in pool]
    taken: set[RunStyle] = set()
    out = []
    for key in keys:
        style = RunStyle(ARM_COLORS[key]) if key in ARM_COLORS else None
        if style is None or style in taken:
            style = next((c for c in combos if c not in taken), None)
            if style is None:  # every combination is taken: start over
                taken.clear()
                style = combos[0]
        taken.add(style)
        out.append(style)
    return out


def figure_size(size: str | tuple[float, float] = "single", n_panels: int = 0) -> tuple[float, float]:
    """Figure size in inches for `size` = 'single', 'full', 'WxH' (inches) or a (w, h) tuple.

    `n_panels` extra stacked panels below the main one add height for the named sizes.
    """
    if isinstance(size, tuple):
        width, height = size
    elif size in WIDTHS:
        width = WIDTHS[size]
        height = MAIN_HEIGHT[size] + n_panels * PANEL_HEIGHT[size]
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*[xX]\s*([0-9]*\.?[0-9]+)\s*", str(size))
        if not match:
            raise UsageError(
                f"--size must be 'single', 'full' or WIDTHxHEIGHT in inches (e.g. 3.3x2.4), got {size!r}"
            )
        width, height = float(match.group(1)), float(match.group(2))
    if not (0.5 <= width <= 30 and 0.5 <= height <= 30):
        raise UsageError(f"figure size {width}x{height} in is outside 0.5-30 inches")
    return float(width), float(height)


def output_format(path: str | Path) -> str:
    """'pdf', 'png' or 'svg' from the file name; UsageError for anything else."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise UsageError(
            f"cannot tell the figure format from {str(path)!r}: the output name must end in "
            + ", ".join(f".{f}" for f in FORMATS)
        )
    return suffix


def save_figure(fig, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Save with the paper rcParams and fixed metadata, so the bytes depend only on the figure.

    The figure keeps its exact size (no `bbox_inches="tight"`, which would change it); the
    constrained layout already keeps every label inside the canvas.
    """
    path = Path(path)
    fmt = output_format(path)
    with paper_style():
        fig.savefig(path, format=fmt, dpi=dpi, metadata=SAVE_METADATA[fmt])
    return path
