"""``stclr course``: dataset step, notebooks in order with only the parameters they declare, failures recorded,
summary written. The real generator and checker make a 12-video dataset (about a second); the notebooks are
the tiny fixtures of ``nb_fixtures/`` copied under course names."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from stclr.course import find_notebooks, key_numbers, notebook_course_params, run_course

FIXTURES = Path(__file__).parent / "nb_fixtures"
FAIL_CELL = 3
QUIET = {"show_progress": False, "log": lambda message: None}


def _course_notebooks(folder: Path) -> Path:
    """01 writes its parameters into metrics, 02 declares only out_dir, 03 always fails in cell 3."""
    folder.mkdir()
    (folder / "01_first.ipynb").write_bytes((FIXTURES / "grid.ipynb").read_bytes())
    (folder / "02_minimal.ipynb").write_bytes((FIXTURES / "minimal.ipynb").read_bytes())
    broken = nbformat.read(FIXTURES / "grid.ipynb", as_version=4)
    broken.cells[1].source = broken.cells[1].source.replace("fail: bool = False", "fail: bool = True")
    nbformat.write(broken, folder / "03_broken.ipynb")
    (folder / "draft.ipynb").write_bytes((FIXTURES / "minimal.ipynb").read_bytes())  # not NN_*: not run
    return folder


def test_find_notebooks_and_course_params(tmp_path):
    nbs = _course_notebooks(tmp_path / "nbs")
    assert [p.name for p in find_notebooks(nbs)] == ["01_first.ipynb", "02_minimal.ipynb", "03_broken.ipynb"]
    assert find_notebooks(tmp_path / "missing") == []
    declared = {"data_root": 0, "out_dir": 0, "quick": 0, "lr": 0}
    params = notebook_course_params(declared, data_root=Path("/d"), out=Path("/o"), stem="01_x", quick=True)
    assert params == {"data_root": "/d", "out_dir": "/o/01_x", "quick": True}
    assert "quick" not in notebook_course_params({"quick": 0}, data_root=Path("/d"), out=Path("/o"), stem="s", quick=False)


def test_key_numbers_pick_known_metrics_and_pretraining_gain():
    retrieval = {"random": {"R@1": 0.1, "R@5": 0.3}, "pretrained": {"R@1": 0.4, "R@5": 0.6}}
    nbs = [{"notebook": "05.ipynb", "metrics": {"retrieval": retrieval, "loss": 1.0}}]
    rows = key_numbers(nbs)
    assert ("05.ipynb", "retrieval.pretrained.R@1", 0.4) in rows and all(r[1] != "loss" for r in rows)
    gain = [r for r in rows if r[1] == "retrieval.pretrained.R@1 - retrieval.random.R@1"]
    assert gain and gain[0][2] == pytest.approx(0.3)


@pytest.mark.slow
def test_course_generates_checks_runs_every_notebook_and_summarises(tmp_path):
    from stclr.data.synthetic import SynthConfig

    nbs, data, out = _course_notebooks(tmp_path / "nbs"), tmp_path / "data", tmp_path / "course"
    tiny = SynthConfig(num_classes=2, videos_per_class=6, num_frames=16, size=32, clips_per_group=3, test_groups=1)
    rc = run_course(out, data_root=data, quick=True, notebooks_dir=nbs, synth_config=tiny, **QUIET)
    assert rc == 1  # 03_broken failed, after the others ran

    report = json.loads((out / "summary.json").read_text())
    assert report["dataset"]["status"] == "generated" and (data / ".complete").is_file()
    assert report["check"]["status"] == "ok"
    assert [(nb["notebook"], nb["status"]) for nb in report["notebooks"]] == [
        ("01_first.ipynb", "ok"), ("02_minimal.ipynb", "ok"), ("03_broken.ipynb", "failed"),
    ]  # fmt: skip
    first, minimal, broken = report["notebooks"]
    # parameters: absolute paths, quick mode, no widgets or bars; only the names a notebook declares
    assert first["metrics"]["data_root"] == str(data.resolve()) and first["metrics"]["quick"] is True
    assert first["metrics"]["interactive"] is False and first["metrics"]["show_progress"] is False
    assert first["metrics"]["cwd"] == str(nbs.resolve())
    assert minimal["params"] == {"out_dir": str((out / "02_minimal").resolve())}
    assert broken["error"]["source_cell_index"] == FAIL_CELL and broken["error"]["ename"] == "ValueError"
    assert (out / "notebooks" / "03_broken.ipynb").exists() and (out / "01_first" / "metrics.json").exists()

    md = (out / "summary.md").read_text()
    assert "**FAILED** — 2/3 notebooks ran" in md
    assert "| 02_minimal.ipynb | finetune.accuracy | 0.75 |" in md  # key numbers
    assert "retrieval.pretrained.R@1 - retrieval.random.R@1" in md
    assert "asked to fail" in md and "(cell 3)" in md


def test_course_without_notebooks_still_prepares_data_and_succeeds(tmp_path):
    calls = []

    class Report:
        ok = True

        def summary(self):
            return "12 videos, all readable"

    def make(root, cfg, *, overwrite, show_progress):
        calls.append(("make", root, overwrite))
        (root / "videos").mkdir(parents=True)
        return "made"

    def check(root, *, show_progress):
        calls.append(("check", root))
        return Report()

    (tmp_path / "nbs").mkdir()
    rc = run_course(
        tmp_path / "out", data_root=tmp_path / "d", notebooks_dir=tmp_path / "nbs", make_dataset=make, check_dataset=check, **QUIET
    )
    assert rc == 0 and calls == [("make", (tmp_path / "d").resolve(), False), ("check", (tmp_path / "d").resolve())]
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "**OK** — 0/0 notebooks ran" in md and "No notebooks found" in md and "12 videos, all readable" in md


def test_course_records_dataset_failures_and_leaves_foreign_folders_alone(tmp_path):
    def broken_make(root, cfg, *, overwrite, show_progress):
        raise FileExistsError("another configuration")

    def never(*a, **k):
        raise AssertionError("must not be called")

    (tmp_path / "nbs").mkdir()
    nbs = tmp_path / "nbs"
    rc = run_course(tmp_path / "o1", data_root=tmp_path / "d", notebooks_dir=nbs, make_dataset=broken_make, check_dataset=never, **QUIET)
    report = json.loads((tmp_path / "o1" / "summary.json").read_text())
    assert rc == 1 and report["dataset"]["status"] == "failed" and "another configuration" in report["dataset"]["message"]
    assert report["check"]["status"] == "skipped"

    # a real dataset (not written by the generator) is used as it is; a failing check fails the course
    real = tmp_path / "UCF-101"
    (real / "ApplyEyeMakeup").mkdir(parents=True)

    class Bad:
        ok = False

        def summary(self):
            return "1 unreadable"

    rc = run_course(
        tmp_path / "o2", data_root=real, notebooks_dir=nbs, make_dataset=never, check_dataset=lambda root, show_progress: Bad(), **QUIET
    )
    report = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert rc == 1 and report["dataset"]["status"] == "present"
    assert (report["check"]["status"], report["check"]["message"]) == ("failed", "1 unreadable")


def test_lesson_checks_against_hand_built_metrics():
    from stclr.course import lesson_checks

    metrics = {
        "05": {"train": {"final_held_out_acc": 0.5, "steps": 160}},
        "06": {"retrieval": {"random": {"R@1": 20.0}, "pretrained": {"R@1": 34.9}},
               "pretrain": {"sll_left_chance_step": None}},
        "07": {"finetune": {"random": {"video_accuracy": 50.0}, "pretrained": {"video_accuracy": 55.0}}},
        "08": {"retrieval": {"random": {"R@1": 20.0}, "ssl": {"R@1": 30.0}, "simplified_tclr": {"R@1": 31.0},
                             "stclr": {"R@1": 30.0}}},
        "10": {"sparsity": {"low": {"R@1": 30.0}, "high": {"R@1": 35.0}}},
    }
    got = {(c["notebook"], c["lesson"][:20]): c["ok"] for c in lesson_checks(metrics)}
    assert list(got.values()) == [True, False, False, True, False, None]  # 50 % meets ">= 50", +14.9 misses +15
    assert [c["notebook"] for c in lesson_checks(metrics)] == ["05", "06", "06", "07", "08", "10"]
    assert "range 5.0" in lesson_checks(metrics)[-1]["value"]
    assert lesson_checks({"06": {}, "09": {"anything": 1}}) == []  # only what ran and measured
    metrics["06"]["retrieval_gain_bootstrap_sd"] = 3.25
    assert lesson_checks(metrics)[1]["value"] == "34.9 vs 20.0 (+14.9; measurement noise ± 3.2)"
    # L_SSL's line appears once 06 records its last-20-step mean: 0.9 x log 4 = 1.2477 is the bar
    for ssl, ok in ((1.386, False), (1.2476, True), (0.95, True)):
        metrics["06"]["pretrain"]["ssl_last20"] = ssl
        line = [c for c in lesson_checks(metrics) if c["lesson"].startswith("L_SSL")]
        assert len(line) == 1 and line[0]["ok"] is ok and line[0]["target"] == "< 1.248", (ssl, line)
    assert [c["notebook"] for c in lesson_checks(metrics)] == ["05", "06", "06", "06", "07", "08", "10"]


def test_reusable_pretraining_only_for_the_same_data_backbone_and_steps(tmp_path):
    import json

    import torch
    import yaml

    from stclr.train import pretraining_run, reusable_pretraining

    data, other = tmp_path / "data", tmp_path / "other"
    run = tmp_path / "out06" / "stclr-run"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"arch": "r3d_tiny", "data": {"root": str(data)}}))
    torch.save({"step": 160}, run / "last.pt")
    out06 = tmp_path / "out06"
    (out06 / "metrics.json").write_text(json.dumps({"pretrain": {"run_dir": str(run)}}))

    assert pretraining_run(out06) == run and pretraining_run(run) == run
    assert reusable_pretraining(out06, data, arch="r3d_tiny", steps=160) == run
    assert reusable_pretraining(run, data) == run
    assert reusable_pretraining(out06, other) is None  # another dataset's leftover never stands in
    assert reusable_pretraining(out06, data, arch="r3d_18") is None
    assert reusable_pretraining(out06, data, steps=8) is None
    assert reusable_pretraining(tmp_path / "nothing", data) is None
