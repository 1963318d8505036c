"""The end of a plateau is fitted as a level that turns into a trend (phasewatch.corners)."""

import numpy as np

from phasewatch.corners import level_corner_index, place_corners
from phasewatch.results import Phase


def _flat_then_concave_rise():
    """Flat at 0 for 10 evaluations, then a rise that slows down (a square root)."""
    x = np.arange(40, dtype=float)
    y = np.where(x < 10, 0.0, np.sqrt(np.clip(x - 10, 0, None)))
    return x, y


def test_level_corner_is_nearer_the_end_of_the_level_than_the_bend_of_the_rise():
    x, y = _flat_then_concave_rise()
    # a level that turns into a line starts the line a little early, to meet the steep start
    # of the rise
    assert abs(level_corner_index(x, y, 0, 39) - 10) <= 6


def test_level_corner_is_the_least_squares_knot_of_a_level_then_a_line():
    rng = np.random.default_rng(3)
    for n in (5, 12, 30):
        xs = np.sort(rng.uniform(0, 100, n))
        ys = rng.normal(size=n)
        rss = []
        for k in range(1, n - 1):
            design = np.c_[np.ones(n), np.maximum(xs - xs[k], 0.0)]
            resid = ys - design @ np.linalg.lstsq(design, ys, rcond=None)[0]
            rss.append(float(resid @ resid))
        assert level_corner_index(xs, ys, 0, n - 1) == 1 + int(np.argmin(rss))


def test_a_plateau_before_a_concave_rise_ends_where_the_level_ends():
    x, y = _flat_then_concave_rise()
    steps = (x * 10).astype(int)
    phases = [Phase("plateau", 0, 200), Phase("improvement", 200, 390)]
    placed = place_corners(phases, steps, y, fixed=set())
    assert placed[0].end_step == placed[1].start_step
    # the plateau carries none of the rise (two free lines: the corner at step 250, where the
    # rise has reached 0.7 of its height, and the "plateau" climbs that far)
    assert placed[0].end_step <= 100
    assert y[steps == placed[0].end_step][0] == 0.0
