"""stclr.benchdata: the recorded rows behind docs/benchmarks.md, summarised for notebooks (hand-built rows)."""

from __future__ import annotations

import json
import math

import pytest

from stclr.benchdata import DATA_DIR, lesson_summary, load_rows, paired_differences


def _rows():
    rand = {0: 25.0, 1: 30.0, 2: 35.0}
    stclr = {0: 45.0, 1: 44.0, 2: 50.5}  # gains +20.0, +14.0, +15.5
    ssl = {0: 1.10, 1: 1.30, 2: 1.2476}
    simple = {0: 40.0, 1: 46.0, 2: 50.0}
    rows = [{"kind": "random", "method": "random", "steps": 0, "seed": s, "R@1": v} for s, v in rand.items()]
    rows += [{"kind": "pretrain", "method": "stclr", "steps": 240, "seed": s, "R@1": v, "ssl_last20": ssl[s],
              "sll_exit": {0: 31, 1: None, 2: 19}[s]} for s, v in stclr.items()]
    rows += [{"kind": "pretrain", "method": "stclr", "steps": 160, "seed": 0, "R@1": 99.0}]
    rows += [{"kind": "pretrain", "method": "simplified_tclr", "steps": 240, "seed": s, "R@1": v} for s, v in simple.items()]
    return rows


def test_lesson_summary_by_hand():
    got = lesson_summary(_rows(), 240)
    assert got["seeds"] == [0, 1, 2] and got["gain"] == {0: 20.0, 1: 14.0, 2: 15.5}
    assert got["met"] == [0, 2]  # +14.0 misses +15
    assert got["ssl_met"] == [0, 2]  # 0.9 x log 4 = 1.24766: 1.2476 is below it, 1.30 is not
    assert got["sll_exit"] == {0: 31, 1: None, 2: 19} and got["sll_met"] == [0, 2]
    assert "gain >= +15 on 2 of 3 seeds (missed: seed 1 +14.0)" in got["text"]
    assert "R@1 random init 25.0–35.0, STCLR 44.0–50.5; gain +14.0–+20.0 (mean +16.5)" in got["text"]
    assert f"(log 4 = {math.log(4):.3f}); below 1.248 on 2 of 3 seeds" in got["text"]
    assert lesson_summary(_rows(), 240, seeds=[0, 1])["seeds"] == [0, 1]
    assert lesson_summary(_rows(), 160)["gain"] == {0: 74.0}
    with pytest.raises(ValueError, match="no STCLR run of 999 steps"):
        lesson_summary(_rows(), 999)


def test_paired_differences_by_hand():
    got = paired_differences(_rows(), 240)
    assert got["diff"] == {0: 5.0, 1: -2.0, 2: 0.5} and got["a_ahead"] == 2
    assert got["mean"] == pytest.approx(3.5 / 3) and got["sd"] == pytest.approx(3.5473, abs=1e-4)  # sqrt(((5-7/6)^2 + (-2-7/6)^2 + (0.5-7/6)^2) / 2)
    assert "seed 1 -2.0" in got["text"] and "ahead on 2 of 3" in got["text"]
    with pytest.raises(ValueError, match="no seed with both"):
        paired_differences(_rows(), 160)


def test_load_rows(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps(_rows()))
    assert load_rows("x", tmp_path) == _rows()
    with pytest.raises(FileNotFoundError, match="no recorded rows for 'nope'"):
        load_rows("nope", tmp_path)
    assert DATA_DIR.name == "data" and DATA_DIR.parent.name == "docs"


def test_readme_lessons_by_hand(tmp_path):
    from stclr.benchdata import README_BEGIN, README_END, readme_lessons, write_readme_block

    rows = _rows()
    rows[0]["finetune_video_acc"] = 40.0  # seed 0: random init fine-tunes to 40 %, STCLR's checkpoint to 52 %
    rows[3]["finetune_video_acc"] = 52.0
    md = readme_lessons(rows, 240)
    assert "| 2 of 3 | 2 of 3 (1.100–1.300) |" in md  # L_SSL bar met on seeds 0 and 2
    assert "| within the run | 2 of 3 | 2 of 3 (at steps 19–31) |" in md  # seed 1's L_SLL never left its plateau
    assert "(gains +14.0–+20.0; R@1 random init 25.0–35.0, STCLR 44.0–50.5) |" in md
    assert "| 1 of 1 (gains +12.0–+12.0) |" in md and "+1.2 ± 3.5, STCLR ahead on 2 of 3" in md
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\nold\n{README_END}\nrest\n")
    write_readme_block(readme, rows, 240)
    assert readme.read_text() == f"intro\n{README_BEGIN}\n{md}\n{README_END}\nrest\n"
    readme.write_text("no block")
    with pytest.raises(ValueError, match="no generated lessons block"):
        write_readme_block(readme, rows, 240)


def test_the_readme_quotes_the_recorded_lessons():
    # The README's lesson table is the one its data give: rerun bench/lesson_steps.py (which rewrites both) or
    # restore the README block if this fails.
    from stclr.benchdata import README_BEGIN, README_END, readme_block

    readme = (DATA_DIR.parents[1] / "README.md").read_text()
    i, j = readme.find(README_BEGIN), readme.find(README_END)
    assert 0 <= i < j, "README.md lost its generated lessons block"
    assert readme[i:j + len(README_END)] == readme_block(load_rows("lesson_steps"))
