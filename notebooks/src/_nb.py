"""Tiny builder for the course notebooks: each ``NN_name.py`` here is the diff-friendly source of
``notebooks/NN_name.ipynb`` (with a python3 kernelspec and exactly one cell tagged ``parameters``).
Rebuild all with ``python notebooks/src/build.py``; a test checks the committed notebooks match their sources.

Notebooks are stored executed: every code cell carries the outputs of the recorded default run (seed 0,
``interactive=False``) -- printed results and figures -- so a reader sees the lesson before running anything.
The committed ``.ipynb`` is where they are kept: a rebuild carries each code cell's outputs over from it, matched
by the cell's source (a cell whose source changed loses them until the next recording), and
``python notebooks/src/build.py --record`` (``make record``) executes the notebooks and stores fresh ones. nbval (``--nbval-lax``) compares only the few cells marked
``# NBVAL_CHECK_OUTPUT`` with their stored text; for those only text is stored (what nbval compares), for the
others also figures (PNG) and rich output, never widget views or stderr (warnings, progress bars).

Markdown may quote a recorded number as ``{{key}}`` (``stclr.quotes``): the build fills it in from ``docs/data``.
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
    def committed(self) -> Path:
        return NOTEBOOKS / f"{self.name}.ipynb"

    def recorded_outputs(self) -> dict[str, list]:
        """The outputs the committed notebook carries, keyed by cell source (the last recording's)."""
        if not self.committed.exists():
            return {}
        return {c.source: [dict(o) for o in c.outputs] for c in nbformat.read(self.committed, as_version=4).cells
                if c.cell_type == "code" and c.outputs}

    def build(self, outputs: dict[str, list] | None = None) -> nbformat.NotebookNode:
        """The notebook, its code cells carrying ``outputs`` (cell source -> outputs; default: the committed ones)."""
        nb = new_notebook(cells=[nbformat.from_dict(dict(c)) for c in self.cells])
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata["language_info"] = json.loads(json.dumps(LANGUAGE_INFO))
        expected = self.recorded_outputs() if outputs is None else outputs
        from stclr.quotes import fill, values

        vals = values()
        # stable cell ids keep diffs small when a notebook is rebuilt
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{self.name[:2]}-{i:03d}"
            if cell.cell_type == "markdown":  # measured numbers are quoted from docs/data, never typed
                cell.source = fill(cell.source, vals, where=f"{self.name} cell {i}")
            if cell.cell_type == "code" and cell.source in expected:
                cell.outputs = [nbformat.from_dict(o) for o in expected[cell.source]]
                for o in cell.outputs:
                    if o.output_type == "execute_result":
                        o.execution_count = i + 1
                cell.execution_count = i + 1  # nbval treats a cell without a count as unrun and fails it
        return nb

    def write(self, folder: Path = NOTEBOOKS, outputs: dict[str, list] | None = None) -> Path:
        path = Path(folder) / f"{self.name}.ipynb"
        nbformat.write(self.build(outputs), path)
        return path


CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def is_checked(source: str) -> bool:
    return source.lstrip().startswith(CHECK_MARK)


# What a stored output may hold: text and static pictures. Widget views need a live kernel (and saved widget
# state) to show anything, and JavaScript does not run in an untrusted notebook.
RICH_TYPES = ("image/png", "image/svg+xml", "text/html", "text/markdown", "text/latex", "text/plain")


def shrink_png(b64: str) -> str:
    """A figure's PNG re-encoded with an adaptive 256-colour palette when that is smaller (plots and 64-px video
    frames lose nothing visible; the notebooks stay well under 1 MB each)."""
    import base64
    import io

    from PIL import Image

    raw = base64.b64decode(b64)
    img = Image.open(io.BytesIO(raw)).convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img).convert("RGB")  # transparency -> white
    buf = io.BytesIO()
    flat.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
    small = buf.getvalue()
    return base64.b64encode(small).decode() if len(small) < len(raw) else b64


def recorded_outputs(executed: nbformat.NotebookNode) -> dict[str, list]:
    """The outputs to store of an executed notebook's code cells, keyed by cell source: stdout, results and, for
    cells nbval does not check, figures and rich output (``RICH_TYPES``); never stderr or widget views."""
    keep = {}
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        checked = is_checked(cell.source)
        outs = []
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and o.name == "stdout":
                if outs and outs[-1]["output_type"] == "stream" and not checked:  # one block, however flushed
                    outs[-1]["text"] += o.text
                else:
                    outs.append({"output_type": "stream", "name": "stdout", "text": o.text})
            elif o.output_type in ("execute_result", "display_data"):
                data = {k: v for k, v in o.get("data", {}).items() if k in (("text/plain",) if checked else RICH_TYPES)}
                if "image/png" in data:
                    data["image/png"] = shrink_png(data["image/png"])
                if "application/vnd.jupyter.widget-view+json" in o.get("data", {}) or not data:
                    continue
                out = {"output_type": o.output_type, "metadata": {} if checked else dict(o.get("metadata", {})),
                       "data": data}
                if o.output_type == "execute_result":
                    out["execution_count"] = 1
                outs.append(out)
        if outs or checked:
            keep[cell.source] = outs
    return keep
