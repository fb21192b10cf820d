"""The course in a real browser, as a teacher uses it: JupyterLab from this environment, headless Chromium driven
by playwright, for notebooks 01, 03 and 08. Each notebook is opened, run with the UI's Run All, its widgets moved
with real mouse and keyboard input (the figure under the widget must change), saved, closed, its kernel shut down,
and reopened: the widgets must still show their last view (no "Error displaying widget: model not found", which is
what a notebook saved without its widget state shows).

Needs a Chromium or Chrome: ``$STCLR_CHROMIUM``, else ``chromium``, ``chromium-browser``, ``google-chrome``,
``google-chrome-stable`` on PATH (or Chrome/Chromium in the usual macOS place); skipped with the reason otherwise.
Playwright's own browser download is not used. Screenshots of every step go to ``$STCLR_BROWSER_ARTEFACTS`` (else a
pytest temporary folder); the folder is printed (``pytest -s``) and named in the failure message.

Run it alone: ``.venv/bin/python -m pytest -m browser tests/test_browser.py -s`` (about 3-4 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from _lab import request, serve_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "stclr-browser-test"
VIEWPORT = {"width": 1400, "height": 900}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MAC_BROWSERS = ("/Applications/Chromium.app/Contents/MacOS/Chromium",
                "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")
# flags that keep Chromium from phoning home (its connections are refused on a closed network and slow it down)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
RUN_TIMEOUT_S = 420  # Run All of one notebook (08 pretrains briefly)

# Parameters of the temporary copies: the real dataset, outputs in the temporary folder, and 08 shortened
# (quick mode, two optimiser steps of pretraining): Run All itself still goes through the UI.
PARAMS = {
    "01_sparse_sampling": {},
    "03_instance_contrastive_loss": {},
    "08_retrieval": {"quick": True, "pretrain_steps": 2, "methods": ["stclr"], "gallery_queries": 1},
}


def find_chromium() -> str | None:
    """The browser the test drives: ``$STCLR_CHROMIUM``, else the first of CHROMIUM_NAMES on PATH, else macOS's."""
    env = os.environ.get("STCLR_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return next((p for p in MAC_BROWSERS if Path(p).exists()), None)


def _api(url: str, method: str = "GET"):
    status, body = request(url, TOKEN, method)
    return status, (json.loads(body) if body else None)


def set_parameters(nb: nbformat.NotebookNode, values: dict) -> None:
    """Replace literals in the notebook's ``parameters`` cell (``name: type = value  # comment`` lines)."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in values.items():
        pattern = re.compile(rf"^({re.escape(name)}\s*:\s*[^=]+=\s*)(.*?)(\s+#.*)?$", re.M)
        literal = json.dumps(value) if isinstance(value, (str, list)) else repr(value)
        cell.source, n = pattern.subn(lambda m: m.group(1) + literal + (m.group(3) or ""), cell.source)
        assert n == 1, f"parameter {name} not found in {cell.source}"


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("STCLR_BROWSER_ARTEFACTS") or tmp_path_factory.mktemp("browser-artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser test screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A copy of the three notebooks, reading the kit's synthetic dataset, writing into the temporary folder."""
    from stclr.data.synthetic import ensure_synthetic_dataset

    data = ROOT / "data" / "synthetic"
    ensure_synthetic_dataset(data, show_progress=False)
    work = tmp_path_factory.mktemp("course")
    (work / "notebooks").mkdir()
    for name, values in PARAMS.items():
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        set_parameters(nb, {"data_root": str(data), "out_dir": str(work / "runs" / name), **values})
        nbformat.write(nb, work / "notebooks" / f"{name}.ipynb")
    return work


@pytest.fixture(scope="module")
def lab(workdir, tmp_path_factory):
    """JupyterLab from this environment (its settings overrides included), clean user settings and workspaces."""
    home = tmp_path_factory.mktemp("jupyter-home")
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no "get notified about news?" toast
    env = {"JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    args = ("--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    with serve_lab(workdir, home, TOKEN, args=args, env=env) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    exe = find_chromium()
    if exe is None:
        pytest.skip("no Chromium or Chrome found: install one (Debian: apt-get install chromium), put it on PATH as "
                    f"one of {', '.join(CHROMIUM_NAMES)}, or set STCLR_CHROMIUM to its executable")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Walk:
    """One notebook in one browser page, with numbered screenshots."""

    def __init__(self, browser, base: str, name: str, artefacts: Path):
        self.base, self.name, self.folder = base, name, artefacts / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.step = 0
        self.notes: list[str] = []
        self.browser = browser
        self.open()

    def open(self):
        self.context = self.browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        # ?reset: a fresh workspace, so only this notebook is open (not the tabs of the previous one)
        self.page.goto(f"{self.base}/lab/tree/notebooks/{self.name}.ipynb?reset&token={TOKEN}")
        self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
        self.wait_idle(60)

    def close(self):
        self.context.close()

    def shot(self, what: str) -> Path:
        self.step += 1
        path = self.folder / f"{self.step:02d}_{what}.png"
        self.page.screenshot(path=str(path))
        self.notes.append(f"{path.name}")
        return path

    # -- state read from the page -------------------------------------------------------------------------------
    def status(self) -> str:
        ind = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator").first
        return ind.get_attribute("data-status") or ""

    def running_prompts(self) -> int:
        return self.page.locator(".jp-NotebookPanel .jp-InputPrompt", has_text="[*]").count()

    def wait_idle(self, timeout_s: float, settle_s: float = 2.0):
        """Until the kernel is idle, no cell is queued or running, for settle_s in a row."""
        deadline, since = time.time() + timeout_s, None
        while time.time() < deadline:
            if self.status() == "idle" and self.running_prompts() == 0:
                since = since or time.time()
                if time.time() - since >= settle_s:
                    return
            else:
                since = None
            time.sleep(0.5)
        self.shot("timeout")
        raise AssertionError(f"{self.name}: kernel not idle after {timeout_s} s (status {self.status()!r}, "
                             f"{self.running_prompts()} cells running)")

    def dirty(self) -> bool:
        return self.page.locator(".lm-TabBar-tab.lm-mod-current.jp-mod-dirty").count() > 0

    def page_errors(self) -> list[str]:
        texts = self.page.locator(".jp-NotebookPanel .jp-OutputArea-output").all_inner_texts()
        bad = ("Error displaying widget", "Traceback (most recent call last)", "model not found")
        return [t[:300] for t in texts if any(b in t for b in bad)]

    def interact(self):
        """The last interact widget of the notebook (the explorer cell), scrolled into view."""
        box = self.page.locator(".widget-interact").last
        box.scroll_into_view_if_needed()
        return box

    def image(self) -> str:
        img = self.interact().locator(".jp-OutputArea-output img").last
        img.wait_for()
        return img.get_attribute("src") or ""

    def wait_image_change(self, before: str, timeout_s: float = 60) -> str:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                now = self.image()
            except Exception:  # the output is being replaced
                now = before
            if now and now != before:
                self.wait_idle(60, settle_s=1.0)
                return self.image()
            time.sleep(0.3)
        raise AssertionError(f"{self.name}: the figure under the widget did not change")

    # -- real input -----------------------------------------------------------------------------------------------
    def menu(self, top: str, item: str):
        self.page.locator("#jp-MainMenu").get_by_role("menuitem", name=top, exact=True).click()
        self.page.get_by_role("menuitem", name=item, exact=True).click()

    def run_all(self):
        self.menu("Run", "Run All Cells")
        # Run All queues every cell: wait until the kernel is busy or done, then until idle
        time.sleep(2)
        self.wait_idle(RUN_TIMEOUT_S, settle_s=3.0)

    def drag_slider(self) -> str:
        """Drag the first slider handle of the explorer to the right with the mouse; returns its label and values."""
        slider = self.interact().locator(".widget-slider").first
        label = slider.locator(".widget-label").first.inner_text()
        readout = slider.locator(".widget-readout").first
        before = readout.inner_text()
        handle = slider.locator(".noUi-handle").first
        track = slider.locator(".noUi-base").first.bounding_box()
        h = handle.bounding_box()
        x, y = h["x"] + h["width"] / 2, h["y"] + h["height"] / 2
        target = x + max(25, track["width"] / 5) if x < track["x"] + track["width"] * 0.7 else x - track["width"] / 4
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(target, y, steps=8)
        self.page.mouse.up()
        after = readout.inner_text()
        assert after != before, f"{self.name}: dragging slider {label!r} did not move it ({before})"
        return f"slider {label!r}: {before} -> {after}"

    def change_select(self) -> str:
        """The first dropdown: click it, close its popup, then ArrowDown on the keyboard (focus stays on it).
        A multi-select instead: Ctrl+click an option with the mouse (toggles it)."""
        box = self.interact()
        select = box.locator("select").first
        label = box.locator(".widget-dropdown .widget-label, .widget-select-multiple .widget-label").first.inner_text()
        if select.get_attribute("multiple") is not None:
            before = select.evaluate("s => [...s.selectedOptions].map(o => o.text)")
            select.locator("option").last.click(modifiers=["Control"])
            after = select.evaluate("s => [...s.selectedOptions].map(o => o.text)")
        else:
            before = select.evaluate("s => s.selectedOptions[0].text")
            select.click()
            self.page.keyboard.press("Escape")
            self.page.keyboard.press("ArrowDown")
            after = select.evaluate("s => s.selectedOptions[0].text")
        assert after != before, f"{self.name}: the keyboard/mouse did not change {label!r} ({before})"
        return f"select {label!r}: {before} -> {after}"

    def save(self):
        self.page.keyboard.press("Control+s")
        deadline = time.time() + 30
        while self.dirty() and time.time() < deadline:
            time.sleep(0.3)
        assert not self.dirty(), f"{self.name}: still unsaved after Ctrl+S"


def _shutdown_kernels(base: str):
    _, sessions = _api(f"{base}/api/sessions")
    for s in sessions:
        _api(f"{base}/api/sessions/{s['id']}", "DELETE")


@pytest.mark.parametrize("name", list(PARAMS))
def test_notebook_in_the_browser(name, browser, lab, workdir, artefacts):
    walk = Walk(browser, lab, name, artefacts)
    try:
        walk.shot("opened")
        opened_dirty = walk.dirty()  # checked at the end, after the walk

        walk.run_all()
        walk.shot("ran_all")
        assert walk.page_errors() == [], walk.page_errors()

        first = walk.image()
        walk.notes.append(walk.drag_slider())
        second = walk.wait_image_change(first)
        walk.shot("slider_moved")
        walk.notes.append(walk.change_select())
        third = walk.wait_image_change(second)
        walk.shot("select_changed")
        assert walk.page_errors() == [], walk.page_errors()

        walk.save()
        walk.shot("saved")
        saved = nbformat.read(workdir / "notebooks" / f"{name}.ipynb", as_version=4)
        errors = [o.get("ename", "") + ": " + o.get("evalue", "") for c in saved.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == [], errors
    except Exception:
        walk.shot("failure")
        raise
    finally:
        walk.close()

    # reopen with a fresh kernel: the widgets must come back from the saved notebook (their state is stored in it)
    _shutdown_kernels(lab)
    walk.open()
    try:
        shown = walk.page.locator(".widget-interact, .jp-OutputArea-output:has-text('Error displaying widget')")
        shown.last.wait_for(timeout=30_000)
        time.sleep(2)
        last = walk.page.locator(".widget-interact .jp-OutputArea-output img, "
                                 ".jp-OutputArea-output:has-text('Error displaying widget')").last
        if last.count():
            last.scroll_into_view_if_needed()
        walk.shot("reopened")
        assert walk.page_errors() == [], f"{name} reopened after saving: {walk.page_errors()}"
        assert walk.image() == third, f"{name} reopened: the explorer does not show the last view"
        assert not opened_dirty, f"{name} opened as modified (its stored metadata lacks what JupyterLab fills in)"
    finally:
        print(f"\n{name}: " + "; ".join(walk.notes))
        walk.close()
        _shutdown_kernels(lab)
