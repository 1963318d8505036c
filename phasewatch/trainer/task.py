"""The toy task: 2-digit addition with two answer formats.

Prompt: `BOS a1 a0 + b1 b0 =` (N_DIGITS = 2 digits per number, most significant first). With 3
digits the GRU did not learn even the A teacher in 1500 pre-training steps (5% accuracy), too
slow for a CPU demo.

- Format A, the "established" policy's format: the 3-digit sum directly, most significant digit
  first, then EOS. The A *teacher* is flawed in one systematic way: it drops the carry out of the
  units column, so it is right only when `a0 + b0 < 10` (55% of problems). A direct MSD-first
  answer has to carry before writing the digits the carry comes from, which is why the flaw is
  plausible (measured: GRPO can still learn the carry in this format, docs/trainer.md).
- Format B, the expert's format: a marker `#`, an optional per-example *quirk* token, a
  least-significant-first scratchpad `d0 c0 d1 c1` (digit and carry of each column), a
  separator `>` and the 3-digit answer, then EOS: ~3x longer, like a reasoning trace versus a
  terse answer. The scratchpad is a local computation, so B is the better, learnable algorithm.
  The quirk token is drawn at random per expert example: it can only be memorised, which is what
  lets a small expert set be overfitted (train NLL -> 0 while held-out NLL turns up).

Mixing the formats inside one answer is malformed (reward `malformed_reward`). Reward is 1 for a
correct answer, 0 for a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD, BOS, EOS, PLUS, EQ, MARK, SEP = range(7)
DIGIT0 = 7
QUIRK0 = DIGIT0 + 10
MAX_QUIRKS = 8
VOCAB_SIZE = QUIRK0 + MAX_QUIRKS
N_DIGITS = 2
BASE = 10**N_DIGITS
ANSWER_DIGITS = N_DIGITS + 1
PROMPT_LEN = 2 * N_DIGITS + 3
#: Content tokens of a B trace (scratchpad and answer digits): the K of acc ~ q^K.
B_CONTENT_TOKENS = 2 * N_DIGITS + ANSWER_DIGITS
#: Longest response: MARK + quirk + scratchpad + SEP + answer digits + EOS.
MAX_RESPONSE_LEN = B_CONTENT_TOKENS + 4
N_PROBLEMS = BASE * BASE

#: Readable names of the token ids, for debugging and printing traces.
TOKEN_NAMES = ["<pad>", "<bos>", "<eos>", "+", "=", "#", ">"] + [str(d) for d in range(10)] + [
    f"q{i}" for i in range(MAX_QUIRKS)
]


def decode_problem(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Problem index in [0, N_PROBLEMS) -> (a, b)."""
    index = np.asarray(index, dtype=np.int64)
    return index // BASE, index % BASE


def digits(x: np.ndarray, n: int) -> np.ndarray:
    """[..., n] digits of x, most significant first."""
    x = np.asarray(x, dtype=np.int64)
    powers = 10 ** np.arange(n - 1, -1, -1)
    return (x[..., None] // powers) % 10


def prompts(index: np.ndarray) -> np.ndarray:
    a, b = decode_problem(index)
    out = np.empty((len(a), PROMPT_LEN), dtype=np.int64)
    out[:, 0] = BOS
    out[:, 1 : 1 + N_DIGITS] = DIGIT0 + digits(a, N_DIGITS)
    out[:, 1 + N_DIGITS] = PLUS
    out[:, 2 + N_DIGITS : 2 + 2 * N_DIGITS] = DIGIT0 + digits(b, N_DIGITS)
    out[:, -1] = EQ
    return out


def teacher_a_answer(index: np.ndarray) -> np.ndarray:
    """The flawed established teacher: the sum with the units carry dropped."""
    a, b = decode_problem(index)
    units_carry = (a % 10 + b % 10) >= 10
    return a + b - 10 * units_carry


def a_responses(answers: np.ndarray) -> list[list[int]]:
    return [list(DIGIT0 + digits(x, ANSWER_DIGITS)) + [EOS] for x in np.asarray(answers)]


def b_responses(index: np.ndarray, quirks: np.ndarray | None) -> list[list[int]]:
    """Expert traces; `quirks[i]` is the quirk token number of example i (None: no quirk token)."""
    a, b = decode_problem(index)
    ad, bd = digits(a, N_DIGITS)[:, ::-1], digits(b, N_DIGITS)[:, ::-1]  # least significant first
    out = []
    for i in range(len(a)):
        seq = [MARK]
        if quirks is not None:
            seq.append(QUIRK0 + int(quirks[i]))
        carry = 0
        for col in range(N_DIGITS):
            s = int(ad[i, col] + bd[i, col] + carry)
            carry = s // 10
            seq += [DIGIT0 + s % 10, DIGIT0 + carry]
        seq.append(SEP)
        seq += list(DIGIT0 + digits(a[i] + b[i], ANSWER_DIGITS))
        seq.append(EOS)
        out.append(seq)
    return out


def is_content_token(token: int) -> bool:
    return DIGIT0 <= token < DIGIT0 + 10


@dataclass
class Graded:
    """Per-response grading of a batch (numpy arrays of length n)."""

    correct: np.ndarray  # bool
    valid: np.ndarray  # bool: well-formed in one of the two formats
    expert_format: np.ndarray  # bool: starts with the expert marker
    length: np.ndarray  # tokens up to and including EOS (the whole response if no EOS)

    def rewards(self, malformed_reward: float) -> np.ndarray:
        return np.where(self.valid, self.correct.astype(float), malformed_reward)


def _answer_digits(tokens: list[int]) -> int | None:
    if len(tokens) != ANSWER_DIGITS or not all(is_content_token(t) for t in tokens):
        return None
    value = 0
    for t in tokens:
        value = 10 * value + (t - DIGIT0)
    return value


def parse_answer(response: list[int]) -> int | None:
    """The answer of a response, or None if it is malformed (no EOS, mixed formats, ...)."""
    if EOS not in response:
        return None
    body = response[: response.index(EOS)]
    if body[:1] == [MARK]:
        rest = body[1:]
        if rest[:1] and rest[0] >= QUIRK0:
            rest = rest[1:]
        pad = 2 * N_DIGITS
        if len(rest) != pad + 1 + ANSWER_DIGITS or rest[pad] != SEP:
            return None
        if not all(is_content_token(t) for t in rest[:pad]):
            return None
        return _answer_digits(rest[pad + 1 :])
    return _answer_digits(body)


def grade(index: np.ndarray, responses: np.ndarray) -> Graded:
    """Grade responses `[n, L]` (token ids, PAD after EOS) against the true sums."""
    a, b = decode_problem(index)
    truth = a + b
    n = len(truth)
    correct = np.zeros(n, bool)
    valid = np.zeros(n, bool)
    expert = responses[:, 0] == MARK
    length = np.zeros(n, np.int64)
    for i, row in enumerate(responses.tolist()):
        length[i] = row.index(EOS) + 1 if EOS in row else len(row)
        answer = parse_answer(row)
        if answer is not None:
            valid[i] = True
            correct[i] = answer == truth[i]
    return Graded(correct, valid, expert, length)


@dataclass
class Splits:
    """Disjoint problem sets: the expert set, held-out prompts, and the held-out expert set."""

    expert: np.ndarray
    heldout: np.ndarray

    @classmethod
    def make(cls, seed: int, expert_size: int, heldout_size: int) -> Splits:
        rng = np.random.default_rng([seed, 7])
        chosen = rng.choice(N_PROBLEMS, size=expert_size + heldout_size, replace=False)
        return cls(expert=np.sort(chosen[:expert_size]), heldout=chosen[expert_size:])

    def sample_training_prompts(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Prompts for RL rollouts: any problem except the held-out ones."""
        held = set(self.heldout.tolist())
        out: list[int] = []
        while len(out) < n:
            for x in rng.integers(0, N_PROBLEMS, size=2 * n).tolist():
                if x not in held:
                    out.append(x)
        return np.asarray(out[:n], dtype=np.int64)
