"""Source of notebooks/07_finetuning.ipynb (build: python notebooks/src/build.py)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("07_finetuning")

nb.md(
    r"""
    # 07 · Fine-tuning for action recognition

    Self-supervised features are judged by what they do downstream. The paper's first test (Sec. 4.2.2,
    Tables 2, 5, 8, 9) is **full fine-tuning**: put a fresh classifier head on the pretrained backbone, train all
    layers with labels, and classify each test video from many clips and crops. The same run from a *random*
    initialisation is the baseline: the gap between the two is what pretraining bought. This notebook runs both
    with the engine (`stclr.finetune.run_finetune`), reports video-level and clip-level accuracy and draws the
    confusion matrices.

    **What you will learn**
    - the fine-tuning protocol: the classifier head, training clips, and the 10 clips × 10 crops test;
    - the difference between *video-level* accuracy (the paper's number: probabilities averaged over all views
      of a video) and *clip-level* accuracy (each view on its own);
    - to compare a pretrained backbone with random initialisation for the same number of steps, and to read a
      confusion matrix (which motions get confused, e.g. `SlideThenHop` vs `HopThenSlide`);
    - where the checkpoint comes from: one you give, notebook 06's (in the course), or a brief pretraining here.

    | compute | with the defaults | full scale (section 6) |
    |---|---|---|
    | time | {{course.07_min}} min in `make course` on 2 cores (2 × 25 epochs of 16 steps and two evaluations on 256 test videos, seed 0; `docs/benchmarks.md`); plus about notebook 06's time when its checkpoint is not there; much less with `quick=True` | 460 epochs of UCF-101 split 1 on one GPU: about a day |
    | disk | a few MB | ≈ 130 MB per fine-tuning checkpoint (R3D-18 + SGD state) |
    """
)

nb.code(
    """
    %matplotlib inline
    import json
    from pathlib import Path

    import torch

    from stclr.benchdata import load_rows
    from stclr.config import config_hash, preset
    from stclr.data.splits import load_split
    from stclr.data.synthetic import ensure_synthetic_dataset
    from stclr.finetune import multi_crop, run_finetune
    from stclr.retrieval import resolve_arch
    from stclr.runinfo import resolve_device, seed_everything, shown_path, write_json
    from stclr.train import pretraining_run, reusable_pretraining, run_pretrain
    from stclr.viz import results as vr

    print(f"torch {torch.__version__} | CUDA available: {torch.cuda.is_available()}")
    """
)

nb.md("**Parameters.** papermill and `stclr batch` replace these literals; section 6 lists the paper's values.")

nb.params(
    """
    data_root: str = "../data/synthetic"  # dataset folder (the synthetic dataset is generated here when missing)
    dataset: str = "synthetic"  # layout of data_root: synthetic, ucf101, hmdb51 or diving48
    split: int = 1  # official split: train on its train list, test on its test list
    out_dir: str = "../runs/notebooks/07_finetuning"  # fine-tuning runs, figures and metrics.json go here
    device: str = "auto"  # auto (CUDA, then MPS, then CPU), cpu, cuda or mps
    show_progress: bool = True  # progress bars
    interactive: bool = True  # the misclassified-video browser at the end
    seed: int = 0  # classifier head, clip positions, augmentations, and the random-init baseline
    quick: bool = False  # the course's quick mode: 2 epochs, 8 pretraining steps, 2 test clips per video
    course_dir: str = "../runs/notebooks"  # where notebook 06 wrote its output (its default): its checkpoint is reused when present
    checkpoint_path: str = ""  # a pretraining run folder or .pt (or a notebook-06 output folder); empty: see section 2
    pretrain_method: str = "stclr"  # method of the brief pretraining done here when there is no checkpoint
    pretrain_steps: int = 320  # optimiser steps of that brief pretraining (notebook 06's default)
    preset_name: str = "course"  # settings not listed here: course or paper
    arch: str = "r3d_tiny"  # backbone of the brief pretraining (a given checkpoint brings its own)
    clip_len: int = 8  # frames per clip (the paper: 16)
    skip: int = 6  # frame skip of training and test clips (the paper: 4); 8 frames at skip 6 span half a video
    resize: list[int] = [40, 40]  # frames resized to (H, W) before cropping (the paper: 128, 171)
    crop: int = 32  # side of the square crop fed to the network (the paper: 112)
    dropout: float = 0.0  # dropout between the two layers of the classifier head (the paper: 0.9)
    batch_size: int = 16  # training clips per step (the paper: 16)
    lr: float = 0.003  # peak learning rate: the course's Adam (the paper: SGD, 3e-3)
    scheduler: str = "cosine"  # cosine (to 0 over the epochs), none (constant) or onecycle (the paper)
    weight_decay: float = 0.0  # weight decay (the paper: 6e-3 with SGD)
    epochs: int = 25  # epochs per run, 16 optimiser steps each on the synthetic set (the first ~10 sit near chance)
    time_budget_s: float = 0.0  # optional wall-clock limit per run in seconds; 0: none (epochs decide)
    test_clips: int = 4  # uniformly spaced clips per test video (the paper: 10)
    test_crops: int = 1  # crops per clip: 1 (centre), 5 (centre and corners) or 10 (and their flips; the paper)
    num_workers: int = 1  # DataLoader worker processes (1: decode on a second core while the first trains; 0: none)
    cpu_threads: int = 1  # torch threads on a CPU (1 is fastest for the tiny model on a busy machine; 0: the default)
    compare_random: bool = True  # also fine-tune a random-init backbone (the baseline)
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
    n_epochs = min(epochs, 2) if quick else epochs
    pre_steps = min(pretrain_steps, 8) if quick else pretrain_steps
    n_test_clips = min(test_clips, 2) if quick else test_clips
    data_kw = {"data.dataset": dataset, "data.root": str(Path(data_root)), "data.split": split,
               "data.num_workers": num_workers}
    metrics = {}
    print(f"device: {dev} | seed: {seed} | {n_epochs} epochs per run | results in {out}")
    """
)

nb.md("## 1. The data\n\nFine-tuning uses the labels: train list for training, test list for the accuracy.")

nb.code(
    """
    root = Path(data_root)
    if dataset == "synthetic":  # generated here when missing
        ensure_synthetic_dataset(root, show_progress=show_progress)
    train, test = load_split(dataset, root, split, "train"), load_split(dataset, root, split, "test")
    classes = list(test.classes)
    print(f"{dataset} split {split}: {len(train)} train / {len(test)} test videos, {len(classes)} classes")
    """
)

nb.md(
    """
    ## 2. The checkpoint

    In order of preference: the `checkpoint_path` you give (a run folder with `last.pt`, a `.pt` file, or the
    output folder of notebook 06, whose `metrics.json` names its run); notebook 06's run in the course's folder
    (`course_dir/06_pretraining`: where notebook 06 writes by default, or the course folder of `stclr course`); otherwise a brief pretraining here (`pretrain_steps` optimiser steps of
    `pretrain_method`, with notebook 06's defaults), so that this notebook also runs on its own.
    """
)

nb.code(
    """
    # notebook 06's run, if it trained this backbone on this dataset (never a leftover of another one)
    run_06 = reusable_pretraining(Path(course_dir) / "06_pretraining", data_root, arch=arch) if course_dir else None
    if checkpoint_path:
        ckpt, source = pretraining_run(checkpoint_path), "given"
    elif run_06 is not None:
        ckpt, source = run_06, "notebook 06 (course)"
    else:
        ckpt, source = None, "pretrained here"
    print(source, shown_path(ckpt) if ckpt is not None else '')
    """
)

nb.code(
    """
    if ckpt is None:  # the brief pretraining (reused when this notebook ran before with the same settings)
        pcfg = preset("course" if preset_name == "course" else "paper", "pretrain", method=pretrain_method,
                      arch=arch, clip_len=clip_len, size=crop, epochs=pre_steps, max_steps=pre_steps,
                      seed=seed, device=device, out_dir=str(out / "pretrain"), show_progress=show_progress, **data_kw)
        pcfg.run_name = f"{pcfg.method}-{pcfg.arch}-{config_hash(pcfg)[:8]}-{pre_steps}steps"
        ckpt = Path(pcfg.out_dir) / pcfg.run_name
        if not (ckpt / "last.pt").is_file():
            run_pretrain(pcfg)
    arch_used = resolve_arch(None, str(ckpt))
    print(f"checkpoint: {ckpt.name} ({source}), backbone {arch_used}")
    """
)

nb.md(
    r"""
    ## 3. The protocol

    **Model.** The backbone's pooled features (128-d for the tiny R3D, 512-d for R3D-18) go through a fresh
    `ClassifierHead`: FC → ReLU → dropout → FC to the classes. All layers are trained (full fine-tuning) with
    cross-entropy. The paper uses SGD with a OneCycle schedule laid out over `epochs` epochs; the course uses Adam
    (the tiny net learns faster with it) and a cosine schedule that reaches zero at the last epoch.

    **Training clips.** One random clip per video and epoch: `clip_len` frames at `skip`, the frames resized to
    `resize` and randomly cropped to `crop`, flipped and colour-jittered.

    **Test.** `test_clips` uniformly spaced clips per video × `test_crops` crops (the paper: 10 × 10 — the centre
    and the four corners, with and without a horizontal flip). The *video-level* prediction averages the softmax
    probabilities of all views; *clip-level* accuracy classifies every view on its own:
    """
)

nb.code(
    """
    views = torch.zeros(2, 10, 3, 16, 128, 171)  # 2 test videos x 10 clips of 16 frames, resized to 128x171
    for n in (1, 5, 10):
        print(f"{n:2d} crop(s): {tuple(multi_crop(views, 112, n).shape)}  [videos, clips, crops, C, T, H, W]")
    """,
    check_output=True,
)

nb.code(
    """
    common = dict(clip_len=clip_len, skip=skip, resize=resize, crop=crop, dropout=dropout, batch_size=batch_size,
                  lr=lr, weight_decay=weight_decay, scheduler=scheduler, epochs=n_epochs, seed=seed,
                  time_budget_s=time_budget_s or None, test_clips=n_test_clips, test_crops=test_crops, device=device,
                  out_dir=str(out), show_progress=show_progress, **data_kw)
    cfgs = {"pretrained": preset(preset_name, "finetune", arch=arch_used, checkpoint=str(ckpt), **common)}
    if compare_random:
        cfgs["random"] = preset(preset_name, "finetune", arch=arch_used, checkpoint=None, **common)
    paper = preset("paper", "finetune")
    for k in ("hidden", "dropout", "clip_len", "skip", "resize", "crop", "optimizer", "lr", "weight_decay",
              "scheduler", "batch_size", "epochs", "test_clips", "test_crops"):
        print(f"{k:13s} {str(getattr(cfgs['pretrained'], k)):>12s} {str(getattr(paper, k)):>12s}")
    """,
    check_output=True,
)

nb.md(
    """
    *What to notice:* the left column is this run, the right one the paper's (Sec. 4.2.2). The course's head is
    smaller (128 hidden units) and not regularised (no dropout; the paper's is 0.9): in a few minutes on a CPU the
    tiny net *underfits* (its training accuracy stays close to its test accuracy), and dropout only slows it
    down (notebook 05's exercise 3 shows the same for the pretext's head). Regularisation pays off in long runs
    that can overfit, like the paper's.

    ## 4. Fine-tune: pretrained vs random init

    Both runs get the same epochs, data order and head initialisation; only the backbone's starting weights
    differ. A run is reused when its folder already holds results with the same settings.
    """
)

nb.code(
    """
    results, run_dirs = {}, {}
    for name, cfg in cfgs.items():
        cfg.run_name = f"finetune-{name}-{config_hash(cfg)[:8]}-{cfg.epochs}ep-{time_budget_s:g}s"  # not in the hash
        run_dirs[name] = Path(cfg.out_dir) / cfg.run_name
        if not (run_dirs[name] / "metrics.json").is_file():
            cfg.resume = (run_dirs[name] / "last.pt").is_file()  # an interrupted run continues
            run_finetune(cfg)
        results[name] = json.loads((run_dirs[name] / "metrics.json").read_text())
    for name, r in results.items():
        print(f"{name:10s}: video-level {r['video_accuracy']:5.1f} %, clip-level {r['clip_accuracy']:5.1f} % "
              f"after {r['epochs_trained']} epochs")
    """
)

nb.code(
    """
    curves = {name: vr.read_jsonl(d) for name, d in run_dirs.items()}
    fig = vr.plot_metric_curves(curves, ["loss", "train_clip_accuracy"], percent=["train_clip_accuracy"],
                                labels={"loss": "training loss", "train_clip_accuracy": "training clip accuracy"})
    fig.savefig(out / "training_curves.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* the training curves say how fast each backbone adapts to the labels. A pretrained backbone
    that learned something useful starts lower and climbs faster. The loss of a uniform guess over the classes is
    $\\log C$ ($\\log 8 \\approx 2.08$ on the synthetic dataset). From random init the loss sits near it for the
    first epochs — the synthetic motions need a few hundred optimiser steps before a tiny R3D tells them apart
    even with labels — while a backbone that already encodes motion leaves it sooner. The paper trains 460 epochs.
    """
)

nb.code(
    """
    chance = 100.0 / len(classes)
    bars = {name: {"video-level": r["video_accuracy"], "clip-level": r["clip_accuracy"]} for name, r in results.items()}
    fig = vr.plot_grouped_bars(bars, ylabel="test accuracy", chance=chance,
                               title=f"Action recognition on {dataset} ({len(test)} test videos)")
    fig.savefig(out / "accuracy.png", dpi=120)
    if "random" in results:
        gap = results["pretrained"]["video_accuracy"] - results["random"]["video_accuracy"]
        print(f"video-level accuracy from the checkpoint minus from random init: {gap:+.1f} points "
              f"({gap / (100 / len(test)):+.0f} of {len(test)} test videos; the course's target: +5)")
    fig
    """
)

nb.md(
    """
    *What to notice:* video-level accuracy is usually the higher of the two, because averaging over clips (and
    crops) cancels the errors of single views; it is the number the paper reports. The dashed line is chance
    (one class in the number of classes). On the synthetic test list (256 videos) one video is worth 0.4 points,
    and an accuracy near 50 % moves by about ±3 points with the draw of the test videos alone, so gaps of a few
    points between the two backbones are noise. The line printed above the figure is this run's gap. The same
    comparison on seeds 0–4 (`bench/lesson_steps.py --finetune`: notebook 06's pretraining, then this notebook's
    fine-tuning with 4 test clips per video; rows in `docs/data/lesson_steps.json`):
    """
)

nb.code(
    """
    try:
        recorded = load_rows("lesson_steps")
        base = {r["seed"]: r.get("finetune_video_acc") for r in recorded if r["kind"] == "random"}
        for r in sorted((r for r in recorded if r["kind"] == "pretrain" and r["method"] == "stclr"
                         and r["steps"] == pretrain_steps and r.get("finetune_video_acc") is not None),
                        key=lambda r: r["seed"]):
            a, b = base[r["seed"]], r["finetune_video_acc"]
            print(f"seed {r['seed']}: random init {a:5.1f} %   STCLR checkpoint ({r['steps']} steps) {b:5.1f} %   "
                  f"gain {b - a:+5.1f}")
    except FileNotFoundError as err:
        print(err)
    """
)

nb.md(
    """
    *What to notice:* the pretrained starts land closer together than the random ones, and the gap is larger
    than the test list's noise on every recorded seed.

    ## 5. Which classes get confused?
    """
)

nb.code(
    """
    fig = vr.plot_confusion_matrix({n: r["confusion_matrix"] for n, r in results.items()}, classes,
                                   title="Confusion matrices (rows: true class, columns: predicted)")
    fig.savefig(out / "confusion.png", dpi=120)
    fig
    """
)

nb.md(
    """
    *What to notice:* a strong diagonal is good; a single dark column means the classifier still predicts one
    class for everything — what a network that has not learned yet does, and what a run stopped in its first
    epochs shows. With more training, look at `SlideThenHop` and `HopThenSlide`: they contain the *same*
    two motions in opposite order, so a clip from the middle of a video cannot tell them apart and even a
    video-level average needs the order of the phases. Which other pairs would you expect to be confused, from
    the motion-energy maps of notebook 00?

    ## 6. The same notebook at full scale

    | parameter | course (defaults) | UCF-101 / HMDB-51 (Sec. 4.2.2, Tables 5, 8) | Diving-48 (Table 9) | SSL pretext (Table 2) |
    |---|---|---|---|---|
    | `data_root`, `dataset`, `split` | synthetic, 1 | `/data/UCF101`, `ucf101` (or `hmdb51`), 1–3 | `/data/Diving48`, `diving48`, 1 | `ucf101`, 1–3 |
    | `checkpoint_path` | (06's or brief) | the STCLR / Simplified TCLR run | STCLR pretrained on Diving-48 | the SSL-only run |
    | `preset_name` | `course` | `paper` | `paper` | `paper` |
    | `clip_len`, `skip`, `resize`, `crop` | 8, 6, [40, 40], 32 | 16, 4, [128, 171], 112 | 16, 4, [128, 171], 112 | 16, 4, [146, 195], 128 |
    | `dropout`, `batch_size`, `lr`, `weight_decay` | 0, 16, 3e-3 (Adam), 0 | 0.9, 16, 3e-3, 6e-3 | 0.9, 16, 3e-3, 6e-3 | 0.9, 16, 3e-3, 2e-3 |
    | `scheduler` | `cosine` | `onecycle` | `onecycle` | `onecycle` |
    | `epochs`, `time_budget_s` | 25, 0 | 460 (490 for UCF split 3), 0 | 460, 0 | 519, 0 |
    | `test_clips`, `test_crops` | 4, 1 | 10, 10 | 10, 10 | 10, 1 |
    | `num_workers` | 0 | 8 | 8 | 8 |

    The paper's HMDB-51 splits 1 and 3 use lr 1e-2, weight decay 3e-3, dropout 0.94 and ReduceLROnPlateau
    (Sec. 4.3.2); Fig. 8 sweeps the weight decay with a centre crop (`test_crops=1`). The recipes
    `experiments/table2_ssl_pretext.yaml`, `tables3_5_simplified_tclr_finetune.yaml`, `tables8_11_finetune.yaml`,
    `fig5_7_sparsity_finetune.yaml` and `fig8_regularization.yaml` run this notebook with those values.

    ## 7. Results
    """
)

nb.code(
    """
    keep = ("video_accuracy", "clip_accuracy", "per_class_accuracy", "epochs_trained", "train_seconds",
            "n_test_videos", "test_clips", "test_crops")
    metrics["finetune"] = {name: {k: r[k] for k in keep} for name, r in results.items()}
    metrics["checkpoint"] = {"path": str(ckpt), "source": source, "arch": arch_used}
    write_json(out / "metrics.json", metrics)
    print(sorted(metrics), {name: sorted(m)[:3] for name, m in metrics["finetune"].items()})
    """,
    check_output=True,
)

nb.md(
    """
    **Explore.** Browse the test videos the pretrained model got wrong: first and middle frame, true class and
    prediction. Can *you* tell the class from two frames?
    """
)

nb.widget(
    """
    if interactive:
        import ipywidgets as widgets
        from IPython.display import display

        wrong = [p for p in results["pretrained"]["test_predictions"] if p["pred"] != p["label"]]

        def show(i):
            p = wrong[i]
            display(vr.plot_neighbour_gallery([{"path": p["path"], "label": p["label"], "nn_paths": [],
                                                "nn_labels": []}], query_root=test.root, classes=classes, k=0,
                                              title=f"true {classes[p['label']]}, predicted {classes[p['pred']]}"))

        if wrong:
            widgets.interact(show, i=widgets.IntSlider(0, 0, len(wrong) - 1, description=f"mistake (of {len(wrong)})",
                                                       style={"description_width": "initial"}))
    """
)

nb.md(
    r"""
    ## Summary

    - Fine-tuning puts a fresh two-layer head on the backbone and trains every layer with labels; the paper
      trains 460 epochs of 16×112×112 clips at skip 4 and tests 10 clips × 10 crops per video.
    - *Video-level* accuracy averages the class probabilities over all views of a test video (the paper's
      number); *clip-level* accuracy scores every view alone and is lower.
    - The fair comparison is the same run from random initialisation, with the same budget, data order and
      head; the gap is what pretraining bought. Read it against the seed-to-seed spread (`docs/benchmarks.md`,
      "course seeds"): one seed's gap is one draw.
    - A confusion matrix shows *which* motions are confused; on the synthetic dataset, the two classes that
      differ only in the order of their phases are the hard pair.

    ## Check your understanding

    1. Why is video-level accuracy usually higher than clip-level accuracy? When could it be lower?

    <details><summary>Answer</summary>

    Averaging the class probabilities of many clips and crops is an ensemble: the mistakes of single views
    partly cancel, so a video is classified right when its views lean the right way on the whole, even if some
    are wrong. It can be lower when a few confidently wrong views outweigh many weakly right ones (probabilities
    are averaged, not votes counted), or when the views of the hard videos are wrong together.

    </details>

    2. Why must the random-init baseline use the same architecture, budget and seed as the pretrained run?

    <details><summary>Answer</summary>

    The gap between the two runs should measure the initialisation and nothing else. A larger network, more
    steps, another data order or another head initialisation each change the accuracy on their own, and would be
    counted as "what pretraining bought". Even then, one seed's gap is one draw: compare it with the seed-to-seed
    spread.

    </details>

    3. The paper uses dropout 0.9 in the head; what would it do to a head trained for 25 short epochs?

    <details><summary>Answer</summary>

    Dropout 0.9 zeroes 90 % of the head's hidden units at every step: a strong regulariser against overfitting,
    meant for 460-epoch runs. A tiny network trained for 25 short epochs underfits (its training accuracy stays
    close to its test accuracy), so dropout would only slow its learning further and lower the accuracy; the
    course's head uses none.

    </details>

    4. Why can a single clip from the middle of a `SlideThenHop` video not always be told from `HopThenSlide`?

    <details><summary>Answer</summary>

    Both classes contain the same two motions; only their order differs. A clip that falls inside one phase
    shows a motion that occurs in both classes. Only a clip that contains the switch, and so shows which motion
    comes first, carries the class; the switch falls anywhere between 35 % and 65 % of the video (notebook 00),
    not at a fixed frame.

    </details>

    5. Fig. 8 of the paper: STCLR's initialisation needs *more* weight decay than TCLR's to reach the same
       accuracy on UCF-101. What does that say about how quickly it fits the training set?

    <details><summary>Answer</summary>

    That it fits, and overfits, the training set more readily: from STCLR's weights the fine-tuned network
    needs stronger regularisation to generalise as well. The paper concludes that "the STCLR initialization
    slightly makes the model overfit the dataset" (Sec. 4.3.2), which explains its lower UCF-101 accuracy at the
    default weight decay.

    </details>

    ## Exercises

    **1.** Freeze the backbone (`freeze_backbone=True`) and fine-tune only the head. Which initialisation
    suffers more, and why?

    <details><summary>Solution</summary>

    ```python
    for name, cfg in cfgs.items():
        f = preset(preset_name, "finetune", **{**common, "arch": arch_used, "checkpoint": cfg.checkpoint,
                                               "freeze_backbone": True, "run_name": f"frozen-{name}"})
        print(name, json.loads((run_finetune(f) / "metrics.json").read_text())["video_accuracy"])
    ```
    With a frozen backbone the head can only use the features it is given, so this is close to a linear probe:
    the random backbone's features are fixed random filters, and any advantage of pretraining shows more clearly
    than under full fine-tuning (which can repair a poor start).
    </details>

    **2.** Use the paper's 10 crops at test time (`test_crops=10`; the crop must fit the resized frame). How do
    video- and clip-level accuracy change, and what does the test cost?

    <details><summary>Solution</summary>

    Rerun with `-p test_crops 10`. Each test video now costs `test_clips × 10` forward passes instead of
    `test_clips`, so the test takes about ten times longer; video-level accuracy usually rises a little (more views
    to average), clip-level accuracy hardly moves (it is still single views).
    </details>

    **3.** Compute the per-class accuracy from the confusion matrix and check it against `per_class_accuracy`.

    <details><summary>Solution</summary>

    ```python
    m = torch.tensor(results["pretrained"]["confusion_matrix"]).float()
    print((100 * m.diag() / m.sum(1)).tolist())
    print(list(results["pretrained"]["per_class_accuracy"].values()))
    ```
    </details>

    ## References

    - STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
      Representation*, Neurocomputing): Sec. 4.2.1 and Table 2 (the SSL pretext fine-tuned),
      Sec. 4.2.2 and Table 5 (the fine-tuning protocol; Simplified TCLR), Sec. 4.3.2, Table 8 and Fig. 8
      (STCLR; regularisation), Sec. 4.3.3 and Table 9 (Diving-48).
    - TCLR (Dave et al., CVIU 2022): the fine-tuning protocol STCLR follows; Xu et al. (VCOP, CVPR 2019):
      the centre-crop, 10-clip test of Fig. 5–8.
    - The kit: `stclr/finetune.py` (the same loop shape as pretraining's, `stclr/engine.py`), `stclr/data/clips.py`
      (training and test clips), `stclr/config.py` (`FinetuneConfig`), notebook 06 (the checkpoint), 08 (retrieval);
      the fine-tuning settings of each experiment: [docs/method.md](../docs/method.md#5-settings-of-the-experiments).
    - Terms: [fine-tuning](../docs/glossary.md#fine-tuning), [linear probe](../docs/glossary.md#linear-probe),
      [OneCycle schedule](../docs/glossary.md#onecycle-schedule), [cosine schedule](../docs/glossary.md#cosine-schedule),
      [ReduceLROnPlateau](../docs/glossary.md#reducelronplateau), [chance level](../docs/glossary.md#chance-level).
    """
)
