"""Clip samplers (stclr.sampling): property tests over any frame count, plus the SSL label's truth."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stclr.sampling import (
    SKIP_PRESETS,
    SSL_PAIRS,
    SSL_SPEEDS,
    ClipSpec,
    draw_ssl_tuple,
    fit_clip,
    fitting_speeds,
    label_of_speeds,
    resolve_skips,
    sparse_local_clips,
    ssl_tuple,
    tclr_clips,
    uniform_clips,
)

FAST = settings(max_examples=60, deadline=None)

frames = st.integers(min_value=1, max_value=700)
lengths = st.integers(min_value=1, max_value=32)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
skip_sets = st.one_of(
    st.sampled_from(sorted(SKIP_PRESETS)),
    st.lists(st.integers(1, 40), min_size=1, max_size=6).map(tuple),
)
policies = st.sampled_from(["fit", "loop", "mirror"])


def _mirror_reference(n: int, raw: np.ndarray) -> np.ndarray:
    """Ping-pong by construction: the sequence 0..n-1, n-2..1 repeated."""
    if n == 1:
        return np.zeros_like(raw)
    cycle = np.concatenate([np.arange(n), np.arange(n - 2, 0, -1)])
    return cycle[raw % len(cycle)]


def _check_spacing(clip: ClipSpec, n: int) -> None:
    """The recorded (effective) skip is the spacing actually used, under each policy."""
    idx = clip.indices(n)
    assert idx.shape == (clip.length,)
    assert idx.min() >= 0 and idx.max() < n
    raw = clip.start + clip.skip * np.arange(clip.length)
    if clip.policy == "fit":
        assert np.array_equal(idx, raw)
        assert np.all(np.diff(idx) == clip.skip)
    elif clip.policy == "loop":
        assert np.array_equal(idx, raw % n)
    else:
        assert np.array_equal(idx, _mirror_reference(n, raw))


# ---- ClipSpec -------------------------------------------------------------------------------


@FAST
@given(n=frames, start=st.integers(0, 699), skip=st.integers(1, 40), length=lengths, policy=st.sampled_from(["loop", "mirror"]))
def test_wrapped_indices_stay_inside(n, start, skip, length, policy):
    clip = ClipSpec(start % n, skip, length, policy)
    _check_spacing(clip, n)


def test_fit_clip_that_does_not_fit_is_an_error_not_a_clamp():
    with pytest.raises(ValueError, match="does not fit"):
        ClipSpec(10, 4, 16).indices(40)


def test_clipspec_records_request():
    c = ClipSpec(0, 2, 16, "fit", 8)
    assert c.effective_skip == 2 and c.requested_skip == 8 and c.adjusted
    assert not ClipSpec(0, 2, 16).adjusted and ClipSpec(0, 2, 16).requested_skip == 2
    assert "requested_skip=8" in repr(c)


def test_resolve_skips():
    assert resolve_skips("paper") == (1, 4, 8, 16, 32)
    assert resolve_skips([2, 3]) == (2, 3)
    with pytest.raises(ValueError, match="unknown skip preset"):
        resolve_skips("nope")
    assert SKIP_PRESETS["simplified"] == (1, 4, 8, 16, 24)
    assert SKIP_PRESETS["medium"] == (2, 4, 6, 8, 10)


# ---- sparse local clips ----------------------------------------------------------------------


@FAST
@given(n=frames, skips=skip_sets, length=lengths, policy=policies, seed=seeds)
def test_sparse_local_clips_properties(n, skips, length, policy, seed):
    clips = sparse_local_clips(n, np.random.default_rng(seed), skips, length, policy)
    requested = resolve_skips(skips)
    assert len(clips) == len(requested)
    for clip, want in zip(clips, requested):
        assert clip.requested_skip == want and clip.length == length
        _check_spacing(clip, n)
        fits_as_asked = want * (length - 1) + 1 <= n
        if fits_as_asked:  # nothing to adjust: exactly what was asked
            assert clip.policy == "fit" and clip.skip == want
        elif policy == "fit" and n >= length:  # lowered to the LARGEST skip that fits
            assert clip.policy == "fit" and clip.skip < want
            assert clip.skip * (length - 1) + 1 <= n < (clip.skip + 1) * (length - 1) + 1
        elif policy == "fit":  # not even skip 1 fits: loop, recorded
            assert clip.policy == "loop" and clip.skip == 1
        else:
            assert clip.policy == policy and clip.skip == want
        assert clip.adjusted == (not fits_as_asked)


@FAST
@given(n=frames, seed=seeds)
def test_same_seed_same_clips(n, seed):
    a = sparse_local_clips(n, np.random.default_rng(seed))
    b = sparse_local_clips(n, np.random.default_rng(seed))
    assert a == b


def test_starts_are_uniform_over_fitting_positions():
    # skip 4, length 16 -> span 61; in 70 frames the start is uniform over 0..9.
    rng = np.random.default_rng(0)
    starts = Counter(fit_clip(70, 4, 16, rng).start for _ in range(5000))
    assert set(starts) == set(range(10))
    assert min(starts.values()) > 400


# ---- TCLR ------------------------------------------------------------------------------------


@FAST
@given(n=frames, seed=seeds, policy=st.sampled_from(["mirror", "loop"]))
def test_tclr_clips_cover_and_stay_inside(n, seed, policy):
    t = tclr_clips(n, np.random.default_rng(seed), policy=policy)
    assert len(t.local) == 4 and t.global_clip.skip == 4
    for clip in (*t.local, t.global_clip):
        _check_spacing(clip, n)
        assert clip.policy in ("fit", policy)
    start = t.global_clip.start
    assert [c.start for c in t.local] == [start + 16 * j for j in range(4)]
    assert all(c.skip == 1 for c in t.local)
    if n >= 64:  # adjacent, non-overlapping, inside the video; the global clip spans them all
        assert all(c.policy == "fit" for c in (*t.local, t.global_clip))
        assert t.global_clip.start == t.local[0].start
        assert t.global_clip.indices(n)[-1] >= t.local[-1].indices(n)[0]
        assert t.local[-1].indices(n)[-1] == start + 63


# ---- SSL -------------------------------------------------------------------------------------


def _check_tuple(t, frame_counts):
    """The label names exactly the pair with equal effective speeds (3 = all differ); every clip
    fits its source at its speed unless the mirror fallback is recorded."""
    speeds = t.speeds
    assert label_of_speeds(speeds) == t.label
    if t.label < 3:
        i, j = SSL_PAIRS[t.label]
        k = 3 - i - j
        assert speeds[i] == speeds[j] != speeds[k]
    else:
        assert len(set(speeds)) == 3
    for clip, src in zip(t.clips, t.sources):
        n = frame_counts[src]
        _check_spacing(clip, n)
        if "mirror_fallback" not in t.notes:
            assert clip.policy == "fit" and clip.skip in fitting_speeds(n, clip.length)
    if not t.notes:
        assert t.label == t.requested_label


@FAST
@given(n=st.lists(st.integers(1, 400), min_size=3, max_size=3), seed=seeds, length=st.sampled_from([8, 16]))
def test_ssl_tuple_labels_never_lie(n, seed, length):
    t = ssl_tuple(n, np.random.default_rng(seed), length=length)
    _check_tuple(t, n)


@FAST
@given(counts=st.lists(st.integers(1, 400), min_size=1, max_size=8), seed=seeds, c1=st.sampled_from([0.0, 0.6, 1.0]), data=st.data())
def test_draw_ssl_tuple_sources(counts, seed, c1, data):
    anchor = data.draw(st.integers(0, len(counts) - 1))
    t = draw_ssl_tuple(counts, anchor, np.random.default_rng(seed), c1=c1)
    _check_tuple(t, counts)
    assert anchor in t.sources
    if t.cross_video:
        assert len(set(t.sources)) == 3
    else:
        assert t.sources == (anchor,) * 3
    if len(counts) < 3 and c1 == 1.0:
        assert not t.cross_video and "cross_video_impossible" in t.notes


def test_ssl_statistics_match_c1_c2_on_long_videos():
    rng = np.random.default_rng(1)
    counts = [300] * 10
    tuples = [draw_ssl_tuple(counts, i % 10, rng, c1=0.6, c2=0.75) for i in range(3000)]
    cross = np.mean([t.cross_video for t in tuples])
    labels = Counter(t.label for t in tuples)
    assert abs(cross - 0.6) < 0.04
    for lab in range(3):
        assert abs(labels[lab] / 3000 - 0.25) < 0.03
    assert abs(labels[3] / 3000 - 0.25) < 0.03
    assert all(not t.notes for t in tuples)  # nothing needed a fallback
    assert Counter(s for t in tuples for s in t.speeds).keys() == set(SSL_SPEEDS)


def test_ssl_short_video_is_handled_and_recorded():
    # 40 frames, L=16: only speeds 1 and 2 fit -> an all-different label is impossible.
    rng = np.random.default_rng(0)
    tuples = [ssl_tuple((40, 40, 40), rng, label=3) for _ in range(50)]
    assert all(t.label < 3 and "label_switched" in t.notes for t in tuples)
    # 20 frames: only speed 1 fits -> no label at all can be honoured: mirror fallback, recorded.
    t = ssl_tuple((20, 20, 20), rng, label=0)
    assert t.label == 0 and "mirror_fallback" in t.notes
    _check_tuple(t, (20, 20, 20))


def test_cross_video_resourcing_prefers_videos_that_fit():
    # anchor long, most others too short for 3 distinct speeds: an all-differ tuple must pick video 5.
    counts = [300, 20, 20, 20, 20, 300]
    rng = np.random.default_rng(3)
    notes = Counter()
    for _ in range(60):
        t = draw_ssl_tuple(counts, 0, rng, c1=1.0, c2=0.0)
        _check_tuple(t, counts)
        assert t.label == 3 and {0, 5} <= set(t.sources)  # the drawn label is kept, thanks to video 5
        notes.update(t.notes)
    assert 0 < notes["resourced"] < 60 and set(notes) == {"resourced"}


# ---- evaluation clips -----------------------------------------------------------------------


@FAST
@given(n=frames, n_clips=st.integers(1, 12), length=lengths, skip=st.integers(1, 5))
def test_uniform_clips(n, n_clips, length, skip):
    clips = uniform_clips(n, n_clips, length, skip)
    assert len(clips) == n_clips
    for c in clips:
        _check_spacing(c, n)
        assert c.requested_skip == skip
    starts = [c.start for c in clips]
    assert starts == sorted(starts) and starts[0] == 0
    if skip * (length - 1) + 1 <= n:
        assert clips[-1].indices(n)[-1] == n - 1 or n_clips == 1


def test_uniform_clips_protocols():
    paper = uniform_clips(180, 10, 16, 3)
    assert len(paper) == 10 and {c.skip for c in paper} == {3}
    tclr = uniform_clips(180, 9, 16, 2)
    assert len(tclr) == 9 and tclr[-1].indices(180)[-1] == 179
