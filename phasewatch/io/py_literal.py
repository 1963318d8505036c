"""A printed Python dict read as the literal it is meant to be: the one reading of the dicts that
console logs print (`print(metrics)`, the HF Trainer's rows, Trinity-RFT's `Step N: {...}`).

A dict printed by Python is not always a Python literal. Under numpy 2 a numpy scalar prints as
its constructor, `np.float64(0.68)` (`numpy.float32(...)`, `np.int64(3)`), which is what a
`compute_metrics` or evaluation script built from numpy or scikit-learn results prints; and a
float NaN or infinity prints bare, `nan`, `inf`. `ast.literal_eval` refuses both, and the whole
line, every metric on it, was lost as "not a readable Python dict" (an unlearning pipeline's six
per-epoch evaluations, from epoch 0, of `model_utility`, `forget_truth_ratio`, `privleak`...).
Here a numpy scalar's repr is replaced by its number and a bare nan / inf by the string the
readers take as that number, outside quoted strings; the text is then read with
`ast.literal_eval` (literals only, never code).
"""

from __future__ import annotations

import ast
import re
from typing import Any

# A quoted string (kept as it is), or a numpy scalar repr / bare nan / inf outside strings.
_TOKENS = re.compile(
    r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    r"|\b(?:np|numpy)\.\w+\(([^()]*)\)"
    r"|(?<![\w.])(-?(?:nan|inf))(?![\w.])"
)


def python_literal(text: str) -> Any:
    """The literal `text` holds, its numpy scalar reprs unwrapped and its bare nan / inf quoted
    (module docstring). Raises what `ast.literal_eval` raises on anything else."""
    def fix(match: re.Match) -> str:
        if match.group(1) is not None:
            return match.group(1)
        if match.group(2) is not None:
            inner = match.group(2).strip()
            return repr(inner) if inner.lstrip("-") in ("nan", "inf") else inner
        return repr(match.group(3))

    return ast.literal_eval(_TOKENS.sub(fix, text))
