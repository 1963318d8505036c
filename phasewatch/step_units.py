"""Step units as a person reads them, without numpy (imported by `watch` before any record).

A run's `step_unit` is "step", "epoch" (Keras: the steps are epochs), or "<word>/<n>": the steps
count 1/n of a <word>. An HF console log whose banner does not fix the steps per epoch is
"epoch/10000" (its rows at epoch x 10,000, `io.hf_console`): it is printed "epoch 1.35", never
"step 13500", and its JSON says `"step_unit": "epoch/10000"`.
"""

from __future__ import annotations

import re

SCALED_UNIT = re.compile(r"^([a-z]+)/([1-9][0-9]*)$")
# The rows of a log whose only counter is a fractional epoch, at epoch x 10,000: an HF console
# log whose banner does not fix the steps (`io.hf_console`), a CSV export of the Trainer's log
# history with `epoch` and no `step` column (`io.csv_epochs`)
ROWS_PER_EPOCH = 10_000
EPOCH_ROWS = f"epoch/{ROWS_PER_EPOCH}"
# the counters a log carries beside its step, by the unit `--x` reports in (`xaxis`); here,
# without numpy, for the CSV reader too (`io.csv_layouts.under_split` reads them as written)
CARRIERS: dict[str, tuple[str, ...]] = {
    "epoch": ("epoch", "train/epoch", "eval/epoch", "training/epoch", "trainer/epoch"),
    "tokens": ("num_input_tokens_seen", "train/num_input_tokens_seen", "num_tokens",
               "train/num_tokens", "tokens", "train/tokens", "total_tokens", "consumed_tokens",
               "tokens_seen", "trainer/tokens"),
    "samples": ("consumed_samples", "train/consumed_samples", "samples", "train/samples",
                "num_samples", "total_samples", "samples_seen", "trainer/samples"),
}


def unit_word(unit: str) -> str:
    """The word for a step unit: "epoch" for "epoch" and for "epoch/10000"."""
    found = SCALED_UNIT.match(unit or "step")
    return found.group(1) if found else (unit or "step")


def unit_scale(unit: str) -> int:
    """How many steps make one `unit_word(unit)`: 10000 for "epoch/10000", else 1."""
    found = SCALED_UNIT.match(unit or "step")
    return int(found.group(2)) if found else 1


def scaled_words(unit: str) -> str:
    """What a step counts in `unit`, for a reader of the raw numbers: "epochs x 10,000" for
    "epoch/10000", "epochs" for "epoch", "steps" for "step"."""
    scale = unit_scale(unit)
    return f"{unit_word(unit)}s" + (f" x {scale:,}" if scale != 1 else "")


def step_text(step, unit: str = "step") -> str:
    """A step as a person reads it in `unit`: "900"; "1.35" for step 13500 in "epoch/10000";
    "-" for None."""
    if step is None:
        return "-"
    scale = unit_scale(unit)
    if scale == 1:
        return str(step)
    return f"{step / scale:.4g}"


def at(step, unit: str = "step") -> str:
    """"step 900", "epoch 5" (Keras), "epoch 1.35" (HF console without steps)."""
    return f"{unit_word(unit)} {step_text(step, unit)}"


STEP_AT = re.compile(r"\bstep (-?\d+)\b")  # a position on the run's step axis, in a text


def positions_in_unit(text: str, unit: str = "step") -> str:
    """`text` with each "step N" in it said as `at(N, unit)`: "epoch 0.2" for step 2000 of an HF
    console log without steps, "epoch 5" for step 5 of a Keras log. Only positions: its other
    words stay (a note's "the first step" is the optimizer's, "17 of 100 steps" a count). The
    analysis's notes number steps as its series does; a log that states no step printed "its
    best evaluation (step 2000, eval_loss 0.8)" where its phases said "epoch 0.2"."""
    if unit == "step":
        return text
    return STEP_AT.sub(lambda m: at(int(m.group(1)), unit), text)
