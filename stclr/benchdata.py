"""The recorded benchmark rows behind ``docs/benchmarks.md``, for notebooks and prose to quote from.

A benchmark script writes its section of ``docs/benchmarks.md`` and the rows behind it to
``docs/data/<section>.json`` (``bench/_report.py``). A notebook that states what the course shows over many seeds
reads those rows with :func:`load_rows` and prints :func:`lesson_summary`, so the numbers it shows are the
recorded ones, never a copy typed into the text.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["COURSE_STEPS", "DATA_DIR", "lesson_summary", "load_rows", "paired_differences"]

DATA_DIR = Path(__file__).resolve().parents[1] / "docs" / "data"
# Notebook 06's default budget (optimiser steps; 07 and 08 pretrain as long): the lessons quoted in prose and the
# README are read at this budget. tests/test_quotes.py checks the notebooks' parameters say the same.
COURSE_STEPS = 320
TARGET_06 = 15.0  # notebook 06's lesson: STCLR R@1 >= random init + 15 points
SSL_BAR = 0.9 * math.log(4)  # L_SSL has left its uniform guess (log 4) when its last-20-step mean is below this


def load_rows(section: str, data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The rows of ``docs/data/<section>.json``; a clear error when the section was never recorded."""
    path = Path(data_dir or DATA_DIR) / f"{section}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no recorded rows for {section!r}: {path} is missing (run the benchmark that "
                                f"writes the section {section!r} of docs/benchmarks.md)")
    return json.loads(path.read_text())


def _span(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    return fmt.format(min(values)) + "–" + fmt.format(max(values))


def lesson_summary(rows: Sequence[Mapping[str, Any]], steps: int, seeds: Sequence[int] | None = None) -> dict[str, Any]:
    """What ``bench/lesson_steps.py``'s rows say about notebook 06's lessons at ``steps`` (optionally on ``seeds``).

    Returns ``seeds``, per-seed ``random`` and ``stclr`` R@1 and ``gain``, ``met`` (seeds with gain >= +15),
    ``ssl_last20`` and ``ssl_met`` (seeds whose L_SSL left log 4), ``sll_exit`` (seed -> the step at which L_SLL
    left its plateau, ``bench/lesson_steps.py``'s ``sll_exit``; None: it never did) and ``sll_met`` (seeds where it
    did), and ``text``: one line per fact, for printing.
    """
    rand = {r["seed"]: r["R@1"] for r in rows if r["kind"] == "random"}
    runs = {r["seed"]: r for r in rows if r["kind"] == "pretrain" and r["method"] == "stclr" and r["steps"] == steps}
    use = sorted(s for s in runs if s in rand and (seeds is None or s in seeds))
    if not use:
        raise ValueError(f"no STCLR run of {steps} steps with a random-init baseline in these rows")
    gain = {s: runs[s]["R@1"] - rand[s] for s in use}
    ssl = {s: runs[s]["ssl_last20"] for s in use if runs[s].get("ssl_last20") is not None}
    out = {
        "seeds": use, "random": {s: rand[s] for s in use}, "stclr": {s: runs[s]["R@1"] for s in use}, "gain": gain,
        "met": [s for s in use if gain[s] >= TARGET_06], "ssl_last20": ssl,
        "ssl_met": [s for s in ssl if ssl[s] < SSL_BAR],
        "sll_exit": {s: runs[s].get("sll_exit") for s in use if "sll_exit" in runs[s]},
    }
    out["sll_met"] = [s for s, step in out["sll_exit"].items() if step is not None]
    lines = [f"seeds {use[0]}-{use[-1]} ({len(use)}), {steps} steps:",
             f"  R@1 random init {_span(list(out['random'].values()))}, STCLR {_span(list(out['stclr'].values()))}; "
             f"gain {_span(list(gain.values()), '{:+.1f}')} (mean {statistics.mean(gain.values()):+.1f})",
             f"  gain >= +{TARGET_06:g} on {len(out['met'])} of {len(use)} seeds"
             + (f" (missed: {', '.join(f'seed {s} {gain[s]:+.1f}' for s in use if s not in out['met'])})"
                if len(out["met"]) < len(use) else "")]
    if ssl:
        lines.append(f"  L_SSL, mean of the last 20 steps: {_span(list(ssl.values()), '{:.3f}')} "
                     f"(log 4 = {math.log(4):.3f}); below {SSL_BAR:.3f} on {len(out['ssl_met'])} of {len(ssl)} seeds")
    out["text"] = "\n".join(lines)
    return out


def paired_differences(rows: Sequence[Mapping[str, Any]], steps: int, a: str = "stclr",
                       b: str = "simplified_tclr") -> dict[str, Any]:
    """R@1 of method ``a`` minus method ``b``, paired by seed (same seed: same data order and initial weights).

    Returns ``pairs`` (seed -> (a, b)), ``diff`` (seed -> a - b), ``mean``, ``sd`` (over seeds; None for one
    seed), ``a_ahead`` (how many seeds ``a`` leads) and ``text``."""
    r1 = {(r["method"], r["seed"]): r["R@1"] for r in rows if r["kind"] == "pretrain" and r["steps"] == steps}
    seeds = sorted(s for m, s in r1 if m == a and (b, s) in r1)
    if not seeds:
        raise ValueError(f"no seed with both {a} and {b} at {steps} steps in these rows")
    diff = {s: r1[(a, s)] - r1[(b, s)] for s in seeds}
    sd = statistics.stdev(diff.values()) if len(seeds) > 1 else None
    mean = statistics.mean(diff.values())
    ahead = sum(d > 0 for d in diff.values())
    text = (f"{a} - {b}, R@1 at {steps} steps, paired by seed: "
            + ", ".join(f"seed {s} {diff[s]:+.1f}" for s in seeds)
            + f"\n  mean {mean:+.1f}" + (f" ± {sd:.1f} (sd over {len(seeds)} seeds)" if sd is not None else "")
            + f"; {a} ahead on {ahead} of {len(seeds)}")
    return {"pairs": {s: (r1[(a, s)], r1[(b, s)]) for s in seeds}, "diff": diff, "mean": mean, "sd": sd,
            "a_ahead": ahead, "text": text}


README_BEGIN, README_END = "<!-- BEGIN lessons (generated from docs/data/lesson_steps.json) -->", "<!-- END lessons -->"


def readme_lessons(rows: Sequence[Mapping[str, Any]], steps: int = COURSE_STEPS) -> str:
    """The README's table of what notebooks 06-08 show over seeds, written from ``bench/lesson_steps.py``'s rows
    (``docs/data/lesson_steps.json``), so the README cannot quote a number its data do not hold."""
    every = lesson_summary(rows, steps)
    first = lesson_summary(rows, steps, seeds=range(5))
    n, n5 = len(every["seeds"]), len(first["seeds"])
    ssl = every["ssl_last20"]
    lines = ["| lesson (notebook, default parameters) | target | seeds 0–4 | all recorded seeds |", "|---|---|---|---|"]
    lines.append(f"| 06: the speed pretext learns inside STCLR (L_SSL, mean of the last 20 of {steps} steps) | "
                 f"< 0.9 × log 4 = {SSL_BAR:.3f} | {len(first['ssl_met'])} of {n5} | {len(every['ssl_met'])} of {n} "
                 f"({_span(list(ssl.values()), '{:.3f}')}) |")
    if every["sll_exit"]:
        exits = [e for e in every["sll_exit"].values() if e is not None]
        lines.append(f"| 06: L_SLL leaves its plateau (5-step mean < 0.9 × its uniform guess) | within the run | "
                     f"{len(first['sll_met'])} of {len(first['sll_exit'])} | {len(every['sll_met'])} of "
                     f"{len(every['sll_exit'])}" + (f" (at steps {min(exits)}–{max(exits)})" if exits else "") + " |")
    lines.append(f"| 06: STCLR beats random init (retrieval R@1) | ≥ +{TARGET_06:g} points | {len(first['met'])} of {n5} "
                 f"| {len(every['met'])} of {n} (gains {_span(list(every['gain'].values()), '{:+.1f}')}; R@1 random init "
                 f"{_span(list(every['random'].values()))}, STCLR {_span(list(every['stclr'].values()))}) |")
    ft = {r["seed"]: r.get("finetune_video_acc") for r in rows if r["kind"] == "random"}
    ft_s = {r["seed"]: r.get("finetune_video_acc") for r in rows
            if r["kind"] == "pretrain" and r["method"] == "stclr" and r["steps"] == steps}
    gains7 = {s: ft_s[s] - ft[s] for s in ft_s if ft_s.get(s) is not None and ft.get(s) is not None}
    if gains7:
        met7 = sum(g >= 5 for g in gains7.values())
        lines.append(f"| 07: fine-tuning from 06's checkpoint beats random init (video accuracy) | ≥ +5 points | "
                     f"{met7} of {len(gains7)} (gains {_span(list(gains7.values()), '{:+.1f}')}) | – |")
    try:
        p = paired_differences(rows, steps)
        sd = f" ± {p['sd']:.1f}" if p["sd"] is not None else ""
        lines.append(f"| 08: STCLR − Simplified TCLR (R@1, paired by seed) | (the paper: +2.2 on UCF-101) | "
                     f"{p['mean']:+.1f}{sd}, STCLR ahead on {p['a_ahead']} of {len(p['diff'])} | – |")
    except ValueError:
        pass
    return "\n".join(lines)


def readme_block(rows: Sequence[Mapping[str, Any]], steps: int = COURSE_STEPS) -> str:
    return f"{README_BEGIN}\n{readme_lessons(rows, steps)}\n{README_END}"


def write_readme_block(readme: str | Path, rows: Sequence[Mapping[str, Any]], steps: int = COURSE_STEPS) -> None:
    """Replace the generated block of ``readme`` (between :data:`README_BEGIN` and :data:`README_END`)."""
    path = Path(readme)
    text = path.read_text()
    i, j = text.find(README_BEGIN), text.find(README_END)
    if i < 0 or j < i:
        raise ValueError(f"{path} has no generated lessons block ({README_BEGIN} ... {README_END})")
    path.write_text(text[:i] + readme_block(rows, steps) + text[j + len(README_END):])
