"""Structure of the course notebooks (nbval executes them separately: ``pytest --nbval-lax notebooks``).

Each notebook is built from ``notebooks/src/NN_name.py``; the committed ``.ipynb`` must match its source,
carry a kernelspec and the outputs of their recorded run (``make record``), and have exactly one ``parameters`` cell declaring the parameters
every runner relies on (``stclr batch``, ``stclr course``, papermill).
"""

from __future__ import annotations

import re

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED = ("data_root", "out_dir", "device", "show_progress", "interactive")


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_source_has_a_notebook_and_back():
    srcs = {p.stem for p in (REPO / "notebooks" / "src").glob("[0-9][0-9]_*.py")}
    assert srcs == {p.stem for p in NOTEBOOKS}


def test_committed_notebooks_match_their_sources(tmp_path):
    subprocess.run([sys.executable, str(REPO / "notebooks/src/build.py"), "--out", str(tmp_path)], check=True)
    for nb in NOTEBOOKS:
        built = tmp_path / nb.name
        assert _load(built) == _load(nb), f"{nb.name} is stale: run python notebooks/src/build.py"


MACHINE_PATH = re.compile(r"(?<![\w.])/(?:home|work|root|tmp|Users|var|mnt|opt)/[\w.-]+")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shape(path):
    from stclr.recipes import notebook_parameters

    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one parameters cell"
    # stored executed (issue 22): results and figures of the recorded default run, nothing a reader cannot see
    # without a live kernel (widget views), no errors, no stderr; small enough to open anywhere
    assert path.stat().st_size <= 1_000_000, f"{path.name} is {path.stat().st_size / 1e6:.2f} MB (limit 1 MB)"
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            assert o["output_type"] != "error", f"{path.name}: a recorded cell failed: {o.get('ename')}"
            assert not (o["output_type"] == "stream" and o["name"] == "stderr"), f"{path.name}: stderr stored"
            assert "application/vnd.jupyter.widget-view+json" not in o.get("data", {}), f"{path.name}: widget view stored"
            # printed paths are relative (stclr.runinfo.shown_path): the recording machine's folders mean nothing
            text = "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")) \
                + "".join(o.get("data", {}).get("text/markdown", ""))
            assert not MACHINE_PATH.search(text), f"{path.name}: a machine's path stored: {MACHINE_PATH.search(text)[0]}"
    checked = [c for c in nb["cells"] if "".join(c["source"]).startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, "a few deterministic cells should be checked by nbval"
    assert all(c.get("outputs") for c in checked), "checked cells need recorded outputs: make record"
    params, _ = notebook_parameters(path)
    missing = [name for name in REQUIRED if name not in params]
    assert not missing, f"parameters cell lacks {missing}"
    # widgets come after a static figure and only run when asked
    for c in nb["cells"]:
        if "nbval-ignore-output" in c.get("metadata", {}).get("tags", []):
            assert "interactive" in "".join(c["source"])
    md = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for heading in ("What you will learn", "Summary", "Check your understanding", "Exercises", "References"):
        assert heading in md, f"missing section: {heading}"
