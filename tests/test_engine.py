"""The parts the training loops share (stclr.engine), on their own: the budget, the run folder, the checkpoints
that keep the logs honest, the epoch's running sums. The loops themselves are tested end to end in test_train,
test_finetune and test_faults (resume, preemption, a full disk, the time budget across resumes)."""

from __future__ import annotations

import errno
import math

import pytest
import torch

from stclr import checkpoint as ckpt_lib
from stclr.config import preset
from stclr.engine import Budget, Checkpoints, EpochStats, ResumePoint, open_run, resume_from, seed_epoch
from stclr.runinfo import read_jsonl


def test_budget_stops_at_the_first_limit_reached():
    assert Budget(epochs=5).epochs_left(ResumePoint()) == range(0, 5)
    assert Budget(epochs=5).epochs_left(ResumePoint(epoch=3, batch=2)) == range(3, 5)  # the resumed epoch runs on
    assert Budget(epochs=5).epochs_left(ResumePoint(epoch=5)) == range(5, 5)
    assert Budget(epochs=5, max_steps=10).epochs_left(ResumePoint(epoch=1, step=10)) == range(0)
    assert Budget(epochs=5, max_steps=10).epochs_left(ResumePoint(epoch=1, step=9)) == range(1, 5)
    # seconds count across resumes: a checkpoint that trained 30 s has spent a 30-second budget
    assert Budget(epochs=5, seconds=30.0).epochs_left(ResumePoint(epoch=1, trained_s=30.0)) == range(0)
    assert Budget(epochs=5, seconds=30.0).epochs_left(ResumePoint(epoch=1, trained_s=29.0)) == range(1, 5)


def test_budget_says_why_nothing_is_left(capsys):
    Budget(epochs=5, seconds=30.0).epochs_left(ResumePoint(trained_s=31.0), say=True)
    assert "time budget of 30s already spent (31s trained): nothing to do" in capsys.readouterr().out
    Budget(epochs=5, max_steps=4).epochs_left(ResumePoint(step=4), say=True)
    assert "max_steps 4 already reached (4 steps trained): nothing to do" in capsys.readouterr().out


def test_budget_counts_epochs_to_run_and_seconds():
    # 10 steps left at 3 steps an epoch: 4 epochs run (the last one stops at max_steps)
    assert Budget(epochs=20, max_steps=16).epochs_to_run(ResumePoint(epoch=2, step=6), steps_per_epoch=3) == 4
    assert Budget(epochs=3).epochs_to_run(ResumePoint(), steps_per_epoch=3) == 3
    b = Budget(epochs=1, seconds=100.0, trained_s=40.0)
    assert 40.0 <= b.elapsed() < 41.0 and not b.time_up(torch.device("cpu"))
    b.started -= 60.0  # as if this process had trained for a minute
    assert b.time_up(torch.device("cpu"))
    assert Budget.of(preset("course", "finetune", time_budget_s=5.0), ResumePoint(trained_s=2.0)).max_steps is None


def test_open_run_refuses_a_folder_with_a_run_unless_resuming(tmp_path):
    cfg = preset("course", "pretrain", out_dir=str(tmp_path), run_name="r")
    run = open_run(cfg, "unused")
    assert run.dir == tmp_path / "r" and run.dir.is_dir() and run.is_main and run.last == run.dir / "last.pt"
    (run.dir / ".last.pt.123.tmp").write_bytes(b"half")  # a checkpoint write killed half-way
    run.last.write_bytes(b"x")
    with pytest.raises(FileExistsError, match="resume=true"):
        open_run(cfg, "unused")
    open_run(preset("course", "pretrain", out_dir=str(tmp_path), run_name="r", resume=True), "unused")
    assert not (run.dir / ".last.pt.123.tmp").exists()
    # an evaluation never refuses (it has no last.pt to protect) and names its folder itself without run_name
    ev = open_run(preset("course", "retrieval", out_dir=str(tmp_path)), "retrieval-x", training=False)
    assert ev.dir == tmp_path / "retrieval-x"


def _parts():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return {"model": model, "optimizer": optimizer, "scheduler": None}


def test_checkpoints_cut_the_logs_back_when_last_pt_cannot_be_written(tmp_path, monkeypatch):
    cfg = preset("course", "pretrain", out_dir=str(tmp_path), run_name="r")
    run = open_run(cfg, "unused")
    at = ResumePoint()
    ckpts = Checkpoints(run, cfg, Budget.of(cfg, at), at, step_log=True, **_parts())
    for step in (1, 2):
        ckpts.steps.write({"step": step, "loss": 1.0})
    ckpts.epochs.write({"epoch": 0, "step": 2, "loss": 1.0})
    ckpts.save(1, 2)  # epoch 0 done at step 2
    for step in (3, 4):
        ckpts.steps.write({"step": step, "loss": 0.5})
    ckpts.epochs.write({"epoch": 1, "step": 4, "loss": 0.5})

    def full_disk(path, **parts):
        raise ckpt_lib.CheckpointWriteError(path, OSError(errno.ENOSPC, "No space left on device"), 10, 0)

    monkeypatch.setattr(ckpt_lib, "save_checkpoint", full_disk)
    with pytest.raises(ckpt_lib.CheckpointWriteError):
        ckpts.save(2, 4)
    # the folder reads as the run that last.pt continues: epoch 0, steps 1-2
    assert [r["epoch"] for r in read_jsonl(run.dir / "metrics.jsonl")] == [0]
    assert [r["step"] for r in read_jsonl(run.dir / "steps.jsonl")] == [1, 2]
    assert torch.load(run.last, weights_only=True)["step"] == 2


def test_resume_from_restores_a_mid_epoch_point(tmp_path):
    cfg = preset("course", "pretrain", out_dir=str(tmp_path), run_name="r")
    run = open_run(cfg, "unused")
    parts = _parts()
    stats = EpochStats()
    stats.add({"total": 2.0}, clips=8, compute_s=0.5, wait_s=0.1)
    ckpts = Checkpoints(run, cfg, Budget(epochs=20, trained_s=12.0), ResumePoint(), **parts)
    ckpts.save(3, 50, batch_in_epoch=2, stats=stats, best_loss=1.5)
    fresh = _parts()
    assert resume_from(run, cfg, **fresh) == ResumePoint()  # resume off: the start
    cfg.resume = True
    at = resume_from(run, cfg, **fresh)
    assert (at.epoch, at.step, at.batch, at.best) == (3, 50, 2, 1.5) and at.trained_s >= 12.0
    assert EpochStats(**at.epoch_stats).means() == {"total": 2.0} and at.rng is not None
    assert torch.equal(fresh["model"].weight, parts["model"].weight)
    # the random streams continue as saved
    torch.manual_seed(0)
    expected = torch.rand(3)
    seed_epoch(cfg.seed, 3, 0, at, first_batch=2)
    again = torch.rand(3)
    ckpt_lib.set_rng_state(at.rng)
    assert torch.equal(again, torch.rand(3)) and not torch.equal(again, expected)


def test_epoch_stats_means_and_throughput():
    s = EpochStats()
    assert s.means() == {} and s.throughput() is None
    s.add({"loss": 1.0, "correct": 3}, clips=4, compute_s=1.0, wait_s=1.0)
    s.add({"loss": 2.0, "correct": 1}, clips=4, compute_s=1.0, wait_s=1.0)
    assert s.means() == {"loss": 1.5, "correct": 2.0} and s.throughput() == 2.0
    assert EpochStats(**s.state()) == s
    assert math.isclose(100.0 * s.sums["correct"] / s.clips, 50.0)
