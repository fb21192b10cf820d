"""Figures (and the small measurements behind them) for the data notebooks 00-02.

Every ``plot_*`` function takes plain data -- frames, :class:`~stclr.sampling.ClipSpec` lists, a
:class:`~stclr.plan.BatchPlan`, numbers -- and returns a :class:`matplotlib.figure.Figure` that is NOT
registered with pyplot: nothing is shown or leaked as a side effect. In a notebook, end the cell with the
figure (``fig``) to display it, or call ``display(fig)`` inside a widget callback; ``fig.savefig(path)``
works as usual.

Colours are consistent across every figure of the course:

- a skip rate always has the same colour (:func:`skip_color`): slow clips cool/dark, fast clips warm;
- a motion phase of the synthetic dataset always has the same pale colour (:func:`phase_color`), drawn as
  background bands behind clip timelines (the idea of the paper's Fig. 2: red "running", cyan "jumping").

Measurements (pure functions, tested in ``tests/test_viz_data.py``):

- :func:`clip_set_coverage` / :func:`phase_coverage` -- which action phases a set of clips touches (the
  argument of Sec. 1 and Fig. 2: dense adjacent clips tend to fall in one phase, sparse clips span several);
- :func:`look_class_counts` -- how the synthetic dataset's appearance pool is shared across classes;
- :func:`motion_energy` -- mean absolute temporal difference (where things move);
- :func:`frame_spread` -- how much each frame of a clip differs from its first (clip-consistency check);
- :func:`transform_showcase` -- each TCLR augmentation alone, forced on, for "one row per transform" grids.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from stclr.sampling import ClipSpec, TCLRClips

__all__ = [
    "SKIP_ORDER",
    "skip_color",
    "phase_color",
    "COVERAGE_METRICS",
    "normalize_phases",
    "phase_index",
    "clip_set_coverage",
    "phase_coverage",
    "look_class_counts",
    "motion_energy",
    "frame_spread",
    "as_frames",
    "transform_showcase",
    "plot_clip_timeline",
    "plot_dense_vs_sparse",
    "plot_clip_frames",
    "plot_class_strips",
    "plot_appearance_vs_motion",
    "plot_look_class_counts",
    "plot_frame_grid",
    "plot_clip_rows",
    "plot_view_pairs",
    "plot_frame_consistency",
    "plot_skip_presets",
    "plot_policies",
    "plot_phase_coverage",
    "plot_batch_plan",
    "plot_wrong_frames",
]

# --------------------------------------------------------------------------------------------------------------
# Colours

#: Every skip rate the presets use (Sec. 4.2.2, 4.2.3, 4.3.1). A skip's colour is its position on this
#: ladder (interpolated on a log scale for other values, e.g. a skip lowered by the ``fit`` policy).
SKIP_ORDER: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32)
_SKIP_CMAP = "nipy_spectral"
_SKIP_RANGE = (0.06, 0.93)  # saturated, distinct hues: purple, blue, teal, green, yellow, orange, red

_PHASE_COLORS = {
    "slide": "#f6b3ae",  # the paper's Fig. 2 draws "running" in red ...
    "hop": "#a9dfe6",  # ... and "jumping" in cyan
    "spin": "#cdb9e6",
    "pulse": "#f9d79c",
    "orbit": "#b8e0b0",
    "zigzag": "#f3c1dd",
    "jitter": "#d6d6d6",
    "diagonal": "#c9d3f0",
}
_EXTRA_PHASE_COLORS = ("#e8d5b7", "#b5e3d5", "#eac4c4", "#cfe3a8")
_INK = "#222222"  # text and outlines
_MUTED = "#8a8a8a"


def skip_color(skip: float) -> tuple[float, float, float, float]:
    """The RGBA colour of a skip rate, the same in every figure (1 = purple, 4 = teal, 8 = green, 16 = orange, 32 = red)."""
    if skip <= 0:
        raise ValueError(f"skip must be positive, got {skip}")
    ladder = np.log(np.asarray(SKIP_ORDER, dtype=float))
    pos = float(np.interp(np.log(float(skip)), ladder, np.arange(len(SKIP_ORDER)))) / (len(SKIP_ORDER) - 1)
    lo, hi = _SKIP_RANGE
    return tuple(colormaps[_SKIP_CMAP](lo + (hi - lo) * pos))  # type: ignore[return-value]


def phase_color(kind: str) -> str:
    """The pale background colour of a motion phase (stable for the synthetic dataset's phase kinds)."""
    if kind in _PHASE_COLORS:
        return _PHASE_COLORS[kind]
    return _EXTRA_PHASE_COLORS[sum(map(ord, kind)) % len(_EXTRA_PHASE_COLORS)]


# --------------------------------------------------------------------------------------------------------------
# Measurements

Phase = tuple[str, int, int]


def normalize_phases(phases: Sequence[Any]) -> list[Phase]:
    """Phases as ``[(kind, start, end), ...]`` (end exclusive), from meta.json dicts
    (``{"kind", "start", "end"}``) or tuples; checked to be sorted, contiguous and non-empty."""
    out: list[Phase] = []
    for p in phases:
        if isinstance(p, Mapping):
            kind, start, end = p["kind"], p["start"], p["end"]
        else:
            kind, start, end = p
        out.append((str(kind), int(start), int(end)))
    if not out:
        raise ValueError("at least one phase is needed")
    for (_, s0, e0), (_, s1, _) in zip(out, out[1:]):
        if e0 != s1:
            raise ValueError(f"phases must be contiguous, got {out}")
    if out[0][1] != 0 or any(e <= s for _, s, e in out):
        raise ValueError(f"phases must start at frame 0 and be non-empty, got {out}")
    return out


def phase_index(frames: Sequence[int] | np.ndarray, phases: Sequence[Any]) -> np.ndarray:
    """The phase number (0-based) of each frame index; ``ValueError`` for a frame outside the phases."""
    ph = normalize_phases(phases)
    frames = np.asarray(frames, dtype=np.int64)
    if frames.size and (frames.min() < 0 or frames.max() >= ph[-1][2]):
        raise ValueError(f"frame indices must lie in [0, {ph[-1][2]}), got {frames.min()}..{frames.max()}")
    ends = np.array([e for _, _, e in ph])
    return np.searchsorted(ends, frames, side="right")


COVERAGE_METRICS = ("phases_touched", "all_phases", "cross_phase_pairs", "extent")


def clip_set_coverage(clips: Sequence[ClipSpec], num_frames: int, phases: Sequence[Any]) -> dict[str, float]:
    """How a set of clips of one video relates to its action phases.

    - ``phases_touched``: fraction of the video's phases that at least one clip has a frame in;
    - ``all_phases``: 1.0 when every phase is touched, else 0.0;
    - ``cross_phase_pairs``: fraction of clip pairs whose *majority* phases differ -- for the local-local
      loss (Eq. 3) these are negatives that really come from another stage of the action (0 with one clip);
    - ``extent``: frames from the first to the last sampled frame, as a fraction of the video.
    """
    ph = normalize_phases(phases)
    if ph[-1][2] != num_frames:
        raise ValueError(f"phases end at frame {ph[-1][2]} but the video has {num_frames} frames")
    if not clips:
        raise ValueError("at least one clip is needed")
    per_clip = [phase_index(c.indices(num_frames), ph) for c in clips]
    touched = set(np.concatenate(per_clip).tolist())
    majority = [int(np.bincount(p, minlength=len(ph)).argmax()) for p in per_clip]
    pairs = list(combinations(range(len(clips)), 2))
    cross = float(np.mean([majority[a] != majority[b] for a, b in pairs])) if pairs else 0.0
    every = np.concatenate([c.indices(num_frames) for c in clips])
    return {
        "phases_touched": len(touched) / len(ph),
        "all_phases": float(len(touched) == len(ph)),
        "cross_phase_pairs": cross,
        "extent": float(every.max() - every.min() + 1) / num_frames,
    }


Sampler = Callable[[int, np.random.Generator], Sequence[ClipSpec]]


def phase_coverage(
    videos: Sequence[Any], samplers: Mapping[str, Sampler], *, draws: int = 20, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Mean :func:`clip_set_coverage` of each sampler over ``videos`` x ``draws`` random clip sets.

    ``videos``: meta.json video records (dicts with ``"phases"``; the frame count is the last phase's end)
    or plain phase lists. ``samplers``: name -> ``f(num_frames, rng) -> clips`` (e.g.
    ``lambda n, rng: sparse_local_clips(n, rng, "medium", 8)``). Draw ``d`` of video ``v`` uses the
    generator ``default_rng([seed, v, d])`` for every sampler, so the comparison is paired and the result
    deterministic. Returns ``{sampler: {metric: mean}}`` (metrics: :data:`COVERAGE_METRICS`, plus ``sets``).
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if not videos:
        raise ValueError("no videos to measure")
    phase_lists = [normalize_phases(v["phases"] if isinstance(v, Mapping) else v) for v in videos]
    out: dict[str, dict[str, float]] = {}
    for name, sampler in samplers.items():
        rows = []
        for v, ph in enumerate(phase_lists):
            n = ph[-1][2]
            for d in range(draws):
                clips = sampler(n, np.random.default_rng([int(seed), v, d]))
                rows.append(clip_set_coverage(list(clips), n, ph))
        out[name] = {m: float(np.mean([r[m] for r in rows])) for m in COVERAGE_METRICS}
        out[name]["sets"] = len(rows)
    return out


def look_class_counts(meta: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
    """``counts[look, class]``: how many videos of each class use each look of the appearance pool
    (from the synthetic dataset's meta.json), and the class names (column order)."""
    classes = list(meta["classes"])
    n_looks = len(meta["looks"])
    counts = np.zeros((n_looks, len(classes)), dtype=np.int64)
    col = {c: i for i, c in enumerate(classes)}
    for v in meta["videos"]:
        counts[int(v["look"]), col[v["class"]]] += 1
    return counts, classes


def as_frames(video: Any) -> np.ndarray:
    """Frames as a float numpy array ``[T, H, W, 3]`` in [0, 1], for display and measurements.

    Accepts uint8 or float (in [0, 1]), numpy or torch, as ``[T, H, W, 3]`` (decoded frames),
    ``tv_tensors.Video`` ``[T, 3, H, W]``, ``[3, T, H, W]`` (network input) or one frame ``[H, W, 3]``.
    """
    is_video = type(video).__name__ == "Video"  # tv_tensors.Video, without importing torchvision here
    x = video.detach().cpu() if isinstance(video, torch.Tensor) else torch.as_tensor(np.asarray(video))
    x = x.as_subclass(torch.Tensor)
    if x.ndim == 3 and x.shape[-1] == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected a clip [T,H,W,3], [T,3,H,W] (Video) or [3,T,H,W], got {tuple(x.shape)}")
    if is_video and x.shape[1] == 3:
        x = x.permute(0, 2, 3, 1)
    elif x.shape[-1] == 3:
        pass
    elif x.shape[0] == 3:
        x = x.permute(1, 2, 3, 0)
    elif x.shape[1] == 3:
        x = x.permute(0, 2, 3, 1)
    else:
        raise ValueError(f"cannot find the colour axis (size 3) in shape {tuple(x.shape)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float().clamp(0, 1)
    return x.numpy()


def motion_energy(video: Any) -> np.ndarray:
    """Mean absolute difference between consecutive frames, averaged over colour: float ``[H, W]`` in [0, 1].
    Bright where something moves; a video that does not move gives zeros."""
    f = as_frames(video)
    if len(f) < 2:
        return np.zeros(f.shape[1:3], dtype=np.float32)
    return np.abs(np.diff(f, axis=0)).mean(axis=(0, 3)).astype(np.float32)


def positive_is_nearest(views_a: Sequence[Any], views_b: Sequence[Any]) -> float:
    """How much a pair of views gives the local-local loss (Eq. 3) to match, before any learning: the share of
    anchors ``views_a[p]`` whose nearest candidate in raw pixels (L2), among the ``2N - 1`` of Eq. 3 (every view b
    and the other views a), is their own positive ``views_b[p]``. Chance is ``1 / (2N - 1)``; unaugmented views
    give 1. Views: N clips in any layout :func:`as_frames` reads, all of one shape."""
    if len(views_a) != len(views_b) or len(views_a) < 2:
        raise ValueError("need the same number (at least 2) of views a and views b")
    a = np.stack([as_frames(v).ravel() for v in views_a])
    b = np.stack([as_frames(v).ravel() for v in views_b])
    hits = 0
    for p in range(len(a)):
        candidates = np.concatenate([b, np.delete(a, p, axis=0)])  # the positive is row p
        hits += int(np.argmin(((candidates - a[p]) ** 2).sum(axis=1)) == p)
    return hits / len(a)


def frame_spread(video: Any) -> np.ndarray:
    """For each frame, the largest absolute difference from the first frame (float ``[T]``, [0, 1] units).
    On a clip whose input frames are all identical, a clip-consistent transform keeps this at 0."""
    f = as_frames(video)
    return np.abs(f - f[:1]).reshape(len(f), -1).max(axis=1)


def _video_grayscale():
    """``v2.Grayscale(3)`` that also converts ``tv_tensors.Video``: torchvision 0.29 registers no Video kernel
    for ``rgb_to_grayscale``, so ``v2.Grayscale`` passes videos through unchanged (silently)."""
    from torchvision import tv_tensors
    from torchvision.transforms import v2
    from torchvision.transforms.v2 import functional as F

    class VideoGrayscale(v2.Transform):
        def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
            if not isinstance(inpt, torch.Tensor):
                return inpt
            out = F.rgb_to_grayscale(inpt.as_subclass(torch.Tensor), num_output_channels=3)
            return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    return VideoGrayscale()


def transform_showcase(size: int = 64) -> dict[str, Any]:
    """Each augmentation of TCLR's set (Sec. 4.2.2, as in :func:`stclr.augment.build_train_augment`'s
    ``"tclr"`` strength) on its own and forced on (probability 1), plus the SSL set's blur, for
    "one row per transform" figures. Each takes a uint8 ``tv_tensors.Video`` ``[T, 3, H, W]`` and draws
    its parameters once per call, like the training pipeline."""
    from torchvision.transforms import v2

    from stclr.augment import ChannelDrop, FusedColorJitter, GaussianBlurSeparable, RandomGamma

    k = max(3, (size // 10) | 1)
    return {
        "random resized crop": v2.RandomResizedCrop((size, size), scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        "horizontal flip": v2.RandomHorizontalFlip(p=1.0),
        "colour jitter": FusedColorJitter(brightness=0.25, contrast=0.25, saturation=0.25, hue=0.1, p=1.0),
        "grayscale + gamma": v2.Compose([_video_grayscale(), RandomGamma((0.75, 1.25))]),
        "channel drop": ChannelDrop(p=1.0),
        "cutout": v2.RandomErasing(p=1.0, scale=(0.006, 0.03), ratio=(0.5, 2.0), value=0),
        "Gaussian blur (SSL set)": GaussianBlurSeparable(k, sigma=(1.0, 2.0)),
    }


# --------------------------------------------------------------------------------------------------------------
# Helpers for drawing


# the tallest a figure should be to fit a 1400x900 browser window at 100 % with JupyterLab around it (inches at
# the inline backend's 100 dpi)
SCREEN_HEIGHT_IN = 6.6


def _figure(width: float, height: float, **kw) -> Figure:
    return Figure(figsize=(width, height), layout="constrained", **kw)


def _clip_list(clips: Any) -> list[tuple[str, ClipSpec]]:
    """(label, clip) rows from a TCLRClips, a sequence of ClipSpecs, or a mapping label -> ClipSpec."""
    if isinstance(clips, TCLRClips):
        rows = [(f"local {j + 1}", c) for j, c in enumerate(clips.local)]
        return rows + [("global", clips.global_clip)]
    if isinstance(clips, Mapping):
        return [(str(k), c) for k, c in clips.items()]
    return [("", c) for c in clips]


def _clip_label(prefix: str, c: ClipSpec) -> str:
    skip = f"skip {c.requested_skip}" if c.skip == c.requested_skip else f"skip {c.requested_skip}\u2192{c.skip}"
    pol = "" if c.policy == "fit" else f" ({c.policy})"
    return f"{prefix} \u00b7 {skip}{pol}" if prefix else f"{skip}{pol}"


def _draw_phases(ax, phases: Sequence[Any] | None, *, labels: bool = True) -> None:
    """Pale bands for the phases, named above the axes when ``labels``."""
    if phases is None:
        return
    for kind, start, end in normalize_phases(phases):
        ax.axvspan(start - 0.5, end - 0.5, color=phase_color(kind), alpha=0.5, lw=0, zorder=0)
        if labels:
            ax.text((start + end - 1) / 2, 1.0, kind, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=9, color=_INK, style="italic")


def _draw_phases_legend_handles(phases) -> list[Patch]:
    """One legend patch per phase kind, in order of appearance."""
    if phases is None:
        return []
    seen: dict[str, Patch] = {}
    for kind, _, _ in normalize_phases(phases):
        seen.setdefault(kind, Patch(facecolor=phase_color(kind), edgecolor="none", label=f"phase: {kind}"))
    return list(seen.values())


def _timeline(ax, num_frames: int, rows: list[tuple[str, ClipSpec]], phases=None, *, title: str | None = None,
              phase_labels: bool = True) -> None:
    _draw_phases(ax, phases, labels=phase_labels)
    for r, (prefix, c) in enumerate(rows):
        idx = c.indices(num_frames)
        col = skip_color(c.requested_skip)
        if c.policy == "fit":
            ax.plot([idx.min(), idx.max()], [r, r], color=col, lw=2.2, alpha=0.55, solid_capstyle="round", zorder=2)
        else:  # wrapped: the frames are not in order, so number them (k = position in the clip)
            for k, i in enumerate(idx):
                ax.text(i, r - 0.22, str(k), ha="center", va="bottom", fontsize=6, color=_INK, zorder=4)
        ax.scatter(idx, np.full(len(idx), r), s=22, color=col, edgecolor=_INK, linewidth=0.5, zorder=3)
    ax.set_yticks(range(len(rows)), [_clip_label(p, c) for p, c in rows], fontsize=9)
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.set_xlim(-1, num_frames)
    ax.grid(axis="x", color="white", lw=0.6, alpha=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=11, pad=14 if phases is not None and phase_labels else 6)


# --------------------------------------------------------------------------------------------------------------
# Clip timelines (paper Fig. 2 / 3)


def plot_clip_timeline(num_frames: int, clips: Any, *, phases: Sequence[Any] | None = None, title: str | None = None) -> Figure:
    """One video's clips on a frame axis: one row per clip, a dot per sampled frame, coloured by skip rate.

    ``clips``: a sequence of :class:`ClipSpec`, a :class:`TCLRClips`, or a mapping label -> ClipSpec.
    ``phases`` (meta.json records or ``(kind, start, end)``) are drawn as pale bands. Wrapped clips
    (``loop``/``mirror``) show their frame order with a faint path; lowered skips read ``skip 16->13``.
    """
    rows = _clip_list(clips)
    fig = _figure(10, 0.9 + 0.38 * len(rows))
    ax = fig.add_subplot()
    _timeline(ax, num_frames, rows, phases, title=title)
    ax.set_xlabel("frame index")
    handles = _draw_phases_legend_handles(phases)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    return fig


def plot_dense_vs_sparse(
    num_frames: int,
    dense: TCLRClips | Sequence[ClipSpec],
    sparse: Sequence[ClipSpec],
    *,
    phases: Sequence[Any] | None = None,
    title: str | None = None,
) -> Figure:
    """TCLR's dense clips above STCLR's sparse clips of the same video (the idea of paper Fig. 2 B vs C).

    Shared frame axis and phase bands; each dot is a frame a clip uses, coloured by its skip rate.
    """
    d_rows, s_rows = _clip_list(dense), _clip_list(sparse)
    fig = _figure(10, 1.6 + 0.36 * (len(d_rows) + len(s_rows)))
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[max(len(d_rows), 1), max(len(s_rows), 1)])
    skips = ", ".join(str(c.requested_skip) for _, c in s_rows)
    _timeline(axes[0], num_frames, d_rows, phases, title="TCLR: adjacent dense clips (skip 1) + one global clip")
    _timeline(axes[1], num_frames, s_rows, phases, title=f"STCLR: sparse clips at random positions, skips {skips}",
              phase_labels=False)
    axes[1].set_xlabel("frame index")
    handles = _draw_phases_legend_handles(phases)
    if handles:
        axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_clip_frames(frames: Sequence[Any], clips: Sequence[ClipSpec], *, max_frames: int = 8,
                     num_frames: int | None = None, title: str | None = None) -> Figure:
    """The frames of each clip, one row per clip (labelled and coloured by its skip rate).

    ``frames[p]``: clip p's frames (``[L, H, W, 3]`` or any layout :func:`as_frames` reads); at most
    ``max_frames`` evenly spaced frames are shown per row. With ``num_frames`` each frame is titled by
    its index in the video.
    """
    if len(frames) != len(clips):
        raise ValueError(f"{len(frames)} frame stacks for {len(clips)} clips")
    stacks = [as_frames(f) for f in frames]
    cols = min(max_frames, max(len(s) for s in stacks))
    fig = _figure(1.1 * cols + 1.4, 1.15 * len(stacks) + (0.4 if title else 0.1))
    axes = np.atleast_2d(fig.subplots(len(stacks), cols, squeeze=False))
    for r, (stack, clip) in enumerate(zip(stacks, clips)):
        pick = np.unique(np.round(np.linspace(0, len(stack) - 1, min(cols, len(stack)))).astype(int))
        idx = clip.indices(num_frames) if num_frames is not None else None
        for j, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(pick):
                ax.set_visible(False)
                continue
            ax.imshow(stack[pick[j]], interpolation="nearest")
            if idx is not None:
                ax.set_title(f"frame {idx[pick[j]]}", fontsize=8, pad=2)
            for spine in ax.spines.values():
                spine.set_edgecolor(skip_color(clip.requested_skip))
                spine.set_linewidth(2.0)
        axes[r, 0].set_ylabel(_clip_label("", clip), fontsize=9, rotation=0, ha="right", va="center",
                              color=_INK)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


# --------------------------------------------------------------------------------------------------------------
# The synthetic dataset


def plot_class_strips(strips: Mapping[str, Any], frame_indices: Sequence[int], *,
                      phases: Mapping[str, Sequence[Any]] | None = None, title: str | None = None) -> Figure:
    """One row per class: frames ``frame_indices`` of one video of the class, left to right in time.

    ``strips[class]``: that video's frames at ``frame_indices`` (``[T, H, W, 3]``). With ``phases[class]``
    a coloured bar under each frame names the motion phase it belongs to.
    """
    names = list(strips)
    cols = len(frame_indices)
    width, height = 1.05 * cols + 1.8, 1.2 * len(names) + 0.9
    fit = min(1.0, SCREEN_HEIGHT_IN / height)  # many classes: smaller frames, so the strip fits a screen
    fig = _figure(width * fit, height * fit)
    axes = fig.subplots(len(names), cols, squeeze=False)
    kinds: dict[str, None] = {}
    for r, name in enumerate(names):
        stack = as_frames(strips[name])
        if len(stack) != cols:
            raise ValueError(f"{name}: {len(stack)} frames for {cols} frame indices")
        ph = normalize_phases(phases[name]) if phases and name in phases else None
        which = phase_index(frame_indices, ph) if ph else None
        for j, ax in enumerate(axes[r]):
            ax.imshow(stack[j], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {frame_indices[j]}", fontsize=9)
            if ph is not None:
                kind = ph[int(which[j])][0]
                kinds[kind] = None
                ax.add_patch(Rectangle((0, -0.13), 1, 0.09, transform=ax.transAxes, clip_on=False,
                                       facecolor=phase_color(kind), edgecolor="none"))
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    if kinds:
        fig.legend(handles=[Patch(facecolor=phase_color(k), label=k) for k in kinds], loc="outside lower center",
                   ncols=min(len(kinds), 8), frameon=False, fontsize=9, title="motion phase (bar under each frame)",
                   title_fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_appearance_vs_motion(videos: Mapping[str, Any], *, title: str | None = None) -> Figure:
    """Top row: the first frame of each video (appearance); bottom row: its :func:`motion_energy`
    (where it moves). Columns are labelled by the mapping's keys (e.g. class names)."""
    names = list(videos)
    fig = _figure(1.45 * len(names) + 1.2, 3.5)
    axes = fig.subplots(2, len(names), squeeze=False)
    for j, name in enumerate(names):
        f = as_frames(videos[name])
        e = motion_energy(f)
        axes[0, j].imshow(f[0], interpolation="nearest")
        axes[1, j].imshow(e / max(float(e.max()), 1e-6), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        axes[0, j].set_title(name, fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("first frame", fontsize=10)
    axes[1, 0].set_ylabel("motion energy", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_look_class_counts(counts: np.ndarray, classes: Sequence[str], *, look_labels: Sequence[str] | None = None,
                           title: str | None = None) -> Figure:
    """Heat map of :func:`look_class_counts`: rows = looks of the shared pool, columns = classes."""
    counts = np.asarray(counts)
    n_looks, n_classes = counts.shape
    fig = _figure(0.75 * n_classes + 2.8, 0.32 * n_looks + 1.9)
    ax = fig.add_subplot()
    im = ax.imshow(counts, cmap="Blues", aspect="auto", vmin=0)
    for (i, j), v in np.ndenumerate(counts):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > 0.6 * counts.max() else _INK)
    ax.set_xticks(range(n_classes), classes, rotation=35, ha="right", fontsize=9)
    ax.set_yticks(range(n_looks), look_labels or [f"look {i}" for i in range(n_looks)], fontsize=8)
    ax.set_xlabel("class")
    ax.set_ylabel("look (background, shape, colour)")
    fig.colorbar(im, ax=ax, label="videos", shrink=0.8)
    ax.set_title(title or "Every look is used by several classes", fontsize=11, loc="left")
    return fig


def plot_frame_grid(images: Sequence[Any], *, titles: Sequence[str] | None = None, ncols: int = 8,
                    title: str | None = None) -> Figure:
    """Images (single frames ``[H, W, 3]``) in a grid, each with an optional title."""
    imgs = [as_frames(im)[0] for im in images]
    if not imgs:
        raise ValueError("no images")
    ncols = min(ncols, len(imgs))
    nrows = -(-len(imgs) // ncols)
    fig = _figure(1.35 * ncols, 1.45 * nrows + (0.35 if title else 0.0))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= len(imgs):
            ax.set_visible(False)
            continue
        ax.imshow(imgs[k], interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Views and augmentation (notebook 02)


def plot_clip_rows(rows: Mapping[str, Any], *, max_frames: int = 8, frame_labels: Sequence[str] | None = None,
                   title: str | None = None) -> Figure:
    """One row per entry of ``rows`` (label -> clip in any layout :func:`as_frames` reads), at most
    ``max_frames`` evenly spaced frames each: augmentation grids ("one row per transform"), a clip and
    its two views, ... ``frame_labels`` title the columns of the first row."""
    names = list(rows)
    stacks = [as_frames(rows[n]) for n in names]
    cols = min(max_frames, max(len(s) for s in stacks))
    fig = _figure(1.15 * cols + 1.9, 1.2 * len(names) + (0.45 if title else 0.15))
    axes = fig.subplots(len(names), cols, squeeze=False)
    for r, (name, stack) in enumerate(zip(names, stacks)):
        pick = np.unique(np.round(np.linspace(0, len(stack) - 1, min(cols, len(stack)))).astype(int))
        for j, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(pick):
                ax.set_visible(False)
                continue
            ax.imshow(stack[pick[j]], interpolation="nearest")
            if r == 0:
                ax.set_title(frame_labels[j] if frame_labels is not None else f"frame {pick[j]}", fontsize=8)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_view_pairs(clips: Sequence[Any], views_a: Sequence[Any], views_b: Sequence[Any], *,
                    labels: Sequence[str] | None = None, frame: int | None = None, title: str | None = None) -> Figure:
    """For each clip (columns): one frame of the clip, of its view a and of its view b (rows) -- the
    inputs of the local-local loss (Eq. 3, paper Fig. 3): (a, b) of a column are a positive pair, every
    other image is a negative. ``frame``: which frame of each clip (default: the middle one)."""
    if not len(clips) == len(views_a) == len(views_b):
        raise ValueError("clips, views_a and views_b must have the same length")
    n = len(clips)
    fig = _figure(1.6 * n + 1.4, 4.4 + (0.3 if title else 0.0))
    axes = fig.subplots(3, n, squeeze=False)
    for j in range(n):
        for r, v in enumerate((clips[j], views_a[j], views_b[j])):
            f = as_frames(v)
            t = len(f) // 2 if frame is None else frame
            ax = axes[r, j]
            ax.imshow(f[t], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        if labels is not None:
            axes[0, j].set_title(labels[j], fontsize=9)
    for r, name in enumerate(("clip", "view a", "view b")):
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_frame_consistency(spreads: Mapping[str, Sequence[float]], *, title: str | None = None) -> Figure:
    """Lines of :func:`frame_spread` (max |frame t - frame 0|) per frame, one per augmentation mode.
    On a static clip, a clip-consistent augmentation stays at 0."""
    fig = _figure(7, 3.2)
    ax = fig.add_subplot()
    palette = ["#2a9d8f", "#e76f51", "#264653", "#e9c46a", "#8a5a9a"]
    for k, (name, s) in enumerate(spreads.items()):
        s = np.asarray(s, dtype=float)
        ax.plot(range(len(s)), s, marker="o", lw=2, ms=5, color=palette[k % len(palette)], label=name)
    ax.set_xlabel("frame t of the view")
    ax.set_ylabel("max |frame t \u2212 frame 0|")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=9)
    ax.set_title(title or "Does every frame of a view get the same transform?", loc="left", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Sampling (notebook 01)


def _fitted_skip(num_frames: int, skip: int, length: int) -> int | None:
    """The skip the ``fit`` policy uses (None when even skip 1 does not fit)."""
    if skip * (length - 1) + 1 <= num_frames:
        return skip
    lowered = (num_frames - 1) // (length - 1) if length > 1 else skip
    return lowered if lowered >= 1 else None


def plot_skip_presets(presets: Mapping[str, Sequence[int]], scales: Sequence[tuple[int, int]], *,
                      title: str | None = None) -> Figure:
    """How far each clip of each skip preset reaches: one panel per ``(length, num_frames)`` scale.

    A bar is the span ``skip * (length - 1) + 1`` of one clip (frames), coloured by its skip; the dashed
    line is the video's length. Bars past it do not fit: the ``fit`` policy lowers their skip
    (annotated ``-> s``).
    """
    names = list(presets)
    n_rows = sum(len(presets[p]) for p in names) + len(names) - 1
    fig = _figure(5.2 * len(scales) + 0.6, 0.24 * n_rows + 1.5)
    axes = fig.subplots(1, len(scales), squeeze=False)[0]
    for ax, (length, num_frames) in zip(axes, scales):
        y, ticks, labels = 0, [], []
        spans_max = 0
        for name in names:
            for s in presets[name]:
                span = s * (length - 1) + 1
                spans_max = max(spans_max, span)
                ax.barh(y, min(span, num_frames), color=skip_color(s), edgecolor=_INK, lw=0.4, height=0.78)
                if span > num_frames:
                    ax.barh(y, span - num_frames, left=num_frames, color=skip_color(s), alpha=0.25, hatch="///",
                            edgecolor=_MUTED, lw=0.4, height=0.78)
                    fitted = _fitted_skip(num_frames, s, length)
                    ax.text(span + 4, y, f"\u2192 {fitted}" if fitted else "\u2192 loop", va="center", fontsize=7,
                            color=_INK)
                ticks.append(y)
                labels.append(f"{name} \u00b7 {s}")
                y += 1
            y += 1
        ax.axvline(num_frames, color=_INK, ls="--", lw=1.2)
        ax.text(num_frames, 1.0, f" video: {num_frames} frames", transform=ax.get_xaxis_transform(), ha="left",
                va="bottom", fontsize=8)
        ax.set_yticks(ticks, labels, fontsize=8)
        ax.set_ylim(y - 1.5, -0.7)
        ax.set_xlim(0, spans_max * 1.12)
        ax.set_xlabel(f"frames spanned by one {length}-frame clip")
        ax.set_title(f"L = {length}, {num_frames}-frame video", loc="left", fontsize=10, pad=14)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_policies(num_frames: int, clips: Mapping[str, ClipSpec], *, title: str | None = None) -> Figure:
    """Frame index of each position k of a clip, per too-short-video policy (``fit``/``loop``/``mirror``).

    The grey band is the video ([0, n)); the dotted line is what the requested skip would ask for.
    """
    fig = _figure(7.5, 3.8)
    ax = fig.add_subplot()
    ax.axhspan(-0.5, num_frames - 0.5, color="#eeeeee", zorder=0)
    palette = {"fit": "#2a9d8f", "loop": "#e76f51", "mirror": "#6a4c93"}
    first = next(iter(clips.values()))
    k = np.arange(first.length)
    markers = {"fit": "o", "loop": "s", "mirror": "^"}
    top = num_frames
    for name, c in clips.items():
        idx = c.indices(num_frames)
        col = palette.get(name, _INK)
        if c.policy != "fit":  # the unwrapped request, before the policy folds it back into the video
            raw = c.start + c.requested_skip * np.arange(c.length)
            ax.plot(np.arange(c.length), raw, ls=":", color=col, lw=1.2, alpha=0.8)
            top = max(top, int(raw.max()) + 2)
        desc = f"skip {c.requested_skip}\u2192{c.skip}" if c.skip != c.requested_skip else f"skip {c.skip}"
        ax.plot(np.arange(c.length), idx, marker=markers.get(name, "o"), ms=6, lw=1.8,
                color=col, label=f"{name}: start {c.start}, {desc}, recorded policy '{c.policy}'")
    ax.plot([], [], ls=":", color=_MUTED, label="unwrapped request (past the end)")
    ax.axhline(num_frames - 1, color=_INK, lw=0.8, ls="--")
    ax.text(0, num_frames - 1, f" last frame ({num_frames - 1})", va="bottom", fontsize=8)
    ax.set_ylim(-2, top + 2)
    ax.set_xlabel("position k in the clip")
    ax.set_ylabel("frame index")
    ax.set_xticks(k)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    skip = first.requested_skip
    ax.set_title(title or f"{first.length}-frame clips at skip {skip} in a {num_frames}-frame video "
                 f"(span {skip * (first.length - 1) + 1})", loc="left", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def plot_phase_coverage(table: Mapping[str, Mapping[str, float]], *, metrics: Sequence[str] = COVERAGE_METRICS,
                        title: str | None = None) -> Figure:
    """Grouped bars of :func:`phase_coverage`: one group per metric, one bar per sampler (value on top).
    Samplers whose name starts with "TCLR" are grey; the others take a sequential palette in order."""
    names = list(table)
    others = [n for n in names if not n.startswith("TCLR")]
    cmap = colormaps["viridis"]
    colours = {}
    for n in names:
        if n.startswith("TCLR"):
            colours[n] = "#9a9a9a"
        else:
            i = others.index(n)
            colours[n] = cmap(0.15 + 0.7 * i / max(len(others) - 1, 1))
    fig = _figure(9.5, 3.9)
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    pretty = {"phases_touched": "phases touched", "all_phases": "sets touching\nall phases",
              "cross_phase_pairs": "clip pairs from\ndifferent phases", "extent": "temporal extent\n(fraction of video)"}
    for i, n in enumerate(names):
        xs = np.arange(len(metrics)) + (i - (len(names) - 1) / 2) * width
        vals = [table[n][m] for m in metrics]
        bars = ax.bar(xs, vals, width * 0.92, color=colours[n], edgecolor=_INK, lw=0.4, label=n)
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v + 0.015, f"{v:.2f}", ha="center", va="bottom", fontsize=6.5,
                    rotation=90)
    ax.set_xticks(range(len(metrics)), [pretty.get(m, m) for m in metrics], fontsize=9)
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("mean over clip sets")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "How much of the action do the local clips see?", loc="left", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def plot_batch_plan(plan: Any, *, names: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """A :class:`stclr.plan.BatchPlan`, one panel per video (row of the batch).

    Top line of a panel: the ONE decode of that video (every frame in the sorted union, black ticks).
    Below: its local clips (circles, coloured by skip) and the SSL clips cut from its decode (squares,
    coloured by speed, labelled with the batch row whose tuple uses them: cross-video clips come from
    other rows' decodes, never from an extra read). ``names[r]`` labels row r (default: dataset index).
    """
    videos = plan.videos
    ssl_by_row: dict[int, list[tuple[int, ClipSpec]]] = {v.row: [] for v in videos}
    for t, s in enumerate(plan.ssl or ()):
        for src, c in zip(s.rows, s.sample.clips):
            ssl_by_row[src].append((t, c))
    heights = [1 + len(v.local) + (1 if v.global_clip is not None else 0) + len(ssl_by_row[v.row]) for v in videos]
    ncols = 2 if len(videos) > 2 else 1  # panels side by side, so a batch fits a screen's height
    nrows = -(-len(videos) // ncols)
    row_heights = [max(heights[r * ncols:(r + 1) * ncols]) for r in range(nrows)]
    fig = _figure(10, min(0.2 * sum(row_heights) + 0.75 * nrows + 0.6, SCREEN_HEIGHT_IN + 2.0))
    grid = fig.subplots(nrows, ncols, squeeze=False, height_ratios=row_heights)
    for ax in grid.flat[len(videos):]:
        fig.delaxes(ax)
    axes = list(grid.flat[:len(videos)])
    for ax, v in zip(axes, videos):
        n = v.num_frames
        labels = [f"decode ({len(v.frames)} frames)"]
        ax.scatter(v.frames, np.zeros(len(v.frames)), marker="|", s=60, color=_INK, lw=1.2)
        y = 1
        rows: list[tuple[str, ClipSpec, str]] = []
        for p, c in enumerate(v.local):
            tag = " [IC]" if v.ic_pair is not None and p in v.ic_pair else ""
            rows.append((_clip_label(f"local {p + 1}", c) + tag, c, "o"))
        if v.global_clip is not None:
            rows.append((_clip_label("global", v.global_clip), v.global_clip, "o"))
        for t, c in ssl_by_row[v.row]:
            owner = "own SSL tuple" if t == v.row else f"SSL tuple of row {t}"
            rows.append((f"{owner} \u00b7 speed {c.skip}", c, "s"))
        for label, c, marker in rows:
            idx = c.indices(n)
            ax.scatter(idx, np.full(len(idx), y), s=14, marker=marker, color=skip_color(c.requested_skip),
                       edgecolor=_INK, linewidth=0.4, zorder=3)
            labels.append(label)
            y += 1
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylim(len(labels) - 0.4, -0.6)
        ax.set_xlim(-1, max(vv.num_frames for vv in videos))
        ax.axvspan(n - 0.5, ax.get_xlim()[1], color="#f2f2f2", zorder=0)
        name = names[v.row] if names is not None else f"video {v.index}"
        ax.set_title(f"row {v.row}: {name} ({n} frames), decoded once", loc="left", fontsize=9)
        ax.grid(axis="x", alpha=0.25)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in grid[-1] if len(videos) % ncols == 0 else axes[-ncols:]:
        ax.set_xlabel("frame index")
    c = plan.counts()
    fig.suptitle(title or f"Batch plan ({plan.method}): {c['videos']} videos, {c['videos_read']} decodes, "
                 f"{c['frames_to_decode']} frames", fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Frame-exact reading (notebook 00)


def plot_wrong_frames(requested: Sequence[int], returned: Mapping[str, Sequence[int]], *,
                      title: str | None = None) -> Figure:
    """Requested frame index (x) against the index the returned frame carries (y), one panel per reader.

    Exact readers put every point on the diagonal (green); wrong frames are red crosses (a frame without a
    readable index, -1, is drawn at the bottom edge).
    """
    req = np.asarray(requested)
    names = list(returned)
    fig = _figure(4.0 * len(names) + 0.4, 4.1)
    axes = fig.subplots(1, len(names), squeeze=False, sharey=True)[0]
    hi = max(int(req.max()), max(int(np.max(returned[n])) for n in names)) + 5
    for ax, name in zip(axes, names):
        got = np.asarray(returned[name])
        ok = got == req
        ax.plot([0, hi], [0, hi], color=_MUTED, lw=1, ls="--", zorder=1)
        ax.scatter(req[ok], got[ok], s=18, color="#2a9d8f", edgecolor=_INK, linewidth=0.3, zorder=3, label="right frame")
        bad_y = np.where(got[~ok] < 0, -3, got[~ok])
        ax.scatter(req[~ok], bad_y, s=26, marker="x", color="#d62828", lw=1.4, zorder=4, label="wrong frame")
        ax.set_title(f"{name}\n{int((~ok).sum())} of {len(req)} frames wrong", fontsize=10)
        ax.set_xlabel("requested frame index")
        ax.set_xlim(-5, hi)
        ax.set_ylim(-5, hi)
        ax.set_aspect("equal")
        ax.grid(alpha=0.25)
    axes[0].set_ylabel("index carried by the returned frame")
    handles = [Line2D([], [], marker="o", ls="", color="#2a9d8f", markeredgecolor=_INK, label="right frame"),
               Line2D([], [], marker="x", ls="", color="#d62828", label="wrong frame")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig
