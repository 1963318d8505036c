"""Runs compared on one axis of a counter beside the step (`plot RUN_A RUN_B --x epoch`).

An epoch means the same for two fine-tunes of different batch sizes (each has seen its data
that many times), as do tokens and samples; their steps do not. So each run is placed by its
own log's counter, the one its single-run figure labels its axis with (`xaxis.x_axis`: HF's
fractional `epoch`, `num_input_tokens_seen`...; a log whose steps are epochs already, or count
a fraction of one, by its steps). Everything else about the run is drawn as its own figure
draws it, in its own steps (smoothing, stop, outliers, events, phases), then moved to where
its counter puts those steps (`placed`): the phases are still found against the step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle

from phasewatch.errors import UsageError
from phasewatch.plot.data import FigureData
from phasewatch.run import Run
from phasewatch.step_units import unit_scale, unit_word
from phasewatch.xaxis import step_unit, x_axis

Place = Callable[[np.ndarray], np.ndarray]  # steps -> the unit, vectorised


def positions(run: Run, unit: str, metric: str | None = None) -> Place:
    """Where `run`'s steps lie in `unit` ("epoch", "tokens", "samples"): by the counter its log
    carries (a usage error naming the run and the counters it does carry when it has none),
    or by its steps where they count the unit already (Keras' epochs; an HF console log's
    epochs x 10,000)."""
    counts = step_unit(run)
    if unit_scale(counts) != 1 and unit_word(counts) == unit:
        scale = float(unit_scale(counts))
        return lambda steps: np.asarray(steps, dtype=np.float64) / scale
    try:
        axis = x_axis(run, unit, metric)
    except UsageError as exc:
        raise UsageError(f"{run.source}: {exc}") from None
    if axis is None:  # its steps are in the unit
        return lambda steps: np.asarray(steps, dtype=np.float64)
    return axis.values_at


def same_placement(runs: Sequence[Run], places: Sequence[Place], steps: np.ndarray,
                   label: str, unit: str) -> Place:
    """The one placement of a seed group, whose mean is taken at each step of its longest
    seed: a usage error when the seeds' counters put those steps at different places (the
    mean of step 500 of a run at epoch 1 and of one at epoch 2 is no value at either)."""
    at = [place(steps) for place in places]
    span = float(np.ptp(at[0])) if steps.size else 0.0
    for run, other in zip(runs[1:], at[1:]):
        apart = np.abs(other - at[0]) > 1e-6 * max(span, 1.0)
        if apart.any():
            k = int(np.flatnonzero(apart)[0])
            raise UsageError(
                f"the runs drawn as one seed group ({label}) are averaged step by step, but their "
                f"{unit} counters differ: step {steps[k]:g} is {unit} {at[0][k]:.4g} in "
                f"{runs[0].source} and {other[k]:.4g} in {run.source}; give them labels of their "
                "own (--label), or compare them with --x step")
    return places[0]


def _artists(ax) -> list:
    return [*ax.lines, *ax.collections, *ax.patches]


@contextlib.contextmanager
def placed(ax, data: FigureData, place: Place | None) -> Iterator[None]:
    """Move what is drawn on `ax` inside the block (one run's, or one seed group's, in its
    steps) to where `place` puts its steps, and say so for the figure data's rows added in it
    (`FigureData.place`). Nothing moves with `place` None (a figure in steps)."""
    if place is None:
        yield
        return
    before = {id(artist) for artist in _artists(ax)}
    first = len(data.rows)
    yield
    for artist in _artists(ax):
        if id(artist) not in before:
            _move(ax, artist, place)
    data.place(first, len(data.rows), lambda step: float(place(np.array([step]))[0]))


def _move(ax, artist, place: Place) -> None:
    """One artist's x from steps to the unit (lines, markers, vertical event lines, seed
    bands, phase bands); a horizontal line spans the axes whatever the unit, and stays."""
    if artist.get_transform() == ax.get_yaxis_transform():  # axhline: x in axes fractions
        return
    if isinstance(artist, Line2D):
        artist.set_xdata(place(np.asarray(artist.get_xdata(), dtype=np.float64)))
    elif isinstance(artist, PolyCollection):
        artist.set_verts([np.column_stack([place(p.vertices[:, 0]), p.vertices[:, 1]])
                          for p in artist.get_paths()], closed=False)
    elif isinstance(artist, Rectangle):
        x0, x1 = place(np.array([artist.get_x(), artist.get_x() + artist.get_width()]))
        artist.set_x(x0)
        artist.set_width(x1 - x0)
    elif isinstance(artist, Polygon):
        xy = artist.get_xy()
        artist.set_xy(np.column_stack([place(xy[:, 0]), xy[:, 1]]))
    else:
        raise TypeError(f"cannot place a {type(artist).__name__} by a run's counter")

