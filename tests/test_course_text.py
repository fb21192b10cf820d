"""The course's text, checked without running anything (issue 22, "A course you can read").

- Nothing points outside the repository: no path a student does not have (the design notes or the paper's
  file beside the checkout); the method is cited from ``docs/method.md`` and by the paper's sections instead.
- Every "Check your understanding" question has its answer, hidden in a ``<details>`` block.
- Every link from a notebook into ``docs/`` lands on a file and a heading that exist (GitHub-style anchors), and
  the glossary defines the terms the notebooks use.
- Quoted numbers that follow from a formula agree with it: the paper's loader reads
  ``N + (1 - C1) N + K N C1`` videos per epoch, computed here with ``stclr.cost``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted((REPO / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
GLOSSARY = REPO / "docs" / "glossary.md"


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _markdown(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


# ------------------------------------------------------------------------------------------------------------
# (a) no reference to files outside the repository

OUTSIDE = re.compile(r"DESIGN\.md|DESIGN §|NOTEBOOKS\.md|STCLR-paper|paper/STCLR|\bshared/[\w./-]*")
# The one allowed mention: data/README.md explains that the kit's own tests read optional real files from beside
# the checkout (a test set-up, not course content).
ALLOWED = {"data/README.md": ("shared/realdata",)}


def _text_files() -> list[Path]:
    files = [*SOURCES, REPO / "README.md", REPO / "data" / "README.md"]
    files += sorted((REPO / "docs").glob("*.md"))
    files += sorted((REPO / "experiments").glob("*.yaml")) + sorted((REPO / "experiments").glob("*.md"))
    files += sorted((REPO / "stclr").rglob("*.py"))
    return [f for f in files if f.is_file()]


@pytest.mark.parametrize("path", _text_files(), ids=_rel)
def test_no_reference_outside_the_repository(path):
    rel = _rel(path)
    bad = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        for m in OUTSIDE.finditer(line):
            if not any(m.group(0).startswith(ok) for ok in ALLOWED.get(rel, ())):
                bad.append(f"{rel}:{n}: {m.group(0)!r} in {line.strip()[:100]!r}")
    assert not bad, (
        "these lines point at files outside the repository, which a student does not have; cite the section of "
        "docs/method.md (or the paper by section/equation, e.g. 'Sec. 3.2, Eq. 3') instead:\n" + "\n".join(bad))


# ------------------------------------------------------------------------------------------------------------
# (b) every "Check your understanding" question has an answer

ANSWER = re.compile(r"<details>\s*<summary>\s*Answer\s*</summary>(.*?)</details>", re.S)
QUESTION = re.compile(r"^(\d+)\.\s+\S", re.M)


def check_section(md: str) -> str:
    start = md.find("## Check your understanding")
    if start < 0:
        return ""
    end = md.find("\n## ", start + 1)
    return md[start: end if end >= 0 else len(md)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_question_has_a_hidden_answer(path):
    section = check_section(_markdown(path))
    assert section, f"{path.name}: no '## Check your understanding' section (edit notebooks/src/{path.stem}.py)"
    answers = ANSWER.findall(section)
    questions = [int(q) for q in QUESTION.findall(ANSWER.sub("", section))]
    fix = f"edit the 'Check your understanding' section of notebooks/src/{path.stem}.py, then run build.py"
    assert questions, f"{path.name}: the section has no numbered questions ({fix})"
    assert questions == list(range(1, len(questions) + 1)), f"{path.name}: questions numbered {questions} ({fix})"
    assert len(answers) == len(questions), (
        f"{path.name}: {len(questions)} questions but {len(answers)} answer blocks; give each question one "
        f"'<details><summary>Answer</summary> ... </details>' ({fix})")
    empty = [i + 1 for i, a in enumerate(answers) if len(a.strip()) < 40]
    assert not empty, f"{path.name}: answers {empty} are empty or too short to explain anything ({fix})"
    unrendered = [i + 1 for i, a in enumerate(answers) if not a.startswith("\n\n")]
    assert not unrendered, (f"{path.name}: answers {unrendered} need a blank line after </summary>, or their "
                            f"markdown is not rendered ({fix})")


# ------------------------------------------------------------------------------------------------------------
# (c) links into docs/ land on a heading that exists; the glossary has the terms

DOC_LINK = re.compile(r"\]\(\.\./docs/([\w.-]+\.md)(?:#([^)\s]*))?\)")
LOCAL_LINK = re.compile(r"\]\(#([^)\s]*)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def github_anchor(heading: str) -> str:
    """GitHub's heading id: lower case, punctuation dropped (hyphens and underscores kept), spaces to '-'."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(md_path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out, fence = set(), False
    for line in md_path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        m = None if fence else HEADING.match(line)
        if m:
            base = github_anchor(m.group(1))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else f"{base}-{k}")
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_links_into_docs_land_on_existing_headings(path):
    bad = []
    for name, anchor in DOC_LINK.findall(_markdown(path)):
        target = REPO / "docs" / name
        if not target.is_file():
            bad.append(f"../docs/{name}: no such file")
        elif anchor and anchor not in anchors(target):
            bad.append(f"../docs/{name}#{anchor}: no heading of docs/{name} has this anchor")
    assert not bad, (f"{path.name}: broken links (edit notebooks/src/{path.stem}.py or the heading in docs/; anchors "
                     "are GitHub's: lower case, punctuation dropped, spaces to '-'):\n" + "\n".join(bad))


@pytest.mark.parametrize("doc", ["method.md", "glossary.md"])
def test_links_inside_docs_land_on_existing_headings(doc):
    path = REPO / "docs" / doc
    text = path.read_text()
    own = anchors(path)
    bad = [f"#{a}" for a in LOCAL_LINK.findall(text) if a not in own]
    for name, anchor in re.findall(r"\]\(([\w.-]+\.md)(?:#([^)\s]*))?\)", text):
        target = REPO / "docs" / name
        if not target.is_file() or (anchor and anchor not in anchors(target)):
            bad.append(f"{name}#{anchor}")
    assert not bad, f"docs/{doc}: links to missing headings or files: {bad}"


# Terms issue 22 and the course ask the glossary to define (anchor of each entry).
GLOSSARY_TERMS = [
    "gop", "keyframe-i-frame", "b-frames", "h264", "mpeg-4-part-2", "frame-exact-decoding", "skip-rate-speed", "clip",
    "view", "nt-xent-infonce", "temperature", "positive-and-negative", "projection-head", "cosine-schedule",
    "onecycle-schedule", "reducelronplateau", "batchnorm-statistics", "channels_last", "bf16-autocast", "ddp",
    "syncbatchnorm", "linear-probe", "fine-tuning", "retrieval-rk", "bootstrap-standard-deviation",
    "optimiser-step-and-epoch", "papermill", "nbval",
]
# Terms the issue found used without a definition: some notebook must link each to its glossary entry.
MUST_LINK = ["gop", "b-frames", "cosine-schedule", "onecycle-schedule", "batchnorm-statistics", "ddp", "linear-probe"]


def test_glossary_defines_the_course_terms():
    missing = [t for t in GLOSSARY_TERMS if t not in anchors(GLOSSARY)]
    assert not missing, f"docs/glossary.md has no entry (heading) for: {missing}"


def test_notebooks_link_the_terms_they_use_to_the_glossary():
    linked = {a for nb in NOTEBOOKS for name, a in DOC_LINK.findall(_markdown(nb)) if name == "glossary.md"}
    missing = [t for t in MUST_LINK if t not in linked]
    assert not missing, (f"no notebook links these terms to docs/glossary.md: {missing}; link the first use in the "
                         "notebook that uses them, e.g. [GOP](../docs/glossary.md#gop)")


# ------------------------------------------------------------------------------------------------------------
# (d) quotes of the paper's reads per epoch agree with the formula

# "3.2N", "$3.2 N$", "3.2 N videos", and lists such as "2.0 / 3.2 / 4.0 N videos"
READS_QUOTE = re.compile(r"((?:\d+\.\d+\s*/\s*)*\d+\.\d+)\s?N\b")
READS_FILES = ["notebooks/src/01_sparse_sampling.py", "notebooks/src/09_cost_and_efficiency.py",
               "docs/method.md", "docs/benchmarks.md", "stclr/plan.py", "stclr/cost.py"]


def test_quoted_reads_per_epoch_follow_the_formula():
    from stclr.cost import videos_read_per_epoch

    by_c1 = {c1: round(videos_read_per_epoch(1, k=3, c1=c1), 2) for c1 in (0.0, 0.6, 1.0)}
    assert by_c1 == {0.0: 2.0, 0.6: 3.2, 1.0: 4.0}  # N + (1 - C1) N + 3 N C1, in units of N
    bad, found = [], {}
    for rel in READS_FILES:
        for n, line in enumerate((REPO / rel).read_text().splitlines(), 1):
            for m in READS_QUOTE.finditer(line):
                values = [round(float(v), 2) for v in m.group(1).split("/")]
                found.setdefault(rel, []).extend(values)
                if any(v not in by_c1.values() for v in values):
                    bad.append(f"{rel}:{n}: {m.group(0)!r} ({line.strip()[:90]!r})")
    assert not bad, (
        f"the paper's loader reads N + (1 - C1) N + K N C1 videos per epoch (Sec. 4.2.4), i.e. "
        f"{by_c1[0.0]} / {by_c1[0.6]} / {by_c1[1.0]} N at C1 = 0 / 0.6 / 1 (stclr.cost.videos_read_per_epoch); "
        "fix these quotes:\n" + "\n".join(bad))
    for rel in READS_FILES[:2]:  # the two notebooks that teach the formula must quote its value at C1 = 0.6
        assert by_c1[0.6] in found.get(rel, []), f"{rel} should quote {by_c1[0.6]}N, the reads per video at C1 = 0.6"
