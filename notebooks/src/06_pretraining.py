"""Source of notebooks/06_pretraining.ipynb (build: python notebooks/src/build.py)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("06_pretraining")

nb.md(
    r"""
    # 06 · Pretraining with the engine

    Notebooks 01–05 took STCLR apart: the clips, the views, the three losses. This notebook puts it back
    together and **pretrains a network with the kit's engine** (`stclr.train.run_pretrain`), the same code
    that `stclr pretrain` and `torchrun` run at full scale. We configure a run, look at what it costs, train it
    for a fixed number of optimiser steps, read its loss curves, and ask the only question that matters about
    self-supervised features: are they better than random ones? With the defaults the run is {{lessons.steps}} optimiser steps
    of a tiny network on a laptop CPU; the same notebook, given the parameters listed in section 6, pretrains
    R3D-18 on UCF-101. The budget is counted in steps, not seconds, so the same seed gives the same numbers on a
    fast or a slow machine.

    **What you will learn**
    - how a run is configured: a preset (`course`, `paper`, `ssl`) plus a few overrides, checked by type;
    - what one optimiser step costs at course and at paper scale (clips per batch, GFLOPs per clip);
    - what `run_pretrain` writes (`config.yaml`, `env.json`, `metrics.jsonl`, `steps.jsonl`, `last.pt`, `best.pt`) and how
      budgets, resuming and checkpoints work;
    - to read the curves of the total loss (Eq. 1) and of its parts (Eq. 2, Eq. 3, the pretext), each against
      the value of a uniform guess;
    - to check the features with nearest-neighbour retrieval against a random-init backbone, and how much a
      result moves from one seed to the next.

    | compute | with the defaults | full scale (section 6) |
    |---|---|---|
    | time | {{course.06_min}} min in `make course` on 2 cores ({{lessons.steps}} optimiser steps and two retrievals over 512 videos, seed 0; `docs/benchmarks.md`, "make course end to end"); much less with `quick=True` | 34.36 min per epoch on one A40 (paper, Table 6, STCLR at $C_1 = 0.6$); 400 epochs ≈ 9.5 days |
    | disk | about 1 MB per checkpoint (tiny R3D) | ≈ 400 MB per checkpoint (R3D-18 + Adam state) |
    """
)

nb.code(
    """
    %matplotlib inline
    import json
    import math
    from pathlib import Path

    import torch

    from stclr.config import preset, to_dict, config_hash
    from stclr.benchdata import lesson_summary, load_rows
    from stclr.cost import clip_flops
    from stclr.data.splits import load_split
    from stclr.data.synthetic import ensure_synthetic_dataset
    from stclr.models import build_backbone
    from stclr.retrieval import bootstrap_gain_sd, paired_hits, query_hits, run_retrieval
    from stclr.runinfo import resolve_device, seed_everything, write_json
    from stclr.train import pretraining_status, run_or_resume_pretraining
    from stclr.viz import results as vr

    print(f"torch {torch.__version__} | CUDA available: {torch.cuda.is_available()}")
    """
)

nb.md(
    """
    **Parameters.** papermill and `stclr batch` replace these literals; everything derived from them comes in
    the next cell. The defaults are the course's CPU setting; section 6 lists the paper's.
    """
)

nb.params(
    """
    data_root: str = "../data/synthetic"  # dataset folder (the synthetic dataset is generated here when missing)
    dataset: str = "synthetic"  # layout of data_root: synthetic, ucf101, hmdb51 or diving48
    split: int = 1  # official split: pretrain on its train list; its test list queries the train list
    out_dir: str = "../runs/notebooks/06_pretraining"  # the run folder, figures and metrics.json go here
    device: str = "auto"  # auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1 or mps
    show_progress: bool = True  # progress bars (one per epoch)
    interactive: bool = True  # the run explorer widget at the end
    seed: int = 0  # initial weights, batch order, clip positions and augmentations
    quick: bool = False  # the course's quick mode: 8 optimiser steps and 2 retrieval clips per video
    preset_name: str = "course"  # settings not listed here (optimiser, schedule, SSL speeds): course, paper or ssl
    method: str = "stclr"  # stclr (Eq. 1), simplified_tclr (IC + SLL), ssl (pretext only), ic, or tclr
    skips: str = "medium"  # skip rates of the 5 local clips: paper, simplified, low, medium or high
    arch: str = "r3d_tiny"  # backbone: r3d_tiny (CPU), r3d_18 (the paper); tclr needs r3d_tiny_tclr or r3d_18_tclr
    clip_len: int = 8  # frames per clip (the paper: 16)
    size: int = 32  # clip side in pixels (the paper: 112)
    batch_size: int = 16  # videos per batch, all GPUs together (the paper: 38)
    lr: float = 0.005  # peak learning rate (the paper: 1e-3 with Adam; the tiny net learns faster at 5e-3)
    c1: float = 0.6  # probability that an SSL tuple's 3 clips come from 3 different videos
    scheduler: str = "cosine"  # learning-rate schedule: cosine (to 0 at the last step), none, plateau (the paper) or onecycle
    steps: int = 320  # optimiser steps in all, the budget (the same result on every machine); 0: all the epochs
    epochs: int = 20  # passes through the train list at most (16 steps each here: 20 epochs are the 320 steps)
    max_steps_per_epoch: int = 0  # cap on the steps of an epoch; 0: the whole train list
    time_budget_s: float = 0.0  # optional wall-clock limit in seconds; 0: none (steps make results machine-independent)
    augment: str = ""  # local-clip augmentation: empty for the preset's (course: light, paper: tclr), or light, tclr, none
    num_workers: int = 1  # DataLoader worker processes (1: decode on a second core while the first trains; 0: none)
    cpu_threads: int = 1  # torch threads on a CPU (1 is fastest for the tiny model on a busy machine; 0: the default)
    retrieval: bool = True  # after training: R@k of the test videos against the train videos
    compare_random: bool = True  # also measure a random-init backbone (the baseline)
    retrieval_clips: int = 10  # clips per video for retrieval (the paper: 10)
    retrieval_skip: int = 4  # frame skip of the retrieval clips (the paper: 3)
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
    n_epochs = epochs
    n_steps = min(steps or 8, 8) if quick else steps
    n_clips = min(retrieval_clips, 2) if quick else retrieval_clips
    metrics = {}
    budget = f"{n_steps} optimiser steps" if n_steps else f"{n_epochs} epochs"
    print(f"device: {dev} | seed: {seed} | {budget} | results in {out}")
    """
)

nb.md(
    """
    ## 1. The data

    Pretraining reads only the **train list** of the split, and no labels. When `data_root` holds no dataset,
    the synthetic one is generated first ({{course.dataset_s}} s on 2 cores, once; notebook 00 shows what is in it).
    """
)

nb.code(
    """
    root = Path(data_root)
    if dataset == "synthetic":  # generated here when missing
        ensure_synthetic_dataset(root, show_progress=show_progress)
    train = load_split(dataset, root, split, "train")
    test = load_split(dataset, root, split, "test")
    print(f"{dataset} split {split}: {len(train)} train / {len(test)} test videos, {train.num_classes} classes")
    """
)

nb.md(
    r"""
    ## 2. The configuration

    A run is one `PretrainConfig` (`stclr/config.py`): every field has the paper's value as its default, a
    *preset* changes a group of them (`course`: the tiny R3D, 8-frame clips and short patience for a CPU), and
    the notebook's parameters override the rest. Types and choices are checked when the config is built, so a
    typo such as `method="stclr "` fails here and not after an hour of training.
    """
)

nb.code(
    """
    overrides = {
        "method": method, "skips": skips, "arch": arch, "clip_len": clip_len, "size": size, "c1": c1,
        "batch_size": batch_size, "lr": lr, "scheduler": scheduler, "epochs": n_epochs, "seed": seed,
        "max_steps_per_epoch": max_steps_per_epoch or None, "max_steps": n_steps or None,
        "time_budget_s": time_budget_s or None, "device": device,
        "out_dir": str(out), "show_progress": show_progress,
        "data.dataset": dataset, "data.root": str(root), "data.split": split, "data.num_workers": num_workers,
    }
    if augment:
        overrides["augment"] = augment
    cfg = preset(preset_name, "pretrain", **overrides)
    cfg.run_name = f"{cfg.method}-{cfg.arch}-s{cfg.seed}-{config_hash(cfg)[:8]}"  # new settings, new folder
    paper = preset("paper", "pretrain")
    """
)

nb.code(
    """
    keys = ["method", "arch", "clip_len", "size", "skips", "augment", "ssl_augment", "ssl_input", "ssl_head_norm",
            "batch_size", "optimizer", "lr", "weight_decay", "scheduler", "temperature", "c1", "c2", "ssl_speeds", "epochs"]
    print(f"{'field':17s} {'this run':>20s} {'the paper':>20s}")
    for k in keys:
        print(f"{k:17s} {str(getattr(cfg, k)):>20s} {str(getattr(paper, k)):>20s}")
    """,
    check_output=True,
)

nb.md(
    r"""
    `temperature=None` means the method's own $\tau$ (0.3 for the STCLR family, 0.1 for TCLR). What does one
    step cost? Each video contributes $2N$ local-clip views ($N = 5$ clips, two views each) and, for STCLR, the
    3 clips of its SSL tuple (Sec. 4.2.4: 13 clips per video against TCLR's 10). `clip_flops` counts the
    backbone's forward and backward FLOPs per clip with PyTorch's `FlopCounterMode` on the `meta` device
    (nothing is computed):
    """
)

nb.code(
    """
    CLIPS_PER_VIDEO = {"stclr": 13, "simplified_tclr": 10, "tclr": 10, "ic": 10, "ssl": 3}
    per_step = {}
    for name, c in (("this run", cfg), ("the paper", paper)):
        clips = c.batch_size * CLIPS_PER_VIDEO[c.method]
        gflops = clip_flops(build_backbone(c.arch), (3, c.clip_len, c.size, c.size)) / 1e9
        per_step[name] = clips * gflops
        print(f"{name:9s}: {c.arch:8s} {c.clip_len}x{c.size}x{c.size}, {clips:3d} clips per step x "
              f"{gflops:8.3f} GFLOPs = {clips * gflops:9.1f} GFLOPs per step")
    print(f"a paper step is {per_step['the paper'] / per_step['this run']:,.0f} times the work of this run's")
    """,
    check_output=True,
)

nb.md(
    """
    *What to notice:* a paper step is thousands of times more work than ours (the ratio printed above). The tiny R3D
    (one residual block per stage instead of two, widths 8/16/32/64 instead of 64/128/256/512) on 8×32×32 clips is what lets a CPU take a step in a
    second or two; everything else (sampling, views, losses, the batch plan, checkpoints) is the same code.

    ## 3. Training

    `run_pretrain(cfg)` trains and returns the run folder. It stops after `max_steps` optimiser steps (the
    notebook's `steps`; 320 here: 20 passes of 16 steps through the 256 train videos), when `epochs` are done, or, when one
    is set, when the wall-clock `time_budget_s` is spent (after writing a checkpoint, so
    the run can be resumed; handy on a shared GPU, but a result then depends on the machine's speed). This cell
    reuses a finished run with the same settings, resumes an unfinished one (a kernel restart mid-run loses at
    most one step), and otherwise trains from scratch: `run_or_resume_pretraining(cfg)`, with
    `pretraining_status(cfg)` saying which.
    """
)

nb.code(
    """
    status = pretraining_status(cfg)  # "new", "interrupted" (continue from last.pt) or "finished" (reuse)
    run_dir = run_or_resume_pretraining(cfg)
    rows = vr.read_jsonl(run_dir)  # one row per epoch
    step_rows = vr.read_jsonl(run_dir, "steps.jsonl")  # one row per optimiser step
    print(f"{'reused' if status == 'finished' else 'trained'}: {len(step_rows)} steps in {len(rows)} epochs, "
          f"in {run_dir.name}")
    """
)

nb.code(
    """
    ckpt = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    print("files:", sorted(p.name for p in run_dir.iterdir()))
    print("checkpoint keys:", sorted(ckpt))
    seconds = ckpt["extra"]["train_seconds"]
    print(f"stopped after epoch {ckpt['epoch']}, step {ckpt['step']}, {seconds:.0f} s of training")
    """
)

nb.md(
    """
    *What to notice:* `last.pt` holds everything needed to continue exactly where the run stopped: model,
    optimiser, schedule, sampler position, random-number states and the config (a resumed run refuses a
    config that differs in anything but the budget, the epoch count and the machine). `best.pt` is the epoch
    with the lowest loss; `metrics.jsonl` has one line per epoch; `env.json` the versions, device and decoder.

    ## 4. Loss curves

    Each contrastive loss is a cross-entropy over candidates, so it has a natural reference: the value when the
    network cannot tell the candidates apart (all similarities equal). For instance contrastive (Eq. 2) an anchor
    has $2B - 1$ candidates; for sparse local–local (Eq. 3) each of the $N$ anchors of a video has $2N - 1$, and
    Eq. 3 *sums* over them; the pretext picks one of 4 labels:

    $$\\mathcal{L}_{IC}^{\\text{uniform}} = \\log(2B - 1), \\qquad
      \\mathcal{L}_{SLL}^{\\text{uniform}} = N \\log(2N - 1), \\qquad
      \\mathcal{L}_{SSL}^{\\text{uniform}} = \\log 4.$$
    """
)

nb.code(
    """
    B, N = cfg.batch_size, 5
    uniform = {"ic": math.log(2 * B - 1), "sll": N * math.log(2 * N - 1), "ssl": math.log(4)}
    print({k: round(v, 3) for k, v in uniform.items()})
    """,
    check_output=True,
)

nb.code(
    """
    fig = vr.plot_loss_curves(step_rows, uniform=uniform, smooth=5 if len(step_rows) >= 10 else 1,
                              title=f"{cfg.method} on {dataset}: {len(step_rows)} optimiser steps of {cfg.batch_size} videos")
    fig.savefig(out / "loss_curves.png", dpi=120)
    left = vr.first_below(step_rows, "loss_sll", 0.9 * uniform["sll"], window=5)
    print("L_SLL (mean of 5 steps) first below 0.9 x its uniform guess at "
          + (f"step {left}" if left else "no step: it stayed on its plateau (see the note below the figure)"))
    ssl_last20 = vr.tail_mean(step_rows, "loss_ssl", 20)
    if ssl_last20 is not None:
        print(f"L_SSL, mean of the last 20 steps: {ssl_last20:.3f} (log 4 = {uniform['ssl']:.3f}; the pretext has "
              f"learned something when it is below 0.9 x log 4 = {0.9 * uniform['ssl']:.3f})")
    fig
    """
)

nb.md(
    """
    *What to notice:* the dashed line in each panel is the uniform guess. The instance-contrastive loss drops
    below it within a few steps: telling the 16 videos of a batch apart is easy from appearance alone — the
    8 looks are shared by all classes, but within a look the videos still differ in sprite size, position,
    orientation and distractor, all visible in a single frame (the *appearance shortcut* of notebook 03). The sparse local–local loss starts on its reference and stays on that plateau for
    a while: its negatives come from the same video, with the same look, so only *when* and *how fast* things
    move separate them. Then it falls (the line printed above says at which step, for this run). Once it does,
    the instance loss climbs back towards or above its own reference: its positive pair is two *different*
    clips of one video, which the local–local loss pushes apart in the same projection space — a real tension
    in the method (notebooks 03–04). The pretext loss must drop below $\\log 4 \\approx 1.39$ to mean anything. It
    starts *above* it — the fresh head guesses with confidence, and wrongly — and comes down once the backbone's
    features begin to carry speed (the second printed line gives its mean over the last 20 steps). Until issue 21
    of this kit it never did inside STCLR, and no single change made it learn (`docs/benchmarks.md`,
    "ssl_causes", measures each). The course preset makes five together: a fresh network's raw-frame features carry
    no speed at all, so the tuple clips enter as frame differences (`ssl_input="diff"`, notebook 05), without
    disturbing the BatchNorm statistics raw frames are evaluated with; the head standardises the pooled features
    first (`ssl_head_norm`: their shared positive mean hides the small speed differences); Sec. 4.2.1's independent
    crops change each clip's apparent speed by its zoom, so the tuple clips get the local clips' light set; speeds
    3× apart (1/3/9) are easier to tell at 8 frames than 1/2/4; and the head has no dropout (the paper's 0.5 is
    meant for 499 epochs). $K$, $C_1$, $C_2$, one shared backbone and Eq. 1 are the paper's.
    If the local–local loss never leaves its plateau, look at the augmentation first: rerun with `augment="tclr"` (the paper's set) to
    see the failure notebook 02 explains. Every point is one
    optimiser step, one batch of 16 videos (`steps.jsonl` in the run folder; `metrics.jsonl` has the means per
    epoch), so the curves are noisy: the thick line is the mean of the last 5 steps.

    ## 5. Did the features improve? Retrieval against random init

    Retrieval (Sec. 4.2.2, notebook 08) needs no training: each test video queries the train videos with the
    backbone's pooled features; R@k is the share of queries with a same-class video among their k nearest.
    We compare the pretrained backbone with the same architecture at random initialisation.
    """
)

nb.code(
    """
    recall, hits = {}, {}
    if retrieval:
        base = "course" if preset_name == "course" else "paper"
        common = dict(clip_len=clip_len, size=size, n_clips=n_clips, skip=retrieval_skip, seed=seed, device=device,
                      out_dir=str(out), show_progress=show_progress, **{"data.dataset": dataset, "data.root": str(root),
                      "data.split": split, "data.num_workers": num_workers})
        for name in (["random"] if compare_random else []) + ["pretrained"]:
            rcfg = preset(base, "retrieval", arch=arch, checkpoint=str(run_dir), random_init=name == "random", **common)
            found = json.loads((run_retrieval(rcfg) / "metrics.json").read_text())
            recall[name] = {f"R@{k}": found[f"R@{k}"] for k in rcfg.ks}
            hits[name] = query_hits(found)  # query -> R@1 hit
    print({name: {k: round(v, 1) for k, v in r.items()} for name, r in recall.items()})
    if "random" in recall:
        gain = recall["pretrained"]["R@1"] - recall["random"]["R@1"]
        noise = bootstrap_gain_sd(*paired_hits(hits["random"], hits["pretrained"]))
        print(f"R@1 gain of {ckpt['step']} steps of {cfg.method} over random init: {gain:+.1f} points "
              f"({gain / (100 / len(test)):+.0f} of {len(test)} queries; the course's target: +15)")
        print(f"measurement noise: the gain's standard deviation over bootstrap resamples of the queries is "
              f"{noise:.1f} points")
    """
)

nb.code(
    """
    if recall:
        chance = {f"R@{k}": vr.retrieval_chance(test.labels, train.labels, k) for k in (1, 5, 10, 20)}
        fig = vr.plot_recall_at_k(recall, chance=chance, title=f"Retrieval on {dataset}: {len(test)} test queries")
        fig.savefig(out / "retrieval.png", dpi=120)
        display(fig)
    """
)

nb.md(
    """
    *What to notice:* the synthetic test list has 256 queries, so one query is worth 0.4 points of R@1; the
    dashed lines are what a random ranking scores. A random-init 3D CNN is not useless: its pooled features
    already respond to where and how much things move, so it beats chance. The lines printed above the figure
    are this run's gain over it and the gain's *measurement noise*: resample the 256 queries with replacement
    many times, and the gain moves by about that much from the draw of the test videos alone, the same network.
    A gain is real when it is several times its noise.

    One seed is one draw. `bench/lesson_steps.py` ran this notebook's training and retrieval with the default
    parameters on seeds 0–14; the cell below reads its recorded rows (`docs/data/lesson_steps.json`, the table
    "lesson steps" in `docs/benchmarks.md`) and prints what they show at this notebook's budget:
    """
)

nb.code(
    """
    try:
        recorded = load_rows("lesson_steps")
        for chosen in (range(5), None):  # the five seeds looked at first, then all recorded seeds
            print(lesson_summary(recorded, n_steps, seeds=chosen)["text"])
    except (FileNotFoundError, ValueError) as err:  # another budget than the recorded ones
        print(f"no recorded seeds to compare with: {err}")
    """
)

nb.md(
    """
    *What to notice:* how far apart the seeds are — in random init, in STCLR, in the gain — compared with one
    run's measurement noise: the seed changes what the network learns, not only how it is measured. Where a seed
    misses the target, look first at its random-init R@1: a randomly initialised network whose features already
    retrieve well leaves less to gain. Then look at the loss curves (did the local–local loss leave its plateau,
    and when? did the pretext's loss leave $\\log 4$?) and try another seed (exercise 1).

    ## 6. The same notebook at full scale

    Give the notebook these parameters (papermill `-p`, or a recipe in `experiments/`) to pretrain as in the
    paper. The runs need a GPU and the real dataset; `stclr pretrain` is the same code without the notebook,
    and `torchrun --nproc_per_node=4 -m stclr pretrain ...` spreads one run over 4 GPUs.

    | parameter | course (defaults) | STCLR (Sec. 4.3.1) | Simplified TCLR (Sec. 4.2.2) | SSL only (Sec. 4.2.1) | sparsity ablation (Sec. 4.2.3) |
    |---|---|---|---|---|---|
    | `data_root`, `dataset` | `../data/synthetic`, `synthetic` | `/data/UCF101`, `ucf101` | same | same | same |
    | `preset_name` | `course` | `paper` | `paper` | `ssl` | `paper` |
    | `method` | `stclr` | `stclr` | `simplified_tclr` | `ssl` | `stclr` |
    | `skips` | `medium` | `paper` (1,4,8,16,32) | `simplified` (1,4,8,16,24) | – | `low`, `medium`, `high` |
    | `augment` (empty: the preset's) | `light` | `tclr` | `tclr` | – | `tclr` |
    | `arch`, `clip_len`, `size` | `r3d_tiny`, 8, 32 | `r3d_18`, 16, 112 | `r3d_18`, 16, 112 | `r3d_18`, 16, 128 | `r3d_18`, 16, 112 |
    | `batch_size`, `lr`, `scheduler` | 16, 5e-3, `cosine` | 38, 1e-3, `plateau` | 38, 1e-3, `plateau` | 24, 1e-2, `onecycle` | 38, 1e-3, `plateau` |
    | `steps`, `epochs`, `time_budget_s` | 320, 20, 0 | 0, 400, 0 | 0, 400, 0 | 0, 499, 0 | 0, 300, 0 |
    | `num_workers` | 1 | 8 | 8 | 8 | 8 |
    | `retrieval_clips`, `retrieval_skip` | 10, 4 | 10, 3 | 10, 3 | 10, 3 | 10, 3 |

    Diving-48 (Table 9): `dataset="diving48"`, `epochs=100`, the STCLR column otherwise. `steps=0` lets the
    epochs set the length, as in the paper.
    `experiments/pretrain_paper.yaml` runs all of these as one resumable batch.

    ## 7. Results
    """
)

nb.code(
    """
    last_row = rows[-1] if rows else {}
    ends = [r["train_seconds"] for r in rows]
    metrics["pretrain"] = {
        "method": cfg.method, "skips": cfg.skips, "arch": cfg.arch,
        "epochs_done": ckpt["epoch"], "steps": ckpt["step"], "train_seconds": ckpt["extra"]["train_seconds"],
        "final_loss": last_row.get("loss"), "sll_left_chance_step": left, "sll_chance": uniform["sll"],
        "ssl_last20": ssl_last20,
        "final_losses": {k: last_row.get(f"loss_{k}") for k in vr.loss_components(rows)},
        "epoch_seconds": [b - a for a, b in zip([0.0] + ends, ends)],
        "clips_per_s": last_row.get("clips_per_s"), "videos_opened_per_epoch": last_row.get("loader_videos_opened"),
        "gpu_peak_gb": torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None,
        "checkpoint": str((run_dir / "last.pt").resolve()), "run_dir": str(run_dir.resolve()), "reused": status == "finished",
    }
    metrics["retrieval"] = recall
    metrics["retrieval_gain_bootstrap_sd"] = noise if "random" in recall else None
    write_json(out / "metrics.json", metrics)
    print(sorted(metrics), sorted(metrics["pretrain"]))
    """,
    check_output=True,
)

nb.md(
    """
    **Explore.** The widget lists every run in `out_dir` (change a parameter, rerun the notebook, and the new
    run appears beside the old one) and overlays their loss curves.
    """
)

nb.widget(
    """
    if interactive:
        import ipywidgets as widgets
        from IPython.display import display

        runs = {p.name: vr.read_jsonl(p, "steps.jsonl") for p in sorted(out.iterdir()) if (p / "steps.jsonl").is_file()}

        def compare(names):
            if names:
                display(vr.plot_loss_curves({n: runs[n] for n in names}, uniform=uniform, smooth=5))
            else:  # replaces the last figure, so a deselected run does not stay on screen
                print("Select one or more runs (Ctrl/Cmd+click adds one) to overlay their loss curves.")

        if len(runs) < 2:
            print(f"Only one run in {out} so far: change a parameter (e.g. the method or the seed), run the notebook "
                  "again, and this cell will overlay the runs' loss curves.")
        else:
            widgets.interact(compare, names=widgets.SelectMultiple(
                options=list(runs), value=[run_dir.name], rows=min(6, len(runs)), description="runs",
                layout=widgets.Layout(width="max-content", min_width="420px")))
    """
)

nb.md(
    r"""
    ## Summary

    - A run is a `PretrainConfig`: the paper's values by default, a preset for a group of changes, and
      overrides checked by type and choice. The folder name carries a hash of the settings that matter.
    - A step of the paper's STCLR encodes $38 \times 13 = 494$ clips of 16×112×112 through R3D-18; the course
      shrinks every factor so that a CPU takes a step in about a second — with the same code path.
    - `run_pretrain` writes `config.yaml`, `env.json`, `metrics.jsonl`, `steps.jsonl` and atomic checkpoints; it
      stops after `steps` optimiser steps (or `epochs`, or an optional time budget) and resumes from `last.pt` exactly. Budgets in steps make a result
      independent of the machine.
    - Each loss has a uniform-guess reference: IC $\log(2B-1)$, SLL $N\log(2N-1)$, SSL $\log 4$. The IC loss
      falls first (appearance is an easy cue); the local–local loss sits on its plateau for a few dozen steps,
      then falls once the network encodes motion; the pretext's loss starts above $\log 4$ and falls below it once
      the features carry speed — which took four changes to the course preset, each measured (section 4).
    - Retrieval against a random-init backbone is the quick check of what pretraining bought; read it against
      what one seed to the next moves it (`docs/benchmarks.md`, "course seeds").

    ## Check your understanding

    1. Why does the run folder's name contain a hash of the configuration, and which fields are left out of it?

    <details><summary>Answer</summary>

    So that a run with other settings gets its own folder: rerunning the notebook after changing, say, `lr`
    starts a new run instead of resuming (or reusing) one trained with the old value. Left out are the fields
    that do not change what is computed, or that may change when a run is continued (`RESUME_MUTABLE` in
    `stclr/config.py`): the budget (`epochs`, `max_steps`, `max_steps_per_epoch`, `time_budget_s`), where and how
    it runs (`device`, `cpu_threads`, `data.num_workers`, `data.cache_mb`, `compile`, `activation_checkpointing`,
    `data.root`), and bookkeeping (`out_dir`, `run_name`, `resume`, `show_progress`, checkpoint and evaluation
    frequencies).

    </details>

    2. STCLR encodes 13 clips per video, Simplified TCLR 10. Where do the three extra clips come from, and why
       does our batch plan not read three extra videos for them (Sec. 4.2.4)?

    <details><summary>Answer</summary>

    They are the video's Same Speed Localization tuple (Sec. 3.3). With probability $C_1$ its clips come from three
    different videos, which the paper's loader reads for that purpose. The batch plan takes them from the other
    videos of the same batch, which are decoded anyway: their frames join those videos' single decode.

    </details>

    3. With $B = 16$, what is the IC loss of a network whose features are all identical? And with $B = 38$?

    <details><summary>Answer</summary>

    All $2B - 1$ candidates are equally similar, so the loss is $\log(2B - 1)$: $\log 31 \approx 3.43$ for
    $B = 16$ and $\log 75 \approx 4.32$ for $B = 38$.

    </details>

    4. The IC loss is below its reference and the SLL loss is not. What does each network "know" at that point?

    <details><summary>Answer</summary>

    It can tell videos apart (IC below $\log(2B-1)$), which appearance alone allows, but it cannot yet tell the
    clips of one video apart (SLL at $N\log(2N-1)$): its features do not yet change with *when* and *how fast*
    things move inside a video. It has learned appearance, not yet motion.

    </details>

    5. Why is the course's budget counted in optimiser steps rather than seconds? What happens when you rerun this
       notebook with a larger `steps`?

    <details><summary>Answer</summary>

    A number of steps is the same amount of training on any machine, so the same seed gives the same result on
    a fast or a slow computer; a budget in seconds trains more on a fast machine. `steps` is not part of the
    configuration hash, so a larger value finds the same run folder, whose `last.pt` is short of the new budget:
    the run *resumes* from there and trains on to the new step count (within `epochs`). That is not the same run
    as a fresh one of that length, because its learning-rate schedule was laid out for the old length at the
    start.

    </details>

    ## Exercises

    **1.** Rerun with three other seeds (`seed=1`, `2`, `3`) and write down the R@1 gain each time. How large is
    the spread, compared with one query (0.4 points) and with the measurement noise printed in section 5?

    <details><summary>Solution</summary>

    Rerun the notebook with `-p seed 1` (papermill) or edit the parameters cell; each seed is its own run folder.
    `python bench/course_seeds.py` does exactly this for seeds 0–4 and writes the table to `docs/benchmarks.md`
    ("course seeds"); `bench/lesson_steps.py` does the training and retrieval for seeds 0–14 (the lines printed in
    section 5). The gain moves over the seeds by far more than one query and by several times the measurement
    noise of one run: the seed changes what the network learns, not only how it is measured. That is why a lesson must hold on every seed, not on the mean, and why one run on a small test set
    proves little.
    </details>

    **2.** Pretrain `method="simplified_tclr"` with the same budget and plot both runs' curves in one figure.

    <details><summary>Solution</summary>

    ```python
    cfg2 = preset(preset_name, "pretrain", **{**overrides, "method": "simplified_tclr"})
    cfg2.run_name = f"{cfg2.method}-{cfg2.arch}-s{cfg2.seed}-{config_hash(cfg2)[:8]}"
    run2 = run_or_resume_pretraining(cfg2)
    vr.plot_loss_curves({"stclr": step_rows, "simplified_tclr": vr.read_jsonl(run2, "steps.jsonl")}, smooth=5)
    ```
    Simplified TCLR has no pretext panel; with 10 instead of 13 clips per video each of its steps is cheaper.
    </details>

    **3.** Verify the uniform-guess value of Eq. 2 with the package's loss: feed identical features.

    <details><summary>Solution</summary>

    ```python
    from stclr.losses import instance_contrastive
    g = torch.ones(B, 128)
    print(instance_contrastive(g, g).item(), math.log(2 * B - 1))
    ```
    All $2B - 1$ candidates have the same similarity, so the softmax is uniform and the loss is $\log(2B-1)$.
    </details>

    **4.** How many GFLOPs is one *epoch* of the paper's STCLR on UCF-101 split 1 (9537 training videos), counting
    only the backbone? How long would it take at 100 TFLOP/s?

    <details><summary>Solution</summary>

    ```python
    x = clip_flops(build_backbone("r3d_18"), (3, 16, 112, 112))
    total = 9537 * 13 * x
    print(f"{total / 1e15:.1f} PFLOPs, {total / 100e12 / 60:.1f} min at 100 TFLOP/s")
    ```
    About 30 PFLOPs, 5 minutes of pure compute: the paper's 34.36 minutes per epoch (Table 6) are dominated by
    reading and decoding video (Sec. 4.2.4) — the reason for the kit's one-decode-per-video batch plan.
    </details>

    ## References

    - STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
      Representation*, Neurocomputing): Eq. 1–3 and Sec. 3 (the losses), Sec. 4.2.1 (SSL-only settings),
      Sec. 4.2.2 (Simplified TCLR and the default pretraining settings), Sec. 4.2.3 (sparsity), Sec. 4.2.4 and
      Tables 6–7 (cost), Sec. 4.3.1 (STCLR pretraining).
    - TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal Contrastive Learning for Video
      Representation*, CVIU 2022 — the training recipe (Adam, τ, batch, projection head) STCLR follows.
    - The kit: `stclr/train.py` (the loop), `stclr/engine.py` (what the loop shares with fine-tuning: run folder,
      resume point, budget, checkpoints), `stclr/config.py` (presets), `stclr/checkpoint.py`,
      `experiments/README.md` (recipes); notebooks 07 (fine-tuning) and 08 (retrieval) use this notebook's checkpoint.
    - The method, the settings of each experiment and the kit's reading of them: [docs/method.md](../docs/method.md).
      Terms: [optimiser step and epoch](../docs/glossary.md#optimiser-step-and-epoch),
      [cosine schedule](../docs/glossary.md#cosine-schedule), [OneCycle schedule](../docs/glossary.md#onecycle-schedule),
      [ReduceLROnPlateau](../docs/glossary.md#reducelronplateau),
      [BatchNorm statistics](../docs/glossary.md#batchnorm-statistics),
      [bootstrap standard deviation](../docs/glossary.md#bootstrap-standard-deviation), [DDP](../docs/glossary.md#ddp),
      [bf16 autocast](../docs/glossary.md#bf16-autocast), [channels_last](../docs/glossary.md#channels_last).
    """
)
