"""Which way a metric is better, by the words of its name: the default direction of a name no
role, option or config gives one.

Long words are read anywhere in the name (`valloss`, `eval/mean_token_error`); short ones only as
a word of their own, split at any character that is not a letter or a digit and at a change
from lower to upper case: "answer" holds "wer" and "cancer" holds "cer", and an
`answer_accuracy` read as a word error rate made its worst checkpoint the best (trial 39b).
"""

from __future__ import annotations

import re

# ... and DPO's rewards and log-probabilities of the rejected answers, which it pushes down
LOWER_IS_BETTER_WORDS = ("loss", "error", "perplexity", "rejected")
# error rates and the like, by their short names: only as a word of their own
LOWER_IS_BETTER_TOKENS = frozenset({"nll", "ppl", "wer", "cer", "ter", "err"})
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"[a-z]+")


def name_words(name: str) -> list[str]:
    """The words of a metric's name, lower case (`evalWER_at_5` -> eval, wer, at)."""
    return _WORD.findall(_CAMEL.sub("_", name).lower())


def says_lower_is_better(name: str) -> bool:
    """Whether a word of `name` says lower is better (a loss, an error rate, a perplexity)."""
    lowered = name.lower()
    return (any(word in lowered for word in LOWER_IS_BETTER_WORDS)
            or not LOWER_IS_BETTER_TOKENS.isdisjoint(name_words(name)))
