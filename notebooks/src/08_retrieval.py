"""Source of notebooks/08_retrieval.ipynb (build: python notebooks/src/build.py)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("08_retrieval")

nb.md(
    r"""
    # 08 · Video retrieval: what do the features find?

    Retrieval is the paper's main measure of feature quality (Sec. 4.2.2, 4.3.4; Tables 3, 4, 10, 11) because it
    needs **no training at all**: every test video is described by the backbone's pooled features and queries the
    training videos by cosine similarity; a query counts as correct at $k$ when one of its $k$ nearest training
    videos has its class. This notebook compares four backbones — random initialisation, the SSL pretext alone,
    Simplified TCLR and STCLR — by R@1/5/10/20, looks at the neighbours they retrieve (the idea of the paper's
    Fig. 10–11), and projects their features to 2-D.

    **What you will learn**
    - the retrieval protocol: clips per video, feature pooling and averaging, cosine similarity, R@k;
    - how much of R@k a *random* network already gets, and what chance is;
    - to read a nearest-neighbour gallery, and to spot the *appearance shortcut*: neighbours that share the
      query's look (background, sprite) rather than its motion;
    - to compare methods fairly (same backbone, same budget, same clips) and what a 2-D PCA of features can and
      cannot show.

    | compute | with the defaults | full scale (section 6) |
    |---|---|---|
    | time | {{course.08_min}} min in `make course` on 2 cores (Simplified TCLR and SSL-only pretrained here for {{lessons.steps}} steps each, side by side on the two cores; STCLR and its features reused from notebook 06; 2 new retrievals over 512 videos; seed 0; `docs/benchmarks.md`); a busy machine takes longer, with the same numbers; about notebook 06's time more alone (STCLR trained here too); much less with `quick=True` | features of 13,320 UCF-101 videos × 10 clips: ≈ 10 min per model on one GPU (pretraining: notebook 06) |
    | disk | a few MB (features are cached in `out_dir/.feature_cache`) | ≈ 30 MB of cached features per model |
    """
)

nb.code(
    """
    %matplotlib inline
    import json
    import math
    from pathlib import Path

    import numpy as np
    import torch

    from stclr.background import pretrain_side_by_side, spare_cpu_cores
    from stclr.benchdata import load_rows, paired_differences
    from stclr.config import config_hash, preset
    from stclr.data.splits import load_split
    from stclr.data.synthetic import ensure_synthetic_dataset, load_meta
    from stclr.retrieval import feature_cache_dir, feature_cache_key, recall_at_k, resolve_arch, run_retrieval
    from stclr.runinfo import resolve_device, seed_everything, shown_path, write_json
    from stclr.train import pretraining_run, reusable_pretraining
    from stclr.viz import results as vr

    print(f"torch {torch.__version__} | CUDA available: {torch.cuda.is_available()}")
    """
)

nb.md("**Parameters.** papermill and `stclr batch` replace these literals; section 6 lists the paper's values.")

nb.params(
    """
    data_root: str = "../data/synthetic"  # dataset folder (the synthetic dataset is generated here when missing)
    dataset: str = "synthetic"  # layout of data_root: synthetic, ucf101 or hmdb51
    split: int = 1  # official split: its test videos query its train videos
    out_dir: str = "../runs/notebooks/08_retrieval"  # retrieval runs, cached features, figures and metrics.json
    device: str = "auto"  # auto (CUDA, then MPS, then CPU), cpu, cuda or mps
    show_progress: bool = True  # progress bars
    interactive: bool = True  # the gallery explorer at the end
    seed: int = 0  # pretraining and the random-init backbone
    quick: bool = False  # the course's quick mode: random init against the last method only, 8 steps, 2 clips
    course_dir: str = "../runs/notebooks"  # where notebook 06 wrote its output (its default): its STCLR run is reused when the steps match
    methods: list[str] = ["ssl", "simplified_tclr", "stclr"]  # pretrained backbones compared with random init
    checkpoint_dir: str = ""  # a folder with one finished pretraining per entry of methods; empty: pretrain here
    pretrain_steps: int = 320  # optimiser steps of pretraining per method when there is no checkpoint_dir (06's default)
    side_by_side: bool = True  # on a CPU with a spare core: one pretraining runs in a second process (same numbers)
    preset_name: str = "course"  # settings not listed here: course or paper
    arch: str = "r3d_tiny"  # backbone of the pretrainings done here (checkpoints bring their own)
    skips: str = "medium"  # skip preset of the pretrainings done here
    clip_len: int = 8  # frames per clip (the paper: 16)
    size: int = 32  # clip side in pixels (the paper: 112)
    batch_size: int = 16  # videos per pretraining batch
    protocol: str = "paper"  # paper (full frame, 512-d) or tclr (centre crop 0.8, timesteps kept)
    retrieval_clips: int = 10  # uniformly spaced clips per video (the paper: 10, or 9)
    retrieval_skip: int = 4  # frame skip of those clips (the paper: 3)
    gallery_queries: int = 2  # test videos shown in the nearest-neighbour gallery
    gallery_k: int = 3  # neighbours shown per query
    num_workers: int = 1  # DataLoader worker processes (1: decode on a second core while the first trains; 0: none)
    cpu_threads: int = 1  # torch threads on a CPU (1 is fastest for the tiny model on a busy machine; 0: the default)
    """
)

nb.code(
    """
    seed_everything(seed)
    dev = resolve_device(device)
    if cpu_threads:
        torch.set_num_threads(cpu_threads)  # tiny tensors: more threads mostly wait for each other
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_steps = min(pretrain_steps, 8) if quick else pretrain_steps
    compared = methods[-1:] if quick else list(methods)  # quick: random init against the last method only
    n_clips = min(retrieval_clips, 2) if quick else retrieval_clips
    data_kw = {"data.dataset": dataset, "data.root": str(Path(data_root)), "data.split": split,
               "data.num_workers": num_workers}
    metrics = {}
    print(f"device: {dev} | seed: {seed} | compared with random init: {compared} | results in {out}")
    """
)

nb.md("## 1. The data\n\nQueries: the test list. Gallery: the train list. Labels are used only to score.")

nb.code(
    """
    root = Path(data_root)
    if dataset == "synthetic":  # generated here when missing
        ensure_synthetic_dataset(root, show_progress=show_progress)
    train, test = load_split(dataset, root, split, "train"), load_split(dataset, root, split, "test")
    classes = list(test.classes)
    print(f"{dataset} split {split}: {len(test)} queries, a gallery of {len(train)} videos, {len(classes)} classes")
    """
)

nb.md(
    r"""
    ## 2. The protocol, and chance

    Each video becomes **one vector**: `retrieval_clips` uniformly spaced clips (skip `retrieval_skip`, the full
    frame resized to `size`) go through the backbone; its last block's output is averaged over space and time
    (`protocol="paper"`: 512-d for R3D-18, 128-d for the tiny R3D), the clip vectors are averaged and
    L2-normalised. The projection head is not used. Similarity is cosine, and

    $$R@k = \frac{1}{|Q|}\sum_{q \in Q} \mathbb{1}\left[\exists\, j \in \mathrm{NN}_k(q) : y_j = y_q\right].$$

    A random ranking already scores: with $n_c$ gallery videos of the query's class among $n$, the chance of at
    least one in $k$ draws is $1 - \binom{n - n_c}{k} / \binom{n}{k}$ (`vr.retrieval_chance`). With 8 balanced
    classes, R@20 is almost certain even by chance, which is why R@1 is the number to watch:
    """
)

nb.code(
    """
    ks = (1, 5, 10, 20)
    chance = {f"R@{k}": vr.retrieval_chance(test.labels, train.labels, k) for k in ks}
    print("chance:", {k: round(v, 1) for k, v in chance.items()})
    """
)

nb.md(
    """
    ## 3. The backbones

    Every method in `methods` needs a checkpoint. With `checkpoint_dir`, each entry names a sub-folder there (a
    pretraining run folder with `last.pt`, or a notebook-06 output folder, such as the points of
    `experiments/pretrain_paper.yaml`). Without it, each method is pretrained here for `pretrain_steps`
    optimiser steps with the same backbone, clips, batch size and seed, so the comparison is fair (and tiny). In
    the course (`course_dir`), notebook 06's STCLR run is the same training, so it is reused instead of repeated.
    A finished run is reused when the notebook runs again, and one interrupted (a kernel restart) continues from
    its last checkpoint.

    **Two cores, two runs.** Each run uses one torch thread (`cpu_threads`): for this tiny model that is nearly as
    fast as two, and the numbers then do not depend on how many cores your machine has. That leaves a second
    core idle, so with `side_by_side` the first method to train (SSL-only) runs in a second process
    (`python -m stclr pretrain`, the command line; its config and log go to `out_dir/pretrain/background`) while
    the next one trains here with its progress bar. Every run is the same single-threaded computation wherever
    it runs: the weights are identical to training them one after the other (`tests/test_background.py`), only
    sooner.
    """
)

nb.code(
    """
    def pretrain_config(method):
        cfg = preset("course" if preset_name == "course" else "paper", "pretrain", method=method, arch=arch,
                     skips=skips, clip_len=clip_len, size=size, batch_size=batch_size, epochs=n_steps, seed=seed,
                     max_steps=n_steps, device=device, out_dir=str(out / "pretrain"), show_progress=show_progress,
                     **data_kw)
        cfg.run_name = f"{cfg.method}-{cfg.arch}-{config_hash(cfg)[:8]}-{n_steps}steps"  # steps are not in the hash
        return cfg

    # notebook 06's STCLR run, when it is the same pretraining (same data, backbone and steps)
    run_06 = reusable_pretraining(Path(course_dir) / "06_pretraining", data_root, arch=arch,
                                  steps=n_steps) if course_dir and not checkpoint_dir else None
    """
)

nb.code(
    """
    checkpoints, to_train = {}, {}
    for m in compared:
        if checkpoint_dir:
            checkpoints[m] = pretraining_run(Path(checkpoint_dir) / m)
        elif m == "stclr" and run_06 is not None:
            checkpoints[m] = run_06
        else:
            to_train[m] = pretrain_config(m)
    beside = spare_cpu_cores() if side_by_side and dev.type == "cpu" else 0
    print(f"to pretrain: {list(to_train)}; runs in a second process at once: {min(beside, max(len(to_train) - 1, 0))}")
    checkpoints.update(pretrain_side_by_side(to_train, beside, log_dir=out / "pretrain" / "background"))
    checkpoints = {m: checkpoints[m] for m in compared}
    for m, c in checkpoints.items():
        state = torch.load(c / "last.pt" if c.is_dir() else c, map_location="cpu", weights_only=True)
        print(f"{m:16s} {resolve_arch(None, str(c)):9s} {state['step']:4d} steps  {shown_path(c)}")
    """
)

nb.md(
    """
    ## 4. R@k

    `run_retrieval` computes the features (cached per checkpoint and clip settings in `out_dir/.feature_cache`),
    ranks the gallery for every query, and writes R@k and each query's nearest neighbours to its `metrics.json`.
    When notebook 06's STCLR run is reused, so are its features of that backbone and of random init: they are
    read from 06's cache (`course_dir/06_pretraining/.feature_cache`), where its own retrieval left them for the
    same clips.
    """
)

nb.code(
    """
    base = "course" if preset_name == "course" else "paper"
    common = dict(clip_len=clip_len, size=size, n_clips=n_clips, skip=retrieval_skip, protocol=protocol, seed=seed,
                  device=device, out_dir=str(out), show_progress=show_progress, **data_kw)
    arch_random = resolve_arch(None, str(checkpoints[compared[0]])) if compared else arch  # the same backbone
    cache_06 = str(Path(course_dir) / "06_pretraining" / ".feature_cache") if run_06 is not None else ""
    rcfgs = {"random": preset(base, "retrieval", arch=arch_random, random_init=True, cache_dir=cache_06, **common)}
    for m, c in checkpoints.items():
        rcfgs[m] = preset(base, "retrieval", arch=resolve_arch(None, str(c)), checkpoint=str(c),
                          cache_dir=cache_06 if c == run_06 else "", **common)
    found = {m: json.loads((run_retrieval(r) / "metrics.json").read_text()) for m, r in rcfgs.items()}
    recall = {m: {f"R@{k}": f[f"R@{k}"] for k in ks} for m, f in found.items()}
    for m, r in recall.items():
        gain = "" if m == "random" else f"   R@1 {r['R@1'] - recall['random']['R@1']:+5.1f} over random init"
        print(f"{m:16s}" + "  ".join(f"{k} {v:5.1f}" for k, v in r.items()) + gain)
    """
)

nb.code(
    """
    fig = vr.plot_recall_at_k(recall, chance=chance, title=f"Retrieval on {dataset}: {len(test)} queries, "
                              f"{len(train)} gallery videos")
    fig.savefig(out / "recall_at_k.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* the grey bars (random init) are well above the dashed chance level: a 3D CNN with random
    filters already responds to where and how much things move. The pretrained backbones have to beat *that*,
    not chance; one query is worth 100 / number of queries points (0.4 here), and a gain of one model over
    another moves by about ±4 points with the draw of the queries alone (notebook 06 prints this noise). The lines
    printed above give each model's gain after the same number of optimiser steps. The SSL-only row shows what the
    pretext alone teaches in this budget, next to what it adds inside STCLR (section 4b). The paper's numbers come
    from 400 epochs on a GPU:

    | UCF-101 split 1 (Table 10, 3) | R@1 | R@5 | R@10 | R@20 |
    |---|---|---|---|---|
    | TCLR (IC + LL + GL) | 56.2 | 72.2 | 79.0 | 85.3 |
    | Simplified TCLR (IC + SLL), 10 clips | 54.59 | 73.43 | 80.02 | 85.62 |
    | STCLR | 56.78 | 73.41 | 79.88 | 86.28 |

    ## 4b. The third loss: STCLR against Simplified TCLR

    STCLR is Simplified TCLR plus the same-speed pretext (Eq. 1's third term, Sec. 3.3): same clips, same
    contrastive losses, same budget, one more head. So the two runs differ *only* by $\\mathcal{L}_{SSL}$, and
    their curves per optimiser step show what it does to the other two:
    """
)

nb.code(
    """
    B, N = batch_size, 5
    uniform = {"ic": math.log(2 * B - 1), "sll": N * math.log(2 * N - 1), "ssl": math.log(4)}
    pair = [m for m in ("simplified_tclr", "stclr") if m in checkpoints]
    step_logs = {m: vr.read_jsonl(checkpoints[m] if checkpoints[m].is_dir() else checkpoints[m].parent, "steps.jsonl")
                 for m in pair}
    for m, logged in step_logs.items():
        ends = {k: vr.tail_mean(logged, f"loss_{k}", 20) for k in ("ic", "sll", "ssl")}
        print(f"{m:16s} mean of the last 20 steps: " + ", ".join(f"L_{k.upper()} {v:.3f}" for k, v in ends.items() if v is not None))
    if step_logs:
        fig = vr.plot_loss_curves(step_logs, uniform=uniform, smooth=5, title="Per optimiser step: STCLR (Eq. 1) and "
                                  "Simplified TCLR (IC + SLL); dashed: a uniform guess")
        fig.savefig(out / "losses_stclr_vs_simplified.png", dpi=110)
        display(fig)
    """
)

nb.md(
    r"""
    *What to notice:* the pretext's loss (right) starts above $\log 4$ — a fresh head guesses with confidence,
    and wrongly — and falls below it once the backbone's features carry speed; the printed lines give each run's
    last 20 steps. Compare the other two panels between the runs: does learning the pretext slow the local–local
    loss, or change where the instance loss settles? One seed cannot say whether STCLR's retrieval is better
    than Simplified TCLR's; the same comparison on five seeds can. `bench/lesson_steps.py` pretrained both with
    these defaults on seeds 0–4; the cell reads its recorded rows (`docs/data/lesson_steps.json`) and pairs them by
    seed (same seed: the same initial backbone and the same order of videos):
    """
)

nb.code(
    """
    try:
        paired = paired_differences(load_rows("lesson_steps"), n_steps, "stclr", "simplified_tclr")
        print(paired["text"])
        for s_, (a, b) in paired["pairs"].items():
            print(f"  seed {s_}: STCLR {a:.1f}, Simplified TCLR {b:.1f}")
    except (FileNotFoundError, ValueError) as err:  # another budget than the recorded ones
        print(f"no recorded pairs to compare with: {err}")
    """
)

nb.md(
    """
    *What to notice:* read the mean difference against its spread over seeds and against one run's noise (±4
    points): a mean smaller than its spread says the two methods cannot be ranked at this budget, whichever sign
    it has. The paper's gap is small too: on UCF-101 split 1 STCLR retrieves at R@1 56.78 against Simplified
    TCLR's 54.59 (Tables 10 and 3), on HMDB-51 27.12 against 23.14 (Tables 11 and 4), after 400 epochs of
    R3D-18; the pretext is its cheapest part (its head's FLOPs are negligible, Sec. 4.2.4).

    ## 5. What do the neighbours look like?

    Fig. 10–11 of the paper show, for a query, the nearest training videos of two models, each video by two
    frames. Here: the first and middle frame of each video, a green border when a neighbour has the query's
    class and a red one when it does not. In brackets, how much the neighbour stands out: its cosine similarity as a
    z-score, in standard deviations above the query's mean similarity to the whole gallery. (The raw cosine
    similarities are all about 0.999: pooled features of a 3D CNN share one large common component, so every video
    looks "similar" to every other; the z-score removes that common level and ranks the same way.) Same queries
    for every model:
    """
)

nb.code(
    """
    picks = np.linspace(0, len(test) - 1, gallery_queries).round().astype(int).tolist()  # spread over the classes
    rows, labels = [], []
    for q in picks:
        for m, f in found.items():
            rows.append(f["neighbours"][q])
            labels.append(f"{m}\\nquery {q}")
    fig = vr.plot_neighbour_gallery(rows, query_root=test.root, gallery_root=train.root, classes=classes,
                                    k=gallery_k, row_labels=labels, title="Nearest training videos of test queries")
    fig.savefig(out / "gallery.png", dpi=110)
    fig
    """
)

nb.md(
    """
    *What to notice:* look at the *backgrounds and sprites* of the red neighbours. On the synthetic dataset every
    class uses every look equally often, in its training and its test videos alike, so a look says nothing about
    the class. A feature that encodes appearance retrieves videos that *look* like the query and move
    differently. We can count that directly, because the dataset records each video's look:
    """
)

nb.code(
    """
    look_share, look_chance = {}, None
    if dataset == "synthetic":
        look = {v["path"]: v["look"] for v in load_meta(root)["videos"]}
        gallery_looks = np.array([look[it.path] for it in train.items])
        look_chance = 100.0 * float(np.mean([(gallery_looks == look[it.path]).mean() for it in test.items]))
        for m, f in found.items():
            look_share[m] = 100.0 * float(np.mean([look[n["nn_paths"][0]] == look[n["path"]] for n in f["neighbours"]]))
        print(f"top-1 neighbour has the query's look (%), chance {look_chance:.1f}:",
              {m: round(v, 1) for m, v in look_share.items()})
        print("top-1 neighbour has the query's class (%):", {m: round(r["R@1"], 1) for m, r in recall.items()})
    """
)

nb.md(
    """
    *What to notice:* a feature blind to appearance would find the query's look in its top-1 neighbour as often
    as a random gallery video has it (the printed chance, about one over the number of looks). Values far above
    that mean the feature sorts by look; the paper adds temporal losses (Eq. 3, the pretext) precisely so that
    features cannot get away with appearance alone (notebook 03's shortcut).

    ## 6. The features in 2-D

    The cached features of all videos, projected on their two leading principal components (`torch.pca_lowrank`)
    and coloured by class. Separated colour clusters mean classes are separable without labels; PCA keeps only
    the two directions of largest variance, so overlap here does not prove overlap in all dimensions.
    """
)

nb.code(
    """
    def features(rcfg):  # train + test features from run_retrieval's cache
        r = rcfg.resolved()
        parts = [torch.load(feature_cache_dir(r) / f"{s}-{feature_cache_key(r, r.arch, s)}.pt", weights_only=True)
                 for s in ("train", "test")]
        return torch.cat([p["feats"] for p in parts]), torch.cat([p["labels"] for p in parts])

    panels = {m: features(r) for m, r in rcfgs.items()}
    fig = vr.plot_embedding_2d(panels, classes, title="Video features (train and test), PCA to 2-D")
    fig.savefig(out / "embedding.png", dpi=120)
    fig
    """
)

nb.md(
    """
    The features also give R@k directly (`recall_at_k`); a sanity check that the cached features are the ones
    behind the numbers of section 4:
    """
)

nb.code(
    """
    for m, r in rcfgs.items():
        f, y = panels[m]
        again = recall_at_k(f[len(train):], y[len(train):], f[: len(train)], y[: len(train)], ks)
        assert all(abs(again[k] - recall[m][f"R@{k}"]) < 1e-6 for k in ks), m
    print("R@k recomputed from the cached features: identical for", list(rcfgs))
    """
)

nb.md(
    """
    ## 7. The same notebook at full scale

    Pretrain first (notebook 06, or `experiments/pretrain_paper.yaml`, which writes one folder per method), then
    point this notebook at them:

    | parameter | course (defaults) | UCF-101 (Tables 3, 10) | HMDB-51 (Tables 4, 11) |
    |---|---|---|---|
    | `data_root`, `dataset` | synthetic | `/data/UCF101`, `ucf101` | `/data/HMDB51`, `hmdb51` |
    | `methods` | `["ssl", "simplified_tclr", "stclr"]` | `["simplified_tclr", "stclr"]` | same |
    | `checkpoint_dir` | (pretrain here) | `runs/pretrain_paper` (all pretrained on UCF-101 split 1) | same |
    | `preset_name`, `clip_len`, `size` | `course`, 8, 32 | `paper`, 16, 112 | `paper`, 16, 112 |
    | `protocol`, `retrieval_clips`, `retrieval_skip` | `paper`, 10, 4 | `paper`, 10 (and 9), 3 | `paper`, 10 (and 9), 3 |

    `experiments/tables3_5_simplified_tclr_retrieval.yaml`, `tables8_11_retrieval.yaml` and
    `fig5_7_sparsity_retrieval.yaml` run it so.

    ## 8. Results
    """
)

nb.code(
    """
    metrics["retrieval"] = recall
    metrics["chance"] = chance
    metrics["top1_same_look"] = {**look_share, "chance": look_chance}
    metrics["protocol"] = {"protocol": protocol, "n_clips": n_clips, "skip": retrieval_skip, "queries": len(test),
                           "gallery": len(train)}
    metrics["checkpoints"] = {m: str(c) for m, c in checkpoints.items()}
    write_json(out / "metrics.json", metrics)
    print(sorted(metrics), sorted(metrics["retrieval"]))
    """,
    check_output=True,
)

nb.md("**Explore.** Any query, any models, any number of neighbours:")

nb.widget(
    """
    if interactive:
        import ipywidgets as widgets
        from IPython.display import display

        def explore(query, models, k):
            rows = [found[m]["neighbours"][query] for m in models]
            display(vr.plot_neighbour_gallery(rows, query_root=test.root, gallery_root=train.root, classes=classes,
                                              k=k, row_labels=list(models)))

        widgets.interact(explore, query=widgets.IntSlider(0, 0, len(test) - 1),
                         models=widgets.SelectMultiple(options=list(found), value=list(found)[:2]),
                         k=widgets.IntSlider(gallery_k, 1, 8))
    """
)

nb.md(
    r"""
    ## Summary

    - Retrieval scores features without training: one L2-normalised vector per video (clip features averaged),
      cosine similarity, and R@k = the share of test queries with a same-class training video among the k nearest.
    - Chance is not zero and grows fast with k; a *random* 3D CNN is well above chance. Pretraining has to beat
      the random network: after {{lessons.steps}} steps STCLR did by 15 points or more of R@1 on {{lessons.06_met}} of
      {{lessons.seeds}} recorded seeds, Simplified TCLR on {{lessons.08_simplified_met}} of {{lessons.08_pair_seeds}}
      (`docs/benchmarks.md`), and which of the two temporal methods leads changes with the seed.
    - Galleries show *why* a query fails; on the synthetic dataset the dominant failure is retrieving the same
      look with a different motion — the appearance shortcut that the temporal losses are meant to break.
    - A 2-D PCA is a picture, not a measurement: R@k and the look share are the numbers.

    ## Check your understanding

    1. Why does retrieval use the backbone's pooled features and not the projection head's output?

    <details><summary>Answer</summary>

    The backbone is what pretraining is for and what a downstream task reuses; the projection head only serves
    the contrastive losses, and its output keeps little beyond what they ask for (it is trained to ignore
    whatever the two views change). Contrastive methods since SimCLR find the features *before* the head the more
    useful ones, and the protocol (Sec. 4.2.2, following TCLR) takes the last layer of the backbone, pooled.

    </details>

    2. With 8 balanced classes and a gallery of 256 videos (the train list), what is the chance R@1? Why is R@20
       nearly 100 % by chance?

    <details><summary>Answer</summary>

    Each class has 32 of the 256 gallery videos, so a random nearest neighbour has the query's class with
    probability $32/256 = 12.5\,\%$. For R@20 a random ranking fails only if all 20 nearest videos are of other
    classes: $\binom{224}{20} / \binom{256}{20} \approx 0.06$ (roughly $(7/8)^{20}$), so chance R@20 is about
    94 % (section 2's formula, `vr.retrieval_chance`).

    </details>

    3. A model has R@1 = 40 % and its top-1 neighbour has the query's look 60 % of the time. What has it learned?

    <details><summary>Answer</summary>

    Mostly appearance. A feature blind to looks would find the query's look in its top-1 neighbour about as often
    as a random gallery video has it (one over the number of looks); 60 % means the feature sorts videos by look
    first. It does carry some motion information (40 % is well above the 12.5 % chance), but most of its nearest
    neighbours are chosen for how they look, the appearance shortcut of notebook 03.

    </details>

    4. Why do the queries come from the *test* list and the gallery from the *train* list, and not all against all?

    <details><summary>Answer</summary>

    Videos come in groups (in UCF-101: the same actor and scene), and whole groups go to either list. Against all
    videos, a query's nearest neighbours would be near-duplicates from its own group, and R@k would measure
    recognising a scene, not an action. Test-against-train asks the question across groups, and it is the common
    protocol (Sec. 4.2.2), so numbers are comparable between papers.

    </details>

    5. The paper reports 10-clip and 9-clip variants (Table 3). Why can the number of clips change R@1?

    <details><summary>Answer</summary>

    A video's feature is the average over its uniformly spaced clips, and 9 and 10 clips sit at different
    positions, so every video's feature moves a little. R@1 depends on which gallery video is *the* nearest, often
    by a small margin, so small moves flip some queries, in either direction.

    </details>

    ## Exercises

    **1.** Compute R@1 with a single clip per video (`retrieval_clips=1`) for the random and STCLR backbones.
    Does averaging over clips help?

    <details><summary>Solution</summary>

    ```python
    for m in ("random", "stclr"):
        r = preset(base, "retrieval", **{**common, "n_clips": 1, "arch": rcfgs[m].arch,
                                         "checkpoint": rcfgs[m].checkpoint, "random_init": m == "random"})
        print(m, json.loads((run_retrieval(r) / "metrics.json").read_text())["R@1"])
    ```
    Averaging over clips smooths out where in the video each clip fell; with one clip, a two-phase video is
    described by whichever phase the clip saw, and R@1 usually drops.
    </details>

    **2.** Which class is retrieved worst by each model? Compute a per-class R@1 from the neighbours.

    <details><summary>Solution</summary>

    ```python
    for m, f in found.items():
        hit = {}
        for n in f["neighbours"]:
            hit.setdefault(classes[n["label"]], []).append(n["nn_labels"][0] == n["label"])
        print(m, {c: round(100 * np.mean(h)) for c, h in hit.items()})
    ```
    </details>

    **3.** Recompute R@k after subtracting the mean feature of the gallery (centring) before normalising. Why can
    this help a random network?

    <details><summary>Solution</summary>

    ```python
    f, y = panels["random"]
    g, q = f[: len(train)], f[len(train):]
    mu = g.mean(0)
    print(recall_at_k(q - mu, y[len(train):], g - mu, y[: len(train)], ks))
    ```
    Features after ReLU and pooling are all positive and share a large common component, so all cosines are
    close to 1; removing the mean leaves the directions in which videos differ.
    </details>

    ## References

    - STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
      Representation*, Neurocomputing): Sec. 4.2.2 (the retrieval protocol), Tables 3–4 (Simplified
      TCLR), Sec. 4.3.4 and Tables 10–11 (STCLR), Sec. 5 and Fig. 10–11 (qualitative retrieval), Sec. 4.2.3 and
      Fig. 5–6 (sparsity).
    - TCLR (Dave et al., CVIU 2022) and VCOP (Xu et al., CVPR 2019): the retrieval protocol (test queries train).
    - The kit: `stclr/retrieval.py` (`run_retrieval`, `recall_at_k`), `stclr/viz/results.py`; notebook 03 (the
      appearance shortcut), 06 (pretraining), 10 (batches of runs); the protocol and the kit's reading of it:
      [docs/method.md](../docs/method.md#5-settings-of-the-experiments).
    - Terms: [retrieval, R@k](../docs/glossary.md#retrieval-rk), [chance level](../docs/glossary.md#chance-level),
      [projection head](../docs/glossary.md#projection-head), [BatchNorm statistics](../docs/glossary.md#batchnorm-statistics),
      [bootstrap standard deviation](../docs/glossary.md#bootstrap-standard-deviation).
    """
)
