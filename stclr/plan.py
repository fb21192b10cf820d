"""The batch planner: every clip of every video of a batch, decided up front, one decode per video.

``docs/method.md`` §6 (the batch plan). The paper's loader reads ``N + (1 - C1) N + K N C1`` videos
per epoch (3.2 N at C1 = 0.6; Sec. 4.2.4, Table 6) because the SSL tuple (Sec. 3.3) reads its own
videos. Here a batch is planned centrally instead:

1. each video gets its local clips (STCLR's N sparse clips, or TCLR's 4 dense + 1 global clip) and
   its instance-contrastive pair ``ic_pair`` (two different local clips, Sec. 3.1);
2. each video gets one SSL tuple; a cross-video tuple (probability C1) takes its other two clips
   from OTHER videos OF THE SAME BATCH, which are decoded anyway;
3. each video's frame indices (its own clips + the SSL clips other videos take from it) are merged
   into one sorted union, so each video is opened and decoded exactly once per step, whatever C1
   is; every clip keeps a map to its positions in that union.

The plan is plain data (dataclasses + numpy arrays), deterministic by ``(seed, epoch, step)`` and
the batch's video indices: easy to test, to print in a notebook (``print(plan)``, ``plan.to_dict()``)
and to count (``plan.counts()``, :func:`videos_read`).

Random streams are separate per purpose and keyed by the *dataset index* of each video, so a
video's local clips do not depend on its row or on the other videos of the batch (``stclr`` and
``simplified_tclr`` draw the same local clips for the same seed); only SSL tuples depend on the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

import numpy as np

from stclr.method_table import METHOD_TABLE, method_names

from stclr.sampling import (
    SSL_LABEL_NAMES,
    SSL_SPEEDS,
    ClipSpec,
    SSLTuple,
    draw_ssl_tuple,
    resolve_skips,
    sparse_local_clips,
    tclr_clips,
)

__all__ = [
    "METHODS",
    "PlanConfig",
    "VideoPlan",
    "SSLPlan",
    "BatchPlan",
    "plan_batch",
    "videos_read",
    "method_parts",
]

METHODS = method_names()

# Salts of the per-purpose random streams (any distinct constants).
_LOCAL, _IC, _SSL = 11, 12, 13


def method_parts(method: str) -> frozenset[str]:
    """The clip groups ``method`` needs: subset of {"sparse", "dense", "ssl"}."""
    try:
        return METHOD_TABLE[method].clips
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}") from None


@dataclass(frozen=True)
class PlanConfig:
    """What the planner needs to know (the rest of a training config is ignored).

    ``skips``: sparse-clip skip rates (a preset name or a tuple; Sec. 3.2/4.2.3); ``length``: frames
    per clip (L); ``policy``: too-short videos (fit | loop | mirror, :mod:`stclr.sampling`);
    ``c1``/``c2``/``ssl_speeds``/``ssl_length``: the SSL tuple (Sec. 3.3; ``ssl_length`` None = L);
    ``tclr_*``: TCLR's dense clips (4 local + global at skip 4; too-short windows reflected).
    ``ic_distinct_skips``: draw the IC pair among clips whose *effective* skips differ when possible
    (Sec. 3.1: "their speeds are different"), which matters after ``fit`` lowered some skips.
    """

    skips: tuple[int, ...] = (1, 4, 8, 16, 32)
    length: int = 16
    policy: str = "fit"
    c1: float = 0.6
    c2: float = 0.75
    ssl_speeds: tuple[int, ...] = SSL_SPEEDS
    ssl_length: int | None = None
    tclr_n_local: int = 4
    tclr_global_skip: int = 4
    tclr_policy: str = "mirror"
    ic_distinct_skips: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "skips", resolve_skips(self.skips))
        object.__setattr__(self, "ssl_speeds", tuple(int(s) for s in self.ssl_speeds))
        if not 0.0 <= self.c1 <= 1.0 or not 0.0 <= self.c2 <= 1.0:
            raise ValueError(f"c1 and c2 are probabilities, got c1={self.c1}, c2={self.c2}")
        if len(self.skips) < 2:
            raise ValueError("at least two local clips are needed (the IC pair takes two different ones)")

    @property
    def n_local(self) -> int:
        return len(self.skips)

    @property
    def ssl_clip_length(self) -> int:
        return self.ssl_length or self.length

    # Names used by stclr.config.PretrainConfig / DataConfig for the same things.
    _ALIASES = {"length": ("clip_len",), "policy": ("short_policy",)}

    @classmethod
    def from_any(cls, cfg: Any = None, **overrides) -> "PlanConfig":
        """A PlanConfig from ``None`` (defaults), a PlanConfig, a mapping, or any object with matching
        attributes (e.g. ``stclr.config.PretrainConfig``: ``clip_len``, ``skips``, ``c1``, ``c2``,
        ``ssl_speeds`` and ``data.short_policy`` are picked up); ``overrides`` win."""
        if isinstance(cfg, cls) and not overrides:
            return cfg
        values: dict[str, Any] = {}
        if cfg is not None:
            get = (lambda k: cfg.get(k, _MISSING)) if isinstance(cfg, Mapping) else (lambda k: getattr(cfg, k, _MISSING))
            data = get("data")
            for f in fields(cls):
                for name in (f.name, *cls._ALIASES.get(f.name, ())):
                    v = get(name)
                    if v is _MISSING and data is not _MISSING and data is not None:
                        v = data.get(name, _MISSING) if isinstance(data, Mapping) else getattr(data, name, _MISSING)
                    if v is not _MISSING:
                        values[f.name] = v
                        break
        values.update(overrides)
        return cls(**values)


_MISSING = object()


@dataclass(frozen=True, eq=False)
class VideoPlan:
    """One row of the batch: dataset ``index``, its clips, and the single decode that serves them.

    ``frames``: int64 ``[F]``, the sorted union of every frame index needed from this video (its own
    clips and the SSL clips other rows take from it). ``local_pos``: ``[N, L]`` positions of each
    local clip's frames in ``frames`` (``frames[local_pos[p]] == local[p].indices(num_frames)``);
    ``global_pos``: ``[L]`` for TCLR's global clip. Absent parts are empty tuples / None.
    """

    row: int
    index: int
    num_frames: int
    local: tuple[ClipSpec, ...]
    ic_pair: tuple[int, int] | None
    global_clip: ClipSpec | None
    frames: np.ndarray
    local_pos: np.ndarray | None
    global_pos: np.ndarray | None

    def to_dict(self) -> dict:
        return {
            "row": self.row,
            "index": self.index,
            "num_frames": self.num_frames,
            "local": [c.to_dict() for c in self.local],
            "ic_pair": list(self.ic_pair) if self.ic_pair else None,
            "global_clip": self.global_clip.to_dict() if self.global_clip else None,
            "frames": self.frames.tolist(),
            "local_pos": None if self.local_pos is None else self.local_pos.tolist(),
            "global_pos": None if self.global_pos is None else self.global_pos.tolist(),
        }


@dataclass(frozen=True, eq=False)
class SSLPlan:
    """The SSL tuple of one row. ``rows[k]``: the batch row whose decode clip k is cut from;
    ``pos``: ``[3, L]`` positions in those rows' ``frames``. ``sample`` keeps the sampler's record
    (speeds, label, cross-video flag, fallback notes)."""

    rows: tuple[int, int, int]
    sample: SSLTuple
    pos: np.ndarray

    @property
    def label(self) -> int:
        return self.sample.label

    def to_dict(self) -> dict:
        return {"rows": list(self.rows), **self.sample.to_dict(), "pos": self.pos.tolist()}


@dataclass(frozen=True, eq=False)
class BatchPlan:
    """Every clip of every video of one batch (see the module docstring). Plain, inspectable data."""

    method: str
    seed: int
    epoch: int
    step: int
    config: PlanConfig
    videos: tuple[VideoPlan, ...]
    ssl: tuple[SSLPlan, ...] | None = None
    parts: frozenset[str] = field(default_factory=frozenset)

    @property
    def batch_size(self) -> int:
        return len(self.videos)

    @property
    def indices(self) -> list[int]:
        return [v.index for v in self.videos]

    @property
    def ssl_labels(self) -> list[int]:
        return [s.label for s in self.ssl] if self.ssl else []

    def frames_to_decode(self) -> int:
        """Frames requested from the decoder over the batch (sum of the unions' sizes)."""
        return int(sum(len(v.frames) for v in self.videos))

    def counts(self) -> dict[str, int]:
        """What the plan did, for logs and tests: clip adjustments and SSL tuple statistics."""
        local = [c for v in self.videos for c in v.local]
        out = {
            "videos": self.batch_size,
            "videos_read": videos_read(self),
            "frames_to_decode": self.frames_to_decode(),
            "local_clips": len(local),
            "local_skip_lowered": sum(c.skip != c.requested_skip for c in local),
            "local_wrapped": sum(c.policy != "fit" for c in local) + sum(
                v.global_clip is not None and v.global_clip.policy != "fit" for v in self.videos),
        }
        if self.ssl is not None:
            tuples = [s.sample for s in self.ssl]
            out["ssl_cross_video"] = sum(t.cross_video for t in tuples)
            out["ssl_same_video"] = sum(not t.cross_video for t in tuples)
            for lab, name in enumerate(SSL_LABEL_NAMES):
                out[f"ssl_label_{name}"] = sum(t.label == lab for t in tuples)
            for note in ("cross_video_impossible", "resourced", "pair_moved", "label_switched", "mirror_fallback"):
                out[f"ssl_{note}"] = sum(note in t.notes for t in tuples)
        return out

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "seed": self.seed,
            "epoch": self.epoch,
            "step": self.step,
            "config": {f.name: getattr(self.config, f.name) for f in fields(self.config)},
            "videos": [v.to_dict() for v in self.videos],
            "ssl": None if self.ssl is None else [s.to_dict() for s in self.ssl],
        }

    def __repr__(self) -> str:
        return f"<BatchPlan {self.method} seed={self.seed} epoch={self.epoch} step={self.step} B={self.batch_size}>"

    def __str__(self) -> str:  # a readable table for notebooks
        lines = [repr(self)]
        for v in self.videos:
            clips = " ".join(f"{c.start}+{c.skip}k" + ("*" if c.adjusted else "") for c in v.local)
            glob = f" | global {v.global_clip.start}+{v.global_clip.skip}k" if v.global_clip else ""
            pair = f" | ic {v.ic_pair}" if v.ic_pair else ""
            lines.append(f"  row {v.row:2d} video {v.index:5d} ({v.num_frames:4d} fr): {clips}{glob}{pair} | decode {len(v.frames)} fr")
        for r, s in enumerate(self.ssl or ()):
            t = s.sample
            src = "cross" if t.cross_video else "same "
            clips = ", ".join(f"row{row}:{c.start}+{c.skip}k" + ("*" if c.adjusted else "") for row, c in zip(s.rows, t.clips))
            notes = f" [{', '.join(t.notes)}]" if t.notes else ""
            lines.append(f"  ssl {r:2d} {src} label {t.label} ({t.label_name:>4}): {clips}{notes}")
        lines.append("  (* = clip adjusted for a short video: lowered skip or wrapped)")
        return "\n".join(lines)


def videos_read(plan: BatchPlan) -> int:
    """Number of distinct videos the plan decodes (== B: each video once, whatever C1 is)."""
    return len({v.index for v in plan.videos if len(v.frames)})


def _rng(seed: int, epoch: int, step: int, purpose: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(epoch), int(step), purpose, *map(int, key)])


def _ic_pair(local: Sequence[ClipSpec], rng: np.random.Generator, distinct: bool) -> tuple[int, int]:
    """Two different local clips, random order (first: view a, second: view b; Sec. 3.1)."""
    n = len(local)
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    if distinct:
        differ = [(a, b) for a, b in pairs if local[a].skip != local[b].skip]
        pairs = differ or pairs
    a, b = pairs[int(rng.integers(0, len(pairs)))]
    return a, b


def plan_batch(
    video_indices: Sequence[int],
    num_frames_per_video: Sequence[int],
    method: str = "stclr",
    cfg: Any = None,
    seed: int = 0,
    epoch: int = 0,
    step: int = 0,
) -> BatchPlan:
    """Plan every clip of a batch of videos for ``method`` (one of :data:`METHODS`).

    ``video_indices[r]``: dataset index of row r; ``num_frames_per_video[r]``: its frame count.
    ``cfg``: anything :meth:`PlanConfig.from_any` accepts. Deterministic by (seed, epoch, step, indices).
    """
    parts = method_parts(method)
    cfg = PlanConfig.from_any(cfg)
    idx = [int(i) for i in video_indices]
    nfr = [int(n) for n in num_frames_per_video]
    if len(idx) != len(nfr):
        raise ValueError(f"{len(idx)} videos but {len(nfr)} frame counts")
    if not idx:
        raise ValueError("a batch needs at least one video")
    if min(nfr) < 1:
        raise ValueError(f"every video needs at least one frame, got counts {nfr}")

    # Occurrence number, so a video listed twice in a batch gets two independent draws.
    seen: dict[int, int] = {}
    occ = []
    for i in idx:
        occ.append(seen.get(i, 0))
        seen[i] = occ[-1] + 1

    local: list[tuple[ClipSpec, ...]] = []
    globals_: list[ClipSpec | None] = []
    pairs: list[tuple[int, int] | None] = []
    for r, (i, n) in enumerate(zip(idx, nfr)):
        rng = _rng(seed, epoch, step, _LOCAL, i, occ[r])
        if "sparse" in parts:
            clips, glob = sparse_local_clips(n, rng, cfg.skips, cfg.length, cfg.policy), None
        elif "dense" in parts:
            t = tclr_clips(n, rng, cfg.length, cfg.tclr_n_local, cfg.tclr_global_skip, cfg.tclr_policy)
            clips, glob = t.local, t.global_clip
        else:
            clips, glob = (), None
        local.append(clips)
        globals_.append(glob)
        pairs.append(_ic_pair(clips, _rng(seed, epoch, step, _IC, i, occ[r]), cfg.ic_distinct_skips) if clips else None)

    tuples: list[SSLTuple] | None = None
    if "ssl" in parts:
        rng = _rng(seed, epoch, step, _SSL, *idx)
        tuples = [
            draw_ssl_tuple(nfr, r, rng, c1=cfg.c1, c2=cfg.c2, length=cfg.ssl_clip_length, speeds=cfg.ssl_speeds)
            for r in range(len(idx))
        ]

    return _merge(method, seed, epoch, step, cfg, parts, idx, nfr, local, globals_, pairs, tuples)


def _merge(method, seed, epoch, step, cfg, parts, idx, nfr, local, globals_, pairs, tuples) -> BatchPlan:
    """Union each row's frame indices (own clips + SSL clips taken from it) and map clips to positions."""
    wanted: list[list[np.ndarray]] = [[] for _ in idx]
    for r, n in enumerate(nfr):
        wanted[r] += [c.indices(n) for c in local[r]]
        if globals_[r] is not None:
            wanted[r].append(globals_[r].indices(n))
    for t in tuples or ():
        for src, clip in zip(t.sources, t.clips):
            wanted[src].append(clip.indices(nfr[src]))
    unions = [np.unique(np.concatenate(w)) if w else np.zeros(0, np.int64) for w in wanted]

    def pos(r: int, clip: ClipSpec) -> np.ndarray:
        return np.searchsorted(unions[r], clip.indices(nfr[r]))

    videos = tuple(
        VideoPlan(
            row=r,
            index=idx[r],
            num_frames=nfr[r],
            local=local[r],
            ic_pair=pairs[r],
            global_clip=globals_[r],
            frames=unions[r],
            local_pos=np.stack([pos(r, c) for c in local[r]]) if local[r] else None,
            global_pos=pos(r, globals_[r]) if globals_[r] is not None else None,
        )
        for r in range(len(idx))
    )
    ssl = None
    if tuples is not None:
        ssl = tuple(
            SSLPlan(rows=t.sources, sample=t, pos=np.stack([pos(src, c) for src, c in zip(t.sources, t.clips)]))
            for t in tuples
        )
    return BatchPlan(method, int(seed), int(epoch), int(step), cfg, videos, ssl, parts)
