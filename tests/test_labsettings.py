"""The course's JupyterLab defaults (stclr.labsettings) and the widget helpers (stclr.widgets)."""

from __future__ import annotations

import json

from stclr import labsettings
from stclr.widgets import TAU_VALUES, dropdown, tau_slider


def test_install_writes_the_overrides_jupyterlab_reads(tmp_path):
    path = labsettings.install(tmp_path)
    assert path == tmp_path / "share/jupyter/lab/settings/overrides.d/stclr.json"
    data = json.loads(path.read_text())
    assert data["@jupyter-widgets/jupyterlab-manager:plugin"] == {"saveState": True}
    shortcuts = data["@jupyterlab/shortcuts-extension:shortcuts"]["shortcuts"]
    disabled = [s for s in shortcuts if s.get("disabled")]
    added = [s for s in shortcuts if not s.get("disabled")]
    assert {s["keys"][0] for s in disabled} == {s["keys"][0] for s in added} == {"ArrowUp", "ArrowDown"}
    assert all(":not(.jupyter-widgets *)" in s["selector"] for s in added)
    assert labsettings.installed(tmp_path)


def test_tau_slider_lands_on_the_papers_temperatures():
    assert {0.1, 0.3} <= set(TAU_VALUES)
    s = tau_slider(0.3)
    values = [v for _, v in s.options]
    assert s.value == 0.3 and values == sorted(values) and s.description.startswith("τ")
    assert dict(s.options)["0.3"] == 0.3  # the readout shows 0.3, not 0.299...
    assert 0.25 in [v for _, v in tau_slider(0.25, lo=0.03, hi=2.0).options]  # any start value is kept
    assert dropdown(["a", "b"], "b", description="pick").value == "b"
