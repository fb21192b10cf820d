"""Which frames make a clip: pure, seeded clip samplers (paper Sec. 3.2, 3.3, 4.2.1-4.2.3).

Everything here is a pure function of a video's frame count and a :class:`numpy.random.Generator`:
no I/O, no tensors. A clip is a :class:`ClipSpec` ``(start, skip, length)`` meaning frames
``start + skip * k`` for ``k < length``; :meth:`ClipSpec.indices` turns it into frame numbers.

Too-short videos. A 16-frame clip at skip 32 spans 481 frames, longer than most UCF-101 videos, so
every sampler takes an explicit ``policy`` and records what it did in the returned spec -- never
silently (``docs/method.md`` §2):

- ``"fit"`` (default): lower the skip to the largest one that fits; ``skip`` is the effective skip and
  ``requested_skip`` what was asked. If even skip 1 does not fit (fewer frames than ``length``), the
  clip falls back to ``"loop"`` at skip 1 and says so in ``policy``.
- ``"loop"``: keep the skip, wrap the indices modulo the frame count.
- ``"mirror"``: keep the skip, reflect at both ends (ping-pong: 0,1,..,n-1,n-2,..,0,1,..).

A spec whose ``policy`` is ``"fit"`` and whose ``skip == requested_skip`` is exactly what was asked
(:attr:`ClipSpec.adjusted` is False). The batch planner (:mod:`stclr.plan`) counts the others.

Samplers:

- :func:`sparse_local_clips` -- STCLR's N sparse local clips, one per skip rate (Sec. 3.2).
- :func:`tclr_clips` -- TCLR's 4 adjacent dense clips + 1 global clip covering them (baseline).
- :func:`ssl_tuple` / :func:`draw_ssl_tuple` -- the Same Speed Localization tuple (Sec. 3.3).
- :func:`uniform_clips` -- uniformly spaced evaluation clips (retrieval / fine-tuning test).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import product
from typing import Iterable, Literal, Sequence

import numpy as np

__all__ = [
    "Policy",
    "POLICIES",
    "ClipSpec",
    "SKIP_PRESETS",
    "resolve_skips",
    "fit_clip",
    "sparse_local_clips",
    "TCLRClips",
    "tclr_clips",
    "SSL_SPEEDS",
    "SSL_LABEL_NAMES",
    "SSL_PAIRS",
    "SSLTuple",
    "fitting_speeds",
    "label_of_speeds",
    "ssl_assignments",
    "ssl_tuple",
    "draw_ssl_tuple",
    "uniform_clips",
]

Policy = Literal["fit", "loop", "mirror"]
POLICIES = ("fit", "loop", "mirror")

#: Skip-rate presets for the N = 5 sparse local clips. ``paper``: Sec. 4.3.1 (and Table 6's runs);
#: ``simplified``: Sec. 4.2.2; ``low``/``medium``/``high``: the sparsity ablation of Sec. 4.2.3.
SKIP_PRESETS: dict[str, tuple[int, ...]] = {
    "paper": (1, 4, 8, 16, 32),
    "simplified": (1, 4, 8, 16, 24),
    "low": (1, 2, 3, 4, 5),
    "medium": (2, 4, 6, 8, 10),
    "high": (4, 8, 12, 16, 20),
}


@dataclass(frozen=True)
class ClipSpec:
    """One clip: frames ``start + skip * k`` (k < ``length``), wrapped by ``policy`` when needed.

    ``skip`` is the *effective* skip (the spacing actually used); ``requested_skip`` is the one the
    sampler was asked for (defaults to ``skip``). ``policy`` is the policy actually applied:
    ``"fit"`` means every index lies in ``[0, n)`` without wrapping.
    """

    start: int
    skip: int
    length: int
    policy: Policy = "fit"
    requested_skip: int | None = None

    def __post_init__(self) -> None:
        if self.requested_skip is None:
            object.__setattr__(self, "requested_skip", self.skip)
        if self.skip < 1 or self.length < 1 or self.start < 0:
            raise ValueError(f"invalid clip {self}")
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; expected one of {POLICIES}")

    @property
    def effective_skip(self) -> int:
        """The spacing between consecutive frames actually used (= ``skip``)."""
        return self.skip

    @property
    def span(self) -> int:
        """Frames covered from the first to the last index, unwrapped: ``skip * (length - 1) + 1``."""
        return self.skip * (self.length - 1) + 1

    @property
    def adjusted(self) -> bool:
        """True when the clip differs from the request (lowered skip, or wrapped by loop/mirror)."""
        return self.policy != "fit" or self.skip != self.requested_skip

    def fits(self, num_frames: int) -> bool:
        """Whether the unwrapped clip lies inside ``[0, num_frames)``."""
        return self.start + self.span <= num_frames

    def indices(self, num_frames: int) -> np.ndarray:
        """Frame numbers of the clip in a video of ``num_frames`` frames: int64 ``[length]``, in ``[0, n)``.

        ``fit`` clips must fit (a ``ValueError`` otherwise: a planning bug, never clamped silently);
        ``loop`` wraps modulo n; ``mirror`` reflects with period ``2 (n - 1)``.
        """
        n = int(num_frames)
        if n < 1:
            raise ValueError(f"a video needs at least one frame, got {n}")
        raw = self.start + self.skip * np.arange(self.length, dtype=np.int64)
        if self.policy == "fit":
            if raw[-1] >= n:
                raise ValueError(f"{self} does not fit a video of {n} frames")
            return raw
        if self.policy == "loop":
            return raw % n
        if n == 1:  # mirror of a single frame: nothing to reflect
            return np.zeros(self.length, dtype=np.int64)
        period = 2 * (n - 1)
        phase = raw % period
        return np.where(phase < n, phase, period - phase)

    def to_dict(self) -> dict:
        return asdict(self)

    def __repr__(self) -> str:  # compact, for notebooks and plan printouts
        extra = ""
        if self.skip != self.requested_skip:
            extra += f", requested_skip={self.requested_skip}"
        if self.policy != "fit":
            extra += f", policy={self.policy!r}"
        return f"ClipSpec(start={self.start}, skip={self.skip}, length={self.length}{extra})"


def resolve_skips(skips: str | Iterable[int]) -> tuple[int, ...]:
    """A preset name (``"paper"``, ``"low"``, ...) or an explicit sequence of skip rates -> tuple."""
    if isinstance(skips, str):
        try:
            return SKIP_PRESETS[skips]
        except KeyError:
            raise ValueError(f"unknown skip preset {skips!r}; presets: {sorted(SKIP_PRESETS)}") from None
    out = tuple(int(s) for s in skips)
    if not out or min(out) < 1:
        raise ValueError(f"skip rates must be positive integers, got {out}")
    return out


def _span(skip: int, length: int) -> int:
    return skip * (length - 1) + 1


def _check(n_frames: int, length: int, policy: str) -> None:
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {POLICIES}")


def fit_clip(n_frames: int, skip: int, length: int, rng: np.random.Generator, policy: Policy = "fit") -> ClipSpec:
    """One clip at ``skip``, its start uniform over the positions where it fits (Sec. 3.2).

    When it does not fit, ``policy`` decides (module docstring); the returned spec records it.
    """
    _check(n_frames, length, policy)
    span = _span(skip, length)
    if span <= n_frames:
        return ClipSpec(int(rng.integers(0, n_frames - span + 1)), skip, length, "fit", skip)
    if policy == "fit":
        # Largest skip s with s * (length - 1) + 1 <= n; length 1 always fits (handled above).
        lowered = (n_frames - 1) // (length - 1)
        if lowered >= 1:
            start = int(rng.integers(0, n_frames - _span(lowered, length) + 1))
            return ClipSpec(start, lowered, length, "fit", skip)
        # Fewer frames than the clip length: even skip 1 does not fit -> loop, recorded.
        return ClipSpec(int(rng.integers(0, n_frames)), 1, length, "loop", skip)
    return ClipSpec(int(rng.integers(0, n_frames)), skip, length, policy, skip)


def sparse_local_clips(
    n_frames: int,
    rng: np.random.Generator,
    skips: str | Sequence[int] = SKIP_PRESETS["paper"],
    length: int = 16,
    policy: Policy = "fit",
) -> tuple[ClipSpec, ...]:
    """STCLR's sparse local clips (Sec. 3.2): one clip per skip rate, in the order of ``skips``.

    Each start is uniform over the positions where that clip fits; clips may overlap. Returns
    ``len(skips)`` specs (N = 5 for every preset).
    """
    return tuple(fit_clip(n_frames, s, length, rng, policy) for s in resolve_skips(skips))


@dataclass(frozen=True)
class TCLRClips:
    """TCLR's clips of one video: ``local`` = ``n_local`` adjacent skip-1 clips, ``global_clip`` covering them."""

    local: tuple[ClipSpec, ...]
    global_clip: ClipSpec


def tclr_clips(
    n_frames: int,
    rng: np.random.Generator,
    length: int = 16,
    n_local: int = 4,
    global_skip: int = 4,
    policy: Literal["mirror", "loop"] = "mirror",
) -> TCLRClips:
    """TCLR's dense clips (reference code ``dl_tclr.py``): a window of ``n_local * length`` frames
    (64) starting uniformly at random; local clip j = frames ``start + j*length + k`` (skip 1); the
    global clip = ``start + global_skip * k`` (skip 4), so it covers the four local clips.

    A video shorter than the window starts at 0 and the indices past its end are reflected
    (``"mirror"``, what the reference code does by padding with reversed frames) or wrapped
    (``"loop"``). Each clip records the policy it needed (``"fit"`` when it lies inside the video).
    """
    if policy not in ("mirror", "loop"):
        raise ValueError(f"tclr_clips policy must be 'mirror' or 'loop' (dense clips cannot lower their skip), got {policy!r}")
    _check(n_frames, length, policy)
    window = max(n_local * length, _span(global_skip, length))
    start = int(rng.integers(0, n_frames - window + 1)) if window <= n_frames else 0

    def spec(s: int, skip: int) -> ClipSpec:
        clip = ClipSpec(s, skip, length, "fit", skip)
        return clip if clip.fits(n_frames) else ClipSpec(s, skip, length, policy, skip)

    local = tuple(spec(start + j * length, 1) for j in range(n_local))
    return TCLRClips(local, spec(start, global_skip))


# --------------------------------------------------------------------------------------------
# Same Speed Localization (Sec. 3.3, 4.2.1)
# --------------------------------------------------------------------------------------------

#: Speeds (skip rates) of the SSL pretext: powers of two up to the paper's max skip of 16.
SSL_SPEEDS: tuple[int, ...] = (1, 2, 4, 8, 16)
#: Class names of labels 0..3: the positions (1-based) of the two clips with the same speed.
SSL_LABEL_NAMES: tuple[str, ...] = ("12", "13", "23", "none")
#: Label -> the 0-based positions of the same-speed pair (label 3 = all speeds differ).
SSL_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2))
_NONE = 3


def fitting_speeds(n_frames: int, length: int = 16, speeds: Sequence[int] = SSL_SPEEDS) -> tuple[int, ...]:
    """The speeds at which a ``length``-frame clip fits in a video of ``n_frames`` frames."""
    return tuple(s for s in speeds if _span(s, length) <= n_frames)


def label_of_speeds(speeds: Sequence[int]) -> int | None:
    """The SSL label of three speeds: 0/1/2 when exactly the pair 12/13/23 is equal, 3 when all
    differ, ``None`` when all three are equal (not a valid tuple)."""
    a, b, c = speeds
    if a == b == c:
        return None
    for label, (i, j) in enumerate(SSL_PAIRS):
        if speeds[i] == speeds[j]:
            return label
    return _NONE


def ssl_assignments(
    allowed: Sequence[Sequence[int]], label: int
) -> list[tuple[int, int, int]]:
    """Every speed triple ``(s1, s2, s3)`` with ``s_k`` in ``allowed[k]`` whose label is ``label``."""
    return [t for t in product(*allowed) if label_of_speeds(t) == label]


@dataclass(frozen=True)
class SSLTuple:
    """One SSL tuple: three clips, the label naming the same-speed pair, and how it was drawn.

    ``sources[k]`` says which video clip k comes from (an index into the frame counts given to the
    sampler). ``requested_label`` is the label first drawn; ``notes`` records every deviation:
    ``"cross_video_impossible"`` (fewer than 3 candidate videos: fell back to one video),
    ``"resourced"`` (other source videos chosen so the label could be honoured),
    ``"pair_moved"`` (same kind of label, other positions), ``"label_switched"`` (same-speed <->
    all-differ because the sources lacked enough fitting speeds), ``"mirror_fallback"`` (no
    assignment fitted at all: clips that do not fit are reflected; their step size is still the speed).
    """

    clips: tuple[ClipSpec, ClipSpec, ClipSpec]
    label: int
    sources: tuple[int, int, int]
    cross_video: bool
    requested_label: int
    notes: tuple[str, ...] = field(default=())

    @property
    def speeds(self) -> tuple[int, int, int]:
        return tuple(c.skip for c in self.clips)  # type: ignore[return-value]

    @property
    def label_name(self) -> str:
        return SSL_LABEL_NAMES[self.label]

    def to_dict(self) -> dict:
        return {
            "clips": [c.to_dict() for c in self.clips],
            "label": self.label,
            "label_name": self.label_name,
            "sources": list(self.sources),
            "cross_video": self.cross_video,
            "requested_label": self.requested_label,
            "notes": list(self.notes),
        }


def _draw_label(rng: np.random.Generator, c2: float) -> int:
    # With prob C2 exactly two clips share a speed (pair uniform over 12/13/23), else all differ.
    same = rng.random() < c2
    pair = int(rng.integers(0, 3))
    return pair if same else _NONE


def _label_order(label: int, rng: np.random.Generator) -> list[tuple[int, str | None]]:
    """Labels to try in order, with the note each fallback earns: the drawn one, the other labels of
    the same kind (pair labels only), then the other kind."""
    pairs = [int(p) for p in rng.permutation(3)]
    if label == _NONE:
        return [(_NONE, None)] + [(p, "label_switched") for p in pairs]
    others = [p for p in pairs if p != label]
    return [(label, None)] + [(p, "pair_moved") for p in others] + [(_NONE, "label_switched")]


def _clips_for(frames: Sequence[int], speeds: Sequence[int], length: int, rng: np.random.Generator, policy: Policy):
    out = []
    for n, s in zip(frames, speeds):
        span = _span(s, length)
        if span <= n:
            out.append(ClipSpec(int(rng.integers(0, n - span + 1)), s, length, "fit", s))
        else:  # only reached in the mirror fallback: keep the speed, reflect at the ends
            out.append(ClipSpec(int(rng.integers(0, n)), s, length, policy, s))
    return tuple(out)


def ssl_tuple(
    source_frames: Sequence[int],
    rng: np.random.Generator,
    *,
    label: int | None = None,
    c2: float = 0.75,
    length: int = 16,
    speeds: Sequence[int] = SSL_SPEEDS,
    sources: Sequence[int] = (0, 1, 2),
    cross_video: bool | None = None,
    notes: Sequence[str] = (),
) -> SSLTuple:
    """The SSL tuple for three given sources (Sec. 3.3): ``source_frames[k]`` = frame count of the
    video clip k comes from (pass the same count three times for a same-video tuple).

    The label is drawn with ``c2`` unless given. Speeds are drawn uniformly among the assignments
    consistent with the label in which **every clip fits its video** at its speed, so the label
    never lies. When no assignment exists: another pair label (``"pair_moved"``, helps only when the
    sources differ), then the other kind of label (``"label_switched"``), then, as a last resort,
    the drawn label with the three smallest speeds and the overflowing clips reflected
    (``"mirror_fallback"``). ``sources``/``cross_video``/``notes`` are recorded as given (the caller's
    video ids, and deviations it already made).
    """
    if len(source_frames) != 3:
        raise ValueError(f"an SSL tuple has K = 3 clips, got {len(source_frames)} sources")
    if len(set(speeds)) < 3:
        raise ValueError(f"SSL needs at least 3 distinct speeds, got {speeds}")
    requested = _draw_label(rng, c2) if label is None else int(label)
    if cross_video is None:
        cross_video = len(set(sources)) > 1
    notes = list(notes)  # deviations the caller already recorded (e.g. cross_video_impossible)
    allowed = [fitting_speeds(n, length, speeds) for n in source_frames]
    for lab, note in _label_order(requested, rng):
        options = ssl_assignments(allowed, lab)
        if options:
            if note:
                notes.append(note)
            chosen = options[int(rng.integers(0, len(options)))]
            clips = _clips_for(source_frames, chosen, length, rng, "mirror")
            return SSLTuple(clips, lab, tuple(sources), cross_video, requested, tuple(notes))  # type: ignore[arg-type]
    # Nothing fits (a source shorter than two speeds' spans): keep the drawn label, use the three
    # smallest speeds and reflect the clips that overflow. Each clip still steps by its speed.
    small = sorted(set(speeds))[:3]
    options = ssl_assignments([small] * 3, requested)
    chosen = options[int(rng.integers(0, len(options)))]
    clips = _clips_for(source_frames, chosen, length, rng, "mirror")
    notes.append("mirror_fallback")
    return SSLTuple(clips, requested, tuple(sources), cross_video, requested, tuple(notes))  # type: ignore[arg-type]


def _feasible(frames: Sequence[int], label: int, length: int, speeds: Sequence[int]) -> bool:
    allowed = [fitting_speeds(n, length, speeds) for n in frames]
    return bool(ssl_assignments(allowed, label))


def _kind_feasible(frames: Sequence[int], label: int, length: int, speeds: Sequence[int]) -> bool:
    """Whether the *kind* of ``label`` (some same-speed pair, or all different) can be honoured."""
    labels = (_NONE,) if label == _NONE else (0, 1, 2)
    return any(_feasible(frames, lab, length, speeds) for lab in labels)


def draw_ssl_tuple(
    frame_counts: Sequence[int],
    anchor: int,
    rng: np.random.Generator,
    *,
    c1: float = 0.6,
    c2: float = 0.75,
    length: int = 16,
    speeds: Sequence[int] = SSL_SPEEDS,
    max_resource_tries: int = 64,
) -> SSLTuple:
    """The SSL tuple of video ``anchor`` among candidate videos ``frame_counts`` (e.g. the batch).

    With probability ``c1`` the three clips come from three different videos: the anchor and two
    others drawn from the candidates, in random positions; otherwise all three come from the
    anchor. ``sources`` index ``frame_counts``. Fewer than 3 candidates make a cross-video tuple
    impossible: it falls back to the anchor alone, noted ``"cross_video_impossible"``. If the drawn
    label cannot be honoured with the drawn sources (too short), other sources are tried first
    (``"resourced"``), then :func:`ssl_tuple`'s label fallbacks.
    """
    n_cand = len(frame_counts)
    if not 0 <= anchor < n_cand:
        raise ValueError(f"anchor {anchor} outside the {n_cand} candidates")
    # Draw everything in a fixed order so the stream (and so the plan) is stable across fallbacks.
    cross = rng.random() < c1
    label = _draw_label(rng, c2)
    notes: list[str] = []
    if cross and n_cand < 3:
        cross = False
        notes.append("cross_video_impossible")
    if not cross:
        n = frame_counts[anchor]
        return ssl_tuple((n, n, n), rng, label=label, length=length, speeds=speeds,
                         sources=(anchor,) * 3, cross_video=False, notes=notes)
    others = np.array([i for i in range(n_cand) if i != anchor])
    sources = _cross_sources(anchor, others, rng)
    frames = [frame_counts[s] for s in sources]
    if not _kind_feasible(frames, label, length, speeds):
        # The drawn kind of label is impossible with these videos: look for other videos in the batch.
        for _ in range(max_resource_tries):
            trial = _cross_sources(anchor, others, rng)
            trial_frames = [frame_counts[s] for s in trial]
            if _kind_feasible(trial_frames, label, length, speeds):
                sources, frames = trial, trial_frames
                notes.append("resourced")
                break
    return ssl_tuple(frames, rng, label=label, length=length, speeds=speeds,
                     sources=sources, cross_video=True, notes=notes)


def _cross_sources(anchor: int, others: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    two = rng.choice(others, size=2, replace=False)
    order = rng.permutation(3)
    trio = np.array([anchor, int(two[0]), int(two[1])])[order]
    return tuple(int(x) for x in trio)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Evaluation clips (Sec. 4.2.2: retrieval, 10 clips at skip 3; TCLR protocol: 9 clips at skip 2)
# --------------------------------------------------------------------------------------------


def uniform_clips(
    n_frames: int, n_clips: int = 10, length: int = 16, skip: int = 3, policy: Policy = "fit"
) -> tuple[ClipSpec, ...]:
    """``n_clips`` uniformly spaced clips (deterministic): starts ``linspace(0, n - span, n_clips)``.

    A video shorter than one clip at ``skip`` follows ``policy`` (default: lower the skip, recorded;
    loop at skip 1 when even that does not fit). Evaluation never drops a video.
    """
    _check(n_frames, length, policy)
    if n_clips < 1:
        raise ValueError(f"n_clips must be >= 1, got {n_clips}")
    eff, pol = skip, "fit"
    if _span(skip, length) > n_frames:
        if policy == "fit":
            lowered = (n_frames - 1) // (length - 1) if length > 1 else skip
            eff, pol = (lowered, "fit") if lowered >= 1 else (1, "loop")
        else:
            pol = policy
    last = max(n_frames - _span(eff, length), 0) if pol == "fit" else n_frames - 1
    starts = np.round(np.linspace(0, last, n_clips)).astype(int)
    return tuple(ClipSpec(int(s), eff, length, pol, skip) for s in starts)  # type: ignore[arg-type]


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of the global RNGs (dropout; the data pipelines seed themselves from (seed, epoch, step)) for one
    epoch of one rank: resuming at an epoch boundary then continues the exact random stream."""
    return seed * 1_000_003 + epoch * 1009 + rank
