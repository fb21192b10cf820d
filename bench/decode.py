"""Decode benchmark: how to read STCLR's five clips per video, fast and frame-exact.

    .venv/bin/python bench/decode.py            # full run (about 2 minutes on 2 idle cores)
    .venv/bin/python bench/decode.py --quick    # fewer repeats

Builds UCF-101-like test videos (320x240, 25 fps; ~180 and ~600 frames) into ``bench/_work/``, once:
MPEG-4 Part 2 in AVI with B-frames and a 12-frame GOP (like UCF-101 / HMDB-51 as distributed),
H.264 in MP4 (x264 defaults: GOP up to 250, B-frames), and H.264 MP4 with a 16-frame GOP (what a
transcoding step for fast seeking would write). Their frames encode their own index
(``stclr.fixtures``), so every strategy's wrong frames are counted, not guessed.

Each sample is one video's STCLR index set: 5 clips of 16 frames at skips 1, 4, 8, 16, 32, random
starts; a skip that does not fit the video is lowered to the largest that fits (the kit's ``fit``
policy). Strategies, timed round-robin inside each repeat so machine noise hits them alike:

- union · X: one ``read_frames`` call over the union of the 5 clips' indices with backend X
  (pyav: sequential; pyav_seek: PyAV seeking to keyframes; decord_seq; decord random; auto);
- per clip · X: one ``read_frames`` call per clip (5 opens, 5 decodes);
- whole video: decode and convert every frame with PyAV, then index (the naive baseline);
- decord random on AVI uses ``allow_inexact=True``, to count the wrong frames it returns.

A second table reads a single 16-frame clip at skip 4 (a fine-tuning or SSL-tuple request) from
the 600-frame videos, where seeking matters most.

Also: resizing to short side 112 in the decode loop (swscale, what ``read_frames(size=112)`` does)
vs. decoding at native size and resizing with ``torch.nn.functional.interpolate`` afterwards.

Writes the tables to docs/benchmarks.md (section "decode") and prints them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, write_section  # noqa: E402

from stclr import video  # noqa: E402
from stclr.fixtures import frame_indices_of, write_index_video  # noqa: E402

WORK = Path(__file__).resolve().parent / "_work"
SKIPS = (1, 4, 8, 16, 32)
CLIP_LEN = 16
SIZE = (240, 320)  # (H, W), UCF-101's frame size


# ----------------------------------------------------------------------------------------------
# inputs


def bench_videos() -> list[tuple[str, Path]]:
    """(label, path) of the four test videos, written on first use (a few seconds)."""
    specs = [
        ("AVI mpeg4 B-frames, 180 fr", "mpeg4_180.avi", 180, "mpeg4"),
        ("AVI mpeg4 B-frames, 600 fr", "mpeg4_600.avi", 600, "mpeg4"),
        ("MP4 H.264, 180 fr", "h264_180.mp4", 180, "h264"),
        ("MP4 H.264, 600 fr", "h264_600.mp4", 600, "h264"),
        ("MP4 H.264 GOP 16, 600 fr", "h264_gop16_600.mp4", 600, "h264"),
    ]
    out = []
    for label, name, frames, codec in specs:
        path = WORK / f"v2_{name}"  # bump the prefix when the fixture format changes
        if not path.exists():
            tmp = path.with_name("tmp_" + path.name)
            gop = 16 if "gop16" in name else None
            write_index_video(tmp, frames, size=SIZE, codec=codec, gop=gop)
            tmp.rename(path)
        out.append((label, path))
    return out


def fit_skip(skip: int, num_frames: int, length: int = CLIP_LEN) -> int:
    """The largest skip <= ``skip`` whose clip of ``length`` frames fits ``num_frames`` (``fit`` policy)."""
    return max(1, min(skip, (num_frames - 1) // (length - 1)))


def stclr_clips(num_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Five clips' frame indices ([16] each), skips (1, 4, 8, 16, 32) fitted to the video, random starts."""
    clips = []
    for skip in SKIPS:
        s = fit_skip(skip, num_frames)
        span = (CLIP_LEN - 1) * s + 1
        start = int(rng.integers(0, num_frames - span + 1))
        clips.append(start + s * np.arange(CLIP_LEN))
    return clips


# ----------------------------------------------------------------------------------------------
# strategies: each takes (path, clips) and returns the frames of all clips, uint8 [5*16, H, W, 3]


def union(backend: str):
    def run(path: Path, clips: list[np.ndarray]) -> torch.Tensor:
        return video.read_frames(path, np.concatenate(clips), backend=backend, allow_inexact=True)

    return run


def per_clip(backend: str):
    def run(path: Path, clips: list[np.ndarray]) -> torch.Tensor:
        return torch.cat([video.read_frames(path, c, backend=backend, allow_inexact=True) for c in clips])

    return run


def whole_video(path: Path, clips: list[np.ndarray]) -> torch.Tensor:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    video.COUNTERS.frames_decoded += len(frames)
    return torch.from_numpy(frames[np.concatenate(clips)])


def strategies() -> dict[str, Callable]:
    out = {"union · pyav": union("pyav"), "union · pyav_seek": union("pyav_seek")}
    if video.HAS_DECORD:
        out["union · decord_seq"] = union("decord_seq")
        out["union · decord random"] = union("decord")
    out["union · auto"] = union("auto")
    out["per clip · auto"] = per_clip("auto")
    if video.HAS_DECORD:
        out["per clip · decord random"] = per_clip("decord")
    out["whole video (pyav), then index"] = whole_video
    return out


def single_clip_strategies() -> dict[str, Callable]:
    out = {"union · pyav": union("pyav"), "union · pyav_seek": union("pyav_seek")}
    if video.HAS_DECORD:
        out["union · decord random"] = union("decord")
    out["union · auto"] = union("auto")
    return out


def one_clip(num_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One clip of 16 frames at skip 4, random start: [16]."""
    skip = fit_skip(4, num_frames)
    start = int(rng.integers(0, num_frames - (CLIP_LEN - 1) * skip))
    return [start + skip * np.arange(CLIP_LEN)]


# ----------------------------------------------------------------------------------------------
# measurement


def measure(path: Path, repeats: int, runs: dict, make_clips=stclr_clips, seed: int = 0) -> dict[str, dict]:
    """Per strategy in ``runs``: median seconds per sample, frames decoded per sample, wrong frames in total.
    A sample is ``make_clips(num_frames, rng)``: a list of clips' index arrays."""
    num_frames = video.probe(path).num_frames
    rng = np.random.default_rng(seed)
    times = {name: [] for name in runs}
    wrong = dict.fromkeys(runs, 0)
    decoded = dict.fromkeys(runs, 0)
    for name, fn in runs.items():  # warm-up: page cache, codec init, per-file caches
        fn(path, make_clips(num_frames, rng))
    for _ in range(repeats):
        clips = make_clips(num_frames, rng)
        expected = np.concatenate(clips)
        for name, fn in runs.items():
            video.reset_counters()
            t0 = time.perf_counter()
            frames = fn(path, clips)
            times[name].append(time.perf_counter() - t0)
            decoded[name] += video.get_counters()["frames_decoded"]
            wrong[name] += int(np.sum(np.asarray(frame_indices_of(frames)) != expected))
    return {
        name: {
            "seconds": statistics.median(times[name]),
            "decoded": decoded[name] / repeats,
            "wrong": wrong[name],
            "frames": repeats * len(expected),
        }
        for name in runs
    }


def resize_compare(path: Path, repeats: int) -> dict[str, float]:
    """Seconds (median) to get one STCLR index set at short side 112: swscale in the loop vs torch after."""
    num_frames = video.probe(path).num_frames
    rng = np.random.default_rng(1)
    times = {"swscale in decode loop (read_frames size=112)": [], "native decode + torch interpolate": []}
    for _ in range(repeats):
        idx = np.concatenate(stclr_clips(num_frames, rng))
        t0 = time.perf_counter()
        video.read_frames(path, idx, size=112, backend="pyav")
        t1 = time.perf_counter()
        native = video.read_frames(path, idx, backend="pyav")
        x = native.permute(0, 3, 1, 2).float()
        h, w = video.output_size(112, *native.shape[1:3])
        y = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        t2 = time.perf_counter()
        times["swscale in decode loop (read_frames size=112)"].append(t1 - t0)
        times["native decode + torch interpolate"].append(t2 - t1)
    return {k: statistics.median(v) for k, v in times.items()}


# ----------------------------------------------------------------------------------------------
# report


def table(results: dict[str, dict[str, dict]], clips_per_sample: int) -> str:
    rows = [
        "| video | strategy | clips/s | × vs union · pyav | frames decoded / sample | wrong frames |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, res in results.items():
        ref = res["union · pyav"]["seconds"]
        for name, r in res.items():
            clips_per_s = clips_per_sample / r["seconds"]
            wrong = f"{r['wrong']} / {r['frames']}" + (" ⚠" if r["wrong"] else "")
            rows.append(
                f"| {label} | {name} | {clips_per_s:.0f} | {ref / r['seconds']:.2f} | {r['decoded']:.0f} | {wrong} |"
            )
            label = ""  # the video's name once per block
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke run)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    torch.set_num_threads(1)  # decoding is single-threaded; compare like with like
    t_start = time.perf_counter()

    videos = bench_videos()
    results, single = {}, {}
    for label, path in videos:
        results[label] = measure(path, repeats, strategies())
        if "600" in label:
            single[label] = measure(path, repeats, single_clip_strategies(), one_clip, seed=1)
        print(f"measured {label} ({time.perf_counter() - t_start:.0f} s)", flush=True)
    resize = resize_compare(videos[1][1], repeats)
    auto = {label: video.choose_backend(path) for label, path in videos}

    body = "\n".join(
        [
            "## Decoding STCLR's five clips per video (`bench/decode.py`)",
            "",
            machine_line(),
            "",
            f"320x240, 25 fps videos whose frames encode their index; per sample one STCLR index set "
            f"(5 clips × 16 frames, skips 1/4/8/16/32 lowered to fit); median over {repeats} samples, "
            "strategies interleaved; × = speed relative to one sequential PyAV decode of the union (same sample). "
            "clips/s = 5 / seconds per sample. Frames decoded for decord random access are estimated from its "
            "keyframes (decord does not report them). 'decord random' on AVI is forced with `allow_inexact=True` "
            "to count its wrong frames (the kit refuses it there).",
            "",
            table(results, len(SKIPS)),
            "",
            "One clip (16 frames, skip 4, random start) per sample:",
            "",
            table(single, 1),
            "",
            "What `backend=\"auto\"` picks: " + "; ".join(f"{k}: `{v}`" for k, v in auto.items()) + ".",
            "",
            f"Resizing to short side 112 ({videos[1][0]}, one index set, torch on 1 thread):",
            "",
            "| method | ms / sample |",
            "|---|---:|",
            *[f"| {k} | {v * 1000:.1f} |" for k, v in resize.items()],
            "",
            f"Full run: {time.perf_counter() - t_start:.0f} s{' (--quick)' if args.quick else ''}.",
        ]
    )
    print(body)
    write_section("decode", body)


if __name__ == "__main__":
    main()
