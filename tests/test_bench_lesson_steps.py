"""bench/lesson_steps.py: the per-seed table (06's and 07's targets checked per seed and budget) and L_SLL's exit."""

from __future__ import annotations

import math

from _bench import load_bench_script


def _hits(n_hit, n=20):
    return {str(q): q < n_hit for q in range(n)}  # JSON-read rows: string query keys


def test_table_checks_each_seed_and_budget():
    ls = load_bench_script("lesson_steps")
    rows = [
        dict(kind="random", method="random", steps=0, seed=0, **{"R@1": 25.0}, hits=_hits(5), finetune_video_acc=40.0),
        dict(kind="random", method="random", steps=0, seed=1, **{"R@1": 35.0}, hits=_hits(7), finetune_video_acc=50.0),
        dict(kind="pretrain", method="stclr", steps=240, seed=0, **{"R@1": 45.0}, hits=_hits(9), sll_exit=20,
             finetune_video_acc=60.0),
        dict(kind="pretrain", method="stclr", steps=240, seed=1, **{"R@1": 45.0}, hits=_hits(9), sll_exit=None,
             finetune_video_acc=54.0),
        dict(kind="pretrain", method="ssl", steps=240, seed=0, **{"R@1": 26.0}, hits=_hits(5)),
    ]
    md = ls.table(rows, machine="test machine")
    lines = md.splitlines()
    assert lines[2].startswith("test machine. STCLR")
    # seed 0: +20 >= 15 met. Hits 5 -> 9 of 20, the first 5 shared: 4 of 20 queries gain 1, so the paired
    # bootstrap's sd is 100 * sqrt(0.2 * 0.8 / 20) = 8.9 points
    s0 = next(l for l in lines if l.startswith("| 240 | 0 |"))
    assert "| 25.0 | 45.0 | +20.0 ± " in s0 and "| yes | 20 | 40.0 | 60.0 | +20.0 | yes | 26.0 |" in s0
    sd = float(s0.split("+20.0 ± ")[1].split(" ")[0])
    assert abs(sd - 100 * math.sqrt(0.2 * 0.8 / 20)) < 0.5
    # seed 1: +10 < 15 missed; fine-tuning +4 < 5 missed; L_SLL never left its plateau; no ssl run for seed 1
    s1 = next(l for l in lines if l.startswith("| 240 | 1 |"))
    assert "| +10.0 ± " in s1 and "| **no** | – | 50.0 | 54.0 | +4.0 | **no** | – |" in s1
    assert lines[-1] == ("240 steps: 06 met on 1 of 2 seeds, 07 on 1 of 2 (STCLR R@1 45.0–45.0). "
                         "Random init's R@1 ranged 25.0–35.0 over 2 seeds.")
    assert "R@1 ssl |" in md


def test_sll_exit_is_the_first_step_of_a_5_step_mean_below_90_percent_of_chance():
    ls = load_bench_script("lesson_steps")
    chance = 5 * math.log(9)
    flat = [{"loss_sll": chance}] * 10
    assert ls.sll_exit(flat) is None
    falling = flat[:5] + [{"loss_sll": 0.5 * chance}] * 5
    # steps 6.. are at half: the mean of steps 2-6 is 0.9 x chance (not below), of steps 3-7 is 0.8 x chance
    assert ls.sll_exit(falling) == 7
    assert ls.sll_exit([{"loss_ic": 1.0}] * 10) is None  # a method without L_SLL


def test_a_tiny_run_end_to_end(tmp_path):
    """Two optimiser steps on a tiny synthetic set: every job kind runs, rows.jsonl resumes, the table is written."""
    import json

    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset

    ls = load_bench_script("lesson_steps")
    data = tmp_path / "synth"
    make_synthetic_dataset(data, SynthConfig(num_classes=2, videos_per_class=12, num_frames=48, size=32,
                                             clips_per_group=4, test_groups=1), show_progress=False)
    argv = ["--steps", "2", "--seeds", "0", "--finetune", "--finetune-epochs", "1", "--methods", "ssl",
            "--device", "cpu", "--jobs", "1", "--data", str(data), "--out", str(tmp_path / "out"), "--no-write"]
    assert ls.main(argv) == 0
    rows = [json.loads(l) for l in (tmp_path / "out" / "rows.jsonl").read_text().splitlines()]
    kinds = sorted((r["kind"], r["method"]) for r in rows)
    assert kinds == [("pretrain", "ssl"), ("pretrain", "stclr"), ("random", "random")]
    stclr = next(r for r in rows if r["method"] == "stclr")
    assert stclr["steps"] == 2 and "finetune_video_acc" in stclr and "ssl_last20" in stclr
    assert "finetune_video_acc" not in next(r for r in rows if r["method"] == "ssl")  # 08's rows: retrieval only
    assert ls.main(argv) == 0  # everything done: nothing reruns
    assert len((tmp_path / "out" / "rows.jsonl").read_text().splitlines()) == 3


def test_set_reads_values_as_yaml_and_rejects_what_is_not_key_value():
    import pytest

    ls = load_bench_script("lesson_steps")
    assert ls.parse_overrides(["c1=0", "ssl_speeds=[1, 3, 9]", "ssl_input=diff"]) == {
        "c1": 0, "ssl_speeds": [1, 3, 9], "ssl_input": "diff"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        ls.parse_overrides(["c1"])


def test_a_variant_reaches_the_pretraining_run_and_its_own_section(tmp_path):
    """``--set`` overrides the pretraining runs (not the random-init baseline); the table names the variant and
    shows L_SSL; ``--section`` writes its own section."""
    import json

    import yaml

    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset

    ls = load_bench_script("lesson_steps")
    data = tmp_path / "synth"
    make_synthetic_dataset(data, SynthConfig(num_classes=2, videos_per_class=12, num_frames=48, size=32,
                                             clips_per_group=4, test_groups=1), show_progress=False)
    md = tmp_path / "bench.md"
    argv = ["--steps", "2", "--seeds", "0", "--device", "cpu", "--jobs", "1", "--data", str(data),
            "--out", str(tmp_path / "out"), "--set", "ssl_input=diff", "c1=0", "--section", "ssl_diff"]
    ls.main(argv + ["--no-write"])
    cfg = yaml.safe_load(next((tmp_path / "out" / "runs").glob("stclr-2-s0/*/config.yaml")).read_text())
    assert cfg["ssl_input"] == "diff" and cfg["c1"] == 0
    rows = [json.loads(l) for l in (tmp_path / "out" / "rows.jsonl").read_text().splitlines()]
    assert next(r for r in rows if r["kind"] == "pretrain")["overrides"] == {"ssl_input": "diff", "c1": 0}
    assert "overrides" not in next(r for r in rows if r["kind"] == "random")
    import _report

    written, data = {}, {}
    orig = _report.write_section, _report.write_data
    _report.write_section = lambda name, body, path=None: written.update({name: body})
    _report.write_data = lambda name, rows, path=None: data.update({name: rows})
    try:
        ls.main(argv)
    finally:
        _report.write_section, _report.write_data = orig
    # the rows behind the section, for notebooks to quote: without the per-query hits
    assert {r["kind"] for r in data["ssl_diff"]} == {"random", "pretrain"} and all("hits" not in r for r in data["ssl_diff"])
    body = written["ssl_diff"]
    assert body.startswith("## Course preset variant `ssl_diff`") and "`ssl_input=diff`, `c1=0`" in body
    assert "L_SSL last 20 |" in body and "R@1 gain ≥ +15 (±" in body
