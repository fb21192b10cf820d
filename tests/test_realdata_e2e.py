"""End to end on real videos: a UCF-101-layout tree made in a temp folder from the real MPEG-4 AVI files of
``../shared/realdata`` (symlinks; skipped when the folder is absent), then ``stclr pretrain`` a few steps,
``stclr retrieve`` and ``stclr finetune`` one epoch through the CLI, with every frame the engine decoded
checked against a plain sequential PyAV decode of the same video (the definition of frame i)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from stclr import video

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

# 3 classes x 3 real AVI videos (UCF-101's and HMDB-51's, all MPEG-4 Part 2 with B-frames); per class the
# g01 video is in the test list (UCF-101's split 1 tests g01-g07) and g08, g09 in the train list.
CLASSES = {
    "ApplyEyeMakeup": ["ucf101/videos/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
                       "hmdb51/videos/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
                       "hmdb51/videos/punch/AdvancedBoxingTechniquesandExercises_punch_u_nm_np1_ba_med_23.avi"],
    "BaseballPitch": ["ucf101/videos/BaseballPitch/v_BaseballPitch_g01_c01.avi",
                      "hmdb51/videos/swing_baseball/BaseballHitinSlowMotion_swing_baseball_f_nm_np1_fr_bad_0.avi",
                      "hmdb51/videos/golf/Golf_Tips_-_Hit_The_Driver_300+_Yards!!!_golf_f_nm_np1_fr_med_0.avi"],
    "RockClimbingIndoor": [
        "hmdb51/videos/climb/(HQ)_Rock_Climbing_-_Free_Solo_Speed_Climb_-_Dan_Osman_climb_f_cm_np1_le_med_2.avi",
        "hmdb51/videos/shoot_bow/6arrowswithin30seconds_shoot_bow_f_nm_np1_fr_med_3.avi",
        "hmdb51/videos/climb_stairs/Increase_stride_length_by_running_stairs__working_step_over_action_speed_"
        "development_climb_stairs_f_cm_np1_le_med_1.avi"],
}


def _make_ucf_tree(realdata: Path, root: Path) -> list[Path]:
    """root/UCF-101/<Class>/v_<Class>_gXX_c01.avi (symlinks) + root/ucfTrainTestlist (CRLF, as UCF-101)."""
    train, test, links = [], [], []
    for label, (cls, sources) in enumerate(CLASSES.items(), start=1):
        for group, src in zip((1, 8, 9), sources):
            rel = f"{cls}/v_{cls}_g{group:02d}_c01.avi"
            link = root / "UCF-101" / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to((realdata / src).resolve())
            links.append(link)
            (test if group == 1 else train).append(rel if group == 1 else f"{rel} {label}")
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    crlf = "\r\n"
    (lists / "classInd.txt").write_bytes("".join(f"{i} {c}{crlf}" for i, c in enumerate(CLASSES, 1)).encode())
    (lists / "trainlist01.txt").write_bytes("".join(f"{x}{crlf}" for x in train).encode())
    (lists / "testlist01.txt").write_bytes("".join(f"{x}{crlf}" for x in test).encode())
    return links


def _sequential(path: str, indices: np.ndarray) -> np.ndarray:
    """Frames ``indices`` of a plain sequential PyAV decode (stops after the last one needed)."""
    want = {int(i) for i in indices}
    last, got = max(want), {}
    with av.open(path) as c:
        for k, frame in enumerate(c.decode(video=0)):
            if k in want:
                got[k] = frame.to_ndarray(format="rgb24")
            if k >= last:
                break
    return np.stack([got[int(i)] for i in indices])


def test_pretrain_retrieve_finetune_on_real_avis(realdata, tmp_path, monkeypatch):
    from stclr.cli import main

    for sources in CLASSES.values():
        for src in sources:
            if not (realdata / src).is_file():
                pytest.skip(f"missing {src}")
    links = _make_ucf_tree(realdata, tmp_path / "ucf")

    # Record every decode the engine makes (all commands run in this process: num_workers=0).
    reads: list[tuple[str, np.ndarray, np.ndarray]] = []
    real_read = video.read_frames

    def recording_read(path, indices, *a, **k):
        out = real_read(path, indices, *a, **k)
        size = k.get("size", a[0] if a else None)
        assert size is None, "this test compares native-size frames"
        reads.append((str(path), np.asarray(indices, dtype=np.int64).copy(), out.numpy().copy()))
        return out

    monkeypatch.setattr(video, "read_frames", recording_read)
    runs = tmp_path / "runs"
    common = ["data.dataset=ucf101", f"data.root={tmp_path / 'ucf'}", "data.num_workers=0", "data.cache_mb=0",
              f"out_dir={runs}", "device=cpu", "cpu_threads=1", "show_progress=false"]
    assert main(["pretrain", "--preset", "course", *common, "run_name=pre", "epochs=1", "batch_size=2",
                 "max_steps_per_epoch=2", "clip_len=4", "size=16"]) == 0
    rows = [json.loads(x) for x in (runs / "pre" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    assert len(rows) == 1 and np.isfinite(rows[0]["loss"]) and rows[0]["batches"] == 2
    assert rows[0]["loader_videos_skipped"] == 0  # every real AVI decoded; none replaced
    assert (runs / "pre" / "last.pt").is_file()
    n_pretrain = len(reads)

    assert main(["retrieve", "--preset", "course", *common, f"checkpoint={runs / 'pre'}", "run_name=ret",
                 "n_clips=2", "clip_len=4", "size=16", "batch_size=3"]) == 0
    ret = json.loads((runs / "ret" / "metrics.json").read_text())
    assert {"R@1", "R@5"} <= set(ret) and 0 <= ret["R@1"] <= 100

    assert main(["finetune", "--preset", "course", *common, f"checkpoint={runs / 'pre'}", "run_name=ft",
                 "epochs=1", "batch_size=2", "clip_len=4", "crop=16", "resize=[20,20]", "test_clips=2",
                 "test_crops=1", "eval_batch_size=3"]) == 0
    ft = json.loads((runs / "ft" / "metrics.json").read_text())
    assert 0 <= ft["video_accuracy"] <= 100 and ft["epochs_trained"] == 1

    # every video was read, and every frame read equals the sequential decode's frame of that index
    assert n_pretrain >= 4 and len(reads) > n_pretrain
    assert {Path(p).name for p, _, _ in reads} == {link.name for link in links}
    for path, idx, frames in reads:
        assert np.array_equal(frames, _sequential(path, idx)), f"{Path(path).name}: frames {idx.tolist()}"
