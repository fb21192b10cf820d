"""Vectorised losses (stclr.losses) vs the loop references of tests/test_losses.py, at the paper's sizes.

Each case times value + gradient (forward and backward), median of several runs, both implementations side
by side on the same inputs (float32), and checks they agree. Writes the "losses" section of docs/benchmarks.md.

    .venv/bin/python bench/losses.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from _report import machine_line, write_section  # noqa: E402
from test_losses import (  # noqa: E402  (the references the tests trust)
    ref_all_pairs_sum,
    ref_global_local,
    ref_instance_contrastive,
    ref_sparse_local_local,
)

from stclr import losses as L  # noqa: E402


def median_time(fn, inputs, reps, warmup=0):
    times = []
    for k in range(warmup + reps):
        xs = [x.detach().requires_grad_() for x in inputs]
        t = time.perf_counter()
        v = fn(*xs)
        v.backward()
        if k >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times), v.item()


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all-pairs", action="store_true", help="also time TCLR's all-pairs IC reference (~2 min)")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1: stable on shared cores)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    r = lambda *s: torch.randn(*s)  # noqa: E731
    cases = [  # name, sizes, vectorised, reference, inputs, reference reps
        ("L_IC (Eq. 2)", "B=38, d=128", lambda g, h: L.instance_contrastive(g, h, 0.3),
         lambda g, h: ref_instance_contrastive(g, h, 0.3), [r(38, 128), r(38, 128)], 3),
        ("L_SLL (Eq. 3)", "B=38, N=5, d=128", lambda a, b: L.sparse_local_local(a, b, 0.3),
         lambda a, b: ref_sparse_local_local(a, b, 0.3), [r(38, 5, 128), r(38, 5, 128)], 3),
        ("TCLR IC (Eq. 2)", "B=40, d=128", lambda g, h: L.instance_contrastive(g, h, 0.1),
         lambda g, h: ref_instance_contrastive(g, h, 0.1), [r(40, 128), r(40, 128)], 3),
        ("TCLR local-local", "B=40, N=4, d=128", lambda a, b: L.sparse_local_local(a, b, 0.1, symmetric=True),
         lambda a, b: ref_sparse_local_local(a, b, 0.1, symmetric=True), [r(40, 4, 128), r(40, 4, 128)], 3),
        ("TCLR global-local", "B=40, T=4, d=128", lambda a, b: L.tclr_global_local(a, b, 0.1),
         lambda a, b: ref_global_local(a, b, 0.1), [r(40, 4, 128), r(40, 4, 128)], 3),
        ("TCLR all-pairs IC", "B=40, M=8, d=128", lambda z: L.instance_contrastive_all_pairs(z, 0.1, reduction="sum"),
         lambda z: ref_all_pairs_sum(z, 0.1), [r(40, 8, 128)], 1),
    ]
    if not args.all_pairs:
        cases = cases[:-1]
    rows = []
    for name, sizes, fast, ref, inputs, ref_reps in cases:
        t_fast, v_fast = median_time(fast, inputs, 30, warmup=3)
        t_ref, v_ref = median_time(ref, inputs, ref_reps)
        rows.append(f"| {name} | {sizes} | {t_fast * 1e3:.2f} | {t_ref * 1e3:.0f} | {t_ref / t_fast:,.0f}x | "
                    f"{abs(v_fast - v_ref):.1e} |")
        print(rows[-1], flush=True)
    body = "\n".join([
        "## Losses: vectorised vs loop reference",
        "",
        "`python bench/losses.py`. Value + gradient (forward + backward) on float32 inputs at the paper's batch",
        "sizes; median of 30 runs after 3 warm-ups (vectorised) and of 3 runs (reference; 1 for all-pairs, which",
        "runs only with `--all-pairs`). The references are the Python loops over Eq. 2 / Eq. 3 / TCLR's code in",
        "`tests/test_losses.py`.",
        "",
        f"Machine: {machine_line()} · intra-op threads: {torch.get_num_threads()}",
        "",
        "| loss | sizes | vectorised (ms) | loop reference (ms) | speed-up | abs. difference |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
    ])
    write_section("losses", body)
    print(f"\nwrote the 'losses' section of {ROOT / 'docs' / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
