"""JupyterLab settings the course needs, installed into an environment as ``overrides.d/stclr.json``.

- **Widget state is saved with the notebook** (``@jupyter-widgets/jupyterlab-manager`` ``saveState``): a notebook
  saved after its widgets ran reopens showing their last view, instead of "Error displaying widget: model not
  found" in every widget cell until it is re-run.
- **Arrow keys reach a focused widget**: JupyterLab binds ArrowUp/ArrowDown in a notebook's command mode to
  "move the cell cursor" for *any* focused element, so a focused dropdown (or slider) never sees them. The same
  bindings are re-declared for everything except the inside of a Jupyter widget.

JupyterLab reads ``{sys.prefix}/share/jupyter/lab/settings/overrides.d/*.json`` as the defaults of its settings
(a user's own settings still win). ``make setup`` installs the file; by hand: ``python -m stclr.labsettings``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

_COMMAND_MODE_FOCUS = ".jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus"
_OUTSIDE_WIDGETS = ":not(.jupyter-widgets):not(.jupyter-widgets *)"


def _arrow_bindings() -> list[dict]:
    out = []
    for command, key in (("notebook:move-cursor-down", "ArrowDown"), ("notebook:move-cursor-up", "ArrowUp")):
        out.append({"command": command, "keys": [key], "selector": _COMMAND_MODE_FOCUS, "disabled": True})
        out.append({"command": command, "keys": [key], "selector": _COMMAND_MODE_FOCUS + _OUTSIDE_WIDGETS})
    return out


OVERRIDES = {
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
    "@jupyterlab/shortcuts-extension:shortcuts": {"shortcuts": _arrow_bindings()},
}


def overrides_path(prefix: str | Path = sys.prefix) -> Path:
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "stclr.json"


def install(prefix: str | Path = sys.prefix) -> Path:
    """Write the course's JupyterLab defaults into the environment at ``prefix``; returns the file written."""
    path = overrides_path(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OVERRIDES, indent=2) + "\n")
    return path


def installed(prefix: str | Path = sys.prefix) -> bool:
    path = overrides_path(prefix)
    return path.exists() and json.loads(path.read_text()) == OVERRIDES


if __name__ == "__main__":
    print(f"JupyterLab settings for the course -> {install(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)}")
