"""Every console example of a phasewatch command in README.md and docs/ is the real output of
the real command, so the docs cannot go stale.

A block is a fenced code block whose first line is `$ phasewatch COMMAND ...` for a command that
prints its result (analyze, inspect, changepoints, tokens, watch); the rest of the block is the
command's stdout, run from the repository root. Commands that write files instead (plot, train)
are not shown as console blocks; a test checks that no `$ phasewatch` line escapes the check.
After a change
that alters the output, regenerate the blocks with

    python tests/test_docs_examples.py --update

and read the diff before committing it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CHECKED = ("analyze", "inspect", "changepoints", "tokens", "watch")
BLOCK = re.compile(r"(```(?:console)?\n)(\$ phasewatch (?:" + "|".join(CHECKED) + r")\b[^\n]*)\n(.*?)(```)",
                   re.DOTALL)
ANY_PROMPT = re.compile(r"^\$ phasewatch\b.*$", re.MULTILINE)


def examples() -> list[tuple[Path, str, str]]:
    return [(path, m.group(2), m.group(3)) for path in DOCS
            for m in BLOCK.finditer(path.read_text(encoding="utf-8"))]


def run_example(command: str) -> str:
    args = shlex.split(command[2:])[1:]  # drop "$ " and "phasewatch"
    done = subprocess.run([sys.executable, "-m", "phasewatch", *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)
    # 1 is `--stop-on` firing: an outcome worth showing, not a failure
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def test_the_docs_show_analyze_and_inspect_output():
    commands = {command.split()[2] for _, command, _ in examples()}
    assert {"analyze", "inspect", "watch"} <= commands


def test_every_console_prompt_is_checked():
    """A `$ phasewatch ...` line outside a checked block would be an example nobody runs."""
    checked = {command for _, command, _ in examples()}
    for path in DOCS:
        for match in ANY_PROMPT.finditer(path.read_text(encoding="utf-8")):
            assert match.group(0) in checked, f"{path.name}: `{match.group(0)}` is not checked"


@pytest.mark.parametrize("path,command,shown", examples(),
                         ids=[f"{p.name}:{c[2:]}" for p, c, _ in examples()])
def test_console_example_is_the_real_output(path, command, shown):
    assert run_example(command) == shown, (
        f"{path.name}: the output of `{command[2:]}` changed; run "
        "`python tests/test_docs_examples.py --update` and check the diff")


# Phrases of a development diary, and documents that are not in the repository.
NOT_FOR_USERS = re.compile(r"(?i:previous session|this session|last session|earlier session|"
                           r"next session|this change|we now|first version|previous (?:detector|"
                           r"follower|version))|\bDESIGN\.md|\bTRAINER\.md")
USER_DOCS = [*DOCS, ROOT / "sample_logs" / "README.md", *sorted((ROOT / "notebooks").glob("*.ipynb"))]


@pytest.mark.parametrize("path", USER_DOCS, ids=[str(p.relative_to(ROOT)) for p in USER_DOCS])
def test_user_docs_are_self_contained_and_carry_no_diary(path):
    found = [(text.count("\n", 0, m.start()) + 1, m.group(0))
             for text in [path.read_text(encoding="utf-8")] for m in NOT_FOR_USERS.finditer(text)]
    assert not found, f"{path.name}: {found} (the contracts are in docs/contracts.md)"


def _make_figures():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FIGURES


def test_docs_images_come_from_the_one_script_with_the_documented_commands():
    figures = _make_figures()
    assert sorted(p.name for p in (ROOT / "docs" / "img").iterdir()) == sorted(figures)
    text = (ROOT / "docs" / "figures.md").read_text(encoding="utf-8")
    for name, command in figures.items():
        assert f"`{command}`" in text, f"docs/figures.md does not show the command of {name}"
    for path in DOCS:
        for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", path.read_text(encoding="utf-8")):
            assert Path(image).name in figures, f"{path.name} shows {image}, not made by the script"


@pytest.mark.parametrize("arm", ["sft_then_rl", "sft"])
def test_figures_doc_quotes_the_phases_analyze_finds(arm):
    import phasewatch

    analysis = phasewatch.analyze(phasewatch.read_run(ROOT / "sample_logs" / arm))
    found = ", ".join(f"{p.name} {p.start_step}-{p.end_step}" for p in analysis.phases)
    text = " ".join((ROOT / "docs" / "figures.md").read_text(encoding="utf-8").split())
    assert f"`analyze` finds: {found}." in text


def update() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        new = BLOCK.sub(lambda m: f"{m.group(1)}{m.group(2)}\n{run_example(m.group(2))}{m.group(4)}",
                        text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_docs_examples.py --update")
    update()
