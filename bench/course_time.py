"""How long does ``make course`` take end to end? Runs ``stclr course`` (what ``make course`` runs after setup)
into a fresh folder, then writes the section ``course_time`` of ``docs/benchmarks.md``: each notebook's seconds,
the dataset steps, the total, whether every lesson of the run's seed was met, and the machine's load average
before and after (the numbers are only comparable on a quiet machine; budgets are optimiser steps, so a busy
machine changes the minutes, not the results).

    python bench/course_time.py                       # ~9 min on 2 quiet cores; the course goes to bench/_work/course_time
    python bench/course_time.py --summary runs/course/summary.json   # write the section from a course already run

The synthetic dataset is generated first when ``--data`` has none (its time is reported apart, as the
dataset step of the summary).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "_work" / "course_time",
                   help="course folder (emptied first)")
    p.add_argument("--summary", type=Path, help="write the section from this summary.json instead of running")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--out-md", type=Path, help="markdown file to write the section into (default docs/benchmarks.md)")
    return p.parse_args(argv)


def run_course(data: Path, out: Path) -> tuple[dict, tuple[float, float]]:
    """Run ``stclr course`` into an emptied ``out``; (its summary.json, load average before / after)."""
    shutil.rmtree(out, ignore_errors=True)
    load0 = os.getloadavg()[0]
    subprocess.run([sys.executable, "-m", "stclr", "course", "--out", str(out), "--data", str(data), "--quiet"],
                   cwd=REPO, check=False)
    load1 = os.getloadavg()[0]
    f = out / "summary.json"
    if not f.is_file():
        raise SystemExit(f"stclr course wrote no {f}: see its output above")
    return json.loads(f.read_text()), (load0, load1)


def section(summary: dict, machine: str, load: tuple[float, float] | None = None) -> str:
    """The markdown of the ``course_time`` section from a course's ``summary.json``."""
    from stclr.course import lesson_checks

    nbs = summary["notebooks"]
    lessons = lesson_checks({nb["notebook"][:2]: nb.get("metrics") or {} for nb in nbs})
    checked = [c for c in lessons if c["ok"] is not None]
    seeds = sorted({str((nb.get("params") or {}).get("seed", 0)) for nb in nbs})
    nb_s = sum(float(nb["seconds"]) for nb in nbs)
    lines = [
        "## `make course` end to end (`bench/course_time.py`)",
        "",
        f"Machine: {machine}.",
        f"`stclr course` (what `make course` runs after `make setup`) into a fresh folder, default parameters "
        f"(seed {', '.join(seeds)}). Total **{summary['seconds'] / 60:.1f} min** ({summary['seconds']:.0f} s): "
        f"notebooks {nb_s:.0f} s, dataset {summary['dataset']['seconds']:.1f} s "
        f"({summary['dataset']['status']}), decode check {summary['check']['seconds']:.1f} s. "
        + (f"Load average (1 min) {load[0]:.2f} before, {load[1]:.2f} after. " if load else "")
        + f"Result: {'OK' if summary['ok'] else 'FAILED'}; lessons met: "
        f"{sum(bool(c['ok']) for c in checked)} of {len(checked)}.",
        "",
        "| notebook | status | seconds | minutes |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {nb['notebook'].removesuffix('.ipynb')} | {nb['status']} | {float(nb['seconds']):.1f} | "
              f"{float(nb['seconds']) / 60:.2f} |" for nb in nbs]
    lines += ["", "| notebook | lesson | this run | met |", "|---|---|---|---|"]
    lines += [f"| {c['notebook']} | {c['lesson']} | {c['value']} | "
              f"{'yes' if c['ok'] else ('no' if c['ok'] is not None else '–')} |" for c in lessons]
    return "\n".join(lines) + "\n"


def rows(summary: dict, machine: str, load: tuple[float, float] | None = None) -> list[dict]:
    """The rows behind the section (``docs/data/course_time.json``, what prose quotes through ``stclr.quotes``):
    one per notebook (seconds, status) and a ``total`` (seconds, dataset seconds, machine, load)."""
    out = [{"kind": "notebook", "notebook": nb["notebook"].removesuffix(".ipynb"), "status": nb["status"],
            "seconds": round(float(nb["seconds"]), 1)} for nb in summary["notebooks"]]
    out.append({"kind": "total", "seconds": round(float(summary["seconds"]), 1),
                "dataset_seconds": round(float(summary["dataset"]["seconds"]), 1),
                "dataset_status": summary["dataset"]["status"], "ok": bool(summary["ok"]), "machine": machine,
                "load": [round(x, 2) for x in load] if load else None})
    return out


def main(argv=None) -> str:
    args = parse_args(argv)
    from _report import machine_line, write_data, write_section

    if args.summary:
        summary, load = json.loads(args.summary.read_text()), None
    else:
        summary, load = run_course(args.data.resolve(), args.out.resolve())
    md = section(summary, machine_line(), load)
    print(md)
    if not args.no_write:
        write_section("course_time", md, args.out_md)
        if args.out_md is None:  # the rows go beside docs/benchmarks.md's section, not beside a scratch file
            write_data("course_time", rows(summary, machine_line(), load))
    return md


if __name__ == "__main__":
    main()
