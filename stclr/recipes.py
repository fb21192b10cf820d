"""Batch recipes: what ``stclr batch RECIPE.yaml`` will run, checked before anything runs (pure, no papermill).

A *recipe* (YAML, ``experiments/README.md`` has the full format) names one notebook, base ``parameters``, a
``grid`` (dict of lists: cartesian product) and/or explicit ``runs``, an ``out`` folder and an optional ``smoke``
block. This module reads it (:func:`load_recipe`, :func:`recipe_from_dict`), reads the notebook's ``parameters``
cell (:func:`notebook_parameters`), expands the grid into named *points* (:func:`expand_points`,
:func:`point_name`, :func:`params_hash`) and checks every name and value against the cell's declarations
(:func:`validate_points`, :func:`check_value`) -- papermill itself only *warns* about an unknown name and then
runs for hours with the default. Values are checked with the configuration's one type checker
(:func:`stclr.config.coerce`). :mod:`stclr.batch` runs the points.
"""

from __future__ import annotations

import ast
import hashlib
import io
import itertools
import json
import re
import tokenize
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from stclr.config import did_you_mean

__all__ = [
    "NotebookParam",
    "Point",
    "Recipe",
    "RecipeError",
    "check_value",
    "expand_grid",
    "expand_points",
    "load_recipe",
    "notebook_parameters",
    "params_hash",
    "parse_overrides",
    "point_name",
    "recipe_from_dict",
    "validate_points",
]

RECIPE_KEYS = ("notebook", "description", "out", "parameters", "grid", "runs", "smoke", "name_format", "cell_timeout")
SMOKE_KEYS = ("parameters", "grid", "runs", "out")
# The runner sets this one itself: every point gets its own folder (the metrics.json contract).
OUT_DIR_PARAM = "out_dir"
METRICS_FILE = "metrics.json"  # what a notebook writes into its out_dir
MAX_NAME_LEN = 120


class RecipeError(ValueError):
    """The recipe (or a ``--set`` override) is wrong; raised before anything runs. The message says what."""


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

# Names a notebook's annotations may use: the builtins and typing's, nothing else is evaluated.
_ANNOTATION_NAMES: dict[str, Any] = {
    "int": int, "float": float, "str": str, "bool": bool, "list": list, "tuple": tuple, "dict": dict, "set": set,
    "None": type(None), "Any": Any, "object": object, "Optional": typing.Optional, "Union": typing.Union,
    "Literal": typing.Literal, "List": typing.List, "Tuple": typing.Tuple, "Dict": typing.Dict,
    "Sequence": typing.Sequence, "Mapping": typing.Mapping, "Set": typing.Set,
}
_DEFAULT_TYPES = {bool: bool, int: int | float, float: float, str: str, list: list, tuple: list, dict: dict}


def _declared_type(param: NotebookParam) -> Any:
    """The annotation as a typing object (None: none given or one we cannot read, so never an error); without an
    annotation, the type of the default literal (an int default also takes a float: YAML writes 1 for 1.0)."""
    if param.annotation:
        try:  # typing.Optional[...] and t.List[...] read as Optional[...] and List[...]
            tree = ast.parse(re.sub(r"\b(?:typing|t)\.", "", param.annotation), mode="eval")
        except SyntaxError:
            return None
        if any(isinstance(n, ast.Name) and n.id not in _ANNOTATION_NAMES for n in ast.walk(tree)) or any(
                isinstance(n, (ast.Call, ast.Attribute, ast.Lambda)) for n in ast.walk(tree)):
            return None
        try:
            return eval(compile(tree, "<annotation>", "eval"), {"__builtins__": {}}, dict(_ANNOTATION_NAMES))
        except Exception:  # noqa: BLE001 - an annotation we cannot evaluate is not checked
            return None
    try:
        default = ast.literal_eval(param.default)
    except (ValueError, SyntaxError):
        return None
    return _DEFAULT_TYPES.get(type(default))


def check_value(param: NotebookParam, value: Any) -> tuple[Any, str | None]:
    """Check one value against a parameter's declaration: ``(value, None)`` or ``(value, error message)``.

    The check is the configuration's (:func:`stclr.config.coerce`), so a recipe value is converted exactly as a
    config value is: YAML's ``1e-3`` (no dot, read as a *string*) becomes a float where a float is declared.
    """
    from stclr.config import ConfigError, coerce

    tp = _declared_type(param)
    if tp is None:
        return value, None
    try:
        return coerce(value, tp, param.name), None
    except ConfigError as err:
        declared = param.annotation or f"the type of its default {param.default}"
        return value, f"parameter {param.name!r} expects {declared}, got {value!r} ({type(value).__name__}): {err}"


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
        hints = [repr(k) + did_you_mean(k, allowed, n=1) for k in unknown]
        raise RecipeError(f"unknown key(s) in {where}: {', '.join(hints)}; allowed: {', '.join(allowed)}")


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
                _add(problems, f"unknown parameter {key!r}{did_you_mean(key, valid, n=1)}")
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
