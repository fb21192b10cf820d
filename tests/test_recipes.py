"""The papermill recipes in ``experiments/``: one per table and figure of the paper, plus the demos.

Every recipe (full scale and smoke mode) validates against its notebook's ``parameters`` cell through
``stclr batch --dry-run``; the evaluation recipes point at points that ``pretrain_paper.yaml`` really has;
every smoke block runs on the synthetic dataset. Two representative smoke batches run for real on a tiny
synthetic dataset (notebook 06 via the demo, notebook 07 via Tables 8-9, which also pretrains briefly);
the others are only validated, to keep this file within a few minutes on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stclr import batch, recipes
from stclr.cli import main as stclr_main

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
RECIPES = sorted(EXPERIMENTS.glob("*.yaml"))
PRETRAIN = EXPERIMENTS / "pretrain_paper.yaml"
# Every table and figure of the paper with numbers, and the recipe file(s) that reproduce it.
PAPER = {
    "Table 2": ["table2_ssl_pretext"],
    "Tables 3-5": ["tables3_5_simplified_tclr_retrieval", "tables3_5_simplified_tclr_finetune"],
    "Table 6": ["table6_epoch_time"],
    "Tables 8-11": ["tables8_11_finetune", "tables8_11_retrieval"],
    "Figs. 5-7": ["fig5_7_sparsity_retrieval", "fig5_7_sparsity_finetune"],
    "Fig. 8": ["fig8_regularization"],
}
REAL = {"ucf101", "hmdb51", "diving48"}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _points(path: Path, smoke: bool = False):
    return recipes.load_recipe(path, smoke=smoke).points


def test_every_table_and_figure_has_a_recipe():
    names = {p.stem for p in RECIPES}
    missing = [f"{what}: {n}" for what, files in PAPER.items() for n in files if n not in names]
    assert not missing
    assert {"pretrain_paper", "demo_sparsity"} <= names


@pytest.mark.parametrize("smoke", [False, True], ids=["full", "smoke"])
@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_validates_against_its_notebook(path, smoke, tmp_path, capsys):
    args = [str(path), "--dry-run", "--quiet", "--out", str(tmp_path / "out")] + (["--smoke"] if smoke else [])
    assert stclr_main(["batch", *args]) == 0, capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "a dry run writes nothing"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_shape(path):
    data = _load(path)
    assert data.get("description"), "say which table or figure"
    assert "smoke" in data, "every recipe has a smoke block"
    notebook = Path(data["notebook"])
    assert notebook.parent.name == "notebooks" and (REPO / notebook).is_file()
    for p in _points(path, smoke=True):  # smoke mode: the synthetic dataset, small and quick
        assert p.params.get("dataset", "synthetic") == "synthetic", p.name
        assert "synthetic" in p.params.get("data_root", "data/synthetic"), p.name
        assert p.params.get("checkpoint_path", "") == "" and p.params.get("checkpoint_dir", "") == "", p.name
        assert p.params.get("preset_name", "course") == "course", p.name
        assert p.params.get("arch", "r3d_tiny").startswith("r3d_tiny") and p.params.get("clip_len", 8) <= 8, p.name
    if not path.stem.startswith("demo"):  # full scale: a real dataset, the paper's backbone and clips
        for p in _points(path):
            assert p.params.get("dataset") in REAL, p.name
            assert p.params.get("preset_name") in ("paper", "ssl"), p.name
            assert p.params.get("clip_len") == 16, p.name
            assert p.params.get("time_budget_s", 0) == 0, p.name


def test_evaluation_recipes_use_existing_pretraining_points():
    pretrained = {p.name for p in _points(PRETRAIN)}
    prefix = _load(PRETRAIN)["out"].rstrip("/") + "/"
    used = set()
    for path in RECIPES:
        for p in _points(path):
            ckpt, folder = p.params.get("checkpoint_path"), p.params.get("checkpoint_dir")
            if ckpt:
                assert ckpt.startswith(prefix) and ckpt[len(prefix):] in pretrained, (path.name, ckpt)
                used.add(ckpt[len(prefix):])
            if folder:
                assert folder.rstrip("/") + "/" == prefix, (path.name, folder)
                missing = set(p.params["methods"]) - pretrained
                assert not missing, (path.name, missing)
                used |= set(p.params["methods"])
    assert used == pretrained, f"pretrainings no recipe evaluates: {pretrained - used}"


def test_paper_settings_of_the_pretrainings():
    points = {p.name: p.params for p in _points(PRETRAIN)}
    assert points["stclr"]["skips"] == "paper" and points["stclr"]["epochs"] == 400
    assert points["simplified_tclr"]["skips"] == "simplified"
    assert points["ssl"]["size"] == 128 and points["ssl"]["epochs"] == 499 and points["ssl"]["lr"] == 1e-2
    assert {points[f"stclr-{s}"]["skips"] for s in ("low", "medium", "high")} == {"low", "medium", "high"}
    assert all(points[f"stclr-{s}"]["epochs"] == 300 for s in ("low", "medium", "high"))
    assert points["stclr-diving48"]["dataset"] == "diving48" and points["stclr-diving48"]["epochs"] == 100
    for p in points.values():
        assert p["batch_size"] in (24, 38, 40) and p["arch"].startswith("r3d_18")


# ---------------------------------------------------------------------------------------------------- smoke runs


@pytest.fixture(scope="module")
def tiny_synthetic(tmp_path_factory) -> Path:
    """A small synthetic dataset (8 classes x 8 videos: 32 train / 32 test), generated once for this file."""
    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset

    root = tmp_path_factory.mktemp("synth")
    make_synthetic_dataset(root, SynthConfig(videos_per_class=8), show_progress=False)
    return root


def _smoke(name: str, data_root: Path, out: Path) -> tuple[batch.BatchResult, list[dict]]:
    recipe = recipes.load_recipe(EXPERIMENTS / f"{name}.yaml", smoke=True, out=out, overrides={"data_root": str(data_root)})
    result = batch.run_batch(recipe, show_progress=False, log=lambda msg: None)
    rows = [json.loads((recipe.out / p.name / "metrics.json").read_text()) for p in recipe.points
            if (recipe.out / p.name / "metrics.json").is_file()]
    errors = [(recipe.out / p.name / "error.json").read_text()[:2000] for p in recipe.points
              if (recipe.out / p.name / "error.json").is_file()]
    assert result.exit_code == 0 and not errors, errors
    assert (recipe.out / "summary.csv").is_file() and (recipe.out / "summary.md").is_file()
    return result, rows


def _check_06(m: dict) -> None:
    assert m["pretrain"]["steps"] >= 1 and Path(m["pretrain"]["checkpoint"]).is_file()
    for r in m["retrieval"].values():
        assert 0 <= r["R@1"] <= r["R@5"] <= r["R@10"] <= r["R@20"] <= 100


def _check_07(m: dict) -> None:
    assert m["checkpoint"]["source"] == "pretrained here"
    for r in m["finetune"].values():
        assert 0 <= r["video_accuracy"] <= 100 and 0 <= r["clip_accuracy"] <= 100 and r["n_test_videos"] == 32


def _check_08(m: dict) -> None:
    assert "random" in m["retrieval"] and len(m["retrieval"]) >= 2
    assert m["protocol"]["queries"] == 32 and m["protocol"]["gallery"] == 32


CHECKS = {"06_pretraining": _check_06, "07_finetuning": _check_07, "08_retrieval": _check_08}
# One smoke batch per notebook (and Table 6: notebook 06 without retrieval, two points) run for real by default;
# STCLR_SMOKE_ALL=1 runs every recipe's smoke block (a few minutes more).
SMOKE_RUN = ["demo_sparsity", "table6_epoch_time", "tables8_11_finetune", "tables8_11_retrieval"]


@pytest.mark.slow
@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_smoke_batch_runs(path, tiny_synthetic, tmp_path):
    import os

    if path.stem not in SMOKE_RUN and not os.environ.get("STCLR_SMOKE_ALL"):
        pytest.skip("validated only (set STCLR_SMOKE_ALL=1 to run every smoke block)")
    result, rows = _smoke(path.stem, tiny_synthetic, tmp_path / "smoke")
    assert len(rows) == len(result.planned) == len(result.ran)
    check = CHECKS[Path(_load(path)["notebook"]).stem]
    for m in rows:
        check(m)
    if path.stem == "demo_sparsity":
        assert rows[0]["pretrain"]["skips"] == "low" and set(rows[0]["retrieval"]) == {"pretrained"}
    if path.stem == "table6_epoch_time":
        assert all(m["retrieval"] == {} and len(m["pretrain"]["epoch_seconds"]) == 1 for m in rows)
    if path.stem == "tables8_11_finetune":
        assert set(rows[0]["finetune"]) == {"pretrained", "random"}
