"""Faults a cluster injects, each on a tiny synthetic pretraining run (issue 23): does the run finish, and what is lost?

Cases (each against the same run without that fault, seed 3, 3 epochs x 2 steps, deterministic, 1 thread):

- disk full: the write of epoch 2's ``last.pt`` fails with ENOSPC (``torch.save`` raises after writing part of the
  file); the run stops with ``CheckpointWriteError``; the space is "freed" and the run resumed.
- SIGTERM: the process signals itself after optimiser step 3 (a scheduler's preemption notice); the run saves at
  that step boundary and raises ``Preempted`` (exit code 143); it is resumed.
- bad videos: 2 of the 8 training videos pass the probe and break at frame 8 while a batch decodes them
  (``data.on_bad_video=replace``): the run replaces them and lists them in ``bad_videos.json``; and the same
  with a SIGTERM after step 3 and a resume (compared with the bad-video run without SIGTERM).

Reported per case: runs finished (after the resume, if any), batches lost (optimiser steps the finished run never
took), checkpoints lost (a ``last.pt`` that does not load after the fault), failed writes, steps redone (trained
before the fault, not in the last checkpoint, trained again after the resume), videos replaced, and whether the
final weights and optimiser state EQUAL the run without that fault (torch.equal).

    .venv/bin/python bench/faults.py              # ~1 minute on 2 cores; writes the "faults" section
    .venv/bin/python bench/faults.py --no-write   # print only
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import shutil
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

WORK = REPO / "bench" / "_work" / "faults"
BAD = ("v_SlideThenHop_g03_c01.mp4", "v_HopThenSlide_g02_c02.mp4")


STEPS = 6  # 3 epochs x 2 steps


def cfg_for(root: Path, out: Path, **kw):
    from stclr.config import preset

    base = dict(epochs=3, batch_size=4, clip_len=4, size=16, skips=(1, 2, 3), ssl_speeds=(1, 2, 4), proj_dim=16,
                deterministic=True, show_progress=False, out_dir=str(out), run_name="run", seed=3, cpu_threads=1)
    base.update(kw)
    return preset("course", **base, **{"data.root": str(root), "data.num_workers": 0})


def final(run: Path) -> dict:
    return torch.load(run / "last.pt", weights_only=True)


def same(a: dict, b: dict) -> bool:
    if (a["epoch"], a["step"]) != (b["epoch"], b["step"]) or a["model"].keys() != b["model"].keys():
        return False
    if not all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]):
        return False
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    return all(torch.equal(torch.as_tensor(sa[i][k]), torch.as_tensor(sb[i][k])) for i in sa for k in sa[i])


class Steps:
    """Counts optimiser steps (and optionally signals this process after step ``signal_at``) via a post-step hook
    on every optimiser ``stclr.train.build_optimizer`` builds."""

    def __init__(self, signal_at: int | None = None):
        from stclr import train

        self.n, self.signal_at, self.train, self.build = 0, signal_at, train, train.build_optimizer

    def __enter__(self):
        def build(cfg, params):
            opt = self.build(cfg, params)
            opt.register_step_post_hook(self.hook)
            return opt

        self.train.build_optimizer = build
        return self

    def hook(self, *_):
        self.n += 1
        if self.n == self.signal_at:
            signal.raise_signal(signal.SIGTERM)

    def __exit__(self, *exc):
        self.train.build_optimizer = self.build


def disk_full_at_epoch(epoch: int):
    real = torch.save
    failed = [0]

    def save(obj, f, *a, **k):
        if isinstance(f, io.BufferedWriter) and isinstance(obj, dict) and obj.get("epoch") == epoch and not failed[0]:
            failed[0] += 1
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *a, **k)

    return save, failed


def breaking_decoder(at: int = 8):
    from stclr import video

    real = video.read_frames

    def read_frames(path, indices, **kw):
        if str(path).endswith(BAD) and int(max(indices)) >= at:
            raise video.VideoReadError(path, "decoding failed (injected)", frame=at)
        return real(path, indices, **kw)

    return read_frames


def replaced(run: Path) -> int:
    from stclr.runinfo import read_jsonl

    return int(sum(r.get("loader_videos_skipped", 0) for r in read_jsonl(run / "metrics.jsonl")))


def run_case(name: str, root: Path, *, fault: str, bad_videos: bool, reference: dict | None) -> dict:
    import warnings

    from stclr import checkpoint as C
    from stclr import video
    from stclr.config import apply_overrides
    from stclr.runinfo import Preempted
    from stclr.train import run_pretrain

    out = WORK / "".join(c if c.isalnum() else "-" for c in name).strip("-")
    shutil.rmtree(out, ignore_errors=True)
    cfg = cfg_for(root, out)
    real_read, real_save = video.read_frames, torch.save
    if bad_videos:
        video.read_frames = breaking_decoder()
    failed_writes, redone, stopped, ckpt_lost = 0, 0, None, 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Steps(signal_at=3 if fault == "sigterm" else None) as steps:
                save, failed = disk_full_at_epoch(2)
                if fault == "disk_full":
                    torch.save = save
                try:
                    run_pretrain(cfg)
                except (C.CheckpointWriteError, Preempted) as e:
                    stopped = type(e).__name__
                finally:
                    torch.save = real_save
            failed_writes = failed[0]
            if stopped:
                try:  # the checkpoint the fault left must load: a good checkpoint lost is what must never happen
                    redone = steps.n - final(out / "run")["step"]  # trained, then not in the checkpoint
                except Exception:  # noqa: BLE001
                    ckpt_lost = 1
                run_pretrain(apply_overrides(cfg, ["resume=true"]))
    finally:
        video.read_frames = real_read
    end = final(out / "run")
    report = out / "run" / "bad_videos.json"
    return {
        "case": name,
        "stopped_with": stopped,
        "finished": int(end["step"] == STEPS and end["epoch"] == 3),
        "batches_lost": STEPS - end["step"] if end["epoch"] == 3 else None,  # optimiser steps the run never took
        "checkpoints_lost": ckpt_lost,
        "failed_writes": failed_writes,
        "steps_redone": redone,
        "videos_replaced": replaced(out / "run"),
        "bad_videos_listed": len(json.loads(report.read_text())["videos"]) if report.exists() else 0,
        "equal_to_reference": None if reference is None else same(end, reference),
        "_state": end,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset

    root = WORK / "synth"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        make_synthetic_dataset(root, SynthConfig(num_classes=2, videos_per_class=6, num_frames=24, size=32,
                                                 clips_per_group=2, test_groups=1), show_progress=False)
    rows = []
    clean = run_case("none", root, fault="none", bad_videos=False, reference=None)
    rows.append(clean)
    rows.append(run_case("disk full (ENOSPC) at epoch 2's last.pt", root, fault="disk_full", bad_videos=False,
                         reference=clean["_state"]))
    rows.append(run_case("SIGTERM after step 3", root, fault="sigterm", bad_videos=False, reference=clean["_state"]))
    bad = run_case("2 of 8 videos break at frame 8", root, fault="none", bad_videos=True, reference=None)
    rows.append(bad)
    rows.append(run_case("2 of 8 videos break at frame 8 + SIGTERM after step 3", root, fault="sigterm",
                         bad_videos=True, reference=bad["_state"]))
    for r in rows:
        r.pop("_state")
        print(json.dumps(r))

    from _report import machine_line, write_section

    yes = {True: "yes", False: "**no**", None: "(reference)"}
    lines = [
        "## faults",
        "",
        f"`python bench/faults.py` · {machine_line()}",
        "",
        "Tiny synthetic pretraining (8 training videos, 3 epochs x 2 steps, seed 3, deterministic, 1 thread). "
        "Batches lost: optimiser steps the finished run never took (a batch dropped or skipped); checkpoints lost: "
        "a `last.pt` that did not load after the fault. Failed writes: checkpoint saves the fault made fail; steps "
        "redone: optimiser steps trained before the fault and again after the resume (they were not in the last "
        "checkpoint). Equal: final weights and optimiser "
        "state torch.equal to the same run without the interruption. Videos replaced: the sum of metrics.jsonl's "
        "`loader_videos_skipped`; the loader's counters are not checkpointed, so after a mid-epoch resume they count "
        "only the batches loaded after it (5 of the 7 replacements here; the batches themselves are the same).",
        "",
        "| fault injected | stopped with | runs finished | batches lost | checkpoints lost | failed writes "
        "| steps redone | videos replaced | in bad_videos.json | equal after resume |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['case']} | {r['stopped_with'] or '-'} | {r['finished']}/1 | {r['batches_lost']} | "
                     f"{r['checkpoints_lost']} | {r['failed_writes']} | {r['steps_redone']} | "
                     f"{r['videos_replaced']} | {r['bad_videos_listed']} | "
                     f"{yes[r['equal_to_reference']]} |")
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section("faults", md)


if __name__ == "__main__":
    main()
