"""prepare_dataset (transcode a tree to H.264 MP4, resumable, kill-safe) and check_dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from stclr.data.prepare import TMP_TAG, check_dataset, find_videos, prepare_dataset
from stclr.data.splits import PREPARED_MARKER, load_split
from stclr.fixtures import frame_indices_of, write_index_video, write_text_file, write_truncated_copy
from stclr.video import clear_probe_cache, probe, read_frames

SPLITS = {
    "classInd.txt": b"1 Alpha\r\n2 Beta\r\n",
    "trainlist01.txt": b"Alpha/v_Alpha_g01_c01.avi 1\r\nBeta/v_Beta_g01_c01.avi 2\r\n",
    "testlist01.txt": b"Beta/v_Beta_g02_c01.mkv\r\n",
}


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """A tiny UCF-101-style tree: MPEG-4 Part 2 AVIs with B-frames (like the real ones), an MKV, split files."""
    root = tmp_path_factory.mktemp("src")
    vids = root / "UCF-101"
    write_index_video(vids / "Alpha/v_Alpha_g01_c01.avi", 40, codec="mpeg4", size=(48, 64))
    write_index_video(vids / "Beta/v_Beta_g01_c01.avi", 33, codec="mpeg4", size=(64, 48))
    write_index_video(vids / "Beta/v_Beta_g02_c01.mkv", 20, codec="h264", size=(48, 64))
    for name, data in SPLITS.items():
        (root / "ucfTrainTestlist").mkdir(exist_ok=True)
        (root / "ucfTrainTestlist" / name).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def prepared(src, tmp_path_factory):
    dst = tmp_path_factory.mktemp("dst") / "prepared"
    report = prepare_dataset(src, dst, show_progress=False)
    return dst, report


def test_layout_frames_and_format(src, prepared):
    dst, report = prepared
    assert report.ok and not report.failed and not report.skipped
    assert sorted(report.converted) == [
        "UCF-101/Alpha/v_Alpha_g01_c01.avi",
        "UCF-101/Beta/v_Beta_g01_c01.avi",
        "UCF-101/Beta/v_Beta_g02_c01.mkv",
    ]
    assert sorted(p.relative_to(dst).as_posix() for p in find_videos(dst)) == [
        "UCF-101/Alpha/v_Alpha_g01_c01.mp4",
        "UCF-101/Beta/v_Beta_g01_c01.mp4",
        "UCF-101/Beta/v_Beta_g02_c01.mp4",
    ]
    for name, data in SPLITS.items():  # annotation files copied byte for byte
        assert (dst / "ucfTrainTestlist" / name).read_bytes() == data
    assert (dst / PREPARED_MARKER).is_file()

    for rel, n in report.frames.items():
        out = (dst / rel).with_suffix(".mp4")
        info = probe(out)
        assert info.num_frames == probe(src / rel).num_frames == n  # every frame kept
        assert info.codec == "h264" and not info.has_b_frames and info.seek_exact
        assert min(info.width, info.height) == 128 and info.width % 2 == 0 and info.height % 2 == 0
        assert info.fps == pytest.approx(25.0)
        # frame i of the output is frame i of the input (the frames carry their index)
        picks = [0, 1, n // 2, n - 1]
        assert frame_indices_of(read_frames(out, picks)) == picks
    assert probe(dst / "UCF-101/Beta/v_Beta_g01_c01.mp4").size == (170, 128)  # portrait kept portrait


def test_loaders_map_avi_names_to_prepared_mp4(prepared):
    dst, _ = prepared
    train = load_split("ucf101", dst, 1, "train")
    assert [i.path for i in train] == ["Alpha/v_Alpha_g01_c01.mp4", "Beta/v_Beta_g01_c01.mp4"]
    assert train.missing == [] and train.root == dst / "UCF-101"
    assert load_split("ucf101", dst, 1, "test").missing == []


def test_rerun_skips_everything(src, prepared):
    dst, _ = prepared
    before = {p: p.stat().st_mtime_ns for p in find_videos(dst)}
    again = prepare_dataset(src, dst, show_progress=False)
    assert again.converted == [] and len(again.skipped) == 3 and again.copied == [] and again.ok
    assert {p: p.stat().st_mtime_ns for p in find_videos(dst)} == before
    with pytest.raises(FileExistsError, match="prepared with"):
        prepare_dataset(src, dst, short_side=64, show_progress=False)


def test_bad_inputs_are_reported_not_fatal_and_temp_files_are_redone(src, tmp_path):
    import shutil

    tree = tmp_path / "src"
    shutil.copytree(src, tree)
    write_text_file(tree / "UCF-101/Beta/v_Beta_g03_c01.avi")  # a text file named .avi
    (tree / "UCF-101/Beta/v_Beta_g04_c01.avi").write_bytes(b"")  # empty
    dst = tmp_path / "dst"
    # a killed earlier run left a half-written temp file (and no final file) for one video
    leftover = dst / f"UCF-101/Alpha/v_Alpha_g01_c01{TMP_TAG}.mp4"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"\x00" * 100)
    assert find_videos(dst) == []  # a temp file is never taken for a finished video

    report = prepare_dataset(tree, dst, short_side=None, show_progress=False)
    assert not report.ok
    assert set(report.failed) == {"UCF-101/Beta/v_Beta_g03_c01.avi", "UCF-101/Beta/v_Beta_g04_c01.avi"}
    assert len(report.converted) == 3 and "UCF-101/Alpha/v_Alpha_g01_c01.avi" in report.converted
    assert not leftover.exists()
    assert probe(dst / "UCF-101/Alpha/v_Alpha_g01_c01.mp4").size == (48, 64)  # short_side=None keeps the size
    assert not list(dst.rglob(f"*{TMP_TAG}*"))
    assert "2 failed" in report.summary() and "v_Beta_g03_c01.avi" in report.summary()
    assert not (dst / "UCF-101/Beta/v_Beta_g03_c01.mp4").exists()


def test_truncated_input_keeps_decodable_frames(tmp_path):
    tree = tmp_path / "src"
    full = write_index_video(tmp_path / "full.avi", 60, codec="mpeg4", size=(48, 64))
    write_truncated_copy(full, tree / "cut.avi", 0.5)
    clear_probe_cache()
    report = prepare_dataset(tree, tmp_path / "dst", short_side=None, show_progress=False)
    assert not report.failed  # not fatal, and what decodes was kept
    n = report.frames["cut.avi"]
    assert 0 < n < 60 and n == probe(tree / "cut.avi").num_frames == probe(tmp_path / "dst/cut.mp4").num_frames
    # the frames before the cut are exact; the last one or two may be damaged by the cut itself
    got = frame_indices_of(read_frames(tmp_path / "dst/cut.mp4", range(n)))
    assert got[: n - 2] == list(range(n - 2))


def test_check_dataset_reports_problems(prepared, tmp_path):
    dst, _ = prepared
    good = check_dataset(dst, show_progress=False)
    assert good.ok and good.total == good.readable == 3
    assert good.sizes == {"170x128": 2, "128x170": 1} and set(good.fps) == {25.0}
    assert "OK" in good.summary()

    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(dst, tree)
    mp4 = tree / "UCF-101/Alpha/v_Alpha_g01_c01.mp4"
    write_truncated_copy(mp4, tree / "UCF-101/Alpha/truncated.mp4", 0.5)
    write_text_file(tree / "UCF-101/Alpha/text.avi")
    (tree / "UCF-101/Beta/zero.mp4").write_bytes(b"")
    write_index_video(tree / "UCF-101/Beta/short.mp4", 5, size=(48, 64))
    report = check_dataset(tree, show_progress=False, min_frames=16)
    assert not report.ok and report.total == 7 and report.readable == 4
    assert set(report.unreadable) == {"UCF-101/Alpha/truncated.mp4", "UCF-101/Alpha/text.avi"}
    assert report.empty == ["UCF-101/Beta/zero.mp4"]
    assert report.too_short == {"UCF-101/Beta/short.mp4": 5}
    text = report.summary()
    assert "PROBLEMS" in text and "truncated.mp4" in text and "short.mp4: 5 frames" in text


def test_check_dataset_with_split_files_reports_missing(prepared, tmp_path):
    import shutil

    dst, _ = prepared
    tree = tmp_path / "tree"
    shutil.copytree(dst, tree)
    (tree / "UCF-101/Beta/v_Beta_g02_c01.mp4").unlink()
    report = check_dataset(tree, split_dir="ucfTrainTestlist", show_progress=False)
    assert report.missing == ["Beta/v_Beta_g02_c01.mp4"] and report.readable == 2 and not report.ok


@pytest.mark.realdata
def test_prepare_real_hmdb_clip_keeps_every_decodable_frame(realdata, tmp_path):
    """A real HMDB-51 DivX AVI with B-frames, whose header claims one frame more than decodes."""
    import shutil

    src = tmp_path / "src"
    name = "Golf_Tips_-_Hit_The_Driver_300+_Yards!!!_golf_f_nm_np1_fr_med_0.avi"
    shutil.copy(realdata / "hmdb51/videos/golf" / name, (src / "golf").mkdir(parents=True) or src / "golf" / name)
    report = prepare_dataset(src, tmp_path / "dst", show_progress=False)
    assert report.ok and report.frames == {f"golf/{name}": 89}
    out = tmp_path / "dst/golf" / name.replace(".avi", ".mp4")
    assert probe(out).num_frames == 89 and probe(out).size == (128, 170)


@pytest.mark.realdata
def test_stream_that_breaks_part_way_is_kept_partial_and_remembered(realdata, tmp_path):
    """decord's corrupted.mp4: PyAV decodes some frames, then fails. Not fatal; reported as partial, also on rerun."""
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(realdata / "edge_cases/decord/corrupted.mp4", src / "corrupted.mp4")
    report = prepare_dataset(src, tmp_path / "dst", short_side=32, show_progress=False)
    assert not report.ok and not report.failed and list(report.partial) == ["corrupted.mp4"]
    n = report.frames["corrupted.mp4"]
    assert n > 0 and probe(tmp_path / "dst/corrupted.mp4").num_frames == n
    again = prepare_dataset(src, tmp_path / "dst", short_side=32, show_progress=False)
    assert again.skipped == ["corrupted.mp4"] and list(again.partial) == ["corrupted.mp4"] and not again.ok
    assert list(check_dataset(src, show_progress=False).unreadable) == ["corrupted.mp4"]
