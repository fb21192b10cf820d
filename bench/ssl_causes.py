"""Why the speed pretext (L_SSL, Eq. 1's third term) stayed at log 4 inside the course's STCLR: one cause at a time.

Each variant is notebook 06's STCLR run (240 optimiser steps, the course preset) with the pretext's settings of the
course preset *before* issue 21 (``BASE``: raw frames, Sec. 4.2.1's augmentation of the tuple clips, speeds 1/2/4,
the paper's plain head with dropout 0.5) changed as the variant says, measured through ``bench/lesson_steps.py``'s job (pretraining,
then retrieval against the seed's random init). Reported per run: the mean of L_SSL over the last 20 steps
(log 4 = 1.386 is a uniform guess; the course's bar is 0.9 x log 4 = 1.248) and R@1. Writes ``<out>/rows.jsonl``
(finished runs are skipped on a rerun) and the section ``ssl_causes`` of ``docs/benchmarks.md`` (with its rows in
``docs/data/ssl_causes.json``).

    python bench/ssl_causes.py --seeds 0 1            # ~40 min on 2 cores (2 runs at a time)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The pretext's settings in the course preset before issue 21: every variant starts from these.
BASE = {"ssl_speeds": [1, 2, 4], "ssl_head_norm": False, "ssl_input": "frames", "ssl_augment": "ssl",
        "ssl_head_dropout": 0.5}
# What the course preset now sets (stclr.config, issue 21).
COURSE = {"ssl_input": "diff", "ssl_head_norm": True, "ssl_augment": "light", "ssl_speeds": [1, 3, 9], "ssl_head_dropout": 0.0}
# name -> (what it changes, overrides on top of BASE). One cause at a time first, then the combinations.
VARIANTS: dict[str, tuple[str, dict]] = {
    "base": ("the course preset before issue 21", {}),
    "aug_none": ("no augmentation of the tuple clips", {"ssl_augment": "none"}),
    "c1_0": ("C1 = 0: every tuple from one video", {"c1": 0}),
    "weight_4": ("L_SSL weighted 4x in Eq. 1", {"weights": {"ssl": 4}}),
    "speeds_139": ("speeds 1/3/9 (3x apart)", {"ssl_speeds": [1, 3, 9]}),
    "diff": ("frame differences as the tuple clips' input", {"ssl_input": "diff"}),
    "norm": ("the head standardises its input features", {"ssl_head_norm": True}),
    "norm_light": ("norm + light augmentation", {"ssl_head_norm": True, "ssl_augment": "light"}),
    "norm_none": ("norm + no augmentation", {"ssl_head_norm": True, "ssl_augment": "none"}),
    "diff_norm_light": ("diff + norm + light", {"ssl_input": "diff", "ssl_head_norm": True, "ssl_augment": "light"}),
    "diff_norm_none_139": ("diff + norm + none + speeds 1/3/9", {"ssl_input": "diff", "ssl_head_norm": True,
                                                                 "ssl_augment": "none", "ssl_speeds": [1, 3, 9]}),
    "diff_norm_light_139": ("diff + norm + light + speeds 1/3/9", {"ssl_input": "diff", "ssl_head_norm": True,
                                                                   "ssl_augment": "light", "ssl_speeds": [1, 3, 9]}),
    # The course preset now, and each of its five changes left out in turn.
    "course": ("all five: diff + norm + light + speeds 1/3/9 + no head dropout (the course preset)", COURSE),
    "course_but_frames": ("the course preset with raw frames", {**COURSE, "ssl_input": "frames"}),
    "course_but_plain_head": ("the course preset with the paper's plain head", {**COURSE, "ssl_head_norm": False}),
    "course_but_ssl_aug": ("the course preset with Sec. 4.2.1's augmentation", {**COURSE, "ssl_augment": "ssl"}),
    "course_but_124": ("the course preset with speeds 1/2/4", {**COURSE, "ssl_speeds": [1, 2, 4]}),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "_work" / "ssl_causes")
    p.add_argument("--report", type=Path, default=None, help="only write the table of this rows.jsonl")
    p.add_argument("--no-write", action="store_true")
    return p.parse_args(argv)


RANDOM = "random init"


def run_variant(name: str, seed: int, args) -> dict:
    """One STCLR run of ``name`` (pretraining + retrieval), or with ``RANDOM`` the seed's random-init retrieval."""
    import lesson_steps as ls

    job = argparse.Namespace(out=args.out / name.replace(" ", "_"), data=args.data, device=args.device, finetune=False,
                             overrides={} if name == RANDOM else {**BASE, **VARIANTS[name][1]})
    row = ls.one_job("random", "random", 0, seed, job) if name == RANDOM else ls.one_job("pretrain", "stclr", 240, seed, job)
    return {**row, "variant": name}


def table(rows: list[dict], randoms: dict[int, float]) -> str:
    bar = 0.9 * math.log(4)
    lines = ["## Why L_SSL stayed at log 4 inside STCLR: the causes one at a time (`bench/ssl_causes.py`)", "",
             (rows[0].get("machine", "") + ". " if rows else "") + "Notebook 06's STCLR run (course preset, 240 "
             "optimiser steps) with the pretext's settings of the course preset before issue 21 (raw frames, Sec. "
             "4.2.1's augmentation of the tuple clips, speeds 1/2/4, the paper's plain head with dropout 0.5, C1 0.6, "
             "C2 0.75) "
             f"changed as named. L_SSL: mean of the last 20 steps (log 4 = {math.log(4):.3f}; left its uniform guess "
             f"below {bar:.3f}). R@1: test videos query train videos; random init in brackets.", "",
             "| variant | what changes | seed | L_SSL last 20 | left log 4 | R@1 (random init) |", "|---|---|---|---|---|---|"]
    order = {n: i for i, n in enumerate(VARIANTS)}
    for r in sorted((r for r in rows if r["variant"] != RANDOM), key=lambda r: (order.get(r["variant"], 99), r["seed"])):
        ssl = r.get("ssl_last20")
        lines.append(f"| `{r['variant']}` | {VARIANTS[r['variant']][0]} | {r['seed']} | {ssl:.3f} | "
                     f"{'yes' if ssl < bar else 'no'} | {r['R@1']:.1f} ({randoms.get(r['seed'], float('nan')):.1f})"
                     f"{' *' if r.get('note') else ''} |")
    notes = sorted({r["note"] for r in rows if r.get("note")})
    lines += [""] + [f"\\* {n}." for n in notes] if notes else []
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    import lesson_steps as ls

    path = args.report or args.out / "rows.jsonl"
    rows = ls.read_rows(path)
    if args.report is None:
        args.out.mkdir(parents=True, exist_ok=True)
        done = {(r["variant"], r["seed"]) for r in rows}
        todo = [(v, s) for v in [RANDOM, *args.variants] for s in args.seeds if (v, s) not in done]
        print(f"{len(todo)} runs to do, {args.jobs} at a time", flush=True)
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(run_variant, v, s, args): (v, s) for v, s in todo}
            for f in as_completed(futures):
                row = f.result()
                rows.append(row)
                with path.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print({k: v for k, v in row.items() if k not in ("hits", "machine")}, flush=True)
    randoms = {r["seed"]: r["R@1"] for r in rows if r["variant"] == RANDOM}
    md = table(rows, randoms) + "\n\nWritten by `python bench/ssl_causes.py " + " ".join(sys.argv[1:] if argv is None else argv) + "`."
    print(md)
    if not args.no_write:
        import _report

        _report.write_section("ssl_causes", md)
        _report.write_data("ssl_causes", ls.compact_rows(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
