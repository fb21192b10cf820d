"""Numbers in prose come from data (issue 22): ``stclr.quotes``.

- Every quote in the notebooks' sources (``{{key}}``) and in the markdown files (``<!--q:key-->...<!--/q-->``)
  names a recorded value, and the markdown files hold today's values (the notebooks are checked by
  ``test_notebooks.py::test_committed_notebooks_match_their_sources``, which builds them with the quotes filled).
- Every other hand-typed number in the notebooks' markdown, the README and docs/ (a decimal, a percentage, a
  duration, a size, a ratio) names its source in ``docs/prose_sources.json``, and the source holds it.
- The course's budget is said once: notebook 06's ``steps`` and 07's / 08's ``pretrain_steps`` equal
  ``stclr.benchdata.COURSE_STEPS``, the budget at which the README and the notebooks quote the lessons.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from stclr import quotes
from stclr.benchdata import COURSE_STEPS

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "notebooks" / "src"


def _notebook_sources():
    sys.path.insert(0, str(SRC))
    try:
        from build import load_notebooks

        return list(load_notebooks())
    finally:
        sys.path.remove(str(SRC))


def _outputs(name: str) -> str:
    nb = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text())
    parts = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            parts.append("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _texts():
    texts, outputs = {}, {}
    for nb in _notebook_sources():
        key = f"notebooks/src/{nb.name}.py"
        texts[key] = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        outputs[key] = _outputs(nb.name)
    for rel in quotes.MARKDOWN_FILES:
        texts[rel] = (REPO / rel).read_text()
    return texts, outputs


def test_values_come_from_the_recorded_rows():
    vals = quotes.values()
    rows = json.loads((REPO / "docs" / "data" / "course_time.json").read_text())
    nb06 = next(r for r in rows if r.get("notebook", "").startswith("06"))
    assert vals["course.06_min"] == f"{nb06['seconds'] / 60:.1f}"
    assert vals["lessons.steps"] == str(COURSE_STEPS)
    assert int(vals["lessons.06_met"]) <= int(vals["lessons.seeds"])


def test_fill_and_refresh_replace_quotes_and_reject_unknown_keys():
    vals = {"a.b": "1.5", "c": "+2.0"}
    assert quotes.fill("took {{a.b}} min, gain {{ c }}", vals) == "took 1.5 min, gain +2.0"
    assert quotes.refresh("x <!--q:a.b-->9.9<!--/q--> y", vals) == "x <!--q:a.b-->1.5<!--/q--> y"
    with pytest.raises(KeyError, match="a.b"):
        quotes.fill("{{a.c}}", vals)
    with pytest.raises(KeyError):
        quotes.refresh("<!--q:nope-->1<!--/q-->", vals)


@pytest.mark.parametrize("rel", quotes.MARKDOWN_FILES)
def test_markdown_files_hold_the_recorded_values(rel):
    text = (REPO / rel).read_text()
    assert quotes.refresh(text, where=rel) == text, (
        f"{rel} quotes values that its rows no longer hold: run `python -m stclr.quotes --write`")


def test_every_notebook_quote_names_a_recorded_value():
    vals = quotes.values()
    for nb in _notebook_sources():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                quotes.fill(cell.source, vals, where=f"{nb.name} cell {i}")  # raises on an unknown key


def test_prose_numbers_finds_measurements_and_skips_names_and_maths():
    text = ("took 1.95 min and 105 s; R@1 41.4 (+15.6), 83.8 %, 3.1 times, 2,400×; Sec. 4.2.1, Table 6, "
            "Eq. 1, notebook 06, Python 3.10, $\\log 4 \\approx 1.386$, `lr=3e-3`, 256 videos, {{course.06_min}} min, "
            "<!--q:x-->7.8<!--/q--> min, 16 × 112 × 112")
    assert quotes.prose_numbers(text) == ["1.95 min", "105 s", "41.4", "+15.6", "83.8 %", "3.1 times", "2,400×"]


def test_a_number_without_a_source_or_with_a_wrong_one_fails():
    texts = {"a.md": "R@1 41.4 and 2.0 min and 12.5 %", "b.md": "the paper's 56.78"}
    sources = {"a.md": {"41.4": "output", "2.0 min": "estimate: rounded from a run", "12.5 %": "docs/method.md"},
               "b.md": {"56.78": "docs/method.md", "9.9": "output"}}
    problems = quotes.check_sources(texts, sources, {"a.md": "R@1 41.4"})
    assert any("'12.5 %' is not in its source" in p for p in problems)
    assert any("'9.9' is listed" in p for p in problems)
    assert len(problems) == 2, problems
    problems = quotes.check_sources({"a.md": "took 3.3 min"}, {}, {})
    assert problems and "has no source" in problems[0]


def test_every_hand_typed_number_names_a_source_that_holds_it():
    texts, outputs = _texts()
    sources = json.loads((REPO / "docs" / "prose_sources.json").read_text())
    problems = quotes.check_sources(texts, sources, outputs)
    assert not problems, "\n".join(problems)


def test_the_course_budget_is_said_once():
    for name, param in (("06_pretraining", "steps"), ("07_finetuning", "pretrain_steps"),
                        ("08_retrieval", "pretrain_steps")):
        src = (SRC / f"{name}.py").read_text()
        m = re.search(rf"^\s*{param}: int = (\d+)", src, re.M)
        assert m and int(m.group(1)) == COURSE_STEPS, (name, param)


def test_shown_path_is_relative_near_the_working_directory(tmp_path, monkeypatch):
    from stclr.runinfo import shown_path

    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert shown_path(tmp_path / "runs" / "x") == "../../runs/x"
    assert shown_path(tmp_path / "a" / "b" / "c") == "c"
    assert shown_path("/") == "/"  # far away: absolute
