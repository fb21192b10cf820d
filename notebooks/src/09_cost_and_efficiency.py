"""Source of notebooks/09_cost_and_efficiency.ipynb (build with ``python notebooks/src/build.py``)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("09_cost_and_efficiency")

nb.md(r"""
# 09 · What STCLR costs: FLOPs and video reads (Sec. 4.2.4)

How expensive is each method? The paper answers twice (Sec. 4.2.4): with a **FLOP count** per batch
(Table 7: the network's cost per clip, $X$, times the clips per batch, plus the losses) and with **measured
epoch times** on UCF-101 (Table 6), which it explains by the number of **videos read per epoch**. In this
notebook we reproduce both tables with `stclr.cost`, count $X$ ourselves with PyTorch's FLOP counter, and
measure our own loader, whose batch plan reads every video *once* per epoch instead of the paper's
$N + (1 - C_1)N + K N C_1$.

**What you will learn**
- to compute the loss FLOPs of Table 7 from the paper's formulas, and why the losses do not matter;
- what $X$ is, and how to measure it for any backbone (`torch.utils.flop_counter`);
- why Table 6's epoch times grow with $C_1$: they follow the number of videos read;
- how planning each batch centrally removes that cost, checked with the loader's counters.

> **Compute** · CPU with the defaults: {{course.09_s}} s in `make course` on 2 cores ({{course.dataset_s}} s more the first
> time, to generate the synthetic dataset) · GPU: not needed · disk: the synthetic dataset (a few MB) and a small `metrics.json`.
> Setting `count_r3d18 = True` adds a few seconds (the count runs on PyTorch's `meta` device: no real compute).
""")

nb.code("""
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from stclr import cost
from stclr.data.loader import LoaderStats, PretrainDataset, make_pretrain_loader
from stclr.data.splits import load_split
from stclr.data.synthetic import ensure_synthetic_dataset
from stclr.models import build_backbone
from stclr.plan import PlanConfig
from stclr.runinfo import resolve_device, seed_everything
from stclr.viz import losses as V

%matplotlib inline
print("torch", torch.__version__)
""")

nb.md("""
## Parameters

The notebook's only parameter cell; derived values are computed in the cell after it.
""")

nb.params("""
data_root: str = "../data/synthetic"  # the synthetic dataset (generated here if missing) for the loader counters
out_dir: str = "../runs/notebooks/09_cost_and_efficiency"  # where metrics.json is written
device: str = "auto"  # auto | cpu | cuda | mps (FLOPs are counted on the meta device whatever this says)
show_progress: bool = True  # progress bars while generating the dataset and reading an epoch
interactive: bool = True  # show the ipywidgets controls
seed: int = 0  # seed of the loader's plan
count_r3d18: bool = False  # also count R3D-18 at 16x112x112 (the paper's X); builds the 33M-parameter net
arch: str = "r3d_tiny"  # the course's backbone, counted at the course's clip size
clip_len: int = 8  # frames per clip at the course size
size: int = 32  # clip side in pixels at the course size
c1: float = 0.6  # SSL: probability that a tuple's three clips come from different videos (Sec. 3.3)
loader_c1: list[float] = [0.0, 0.6, 1.0]  # C1 values to measure, one loader epoch each (a few seconds)
loader_videos: int = 0  # training videos in the measured epoch, evenly spread over the split (0: all of them)
loader_batch: int = 16  # videos per batch in the loader measurement
loader_size: int = 32  # clip side in the loader measurement (the counters do not depend on it)
""")

nb.code("""
seed_everything(seed)
dev = resolve_device(device)
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
X = cost.X_PAPER_GFLOPS
print(f"device: {dev}   paper's X = {X} GFLOPs per clip")
""")

nb.md(r"""
## 1 · The loss FLOPs (Table 7)

The paper counts one FLOP per arithmetic operation (add, multiply, divide, log, exp) and gives, for one batch
of $B_s$ videos, $d$-dimensional features and $n$ local clips:

| loss | FLOPs per batch |
|---|---|
| instance contrastive (IC, Eq. 2) | $8B_s^2 d + 16B_s^2 - 6B_s$ |
| local–local (LL, Eq. 3) | $B_s\,(8n^2 d + 16n^2 - 6n)$ |
| TCLR global–local (GL) | $4248\,B_s$ |
| same speed localization (SSL) | $17\,B_s$ |

The $B_s^2$ term of IC is the $2B_s \times 2B_s$ similarity matrix of notebook 03 ($d$ multiply-adds per entry);
LL has one $n \times 2n$ block per video (notebook 04). TCLR runs at $B_s = 40$, $n = 4$; Simplified TCLR and
STCLR at $B_s = 38$, $n = 5$; $d = 128$. `stclr.cost.table7()` evaluates the formulas:
""")

nb.code("""
rows = cost.table7()
for r in rows:
    print(f"{r['method']:16s} Bs={r['bs']} n={r['n']}  IC {r['ic_flops']:>9,}  GL {r['gl_flops'] or 0:>7,}  "
          f"LL {r['ll_flops']:>7,}  SSL {r['ssl_flops'] or 0:>3}  total {r['loss_flops']:>9,} FLOPs")
""", check_output=True)

nb.md(r"""
Side by side with the table as printed in the paper (MegaFLOPs; the paper **truncates** to three decimals —
rounding would print 1.664 and 0.170 — and its "Total" is the exact sum, truncated, not the sum of the
printed cells; see the `stclr.cost` docstring):
""")

nb.code("""
PAPER_TABLE7 = {  # Table 7 as printed: input clips (xX), IC, GL, LL, SSL, total loss MFLOPs
    "TCLR": (400, 1.663, 0.169, 0.664, None, 2.498),
    "Simplified TCLR": (380, 1.501, None, 0.986, None, 2.488),
    "STCLR": (494, 1.501, None, 0.986, 0.0006, 2.489),
}
ours = {r["method"]: (r["input_clips"], r["ic"], r["gl"], r["ll"], r["ssl"], r["total"]) for r in rows}
fmt = lambda vals: f"{vals[0]}X".rjust(6) + "".join(("-" if v is None else f"{v:g}").rjust(8) for v in vals[1:])
print(f"{'method':16s} {'':6s}" + "input".rjust(6) + "".join(h.rjust(8) for h in ("IC", "GL", "LL", "SSL", "total")))
for method in ours:
    print(f"{method:16s} {'ours':6s}{fmt(ours[method])}")
    print(f"{'':16s} {'paper':6s}{fmt(PAPER_TABLE7[method])}")
print("every cell matches:", ours == PAPER_TABLE7)
""", check_output=True)

nb.md(r"""
The "Input" column is the number of clips the network encodes per batch: $B_s \times$ clips per video —
TCLR 40 × 10 (4 local + 1 global, two views each), Simplified TCLR 38 × 10 (5 sparse clips, two views),
STCLR 38 × 13 (plus the 3-clip SSL tuple). Each costs $X$ = 258.84 GFLOPs (forward, backward and the
[optimiser step](../docs/glossary.md#optimiser-step-and-epoch) of R3D-18 on a 16 × 112 × 112 clip). Put the two parts of a batch's cost on one axis:
""")

nb.code("""
fig = V.cost_bars(rows, X, title="Table 7: FLOPs of one batch")
plt.show()
gflops = {r["method"]: cost.batch_gflops(r, X) for r in rows}
for m in ("Simplified TCLR", "STCLR"):
    diff = gflops[m] - gflops["TCLR"]
    print(f"{m:16s} vs TCLR: {diff:+10.1f} GFLOPs per batch ({diff / X:+.0f}X)")
""")

nb.md(r"""
**What to notice:** on the left the losses are invisible — about 2.5 MFLOPs against roughly 100,000 GFLOPs for
the clips, a ratio of $4 \cdot 10^{7}$. On the right, alone, the losses are nearly equal for the three methods:
TCLR's larger batch costs more IC FLOPs ($B_s^2$), STCLR's five clips more LL FLOPs ($n^2$), and SSL costs
nothing. **A method's compute is its number of encoded clips.** That is why Simplified TCLR, with the same 10
clips per video, costs what TCLR costs per video: the paper's "20X less" (5176.8 GFLOPs saved per batch) is
its smaller batch, 38 videos instead of 40. STCLR's "94X more" than TCLR is its 3 extra clips per video (an SSL
tuple), 30% more than Simplified TCLR.

Drag a batch size to see the quadratic IC term grow — and still vanish next to the clips (the sliders start at
Table 7's batch sizes, so the first figure is Table 7's):
""")

nb.widget("""
if interactive:
    import ipywidgets as widgets

    def show_cost(bs_tclr=40, bs=38):  # the defaults are Table 7's: TCLR runs 40 videos a batch, the others 38
        spec = [("TCLR", bs_tclr, 4, 10, ("ic", "gl", "ll")), ("Simplified TCLR", bs, 5, 10, ("ic", "ll")),
                ("STCLR", bs, 5, 13, ("ic", "ll", "ssl"))]
        f = {"ic": lambda b, n: cost.ic_flops(b), "gl": lambda b, n: cost.gl_flops(b),
             "ll": lambda b, n: cost.ll_flops(b, n), "ssl": lambda b, n: cost.ssl_flops(b)}
        rs = [{"method": m, "input_clips": b * c, **{f"{k}_flops": f[k](b, n) if k in ks else None for k in f},
               "loss_flops": sum(f[k](b, n) for k in ks)} for m, b, n, c, ks in spec]
        V.cost_bars(rs, X, title=f"one batch: TCLR {bs_tclr} videos, Simplified TCLR and STCLR {bs}")
        plt.show()

    style = {"description_width": "initial"}
    widgets.interact(show_cost, bs_tclr=widgets.IntSlider(value=40, min=4, max=512, step=2, style=style,
                                                          description="TCLR batch size (videos)"),
                     bs=widgets.IntSlider(value=38, min=4, max=512, step=2, style=style,
                                          description="Simplified TCLR / STCLR batch size"))
""")

nb.md(r"""
## 2 · Measuring $X$

$X$ is what one clip costs the network. `stclr.cost.clip_flops` counts it with
`torch.utils.flop_counter.FlopCounterMode`: it runs the forward and backward pass on PyTorch's `meta` device
(shapes only, no arithmetic), so even R3D-18 is counted in about a second. It counts convolutions and matrix
products (2 FLOPs per multiply-add) — not the optimiser step, BatchNorm or ReLU. First the course's backbone
at the course's clip size:
""")

nb.code("""
tiny = build_backbone(arch)
x_tiny = cost.clip_flops(tiny, (3, clip_len, size, size)) / 1e9
n_params = sum(p.numel() for p in tiny.parameters())
print(f"{arch} at {clip_len}x{size}x{size}: {x_tiny:.3f} GFLOPs per clip (forward + backward), {n_params:,} parameters")
""", check_output=True)

nb.code("""
R3D18_DOCUMENTED = 241.35  # stclr.cost docstring / docs/method.md: r3d_18 forward + backward at 16x112x112
if count_r3d18:
    x_r3d18 = cost.clip_flops(build_backbone("r3d_18"), (3, 16, 112, 112)) / 1e9
    print(f"r3d_18 at 16x112x112, counted now: {x_r3d18:.2f} GFLOPs")
else:
    x_r3d18 = R3D18_DOCUMENTED
    print(f"r3d_18 at 16x112x112: {x_r3d18:.2f} GFLOPs (the package's documented count; set count_r3d18 = True to count it)")
print(f"paper's X / counted = {X / x_r3d18:.3f};  R3D-18 clip / course clip = {x_r3d18 / x_tiny:.0f}x")
""")

nb.md(r"""
**What to notice:** the counter gives 241.35 GFLOPs for R3D-18, 7% below the paper's $X$ = 258.84; the paper's
$X$ includes the optimiser step and was "estimated using PyTorch profiler tools", which also count
element-wise operations. The course's tiny R3D on 8 × 32 × 32 clips is cheaper per clip than the paper's setting
by the ratio printed on the last line above — that is what lets the course run on a laptop.

## 3 · Epoch time follows the videos read (Table 6)

Table 6 reports one epoch on UCF-101 split 1 on an NVIDIA A40 (9538 videos by the paper's count; the official
split-1 train list has 9537, [docs/method.md](../docs/method.md#5-settings-of-the-experiments)). The paper explains the growth
with $C_1$ by reading: each video is read for its local clips, and an SSL tuple reads either the same video
again (probability $1 - C_1$) or $K = 3$ other videos (probability $C_1$):

$$\text{videos read per epoch} = N + (1 - C_1)\,N + K\,N\,C_1 .$$

That is $2N$ at $C_1 = 0$, $3.2N$ at $C_1 = 0.6$ and $4N$ at $C_1 = 1$. Divide Table 6's epoch times by
Simplified TCLR's and compare with the reads per video:
""")

nb.code("""
base = next(r["epoch_min"] for r in cost.TABLE6 if r["method"] == "Simplified TCLR")
print(f"{'method':16s} {'C1':>4s} {'epoch min':>9s} {'GPU GB':>7s} {'time / Simpl.':>13s} {'reads / N':>9s}")
table6 = []
for r in cost.TABLE6:
    reads = 1.0 if r["c1"] is None else cost.videos_read_per_epoch(1, k=3, c1=r["c1"])
    table6.append({**r, "time_ratio": round(r["epoch_min"] / base, 3), "reads_per_video": round(reads, 3)})
    print(f"{r['method']:16s} {'-' if r['c1'] is None else r['c1']:>4} {r['epoch_min']:9.2f} {r['gpu_gb']:7.2f} "
          f"{r['epoch_min'] / base:13.2f} {reads:9.2f}")
""", check_output=True)

nb.md(r"""
**What to notice:** the last two columns almost agree — 1.99 vs 2.0, 3.11 vs 3.2, 3.92 vs 4.0. The epoch time
of the paper's STCLR is almost exactly proportional to the number of videos it reads, *not* to its FLOPs
(STCLR encodes only 1.3 times Simplified TCLR's clips, yet takes 3.1 times as long at $C_1 = 0.6$). The
paper's training was bound by reading and decoding videos, and every extra read of a video decodes it again.

## 4 · Reading every video once: the batch plan

The kit plans each batch centrally (`stclr.plan`; [docs/method.md, "Cost and
efficiency"](../docs/method.md#6-cost-and-efficiency)): the SSL tuples' cross-video clips are drawn from
the *other videos of the same batch*, and every video of the batch is opened and decoded once, over the sorted
union of all the frames any clip needs from it. So an epoch reads $N$ videos whatever $C_1$ is. Let us measure
it: one epoch of the real pretraining loader (`PretrainDataset` + `make_pretrain_loader`, method `stclr`) over
the synthetic dataset's training videos (`loader_videos` limits it to a slice), at three values of $C_1$,
counting what the decoder did. We generate the dataset first if
`data_root` has none (deterministic, {{course.dataset_s}} s once on 2 cores).
""")

nb.code("""
root = Path(data_root)
ensure_synthetic_dataset(root, show_progress=show_progress)  # generated here when missing
split = load_split("synthetic", root, 1, "train")
step = max(1, len(split) // loader_videos) if loader_videos else 1
videos = split.items[::step][: loader_videos or None]  # the videos of the measured epoch
print(f"{len(split)} training videos, {len(split.classes)} classes; measuring an epoch over {len(videos)} of them")
""")

nb.code("""
def one_epoch(c1_value):
    plan = PlanConfig(length=clip_len, skips="medium", c1=c1_value, ssl_speeds=(1, 2, 4))
    ds = PretrainDataset(videos, split.root, method="stclr", plan=plan, size=loader_size, augment="none",
                         out_dtype=None, seed=seed, decode_size=(loader_size, loader_size))
    loader, _ = make_pretrain_loader(ds, loader_batch, num_workers=0, seed=seed, drop_last=False)
    stats, t0 = LoaderStats(), time.perf_counter()
    for batch in stats.track(loader):
        pass
    return stats.as_dict(), time.perf_counter() - t0

measured = {}
for c in loader_c1:
    measured[c], seconds = one_epoch(c)
    print(f"C1 = {c}: one epoch in {seconds:.1f} s")
""")

nb.code("""
for c, s in measured.items():
    once = s["videos"] == len(videos) and s["videos_opened"] == s["decode_calls"] == len(videos)
    cross = s["plan"]["ssl_cross_video"] / (s["plan"]["ssl_cross_video"] + s["plan"]["ssl_same_video"])
    print(f"C1 = {c}: every video opened and decoded exactly once: {once};  cross-video SSL tuples: {cross:.1f}")
    assert once, s
""", check_output=True)

nb.md(r"""
At every $C_1$, every video was opened and decoded exactly once in the epoch, while the share of cross-video SSL
tuples followed $C_1$. The paper's loader would have opened $N + (1 - C_1)N + 3NC_1$ videos. Both, against $C_1$, with Table 6's
time ratios and our measurement on top:
""")

nb.code("""
grid = np.linspace(0, 1, 51)
fig = V.reads_vs_c1(
    grid,
    {"paper's loader: N + (1-C1)N + K N C1": [cost.videos_read_per_epoch(1, 3, c, "paper") for c in grid],
     "batch plan (stclr.plan): N": [cost.videos_read_per_epoch(1, 3, c, "batch") for c in grid]},
    points={"Table 6: STCLR epoch time / Simplified TCLR's": ([0.0, 0.6, 1.0], [r["time_ratio"] for r in table6[2:]]),
            "measured here: videos opened / N": (list(measured), [s["videos_opened"] / len(videos) for s in measured.values()])},
    mark=c1, title="Videos read per epoch, in units of the dataset size N")
plt.show()
""")

nb.md(r"""
**What to notice:** Table 6's time ratios (the three points at $C_1$ = 0, 0.6, 1) sit on the paper's read-count
line, and our loader's measured count sits on the flat line at 1. With reading as the bottleneck, the paper's formula
predicts an STCLR epoch 3.2 times Simplified TCLR's at $C_1 = 0.6$; with one read per video, the remaining
cost of STCLR is its 13 vs 10 clips per video to decode, augment and encode, a ratio of 1.3. The kit's
benchmark of the whole loader (`docs/benchmarks.md`, "Pretraining loader", `bench/loader.py`) finds STCLR's
epoch near that ratio at every $C_1$, against the paper's 2.0–3.9 (Table 6, divided by Simplified TCLR's
epoch).

One caveat: cross-video tuples now come from the same batch, so a video's SSL partners are its batch mates,
a different (still random, reshuffled every epoch) sampling from the paper's any-video draw.
""")

nb.code("""
metrics = {
    "table7": {r["method"]: {k: r[k] for k in ("input_clips", "ic", "gl", "ll", "ssl", "total", "loss_flops")} for r in rows},
    "table7_matches_paper": ours == PAPER_TABLE7,
    "batch_gflops": {k: round(v, 3) for k, v in gflops.items()},
    "clip_gflops": {f"{arch}_{clip_len}x{size}x{size}": round(x_tiny, 4), "r3d_18_16x112x112": round(x_r3d18, 3),
                    "r3d_18_counted_here": count_r3d18, "paper_X": X},
    "table6": table6,
    "loader": {str(c): {k: s[k] for k in ("batches", "videos", "videos_opened", "decode_calls", "frames_decoded",
                                          "frames_planned")} | {"ssl_cross_video": s["plan"]["ssl_cross_video"]}
               for c, s in measured.items()},
    "dataset_videos": len(split), "epoch_videos": len(videos),
}
(out / "metrics.json").write_text(json.dumps(metrics, indent=1))
print(sorted(metrics))
""", check_output=True)

nb.md(r"""
## Summary

- Table 7 follows from four formulas (`stclr.cost.table7` reproduces every printed cell, with the paper's
  truncation). The losses cost ~2.5 MFLOPs per batch; the clips cost ~$10^5$ GFLOPs: compute is the number of
  clips encoded, $B_s \times$ clips per video $\times X$.
- $X$ is measurable for any backbone with `torch.utils.flop_counter` (`stclr.cost.clip_flops`): 241 GFLOPs
  for R3D-18's forward and backward at 16 × 112 × 112; the course's tiny R3D on 8 × 32 × 32 clips is cheaper by
  the ratio section 2 prints.
- Table 6's epoch times follow the number of videos read, $N + (1-C_1)N + KNC_1$, not the FLOPs.
- Planning each batch centrally reads every video once per epoch at any $C_1$ — measured here with the loader's
  counters.

## Check your understanding

1. Which term of the IC FLOP formula comes from the similarity matrix, and why is it quadratic in $B_s$?

<details><summary>Answer</summary>

$8B_s^2 d$: the $2B_s \times 2B_s$ similarity matrix has $4B_s^2$ entries, each a $d$-dimensional dot product
($d$ multiplications and $d$ additions, $2d$ FLOPs). It is quadratic because every clip of the batch is
compared with every other: twice the videos, four times the comparisons.

</details>

2. Why does Simplified TCLR cost the same FLOPs *per video* as TCLR, though it has no global–local loss?

<details><summary>Answer</summary>

Compute is the number of clips encoded times $X$, and both encode 10 clips per video: TCLR 4 local + 1 global,
Simplified TCLR 5 sparse clips, each in two views. The global–local loss itself costs $4248$ FLOPs per video,
nothing next to one clip's $X$ of about $2.6 \cdot 10^{11}$.

</details>

3. At $C_1 = 1$, how many videos does the paper's loader read per epoch? Ours?

<details><summary>Answer</summary>

$N + (1 - 1)N + 3N = 4N$ for the paper's loader; $N$ for the batch plan, which reads every video once
whatever $C_1$ is.

</details>

4. Table 6's STCLR epoch takes 3.1 times Simplified TCLR's at $C_1 = 0.6$, but it encodes only 1.3 times as
   many clips. What does that tell you about where the time went?

<details><summary>Answer</summary>

Not into the network: the time follows the number of videos read ($3.2N$ at $C_1 = 0.6$), not the clips
encoded. The paper's training was bound by reading and decoding video, so every extra read of a video cost a
full decode.

</details>

5. What could go wrong if the SSL tuples of a batch could only use videos from that batch, and the batch were
   tiny (say 2 videos)? (Hint: `stclr.sampling.draw_ssl_tuple`'s notes.)

<details><summary>Answer</summary>

A cross-video tuple needs three different videos. With two per batch it is impossible: `draw_ssl_tuple`
falls back to a same-video tuple and records `"cross_video_impossible"`, so the effective $C_1$ drops to 0 and
the pretext becomes the easy, single-video one. With small batches of three or more, a video's partners are
always among the same few batch mates of that step.

</details>

## Exercises

**Exercise 1.** With `stclr.cost`, find the batch size at which TCLR's IC loss alone would cost as much as
*one* clip of R3D-18 ($X$ = 258.84 GFLOPs).

<details><summary>Solution</summary>

```python
bs = 40
while cost.ic_flops(bs) < X * 1e9:
    bs *= 2
lo, hi = bs // 2, bs
while hi - lo > 1:
    mid = (lo + hi) // 2
    lo, hi = (mid, hi) if cost.ic_flops(mid) < X * 1e9 else (lo, mid)
print(hi)  # about 16,000 videos per batch
```
$8B_s^2 d \approx 1024\,B_s^2 = 2.6 \cdot 10^{11}$ gives $B_s \approx 16{,}000$: the contrastive losses never
matter for compute at realistic batch sizes (memory is another story).
</details>

**Exercise 2.** Compare `frames_decoded` and `frames_planned` in `measured` across the three $C_1$ values,
then set `loader_batch = 2` and rerun the loader cells. What happens to the cross-video tuples, and why?

<details><summary>Solution</summary>

`frames_planned` (the sizes of the unions of frame indices) barely moves with $C_1$: a cross-video tuple takes
its clips from batch mates that are decoded anyway, so it only widens their unions a little. (`frames_decoded`
is larger than `frames_planned`: seeking starts at a [keyframe](../docs/glossary.md#keyframe-i-frame), and the frames before the first wanted one are
decoded too.) With 2 videos per batch a tuple cannot take clips from 3 different videos:
`draw_ssl_tuple` falls back to a same-video tuple and notes `"cross_video_impossible"` (see
`measured[0.6]["plan"]`), so the effective $C_1$ drops to 0. The batch plan needs batches of at least 3 videos
to honour $C_1$ — the paper's 38 is plenty.
</details>

**Exercise 3.** Count $X$ for `r3d_tiny` at the paper's clip size (16 × 112 × 112) and for `r3d_18` at the
course's (8 × 32 × 32). Which factor — network width or clip size — buys more of the course's speed-up?

<details><summary>Solution</summary>

```python
print(cost.clip_flops(build_backbone("r3d_tiny"), (3, 16, 112, 112)) / 1e9)
print(cost.clip_flops(build_backbone("r3d_18"), (3, 8, 32, 32)) / 1e9)
```
Convolution FLOPs scale with the number of input positions ($T \cdot H \cdot W$: 16·112·112 / 8·32·32 = 24.5)
and with the square of the width; the tiny net's 8/16/32/64 channels are an eighth of 64/128/256/512 (64 times
fewer FLOPs per layer) and it has one residual block per stage instead of two: about 99 times fewer FLOPs at the
same clip size (241.3 vs 2.44 GFLOPs at 16 × 112 × 112; 9.85 vs 0.10 at 8 × 32 × 32). Width and depth buy more
than the clip size's 24.5×; together they give the ratio section 2 prints (about 2,400×).
</details>

## References

- STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
  Representation*, Neurocomputing): **Sec. 4.2.4 (computational cost and efficiency; Table 6, Table 7)**,
  Sec. 3.3 (the SSL tuple, $C_1$, $K$), Sec. 4.2.2 (batch size 38).
- TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal contrastive learning for video
  representation*, CVIU 2022 (batch 40, 4 local + 1 global clip).
- Kit: `stclr/cost.py`, `stclr/plan.py` (the batch planner), `stclr/data/loader.py` (counters),
  `docs/benchmarks.md` (measured loader epochs), [docs/method.md](../docs/method.md) sections 6 (the cost
  model and the batch plan) and 8 (facts about the decoders); terms: [docs/glossary.md](../docs/glossary.md).
- PyTorch: `torch.utils.flop_counter.FlopCounterMode`.
""")
