"""The synthetic motion dataset: layout, loader round trip, determinism, resume, config safety, class design."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from stclr.data.splits import load_split
from stclr.data.synthetic import (
    CLASS_LIBRARY,
    SynthConfig,
    load_meta,
    make_synthetic_dataset,
    plan_videos,
    render_video,
)
from stclr.video import probe, read_frames

# Small enough to generate in about a second: 3 classes x 4 videos x 24 frames at 32x32.
TINY = dict(num_classes=3, videos_per_class=4, num_frames=24, size=32, clips_per_group=2, test_groups=1)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    summary = make_synthetic_dataset(root, SynthConfig(**TINY), show_progress=False)
    assert summary.generated == 12 and summary.skipped == 0
    return root


def _decoded(root: Path) -> dict[str, np.ndarray]:
    frames = range(TINY["num_frames"])
    return {p.relative_to(root).as_posix(): read_frames(p, frames).numpy() for p in sorted(root.rglob("*.mp4"))}


def test_layout_and_split_files(tiny_root):
    names = ["SlideThenHop", "HopThenSlide", "Spin"]
    assert sorted(p.name for p in (tiny_root / "videos").iterdir()) == sorted(names)
    assert (tiny_root / "videos/Spin/v_Spin_g02_c01.mp4").is_file()
    assert (tiny_root / "splits/classInd.txt").read_bytes() == b"1 SlideThenHop\r\n2 HopThenSlide\r\n3 Spin\r\n"
    train = (tiny_root / "splits/trainlist01.txt").read_bytes().decode()
    assert train.startswith("SlideThenHop/v_SlideThenHop_g02_c01.mp4 1\r\n")
    test = (tiny_root / "splits/testlist01.txt").read_bytes().decode()
    assert test.splitlines()[0] == "SlideThenHop/v_SlideThenHop_g01_c01.mp4"
    assert (tiny_root / ".complete").is_file()


def test_load_split_round_trip_and_group_split(tiny_root):
    train = load_split("synthetic", tiny_root, 1, "train")
    test = load_split("synthetic", tiny_root, 1, "test")
    assert (len(train), len(test)) == (6, 6) and train.missing == [] and test.missing == []
    assert train.classes == ["SlideThenHop", "HopThenSlide", "Spin"]
    groups = lambda s: {(i.label, i.path.split("_g")[1][:2]) for i in s}  # noqa: E731
    assert not groups(train) & groups(test)  # like UCF-101: a group is wholly train or wholly test
    assert all("_g01_" in i.path for i in test)


def test_videos_are_h264_exact_length_and_match_rendering(tiny_root):
    cfg = SynthConfig(**TINY)
    specs = {s.path: s for s in plan_videos(cfg)}
    path = tiny_root / "videos" / "Spin/v_Spin_g01_c02.mp4"
    info = probe(path)
    assert (info.num_frames, info.width, info.height, info.codec, info.fps) == (24, 32, 32, "h264", 25.0)
    assert not info.has_b_frames and info.seek_exact
    decoded = read_frames(path, range(24)).numpy().astype(int)
    rendered = render_video(specs["Spin/v_Spin_g01_c02.mp4"], cfg).astype(int)
    assert np.abs(decoded - rendered).mean() < 6  # lossy yuv420p, but the same pictures


def test_meta_json(tiny_root):
    meta = load_meta(tiny_root)
    assert meta["classes"] == ["SlideThenHop", "HopThenSlide", "Spin"]
    assert meta["config"]["num_frames"] == 24 and len(meta["videos"]) == 12
    v = meta["videos"][0]
    assert {"path", "class", "label", "subset", "group", "clip", "look", "speed", "phases", "frames_sha256"} <= set(v)
    assert [p["kind"] for p in v["phases"]] == ["slide", "hop"]
    assert v["phases"][0]["start"] == 0 and v["phases"][-1]["end"] == 24
    assert v["phases"][0]["end"] == v["phases"][1]["start"]


def test_deterministic_by_seed(tiny_root, tmp_path):
    again = tmp_path / "again"
    make_synthetic_dataset(again, SynthConfig(**TINY), show_progress=False)
    hashes = lambda r: [v["frames_sha256"] for v in load_meta(r)["videos"]]  # noqa: E731
    assert hashes(again) == hashes(tiny_root)  # the rendered frames are byte-identical
    # The MP4 files are byte-identical in most runs, but x264 occasionally encodes one GOP differently
    # (measured: ~1 run in 10, mean pixel difference ~1 grey level), so decoded frames are compared loosely.
    a, b = _decoded(tiny_root), _decoded(again)
    assert a.keys() == b.keys()
    for k in a:
        assert np.abs(a[k].astype(int) - b[k].astype(int)).mean() < 3, k
    other = tmp_path / "other"
    make_synthetic_dataset(other, SynthConfig(**TINY, seed=1), show_progress=False)
    assert hashes(other) != hashes(tiny_root)


def test_resume_skips_finished_and_ignores_leftover_temp(tiny_root, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tiny_root, root)
    victim = root / "videos/Spin/v_Spin_g02_c02.mp4"
    before = read_frames(victim, range(24)).numpy()
    victim.unlink()
    (victim.parent / ".v_Spin_g02_c02.tmp999.mp4").write_bytes(b"half a video")  # a killed run's leftover
    summary = make_synthetic_dataset(root, SynthConfig(**TINY), show_progress=False)
    assert (summary.generated, summary.skipped) == (1, 11)
    # the same video again (compared loosely: x264 may re-encode a GOP slightly differently)
    assert np.abs(read_frames(victim, range(24)).numpy().astype(int) - before.astype(int)).mean() < 3
    assert len(load_split("synthetic", root, 1, "train")) == 6  # the leftover is not a split item
    done = make_synthetic_dataset(root, SynthConfig(**TINY), show_progress=False)
    assert (done.generated, done.skipped) == (0, 12)


def test_refuses_to_mix_configs(tiny_root, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tiny_root, root)
    with pytest.raises(FileExistsError, match=r"another configuration \(num_frames: 24 -> 20"):
        make_synthetic_dataset(root, SynthConfig(**{**TINY, "num_frames": 20}), show_progress=False)
    summary = make_synthetic_dataset(root, SynthConfig(**{**TINY, "num_frames": 20}), overwrite=True, show_progress=False)
    assert summary.generated == 12
    assert probe(root / "videos/Spin/v_Spin_g01_c01.mp4").num_frames == 20
    # a folder that is not ours is never touched
    foreign = tmp_path / "foreign"
    (foreign / "videos").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not a synthetic dataset folder"):
        make_synthetic_dataset(foreign, SynthConfig(**TINY), overwrite=True, show_progress=False)


def test_config_defaults_and_validation():
    cfg = SynthConfig(num_classes=None, videos_per_class=None, num_frames=None, size=None, seed=0)  # what the CLI passes
    assert cfg == SynthConfig()
    assert 6 <= cfg.num_classes <= 10 and cfg.size == 64 and 64 <= cfg.num_frames <= 128
    bad_configs = (
        dict(size=33),
        dict(size=14),
        dict(num_classes=1),
        dict(num_classes=99),
        dict(classes=("Nope", "Spin"), num_classes=2),
        dict(test_groups=16),  # all 16 groups: none left for training
        dict(videos_per_class=5),
    )
    for bad in bad_configs:
        with pytest.raises(ValueError):
            SynthConfig(**bad)
    assert SynthConfig(classes=("Spin", "Pulse"), num_classes=2).class_list() == ["Spin", "Pulse"]


def test_default_design_classes_differ_only_in_motion():
    """Appearance is drawn from one small pool for every class; classes differ in their phases."""
    cfg = SynthConfig()
    specs = plan_videos(cfg)
    assert len(specs) == cfg.num_classes * cfg.videos_per_class
    phases = {c: CLASS_LIBRARY[c] for c in cfg.class_list()}
    assert len(set(phases.values())) == cfg.num_classes
    assert phases["SlideThenHop"] == tuple(reversed(phases["HopThenSlide"]))  # order is the only difference
    classes_per_look = defaultdict(set)
    for s in specs:
        classes_per_look[s.look].add(s.label)
        lo, hi = cfg.speed_range
        assert lo <= s.speed <= hi
        assert s.phases[0][1] == 0 and s.phases[-1][2] == cfg.num_frames
        assert [k for k, _, _ in s.phases] == list(CLASS_LIBRARY[s.class_name])
    assert len(classes_per_look) <= cfg.appearance_pool
    # every look is used by every class, and equally often in each class's training videos:
    # appearance carries no information about the class
    assert all(len(v) == cfg.num_classes for v in classes_per_look.values())
    train_counts = defaultdict(int)
    for s in specs:
        if s.subset == "train":
            train_counts[(s.label, s.look)] += 1
    assert len(set(train_counts.values())) == 1 and len(train_counts) == cfg.num_classes * cfg.appearance_pool
    # a group's clips share their look (like a UCF-101 actor); the test groups are the first ones
    looks = defaultdict(set)
    for s in specs:
        looks[(s.label, s.group)].add(s.look)
        assert (s.subset == "test") == (s.group <= cfg.test_groups)
    assert all(len(v) == 1 for v in looks.values())


def test_render_is_pure_and_motion_differs_by_class():
    cfg = SynthConfig(num_frames=48, size=32)
    specs = plan_videos(cfg)
    a = render_video(specs[0], cfg)
    assert a.dtype == np.uint8 and a.shape == (48, 32, 32, 3)
    assert np.array_equal(a, render_video(specs[0], cfg))
    # every video moves: consecutive frames differ somewhere in every class
    for label in range(cfg.num_classes):
        v = render_video(next(s for s in specs if s.label == label), cfg).astype(int)
        assert np.abs(v[1:] - v[:-1]).mean() > 0.2


def test_meta_json_is_valid_json_for_plots(tiny_root):
    meta = json.loads((tiny_root / "meta.json").read_text())
    assert len(meta["looks"]) == SynthConfig(**TINY).appearance_pool


def test_trajectories_show_each_class_motion():
    from stclr.data.synthetic import video_trajectory

    cfg = SynthConfig(size=64)
    first = {}
    for s in plan_videos(cfg):
        first.setdefault(s.class_name, s)
    tr = {name: video_trajectory(spec, cfg) for name, spec in first.items()}
    for name, t in tr.items():
        assert t["x"].shape == (cfg.num_frames,)
        assert (t["x"] > 0).all() and (t["x"] < 64).all() and (t["y"] > 0).all() and (t["y"] < 64).all()
    assert np.ptp(tr["Spin"]["angle"]) > np.pi and np.ptp(tr["Spin"]["x"]) == 0
    assert np.ptp(tr["Pulse"]["scale"]) > 0.4 and np.ptp(tr["Pulse"]["x"]) == 0
    assert np.ptp(tr["Orbit"]["x"]) > 15 and np.ptp(tr["Orbit"]["y"]) > 15
    # SlideThenHop: x moves and y is constant until the switch, then y moves and x stays
    (_, a, cut), (_, _, end) = first["SlideThenHop"].phases
    t = tr["SlideThenHop"]
    assert np.ptp(t["x"][:cut]) > 10 and np.ptp(t["y"][:cut]) == 0
    assert np.ptp(t["x"][cut:]) == 0 and np.ptp(t["y"][cut:]) > 10
    assert abs(t["y"][cut] - t["y"][cut - 1]) < 1  # no jump at the switch


def test_dataset_status(tiny_root, tmp_path):
    from stclr.data.synthetic import dataset_status

    assert dataset_status(tiny_root, SynthConfig(**TINY)) == "complete"
    assert dataset_status(tiny_root) == "other-config"  # a .complete marker alone is not enough
    assert dataset_status(tmp_path / "nothing") == "absent"
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("x")
    assert dataset_status(tmp_path / "foreign") == "foreign"
    import shutil

    shutil.copytree(tiny_root, tmp_path / "copy")
    (tmp_path / "copy" / ".complete").unlink()
    assert dataset_status(tmp_path / "copy", SynthConfig(**TINY)) == "incomplete"


def test_ensure_synthetic_dataset_guards(tmp_path, monkeypatch):
    from stclr.data import synthetic

    made = []
    monkeypatch.setattr(synthetic, "make_synthetic_dataset", lambda root, **kw: made.append(root) or "made")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "video.avi").write_bytes(b"x")
    with pytest.raises(ValueError, match="holds another dataset"):
        synthetic.ensure_synthetic_dataset(foreign)
    done = tmp_path / "done"
    done.mkdir()
    (done / synthetic.COMPLETE_FILE).write_text("")
    assert synthetic.ensure_synthetic_dataset(done) == done and made == []
    fresh = tmp_path / "fresh"
    assert synthetic.ensure_synthetic_dataset(fresh, show_progress=False) == fresh and made == [fresh]
