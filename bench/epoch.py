"""Whole pretraining epochs, end to end: real loader, real decoding, the engine's training step.

The data is a UCF-like set the kit makes (``bench/_work/epoch/``, git-ignored): the synthetic dataset's motion
classes (``stclr.data.synthetic``) rendered at 240x240, widened to 320x240 and written as MPEG-4 Part 2 AVI
(XviD tag, B-frames, GOP 12, ~180 frames at 25 fps, ~0.4 Mb/s: what UCF-101 ships) in the UCF-101 layout
(``UCF-101/<Class>/v_*.avi`` + ``ucfTrainTestlist/``), plus its ``stclr data prepare`` H.264 copy (short side
128, GOP 16, no B-frames). Each configuration is trained for ``--epochs`` epochs by the engine's components
(``stclr.train``: ``build_pretrain_data`` -> ``PretrainDataset`` + ``PlannedBatchSampler`` in DataLoader
workers, ``build_pretrain_model``, Adam, ``LossModel``, ``move_batch``, bf16 autocast + channels_last_3d on
CUDA), timing every step as ``run_pretrain`` does (wait = time blocked on ``next(batch)``; step = move +
forward + backward + optimiser step, ended by ``loss.item()``). Reported:

- steady-state clips/s (clip-views per second after the first ``--warmup`` steps of each epoch, which
  include the workers' start-up), data-wait share, GPU busy share (CUDA events around the step / wall time),
  peak memory (CUDA: ``max_memory_allocated``; CPU: peak RSS of the main process and of the largest worker),
  loader CPU-ms per video (worker CPU time / videos loaded), and the minutes per UCF-101 split-1 epoch
  (9537 train videos, ``9537 // batch`` steps) extrapolated from the steady step time, beside Table 6;
- STCLR epoch / Simplified TCLR epoch (the paper's 3.1 at C1 = 0.6);
- where the time goes: a profiling pass in the main process splits the loader's work per video into decode
  (``stclr.video.read_frames``), augmentation (the clip transforms) and the rest (planning, cutting clips);
- the step with activation checkpointing (``activation_checkpointing=True``) vs without, data excluded;
- ``--augment gpu``: the loader only decodes and cuts uint8 clips (``stclr.augment_gpu.raw_clip``, decoded
  straight to a small frame size) and ``DeviceAugment`` augments them on the device with the CPU path's
  parameters.

    .venv/bin/python bench/epoch.py                  # CPU mode: tiny sizes, ~1-2 minutes on 2 cores
    python bench/epoch.py --mode gpu                 # the paper's R3D-18, 16x112x112, batch 38 (a GPU machine)
    python bench/epoch.py --no-write --json out.json # print only

CPU mode (default without CUDA): r3d_tiny, 8x32x32 clips, batch 4, 1 worker, 8 classes x 4 videos (16 train), 4 epochs,
the paper's skips and SSL speeds. GPU mode: R3D-18, 16x112x112, batch 38, workers = cores - 2, 8 x 40 videos
(240 train: 6 steps per epoch), 2 epochs. Writes the ``epoch_cpu`` / ``epoch_gpu`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import math
import os
import resource
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _report  # noqa: E402
from _report import machine_line, write_section  # noqa: E402

from stclr.config import PretrainConfig, DataConfig  # noqa: E402
from stclr.cost import TABLE6  # noqa: E402
from stclr.methods import fake_batch  # noqa: E402
from stclr.sampling import resolve_skips  # noqa: E402
from stclr.optim import build_optimizer  # noqa: E402
from stclr.train import LossModel, build_pretrain_model, count_clips, move_batch, train_step  # noqa: E402

WORK = ROOT / "bench" / "_work" / "epoch"
UCF101_TRAIN = 9537  # UCF-101 split-1 training videos (the paper's Table 6 epoch)
METHODS = ("stclr", "simplified_tclr")


# ---------------------------------------------------------------------------------------------------- data


def make_ucf_like(root: Path, *, videos_per_class: int, frames: int, height: int, width: int, classes: int = 8,
                  bit_rate: int = 400_000, seed: int = 0, jobs: int = 1) -> Path:
    """The UCF-like AVI set in ``root`` (UCF-101 layout); kept when already complete with these settings."""
    from stclr.data.synthetic import SynthConfig, plan_videos

    settings = {"v": 1, "videos_per_class": videos_per_class, "frames": frames, "height": height, "width": width,
                "classes": classes, "bit_rate": bit_rate, "seed": seed}
    done = root / ".complete.json"
    if done.is_file() and json.loads(done.read_text()) == settings:
        return root
    cfg = SynthConfig(num_classes=classes, videos_per_class=videos_per_class, num_frames=frames, size=height,
                      seed=seed, clips_per_group=2)
    specs = plan_videos(cfg)
    jobs_ = [(spec, cfg, root / "UCF-101" / spec.path.replace(".mp4", ".avi"), width, bit_rate) for spec in specs]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as ex:  # each video is seeded on its own: same files either way
            list(ex.map(_write_avi, jobs_, chunksize=2))
    else:
        for job in jobs_:
            _write_avi(job)
    sdir = root / "ucfTrainTestlist"
    sdir.mkdir(parents=True, exist_ok=True)
    names = cfg.class_list()
    crlf = "\r\n"  # UCF-101's line endings
    (sdir / "classInd.txt").write_bytes("".join(f"{i + 1} {c}{crlf}" for i, c in enumerate(names)).encode())
    (sdir / "trainlist01.txt").write_bytes("".join(
        f"{s.path.replace('.mp4', '.avi')} {s.label + 1}{crlf}" for s in specs if s.subset == "train").encode())
    (sdir / "testlist01.txt").write_bytes("".join(
        f"{s.path.replace('.mp4', '.avi')}{crlf}" for s in specs if s.subset == "test").encode())
    done.write_text(json.dumps(settings))
    return root


def _write_avi(job) -> None:
    """Render one synthetic video at S x S, widen it to ``width`` and write it as UCF-101-like MPEG-4 AVI."""
    import av

    from stclr.data.synthetic import render_video

    spec, cfg, out, width, bit_rate = job
    height = cfg.size
    frames_sq = render_video(spec, cfg)  # uint8 [T, S, S, 3]
    pad = (width - height) // 2  # widen to 4:3 with the background's edge colours
    rgb = np.pad(frames_sq, ((0, 0), (0, 0), (pad, width - height - pad), (0, 0)), mode="edge")
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.codec_tag = "XVID"  # UCF-101's
        stream.bit_rate = bit_rate
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 12
        stream.codec_context.max_b_frames = 2  # decode order != display order, as in UCF-101
        for i, f in enumerate(rgb):
            pic = av.VideoFrame.from_ndarray(f, format="rgb24")
            pic.pts, pic.time_base = i, Fraction(1, 25)
            for packet in stream.encode(pic):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_datasets(args) -> dict[str, Path]:
    from stclr.data.prepare import prepare_dataset

    avi = make_ucf_like(args.work / f"ucf_like_{args.tag}", videos_per_class=args.videos_per_class,
                        frames=args.frames, height=args.frame_hw[0], width=args.frame_hw[1],
                        classes=args.classes, jobs=1 if args.mode == "cpu" else max(1, (os.cpu_count() or 2) - 1))
    h264 = args.work / f"ucf_like_{args.tag}_h264"
    rep = prepare_dataset(avi, h264, short_side=min(128, args.frame_hw[0]), show_progress=False)
    if not rep.ok:
        raise RuntimeError(f"prepare failed: {rep.summary()}")
    return {"avi": avi, "h264": h264}


# ---------------------------------------------------------------------------------------------------- one run


def make_cfg(args, method: str, root: Path) -> PretrainConfig:
    data = DataConfig(dataset="ucf101", root=str(root), num_workers=args.workers)
    return PretrainConfig(method=method, arch=args.arch, clip_len=args.clip_len, size=args.size,
                          batch_size=args.batch, seed=0, device=str(args.device), out_dir=str(args.work / "runs"),
                          show_progress=False, data=data)


def build_loader(cfg: PretrainConfig, augment: str, decode_hw):
    """(loader, sampler): the engine's (``build_pretrain_data``); with ``augment="gpu"`` its ``augment_on="device"``
    loader, which only decodes (to ``decode_hw``) and cuts uint8 clips."""
    from stclr.train import build_pretrain_data

    if augment == "gpu":
        cfg = dataclasses.replace(cfg, augment_on="device", decode_size=tuple(decode_hw))
    loader, sampler, _ = build_pretrain_data(cfg)
    return loader, sampler


def reset_peak_rss() -> None:
    """Restart the main process's peak-RSS mark (Linux: ``/proc/self/clear_refs`` 5), so a run's peak is its own
    and not the data generation's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> tuple[float, float]:
    """(main process since :func:`reset_peak_rss`, largest finished child so far) peak resident memory in MiB."""
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    with contextlib.suppress(OSError, ValueError, StopIteration):
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
        main = int(line.split()[1]) / 1024
    return main, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_epochs(args, cfg: PretrainConfig, augment: str) -> dict:
    """Train ``args.epochs`` epochs (capped at ``args.steps`` steps each); per-step timings and the loader's totals."""
    from stclr.data.loader import LoaderStats

    device = args.device
    cuda = device.type == "cuda"
    gc.collect()
    reset_peak_rss()
    torch.manual_seed(cfg.seed)
    model = build_pretrain_model(cfg).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last_3d)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    optimizer = build_optimizer(cfg, model.parameters())
    loss_model = LossModel(model, cfg, gather=False).train()
    loader, sampler = build_loader(cfg, augment, args.decode_hw)
    dev_aug = None
    if augment == "gpu":
        from stclr.augment_gpu import DeviceAugment

        dev_aug = DeviceAugment(cfg.size, getattr(cfg, "augment", "tclr"), getattr(cfg, "ssl_augment", None), seed=cfg.seed)
    steps = len(sampler) if args.steps is None else min(args.steps, len(sampler))
    rows, stats = [], LoaderStats()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        batches = iter(loader)
        t_wait = time.perf_counter()
        for i, batch in enumerate(stats.track(batches)):
            wait = time.perf_counter() - t_wait
            t0, c0 = time.perf_counter(), time.process_time()
            loader_cpu = float(batch.get("stats", {}).get("cpu_s", 0.0))
            if cuda:
                ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                ev0.record()
            plan = batch["plan"]
            b = move_batch(batch, device, channels_last=cuda and dev_aug is None)
            if dev_aug is not None:
                b = dev_aug(b, plan.epoch, plan.step)
                if cuda:
                    b = {k: v.contiguous(memory_format=torch.channels_last_3d) if v.ndim == 5 else v for k, v in b.items()}
            losses = train_step(loss_model, model, optimizer, b, device, amp=cuda)  # the engine's step
            if cuda:
                ev1.record()
            loss = losses["total"].item()  # waits for the GPU, as run_pretrain's .item()
            t1, c1 = time.perf_counter(), time.process_time()
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss {loss} at epoch {epoch} step {i}")
            rows.append({"epoch": epoch, "step": i, "wait": wait, "compute": t1 - t0, "clips": count_clips(b),
                         "cpu": c1 - c0 + loader_cpu,
                         "busy": ev0.elapsed_time(ev1) / 1e3 if cuda else None})
            if i + 1 >= steps:
                break
            t_wait = time.perf_counter()
        del batches
    steady = [r for r in rows if r["step"] >= args.warmup] or rows
    wall = sum(r["wait"] + r["compute"] for r in steady)
    step_s = statistics.median(r["wait"] + r["compute"] for r in steady)
    out = {
        "steps": len(rows), "steady_steps": len(steady), "clips_per_step": steady[0]["clips"],
        "clips_per_s": sum(r["clips"] for r in steady) / wall, "step_ms": 1e3 * step_s,
        "compute_ms": 1e3 * statistics.median(r["compute"] for r in steady),
        "wait_ms": 1e3 * statistics.median(r["wait"] for r in steady),
        # CPU-seconds of work per step (main process + the worker that built the batch): unlike wall time, hardly
        # moved by other jobs on a shared machine, so the fairer comparison between methods on a CPU
        "cpu_ms_per_step": 1e3 * statistics.median(r["cpu"] for r in steady),
        "data_wait_frac": sum(r["wait"] for r in steady) / wall,
        "gpu_busy_frac": sum(r["busy"] for r in steady) / wall if cuda else None,
        "loader_cpu_ms_per_video": 1e3 * stats.cpu_s / max(1, stats.videos),
        "frames_decoded_per_video": stats.frames_decoded / max(1, stats.videos),
        "videos_opened_per_video": stats.videos_opened / max(1, stats.videos),
        "ucf_epoch_min": (UCF101_TRAIN // cfg.batch_size) * step_s / 60,
        "first_step_s": rows[0]["wait"] + rows[0]["compute"],
    }
    if cuda:
        out["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    main_rss, child_rss = peak_rss_mib()
    out.update(peak_rss_main_mib=main_rss, peak_rss_worker_mib=child_rss)
    return out


# ---------------------------------------------------------------------------------------------------- profile


def profile_loader(args, cfg: PretrainConfig, batches: int) -> dict:
    """Per video: decode / augmentation / other ms of the loader's work, in this process (0 workers)."""
    from stclr import video as V
    from stclr.train import build_pretrain_data

    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, num_workers=0))
    loader, sampler, _ = build_pretrain_data(cfg)
    ds = loader.dataset
    spent = {"decode": 0.0, "augment": 0.0}

    def timed(fn, key):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t
        return wrapper

    real_read, real_aug, real_ssl = V.read_frames, ds.augment, ds.ssl_augment
    V.read_frames, ds.augment, ds.ssl_augment = timed(real_read, "decode"), timed(real_aug, "augment"), timed(real_ssl, "augment")
    try:
        torch.set_num_threads(1)
        t0, videos = time.perf_counter(), 0
        for step in range(min(batches, len(sampler))):
            key = sampler.batch(0, step)
            ds[key]
            videos += len(key.indices)
        total = time.perf_counter() - t0
    finally:
        V.read_frames = real_read
        ds.augment, ds.ssl_augment = real_aug, real_ssl
    per = {k: 1e3 * v / videos for k, v in spent.items()}
    per["other"] = 1e3 * total / videos - per["decode"] - per["augment"]
    per["total"] = 1e3 * total / videos
    return per


def checkpointing_cost(args) -> list[dict]:
    """Data-free STCLR step with and without activation checkpointing: median ms, (CUDA) peak GiB."""
    device, cuda = args.device, args.device.type == "cuda"
    rows = []
    for flag in (False, True):
        cfg = dataclasses.replace(make_cfg(args, "stclr", WORK), activation_checkpointing=flag)
        g = torch.Generator().manual_seed(0)
        batch = move_batch(fake_batch("stclr", cfg.batch_size, len(resolve_skips(cfg.skips)), T=cfg.clip_len,
                                      H=cfg.size, W=cfg.size, generator=g), device, cuda)
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        torch.manual_seed(0)
        model = build_pretrain_model(cfg).to(device)
        if cuda:
            model = model.to(memory_format=torch.channels_last_3d)
        opt = build_optimizer(cfg, model.parameters())
        lm = LossModel(model, cfg, gather=False).train()
        times = []
        try:
            for k in range(args.ckpt_steps + 1):
                if cuda:
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
                train_step(lm, model, opt, batch, device, amp=cuda)["total"].item()
                if k:
                    times.append(time.perf_counter() - t0)
            row = {"checkpointing": flag, "step_ms": 1e3 * statistics.median(times), "clips": count_clips(batch)}
            if cuda:
                row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        except torch.cuda.OutOfMemoryError:
            row = {"checkpointing": flag, "status": "OOM"}
        rows.append(row)
        del model, opt, lm, batch
        print({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    return rows


# ---------------------------------------------------------------------------------------------------- report


def _f(v, fmt, none="n/a"):
    return none if v is None else format(v, fmt)


def report(args, results: list[dict], prof: dict, ckpt: list[dict], total_s: float) -> str:
    cpu = args.mode == "cpu"
    r0 = results[0]["cfg"]
    lines = [
        f"## Whole pretraining epochs, {'CPU, tiny settings' if cpu else 'GPU, the paper’s settings'} "
        f"(`bench/epoch.py --mode {args.mode}`)", "",
        f"Machine: {machine_line()}", "",
        f"UCF-like data made by the kit: {args.videos_per_class * args.classes} videos ({args.classes} synthetic motion "
        "classes, "
        f"{results[0]['train_videos']} in trainlist01), {args.frame_hw[1]}x{args.frame_hw[0]}, {args.frames} frames, "
        "MPEG-4 Part 2 AVI (XviD, B-frames, GOP 12) and its `stclr data prepare` H.264 copy (short side "
        f"{min(128, args.frame_hw[0])}). {r0['arch']}, {r0['clip']} clips, batch {r0['batch']}, skips `paper` "
        f"(1,4,8,16,32, `fit` policy), SSL speeds 1-16, C1 0.6; {args.workers} loader worker(s); {args.epochs} epoch(s) "
        f"of up to {args.steps or 'all'} steps, the first {args.warmup} step(s) of each epoch (worker start-up) left out "
        "of the steady-state figures. "
        + ("Torch intra-op threads 1; loader work and model step share 2 busy cores. "
           if cpu else "bf16 autocast, channels_last_3d, cuDNN autotuning. ")
        + "*Augment gpu*: the loader only decodes (straight to "
        f"{args.decode_hw[1]}x{args.decode_hw[0]}) and cuts uint8 clips; `stclr.augment_gpu.DeviceAugment` augments "
        f"them on the {'CPU device here' if cpu else 'GPU'}.", "",
        "| data | method | augment | clip-views / step | clips/s (steady) | median step (ms) | CPU-ms / step | data wait | "
        "GPU busy | peak memory | loader CPU-ms / video | UCF-101 epoch (min, extrapolated) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        m = r["metrics"]
        mem = (f"{m['peak_gib']:.1f} GiB" if "peak_gib" in m
               else f"RSS {m['peak_rss_main_mib']:.0f} MiB main, {m['peak_rss_worker_mib']:.0f} MiB worker")
        lines.append(f"| {r['data']} | {r['method']} | {r['augment']} | {m['clips_per_step']} | {m['clips_per_s']:.1f} | "
                     f"{m['step_ms']:.0f} | {m['cpu_ms_per_step']:.0f} | {100 * m['data_wait_frac']:.0f}% | "
                     f"{_f(m['gpu_busy_frac'] and 100 * m['gpu_busy_frac'], '.0f')}{'' if m['gpu_busy_frac'] is None else '%'} | "
                     f"{mem} | {m['loader_cpu_ms_per_video']:.0f} | {m['ucf_epoch_min']:.1f} |")
    lines += ["", "The paper's Table 6 (A40 GPUs, R3D-18 16x112x112, batch 38; UCF-101 split 1):", "",
              "| method | C1 | epoch (min) | GPU memory (GB) |", "|---|---:|---:|---:|"]
    lines += [f"| {t['method']} | {'–' if t['c1'] is None else t['c1']} | {t['epoch_min']:.2f} | {t['gpu_gb']:.2f} |"
              for t in TABLE6]
    ratios = []
    for data in ("avi", "h264"):
        for aug in ("cpu", "gpu"):
            by = {r["method"]: r["metrics"] for r in results if r["data"] == data and r["augment"] == aug}
            if "stclr" in by and "simplified_tclr" in by:
                st, si = by["stclr"], by["simplified_tclr"]
                ratios.append(f"{data}, augment {aug}: {st['step_ms'] / si['step_ms']:.2f} (wall)"
                              + (f", {st['cpu_ms_per_step'] / si['cpu_ms_per_step']:.2f} (CPU work)" if cpu else ""))
    lines += ["", "**STCLR epoch ÷ Simplified TCLR epoch** (median step times; paper: 34.36 / 11.06 = 3.1): "
              + "; ".join(ratios) + "."
              + (" On this shared 2-core machine wall times move by up to 2x between runs with other jobs' load; the "
                 "CPU-work ratio (CPU-ms per step: model step + the worker's batch) is the steadier figure. The tiny "
                 "model's step dominates here, so the ratio mostly reflects STCLR's 13 vs 10 clip-views per video."
                 if cpu else ""), ""]
    lines += ["**Where the time goes.** Loader work per video, measured in one process over "
              f"{args.profile_batches} batches of STCLR (decode = `stclr.video.read_frames`, augment = the clip "
              "transforms, other = planning, cutting clips, copying into the batch):", "",
              "| data | decode (ms / video) | augment (ms / video) | other (ms / video) | total (ms / video) |",
              "|---|---:|---:|---:|---:|"]
    for data, p in prof.items():
        lines.append(f"| {data} | {p['decode']:.1f} | {p['augment']:.1f} | {p['other']:.1f} | {p['total']:.1f} |")
    lines.append("")
    for r in results:
        if r["method"] == "stclr":
            m = r["metrics"]
            lines.append(f"- {r['data']}, augment {r['augment']}: a steady step of {m['step_ms']:.0f} ms is "
                         f"{m['compute_ms']:.0f} ms model step (move, {'device augmentation, ' if r['augment'] == 'gpu' else ''}"
                         f"forward, backward, Adam) + {m['wait_ms']:.0f} ms "
                         f"waiting for data (medians); the loader spent {m['loader_cpu_ms_per_video']:.0f} CPU-ms per "
                         f"video ({r['cfg']['batch'] * m['loader_cpu_ms_per_video'] / 1e3:.2f} CPU-s per batch, over "
                         f"{args.workers} worker(s)); each video opened {m['videos_opened_per_video']:.2f} times "
                         f"per batch, {m['frames_decoded_per_video']:.0f} frames decoded per video.")
    lines.append("")
    if ckpt:
        base = next((c for c in ckpt if not c["checkpointing"] and "step_ms" in c), None)
        cells = []
        for c in ckpt:
            if "step_ms" not in c:
                cells.append(f"{'with' if c['checkpointing'] else 'without'}: {c.get('status')}")
                continue
            extra = f", +{100 * (c['step_ms'] / base['step_ms'] - 1):.0f}% step time" if base and c is not base else ""
            mem = f", peak {c['peak_gib']:.1f} GiB" if "peak_gib" in c else ""
            cells.append(f"{'with' if c['checkpointing'] else 'without'} {c['step_ms']:.0f} ms{mem}{extra}")
        lines += [f"**Activation checkpointing** (`activation_checkpointing=true`; STCLR step, data excluded, "
                  f"{ckpt[0].get('clips', '?')} clip-views, median of {args.ckpt_steps}): " + "; ".join(cells)
                  + (". Peak memory on a CPU is not measured per step (see the RSS column)." if cpu else "."), ""]
    lines.append(f"Total benchmark time {total_s:.0f} s." + (" GPU figures: run `python bench/epoch.py --mode gpu` on a "
                                                             "GPU machine (`bash bench/gpu.sh`)." if cpu else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- main


def _hw(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return h, w


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("cpu", "gpu"), default="gpu" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--data", default="avi,h264", help="which copies to train on: avi, h264")
    ap.add_argument("--augment", help="cpu, gpu or both (default: cpu,gpu; the gpu path runs on h264 only)")
    ap.add_argument("--epochs", type=int, help="epochs per configuration (default: cpu 1, gpu 2)")
    ap.add_argument("--steps", type=int, help="cap on steps per epoch (default: all)")
    ap.add_argument("--warmup", type=int, default=1, help="steps per epoch left out of the steady state")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--workers", type=int, help="loader workers (default: cpu 1, gpu cores - 2)")
    ap.add_argument("--videos-per-class", type=int)
    ap.add_argument("--classes", type=int, default=8, help="synthetic motion classes (2..8)")
    ap.add_argument("--frames", type=int, default=180)
    ap.add_argument("--frame-size", type=_hw, default=(240, 320), help="WxH of the AVI videos")
    ap.add_argument("--arch")
    ap.add_argument("--size", type=int)
    ap.add_argument("--clip-len", type=int)
    ap.add_argument("--decode-size", type=_hw, help="WxH the gpu-augment loader decodes to")
    ap.add_argument("--profile-batches", type=int, default=2)
    ap.add_argument("--ckpt-steps", type=int, help="timed steps of the checkpointing comparison (0: skip it)")
    ap.add_argument("--work", type=Path, default=WORK, help="folder for the generated data and run caches")
    ap.add_argument("--out-md", type=Path, default=_report.BENCH_MD)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    cpu = args.mode == "cpu"
    if not cpu and not torch.cuda.is_available():
        sys.exit("epoch.py --mode gpu: no CUDA device; use --mode cpu")
    args.device = torch.device("cpu" if cpu else "cuda")
    d = {"arch": "r3d_tiny", "size": 32, "clip_len": 8, "batch": 4, "workers": 1, "videos_per_class": 4, "epochs": 4,
         "ckpt_steps": 5} if cpu else \
        {"arch": "r3d_18", "size": 112, "clip_len": 16, "batch": 38, "workers": max(1, (os.cpu_count() or 4) - 2),
         "videos_per_class": 40, "epochs": 2, "ckpt_steps": 5}
    for k, v in d.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.decode_hw = args.decode_size or ((36, 48) if cpu else (128, 170))
    args.frame_hw = args.frame_size
    args.tag = f"{args.frame_hw[1]}x{args.frame_hw[0]}_{args.frames}f_{args.classes}x{args.videos_per_class}v"
    args.work = args.work.resolve()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    datas = [m.strip() for m in args.data.split(",") if m.strip()]
    augs = [a.strip() for a in (args.augment or "cpu,gpu").split(",") if a.strip()]
    if cpu:
        torch.set_num_threads(1)
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        import av  # noqa: F401  -- the data is written and decoded with PyAV
    except ImportError:
        sys.exit("bench/epoch.py needs PyAV (pip install av) to write and decode its videos; skipped")
    t0 = time.perf_counter()
    roots = make_datasets(args)
    print(f"data ready in {time.perf_counter() - t0:.0f} s: {roots}", flush=True)
    from stclr.data.splits import load_split

    n_train = len(load_split("ucf101", roots["avi"], 1, "train"))
    results = []
    for data in datas:
        for aug in augs:
            if aug == "gpu" and data != "h264" and "h264" in datas:
                continue  # device augmentation is measured on the prepared copy (decoded straight to a small size)
            for method in methods:
                cfg = make_cfg(args, method, roots[data])
                row = {"data": data, "method": method, "augment": aug, "train_videos": n_train,
                       "cfg": {"arch": cfg.arch, "clip": f"{cfg.clip_len}x{cfg.size}x{cfg.size}", "batch": cfg.batch_size}}
                row["metrics"] = run_epochs(args, cfg, aug)
                results.append(row)
                print({k: v for k, v in row.items() if k != "metrics"},
                      {k: round(v, 3) if isinstance(v, float) else v for k, v in row["metrics"].items()}, flush=True)
                gc.collect()
    prof = {}
    if args.profile_batches:
        for data in datas:
            prof[data] = profile_loader(args, make_cfg(args, "stclr", roots[data]), args.profile_batches)
            print("profile", data, {k: round(v, 1) for k, v in prof[data].items()}, flush=True)
    ckpt = checkpointing_cost(args) if args.ckpt_steps else []
    body = report(args, results, prof, ckpt, time.perf_counter() - t0)
    print("\n" + body)
    out = {"mode": args.mode, "machine": machine_line(), "results": results, "profile": prof, "checkpointing": ckpt}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1, default=str))
    if not args.no_write:
        name = "epoch_cpu" if cpu else "epoch_gpu"
        write_section(name, body, args.out_md)
        print(f"\nwrote the '{name}' section of {args.out_md}")
    out["body"] = body
    return out


if __name__ == "__main__":
    main()
