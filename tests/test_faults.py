"""Runs that survive a real cluster (issue 23): a checkpoint write that fails (disk full), preemption by SIGTERM /
SIGINT, and videos that fail part-way through a run.

Every comparison with an uninterrupted run uses the kill-and-resume standard of tests/test_train.py: final weights
and optimiser state EQUAL (torch.equal), deterministic algorithms, num_workers=0, one thread.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from stclr import checkpoint as C
from stclr.config import apply_overrides, preset, save_yaml
from stclr.finetune import run_finetune
from stclr.runinfo import Preempted, read_jsonl, stop_on_signals
from stclr.train import run_pretrain
from test_train import (  # noqa: F401 (uninterrupted: a fixture)
    REPO, SLOW_AFTER_FIRST_CHECKPOINT, assert_same_weights, final_state, tiny_cfg, uninterrupted)

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


# ---------------------------------------------------------------------------------------- preemption

PREEMPT_CHILD = SLOW_AFTER_FIRST_CHECKPOINT + textwrap.dedent(
    """
    from stclr.cli import main
    raise SystemExit(main(["pretrain", "--config", sys.argv[1]]))
    """
)


@pytest.mark.slow
def test_sigterm_saves_at_a_step_boundary_exits_143_and_resumes_exactly(synth, tmp_path, uninterrupted):
    ref_run, ref = uninterrupted
    cfg = tiny_cfg(synth, tmp_path)
    cfg_file = tmp_path / "child.yaml"
    save_yaml(cfg, cfg_file)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", PREEMPT_CHILD, str(cfg_file), str(torch.get_num_threads())],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    last = tmp_path / "run" / "last.pt"
    try:
        deadline = time.time() + 60
        while not last.exists():  # the first checkpoint (epoch 1 done, 2 steps): training goes on slowly
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.time() < deadline, "no checkpoint appeared in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, out[-3000:]
    assert "SIGTERM: stopped after optimiser step" in out and "resume=true" in out
    at = final_state(tmp_path / "run")
    # a step boundary: the one in progress when the signal came (3 or 4), or 2 when it came during the first
    # checkpoint's epoch-end work, before step 3 began (a loaded machine does that)
    assert 2 <= at["step"] <= 4 and at["epoch"] * 2 + at["batch_in_epoch"] == at["step"]
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "steps.jsonl")] == list(range(1, at["step"] + 1))
    run_pretrain(apply_overrides(cfg, ["resume=true"]))
    assert_same_weights(final_state(tmp_path / "run"), ref)
    rows, ref_rows = read_jsonl(tmp_path / "run" / "metrics.jsonl"), read_jsonl(ref_run / "metrics.jsonl")
    assert [r["loss"] for r in rows] == [r["loss"] for r in ref_rows]


def _signal_at_step(k: int, signum: int):
    """An optimiser post-step hook that sends ``signum`` to this process after the ``k``-th step."""
    calls = [0]

    def hook(opt, args, kwargs):
        calls[0] += 1
        if calls[0] == k:
            signal.raise_signal(signum)

    return hook


def _signalling(build_optimizer, k: int, signum: int):
    """``build_optimizer`` whose optimisers send ``signum`` to this process after their ``k``-th step."""

    def build(cfg, params):
        opt = build_optimizer(cfg, params)
        opt.register_step_post_hook(_signal_at_step(k, signum))
        return opt

    return build


def test_sigint_in_pretraining_stops_in_process_with_code_130(synth, tmp_path, monkeypatch, uninterrupted):
    _, ref = uninterrupted
    from stclr import train

    monkeypatch.setattr(train, "build_optimizer", _signalling(train.build_optimizer, 3, signal.SIGINT))
    cfg = tiny_cfg(synth, tmp_path)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Preempted) as info:
        run_pretrain(cfg)
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are put back
    monkeypatch.undo()
    e = info.value
    assert (e.code, e.signum, e.step) == (130, signal.SIGINT, 3) and e.checkpoint == tmp_path / "run" / "last.pt"
    at = final_state(tmp_path / "run")
    assert (at["epoch"], at["batch_in_epoch"], at["step"]) == (1, 1, 3)  # mid-epoch, right after step 3
    run_pretrain(apply_overrides(cfg, ["resume=true"]))
    assert_same_weights(final_state(tmp_path / "run"), ref)


def test_a_second_signal_stops_at_once():
    with pytest.raises(KeyboardInterrupt):
        with stop_on_signals() as flag:
            signal.raise_signal(signal.SIGINT)
            assert flag.signum == signal.SIGINT  # the first one only asks
            signal.raise_signal(signal.SIGINT)
            time.sleep(1)  # the default handler raises here


def _finetune_cfg(root, out, name):
    return preset("course", "finetune", epochs=3, batch_size=4, clip_len=4, skip=2, resize=(20, 26), crop=16,
                  hidden=16, test_clips=2, out_dir=str(out), run_name=name, show_progress=False, deterministic=True,
                  **{"data.root": str(root), "data.num_workers": 0})


@pytest.mark.slow
def test_finetuning_time_budget_counts_across_resumes_like_pretraining(synth, tmp_path):
    """One Budget for both loops (issue 24): fine-tuning stopped by its time budget keeps a mid-epoch last.pt with
    the seconds it trained; resumed with the budget spent it trains nothing more (it used to restart the clock and
    train a second budget); resumed with the budget lifted it continues to the uninterrupted run. (OneCycle here:
    a cosine schedule under a time budget anneals by seconds, which no uninterrupted run can repeat.)"""
    ref_dir = run_finetune(apply_overrides(_finetune_cfg(synth, tmp_path, "ref"), ["scheduler=onecycle"]))
    cfg = apply_overrides(_finetune_cfg(synth, tmp_path, "budget"), ["scheduler=onecycle", "time_budget_s=0.001"])
    run = run_finetune(cfg)
    at = torch.load(run / "last.pt", weights_only=True)
    assert (at["epoch"], at["batch_in_epoch"], at["step"]) == (0, 1, 1) and at["extra"]["train_seconds"] >= 0.001
    assert [r["partial_epoch"] for r in read_jsonl(run / "metrics.jsonl")] == [True]
    assert json.loads((run / "metrics.json").read_text())["epochs_trained"] == 0

    run_finetune(apply_overrides(cfg, ["resume=true"]))  # budget spent: nothing to train, the test is run again
    again = torch.load(run / "last.pt", weights_only=True)
    assert again["step"] == 1
    assert_same_weights(again, at)

    run_finetune(apply_overrides(cfg, ["resume=true", "time_budget_s=null"]))
    assert_same_weights(torch.load(run / "last.pt", weights_only=True), torch.load(ref_dir / "last.pt", weights_only=True))
    ra, rb = (read_jsonl(d / "metrics.jsonl") for d in (run, ref_dir))
    assert [r["loss"] for r in ra] == [r["loss"] for r in rb] and not any(r["partial_epoch"] for r in ra)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (run, ref_dir))
    assert ma["test_predictions"] == mb["test_predictions"] and ma["epochs_trained"] == 3


@pytest.mark.slow
def test_sigterm_in_finetuning_resumes_mid_epoch_to_the_uninterrupted_run(synth, tmp_path, monkeypatch):
    from stclr import finetune

    ref_dir = run_finetune(_finetune_cfg(synth, tmp_path, "ref"))
    monkeypatch.setattr(finetune, "build_optimizer", _signalling(finetune.build_optimizer, 3, signal.SIGTERM))
    cfg = _finetune_cfg(synth, tmp_path, "cut")
    with pytest.raises(Preempted) as info:
        run_finetune(cfg)
    monkeypatch.undo()
    assert info.value.code == 143 and info.value.step == 3
    at = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)
    assert (at["epoch"], at["batch_in_epoch"], at["step"]) == (1, 1, 3)  # 2 steps per epoch: mid-epoch 2
    assert [r["epoch"] for r in read_jsonl(tmp_path / "cut" / "metrics.jsonl")] == [0]
    run_finetune(apply_overrides(cfg, ["resume=true"]))
    a, b = (torch.load(d / "last.pt", weights_only=True) for d in (tmp_path / "cut", ref_dir))
    assert_same_weights(a, b)
    ra, rb = (read_jsonl(d / "metrics.jsonl") for d in (tmp_path / "cut", ref_dir))
    assert [r["loss"] for r in ra] == [r["loss"] for r in rb]
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (tmp_path / "cut", ref_dir))
    assert ma["test_predictions"] == mb["test_predictions"] and ma["clip_accuracy"] == mb["clip_accuracy"]


def _ddp_preempt_worker(rank: int, world: int, port: int, cfg_file: str, out: str) -> None:
    from stclr import train
    from stclr.config import PretrainConfig, load_config

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    if rank == 1:  # only rank 1 is signalled (after its 3rd step); rank 0 must learn it and stop there too
        train.build_optimizer = _signalling(train.build_optimizer, 3, signal.SIGTERM)
    try:
        train.run_pretrain(load_config(PretrainConfig, cfg_file))
        result = {"code": 0}
    except Preempted as e:
        result = {"code": e.code, "step": e.step}
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    with open(f"{out}.{rank}", "w") as f:
        json.dump(result, f)


@pytest.mark.slow
def test_under_ddp_every_rank_stops_after_the_same_step(synth, tmp_path):
    import socket

    import torch.multiprocessing as mp

    cfg = tiny_cfg(synth, tmp_path, deterministic=False)
    save_yaml(cfg, tmp_path / "cfg.yaml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = mp.start_processes(_ddp_preempt_worker, args=(2, port, str(tmp_path / "cfg.yaml"), str(tmp_path / "r")),
                             nprocs=2, join=False, start_method=method)
    deadline = time.time() + 120
    try:
        while not ctx.join(timeout=1):  # a rank that stopped alone would leave the other hanging in all-reduce
            assert time.time() < deadline, "the ranks did not stop together"
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
    results = [json.loads((tmp_path / f"r.{r}").read_text()) for r in range(2)]
    assert results == [{"code": 143, "step": 3}] * 2
    at = final_state(tmp_path / "run")
    assert (at["epoch"], at["batch_in_epoch"], at["step"]) == (1, 1, 3)


# ---------------------------------------------------------------------------------------- bad videos mid-run

BAD = ("v_SlideThenHop_g03_c01.mp4", "v_HopThenSlide_g02_c02.mp4")  # 2 of the 8 training videos
BREAK_AT = 8  # they decode up to frame 7 and break at frame 8 (after passing the probe)


def _breaking_decoder(names=BAD, at=BREAK_AT):
    from stclr import video

    real = video.read_frames

    def read_frames(path, indices, **kw):
        if str(path).endswith(names) and int(max(indices)) >= at:
            raise video.VideoReadError(path, "decoding failed (InvalidDataError: Invalid data found when "
                                             "processing input)", frame=at)
        return real(path, indices, **kw)

    return read_frames


@pytest.mark.slow
def test_videos_failing_mid_decode_are_replaced_reported_and_resume_is_exact(synth, tmp_path, monkeypatch, capsys):
    from stclr import train, video

    monkeypatch.setattr(video, "read_frames", _breaking_decoder())
    ref_run = run_pretrain(tiny_cfg(synth, tmp_path / "a"))
    ref = final_state(ref_run)
    assert ref["step"] == 6  # finished: 3 epochs x 2 full batches
    report = json.loads((ref_run / "bad_videos.json").read_text())["videos"]
    assert sorted(e["path"].rsplit("/", 1)[1] for e in report) == sorted(BAD)
    assert all(e["kind"] == "decode_failed" and e["frame"] == BREAK_AT for e in report)
    log = capsys.readouterr().err
    for name in BAD:
        assert f"{name} failed to decode at frame {BREAK_AT}" in log
    skipped = sum(r["loader_videos_skipped"] for r in read_jsonl(ref_run / "metrics.jsonl"))
    assert skipped >= 2 and all(r["batches"] == 2 for r in read_jsonl(ref_run / "metrics.jsonl"))

    # interrupted after step 3 and resumed in a fresh dataset (which has seen no failure yet): the same run
    build = train.build_optimizer
    cfg = tiny_cfg(synth, tmp_path / "b")
    monkeypatch.setattr(train, "build_optimizer", _signalling(build, 3, signal.SIGINT))
    with pytest.raises(Preempted):
        run_pretrain(cfg)
    monkeypatch.setattr(train, "build_optimizer", build)
    run_pretrain(apply_overrides(cfg, ["resume=true"]))
    assert_same_weights(final_state(tmp_path / "b" / "run"), ref)
    again = json.loads((tmp_path / "b" / "run" / "bad_videos.json").read_text())["videos"]
    assert {e["path"] for e in again} == {e["path"] for e in report}


def test_on_bad_video_error_names_the_file_and_the_frame(synth, tmp_path, monkeypatch):
    from stclr import video
    from stclr.data.loader import BadVideoError

    monkeypatch.setattr(video, "read_frames", _breaking_decoder(at=0))
    with pytest.raises(BadVideoError, match=rf"({BAD[0]}|{BAD[1]}).*at frame 0.*on_bad_video='error'"):
        run_pretrain(tiny_cfg(synth, tmp_path, **{"data.on_bad_video": "error"}))
    from stclr.config import ConfigError

    with pytest.raises(ConfigError, match="on_bad_video"):
        tiny_cfg(synth, tmp_path, **{"data.on_bad_video": "skip"})


def test_a_mostly_unreadable_set_stops_with_a_clear_error(synth, tmp_path, monkeypatch):
    from stclr import video
    from stclr.data.loader import DatasetUnreadableError

    monkeypatch.setattr(video, "read_frames", _breaking_decoder(names=(".mp4",), at=0))  # every video
    with pytest.raises(DatasetUnreadableError, match="failed to decode|unreadable"):
        run_pretrain(tiny_cfg(synth, tmp_path))


def test_a_replacement_does_not_depend_on_what_the_process_saw_fail_before(synth, tmp_path, monkeypatch):
    """A worker that already saw video A fail and a fresh one (another worker, a resumed run) must build the same
    batch when video B fails: the replacement is drawn from the videos that passed the probe, A included."""
    import warnings

    from stclr import video
    from stclr.data.loader import BatchKey, PretrainDataset
    from stclr.data.splits import load_subset

    cfg = tiny_cfg(synth, tmp_path)
    split = load_subset(cfg.data, "train")
    names = tuple(it.path.rsplit("/", 1)[1] for it in split.items)
    a, b = 0, 1  # both break at frame 0, i.e. always
    monkeypatch.setattr(video, "read_frames", _breaking_decoder(names=(names[a], names[b]), at=0))

    def dataset():
        return PretrainDataset(split, method="stclr", plan=cfg, size=16, seed=3, augment="none",
                               frame_counts=[24] * len(split.items))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seen = dataset()
        seen[BatchKey(0, 0, (a, 2, 3, 4))]  # this process has now seen A fail
        for step in range(1, 9):
            key = BatchKey(0, step, (b, 5, 6, 7))
            got, fresh = seen[key], dataset()[key]
            assert got["index"].tolist() == fresh["index"].tolist(), step
            assert torch.equal(got["clips"], fresh["clips"])


@pytest.mark.slow
def test_finetuning_stops_on_a_video_failing_mid_decode_naming_the_file(synth, tmp_path, monkeypatch):
    # fine-tuning and evaluation never replace a video (a swapped test video would change the measured set):
    # they stop with the decoder's error, which names the file and the frame (config: data.on_bad_video)
    from stclr import video

    monkeypatch.setattr(video, "read_frames", _breaking_decoder(names=BAD, at=0))
    with pytest.raises(video.VideoReadError) as info:
        run_finetune(_finetune_cfg(synth, tmp_path, "bad"))
    assert any(name in str(info.value) for name in BAD), info.value
