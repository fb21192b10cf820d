"""Frame-exact video decoding: ``probe`` a file, ``read_frames`` at any set of indices, count the work.

Frame ``i`` of a video is, by definition here, the ``i``-th frame that a plain sequential decode
yields (PyAV, in presentation order). Every backend is tested against that definition with videos
whose frames encode their own index (``stclr.fixtures``).

Why this module is careful (see ``docs/method.md`` §8):

- decord's random access (``get_batch`` with jumps) returns *wrong frames, silently*, on MPEG-4
  Part 2 AVI files with B-frames, i.e. on UCF-101 and HMDB-51 as distributed. It is exact on H.264
  in MP4, but slower there than PyAV (``bench/decode.py``). So the default reader seeks only where
  the container places every frame (H.264 MP4) and checks each frame's timestamp; everything else
  is decoded sequentially from the start up to the last frame needed.
- A video's header frame count is not the number of frames that decode (HMDB-51's DivX files
  hold one packet more than they have frames, so decord's ``len()`` is one too many; Matroska
  headers carry no count at all). ``probe`` counts the frames that actually decode.
- One call decodes the sorted union of the requested indices in one pass, however many clips
  those indices came from; duplicates and any order are fine.

Backends (``read_frames(..., backend=...)``); all but forced ``"decord"`` are frame-exact:

================  ==================================================================================
``"pyav"``        PyAV, single-threaded, sequential from frame 0, stops after the last needed index;
                  only needed frames are converted (``to_ndarray(format="rgb24")``, resized by
                  swscale in the same step). Exact everywhere; the reference.
``"pyav_seek"``   PyAV with seeks: where the container places every frame (H.264/H.265 in MP4/MOV),
                  it seeks to the keyframe before a wanted frame when that skips decoding, and checks
                  each frame it keeps by its presentation timestamp; anywhere else, or if a check
                  fails, it decodes sequentially like ``"pyav"``.
``"decord_seq"``  decord, ``get_batch`` over consecutive chunks ``0..last`` (no seek). The right
                  frames, but it converts every frame up to the last one needed, and decord's own
                  FFmpeg build may differ from PyAV's by a level in a few pixels (seen on one frame
                  of one HMDB-51 clip).
``"decord"``      decord random access (``get_batch`` of the needed indices). Allowed only where it is
                  exact (``VideoInfo.seek_exact``); on other files it raises ``VideoReadError`` unless
                  ``allow_inexact=True`` (to demonstrate the wrong frames it returns there).
``"auto"``        ``choose_backend(path)``: ``"pyav_seek"`` for H.264/H.265 MP4, else ``"pyav"``.
================  ==================================================================================

Readers are opened inside each call and closed before it returns, never cached, so calls are safe
in DataLoader workers after ``fork``. Per-process counters (``get_counters``) record videos opened,
decode calls and frames decoded.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence, Union

import av
import numpy as np
import torch

try:  # decord has no wheels for macOS arm64; PyAV is the exact fallback everywhere.
    import decord as _decord
    from decord._ffi.base import DECORDError as _DECORDError
except ImportError:  # pragma: no cover - exercised only where decord is missing
    _decord = None
    _DECORDError = None

__all__ = [
    "BACKENDS",
    "HAS_DECORD",
    "VideoReadError",
    "VideoInfo",
    "DecodeCounters",
    "COUNTERS",
    "probe",
    "choose_backend",
    "read_frames",
    "output_size",
    "get_counters",
    "reset_counters",
    "clear_probe_cache",
]

HAS_DECORD = _decord is not None
BACKENDS = ("auto", "pyav", "pyav_seek", "decord_seq", "decord")

# Containers whose header lists every frame (MP4 sample tables), and codecs for which decord's
# timestamp-based seeking was verified exact (docs/method.md §8; tests/test_video.py re-checks it).
_INDEXED_CONTAINERS = ("mov", "mp4")  # parts of PyAV's format name "mov,mp4,m4a,3gp,3g2,mj2"
_SEEKABLE_CONTAINERS = _INDEXED_CONTAINERS + ("matroska",)
_SEEKABLE_CODECS = ("h264", "hevc")

# A stream that keeps yielding packets but no frames is broken; stop instead of reading it to the end.
_MAX_PACKETS_WITHOUT_FRAME = 1000
_DECORD_CHUNK = 32  # frames per get_batch in decord_seq: bounds memory on long videos
# pyav_seek seeks only when that skips more frames than this: a seek restarts the decoder at a keyframe.
_SEEK_MIN_SKIP = 8

PathLike = Union[str, os.PathLike]
Size = Union[None, int, Sequence[int]]


class VideoReadError(RuntimeError):
    """A video could not be read as asked. The message names the path and the cause; ``frame`` is the index of
    the first frame that did not decode (None when the file failed before decoding started, e.g. no video
    stream, or the backend cannot tell)."""

    def __init__(self, path: PathLike, cause: str, frame: int | None = None):
        self.path = str(path)
        self.cause = cause
        self.frame = frame
        super().__init__(f"{self.path}: {cause}")

    def __reduce__(self):  # keep (path, cause, frame) through pickling, e.g. out of a worker process
        return type(self), (self.path, self.cause, self.frame)


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learns about a video.

    ``num_frames`` is the number of frames that actually decode (sequential decode), which may differ
    from ``header_frames`` (the container's claim; 0 when the container has none, as in Matroska).
    ``seek_exact``: random access (decord ``get_batch``) returns the right frames for this file
    (H.264/H.265 in MP4/MOV/MKV whose frame count is consistent); ``has_b_frames``: decode order may
    differ from display order (a frame decoded as a B-frame, or the decoder declares a reorder delay).
    """

    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    codec: str
    container: str
    has_b_frames: bool
    header_frames: int
    seek_exact: bool
    duration: float  # seconds, num_frames / fps

    @property
    def size(self) -> tuple[int, int]:
        """Native (H, W)."""
        return self.height, self.width


@dataclass
class DecodeCounters:
    """Per-process decode work. ``read_frames``: +1 video opened, +1 decode call (none for an empty
    request), + frames decoded (every frame the decoder produced, converted or not). ``probe``: +1 probe
    per cache miss (each is a full decode pass, counted apart from the data path)."""

    videos_opened: int = 0
    decode_calls: int = 0
    frames_decoded: int = 0
    probes: int = 0


COUNTERS = DecodeCounters()


def get_counters() -> dict[str, int]:
    """A snapshot of this process's counters (a plain dict, safe to send between processes)."""
    return dataclasses.asdict(COUNTERS)


def reset_counters() -> None:
    """Set this process's counters to zero."""
    for field in dataclasses.fields(COUNTERS):
        setattr(COUNTERS, field.name, 0)


# ----------------------------------------------------------------------------------------------
# header and probe


@dataclass(frozen=True)
class _Header:
    """What the container says, read without decoding (about a millisecond)."""

    container: str
    codec: str
    width: int
    height: int
    fps: float
    header_frames: int

    @property
    def indexed_h26x(self) -> bool:
        return _matches(self.container, _INDEXED_CONTAINERS) and self.codec in _SEEKABLE_CODECS and self.header_frames > 0


def _matches(container: str, names: Sequence[str]) -> bool:
    return any(part in names for part in container.split(","))


def _existing_file(path: PathLike) -> Path:
    """``path`` as a Path after the checks that need no decoder: exists, is a file, is not empty."""
    p = Path(path)
    if not p.exists():
        raise VideoReadError(p, "file not found")
    if not p.is_file():
        raise VideoReadError(p, "not a regular file")
    if p.stat().st_size == 0:
        raise VideoReadError(p, "empty file (0 bytes)")
    return p


def _cache_key(p: Path) -> tuple[str, int, int]:
    st = p.stat()
    return str(p.resolve()), st.st_size, st.st_mtime_ns


def _open(p: Path):
    """Open ``p`` with PyAV, turning every failure into VideoReadError."""
    try:
        return av.open(str(p), mode="r")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as e:
        raise VideoReadError(p, f"cannot open as a video container ({type(e).__name__}: {e})") from e


def _video_stream(p: Path, container):
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoReadError(p, f"no video stream (streams found: {', '.join(kinds)})")
    return container.streams.video[0]


def _header_of(p: Path, container) -> _Header:
    stream = _video_stream(p, container)
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        raise VideoReadError(p, f"video stream has no frame size ({ctx.width}x{ctx.height})")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return _Header(
        container=container.format.name,
        codec=ctx.name,
        width=ctx.width,
        height=ctx.height,
        fps=float(rate) if rate else 0.0,
        header_frames=int(stream.frames or 0),
    )


@functools.lru_cache(maxsize=65536)
def _header_cached(key: tuple[str, int, int]) -> _Header:
    p = Path(key[0])
    with _open(p) as container:
        return _header_of(p, container)


def _header(p: Path) -> _Header:
    return _header_cached(_cache_key(p))


def probe(path: PathLike) -> VideoInfo:
    """Facts about the video at ``path``, counting the frames that actually decode.

    The count needs one decode pass; it is made cheap (frame-threaded decoding, loop filter and IDCT
    skipped — the frames are counted, never looked at) and cached in-process per (path, size,
    mtime), so a changed file is probed again. Raises ``VideoReadError`` for anything unreadable,
    including a stream that fails mid-way (the whole file must decode).
    """
    p = _existing_file(path)
    info = _probe_cached(_cache_key(p))
    return dataclasses.replace(info, path=str(path))


def clear_probe_cache() -> None:
    """Forget cached probe and header results (tests; files rewritten within one mtime tick)."""
    _probe_cached.cache_clear()
    _header_cached.cache_clear()
    _frame_table_cached.cache_clear()


@functools.lru_cache(maxsize=65536)
def _probe_cached(key: tuple[str, int, int]) -> VideoInfo:
    p = Path(key[0])
    COUNTERS.probes += 1
    with _open(p) as container:
        header = _header_of(p, container)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "AUTO"
        # Pixels are discarded, so the decoder may skip work that only changes pixels, never frames.
        ctx.options = {"skip_loop_filter": "all", "skip_idct": "all"}
        num_frames, b_frames = 0, 0
        for frame in _decoded_frames(p, container, stream):
            num_frames += 1
            b_frames += frame.pict_type == av.video.frame.PictureType.B
        # A declared reorder delay counts too: HMDB-51's climb_stairs clip has one but no B-frame.
        reorders = b_frames > 0 or ctx.has_b_frames
    if num_frames == 0:
        raise VideoReadError(p, "the video stream decodes to 0 frames")
    consistent = header.header_frames in (0, num_frames)
    seek_exact = (
        _matches(header.container, _SEEKABLE_CONTAINERS) and header.codec in _SEEKABLE_CODECS and consistent
    )
    return VideoInfo(
        path=str(p),
        num_frames=num_frames,
        fps=header.fps,
        width=header.width,
        height=header.height,
        codec=header.codec,
        container=header.container,
        has_b_frames=bool(reorders),
        header_frames=header.header_frames,
        seek_exact=seek_exact,
        duration=num_frames / header.fps if header.fps else 0.0,
    )


def _decoded_frames(p: Path, container, stream) -> Iterator[av.VideoFrame]:
    """Every frame of ``stream`` in presentation order, with decoder errors as VideoReadError and a
    guard against streams that yield packets but never a frame."""
    starved = 0
    try:
        for packet in container.demux(stream):
            # The last packet demux yields is an empty one that flushes the decoder's delayed frames.
            frames = packet.decode()
            starved = 0 if frames else starved + 1
            if starved > _MAX_PACKETS_WITHOUT_FRAME:
                raise VideoReadError(p, f"decoder produced no frame for {_MAX_PACKETS_WITHOUT_FRAME} packets in a row")
            yield from frames
    except av.error.FFmpegError as e:
        raise VideoReadError(p, f"decoding failed ({type(e).__name__}: {e})") from e


# ----------------------------------------------------------------------------------------------
# requests: indices and sizes


def output_size(size: Size, height: int, width: int) -> tuple[int, int]:
    """The (H, W) that ``size`` asks for, given a native ``height`` x ``width``.

    ``None``: native. ``int s``: the short side becomes ``s``, the long side keeps the aspect ratio
    (rounded). ``(H, W)``: exactly that.
    """
    if size is None:
        return height, width
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        s = int(size)
        if s <= 0:
            raise ValueError(f"size must be positive, got {size}")
        if height <= width:
            return s, max(1, round(width * s / height))
        return max(1, round(height * s / width)), s
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be None, an int or (H, W), got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


def _as_indices(p: Path, indices) -> np.ndarray:
    """``indices`` as a 1-D int64 array; VideoReadError for negative ones."""
    if isinstance(indices, torch.Tensor):
        indices = indices.detach().cpu().numpy()
    arr = np.asarray(indices)
    if arr.ndim != 1:
        raise ValueError(f"indices must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"indices must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise VideoReadError(p, f"negative frame index {int(arr.min())} (indices count from 0)")
    return arr


# ----------------------------------------------------------------------------------------------
# the frame table: exact random access with PyAV


@dataclass(frozen=True)
class _FrameTable:
    """Where every frame is, from the container's packets (demuxed, not decoded).

    ``pts[i]``: presentation timestamp of frame ``i`` (sorted); ``key_frames``: frame indices of the
    keyframes (sorted). Seeking to a keyframe's pts lands on that keyframe (MP4; checked at read time).
    """

    pts: np.ndarray  # int64 [N]
    key_frames: np.ndarray  # int64 [K]

    @property
    def num_frames(self) -> int:
        return len(self.pts)

    def key_before(self, index: int) -> int:
        """Position in ``key_frames`` of the last keyframe at or before frame ``index``."""
        return int(np.searchsorted(self.key_frames, index, side="right")) - 1


@functools.lru_cache(maxsize=65536)
def _frame_table_cached(key: tuple[str, int, int]) -> _FrameTable | None:
    p = Path(key[0])
    with _open(p) as container:
        header = _header_of(p, container)
        if not header.indexed_h26x:
            return None
        stream = container.streams.video[0]
        pts, is_key = [], []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the end-of-stream flush packet
                    continue
                if packet.pts is None or packet.is_discard or packet.is_corrupt:
                    return None  # frames we could not place exactly: decode sequentially instead
                pts.append(packet.pts)
                is_key.append(packet.is_keyframe)
        except av.error.FFmpegError as e:
            raise VideoReadError(p, f"demuxing failed ({type(e).__name__}: {e})") from e
    pts, is_key = np.asarray(pts, np.int64), np.asarray(is_key, bool)
    sorted_pts = np.sort(pts)
    # One packet per frame, distinct timestamps, a keyframe first, and the header agrees: else no table.
    if len(pts) != header.header_frames or len(pts) == 0 or np.any(np.diff(sorted_pts) <= 0):
        return None
    key_frames = np.sort(np.searchsorted(sorted_pts, pts[is_key])).astype(np.int64)
    if len(key_frames) == 0 or key_frames[0] != 0:
        return None
    return _FrameTable(sorted_pts, key_frames)


def _frame_table(p: Path) -> _FrameTable | None:
    return _frame_table_cached(_cache_key(p))


def _seek_plan(table: _FrameTable, unique: np.ndarray) -> list[tuple[int, int]]:
    """Where to seek: segments ``(keyframe position in table.key_frames or -1 for "no seek", first k)``.

    Decoding goes forward from the last position; it seeks to the keyframe before the next wanted
    frame only when that skips more than ``_SEEK_MIN_SKIP`` frames, since each seek restarts the
    decoder. Sorted ``unique`` indices; segment j covers unique[first_k_j : first_k_{j+1}].
    """
    segments: list[tuple[int, int]] = []
    pos = 0  # the next frame the decoder would yield without a seek
    for k, index in enumerate(unique.tolist()):
        kpos = table.key_before(index)
        if int(table.key_frames[kpos]) - pos > _SEEK_MIN_SKIP:
            segments.append((kpos, k))
        elif k == 0:
            segments.append((-1, 0))
        pos = index + 1
    return segments


class _NotExact(Exception):
    """A seek landed somewhere unexpected; the caller decodes sequentially instead."""


# ----------------------------------------------------------------------------------------------
# backends


def choose_backend(path: PathLike) -> str:
    """What ``backend="auto"`` uses for ``path`` (from the container alone, no decode):

    - ``"pyav_seek"`` for H.264/H.265 in MP4/MOV whose sample table places every frame (one packet
      per frame, all timestamped, count equal to the header's): PyAV seeks to keyframes where that
      skips frames, and checks every frame it returns by its timestamp;
    - ``"pyav"`` (sequential from frame 0) for everything else: AVI, MPEG-4 Part 2, Matroska (no
      frame count in its header), any other codec.

    decord is never picked: random access with it was slower than PyAV on every file measured
    (``bench/decode.py``), and it is wrong on B-frame AVIs.
    """
    p = _existing_file(path)
    return "pyav_seek" if _frame_table(p) is not None else "pyav"


def read_frames(
    path: PathLike,
    indices: Sequence[int] | np.ndarray | torch.Tensor,
    *,
    size: Size = None,
    backend: str = "auto",
    allow_inexact: bool = False,
) -> torch.Tensor:
    """Frames ``indices`` of the video at ``path``: uint8 tensor [T, H, W, 3] (RGB), T = len(indices).

    Frames come back in the order asked; duplicates are allowed and decoded once (one pass over the
    sorted unique indices). ``size``: ``None`` (native), ``int`` (short side, aspect kept) or ``(H, W)``;
    see ``output_size``. ``backend``: one of ``BACKENDS`` (module docstring). ``allow_inexact`` lets
    ``backend="decord"`` do random access on a file where it is not known to be exact — only for
    demonstrating what goes wrong.

    An empty ``indices`` returns uint8 [0, H, W, 3] (the file is still opened and checked; no decode
    call is counted). Raises ``VideoReadError`` (message: path and cause) for a missing, empty,
    truncated or corrupt file, a file without a video stream, or an index that is negative or not
    below the number of frames that decode.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    p = _existing_file(path)
    wanted = _as_indices(p, indices)
    if backend in ("decord", "decord_seq") and not HAS_DECORD:
        raise VideoReadError(p, f"backend {backend!r} needs decord, which is not installed (use 'pyav')")
    if backend == "auto":
        backend = choose_backend(p)
    elif backend == "decord" and not allow_inexact:
        _require_seek_exact(p)

    header = _header(p)
    out_hw = output_size(size, header.height, header.width)
    if wanted.size and _FRAME_CACHE.max_bytes and backend != "decord":
        return _FRAME_CACHE.read(p, wanted, out_hw)
    COUNTERS.videos_opened += 1
    if wanted.size == 0:
        return torch.empty((0, *out_hw, 3), dtype=torch.uint8)

    unique, inverse = np.unique(wanted, return_inverse=True)
    COUNTERS.decode_calls += 1
    if backend == "pyav":
        frames = _read_pyav(p, unique, out_hw)
    elif backend == "pyav_seek":
        frames = _read_pyav_seek(p, unique, out_hw)
    elif backend == "decord_seq":
        frames = _read_decord_seq(p, unique, out_hw)
    else:
        frames = _read_decord_random(p, unique, out_hw)
    if not (len(unique) == len(wanted) and np.array_equal(unique, wanted)):
        frames = frames[inverse]
    return torch.from_numpy(frames)


class _DecodedVideoCache:
    """Whole decoded videos kept in memory (LRU, bounded in bytes), keyed by file identity and output size.

    For small datasets read many times (the synthetic course set: 512 videos x 96 frames x 64x64 is 604 MB
    decoded, half of it the training videos) decoding, not the model, is what a CPU run spends its time on;
    with the cache each video is decoded once per process, by a full sequential decode -- so cached frames are
    exact by construction.
    Each DataLoader worker holds its own cache. Off (``max_bytes == 0``) unless :func:`set_frame_cache` is
    called; the decode counters count the one decode of a miss and nothing for a hit."""

    def __init__(self):
        self.max_bytes, self.bytes, self.hits, self.misses = 0, 0, 0, 0
        self._videos: collections.OrderedDict = collections.OrderedDict()

    def read(self, p: Path, wanted: np.ndarray, out_hw: tuple[int, int]) -> torch.Tensor:
        key = (_cache_key(p), out_hw)
        frames = self._videos.get(key)
        if frames is None:
            self.misses += 1
            COUNTERS.videos_opened += 1
            COUNTERS.decode_calls += 1
            frames = torch.from_numpy(_read_all_pyav(p, out_hw))
            if int(wanted.max()) >= len(frames):
                raise _out_of_range(p, int(wanted.max()), len(frames), "decode")
            if frames.numel() <= self.max_bytes:
                self._videos[key] = frames
                self.bytes += frames.numel()
                while self.bytes > self.max_bytes:
                    self.bytes -= self._videos.popitem(last=False)[1].numel()
        else:
            self.hits += 1
            self._videos.move_to_end(key)
            if int(wanted.max()) >= len(frames):
                raise _out_of_range(p, int(wanted.max()), len(frames), "decode")
        return frames[torch.from_numpy(wanted)]

    def clear(self) -> None:
        self._videos.clear()
        self.bytes = self.hits = self.misses = 0


_FRAME_CACHE = _DecodedVideoCache()


def add_h264_stream(container, width: int, height: int, rate, *, crf: int, preset: str, gop: int, threads: int = 0):
    """An H.264 (libx264, yuv420p) video stream on the output ``container``, made for exact and cheap seeking: a
    fixed GOP of ``gop`` frames without scene-cut keyframes or B-frames, so decode order is display order and any
    frame is at most ``gop - 1`` frames after a keyframe. ``threads``: encoder threads (0: x264's choice; 1 makes
    the bitstream as repeatable as x264 allows). The writer of ``stclr data prepare`` and of the synthetic set."""
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0" + (f":threads={threads}" if threads else "")
    stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": preset, "x264-params": params})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if threads:
        stream.codec_context.thread_count = threads
    return stream


def set_frame_cache(max_mb: float) -> None:
    """Keep up to ``max_mb`` MB of whole decoded videos in this process's memory (0 turns the cache off and
    empties it). ``read_frames`` then decodes each video once and serves later reads from memory
    (``backend="decord"`` random access is never cached)."""
    if max_mb < 0:
        raise ValueError(f"max_mb must be >= 0, got {max_mb}")
    _FRAME_CACHE.max_bytes = int(max_mb * 2**20)
    if not _FRAME_CACHE.max_bytes:
        _FRAME_CACHE.clear()
    while _FRAME_CACHE.bytes > _FRAME_CACHE.max_bytes:
        _FRAME_CACHE.bytes -= _FRAME_CACHE._videos.popitem(last=False)[1].numel()


def frame_cache_info() -> dict[str, int]:
    """``{"max_bytes", "bytes", "videos", "hits", "misses"}`` of this process's decoded-video cache."""
    c = _FRAME_CACHE
    return {"max_bytes": c.max_bytes, "bytes": c.bytes, "videos": len(c._videos), "hits": c.hits, "misses": c.misses}


def _require_seek_exact(p: Path) -> None:
    info = probe(p)
    if not info.seek_exact:
        raise VideoReadError(
            p,
            f"decord random access is not frame-exact for {info.codec} in {info.container.split(',')[0]}"
            f"{' with B-frames' if info.has_b_frames else ''}; use backend='pyav' or 'decord_seq' "
            "(or allow_inexact=True to see the wrong frames)",
        )


def _out_of_range(p: Path, index: int, available: int, how: str) -> VideoReadError:
    return VideoReadError(p, f"frame index {index} out of range: only {available} frames {how} (valid: 0..{available - 1})",
                          frame=available)


def _to_rgb(frame: av.VideoFrame, out_hw: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W, 3]: colour conversion and (if asked) resize in one swscale pass, one thread.
    (8x faster than converting at native size and resizing with torch afterwards; bench/decode.py.)"""
    h, w = out_hw
    return frame.to_ndarray(format="rgb24", width=w, height=h, threads=1)


def _open_for_decoding(p: Path):
    container = _open(p)
    stream = _video_stream(p, container)
    stream.codec_context.thread_count = 1  # one thread per reader; parallelism comes from DataLoader workers
    return container, stream


def _read_pyav(p: Path, unique: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Sequential PyAV decode of frames 0..unique[-1]; converts only the wanted ones. -> uint8 [U, H, W, 3]"""
    out = np.empty((len(unique), *out_hw, 3), dtype=np.uint8)
    container, stream = _open_for_decoding(p)
    k, decoded, last = 0, 0, int(unique[-1])
    with container:
        try:
            for decoded, frame in enumerate(_decoded_frames(p, container, stream), start=1):
                if decoded - 1 == unique[k]:
                    out[k] = _to_rgb(frame, out_hw)
                    k += 1
                    if decoded - 1 == last:
                        break
        except VideoReadError as e:
            if e.frame is None:
                e.frame = decoded  # frames 0..decoded-1 came out: the next one is where the stream broke
            raise
        finally:
            COUNTERS.frames_decoded += decoded
    if k < len(unique):
        raise _out_of_range(p, int(unique[k]), decoded, "decode")
    return out


def _read_all_pyav(p: Path, out_hw: tuple[int, int]) -> np.ndarray:
    """Every frame of a sequential PyAV decode (one pass; no probe needed). -> uint8 [N, H, W, 3]"""
    frames: list[np.ndarray] = []
    container, stream = _open_for_decoding(p)
    with container:
        try:
            for frame in _decoded_frames(p, container, stream):
                frames.append(_to_rgb(frame, out_hw))
        except VideoReadError as e:
            if e.frame is None:
                e.frame = len(frames)  # where the stream broke
            raise
        finally:
            COUNTERS.frames_decoded += len(frames)
    if not frames:
        raise VideoReadError(p, "no frame decodes")
    return np.stack(frames)


def _read_pyav_seek(p: Path, unique: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """PyAV with seeks to keyframes (``_seek_plan``); every frame kept is checked by its timestamp.
    Falls back to ``_read_pyav`` where the file has no frame table or a seek lands wrong. -> uint8 [U, H, W, 3]"""
    table = _frame_table(p)
    if table is None:
        return _read_pyav(p, unique, out_hw)
    if int(unique[-1]) >= table.num_frames:
        raise _out_of_range(p, int(unique[-1]), table.num_frames, "in the video")
    out = np.empty((len(unique), *out_hw, 3), dtype=np.uint8)
    segments = _seek_plan(table, unique) + [(None, len(unique))]
    container, stream = _open_for_decoding(p)
    decoded = 0
    try:
        with container:
            for (kpos, first), (_, stop) in zip(segments[:-1], segments[1:]):
                start_pts = int(table.pts[0])
                if kpos >= 0:
                    # Landing early only costs time; landing late is caught by the timestamp checks.
                    start_pts = int(table.pts[table.key_frames[kpos]])
                    container.seek(start_pts, stream=stream, backward=True)
                decoded += _decode_segment(p, container, stream, table.pts[unique[first:stop]], start_pts, out[first:stop], out_hw)
    except _NotExact:
        COUNTERS.frames_decoded += decoded
        return _read_pyav(p, unique, out_hw)
    except av.error.FFmpegError as e:
        raise VideoReadError(p, f"seeking failed ({type(e).__name__}: {e})") from e
    COUNTERS.frames_decoded += decoded
    return out


def _decode_segment(p, container, stream, wanted_pts: np.ndarray, start_pts: int, out: np.ndarray, out_hw) -> int:
    """Decode forward, filling ``out[j]`` with the frame whose pts is ``wanted_pts[j]``; returns frames decoded.
    Raises _NotExact if a wanted timestamp is passed over or never comes."""
    j, decoded = 0, 0
    for frame in _decoded_frames(p, container, stream):
        decoded += 1
        if frame.pts is None:
            raise _NotExact
        if frame.pts < start_pts:  # leading frames of an open GOP, before the keyframe in display order
            continue
        if frame.pts < wanted_pts[j]:
            continue
        if frame.pts != wanted_pts[j]:
            raise _NotExact
        out[j] = _to_rgb(frame, out_hw)
        j += 1
        if j == len(wanted_pts):
            return decoded
    raise _NotExact


def _decord_reader(p: Path, out_hw: tuple[int, int]):
    header = _header(p)
    h, w = out_hw
    kwargs = {} if (h, w) == (header.height, header.width) else {"width": w, "height": h}
    try:
        return _decord.VideoReader(str(p), ctx=_decord.cpu(0), num_threads=1, **kwargs)
    except _DECORDError as e:
        raise VideoReadError(p, f"decord cannot open it ({_first_line(e)})") from e


def _first_line(e: BaseException) -> str:
    lines = [line for line in str(e).splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def _decord_batch(p: Path, vr, indices: list[int]) -> np.ndarray:
    try:
        return vr.get_batch(indices).asnumpy()
    except _DECORDError as e:
        raise VideoReadError(p, f"decord failed while decoding ({_first_line(e)})") from e


def _read_decord_seq(p: Path, unique: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """decord, frames 0..unique[-1] in consecutive chunks, so it never seeks and stays exact.
    (decord's own ``skip_frames``/``next`` is NOT exact on B-frame AVIs, hence whole chunks.) -> uint8 [U, H, W, 3]"""
    vr = _decord_reader(p, out_hw)
    last, n = int(unique[-1]), len(vr)
    if last >= n:
        raise _out_of_range(p, last, n, "in the video")
    if last == n - 1 and probe(p).num_frames < n:
        # decord counts one frame too many on HMDB-51's DivX files and returns a copy of the frame
        # before for it; only a decode knows the true count (probe's, cached).
        raise _out_of_range(p, last, probe(p).num_frames, "decode")
    chunks = []
    for start in range(0, last + 1, _DECORD_CHUNK):
        stop = min(start + _DECORD_CHUNK, last + 1)
        batch = _decord_batch(p, vr, list(range(start, stop)))
        chunks.append(batch[unique[(unique >= start) & (unique < stop)] - start])
    COUNTERS.frames_decoded += last + 1
    return np.concatenate(chunks)


def _read_decord_random(p: Path, unique: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """decord random access: ``get_batch`` of the wanted indices. -> uint8 [U, H, W, 3]"""
    vr = _decord_reader(p, out_hw)
    last, n = int(unique[-1]), len(vr)
    if last >= n:
        raise _out_of_range(p, last, n, "in the video")
    if (last == n - 1 or _header(p).header_frames == 0) and probe(p).num_frames <= last:
        # decord's len() is an estimate where the header has no count (MKV) and one too many on HMDB-51
        raise _out_of_range(p, last, probe(p).num_frames, "decode")
    frames = _decord_batch(p, vr, unique.tolist())
    COUNTERS.frames_decoded += _decord_decode_cost(vr.get_key_indices(), unique)
    return frames


def _decord_decode_cost(keys: Sequence[int], unique: np.ndarray) -> int:
    """How many frames decord decodes for a sorted ``get_batch`` (it does not report it): it keeps
    decoding forward within a GOP and seeks to the previous keyframe when the next index lies in a
    later GOP or behind."""
    keys = np.asarray(sorted(keys) or [0])

    def key_of(i: int) -> int:
        return int(keys[max(np.searchsorted(keys, i, side="right") - 1, 0)])

    cost, pos = 0, 0  # pos: the next frame the decoder would produce
    for i in unique.tolist():
        if i >= pos and key_of(i) == key_of(max(pos - 1, 0)):
            cost += i - pos + 1
        else:
            cost += i - key_of(i) + 1
        pos = i + 1
    return cost
