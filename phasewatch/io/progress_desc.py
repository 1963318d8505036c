"""A tqdm progress bar whose description holds the epoch's numbers: `kv_console`'s record.

Many custom loops set the bar's description as they train (`pbar.set_description(f"Train Epoch:
{epoch} Loss: {loss:.3f} Acc@1 {top1:.3f} Acc@5 {top5:.3f}")`), so the console shows `Train Epoch:
3 Loss: 0.512 Acc@1 71.2 Acc@5 90.1: 100%|####| 391/391 [00:42<00:00, 9.21it/s]`. Its items are
`name: number` or `name number` one after the other, which no other rule of `kv_items` takes (a
name and a number with no `:` is prose elsewhere): the bar behind them is what says the line is a
log's. A bar's postfix (`[..., loss=0.512]`) is read by the `name=value` rule, not here.
"""

from __future__ import annotations

import re

from phasewatch.io.kv_items import DECIMAL, blanked, without_percent
from phasewatch.io.kv_set_lines import SPLIT_PREFIXES, split_item_name

# tqdm's `{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, ...]`
BAR = r":\s*(?P<percent>\d{1,3})%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*\[[^\]]*"
PROGRESS_BAR = re.compile(BAR + r"\]\s*$")
# a bar with a postfix (`[00:02<00:00, 20.1it/s, loss=0.41]`), maybe followed by what another
# stream wrote on its line (a script's stdout and tqdm's stderr in one file: `...]Done`)
POSTFIX_BAR = re.compile(BAR + r"=[^\]]*\]")
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?"
# `Loss: 0.512`, `Acc@1 71.2`, `Train Acc: 71.2%`: a name of words, `:` or a space, a number
DESC_ITEM = re.compile(r"(?P<name>[A-Za-z_][\w@./-]*(?: [A-Za-z_][\w@./-]*)*)(?::\s*|\s+)"
                       r"(?P<value>" + NUMBER + r")(?=[\s,|;]|$)")
SEPARATORS = re.compile(r"[\s,|;]*")
# the split a description names before its step token (`Train Epoch: 3`, `Valid Epoch: 3`)
SPLIT_WORD = re.compile(r"^\W*(?P<split>" + "|".join(SPLIT_PREFIXES) + r")\W*$", re.IGNORECASE)


def progress_bar(line: str) -> re.Match | None:
    """The tqdm bar at the end of `line` (after its description), or None."""
    return PROGRESS_BAR.search(line) if "%|" in line else None


def postfix_bar(line: str) -> re.Match | None:
    """The tqdm bar with a postfix of `name=value` items in `line`, or None."""
    return POSTFIX_BAR.search(line) if "%|" in line else None


def description_items(line: str, bar: re.Match, tokens: list[re.Match]) -> dict[str, str]:
    """The items of a bar's description after its step token: `Loss: 0.512 Acc@1 71.2` as
    {"Loss": "0.512", "Acc@1": "71.2"}; {} when the description holds anything else (a word
    that is no item, no decimal number). A split named before the step token (`Train Epoch:
    3`) prefixes the names, lowercased as a `Test set:` line's (`train_loss`, `train_acc@1`):
    the training batches' accuracy is no held-out one."""
    desc = blanked(line[:bar.start()], tokens)
    rest, items, end = desc[tokens[0].end():], {}, 0
    for found in DESC_ITEM.finditer(rest):
        if not SEPARATORS.fullmatch(rest[end:found.start()]):
            return {}
        items[found.group("name")] = without_percent(found.group("value"))
        end = found.end()
    if not items or not SEPARATORS.fullmatch(rest[end:]) \
            or not any(re.fullmatch(DECIMAL, value) for value in items.values()):
        return {}
    split = SPLIT_WORD.match(line[:tokens[0].start()])
    if split is None:
        return items
    return {split_item_name(split.group("split"), name): value for name, value in items.items()}


def unfinished(bar: re.Match, tokens: list[re.Match]) -> bool:
    """Whether the bar is a draw of an epoch still under way (`45%|...| 176/391`): its
    description holds running values the epoch's last draw supersedes. A bar over the steps
    (`step 500 ...`) is a record at each draw."""
    return int(bar.group("n")) < int(bar.group("total")) and all(
        token.group("kind").lower() == "epoch" for token in tokens)
