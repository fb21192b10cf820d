"""The pretraining loader (stclr.data.loader): one decode per video per step, exact frames, resume,
bad videos, counters across workers; and the evaluation ClipDataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from stclr import video
from stclr.data.loader import (
    BatchKey,
    DatasetUnreadableError,
    LoaderStats,
    PlannedBatchSampler,
    PretrainDataset,
    VideoSkippedWarning,
    make_pretrain_loader,
)
from stclr.data.clips import ClipDataset
from stclr.data.splits import VideoItem
from stclr.fixtures import frame_index_of, write_index_video, write_text_file
from stclr.sampling import uniform_clips

LENGTHS = [40, 64, 90, 120, 75, 52]  # frames of the six good fixture videos
PLAN = {"length": 8}  # short clips keep the tests fast; skips stay the paper's (lowered where needed)
SIZE = (48, 64)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    for i, n in enumerate(LENGTHS):
        write_index_video(root / "A" / f"v{i}.mp4", n, size=SIZE)
    write_index_video(root / "B" / "short.mp4", 6, size=SIZE)
    write_text_file(root / "B" / "corrupt.mp4")
    return root


def _items(names):
    return [VideoItem(name, 0) for name in names]


GOOD = [f"A/v{i}.mp4" for i in range(len(LENGTHS))]


def _dataset(videos, names=GOOD, **kw):
    kw.setdefault("plan", PLAN)
    kw.setdefault("augment", "none")  # identity at native size (SSL clips too): clips carry readable frame codes
    kw.setdefault("size", SIZE)
    return PretrainDataset(_items(names), videos, **kw)


def _codes(clip: torch.Tensor) -> list[int]:
    """Frame indices carried by a float clip [C, T, H, W] in [0, 1]."""
    frames = (clip.permute(1, 2, 3, 0) * 255).round().to(torch.uint8)
    return [frame_index_of(f) for f in frames]


# ---- the batch ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["stclr", "tclr"])
def test_batch_layout_and_exact_frames(videos, method):
    ds = _dataset(videos, method=method)
    batch = ds[BatchKey(0, 0, (0, 3, 5))]
    plan = batch["plan"]
    B, C, (H, W) = 3, 3, SIZE
    N = 5 if method == "stclr" else 4
    assert batch["clips"].shape == (B, N, 2, C, 8, H, W)
    assert batch["ic_pair"].shape == (B, 2) and batch["ic_pair"].dtype == torch.long
    assert batch["index"].tolist() == [0, 3, 5]
    for r, v in enumerate(plan.videos):  # every local clip is exactly the planned frames, in both views
        for p, clip in enumerate(v.local):
            want = clip.indices(v.num_frames).tolist()
            assert _codes(batch["clips"][r, p, 0]) == want
            assert _codes(batch["clips"][r, p, 1]) == want
    if method == "tclr":
        assert batch["global_clips"].shape == (B, 2, C, 8, H, W)
        for r, v in enumerate(plan.videos):
            assert _codes(batch["global_clips"][r, 0]) == v.global_clip.indices(v.num_frames).tolist()
        assert "ssl_clips" not in batch
    else:
        assert batch["ssl_clips"].shape == (B, 3, C, 8, H, W)
        assert batch["ssl_labels"].tolist() == plan.ssl_labels
        for t, s in enumerate(plan.ssl):  # SSL clips cut from the right video's decode
            for k, (src, clip) in enumerate(zip(s.rows, s.sample.clips)):
                assert _codes(batch["ssl_clips"][t, k]) == clip.indices(plan.videos[src].num_frames).tolist()
        assert "global_clips" not in batch
    assert batch["stats"]["videos_opened"] == 3 and batch["stats"]["decode_calls"] == 3


def test_augmented_views_differ_and_are_reproducible(videos):
    ds = _dataset(videos, augment="tclr", ssl_augment="ssl", size=32)
    a = ds[BatchKey(1, 2, (1, 2, 4))]
    b = ds[BatchKey(1, 2, (1, 2, 4))]
    assert torch.equal(a["clips"], b["clips"]) and torch.equal(a["ssl_clips"], b["ssl_clips"])
    assert not torch.equal(a["clips"][:, :, 0], a["clips"][:, :, 1])  # two different views
    c = ds[BatchKey(1, 3, (1, 2, 4))]
    assert not torch.equal(a["clips"], c["clips"])
    # the main process's RNG is left alone (augmentation runs inside fork_rng)
    torch.manual_seed(123)
    expect = torch.rand(3)
    torch.manual_seed(123)
    ds[BatchKey(0, 0, (0, 1, 2))]
    assert torch.equal(torch.rand(3), expect)


# ---- counters: one open and one decode call per video per step, whatever C1 and the workers ----


@pytest.mark.parametrize("c1", [0.0, 0.6, 1.0])
def test_one_epoch_reads_each_video_once(videos, c1):
    """Paper: N + (1 - C1) N + K N C1 videos per epoch; here N, whatever C1, with 0 or 2 workers."""
    ds = _dataset(videos, method="stclr", plan={**PLAN, "c1": c1}, size=16)
    clips = {}
    for num_workers in (0, 2):
        video.reset_counters()
        loader, sampler = make_pretrain_loader(ds, 3, num_workers=num_workers, seed=7)
        stats = LoaderStats()
        batches = list(stats.track(loader))
        assert len(batches) == len(sampler) == 2
        assert stats.videos == stats.videos_opened == stats.decode_calls == len(ds)  # summed over workers
        assert stats.videos_skipped == 0
        assert sorted(i for b in batches for i in b["index"].tolist()) == list(range(len(ds)))
        if num_workers == 0:  # the same totals as this process's own counters
            own = video.get_counters()
            assert own["videos_opened"] == own["decode_calls"] == len(ds)
        else:  # the work happened in the workers, not here
            assert video.get_counters()["videos_opened"] == 0
        cross = stats.plan["ssl_cross_video"]
        assert cross == {0.0: 0, 1.0: len(ds)}.get(c1, cross)
        clips[num_workers] = [torch.cat([b["clips"].flatten(), b["ssl_clips"].flatten()]) for b in batches]
    for a, b in zip(clips[0], clips[2]):  # batches do not depend on the number of workers
        assert torch.equal(a, b)


def test_simplified_tclr_reads_the_same(videos):
    ds = _dataset(videos, method="simplified_tclr", size=16)
    video.reset_counters()
    loader, _ = make_pretrain_loader(ds, 2, num_workers=0)
    stats = LoaderStats()
    batches = list(stats.track(loader))
    assert stats.videos_opened == stats.decode_calls == len(ds) and len(batches) == 3
    assert "ssl_clips" not in batches[0]


# ---- resume --------------------------------------------------------------------------------


def test_sampler_order_and_state():
    s = PlannedBatchSampler(10, 3, seed=1)
    keys = list(s)
    assert len(keys) == 3 and s.epoch == 1 and s.step == 0
    assert sorted(i for k in keys for i in k.indices) != list(range(10))  # drop_last: 9 of 10
    assert len({i for k in keys for i in k.indices}) == 9
    assert [k.indices for k in PlannedBatchSampler(10, 3, seed=1)] == [k.indices for k in keys]
    assert [k.indices for k in s] != [k.indices for k in keys]  # epoch 1 has another order
    with pytest.raises(ValueError, match="seed"):
        PlannedBatchSampler(10, 3, seed=2).load_state_dict(s.state_dict())


def test_sampler_ddp_shares_partition_the_global_batch():
    shares = [list(PlannedBatchSampler(12, 4, seed=0, rank=r, world_size=2)) for r in range(2)]
    full = list(PlannedBatchSampler(12, 4, seed=0))
    for k0, k1, kf in zip(*shares, full):
        assert k0.indices + k1.indices == kf.indices


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_mid_epoch_gives_identical_remaining_batches(videos, num_workers):
    ds = _dataset(videos, size=16, augment="tclr", ssl_augment="ssl")
    loader, sampler = make_pretrain_loader(ds, 2, num_workers=num_workers, seed=3)
    sampler.set_epoch(4)
    full = list(loader)  # the uninterrupted epoch: 3 batches

    loader, sampler = make_pretrain_loader(ds, 2, num_workers=num_workers, seed=3)
    sampler.set_epoch(4)
    it = iter(loader)
    first = next(it)
    state = sampler.state_after(first)  # what a checkpoint stores (prefetching workers run ahead)
    del it

    resumed_loader, _ = make_pretrain_loader(ds, 2, num_workers=num_workers, seed=3, sampler_state=state)
    rest = list(resumed_loader)
    assert len(rest) == 2
    for got, want in zip(rest, full[1:]):
        assert got["index"].tolist() == want["index"].tolist()
        assert torch.equal(got["clips"], want["clips"]) and torch.equal(got["ssl_clips"], want["ssl_clips"])


# ---- bad videos ----------------------------------------------------------------------------


def test_corrupt_and_short_videos_are_skipped_counted_and_warned_once(videos):
    names = GOOD + ["B/corrupt.mp4", "B/short.mp4"]
    with pytest.warns(VideoSkippedWarning) as record:
        ds = _dataset(videos, names, size=16)
    msgs = [str(w.message) for w in record if issubclass(w.category, VideoSkippedWarning)]
    assert len(msgs) == 2
    assert any("corrupt.mp4" in m and "unreadable" in m for m in msgs)
    assert any("short.mp4" in m and "too short" in m for m in msgs)
    assert set(ds.bad) == {6, 7}

    loader, sampler = make_pretrain_loader(ds, 4, num_workers=0, seed=0)
    stats = LoaderStats()
    with warnings.catch_warnings():
        warnings.simplefilter("error", VideoSkippedWarning)  # no second warning for the same videos
        batches = list(stats.track(loader))
    assert len(batches) == 2 and all(b["clips"].shape[0] == 4 for b in batches)
    assert stats.videos_skipped == 2 and set(stats.skipped_paths) == {ds.paths[6], ds.paths[7]}
    assert not {6, 7} & {i for b in batches for i in b["index"].tolist()}
    assert stats.videos_opened == 8  # replacements are read instead, once each


def test_video_failing_at_decode_time_is_replaced(videos):
    # Frame counts given up front (no probe): the corrupt file is only found when decoding.
    names = GOOD[:4] + ["B/corrupt.mp4"]
    ds = _dataset(videos, names, size=16, frame_counts=LENGTHS[:4] + [50])
    with pytest.warns(VideoSkippedWarning, match="corrupt.mp4"):
        batch = ds[BatchKey(0, 0, (4, 0, 1))]
    assert batch["clips"].shape[0] == 3 and 4 not in batch["index"].tolist()
    assert batch["stats"]["videos_skipped"] == 1 and batch["skipped"][0][0] == 4
    assert 4 in ds.bad


def test_mostly_unreadable_dataset_is_a_clear_error(videos, tmp_path):
    for i in range(4):
        write_text_file(tmp_path / f"bad{i}.mp4")
    write_index_video(tmp_path / "ok.mp4", 40, size=SIZE)
    names = [f"bad{i}.mp4" for i in range(4)] + ["ok.mp4"]
    with pytest.warns(VideoSkippedWarning), pytest.raises(DatasetUnreadableError, match="4 of 5 videos .* unreadable"):
        _dataset(tmp_path, names)
    # the same found only while decoding: the batch gives up instead of looping
    ds = _dataset(tmp_path, names, frame_counts=[50, 50, 50, 50, 40])
    with pytest.warns(VideoSkippedWarning), pytest.raises(DatasetUnreadableError, match="unreadable|failed to decode"):
        ds[BatchKey(0, 0, (0, 1, 2))]
    # with a lenient global threshold, the per-batch one stops a batch that fails more than it reads
    ds = _dataset(tmp_path, names, frame_counts=[50, 50, 50, 50, 40], max_bad_fraction=0.99)
    with pytest.warns(VideoSkippedWarning), pytest.raises(DatasetUnreadableError, match="failed to decode"):
        ds[BatchKey(0, 0, (0, 1))]


# ---- evaluation clips ----------------------------------------------------------------------


def test_clip_dataset_uniform_clips_exact(videos):
    ds = ClipDataset(_items(GOOD), videos, n_clips=4, length=8, skip=3, size=SIZE)
    clips, label = ds[2]
    assert clips.shape == (4, 3, 8, *SIZE) and label == 0
    for c, spec in zip(clips, uniform_clips(LENGTHS[2], 4, 8, 3)):
        assert _codes(c) == spec.indices(LENGTHS[2]).tolist()
    # a custom per-clip transform gives the same frames
    from stclr.augment import build_eval_transform

    per_clip = lambda clip: build_eval_transform(SIZE)(clip)  # noqa: E731  (not marked frame-wise)
    ds2 = ClipDataset(_items(GOOD), videos, n_clips=4, length=8, skip=3, transform=per_clip)
    assert ds2.per_clip and not ds.per_clip
    assert torch.allclose(ds2[2][0], clips)


def test_clip_dataset_never_drops(videos):
    names = ["B/short.mp4", "B/corrupt.mp4"]
    ds = ClipDataset(_items(names), videos, n_clips=3, length=8, skip=3, size=16)
    clips, _ = ds[0]  # 6 frames < 8: looped, recorded, not dropped
    assert clips.shape == (3, 3, 8, 16, 16)
    assert all(s.policy == "loop" for s in ds.clip_specs(0))
    with pytest.raises(video.VideoReadError, match="never drops"):
        ds[1]
    lenient = ClipDataset(_items(names), videos, n_clips=3, length=8, skip=3, size=16, on_error="zeros")
    with pytest.warns(VideoSkippedWarning):
        clips, _ = lenient[1]
    assert clips.abs().sum() == 0 and 1 in lenient.failed
    loader = torch.utils.data.DataLoader(ClipDataset(_items(GOOD), videos, 2, 8, 3, 16), batch_size=4)
    assert sum(x.shape[0] for x, _ in loader) == len(GOOD)  # no drop_last


def test_synthetic_split_end_to_end(tmp_path):
    """The loaders on a real Split (root taken from it) of the kit's synthetic dataset."""
    synthetic = pytest.importorskip("stclr.data.synthetic")
    from stclr.data.splits import load_split

    cfg = synthetic.SynthConfig(num_classes=2, videos_per_class=6, clips_per_group=3, test_groups=1, num_frames=40, size=32)
    synthetic.make_synthetic_dataset(tmp_path, cfg, show_progress=False)
    train = load_split("synthetic", tmp_path, 1, "train")
    ds = PretrainDataset(train, method="stclr", plan={"length": 8, "c1": 1.0}, size=32, out_dtype=None)
    loader, sampler = make_pretrain_loader(ds, 3, num_workers=0)
    stats = LoaderStats()
    batches = list(stats.track(loader))
    assert len(batches) == len(sampler) == len(train) // 3
    assert batches[0]["clips"].dtype == torch.uint8 and batches[0]["clips"].shape == (3, 5, 2, 3, 8, 32, 32)
    assert stats.videos_opened == stats.videos == 3 * len(batches)
    assert stats.plan["ssl_cross_video"] == stats.videos  # C1 = 1 and B = 3: every tuple spans 3 videos
    test = load_split("synthetic", tmp_path, 1, "test")
    clips, label = ClipDataset(test, n_clips=3, length=8, skip=3, size=32)[0]
    assert clips.shape == (3, 3, 8, 32, 32) and label == test.items[0].label
