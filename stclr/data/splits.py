"""Official train/test splits of UCF-101, HMDB-51 and Diving-48 (and the synthetic dataset), parsed strictly.

Every parser returns a :class:`Split`: a list of :class:`VideoItem` (path relative to the video root, 0-based
label, optional frame range) plus the class names. The split files have quirks that have bitten published
code (``docs/method.md`` §5), so each one is handled on purpose:

- UCF-101 lists use CRLF line endings and end with a newline (splitting on ``"\\n"`` gives the paper's
  off-by-one 9538); the folder ``HandstandPushups`` holds files named ``v_HandStandPushups_*``: the class
  always comes from the *folder*, never from the file name.
- HMDB-51 lines end in a trailing space (``name.avi 1 ``); names contain ``! # & ( ) + ; @ [ ] ~``, so paths
  are built by string joining, never by glob or shell.
- Diving-48 annotations are JSON records ``{vid_name, label, start_frame, end_frame}``; the class names are
  lists of four words in ``Diving48_vocab.json`` (joined with ``_`` here).

Safety: a split file is data from the internet. A path that is absolute or climbs out of the video root
(``..``), a malformed line, an unknown class or a label out of range raises :class:`SplitError` naming the
file and line. Missing videos are *reported* (``Split.missing``, :func:`verify_files`), not fatal, unless asked.

Prepared datasets (``stclr data prepare``) hold ``.mp4`` files while the split files still name ``.avi``:
pass ``suffix=".mp4"``, or let :func:`load_split` notice the marker file that ``prepare_dataset`` leaves at
the top of the prepared tree (``PREPARED_MARKER``) and map the suffix by itself.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, Literal, Sequence

__all__ = [
    "DATASETS",
    "PREPARED_MARKER",
    "SUBSETS",
    "FileReport",
    "MissingVideosError",
    "Split",
    "SplitError",
    "VideoItem",
    "detect_dataset",
    "diving48_split",
    "hmdb51_split",
    "load_split",
    "safe_relpath",
    "ucf101_split",
    "verify_files",
]

DATASETS = ("ucf101", "hmdb51", "diving48", "synthetic")
SUBSETS = ("train", "test")
SPLIT_NUMBERS = (1, 2, 3)
# Written by stclr.data.prepare at the top of a prepared tree; its presence means "videos are .mp4 now".
PREPARED_MARKER = "stclr_prepared.json"

Subset = Literal["train", "test"]
OnMissing = Literal["keep", "drop", "raise"]


class SplitError(ValueError):
    """A split or annotation file is missing or malformed. The message names the file (and line)."""


class MissingVideosError(SplitError):
    """Videos named by a split are not on disk (raised only with ``on_missing="raise"``)."""


@dataclass(frozen=True)
class VideoItem:
    """One video of a split.

    ``path``: POSIX path relative to the split's video root (``Split.root``), e.g. ``"Basketball/v_Basketball_g01_c01.avi"``.
    ``label``: 0-based index into ``Split.classes``.
    ``start``/``end``: frame range from the annotation, or ``None`` for the whole video. Diving-48 gives
    ``start_frame``/``end_frame``; they are kept as written (readers clip them to the decodable frames).
    """

    path: str
    label: int
    start: int | None = None
    end: int | None = None


@dataclass
class Split:
    """A parsed split: ``items`` in file order, ``classes`` (label -> name), and where the videos live.

    ``root``: the folder ``VideoItem.path`` is relative to (``None`` when only the split files were read).
    ``missing``: paths of items whose file was not found under ``root`` (filled by :func:`verify_files`,
    which :func:`load_split` calls when it knows the root). ``sources``: the files that were parsed.
    """

    name: str
    items: list[VideoItem]
    classes: list[str]
    root: Path | None = None
    missing: list[str] = field(default_factory=list)
    dataset: str = ""
    split: int = 1
    subset: str = "train"
    sources: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[VideoItem]:
        return iter(self.items)

    def __getitem__(self, index: int) -> VideoItem:
        return self.items[index]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def labels(self) -> list[int]:
        return [item.label for item in self.items]

    def abspath(self, item: VideoItem | int) -> Path:
        """The file of ``item`` (or of ``items[item]``) on disk; needs ``root``."""
        if isinstance(item, int):
            item = self.items[item]
        if self.root is None:
            raise ValueError(f"{self.name}: no video root given, cannot resolve {item.path!r}")
        return Path(self.root, *item.path.split("/"))

    def class_counts(self) -> dict[str, int]:
        counts = {name: 0 for name in self.classes}
        for item in self.items:
            counts[self.classes[item.label]] += 1
        return counts

    def with_suffix(self, suffix: str) -> "Split":
        """A copy whose item paths end in ``suffix`` (e.g. ``".mp4"`` for a prepared dataset)."""
        items = [replace(it, path=_swap_suffix(it.path, suffix)) for it in self.items]
        return replace(self, items=items, missing=[_swap_suffix(p, suffix) for p in self.missing])

    def drop_missing(self) -> "Split":
        """A copy without the items listed in ``missing`` (labels and classes unchanged)."""
        gone = set(self.missing)
        return replace(self, items=[it for it in self.items if it.path not in gone], missing=[])

    def summary(self) -> str:
        where = f", root {self.root}" if self.root is not None else ""
        gone = f", {len(self.missing)} missing" if self.missing else ""
        return f"{self.name}: {len(self.items)} videos, {len(self.classes)} classes{gone}{where}"

    def __repr__(self) -> str:  # the default repr would print thousands of items
        return f"Split({self.summary()!r})"


# --------------------------------------------------------------------------------------------------------------
# Safety helpers


def safe_relpath(raw: str, *, where: str = "") -> str:
    """Normalise a path read from a split file to a safe POSIX path relative to the video root.

    Refuses (``SplitError``) absolute paths (``/x``, ``\\\\x``, ``C:x``), any ``..`` component, empty paths
    and control characters. ``.`` components and doubled slashes are dropped. Backslashes are refused too:
    no official split uses them, and on POSIX they would be part of a file name, on Windows a separator.
    Every other character (``[``, ``!``, ``;``, spaces, ...) is kept untouched.
    """
    prefix = f"{where}: " if where else ""
    if not raw:
        raise SplitError(f"{prefix}empty path")
    if any(ord(ch) < 32 for ch in raw):
        raise SplitError(f"{prefix}control character in path {raw!r}")
    if "\\" in raw:
        raise SplitError(f"{prefix}backslash in path {raw!r} (split paths use '/')")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise SplitError(f"{prefix}absolute path {raw!r} is not allowed (paths are relative to the dataset root)")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise SplitError(f"{prefix}path {raw!r} escapes the dataset root ('..')")
    if not parts:
        raise SplitError(f"{prefix}empty path {raw!r}")
    return "/".join(parts)


def _check_name(name: str, *, where: str) -> str:
    """A single file-name component (HMDB-51 names, Diving-48 ids): no separators, no ``..``."""
    if "/" in name or "\\" in name:
        raise SplitError(f"{where}: name {name!r} must not contain a path separator")
    return safe_relpath(name, where=where)


def _swap_suffix(path: str, suffix: str) -> str:
    p = PurePosixPath(path)
    return str(p.with_suffix(suffix)) if p.suffix else path + suffix


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, text without line ending and surrounding whitespace) for non-blank lines.

    Reads bytes and decodes UTF-8 (falling back to latin-1, which never fails) so CRLF, a missing final
    newline, a BOM or trailing spaces all parse the same.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line:
            out.append((number, line))
    return out


def _check_split_number(split: int) -> int:
    if isinstance(split, bool) or not isinstance(split, int) or split not in SPLIT_NUMBERS:
        raise SplitError(f"split must be one of {SPLIT_NUMBERS}, got {split!r}")
    return split


def _check_subset(subset: str) -> str:
    if subset not in SUBSETS:
        raise SplitError(f"subset must be one of {SUBSETS}, got {subset!r}")
    return subset


def _require_files(paths: Sequence[Path], what: str) -> None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        listed = "\n  ".join(str(p) for p in missing)
        raise SplitError(f"{what}: split file(s) not found:\n  {listed}")


def _parse_int(text: str, *, where: str, what: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise SplitError(f"{where}: {what} {text!r} is not an integer")
    return int(text)


# --------------------------------------------------------------------------------------------------------------
# UCF-101


def read_class_ind(path: Path) -> list[str]:
    """``classInd.txt`` (``"1 ApplyEyeMakeup"`` per line) -> class names in label order (index 0 = label 1).

    Labels must be exactly 1..K, each once; names must be unique.
    """
    path = Path(path)
    _require_files([path], "class index")
    by_label: dict[int, str] = {}
    for number, line in _read_lines(path):
        where = f"{path}:{number}"
        parts = line.split()
        if len(parts) != 2:
            raise SplitError(f"{where}: expected '<label> <ClassName>', got {line!r}")
        label = _parse_int(parts[0], where=where, what="label")
        name = parts[1]
        if label in by_label:
            raise SplitError(f"{where}: label {label} defined twice")
        if name in by_label.values():
            raise SplitError(f"{where}: class {name!r} defined twice")
        by_label[label] = name
    if not by_label:
        raise SplitError(f"{path}: no classes")
    if sorted(by_label) != list(range(1, len(by_label) + 1)):
        raise SplitError(f"{path}: labels must be 1..{len(by_label)} without gaps, got {sorted(by_label)[:5]}...")
    return [by_label[k] for k in range(1, len(by_label) + 1)]


def ucf101_split(
    split_dir: str | Path,
    split: int = 1,
    subset: Subset = "train",
    root: str | Path | None = None,
    *,
    suffix: str | None = None,
    name: str = "ucf101",
) -> Split:
    """Parse a UCF-101-style split (also the synthetic dataset's): ``classInd.txt`` + ``trainlist0k.txt`` /
    ``testlist0k.txt`` in ``split_dir``.

    Train lines are ``<Class>/<file> <label>`` (label 1-based), test lines ``<Class>/<file>``. The label is
    taken from the folder via ``classInd``; a train line whose label disagrees with its folder is an error
    (one of the two is corrupt). A path without a folder needs an explicit label. ``root`` is only recorded
    (see :func:`verify_files` / :func:`load_split` for existence checks); ``suffix`` rewrites the file suffix.
    """
    split_dir = Path(split_dir)
    _check_split_number(split)
    _check_subset(subset)
    class_file = split_dir / "classInd.txt"
    list_file = split_dir / f"{subset}list{split:02d}.txt"
    _require_files([class_file, list_file], f"{name} split {split} {subset}")
    classes = read_class_ind(class_file)
    index = {c: i for i, c in enumerate(classes)}

    items: list[VideoItem] = []
    seen: set[str] = set()
    for number, line in _read_lines(list_file):
        where = f"{list_file}:{number}"
        parts = line.rsplit(None, 1)
        given: int | None = None
        if len(parts) == 2 and re.fullmatch(r"[+-]?\d+", parts[1]):
            raw_path, given = parts[0], int(parts[1])
        else:
            raw_path = line
        if subset == "train" and given is None:
            raise SplitError(f"{where}: expected '<path> <label>', got {line!r}")
        path = safe_relpath(raw_path, where=where)
        folder = path.split("/")[0] if "/" in path else None
        if given is not None and not 1 <= given <= len(classes):
            raise SplitError(f"{where}: label {given} out of range 1..{len(classes)}")
        if folder is not None:
            if folder not in index:
                raise SplitError(f"{where}: class folder {folder!r} is not in {class_file.name}")
            label = index[folder]
            if given is not None and given - 1 != label:
                raise SplitError(
                    f"{where}: label {given} ({classes[given - 1]}) disagrees with the folder {folder!r} (label {label + 1})"
                )
        elif given is not None:
            label = given - 1
        else:
            raise SplitError(f"{where}: path {path!r} has no class folder and no label")
        if path in seen:
            raise SplitError(f"{where}: {path!r} listed twice")
        seen.add(path)
        items.append(VideoItem(path, label))
    out = Split(
        name=f"{name} split {split} {subset}",
        items=items,
        classes=classes,
        root=Path(root) if root is not None else None,
        dataset=name,
        split=split,
        subset=subset,
        sources=[class_file, list_file],
    )
    return out.with_suffix(suffix) if suffix else out


# --------------------------------------------------------------------------------------------------------------
# HMDB-51

_HMDB_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>[123])\.txt$")
HMDB_FLAGS = {"train": 1, "test": 2}  # 0 = unused in this split


def hmdb51_classes(split_dir: str | Path) -> list[str]:
    """Class names (sorted alphabetically, the usual label order) from the split files present."""
    names = {m.group("cls") for p in Path(split_dir).iterdir() if (m := _HMDB_FILE.match(p.name))}
    return sorted(names)


def hmdb51_split(
    split_dir: str | Path,
    split: int = 1,
    subset: Subset = "train",
    root: str | Path | None = None,
    *,
    suffix: str | None = None,
) -> Split:
    """Parse HMDB-51's ``<class>_test_split<k>.txt`` files (lines ``<name>.avi <flag>``, flag 1 = train,
    2 = test, 0 = unused) into ``<class>/<name>`` items; labels index the alphabetically sorted classes.

    Every class must have its file for split ``k`` (the message lists the missing ones). Names are taken
    verbatim (``[``, ``!``, ``;``... included); a name with a separator or ``..`` is refused.
    """
    split_dir = Path(split_dir)
    _check_split_number(split)
    _check_subset(subset)
    if not split_dir.is_dir():
        raise SplitError(f"hmdb51: split folder not found: {split_dir} (looked for <class>_test_split{split}.txt)")
    classes = hmdb51_classes(split_dir)
    if not classes:
        raise SplitError(f"hmdb51: no '<class>_test_split<k>.txt' files in {split_dir}")
    files = [split_dir / f"{c}_test_split{split}.txt" for c in classes]
    _require_files(files, f"hmdb51 split {split}")
    want = HMDB_FLAGS[subset]

    items: list[VideoItem] = []
    seen: dict[str, str] = {}
    for label, (cls, file) in enumerate(zip(classes, files)):
        _check_name(cls, where=str(file))
        for number, line in _read_lines(file):
            where = f"{file}:{number}"
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise SplitError(f"{where}: expected '<name> <flag>', got {line!r}")
            video, flag_text = parts
            flag = _parse_int(flag_text, where=where, what="flag")
            if flag not in (0, 1, 2):
                raise SplitError(f"{where}: flag {flag} must be 0 (unused), 1 (train) or 2 (test)")
            video = _check_name(video, where=where)
            if video in seen:
                raise SplitError(f"{where}: {video!r} also listed in {seen[video]}")
            seen[video] = file.name
            if flag == want:
                items.append(VideoItem(f"{cls}/{video}", label))
    out = Split(
        name=f"hmdb51 split {split} {subset}",
        items=items,
        classes=classes,
        root=Path(root) if root is not None else None,
        dataset="hmdb51",
        split=split,
        subset=subset,
        sources=files,
    )
    return out.with_suffix(suffix) if suffix else out


# --------------------------------------------------------------------------------------------------------------
# Diving-48

DIVING48_FILES = {
    "V1": ("Diving48_train.json", "Diving48_test.json"),
    "V2": ("Diving48_V2_train.json", "Diving48_V2_test.json"),
}
DIVING48_VOCAB = "Diving48_vocab.json"


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SplitError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None


def diving48_classes(ann_dir: str | Path) -> list[str]:
    """Class names from ``Diving48_vocab.json`` (a list of 4-word lists), joined with ``_``,
    e.g. ``"Back_15som_05Twis_FREE"``."""
    path = Path(ann_dir) / DIVING48_VOCAB
    _require_files([path], "diving48 vocabulary")
    vocab = _load_json(path)
    if not isinstance(vocab, list) or not vocab:
        raise SplitError(f"{path}: expected a non-empty list of word lists")
    names = []
    for k, words in enumerate(vocab):
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise SplitError(f"{path}: entry {k} is not a list of strings: {words!r}")
        names.append("_".join(words))
    return names


def diving48_split(
    ann_dir: str | Path,
    subset: Subset = "train",
    version: str = "V1",
    root: str | Path | None = None,
    *,
    suffix: str | None = None,
    video_template: str = "{vid_name}.mp4",
) -> Split:
    """Parse Diving-48 annotations (``Diving48_train.json`` / ``Diving48_test.json`` for V1,
    ``Diving48_V2_*.json`` for V2) into items ``<vid_name>.mp4`` with the annotated frame range.

    The official download unpacks the videos to ``rgb/<vid_name>.mp4``; :func:`load_split` uses that folder
    as the root. ``video_template`` formats the relative path from the record (e.g. ``"{vid_name}/video.mp4"``).
    Records must have a string ``vid_name``, integer ``label`` in ``0..47`` and ``0 <= start_frame <= end_frame``.
    There is only one official split: errors name the JSON record (0-based) and its line.
    """
    ann_dir = Path(ann_dir)
    _check_subset(subset)
    if version not in DIVING48_FILES:
        raise SplitError(f"diving48: version must be one of {sorted(DIVING48_FILES)}, got {version!r}")
    file = ann_dir / DIVING48_FILES[version][SUBSETS.index(subset)]
    _require_files([file, ann_dir / DIVING48_VOCAB], f"diving48 {version} {subset}")
    classes = diving48_classes(ann_dir)
    records = _load_json(file)
    if not isinstance(records, list):
        raise SplitError(f"{file}: expected a JSON list of records")
    lines = _record_lines(file, len(records))

    items: list[VideoItem] = []
    seen: set[str] = set()
    for k, rec in enumerate(records):
        where = f"{file}:{lines[k]} (record {k})"
        if not isinstance(rec, dict):
            raise SplitError(f"{where}: expected an object, got {type(rec).__name__}")
        missing = [key for key in ("vid_name", "label", "start_frame", "end_frame") if key not in rec]
        if missing:
            raise SplitError(f"{where}: missing key(s) {missing}")
        vid, label, start, end = rec["vid_name"], rec["label"], rec["start_frame"], rec["end_frame"]
        if not isinstance(vid, str):
            raise SplitError(f"{where}: vid_name must be a string, got {vid!r}")
        vid = _check_name(vid, where=where)
        for key, value in (("label", label), ("start_frame", start), ("end_frame", end)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SplitError(f"{where}: {key} must be an integer, got {value!r}")
        if not 0 <= label < len(classes):
            raise SplitError(f"{where}: label {label} out of range 0..{len(classes) - 1}")
        if not 0 <= start <= end:
            raise SplitError(f"{where}: bad frame range start_frame={start}, end_frame={end}")
        if vid in seen:
            raise SplitError(f"{where}: {vid!r} listed twice")
        seen.add(vid)
        path = safe_relpath(video_template.format(vid_name=vid), where=where)
        items.append(VideoItem(path, label, start, end))
    out = Split(
        name=f"diving48 {version} {subset}",
        items=items,
        classes=classes,
        root=Path(root) if root is not None else None,
        dataset="diving48",
        split=1,
        subset=subset,
        sources=[file, ann_dir / DIVING48_VOCAB],
    )
    return out.with_suffix(suffix) if suffix else out


def _record_lines(file: Path, count: int) -> list[int]:
    """Best-effort 1-based line of each top-level record (for error messages): the line of each
    ``"vid_name"`` key, in order; falls back to 0 when the file is laid out differently."""
    lines = [n for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1) if '"vid_name"' in line]
    return lines if len(lines) == count else [0] * count


# --------------------------------------------------------------------------------------------------------------
# Missing videos


@dataclass
class FileReport:
    """Which videos of a split exist under ``root``."""

    root: Path
    total: int
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def present(self) -> int:
        return self.total - len(self.missing)

    def summary(self, examples: int = 3) -> str:
        if not self.missing:
            return f"all {self.total} videos found under {self.root}"
        shown = ", ".join(self.missing[:examples])
        more = ", ..." if len(self.missing) > examples else ""
        return f"{len(self.missing)} of {self.total} videos missing under {self.root}, e.g. {shown}{more}"

    __str__ = summary


def verify_files(split: Split, root: str | Path | None = None, *, on_missing: OnMissing = "keep") -> FileReport:
    """Check that every video of ``split`` exists under ``root`` (default ``split.root``).

    Fills ``split.missing`` (and sets ``split.root``) and returns a :class:`FileReport` whose summary reads
    like ``"3781 of 3783 videos missing under ..., e.g. ..."``. ``on_missing="raise"`` raises
    :class:`MissingVideosError` with that summary when anything is missing; ``"drop"`` removes the missing
    items from ``split.items`` in place (the report still lists them).
    """
    if on_missing not in ("keep", "drop", "raise"):
        raise ValueError(f"on_missing must be 'keep', 'drop' or 'raise', got {on_missing!r}")
    root = Path(root) if root is not None else split.root
    if root is None:
        raise ValueError(f"{split.name}: give the video root to verify files against")
    split.root = root
    # One directory listing per class folder instead of one stat per video: much faster on network disks.
    listing: dict[str, set[str] | None] = {}
    missing = []
    for item in split.items:
        folder, _, name = item.path.rpartition("/")
        if folder not in listing:
            try:
                listing[folder] = set(os.listdir(root / folder if folder else root))
            except OSError:
                listing[folder] = None
        names = listing[folder]
        if names is None or name not in names:
            missing.append(item.path)
    split.missing = missing
    report = FileReport(root=root, total=len(split.items), missing=missing)
    if missing and on_missing == "raise":
        raise MissingVideosError(f"{split.name}: {report.summary()}")
    if missing and on_missing == "drop":
        gone = set(missing)
        split.items = [it for it in split.items if it.path not in gone]
    return report


# --------------------------------------------------------------------------------------------------------------
# Dispatcher with conventional layouts

# Where the split files and the videos usually are, relative to the dataset root (first match wins).
SPLIT_DIRS = {
    "ucf101": ("ucfTrainTestlist", "splits", "."),
    "hmdb51": ("testTrainMulti_7030_splits", "splits", "."),
    "diving48": (".", "annotations", "splits"),
    "synthetic": ("splits",),
}
VIDEO_DIRS = {
    "ucf101": ("UCF-101", "UCF101", "videos", "."),
    "hmdb51": ("hmdb51_org", "videos", "."),
    "diving48": ("rgb", "videos", "."),
    "synthetic": ("videos",),
}
_SPLIT_MARKERS = {
    "ucf101": lambda d, k: (d / "classInd.txt").is_file(),
    "synthetic": lambda d, k: (d / "classInd.txt").is_file(),
    "hmdb51": lambda d, k: any(d.glob(f"*_test_split{k}.txt")),  # glob on a fixed pattern, not on names
    "diving48": lambda d, k: (d / DIVING48_VOCAB).is_file(),
}


def _find_dir(root: Path, candidates: Iterable[str], test) -> Path | None:
    for cand in candidates:
        d = (root / cand) if cand != "." else root
        if d.is_dir() and test(d):
            return d
    return None


def _looks_like_video_dir(d: Path) -> bool:
    try:
        return any(True for _ in d.iterdir())
    except OSError:
        return False


def load_split(
    dataset: str,
    root: str | Path,
    split: int = 1,
    subset: Subset = "train",
    *,
    split_dir: str | Path | None = None,
    video_dir: str | Path | None = None,
    suffix: str | None = None,
    check_files: bool = True,
    on_missing: OnMissing = "keep",
    version: str = "V1",
) -> Split:
    """Load ``subset`` of split ``split`` of ``dataset`` (``ucf101``, ``hmdb51``, ``diving48``, ``synthetic``).

    Conventional layouts under ``root`` (the first that exists is used; override with ``split_dir`` /
    ``video_dir``, relative to ``root`` or absolute):

    ============  ====================================================  =======================================
    dataset       split files                                           videos (``Split.root``)
    ============  ====================================================  =======================================
    ucf101        ``ucfTrainTestlist/``, ``splits/`` or ``root``        ``UCF-101/``, ``UCF101/``, ``videos/``, ``root``
    hmdb51        ``testTrainMulti_7030_splits/``, ``splits/``, ``root``  ``hmdb51_org/``, ``videos/``, ``root``
    diving48      ``root``, ``annotations/``, ``splits/``               ``rgb/``, ``videos/``, ``root``
    synthetic     ``splits/``                                           ``videos/``
    ============  ====================================================  =======================================

    ``suffix``: rewrite item suffixes (``".mp4"`` after ``stclr data prepare``); ``None`` does so
    automatically when ``root`` holds the prepare marker (``PREPARED_MARKER``). ``check_files``: verify that
    the videos exist (fills ``Split.missing``); ``on_missing``: ``keep`` (report only), ``drop`` or ``raise``.
    Diving-48 has a single split (``split`` must be 1) and a ``version`` (``V1`` default, or ``V2``).
    """
    if dataset not in DATASETS:
        raise SplitError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    _check_split_number(split)
    _check_subset(subset)
    root = Path(root)
    if not root.is_dir():
        raise SplitError(f"{dataset}: dataset root not found: {root}")

    if split_dir is not None:
        sdir = root / split_dir
    else:
        sdir = _find_dir(root, SPLIT_DIRS[dataset], lambda d: _SPLIT_MARKERS[dataset](d, split))
        if sdir is None:
            looked = ", ".join(str(root / c) for c in SPLIT_DIRS[dataset])
            raise SplitError(f"{dataset}: no split files found; looked in {looked} (pass split_dir=...)")
    if video_dir is not None:
        vdir = root / video_dir
    else:
        vdir = _find_dir(root, VIDEO_DIRS[dataset], _looks_like_video_dir) or root
    if suffix is None and _is_prepared(root, vdir):
        suffix = ".mp4"

    if dataset in ("ucf101", "synthetic"):
        out = ucf101_split(sdir, split, subset, vdir, suffix=suffix, name=dataset)
    elif dataset == "hmdb51":
        out = hmdb51_split(sdir, split, subset, vdir, suffix=suffix)
    else:
        if split != 1:
            raise SplitError(f"diving48 has a single official split; got split={split}")
        out = diving48_split(sdir, subset, version, vdir, suffix=suffix)
    if check_files:
        verify_files(out, vdir, on_missing=on_missing)
    return out


def _is_prepared(root: Path, video_dir: Path) -> bool:
    return (root / PREPARED_MARKER).is_file() or (video_dir / PREPARED_MARKER).is_file()


def detect_dataset(split_dir: str | Path) -> str | None:
    """Guess which dataset's split files are in ``split_dir``: ``"ucf101"`` (classInd.txt; the synthetic
    dataset looks the same), ``"hmdb51"``, ``"diving48"``, or ``None``."""
    d = Path(split_dir)
    if (d / "classInd.txt").is_file():
        return "ucf101"
    if any(d.glob("*_test_split1.txt")):
        return "hmdb51"
    if (d / DIVING48_VOCAB).is_file():
        return "diving48"
    return None


def load_subset(data, subset: str):
    """The ``subset`` (train | test) of the configured split, capped to ``data.max_videos`` videos."""
    split = load_split(data.dataset, data.root, data.split, subset, on_missing="raise")
    if data.max_videos is not None:
        split = replace(split, items=split.items[: data.max_videos])
    return split
