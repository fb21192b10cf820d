"""Runs that survive a real cluster (issue 23): a checkpoint write that fails (disk full), preemption by SIGTERM /
SIGINT, and videos that fail part-way through a run.

Every comparison with an uninterrupted run uses the kill-and-resume standard of tests/test_train.py: final weights
and optimiser state EQUAL (torch.equal), deterministic algorithms, num_workers=0, one thread.
"""

from __future__ import annotations

import errno
import io

import pytest
import torch

from stclr import checkpoint as C
from stclr.config import apply_overrides
from stclr.runinfo import read_jsonl
from stclr.train import run_pretrain
from test_train import assert_same_weights, final_state, tiny_cfg, uninterrupted  # noqa: F401 (a fixture)

_real_save = torch.save


def _disk_full_on(when):
    """A torch.save that, for a real file and when ``when(obj)`` holds, writes part of the file and then fails
    like a full disk; every other call (the size measurement of the error message) is the real one."""

    def save(obj, f, *a, **k):
        if isinstance(f, io.BufferedWriter) and when(obj):
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return _real_save(obj, f, *a, **k)

    return save


# ---------------------------------------------------------------------------------------- checkpoint writes


def test_disk_full_keeps_the_old_checkpoint_and_says_how_much_space_is_needed(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    C.atomic_save({"v": torch.tensor(1)}, path)
    new = {"v": torch.arange(1000)}
    monkeypatch.setattr(torch, "save", _disk_full_on(lambda obj: True))
    with pytest.raises(C.CheckpointWriteError) as info:
        C.atomic_save(new, path)
    monkeypatch.undo()
    e = info.value
    assert isinstance(e, OSError) and e.errno == errno.ENOSPC
    buf = io.BytesIO()
    torch.save(new, buf)
    assert e.needed_bytes == len(buf.getvalue()) and e.free_bytes is not None and e.free_bytes > 0
    msg = str(e)
    assert "no space left on device" in msg and str(len(buf.getvalue())) in msg and "free" in msg
    assert "last.pt is untouched" in msg and "resume=true" in msg
    assert torch.load(path, weights_only=True)["v"].item() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_stale_temporary_files_of_a_killed_write_are_removed(tmp_path):
    for name in (".last.pt.abc123.tmp", ".best.pt.x.tmp", "notes.tmp", "last.pt"):
        (tmp_path / name).write_bytes(b"x")
    removed = C.remove_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == [".best.pt.x.tmp", ".last.pt.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "notes.tmp"]


def test_pretraining_stopped_by_a_full_disk_keeps_its_logs_consistent_and_resumes_exactly(synth, tmp_path,
                                                                                          monkeypatch, uninterrupted):
    _, ref = uninterrupted
    cfg = tiny_cfg(synth, tmp_path)
    # the disk fills up when epoch 2's last.pt is written (epoch 1's went through)
    monkeypatch.setattr(torch, "save", _disk_full_on(lambda obj: isinstance(obj, dict) and obj.get("epoch") == 2))
    with pytest.raises(C.CheckpointWriteError, match="no space left on device"):
        run_pretrain(cfg)
    monkeypatch.undo()
    run = tmp_path / "run"
    at = final_state(run)
    assert (at["epoch"], at["batch_in_epoch"], at["step"]) == (1, 0, 2)
    # no epoch row and no step past what last.pt holds (both were logged before the failed write)
    assert [r["epoch"] for r in read_jsonl(run / "metrics.jsonl")] == [0]
    assert [r["step"] for r in read_jsonl(run / "steps.jsonl")] == [1, 2]
    assert not list(run.glob(".*.tmp"))
    (run / ".last.pt.killed.tmp").write_bytes(b"a write killed mid-way")
    run_pretrain(apply_overrides(cfg, ["resume=true"]))
    assert_same_weights(final_state(run), ref)
    assert [r["step"] for r in read_jsonl(run / "steps.jsonl")] == list(range(1, ref["step"] + 1))
    assert not list(run.glob(".*.tmp"))
