"""Test videos whose frames encode their own index, and broken files for error-handling tests.

A reader is *frame-exact* when asking for frame ``i`` returns the ``i``-th frame that a plain
sequential decode yields. That is easy to get wrong (decord's random access returns other frames,
silently, on MPEG-4 Part 2 AVI files with B-frames; see ``docs/method.md`` §8), and hard to see on
natural footage. So the frames written here carry their index as a binary code that survives lossy
compression and resizing, and ``frame_index_of`` reads it back::

    write_index_video("clip.avi", 200, codec="mpeg4")        # MPEG-4 Part 2 in AVI, B-frames, GOP 12
    frames = stclr.video.read_frames("clip.avi", [3, 150])  # uint8 [2, H, W, 3]
    [frame_index_of(f) for f in frames]                      # -> [3, 150]

Frame layout (``H x W``, any size from about 24 x 32 up):

- top 3/4: a 4 x 6 grid of black/white cells, 24 bits = 16-bit index + 8 check bits. Cells are big
  (a 64 x 48 frame gives about 11 x 9 pixels per cell) and only each cell's centre is read, so
  codec ringing at the cell edges and any resize that keeps the layout do not flip bits.
- bottom 1/4: a grey band with a white bar that moves one step per frame, so a person looking at a
  frame strip sees the order at a glance (and the codec sees real motion).

The check byte lets ``frame_index_of`` reject a frame that carries no valid code (a grey frame
from a decoder that started mid-GOP, say) instead of returning a plausible wrong number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import av
import numpy as np

__all__ = [
    "MAX_INDEX",
    "index_frame",
    "frame_index_of",
    "frame_indices_of",
    "write_index_video",
    "write_audio_only",
    "write_truncated_copy",
    "write_text_file",
]

GRID_ROWS, GRID_COLS = 4, 6
INDEX_BITS, CHECK_BITS = 16, 8
MAX_INDEX = 2**INDEX_BITS - 1
CODE_FRACTION = 0.75  # share of the frame height that holds the code grid
BAR_STEPS = 16  # the bar cycles through this many positions

Frame = Union[np.ndarray, "torch.Tensor"]  # noqa: F821  (torch is optional here)


def _check_byte(index: int) -> int:
    # Any fixed mixing works; XOR with a constant makes index 0 not an all-black frame.
    return ((index & 0xFF) ^ (index >> 8) ^ 0xA5) & 0xFF


def _bits_of(index: int) -> np.ndarray:
    """The 24 code bits of ``index``, most significant first, as a [GRID_ROWS, GRID_COLS] bool grid."""
    word = (index << CHECK_BITS) | _check_byte(index)
    nbits = INDEX_BITS + CHECK_BITS
    bits = [(word >> (nbits - 1 - k)) & 1 for k in range(nbits)]
    return np.array(bits, dtype=bool).reshape(GRID_ROWS, GRID_COLS)


def _cell_edges(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column boundaries of the code grid (pixel coordinates, proportional to the frame size)."""
    code_h = int(round(height * CODE_FRACTION))
    rows = np.round(np.linspace(0, code_h, GRID_ROWS + 1)).astype(int)
    cols = np.round(np.linspace(0, width, GRID_COLS + 1)).astype(int)
    return rows, cols


def index_frame(index: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """The RGB frame that carries ``index``: uint8 [H, W, 3] for ``size = (H, W)``."""
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"index {index} out of range 0..{MAX_INDEX}")
    height, width = size
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    rows, cols = _cell_edges(height, width)
    for (r, c), bit in np.ndenumerate(_bits_of(index)):
        if bit:
            frame[rows[r] : rows[r + 1], cols[c] : cols[c + 1]] = 255
    # The moving bar: grey band, white bar at a position that advances with the index.
    band_top = rows[-1]
    frame[band_top:] = 96
    step = width / BAR_STEPS
    x0 = int(round((index % BAR_STEPS) * step))
    frame[band_top:, x0 : max(x0 + 1, int(round(x0 + step)))] = 255
    return frame


def _to_numpy(frame: Frame) -> np.ndarray:
    if hasattr(frame, "detach"):  # a torch tensor, without importing torch here
        frame = frame.detach().cpu().numpy()
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"expected a frame of shape [H, W, 3], got {frame.shape}")
    return frame


def frame_index_of(frame: Frame, *, strict: bool = True) -> int:
    """Read the index that ``index_frame`` wrote into ``frame`` (uint8 [H, W, 3], numpy or torch).

    Each cell's centre (the middle half in each direction) is averaged over pixels and channels and
    thresholded at mid-grey. A cell whose mean is ambiguous (between 64 and 192), or a check byte that
    does not match, means the frame carries no valid code: ``ValueError`` when ``strict``, else -1.
    """
    gray = _to_numpy(frame).astype(np.float32).mean(axis=-1)
    height, width = gray.shape
    rows, cols = _cell_edges(height, width)
    word = 0
    for r in range(GRID_ROWS):
        for c in range(GRID_COLS):
            top, bottom = rows[r], rows[r + 1]
            left, right = cols[c], cols[c + 1]
            dy, dx = max((bottom - top) // 4, 0), max((right - left) // 4, 0)
            level = gray[top + dy : max(bottom - dy, top + dy + 1), left + dx : max(right - dx, left + dx + 1)].mean()
            if 64 < level < 192:
                return _invalid(strict, f"cell ({r}, {c}) is ambiguous (mean level {level:.0f})")
            word = (word << 1) | int(level >= 128)
    index, check = word >> CHECK_BITS, word & 0xFF
    if check != _check_byte(index):
        return _invalid(strict, f"check byte mismatch for decoded index {index}")
    return index


def _invalid(strict: bool, why: str) -> int:
    if strict:
        raise ValueError(f"frame carries no valid index code: {why}")
    return -1


def frame_indices_of(frames: Frame) -> list[int]:
    """Indices carried by a stack of frames ([T, H, W, 3]); -1 for a frame without a valid code."""
    return [frame_index_of(f, strict=False) for f in frames]


def write_index_video(
    path: str | Path,
    num_frames: int,
    *,
    size: tuple[int, int] = (48, 64),
    codec: str = "h264",
    fps: int = 25,
    gop: int | None = None,
    bframes: int = 2,
) -> Path:
    """Write a video of ``num_frames`` frames, frame ``i`` being ``index_frame(i, size)``; return its path.

    ``codec``: ``"h264"`` (libx264, yuv420p) or ``"mpeg4"`` (MPEG-4 Part 2, the codec of UCF-101 and
    HMDB-51). The container comes from the suffix (``.mp4``, ``.avi``, ``.mkv``, ``.mov``).
    ``gop``: keyframe interval; default 12 for mpeg4 (like the DivX/XviD files of HMDB-51) and 250 for
    h264 (x264's default). ``bframes``: maximum consecutive B-frames (2 by default, so the stream has
    B-frames and decode order differs from display order, which is what trips random access).
    ``size = (H, W)``; both must be even (yuv420p). Quality is set high enough that the code cells stay
    clean at any size (x264 CRF 20; MPEG-4 at 2 bits per pixel, which these simple frames never need).
    """
    path = Path(path)
    height, width = size
    if height % 2 or width % 2:
        raise ValueError(f"size must be even for yuv420p, got {size}")
    if codec not in ("h264", "mpeg4"):
        raise ValueError(f"codec must be 'h264' or 'mpeg4', got {codec!r}")
    if not 1 <= num_frames <= MAX_INDEX + 1:
        raise ValueError(f"num_frames must be in 1..{MAX_INDEX + 1}, got {num_frames}")
    gop = gop if gop is not None else (12 if codec == "mpeg4" else 250)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = _add_video_stream(container, codec, fps, (height, width), gop, bframes)
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(index_frame(index, size), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():  # flush the delayed (B-)frames
            container.mux(packet)
    return path


def _add_video_stream(container, codec: str, fps: int, size: tuple[int, int], gop: int, bframes: int):
    height, width = size
    if codec == "h264":
        stream = container.add_stream("libx264", rate=fps, options={"crf": "20", "preset": "veryfast"})
    else:
        stream = container.add_stream("mpeg4", rate=fps)
        # mpeg4's default 200 kb/s can smear the code cells at large sizes; scale the cap with the area.
        stream.bit_rate = int(2.0 * width * height * fps)
        if container.format.name == "avi":
            stream.codec_tag = "XVID"  # what UCF-101 uses; HMDB-51 uses DX50, the same bitstream
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.gop_size = gop
    stream.codec_context.max_b_frames = bframes
    return stream


def write_audio_only(path: str | Path, seconds: float = 0.5, *, rate: int = 16000) -> Path:
    """A valid media file with one audio stream and no video stream (a sine tone): AAC for ``.mp4``/``.m4a``/
    ``.mov``, 16-bit PCM otherwise (``.wav``, ``.avi``, ``.mkv``). It opens fine but has no video to decode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "aac" if path.suffix in (".mp4", ".m4a", ".mov") else "pcm_s16le"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        fmt = "fltp" if codec == "aac" else "s16"
        samples_per_frame = 1024
        t = np.arange(int(seconds * rate)) / rate
        tone = 0.3 * np.sin(2 * np.pi * 440 * t)
        for start in range(0, len(tone), samples_per_frame):
            chunk = tone[start : start + samples_per_frame]
            if len(chunk) < samples_per_frame and codec == "aac":
                chunk = np.pad(chunk, (0, samples_per_frame - len(chunk)))
            data = (chunk * 32767).astype(np.int16) if fmt == "s16" else chunk.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(data[None, :], format=fmt, layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_truncated_copy(src: str | Path, dst: str | Path, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of ``src``'s bytes to ``dst`` (a download that stopped half-way).
    For MP4 (index at the end) the file no longer opens; an AVI still decodes, to fewer frames, and near
    the cut frame ``i`` may carry a later index (B-frames lost, their reference frame kept)."""
    src, dst = Path(src), Path(dst)
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: max(1, int(len(data) * fraction))])
    return dst


def write_text_file(path: str | Path, text: str = "this is not a video\n") -> Path:
    """A text file, typically named ``*.avi``: what a mis-saved download or a stray note looks like."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
