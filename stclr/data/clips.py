"""The clip datasets of the supervised protocols (paper Sec. 4.2.2), beside pretraining's planned batches
(:mod:`stclr.data.loader`):

- fine-tuning's training clips: :class:`TrainClipDataset` (one random clip per video and epoch, seeded by
  (seed, epoch, index)) served by :class:`EpochOrderSampler` (the epoch's shuffled order, resumable mid-epoch)
  through one loader with persistent workers (:func:`train_clip_loader`);
- evaluation's clips: :class:`ClipDataset` (``n_clips`` uniformly spaced clips per video, ``[n_clips, C, T, H, W]``,
  never dropping a video) for retrieval, the linear probe and the fine-tuning test (:func:`clip_dataset`,
  :func:`eval_loader`);
- :func:`probe_frames`: the usable frame count of every video, probed once and cached.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from stclr import video as _video
from stclr.augment import build_eval_transform
from stclr.data.loader import (VideoSkippedWarning, _frame_range, _gather, ignore_stop_signals, probe_frame_totals,
                               video_paths)
from stclr.sampling import epoch_seed
from stclr.sampling import uniform_clips


# ------------------------------------------------------------------------------------------- fine-tuning clips


def probe_frames(split, cache_file: Path | None = None, threads: int = 1) -> list[int]:
    """Usable frame count of every item (its annotated range, for Diving-48), probed once and cached
    (:func:`stclr.data.loader.probe_frame_totals`). An unreadable video raises, naming it."""
    from stclr.video import VideoReadError

    paths = [str(split.abspath(item)) for item in split.items]
    counts = []
    for item, path, total in zip(split.items, paths, probe_frame_totals(split.items, paths, cache_file, threads)):
        if isinstance(total, str):
            raise VideoReadError(path, total.removeprefix("unreadable: "))
        counts.append(_frame_range(item, total)[1])
    return counts


class TrainClipDataset(Dataset):
    """One random clip per video and epoch: ``clip_len`` frames at ``skip`` (lowered to fit a short video, as
    the sampling policy says), augmented by ``transform``. Randomness comes from (seed, epoch, index) only, so an
    epoch is the same with any number of workers and after a resume. Items are keyed ``(epoch, index)`` (what
    :class:`EpochOrderSampler` yields: persistent workers learn the epoch from the key) or by a plain index for
    the epoch last given to :meth:`set_epoch`."""

    def __init__(self, split, num_frames: list[int], *, clip_len: int, skip: int, transform, seed: int = 0,
                 policy: str = "fit", backend: str = "auto"):
        self.split, self.num_frames, self.transform = split, num_frames, transform
        self.clip_len, self.skip, self.seed, self.policy, self.backend = clip_len, skip, seed, policy, backend
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key):
        from stclr.sampling import fit_clip
        from stclr.video import read_frames

        epoch, i = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (self.epoch, int(key))
        item, n = self.split.items[i], self.num_frames[i]
        rng = np.random.default_rng([self.seed, epoch, i, 0xF1])
        spec = fit_clip(n, self.skip, self.clip_len, rng, self.policy)
        frames = read_frames(self.split.abspath(item), spec.indices(n) + int(item.start or 0), backend=self.backend)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**62)))
            return self.transform(frames), item.label


class EpochOrderSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, index)`` for the first ``limit`` videos of the epoch's shuffled order (all of them when
    ``limit`` is None), the epoch being the one last given to :meth:`set_epoch`.

    Keying items by epoch lets one DataLoader with persistent workers serve every epoch: its workers keep
    their decoded-video cache and are not started again per epoch (the course's fine-tuning runs are 25
    epochs of 16 steps, and a fresh worker decoded every clip again). The order of epoch e is
    ``randperm(n)`` of a generator seeded with ``epoch_seed(seed, e, 0)`` after one 64-bit draw from it:
    exactly what ``DataLoader(shuffle=True, generator=...)`` gave per epoch before (it draws its workers' base
    seed first), so runs keep the clip order, and the results, they had."""

    def __init__(self, n: int, seed: int, limit: int | None = None):
        self.n, self.seed, self.limit, self.epoch, self.start = int(n), int(seed), limit, 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Serve epoch ``epoch`` from position ``start`` of its order (> 0: a run resumed mid-epoch skips the
        items it already trained on)."""
        self.epoch, self.start = int(epoch), int(start)

    def order(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch, 0))
        torch.empty((), dtype=torch.int64).random_(generator=g)
        return torch.randperm(self.n, generator=g).tolist()

    def __len__(self) -> int:
        return self.n if self.limit is None else min(self.n, self.limit)

    def __iter__(self):
        epoch = self.epoch
        return iter([(epoch, i) for i in self.order(epoch)[self.start : len(self)]])


def train_clip_loader(dataset: TrainClipDataset, batch_size: int, *, seed: int, steps_per_epoch: int,
                      num_workers: int, device: torch.device) -> tuple[DataLoader, EpochOrderSampler]:
    """(loader, its :class:`EpochOrderSampler`) serving ``steps_per_epoch`` batches an epoch, every epoch, from
    ONE DataLoader: its persistent workers keep their decoded-video cache across epochs. Its own generator keeps
    the global RNG (dropout) untouched when ``iter()`` draws the workers' base seed. The last partial batch is
    dropped (a batch of 1 would break BatchNorm) unless the dataset holds no full batch."""
    order = EpochOrderSampler(len(dataset), seed, limit=steps_per_epoch * batch_size)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order, drop_last=len(dataset) > batch_size,
                        num_workers=num_workers, persistent_workers=num_workers > 0,
                        pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(seed),
                        worker_init_fn=ignore_stop_signals if num_workers > 0 else None)
    return loader, order


def steps_per_epoch(n_videos: int, batch_size: int, cap: int | None = None) -> int:
    """Batches of one fine-tuning epoch: full batches only (but one partial when no batch is full), at most
    ``cap``."""
    n = n_videos // batch_size if n_videos > batch_size else math.ceil(n_videos / batch_size)
    return n if cap is None else min(n, cap)


# ------------------------------------------------------------------------------------------- evaluation clips


class ClipDataset(Dataset):
    """Per video: ``n_clips`` uniformly spaced clips -> (float ``[n_clips, C, T, H, W]``, label).

    The retrieval protocol (Sec. 4.2.2): 10 clips at skip 3, the full frame resized to ``size``
    (``crop=0.8`` and 9 clips at skip 2 for TCLR's protocol); also the fine-tuning test clips.
    One decode per video (the union of its clips). Never drops a video: a video shorter than a clip
    follows ``policy`` (recorded, :func:`stclr.sampling.uniform_clips`); an unreadable one raises
    (``on_error="raise"``) or, with ``on_error="zeros"``, gives zero clips, one warning and an entry in
    ``failed`` (this process). ``transform``: a callable uint8 ``[T,H,W,3]`` -> ``[C,T,H,W]`` applied per
    clip; default :func:`stclr.augment.build_eval_transform`, whose transforms (``frame_wise``) are
    applied once to the decoded union instead. ``num_frames``: known frame totals of the videos (e.g. from
    :func:`probe_frame_totals`); without it, or for a ``None`` entry, the video is probed where it is read.
    """

    def __init__(self, split: Any, root: str | Path | None = None, n_clips: int = 10, length: int = 16,
                 skip: int = 3, size: int | Sequence[int] = 112, transform: Callable | None = None, *,
                 crop: float | None = None, normalize: bool = False, policy: str = "fit",
                 backend: str = "auto", decode_size: Any = None, num_frames: Sequence[int] | None = None,
                 on_error: str = "raise"):
        self.items, self.root, self.paths = video_paths(split, root, "ClipDataset")
        self.n_clips, self.length, self.skip, self.policy = int(n_clips), int(length), int(skip), policy
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        # A deterministic frame-wise transform runs once over the decoded union; any other, once per clip.
        self.per_clip = transform is not None and not getattr(transform, "frame_wise", False)
        self.transform = transform if transform is not None else build_eval_transform(self.size, crop, normalize)
        self.backend, self.decode_size = backend, decode_size
        if on_error not in ("raise", "zeros"):
            raise ValueError(f"on_error must be 'raise' or 'zeros', got {on_error!r}")
        self.on_error = on_error
        self.num_frames = list(num_frames) if num_frames is not None else None
        self.failed: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def labels(self) -> list[int]:
        return [it.label for it in self.items]

    def _frames_of(self, i: int) -> tuple[int, int]:
        known = self.num_frames[i] if self.num_frames is not None else None
        total = known if known is not None else _video.probe(self.paths[i]).num_frames
        offset, n = _frame_range(self.items[i], int(total))
        if n < 1:
            raise _video.VideoReadError(self.paths[i], f"annotated range holds no frame (video has {total})")
        return offset, n

    def clip_specs(self, i: int):
        """The clips of video ``i`` (for inspection)."""
        return uniform_clips(self._frames_of(i)[1], self.n_clips, self.length, self.skip, self.policy)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        label = int(self.items[i].label)
        try:
            return self._clips(i), label
        except _video.VideoReadError as e:
            if self.on_error == "raise":
                raise _video.VideoReadError(e.path, f"{e.cause} (ClipDataset item {i}; evaluation never drops "
                                            "videos: fix or remove it, or pass on_error='zeros')") from None
            if i not in self.failed:
                warnings.warn(f"evaluation video {self.paths[i]} unreadable, using zero clips: {e.cause}",
                              VideoSkippedWarning, stacklevel=2)
            self.failed[i] = e.cause
            return torch.zeros(self.n_clips, 3, self.length, *self.size), label

    def _clips(self, i: int) -> torch.Tensor:
        offset, n = self._frames_of(i)
        specs = uniform_clips(n, self.n_clips, self.length, self.skip, self.policy)
        wanted = np.stack([s.indices(n) for s in specs])  # [n_clips, T]
        union, pos = np.unique(wanted, return_inverse=True)
        pos = pos.reshape(wanted.shape)
        frames = _video.read_frames(self.paths[i], union + offset, size=self.decode_size, backend=self.backend)
        if self.per_clip:
            return torch.stack([self.transform(_gather(frames, p)) for p in pos])
        # Deterministic and frame-wise: transform the union once, then cut the clips out of it.
        all_frames = self.transform(frames).transpose(0, 1).contiguous()  # [F, C, H, W]
        clips = _gather(all_frames, pos.reshape(-1))  # [n_clips * T, C, H, W]
        return clips.view(*pos.shape, *clips.shape[1:]).transpose(1, 2).contiguous()  # [n_clips, C, T, H, W]


def eval_loader(dataset, batch_size: int, num_workers: int, device: torch.device):
    """An evaluation DataLoader: in order, and never ``drop_last`` (every test video counts)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        drop_last=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )


def clip_dataset(split, *, n_clips: int, clip_len: int, skip: int, size, crop: float | None = 1.0, data=None,
                 frames_cache: Path | None = None, probe_threads: int = 1):
    """Evaluation dataset: per video ``n_clips`` uniformly spaced clips, the full frame (or a centre crop of
    ``crop`` of each side) resized to ``size``; items are ``(clips [n, C, T, H, W], label)``. Never drops a video:
    an unreadable one raises, naming it. With ``frames_cache`` (a JSON file) the videos' frame totals are probed
    here, ``probe_threads`` at once, and kept there for the next run (:func:`stclr.data.loader.probe_frame_totals`);
    without it each DataLoader worker probes the videos it reads, in every run."""
    kw = {} if data is None else {"backend": data.backend, "policy": data.short_policy}
    num_frames = None
    if frames_cache is not None:
        totals = probe_frame_totals(split.items, [split.abspath(it) for it in split.items], frames_cache,
                                    probe_threads)
        num_frames = [t if isinstance(t, int) else None for t in totals]  # unreadable: ClipDataset says why
    return ClipDataset(split, n_clips=n_clips, length=clip_len, skip=skip, size=size,
                       crop=None if crop is None or crop >= 1.0 else crop, num_frames=num_frames, **kw)
