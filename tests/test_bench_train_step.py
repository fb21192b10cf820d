"""bench/train_step.py: the cpu mode's result structure, the gpu path's logic on a CPU, and its imports."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "train_step.py"
TINY = ["--batch", "2", "--warmup", "1", "--steps", "1", "--size", "16", "--no-write"]


def _load():
    spec = importlib.util.spec_from_file_location("bench_train_step", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cpu_mode_result_structure():
    threads = torch.get_num_threads()
    res = _load().main(["--mode", "cpu", "--no-data", *TINY])
    torch.set_num_threads(threads)
    rows = res["results"]
    assert res["mode"] == "cpu" and [r["method"] for r in rows] == ["stclr"] * 2 + ["simplified_tclr"] * 2
    assert [r["layout"] for r in rows] == ["contiguous", "channels_last_3d"] * 2
    for r in rows:
        assert r["data"] == "excluded" and r["clips_per_s"] > 0 and r["step_ms"] > 0
    cl = rows[1]
    assert cl["speedup_vs_contiguous"] == rows[0]["step_ms"] / cl["step_ms"]
    # 2 videos x (5 local clips x 2 views) [+ 3 SSL clips]: the course config's N = 5 ("medium" skips)
    assert [r["clips"] for r in rows] == [2 * 13] * 2 + [2 * 10] * 2
    md = _load().table(rows, cpu=True)
    assert "| stclr | excluded | channels_last_3d | 26 |" in md and md.count("x |") == 2


def test_gpu_path_on_cpu_reports_oom_and_imports_no_decoder(tmp_path, monkeypatch):
    # The gpu path, forced onto the CPU, in a process where importing av or decord fails.
    out = tmp_path / "r.json"
    code = ("import sys, runpy; sys.modules['av'] = None; sys.modules['decord'] = None; "
            f"sys.argv = ['train_step.py'] + {['--mode', 'gpu', '--device', 'cpu', '--arch', 'r3d_tiny', '--clip-len', '8', '--methods', 'stclr', '--threads', '1', '--json', str(out), *TINY]!r}; "
            f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())["results"]
    assert [(r["precision"], r["status"]) for r in rows] == [("fp32", "ok"), ("bf16", "ok")]
    assert rows[0]["speedup_vs_fp32"] == 1.0 and rows[1]["clips_per_s"] > 0

    # An out-of-memory configuration is reported, and the next one still runs.
    mod = _load()
    real = mod.timed

    calls = []

    def first_call_ooms(*a, **k):  # the first configuration run is fp32
        calls.append(1)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*a, **k)

    monkeypatch.setattr(mod, "timed", first_call_ooms)
    res = mod.main(["--mode", "gpu", "--device", "cpu", "--arch", "r3d_tiny", "--clip-len", "8", "--methods", "stclr", *TINY])
    assert [(r["precision"], r["status"][:3]) for r in res["results"]] == [("fp32", "OOM"), ("bf16", "ok")]
    assert "OOM" in mod.table(res["results"], cpu=False)
