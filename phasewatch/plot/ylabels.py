"""Y labels fitted to their panels: a metric's raw name longer than its panel is tall
('val/test_score/openai/gsm8k', 'eval_rewards_chosen_accuracy_mean') is wrapped onto two or
three lines, else cut to its last parts."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def fit_ylabels(fig: Figure, axes: Sequence[Axes]) -> bool:
    """Y labels longer than their panel is tall (raw names such as 'val/test_score/openai/gsm8k')
    are wrapped at '/' onto two or three lines, and if still too long keep their last parts.
    Where no form fits, the label is the shortest of them: a name with no '/' has no '.../tail'
    form, and the last one tried, its least even three-line break, was kept ('w0_', 'w1_' and
    the rest of a long underscore name on one line, taller than the name broken evenly).

    The phase labels added later take ~10 % of the top panel's height: hence the margin.
    Lays the figure out; returns whether a label changed (then the layout is stale).
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    changed = False
    for ax in axes:
        label = ax.yaxis.label
        text = label.get_text()
        room = 0.85 * ax.bbox.height
        if not text or label.get_window_extent(renderer).height <= room:
            continue
        changed = True
        shortest = (label.get_window_extent(renderer).height, text)
        for candidate in _wrapped(text):
            label.set_text(candidate)
            height = label.get_window_extent(renderer).height
            if height <= room:
                break
            shortest = min(shortest, (height, candidate), key=lambda pair: pair[0])
        else:
            label.set_text(shortest[1])
    return changed


def _wrapped(text: str) -> list[str]:
    """Two-line, then three-line breaks at '/' or a space (most balanced first), then the same
    at '_' (a name with no '/' or space, as Hugging Face and Lightning spell theirs:
    'val_reward_accuracy' ran off the top of a single-column panel), then '.../tail' forms."""
    slash = text.split("/")
    return (_breaks(text, r"(?<=[/ ])") + _breaks(text, r"(?<=_)")
            + ["\u2026/" + "/".join(slash[i:]) for i in range(1, len(slash))])


def _breaks(text: str, after: str) -> list[str]:
    """`text` broken onto two, then three lines after the separators `after` matches (a
    lookbehind), most balanced first."""
    parts = re.split(after, text)  # each part keeps its separator at its end
    n = len(parts)

    def join(cuts: tuple[int, ...]) -> str:
        bounds = (0, *cuts, n)
        return "\n".join("".join(parts[a:b]).rstrip(" ") for a, b in itertools.pairwise(bounds))

    def widest(candidate: str) -> int:
        return max(len(line) for line in candidate.split("\n"))

    two = sorted((join((i,)) for i in range(1, n)), key=widest)
    three = sorted((join((i, j)) for i in range(1, n) for j in range(i + 1, n)), key=widest)
    return two + three
