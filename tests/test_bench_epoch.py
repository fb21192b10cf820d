"""bench/epoch.py: its CPU mode end to end at the tiniest sizes (data made in a temp folder, nothing written)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "epoch.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_epoch", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_cpu_mode_tiny(tmp_path):
    md = tmp_path / "benchmarks.md"
    threads = torch.get_num_threads()
    try:
        res = _load().main(["--mode", "cpu", "--no-write", "--out-md", str(md), "--work", str(tmp_path / "w"),
                            "--classes", "2", "--videos-per-class", "4", "--frames", "40", "--frame-size", "80x60",
                            "--batch", "2", "--clip-len", "4", "--size", "16", "--workers", "0", "--epochs", "1",
                            "--ckpt-steps", "1", "--profile-batches", "1"])
    finally:
        torch.set_num_threads(threads)
    assert not md.exists()  # --no-write
    # the AVI set (MPEG-4 Part 2 with B-frames, UCF-101 layout) and its prepared H.264 copy were made
    avis = sorted((tmp_path / "w").glob("ucf_like_*[!4]/UCF-101/*/*.avi"))
    mp4s = sorted((tmp_path / "w").glob("ucf_like_*_h264/UCF-101/*/*.mp4"))
    assert len(avis) == len(mp4s) == 8
    from stclr.video import probe

    assert probe(avis[0]).codec == "mpeg4" and probe(avis[0]).has_b_frames and probe(mp4s[0]).codec == "h264"
    rows = res["results"]
    assert [(r["data"], r["augment"], r["method"]) for r in rows] == [
        ("avi", "cpu", "stclr"), ("avi", "cpu", "simplified_tclr"),
        ("h264", "cpu", "stclr"), ("h264", "cpu", "simplified_tclr"),
        ("h264", "gpu", "stclr"), ("h264", "gpu", "simplified_tclr")]
    for r in rows:
        m = r["metrics"]
        assert m["steps"] == 2 and m["clips_per_s"] > 0 and 0 <= m["data_wait_frac"] <= 1 and m["cpu_ms_per_step"] > 0
        assert m["gpu_busy_frac"] is None and m["loader_cpu_ms_per_video"] > 0
        assert m["videos_opened_per_video"] == 1.0  # each video opened once per batch
        steps = 9537 // 2
        assert m["ucf_epoch_min"] == pytest.approx(steps * m["step_ms"] / 1e3 / 60)
        assert m["clips_per_step"] == 2 * (10 + 3 if r["method"] == "stclr" else 10)
    assert set(res["profile"]) == {"avi", "h264"}
    for p in res["profile"].values():
        assert p["decode"] > 0 and p["augment"] > 0
        assert p["total"] == pytest.approx(p["decode"] + p["augment"] + p["other"])
    assert [c["checkpointing"] for c in res["checkpointing"]] == [False, True]
    body = res["body"]
    assert "Table 6" in body and "34.36" in body and "Where the time goes" in body and "Simplified TCLR epoch" in body
