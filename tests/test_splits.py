"""Split parsers: the real official files (sizes, quirks) and malformed files (clear errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stclr.data.splits import (
    MissingVideosError,
    SplitError,
    VideoItem,
    detect_dataset,
    diving48_split,
    hmdb51_split,
    load_split,
    safe_relpath,
    ucf101_split,
    verify_files,
)

UCF_SIZES = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}
HMDB_ODD = "Brushing_Her_Hair__[_NEW_AUDIO_]_UPDATED!!!!_brush_hair_h_cm_np1_fr_goo_0.avi"


@pytest.fixture(scope="module")
def ucf_dir(realdata) -> Path:
    return realdata / "ucf101" / "ucfTrainTestlist"


@pytest.fixture(scope="module")
def hmdb_dir(realdata) -> Path:
    return realdata / "hmdb51" / "testTrainMulti_7030_splits"


# ---------------------------------------------------------------------------------------------------------- real


@pytest.mark.realdata
@pytest.mark.parametrize("k", [1, 2, 3])
def test_ucf101_real_sizes_and_no_overlap(ucf_dir, k):
    train, test = ucf101_split(ucf_dir, k, "train"), ucf101_split(ucf_dir, k, "test")
    assert (len(train), len(test)) == UCF_SIZES[k]
    assert train.num_classes == test.num_classes == 101
    assert not {i.path for i in train} & {i.path for i in test}
    assert len({i.path for i in train} | {i.path for i in test}) == 13320
    assert {i.label for i in train} == set(range(101)) == {i.label for i in test}
    # every label agrees with its folder (test labels come only from the folder)
    for item in train.items + test.items:
        assert train.classes[item.label] == item.path.split("/")[0]
        assert item.start is None and item.end is None


@pytest.mark.realdata
def test_ucf101_handstand_pushups_labelled_by_folder(ucf_dir):
    train, test = ucf101_split(ucf_dir, 1, "train"), ucf101_split(ucf_dir, 1, "test")
    hs = train.classes.index("HandstandPushups")
    items = [i for i in train.items + test.items if "v_HandStandPushups_" in i.path]
    assert len(items) == 128
    assert all(i.label == hs and i.path.startswith("HandstandPushups/") for i in items)
    # No class called "HandStandPushups" was invented from the file names
    assert "HandStandPushups" not in train.classes


@pytest.mark.realdata
def test_ucf101_first_lines(ucf_dir):
    train = ucf101_split(ucf_dir, 1, "train")
    assert train[0] == VideoItem("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0)
    assert train.classes[0] == "ApplyEyeMakeup" and train.classes[-1] == "YoYo"


@pytest.mark.realdata
@pytest.mark.parametrize("k", [1, 2, 3])
def test_hmdb51_real_sizes(hmdb_dir, k):
    train, test = hmdb51_split(hmdb_dir, k, "train"), hmdb51_split(hmdb_dir, k, "test")
    assert (len(train), len(test)) == (3570, 1530)
    assert train.num_classes == 51 and train.classes == sorted(train.classes)
    assert not {i.path for i in train} & {i.path for i in test}
    counts = train.class_counts()
    assert set(counts.values()) == {70} and set(test.class_counts().values()) == {30}


@pytest.mark.realdata
def test_hmdb51_odd_names_survive(hmdb_dir):
    # "~" occurs only in videos that split 1 leaves unused, so take the union of all splits
    paths = {i.path for k in (1, 2, 3) for sub in ("train", "test") for i in hmdb51_split(hmdb_dir, k, sub)}
    names = "".join(paths)
    for ch in "!#&()+;@[]~":
        assert ch in names, ch
    # a name with brackets and !!!! (glob/shell hazards) kept verbatim, in its class folder, no trailing space
    odd = [p for p in paths if p.endswith(HMDB_ODD)]
    assert odd and all(p == "brush_hair/" + HMDB_ODD for p in odd)
    assert not any(p != p.strip() for p in paths)


@pytest.mark.realdata
def test_diving48_v1_real(realdata):
    d = realdata / "diving48"
    train, test = diving48_split(d, "train"), diving48_split(d, "test")
    assert (len(train), len(test)) == (15943, 2096)
    assert train.num_classes == 48
    assert train.classes[0] == "Back_15som_05Twis_FREE"
    assert train[0] == VideoItem("VNvb5oLOpLg_00000.mp4", 19, 0, 156)
    assert not {i.path for i in train} & {i.path for i in test}
    assert {i.label for i in train} == set(range(48)) == {i.label for i in test}
    v2 = diving48_split(d, "train", version="V2")
    assert len(v2) == 15027


@pytest.mark.realdata
def test_load_split_real_layouts_and_missing_report(realdata):
    ucf = load_split("ucf101", realdata / "ucf101", 1, "test")
    assert ucf.root == realdata / "ucf101" / "videos"
    assert len(ucf.missing) == 3783 - 2
    assert ucf.abspath(0).is_file()  # v_ApplyEyeMakeup_g01_c01.avi is one of the two present
    report = verify_files(ucf)
    assert report.summary().startswith("3781 of 3783 videos missing")
    assert "e.g. ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c02.avi" in report.summary()

    dropped = load_split("ucf101", realdata / "ucf101", 1, "test", on_missing="drop")
    assert [i.path for i in dropped] == [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "BaseballPitch/v_BaseballPitch_g01_c01.avi",
    ]
    assert dropped.num_classes == 101  # labels keep their meaning
    with pytest.raises(MissingVideosError, match="3781 of 3783 videos missing"):
        load_split("ucf101", realdata / "ucf101", 1, "test", on_missing="raise")

    hmdb = load_split("hmdb51", realdata / "hmdb51", 1, "train", on_missing="drop")
    assert len(hmdb) == 5 and all(hmdb.abspath(i).is_file() for i in hmdb)
    div = load_split("diving48", realdata / "diving48", 1, "test", check_files=False)
    assert len(div) == 2096 and div.missing == []


@pytest.mark.realdata
def test_detect_dataset(realdata, ucf_dir, hmdb_dir):
    assert detect_dataset(ucf_dir) == "ucf101"
    assert detect_dataset(hmdb_dir) == "hmdb51"
    assert detect_dataset(realdata / "diving48") == "diving48"
    assert detect_dataset(realdata) is None


# ------------------------------------------------------------------------------------------------- synthetic files


def _ucf(tmp_path: Path, train: str, test: str = "", classes: str = "1 Alpha\r\n2 Beta\r\n") -> Path:
    d = tmp_path / "splits"
    d.mkdir(exist_ok=True)
    (d / "classInd.txt").write_bytes(classes.encode())
    (d / "trainlist01.txt").write_bytes(train.encode())
    (d / "testlist01.txt").write_bytes(test.encode())
    return d


def test_ucf_crlf_blank_lines_and_no_final_newline(tmp_path):
    d = _ucf(tmp_path, "Alpha/v_a.avi 1\r\n\r\n  \r\nBeta/v_b.avi 2", "Beta/v_c.avi\r\n\r\n")
    train, test = ucf101_split(d, 1, "train"), ucf101_split(d, 1, "test")
    assert [(i.path, i.label) for i in train] == [("Alpha/v_a.avi", 0), ("Beta/v_b.avi", 1)]
    assert [(i.path, i.label) for i in test] == [("Beta/v_c.avi", 1)]
    assert train.with_suffix(".mp4")[0].path == "Alpha/v_a.mp4"
    assert ucf101_split(d, 1, "train", suffix=".mp4")[1].path == "Beta/v_b.mp4"


@pytest.mark.parametrize(
    "line, match",
    [
        ("/etc/passwd 1", "absolute path"),
        ("../../secret/v.avi 1", r"escapes the dataset root"),
        ("Alpha/../../v.avi 1", r"escapes the dataset root"),
        ("C:/videos/v.avi 1", "absolute path"),
        ("Alpha\\v.avi 1", "backslash"),
        ("Alpha/v.avi 3", r"label 3 out of range 1\.\.2"),
        ("Alpha/v.avi 0", "out of range"),
        ("Alpha/v.avi 2", r"disagrees with the folder 'Alpha'"),
        ("Gamma/v.avi 1", r"class folder 'Gamma' is not in classInd"),
        ("Alpha/v.avi", "expected '<path> <label>'"),
        ("v.avi x", "expected '<path> <label>'"),
    ],
)
def test_ucf_bad_train_lines_name_file_and_line(tmp_path, line, match):
    d = _ucf(tmp_path, f"Alpha/ok.avi 1\r\n{line}\r\n")
    with pytest.raises(SplitError, match=match) as e:
        ucf101_split(d, 1, "train")
    assert "trainlist01.txt:2" in str(e.value)


def test_ucf_bad_test_line_and_duplicates(tmp_path):
    d = _ucf(tmp_path, "Alpha/a.avi 1\n", "Alpha/b.avi\nflat.avi\n")
    with pytest.raises(SplitError, match=r"testlist01.txt:2: .*no class folder"):
        ucf101_split(d, 1, "test")
    d = _ucf(tmp_path, "Alpha/a.avi 1\nAlpha/./a.avi 1\n")
    with pytest.raises(SplitError, match=r"trainlist01.txt:2: .*listed twice"):
        ucf101_split(d, 1, "train")


@pytest.mark.parametrize(
    "classes, match",
    [
        ("1 Alpha\n1 Beta\n", "label 1 defined twice"),
        ("1 Alpha\n3 Beta\n", "without gaps"),
        ("1 Alpha\n2 Alpha\n", "defined twice"),
        ("Alpha\n", "expected '<label> <ClassName>'"),
        ("", "no classes"),
    ],
)
def test_bad_class_index(tmp_path, classes, match):
    d = _ucf(tmp_path, "Alpha/a.avi 1\n", classes=classes)
    with pytest.raises(SplitError, match=match):
        ucf101_split(d, 1, "train")


def test_split_number_subset_and_missing_files(tmp_path):
    d = _ucf(tmp_path, "Alpha/a.avi 1\n")
    for bad in (0, 4, "1", True):
        with pytest.raises(SplitError, match="split must be one of"):
            ucf101_split(d, bad, "train")
    with pytest.raises(SplitError, match="subset must be one of"):
        ucf101_split(d, 1, "val")
    with pytest.raises(SplitError, match=r"not found:\n.*trainlist02.txt"):
        ucf101_split(d, 2, "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SplitError, match=r"no split files found; looked in .*ucfTrainTestlist"):
        load_split("ucf101", tmp_path / "empty", 1, "train")
    with pytest.raises(SplitError, match="unknown dataset"):
        load_split("kinetics", tmp_path, 1, "train")


def _hmdb(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "hmdb"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def test_hmdb_flags_trailing_space_and_names(tmp_path):
    odd = "a[b]!#&(x)+;@~_c.avi"
    d = _hmdb(tmp_path, {"zeta_test_split1.txt": f"{odd} 1 \nz2.avi 2 \nz3.avi 0 \n", "alpha_test_split1.txt": "a1.avi 2 \n"})
    train, test = hmdb51_split(d, 1, "train"), hmdb51_split(d, 1, "test")
    assert train.classes == ["alpha", "zeta"]
    assert [(i.path, i.label) for i in train] == [(f"zeta/{odd}", 1)]
    assert [(i.path, i.label) for i in test] == [("alpha/a1.avi", 0), ("zeta/z2.avi", 1)]


@pytest.mark.parametrize(
    "text, match",
    [
        ("a.avi 3 \n", "flag 3 must be 0"),
        ("a.avi\n", r"expected '<name> <flag>'"),
        ("../up.avi 1 \n", "must not contain a path separator"),
        (".. 1 \n", "escapes the dataset root"),
        ("sub/a.avi 1 \n", "must not contain a path separator"),
        ("a.avi 1 \na.avi 2 \n", "also listed in"),
    ],
)
def test_hmdb_bad_lines(tmp_path, text, match):
    d = _hmdb(tmp_path, {"c_test_split1.txt": text})
    with pytest.raises(SplitError, match=match) as e:
        hmdb51_split(d, 1, "train")
    assert "c_test_split1.txt:" in str(e.value)


def test_hmdb_missing_split_file_is_listed(tmp_path):
    d = _hmdb(tmp_path, {"a_test_split1.txt": "x.avi 1 \n", "b_test_split1.txt": "y.avi 1 \n", "a_test_split2.txt": "x.avi 1 \n"})
    with pytest.raises(SplitError, match=r"b_test_split2.txt"):
        hmdb51_split(d, 2, "train")


def _diving(tmp_path: Path, records, vocab=(("Back", "PIKE"), ("Fwd", "TUCK"))) -> Path:
    d = tmp_path / "div"
    d.mkdir(exist_ok=True)
    (d / "Diving48_vocab.json").write_text(json.dumps([list(v) for v in vocab]))
    (d / "Diving48_train.json").write_text(json.dumps(records, indent=2))
    (d / "Diving48_test.json").write_text("[]")
    return d


def test_diving48_template_and_errors(tmp_path):
    rec = {"vid_name": "abc_001", "end_frame": 40, "start_frame": 2, "label": 1}
    d = _diving(tmp_path, [rec])
    s = diving48_split(d, "train", video_template="rgb/{vid_name}.mp4")
    assert s.items == [VideoItem("rgb/abc_001.mp4", 1, 2, 40)] and s.classes == ["Back_PIKE", "Fwd_TUCK"]
    assert len(diving48_split(d, "test")) == 0
    bad = [
        ({**rec, "label": 2}, r"label 2 out of range 0\.\.1"),
        ({**rec, "label": "1"}, "label must be an integer"),
        ({**rec, "vid_name": "../x"}, "must not contain a path separator"),
        ({**rec, "start_frame": 50}, "bad frame range"),
        ({"vid_name": "x", "label": 0}, "missing key"),
    ]
    for record, match in bad:
        d = _diving(tmp_path, [rec | {"vid_name": "ok"}, record])
        with pytest.raises(SplitError, match=match) as e:
            diving48_split(d, "train")
        assert "(record 1)" in str(e.value)
    (d / "Diving48_train.json").write_text('[{"vid_name": "a",\n "label": }]')
    with pytest.raises(SplitError, match=r"Diving48_train.json:2: invalid JSON"):
        diving48_split(d, "train")
    with pytest.raises(SplitError, match="version"):
        diving48_split(d, "train", version="V3")
    with pytest.raises(SplitError, match="single official split"):
        load_split("diving48", d, 2, "train")


def test_safe_relpath():
    assert safe_relpath("./a//b/./c.avi") == "a/b/c.avi"
    assert safe_relpath("a [1] (x) ; @!.avi") == "a [1] (x) ; @!.avi"
    for bad in ("", "/a", "..", "a/../../b", "a\x00b", "\\\\server\\x"):
        with pytest.raises(SplitError):
            safe_relpath(bad)


def test_load_split_missing_videos_and_prepared_marker(tmp_path):
    _ucf(tmp_path, "Alpha/a.avi 1\nBeta/b.avi 2\n", "Beta/c.avi\n")
    vids = tmp_path / "videos"
    (vids / "Alpha").mkdir(parents=True)
    (vids / "Alpha" / "a.avi").write_bytes(b"x")
    s = load_split("ucf101", tmp_path, 1, "train")
    assert s.root == vids and s.missing == ["Beta/b.avi"]
    assert "1 of 2 videos missing" in verify_files(s).summary()
    assert s.drop_missing().items == [VideoItem("Alpha/a.avi", 0)]
    # a prepared tree: split files still say .avi, the marker makes the loader look for .mp4
    (vids / "Alpha" / "a.mp4").write_bytes(b"x")
    (tmp_path / "stclr_prepared.json").write_text("{}")
    s = load_split("ucf101", tmp_path, 1, "train")
    assert [i.path for i in s] == ["Alpha/a.mp4", "Beta/b.mp4"] and s.missing == ["Beta/b.mp4"]
    assert load_split("ucf101", tmp_path, 1, "train", suffix=".avi").missing == ["Beta/b.avi"]
