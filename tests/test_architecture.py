"""The package's layers read downward (docs/architecture.md, "Layers"): a module imports only modules of its own
layer or the layers below it, at the top of the file or inside a function alike. A new module must be given a
layer here (and a row in docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "stclr"

# lowest first; the names as in docs/architecture.md's picture
LAYERS = [
    ("foundations", {"fileio", "method_table", "sampling", "losses", "video", "fixtures", "benchdata", "widgets",
                     "labsettings", "cost"}),
    ("building blocks", {"config", "models", "methods", "plan", "augment", "augment_gpu", "data.splits",
                         "data.synthetic", "quotes", "viz", "viz.data", "viz.losses", "viz.results"}),
    ("data loading", {"data", "data.loader", "data.clips", "data.prepare"}),
    ("runs", {"runinfo", "distributed", "checkpoint", "optim", "engine"}),
    ("protocols", {"train", "finetune", "retrieval", "linear_probe"}),
    ("jobs", {"recipes", "batch", "course", "background"}),
    ("command line", {"cli", "__main__", ""}),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def stclr_imports(path: Path) -> set[str]:
    """The stclr modules ``path`` imports (absolute or relative, anywhere in the file), without the ``stclr.``."""
    name = _module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and (node.module == "stclr" or node.module.startswith("stclr.")):
                base = node.module.removeprefix("stclr").lstrip(".")
            else:
                continue
            if node.module is None or base == "":  # from stclr import x / from . import x: x may be a module
                found |= {f"{base}.{a.name}".lstrip(".") for a in node.names}
            else:
                found.add(base)
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("stclr").lstrip(".") for a in node.names if a.name.split(".")[0] == "stclr"}
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    return {m for m in found if m in modules} - {name}


def test_every_module_has_a_layer():
    layer_of = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    assert not modules - set(layer_of), "give these modules a layer in LAYERS and docs/architecture.md"
    assert not set(layer_of) - modules, "modules named in LAYERS that no longer exist"


def test_imports_read_downward():
    layer_of = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        for dep in sorted(stclr_imports(path)):
            if layer_of[dep] > layer_of[name]:
                upward.append(f"{name} ({LAYERS[layer_of[name]][0]}) imports {dep} ({LAYERS[layer_of[dep]][0]})")
    assert not upward, "\n".join(upward)


def test_the_checker_sees_every_kind_of_import(tmp_path):
    """The checker itself: absolute, from-package, relative and function-local imports are all found."""
    probe = PACKAGE / "train.py"
    found = stclr_imports(probe)
    assert {"engine", "optim", "data.loader", "methods"} <= found  # top-level and inside functions
    assert {"losses", "method_table"} <= stclr_imports(PACKAGE / "methods.py")  # from . import losses; from .x import
    assert "cli" in stclr_imports(PACKAGE / "__main__.py")
