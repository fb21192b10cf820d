"""Source of notebooks/04_sparse_local_local_loss.ipynb (build with ``python notebooks/src/build.py``)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("04_sparse_local_local_loss")

nb.md(r"""
# 04 · The sparse local–local loss (Eq. 3)

The instance contrastive loss (notebook 03) pulls all clips of a video together. The **sparse local–local
loss** $L_{SLL}$ does the opposite *inside* a video: the $N = 5$ clips sampled at different times and speeds
must have *different* features, and only a clip and its own augmented copy count as a match. This forces the
features to change along the video — to carry temporal information. In this notebook we compute Eq. 3 step by
step on the $N \times 2N$ similarity block of each video, check `stclr.losses.sparse_local_local` against it,
put it side by side with TCLR's two temporal losses (local–local and global–local), and see why STCLR's
sparse clips make the global–local loss unnecessary (Sec. 3.2).

**What you will learn**
- where STCLR's sparse clips lie in a video, compared with TCLR's dense clips;
- to compute Eq. 3 from the $N \times 2N$ block of one video: positives, the $2N - 2$ negatives, the sum over
  clips, the mean over videos;
- how TCLR's local–local and global–local losses are built, and how the package reproduces them;
- why the global–local loss has no place with sparse clips.

> **Compute** · CPU with the defaults: {{course.04_s}} s in `make course` on 2 cores · GPU: not needed (small tensors) ·
> disk: a `metrics.json` of a few hundred bytes in `out_dir`.
""")

nb.code("""
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from stclr import losses as L
from stclr.runinfo import resolve_device, seed_everything
from stclr.sampling import SKIP_PRESETS, sparse_local_clips, tclr_clips
from stclr.viz import losses as V

%matplotlib inline
print("torch", torch.__version__)
""")

nb.md("""
## Parameters

The notebook's only parameter cell; derived values are computed in the cell after it.
""")

nb.params("""
data_root: str = "../data/synthetic"  # dataset folder (not read here: this notebook works on small tensors)
out_dir: str = "../runs/notebooks/04_sparse_local_local_loss"  # where metrics.json is written
device: str = "auto"  # auto | cpu | cuda | mps: where the package's losses are checked
show_progress: bool = True  # progress bars (none needed in this notebook)
interactive: bool = True  # show the ipywidgets controls
seed: int = 0  # seed of the toy features and of the clip sampling
temperature: float = 0.3  # tau of the similarity h(u, v): exp(cos / tau); STCLR uses 0.3, TCLR 0.1
skips: str = "paper"  # skip-rate preset of the N sparse clips: paper | simplified | low | medium | high
clip_len: int = 16  # frames per clip (L)
video_frames: int = 300  # length of the example video in the clip timelines (UCF-101 videos: about 180 on average)
batch_videos: int = 2  # B: videos in the toy batch
feature_dim: int = 8  # d: length of each toy feature vector (128 in the paper)
clip_spread: float = 0.8  # how different the clips of one video are (0: identical features)
view_noise: float = 0.3  # how far a clip's second augmented view lies from its first
""")

nb.code("""
seed_everything(seed)
dev = resolve_device(device)
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
tau, B, d = temperature, batch_videos, feature_dim
N = len(SKIP_PRESETS[skips])  # one sparse clip per skip rate: N = 5
torch.set_default_dtype(torch.float64)  # the toy tensors: float64, so the printed digits are exact everywhere
check_dtype = torch.float32 if dev.type == "mps" else torch.float64  # MPS has no float64
print(f"device: {dev}   N = {N} clips at skips {SKIP_PRESETS[skips]}, B = {B}, d = {d}, tau = {tau}")
""")

nb.md(r"""
## 1 · Dense clips and sparse clips

TCLR (the method STCLR simplifies) cuts a 64-frame window into **4 adjacent local clips** of 16 frames and adds
a **global clip** at skip 4 that spans the same 64 frames. STCLR instead draws **$N = 5$ sparse local clips**,
one per skip rate (1, 4, 8, 16, 32 in the paper's preset), each at a random position where it fits
(`stclr.sampling.sparse_local_clips`; a clip that cannot fit at its skip gets the largest skip that fits,
marked in the plan).
""")

nb.code("""
rng = np.random.default_rng(seed)
sparse = sparse_local_clips(video_frames, rng, skips, clip_len)
dense = tclr_clips(video_frames, rng, clip_len)
for c in sparse:
    print(c)
""", check_output=True)

nb.code("""
fig = V.clip_timeline(
    {"TCLR: 4 dense local clips + 1 global clip": [*dense.local, dense.global_clip],
     f"STCLR: {N} sparse local clips ({skips} skips)": sparse},
    video_frames,
    clip_names={"TCLR: 4 dense local clips + 1 global clip": ["local 1", "local 2", "local 3", "local 4", "global (skip 4)"]},
    title="Which frames each method's clips take from one video (a tick = one frame)")
plt.show()
""")

nb.md(r"""
**What to notice:** TCLR's clips live in one 64-frame window; its global clip covers exactly the four local
clips, so global timestep $t$ (of 4) lines up with local clip $t$. STCLR's clips are spread over the whole
video, overlap freely, and cover very different temporal extents: the skip-1 clip sees 16 consecutive frames,
the sparsest one most of the video. How far apart are the clips' centres, on average, over many draws?
""")

nb.code("""
def mean_gap(draw, n=2000):
    r = np.random.default_rng(seed)
    gaps = []
    for _ in range(n):
        centres = np.array([c.indices(video_frames).mean() for c in draw(r)])
        gaps.append(np.abs(centres[:, None] - centres[None, :])[np.triu_indices(len(centres), 1)].mean())
    return float(np.mean(gaps))

gap_dense = mean_gap(lambda r: tclr_clips(video_frames, r, clip_len).local)
gap_sparse = mean_gap(lambda r: sparse_local_clips(video_frames, r, skips, clip_len))
print(f"mean distance between two clips' centres: dense {gap_dense:.1f} frames, sparse {gap_sparse:.1f} frames")
""", check_output=True)

nb.md(r"""
## 2 · Toy features: N clips, two views each

Each of the $B$ videos has $N$ clip features in view a, $G_{i,p}$, and $N$ in view b, $G'_{i,p}$ (the same
clip, augmented again). We fake them: a video vector shared by its clips (what $L_{IC}$ pushes for), plus a
per-clip part of size `clip_spread` (what makes the clips distinguishable in time), plus augmentation noise
between the two views.
""")

nb.code("""
gen = torch.Generator().manual_seed(seed)
video = torch.randn(B, 1, d, generator=gen)  # what all clips of a video share
a = video + clip_spread * torch.randn(B, N, d, generator=gen)  # G_{i,p}: view a of clip p
b = a + view_noise * torch.randn(B, N, d, generator=gen)  # G'_{i,p}: view b of the same clip
print("view a:", tuple(a.shape), "  view b:", tuple(b.shape), "  [B, N, d]")
""", check_output=True)

nb.md(r"""
## 3 · Eq. 3 on one video's $N \times 2N$ block

$$L_{SLL}^{i} = -\sum_{p=1}^{N} \log \frac{h(G_{i,p}, G'_{i,p})}{\sum_{q=1}^{N} \left[\mathbb{1}_{[q \neq p]}\, h(G_{i,p}, G_{i,q}) + h(G_{i,p}, G'_{i,q})\right]} \tag{3}$$

For anchor $G_{i,p}$ the **positive** is its own other view $G'_{i,p}$; the **negatives** are the other clips
of the *same video*, in both views: $2N - 2 = 8$ of them. Other videos do not appear at all. So each video
has its own small matrix: $N$ anchors (rows) against $2N$ candidates (columns: view a, then view b):
""")

nb.code("""
i = 0  # the first video
za, zb = F.normalize(a[i], dim=1), F.normalize(b[i], dim=1)
block = torch.cat([za @ za.T, za @ zb.T], dim=1)  # [N, 2N]: cos(G_ip, G_iq) | cos(G_ip, G'_iq)
rows = torch.arange(N)
positive = torch.zeros(N, 2 * N, dtype=torch.bool)
positive[rows, N + rows] = True  # G'_{i,p}
itself = torch.zeros(N, 2 * N, dtype=torch.bool)
itself[rows, rows] = True  # 1[q != p] removes G_{i,p} itself
print("block:", tuple(block.shape), " negatives per anchor:", (~positive & ~itself).sum(1).tolist())
""", check_output=True)

nb.code("""
labels_a = [f"G{i + 1},{p + 1}" for p in range(N)]
labels_b = [f"G'{i + 1},{p + 1}" for p in range(N)]
fig = V.similarity_matrix(block, positives=positive, excluded=itself, row_labels=labels_a,
                          col_labels=labels_a + labels_b, col_splits=[N], xlabel="candidate", ylabel="anchor",
                          title=f"Video {i + 1}: its N x 2N block (anchors = view a)")
plt.show()
""")

nb.md(r"""
**What to notice:** the positives are the diagonal of the right-hand half — each clip against its own
augmented copy — and they are the largest values of their rows. The other entries of a row are clips of the
*same* video at other times and speeds: the loss wants them *less* similar to the anchor than its own copy.
Because the clips share a video component, they are fairly similar to each other: this is the tension with
$L_{IC}$, which wants all clips of a video alike.

Now the arithmetic of Eq. 3 for this video — the same recipe as Eq. 2, on a smaller matrix, *summed* over
the $N$ anchors:
""")

nb.code("""
h = torch.exp(block / tau).masked_fill(itself, 0.0)
numerator = h[positive]  # h(G_ip, G'_ip), p = 1..N
denominator = h.sum(dim=1)  # 2N - 1 terms, the positive included
L_i = -torch.log(numerator / denominator).sum()  # Eq. 3: a SUM over the N anchors
print("per anchor:", [round(x, 4) for x in (-torch.log(numerator / denominator)).tolist()])
print(f"L_SLL for video {i + 1}: {L_i.item():.4f}")
""", check_output=True)

nb.md(r"""
$L_{SLL}$ for the batch is the mean of $L_{SLL}^i$ over the videos. A vectorised version over all videos
at once (this is all the package does, plus the numerically safe `logsumexp`):
""")

nb.code("""
def sll_steps(a, b, tau):
    za, zb = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    blocks = torch.cat([za @ za.transpose(1, 2), za @ zb.transpose(1, 2)], dim=2)  # [B, N, 2N]
    h = torch.exp(blocks / tau).masked_fill(itself, 0.0)
    per_video = -torch.log(h[:, positive] / h.sum(dim=2)).sum(dim=1)  # [B]
    return per_video.mean(), per_video

loss_steps, per_video = sll_steps(a, b, tau)
loss_pkg = L.sparse_local_local(a.to(dev, check_dtype), b.to(dev, check_dtype), temperature=tau).cpu().double()
torch.testing.assert_close(loss_pkg, loss_steps, rtol=1e-5, atol=1e-5)
print("per video:", [round(x, 4) for x in per_video.tolist()])
print(f"L_SLL step by step {loss_steps.item():.4f} | package {loss_pkg.item():.4f}")
""", check_output=True)

nb.md(r"""
Two reference points, as in notebook 03: if all $2N$ clip features of a video were identical, every anchor
would pay $\log(2N - 1)$, so $L_{SLL}^i = N \log(2N-1)$; and $L_{SLL}^i \to 0$ only when each clip is much
closer to its own copy than to any other clip of its video.
""")

nb.code("""
print(f"N log(2N - 1) = {N * math.log(2 * N - 1):.4f}  (clips of a video indistinguishable)")
print(f"our toy batch: {loss_steps.item():.4f}")
""", check_output=True)

nb.md(r"""
Drag `clip_spread` (how different a video's clips are) and $\tau$ to see the block and the loss respond
(run with `interactive = True`). With spread 0 the clips of a video are the same point, and only the small
augmentation noise separates a clip's copy from the other clips:
""")

nb.widget("""
if interactive:
    import ipywidgets as widgets

    def show_block(spread=clip_spread, tau_=tau):
        g = torch.Generator().manual_seed(seed)
        aa = torch.randn(1, 1, d, generator=g) + spread * torch.randn(1, N, d, generator=g)
        bb = aa + view_noise * torch.randn(1, N, d, generator=g)
        za, zb = F.normalize(aa[0], dim=1), F.normalize(bb[0], dim=1)
        blk = torch.cat([za @ za.T, za @ zb.T], dim=1)
        V.similarity_matrix(blk, positives=positive, excluded=itself, row_labels=labels_a,
                            col_labels=labels_a + labels_b, col_splits=[N],
                            title=f"L_SLL = {L.sparse_local_local(aa, bb, tau_).item():.3f}  (τ = {tau_:g})")
        plt.show()

    from stclr.widgets import STYLE, tau_slider

    widgets.interact(show_block, spread=widgets.FloatSlider(value=clip_spread, min=0.0, max=2.0, step=0.1,
                                                            description="clip spread", style=STYLE),
                     tau_=tau_slider(tau, lo=0.03, hi=2.0))  # log steps through 0.1 and 0.3
""")

nb.md(r"""
## 4 · TCLR's two temporal losses, side by side

TCLR (Dave et al., 2022) has two temporal losses on its dense clips:

- **local–local**: exactly Eq. 3 on its 4 adjacent clips (anchors, positives and negatives as above);
  `stclr.losses.sparse_local_local` computes it (the package docstring gives the scale of TCLR's code:
  the symmetric form $\times B / N$);
- **global–local**: TCLR's R3D-18 keeps 4 timesteps in its last layer for the global clip (the `r3d_18_tclr`
  backbone). Global timestep $t$ should match local clip $t$ — they show the same 16 frames — and not the other
  local clips. Per video this is a $4 \times 4$ matrix, positives on the diagonal, used in both directions:
  each global timestep picks its local clip among the 4 (rows), and each local clip picks its timestep
  (columns). No same-side pairs, no other videos.

We build toy dense features: local clip features, and global timestep features close to their local clip:
""")

nb.code("""
T = 4
local = video + clip_spread * torch.randn(B, T, d, generator=gen)  # 4 dense local clips (pooled)
local_b = local + view_noise * torch.randn(B, T, d, generator=gen)  # their second view
glob_t = local + 0.5 * torch.randn(B, T, d, generator=gen)  # global clip, timestep t ~ local clip t
gl = F.normalize(glob_t[i], dim=1) @ F.normalize(local[i], dim=1).T  # [T, T] for video i
s = gl / tau
l_rows = torch.logsumexp(s, dim=1) - s.diagonal()  # anchor: global timestep t
l_cols = torch.logsumexp(s, dim=0) - s.diagonal()  # anchor: local clip t
print(f"GL of video {i + 1}, step by step: {((l_rows + l_cols).sum() / 2).item():.4f}")
""", check_output=True)

nb.code("""
gl_steps = torch.stack([
    (lambda s: ((torch.logsumexp(s, 1) + torch.logsumexp(s, 0) - 2 * s.diagonal()).sum() / 2))(
        F.normalize(glob_t[v], dim=1) @ F.normalize(local[v], dim=1).T / tau) for v in range(B)]).mean()
gl_pkg = L.tclr_global_local(glob_t.to(dev, check_dtype), local.to(dev, check_dtype), temperature=tau).cpu().double()
torch.testing.assert_close(gl_pkg, gl_steps, rtol=1e-5, atol=1e-5)
ll_dense = L.sparse_local_local(local, local_b, temperature=tau)
print(f"TCLR global-local: step by step {gl_steps.item():.4f} | package {gl_pkg.item():.4f}")
print(f"TCLR local-local (Eq. 3 on 4 dense clips): {ll_dense.item():.4f}")
""", check_output=True)

nb.code("""
za, zb = F.normalize(local[i], dim=1), F.normalize(local_b[i], dim=1)
ll_block = torch.cat([za @ za.T, za @ zb.T], dim=1)  # [4, 8]
eye4, none4 = torch.eye(T, dtype=torch.bool), torch.zeros(T, T, dtype=torch.bool)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 4.0), layout="constrained", width_ratios=[2.1, 1])
V.similarity_matrix(ll_block, positives=torch.cat([none4, eye4], 1), excluded=torch.cat([eye4, none4], 1),
                    row_labels=[f"local {t + 1}" for t in range(T)], col_splits=[T], colorbar=False, ax=ax1,
                    col_labels=[f"l{t + 1}" for t in range(T)] + [f"l'{t + 1}" for t in range(T)],
                    xlabel="candidate: local clip (view a | view b)", ylabel="anchor (view a)",
                    title="local-local: 4 x 8 block (Eq. 3 on dense clips)")
V.similarity_matrix(gl, positives=eye4, row_labels=[f"global t{t + 1}" for t in range(T)], ax=ax2,
                    col_labels=[f"l{t + 1}" for t in range(T)], xlabel="local clip", ylabel="global clip timestep",
                    title="global-local: 4 x 4")
plt.show()
""")

nb.md(r"""
**What to notice:** both are per-video matrices with the positives on a diagonal. Local–local contrasts
clips of the same video with each other (same-side negatives, both views). Global–local contrasts a global
*timestep* with the local clips; it only makes sense because timestep $t$ of the global clip and local clip
$t$ show the same frames, which is true only for TCLR's adjacent dense clips.

## 5 · Why sparse clips need no global–local loss

The paper (Sec. 3.2): *"we do not use other temporal loss, such as the TCLR global–local loss, since our
local clips are sparse and cover non-adjacent temporal segments that could be hundreds of frames apart."*
Three reasons, all visible above:

1. **There is no global clip to align with.** The global–local loss needs a clip whose timesteps line up with
   the local clips. TCLR's global clip covers exactly its four adjacent clips. STCLR's five clips sit at random,
   overlapping positions, at five different speeds, over the whole video (with the defaults their centres are
   about 62 frames apart on average, against 27 for TCLR's); no 16-frame clip has timesteps that correspond to
   them.
2. **Its job is already done.** Global–local makes features of different moments differ while staying tied to
   their context. With sparse clips, the local–local negatives already are different moments — far apart, and
   at different speeds — so $L_{SLL}$ alone forces temporal distinctness, over a much longer span than TCLR's
   64-frame window.
3. **It costs a special backbone, not clips.** TCLR encodes 10 clips per video (4 local + 1 global, two views
   each) and needs the time-keeping `r3d_18_tclr` variant; Simplified TCLR also encodes 10 (5 sparse clips, two
   views each), with a plain R3D-18. Dropping global–local saves no encoder work per video (notebook 09 counts
   the FLOPs: Table 7's 400X against 380X is the batch size, 40 videos against 38); it removes one loss and the
   special backbone, and the paper's Simplified TCLR achieves "comparable or better performance" than TCLR with
   the two remaining losses (Sec. 4.2.2, Tables 3–5).
""")

nb.code("""
metrics = {
    "temperature": tau, "N": N, "B": B, "d": d, "skips": list(SKIP_PRESETS[skips]),
    "sll_loss_step_by_step": round(loss_steps.item(), 6), "sll_loss_package": round(loss_pkg.item(), 6),
    "sll_loss_uninformative": round(N * math.log(2 * N - 1), 6),
    "tclr_gl_step_by_step": round(gl_steps.item(), 6), "tclr_gl_package": round(gl_pkg.item(), 6),
    "tclr_ll_dense": round(ll_dense.item(), 6),
    "mean_clip_gap_frames": {"dense": round(gap_dense, 2), "sparse": round(gap_sparse, 2)},
}
(out / "metrics.json").write_text(json.dumps(metrics, indent=1))
print(sorted(metrics))
""", check_output=True)

nb.md(r"""
## Summary

- $L_{SLL}$ (Eq. 3) is computed per video on an $N \times 2N$ block: anchors are the $N$ clips in view a,
  candidates the $N$ clips in both views; the positive is the clip's own other view, the $2N - 2$ negatives
  are the video's other clips; the anchor itself is excluded. Sum over the $N$ anchors, mean over videos.
- `stclr.losses.sparse_local_local` matches the step-by-step computation, and `tclr_global_local` matches
  TCLR's global–local loss written out by hand.
- TCLR's local–local loss is Eq. 3 on 4 adjacent clips; its global–local loss ties global-clip timesteps to
  the local clips they cover.
- STCLR's clips are sparse — far apart, at different speeds, anywhere in the video — so nothing aligns with
  a global clip, and the local–local loss alone already contrasts distant moments: no global–local loss.

## Check your understanding

1. How many negatives does each anchor of Eq. 3 have with $N = 5$? How many terms in its denominator?

<details><summary>Answer</summary>

$2N - 2 = 8$ negatives (the video's 4 other clips in each of the two views) and $2N - 1 = 9$ terms in the
denominator, the positive included.

</details>

2. Why do clips of *other* videos never appear in Eq. 3? Which loss takes care of them?

<details><summary>Answer</summary>

Eq. 3 is about temporal distinctness *inside* one video: which moment, at which speed, a clip shows. Its
candidates are therefore only that video's own clips. Telling videos apart is the job of the instance
contrastive loss, Eq. 2, whose negatives are the other videos' clips.

</details>

3. $L_{IC}$ pulls clips of a video together; $L_{SLL}$ pushes them apart. Why is this not a contradiction?
   (Hint: compare the scales — how similar must two clips of a video be, and compared with what?)

<details><summary>Answer</summary>

The two losses compare against different candidates. $L_{IC}$ asks a video's clips to be closer to each other
than to the clips of *other videos*; $L_{SLL}$ asks a clip to be closer to its own augmented copy than to the
*same video's other clips*. Both hold when a feature has a large part shared by the whole video and a smaller
part that differs from moment to moment, which is how section 2's toy features are built. (Both still act in one
projection space, so they do pull against each other; notebook 06 shows it in the loss curves.)

</details>

4. What would the global–local loss need in order to work with sparse clips?

<details><summary>Answer</summary>

A global clip whose timestep $t$ shows the same frames as local clip $t$. STCLR's clips overlap, run at five
different speeds and sit anywhere in the video, so no single clip has timesteps that line up with them; a clip
stitched together from them would jump in time and speed between its frames (Sec. 1 of the paper).

</details>

5. Eq. 3 sums over $p$; TCLR's code averages. Does this change the minimiser? What does it change?

<details><summary>Answer</summary>

The sum is $N$ times the mean, and multiplying a loss by a positive constant does not move its minimiser. It
multiplies $L_{SLL}$'s value and gradient by $N$, though: in the sum of Eq. 1 it weighs $N$ times more against
$L_{IC}$ and the pretext than the averaged form would.

</details>

## Exercises

**Exercise 1.** Compute the symmetric form of Eq. 3 (view-b clips as anchors as well, averaged with the
view-a form) step by step, and check it against `L.sparse_local_local(a, b, tau, symmetric=True)`.

<details><summary>Solution</summary>

```python
sym = (sll_steps(a, b, tau)[0] + sll_steps(b, a, tau)[0]) / 2
torch.testing.assert_close(L.sparse_local_local(a, b, tau, symmetric=True), sym)
print(sym)
```
Swapping `a` and `b` makes the view-b clips the anchors (their negatives: the other view-b clips and all
view-a clips but their own). The mirror term is what TCLR's reference code adds; Eq. 3 is the view-a half.
</details>

**Exercise 2.** Set `clip_spread = 0` (a video's clips identical up to augmentation) and recompute
$L_{SLL}$. Compare with $N \log(2N - 1)$. Why is it not exactly that?

<details><summary>Solution</summary>

```python
a0 = video + 0.0 * torch.randn(B, N, d, generator=gen)
b0 = a0 + view_noise * torch.randn(B, N, d, generator=gen)
print(L.sparse_local_local(a0, b0, tau).item(), N * math.log(2 * N - 1))
```
All view-a clips coincide, so the anchor's same-view negatives equal the anchor; the view-b copies differ
only by noise. The positive is no more similar than the other view-b clips, so the loss sits near
$N\log(2N-1)$; the small gap is the noise (the same-view negatives, identical to the anchor, score
$e^{1/\tau}$ and even push it slightly above).
</details>

**Exercise 3.** Using `sparse_local_clips`, draw clips for a 120-frame video (shorter than the skip-32 clip's
481 frames). Which clips were adjusted, and how does the plan record it?

<details><summary>Solution</summary>

```python
for c in sparse_local_clips(120, np.random.default_rng(0), "paper", 16):
    print(c, "adjusted" if c.adjusted else "")
```
The clips at skips 8, 16 and 32 do not fit (a 16-frame clip at skip 8 already spans $8 \cdot 15 + 1 = 121$
frames); with the default `fit` policy each gets the largest skip that fits, 7 ($7 \cdot 15 + 1 = 106$), and
`requested_skip` keeps what was asked. Three of the five clips now share a speed: short videos make sparse
sampling less sparse. The batch
planner counts these adjustments (`BatchPlan.counts()["local_skip_lowered"]`).
</details>

## References

- STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
  Representation*, Neurocomputing): **Sec. 3.2 (Eq. 3, sparse local–local loss; why no global–local)**,
  Fig. 3, Sec. 4.2.2 (Simplified TCLR), Sec. 4.2.3 (sparsity levels, the skip presets), Sec. 4.2.4 and
  Table 7 (clips per video). Summary and the kit's reading: [docs/method.md](../docs/method.md), section 3.
- TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal contrastive learning for video
  representation*, CVIU 2022 — local–local and global–local losses; code github.com/DAVEISHAN/TCLR.
- Kit: `stclr/losses.py` (`sparse_local_local`, `tclr_global_local`), `stclr/sampling.py`
  (`sparse_local_clips`, `tclr_clips`), `stclr/methods.py` (how `tclr` scales its losses),
  `tests/test_losses.py` (loop references); terms ([temperature](../docs/glossary.md#temperature),
  [positive and negative](../docs/glossary.md#positive-and-negative)): [docs/glossary.md](../docs/glossary.md).
""")
