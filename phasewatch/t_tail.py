"""Student's t two-sided tail, in pure Python: the few-point t tests (`few_point_tests`) and the
corner's F(1, dof) test (`corners`) without scipy.

The live monitor refits the offline detector after each of a run's first evaluations, and the
first refit that tested a shift imported scipy.special for its `stdtr` (0.1 s idle, 0.3 s on
a loaded machine: a tenth of `watch`'s time on a 150-step log). The tail is the regularized
incomplete beta function, by its continued fraction (Lentz's method), as `stdtr` and `fdtrc`
compute it: against them, within 3e-12 relative for p-values in (1e-12, 0.5) and dof 1-400,
within 3e-11 for p-values near 1.
"""

from __future__ import annotations

import math

_TINY = 1e-300  # keeps the continued fraction's denominators off zero
_EPS = 1e-16  # relative change of the fraction that ends it
_MAX_TERMS = 500  # dof up to the thousands converge in far fewer


def two_sided_p(t_squared: float, dof: float) -> float:
    """P(|T| >= t) for Student's t with `dof` degrees of freedom, given t squared; the same
    number is the survival function of an F(1, dof) statistic equal to `t_squared`."""
    if math.isnan(t_squared):
        return math.nan
    if math.isinf(t_squared):
        return 0.0
    total = dof + t_squared
    # x and 1 - x each from its own quotient: 1 - x near 0 (a tiny t) keeps its digits
    return _incomplete_beta(dof / 2.0, 0.5, dof / total, t_squared / total)


def _incomplete_beta(a: float, b: float, x: float, y: float) -> float:
    """The regularized incomplete beta I_x(a, b), with y = 1 - x given."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log(y))
    if x < (a + 1.0) / (a + b + 2.0):  # where the fraction converges fast
        return front * _fraction(a, b, x) / a
    return 1.0 - front * _fraction(b, a, y) / b


def _fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), evaluated by Lentz's method."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / _off_zero(d)
    result = d
    for m in range(1, _MAX_TERMS):
        even = m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m))
        d = 1.0 / _off_zero(1.0 + even * d)
        c = _off_zero(1.0 + even / c)
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m))
        d = 1.0 / _off_zero(1.0 + odd * d)
        c = _off_zero(1.0 + odd / c)
        step = d * c
        result *= step
        if abs(step - 1.0) < _EPS:
            break
    return result


def _off_zero(value: float) -> float:
    return value if abs(value) > _TINY else _TINY
