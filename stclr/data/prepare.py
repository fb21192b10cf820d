"""Transcode a dataset tree to H.264 MP4 for fast exact seeking, and check that every video decodes.

Why transcode (``docs/method.md`` §8): UCF-101 and HMDB-51 ship as MPEG-4 Part 2 AVI with B-frames, on which
decord's random access silently returns wrong frames, so the kit must decode those sequentially from the
start. After ``prepare_dataset`` every video is H.264 in MP4 with a short GOP and no B-frames, short side
128 by default: random access is exact and cheap (at most ``gop - 1`` extra frames decoded per seek), and
the files are several times smaller.

``prepare_dataset(src, dst)``:

- keeps the relative layout, changing only the suffix to ``.mp4`` (``UCF-101/Basketball/v_x.avi`` ->
  ``dst/UCF-101/Basketball/v_x.mp4``) and copies split/annotation files (``.txt``, ``.json``, ``.csv``) as
  they are, so ``load_split`` works on ``dst`` exactly as on ``src``. The split files still name ``.avi``:
  ``dst`` gets a marker file (``stclr.data.splits.PREPARED_MARKER``) that makes ``load_split`` map the
  suffix to ``.mp4`` by itself (or pass ``suffix=".mp4"``).
- keeps every frame: output frame ``i`` is input frame ``i`` (the ``i``-th frame a sequential decode yields,
  the definition ``stclr.video`` uses), at the input's average frame rate. Audio is dropped.
- is resumable and kill-safe: each output is written to a temporary name and renamed into place when
  complete, so an existing output is always a finished one and is skipped; a leftover temporary file from
  a killed run is simply overwritten.
- never stops on a bad input: unreadable files go to ``PrepareReport.failed`` with the reason; a file whose
  stream breaks part-way keeps the frames that decoded and is listed in ``PrepareReport.partial``.

``check_dataset(root)`` decodes every video with ``stclr.video`` (the reader training uses) and reports
unreadable, empty and too-short videos, plus frame-rate / size / codec histograms.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from stclr.data.splits import PREPARED_MARKER, SplitError, detect_dataset, load_split
from stclr.fileio import write_text_atomic

__all__ = [
    "ANNOTATION_SUFFIXES",
    "VIDEO_SUFFIXES",
    "CheckReport",
    "PrepareReport",
    "check_dataset",
    "find_videos",
    "prepare_dataset",
    "transcode_video",
]

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ogv")
ANNOTATION_SUFFIXES = (".txt", ".json", ".csv", ".lst", ".md")
TMP_TAG = ".stclr-tmp"  # temporary outputs: "<name>.stclr-tmp.mp4", never counted as done, never listed


def _is_temp(path: Path) -> bool:
    return TMP_TAG in path.name


def find_videos(root: str | Path, suffixes: Sequence[str] = VIDEO_SUFFIXES) -> list[Path]:
    """Every video file under ``root`` (by suffix, case-insensitive), sorted, skipping hidden and temp files."""
    root = Path(root)
    wanted = {s.lower() for s in suffixes}
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = Path(dirpath, name)
            if not name.startswith(".") and p.suffix.lower() in wanted and not _is_temp(p):
                out.append(p)
    return sorted(out)


# --------------------------------------------------------------------------------------------------------------
# Transcoding


@dataclass
class PrepareReport:
    """What :func:`prepare_dataset` did. Paths are relative to ``src``."""

    src: Path
    dst: Path
    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # output already complete
    copied: list[str] = field(default_factory=list)  # annotation files
    failed: dict[str, str] = field(default_factory=dict)  # path -> reason (no output written)
    partial: dict[str, str] = field(default_factory=dict)  # path -> reason (output has the frames that decoded)
    frames: dict[str, int] = field(default_factory=dict)  # frames written per converted video
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every video was converted (or already was) with all its frames."""
        return not self.failed and not self.partial

    def summary(self, examples: int = 5) -> str:
        lines = [
            f"prepared {self.src} -> {self.dst} in {self.seconds:.1f} s: {len(self.converted)} converted, "
            f"{len(self.skipped)} already done, {len(self.copied)} annotation files copied, "
            f"{len(self.failed)} failed, {len(self.partial)} partial"
        ]
        for title, d in (("failed", self.failed), ("partial (kept the frames that decoded)", self.partial)):
            if d:
                lines.append(f"{title}:")
                lines += [f"  {p}: {why}" for p, why in list(d.items())[:examples]]
                if len(d) > examples:
                    lines.append(f"  ... and {len(d) - examples} more")
        return "\n".join(lines)

    __str__ = summary


class _Partial(Exception):
    """The input stream broke after some frames; the output holds those frames."""

    def __init__(self, frames: int, cause: str):
        super().__init__(cause)
        self.frames = frames


def _even(v: float) -> int:
    return max(2, int(round(v / 2)) * 2)


def _target_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(W, H) with the short side ``short_side`` (aspect kept), both even for yuv420p."""
    if short_side is None:
        return _even(width), _even(height)
    if width <= height:
        return _even(short_side), _even(height * short_side / width)
    return _even(width * short_side / height), _even(short_side)


def transcode_video(
    src: str | Path,
    dst: str | Path,
    *,
    short_side: int | None = 128,
    gop: int = 16,
    crf: int = 18,
    preset: str = "veryfast",
) -> int:
    """Transcode one video to H.264 MP4 (yuv420p, fixed GOP ``gop``, no B-frames), every frame kept.

    Decodes ``src`` sequentially (frame ``i`` = the ``i``-th decoded frame) and encodes each frame with
    pts ``i`` at the input's average frame rate. Writes ``dst`` directly (callers that need atomicity
    write to a temporary name). Returns the number of frames written. Raises ``VideoReadError`` when
    nothing decodes, ``_Partial`` (after writing what decoded) when the stream breaks part-way.
    """
    import av

    from stclr.video import VideoReadError

    written = 0
    error: str | None = None
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise VideoReadError(src, f"cannot open ({type(e).__name__}: {e})") from e
    with inp:
        if not inp.streams.video:
            raise VideoReadError(src, "no video stream")
        ist = inp.streams.video[0]
        ist.codec_context.thread_type = "AUTO"  # exact either way; faster on big inputs
        rate = ist.average_rate or ist.guessed_rate or Fraction(25)
        rate = Fraction(rate).limit_denominator(1001000)
        out = None
        ost = None
        try:
            for frame in inp.decode(ist):
                if out is None:
                    out, ost = _open_output(dst, frame.width, frame.height, rate, short_side, gop, crf, preset)
                frame = frame.reformat(width=ost.width, height=ost.height, format="yuv420p")
                frame.pts = written
                frame.time_base = ost.codec_context.time_base
                for packet in ost.encode(frame):
                    out.mux(packet)
                written += 1
        except (av.error.FFmpegError, ValueError) as e:
            error = f"decoding stopped after {written} frames ({type(e).__name__}: {e})"
        finally:
            if out is not None:
                for packet in ost.encode():
                    out.mux(packet)
                out.close()
    if written == 0:
        raise VideoReadError(src, error or "the video stream decodes to 0 frames")
    if error:
        raise _Partial(written, error)
    return written


def _open_output(dst, width, height, rate, short_side, gop, crf, preset):
    import av

    from stclr.video import add_h264_stream

    out = av.open(str(dst), mode="w", format="mp4")
    w, h = _target_size(width, height, short_side)
    ost = add_h264_stream(out, w, h, rate, crf=crf, preset=preset, gop=gop)
    ost.codec_context.time_base = Fraction(1, 1) / rate
    return out, ost


def _settings(short_side, gop, crf) -> dict:
    return {"format": "h264-mp4", "short_side": short_side, "gop": gop, "crf": crf, "bframes": 0}


def _read_marker(dst: Path) -> dict:
    try:
        data = json.loads((dst / PREPARED_MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _check_settings(dst: Path, settings: dict) -> None:
    """Refuse to resume into a tree prepared with other settings (it would mix two encodings)."""
    old = _read_marker(dst).get("settings")
    if old is not None and old != settings:
        raise FileExistsError(f"{dst} was prepared with {old}, not {settings}; use another destination")


def _write_marker(dst: Path, settings: dict, report: PrepareReport, complete: bool) -> None:
    data = {
        "settings": settings,
        "src": str(report.src),
        "complete": complete,
        "failed": report.failed,
        "partial": report.partial,
        "note": "videos were transcoded to .mp4; split files keep their original names (load_split maps the suffix)",
    }
    write_text_atomic(dst / PREPARED_MARKER, json.dumps(data, indent=1))


def _copy_if_changed(src: Path, dst: Path) -> bool:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{dst.name}{TMP_TAG}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return True


def prepare_dataset(
    src: str | Path,
    dst: str | Path,
    *,
    short_side: int | None = 128,
    gop: int = 16,
    crf: int = 18,
    show_progress: bool = True,
    verify: bool = True,
    suffixes: Sequence[str] = VIDEO_SUFFIXES,
    annotation_suffixes: Sequence[str] = ANNOTATION_SUFFIXES,
) -> PrepareReport:
    """Transcode every video under ``src`` to H.264 MP4 under ``dst`` (same layout, ``.mp4`` suffix).

    See the module docstring for the guarantees. ``short_side=None`` keeps the frame size. ``verify``
    decodes each new output (``stclr.video.probe``) and checks its frame count equals the frames decoded
    from the input; a mismatch is a failure (the output is removed). Returns a :class:`PrepareReport`;
    bad inputs never raise.
    """
    from tqdm.auto import tqdm

    src, dst = Path(src).resolve(), Path(dst).resolve()
    if not src.is_dir():
        raise FileNotFoundError(f"source folder not found: {src}")
    if src == dst or src in dst.parents or dst in src.parents:
        raise ValueError(f"src and dst must be separate folders (got {src} and {dst})")
    start = time.perf_counter()
    settings = _settings(short_side, gop, crf)
    dst.mkdir(parents=True, exist_ok=True)
    _check_settings(dst, settings)
    earlier_partial = _read_marker(dst).get("partial", {})
    report = PrepareReport(src=src, dst=dst)
    _write_marker(dst, settings, report, complete=False)

    for ann in _find_annotations(src, annotation_suffixes):
        if _copy_if_changed(ann, dst / ann.relative_to(src)):
            report.copied.append(ann.relative_to(src).as_posix())

    videos = find_videos(src, suffixes)
    outputs: dict[Path, Path] = {}
    for v in videos:
        out = (dst / v.relative_to(src)).with_suffix(".mp4")
        if out in outputs.values():  # a.avi and a.mkv side by side would map to one a.mp4
            report.failed[v.relative_to(src).as_posix()] = f"output {out.relative_to(dst)} already used by another input"
            continue
        outputs[v] = out
    bar = tqdm(total=len(outputs), desc="prepare", unit="video", disable=not show_progress)
    try:
        for video, out in outputs.items():
            rel = video.relative_to(src).as_posix()
            bar.set_postfix_str(rel[-40:], refresh=False)
            if out.is_file():
                report.skipped.append(rel)
                if rel in earlier_partial:  # still only the frames that decoded: keep saying so
                    report.partial[rel] = earlier_partial[rel]
            else:
                _prepare_one(video, out, rel, report, short_side=short_side, gop=gop, crf=crf, verify=verify)
            bar.update()
    finally:
        bar.close()
        report.seconds = time.perf_counter() - start
        done = len(report.converted) + len(report.skipped) + len(report.partial)
        _write_marker(dst, settings, report, complete=not report.failed and done >= len(videos))
    return report


def _find_annotations(src: Path, suffixes: Sequence[str]) -> list[Path]:
    wanted = {s.lower() for s in suffixes}
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        out += [
            Path(dirpath, n)
            for n in filenames
            # a prepared tree's marker describes that tree, not the one being made
            if Path(n).suffix.lower() in wanted and not n.startswith(".") and n != PREPARED_MARKER and TMP_TAG not in n
        ]
    return sorted(out)


def _prepare_one(video: Path, out: Path, rel: str, report: PrepareReport, **kw) -> None:
    """Transcode one file to a temporary name, verify, then rename into place (or record why not)."""
    from stclr.video import VideoReadError, clear_probe_cache, probe

    verify = kw.pop("verify")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.stem}{TMP_TAG}.mp4")
    partial = None
    try:
        try:
            frames = transcode_video(video, tmp, **kw)
        except _Partial as p:
            frames, partial = p.frames, str(p)
        if verify:
            clear_probe_cache()  # the temp name may have been probed before (an earlier, killed run)
            got = probe(tmp).num_frames
            if got != frames:
                raise VideoReadError(tmp, f"output decodes to {got} frames, input gave {frames}")
        os.replace(tmp, out)
    except (VideoReadError, OSError) as e:
        report.failed[rel] = getattr(e, "cause", None) or str(e)
        return
    except Exception as e:  # noqa: BLE001 - one strange file must not stop a dataset-wide job
        report.failed[rel] = f"{type(e).__name__}: {e}"
        return
    finally:
        if tmp.exists():
            tmp.unlink()
    report.frames[rel] = frames
    if partial:
        report.partial[rel] = partial
    else:
        report.converted.append(rel)


# --------------------------------------------------------------------------------------------------------------
# Checking


@dataclass
class CheckReport:
    """What :func:`check_dataset` found. Paths are relative to ``root``."""

    root: Path
    total: int = 0
    readable: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> reason
    empty: list[str] = field(default_factory=list)  # zero-byte files or no decodable frame
    too_short: dict[str, int] = field(default_factory=dict)  # path -> frames (below min_frames)
    missing: list[str] = field(default_factory=list)  # named by a split file but not on disk
    frame_count_mismatch: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (header, decoded)
    frames: dict[str, int] = field(default_factory=dict)  # decoded frames per readable video
    fps: Counter = field(default_factory=Counter)
    sizes: Counter = field(default_factory=Counter)  # "WxH" -> count
    codecs: Counter = field(default_factory=Counter)
    min_frames: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No unreadable, empty, too-short or missing video (header/decode count mismatches are only notes)."""
        return not (self.unreadable or self.empty or self.too_short or self.missing)

    def summary(self, examples: int = 5) -> str:
        counts = sorted(self.frames.values())
        lines = [
            f"checked {self.total} videos under {self.root} in {self.seconds:.1f} s: {self.readable} readable, "
            f"{len(self.unreadable)} unreadable, {len(self.empty)} empty, {len(self.too_short)} shorter than "
            f"{self.min_frames} frames, {len(self.missing)} missing" + (" -- OK" if self.ok else " -- PROBLEMS")
        ]
        if counts:
            lines.append(f"frames per video: min {counts[0]}, median {counts[len(counts) // 2]}, max {counts[-1]}")
            lines.append("fps: " + _hist(self.fps))
            lines.append("sizes: " + _hist(self.sizes))
            lines.append("codecs: " + _hist(self.codecs))
        if self.frame_count_mismatch:
            lines.append(
                f"{len(self.frame_count_mismatch)} videos decode to a different frame count than their header says "
                "(harmless: stclr.video counts decoded frames)"
            )
        sections = (
            ("unreadable", [f"{p}: {why}" for p, why in self.unreadable.items()]),
            ("empty", list(self.empty)),
            (f"shorter than {self.min_frames} frames", [f"{p}: {n} frames" for p, n in self.too_short.items()]),
            ("missing", list(self.missing)),
        )
        for title, rows in sections:
            if rows:
                lines.append(f"{title}:")
                lines += [f"  {r}" for r in rows[:examples]]
                if len(rows) > examples:
                    lines.append(f"  ... and {len(rows) - examples} more")
        return "\n".join(lines)

    __str__ = summary


def _hist(counter: Counter, top: int = 6) -> str:
    items = counter.most_common()
    text = ", ".join(f"{k} x{n}" for k, n in items[:top])
    return text + (f", ... ({len(items) - top} more values)" if len(items) > top else "")


def _split_videos(root: Path, split_dir: Path) -> tuple[list[Path], list[str]]:
    """Videos named by every split/subset in ``split_dir`` (their union), and the ones that are missing."""
    dataset = detect_dataset(split_dir)
    if dataset is None:
        raise SplitError(f"no UCF-101, HMDB-51 or Diving-48 split files recognised in {split_dir}")
    rel_split_dir = os.path.relpath(split_dir, root)
    paths: dict[str, Path] = {}
    missing: set[str] = set()
    for k in (1, 2, 3) if dataset != "diving48" else (1,):
        for subset in ("train", "test"):
            try:
                s = load_split(dataset, root, k, subset, split_dir=rel_split_dir)
            except SplitError:
                if k == 1:
                    raise
                continue  # datasets such as the synthetic one have only split 1
            for item in s.items:
                paths.setdefault(item.path, s.abspath(item))
            missing.update(s.missing)
    present = [p for rel, p in sorted(paths.items()) if rel not in missing]
    return present, sorted(missing)


def check_dataset(
    root: str | Path,
    *,
    split_dir: str | Path | None = None,
    show_progress: bool = True,
    min_frames: int = 16,
    suffixes: Sequence[str] = VIDEO_SUFFIXES,
    backend: str = "auto",
) -> CheckReport:
    """Decode every video under ``root`` and report what is wrong (never raises for a bad video).

    With ``split_dir`` (absolute or relative to ``root``), the videos checked are those named by its split
    files (all splits and subsets; the dataset kind is detected) and the ones not on disk are reported as
    missing; otherwise every file with a video suffix under ``root`` is checked.

    Each video is probed with ``stclr.video.probe`` (a full decode pass that counts the frames that
    decode and fails on a broken stream), then its first, middle and last frames are read with
    ``stclr.video.read_frames(backend=backend)``, the path training takes. A video with fewer than
    ``min_frames`` frames is reported as too short (the loaders can still use it with the ``fit``/``loop``
    policies, but it is worth knowing).
    """
    from tqdm.auto import tqdm

    from stclr.video import VideoReadError, probe, read_frames

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    start = time.perf_counter()
    report = CheckReport(root=root, min_frames=min_frames)
    if split_dir is not None:
        videos, report.missing = _split_videos(root, root / split_dir)
    else:
        videos = find_videos(root, suffixes)
    report.total = len(videos) + len(report.missing)

    for path in tqdm(videos, desc="check", unit="video", disable=not show_progress):
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        try:
            if path.stat().st_size == 0:
                report.empty.append(rel)
                continue
            info = probe(path)
            n = info.num_frames
            read_frames(path, sorted({0, n // 2, n - 1}), size=32, backend=backend)
        except VideoReadError as e:
            if "0 frames" in e.cause:
                report.empty.append(rel)
            else:
                report.unreadable[rel] = e.cause
            continue
        except Exception as e:  # noqa: BLE001 - report, never crash a dataset-wide check
            report.unreadable[rel] = f"{type(e).__name__}: {e}"
            continue
        report.readable += 1
        report.frames[rel] = n
        report.fps[round(info.fps, 2)] += 1
        report.sizes[f"{info.width}x{info.height}"] += 1
        report.codecs[f"{info.codec}/{info.container.split(',')[0]}"] += 1
        if info.header_frames not in (0, n):
            report.frame_count_mismatch[rel] = (info.header_frames, n)
        if n < min_frames:
            report.too_short[rel] = n
    report.seconds = time.perf_counter() - start
    return report
