"""``stclr batch``: grid expansion and naming, parameter validation, and real papermill runs of a tiny notebook.

The notebook ``nb_fixtures/grid.ipynb`` appends a line to ``out_dir/count.txt`` every time it runs (so a test
can tell a skipped point from a re-executed one), raises in its cell 3 when ``fail`` is true, and otherwise
writes its parameters, working directory and ``CUDA_VISIBLE_DEVICES`` into ``metrics.json``.
Each execution starts a kernel (~1.5 s): the kernel tests use few points.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from stclr import batch, recipes
from stclr.cli import main as stclr_main
from stclr.batch import GpuPool, run_batch, write_summary
from stclr.config import flatten
from stclr.recipes import (
    NotebookParam,
    Point,
    RecipeError,
    check_value,
    expand_grid,
    expand_points,
    load_recipe,
    notebook_parameters,
    params_hash,
    parse_overrides,
    point_name,
    recipe_from_dict,
    sanitize_name,
    validate_points,
)

FIXTURES = Path(__file__).parent / "nb_fixtures"
GRID_NB = FIXTURES / "grid.ipynb"
FAIL_CELL = 3  # index of `if fail: raise ...` in grid.ipynb


def _recipe(tmp_path: Path, data: dict, **kw):
    return recipe_from_dict({"notebook": str(GRID_NB), "out": str(tmp_path / "out"), **data}, recipe_dir=tmp_path, **kw)


def _count(folder: Path) -> int:
    path = folder / "count.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


# ------------------------------------------------------------------------------------------------ pure helpers


def test_expand_grid_is_the_cartesian_product_in_recipe_order():
    assert expand_grid({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"},
    ]  # fmt: skip
    assert expand_grid({}) == [{}] and expand_grid(None) == [{}]
    with pytest.raises(RecipeError, match="grid.a must be a non-empty list"):
        expand_grid({"a": 3})
    with pytest.raises(RecipeError, match="grid.a"):
        expand_grid({"a": []})


def test_point_names_are_readable_safe_and_unique():
    assert point_name({"method": "stclr", "seed": 0}) == "method=stclr,seed=0"
    assert point_name({"seed": 1}, run_name="paper") == "paper,seed=1"
    assert point_name({}) == "default"
    assert point_name({"lr": 0.001, "skips": [1, 4], "bn": True}) == "lr=0.001,skips=1-4,bn=true"
    assert point_name({}, name_format="{method}-s{seed}", params={"method": "ic", "seed": 2}) == "ic-s2"
    with pytest.raises(RecipeError, match="name_format"):
        point_name({}, name_format="{nope}", params={"a": 1})
    assert sanitize_name("../a b/c") == "a-b-c"
    long_a, long_b = sanitize_name("x" * 300 + "a"), sanitize_name("x" * 300 + "b")
    assert len(long_a) <= recipes.MAX_NAME_LEN and long_a != long_b


def test_expand_points_combines_runs_with_grid_and_applies_precedence():
    points = expand_points(
        {"lr": 0.1, "epochs": 5},
        grid={"seed": [0, 1]},
        runs=[{"name": "paper", "skips": "paper"}, {"skips": "low", "lr": 0.2}],
        overrides={"epochs": 1},
    )
    assert [p.name for p in points] == ["paper,seed=0", "paper,seed=1", "skips=low,lr=0.2,seed=0", "skips=low,lr=0.2,seed=1"]
    assert points[0].params == {"lr": 0.1, "epochs": 1, "skips": "paper", "seed": 0}
    assert points[2].params["lr"] == 0.2  # a run's entry beats the base parameters
    # --set on a grid axis keeps that axis (and so the folder names) with the single value
    narrowed = expand_points({}, grid={"seed": [0, 1, 2], "x": [1, 2]}, overrides={"seed": 1})
    assert [p.name for p in narrowed] == ["seed=1,x=1", "seed=1,x=2"]
    with pytest.raises(RecipeError, match="not unique"):
        expand_points({}, runs=[{"name": "a", "x": 1}, {"name": "a", "x": 2}])


def test_params_hash_ignores_key_order_and_sees_every_value():
    assert params_hash({"a": 1, "b": [1, 2]}) == params_hash({"b": [1, 2], "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})
    assert params_hash({"a": 1}) != params_hash({"a": 1.5})
    assert Point("p", {"a": 1}).hash == params_hash({"a": 1})


def test_flatten_and_parse_overrides():
    assert flatten({"r": {"pre": {"R@1": 0.5}}, "n": 3, "l": [1, 2], "e": {}}) == {"r.pre.R@1": 0.5, "n": 3, "l": [1, 2], "e": {}}
    assert parse_overrides(["epochs=3", "lr=0.5", "skips=[1, 2]", "name=a=b", "flag=true", "empty="]) == {
        "epochs": 3, "lr": 0.5, "skips": [1, 2], "name": "a=b", "flag": True, "empty": "",
    }  # fmt: skip
    with pytest.raises(RecipeError, match="KEY=VALUE"):
        parse_overrides(["epochs"])


@pytest.mark.parametrize(
    "annotation, value, ok",
    [
        ("int", 3, True), ("int", True, False), ("int", 2.5, False), ("float", 2, True), ("float", "x", False),
        ("bool", False, True), ("bool", 0, False), ("str", "a", True), ("str", 1, False),
        ("int | None", None, True), ("int | None", 2, True), ("int | None", "2", False),
        ("Optional[float]", None, True), ("typing.Optional[str]", 3, False),
        ("list[int]", [1, 2], True), ("list[int]", [1, "a"], False), ("tuple[int, ...]", [1, 2, 3], True),
        ("str | tuple[int, ...]", "paper", True), ("str | tuple[int, ...]", [1, 4], True), ("str | tuple[int, ...]", 1.5, False),
        ("dict[str, float]", {"ic": 1.0}, True), ("Literal['a', 'b']", "c", False), ("SomeClass", object(), True),
    ],
)  # fmt: skip
def test_check_value_follows_the_declared_annotation(annotation, value, ok):
    _, error = check_value(NotebookParam("p", annotation, "None"), value)
    assert (error is None) == ok, error


def test_check_value_coerces_yaml_exponent_strings_and_infers_unannotated_types():
    assert check_value(NotebookParam("lr", "float", "0.1"), "1e-3") == (0.001, None)  # YAML reads 1e-3 as a str
    assert check_value(NotebookParam("name", "str | float", "1"), "1e-3") == ("1e-3", None)
    assert check_value(NotebookParam("lr", None, "0.1"), 1)[1] is None  # no annotation: the default's type (int ok as float)
    assert "expects" in check_value(NotebookParam("flag", None, "False"), "yes")[1]
    assert check_value(NotebookParam("x", None, "None"), "anything")[1] is None


def test_notebook_parameters_include_what_papermill_cannot_see():
    declared, cell = notebook_parameters(GRID_NB)
    assert cell == 1
    assert {"out_dir", "x", "scale", "fail", "maybe"} <= set(declared)
    assert declared["x"].annotation == "int" and declared["x"].help == "a grid parameter"
    # papermill's regex skips `int | None` annotations; papermill would still inject the value at run time
    assert declared["maybe"].annotation == "int | None" and not declared["maybe"].seen_by_papermill
    assert declared["x"].seen_by_papermill


def test_gpu_pool_is_least_busy_then_round_robin():
    pool = GpuPool(["0", "1"])
    a, b, c = pool.acquire(), pool.acquire(), pool.acquire()
    assert (a, b, c) == ("0", "1", "0")
    pool.release("1")
    assert pool.acquire() == "1"  # the free one, not the next in turn
    assert GpuPool(None).acquire() is None


def test_write_summary_lists_every_point(tmp_path):
    common = {"ran": "yes", "params.k": 0}
    rows = [
        {"name": "a", "status": "ok", "seconds": 1.0, "error": "", **common, "params.x": 1, "metrics.acc": 0.5, "metrics.path": "/p"},
        {"name": "b", "status": "failed", "seconds": 2.0, "error": "ValueError: boom (cell 3)", **common, "params.x": 2},
    ]
    csv_path, md_path = write_summary(tmp_path, rows, title="T")
    read = list(csv.DictReader(csv_path.open()))
    assert [r["status"] for r in read] == ["ok", "failed"] and read[0]["metrics.acc"] == "0.5" and read[1]["metrics.acc"] == ""
    md = md_path.read_text()
    assert "| name | status | seconds | x | acc |" in md  # constant params go above the table, strings stay in the CSV
    assert "`k=0`" in md and "ValueError: boom (cell 3)" in md and "1 ok, 1 failed" in md


# ------------------------------------------------------------------------------------------------ recipes


def test_recipe_smoke_block_out_folder_and_key_checks(tmp_path):
    data = {
        "parameters": {"x": 1, "label": "full"},
        "grid": {"x": [1, 2, 3]},
        "smoke": {"parameters": {"label": "smoke"}, "grid": {"x": [1]}},
    }
    full = _recipe(tmp_path, data)
    assert len(full.points) == 3 and full.out == (tmp_path / "out").resolve() and not full.smoke
    smoke = _recipe(tmp_path, data, smoke=True)
    assert [p.params for p in smoke.points] == [{"x": 1, "label": "smoke"}]
    assert smoke.out == (tmp_path / "out-smoke").resolve()
    assert _recipe(tmp_path, data, smoke=True, out=tmp_path / "o").out == (tmp_path / "o").resolve()
    with pytest.raises(RecipeError, match="did you mean 'parameters'"):
        _recipe(tmp_path, {"paramters": {}})
    with pytest.raises(RecipeError, match="no 'smoke' block"):
        _recipe(tmp_path, {}, smoke=True)
    with pytest.raises(RecipeError, match="not found"):
        recipe_from_dict({"notebook": "nope.ipynb"}, recipe_dir=tmp_path)
    # the notebook path may be relative to the recipe's folder
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "nb.ipynb").write_bytes(GRID_NB.read_bytes())
    recipe = recipe_from_dict({"notebook": "nb.ipynb"}, recipe_dir=tmp_path / "r")
    assert recipe.notebook == (tmp_path / "r" / "nb.ipynb").resolve()


def test_unknown_parameter_is_rejected_before_anything_runs(tmp_path, capsys):
    recipe = _recipe(tmp_path, {"parameters": {"scael": 2.0}, "grid": {"x": [1, 2]}})
    with pytest.raises(RecipeError) as err:
        run_batch(recipe, show_progress=False)
    message = str(err.value)
    assert "unknown parameter 'scael' (did you mean 'scale'?)" in message
    assert "valid parameter names: data_root, fail, interactive, label, maybe, out_dir, quick, scale, show_progress, x" in message
    assert not (tmp_path / "out").exists()  # nothing started, not even the output folder
    # types too, and every problem at once; the CLI answers 2 with the message
    declared, _ = notebook_parameters(GRID_NB)
    with pytest.raises(RecipeError, match=r"(?s)2 problem.*'x' expects int, got 'one'.*'out_dir' is set by the runner"):
        validate_points([Point("p", {"x": "one", "out_dir": "/tmp"})], declared)
    with pytest.raises(RecipeError, match="declares no 'out_dir' parameter"):
        validate_points([Point("p", {})], {"x": declared["x"]})
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"notebook": str(GRID_NB), "out": str(tmp_path / "out")}))
    assert stclr_main(["batch", str(path), "--set", "xx=1", "--quiet"]) == 2
    assert "unknown parameter 'xx'" in capsys.readouterr().err


def test_dry_run_lists_points_and_runs_nothing(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"notebook": str(GRID_NB), "out": str(tmp_path / "out"), "grid": {"x": [1, 2]}}))
    assert stclr_main(["batch", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "x=1" in out and "x=2" in out and "2 to run, 0 to skip" in out
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------ real runs


@pytest.mark.slow
def test_batch_keeps_going_records_the_failed_cell_and_resumes(tmp_path):
    runs = [{"name": "a", "x": 1}, {"name": "b", "x": 2, "fail": True}, {"name": "c", "x": 3}]
    base = {"scale": 2.0, "data_root": "data/synthetic"}
    recipe = _recipe(tmp_path, {"parameters": base, "runs": runs})
    out = recipe.out
    result = run_batch(recipe, show_progress=False, log=lambda m: None)
    assert result.exit_code == 1 and result.failed == ["b"] and sorted(result.ran) == ["a", "b", "c"]

    # the good points finished, with their metrics, despite b failing in between
    for name, x in (("a", 1), ("c", 3)):
        assert json.loads((out / name / "done.json").read_text())["params_hash"] == params_hash({**base, "x": x})
        metrics = json.loads((out / name / "metrics.json").read_text())
        assert metrics["y"] == 2.0 * x
        assert metrics["interactive"] is False and metrics["show_progress"] is False  # runner defaults
        assert metrics["cwd"] == str(FIXTURES.resolve())  # the kernel runs in the notebook's folder
        assert metrics["data_root"] == str(Path.cwd() / "data" / "synthetic")  # *_root made absolute
        assert (out / name / "grid.ipynb").exists()
    error = json.loads((out / "b" / "error.json").read_text())
    assert error["ename"] == "ValueError" and "asked to fail (x=2)" in error["evalue"]
    assert error["source_cell_index"] == FAIL_CELL and error["cell_index"] == FAIL_CELL + 1  # + papermill's injected cell
    assert "raise ValueError" in error["source"] and "ValueError" in error["traceback"] and "\x1b[" not in error["traceback"]
    assert not (out / "b" / "done.json").exists()

    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["name"], r["status"]) for r in rows] == [("a", "ok"), ("b", "failed"), ("c", "ok")]
    assert rows[2]["metrics.y"] == "6.0" and rows[1]["params.fail"] == "True"
    md = (out / "summary.md").read_text()
    assert "2 ok, 1 failed" in md and "## Failures" in md and "(cell 3)" in md

    # rerun with c's parameters changed: a is skipped, b (failed) is retried, c (changed) runs again
    done_a = (out / "a" / "done.json").stat().st_mtime_ns
    runs[2]["x"] = 4
    again = run_batch(_recipe(tmp_path, {"parameters": base, "runs": runs}), show_progress=False, log=lambda m: None)
    assert sorted(again.ran) == ["b", "c"] and again.exit_code == 1
    assert (_count(out / "a"), _count(out / "b"), _count(out / "c")) == (1, 2, 2)
    assert (out / "a" / "done.json").stat().st_mtime_ns == done_a
    assert json.loads((out / "c" / "metrics.json").read_text())["x"] == 4
    assert [r["ran"] for r in csv.DictReader((out / "summary.csv").open())] == ["no", "yes", "yes"]


@pytest.mark.slow
def test_a_point_killed_mid_run_is_run_again_and_finished_points_are_not(tmp_path):
    """Issue 23, batches that die: a batch killed while a point's notebook runs leaves that point's folder with a
    half-written executed notebook and even its metrics.json, but no done.json; rerunning the batch runs that
    point (and only the points without done.json) again."""
    recipe = _recipe(tmp_path, {"grid": {"x": [1, 2, 3]}})
    assert run_batch(recipe, show_progress=False, log=lambda m: None).exit_code == 0
    killed = recipe.out / "x=2"
    (killed / "done.json").unlink()  # what a kill before the runner's last write leaves
    nb = killed / "grid.ipynb"
    nb.write_text(nb.read_text()[: len(nb.read_text()) // 2])  # the executed notebook cut mid-write
    assert batch.point_state(killed, params_hash({"x": 2})) == "incomplete"
    again = run_batch(_recipe(tmp_path, {"grid": {"x": [1, 2, 3]}}), show_progress=False, log=lambda m: None)
    assert again.exit_code == 0 and again.ran == ["x=2"]
    assert [_count(recipe.out / f"x={x}") for x in (1, 2, 3)] == [1, 2, 1]
    assert json.loads((killed / "done.json").read_text())["params_hash"] == params_hash({"x": 2})


@pytest.mark.slow
def test_parallel_jobs_pin_one_gpu_per_kernel(tmp_path):
    recipe = _recipe(tmp_path, {"grid": {"x": [1, 2]}})
    result = run_batch(recipe, gpus=["0", "1"], show_progress=False, log=lambda m: None)  # jobs defaults to 2
    assert result.exit_code == 0 and len(result.ran) == 2
    seen = {json.loads((recipe.out / f"x={x}" / "metrics.json").read_text())["env"]["CUDA_VISIBLE_DEVICES"] for x in (1, 2)}
    assert seen == {"0", "1"}
    assert {json.loads((recipe.out / f"x={x}" / "done.json").read_text())["gpu"] for x in (1, 2)} == {"0", "1"}


def test_notebook_found_from_a_copy_of_only_the_notebooks_folder(tmp_path, monkeypatch):
    # a recipe naming notebooks/NN.ipynb (relative to the kit's root), run by a kernel whose working directory is
    # a copied notebooks/ folder elsewhere (no pyproject.toml above it): the notebook is found in that folder
    copy = tmp_path / "elsewhere" / "notebooks"
    copy.mkdir(parents=True)
    (copy / "nb_copy_only.ipynb").write_bytes(GRID_NB.read_bytes())
    monkeypatch.chdir(copy)
    recipe = recipe_from_dict({"notebook": "notebooks/nb_copy_only.ipynb"}, recipe_dir=tmp_path / "elsewhere")
    assert recipe.notebook == (copy / "nb_copy_only.ipynb").resolve()
    with pytest.raises(RecipeError, match="Copy the kit's notebooks/ and experiments/"):
        recipe_from_dict({"notebook": "notebooks/missing.ipynb"}, recipe_dir=tmp_path)
    with pytest.raises(RecipeError, match="copy experiments/ with notebooks/"):
        load_recipe(tmp_path / "demo_sparsity.yaml")
