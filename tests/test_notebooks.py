"""Every notebook in notebooks/ runs top to bottom (offline) so the tours cannot rot, and the
committed notebooks carry no outputs (they are executed here, not stored executed). A text cell
that quotes a measured number (0.546, step 120) is followed by a code cell that asserts it, so
running the notebook checks its prose too.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 120


def execute(book):
    """Run `book` in a fresh python3 kernel with notebooks/ as the working directory."""
    client = nbclient.NotebookClient(
        book, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    return client.execute()


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert "01_analyse_a_run.ipynb" in names and "02_paper_figure.ipynb" in names


def test_the_kernel_is_the_python_running_the_tests():
    """jupyter_client starts the kernelspec's `python` as sys.executable: the venv's interpreter."""
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell("import sys; print(sys.executable)")]
    executed = execute(book)
    printed = executed.cells[0].outputs[0]["text"].strip()
    assert os.path.realpath(printed) == os.path.realpath(sys.executable)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path):
    book = nbformat.read(path, as_version=4)
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} cell {i} has outputs: clear them before committing "
                "(jupyter nbconvert --clear-output --inplace notebooks/*.ipynb)"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path):
    book = nbformat.read(path, as_version=4)
    executed = execute(book)  # raises CellExecutionError (with the cell and traceback) on failure
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    errors = [o for c in code_cells for o in c.outputs if o.get("output_type") == "error"]
    assert errors == []
    produced = [o for c in code_cells for o in c.outputs]
    assert produced, f"{path.name} ran but showed nothing"


QUOTED = re.compile(r"\b\d\.\d{3}\b|\bsteps? \d+")  # a measured value, a step of the run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_numbers_in_the_text_are_asserted_by_the_next_code_cell(path):
    cells = nbformat.read(path, as_version=4).cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown" or not QUOTED.search(cell.source):
            continue
        following = next((c for c in cells[i + 1:] if c.cell_type == "code"), None)
        assert following is not None and "assert" in following.source, (
            f"{path.name} cell {i} quotes {QUOTED.findall(cell.source)[:3]} but the next code "
            "cell does not assert them")
