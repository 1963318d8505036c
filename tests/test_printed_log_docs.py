"""docs/formats.md names the console readers a notebook cell's printed output is offered to, in
order: the list must be `printed_log.CONSOLE_READERS`, which a new reader extends (the docs
had lost the timm, MetricLogger and ProgressMeter readers while the code tried them)."""

from __future__ import annotations

import re
from pathlib import Path

from phasewatch.io.printed_log import CONSOLE_READERS

FORMATS = Path(__file__).resolve().parents[1] / "docs" / "formats.md"


def test_the_docs_list_the_readers_a_printed_log_is_offered_to_in_order():
    text = " ".join(FORMATS.read_text(encoding="utf-8").split())
    found = re.search(r"offered to the console readers, (.*?) in that order", text)
    assert found is not None, "docs/formats.md no longer says which readers a cell's output meets"
    assert re.findall(r"`([a-z_0-9]+)`", found.group(1)) == list(CONSOLE_READERS)
