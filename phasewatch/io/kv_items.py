"""The grammar of a print-statement log's record line (`kv_console`): its step tokens and items.

A line is a record when it has a step token and items the rules below take: `name=value`
(`record_items`), `name: value` after the step token (`colon_items`, nanoGPT's `decimal_fields`),
or a block's `Name: value` item line (`block_items`). Each rule returns {} for a line it does not
fit, so a model's sample or prose stays no record. Where the record goes on the step axis is
`kv_console.LineParser`'s job, not this module's; an evaluation's summary line without a step
token (`Test set: ...`) is `kv_set_lines`'s.
"""

from __future__ import annotations

import re

from phasewatch.io.lines import THOUSANDS, without_thousands
from phasewatch.timing_names import is_timing

# `step 5`, `Step: 5`, `[step 5]`, `iter 5`, `iteration 5`, `Epoch 3/10`, `step=5`, and the
# counter in brackets of PyTorch tutorials' `Epoch [1/10], Step [100/600]`; not part of a longer
# word (`global_step=5`, `next_epoch=1`, `steps=138`, `step-by-step`, `step 1.5`); a sentence's
# period may end it (`Epoch: 3.   Avg.loss: 0.9466.   Accuracy: 66.56%.`).
# (The `(?=[SsIiEe])` guard spares the case-insensitive part most positions of a line.)
COUNTER = (r"(?![\w-])\s*(?:[:#=]\s*)?(?P<open>\[\s*)?(?P<n>\d+)(?:\s*/\s*(?P<total>\d+))?"
           r"(?(open)\s*\]|(?!\w|\.\w))")
STEP_TOKEN = re.compile(
    r"(?<![\w./-])(?P<kind>(?=[SsIiEe])(?i:step|iteration|iter|epoch))" + COUNTER)
# CleanRL's `global_step=476, episodic_return=[13.]`: `global_step` first on its line (elsewhere,
# `saved (next_epoch=1, global_step=10)`, a word inside a longer name is no step token)
GLOBAL_STEP_TOKEN = re.compile(r"\s*(?P<kind>global_step)" + COUNTER)
# `Batch 100`, `Batch [100/938]` after an epoch token: a custom loop's step within the epoch
# (`Epoch 2 - Batch 100 - Loss: 0.532`). Not `batch=32` (a batch size), and only after an epoch
# token (`step_tokens`): alone, `batch 5` counts nothing the file is known to count by.
BATCH_TOKEN = re.compile(r"(?<![\w./-])(?P<kind>(?i:batch))"
                         + COUNTER.replace(r"(?:[:#=]\s*)?", r"(?:[:#]\s*)?"))
# PyTorch's word_language_model example (and the scripts copied from it) prints `| epoch   3 |
#   200/ 2983 batches | lr 20.00 | ms/batch 11.71 | loss  5.67 | ppl   290.63`: after an epoch
# token, the batch within the epoch of the epoch's batches
BATCHES_TOKEN = re.compile(r"(?<![\w./-])(?P<n>\d+)\s*/\s*(?P<total>\d+)\s+(?P<kind>batches)"
                           r"(?![\w-])")
# MiniMind's `Epoch:[E/EPOCHS](I/PER_EPOCH)` and its `name: value` items (after the token).
MINIMIND_TOKEN = re.compile(r"(?<![\w.])Epoch:\[(?P<epoch>\d+)/(?P<epochs>\d+)\]\((?P<n>\d+)/(?P<per_epoch>\d+)\)")
# a name of one word or several (`train_loss`, `spent time`, `answer accuracy`)
WORDS_NAME = r"(?P<name>[A-Za-z_][\w./-]*(?: [A-Za-z_][\w./-]*)*)"
COLON_ITEM = re.compile(WORDS_NAME + r"\s*:\s*(?P<value>[^\s,;|]+)")
# A print without `=`: `name: value` items after the step token, as fields between `|` or `,`
# (`step 0 | loss: 11.02 | lr 8.4e-07 | norm: 14.33`, where a `name number` field counts too) or
# one after the other (`Step 1 loss: 91.0 token_entropy: 1.14`). A field's name may hold spaces
# (`WORDS_NAME`, as a `COLON_ITEM`'s: the cs336 alignment scripts' `spent time: 0.0min`, `answer
# accuracy: 0.421`).
COLON_FIELD = re.compile(WORDS_NAME + r"\s*:\s*(?P<value>[^\s,;|]+)$")
# a `|` field whose number a unit follows after a space: `Epoch Time: 28.43 s` (`Epoch 005 |
# learning rate: 0.0451 | Train Loss: 1.6598 | Valid Acc: 0.4190 | Epoch Time: 28.43 s`)
COLON_UNIT_FIELD = re.compile(WORDS_NAME + r"\s*:\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)"
                              r"(?:[eE][-+]?\d+)?)\s(?P<unit>%|[A-Za-z]{1,3})$")
SPACED_FIELD = re.compile(r"(?P<name>[A-Za-z_][\w./-]*)\s+(?P<value>[^\s,;|]+)$")
COLON_ITEM_INLINE = re.compile(r"(?<![\w./-])(?P<name>[A-Za-z_][\w./-]*):\s*(?P<value>[^\s,;|]+)")
# nanoGPT's prints, `step 0: train loss 4.2874, val loss 4.2823` and `iter 10: loss 4.6810, time
# 49.27ms, mfu 7.56%`: after `N:`, comma-separated `name number` fields, a name of one or two words,
# a decimal number (what its `:.4f` / `:.2f` formats write) and maybe a unit (`ms`, `%`, `BPC`).
DECIMAL = r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?"
DECIMAL_FIELD = re.compile(r"(?P<name>[A-Za-z_][\w./-]*(?: [A-Za-z_][\w./-]*)?)\s+"
                           r"(?P<value>" + DECIMAL + r")\s?(?:%|[A-Za-z]{1,3})?$")
# `name: value` items one after the other whose names may be of two words (`val loss: 3.17`,
# `cost time: 10.37`): only where every value is a decimal number (`two_word_items`)
TWO_WORD_ITEM = re.compile(r"(?<![\w./-])(?P<name>[A-Za-z_][\w./-]*(?: [A-Za-z_][\w./-]*)?)"
                           r":\s*(?P<value>" + DECIMAL + r")(?=\s|$)")
PROSE_WORDS = frozenset({"a", "an", "and", "at", "but", "in", "is", "its", "my", "of", "or",
                         "our", "so", "the", "then", "this", "to", "was", "with"})
# a metric's name printed in words is short (`Train Acc`, `valid loss`, `Speed (samples/sec)`,
# `Time per epoch`): a `|` field of more words before its number is a sentence
MAX_NAME_WORDS = 3


def prose_name(name: str) -> bool:
    """Whether the name of a `name number` field is prose: a word of it is `PROSE_WORDS`' or it
    has more than `MAX_NAME_WORDS` words (a unit in parentheses aside): `we got accuracy
    around 0.75`, `the loss was 0.52` are no items."""
    words = re.sub(r"\([^()]*\)", " ", name).split()
    return len(words) > MAX_NAME_WORDS or any(word.lower() in PROSE_WORDS for word in words)


# an epoch block's header (`Epoch: 3/30`, `=== Epoch 3 ===`, `[Epoch 3/10]`) and its items
HEADER_DECORATION = re.compile(r"[\s=*#>\-\[\]():]*")
BLOCK_SEPARATOR = re.compile(r"\s+-\s+|\s*[|,;]\s*")
BLOCK_ITEM = re.compile(r"(?P<name>[A-Za-z_][\w./-]*(?: [A-Za-z_][\w./-]*)*)\s*[:=]\s*(?P<value>\S+)$")
# the step token, ` - `, then an item line of a block: `Epoch 3 - Validation BLEU: 21.40`
DASHED = re.compile(r"\s+-\s+")
# nanoGPT's configurator prints the config file it reads (`max_iters = 5000`) and each override
# (`Overriding: max_iters = 5000`); train.py runs to iteration max_iters, its `step N`/`iter N`
MAX_ITERS = re.compile(r"(?:Overriding: )?max_iters = (\d+)\s*(?:#.*)?$")
MAX_HEADER = 80  # a header is short: longer lines without items are not searched for one
MIN_COLON_NUMBERS = 2  # `Step 3: Multiply: 24` in a model's sample is one: prose
# a one-element array as numpy prints it (CleanRL's `episodic_return=[13.]`, the return of one
# env's episode) is the number in it
ONE_ELEMENT = re.compile(r"\[\s*(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\]")
# `name=value` or `name = value`, separated by spaces, commas, semicolons or pipes; a value is a
# number, a one-element array (`ONE_ELEMENT`) or a word; a value printed with thousands
# separators (`VAL=3,385.00`) is one value, not `3` and a stray `385.00`
ITEM = re.compile(r"(?<![\w./-])(?P<name>[A-Za-z_][\w./-]*)(?P<equals>\s*=(?!=)\s*)"
                  r"(?P<value>" + ONE_ELEMENT.pattern.replace("?P<number>", "?:") + "|"
                  + THOUSANDS.pattern + r"(?![\w.]|,\d)|[^\s,;|()\[\]{}=]+)")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|[-+]?(?:nan|inf(?:inity)?)$",
                    re.IGNORECASE)
WORD = re.compile(r"[A-Za-z]{2,}")
# the one word a name of two words starts with (`joined_name`): only delimiters before it
LEADING_WORD = re.compile(r"[\s:,;|\[\]()]*(?P<word>[A-Za-z][A-Za-z_]*) ")


def step_tokens(line: str) -> list[re.Match]:
    """The step tokens of a line, in order: `STEP_TOKEN`s, and a `BATCH_TOKEN` after an epoch
    token where no other counter is printed (`Epoch 2 - Batch 100 - Loss: 0.532`)."""
    tokens = list(STEP_TOKEN.finditer(line))
    if not tokens and "global_step" in line and (lead := GLOBAL_STEP_TOKEN.match(line)):
        return [lead]
    if tokens and "atch" in line and all(t.group("kind").lower() == "epoch" for t in tokens) \
            and ((batch := BATCH_TOKEN.search(line, tokens[0].end())) is not None
                 or (batch := BATCHES_TOKEN.search(line, tokens[0].end())) is not None):
        tokens.append(batch)
        tokens.sort(key=lambda token: token.start())
    return tokens


def blanked(line: str, tokens: list[re.Match]) -> str:
    """`line` with its step `tokens` written over by spaces, where they stand."""
    for token in tokens:
        line = line[:token.start()] + " " * (token.end() - token.start()) + line[token.end():]
    return line


def record_items(line: str, tokens: list[re.Match]) -> dict[str, str]:
    """The `name=value` items of a line, but for its step tokens (`step=5`). Spaced items
    (`reward = 0.53`) count only when no other word follows the first step token: a sample
    the model wrote (`**Step 6:** Simplify: x = 24`) is prose, not a record. Words before the
    token are a logger's prefix (`12:00:01 INFO train.py:`)."""
    # the step tokens blanked where they stand: no item (`step=5`), and no word of a name
    # (`epoch 3 step 200 val acc=0.4`: `joined_name`, looked for after the first token only)
    without = blanked(line, tokens)
    text = without if any("=" in t.group(0) for t in tokens) else line
    items, end = [], tokens[0].end()
    for match in ITEM.finditer(text):
        items.append((joined_name(without[end:match.start()], match.group("name")),
                      match.group("equals"), match.group("value")))
        end = match.end()
    if any(equals != "=" for _, equals, _ in items):
        rest = ITEM.sub(" ", without[tokens[0].end():])
        if WORD.search(rest):
            items = [item for item in items if item[1] == "="]
    return {name: without_percent(without_thousands(unbracketed(value)))
            for name, _, value in items}


def unbracketed(value: str) -> str:
    """A one-element array's number (`[13.]` -> `13.`); any other value as it is."""
    found = ONE_ELEMENT.fullmatch(value)
    return found.group("number") if found else value


def joined_name(before: str, name: str) -> str:
    """An item's name with the word before it when that word stands alone between the step
    token (or the item before, or a delimiter) and the name: `val acc=0.8`, `train loss=2.1`,
    `mean reward=0.5`, as a `name: value` item's name may hold spaces (`WORDS_NAME`). `before`
    is the text since the step token or the previous item. A print of `step 5 train loss=2.1
    val acc=0.41` was read as `loss` and `acc` (the validation accuracy a preference accuracy of
    the training batches by its bare name); prose keeps its one word (`the model has loss=2`:
    `has` follows a word), and so does a word after a number (`lr 3e-4 loss=2.1`)."""
    found = LEADING_WORD.fullmatch(before)
    return f"{found.group('word')} {name}" if found else name


def without_percent(value: str) -> str:
    """A number printed as a percentage, `17.37%`, as its number, 17.37 (the units the log
    prints it in); any other value as it is. Kept as text, `Val Acc: 17.37%` was no number:
    left out silently, the held-out accuracy was lost and the run judged by its loss. A
    sentence's period after it is no part of it (`Accuracy: 66.56%.`, `Avg.loss: 0.9466.`)."""
    if value.endswith(".") and not NUMBER.match(value) and NUMBER.match(value[:-1].rstrip("%")):
        value = value[:-1]
    if value.endswith("%") and NUMBER.match(value[:-1]):
        return value[:-1]
    return value


def colon_items(line: str, tokens: list[re.Match]) -> dict[str, str]:
    """The `name: value` items after the first step token of a line without `=`, or {} when
    anything else is there (a word that is no item: prose) or fewer than MIN_COLON_NUMBERS
    items are numbers (one decimal number, `:.4f`'s, is enough beside an epoch and the counter
    within it: `Epoch [1/10], Step [100/600], Loss: 0.5234`; no sample prints both). A field
    of brackets alone is the decoration around the step tokens, no word: `[Epoch:2/3](Step:
    464/1380), train_loss: 14.4375, token_entropy: 1.9062, spent time: 0.0min` (the cs336 alignment
    scripts' print, FlyingFish760/assignment5-alignment `EI/sft.py`) leaves `](` between its two
    tokens. After ` - ` the items of a block's item line come first (`dashed_items`); a line they do
    not fit (`Epoch 3 - loss: 0.52 - 12s`) is read by the rules below."""
    rest = blanked(line, tokens)[tokens[0].end():]
    dashed = DASHED.match(rest)
    if dashed is not None and (block := dashed_items(rest[dashed.end():])):
        return block
    items: dict[str, str] = {}
    if rest.lstrip().startswith(":") and "," in rest and "|" not in rest:
        items = decimal_fields(rest.lstrip()[1:])
    elif "|" in rest or "," in rest:
        piped = "|" in rest
        for field in re.split(r"[|,;]", rest):
            field = field.strip()
            if not field or HEADER_DECORATION.fullmatch(field):
                continue
            match = COLON_FIELD.match(field)
            if match is None and piped and (spaced := spaced_field(field)) is not None:
                match = spaced
            elif match is None and piped and (unit := COLON_UNIT_FIELD.match(field)) is not None:
                items[unit_name(unit.group("name"), unit.group("unit"))] = unit.group("value")
                continue
            elif match is None and not piped:  # `Epoch 1, loss 0.6916, train accuracy: 54.67%`
                match = decimal_field(field)
            if match is None:
                return {}
            items[match.group("name")] = match.group("value")
    else:
        items = {m.group("name"): m.group("value") for m in COLON_ITEM_INLINE.finditer(rest)}
        if WORD.search(COLON_ITEM_INLINE.sub(" ", rest)):
            return two_word_items(rest)
    items = {name: without_percent(value) for name, value in items.items()}
    numbers = [value for value in items.values() if NUMBER.match(value)]
    # one decimal number is a record beside an epoch and its counter, or after an epoch token
    # alone on a line of nothing but items (`epoch: 1 loss: 0.0822`, a loop's print each epoch)
    alone = len(tokens) == 1 and tokens[0].group("kind").lower() == "epoch" and len(items) == 1
    if len(numbers) < MIN_COLON_NUMBERS and not ((len(tokens) > 1 or alone) and any(
            re.fullmatch(DECIMAL, value) for value in numbers)):
        return {}
    return items


def spaced_field(field: str) -> re.Match | None:
    """A `|` field of a name and a number with no `:` (`lr 8.4e-07`), the name maybe of several
    words (`valid loss  5.61`, the word_language_model example's `| end of epoch   1 | time:
    36.35s | valid loss  5.61 | valid ppl   273.43`), or None. A name that starts with a word of
    prose (`the answer is 5`) is none."""
    found = SPACED_FIELD.match(field) or PIPED_FIELD.match(field)
    if found is None or not NUMBER.match(found.group("value")) or prose_name(found.group("name")):
        return None
    return found


def decimal_field(field: str) -> re.Match | None:
    """A `,` field of a name and a decimal number beside `name: value` fields (a minitorch
    trainer's `Epoch 1, loss 0.6916, train accuracy: 54.67%`: an unknown format, its epochs'
    `Validation accuracy: 51.00%` lines with it), or None; a name of prose is none."""
    found = DECIMAL_FIELD.match(field)
    return None if found is None or prose_name(found.group("name")) else found


def two_word_items(rest: str) -> dict[str, str]:
    """`name: value` items one after the other, names of one or two words, every value a
    decimal number, at least MIN_COLON_NUMBERS of them and no other word (`epoch: 1 loss:
    0.7588  acc: 0.5794 val loss: 3.1738 val acc: 0.1016`, `Epoch: 1 loss: 0.358 cost time:
    10.373`); else {}. A model's sample (`Step 2: The probability: 0.25`) holds one, and prose
    joins its items with words (`the loss: 0.5 and acc: 0.3`: `PROSE_WORDS`)."""
    items = {m.group("name"): m.group("value") for m in TWO_WORD_ITEM.finditer(rest)}
    if len(items) < MIN_COLON_NUMBERS or WORD.search(TWO_WORD_ITEM.sub(" ", rest)) or any(
            name.split(" ")[0].lower() in PROSE_WORDS for name in items if " " in name):
        return {}
    return items


def dashed_items(rest: str) -> dict[str, str]:
    """The items after `Epoch N - ` (`Epoch 3 - Validation BLEU: 21.40`): a block's header and
    item line as one line (`block_items`). One item must be a decimal number (`:.2f`), so a
    model's sample `Step 1 - Add the apples: 5` stays prose."""
    items = block_items(rest)
    numbers = [value for value in items.values() if NUMBER.match(value)]
    if len(numbers) < MIN_COLON_NUMBERS and not any(re.fullmatch(DECIMAL, v) for v in numbers):
        return {}
    return items


def block_items(line: str) -> dict[str, str]:
    """The numbers of an item line (`Train Loss: 5.94 - Train Perplexity: 380.11`); {} when a
    field is no `Name: value` item (prose, a sample)."""
    values: dict[str, str] = {}
    for field in BLOCK_SEPARATOR.split(line.strip()):
        match = BLOCK_ITEM.match(field) if field else None
        if match is None:
            return {}
        if NUMBER.match(match.group("value")):
            values[match.group("name")] = match.group("value")
    return values


def decimal_fields(rest: str) -> dict[str, str]:
    """nanoGPT's `name number` fields after `step N:` (`train loss 4.2874, val loss 4.2823`),
    or {} when a field is anything else: a sample's `Step 3: x is 5, y is 7` has no decimal
    number, `Step 2: add 2.5 to x, giving 7.5` has a field that is no name-and-number. A unit
    after the number (`49.27ms`, `7.56%`, `4.6810 BPC`) is left out of the value."""
    items: dict[str, str] = {}
    for field in rest.split(","):
        match = DECIMAL_FIELD.match(field.strip())
        if match is None:
            return {}
        items[match.group("name")] = match.group("value")
    return items


# a `|` field of a name (words, maybe a unit in parentheses: `Speed (samples/sec)`) and a number
# with maybe a unit after it (`2.6s`, `9.32%`, `401.2 MB`), left out of the value
PIPED_FIELD = re.compile(r"(?P<name>[A-Za-z_][\w./-]*(?: (?:[A-Za-z_][\w./-]*|\([^()]*\)))*)\s+"
                         r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)\s?"
                         r"(?P<unit>%|[A-Za-z]{1,3})?$")
TIME_UNITS = frozenset({"s", "ms", "min", "h"})


def piped_items(line: str, tokens: list[re.Match]) -> dict[str, str]:
    """`|` fields of `name number` after the step tokens, on a line without `:` or `=`: DGL's
    examples' `Epoch 00003 | Step 00020 | Loss 2.6650 | Train Acc 0.3400 | Speed (samples/sec)
    43672.97 | GPU 401.2 MB`, `Epoch 01 loss 75.6049 | train 2.6s | Acc 9.32% | infer 4.4s`.
    Every field must be one, two of them at least and one a decimal number; else {} (`step 8 |
    loss 0.41`, a field of prose: `prose_name`). A value in a unit of time is a timing, named
    so (`train 2.6s` is `train_time_s`); another unit is left out of the value (`GPU 401.2 MB`:
    401.2)."""
    items: dict[str, str] = {}
    for field in blanked(line, tokens)[tokens[0].end():].split("|"):
        field = field.strip()
        if not field:
            continue
        found = PIPED_FIELD.match(field)
        if found is None or prose_name(found.group("name")):
            return {}
        items[unit_name(found.group("name"), found.group("unit"))] = found.group("value")
    if len(items) < MIN_COLON_NUMBERS or not any(re.fullmatch(DECIMAL, v) for v in items.values()):
        return {}
    return items


def unit_name(name: str, unit: str | None) -> str:
    """A field's name with the unit of time its value was printed in (`train 2.6s` is
    `train_time_s`, `Time 12.3s` `Time_s`), so a timing is named one; another unit (`GPU 401.2
    MB`, `9.32 %`) is left out of the value and its name kept."""
    if unit in TIME_UNITS:
        return f"{name}_{unit}" if is_timing(name) else f"{name}_time_{unit}"
    return name
