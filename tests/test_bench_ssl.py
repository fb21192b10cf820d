"""bench/ssl_causes.py and bench/ssl_head_probe.py: the issue-21 measurements' tables and their parts."""

from __future__ import annotations

import math

import pytest
import torch

from _bench import load_bench_script


def test_every_ssl_cause_is_a_valid_course_preset_override():
    from stclr.config import preset
    from stclr.train import build_pretrain_model

    sc = load_bench_script("ssl_causes")
    for name, (what, overrides) in sc.VARIANTS.items():
        cfg = preset("course", "pretrain", **{**sc.BASE, **overrides})  # unknown keys or bad values raise here
        assert what
        if name == "base":  # the course preset before issue 21: the paper's pretext settings
            assert (cfg.ssl_input, cfg.ssl_augment, cfg.ssl_head_norm, cfg.ssl_head_dropout) == ("frames", "ssl", False, 0.5)
            assert tuple(cfg.ssl_speeds) == (1, 2, 4)
    course = preset("course", "pretrain", **{**sc.BASE, **sc.VARIANTS["course"][1]})
    today = preset("course", "pretrain")
    for key in sc.COURSE:  # the "course" variant is the preset as it ships
        assert getattr(course, key) == getattr(today, key) or list(getattr(course, key)) == list(getattr(today, key)), key
    assert build_pretrain_model(course).ssl_head.norm is not None


def test_ssl_causes_table():
    sc = load_bench_script("ssl_causes")
    rows = [{"variant": sc.RANDOM, "seed": 0, "R@1": 25.0},
            {"variant": "base", "seed": 0, "R@1": 40.0, "ssl_last20": 1.386, "machine": "m"},
            {"variant": "course", "seed": 0, "R@1": 50.0, "ssl_last20": 1.0},
            {"variant": "diff", "seed": 0, "R@1": 30.0, "ssl_last20": 1.39, "note": "measured before the fix"}]
    md = sc.table(rows, {0: 25.0})
    lines = md.splitlines()
    base = next(l for l in lines if l.startswith("| `base`"))
    course = next(l for l in lines if l.startswith("| `course`"))
    assert "| 0 | 1.386 | no | 40.0 (25.0) |" in base and "| 0 | 1.000 | yes | 50.0 (25.0) |" in course
    assert lines.index(base) < lines.index(next(l for l in lines if l.startswith("| `diff`"))) < lines.index(course)
    assert "30.0 (25.0) * |" in md and "\\* measured before the fix." in md
    assert not any(l.startswith(f"| `{sc.RANDOM}`") for l in lines)


def test_ssl_head_probe_fit_and_table():
    probe = load_bench_script("ssl_head_probe")
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (64,), generator=g)
    feats = torch.randn(64, 3, 8, generator=g)
    got = probe.fit_head((feats, labels), (feats, labels), steps=5, seed=0)
    assert set(got) == {"acc", "loss"} and 0 <= got["acc"] <= 100 and got["loss"] > 0
    rows = [dict(backbone="random init", c1=0.6, augment="light", features=f, steps=240, n_train=2560, n_test=512,
                 acc=a, loss=l) for f, a, l in (("plain", 25.0, 1.386), ("standardised", 40.1, 1.3))]
    md = probe.table(rows, "machine", "run-s0", "python bench/ssl_head_probe.py --checkpoint x")
    assert "| random init | 0.6 | light |  | standardised | 240 | 40.1 | 1.300 |" in md  # rows without speeds: blank
    assert "2560 from train videos" in md and f"{math.log(4):.3f}" in md
