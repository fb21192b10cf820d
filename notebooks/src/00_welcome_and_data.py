"""Source of notebooks/00_welcome_and_data.ipynb (build: python notebooks/src/build.py)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("00_welcome_and_data")

nb.md(
    r"""
    # 00 · Welcome: what STCLR learns from, and how the kit reads it

    **Sparse Temporal Contrastive Learning (STCLR)** learns video features without labels by comparing short
    clips of the same video: clips taken at *different places and speeds* of one video should look different
    to the network, while two augmented copies of the *same* clip should look alike. This first notebook
    shows the idea in pictures on the kit's own synthetic motion dataset, explains why that dataset can only
    be solved by looking at motion, and shows how the kit reads video frames *exactly* — something the
    usual fast readers get silently wrong on the AVI files of UCF-101 and HMDB-51.

    **What you will learn**
    - what STCLR does differently from TCLR: sparse local clips at several speeds, two views per clip, and the
      three losses of Eq. 1 (paper Fig. 1–3);
    - what is in the synthetic dataset, and why appearance (drawn from a pool shared by all classes) cannot
      tell its classes apart while motion can;
    - how to inspect and read videos with `stclr.video.probe` / `read_frames`, and load splits with `load_split`;
    - why random access with decord returns wrong frames on [MPEG-4 Part 2](../docs/glossary.md#mpeg-4-part-2)
      AVIs with [B-frames](../docs/glossary.md#b-frames), and how to measure it with videos whose frames encode
      their own index.

    The method is summarised, with the paper's section and equation numbers, in
    [docs/method.md](../docs/method.md); terms are defined in [docs/glossary.md](../docs/glossary.md).

    | compute | with the defaults |
    |---|---|
    | CPU (laptop, 2 cores) | {{course.00_s}} s in `make course` on 2 cores, plus {{course.dataset_s}} s once to generate the dataset (`docs/benchmarks.md`, "make course end to end") |
    | GPU | not used: nothing is trained here (full-scale settings are the same) |
    | disk | a few MB (`data/synthetic`) plus a few temporary files |
    """
)

nb.code(
    """
    %matplotlib inline
    import shutil
    import tempfile
    from pathlib import Path

    import numpy as np
    import torch

    from stclr.data.splits import load_split
    from stclr.data.synthetic import ensure_synthetic_dataset, load_meta, make_synthetic_dataset
    from stclr.fixtures import frame_indices_of, write_index_video
    from stclr.runinfo import resolve_device, seed_everything, write_json
    from stclr.sampling import sparse_local_clips, tclr_clips
    from stclr.video import HAS_DECORD, VideoReadError, choose_backend, probe, read_frames
    from stclr.viz import data as vz

    print(f"torch {torch.__version__} | CUDA available: {torch.cuda.is_available()} | decord installed: {HAS_DECORD}")
    """
)

nb.md("**Parameters.** Every knob of this notebook, with its default. [papermill](../docs/glossary.md#papermill) and "
      "`stclr batch` replace these literals.")

nb.params(
    """
    data_root: str = "../data/synthetic"  # synthetic dataset folder (generated here when missing or empty)
    out_dir: str = "../runs/notebooks/00_welcome_and_data"  # metrics.json and figures go here
    device: str = "auto"  # auto, cpu, cuda or mps (nothing here needs a GPU)
    show_progress: bool = True  # progress bar while the dataset is generated
    interactive: bool = True  # widgets (this notebook has none)
    seed: int = 0  # seeds the clip positions drawn for the figures
    clip_len: int = 8  # frames per clip (L): the course uses 8, the paper 16
    skips: str = "medium"  # skip preset of the sparse clips shown: paper, simplified, low, medium or high
    strip_frames: int = 8  # frames shown per class in the frame strips
    demo_frames: int = 300  # frames in each index-encoding test video of the decoding demo
    """
)

nb.code(
    """
    seed_everything(seed)
    dev = resolve_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {}
    print(f"device: {dev} | seed: {seed} | results in {out}")
    """
)

nb.md(
    """
    ## 1. The data

    The kit ships no videos; it *generates* its default dataset with `make_synthetic_dataset` (deterministic by
    seed, resumable). The cell below generates it only when `data_root` holds no complete dataset yet
    ({{course.dataset_s}} s on 2 cores, once); otherwise it just reads the dataset's `meta.json`.
    """
)

nb.code(
    """
    root = Path(data_root)
    ensure_synthetic_dataset(root, show_progress=show_progress)  # generated here when missing
    meta = load_meta(root)  # config, classes, per-video look, speed and phase boundaries
    videos_dir = root / "videos"
    print(f"synthetic dataset in {root}: {len(meta['videos'])} videos")
    """
)

nb.code(
    """
    cfg = meta["config"]
    print("classes:", meta["classes"])
    print(f"{cfg['videos_per_class']} videos per class, {cfg['num_frames']} frames of "
          f"{cfg['size']}x{cfg['size']} px at {cfg['fps']} fps, {len(meta['looks'])} shared looks")
    """,
    check_output=True,
)

nb.md(
    r"""
    ## 2. STCLR in pictures

    **Self-supervised learning in two phases (paper Fig. 1).** First a network is *pretrained* on unlabelled
    videos with an objective that needs no labels; then its features are *evaluated downstream*: nearest-neighbour
    video retrieval straight on the features, or fine-tuning for action recognition with a few labels.

    **Why sparse clips (paper Fig. 2).** A long jump has two stages: running, then jumping. TCLR's *local–local*
    loss takes four adjacent, dense clips (skip 1, 16 frames each) and pushes their features apart. Being
    neighbours, they often fall in the same stage, so the loss pushes apart clips that show the same thing.
    STCLR instead draws $N = 5$ clips at **random positions**, each at its **own skip rate** (every 1st, 4th,
    8th, ... frame), so the clips cover different stages and different amounts of motion.

    Our class `SlideThenHop` has two stages too: the sprite slides sideways, then hops in place. Let us draw
    both clip sets on one of its videos (`clip_len` frames per clip, skip preset `skips`).
    """
)

nb.code(
    """
    video = next(v for v in meta["videos"] if v["class"] == "SlideThenHop" and v["subset"] == "train")
    n = video["phases"][-1]["end"]  # frames in the video
    rng = np.random.default_rng(seed)
    dense = tclr_clips(n, rng, length=clip_len)  # TCLR: 4 adjacent local clips + 1 global clip at skip 4
    sparse = sparse_local_clips(n, rng, skips, length=clip_len)  # STCLR: one clip per skip rate
    print(video["path"], [(p["kind"], p["start"], p["end"]) for p in video["phases"]])
    print("TCLR local: ", list(dense.local))
    print("TCLR global:", dense.global_clip)
    print("STCLR local:", list(sparse))
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_dense_vs_sparse(n, dense, sparse, phases=video["phases"],
                                  title=f"One {video['class']} video: the frames each method looks at")
    fig.savefig(out / "dense_vs_sparse.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* the four TCLR clips sit side by side in a window of $4L$ frames and often stay inside one
    phase (pink = slide, cyan = hop), while the STCLR clips start anywhere and the faster ones (larger skip)
    stretch across both phases. The colour of a clip is its skip rate, the same in every figure of the course.

    Here are the frames those five sparse clips actually contain:
    """
)

nb.code(
    """
    clip_frames = [read_frames(videos_dir / video["path"], c.indices(n)) for c in sparse]
    fig = vz.plot_clip_frames(clip_frames, sparse, num_frames=n,
                              title="The sparse clips: same length, different speeds")
    fig
    """
)

nb.md(
    r"""
    *What to notice:* every clip has the same number of frames, but the sprite barely moves in the slow clip
    and covers a long path (sometimes both the slide and the hop) in the fast ones. The network sees the same
    action at several speeds.

    ### Two views and three losses

    Each clip is augmented twice, independently (random crop, flip, colour changes, ...; notebook 02), giving
    two *views* $a$ and $b$. A 3D CNN (R3D-18 in the paper) and a [projection head](../docs/glossary.md#projection-head) turn each view into a feature
    $G$. With the similarity $h(u, v) = \exp(\cos(u, v) / \tau)$ ($\tau = 0.3$), STCLR minimises (Eq. 1)

    $$\mathcal{L}_{STCLR} = \mathcal{L}_{Pretext} + \mathcal{L}_{IC} + \mathcal{L}_{SLL}. \tag{1}$$

    - **Instance contrastive** (Eq. 2): two *different* local clips of video $i$ (different speeds), one per
      view, are a positive pair $(G_i, G'_i)$; every clip of every other video in the batch of $N_B$ videos is a negative:
      $$\mathcal{L}^i_{IC} = -\log \frac{h(G_i, G'_i)}{\sum_{j=1}^{N_B} \left[\mathbb{1}_{[j \neq i]}\, h(G_i, G_j) + h(G_i, G'_j)\right]}. \tag{2}$$
    - **Sparse local–local** (Eq. 3): within one video, clip $p$'s two views are the positive pair and the other
      clips of the *same* video, in both views, are the $2N - 2$ negatives — this is what makes features
      *temporally distinct*:
      $$\mathcal{L}^i_{SLL} = -\sum_{p=1}^{N} \log \frac{h(G_{i,p}, G'_{i,p})}{\sum_{q=1}^{N} \left[\mathbb{1}_{[q \neq p]}\, h(G_{i,p}, G_{i,q}) + h(G_{i,p}, G'_{i,q})\right]}. \tag{3}$$
    - **Same Speed Localization** pretext (Sec. 3.3): three clips, from three videos (probability $C_1 = 0.6$) or
      from one; a 4-way classifier says which two share a speed (labels 12, 13, 23 or none).

    How many comparisons is that for one batch? (Plain arithmetic from the definitions above, at the paper's
    scale: $N_B = 38$ videos, $N = 5$ clips.)
    """
)

nb.code(
    """
    B, N = 38, 5
    print(f"instance contrastive: {B} anchors, 1 positive and {2 * B - 2} negatives each")
    print(f"sparse local-local:   {B * N} anchors, 1 positive and {2 * N - 2} negatives each")
    print(f"same speed pretext:   {B} tuples of 3 clips, 4 classes")
    print(f"clips through the network per step: {B * N * 2} local views + {B * 3} SSL clips")
    """,
    check_output=True,
)

nb.md(
    """
    ## 3. The synthetic motion dataset

    Each class is an ordered sequence of **motion phases**, played at a per-video speed (×0.75–1.35) with a
    random start in the motion's cycle and, for two-phase classes, a random switch point (35–65 % of the video):
    """
)

nb.code(
    """
    for c in meta["classes"]:
        n_train = sum(v["class"] == c and v["subset"] == "train" for v in meta["videos"])
        print(f"{c:13s} phases: {' -> '.join(meta['class_phases'][c]):13s} train videos: {n_train}")
    """,
    check_output=True,
)

nb.code(
    """
    strip_idx = np.linspace(0, cfg["num_frames"] - 1, strip_frames).round().astype(int)
    first = {}  # the first training video of each class
    for v in meta["videos"]:
        if v["subset"] == "train":
            first.setdefault(v["class"], v)
    strips = {c: read_frames(videos_dir / v["path"], strip_idx) for c, v in first.items()}
    fig = vz.plot_class_strips(strips, strip_idx, phases={c: v["phases"] for c, v in first.items()},
                               title="One training video per class, left to right in time")
    fig.savefig(out / "class_strips.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* a single frame says almost nothing about the class. The same kind of sprite on the same
    kind of background shows up in rows of different classes, and what differs is how it moves from one column
    to the next. The bar under each frame names the phase it belongs to: the two-phase classes switch half-way.

    **Appearance is shared on purpose.** Background, sprite shape, colour and size come from a small pool of
    *looks* that all classes draw from, so a network that memorises appearance cannot tell the classes apart
    (and the instance-contrastive loss cannot win by recognising a video's look alone; the notebooks on
    the losses come back to this shortcut). Count how the looks are spread over the classes:
    """
)

nb.code(
    """
    counts, classes = vz.look_class_counts(meta)
    print("classes using each look:", (counts > 0).sum(axis=1).tolist())
    print("looks used by each class:", (counts > 0).sum(axis=0).tolist())
    """,
    check_output=True,
)

nb.code(
    """
    look_names = [f"look {i}: {lk['shape']}" for i, lk in enumerate(meta["looks"])]
    fig = vz.plot_look_class_counts(counts, classes, look_labels=look_names)
    fig
    """
)

nb.md(
    """
    *What to notice:* every row (a look) has several non-empty cells: each look appears in several classes, and
    every class uses several looks. Appearance is therefore a weak cue for the class. Motion is not: below, the
    top row is the first frame of each class's video, the bottom row its *motion energy* (the mean absolute
    difference between consecutive frames, `vz.motion_energy`).
    """
)

nb.code(
    """
    whole = {c: read_frames(videos_dir / v["path"], range(cfg["num_frames"])) for c, v in first.items()}
    fig = vz.plot_appearance_vs_motion(whole, title="Appearance (top) says little; motion (bottom) tells the class")
    fig.savefig(out / "appearance_vs_motion.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* the motion-energy maps have one signature per class: a horizontal band then a blob
    for slide-then-hop, a ring for spin, nested outlines for pulse, a loop for orbit, a zig-zag band, a small
    blob for jitter, a straight diagonal streak. `SlideThenHop` and `HopThenSlide` leave nearly the same
    energy map: only the *order* of the phases separates them, which a model must get from time.

    ## 4. Reading videos exactly

    `stclr.video` defines frame $i$ as the $i$-th frame of a plain sequential decode, and every reader is tested
    against that definition. `probe` counts the frames that actually decode (headers can be wrong),
    and `read_frames(path, indices, size=...)` returns `uint8 [T, H, W, 3]` in the order asked, decoding the
    sorted union of the indices in **one pass** (duplicates decoded once). `size` may be an int (short side) or `(H, W)`.
    """
)

nb.code(
    """
    path = videos_dir / video["path"]
    info = probe(path)
    print(f"{info.num_frames} frames, {info.fps} fps, {info.height}x{info.width}, {info.codec}, "
          f"B-frames: {info.has_b_frames}, random access exact: {info.seek_exact}, reader: {choose_backend(path)}")
    frames = read_frames(path, [90, 3, 3, 40], size=32)
    print(tuple(frames.shape), frames.dtype, "| frames 1 and 2 are equal:", bool((frames[1] == frames[2]).all()))
    """,
    check_output=True,
)

nb.md(
    """
    ## 5. Splits: the real datasets and ours

    The paper pretrains on UCF-101 split 1 (train) and evaluates on UCF-101 and HMDB-51; Diving-48 tests
    fine-grained motion. `stclr.data.splits.load_split(dataset, root, split, subset)` parses all of them
    strictly and returns a `Split` of `VideoItem(path, label, start, end)`:

    | dataset | layout under `root` | quirks the parser handles |
    |---|---|---|
    | UCF-101 | `UCF-101/<Class>/v_*.avi`, `ucfTrainTestlist/classInd.txt`, `trainlist01.txt`, `testlist01.txt` | CRLF line ends; folder `HandstandPushups` vs files `v_HandStandPushups_*` |
    | HMDB-51 | `<class>/*.avi`, `testTrainMulti_7030_splits/<class>_test_split<k>.txt` (1 = train, 2 = test, 0 = unused) | trailing spaces; names with `! # & ( ) + ; @ [ ] ~` |
    | Diving-48 | `rgb/*.mp4`, `Diving48_train.json` / `Diving48_test.json`, `Diving48_vocab.json` | JSON records with frame ranges |
    | synthetic | `videos/<Class>/v_<Class>_gXX_cYY.mp4`, `splits/` in UCF-101's format | none: made to exercise the UCF-101 parser |

    The real videos are MPEG-4 Part 2 in AVI (UCF-101, HMDB-51); the synthetic ones are [H.264](../docs/glossary.md#h264) in MP4.
    Like UCF-101, videos come in *groups* that share an actor and scene (here: a look); whole groups go to the
    test list (UCF-101's split 1 uses groups 1–7), so no test video shares its group with a training video.
    Here the first 8 of each class's 16 groups are test: half the videos, so that the course's results rest on
    256 test videos, where one video is 0.4 points of an accuracy and a result near 50 % moves by about ±3
    points with the draw of the test videos alone (with 64 it moved by ±6).
    """
)

nb.code(
    """
    train = load_split("synthetic", root, 1, "train")
    test = load_split("synthetic", root, 1, "test")
    print(f"{len(train)} train / {len(test)} test videos, {train.num_classes} classes, missing files: {len(train.missing) + len(test.missing)}")
    print(train[0])
    print("test groups:", sorted({v["group"] for v in meta["videos"] if v["subset"] == "test"}))
    print("raw first line of trainlist01.txt:", (root / "splits" / "trainlist01.txt").read_bytes().split(b"\\n")[0])
    """,
    check_output=True,
)

nb.md(
    """
    *What to notice:* labels are 0-based in the `Split` (the file says `1`), paths are relative to
    `Split.root`, and the raw line ends in `\\r` (CRLF), exactly as in UCF-101's lists.

    ## 6. Wrong frames from naive random access

    The popular reader decord offers random access (`get_batch(indices)`): it seeks to a
    [keyframe](../docs/glossary.md#keyframe-i-frame) and decodes forward. On **MPEG-4 Part 2 AVI files with
    B-frames** — the format of UCF-101 and HMDB-51 — that returns *other frames than asked, silently*. On six of
    the seven real HMDB-51 clips it was measured on while the kit was built, 47–99 % of the frames returned for
    an STCLR-style request were wrong (2 % on the seventh; [docs/method.md, "Facts about the
    tools"](../docs/method.md#8-facts-about-the-tools)). You would never notice on natural footage, so we make
    test videos whose frames carry their own index as a binary code (`stclr.fixtures`), in both formats, in a
    temporary folder:
    """
)

nb.code(
    """
    tmp = Path(tempfile.mkdtemp(prefix="stclr_nb00_"))
    avi = write_index_video(tmp / "index.avi", demo_frames, codec="mpeg4")  # like UCF-101 / HMDB-51: B-frames, GOP 12
    mp4 = write_index_video(tmp / "index.mp4", demo_frames, codec="h264")  # like the synthetic dataset
    for p in (avi, mp4):
        i = probe(p)
        print(f"{p.name}: {i.codec}, {i.num_frames} frames, "
              f"B-frames: {i.has_b_frames}, random access exact: {i.seek_exact}, kit reader: {choose_backend(p)}")
    """,
    check_output=True,
)

nb.code(
    """
    shown = [0, 1, 2, 7, demo_frames // 2]
    fig = vz.plot_frame_grid(read_frames(avi, shown), titles=[f"frame {i}" for i in shown], ncols=5,
                             title="Frames that encode their own index (grid = code, bar = time)")
    print("indices read back from the pixels:", frame_indices_of(read_frames(avi, shown)))
    fig
    """
)

nb.md(
    """
    Now ask for what STCLR asks for: five sparse 16-frame clips of the paper's preset (skips 1, 4, 8, 16, 32),
    and check every returned frame's code against the index requested. First the kit's readers (`auto` picks
    sequential PyAV for the AVI and timestamp-checked seeking for the MP4):
    """
)

nb.code(
    """
    demo_clips = sparse_local_clips(demo_frames, np.random.default_rng(seed), "paper", 16)
    wanted = np.concatenate([c.indices(demo_frames) for c in demo_clips])
    returned, wrong = {}, {}  # (reader, file) -> indices read back; reader -> {file: wrong frames}
    for name, kw in {"stclr_auto": {"backend": "auto"}, "stclr_pyav": {"backend": "pyav"}}.items():
        for p in (avi, mp4):
            returned[name, p.suffix] = np.array(frame_indices_of(read_frames(p, wanted, **kw)))
            wrong.setdefault(name, {})[p.suffix[1:]] = int((returned[name, p.suffix] != wanted).sum())
    print(f"{len(wanted)} frames requested ({len(np.unique(wanted))} distinct)")
    print(f"{'reader':12s} {'wrong in .avi':>14s} {'wrong in .mp4':>14s}")
    for name, w in wrong.items():
        print(f"{name:12s} {w['avi']:14d} {w['mp4']:14d}")
    """,
    check_output=True,
)

nb.md("Then decord's random access, which the kit only allows on such a file when told `allow_inexact=True`:")

nb.code(
    """
    try:
        read_frames(avi, wanted, backend="decord")
    except VideoReadError as e:
        print("refused:", e.cause)
    if HAS_DECORD:
        for p in (avi, mp4):
            got = np.array(frame_indices_of(read_frames(p, wanted, backend="decord", allow_inexact=True)))
            returned["decord", p.suffix] = got
            wrong.setdefault("decord_get_batch", {})[p.suffix[1:]] = int((got != wanted).sum())
            print(f"decord get_batch on {p.suffix}: {int((got != wanted).sum())} of {len(wanted)} frames wrong")
    else:
        print("decord is not installed: skipping the random-access demonstration (the kit never needs it)")
    """
)

nb.code(
    """
    panels = {"stclr read_frames (AVI)": returned["stclr_auto", ".avi"]}
    if HAS_DECORD:
        panels = {"decord get_batch (AVI)": returned["decord", ".avi"], **panels,
                  "decord get_batch (MP4)": returned["decord", ".mp4"]}
    fig = vz.plot_wrong_frames(wanted, panels, title="Requested frame vs. the frame actually returned")
    fig.savefig(out / "wrong_frames.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* on the AVI, decord's points leave the diagonal — whole runs of frames come back from
    another place in the video, with no error. The kit's reader and decord on H.264 MP4 stay on the diagonal.
    This is why the kit decodes risky files sequentially (stopping at the last frame needed) and offers
    `stclr data prepare` to transcode a real dataset to H.264 MP4 once, for fast exact seeking.

    ## 7. Results

    The numbers of this notebook go to `out_dir/metrics.json` (the contract of `stclr batch` and `stclr course`).
    """
)

nb.code(
    """
    metrics["dataset"] = {"videos": len(meta["videos"]), "train": len(train), "test": len(test),
                          "classes": len(classes), "looks": len(meta["looks"]),
                          "mean_classes_per_look": float((counts > 0).sum(axis=1).mean())}
    metrics["decoding"] = {"requested": int(len(wanted)), "wrong_frames": wrong, "decord_installed": HAS_DECORD}
    write_json(out / "metrics.json", metrics)
    shutil.rmtree(tmp, ignore_errors=True)  # the index-encoding test videos are no longer needed
    print(sorted(metrics), "->", "metrics.json")
    """,
    check_output=True,
)

nb.md(
    r"""
    ## Summary

    - STCLR learns from **sparse local clips**: $N$ clips per video at random positions, each at its own skip
      rate, two augmented views each, trained with the instance-contrastive loss (Eq. 2), the sparse local–local
      loss (Eq. 3) and the Same Speed Localization pretext (Eq. 1).
    - TCLR's dense, adjacent clips often stay inside one stage of an action; sparse clips span several.
    - The synthetic dataset's classes differ **only in motion**: looks are shared by all classes, and
      `SlideThenHop` / `HopThenSlide` differ only in the order of their phases.
    - `probe` counts decodable frames; `read_frames` returns exactly the frames asked, in one pass per call.
    - Random access with decord returns wrong frames on MPEG-4 Part 2 AVIs with B-frames; the kit measures
      that with index-encoding videos and never does it by default.

    ## Check your understanding

    1. Why can adjacent dense clips hurt the local–local loss on a two-stage action like a long jump?

    <details><summary>Answer</summary>

    TCLR's four adjacent 16-frame clips cover one short window, which often lies inside a single stage (all
    running, say). The local–local loss makes them negatives of each other, so it pushes apart features of clips
    that show the same thing, and it rarely gets to contrast the two stages, which is the distinction that
    matters (paper Fig. 2 B vs C).

    </details>

    2. In Eq. 3, how many negatives does each anchor have with $N = 5$ clips, and where do they come from?

    <details><summary>Answer</summary>

    $2N - 2 = 8$, all from the same video: the other 4 clips in the anchor's own view ($G_{i,q}$, $q \ne p$)
    and the other 4 clips in the second view ($G'_{i,q}$, $q \ne p$). The anchor's own second view
    $G'_{i,p}$ is the positive, and the anchor itself is left out.

    </details>

    3. What makes the synthetic dataset impossible to solve from a single frame? Which two classes cannot be
       told apart even from a motion-energy map, and why?

    <details><summary>Answer</summary>

    A single frame shows only appearance, and every look (background, sprite, colour, size) is drawn from a pool
    shared by all classes, so appearance does not identify a class; the classes differ only in how the sprite
    moves over time. `SlideThenHop` and `HopThenSlide` contain the same two motions in opposite order; a
    motion-energy map averages over time and loses the order.

    </details>

    4. Why does `probe` decode the whole video instead of trusting the header's frame count?

    <details><summary>Answer</summary>

    Container headers can be wrong (decord's `len()` is one too many on HMDB-51's AVIs). The kit defines frame
    $i$ as the $i$-th frame of a sequential decode, so only counting the frames that actually decode agrees with
    that definition; a clip planned past the real end would fail or read the wrong frames.

    </details>

    5. Why would wrong frames from a reader go unnoticed during training, and how did we make them visible?

    <details><summary>Answer</summary>

    A wrong frame is still a real frame of the same video, with the same look: nothing crashes and the losses
    still fall; only the clip's timing (its position and speed) is silently wrong. Test videos whose pixels
    encode their own frame index make every returned frame checkable against the index that was asked for.

    </details>

    ## Exercises

    **1.** Find the look used by the most classes and show the first frame of one video of each of those
    classes (`vz.plot_frame_grid`). Can you tell which class each frame comes from?

    <details><summary>Solution</summary>

    ```python
    look = int((counts > 0).sum(axis=1).argmax())
    picks = {}
    for v in meta["videos"]:
        if v["look"] == look:
            picks.setdefault(v["class"], v)
    frames0 = [read_frames(videos_dir / v["path"], [0])[0] for v in picks.values()]
    vz.plot_frame_grid(frames0, titles=list(picks), title=f"look {look} in {len(picks)} classes")
    ```
    Not from one frame: the sprite and background are the same; only the motion differs.
    </details>

    **2.** Set `skips = "paper"` (skips 1, 4, 8, 16, 32) and draw the sparse clips again for `clip_len = 8`.
    Which clips are changed, and how does the `ClipSpec` record it?

    <details><summary>Solution</summary>

    ```python
    print(sparse_local_clips(n, np.random.default_rng(seed), "paper", length=clip_len))
    ```
    An 8-frame clip at skip 16 spans $16 \cdot 7 + 1 = 113$ frames, more than the 96 of the video; the default
    `fit` policy lowers such skips to the largest that fits, $\lfloor 95 / 7 \rfloor = 13$, and the spec prints
    `requested_skip=16` (and `requested_skip=32` for the last). Notebook 01 compares the policies.
    </details>

    **3.** How many distinct frames does each clip set of section 2 need, and what fraction of the video lies
    between its first and last frame?

    <details><summary>Solution</summary>

    ```python
    for name, clips in {"TCLR": [*dense.local, dense.global_clip], "STCLR": sparse}.items():
        idx = np.unique(np.concatenate([c.indices(n) for c in clips]))
        print(name, len(idx), "frames, extent", round((idx[-1] - idx[0] + 1) / n, 2))
    ```
    TCLR needs $4L$ consecutive frames (a third of the video here); STCLR needs fewer distinct frames
    spread over most of it.
    </details>

    **4.** (decord installed) For the AVI, where do decord's wrong frames come from: earlier or later than
    the frame requested, and by how much?

    <details><summary>Solution</summary>

    ```python
    got = returned["decord", ".avi"]
    bad = got != wanted
    print("earlier:", int((got[bad] < wanted[bad]).sum()), "later:", int((got[bad] > wanted[bad]).sum()))
    print("offsets:", sorted(set((got[bad] - wanted[bad]).tolist()))[:10])
    ```
    Almost all come from *earlier* in the video, at offsets that differ by multiples of 12 frames — the
    [GOP](../docs/glossary.md#gop) length of the AVI: the decoder restarts at the wrong keyframe and counts frames from there.
    </details>

    ## References

    - STCLR paper: H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
      Representation*, Neurocomputing: Sec. 1 and Fig. 1–2 (motivation), Sec. 3 and Eq. 1–3 (losses), Fig. 3
      (sparse local–local loss), Sec. 3.3 and Fig. 4 (Same Speed Localization), Sec. 4.1 (datasets). What the
      course needs of it, and the kit's reading where it is vague: [docs/method.md](../docs/method.md).
    - Measured facts about the decoders (decord, PyAV, torchcodec): [docs/method.md, section
      8](../docs/method.md#8-facts-about-the-tools); terms: [docs/glossary.md](../docs/glossary.md).
    - TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal Contrastive Learning for Video
      Representation*, CVIU 2022 — the dense local–local and global–local losses STCLR builds on.
    - The kit: `docs/architecture.md`, `stclr/video.py` (frame exactness), `stclr/fixtures.py`, `data/README.md`.
    """
)
