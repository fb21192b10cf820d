"""bench/course_seeds.py: per-query hits from notebook 06's retrieval runs, and the table it writes."""

from __future__ import annotations

import json
from pathlib import Path

from _bench import load_bench_script


def _load():
    return load_bench_script("course_seeds")


def _retrieval_run(folder: Path, name: str, random_init: bool, hits: list[bool]):
    d = folder / name
    d.mkdir(parents=True)
    neighbours = [{"query": i, "label": 1, "nn_labels": [1 if h else 0, 1]} for i, h in enumerate(hits)]
    (d / "metrics.json").write_text(json.dumps({"R@1": 100 * sum(hits) / len(hits), "neighbours": neighbours,
                                                "config": {"random_init": random_init}}))


def test_retrieval_hits_pairs_the_two_runs_by_query(tmp_path):
    cs = _load()
    assert cs.retrieval_hits(tmp_path) is None  # no runs
    _retrieval_run(tmp_path, "retrieval-paper-random-s0", True, [False, False, True])
    assert cs.retrieval_hits(tmp_path) is None  # only one of the two
    _retrieval_run(tmp_path, "retrieval-paper-stclr-r3d_tiny-s0-abc", False, [True, False, True])
    assert cs.retrieval_hits(tmp_path) == ([False, False, True], [True, False, True])


def test_table_states_queries_and_bootstrap_spread():
    cs = _load()
    rows = [{"seed": s, "minutes": {"06": 3.0}, "errors": {}, "metrics": {}, "r1_random": 20.0, "r1_stclr": 40.0 + s,
             "n_query": 256, "gain_sd": 3.25, "sll_left_chance_step": 30} for s in (0, 1)]
    md = cs.table(rows, with_08=False)
    assert "| 0 | – | 20.0 | 40.0 | 20.0 ± 3.2 | 30 |" in md
    assert "| 1 | – | 20.0 | 41.0 | 21.0 ± 3.2 | 30 |" in md
    assert "256 test videos: one video is 0.4 points" in md
    assert "STCLR) 40.5 ± 0.7" not in md and "vs 40.5 ± 0.7 (STCLR)" in md
