"""The course's teaching table: what a fixed budget of pretraining steps buys on the synthetic dataset.

For each method and seed: pretrain the tiny R3D for a fixed number of optimiser steps (``--steps``, default 300,
one batch of 16 videos each), then measure retrieval R@1/5/10/20 (test queries, train gallery), a linear probe and
fine-tuning accuracy (video level, ``--finetune-epochs`` of 16 steps). Budgets are steps, not seconds, so the table
does not depend on the machine's speed or load (issue 11). Rows:

- ``supervised``: the upper bound -- the backbone trained WITH labels (fine-tuning from random init) for the
  same number of optimiser steps; its retrieval uses that backbone, its fine-tune accuracy is its own test accuracy;
- ``random``: no pretraining (a seeded random backbone);
- ``ic``, ``simplified_tclr``, ``ssl``, ``stclr``, ``tclr``: self-supervised pretraining (``stclr.methods``).

All SSL methods use the course preset (r3d_tiny, 8x32x32 clips, light augmentation, Adam 5e-3 annealed by cosine
over the run's steps, decoded videos kept in memory), so the only difference between rows is the objective (TCLR pretrains on 16-frame clips: its global-local loss needs 4
timesteps from the global clip). Mean +- std over seeds is written to ``docs/benchmarks.md`` (section
``teaching_table``); raw numbers to ``<out>/results.json``, and a figure of L_SLL, L_IC and L_SSL per step for each method (mean over
seeds, against each loss's chance value) to ``docs/figures/teaching_table_losses.png``.

    python bench/teaching_table.py                         # the table: 7 methods x 5 seeds, ~2.5 h on 2 cores
    python bench/teaching_table.py ... --resume bench/_work/teaching_table/<stamp>  # finish an interrupted one
    python bench/teaching_table.py --steps 20 --seeds 0 --methods random stclr --finetune-epochs 2  # quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def setting(jobs: int = 2, threads: int = 1) -> str:
    """What every row shares, read from the course preset (stclr.config) so the text follows the preset."""
    from stclr.config import preset

    p, f, r = (preset("course", k) for k in ("pretrain", "finetune", "retrieval"))
    head = "no dropout in the head" if not f.dropout else f"dropout {f.dropout:g} in the head"
    return (
        f"Setting: the course preset ({p.arch}: one block per stage, widths 8/16/32/64; {p.clip_len}×{p.size}×{p.size} "
        f"clips, batch {p.batch_size}; {p.optimizer.capitalize()} {p.lr:g}, scheduler {p.scheduler}, for pretraining; "
        f"decoded videos cached in memory), {jobs} runs side by side with {threads} torch thread(s) each. Fine-tuning and the "
        f"supervised row: {f.optimizer.capitalize()} {f.lr:g} with a {f.scheduler} schedule over the budget, {head} "
        f"({f.hidden} hidden units), {f.clip_len} frames at skip {f.skip} from frames resized to "
        f"{f.resize[0]}×{f.resize[1]} and cropped to {f.crop}, {f.test_clips} test clips × {f.test_crops} crop(s) "
        f"per video. Evaluation per row: retrieval with {r.n_clips} clips at skip {r.skip}, a linear probe on frozen "
        "features."
    )


METHODS = ("supervised", "random", "ic", "simplified_tclr", "ssl", "stclr", "tclr")
KS = (1, 5, 10, 20)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300, help="pretraining optimiser steps per run (batches of 16 videos)")
    p.add_argument("--finetune-epochs", type=int, default=25, help="fine-tuning epochs (16 optimiser steps each)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--data", type=Path, default=REPO / "data" / "synthetic", help="synthetic dataset (made if missing)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "_work" / "teaching_table")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (each in its own process)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (1 per core: see docs)")
    p.add_argument("--amp", action="store_true",
                   help="bf16 autocast on CUDA (default off: fp32, so a GPU table has the CPU course's arithmetic)")
    p.add_argument("--resume", type=Path, default=None, help="a previous output folder: keep its finished rows")
    return p.parse_args(argv)


def one_run(method: str, seed: int, args, out: Path) -> dict:
    """Pretrain (or not) -> retrieval -> linear probe -> fine-tune, for one method and seed."""
    from stclr.config import preset
    from stclr.finetune import run_finetune
    from stclr.linear_probe import run_linear_probe
    from stclr.retrieval import run_retrieval
    from stclr.runinfo import read_jsonl
    from stclr.train import run_pretrain

    import torch

    # On a GPU the augmentation still runs on the CPU: without this each of the --jobs processes would start one
    # thread per core (cpu_threads below only applies to device=cpu).
    torch.set_num_threads(args.threads)
    data = {"data.root": str(args.data), "data.cache_mb": 1024.0}  # decode each video once per run
    common = dict(seed=seed, device=args.device, show_progress=args.progress, out_dir=str(out),
                  cpu_threads=args.threads, amp=args.amp)
    tag = f"{method}-s{seed}"
    row: dict = {"method": method, "seed": seed}
    t0 = time.time()
    ft_kw = dict(epochs=args.finetune_epochs, **common, **data)
    if (out / f"{tag}-pretrain").exists() or (out / f"{tag}-finetune").exists():  # a rerun after a crash
        import shutil

        for d in out.glob(f"{tag}-*"):
            shutil.rmtree(d)

    if method == "supervised":
        # Labels for as many optimiser steps as the SSL rows pretrain (16 steps per epoch of the synthetic set).
        ft = run_finetune(preset("course", "finetune", run_name=f"{tag}-finetune", epochs=max(1, round(args.steps / 16)),
                                 **common, **data))
        checkpoint, row["pretrain_epochs"] = str(ft), json.loads((ft / "metrics.json").read_text())["epochs_trained"]
        row["pretrain_steps"] = 16 * row["pretrain_epochs"]
    elif method == "random":
        checkpoint, row["pretrain_epochs"], row["pretrain_steps"], ft = None, 0, 0, None
    else:
        # TCLR's global-local loss needs 4 timesteps after layer4 from its global clip: 16 frames for the
        # time-keeping *_tclr net (the plan's global clip has the local clips' length), so TCLR pretrains on
        # 16-frame clips; evaluation uses the same 8-frame clips as every other row.
        extra = dict(arch="r3d_tiny_tclr", clip_len=16) if method == "tclr" else {}
        pre = run_pretrain(preset("course", method=method, epochs=args.steps, max_steps=args.steps,
                                  run_name=f"{tag}-pretrain", **extra, **common, **data))
        logged = read_jsonl(pre / "steps.jsonl")
        epochs = read_jsonl(pre / "metrics.jsonl")
        checkpoint, row["pretrain_epochs"], row["pretrain_steps"] = str(pre), len(epochs), epochs[-1]["step"]
        row["loss_curves"] = {k: [r.get(f"loss_{k}") for r in logged] for k in ("sll", "ic", "ssl", "ll", "gl")
                              if any(f"loss_{k}" in r for r in logged)}
        ft = None
    row["pretrain_s"] = round(time.time() - t0, 1)

    rkw = dict(checkpoint=checkpoint, random_init=checkpoint is None, run_name=f"{tag}-retrieval", **common, **data)
    r = json.loads((run_retrieval(preset("course", "retrieval", **rkw)) / "metrics.json").read_text())
    row.update({f"R@{k}": r[f"R@{k}"] for k in KS})
    p = run_linear_probe(preset("course", "linear_probe", **{**rkw, "run_name": f"{tag}-probe"}))
    row["probe_acc"] = json.loads((p / "metrics.json").read_text())["accuracy"]

    if ft is None:  # supervised already has its fine-tuned accuracy
        ft = run_finetune(preset("course", "finetune", checkpoint=checkpoint, run_name=f"{tag}-finetune", **ft_kw))
    m = json.loads((ft / "metrics.json").read_text())
    row.update(finetune_video_acc=m["video_accuracy"], finetune_clip_acc=m["clip_accuracy"])
    row["total_s"] = round(time.time() - t0, 1)
    return row


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def table(rows: list[dict], args) -> str:
    from _report import machine_line

    cols = [f"R@{k}" for k in KS] + ["probe_acc", "finetune_video_acc"]
    names = {"probe_acc": "linear probe %", "finetune_video_acc": "fine-tune video acc %"}
    lines = [
        "## Teaching table (synthetic dataset, tiny R3D, fixed budget of optimiser steps)",
        "",
        f"{machine_line()}; device {args.device}"
        + (", bf16 autocast" if args.amp else ", fp32") + f", {args.jobs} runs at a time. Pretraining {args.steps} optimiser steps per run, fine-tuning "
        f"{args.finetune_epochs} epochs; seeds {', '.join(map(str, args.seeds))}; "
        f"mean ± std over seeds. Retrieval: test videos query train videos (R@k, %). "
        "`supervised` trains with labels for the same number of steps (an upper bound); `random` is no pretraining.",
        "",
        "| method | " + " | ".join(names.get(c, c) for c in cols) + " | pretrain steps | minutes per seed |",
        "|---|" + "---|" * (len(cols) + 2),
    ]
    for method in args.methods:
        rs = [r for r in rows if r["method"] == method]
        if not rs:
            continue
        cells = [mean_std([r[c] for r in rs]) for c in cols]
        # rows written before pretrain_steps was recorded: 16 steps per epoch of the synthetic set
        epochs = mean_std([float(r.get("pretrain_steps", 16 * r["pretrain_epochs"])) for r in rs])
        minutes = statistics.mean(r["total_s"] for r in rs) / 60
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {epochs} | {minutes:.1f} |")
    def mean_of(method, col):
        vals = [r[col] for r in rows if r["method"] == method]
        return statistics.mean(vals) if vals else None

    checks = []
    sup = mean_of("supervised", "finetune_video_acc")
    if sup is not None:
        checks.append(f"supervised video-level test accuracy {sup:.1f}% (target: at least 80%)")
    for m in ("ic", "simplified_tclr", "ssl", "stclr", "tclr"):
        r1, r0 = mean_of(m, "R@1"), mean_of("random", "R@1")
        f1, f0 = mean_of(m, "finetune_video_acc"), mean_of("random", "finetune_video_acc")
        if r1 is not None and r0 is not None:
            checks.append(f"{m}: R@1 {r1 - r0:+.1f} points over random init"
                          + (" (target for stclr: at least +10)" if m == "stclr" else "")
                          + (f"; fine-tuning {f1 - f0:+.1f} points over fine-tuning from random init" if f0 is not None else ""))
    if checks:
        lines += ["", "Read against the issue's targets (means over seeds):", ""] + [f"- {c}" for c in checks]
    seeds = sorted({r["seed"] for r in rows})
    lines += ["", f"Per seed ({', '.join(map(str, seeds))}):", "",
              "| method | R@1 | fine-tune video acc % |", "|---|---|---|"]
    for method in args.methods:
        by_seed = {r["seed"]: r for r in rows if r["method"] == method}
        if by_seed:
            cells = [", ".join(f"{by_seed[s][c]:.1f}" if s in by_seed else "–" for s in seeds)
                     for c in ("R@1", "finetune_video_acc")]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", setting(args.jobs, args.threads)]
    meta = args.data / "meta.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        c = m["config"]
        lines[-1] += (f" Data: the synthetic set, generator version {m.get('generator_version')}, {c['num_classes']} "
                      f"classes × {c['videos_per_class']} videos of {c['num_frames']} frames at {c['size']}×{c['size']}.")
        n_test = sum(v.get("subset") == "test" for v in m.get("videos", []))
        if n_test:
            lines[-1] += f" {n_test} test videos: one video is {100 / n_test:.1f} points."
    if any(r.get("loss_curves") for r in rows):
        lines += ["", "![L_SLL, L_IC and L_SSL per optimiser step, mean over seeds](figures/teaching_table_losses.png)"]
    lines += ["", f"Written by `python bench/teaching_table.py --steps {args.steps} --finetune-epochs "
                  f"{args.finetune_epochs} --seeds {' '.join(map(str, args.seeds))} --methods {' '.join(args.methods)}`."]
    return "\n".join(lines)


def loss_figure(rows: list[dict], path: Path):
    """L_SLL, L_IC and L_SSL per optimiser step, one line per method (mean over its seeds), each panel with the loss
    of a uniform guess (course batch of 16 videos, N = 5 local clips): where each method leaves its plateau.

    A method keeps one colour in every panel. TCLR's ``ic`` is its own instance loss (all local pairs plus the
    global clip, summed), not Eq. 2, so it is not drawn against Eq. 2's chance value."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    chance = {"sll": 5 * math.log(9), "ic": math.log(31), "ssl": math.log(4)}
    titles = {"sll": "$L_{SLL}$ (Eq. 3)", "ic": "$L_{IC}$ (Eq. 2)", "ssl": "$L_{SSL}$ (Sec. 3.3)"}
    colour = {"stclr": "C0", "simplified_tclr": "C1", "ic": "C2", "ssl": "C4", "supervised": "C7", "random": "C8"}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for ax, key in zip(axes, ("sll", "ic", "ssl")):
        for method in METHODS:
            if method == "tclr":
                continue
            curves = [r["loss_curves"][key] for r in rows if r["method"] == method and key in r.get("loss_curves", {})]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            y = np.nanmean(np.array([[np.nan if v is None else v for v in c[:n]] for c in curves], float), axis=0)
            smooth = np.convolve(y, np.ones(5) / 5, mode="valid") if n >= 5 else y
            ax.plot(np.arange(len(smooth)) + (n - len(smooth)) + 1, smooth, color=colour[method],
                    label=f"{method} ({len(curves)} seeds)")
        ax.axhline(chance[key], color="black", linestyle="--", linewidth=1)
        ax.annotate("uniform guess", (0.01, chance[key]), xycoords=("axes fraction", "data"), va="bottom", fontsize=8)
        ax.set(title=titles[key], xlabel="optimiser step (mean of 5)")
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=8, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    from stclr.data.synthetic import make_synthetic_dataset

    if not (args.data / "splits").is_dir():  # an existing dataset (any configuration) is used as it is
        make_synthetic_dataset(args.data, show_progress=args.progress)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.resume or args.out / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    rows = json.loads(results.read_text())["rows"] if results.exists() else []
    done = {(r["method"], r["seed"]) for r in rows}
    todo = [(m, s) for s in args.seeds for m in args.methods if (m, s) not in done]
    print(f"{len(todo)} runs to do ({len(done)} already in {out}), {args.jobs} at a time", flush=True)
    # Each run in its own process: one torch thread each, and a crash or a leak stays in its run.
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(one_run, m, s, args, out): (m, s) for m, s in todo}
        for f in as_completed(futures):
            m, s = futures[f]
            try:
                row = f.result()
            except Exception as e:  # keep the other runs; the row is missing from the table and says why here
                print(f"== {m} seed {s} FAILED: {type(e).__name__}: {e}", flush=True)
                continue
            print(json.dumps(row), flush=True)
            rows.append(row)
            results.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    md = table(rows, args)
    print(md)
    if any(r.get("loss_curves") for r in rows):
        loss_figure(rows, out / "losses.png")
    if not args.no_write:
        from _report import BENCH_MD, write_section

        if any(r.get("loss_curves") for r in rows):
            loss_figure(rows, BENCH_MD.parent / "figures" / "teaching_table_losses.png")
        write_section("teaching_table", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
