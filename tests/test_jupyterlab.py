"""`jupyter lab` serves the course: the server starts from this environment, lists the 11 notebooks, opens each
one, starts the kernel they name, and ships the widget manager the notebooks' ipywidgets need (the widgets'
own output is checked by executing the notebooks: tests/test_notebooks.py and nbval)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from _lab import request, serve_lab

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "stclr-test"


def _get(url: str, method: str = "GET"):
    return request(url, TOKEN, method)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with serve_lab(ROOT, tmp_path_factory.mktemp("jupyter-home"), TOKEN) as base:
        yield base


def test_lab_lists_and_opens_every_notebook(lab):
    status, body = _get(f"{lab}/api/contents/notebooks")
    assert status == 200
    names = sorted(e["name"] for e in json.loads(body)["content"] if e["type"] == "notebook")
    assert len(names) == 11 and names[0].startswith("00_") and names[-1].startswith("10_")
    kernels = set()
    for name in names:
        status, body = _get(f"{lab}/api/contents/notebooks/{name}")
        nb = json.loads(body)
        assert status == 200 and nb["format"] == "json" and nb["content"]["cells"], name
        kernels.add(nb["content"]["metadata"]["kernelspec"]["name"])
    status, body = _get(f"{lab}/api/kernelspecs")
    assert kernels <= set(json.loads(body)["kernelspecs"]), (kernels, body[:300])


def test_lab_page_loads_the_widget_manager(lab):
    status, page = _get(f"{lab}/lab/tree/notebooks/01_sparse_sampling.ipynb")
    assert status == 200
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    federated = {e["name"] for e in config.get("federated_extensions", [])}
    assert "@jupyter-widgets/jupyterlab-manager" in federated, sorted(federated)


def test_lab_starts_the_notebooks_kernel(lab):
    req = urllib.request.Request(f"{lab}/api/kernels", data=b'{"name": "python3"}', method="POST",
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        kernel = json.loads(r.read())
    assert r.status == 201 and kernel["name"] == "python3"
    assert _get(f"{lab}/api/kernels/{kernel['id']}", "DELETE")[0] == 204
