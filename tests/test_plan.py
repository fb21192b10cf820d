"""The batch planner (stclr.plan): one decode per video, clip -> position maps, determinism, SSL sources."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stclr.plan import METHODS, PlanConfig, plan_batch, videos_read
from stclr.sampling import label_of_speeds

FAST = settings(max_examples=40, deadline=None)


def _check_plan(plan, counts):
    """Every clip's frames come out of its row's single decode at the recorded positions."""
    assert videos_read(plan) == len({v.index for v in plan.videos})
    for v in plan.videos:
        n = counts[v.row]
        assert v.num_frames == n
        assert np.array_equal(v.frames, np.unique(v.frames))  # sorted union, no duplicates
        assert v.frames.min() >= 0 and v.frames.max() < n
        needed = [c.indices(n) for c in v.local]
        for p, c in enumerate(v.local):
            assert np.array_equal(v.frames[v.local_pos[p]], c.indices(n))
        if v.global_clip is not None:
            assert np.array_equal(v.frames[v.global_pos], v.global_clip.indices(n))
            needed.append(v.global_clip.indices(n))
        if v.local:
            a, b = v.ic_pair
            assert a != b and 0 <= a < len(v.local) and 0 <= b < len(v.local)
    for r, s in enumerate(plan.ssl or ()):
        assert r in s.rows  # the tuple of row r uses row r's video
        assert label_of_speeds(s.sample.speeds) == s.label
        for k, (src, clip) in enumerate(zip(s.rows, s.sample.clips)):
            src_video = plan.videos[src]
            assert np.array_equal(src_video.frames[s.pos[k]], clip.indices(src_video.num_frames))
    # nothing is decoded that no clip uses
    used = [set() for _ in plan.videos]
    for v in plan.videos:
        for c in v.local:
            used[v.row].update(c.indices(v.num_frames).tolist())
        if v.global_clip is not None:
            used[v.row].update(v.global_clip.indices(v.num_frames).tolist())
    for s in plan.ssl or ():
        for src, clip in zip(s.rows, s.sample.clips):
            used[src].update(clip.indices(plan.videos[src].num_frames).tolist())
    for v in plan.videos:
        assert set(v.frames.tolist()) == used[v.row]


@FAST
@given(
    counts=st.lists(st.integers(1, 500), min_size=1, max_size=9),
    method=st.sampled_from(METHODS),
    c1=st.sampled_from([0.0, 0.6, 1.0]),
    seed=st.integers(0, 1000),
    step=st.integers(0, 50),
)
def test_plan_invariants(counts, method, c1, seed, step):
    idx = list(range(100, 100 + len(counts)))
    plan = plan_batch(idx, counts, method, {"c1": c1, "length": 16}, seed=seed, epoch=1, step=step)
    _check_plan(plan, counts)
    assert plan.batch_size == len(counts) and videos_read(plan) == len(counts)
    assert plan.indices == idx


@pytest.mark.parametrize("c1", [0.0, 0.6, 1.0])
def test_each_video_read_once_whatever_c1(c1):
    counts = [60, 300, 150, 90, 250, 400, 180, 75]
    plan = plan_batch(range(8), counts, "stclr", {"c1": c1}, seed=5)
    assert videos_read(plan) == 8
    c = plan.counts()
    assert c["videos_read"] == 8
    assert c["ssl_cross_video"] + c["ssl_same_video"] == 8
    if c1 == 0.0:
        assert c["ssl_cross_video"] == 0
    if c1 == 1.0:
        assert c["ssl_cross_video"] == 8
        # cross-video clips come from OTHER videos of the same batch
        for r, s in enumerate(plan.ssl):
            assert len(set(s.rows)) == 3 and r in s.rows


def test_same_seed_same_plan_and_keys_change_it():
    counts = [100, 200, 64, 300]
    a = plan_batch([4, 8, 15, 16], counts, "stclr", None, seed=3, epoch=2, step=7)
    b = plan_batch([4, 8, 15, 16], counts, "stclr", None, seed=3, epoch=2, step=7)
    assert a.to_dict() == b.to_dict()
    for kw in ({"seed": 4, "epoch": 2, "step": 7}, {"seed": 3, "epoch": 3, "step": 7}, {"seed": 3, "epoch": 2, "step": 8}):
        assert plan_batch([4, 8, 15, 16], counts, "stclr", None, **kw).to_dict() != a.to_dict()


def test_local_clips_depend_on_the_video_not_the_batch():
    one = plan_batch([7, 1, 2], [300, 100, 120], "stclr", None, seed=0, step=3)
    two = plan_batch([9, 7], [80, 300], "simplified_tclr", None, seed=0, step=3)
    assert one.videos[0].local == two.videos[1].local  # same video, other batch/row/method
    assert one.videos[0].ic_pair == two.videos[1].ic_pair


@pytest.mark.parametrize("method", METHODS)
def test_method_parts(method):
    plan = plan_batch([0, 1, 2, 3], [100, 120, 200, 64], method, None, seed=1)
    v = plan.videos[0]
    if method == "tclr":
        assert len(v.local) == 4 and v.global_clip is not None and {c.skip for c in v.local} == {1}
    elif method == "ssl":
        assert v.local == () and v.ic_pair is None and v.global_clip is None
    else:
        assert len(v.local) == 5 and v.global_clip is None
    assert (plan.ssl is not None) == (method in ("stclr", "ssl"))
    assert str(plan).startswith("<BatchPlan")  # the notebook printout works
    _check_plan(plan, [100, 120, 200, 64])


@pytest.mark.parametrize("batch", [[0], [0, 1]])
def test_cross_video_impossible_in_tiny_batches_is_counted(batch):
    plan = plan_batch(batch, [200] * len(batch), "stclr", {"c1": 1.0}, seed=0)
    c = plan.counts()
    assert c["ssl_cross_video"] == 0 and c["ssl_cross_video_impossible"] == len(batch)
    assert videos_read(plan) == len(batch)


def test_ic_pair_prefers_different_effective_skips():
    # 40 frames: paper skips lowered to (1, 2, 2, 2, 2): a pair must include clip 0.
    for step in range(20):
        plan = plan_batch([0], [40], "simplified_tclr", None, seed=0, step=step)
        a, b = plan.videos[0].ic_pair
        assert 0 in (a, b)
    assert plan.counts()["local_skip_lowered"] == 4


def test_plan_config_from_any():
    assert PlanConfig.from_any(None) == PlanConfig()
    cfg = PlanConfig.from_any({"skips": "low", "length": 8, "c1": 1.0, "unrelated": 3})
    assert cfg.skips == (1, 2, 3, 4, 5) and cfg.length == 8 and cfg.c1 == 1.0
    with pytest.raises(ValueError):
        PlanConfig(c1=1.5)
    pytest.importorskip("stclr.config")
    from stclr.config import PretrainConfig

    pc = PretrainConfig()
    pc.clip_len, pc.skips, pc.c1 = 8, "medium", 0.0
    pc.data.short_policy = "mirror"
    got = PlanConfig.from_any(pc)
    assert (got.length, got.skips, got.c1, got.policy) == (8, (2, 4, 6, 8, 10), 0.0, "mirror")


def test_plan_to_dict_is_plain_data():
    import json

    plan = plan_batch([0, 1, 2], [100, 30, 500], "stclr", None, seed=2)
    json.dumps(plan.to_dict())  # JSON-serialisable: plain ints, lists, strings
    assert "ssl" in str(plan) and "row" in str(plan)
