"""Source of notebooks/01_sparse_sampling.ipynb (build: python notebooks/src/build.py)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("01_sparse_sampling")

nb.md(
    r"""
    # 01 · Sparse sampling: which frames does STCLR look at?

    Everything STCLR learns depends on *which frames* go into its clips. This notebook takes the sampling
    apart: a clip as `(start, skip, length)`, TCLR's dense clips against STCLR's sparse clips on the same video,
    the paper's sparsity presets, a measurement of how much of an action's *phases* each kind of clip set sees
    (using the phase boundaries the synthetic dataset records), what happens when a video is too short for a
    clip, and the batch planner that serves every clip of a batch with a single decode per video.

    **What you will learn**
    - to read and draw clips as `ClipSpec(start, skip, length)` and to sample TCLR's and STCLR's clip sets;
    - what the skip presets of Sec. 4.2.3 (low, medium, high) and Sec. 4.2.2/4.3.1 (simplified, paper) mean for
      a short video;
    - to measure phase coverage: sparse clips touch every phase of a two-phase action and pair up clips from
      different phases more often than dense clips do;
    - how the `fit`, `loop` and `mirror` policies handle too-short videos, and where the choice is recorded;
    - how a batch plan decodes each video exactly once, whatever the SSL tuples borrow from it.

    | compute | with the defaults |
    |---|---|
    | CPU (laptop, 2 cores) | {{course.01_s}} s in `make course` on 2 cores (plus {{course.dataset_s}} s once if the dataset must be generated) |
    | GPU | not used: sampling is pure index arithmetic |
    | disk | the synthetic dataset (a few MB) and a few PNGs in `out_dir` |
    """
)

nb.code(
    """
    %matplotlib inline
    from pathlib import Path

    import numpy as np
    import torch

    from stclr.data.splits import load_split
    from stclr.data.synthetic import ensure_synthetic_dataset, load_meta
    from stclr.plan import PlanConfig, plan_batch
    from stclr.runinfo import resolve_device, seed_everything, write_json
    from stclr.sampling import SKIP_PRESETS, ClipSpec, fit_clip, fitting_speeds, sparse_local_clips, tclr_clips
    from stclr.video import get_counters, probe, read_frames, reset_counters
    from stclr.viz import data as vz

    print(f"torch {torch.__version__} | CUDA available: {torch.cuda.is_available()}")
    """
)

nb.md("**Parameters.** [papermill](../docs/glossary.md#papermill) and `stclr batch` replace these literals; "
      "everything derived from them comes after.")

nb.params(
    """
    data_root: str = "../data/synthetic"  # synthetic dataset folder (generated here when missing or empty)
    out_dir: str = "../runs/notebooks/01_sparse_sampling"  # metrics.json and figures go here
    device: str = "auto"  # auto, cpu, cuda or mps (nothing here needs a GPU)
    show_progress: bool = True  # progress bar while the dataset is generated
    interactive: bool = True  # show the ipywidgets explorer (section 7)
    seed: int = 0  # seeds every clip draw
    quick: bool = False  # the course's quick mode: fewer clip sets in the coverage measurement
    clip_len: int = 8  # frames per clip (L): the course uses 8, the paper 16
    skips: str = "medium"  # STCLR skip preset: paper, simplified, low, medium or high
    policy: str = "fit"  # too-short videos: fit, loop or mirror
    video_index: int = 0  # which two-phase training video the timelines show
    coverage_draws: int = 20  # random clip sets per video in the coverage measurement
    real_video_frames: int = 180  # an average UCF-101 video (mean 7.21 s at 25 fps, Soomro et al. 2012), for the presets figure
    short_video_frames: int = 40  # a too-short video for the policy demo
    batch_size: int = 4  # videos in the example batch plan
    """
)

nb.code(
    """
    seed_everything(seed)
    dev = resolve_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    draws = max(2, coverage_draws // 4) if quick else coverage_draws
    metrics = {}
    print(f"device: {dev} | seed: {seed} | coverage draws per video: {draws} | results in {out}")
    """
)

nb.code(
    """
    root = Path(data_root)
    ensure_synthetic_dataset(root, show_progress=show_progress)  # generated here when missing
    meta = load_meta(root)
    train = load_split("synthetic", root, 1, "train")
    two_phase = [v for v in meta["videos"] if v["subset"] == "train" and len(v["phases"]) == 2]
    print(f"{len(train)} training videos, {len(two_phase)} of them with two motion phases")
    """
)

nb.md(
    r"""
    ## 1. A clip is `(start, skip, length)`

    A clip of length $L$ at skip $s$ starting at frame $t_0$ holds frames $t_0 + s\,k$ for $k = 0, \dots, L-1$. It
    spans $s (L - 1) + 1$ frames of the video: the larger the skip, the faster the motion looks and the more of
    the video one clip covers.
    """
)

nb.code(
    """
    n = two_phase[video_index]["phases"][-1]["end"]  # frames in the video shown below
    for s in (1, 4, 10):
        clip = ClipSpec(start=5, skip=s, length=clip_len)
        print(f"{clip!r:40s} frames {clip.indices(n).tolist()}  span {clip.span}")
    """,
    check_output=True,
)

nb.md(
    """
    ## 2. Dense TCLR clips vs sparse STCLR clips

    **TCLR** (the baseline) picks a window of $4L$ frames and cuts it into 4 adjacent local clips at skip 1, plus a
    *global* clip at skip 4 over the same window. **STCLR** (Sec. 3.2) draws one clip per skip rate of a preset,
    each at a start drawn uniformly among the positions where it fits; clips may overlap. Both samplers are pure
    functions of the frame count and a seeded `numpy` generator.
    """
)

nb.code(
    """
    video = two_phase[video_index]
    phases = [(p["kind"], p["start"], p["end"]) for p in video["phases"]]
    rng = np.random.default_rng(seed)
    dense = tclr_clips(n, rng, length=clip_len)
    sparse = sparse_local_clips(n, rng, skips, length=clip_len, policy=policy)
    print(video["path"], phases)
    print("TCLR local: ", list(dense.local))
    print("TCLR global:", dense.global_clip)
    print("STCLR local:", list(sparse))
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_dense_vs_sparse(n, dense, sparse, phases=phases,
                                  title=f"{video['class']}: dense TCLR clips vs sparse STCLR clips ({skips} preset)")
    fig.savefig(out / "dense_vs_sparse.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* the dense clips cover one contiguous third of the video, so whether they see the switch
    from one phase to the other is luck. The sparse clips start anywhere, and the fast ones alone span both
    phases. This is the paper's Fig. 2 (B vs C) on our data. Rerun with another `seed` or `video_index` to see
    how often the dense window misses a phase; section 4 measures it.

    ## 3. Sparsity presets (Sec. 4.2.3)

    | preset | skips | where in the paper |
    |---|---|---|
    | `paper` | 1, 4, 8, 16, 32 | Sec. 4.3.1 (full STCLR) |
    | `simplified` | 1, 4, 8, 16, 24 | Sec. 4.2.2 (Simplified TCLR) |
    | `low` / `medium` / `high` | 1–5 / 2, 4, …, 10 / 4, 8, …, 20 | Sec. 4.2.3 (sparsity ablation, Figs. 5–7) |

    A 16-frame clip at skip 32 spans 481 frames: longer than most UCF-101 videos (about 180 frames on average:
    the UCF-101 paper, Soomro et al. 2012, gives a mean clip length of 7.21 s at 25 fps).
    With the default `fit` policy such a clip gets the largest skip that fits. Which skips survive?
    """
)

nb.code(
    """
    rng = np.random.default_rng(seed)
    effective = {}
    print(f"{'preset':11s} {f'L=16, {real_video_frames} frames':>22s} {f'L={clip_len}, {n} frames':>22s}")
    for name, sk in SKIP_PRESETS.items():
        real = [fit_clip(real_video_frames, s, 16, rng).skip for s in sk]
        ours = [fit_clip(n, s, clip_len, rng).skip for s in sk]
        effective[name] = {"requested": list(sk), "real_scale": real, "course_scale": ours}
        print(f"{name:11s} {str(real):>22s} {str(ours):>22s}")
    metrics["effective_skips"] = effective
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_skip_presets(SKIP_PRESETS, [(16, real_video_frames), (clip_len, n)],
                               title="How far one clip reaches, per preset and skip")
    fig.savefig(out / "skip_presets.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* in the paper's setting (left) the skips 16, 24 and 32 (and 12 and 20 of `high`) do not fit an
    average video, so the `paper`, `simplified` and `high` presets actually run with several clips at the *same*
    lowered skip; `low` and `medium` always fit. The course's short videos (right) behave the same way with 8-frame clips, which is why
    the course uses the `medium` preset. Colours are the skip rates, as everywhere in the course.

    ## 4. How much of the action do the clips see?

    The synthetic dataset records where each phase starts and ends (`meta.json`), so we can *measure* the
    argument of Fig. 2 on the two-phase classes. For each clip set (all local clips of one video),
    `vz.clip_set_coverage` computes:

    - **phases touched** — the fraction of the video's phases in which at least one clip has a frame;
    - **sets touching all phases** — 1 when both phases are touched;
    - **clip pairs from different phases** — the fraction of pairs of local clips whose *majority* phases
      differ: in the local–local loss (Eq. 3) these are negatives that really show another stage of the action;
    - **temporal extent** — the fraction of the video between the first and the last sampled frame.

    `vz.phase_coverage` averages them over `draws` random clip sets per training video, with the same random
    generator for every sampler (a paired comparison). Besides TCLR and the five presets we add
    *random positions at skip 1*: STCLR's first design choice (random starts) without its second (varied skips).
    """
)

nb.code(
    """
    samplers = {"TCLR dense": lambda m, r: tclr_clips(m, r, length=clip_len).local,
                "random positions, skip 1": lambda m, r: sparse_local_clips(m, r, (1,) * 5, clip_len, policy)}
    for name in SKIP_PRESETS:
        samplers[f"STCLR {name}"] = lambda m, r, name=name: sparse_local_clips(m, r, name, clip_len, policy)
    coverage = vz.phase_coverage(two_phase, samplers, draws=draws, seed=seed)
    print(f"{'sampler':25s} {'touched':>8s} {'all':>6s} {'cross pairs':>12s} {'extent':>7s}")
    for name, c in coverage.items():
        print(f"{name:25s} {c['phases_touched']:8.3f} {c['all_phases']:6.3f} {c['cross_phase_pairs']:12.3f} {c['extent']:7.3f}")
    metrics["phase_coverage"] = {"videos": len(two_phase), "draws": draws, "by_sampler": coverage}
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_phase_coverage(coverage, title=f"Phase coverage on {len(two_phase)} two-phase videos "
                                                 f"({draws} clip sets each, L = {clip_len})")
    fig.savefig(out / "phase_coverage.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* TCLR's dense window touches both phases in only about half of the clip sets and spans a
    third of the video; every sparse sampler touches both phases almost always. Random positions alone already
    give most pairs from different phases; larger skips add temporal extent but, because a long clip's
    *majority* phase is usually the longer phase, the `high`/`paper` presets pair up clips from different phases
    *less* often than `low`/`medium`. Sparsity is a trade-off, consistent with the paper finding the best preset
    to depend on the dataset (Figs. 5–7).

    ## 5. Too-short videos: `fit`, `loop`, `mirror`

    When a clip does not fit, the sampler never clamps silently. The policy is explicit and recorded in the
    returned `ClipSpec`:

    - `fit` (default): lower the skip to the largest that fits; `skip` is the effective skip, `requested_skip`
      the one asked for. If even skip 1 does not fit (fewer frames than $L$), the clip loops at skip 1 and says so.
    - `loop`: keep the skip; indices wrap around modulo $n$ (the clip jumps from the end back to the start).
    - `mirror`: keep the skip; indices reflect at both ends (ping-pong), as TCLR's reference code pads videos.
    """
)

nb.code(
    """
    big = max(SKIP_PRESETS[skips])
    by_policy = {p: fit_clip(short_video_frames, big, clip_len, np.random.default_rng(seed), p) for p in ("fit", "loop", "mirror")}
    for p, c in by_policy.items():
        print(f"{p:6s} {c!r:60s} adjusted={c.adjusted} frames {c.indices(short_video_frames).tolist()}")
    tiny = fit_clip(clip_len - 3, 2, clip_len, np.random.default_rng(seed), "fit")
    print(f"{clip_len - 3}-frame video, fit: {tiny!r} frames {tiny.indices(clip_len - 3).tolist()}")
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_policies(short_video_frames, by_policy)
    fig.savefig(out / "policies.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* `fit` keeps the clip smooth and in order but slower than asked (the effective skip is
    recorded); `loop` keeps the speed but jumps from the end of the video back to its start in the middle of the
    clip; `mirror` keeps the speed and plays part of the clip backwards. Each changes what the network sees
    (a slower clip, a cut, a reversal), which matters for the Same Speed Localization pretext: its labels are
    about speed, so the kit only draws speeds that fit a video and never lies about them.

    ## 6. The batch plan: one decode per video

    The paper's loader reads $N + (1 - C_1) N + K N C_1$ videos per epoch — $3.2N$ at $C_1 = 0.6$, $K = 3$
    (Sec. 4.2.4) — because each video's SSL tuple is read on its own: the same video once more (probability
    $1 - C_1$) or $K$ videos (probability $C_1$). The last line of the next cell evaluates the formula for this
    batch ([docs/method.md, "Cost and efficiency"](../docs/method.md#6-cost-and-efficiency)). The kit plans a whole batch up
    front instead (`stclr.plan.plan_batch`): every video gets its local clips and its SSL tuple; cross-video SSL
    clips are cut from *other videos of the same batch*, which are decoded anyway; and each video's frames
    (its own clips plus what others borrow) are merged into one sorted union, decoded in one call.
    SSL speeds are the ones at which a clip fits these videos (`fitting_speeds`).
    """
)

nb.code(
    """
    rows = sorted(np.random.default_rng(seed).choice(len(train), size=batch_size, replace=False).tolist())
    frame_counts = [probe(train.abspath(i)).num_frames for i in rows]
    plan_cfg = PlanConfig(skips=skips, length=clip_len, policy=policy, ssl_speeds=fitting_speeds(min(frame_counts), clip_len))
    plan = plan_batch(rows, frame_counts, "stclr", plan_cfg, seed=seed)
    print("SSL speeds:", plan_cfg.ssl_speeds)
    print(plan)
    print(plan.counts())
    """,
    check_output=True,
)

nb.code(
    """
    fig = vz.plot_batch_plan(plan, names=[train[i].path.split("/")[-1] for i in rows])
    fig.savefig(out / "batch_plan.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* each panel is one video. Its top line is the single decode (the union of every frame
    any clip needs), below it its own local clips (`[IC]` marks the instance-contrastive pair) and the SSL clips
    cut from it — including clips that *another* row's tuple borrows. Nothing is read twice.

    Now execute the plan and count with the decoder's counters, against decoding every clip on its own:
    """
)

nb.code(
    """
    reset_counters()
    decoded = {v.row: read_frames(train.abspath(v.index), v.frames) for v in plan.videos}
    planned = get_counters()
    reset_counters()
    for v in plan.videos:  # the naive way: one read per clip (local clips and borrowed SSL clips)
        clips = [*v.local] + [c for s in plan.ssl for src, c in zip(s.rows, s.sample.clips) if src == v.row]
        for c in clips:
            read_frames(train.abspath(v.index), c.indices(v.num_frames))
    naive = get_counters()
    print(f"planned: {planned['videos_opened']} videos opened, {planned['decode_calls']} decode calls")
    print(f"naive:   {naive['videos_opened']} videos opened, {naive['decode_calls']} decode calls")
    c1, B = plan_cfg.c1, batch_size
    print(f"paper's loader: {B} + (1 - {c1}) x {B} + 3 x {B} x {c1} = {B + (1 - c1) * B + 3 * B * c1:.1f} videos read for this batch")
    """,
    check_output=True,
)

nb.code(
    """
    v = plan.videos[0]
    clip = decoded[v.row][v.local_pos[1]]  # local clip 2 of row 0, cut out of the row's one decode
    direct = read_frames(train.abspath(v.index), v.local[1].indices(v.num_frames))
    print(tuple(clip.shape), "same frames as a direct read:", bool(torch.equal(clip, direct)))
    print(f"frames decoded: planned {planned['frames_decoded']}, naive {naive['frames_decoded']}")
    metrics["batch_plan"] = {**plan.counts(), "planned": planned, "naive": naive}
    """
)

nb.md(
    """
    *What to notice:* the plan opens each video once; the naive way opens it once per clip, and the frames
    decoded add up accordingly. The clip cut from the union (`local_pos`) is identical to a direct read of its
    indices.

    ## 7. Explore

    The widget below redraws the figure of section 2 for any two-phase training video, preset, seed,
    policy and clip length (it runs only when `interactive` is true). Try the `paper` preset with `clip_len`
    16: which clips get `fit`-lowered, and what do `loop` and `mirror` draw instead?
    """
)

nb.widget(
    """
    if interactive:
        import ipywidgets as widgets
        from IPython.display import display

        def explore(video_no, preset, seed, policy, clip_len):
            v = two_phase[video_no]
            m = v["phases"][-1]["end"]
            rng = np.random.default_rng(seed)
            d, s = tclr_clips(m, rng, length=clip_len), sparse_local_clips(m, rng, preset, clip_len, policy)
            display(vz.plot_dense_vs_sparse(m, d, s, phases=v["phases"], title=f"{v['path']} ({preset}, {policy})"))

        widgets.interact(explore, video_no=widgets.IntSlider(video_index, 0, len(two_phase) - 1),
                         preset=widgets.Dropdown(options=list(SKIP_PRESETS), value=skips),
                         seed=widgets.IntSlider(seed, 0, 99), policy=widgets.Dropdown(options=["fit", "loop", "mirror"], value=policy),
                         clip_len=widgets.IntSlider(clip_len, 4, 16, 4))
    """
)

nb.md("## 8. Results")

nb.code(
    """
    write_json(out / "metrics.json", metrics)
    print(sorted(metrics), "->", "metrics.json")
    """,
    check_output=True,
)

nb.md(
    r"""
    ## Summary

    - A clip is `ClipSpec(start, skip, length)`: frames $t_0 + s k$, spanning $s(L-1)+1$ frames.
    - TCLR samples 4 adjacent dense clips plus a global clip in one window; STCLR samples one clip per skip rate
      at random positions (Sec. 3.2), so its clips cover more of the video and more of its phases.
    - On two-phase videos, sparse clip sets touch both phases nearly always (TCLR's about half the time); random
      positions give most of the gain, and very large skips trade phase contrast for extent.
    - Skips that do not fit are handled by an explicit, recorded policy: `fit` lowers the skip, `loop` wraps,
      `mirror` reflects; at the paper's scale, `paper`/`simplified` lose their largest skips on average videos.
    - The batch planner decodes each video once per batch, SSL clips included, where the paper's loader reads
      $3.2N$ videos per $N$ at $C_1 = 0.6$.

    ## Check your understanding

    1. How many frames does an 8-frame clip at skip 6 span, and where can it start in a 96-frame video?

    <details><summary>Answer</summary>

    It spans $s(L-1)+1 = 6 \cdot 7 + 1 = 43$ frames, so it fits when it starts at frame 0 to $96 - 43 = 53$; the
    sampler draws the start uniformly among those 54 positions.

    </details>

    2. Why do TCLR's local clips so often stay in one phase, even though the window is random?

    <details><summary>Answer</summary>

    All four clips lie in one window of $4L$ consecutive frames, a third of a 96-frame video at $L = 8$. The
    window's position is random, but its clips see both phases only when the switch between phases falls
    inside it; wherever else it lands, all four clips show the same phase.

    </details>

    3. Why do the `high` and `paper` presets give *fewer* cross-phase pairs than `low`, although their clips
       reach further?

    <details><summary>Answer</summary>

    A pair counts as cross-phase when the two clips' *majority* phases differ. A long clip (large skip) spans
    most of the video, so its majority phase is usually the longer of the two phases, and several long clips
    then share it. Short clips at random positions fall into either phase independently, so they differ more
    often. Reach buys temporal extent, not phase contrast.

    </details>

    4. After `fit` lowers skips 16 and 32 to 13, the IC pair is drawn among clips with *different* effective skips.
       Why does that matter for Eq. 2?

    <details><summary>Answer</summary>

    Sec. 3.1 builds the positive pair from two clips at *different* sampling rates, so that the loss asks for
    features that agree across speeds and positions. Two clips that both ended up at skip 13 would be a
    same-speed, easier positive, a silent change of the method; the plan avoids it whenever the video has clips
    at two different effective skips (`PlanConfig.ic_distinct_skips`).

    </details>

    5. Where does the planner get the SSL clips of a cross-video tuple, and why does that keep the reads at one
       per video?

    <details><summary>Answer</summary>

    From other videos of the *same batch*. Those videos are decoded for their own clips anyway; the borrowed
    clips' frames are merged into each video's sorted union of frame indices, which is decoded in one call. No
    video outside the batch is opened, and none is opened twice.

    </details>

    ## Exercises

    **1.** Add a sampler with 5 clips at skip 10 at random positions to the coverage table. Where does it land
    between `random positions, skip 1` and `STCLR high`?

    <details><summary>Solution</summary>

    ```python
    extra = {"random positions, skip 10": lambda m, r: sparse_local_clips(m, r, (10,) * 5, clip_len, policy)}
    print(vz.phase_coverage(two_phase, extra, draws=draws, seed=seed))
    ```
    It touches both phases and reaches far (extent about 0.92), but its cross-phase pairs (about 0.3) are as
    low as `high`'s: long clips mostly share their majority phase. Cross-phase pairs come from random
    *positions* of short clips, not from large skips.
    </details>

    **2.** For the paper's setting (L = 16), which preset keeps all five skips distinct for a 120-frame video?

    <details><summary>Solution</summary>

    ```python
    for name, sk in SKIP_PRESETS.items():
        eff = [fit_clip(120, s, 16, np.random.default_rng(0)).skip for s in sk]
        print(name, eff, "distinct" if len(set(eff)) == 5 else "collisions")
    ```
    Only `low`: the largest skip that fits is $\lfloor 119 / 15 \rfloor = 7$, so `medium`'s 8 and 10 both become 7.
    </details>

    **3.** Plan a batch with `method="simplified_tclr"` (no SSL) and with `"tclr"`. How do the frames to decode
    compare with `"stclr"`?

    <details><summary>Solution</summary>

    ```python
    for method in ("stclr", "simplified_tclr", "tclr"):
        p = plan_batch(rows, frame_counts, method, plan_cfg, seed=seed)
        print(method, p.counts()["videos_read"], p.frames_to_decode())
    ```
    Every method reads each video once; STCLR decodes a few more frames for its SSL clips, TCLR the fewest
    distinct frames (one contiguous window).
    </details>

    ## References

    - STCLR paper: Sec. 1 and Fig. 2 (why sparse clips), Sec. 3.2 and Fig. 3 (sparse local clips), Sec. 3.3
      (SSL tuples), Sec. 4.2.2 (simplified preset), Sec. 4.2.3 and Figs. 5–7 (sparsity levels), Sec. 4.2.4 and
      Table 6 (videos read per epoch), Sec. 4.3.1 (paper preset).
    - TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal Contrastive Learning for Video
      Representation*, CVIU 2022 (dense local clips and global clip).
    - The kit: `stclr/sampling.py` (samplers and policies), `stclr/plan.py` (batch planner), `docs/architecture.md`;
      the method and the kit's reading of it (too-short videos, the batch plan): [docs/method.md](../docs/method.md),
      sections 2 and 6.
    """
)
