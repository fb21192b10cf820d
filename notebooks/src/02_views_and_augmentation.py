"""Source of notebooks/02_views_and_augmentation.ipynb (build: python notebooks/src/build.py)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("02_views_and_augmentation")

nb.md(
    r"""
    # 02 · Views and augmentation: two looks at the same clip

    Contrastive learning needs pairs that show the *same thing differently*. In STCLR each local clip is
    augmented twice, independently, into two **views** $a$ and $b$; the local–local loss (Eq. 3) pulls a clip's
    two views together and pushes them away from the other clips of the same video. For video there is one
    extra rule: a view must be transformed **the same way in every frame** — a crop that jumps from frame to
    frame, or colours that flicker, would add fake motion to a clip whose motion is the very thing to learn.
    This notebook shows each augmentation of TCLR's set on its own, builds the two views of a clip and of every
    sparse clip of a video, and *checks* that every frame of a view received the same transform.

    **What you will learn**
    - what each augmentation of TCLR's set (Sec. 4.2.2) does: random resized crop, horizontal flip, colour
      jitter, grayscale, channel drop, cutout (and the SSL set's blur, Sec. 4.2.1);
    - how `stclr.augment.build_train_augment` turns a decoded clip `uint8 [T, H, W, 3]` into a view
      `float [C, T, H, W]`, drawing its random parameters once per call;
    - which images form positives and negatives for the local–local loss (Eq. 3, paper Fig. 3);
    - how to test clip consistency with a static clip, and what a per-frame augmentation would do instead.

    | compute | with the defaults |
    |---|---|
    | CPU (laptop, 2 cores) | {{course.02_s}} s in `make course` on 2 cores (plus {{course.dataset_s}} s once if the dataset must be generated) |
    | GPU | not used (the training loop augments on the CPU, in the data loader) |
    | disk | the synthetic dataset (a few MB) and a few PNGs in `out_dir` |
    """
)

nb.code(
    """
    %matplotlib inline
    from pathlib import Path

    import numpy as np
    import torch

    from stclr.augment import STRENGTHS, build_train_augment, to_video
    from stclr.config import preset
    from stclr.data.splits import load_split
    from stclr.data.synthetic import ensure_synthetic_dataset
    from stclr.runinfo import resolve_device, seed_everything, write_json
    from stclr.sampling import fit_clip, sparse_local_clips
    from stclr.video import probe, read_frames
    from stclr.viz import data as vz

    torch.set_num_threads(1)  # clip-sized ops run fastest on one thread (the data loader does the same)
    print(f"torch {torch.__version__} | CUDA available: {torch.cuda.is_available()} | augmentation sets: {STRENGTHS}")
    """
)

nb.md("**Parameters.** [papermill](../docs/glossary.md#papermill) and `stclr batch` replace these literals; "
      "everything derived from them comes after.")

nb.params(
    """
    data_root: str = "../data/synthetic"  # synthetic dataset folder (generated here when missing or empty)
    out_dir: str = "../runs/notebooks/02_views_and_augmentation"  # metrics.json and figures go here
    device: str = "auto"  # auto, cpu, cuda or mps (nothing here needs a GPU)
    show_progress: bool = True  # progress bar while the dataset is generated
    interactive: bool = True  # show the ipywidgets explorer (section 6)
    seed: int = 0  # seeds the clip positions and the augmentations
    size: int = 64  # side of each view shown here (64: the whole synthetic frame); the course trains at 32 (section 4), the paper at 112
    clip_len: int = 8  # frames per clip (L)
    skip: int = 4  # skip rate of the example clip
    skips: str = "medium"  # skip preset of the sparse clips in section 3
    strength: str = "tclr"  # augmentation set: tclr (the paper's contrastive clips), light (the course's), ssl, finetune or none
    video_index: int = 0  # which training video the clips come from
    consistency_trials: int = 20  # random views per augmentation set in the consistency check
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

nb.code(
    """
    root = Path(data_root)
    ensure_synthetic_dataset(root, show_progress=show_progress)  # generated here when missing
    train = load_split("synthetic", root, 1, "train")
    item = train[video_index]
    path = train.abspath(item)
    print(f"{len(train)} training videos; using {item.path} ({train.classes[item.label]})")
    """
)

nb.md(
    """
    ## 1. A clip and the augmentation pipeline

    First a clip: `clip_len` frames at skip `skip`, decoded exactly (`uint8 [T, H, W, 3]`, notebook 00).
    """
)

nb.code(
    """
    n = probe(path).num_frames
    spec = fit_clip(n, skip, clip_len, np.random.default_rng(seed))  # start drawn where the clip fits
    clip = read_frames(path, spec.indices(n))
    print(spec, "frames", spec.indices(n).tolist(), tuple(clip.shape), clip.dtype)
    """,
    check_output=True,
)

nb.md(
    r"""
    `build_train_augment(size, strength)` returns a `ClipTransform`: the geometric ops (crop, resize, flip) run
    first on `uint8` frames, then **one** conversion to float in $[0, 1]$, then the photometric ops (colour,
    grayscale or channel drop, cutout), and the result is permuted to the network's layout `[C, T, H, W]`. Every
    op is a `torchvision.transforms.v2` transform applied to a `tv_tensors.Video` `[T, C, H, W]`, which v2 treats
    as *one* sample: random parameters are drawn once per call and applied to all $T$ frames.
    """
)

nb.code(
    """
    aug = build_train_augment(size, strength)
    print(aug.transforms)
    """
)

nb.md(
    """
    ## 2. One row per transform

    TCLR's set (used by STCLR's contrastive losses, Sec. 4.2.2), each op on its own and forced on
    (`vz.transform_showcase`); in training each fires with its own probability:

    | transform | what it does | in training (`"tclr"`) |
    |---|---|---|
    | random resized crop | crops 30–100 % of the area at aspect 3:4–4:3, resizes to `size` | always |
    | horizontal flip | mirrors left–right | p = 0.5 |
    | colour jitter | brightness, contrast, saturation (×0.75–1.25) and hue (±0.1 turn) | p = 0.25–0.3 each |
    | grayscale + gamma | removes colour, then a random gamma | p = 0.175 |
    | channel drop | sets one colour channel to 0 | p = 0.125 (never with grayscale) |
    | cutout | blanks a small random box (0.6–3 % of the area) | p = 0.5 |
    | Gaussian blur | the SSL set's blur (Sec. 4.2.1) | SSL clips only |
    """
)

nb.code(
    """
    torch.manual_seed(seed)
    video = to_video(clip)  # uint8 [T, 3, H, W], a view of the same memory
    rows = {"original": clip}
    for name, t in vz.transform_showcase(size).items():
        rows[name] = t(video)
    fig = vz.plot_clip_rows(rows, max_frames=clip_len, frame_labels=[f"frame {i}" for i in spec.indices(n)],
                            title="Each transform alone: one draw, applied to every frame of the clip")
    fig.savefig(out / "one_row_per_transform.png", dpi=120)
    fig
    """
)

nb.md(
    """
    An augmentation that silently does nothing is as easy to miss as one that flickers, so check that every
    row differs from the original:
    """
)

nb.code(
    """
    for name, v in rows.items():
        if name != "original":
            print(f"{name:24s} changed the clip: {not np.array_equal(vz.as_frames(v), vz.as_frames(clip))}")
    """,
    check_output=True,
)

nb.md(
    """
    (This check is worth keeping: in torchvision 0.29, `v2.Grayscale` has no kernel for `tv_tensors.Video` and
    returns a video *unchanged*, without a warning. The showcase uses a video-aware grayscale for that reason.)

    *What to notice* in the figure: along each row the sprite moves exactly as in the original, while the crop window, the
    flip, the colour change, the dropped channel and the cutout box stay put from the first frame to the last:
    the transform changes the *appearance* of the clip, never its motion. That is what makes appearance a weak
    cue for the contrastive losses: two views of one clip can differ more in colour and framing than two
    different videos of the same look.

    ## 3. Two views of a clip, and of every sparse clip

    Calling the augmentation twice on the same clip gives its two views, each with its own random draw:
    """
)

nb.code(
    """
    torch.manual_seed(seed)
    view_a, view_b = aug(clip), aug(clip)
    print(tuple(view_a.shape), view_a.dtype, "| values in [0, 1]:",
          bool(view_a.min() >= 0 and view_a.max() <= 1), "| views differ:", not torch.equal(view_a, view_b))
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_clip_rows({"clip": clip, "view a": view_a, "view b": view_b}, max_frames=clip_len,
                            frame_labels=[f"frame {i}" for i in spec.indices(n)],
                            title=f"Two views of one clip ('{strength}' augmentation)")
    fig.savefig(out / "two_views.png", dpi=120)
    fig
    """
)

nb.md(
    r"""
    *What to notice:* both views show the same motion, framed and coloured differently. For the network, the
    two views are a positive pair: their features should agree despite the different crops and colours.

    Now every sparse local clip of the video (preset `skips`), decoded in one pass over the union of their
    frames, each with two views. For the local–local loss (Eq. 3) each column is a positive pair $(G_{i,p}, G'_{i,p})$
    and every image of the *other* columns is one of the $2N - 2$ negatives (paper Fig. 3: transformations
    $T_A, \dots, T_E$ drawn from one set $T_F$):
    """
)

nb.code(
    """
    local = sparse_local_clips(n, np.random.default_rng(seed), skips, length=clip_len)
    union = np.unique(np.concatenate([c.indices(n) for c in local]))
    decoded = read_frames(path, union)  # one decode for all clips
    clips = [decoded[np.searchsorted(union, c.indices(n))] for c in local]
    torch.manual_seed(seed)
    views = [(aug(c), aug(c)) for c in clips]
    print(f"{len(clips)} clips from one decode of {len(union)} frames; each view {tuple(views[0][0].shape)}")
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_view_pairs(clips, [a for a, _ in views], [b for _, b in views],
                             labels=[f"clip {p + 1} \\u00b7 skip {c.skip}" for p, c in enumerate(local)],
                             title="Local-local loss inputs: a column is a positive pair, other columns are negatives")
    fig.savefig(out / "view_pairs.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* within a column the content is the same moment of the video under two transforms; across
    columns the clips come from other times and speeds of the *same* video (same look). To tell them apart the
    network cannot rely on appearance — it has to encode *when* and *how fast* things move.

    ## 4. How strong? The same set is not right at every size

    TCLR's set was made for 112-pixel crops of 320 × 240 videos. The course trains on **32-pixel** clips cut
    from 64-pixel frames: there a crop of 30–100 % of the area changes the framing of a view by up to 1.8× in
    scale, and the two views of a clip rarely line up. The local–local loss (Eq. 3) must pick each clip's other
    view out of $2N - 1$ candidates whose negatives are the *same video* at other times, with the same look. So
    the strength is a setting (`PretrainConfig.augment`, and `ssl_augment` for the SSL clips): the `paper`
    preset keeps `"tclr"`, the `course` preset uses `"light"` (crop 70–100 %, flip, mild colour jitter).

    How much is left to match before any learning? `vz.positive_is_nearest` counts the anchors whose nearest
    candidate in raw pixels is their own positive: 1 for unaugmented views, $1/(2N-1)$ by chance. For the sparse
    clips of section 3, at the course's size, over 20 draws of the views:
    """
)

nb.code(
    """
    course = preset("course")
    torch.manual_seed(seed)
    nearest = {}
    for name in ("none", "light", "tclr"):
        aug_s = build_train_augment(course.size, name)
        nearest[name] = float(np.mean([vz.positive_is_nearest([aug_s(c) for c in clips], [aug_s(c) for c in clips])
                                       for _ in range(20)]))
    print(f"course preset: augment={course.augment!r} at {course.size} px | chance {1 / (2 * len(clips) - 1):.2f} |",
          {k: round(v, 2) for k, v in nearest.items()})
    """
)

nb.code(
    """
    torch.manual_seed(seed)
    pairs = {}
    for name in ("tclr", "light"):
        aug_s = build_train_augment(course.size, name)
        pairs[f"{name} view a"], pairs[f"{name} view b"] = aug_s(clip), aug_s(clip)
    fig = vz.plot_clip_rows(pairs, max_frames=clip_len, title=f"View pairs at {course.size} px: TCLR's set vs the light set")
    fig.savefig(out / "strengths.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* the light pairs show the sprite in nearly the same framing; TCLR's pairs are zoomed and
    shifted differently, and in raw pixels their positive is barely easier to find than by chance (the numbers
    above). A network can still learn to match such views, but only after it has features that ignore scale and
    position — which a fresh tiny network does not have, so the loss has no signal to start from. Measured on the
    synthetic set while the kit was built ([docs/method.md, "Facts about the
    tools"](../docs/method.md#8-facts-about-the-tools)): with TCLR's set the local–local loss stayed at its chance
    value for 304 [optimiser steps](../docs/glossary.md#optimiser-step-and-epoch) on three seeds; with the light
    set it left it within a few dozen steps (notebook 06 shows it,
    `tests/test_course_learning.py` checks it on seeds 0–2). The paper's strong set is not wrong: it suits its
    inputs, and in long runs it makes appearance a weak cue.

    ## 5. Is every frame of a view transformed the same way?

    A clean test: feed a **static clip** (one frame repeated $T$ times). A clip-consistent augmentation keeps all
    output frames identical, whatever it draws; an augmentation drawn per frame makes them differ.
    `vz.frame_spread` gives, for each frame of a view, its largest difference from the view's first frame.
    For comparison we build the *naive* per-frame version: the same augmentation called on each frame alone.
    """
)

nb.code(
    """
    static = clip[:1].expand(clip_len, -1, -1, -1).contiguous()  # frame 0, repeated
    torch.manual_seed(seed)
    consistent = aug(static)
    naive = torch.cat([aug(static[t : t + 1]) for t in range(clip_len)], dim=1)  # one draw per frame
    spreads = {"clip-consistent (stclr.augment)": vz.frame_spread(consistent), "per-frame draws (naive)": vz.frame_spread(naive)}
    for name, s in spreads.items():
        print(f"{name:32s} max spread {float(s.max()):.3f}")
    """
)

nb.code(
    """
    fig = vz.plot_frame_consistency(spreads, title=f"A static clip through '{strength}': consistent vs per-frame")
    fig.savefig(out / "frame_consistency.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* the consistent view stays flat at 0: its eight frames are still identical, so it adds no
    motion. The per-frame version jumps from frame to frame; a network fed such views would see flicker and
    jitter that are not in the video.

    The same test over many random draws, for every augmentation set of the kit:
    """
)

nb.code(
    """
    torch.manual_seed(seed)
    check = {}
    for name in STRENGTHS:
        a = build_train_augment(size, name)
        bad = sum(float(vz.frame_spread(a(static)).max()) > 0 for _ in range(consistency_trials))
        check[name] = {"views": consistency_trials, "views_with_differing_frames": int(bad)}
        print(f"{name:9s} {bad} of {consistency_trials} views have a frame that differs from the first")
    metrics["consistency"] = check
    """,
    check_output=True,
)

nb.md(
    """
    ## 6. Explore

    Redraw the clip and its two views for any augmentation set and seed (runs only when `interactive` is true).
    Try `ssl` (the pretext's set, with blur and stronger colour jitter) and `finetune`.
    """
)

nb.widget(
    """
    if interactive:
        import ipywidgets as widgets
        from IPython.display import display

        def explore(strength, seed):
            torch.manual_seed(seed)
            a = build_train_augment(size, strength)
            display(vz.plot_clip_rows({"clip": clip, "view a": a(clip), "view b": a(clip)}, max_frames=clip_len,
                                      title=f"'{strength}', seed {seed}"))

        widgets.interact(explore, strength=widgets.Dropdown(options=list(STRENGTHS), value=strength),
                         seed=widgets.IntSlider(seed, 0, 99))
    """
)

nb.md("## 7. Results")

nb.code(
    """
    metrics["views"] = {"shape": list(view_a.shape), "strength": strength, "clips": len(clips), "decoded_frames": int(len(union))}
    metrics["positive_is_nearest"] = nearest
    write_json(out / "metrics.json", metrics)
    print(sorted(metrics), "->", "metrics.json")
    """,
    check_output=True,
)

nb.md(
    r"""
    ## Summary

    - Each local clip gets two independently augmented views; for Eq. 3 a clip's two views are the positive
      pair and the other clips of the same video (both views) are the $2N - 2$ negatives.
    - TCLR's set: random resized crop, flip, colour jitter, grayscale (+ gamma) or channel drop, cutout; the SSL
      pretext uses crop, flip, blur, grayscale and colour jitter.
    - `build_train_augment` draws its random parameters once per call and applies them to every frame
      (`torchvision.transforms.v2` on a `tv_tensors.Video`), so a view never adds motion.
    - A static clip is the test: consistent views keep identical frames; per-frame draws do not.

    ## Check your understanding

    1. Why must a view be transformed identically in every frame? Name one transform for which a per-frame draw
       would look like motion.

    <details><summary>Answer</summary>

    What the network should learn from is how the frames change; a transform drawn anew for every frame adds
    changes that are not in the video. A random crop drawn per frame moves and zooms the window from frame to
    frame, so the whole scene seems to jump (fake camera motion); a per-frame flip makes the sprite jump from
    side to side; per-frame colour jitter flickers.

    </details>

    2. In Eq. 3, which images are positives and which are negatives for the anchor $G_{i,p}$?

    <details><summary>Answer</summary>

    The positive is $G'_{i,p}$: the same clip under the other view's transform. The negatives are the other
    clips of the *same* video in both views, $G_{i,q}$ and $G'_{i,q}$ for $q \ne p$: $2N - 2 = 8$ of them.
    Clips of other videos do not appear in Eq. 3.

    </details>

    3. Why do crop, resize and flip run before the conversion to float in `ClipTransform`?

    <details><summary>Answer</summary>

    Speed and memory: on `uint8` a frame is a quarter of its `float32` size, and after the crop and resize every
    later step (the conversion, the colour operations, cutout) touches only `size` × `size` pixels instead of
    the whole decoded frame. One conversion, late, is the cheapest order.

    </details>

    4. The synthetic classes share looks; how does strong colour jitter change what the instance-contrastive loss
       (Eq. 2) can rely on?

    <details><summary>Answer</summary>

    Eq. 2 rewards recognising that two clips come from the same video. With colours jittered independently in
    the two views, matching exact colours no longer finds the partner, so the encoder must use what survives the
    augmentation: shapes, layout and motion. Shared looks already make appearance useless for telling *classes*
    apart; jitter also makes colour a weak cue for telling *videos* apart, which weakens the appearance shortcut
    of notebook 03.

    </details>

    ## Exercises

    **1.** Write the per-frame bug on purpose for a *moving* clip: apply `v2.RandomResizedCrop` frame by frame
    and show the result next to the consistent version. What happens to the sprite's path?

    <details><summary>Solution</summary>

    ```python
    from torchvision.transforms import v2
    crop = v2.RandomResizedCrop((size, size), scale=(0.3, 1.0), antialias=True)
    video = to_video(clip)
    per_frame = torch.cat([crop(video[t : t + 1]) for t in range(len(video))])
    vz.plot_clip_rows({"consistent": crop(video), "per frame": per_frame}, max_frames=clip_len)
    ```
    The per-frame crops move and zoom the window every frame, so the sprite jumps around: fake motion.
    </details>

    **2.** How often does the `"tclr"` augmentation leave a view's colours untouched (no jitter, grayscale or
    channel drop)? Estimate it with a static clip and 200 draws.

    <details><summary>Solution</summary>

    ```python
    from stclr.augment import ClipTransform
    colour_only = ClipTransform([], build_train_augment(size, "tclr").transforms.transforms[-3:-1])
    base = ClipTransform([], [])
    torch.manual_seed(0)
    same = sum(torch.equal(colour_only(static), base(static)) for _ in range(200))
    print(same / 200)
    ```
    About 0.18: none of the four jitter ops fires with probability $0.75 \cdot 0.7^3 \approx 0.26$ (contrast p 0.25,
    the others p 0.3), and the grayscale-or-channel-drop step is skipped with probability 0.7, so
    $0.26 \cdot 0.7 \approx 0.18$ (200 draws give an estimate within a few points of it). More than four views
    in five change colour.
    </details>

    **3.** Show view pairs for the `ssl` set and compare them with `tclr`: which one changes appearance more?

    <details><summary>Solution</summary>

    ```python
    aug_ssl = build_train_augment(size, "ssl")
    views_ssl = [(aug_ssl(c), aug_ssl(c)) for c in clips]
    vz.plot_view_pairs(clips, [a for a, _ in views_ssl], [b for _, b in views_ssl])
    ```
    The SSL set (SimCLR strengths: jitter 0.4 with p 0.8, grayscale p 0.2, blur p 0.5) changes colours far more often.
    </details>

    ## References

    - STCLR paper: Sec. 3.1–3.2 and Eq. 2–3 (positives and negatives), Fig. 3 (two transformed versions of each
      sparse clip), Sec. 4.2.1 (SSL augmentations), Sec. 4.2.2 (TCLR's augmentations).
    - TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal Contrastive Learning for Video
      Representation*, CVIU 2022 (the augmentation set and its reference code).
    - torchvision `transforms.v2` and `tv_tensors.Video`; the kit's `stclr/augment.py` and `tests/test_augment.py`.
    - The augmentation sets and the measurements behind the course's light set: [docs/method.md](../docs/method.md),
      sections 2 and 8.
    """
)
