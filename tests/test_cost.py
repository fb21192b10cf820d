"""stclr.cost: the paper's Table 7 cell for cell, its truncation rule, measured clip FLOPs, videos read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stclr.cost import (
    TABLE6,
    X_PAPER_GFLOPS,
    batch_gflops,
    clip_flops,
    gl_flops,
    ic_flops,
    ll_flops,
    ssl_flops,
    table7,
    truncate_mflops,
    videos_read_per_epoch,
)
from stclr.models import build_backbone

# Table 7 as printed: method, input clips, IC, GL, LL, SSL, total (MegaFLOPs).
PAPER_TABLE7 = [
    ("TCLR", 400, 1.663, 0.169, 0.664, None, 2.498),
    ("Simplified TCLR", 380, 1.501, None, 0.986, None, 2.488),
    ("STCLR", 494, 1.501, None, 0.986, 0.0006, 2.489),
]


def test_formulas():
    assert ic_flops(40, 128) == 8 * 1600 * 128 + 16 * 1600 - 240 == 1_663_760
    assert ll_flops(38, 5, 128) == 38 * (8 * 25 * 128 + 16 * 25 - 30) == 986_860
    assert gl_flops(40) == 169_920 and ssl_flops(38) == 646


def test_table7_equals_the_paper():
    got = [(r["method"], r["input_clips"], r["ic"], r["gl"], r["ll"], r["ssl"], r["total"]) for r in table7()]
    assert got == PAPER_TABLE7
    assert [repr(r["ssl"]) for r in table7()] == ["None", "None", "0.0006"]


def test_table7_truncation_rule():
    # Cells are truncated, not rounded: rounding would print 1.664, 0.170, 0.665, 0.987.
    rows = table7()
    assert [round(r["ic_flops"] / 1e6, 3) for r in rows] == [1.664, 1.502, 1.502]
    assert truncate_mflops(1_663_760) == Decimal("1.663") and truncate_mflops(646) == Decimal("0.0006")
    assert truncate_mflops(999) == Decimal("0.0009") and truncate_mflops(1000) == Decimal("0.001")
    # Totals truncate the EXACT sum, not the sum of the printed cells (2.496 / 2.487 / 2.4876).
    for r in rows:
        printed_sum = sum(r[k] for k in ("ic", "gl", "ll", "ssl") if r[k] is not None)
        assert round(printed_sum, 4) < r["total"] == float(truncate_mflops(r["loss_flops"]))


def test_table7_text_claims():
    tclr, simple, stclr = table7()
    # "The Simplified TCLR requires 20X less FLOPs than the TCLR, while the STCLR requires 94X more" ...
    assert tclr["input_clips"] - simple["input_clips"] == 20 and stclr["input_clips"] - tclr["input_clips"] == 94
    # ... "saving 5176.8 GFLOPs"
    assert batch_gflops(tclr) - batch_gflops(simple) == pytest.approx(5176.8, abs=0.01)


def test_videos_read_per_epoch():
    n = 9538
    assert videos_read_per_epoch(n, c1=0.0) == 2 * n  # "reading 2N videos ... when C1 equals zero"
    assert videos_read_per_epoch(n, c1=1.0) == 4 * n  # N + K N
    assert videos_read_per_epoch(n, c1=0.6) == pytest.approx(3.2 * n)
    assert videos_read_per_epoch(n, c1=0.6, plan="batch") == n
    with pytest.raises(ValueError):
        videos_read_per_epoch(n, plan="lazy")


def test_table6_data():
    assert [(r["method"], r["c1"], r["epoch_min"]) for r in TABLE6][-1] == ("STCLR", 1.0, 43.32)
    assert len(TABLE6) == 5 and all(r["gpu_gb"] > 46 for r in TABLE6)


def test_clip_flops_meta_equals_real_device():
    net = build_backbone("r3d_tiny", widths=(4, 8, 8, 16), layers=(1, 1, 1, 1))
    meta = clip_flops(net, (3, 8, 32, 32))
    assert meta == clip_flops(net, (3, 8, 32, 32), device="cpu") > 0
    assert clip_flops(net, (2, 3, 8, 32, 32)) == meta  # per clip
    fwd = clip_flops(net, (3, 8, 32, 32), backward=False)
    assert 2 * fwd < meta < 3 * fwd  # backward ~2x forward, minus the stem's unneeded input gradient
    assert next(net.parameters()).device.type == "cpu"  # the model itself is untouched


def test_r3d_18_clip_flops_vs_paper():
    # On the meta device nothing is computed: well under a second, so not marked slow.
    gflops = clip_flops(build_backbone("r3d_18"), (3, 16, 112, 112)) / 1e9
    print(f"\nR3D-18 16x112x112 fwd+bwd: {gflops:.2f} GFLOPs measured vs X = {X_PAPER_GFLOPS} in the paper "
          f"(paper / measured = {X_PAPER_GFLOPS / gflops:.4f})")
    assert gflops == pytest.approx(241.35, abs=0.01)
    assert X_PAPER_GFLOPS / gflops == pytest.approx(1.0725, abs=1e-4)
