"""Tiny builder for the course notebooks: each ``NN_name.py`` here is the diff-friendly source of
``notebooks/NN_name.ipynb`` (with a python3 kernelspec and exactly one cell tagged ``parameters``).
Rebuild all with ``python notebooks/src/build.py``; a test checks the committed notebooks match their sources.

Notebooks are stored without outputs, except the few cells marked ``# NBVAL_CHECK_OUTPUT``: nbval compares
a cell's fresh output with its STORED output, so those cells carry the expected text, kept in
``NN_name.outputs.json`` beside the source and refreshed by ``python notebooks/src/build.py --record``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1]

KERNELSPEC = {"display_name": "Python 3 (stclr)", "language": "python", "name": "python3"}
# What JupyterLab writes into the notebook from the kernel's reply when it opens one: stored in full so a freshly
# opened notebook is not marked modified before anything runs. ``version`` is the CI's Python (the kit's venv);
# a kernel on another Python version fills in its own, which JupyterLab then counts as a change.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.7",
}


class Notebook:
    """Collects cells in order; ``write()`` saves ``notebooks/<name>.ipynb``."""

    def __init__(self, name: str):
        self.name = name
        self.cells = []

    def md(self, text: str) -> "Notebook":
        self.cells.append(new_markdown_cell(textwrap.dedent(text).strip("\n")))
        return self

    def code(self, source: str, *, tags: list[str] | None = None, check_output: bool = False) -> "Notebook":
        """A code cell. ``check_output=True`` marks it ``# NBVAL_CHECK_OUTPUT`` (deterministic output only)."""
        src = textwrap.dedent(source).strip("\n")
        if check_output:
            src = CHECK_MARK + "\n" + src
        cell = new_code_cell(src)
        if tags:
            cell.metadata["tags"] = list(tags)
        self.cells.append(cell)
        return self

    def params(self, source: str) -> "Notebook":
        """The one papermill ``parameters`` cell: typed literals with a comment each."""
        return self.code(source, tags=["parameters"])

    def widget(self, source: str) -> "Notebook":
        """An interactive cell: its output is ignored by nbval; it must guard itself with ``if interactive:``."""
        return self.code(source, tags=["nbval-ignore-output"])

    @property
    def outputs_file(self) -> Path:
        return Path(__file__).resolve().parent / f"{self.name}.outputs.json"

    def expected_outputs(self) -> dict[str, list]:
        """Recorded outputs of the ``# NBVAL_CHECK_OUTPUT`` cells, keyed by cell source."""
        if not self.outputs_file.exists():
            return {}
        return json.loads(self.outputs_file.read_text())

    def build(self) -> nbformat.NotebookNode:
        nb = new_notebook(cells=[nbformat.from_dict(dict(c)) for c in self.cells])
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata["language_info"] = json.loads(json.dumps(LANGUAGE_INFO))
        expected = self.expected_outputs()
        # stable cell ids keep diffs small when a notebook is rebuilt
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{self.name[:2]}-{i:03d}"
            if cell.cell_type == "code" and is_checked(cell.source) and cell.source in expected:
                cell.outputs = [nbformat.from_dict(o) for o in expected[cell.source]]
                cell.execution_count = i + 1  # nbval treats a cell without a count as unrun and fails it
        return nb

    def write(self, folder: Path = NOTEBOOKS) -> Path:
        path = Path(folder) / f"{self.name}.ipynb"
        nbformat.write(self.build(), path)
        return path


CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def is_checked(source: str) -> bool:
    return source.lstrip().startswith(CHECK_MARK)


def checked_outputs(executed: nbformat.NotebookNode) -> dict[str, list]:
    """The text outputs of an executed notebook's checked cells, keyed by cell source (what nbval compares)."""
    keep = {}
    for cell in executed.cells:
        if cell.cell_type != "code" or not is_checked(cell.source):
            continue
        outs = []
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and o.name == "stdout":
                outs.append({"output_type": "stream", "name": "stdout", "text": o.text})
            elif o.output_type == "execute_result" and "text/plain" in o.get("data", {}):
                outs.append({"output_type": "execute_result", "execution_count": 1, "metadata": {},
                             "data": {"text/plain": o.data["text/plain"]}})
        keep[cell.source] = outs
    return keep
