"""Rebuild every course notebook from its source here: ``python notebooks/src/build.py [--out DIR]``.

``--record [NAME ...]`` first executes the notebooks (papermill, ``interactive=False``, ``show_progress=False``,
in the notebooks folder, default parameters otherwise: seed 0) and stores their outputs -- printed results and
figures -- in the committed notebooks; a plain rebuild carries them over. nbval compares the outputs of the
``# NBVAL_CHECK_OUTPUT`` cells. ``make record`` does this for every notebook.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sources() -> list[Path]:
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def load_notebooks():
    sys.path.insert(0, str(HERE))
    for src in sources():
        spec = importlib.util.spec_from_file_location(src.stem, src)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module.NOTEBOOK


def build_all(out: Path) -> list[Path]:
    return [nb.write(out) for nb in load_notebooks()]


def record(names: list[str]) -> None:
    import tempfile

    import nbformat
    import papermill as pm

    from _nb import recorded_outputs

    for nb in load_notebooks():
        if names and nb.name not in names and nb.name[:2] not in names:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = nb.write(Path(tmp), outputs={})
            executed = Path(tmp) / f"executed-{path.name}"
            print(f"executing {path.name} ...", flush=True)
            pm.execute_notebook(str(path), str(executed), parameters={"interactive": False, "show_progress": False},
                                cwd=str(HERE.parent), kernel_name="python3", progress_bar=False)
            outputs = recorded_outputs(nbformat.read(executed, as_version=4))
        done = nb.write(HERE.parent, outputs=outputs)
        print(f"  recorded the outputs of {len(outputs)} cells -> {done.name} ({done.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=HERE.parent)
    ap.add_argument("--record", nargs="*", metavar="NAME", help="execute and record checked outputs (all if no name)")
    args = ap.parse_args()
    if args.record is not None:
        record(args.record)
    for p in build_all(args.out):
        print(p)
