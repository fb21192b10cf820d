"""Notebook 06's and 07's lessons at several pretraining budgets and on more seeds, through the engine.

For each step budget (``--steps``) and seed: pretrain STCLR with the course preset for that many optimiser steps
(notebook 06's defaults: 20 epochs at most, cosine schedule over the run), retrieve test videos against train
videos with it and with the seed's random-init backbone (06's target: STCLR R@1 >= random init + 15), and with
``--finetune`` fine-tune both for 25 epochs with 4 test clips (notebook 07's defaults; target: >= random + 5).
``--methods`` adds 08's comparison (e.g. ``simplified_tclr ssl``: pretrain + retrieval at each budget).

The notebooks are not executed (no papermill), so this also runs on a lent GPU machine, where a run's model works
on the GPU in fp32 and its augmentation on one CPU core. Budgets are optimiser steps: a random-init retrieval is
the same to the last query on any machine, a trained run differs only through floating-point order. Writes
``<out>/rows.jsonl`` (one line per finished job: rerunning with the same ``--out`` skips those) and the section
``lesson_steps`` of ``docs/benchmarks.md``.

    python bench/lesson_steps.py --steps 240 160 --seeds 0 1 2 3 4 --finetune    # ~1.5 h on 2 cores (estimate)
    python bench/lesson_steps.py --report bench/_work/lesson_steps/rows.jsonl --machine "..."  # table only
    python bench/lesson_steps.py --steps 240 --set ssl_input=diff c1=0 --out bench/_work/ssl_diff --section ssl_diff
                                   # a variant of the course preset (pretraining overrides), in its own section

``--set`` overrides pretraining settings of every pretrained run (``key=value``, the value read as YAML: ``c1=0``,
``ssl_speeds=[1,3,9]``); give a variant its own ``--out`` (finished rows are keyed by method, budget and seed only)
and ``--section``. The table then shows the mean L_SSL of each run's last 20 steps (log 4 = 1.386 is a uniform guess).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_06, TARGET_07 = 15.0, 5.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[240, 160])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--finetune", action="store_true", help="also notebook 07's fine-tuning (25 epochs, twice)")
    p.add_argument("--finetune-epochs", type=int, default=25)
    p.add_argument("--methods", nargs="*", default=[], help="more methods to pretrain + retrieve (notebook 08)")
    p.add_argument("--device", default="auto")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time, each in its own process")
    p.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "_work" / "lesson_steps")
    p.add_argument("--report", type=Path, default=None, help="only write the table of this rows.jsonl")
    p.add_argument("--machine", default="", help="with --report: where the rows were measured")
    p.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="pretraining overrides of the course preset (value read as YAML)")
    p.add_argument("--section", default="lesson_steps", help="section of docs/benchmarks.md to write")
    args = p.parse_args(argv)
    args.overrides = parse_overrides(args.overrides)
    return args


def parse_overrides(items: list[str]) -> dict:
    """``["c1=0", "ssl_speeds=[1,3,9]"]`` -> ``{"c1": 0, "ssl_speeds": [1, 3, 9]}`` (values read as YAML)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def sll_exit(rows: list[dict], n_local: int = 5, frac: float = 0.9) -> int | None:
    """First optimiser step at which L_SLL's mean over the last 5 steps is below ``frac`` x its uniform guess."""
    sll = [r.get("loss_sll") for r in rows]
    chance = n_local * math.log(2 * n_local - 1)
    for i in range(4, len(sll)):
        w = sll[i - 4:i + 1]
        if None not in w and sum(w) / 5 < frac * chance:
            return i + 1
    return None


def jobs(args) -> list[tuple]:
    """(kind, method, steps, seed): ``pretrain`` runs pretraining + retrieval (+ fine-tuning when ``--finetune``
    and method is stclr); ``random`` the random-init retrieval (+ fine-tuning)."""
    out = [("random", "random", 0, s) for s in args.seeds]
    out += [("pretrain", "stclr", n, s) for n in args.steps for s in args.seeds]
    out += [("pretrain", m, n, s) for m in args.methods for n in args.steps for s in args.seeds]
    return out


def one_job(kind: str, method: str, steps: int, seed: int, args) -> dict:
    import torch

    torch.set_num_threads(1)  # one core per run: --jobs runs side by side
    from _report import machine_line
    from stclr.config import preset
    from stclr.finetune import run_finetune
    from stclr.retrieval import query_hits, run_retrieval
    from stclr.runinfo import read_jsonl
    from stclr.train import run_pretrain

    work = args.out / "runs" / f"{method}-{steps}-s{seed}"
    data = {"data.root": str(args.data), "data.num_workers": 0, "data.cache_mb": 1024.0}
    common = dict(seed=seed, device=args.device, show_progress=False, out_dir=str(work), amp=False, cpu_threads=1)
    row = dict(kind=kind, method=method, steps=steps, seed=seed, machine=machine_line())
    if args.overrides and kind == "pretrain":
        row["overrides"] = args.overrides
    t0 = time.time()
    ckpt = None
    if kind == "pretrain":
        pre = run_pretrain(preset("course", "pretrain", method=method, epochs=20, max_steps=steps, **common, **data,
                                  **args.overrides))
        logged = read_jsonl(pre / "steps.jsonl")
        row["sll_exit"] = sll_exit(logged)
        if "loss_ssl" in logged[-1]:
            row["ssl_last20"] = statistics.mean(r["loss_ssl"] for r in logged[-20:])
        ckpt = str(pre)
    r = run_retrieval(preset("course", "retrieval", checkpoint=ckpt, random_init=ckpt is None, **common, **data))
    m = json.loads((r / "metrics.json").read_text())
    row["R@1"], row["hits"] = m["R@1"], query_hits(m)
    if args.finetune and method in ("stclr", "random"):
        f = run_finetune(preset("course", "finetune", checkpoint=ckpt, epochs=args.finetune_epochs, test_clips=4,
                                **common, **data))
        row["finetune_video_acc"] = json.loads((f / "metrics.json").read_text())["video_accuracy"]
    row["minutes"] = round((time.time() - t0) / 60, 2)
    return row


def table(rows: list[dict], machine: str = "", finetune_epochs: int = 25, title: str = "") -> str:
    """The per-seed table of each budget, with 06's and 07's targets checked per seed."""
    from stclr.benchdata import paired_differences
    from stclr.retrieval import bootstrap_gain_sd, paired_hits

    def key(r):
        return r["kind"], r["method"], r["steps"], r["seed"]

    by = {key(r): r for r in rows}
    rand = {s: r for (k, _, _, s), r in by.items() if k == "random"}
    steps_all = sorted({r["steps"] for r in rows if r["kind"] == "pretrain"}, reverse=True)
    others = sorted({r["method"] for r in rows if r["kind"] == "pretrain" and r["method"] != "stclr"})
    machine = machine or next((r["machine"] for r in rows if r.get("machine")), "")
    overrides = next((r["overrides"] for r in rows if r.get("overrides")), None)
    setting = ("notebook 06's defaults except the budget and " + ", ".join(f"`{k}={v}`" for k, v in overrides.items())
               if overrides else "notebook 06's defaults except the budget")
    lines = [title or "## Notebook 06's and 07's lessons by pretraining budget and seed (`bench/lesson_steps.py`)", "",
             (f"{machine}. " if machine else "") + f"STCLR, course preset, {setting}; random init is the seed's "
             f"own backbone before training. 06: R@1 gain ≥ +{TARGET_06:g} (± its bootstrap sd over the test "
             f"queries); 07: fine-tuning ({finetune_epochs} epochs, 4 test clips, video level) ≥ random init + {TARGET_07:g}.", ""]
    has_ssl = any(r.get("ssl_last20") is not None for r in rows)
    has_ft = any("finetune_video_acc" in r for r in rows)
    head = "| steps | seed | R@1 random | R@1 STCLR | 06 gain ± sd | 06 met | L_SLL exit step |"
    if has_ssl:
        head += " L_SSL last 20 |"
    if has_ft:
        head += " 07 random % | 07 STCLR % | 07 gain | 07 met |"
    if others:
        head += " R@1 " + " / ".join(others) + " |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    summary = []
    for n in steps_all:
        met06 = met07 = n06 = n07 = 0
        for s in sorted(s for (k, m, st, s) in by if k == "pretrain" and m == "stclr" and st == n):
            r, a = by[("pretrain", "stclr", n, s)], rand.get(s)
            if a is None:
                continue
            gain = r["R@1"] - a["R@1"]
            # rows merged from docs/data (compact, without per-query hits) have no bootstrap sd
            sd = bootstrap_gain_sd(*paired_hits(a["hits"], r["hits"])) if "hits" in a and "hits" in r else None
            ok = gain >= TARGET_06
            met06, n06 = met06 + ok, n06 + 1
            cells = [str(n), str(s), f"{a['R@1']:.1f}", f"{r['R@1']:.1f}", f"{gain:+.1f} ± {sd:.1f}" if sd is not None else f"{gain:+.1f}",
                     "yes" if ok else "**no**", str(r.get("sll_exit") or "–")]
            if has_ssl:
                cells.append(f"{r['ssl_last20']:.3f}" if r.get("ssl_last20") is not None else "–")
            if has_ft:
                fa, fr = a.get("finetune_video_acc"), r.get("finetune_video_acc")
                if fa is None or fr is None:
                    cells += ["–"] * 4
                else:
                    ok7 = fr - fa >= TARGET_07
                    met07, n07 = met07 + ok7, n07 + 1
                    cells += [f"{fa:.1f}", f"{fr:.1f}", f"{fr - fa:+.1f}", "yes" if ok7 else "**no**"]
            if others:
                cells.append(" / ".join(f"{by[('pretrain', m, n, s)]['R@1']:.1f}" if ("pretrain", m, n, s) in by
                                        else "–" for m in others))
            lines.append("| " + " | ".join(cells) + " |")
        if n06:
            r1 = [by[k]["R@1"] for k in by if k[:3] == ("pretrain", "stclr", n)]
            summary.append(f"{n} steps: 06 met on {met06} of {n06} seeds"
                           + (f", 07 on {met07} of {n07}" if n07 else "")
                           + f" (STCLR R@1 {min(r1):.1f}–{max(r1):.1f})")
    r_rand = [r["R@1"] for r in rand.values()]
    if has_ssl:
        for n in steps_all:
            ssl = [r["ssl_last20"] for k, r in by.items() if k[:3] == ("pretrain", "stclr", n) and r.get("ssl_last20") is not None]
            if ssl:
                below = sum(v < 0.9 * math.log(4) for v in ssl)
                summary.append(f"{n} steps: L_SSL's mean over the last 20 steps below 0.9 × log 4 = "
                               f"{0.9 * math.log(4):.3f} on {below} of {len(ssl)} seeds ({min(ssl):.3f}–{max(ssl):.3f})")
    lines += ["", "; ".join(summary) + "."]
    if r_rand:
        lines[-1] += f" Random init's R@1 ranged {min(r_rand):.1f}–{max(r_rand):.1f} over {len(r_rand)} seeds."
    for n in steps_all:
        try:
            p = paired_differences(rows, n, "stclr", "simplified_tclr")
        except ValueError:  # no seed with both methods at this budget
            continue
        sd = f" ± {p['sd']:.1f}" if p["sd"] is not None else ""
        lines += ["", f"STCLR − Simplified TCLR, R@1 at {n} steps, paired by seed: "
                  + ", ".join(f"seed {s} {d:+.1f}" for s, d in p["diff"].items())
                  + f"; mean {p['mean']:+.1f}{sd} (STCLR ahead on {p['a_ahead']} of {len(p['diff'])})."]
    return "\n".join(lines)


def compact_rows(rows: list[dict]) -> list[dict]:
    """The rows without per-query hits (kept in ``rows.jsonl``), sorted: what ``docs/data/<section>.json`` holds
    for notebooks and prose to quote from."""
    keep = [{k: v for k, v in r.items() if k != "hits"} for r in rows]
    return sorted(keep, key=lambda r: (r["kind"], r["method"], -r["steps"], r["seed"]))


def read_rows(path: Path) -> list[dict]:
    from stclr.fileio import read_jsonl

    return read_jsonl(path)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        rows = read_rows(args.report)
    else:
        from stclr.data.synthetic import make_synthetic_dataset

        if not (args.data / "splits").is_dir():
            make_synthetic_dataset(args.data)
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "rows.jsonl"
        rows = read_rows(path)
        done = {(r["kind"], r["method"], r["steps"], r["seed"]) for r in rows}
        todo = [j for j in jobs(args) if j not in done]
        print(f"{len(todo)} runs to do ({len(done)} already in {path}), {args.jobs} at a time", flush=True)
        def keep(job, run):
            try:
                row = run()
            except Exception as e:  # the other runs go on; the row stays missing and says why here
                print(f"== {job} FAILED: {type(e).__name__}: {e}", flush=True)
                return
            rows.append(row)
            with path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print({k: v for k, v in row.items() if k not in ("hits", "machine")}, flush=True)

        if args.jobs == 1:  # in this process, one after another
            for j in todo:
                keep(j, lambda j=j: one_job(*j, args))
        else:  # each run in its own process: one torch thread each, and a crash stays in its run
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(one_job, *j, args): j for j in todo}
                for f in as_completed(futures):
                    keep(futures[f], f.result)
    title = "" if args.section == "lesson_steps" else f"## Course preset variant `{args.section}` (`bench/lesson_steps.py --set`)"
    md = table(rows, args.machine, args.finetune_epochs, title)
    md += ("\n\nWritten by `python bench/lesson_steps.py "
           + (f"--report {args.report}`" if args.report else " ".join(sys.argv[1:] if argv is None else argv) + "`")
           + ".")
    print(md)
    if not args.no_write:
        import _report

        _report.write_section(args.section, md)
        _report.write_data(args.section, compact_rows(rows))
        if args.section == "lesson_steps":  # the README's table of lessons is written from the same rows
            from stclr.benchdata import write_readme_block

            write_readme_block(REPO / "README.md", compact_rows(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
