"""`jupyter lab` serves the course: the server starts from this environment, lists the 11 notebooks, opens each
one, starts the kernel they name, and ships the widget manager the notebooks' ipywidgets need (the widgets'
own output is checked by executing the notebooks: tests/test_notebooks.py and nbval)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "stclr-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, method: str = "GET"):
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read().decode()
        return r.status, body


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    port = _free_port()
    home = tmp_path_factory.mktemp("jupyter-home")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           "--allow-root", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited: {proc.stdout.read()[-2000:]}")
        try:
            if _get(f"{base}/api/status")[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not answer within 90 s")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


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
