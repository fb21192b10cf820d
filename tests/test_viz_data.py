"""stclr.viz.data: the measurements behind the data notebooks (exact values) and every plot (runs on small
inputs, returns a Figure with the expected axes, renders to PNG)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from stclr.plan import PlanConfig, plan_batch
from stclr.sampling import SKIP_PRESETS, ClipSpec, fit_clip, sparse_local_clips, tclr_clips
from stclr.viz import data as vz

PHASES = [{"kind": "slide", "start": 0, "end": 40}, {"kind": "hop", "start": 40, "end": 96}]


def _render(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:4] == b"\x89PNG"


def _visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def _clip(t=4, h=12, w=16, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, 3), generator=g, dtype=torch.uint8)


# ---------------------------------------------------------------------------------------------------------
# colours


def test_skip_colors_are_stable_distinct_and_ordered_on_the_ladder():
    cols = [vz.skip_color(s) for s in vz.SKIP_ORDER]
    assert len({tuple(np.round(c, 4)) for c in cols}) == len(cols)
    assert vz.skip_color(4) == vz.skip_color(4.0)
    # a skip between two ladder values (13, after `fit` lowered 16) lies between their colours' positions
    assert vz.skip_color(13) not in (vz.skip_color(12), vz.skip_color(16))
    with pytest.raises(ValueError):
        vz.skip_color(0)


def test_phase_colors():
    assert vz.phase_color("slide") != vz.phase_color("hop")
    assert vz.phase_color("something new") == vz.phase_color("something new")


# ---------------------------------------------------------------------------------------------------------
# phases and coverage


def test_normalize_phases_accepts_meta_records_and_tuples_and_checks_them():
    assert vz.normalize_phases(PHASES) == [("slide", 0, 40), ("hop", 40, 96)]
    assert vz.normalize_phases([("spin", 0, 10)]) == [("spin", 0, 10)]
    with pytest.raises(ValueError, match="contiguous"):
        vz.normalize_phases([("a", 0, 10), ("b", 11, 20)])
    with pytest.raises(ValueError, match="start at frame 0"):
        vz.normalize_phases([("a", 2, 10)])
    with pytest.raises(ValueError):
        vz.normalize_phases([])


def test_phase_index():
    assert vz.phase_index([0, 39, 40, 95], PHASES).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError):
        vz.phase_index([96], PHASES)


def test_clip_set_coverage_by_hand():
    inside = [ClipSpec(0, 1, 8), ClipSpec(10, 2, 8)]  # frames 0..7 and 10..24: all in phase 0
    c = vz.clip_set_coverage(inside, 96, PHASES)
    assert c == {"phases_touched": 0.5, "all_phases": 0.0, "cross_phase_pairs": 0.0, "extent": 25 / 96}
    across = [ClipSpec(0, 1, 8), ClipSpec(60, 2, 8), ClipSpec(30, 4, 8)]  # phase 0 | phase 1 | 30..58: 3 vs 5 -> hop
    c = vz.clip_set_coverage(across, 96, PHASES)
    assert c["phases_touched"] == 1.0 and c["all_phases"] == 1.0
    assert c["cross_phase_pairs"] == pytest.approx(2 / 3)  # (0,1) and (0,2) differ, (1,2) agree
    assert c["extent"] == pytest.approx(75 / 96)
    one = vz.clip_set_coverage([ClipSpec(0, 1, 8)], 96, PHASES)
    assert one["cross_phase_pairs"] == 0.0
    wrapped = vz.clip_set_coverage([ClipSpec(90, 3, 8, "loop")], 96, PHASES)  # 90, 93, 0, 3, ... wraps
    assert wrapped["phases_touched"] == 1.0
    with pytest.raises(ValueError, match="phases end"):
        vz.clip_set_coverage(inside, 100, PHASES)


def test_phase_coverage_is_deterministic_and_paired():
    samplers = {
        "dense": lambda n, r: tclr_clips(n, r, length=8).local,
        "sparse": lambda n, r: sparse_local_clips(n, r, "medium", 8),
        "fixed": lambda n, r: [ClipSpec(0, 1, 8)],
    }
    videos = [{"phases": PHASES}, [("spin", 0, 50)]]
    a = vz.phase_coverage(videos, samplers, draws=5, seed=3)
    b = vz.phase_coverage(videos, samplers, draws=5, seed=3)
    assert a == b
    assert a["fixed"] == {"phases_touched": 0.75, "all_phases": 0.5, "cross_phase_pairs": 0.0,
                          "extent": pytest.approx((8 / 96 + 8 / 50) / 2), "sets": 10}
    assert set(a["dense"]) == set(vz.COVERAGE_METRICS) | {"sets"}
    # the paired draws: one sampler sees the same generator stream as another for the same (video, draw)
    seen = []
    vz.phase_coverage([PHASES], {"x": lambda n, r: seen.append(r.integers(1000)) or [ClipSpec(0, 1, 8)]}, draws=2)
    again = []
    vz.phase_coverage([PHASES], {"y": lambda n, r: again.append(r.integers(1000)) or [ClipSpec(0, 1, 8)]}, draws=2)
    assert seen == again
    with pytest.raises(ValueError):
        vz.phase_coverage([], samplers)
    with pytest.raises(ValueError):
        vz.phase_coverage(videos, samplers, draws=0)


def test_sparse_clips_cover_two_phase_videos_better_than_dense_ones():
    # The claim notebook 01 makes, on a fixed two-phase layout: sparse touches both phases more often.
    videos = [[("slide", 0, cut), ("hop", cut, 96)] for cut in (34, 48, 62)]
    cov = vz.phase_coverage(videos, {
        "dense": lambda n, r: tclr_clips(n, r, length=8).local,
        "sparse": lambda n, r: sparse_local_clips(n, r, "medium", 8),
    }, draws=30, seed=0)
    assert cov["sparse"]["all_phases"] > cov["dense"]["all_phases"]
    assert cov["sparse"]["extent"] > cov["dense"]["extent"]


def test_look_class_counts():
    meta = {"classes": ["A", "B"], "looks": [{}, {}, {}],
            "videos": [{"look": 0, "class": "A"}, {"look": 0, "class": "B"}, {"look": 2, "class": "B"},
                       {"look": 2, "class": "B"}]}
    counts, classes = vz.look_class_counts(meta)
    assert classes == ["A", "B"]
    assert counts.tolist() == [[1, 1], [0, 0], [0, 2]]


# ---------------------------------------------------------------------------------------------------------
# frames


def test_as_frames_reads_every_layout():
    thwc = _clip()
    ref = thwc.float().numpy() / 255
    from torchvision import tv_tensors

    assert np.allclose(vz.as_frames(thwc), ref)
    assert np.allclose(vz.as_frames(thwc.numpy()), ref)
    assert np.allclose(vz.as_frames(tv_tensors.Video(thwc.permute(0, 3, 1, 2))), ref)  # [T, 3, H, W]
    assert np.allclose(vz.as_frames(thwc.permute(3, 0, 1, 2).float() / 255), ref)  # [3, T, H, W] float
    assert vz.as_frames(thwc[0]).shape == (1, 12, 16, 3)
    assert vz.as_frames(torch.full((3, 2, 4, 5), 2.0)).max() == 1.0  # floats clipped to [0, 1]
    with pytest.raises(ValueError):
        vz.as_frames(torch.zeros(4, 5, 6, 7))


def test_motion_energy_and_frame_spread():
    still = _clip(1).expand(5, -1, -1, -1)
    assert np.all(vz.motion_energy(still) == 0)
    assert vz.motion_energy(still).shape == (12, 16)
    assert np.all(vz.frame_spread(still) == 0)
    moving = torch.zeros(3, 4, 4, 3, dtype=torch.uint8)
    moving[1, 0, 0] = 255
    energy = vz.motion_energy(moving)
    assert energy[0, 0] == pytest.approx(1.0) and energy.sum() == pytest.approx(1.0)  # 2 diffs of 1 / 2
    assert vz.frame_spread(moving).tolist() == [0.0, 1.0, 0.0]
    assert np.all(vz.motion_energy(moving[:1]) == 0)


def test_transform_showcase_each_op_changes_the_clip_and_is_clip_consistent():
    from torchvision import tv_tensors

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    frame = torch.randint(0, 256, (1, 3, 32, 32), generator=g, dtype=torch.uint8)
    static = tv_tensors.Video(frame.expand(6, -1, -1, -1).contiguous())
    ops = vz.transform_showcase(32)
    assert "grayscale + gamma" in ops and "channel drop" in ops and "cutout" in ops
    for name, op in ops.items():
        out = op(static)
        assert isinstance(out, tv_tensors.Video) and out.shape == static.shape, name
        assert not torch.equal(out, static), f"{name} did nothing"
        assert np.all(vz.frame_spread(out) == 0), f"{name} is not clip-consistent"
    gray = ops["grayscale + gamma"](static)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])


# ---------------------------------------------------------------------------------------------------------
# plots


def test_plot_clip_timeline_and_dense_vs_sparse():
    rng = np.random.default_rng(0)
    sparse = sparse_local_clips(96, rng, "paper", 8, "loop")  # includes wrapped clips
    fig = vz.plot_clip_timeline(96, sparse, phases=PHASES, title="t")
    assert len(fig.axes) == 1
    assert len(fig.axes[0].get_yticklabels()) == 5
    _render(fig)
    fig = vz.plot_clip_timeline(96, tclr_clips(96, rng, 8))  # TCLRClips: 4 local + global rows
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][-1] == "global \u00b7 skip 4"
    _render(fig)
    fitted = sparse_local_clips(96, rng, "paper", 8, "fit")
    fig = vz.plot_dense_vs_sparse(96, tclr_clips(96, rng, 8), fitted, phases=PHASES, title="x")
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert labels[-1] == "skip 32\u219213"  # lowered skips are shown as requested -> effective
    _render(fig)


def test_plot_clip_frames_and_rows_and_grid():
    clips = [ClipSpec(0, 1, 4), ClipSpec(2, 3, 4)]
    frames = [_clip(4, seed=s) for s in (0, 1)]
    fig = vz.plot_clip_frames(frames, clips, num_frames=20, title="f")
    assert len(_visible_axes(fig)) == 8
    _render(fig)
    with pytest.raises(ValueError):
        vz.plot_clip_frames(frames[:1], clips)
    fig = vz.plot_clip_rows({"a": _clip(6), "b": _clip(3).permute(3, 0, 1, 2)}, max_frames=4, title="r")
    assert len(fig.axes) == 8 and len(_visible_axes(fig)) == 7  # the 3-frame row leaves one cell empty
    _render(fig)
    fig = vz.plot_frame_grid([_clip(1)[0] for _ in range(5)], titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6 and len(_visible_axes(fig)) == 5
    _render(fig)


def test_plot_class_strips_appearance_and_looks():
    strips = {"A": _clip(3), "B": _clip(3, seed=2)}
    fig = vz.plot_class_strips(strips, [0, 45, 90], phases={"A": PHASES, "B": [("spin", 0, 96)]}, title="s")
    assert len(fig.axes) == 6
    assert fig.legends and len(fig.legends[0].get_texts()) == 3  # slide, hop, spin
    _render(fig)
    with pytest.raises(ValueError):
        vz.plot_class_strips(strips, [0, 45])
    fig = vz.plot_appearance_vs_motion({"A": _clip(4), "B": _clip(4, seed=3)}, title="m")
    assert len(fig.axes) == 4
    _render(fig)
    fig = vz.plot_look_class_counts(np.array([[1, 0], [2, 3], [0, 1]]), ["A", "B"])
    assert len(fig.axes) == 2  # heat map + colour bar
    _render(fig)


def test_plot_views_and_consistency():
    clips = [_clip(4, seed=s) for s in range(3)]
    views = [c.permute(3, 0, 1, 2).float() / 255 for c in clips]  # [C, T, H, W] like the augmentation's output
    fig = vz.plot_view_pairs(clips, views, views, labels=["1", "2", "3"], title="v")
    assert len(fig.axes) == 9
    _render(fig)
    with pytest.raises(ValueError):
        vz.plot_view_pairs(clips, views[:2], views)
    fig = vz.plot_frame_consistency({"consistent": np.zeros(4), "per frame": np.array([0, 0.5, 0.2, 0.9])})
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 2
    _render(fig)


def test_plot_skip_presets_and_policies():
    fig = vz.plot_skip_presets(SKIP_PRESETS, [(16, 180), (8, 96)])
    assert len(fig.axes) == 2
    assert len(fig.axes[0].patches) > sum(len(s) for s in SKIP_PRESETS.values())  # hatched overflow bars too
    _render(fig)
    clips = {p: fit_clip(40, 10, 8, np.random.default_rng(0), p) for p in ("fit", "loop", "mirror")}
    fig = vz.plot_policies(40, clips)
    assert len(fig.axes) == 1 and len(fig.axes[0].get_legend().get_texts()) == 4
    _render(fig)


def test_plot_phase_coverage():
    table = {"TCLR dense": {m: 0.3 for m in vz.COVERAGE_METRICS}, "STCLR medium": {m: 0.9 for m in vz.COVERAGE_METRICS},
             "STCLR low": {m: 0.8 for m in vz.COVERAGE_METRICS}}
    fig = vz.plot_phase_coverage(table, title="c")
    ax = fig.axes[0]
    assert len(ax.patches) == 3 * len(vz.COVERAGE_METRICS)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(table)
    _render(fig)


def test_plot_batch_plan():
    cfg = PlanConfig(skips="medium", length=8, ssl_speeds=(1, 2, 4))
    plan = plan_batch([3, 7, 11], [96, 60, 96], "stclr", cfg, seed=0)
    fig = vz.plot_batch_plan(plan, names=["a", "b", "c"])
    assert len(fig.axes) == 3
    n_ssl = sum(len(s.sample.clips) for s in plan.ssl)
    n_rows = sum(len(ax.get_yticklabels()) for ax in fig.axes)
    assert n_rows == 3 * (1 + 5) + n_ssl  # decode line + 5 local clips per video, + every SSL clip once
    assert fig.get_size_inches()[1] <= vz.SCREEN_HEIGHT_IN  # fits a 1400x900 window at 100 %
    _render(fig)
    fig = vz.plot_batch_plan(plan_batch([1, 2], [96, 96], "tclr", cfg, seed=1))
    assert len(fig.axes) == 2
    _render(fig)


def test_plot_wrong_frames():
    req = np.arange(0, 40, 4)
    got = req.copy()
    got[3:6] = [2, 2, -1]
    fig = vz.plot_wrong_frames(req, {"bad": got, "good": req}, title="w")
    assert len(fig.axes) == 2
    assert "3 of 10 frames wrong" in fig.axes[0].get_title() and "0 of 10" in fig.axes[1].get_title()
    _render(fig)


def test_positive_is_nearest_by_hand():
    import numpy as np
    import pytest

    from stclr.viz.data import positive_is_nearest

    clips = [np.full((2, 4, 4, 3), v, np.uint8) for v in (0, 100, 200)]
    assert positive_is_nearest(clips, clips) == 1.0  # identical views: every positive is at distance 0
    shifted = [np.full((2, 4, 4, 3), v, np.uint8) for v in (0, 250, 200)]  # view b of clip 1 is far from its anchor
    assert positive_is_nearest(clips, shifted) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        positive_is_nearest(clips[:1], clips[:1])
