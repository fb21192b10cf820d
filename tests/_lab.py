"""A JupyterLab server from this environment for the tests that talk to one (test_jupyterlab, test_browser)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, token: str, method: str = "GET") -> tuple[int, str]:
    """(HTTP status, body text) of one authenticated request to the server's REST API."""
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read().decode()


@contextlib.contextmanager
def serve_lab(root: Path, home: Path, token: str, *, args: tuple[str, ...] = (), env: dict | None = None):
    """Start ``jupyter lab`` on a free port serving ``root`` (config, runtime files and its log ``lab.log`` in
    ``home``), wait until its API answers (90 s at most), yield its base URL, stop it afterwards."""
    port = free_port()
    full_env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                **(env or {})}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", *args]
    log_path = home / "lab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=root)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 90
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"jupyter lab exited: {log_path.read_text()[-2000:]}")
                if time.time() > deadline:
                    pytest.fail("jupyter lab did not answer within 90 s")
                try:
                    if request(f"{base}/api/status", token)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
