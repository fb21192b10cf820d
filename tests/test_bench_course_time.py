"""bench/course_time.py: the ``course_time`` section written from a course's summary.json."""

from __future__ import annotations

import json

from _bench import load_bench_script


def _summary(gain_06: float, ok: bool = True) -> dict:
    nb = lambda name, s, metrics=None: {"notebook": f"{name}.ipynb", "status": "ok" if ok else "error",  # noqa: E731
                                        "seconds": s, "params": {}, "metrics": metrics}
    return {
        "seconds": 300.0, "ok": ok,
        "dataset": {"status": "generated", "message": "", "seconds": 25.0},
        "check": {"status": "ok", "message": "", "seconds": 4.0},
        "notebooks": [
            nb("00_welcome_and_data", 9.0),
            nb("06_pretraining", 120.0, {"retrieval": {"pretrained": {"R@1": 25.0 + gain_06}, "random": {"R@1": 25.0}},
                                         "pretrain": {"sll_left_chance_step": None}}),
            nb("07_finetuning", 60.0, {"finetune": {"pretrained": {"video_accuracy": 70.0},
                                                    "random": {"video_accuracy": 50.0}}}),
        ],
    }


def test_section_lists_every_notebook_the_total_and_each_lesson(tmp_path):
    ct = load_bench_script("course_time")
    f = tmp_path / "summary.json"
    f.write_text(json.dumps(_summary(gain_06=20.0)))
    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    ct.main(["--summary", str(f), "--out-md", str(md)])
    text = md.read_text()
    assert "kept" in text and "<!-- BEGIN course_time -->" in text
    assert "Total **5.0 min** (300 s): notebooks 189 s, dataset 25.0 s (generated)" in text
    assert "| 06_pretraining | ok | 120.0 | 2.00 |" in text and "| 00_welcome_and_data | ok | 9.0 | 0.15 |" in text
    # 06's gain met, its L_SLL never left chance, 07 met: 2 of 3
    assert "lessons met: 2 of 3" in text
    assert "45.0 vs 25.0 (+20.0) | yes |" in text and "| never | no |" in text


def test_a_missed_lesson_and_a_failed_course_are_reported(tmp_path):
    ct = load_bench_script("course_time")
    f = tmp_path / "summary.json"
    f.write_text(json.dumps(_summary(gain_06=5.0, ok=False)))
    md = ct.main(["--summary", str(f), "--no-write"])
    assert "Result: FAILED; lessons met: 1 of 3" in md and "30.0 vs 25.0 (+5.0) | no |" in md
