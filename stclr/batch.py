"""``stclr batch RECIPE.yaml``: run a notebook over a grid of parameters with papermill (resumable).

A *recipe* (YAML, ``experiments/README.md`` has the full format) names one notebook, base ``parameters``,
a ``grid`` (dict of lists: cartesian product) and/or explicit ``runs``, an ``out`` folder and an optional
``smoke`` block. Every *point* of the grid runs as its own papermill execution (its own kernel) into
``out/<point-name>/``::

    out/<point>/<notebook>.ipynb   the executed notebook (kept on failure too: open it at the failed cell)
    out/<point>/metrics.json       written by the notebook into its ``out_dir`` parameter (the contract)
    out/<point>/done.json          written atomically by the runner after success (params hash inside)
    out/<point>/error.json         written by the runner on failure (cell index, ename, evalue, traceback)
    out/<point>/kernel.log         the kernel process's own stdout/stderr (crash messages land here)
    out/summary.csv, summary.md    one row per point: name, status, params, flattened metrics, time

What it guarantees, and why:

- Nothing starts before every parameter name (base, grid, runs, smoke, ``--set``) is checked against the
  notebook's ``parameters`` cell, and every value against the cell's type annotations: papermill itself
  only *warns* about an unknown name and then runs for hours with the default.
- A point whose ``done.json`` holds the same params hash is skipped; one whose params changed, or that
  failed, or that was killed half-way, runs again. So a batch is resumed by running the same command.
- One failing point never stops the others; the exit code is non-zero after all ran if any failed.
- ``--jobs N`` runs N points at once (threads driving N kernels); ``--gpus 0,1`` gives each running point
  one GPU through ``CUDA_VISIBLE_DEVICES`` in its kernel's environment (least-loaded, round-robin).

The pure helpers (:func:`expand_grid`, :func:`expand_points`, :func:`point_name`, :func:`params_hash`,
:func:`flatten`, :func:`check_value`, :func:`write_summary`) hold the logic and are unit-tested; papermill
is imported lazily so ``stclr --help`` stays fast. :func:`execute_notebook` is shared with
:mod:`stclr.course`.
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import datetime
import difflib
import hashlib
import io
import itertools
import json
import os
import queue
import re
import sys
import threading
import time
import tokenize
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import yaml

__all__ = [
    "BatchResult",
    "Execution",
    "GpuPool",
    "NotebookParam",
    "Point",
    "Recipe",
    "RecipeError",
    "add_batch_command",
    "check_value",
    "execute_notebook",
    "expand_grid",
    "expand_points",
    "flatten",
    "load_recipe",
    "notebook_parameters",
    "params_hash",
    "parse_overrides",
    "plan_batch",
    "point_name",
    "run_batch",
    "validate_points",
    "write_summary",
]

RECIPE_KEYS = ("notebook", "description", "out", "parameters", "grid", "runs", "smoke", "name_format", "cell_timeout")
SMOKE_KEYS = ("parameters", "grid", "runs", "out")
# The runner sets this one itself: every point gets its own folder (the metrics.json contract).
OUT_DIR_PARAM = "out_dir"
# Applied when the notebook declares them and the recipe does not set them: a batch has nobody to click a
# widget, and progress bars would only be frozen noise inside the saved notebooks.
RUNNER_DEFAULTS: dict[str, Any] = {"interactive": False, "show_progress": False}
# Relative string values of parameters named like this are made absolute against the directory the batch
# was started from, because the kernel runs in the notebook's folder (as in Jupyter and nbval).
PATH_SUFFIXES = ("_root", "_dir", "_path", "_file")
DONE_FILE, ERROR_FILE, METRICS_FILE, KERNEL_LOG = "done.json", "error.json", "metrics.json", "kernel.log"
MAX_NAME_LEN = 120


class RecipeError(ValueError):
    """The recipe (or a ``--set`` override) is wrong; raised before anything runs. The message says what."""


# ----------------------------------------------------------------------------------------------------------
# Small I/O helpers


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON so that readers never see half a file (temp file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Same as :func:`write_json_atomic` for text (summaries are rewritten after every batch)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, newline="")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The parsed file, or ``None`` when it is missing or unreadable (a torn file counts as missing)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def flatten(obj: Any, prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested dicts to one level with dotted keys: ``{"a": {"b": 1}} -> {"a.b": 1}`` (lists stay values)."""
    if not isinstance(obj, Mapping):
        return {prefix: obj} if prefix else {"value": obj}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name, sep))
        else:
            out[name] = value
    return out


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Tracebacks from kernels are coloured; error.json should be readable in any editor."""
    return _ANSI.sub("", text)


# ----------------------------------------------------------------------------------------------------------
# The notebook's parameters


@dataclass(frozen=True)
class NotebookParam:
    """One assignment of a notebook's ``parameters`` cell."""

    name: str
    annotation: str | None  # source text of the type annotation, None when there is none
    default: str  # source text of the value
    help: str = ""  # the trailing comment
    seen_by_papermill: bool = True  # False: papermill.inspect_notebook misses it (see notebook_parameters)


def _parameters_cell(nb) -> tuple[int, str] | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return i, cell.source
    return None


def _comments_by_line(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return comments


def _ast_parameters(source: str) -> dict[str, NotebookParam] | None:
    """Top-level assignments of the cell, parsed with ``ast`` (None if the cell does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    comments = _comments_by_line(source)
    params: dict[str, NotebookParam] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets, annotation, value = [node.target], ast.unparse(node.annotation), node.value
        elif isinstance(node, ast.Assign):
            targets, annotation, value = [t for t in node.targets if isinstance(t, ast.Name)], None, node.value
        else:
            continue
        default = ast.unparse(value) if value is not None else ""
        for target in targets:
            params[target.id] = NotebookParam(target.id, annotation, default, comments.get(node.end_lineno, ""))
    return params


def _none_if_unknown(type_name: str) -> str | None:
    return None if type_name == "None" else type_name  # papermill writes "None" for "no annotation"


def notebook_parameters(path: str | Path) -> tuple[dict[str, NotebookParam], int | None]:
    """The parameters a notebook declares, and the index of its ``parameters`` cell (None if it has none).

    Names come from ``papermill.inspect_notebook`` *and* from parsing the cell with ``ast``: papermill's
    regex silently misses some valid declarations (``x: int | None = None``, ``typing.Optional[...]``,
    ``tuple[int, ...]``, or any line with a second ``=``, even in its comment), and papermill would still
    inject such a name at run time, so rejecting it would be wrong. Those get ``seen_by_papermill=False``.
    """
    import nbformat
    import papermill

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    found = _parameters_cell(nb)
    if found is None:
        return {}, None
    index, source = found
    inspected = papermill.inspect_notebook(str(path))
    parsed = _ast_parameters(source)
    if parsed is None:  # the cell does not parse: trust papermill alone
        return {
            name: NotebookParam(name, _none_if_unknown(p["inferred_type_name"]), p["default"], p["help"])
            for name, p in inspected.items()
        }, index
    params = {name: NotebookParam(p.name, p.annotation, p.default, p.help, name in inspected) for name, p in parsed.items()}
    return params, index


# ----------------------------------------------------------------------------------------------------------
# Type checks against the declared annotations (a small, conservative subset of typing)

_UNKNOWN = None  # "cannot tell": never an error


def _type_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.Optional, t.List ...
        return node.attr
    return None


def _accepts(node: ast.AST, value: Any) -> bool | None:
    """Does a value fit the annotation? True / False / None (an annotation we do not understand)."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return value is None
        if isinstance(node.value, str):  # a string annotation: "int"
            try:
                return _accepts(ast.parse(node.value, mode="eval").body, value)
            except SyntaxError:
                return _UNKNOWN
        return _UNKNOWN
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | Y
        return _any_of([node.left, node.right], value)
    if isinstance(node, ast.Subscript):
        base = _type_name(node.value)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Optional":
            return True if value is None else _accepts(args[0], value)
        if base == "Union":
            return _any_of(args, value)
        if base == "Literal":
            try:
                return value in [ast.literal_eval(a) for a in args]
            except ValueError:
                return _UNKNOWN
        if base in ("list", "List", "Sequence", "tuple", "Tuple", "set", "Set"):
            if not isinstance(value, (list, tuple)):
                return False
            variadic = len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis
            if base in ("tuple", "Tuple") and not variadic:  # tuple[int, str]: one annotation per item
                return _UNKNOWN if len(args) != len(value) else _all_of(args, value)
            return _all_of([args[0]] * len(value), value)
        if base in ("dict", "Dict", "Mapping"):
            return isinstance(value, Mapping)
        return _UNKNOWN
    name = _type_name(node)
    if name in ("Any", "object"):
        return True
    if name == "bool":
        return isinstance(value, bool)
    if name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "float":  # an int is a fine float (YAML writes 1 for 1.0)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "str":
        return isinstance(value, str)
    if name in ("list", "List", "tuple", "Tuple", "Sequence", "set", "Set"):
        return isinstance(value, (list, tuple))
    if name in ("dict", "Dict", "Mapping"):
        return isinstance(value, Mapping)
    if name in ("None", "NoneType"):
        return value is None
    return _UNKNOWN


def _any_of(nodes: Iterable[ast.AST], value: Any) -> bool | None:
    results = [_accepts(n, value) for n in nodes]
    if any(r is True for r in results):
        return True
    return False if all(r is False for r in results) else _UNKNOWN


def _all_of(nodes: Sequence[ast.AST], values: Sequence[Any]) -> bool | None:
    results = [_accepts(n, v) for n, v in zip(nodes, values)]
    if any(r is False for r in results):
        return False
    return True if all(r is True for r in results) else _UNKNOWN


def _declared_type(param: NotebookParam) -> ast.AST | None:
    """The annotation as an AST; without one, the type of the default literal (ints widened to float)."""
    if param.annotation:
        try:
            return ast.parse(param.annotation, mode="eval").body
        except SyntaxError:
            return None
    try:
        default = ast.literal_eval(param.default)
    except (ValueError, SyntaxError):
        return None
    kinds = {bool: "bool", int: "float", float: "float", str: "str", list: "list", tuple: "list", dict: "dict"}
    kind = kinds.get(type(default))
    return ast.Name(kind) if kind else None


def check_value(param: NotebookParam, value: Any) -> tuple[Any, str | None]:
    """Check one value against a parameter's declaration: ``(value, None)`` or ``(value, error message)``.

    One coercion only, for YAML's best-known trap: ``1e-3`` (no dot) loads as a *string*; a string given
    to a parameter that accepts a float but not a string is converted when it parses as a number.
    """
    node = _declared_type(param)
    if node is None:
        return value, None
    ok = _accepts(node, value)
    if ok is False and isinstance(value, str) and _accepts(node, 0.5) is True and _accepts(node, "s") is not True:
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return number, None
    if ok is False:
        declared = param.annotation or f"the type of its default {param.default}"
        return value, f"parameter {param.name!r} expects {declared}, got {value!r} ({type(value).__name__})"
    return value, None


# ----------------------------------------------------------------------------------------------------------
# Grid expansion and naming (pure)


@dataclass(frozen=True)
class Point:
    """One run of the notebook: a unique folder name and the recipe's parameters for it."""

    name: str
    params: dict[str, Any]  # as written in the recipe (merged), without the runner's out_dir

    @property
    def hash(self) -> str:
        return params_hash(self.params)


def expand_grid(grid: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    """Cartesian product of a dict of lists, in the recipe's key order (the last key varies fastest).

    ``{}`` or ``None`` gives one empty point. A scalar instead of a list is a recipe error (easy to write by
    mistake, and silently iterating over a string's characters would be worse).
    """
    if not grid:
        return [{}]
    keys = list(grid)
    for key in keys:
        values = grid[key]
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise RecipeError(f"grid.{key} must be a non-empty list of values, got {values!r}")
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "-".join(_format_value(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._,=+@-]+")


def sanitize_name(name: str) -> str:
    """A folder name that is safe on Linux, macOS and Windows; long names keep a hash suffix to stay unique."""
    safe = _UNSAFE.sub("-", name).strip(".-") or "point"
    if len(safe) > MAX_NAME_LEN:
        safe = safe[: MAX_NAME_LEN - 9] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return safe


def point_name(
    varying: Mapping[str, Any],
    run_name: str | None = None,
    name_format: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> str:
    """Folder name of a point.

    With ``name_format`` (a ``str.format`` template over the point's parameters, e.g. ``"{method}-s{seed}"``)
    that; else the run's name followed by the grid values as ``key=value`` joined by commas
    (``stclr,seed=0``); ``default`` for a recipe without grid or runs.
    """
    if name_format:
        try:
            text = name_format.format(**{k: _format_value(v) for k, v in (params or varying).items()})
        except (KeyError, IndexError, ValueError) as e:
            raise RecipeError(f"name_format {name_format!r} cannot be filled: {e!r}") from None
        return sanitize_name(text)
    parts = [run_name] if run_name else []
    parts += [f"{k}={_format_value(v)}" for k, v in varying.items()]
    return sanitize_name(",".join(parts) if parts else "default")


def params_hash(params: Mapping[str, Any]) -> str:
    """A stable hash of a point's parameters (key order does not matter); stored in done.json."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expand_points(
    parameters: Mapping[str, Any] | None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    runs: Sequence[Mapping[str, Any]] | None = None,
    name_format: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[Point]:
    """Every point of a recipe: ``runs x grid`` (each explicit run combined with each grid combination).

    Precedence, lowest first: ``parameters`` < the run's entries < the grid's values < ``overrides``
    (``--set``). An override of a grid key replaces that axis by the single value, so ``--set seed=3`` on a
    seed grid runs one seed (not N identical copies) in the very folder the full grid uses for it (a done
    point is reused). Names must come out unique.
    """
    overrides = dict(overrides or {})
    grid = {k: ([overrides[k]] if k in overrides else v) for k, v in (grid or {}).items()}
    runs_list: list[Mapping[str, Any]] = list(runs) if runs else [{}]
    points: list[Point] = []
    for i, run in enumerate(runs_list):
        if not isinstance(run, Mapping):
            raise RecipeError(f"runs[{i}] must be a mapping of parameters (with an optional 'name'), got {run!r}")
        run = dict(run)
        run_name = run.pop("name", None)
        if runs and run_name is None:
            run_name = ",".join(f"{k}={_format_value(v)}" for k, v in run.items()) or f"run{i}"
        for combo in expand_grid(grid):
            params = {**(parameters or {}), **run, **combo, **overrides}
            points.append(Point(point_name(combo, run_name, name_format, params), params))
    names = [p.name for p in points]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RecipeError(f"point names are not unique: {', '.join(dupes)} (give runs a 'name' or set name_format)")
    return points


# ----------------------------------------------------------------------------------------------------------
# Recipes


@dataclass
class Recipe:
    """A loaded recipe with smoke mode and ``--set`` already applied (what :func:`run_batch` runs)."""

    notebook: Path
    out: Path
    points: list[Point]
    path: Path | None = None
    description: str = ""
    cell_timeout: float | None = None
    smoke: bool = False


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["epochs=3", "skips=[1,2]"]`` -> ``{"epochs": 3, "skips": [1, 2]}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise RecipeError(f"--set expects KEY=VALUE with KEY a parameter name, got {item!r}")
        try:
            out[key] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise RecipeError(f"--set {item!r}: the value is not valid YAML ({e})") from None
    return out


def _repo_root(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return None


# the kit this package was installed from (an editable install: the repository holding stclr/)
_KIT_ROOT = Path(__file__).resolve().parents[1]


def _resolve_notebook(name: str, recipe_dir: Path) -> Path:
    """Recipes name notebooks relative to the recipe, the repository (the folder with ``pyproject.toml``), the
    current directory, or by file name alone in the current directory (a notebook run from a copy of only
    ``notebooks/``: its kernel works in the notebook's own folder), then the kit the package comes from."""
    path = Path(name).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        repo = _repo_root(recipe_dir.resolve())
        candidates = [recipe_dir / path] + ([repo / path] if repo else []) + [Path.cwd() / path]
        candidates += [Path.cwd() / path.name, _KIT_ROOT / path]
    candidates = list(dict.fromkeys(candidates))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise RecipeError(
        f"notebook {name!r} not found; looked at: {', '.join(str(c) for c in candidates)}. Recipes name notebooks "
        "relative to the kit's root (the folder with pyproject.toml). Copy the kit's notebooks/ and experiments/ "
        "folders together, run from the folder that holds the notebook, or give the notebook's absolute path."
    )


def _check_keys(block: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = [k for k in block if k not in allowed]
    if unknown:
        hints = [repr(k) + _did_you_mean(k, allowed) for k in unknown]
        raise RecipeError(f"unknown key(s) in {where}: {', '.join(hints)}; allowed: {', '.join(allowed)}")


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), 1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecipeError(f"{where} must be a mapping, got {type(value).__name__}")
    return dict(value)


def recipe_from_dict(
    data: Mapping[str, Any],
    *,
    recipe_dir: Path,
    default_name: str = "batch",
    smoke: bool = False,
    out: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    path: Path | None = None,
) -> Recipe:
    """Build a :class:`Recipe` from parsed YAML (split from :func:`load_recipe` so tests need no file)."""
    if not isinstance(data, Mapping):
        raise RecipeError("a recipe must be a YAML mapping (notebook, parameters, grid, ...)")
    _check_keys(data, RECIPE_KEYS, "the recipe")
    if "notebook" not in data:
        raise RecipeError("the recipe names no 'notebook'")
    notebook = _resolve_notebook(str(data["notebook"]), recipe_dir)
    parameters = _mapping(data.get("parameters"), "parameters")
    grid = _mapping(data.get("grid"), "grid")
    runs = data.get("runs")
    if runs is not None and not isinstance(runs, list):
        raise RecipeError("runs must be a list of mappings")
    out_dir = Path(data.get("out") or Path("runs") / default_name)
    if smoke:
        block = _mapping(data.get("smoke"), "smoke")
        if not block:
            raise RecipeError("--smoke: the recipe has no 'smoke' block")
        _check_keys(block, SMOKE_KEYS, "smoke")
        # Smoke = the same recipe on small settings: its parameters override the base ones; a grid or runs
        # given here replace the full ones (typically one point); its own folder keeps the real results clean.
        parameters = {**parameters, **_mapping(block.get("parameters"), "smoke.parameters")}
        if "grid" in block:
            grid = _mapping(block["grid"], "smoke.grid")
        if "runs" in block:
            runs = block["runs"]
        out_dir = Path(block["out"]) if block.get("out") else out_dir.with_name(out_dir.name + "-smoke")
    if out is not None:
        out_dir = Path(out)
    timeout = data.get("cell_timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0):
        raise RecipeError(f"cell_timeout must be a positive number of seconds, got {timeout!r}")
    points = expand_points(parameters, grid, runs, data.get("name_format"), overrides)
    return Recipe(notebook, out_dir.expanduser().resolve(), points, path, str(data.get("description") or ""), timeout, smoke)


def load_recipe(
    path: str | Path,
    *,
    smoke: bool = False,
    out: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Recipe:
    """Read a recipe file (``yaml.safe_load``) and apply smoke mode, ``--out`` and ``--set`` overrides."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        hint = ""
        if not path.is_file() and (_KIT_ROOT / "experiments" / path.name).is_file():
            hint = f"; the kit has one at {_KIT_ROOT / 'experiments' / path.name} (copy experiments/ with notebooks/)"
        raise RecipeError(f"cannot read recipe {path}: {e}{hint}") from None
    except yaml.YAMLError as e:
        raise RecipeError(f"recipe {path} is not valid YAML: {e}") from None
    return recipe_from_dict(
        data, recipe_dir=path.parent, default_name=path.stem, smoke=smoke, out=out, overrides=overrides, path=path.resolve()
    )


def validate_points(
    points: Sequence[Point], declared: Mapping[str, NotebookParam], notebook: str = "the notebook"
) -> list[Point]:
    """Check every name and value against the notebook's declarations; return the points (values coerced).

    Raises :class:`RecipeError` listing *all* problems at once, each unknown name with a close match and the
    list of valid names: fixing one typo per hour-long run is the failure this exists to prevent.
    """
    if OUT_DIR_PARAM not in declared:
        raise RecipeError(
            f"{notebook} declares no {OUT_DIR_PARAM!r} parameter; the batch runner sets it to each point's folder, "
            f"where the notebook writes {METRICS_FILE} (experiments/README.md)"
        )
    problems: list[str] = []
    checked: list[Point] = []
    valid = sorted(declared)
    for point in points:
        params = {}
        for key, value in point.params.items():
            if key == OUT_DIR_PARAM:
                _add(problems, f"{OUT_DIR_PARAM!r} is set by the runner (one folder per point); remove it from the recipe")
                continue
            if key not in declared:
                _add(problems, f"unknown parameter {key!r}{_did_you_mean(key, valid)}")
                continue
            value, error = check_value(declared[key], value)
            if error:
                _add(problems, f"{error} [point {point.name}]" if len(points) > 1 else error)
            params[key] = value
        checked.append(Point(point.name, params))
    if problems:
        raise RecipeError(
            f"{len(problems)} problem(s) with the parameters for {notebook}:\n  - " + "\n  - ".join(problems)
            + f"\nvalid parameter names: {', '.join(valid)}"
        )
    return checked


def _add(problems: list[str], message: str) -> None:
    if message not in problems:
        problems.append(message)


# ----------------------------------------------------------------------------------------------------------
# Executing one notebook (shared with stclr.course)


@dataclass
class Execution:
    """What happened when one notebook ran."""

    ok: bool
    seconds: float
    error: dict[str, Any] | None = None  # ename, evalue, cell_index, source_cell_index, exec_count, source, traceback


def _kernel_manager_class(env: Mapping[str, str] | None, cwd: str | Path | None, log_file=None):
    """A kernel manager class that starts its kernel with extra environment variables, a working directory
    and (optionally) its process stdout/stderr sent to ``log_file``.

    papermill has no per-execution ``env``; changing ``os.environ`` would leak between parallel points, so
    the variables go into this one kernel's launch instead (nbclient instantiates the class we pass). The
    kernel process's own output (not the cells' outputs, which travel over ZMQ into the notebook) is where
    a crash leaves its last words (segfault, CUDA or NCCL errors): worth a file, not the batch's terminal.
    """
    from jupyter_client import AsyncKernelManager

    extra_env, work_dir = dict(env or {}), None if cwd is None else str(cwd)

    class PointKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):  # noqa: D102 (jupyter_client API)
            if extra_env:
                kw["env"] = {**os.environ, **kw.get("env", {}), **extra_env}
            if work_dir is not None:
                kw.setdefault("cwd", work_dir)
            if log_file is not None:
                kw.setdefault("stdout", log_file)
                kw.setdefault("stderr", log_file)
            return await super().start_kernel(**kw)

    return PointKernelManager


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: Mapping[str, Any],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    progress: bool | dict = False,
    cell_timeout: float | None = None,
    parameters_cell: int | None = None,
    kernel_log: str | Path | None = None,
) -> Execution:
    """Run a notebook with papermill; never raises for a failing notebook (except on Ctrl-C).

    ``cwd`` is the kernel's working directory (default: the notebook's folder, as in Jupyter and nbval).
    On failure, ``error`` holds papermill's ``cell_index`` (in the parameterised notebook, which has the
    injected-parameters cell), ``source_cell_index`` (the same cell in the source notebook, when
    ``parameters_cell`` is given), ``exec_count`` ("In [n]"), the cell's source and the traceback.
    ``kernel_log``: a file that receives the kernel process's own stdout/stderr (default: inherited).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook, output = Path(notebook), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    log_handle = open(kernel_log, "ab") if kernel_log is not None else None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            progress_bar=progress,
            kernel_manager_class=_kernel_manager_class(env, cwd if cwd is not None else notebook.parent, log_handle),
            execution_timeout=cell_timeout,
            start_timeout=120,  # kernel start-up on a loaded 2-core laptop can exceed papermill's 60 s
        )
    except PapermillExecutionError as e:
        source_index = e.cell_index
        if parameters_cell is not None and parameters and e.cell_index > parameters_cell:
            source_index = e.cell_index - 1  # papermill inserted one cell right after the parameters cell
        error = {
            "ename": e.ename,
            "evalue": strip_ansi(str(e.evalue)),
            "cell_index": e.cell_index,
            "source_cell_index": source_index,
            "exec_count": e.exec_count,
            "source": e.source,
            "traceback": strip_ansi("\n".join(e.traceback or [])),
        }
        return Execution(False, time.perf_counter() - start, error)
    except Exception as e:  # kernel died, could not start, timeout, unreadable notebook ...
        error = {
            "ename": type(e).__name__,
            "evalue": strip_ansi(str(e)),
            "cell_index": None,
            "source_cell_index": None,
            "exec_count": None,
            "source": None,
            "traceback": strip_ansi(traceback.format_exc()),
        }
        return Execution(False, time.perf_counter() - start, error)
    finally:
        if log_handle is not None:
            log_handle.close()
    return Execution(True, time.perf_counter() - start)


def describe_error(error: Mapping[str, Any] | None) -> str:
    """One line for logs and summaries: ``ValueError: boom (cell 3)``."""
    if not error:
        return ""
    where = f" (cell {error['source_cell_index']})" if error.get("source_cell_index") is not None else ""
    text = f"{error.get('ename')}: {error.get('evalue')}".strip()
    if len(text) > 200:
        text = text[:200] + "..."
    return text + where


# ----------------------------------------------------------------------------------------------------------
# Planning and running a batch


class GpuPool:
    """Hands each starting point a GPU id: the least busy one, ties broken round-robin. Thread-safe.

    With more jobs than GPUs, GPUs are shared evenly; without GPUs, :meth:`acquire` returns None.
    """

    def __init__(self, gpus: Sequence[str] | None):
        self.gpus = [str(g) for g in (gpus or [])]
        self.busy = {g: 0 for g in self.gpus}
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self) -> str | None:
        if not self.gpus:
            return None
        with self._lock:
            order = self.gpus[self._next :] + self.gpus[: self._next]
            gpu = min(order, key=lambda g: self.busy[g])  # min keeps the first of equals: round-robin
            self.busy[gpu] += 1
            self._next = (self.gpus.index(gpu) + 1) % len(self.gpus)
            return gpu

    def release(self, gpu: str | None) -> None:
        if gpu is None:
            return
        with self._lock:
            self.busy[gpu] -= 1


@dataclass
class PlannedPoint:
    """A point, its folder, and what the runner found there."""

    point: Point
    folder: Path
    state: str  # done | new | changed | failed | incomplete

    @property
    def will_run(self) -> bool:
        return self.state != "done"


def point_state(folder: Path, phash: str) -> str:
    """``done`` (same params finished), ``changed`` (finished with other params), ``failed``,
    ``incomplete`` (started and killed: files but no marker), or ``new``."""
    done = read_json(folder / DONE_FILE)
    if isinstance(done, Mapping) and done.get("params_hash") == phash:
        return "done"
    if (folder / ERROR_FILE).exists():
        return "failed"
    if done is not None:
        return "changed"
    if folder.is_dir() and any(folder.iterdir()):
        return "incomplete"
    return "new"


def plan_batch(recipe: Recipe, *, force: bool = False) -> list[PlannedPoint]:
    """Where every point goes and whether it must run (``force`` reruns finished points too)."""
    planned = []
    for point in recipe.points:
        folder = recipe.out / point.name
        state = point_state(folder, point.hash)
        planned.append(PlannedPoint(point, folder, "changed" if force and state == "done" else state))
    return planned


def _resolve_paths(params: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Relative path-like values (by parameter name suffix) made absolute against ``base``."""
    out = dict(params)
    for key, value in params.items():
        if key.endswith(PATH_SUFFIXES) and isinstance(value, str) and value and "://" not in value:
            path = Path(value).expanduser()
            out[key] = str(path if path.is_absolute() else (base / path).resolve())
    return out


def _run_point(
    recipe: Recipe,
    planned: PlannedPoint,
    declared: Mapping[str, NotebookParam],
    param_cell: int | None,
    gpus: GpuPool,
    base: Path,
) -> dict[str, Any]:
    """Execute one point into its folder and leave done.json or error.json there. Returns a short record."""
    folder, point = planned.folder, planned.point
    folder.mkdir(parents=True, exist_ok=True)
    # Stale results of an earlier attempt must not survive into this one's summary.
    for stale in (DONE_FILE, ERROR_FILE, METRICS_FILE, KERNEL_LOG):
        (folder / stale).unlink(missing_ok=True)
    params = {k: v for k, v in RUNNER_DEFAULTS.items() if k in declared}
    params.update(_resolve_paths(point.params, base))
    params[OUT_DIR_PARAM] = str(folder)
    gpu = gpus.acquire()
    try:
        env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else None
        result = execute_notebook(
            recipe.notebook,
            folder / recipe.notebook.name,
            params,
            env=env,
            cell_timeout=recipe.cell_timeout,
            parameters_cell=param_cell,
            kernel_log=folder / KERNEL_LOG,
        )
    finally:
        gpus.release(gpu)
    record = {
        "name": point.name,
        "params_hash": point.hash,
        "params": point.params,
        "notebook": str(recipe.notebook),
        "executed_notebook": str(folder / recipe.notebook.name),
        "gpu": gpu,
        "seconds": round(result.seconds, 3),
        "finished_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if result.ok:
        record["notebook_sha256"] = hashlib.sha256(recipe.notebook.read_bytes()).hexdigest()
        write_json_atomic(folder / DONE_FILE, record)
    else:
        write_json_atomic(folder / ERROR_FILE, {**record, **(result.error or {})})
    return {"name": point.name, "ok": result.ok, "seconds": result.seconds, "error": result.error, "gpu": gpu}


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`; ``exit_code`` is what ``stclr batch`` returns."""

    planned: list[PlannedPoint]
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    summary_files: tuple[Path, ...] = ()

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


def _worker_pool(
    jobs: int, tasks: list, fn: Callable, results: queue.Queue, stop: threading.Event
) -> list[threading.Thread]:
    """N daemon threads taking tasks in order. Daemon threads (not ThreadPoolExecutor, whose threads are
    joined at exit) let Ctrl-C end the batch at once; orphaned ipykernels exit when their parent dies."""
    todo: queue.Queue = queue.Queue()
    for task in tasks:
        todo.put(task)

    def loop():
        while not stop.is_set():
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results.put(fn(task))
            except BaseException as e:  # a runner bug must not hang the main loop waiting for a result
                error = {"ename": type(e).__name__, "evalue": str(e), "traceback": traceback.format_exc()}
                results.put({"name": task.point.name, "ok": False, "seconds": 0.0, "gpu": None, "error": error})

    threads = [threading.Thread(target=loop, name=f"stclr-batch-{i}", daemon=True) for i in range(max(1, jobs))]
    for t in threads:
        t.start()
    return threads


def run_batch(
    recipe: Recipe,
    *,
    jobs: int | None = None,
    gpus: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    show_progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BatchResult:
    """Validate, plan and run a batch; write summary.csv/summary.md. See the module docstring.

    ``jobs`` defaults to the number of ``gpus`` (or 1). Raises :class:`RecipeError` before running anything
    when a parameter is wrong.
    """
    from tqdm.auto import tqdm

    log = log or (lambda msg: tqdm.write(msg, file=sys.stdout))
    declared, param_cell = notebook_parameters(recipe.notebook)
    if param_cell is None:
        raise RecipeError(f"{recipe.notebook} has no cell tagged 'parameters'")
    points = validate_points(recipe.points, declared, str(recipe.notebook))
    recipe = dataclasses.replace(recipe, points=points)  # hashes and names from the checked (coerced) values
    planned = plan_batch(recipe, force=force)
    todo = [p for p in planned if p.will_run]
    jobs = max(1, jobs or (len(gpus) if gpus else 1))
    result = BatchResult(planned)

    log(f"{recipe.notebook.name}: {len(planned)} point(s) -> {recipe.out}" + (" [smoke]" if recipe.smoke else ""))
    if dry_run:
        width = max((len(p.point.name) for p in planned), default=4)
        for p in planned:
            action = "run" if p.will_run else "skip (done)"
            log(f"  {p.point.name:<{width}}  {p.state:<10}  {action}")
        log(f"dry run: {len(todo)} to run, {len(planned) - len(todo)} to skip; nothing was executed")
        return result

    recipe.out.mkdir(parents=True, exist_ok=True)
    base = Path.cwd()
    pool = GpuPool(gpus)
    results: queue.Queue = queue.Queue()
    stop = threading.Event()
    bar = tqdm(total=len(todo), desc="batch", unit="point", disable=not show_progress)
    if len(todo) < len(planned):
        log(f"skipping {len(planned) - len(todo)} point(s) already done")
    _worker_pool(jobs, todo, lambda p: _run_point(recipe, p, declared, param_cell, pool, base), results, stop)
    try:
        for _ in range(len(todo)):
            while True:  # poll, so Ctrl-C reaches the main thread promptly
                try:
                    rec = results.get(timeout=0.5)
                    break
                except queue.Empty:
                    continue
            result.ran.append(rec["name"])
            gpu = f" [gpu {rec['gpu']}]" if rec.get("gpu") is not None else ""
            if rec["ok"]:
                log(f"ok      {rec['name']} ({rec['seconds']:.1f} s){gpu}")
            else:
                result.failed.append(rec["name"])
                log(f"FAILED  {rec['name']}: {describe_error(rec['error'])}{gpu}")
            bar.update()
            bar.set_postfix(failed=len(result.failed), refresh=False)
    except KeyboardInterrupt:
        stop.set()
        result.interrupted = True
        log("interrupted: points still running are abandoned (they rerun next time)")
    finally:
        bar.close()
        result.summary_files = write_summary(recipe.out, collect_rows(planned, set(result.ran)), title=_title(recipe))
    counts = f"{len(result.ran) - len(result.failed)} ok, {len(result.failed)} failed, {len(planned) - len(todo)} skipped"
    log(f"{counts}{' (interrupted)' if result.interrupted else ''}; summary: {recipe.out / 'summary.md'}")
    return result


def _title(recipe: Recipe) -> str:
    name = recipe.path.name if recipe.path else recipe.notebook.name
    return f"Batch {name}" + (" (smoke)" if recipe.smoke else "")


# ----------------------------------------------------------------------------------------------------------
# Summaries (pure, from the files on disk)


def collect_rows(planned: Sequence[PlannedPoint], ran_now: set[str] | None = None) -> list[dict[str, Any]]:
    """One row per point from its folder: name, status (ok | failed | pending), ran, seconds, error,
    ``params.*`` and flattened ``metrics.*``. Reading the disk (not memory) makes cached points look the same."""
    rows = []
    for p in planned:
        done = read_json(p.folder / DONE_FILE)
        error = read_json(p.folder / ERROR_FILE)
        if isinstance(done, Mapping) and done.get("params_hash") == p.point.hash:
            status, info = "ok", done
        elif isinstance(error, Mapping):
            status, info = "failed", error
        else:
            status, info = "pending", {}
        metrics = read_json(p.folder / METRICS_FILE) if status == "ok" else None
        row: dict[str, Any] = {
            "name": p.point.name,
            "status": status,
            "ran": "yes" if ran_now and p.point.name in ran_now else "no",
            "seconds": info.get("seconds"),
            "error": describe_error(error) if status == "failed" else "",
        }
        row.update(flatten(p.point.params, "params"))
        if isinstance(metrics, Mapping):
            row.update(flatten(metrics, "metrics"))
        rows.append(row)
    return rows


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, Mapping)):
        return json.dumps(value, default=str)
    return "" if value is None else value


def _md(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(_cell(value))
    return text.replace("|", "\\|").replace("\n", " ")


def _is_number_or_none(value: Any) -> bool:
    return value is None or isinstance(value, (int, float))


def write_summary(out: Path, rows: Sequence[Mapping[str, Any]], title: str = "Batch summary") -> tuple[Path, Path]:
    """Write ``summary.csv`` (every column) and ``summary.md`` (varying params + metrics; constants above)."""
    out = Path(out)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    csv_path = out / "summary.csv"
    write_text_atomic(csv_path, buf.getvalue())

    params = [c for c in columns if c.startswith("params.")]
    constant = [c for c in params if len({json.dumps(_cell(r.get(c)), default=str) for r in rows}) == 1]
    varying = [c for c in params if c not in constant]
    # The table is for reading numbers; strings, lists and dicts stay in the CSV.
    metrics = [c for c in columns if c.startswith("metrics.") and all(_is_number_or_none(r.get(c)) for r in rows)]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "pending")}
    lines = [f"# {title}", "", f"{len(rows)} point(s): " + ", ".join(f"{n} {s}" for s, n in counts.items() if n), ""]
    if constant and rows:
        lines += ["Same for every point: " + ", ".join(f"`{c[7:]}={_md(rows[0].get(c))}`" for c in constant), ""]
    bare = {c[7:] for c in varying}
    head = ["name", "status", "seconds"] + [c[7:] for c in varying] + [c if c[8:] in bare else c[8:] for c in metrics]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"], r["status"], r.get("seconds")] + [r.get(c) for c in varying] + [r.get(c) for c in metrics]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        lines += ["", "## Failures", ""]
        lines += [f"- `{r['name']}`: {_md(r['error'])} — see `{r['name']}/{ERROR_FILE}`" for r in failed]
    md_path = out / "summary.md"
    write_text_atomic(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


# ----------------------------------------------------------------------------------------------------------
# Command line


def _parse_gpus(text: str) -> list[str]:
    gpus = [g.strip() for g in text.split(",") if g.strip()]
    if not gpus:
        raise argparse.ArgumentTypeError("expected comma-separated GPU ids, e.g. 0,1")
    return gpus


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def cmd_batch(args: argparse.Namespace) -> int:
    """``stclr batch``: load, validate, run; 2 for a recipe error, 1 if a point failed, 0 otherwise."""
    try:
        recipe = load_recipe(args.recipe, smoke=args.smoke, out=args.out, overrides=parse_overrides(args.overrides))
        result = run_batch(
            recipe, jobs=args.jobs, gpus=args.gpus, dry_run=args.dry_run, force=args.force, show_progress=not args.quiet
        )
    except RecipeError as e:
        print(f"stclr batch: {e}", file=sys.stderr)
        return 2
    return result.exit_code


def add_batch_command(subparsers) -> argparse.ArgumentParser:
    """Add ``batch`` to the ``stclr`` command line: ``add_batch_command(sub)`` in ``cli.build_parser``."""
    p = subparsers.add_parser(
        "batch",
        help="run a notebook over a parameter grid (papermill recipe, resumable)",
        description="Run a papermill recipe (experiments/README.md): every grid point into OUT/<point>/, "
        "skipping points already done; summary.csv and summary.md at the end.",
    )
    p.add_argument("recipe", type=Path, help="recipe YAML file")
    jobs_help = "points run at once (default: number of --gpus, or 1)"
    p.add_argument("--jobs", "-j", type=_positive_int, default=None, help=jobs_help)
    gpus_help = "GPU ids, e.g. 0,1: each running point sees one (CUDA_VISIBLE_DEVICES)"
    p.add_argument("--gpus", type=_parse_gpus, default=None, help=gpus_help)
    p.add_argument("--dry-run", action="store_true", help="validate and list what would run or be skipped; run nothing")
    p.add_argument("--smoke", action="store_true", help="use the recipe's smoke block (small settings, own folder)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the recipe's 'out')")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fix a notebook parameter for every point (YAML value); repeatable",
    )
    p.add_argument("--force", action="store_true", help="rerun points that are already done")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m stclr.batch RECIPE ...`` (the same as ``stclr batch``)."""
    parser = argparse.ArgumentParser(prog="stclr")
    sub = parser.add_subparsers(dest="command", required=True)
    add_batch_command(sub)
    args = parser.parse_args(["batch", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
