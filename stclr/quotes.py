"""Numbers the course's prose quotes from a benchmark, each computed from that benchmark's recorded rows.

Issue 22's rule: a number in prose that a run measured is never typed by hand. It is written as a *quote* of a
key of :func:`values`, which computes it from ``docs/data/<section>.json`` (the rows a ``bench/`` script wrote
beside its section of ``docs/benchmarks.md``):

- in a notebook's markdown source (``notebooks/src/NN_*.py``) as ``{{course.06_min}}``: the notebook builder
  fills it in (:func:`fill`), so a committed notebook shows the recorded value, and the test that the committed
  notebooks match their sources fails the day the rows change and the notebooks were not rebuilt;
- in a markdown file (README.md, docs/*.md) as ``<!--q:course.total_min-->7.8<!--/q-->`` (the comments do not
  render): ``python -m stclr.quotes --write`` refreshes the value between the marks (:func:`refresh`), and a test
  fails while a file's value differs from its rows.

Numbers that are not measurements of the kit (the paper's, settings, arithmetic) name their source in
``docs/prose_sources.json``; ``tests/test_quotes.py`` checks both kinds.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from stclr.benchdata import COURSE_STEPS, TARGET_06, lesson_summary, load_rows, paired_differences

__all__ = ["FILL", "MARK", "fill", "refresh", "values"]

FILL = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
MARK = re.compile(r"<!--q:([\w.]+)-->(.*?)<!--/q-->", re.S)
REPO = Path(__file__).resolve().parents[1]
MARKDOWN_FILES = ("README.md", "docs/method.md", "docs/glossary.md", "docs/architecture.md")


def _span(xs, fmt: str = "{:.1f}") -> str:
    return fmt.format(min(xs)) + "–" + fmt.format(max(xs))


def _course_time(rows: list[dict]) -> dict[str, str]:
    """``course.NN_min`` (one notebook), ``course.total_min``, ``course.light_s`` (the six notebooks that train
    nothing: 00-04 and 09), ``course.dataset_s`` (generating the synthetic set) from ``bench/course_time.py``."""
    nbs = {r["notebook"][:2]: float(r["seconds"]) for r in rows if r.get("kind") == "notebook"}
    total = next(r for r in rows if r.get("kind") == "total")
    out = {f"course.{k}_min": f"{s / 60:.1f}" for k, s in nbs.items()}
    out |= {f"course.{k}_s": f"{s:.0f}" for k, s in nbs.items()}
    out["course.total_min"] = f"{float(total['seconds']) / 60:.1f}"
    out["course.light_s"] = f"{sum(nbs.get(k, 0.0) for k in ('00', '01', '02', '03', '04', '09')):.0f}"
    out["course.dataset_s"] = f"{float(total['dataset_seconds']):.0f}"
    out["course.machine"] = str(total.get("machine", ""))
    out["course.training_max_min"] = f"{max(nbs[k] for k in ('05', '06', '07', '08', '10') if k in nbs) / 60:.1f}"
    return out


def _lessons(rows: list[dict], steps: int = COURSE_STEPS) -> dict[str, str]:
    """``lessons.*``: notebook 06's and 08's lessons over the recorded seeds at the course's budget, from the same
    summaries the notebooks print (:func:`stclr.benchdata.lesson_summary`, :func:`~stclr.benchdata.paired_differences`)."""
    les = lesson_summary(rows, steps)
    out = {
        "lessons.steps": str(steps),
        "lessons.seeds": str(len(les["seeds"])),
        "lessons.06_met": str(len(les["met"])),
        "lessons.06_gain_span": _span(les["gain"].values(), "{:+.1f}"),
        "lessons.06_stclr_span": _span(les["stclr"].values()),
        "lessons.ssl_met": str(len(les["ssl_met"])),
    }
    try:
        p = paired_differences(rows, steps, "stclr", "simplified_tclr")
    except ValueError:  # no Simplified TCLR rows at this budget
        return out
    out["lessons.08_pair_mean"] = f"{p['mean']:+.1f}"
    out["lessons.08_pair_seeds"] = str(len(p["diff"]))
    out["lessons.08_simplified_met"] = str(sum(b - les["random"][s] >= TARGET_06 for s, (_, b) in p["pairs"].items()
                                               if s in les["random"]))
    return out


SOURCES: dict[str, Callable[[list[dict]], dict[str, str]]] = {"course_time": _course_time, "lesson_steps": _lessons}


def values(data_dir: str | Path | None = None) -> dict[str, str]:
    """Every quotable key -> its text, computed from the recorded rows in ``docs/data`` (``data_dir``)."""
    out: dict[str, str] = {}
    for section, compute in SOURCES.items():
        out |= compute(load_rows(section, data_dir))
    return out


def _lookup(vals: Mapping[str, Any], key: str, where: str) -> str:
    if key not in vals:
        from stclr.config import did_you_mean

        raise KeyError(f"{where}: no recorded value for the quote {key!r}{did_you_mean(key, vals)}; the keys come "
                       "from stclr.quotes.values()")
    return str(vals[key])


def fill(text: str, vals: Mapping[str, Any] | None = None, where: str = "text") -> str:
    """``text`` with every ``{{key}}`` replaced by its recorded value; an unknown key is an error."""
    vals = values() if vals is None else vals
    return FILL.sub(lambda m: _lookup(vals, m.group(1), where), text)


def refresh(text: str, vals: Mapping[str, Any] | None = None, where: str = "text") -> str:
    """``text`` with the value between every ``<!--q:key-->`` and ``<!--/q-->`` set to the recorded one."""
    vals = values() if vals is None else vals
    return MARK.sub(lambda m: f"<!--q:{m.group(1)}-->{_lookup(vals, m.group(1), where)}<!--/q-->", text)


# What a hand-typed number looks like in prose: a decimal, a percentage, a duration, a size, a FLOP count or a
# ratio ("3.1 times", "2,400×"). Plain counts (8 classes, 256 videos, seed 0) are left alone: they name settings.
NUMBER = re.compile(
    r"(?<![\w.@/#-])[+−-]?\d[\d,]*(?:\.\d+)?"
    r"(?:(?:\s?(?:%|×|x\b|MB\b|GB\b|[MGTP]FLOPs\b|TFLOP/s|clips/s|ms\b|s\b|min\b|minutes\b|seconds\b|h\b|hours\b|days\b"
    r"|times\b))(?!\s?\d)|(?<=\d\.\d)|(?<=\.\d\d)|(?<=\.\d\d\d))")
# What is not prose: maths, code, links and the names of sections, equations, tables, figures, notebooks, versions.
NOT_PROSE = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]*\$|```.*?```|`[^`\n]*`|\]\([^)]*\)|<!--.*?-->|https?://\S+"
    r"|(?:Sec(?:tion)?s?\.?|Eqs?\.|Tables?|Fig(?:ure)?s?\.?|§|[Nn]otebooks?|Python|torch(?:vision)?|v)"
    r"\s*\d+(?:\.\d+)*(?:\s*(?:[–-]|and|,)\s*\d+(?:\.\d+)*)*", re.S)


def strip_generated(text: str) -> str:
    """``text`` without the README's generated lessons block (written from its rows, not by hand)."""
    from stclr.benchdata import README_BEGIN, README_END

    i, j = text.find(README_BEGIN), text.find(README_END)
    return text[:i] + text[j + len(README_END):] if 0 <= i < j else text


def prose_numbers(text: str) -> list[str]:
    """The hand-typed numbers of a markdown ``text`` (quotes, maths, code and section names removed): what
    ``docs/prose_sources.json`` must name a source for."""
    text = MARK.sub(" ", FILL.sub(" ", strip_generated(text)))
    return [m.group(0).strip() for m in NUMBER.finditer(NOT_PROSE.sub(" ", text))]


SOURCE_KINDS = ("arithmetic", "estimate", "example", "definition", "citation")
_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _floats(text: str) -> set[float]:
    return {float(m.group(0).replace(",", "")) for m in _NUM.finditer(text)}


def _value_forms(literal: str) -> set[float]:
    """The numbers a source may hold for ``literal``: ``"65 %"`` -> {65, 0.65}, ``"2,400×"`` -> {2400}."""
    m = _NUM.search(literal)
    x = float(m.group(0).replace(",", ""))
    return {x, round(x / 100, 10)} if "%" in literal else {x}


def check_sources(texts: Mapping[str, str], sources: Mapping[str, Any], outputs: Mapping[str, str],
                  repo: Path = REPO) -> list[str]:
    """Problems with the hand-typed numbers of ``texts`` (file -> markdown) against ``sources`` (file -> literal ->
    source): a number without a source, a source that does not hold it, an entry for a number no longer there.

    A source is ``"output"`` (the notebook's own recorded outputs, ``outputs[file]``, hold the number), a file of
    the repository (which holds it: ``docs/method.md`` for the paper's numbers, ``stclr/...`` for settings,
    ``docs/benchmarks.md`` for a recorded benchmark), or ``"<kind>: why"`` with kind one of
    :data:`SOURCE_KINDS` (a number that follows from others in the text, a rounded estimate, a made-up example).
    """
    problems, cache = [], {}
    for f, text in texts.items():
        listed = sources.get(f, {})
        if isinstance(listed, str):  # the whole file is a source of its own (docs/method.md: the paper)
            continue
        found = list(dict.fromkeys(prose_numbers(text)))
        for lit in found:
            src = listed.get(lit)
            if src is None:
                problems.append(f"{f}: {lit!r} has no source (quote it from docs/data with {{{{key}}}} or a "
                                f"<!--q:key--> mark, or name its source in docs/prose_sources.json)")
                continue
            kind, sep, why = src.partition(":")
            if sep and kind in SOURCE_KINDS:
                if len(why.strip()) < 8:
                    problems.append(f"{f}: {lit!r}: say why ({src!r})")
                continue
            if src == "output":
                hay = outputs.get(f, "")
            else:
                path = repo / src
                if not path.is_file():
                    problems.append(f"{f}: {lit!r}: source {src!r} is neither a file of the repository nor one "
                                    f"of output / {' / '.join(k + ': why' for k in SOURCE_KINDS)}")
                    continue
                hay = cache.setdefault(src, path.read_text())
            if not _value_forms(lit) & _floats(hay):
                problems.append(f"{f}: {lit!r} is not in its source {src!r}")
        problems += [f"{f}: {lit!r} is listed in docs/prose_sources.json but no longer in the text"
                     for lit in listed if lit not in found]
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Refresh the quoted numbers of the markdown files from docs/data.")
    p.add_argument("--write", action="store_true", help="rewrite the files (default: list the stale ones)")
    args = p.parse_args(argv)
    vals, stale = values(), []
    for rel in MARKDOWN_FILES:
        path = REPO / rel
        if not path.is_file():
            continue
        old = path.read_text()
        new = refresh(old, vals, rel)
        if new != old:
            stale.append(rel)
            if args.write:
                path.write_text(new)
    print(("rewrote: " if args.write else "stale: ") + (", ".join(stale) or "none"))
    return 1 if stale and not args.write else 0


if __name__ == "__main__":
    raise SystemExit(main())
