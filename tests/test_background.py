"""Runs side by side (stclr.background): a pretraining in a child process gives the weights it gives in this
process, bit for bit; a failed child says why; finished runs are reused and interrupted ones resumed; shared
files written by two processes at once stay whole."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from stclr.background import BackgroundRunError, pretrain_side_by_side, spare_cpu_cores, start_engine_run
from stclr.config import preset
from stclr.runinfo import read_jsonl, write_json
from stclr.train import pretraining_status, run_or_resume_pretraining, run_pretrain


def tiny_cfg(root: Path, out: Path, method: str, steps: int = 3, **kw):
    # num_workers=1 as in the course: the child's loader must plan and augment exactly as the kernel's does.
    base = dict(method=method, epochs=steps, max_steps=steps, batch_size=4, clip_len=4, size=16, skips=(1, 2, 3),
                ssl_speeds=(1, 2, 4), proj_dim=16, show_progress=False, out_dir=str(out), run_name=method, seed=5)
    base.update(kw)
    return preset("course", **base, **{"data.root": str(root), "data.num_workers": 1})


def assert_same_run(a: Path, b: Path) -> None:
    sa, sb = (torch.load(p / "last.pt", weights_only=True) for p in (a, b))
    assert sa["step"] == sb["step"] and sa["model"].keys() == sb["model"].keys()
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    la, lb = (read_jsonl(p / "steps.jsonl") for p in (a, b))
    assert [r["loss"] for r in la] == [r["loss"] for r in lb]


def test_side_by_side_equals_one_after_the_other(synth, tmp_path):
    methods = ("ssl", "simplified_tclr")
    here = {m: run_pretrain(tiny_cfg(synth, tmp_path / "here", m)) for m in methods}
    cfgs = {m: tiny_cfg(synth, tmp_path / "side", m) for m in methods}
    runs = pretrain_side_by_side(cfgs, background=1, log_dir=tmp_path / "logs")
    assert list(runs) == list(methods) and runs["ssl"] == tmp_path / "side" / "ssl"
    for m in methods:
        assert_same_run(here[m], runs[m])
    assert (tmp_path / "logs" / "ssl.yaml").is_file() and (tmp_path / "logs" / "ssl.out").is_file()
    assert not (tmp_path / "logs" / "simplified_tclr.yaml").exists()  # that one trained in this process
    # Both finished: a second call reuses them and starts nothing.
    (tmp_path / "logs" / "ssl.yaml").unlink()
    assert pretrain_side_by_side(cfgs, background=1, log_dir=tmp_path / "logs") == runs
    assert not (tmp_path / "logs" / "ssl.yaml").exists()


def interrupt_at_step(monkeypatch, cfg, step: int) -> None:
    """Run ``cfg`` and interrupt it (as Ctrl-C would) while it computes optimiser step ``step``: its last.pt
    then holds step ``step - 1`` (every epoch of these runs is one step, and every epoch ends with a last.pt)."""
    import stclr.train as train

    calls, real = [], train.count_clips

    def count_clips(batch):
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        return real(batch)

    monkeypatch.setattr(train, "count_clips", count_clips)
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(cfg)
    monkeypatch.setattr(train, "count_clips", real)
    assert torch.load(Path(cfg.out_dir) / cfg.run_name / "last.pt", weights_only=True)["step"] == step - 1


def test_status_and_resume_of_an_interrupted_run(synth, tmp_path, monkeypatch):
    cfg = tiny_cfg(synth, tmp_path, "ssl", steps=4)
    assert pretraining_status(cfg) == "new"
    whole = run_pretrain(tiny_cfg(synth, tmp_path / "whole", "ssl", steps=4))
    interrupt_at_step(monkeypatch, cfg, 3)
    assert pretraining_status(cfg) == "interrupted"
    run = run_or_resume_pretraining(cfg)
    assert pretraining_status(cfg) == "finished"
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 4
    assert_same_run(whole, run)
    mtime = (run / "last.pt").stat().st_mtime_ns
    assert run_or_resume_pretraining(cfg) == run and (run / "last.pt").stat().st_mtime_ns == mtime  # reused


def test_interrupted_background_run_is_resumed(synth, tmp_path, monkeypatch):
    whole = run_pretrain(tiny_cfg(synth, tmp_path / "whole", "ssl", steps=4))
    interrupt_at_step(monkeypatch, tiny_cfg(synth, tmp_path / "side", "ssl", steps=4), 3)
    cfgs = {"ssl": tiny_cfg(synth, tmp_path / "side", "ssl", steps=4),
            "simplified_tclr": tiny_cfg(synth, tmp_path / "side", "simplified_tclr", steps=1)}
    runs = pretrain_side_by_side(cfgs, background=1, log_dir=tmp_path / "logs")
    assert "resume: true" in (tmp_path / "logs" / "ssl.yaml").read_text()
    assert_same_run(whole, runs["ssl"])


def test_a_failed_child_says_why(synth, tmp_path):
    cfg = tiny_cfg(tmp_path / "no-such-dataset", tmp_path, "ssl")
    here = tiny_cfg(synth, tmp_path, "simplified_tclr", steps=1)
    with pytest.raises(BackgroundRunError, match=r"(?s)exited with code [1-9].*dataset root not found: .*no-such-dataset"):
        pretrain_side_by_side({"ssl": cfg, "simplified_tclr": here}, background=1, log_dir=tmp_path / "logs")
    with pytest.raises(ValueError, match="command must be one of"):
        start_engine_run("train", cfg, tmp_path, "x")
    with pytest.raises(ValueError, match="background must be >= 0"):
        pretrain_side_by_side({}, background=-1, log_dir=tmp_path)


def test_children_are_stopped_when_the_run_here_fails(synth, tmp_path):
    cfgs = {"ssl": tiny_cfg(synth, tmp_path, "ssl", steps=200),
            "broken": tiny_cfg(tmp_path / "no-such-dataset", tmp_path, "simplified_tclr")}
    with pytest.raises(Exception, match="no-such-dataset"):
        pretrain_side_by_side(cfgs, background=1, log_dir=tmp_path / "logs")
    # The child was stopped, not left training: its run (if it started) is short of its 200 steps.
    assert pretraining_status(cfgs["ssl"]) in ("new", "interrupted")


def test_one_run_always_trains_here(synth, tmp_path):
    # Asked for more children than there are runs: the last run still trains in this process (no child for it).
    cfgs = {m: tiny_cfg(synth, tmp_path, m, steps=1) for m in ("ssl", "simplified_tclr")}
    pretrain_side_by_side(cfgs, background=8, log_dir=tmp_path / "logs")
    assert sorted(p.name for p in (tmp_path / "logs").glob("*.yaml")) == ["ssl.yaml"]


def test_spare_cpu_cores():
    assert 0 <= spare_cpu_cores() < 4096


def test_shared_json_written_by_many_writers_stays_whole(tmp_path):
    # Two processes side by side write the same frame-count cache; a temporary name shared by the writers
    # made one rename the other's file away (FileNotFoundError) or publish a half-written one.
    path, errors = tmp_path / "cache.json", []

    def writer(tag):
        try:
            for i in range(300):
                write_json(path, {"tag": tag, "i": i, "pad": "x" * 4096})
        except Exception as e:  # noqa: BLE001 - any failure of a writer fails the test
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:1]
    assert json.loads(path.read_text())["i"] == 299
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json"]  # no temporary files left behind
