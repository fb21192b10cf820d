"""Every CPU benchmark, one after the other, each writing its section of docs/benchmarks.md (``make bench``).

    python bench/run_all.py            # decode, loader, losses, train_step, epoch (about 12 minutes on 2 cores)
    python bench/run_all.py --quick    # fewer repeats, for a smoke run
    python bench/run_all.py --teaching-table   # also the teaching table (about 2.5 hours on 2 cores)

The GPU benchmarks are one script for a GPU machine: ``bash bench/gpu.sh``; ``bash bench/gpu_teaching_table.sh``
runs the teaching table there in about 4 minutes. A benchmark that fails is reported
and the others still run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to the benchmarks that have it")
    ap.add_argument("--teaching-table", action="store_true", help="also run bench/teaching_table.py")
    args = ap.parse_args(argv)
    runs = [["decode.py"], ["loader.py"], ["losses.py"], ["train_step.py", "--mode", "cpu"], ["epoch.py", "--mode", "cpu"]]
    if args.quick:
        runs = [r + ["--quick"] if r[0] in ("decode.py", "loader.py") else r for r in runs]
    if args.teaching_table:
        runs.append(["teaching_table.py"])
    failed = []
    for r in runs:
        t0 = time.time()
        print(f"== {' '.join(r)}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / r[0]), *r[1:]])
        print(f"== {r[0]}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {time.time() - t0:.0f} s", flush=True)
        if rc:
            failed.append(r[0])
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
