"""One full pretraining step (forward of every clip view, the method's losses, backward, Adam step), in clips/s.

The step is the one ``stclr.train`` runs: ``build_pretrain_model``, ``build_optimizer`` (Adam), ``LossModel``,
``move_batch``, then ``losses["total"].backward(); optimizer.step()``. Clip-views are counted with
``stclr.train.count_clips``: 2N local views + 3 SSL clips per video for STCLR, 2N for Simplified TCLR.

- ``--mode cpu`` (default without CUDA): the course's settings (``preset("course")``: r3d_tiny, 8x32x32 clips,
  batch 16, skips "medium" so N = 5), (a) data excluded: one random batch of the loader's shapes, made once
  and reused; (b) data included: the real loader (``build_pretrain_data``, the course's workers) over
  ``data/synthetic``, timing next(batch) + step, with the share of that time spent waiting for the batch.
  Data excluded, the contiguous and the channels_last_3d memory format (``cpu_channels_last``) run one step
  each in turn. Writes the ``train_step_cpu`` section of docs/benchmarks.md.
- ``--mode gpu``: the paper's R3D-18, 16x112x112 clips, batch 38, on one GPU; random clips (``fake_batch``,
  moved to the GPU: no video decoding, no av/decord import), fp32 (TF32 allowed, as ``stclr.train``) vs bf16 autocast, both with
  the model and clips in channels_last_3d; cuDNN autotuning; peak memory per configuration. ``--compile``
  also times a ``torch.compile``d backbone. A configuration that runs out of memory (or fails) is reported
  as such and the others still run. Writes the ``train_step_gpu`` section.

    .venv/bin/python bench/train_step.py --mode cpu      # about 2.5 minutes on 2 busy cores
    python bench/train_step.py --mode gpu --json bench/_work/train_step_gpu.json   # a few minutes (estimate)
    python bench/train_step.py --mode gpu --compile                               # + compile time per config
    python bench/train_step.py --mode gpu --no-write --device cpu --arch r3d_tiny --size 32 --batch 2 --steps 1
                                                  # smoke test of the gpu path on a CPU (hidden options)

Medians over ``--steps`` timed steps after ``--warmup`` (cpu: 1 + 3, as one course step takes ~10 s on one
busy core; gpu: 3 + 10). ``--no-write`` only prints; ``--out-md`` writes another markdown file.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _report  # noqa: E402
from _report import machine_line, write_section  # noqa: E402

from stclr.config import preset  # noqa: E402
from stclr.methods import fake_batch  # noqa: E402
from stclr.sampling import resolve_skips  # noqa: E402
from stclr.optim import build_optimizer  # noqa: E402
from stclr.train import LossModel, build_pretrain_model, count_clips, move_batch, train_step  # noqa: E402

DATA = ROOT / "data" / "synthetic"
WORK = ROOT / "bench" / "_work" / "train_step"  # the loader's frame-count cache
METHODS = ("stclr", "simplified_tclr", "ssl", "ic")  # the STCLR family (tclr needs other nets and batches)


def make_cfg(mode: str, method: str, args):
    cfg = (preset("course", method=method, out_dir=str(WORK), **{"data.root": str(DATA)}) if mode == "cpu"
           else preset("paper", method=method))
    over = {"batch_size": args.batch, "arch": args.arch, "size": args.size, "clip_len": args.clip_len}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in over.items() if v is not None})
    if args.workers is not None:
        cfg.data = dataclasses.replace(cfg.data, num_workers=args.workers)
    return cfg


def synthetic_batch(cfg, device, channels_last: bool) -> dict:
    """A random batch with the loader's keys and shapes for ``cfg`` (N = number of local-clip skips)."""
    g = torch.Generator().manual_seed(0)
    b = fake_batch(cfg.method, cfg.batch_size, len(resolve_skips(cfg.skips)), T=cfg.clip_len, H=cfg.size,
                   W=cfg.size, generator=g)
    return move_batch(b, device, channels_last)


def make_step(cfg, device, *, bf16: bool, channels_last: bool, compile_: bool):
    """``step(batch) -> loss``: forward under autocast, backward, Adam step, as stclr.train does it."""
    torch.manual_seed(cfg.seed)
    model = build_pretrain_model(cfg).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    optimizer = build_optimizer(cfg, model.parameters())
    if compile_:
        model.backbone.compile()  # in place, as stclr.train
    loss_model = LossModel(model, cfg, gather=False).train()

    def step(batch: dict) -> float:  # the engine's own step (bf16 autocast only on CUDA, as there)
        return train_step(loss_model, model, optimizer, batch, device, amp=bf16)["total"].item()

    return step


def timed(step, next_batch, warmup: int, steps: int, sync) -> dict:
    """Run warmup + steps of next_batch() + step(batch); medians and sums over the timed ones."""
    waits, totals, t_start = [], [], time.perf_counter()
    for k in range(warmup + steps):
        if k == warmup:
            warmup_s = time.perf_counter() - t_start
        sync()
        t0 = time.perf_counter()
        batch = next_batch()
        t1 = time.perf_counter()
        loss = step(batch)
        sync()
        t2 = time.perf_counter()
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss is {loss} at step {k}")
        if k >= warmup:
            waits.append(t1 - t0)
            totals.append(t2 - t0)
    clips = count_clips(batch)
    med = statistics.median(totals)
    return {"clips": clips, "step_ms": 1e3 * med, "clips_per_s": clips / med, "warmup_s": warmup_s,
            "data_wait_frac": sum(waits) / sum(totals), "step_ms_all": [1e3 * t for t in totals]}


def timed_in_turn(steps: dict, batches: dict, warmup: int, n: int) -> dict:
    """Like :func:`timed` with the data excluded, for several step functions run one step each in turn, so that
    a machine's changing load falls on all of them alike; medians per key."""
    totals = {k: [] for k in steps}
    for i in range(warmup + n):
        for k, step in steps.items():
            t0 = time.perf_counter()
            loss = step(batches[k])
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss is {loss} at step {i} ({k})")
            if i >= warmup:
                totals[k].append(time.perf_counter() - t0)
    out = {}
    for k, ts in totals.items():
        clips, med = count_clips(batches[k]), statistics.median(ts)
        out[k] = {"clips": clips, "step_ms": 1e3 * med, "clips_per_s": clips / med, "data_wait_frac": 0.0,
                  "step_ms_all": [1e3 * t for t in ts]}
    return out


def short(row: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items() if k != "step_ms_all"}


def loader_batches(cfg):
    """The real pretraining loader's batches, epoch after epoch (import of the decoders happens here)."""
    from stclr.train import build_pretrain_data

    loader, sampler, _ = build_pretrain_data(cfg)
    for epoch in range(10**6):
        sampler.set_epoch(epoch)
        yield from loader


def run_cpu(args) -> list[dict]:
    device, rows = torch.device("cpu"), []
    for method in args.methods:
        cfg = make_cfg("cpu", method, args)
        base = {"method": method, "batch": cfg.batch_size, "arch": cfg.arch, "clip": f"{cfg.clip_len}x{cfg.size}x{cfg.size}"}
        # contiguous and channels_last_3d (cpu_channels_last, the course's default), one step of each in turn
        steps = {cl: make_step(cfg, device, bf16=False, channels_last=cl, compile_=False) for cl in (False, True)}
        batches = {cl: synthetic_batch(cfg, device, cl) for cl in (False, True)}
        res = timed_in_turn(steps, batches, args.warmup, args.steps)
        for cl in (False, True):
            rows.append({**base, "data": "excluded", "layout": "channels_last_3d" if cl else "contiguous", **res[cl]})
            if cl:
                rows[-1]["speedup_vs_contiguous"] = res[False]["step_ms"] / res[True]["step_ms"]
            print(short(rows[-1]), flush=True)
        if not args.data:
            continue
        if not (DATA / "splits").is_dir():
            rows.append({**base, "data": "included", "note": f"skipped: {DATA} missing (make it: stclr data synth)"})
            continue
        batches = loader_batches(cfg)
        cl = cfg.cpu_channels_last  # the layout the course's runs use
        step = make_step(cfg, device, bf16=False, channels_last=cl, compile_=False)
        res = timed(step, lambda: move_batch(next(batches), device, cl), args.warmup, args.steps, lambda: None)
        batches.close()
        rows.append({**base, "data": "included", "workers": cfg.data.num_workers,
                     "layout": "channels_last_3d" if cl else "contiguous", **res})
        print(short(rows[-1]), flush=True)
    return rows


def run_gpu(args, device) -> list[dict]:
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # as stclr.train
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    rows = []
    for method in args.methods:
        cfg = make_cfg("gpu", method, args)
        base = {"method": method, "batch": cfg.batch_size, "arch": cfg.arch, "clip": f"{cfg.clip_len}x{cfg.size}x{cfg.size}"}
        try:
            batch = synthetic_batch(cfg, device, channels_last=True)
        except torch.cuda.OutOfMemoryError:
            rows.append({**base, "precision": "-", "compile": False, "status": "OOM (the batch itself)"})
            continue
        for compile_ in (False, True) if args.compile else (False,):
            for precision in ("fp32", "bf16"):
                row = {**base, "precision": precision, "compile": compile_}
                step = None
                gc.collect()
                if cuda:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(device)
                try:
                    step = make_step(cfg, device, bf16=precision == "bf16", channels_last=True, compile_=compile_)
                    row.update(timed(step, lambda: batch, args.warmup, args.steps, sync), status="ok")
                    if cuda:
                        row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
                except torch.cuda.OutOfMemoryError:
                    at = f" ({torch.cuda.max_memory_allocated(device) / 2**30:.0f} GiB allocated when it failed)" if cuda else ""
                    row["status"] = "OOM" + at
                except Exception as e:  # noqa: BLE001 -- one configuration failing (e.g. compile) must not stop the rest
                    traceback.print_exc()
                    msg = (str(e).splitlines() or [""])[0][:100].replace("|", "/")
                    row["status"] = f"failed: {type(e).__name__}: {msg}"
                step = None
                rows.append(row)
                print(short(row), flush=True)
        del batch
    for r in rows:  # bf16 speed-up over fp32 of the same method and compile setting
        ref = next((q for q in rows if q["method"] == r["method"] and q["compile"] == r["compile"]
                    and q["precision"] == "fp32" and "step_ms" in q), None)
        if ref is not None and "step_ms" in r:
            r["speedup_vs_fp32"] = ref["step_ms"] / r["step_ms"]
    return rows


def table(rows, cpu: bool) -> str:
    if cpu:
        out = ["| method | data | memory format | clip-views / step | median step (ms) | clips/s | data wait | speed-up |",
               "|---|---|---|---:|---:|---:|---:|---:|"]
    else:
        out = ["| method | precision | compile | clip-views / step | median step (ms) | clips/s | peak memory (GiB) | "
               "speed-up vs fp32 |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        setting = [r["data"] if r["data"] == "excluded" else f"included ({r.get('workers', '?')} workers)",
                   r.get("layout", "contiguous")] if cpu else [r["precision"], "yes" if r["compile"] else "no"]
        if "step_ms" not in r:
            cells = ["–"] * (4 if cpu else 5) + [r.get("note") or r["status"]]
        elif cpu:
            cells = [r["clips"], f"{r['step_ms']:.0f}", f"{r['clips_per_s']:.1f}",
                     "–" if r["data"] == "excluded" else f"{100 * r['data_wait_frac']:.0f}%",
                     f"{r['speedup_vs_contiguous']:.2f}x" if "speedup_vs_contiguous" in r else "–"]
        else:
            cells = [r["clips"], f"{r['step_ms']:.0f}", f"{r['clips_per_s']:.0f}",
                     f"{r['peak_gib']:.1f}" if "peak_gib" in r else "–",
                     f"{r['speedup_vs_fp32']:.2f}x" if "speedup_vs_fp32" in r else "–"]
        out.append("| " + " | ".join(str(c) for c in [r["method"], *setting, *cells]) + " |")
    return "\n".join(out)


CPU_NOTE = ("*Data excluded*: one random batch of the loader's shapes (N = 5 local clips x 2 views, + 3 SSL clips for "
            "STCLR), reused every step. *Data included*: next(batch) from the real loader over data/synthetic, then the "
            "step; *data wait* = share of that time spent in next(batch) (with 0 workers: all the decoding and "
            "augmentation). The two memory formats run one step each in turn (same weights, same batch); "
            "channels_last_3d is `cpu_channels_last=true`, the default since 2026-12-04 (a different floating-point "
            "order than contiguous tensors, so a run's numbers depend on it); data included runs in that default. "
            "Other jobs share this machine: expect ~10% noise between rows.")
GPU_NOTE = ("The paper's global batch on ONE GPU. Random clips made once and kept on the GPU (no decoding); model and "
            "clips channels_last_3d; cuDNN autotuning; fp32 allows TF32 (as stclr.train). Peak memory = "
            "torch.cuda.max_memory_allocated, batch included. Speed-up: fp32 step time / this one, same compile setting.")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("cpu", "gpu"), default="gpu" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--methods", default="stclr,simplified_tclr", help=f"comma-separated, of {', '.join(METHODS)}")
    ap.add_argument("--batch", type=int, help="videos per batch (default: course 16 / paper 38)")
    ap.add_argument("--steps", type=int, help="timed steps (default: cpu 3, gpu 10)")
    ap.add_argument("--warmup", type=int, help="untimed steps first (default: cpu 1, gpu 3)")
    ap.add_argument("--threads", type=int, help="intra-op threads (default: 1 in cpu mode, torch's in gpu mode)")
    ap.add_argument("--data", action=argparse.BooleanOptionalAction, default=True, help="cpu: also time the real loader")
    ap.add_argument("--workers", type=int, help="cpu: loader workers (default: the course's, 0)")
    ap.add_argument("--compile", action="store_true", help="gpu: also time torch.compile")
    ap.add_argument("--out-md", type=Path, default=_report.BENCH_MD, help="markdown file to write the section into")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--json", type=Path, help="also dump the raw results here")
    # hidden, for smoke tests of the gpu path on a CPU: --device cpu --arch r3d_tiny --size 32 --batch 2
    for hidden, kind in (("--arch", str), ("--device", str), ("--size", int), ("--clip-len", int)):
        ap.add_argument(hidden, type=kind, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if bad := [m for m in args.methods if m not in METHODS]:
        ap.error(f"--methods: {bad} not among {list(METHODS)}")
    cpu = args.mode == "cpu"
    args.steps = args.steps or (3 if cpu else 10)
    args.warmup = (1 if cpu else 3) if args.warmup is None else args.warmup
    if args.threads or cpu:
        torch.set_num_threads(args.threads or 1)
    device = torch.device(args.device or ("cpu" if cpu else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("train_step.py --mode gpu: no CUDA device (torch.cuda.is_available() is False); use --mode cpu")
    t0 = time.perf_counter()
    rows = run_cpu(args) if cpu else run_gpu(args, device)
    r0 = next((r for r in rows if "clip" in r), {})
    name = "train_step_cpu" if cpu else "train_step_gpu"
    body = "\n".join([
        f"## One pretraining step on the {'CPU, course' if cpu else 'GPU, paper'} settings "
        f"(`bench/train_step.py --mode {args.mode}`)", "",
        f"Machine: {machine_line()}", "",
        f"{r0.get('arch')}, {r0.get('clip')} clips, batch {r0.get('batch')} videos, Adam; median of {args.steps} timed "
        f"steps after {args.warmup} warm-up; intra-op threads {torch.get_num_threads()}. "
        + (CPU_NOTE if cpu else GPU_NOTE), "",
        table(rows, cpu), "",
        f"Total benchmark time {time.perf_counter() - t0:.0f} s.",
    ])
    print("\n" + body)
    result = {"mode": args.mode, "device": str(device), "machine": machine_line(),
              "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "results": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    if not args.no_write and (cpu or device.type == "cuda"):  # a gpu-path smoke test on a CPU never writes
        write_section(name, body, args.out_md)
        print(f"\nwrote the '{name}' section of {args.out_md}")
    return result


if __name__ == "__main__":
    main()
