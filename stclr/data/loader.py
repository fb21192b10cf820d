"""Pretraining and evaluation datasets: one batch = one unit of work that decodes each video once.

Pretraining (``docs/method.md`` §6, the batch plan; ``docs/architecture.md`` "Pretraining batch")::

    ds = PretrainDataset(split, method="stclr", plan=cfg, size=112)
    loader, sampler = make_pretrain_loader(ds, batch_size=38, num_workers=4, seed=0)
    stats = LoaderStats()
    for batch in stats.track(loader):          # batch: the dict of docs/architecture.md (+ "stats")
        ...
        ckpt["sampler"] = sampler.state_after(batch)   # exact resume point, whatever the prefetching

How it fits together, and why:

- :class:`PlannedBatchSampler` yields one :class:`BatchKey` ``(epoch, step, indices)`` per batch.
  The DataLoader runs with ``batch_size=None`` and this sampler as ``sampler``, so a worker receives
  the WHOLE batch in one ``dataset[key]`` call. The planner (:mod:`stclr.plan`) therefore sees every
  video of the batch: cross-video SSL clips come from the batch's own decodes, and each video is
  opened and decoded once per step (one ``read_frames`` call over the sorted union of its indices).
- Everything random is derived from ``(seed, epoch, step)`` and the batch's videos -- the clip plan
  from numpy generators, the augmentations from a torch seed set inside ``torch.random.fork_rng``
  (the caller's RNG state is left untouched) -- never from the worker id, so a batch is the same
  with 0, 2 or 8 workers, and a resumed run repeats the same batches.
- Each video's decode is cut into its clips and augmented as soon as it is read, then dropped, so a
  worker holds one decoded video at a time (a 320x240 UCF-101 union is ~20 MB; 38 of them would not be).
- Counters (videos opened, decode calls, frames decoded, skipped videos) are measured inside the
  worker around each batch and returned in ``batch["stats"]``; :class:`LoaderStats` sums them in the
  main process, so they aggregate across workers.
- Bad videos. At construction every video is probed once (frame count; ``stclr.video.probe``):
  unreadable ones and ones shorter than ``min_frames`` are recorded with ONE warning each
  (:class:`VideoSkippedWarning`). A batch that draws one replaces it by another video (seeded), so
  batches never shrink; each replacement is counted in ``stats["videos_skipped"]``. A video that
  probes fine but fails to decode is handled the same way at run time (the batch is re-planned), and
  the batch reports it in ``batch["bad_videos"]`` (path, the frame where decoding broke, the cause).
  A replacement is a pure function of (seed, epoch, step, the batch's videos, which of them fail):
  it is drawn from the videos that passed the probe, never from what this process happened to see
  fail before, so a batch is the same with any worker count and after a resume in a fresh process.
  ``on_bad_video="error"`` stops instead, with a :class:`BadVideoError` naming the file and the frame
  (an unreadable file at construction; too-short videos are still skipped: they are not damaged).
  When most of the dataset is unreadable (more than ``max_bad_fraction``, default 0.5, of its
  videos), or more than half of one batch's attempts fail (more failures than the batch size), a
  :class:`DatasetUnreadableError` says so instead of looping.

The clip datasets of the supervised protocols (fine-tuning's training clips, evaluation's uniformly spaced
clips) are in :mod:`stclr.data.clips`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from stclr import video as _video
from stclr.augment import build_train_augment
from stclr.config import config_hash, to_dict
from stclr.plan import BatchPlan, PlanConfig, method_parts, plan_batch
from stclr.fileio import write_text_atomic

__all__ = [
    "BAD_VIDEOS_FILE",
    "BadVideoReport",
    "BatchKey",
    "PlannedBatchSampler",
    "PretrainDataset",
    "LoaderStats",
    "VideoSkippedWarning",
    "DatasetUnreadableError",
    "BadVideoError",
    "collate_planned",
    "make_pretrain_loader",
    "frames_cache_file",
    "probe_frame_totals",
]


class VideoSkippedWarning(UserWarning):
    """A video was skipped (unreadable or too short); issued once per video path per dataset."""


class DatasetUnreadableError(RuntimeError):
    """Too many videos of the dataset (or of one batch) are unreadable to go on."""


class BadVideoError(DatasetUnreadableError):
    """A video failed and ``on_bad_video="error"``: the message names the file, the frame and the cause."""


ON_BAD_VIDEO = ("replace", "error")


class BatchKey(NamedTuple):
    """What the sampler yields and the dataset receives: one whole batch, and where it is in the run."""

    epoch: int
    step: int
    indices: tuple[int, ...]


# --------------------------------------------------------------------------------------------
# Sampler
# --------------------------------------------------------------------------------------------


class PlannedBatchSampler(Sampler[BatchKey]):
    """Yields one :class:`BatchKey` per batch: the epoch's seeded permutation cut into batches.

    ``data``: the dataset (or its length, or an explicit list of dataset indices to draw from).
    The order of epoch e is ``permutation(seed, e)`` (or the identity with ``shuffle=False``), so it
    is reproducible and differs per epoch. Iterating advances the position ``(epoch, step)``; a full
    pass ends at the next epoch's step 0. ``state_dict`` / ``load_state_dict`` save and restore it.

    DataLoader workers prefetch: the sampler's own position runs ahead of what the training loop has
    consumed. Checkpoint :meth:`state_after` of the last consumed batch, not :meth:`state_dict`, when
    ``num_workers > 0``.

    DDP: with ``world_size > 1`` every rank draws the same global batch of ``batch_size`` videos
    and keeps its contiguous share (``batch_size / world_size`` videos).
    """

    def __init__(self, data: Any, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = True, epoch: int = 0, rank: int = 0, world_size: int = 1):
        if isinstance(data, int):
            pool = list(range(data))
        elif isinstance(data, Dataset) and hasattr(data, "__len__"):
            pool = list(range(len(data)))  # type: ignore[arg-type]
        else:
            pool = [int(i) for i in data]
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if batch_size % world_size:
            raise ValueError(f"global batch_size {batch_size} is not divisible by world_size {world_size}")
        if not pool:
            raise ValueError("no videos to sample from")
        self.pool = pool
        self.batch_size = int(batch_size)
        self.seed, self.shuffle, self.drop_last = int(seed), bool(shuffle), bool(drop_last)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch, self.step = int(epoch), 0
        # Batches handed out per epoch at most (None: all). The engine sets it to max_steps_per_epoch, so that
        # DataLoader workers never prefetch batches past the epoch's end that the loop would throw away.
        self.max_steps: int | None = None

    def __len__(self) -> int:
        n, b = len(self.pool), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> list[int]:
        """The epoch's video order (dataset indices)."""
        if not self.shuffle:
            return list(self.pool)
        perm = np.random.default_rng([self.seed, int(epoch), 0x5A3]).permutation(len(self.pool))
        return [self.pool[i] for i in perm]

    def batch(self, epoch: int, step: int) -> BatchKey:
        """The key of batch ``step`` of ``epoch`` (this rank's share)."""
        order = self.order(epoch)
        chunk = order[step * self.batch_size:(step + 1) * self.batch_size]
        share = len(chunk) // self.world_size if self.world_size > 1 else len(chunk)
        mine = chunk[self.rank * share:(self.rank + 1) * share] if self.world_size > 1 else chunk
        return BatchKey(int(epoch), int(step), tuple(mine))

    def __iter__(self) -> Iterator[BatchKey]:
        epoch, start = self.epoch, self.step
        end = len(self) if self.max_steps is None else min(len(self), self.max_steps)
        for step in range(start, end):
            self.step = step + 1  # position after this batch, as soon as it is handed out
            yield self.batch(epoch, step)
        self.epoch, self.step = epoch + 1, 0

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its first batch (like ``DistributedSampler.set_epoch``)."""
        self.epoch, self.step = int(epoch), 0

    def state_dict(self) -> dict:
        """The sampler's position (next batch to hand out) and what it must match on reload."""
        return {"epoch": self.epoch, "step": self.step, "seed": self.seed, "batch_size": self.batch_size,
                "num_videos": len(self.pool), "shuffle": self.shuffle, "drop_last": self.drop_last}

    def state_after(self, batch: Mapping | BatchKey | BatchPlan) -> dict:
        """The state to checkpoint once ``batch`` (a loader batch, its key or plan) has been consumed:
        resuming from it continues with the batch right after."""
        if isinstance(batch, Mapping):
            batch = batch["plan"]
        epoch, step = int(batch.epoch), int(batch.step) + 1
        if step >= len(self):
            epoch, step = epoch + 1, 0
        return {**self.state_dict(), "epoch": epoch, "step": step}

    def load_state_dict(self, state: Mapping) -> None:
        """Continue from ``state``; refuses one saved for a different order (seed, batch size, data)."""
        for key, mine in (("seed", self.seed), ("batch_size", self.batch_size), ("num_videos", len(self.pool))):
            if key in state and int(state[key]) != mine:
                raise ValueError(f"sampler state has {key}={state[key]} but this sampler has {mine}")
        self.epoch, self.step = int(state["epoch"]), int(state["step"])


# --------------------------------------------------------------------------------------------
# Frame counts (the index built once per dataset)
# --------------------------------------------------------------------------------------------


def video_paths(split: Any, root: str | Path | None, who: str) -> tuple[list, Path, list[str]]:
    """(items, video root, each item's file path) of a :class:`~stclr.data.splits.Split` or a list of items (then
    ``root`` is needed). Paths are joined from the items' "/"-separated relative paths, never globbed (HMDB-51's
    names hold glob characters)."""
    items = list(split.items if hasattr(split, "items") else split)
    root = root if root is not None else getattr(split, "root", None)
    if root is None:
        raise ValueError(f"{who} needs the video root (pass root= or a Split with .root)")
    return items, Path(root), [str(Path(root, *it.path.split("/"))) for it in items]


def _frame_range(item: Any, total: int) -> tuple[int, int]:
    """(offset, frames) of an item's annotated range inside a video of ``total`` frames
    (Diving-48's start/end; ``end`` exclusive, clipped to what decodes)."""
    start = int(getattr(item, "start", None) or 0)
    end = getattr(item, "end", None)
    end = total if end is None else min(int(end), total)
    return start, max(0, end - start)


def _probe_counts(paths: Sequence[str], threads: int) -> list[int | str]:
    """Frame count of each path, or the reason it is unreadable. Threads: PyAV decodes without the GIL."""
    def one(p: str) -> int | str:
        try:
            return _video.probe(p).num_frames
        except _video.VideoReadError as e:
            return f"unreadable: {e.cause}"
    if threads <= 1 or len(paths) < 8:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, paths))


def _cache_key(path: str) -> list:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def probe_frame_totals(items: Sequence[Any], paths: Sequence[str], cache_file: str | Path | None = None,
                       threads: int = 1) -> list[int | str]:
    """Frames that decode in each video (``paths[i]``, the file of ``items[i]``; :func:`stclr.video.probe`, one
    cheap decode pass each, ``threads`` at once), or ``"unreadable: <cause>"``.

    With ``cache_file`` the totals are kept in that JSON file, keyed by the item's relative path with the file's
    size and mtime (a changed file is probed again): pretraining, fine-tuning and retrieval runs then probe a
    dataset once, not once per run -- on UCF-101 a probe pass decodes all 13,320 videos."""
    cache_file = Path(cache_file) if cache_file is not None else None
    cache = _load_cache(cache_file)
    totals: list[int | str | None] = [None] * len(paths)
    todo = []
    for i, item in enumerate(items):
        hit = cache.get(item.path)
        try:
            key = _cache_key(paths[i])
        except OSError:
            key = None
        if hit is not None and key is not None and hit[:2] == key:
            totals[i] = hit[2]
        else:
            todo.append(i)
    for i, c in zip(todo, _probe_counts([paths[i] for i in todo], threads)):
        totals[i] = c
        if cache_file is not None and isinstance(c, int):
            cache[items[i].path] = _cache_key(paths[i]) + [c]
    if cache_file is not None and todo:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        _save_cache(cache_file, cache)
    return totals  # type: ignore[return-value]


def frames_cache_file(out_dir: str | Path, data) -> Path:
    """The JSON file of the dataset's frame totals beside a run's outputs (``out_dir/.cache``), shared by the
    pretraining, fine-tuning and retrieval runs written there with the same data settings."""
    # on_bad_video does not change what a probe counts: the same cache serves both settings
    return Path(out_dir) / ".cache" / f"frames-{config_hash(to_dict(data), ignore={'num_workers', 'on_bad_video'})}.json"


def _load_cache(cache_file: Path | None) -> dict:
    if cache_file is None or not cache_file.exists():
        return {}
    try:
        return json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(cache_file: Path, data: dict) -> None:
    write_text_atomic(cache_file, json.dumps(data))  # a killed run never leaves half a cache


# --------------------------------------------------------------------------------------------
# Pretraining dataset
# --------------------------------------------------------------------------------------------


class PretrainDataset(Dataset):
    """Map-style dataset over a split whose ``__getitem__`` takes a whole :class:`BatchKey`.

    ``split``: a :class:`stclr.data.splits.Split` (``items`` with relative ``path``); ``root``: the
    video folder (default ``split.root``). ``method``: stclr | simplified_tclr | tclr | ssl | ic.
    ``plan``: anything :meth:`stclr.plan.PlanConfig.from_any` takes (a PlanConfig, a mapping, a
    ``PretrainConfig``). ``size``: output side; ``augment``: the clip-view augmentation of local and
    global clips (a strength name for :func:`stclr.augment.build_train_augment`, or a callable
    uint8 ``[T,H,W,3]`` -> ``[C,T,size,size]``); ``ssl_augment``: the SSL clips' (default ``"ssl"``,
    Sec. 4.2.1, when ``augment`` is a name other than ``"none"``, else ``augment``). ``out_dtype=None`` keeps uint8 clips.

    ``frame_counts``: ``"probe"`` (default: probe each video once, in ``probe_threads`` threads,
    optionally cached in the JSON ``cache_file``), or a sequence of counts aligned with the items.
    ``on_bad_video``: ``"replace"`` (default) swaps a video that fails to decode for another, drawn from
    (seed, epoch, step), and reports it; ``"error"`` raises :class:`BadVideoError` naming the file and frame.
    ``max_bad_fraction``: more unreadable videos than this fraction of the split is an error either way.
    ``min_frames``: shorter videos are skipped (default: the clip length). ``decode_size``: passed to
    ``read_frames`` (``None`` native, an int short side, or (H, W)). ``threads``: torch intra-op threads
    while a batch is built (1: the clips are small; ``None`` leaves the process setting alone).
    """

    def __init__(
        self,
        split: Any,
        root: str | Path | None = None,
        *,
        method: str = "stclr",
        plan: Any = None,
        size: int | Sequence[int] = 112,
        augment: str | Callable = "tclr",
        ssl_augment: str | Callable | None = None,
        normalize: bool = False,
        out_dtype: torch.dtype | None = torch.float32,
        seed: int = 0,
        min_frames: int | None = None,
        frame_counts: str | Sequence[int] = "probe",
        cache_file: str | Path | None = None,
        probe_threads: int = 2,
        backend: str = "auto",
        decode_size: Any = None,
        max_bad_fraction: float = 0.5,
        threads: int | None = 1,
        on_bad_video: str = "replace",
    ):
        if on_bad_video not in ON_BAD_VIDEO:
            raise ValueError(f"on_bad_video must be one of {list(ON_BAD_VIDEO)}, got {on_bad_video!r}")
        if not 0.0 <= float(max_bad_fraction) < 1.0:
            raise ValueError(f"max_bad_fraction must be in [0, 1), got {max_bad_fraction!r}")
        self.on_bad_video = on_bad_video
        self.method = method
        self.threads = threads
        self.parts = method_parts(method)
        self.plan_config = PlanConfig.from_any(plan)
        self.items, self.root, self.paths = video_paths(split, root, "PretrainDataset")
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.out_dtype = out_dtype
        self.augment = build_train_augment(self.size, augment, normalize, out_dtype=out_dtype) if isinstance(augment, str) else augment
        if ssl_augment is None:  # "none" means no randomness anywhere (a deterministic batch for tests and plots)
            ssl_augment = ("none" if augment == "none" else "ssl") if isinstance(augment, str) else augment
        self.ssl_augment = build_train_augment(self.size, ssl_augment, normalize, out_dtype=out_dtype) if isinstance(ssl_augment, str) else ssl_augment
        self.seed = int(seed)
        self.min_frames = int(min_frames) if min_frames is not None else self.plan_config.length
        self.backend, self.decode_size = backend, decode_size
        self.max_bad_fraction = float(max_bad_fraction)
        self._warned: set[str] = set()
        self.bad: dict[int, str] = {}  # dataset index -> reason (index-time and, per process, run-time)
        self.probe_bad: dict[int, str] = {}  # index-time only: what replacements may depend on
        self.num_frames: list[int] = [0] * len(self.items)  # usable frames (inside the item's range)
        self.offsets: list[int] = [0] * len(self.items)
        self._index(frame_counts, Path(cache_file) if cache_file else None, probe_threads)

    # ---- index ------------------------------------------------------------------------------

    def _index(self, frame_counts, cache_file: Path | None, threads: int) -> None:
        if isinstance(frame_counts, str):
            if frame_counts != "probe":
                raise ValueError(f"frame_counts must be 'probe' or a sequence of ints, got {frame_counts!r}")
            counts = probe_frame_totals(self.items, self.paths, cache_file, threads)
        else:
            counts = list(frame_counts)
            if len(counts) != len(self.items):
                raise ValueError(f"{len(counts)} frame counts for {len(self.items)} videos")
        for i, (item, c) in enumerate(zip(self.items, counts)):
            if isinstance(c, str):
                self._mark_bad(i, c)
                continue
            self.offsets[i], self.num_frames[i] = _frame_range(item, int(c))
            if self.num_frames[i] < self.min_frames:
                self._mark_bad(i, f"too short: {self.num_frames[i]} frames < min_frames={self.min_frames}")
        self.probe_bad = dict(self.bad)
        self._pool = [i for i in range(len(self.items)) if i not in self.probe_bad]
        self._check_global()
        if self.on_bad_video == "error":
            unreadable = {i: r for i, r in self.bad.items() if not r.startswith("too short")}
            if unreadable:
                raise BadVideoError(
                    f"{len(unreadable)} video(s) cannot be read and data.on_bad_video='error': "
                    + "; ".join(f"{self.paths[i]}: {r}" for i, r in list(unreadable.items())[:10])
                    + " (data.on_bad_video='replace' trains on other videos instead, reported in bad_videos.json)")

    def _mark_bad(self, index: int, reason: str) -> None:
        self.bad[index] = reason
        path = self.paths[index]
        if path not in self._warned:  # ONE warning per video (per dataset, per process)
            self._warned.add(path)
            warnings.warn(f"skipping video {path}: {reason}", VideoSkippedWarning, stacklevel=3)

    def _check_global(self) -> None:
        n, bad = len(self.items), len(self.bad)
        if n == 0:
            raise DatasetUnreadableError("the split has no videos")
        if bad > self.max_bad_fraction * n or bad == n:
            examples = "; ".join(f"{self.items[i].path}: {r}" for i, r in list(self.bad.items())[:5])
            raise DatasetUnreadableError(
                f"{bad} of {n} videos under {self.root} are unreadable or too short "
                f"(more than max_bad_fraction={self.max_bad_fraction:.0%}); is the root right, or the "
                f"dataset damaged? First ones: {examples}"
            )

    @property
    def usable(self) -> list[int]:
        """Indices of the videos that can be read (in this process's knowledge)."""
        return [i for i in range(len(self.items)) if i not in self.bad]

    def summary(self) -> str:
        return (f"PretrainDataset({self.method}, {len(self.items)} videos, {len(self.bad)} skipped, "
                f"plan={self.plan_config})")

    __repr__ = summary

    def __len__(self) -> int:
        return len(self.items)

    # ---- one batch ----------------------------------------------------------------------------

    def __getitem__(self, key: BatchKey | tuple | int) -> dict:
        """``key``: a :class:`BatchKey` (what the sampler yields), an ``(epoch, step, indices)`` tuple, or
        a single index (a batch of that one video, for a quick look)."""
        if isinstance(key, (int, np.integer)):
            key = BatchKey(0, 0, (int(key),))
        epoch, step, indices = key
        return self.load_batch(indices, epoch, step)

    def plan(self, indices: Sequence[int], epoch: int = 0, step: int = 0) -> BatchPlan:
        """The plan of a batch of (usable) videos, without decoding anything."""
        return plan_batch(indices, [self.num_frames[i] for i in indices], self.method, self.plan_config,
                          self.seed, epoch, step)

    def load_batch(self, indices: Sequence[int], epoch: int = 0, step: int = 0) -> dict:
        """Plan, decode (each video once) and augment one batch -> the pretraining batch dict."""
        before = _video.get_counters()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        rows = [int(i) for i in indices]
        skipped: list[tuple[int, str, str]] = []
        failed: list[dict] = []  # run-time decode failures of this batch (the run's bad_videos.json)
        # Only what the probe found is replaced before planning. A video seen failing earlier in this process is
        # tried again (and fails again): replacing it on sight would make the batch depend on what this worker
        # happened to decode before, so a resumed run or another worker count would train on other videos.
        for r, i in enumerate(rows):
            if i in self.probe_bad:
                skipped.append((i, self.paths[i], self.probe_bad[i]))
                rows[r] = self._replacement(rows, epoch, step, len(skipped), skipped)
        failures = 0
        while True:
            plan = self.plan(rows, epoch, step)
            try:
                batch = self._decode_and_assemble(plan)
                break
            except _BadRow as e:  # probed fine, failed to decode: same treatment, then re-plan
                failures += 1
                i = rows[e.row]
                where = f" at frame {e.frame}" if e.frame is not None else ""
                if self.on_bad_video == "error":
                    raise BadVideoError(
                        f"{self.paths[i]}: {e.reason}{where} (batch of epoch {epoch}, step {step}) and "
                        f"data.on_bad_video='error'; 'replace' would train on another video instead") from None
                self._mark_bad(i, e.reason + where)
                skipped.append((i, self.paths[i], e.reason + where))
                failed.append({"index": i, "path": self.paths[i], "frame": e.frame, "reason": e.reason,
                               "epoch": int(epoch), "step": int(step)})
                if failures > len(rows):  # more than half of this batch's attempts failed
                    raise DatasetUnreadableError(
                        f"{failures} of {len(rows) + failures} videos tried for batch (epoch {epoch}, step {step}) "
                        f"failed to decode; last: {self.paths[i]}{where}: {e.reason}") from None
                self._check_global()
                rows[e.row] = self._replacement(rows, epoch, step, len(skipped), skipped)
        after = _video.get_counters()
        stats = {k: after[k] - before.get(k, 0) for k in after}
        stats.update(videos=len(rows), videos_skipped=len(skipped), frames_planned=plan.frames_to_decode(),
                     # CPU seconds of this process (robust to other load on the machine) and wall seconds
                     cpu_s=time.process_time() - cpu0, wall_s=time.perf_counter() - wall0)
        batch["stats"] = stats
        batch["skipped"] = skipped
        if failed:
            batch["bad_videos"] = failed
        return batch

    def _replacement(self, rows: Sequence[int], epoch: int, step: int, attempt: int,
                     skipped: Sequence[tuple] = ()) -> int:
        """A video that passed the probe, not in the batch and not already failed in it, drawn from (seed, epoch,
        step, attempt): the same in every process, whatever it decoded before."""
        rng = np.random.default_rng([self.seed, int(epoch), int(step), 0xBAD, int(attempt)])
        taken = set(rows) | {s[0] for s in skipped}
        pool = [i for i in self._pool if i not in taken] or self._pool  # tiny datasets: allow a repeat
        if not pool:
            raise DatasetUnreadableError(f"no readable video left under {self.root}")
        return pool[int(rng.integers(0, len(pool)))]

    def _torch_seed(self, plan: BatchPlan) -> int:
        # The videos are part of the key: DDP ranks load different shares of the same step, and must
        # not draw identical crops for them.
        key = [self.seed, plan.epoch, plan.step, 0xA06, *plan.indices]
        return int(np.random.SeedSequence(key).generate_state(1)[0])

    def _decode(self, plan: BatchPlan, r: int) -> torch.Tensor:
        v = plan.videos[r]
        path = self.paths[v.index]
        try:
            frames = _video.read_frames(path, v.frames + self.offsets[v.index], size=self.decode_size,
                                        backend=self.backend)
        except _video.VideoReadError as e:
            raise _BadRow(r, f"decode failed: {e.cause}", getattr(e, "frame", None)) from None
        if frames.shape[0] != len(v.frames):
            raise _BadRow(r, f"decode returned {frames.shape[0]} of {len(v.frames)} frames")
        return frames

    def _decode_and_assemble(self, plan: BatchPlan) -> dict:
        """Decode row by row; cut and augment every clip that uses a row right after its decode."""
        B, cfg = plan.batch_size, plan.config
        C, (H, W) = 3, self.size
        dtype = self.out_dtype or torch.uint8
        out: dict[str, Any] = {}
        if plan.parts & {"sparse", "dense"}:
            N = len(plan.videos[0].local)
            out["clips"] = torch.empty(B, N, 2, C, cfg.length, H, W, dtype=dtype)
            out["ic_pair"] = torch.tensor([v.ic_pair for v in plan.videos], dtype=torch.long)
        if "dense" in plan.parts:
            out["global_clips"] = torch.empty(B, 2, C, cfg.length, H, W, dtype=dtype)
        takes: dict[int, list[tuple[int, int]]] = {}  # source row -> SSL (tuple, position) cut from it
        if plan.ssl is not None:
            out["ssl_clips"] = torch.empty(B, 3, C, cfg.ssl_clip_length, H, W, dtype=dtype)
            out["ssl_labels"] = torch.tensor(plan.ssl_labels, dtype=torch.long)
            for t, s in enumerate(plan.ssl):
                for k, src in enumerate(s.rows):
                    takes.setdefault(src, []).append((t, k))
        with torch.random.fork_rng(devices=[]), _intra_op_threads(self.threads):
            torch.manual_seed(self._torch_seed(plan))  # randomness from (seed, epoch, step, videos) only
            for r, v in enumerate(plan.videos):
                frames = self._decode(plan, r)  # uint8 [F, H0, W0, 3], F = len(v.frames)
                for p in range(len(v.local)):
                    clip = _gather(frames, v.local_pos[p])
                    out["clips"][r, p, 0] = self.augment(clip)
                    out["clips"][r, p, 1] = self.augment(clip)
                if v.global_clip is not None:
                    clip = _gather(frames, v.global_pos)
                    out["global_clips"][r, 0] = self.augment(clip)
                    out["global_clips"][r, 1] = self.augment(clip)
                for t, k in takes.get(r, ()):
                    out["ssl_clips"][t, k] = self.ssl_augment(_gather(frames, plan.ssl[t].pos[k]))
                del frames
        out["index"] = torch.tensor(plan.indices, dtype=torch.long)
        out["plan"] = plan
        return out


def _gather(frames: torch.Tensor, pos: np.ndarray) -> torch.Tensor:
    """``frames[pos]`` for frames ``[F, ...]``: rows of a 2-D view (``index_select`` on whole frames is
    ~10x faster than advanced indexing of a 4-D uint8 tensor)."""
    flat = frames.reshape(frames.shape[0], -1)
    return flat.index_select(0, torch.from_numpy(np.asarray(pos, dtype=np.int64))).view(len(pos), *frames.shape[1:])


@contextlib.contextmanager
def _intra_op_threads(n: int | None):
    """Run with ``n`` torch intra-op threads, then restore. Per-clip tensors are small: extra threads
    only add synchronisation (10x slower on a busy 2-core machine). DataLoader workers already use 1."""
    prev = torch.get_num_threads()
    if n is None or n == prev:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


class _BadRow(Exception):
    def __init__(self, row: int, reason: str, frame: int | None = None):
        super().__init__(reason)
        self.row, self.reason, self.frame = row, reason, frame


def collate_planned(batch: dict) -> dict:
    """The DataLoader's ``collate_fn``: a batch is already assembled by the dataset; pass it through
    (the default would walk the plan object)."""
    return batch


def ignore_stop_signals(worker_id: int | None = None) -> None:
    """DataLoader ``worker_init_fn``: workers ignore SIGINT and SIGTERM, which a terminal's Ctrl-C and a
    scheduler (Slurm signals the whole job step) send to every process, so that the training process alone decides
    when to stop (after saving), instead of seeing its workers die mid-batch. Workers still end with the
    training process: the DataLoader shuts them down, and they watch for their parent's death."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def make_pretrain_loader(
    dataset: PretrainDataset,
    batch_size: int,
    *,
    num_workers: int = 0,
    seed: int | None = None,
    shuffle: bool = True,
    drop_last: bool = True,
    pin_memory: bool = False,
    persistent_workers: bool = False,
    prefetch_factor: int | None = 2,
    rank: int = 0,
    world_size: int = 1,
    sampler_state: Mapping | None = None,
) -> tuple[DataLoader, PlannedBatchSampler]:
    """A DataLoader over ``dataset`` whose every item is one planned batch, and its sampler.

    ``seed`` defaults to the dataset's. Restore a position with ``sampler_state`` (from
    :meth:`PlannedBatchSampler.state_after`).
    """
    sampler = PlannedBatchSampler(len(dataset), batch_size, seed=dataset.seed if seed is None else seed,
                                  shuffle=shuffle, drop_last=drop_last, rank=rank, world_size=world_size)
    if sampler_state is not None:
        sampler.load_state_dict(sampler_state)
    kwargs: dict[str, Any] = {}
    if num_workers > 0:
        # workers leave SIGTERM/SIGINT to the training process, which stops at a step boundary after saving
        kwargs.update(persistent_workers=persistent_workers, prefetch_factor=prefetch_factor,
                      worker_init_fn=ignore_stop_signals)
    loader = DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=num_workers,
                        collate_fn=collate_planned, pin_memory=pin_memory, **kwargs)
    return loader, sampler


# --------------------------------------------------------------------------------------------
# The run's report of bad videos
# --------------------------------------------------------------------------------------------

BAD_VIDEOS_FILE = "bad_videos.json"


class BadVideoReport:
    """A run's ``bad_videos.json``: one entry per video that the run did not train on as drawn -- ``kind``
    ``"unreadable"`` / ``"too_short"`` (found by the probe, ``frame`` None) or ``"decode_failed"`` (found while
    decoding a batch: ``frame`` is where decoding broke, ``epoch`` / ``step`` the batch that found it first). Each
    new decode failure is also printed as one line to ``log``. Written atomically on every change; a resumed run
    keeps the entries of the file it finds (the files are no better for a restart)."""

    def __init__(self, path: str | Path, dataset: PretrainDataset | None = None, *, enabled: bool = True,
                 log: Callable[[str], None] | None = None):
        self.path, self.enabled, self.log = Path(path), enabled, log
        self.entries: dict[str, dict] = {}
        if enabled and self.path.exists():
            try:
                self.entries = {e["path"]: e for e in json.loads(self.path.read_text())["videos"]}
            except (OSError, ValueError, KeyError, TypeError):
                self.entries = {}  # a damaged report is rebuilt from what this run finds
        for i, reason in (dataset.probe_bad.items() if dataset is not None else ()):
            kind = "too_short" if reason.startswith("too short") else "unreadable"
            self.entries.setdefault(dataset.paths[i], {"path": dataset.paths[i], "kind": kind, "frame": None,
                                                       "reason": reason, "found": "probe"})
        self.write()

    @classmethod
    def for_rank(cls, folder: str | Path, dataset: PretrainDataset, rank: int = 0) -> "BadVideoReport":
        """The report of one rank of a run in ``folder``, logging to stderr. Under torchrun each rank decodes its
        own share: rank 0 writes ``bad_videos.json`` (with the probe's finds), another rank
        ``bad_videos.rank<r>.json`` once it finds a decode failure of its own."""
        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        if rank == 0:
            return cls(Path(folder) / BAD_VIDEOS_FILE, dataset, log=log)
        report = cls(Path(folder) / BAD_VIDEOS_FILE.replace(".json", f".rank{rank}.json"), enabled=False, log=log)
        report.enabled = True  # written only when this rank finds a decode failure
        return report

    def add(self, failures: Iterable[Mapping]) -> None:
        """Record a batch's ``batch["bad_videos"]``; new files are logged and the report rewritten."""
        new = False
        for f in failures:
            if f["path"] in self.entries:
                continue
            self.entries[f["path"]] = {"path": f["path"], "kind": "decode_failed", "frame": f.get("frame"),
                                       "reason": f["reason"], "found": "decode", "epoch": f.get("epoch"),
                                       "step": f.get("step")}
            new = True
            if self.log is not None and self.enabled:
                where = f" at frame {f['frame']}" if f.get("frame") is not None else ""
                self.log(f"bad video: {f['path']} failed to decode{where} ({f['reason']}) in the batch of epoch "
                         f"{f.get('epoch')}, step {f.get('step')}; replaced by another video; listed in {self.path}")
        if new:
            self.write()

    def write(self) -> None:
        if self.enabled:
            write_text_atomic(self.path, json.dumps({"videos": list(self.entries.values())}, indent=2) + "\n")


# --------------------------------------------------------------------------------------------
# Counters across workers
# --------------------------------------------------------------------------------------------


@dataclass
class LoaderStats:
    """Sums the per-batch counters that workers return in ``batch["stats"]`` (and the plans' counts).

    ``videos_opened``/``decode_calls``/``frames_decoded``: from :mod:`stclr.video`'s counters, measured
    in the process that built each batch; ``videos_skipped``: replacements of bad videos; ``cpu_s`` /
    ``wall_s``: CPU and wall seconds spent building batches, summed over workers;
    ``plan``: :meth:`stclr.plan.BatchPlan.counts` summed (SSL cross/same-video tuples, fallbacks, ...).
    """

    batches: int = 0
    videos: int = 0
    videos_opened: int = 0
    decode_calls: int = 0
    frames_decoded: int = 0
    frames_planned: int = 0
    videos_skipped: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    skipped_paths: Counter = field(default_factory=Counter)
    plan: Counter = field(default_factory=Counter)

    def update(self, batch: Mapping) -> Mapping:
        s = batch.get("stats", {})
        self.batches += 1
        for name in ("videos", "videos_opened", "decode_calls", "frames_decoded", "frames_planned", "videos_skipped"):
            setattr(self, name, getattr(self, name) + int(s.get(name, 0)))
        self.cpu_s += float(s.get("cpu_s", 0.0))
        self.wall_s += float(s.get("wall_s", 0.0))
        for _, path, _ in batch.get("skipped", ()):
            self.skipped_paths[path] += 1
        plan = batch.get("plan")
        if plan is not None:
            self.plan.update(plan.counts())
        return batch

    def track(self, batches: Iterable[Mapping]) -> Iterator[Mapping]:
        """Wrap a loader: ``for batch in stats.track(loader)`` updates the totals as batches arrive."""
        for b in batches:
            yield self.update(b)

    def as_dict(self) -> dict:
        return {
            "batches": self.batches, "videos": self.videos, "videos_opened": self.videos_opened,
            "decode_calls": self.decode_calls, "frames_decoded": self.frames_decoded,
            "frames_planned": self.frames_planned, "videos_skipped": self.videos_skipped,
            "cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3), "plan": dict(self.plan),
        }
