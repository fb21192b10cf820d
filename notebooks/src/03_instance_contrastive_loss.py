"""Source of notebooks/03_instance_contrastive_loss.ipynb (build with ``python notebooks/src/build.py``)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("03_instance_contrastive_loss")

nb.md(r"""
# 03 · The instance contrastive loss (Eq. 2)

STCLR's first loss, $L_{IC}$, asks the network to recognise *which video a clip came from*: two clips of the
same video, taken at different speeds and positions and augmented independently, should have similar
features, and clips of different videos dissimilar ones. In this notebook we compute Eq. 2 by hand on a batch
of a few 8-dimensional vectors, one matrix at a time, check the package's `stclr.losses.instance_contrastive`
against it, study what the temperature $\tau$ does, and end with the loss's blind spot: instance
discrimination can be won on *appearance alone*, without looking at motion — the reason the paper adds
temporal losses (notebooks 04 and 05).

**What you will learn**
- to compute Eq. 2 step by step: normalise, similarity matrix, $h = \exp(\cos/\tau)$, numerator and
  denominator, the mean over the $2B$ anchors;
- which entries of the $2B \times 2B$ similarity matrix are positives, negatives, and left out;
- what the temperature does to the loss and to where its gradient pushes (the hardest negatives);
- why a low instance-contrastive loss does not mean the features encode motion.

> **Compute** · CPU with the defaults: {{course.03_s}} s in `make course` on 2 cores · GPU: not needed (everything is a few small tensors) ·
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
from stclr.viz import losses as V

%matplotlib inline
print("torch", torch.__version__)
""")

nb.md("""
## Parameters

The next cell is the notebook's only parameter cell ([papermill](../docs/glossary.md#papermill) replaces these
values when the notebook runs as an experiment). Everything derived from them is computed in the cell after it.
""")

nb.params("""
data_root: str = "../data/synthetic"  # dataset folder (not read here: this notebook works on small tensors)
out_dir: str = "../runs/notebooks/03_instance_contrastive_loss"  # where metrics.json is written
device: str = "auto"  # auto | cpu | cuda | mps: where the package's loss is checked
show_progress: bool = True  # progress bars (none needed in this notebook)
interactive: bool = True  # show the ipywidgets controls
seed: int = 0  # seed of the toy features
temperature: float = 0.3  # tau of the similarity h(u, v): exp(cos / tau); STCLR uses 0.3, TCLR 0.1
batch_videos: int = 4  # B: videos in the toy batch (2B clip features)
feature_dim: int = 8  # d: length of each toy feature vector (128 in the paper)
pair_noise: float = 0.6  # how far a video's second clip feature lies from its first (augmentations, other clip)
toy_videos: int = 64  # videos in the appearance-shortcut toy
toy_classes: int = 4  # motion classes in the appearance-shortcut toy
""")

nb.code("""
seed_everything(seed)
dev = resolve_device(device)
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
B, d, tau = batch_videos, feature_dim, temperature
torch.set_default_dtype(torch.float64)  # the toy tensors: float64, so the printed digits are exact everywhere
check_dtype = torch.float32 if dev.type == "mps" else torch.float64  # MPS has no float64
print(f"device: {dev}   B = {B}, d = {d}, tau = {tau}")
""")

nb.md(r"""
## 1 · The batch: one positive pair per video

For each video $i$ of a batch of $B$ videos, STCLR samples two *different* local clips (different skip
rates, random starting frames), augments them independently and encodes them: the clip features
$(G_i, G'_i)$ (Sec. 3.1). We do not need a network to study the loss, so we fake the features: $G_i$ is a
random vector and $G'_i = G_i + \text{noise}$, i.e. two clips of the same video that the encoder already maps
to *nearby* points.
""")

nb.code("""
gen = torch.Generator().manual_seed(seed)
g = torch.randn(B, d, generator=gen)  # G_i : one clip of video i (view a)
g2 = g + pair_noise * torch.randn(B, d, generator=gen)  # G'_i: another clip of the same video (view b)
names = [f"G{i + 1}" for i in range(B)] + [f"G'{i + 1}" for i in range(B)]
print("G:", tuple(g.shape), "  G':", tuple(g2.shape), "  clips:", names)
""")

nb.md(r"""
## 2 · Normalise, then compare everything with everything

The paper's similarity is the cosine, scaled by the temperature $\tau$ and exponentiated:

$$h(u, v) = \exp\!\left(\frac{u^\top v}{\|u\|\,\|v\|\,\tau}\right).$$

Dividing by the norms is the same as first scaling every feature to unit length; then all cosines are one
matrix product. Stack the $2B$ clip features as rows, $z = [G_1 \dots G_B;\ G'_1 \dots G'_B]$:
""")

nb.code("""
z = F.normalize(torch.cat([g, g2]), dim=1)  # [2B, d]: rows 0..B-1 are G_i, rows B..2B-1 are G'_i
cos = z @ z.T  # [2B, 2B]: cos[a, b] = cosine of clip a and clip b
print("norms after normalising:", [round(x, 4) for x in z.norm(dim=1).tolist()])
print("cos shape:", tuple(cos.shape))
""", check_output=True)

nb.md(r"""
## 3 · Positives, negatives and the excluded diagonal

Eq. 2 for the anchor $G_i$:

$$L_{IC}^{i} = -\log \frac{h(G_{i}, G'_{i})}{\sum_{j=1}^{N_{B}} \left[\mathbb{1}_{[j\neq i]}\, h(G_{i}, G_{j}) + h(G_{i}, G'_{j})\right]} \tag{2}$$

- the **positive** of $G_i$ is $G'_i$ (and, mirrored, the positive of $G'_i$ is $G_i$);
- the **negatives** are every other clip of the batch, in both views: $2B - 2$ of them;
- the anchor is never compared with itself: the indicator $\mathbb{1}_{[j\neq i]}$ removes $h(G_i, G_i)$,
  which would be $e^{1/\tau}$ whatever the features;
- the **denominator includes the positive** $h(G_i, G'_i)$ (the $j = i$ term of the second sum), so the
  fraction is a probability: a softmax over the $2B - 1$ candidates ([NT-Xent](../docs/glossary.md#nt-xent-infonce),
  as in SimCLR).

Masks make this explicit:
""")

nb.code("""
idx = torch.arange(2 * B)
partner = (idx + B) % (2 * B)  # the positive of anchor a: G_i <-> G'_i
positive = torch.zeros(2 * B, 2 * B, dtype=torch.bool)
positive[idx, partner] = True
itself = torch.eye(2 * B, dtype=torch.bool)  # removed by the indicator 1[j != i]
negative = ~positive & ~itself
print("per anchor: positives", positive.sum(1).tolist(), " negatives", negative.sum(1).tolist())
""", check_output=True)

nb.code("""
fig = V.similarity_matrix(cos, positives=positive, excluded=itself, row_labels=names, col_labels=names,
                          row_splits=[B], col_splits=[B], xlabel="candidate", ylabel="anchor",
                          title="cos(anchor, candidate) for the 2B clips of the toy batch")
plt.show()
""")

nb.md(r"""
**What to notice:** the positives (green frames) sit on the diagonals of the two $B \times B$ blocks that
pair view a with view b, and most are the largest values of their rows because $G'_i$ was made close to
$G_i$ — but not all: in row $G3$ two negatives are more similar to the anchor than its positive, an anchor
the loss will punish. Everything else in a row — the other videos' clips in *both* views — is a negative. The hatched
diagonal is not part of the loss. The matrix is symmetric, so the $G'$ anchors (bottom half) see the same
numbers as the $G$ anchors (top half), mirrored.

## 4 · From similarities to the loss

Exponentiate the scaled cosines, zero the excluded diagonal, and read off numerator and denominator:
""")

nb.code("""
h = torch.exp(cos / tau).masked_fill(itself, 0.0)  # h(anchor, candidate); 0 where 1[j != i] = 0
numerator = h[idx, partner]  # h(G_i, G'_i): the positive
denominator = h.sum(dim=1)  # all 2B - 1 candidates, the positive included
print("numerator  :", [round(x, 3) for x in numerator.tolist()])
print("denominator:", [round(x, 3) for x in denominator.tolist()])
""", check_output=True)

nb.md(r"""
The denominator of anchor $G_1$ written literally as Eq. 2's sum over $j$ — the row sum above is the same
number:
""")

nb.code("""
def h_fn(u, v):
    return torch.exp(torch.dot(u, v) / (u.norm() * v.norm() * tau))

i = 0
eq2_den = sum((h_fn(g[i], g[j]) if j != i else 0.0) + h_fn(g[i], g2[j]) for j in range(B))
print(f"Eq. 2 denominator of G1: {eq2_den.item():.4f}   row sum of h: {denominator[i].item():.4f}")
""", check_output=True)

nb.md(r"""
Each anchor's loss is $-\log(\text{numerator}/\text{denominator})$; $L_{IC}$ is the mean over all
$2B$ anchors (the $B$ clips $G_i$ and the $B$ clips $G'_i$):
""")

nb.code("""
per_anchor = -torch.log(numerator / denominator)  # [2B]
loss_steps = per_anchor.mean()
print("per anchor:", [round(x, 4) for x in per_anchor.tolist()])
print(f"L_IC (step by step) = {loss_steps.item():.4f}")
""", check_output=True)

nb.md(r"""
Two reference points: a loss of $0$ would need the positive to take all of the softmax's mass; an encoder
that maps every clip to the same point has all cosines equal, so the positive gets $1/(2B-1)$ and the loss is
$\log(2B-1)$:
""")

nb.code("""
best = cos.masked_fill(itself, -2.0).argmax(dim=1)  # each anchor's most similar other clip
missed = [names[a] for a in idx.tolist() if best[a] != partner[a]]
print(f"log(2B - 1) = {math.log(2 * B - 1):.4f}  (features that tell nothing apart)")
print(f"our toy batch: {loss_steps.item():.4f}  (far below: the positive is the most similar clip for "
      f"{2 * B - len(missed)} of {2 * B} anchors; not for {', '.join(missed) or 'none'})")
""")

nb.md(r"""
## 5 · The package's loss agrees

`stclr.losses.instance_contrastive(g, g2, temperature)` computes the same thing without the explicit
exponentials: each row is a cross-entropy over the logits $\cos/\tau$ with the diagonal set to $-\infty$,
computed as `logsumexp(logits) - logit_positive` (numerically safe even for small $\tau$). It normalises its
inputs itself. We run it on `device` and compare:
""")

nb.code("""
loss_pkg = L.instance_contrastive(g.to(dev, check_dtype), g2.to(dev, check_dtype), temperature=tau).cpu().double()
logits = (cos / tau).masked_fill(itself, float("-inf"))
loss_ce = F.cross_entropy(logits, partner)  # the same loss as a 2B-way classification
torch.testing.assert_close(loss_pkg, loss_steps, rtol=1e-5, atol=1e-5)
torch.testing.assert_close(loss_ce, loss_steps, rtol=1e-5, atol=1e-5)
print(f"step by step {loss_steps.item():.4f} | package {loss_pkg.item():.4f} | cross-entropy {loss_ce.item():.4f}")
""", check_output=True)

nb.md(r"""
The cross-entropy line is a useful way to think about Eq. 2: **every anchor solves a $(2B-1)$-way
classification problem** — "which of the other clips in the batch is my partner?" — and the logits are
cosines divided by $\tau$. The paper's batch of 38 videos gives a 75-way problem per anchor.

## 6 · The temperature

$\tau$ scales the logits. Look at one anchor, $G_1$, and the softmax weights
$p_k = h_k / \sum_j h_j$ of its candidates at four temperatures:
""")

nb.code("""
fig = V.anchor_weights(cos[0], positive=B, temperatures=[0.05, 0.1, 0.3, 1.0], excluded=[0], labels=names,
                       title="softmax weights of anchor G1's candidates")
plt.show()
""")

nb.md(r"""
**What to notice:** at $\tau = 1$ the weights are almost flat — the positive barely stands out, and the loss
stays near $\log(2B-1)$ even though the features are good. As $\tau$ falls, the mass concentrates on the
most similar candidates: the positive, and the *hardest* negatives (the ones most similar to the anchor).

These bars are also the gradient. For a softmax cross-entropy, the derivative of the anchor's loss with
respect to the logit of candidate $k$ is $p_k - \mathbb{1}[k = \text{positive}]$: every negative is pushed
away with a force proportional to its bar. So a low temperature focuses the learning signal on the few
hardest negatives; a high one spreads it evenly. The curves below show both effects over a range of
temperatures — the loss, and the share of the negatives' total weight that falls on the single hardest
negative (averaged over the $2B$ anchors; $1/(2B-2)$ would be a flat spread).
""")

nb.code("""
taus = np.logspace(-2, 0.5, 60)
curve = [L.instance_contrastive(g, g2, temperature=float(t)).item() for t in taus]

def hardest_share(t):
    p = torch.softmax((cos / t).masked_fill(itself, float("-inf")), dim=1).masked_fill(~negative, 0.0)
    return (p.max(dim=1).values / p.sum(dim=1)).mean().item()

share = [hardest_share(float(t)) for t in taus]
print(f"loss at tau = 0.01: {curve[0]:.3f}   at tau = {taus[-1]:.2f}: {curve[-1]:.3f}")
print(f"row G3 of the matrix: G'4 {cos[2, B + 3]:.2f}, G4 {cos[2, 3]:.2f}, its positive G'3 {cos[2, B + 2]:.2f}")
""")

nb.code("""
fig = V.temperature_curves(taus, {"toy batch": curve}, {"toy batch": share}, mark=[0.1, 0.3],
                           floor={"log(2B-1): features that tell nothing apart": math.log(2 * B - 1)},
                           loss_label="$L_{IC}$", title="What the temperature does (same features, only τ changes)")
plt.show()
""")

nb.md(r"""
**What to notice:** the features never change, yet the loss moves by a factor of ten, and not
monotonically: a value of $L_{IC}$ only means something together with its $\tau$.

- At **high** $\tau$ every logit is close to 0, the softmax is nearly flat, and the loss creeps up towards
  $\log(2B-1)$ — good features get almost no credit, and the gradient is weak and spread over all negatives.
- At **low** $\tau$ the softmax becomes a hard maximum. Anchors whose positive is their most similar clip
  get a loss near 0, but an anchor that has a negative *more* similar than its positive pays
  $(\cos_{neg} - \cos_{pos})/\tau$, which explodes as $\tau \to 0$. Our batch has such anchors: row $G3$ of
  the matrix above, where $G'4$ (0.72) and $G4$ (0.67) beat the positive $G'3$ (0.37), and its mirror $G'3$.
- On the right, the hardest negative's share of the push climbs towards 1 as $\tau \to 0$: the gradient then
  chases one negative at a time, which is fragile (it may be a clip of the same action from another video, a
  *false* negative). TCLR uses $\tau = 0.1$, STCLR $0.3$ (Sec. 4.2.2); training runs at one fixed $\tau$.

Move the $\tau$ slider (log steps that pass through TCLR's 0.1 and STCLR's 0.3) or pick another anchor clip to see
one anchor's weights change (run the notebook with `interactive = True`):
""")

nb.widget("""
if interactive:
    import ipywidgets as widgets

    from stclr.widgets import dropdown, tau_slider

    def show_anchor(tau=temperature, anchor=0):
        V.anchor_weights(cos[anchor], positive=int(partner[anchor]), temperatures=[tau], excluded=[anchor],
                         labels=names, title=f"anchor {names[anchor]}")
        plt.show()

    widgets.interact(show_anchor, tau=tau_slider(temperature),  # log steps through 0.1 and 0.3
                     anchor=dropdown([(f"{n} (positive {names[int(partner[i])]})", i) for i, n in enumerate(names)],
                                     0, description="anchor clip"))
""")

nb.md(r"""
## 7 · What instance discrimination does *not* need: motion

$L_{IC}$ is low when every clip is closest to the other clip *of the same video*. Nothing in Eq. 2 says how
the encoder should achieve that — and the cheapest way is often appearance: the background, the actor's
clothes, the colour of the sprite. Every clip of a video shares them, so an encoder that only looks at
appearance wins instance discrimination while knowing nothing about the action. This is what happened in
the kit's first trials on an earlier synthetic dataset ([docs/method.md, "The synthetic
dataset"](../docs/method.md#7-the-synthetic-dataset)): adding $L_{IC}$ to the local–local
loss gained nothing, because instance discrimination "latched onto each video's appearance".

A toy makes it concrete. Each of `toy_videos` videos has an appearance vector of its own and one of
`toy_classes` motion classes (the class a downstream task would ask for). We compare three "encoders" that
map the two clips of a video to features (plus a little augmentation noise):

- **appearance**: the feature is the video's appearance vector;
- **motion**: the feature is the video's motion-class vector;
- **appearance, shared looks**: appearance only, but every look is shared by many videos across classes
  (what the synthetic dataset does on purpose: a small pool of looks).

For each we report $L_{IC}$ over the whole toy batch and the motion-class accuracy of a nearest-neighbour
lookup (is the most similar *other* video of the same motion class?).
""")

nb.code("""
tg = torch.Generator().manual_seed(seed + 1)
n, K = toy_videos, toy_classes
motion = torch.arange(n) % K  # the class a downstream task asks for
look_own = torch.randn(n, d, generator=tg)  # one look per video
look_shared = torch.randn(4, d, generator=tg)[torch.randint(4, (n,), generator=tg)]  # 4 looks for everyone
motion_vec = torch.randn(K, d, generator=tg)[motion]

def two_clips(base, aug=0.3):  # the two clip features of each video: same content, new augmentation noise
    return base + aug * torch.randn(n, d, generator=tg), base + aug * torch.randn(n, d, generator=tg)

def nn_motion_accuracy(feat):  # leave-one-out nearest neighbour among the other videos
    s = F.normalize(feat, dim=1) @ F.normalize(feat, dim=1).T
    return (motion[s.fill_diagonal_(-2).argmax(1)] == motion).float().mean().item()
""")

nb.code("""
toy = {}
for name, base in [("appearance", look_own), ("motion", motion_vec), ("appearance,\\nshared looks", look_shared)]:
    ga, gb = two_clips(base)
    toy[name] = {"L_IC": L.instance_contrastive(ga, gb, tau).item(), "motion_acc": nn_motion_accuracy(ga)}
for name, r in toy.items():
    print(f"{name.replace(chr(10), ' '):26s} L_IC = {r['L_IC']:.3f}   nearest-neighbour motion accuracy = {r['motion_acc']:.3f}")
""", check_output=True)

nb.code("""
fig = V.grouped_bars(
    {"instance contrastive loss (lower = easier)": {k: v["L_IC"] for k, v in toy.items()},
     "motion class of the nearest video": {k: v["motion_acc"] for k, v in toy.items()}},
    hlines={"instance contrastive loss (lower = easier)": (math.log(2 * n - 1), "log(2B-1): nothing told apart"),
            "motion class of the nearest video": (1 / K, f"chance (1/{K})")},
    title=f"The appearance shortcut ({n} videos, {K} motion classes, tau = {tau})")
plt.show()
""")

nb.md(r"""
**What to notice:** the appearance encoder has by far the lowest $L_{IC}$ — it is what instance
discrimination prefers — and its nearest neighbours are of the right motion class no more often than chance. The
motion encoder is what we want downstream, yet $L_{IC}$ punishes it: videos of the same class look identical
to it, so it cannot tell instances apart. When looks are shared (third bar), appearance no longer identifies a
video, and instance discrimination stops rewarding it.

Three remedies, all in the kit: strong colour augmentations (different for the two clips, so colour is not a
reliable cue), a dataset whose looks are shared across classes (the synthetic dataset's appearance pool),
and — the paper's answer — losses that *require* temporal information: the sparse local–local loss
(notebook 04) makes clips of the same video at different times *different*, and the same speed localization
pretext (notebook 05) asks about playback speed, which appearance cannot answer.
""")

nb.code("""
metrics = {
    "temperature": tau, "B": B, "d": d,
    "ic_loss_step_by_step": round(loss_steps.item(), 6), "ic_loss_package": round(loss_pkg.item(), 6),
    "ic_loss_uninformative": round(math.log(2 * B - 1), 6),
    "ic_loss_vs_temperature": {f"{t:g}": round(L.instance_contrastive(g, g2, t).item(), 6) for t in (0.05, 0.1, 0.3, 1.0)},
    "appearance_toy": {k.replace("\\n", " "): {m: round(x, 6) for m, x in v.items()} for k, v in toy.items()},
}
(out / "metrics.json").write_text(json.dumps(metrics, indent=1))
print({t: round(v, 4) for t, v in metrics["ic_loss_vs_temperature"].items()})
""", check_output=True)

nb.md(r"""
## Summary

- Eq. 2 is a softmax cross-entropy per anchor: normalise the $2B$ clip features, take all cosines, divide by
  $\tau$, drop the anchor itself, and ask the softmax to put its mass on the partner clip. The denominator
  includes the positive; $L_{IC}$ is the mean over all $2B$ anchors.
- Positives: the other clip of the same video (one per anchor). Negatives: the $2B - 2$ clips of the other
  videos, in both views.
- `stclr.losses.instance_contrastive` matches the step-by-step computation (to $10^{-5}$ here; the package's
  tests check $10^{-10}$ against a loop over Eq. 2).
- The temperature sets how peaked the softmax is: low $\tau$ concentrates the gradient on the hardest
  negatives; a loss value means nothing without its $\tau$.
- Instance discrimination can be solved by appearance alone. A low $L_{IC}$ says nothing about motion;
  temporal losses and appearance-breaking augmentations are needed.

## Check your understanding

1. How many negatives does each anchor have in a batch of $B = 38$ videos? How many terms in its denominator?

<details><summary>Answer</summary>

$2B - 2 = 74$ negatives (the other 37 videos' clips, in both views) and $2B - 1 = 75$ terms in the denominator,
the positive included: a 75-way classification per anchor.

</details>

2. Why must the anchor itself be excluded from the denominator? What would $h(G_i, G_i)$ be?

<details><summary>Answer</summary>

$\cos(G_i, G_i) = 1$ always, so $h(G_i, G_i) = e^{1/\tau}$ ($\approx 28$ at $\tau = 0.3$), the largest value
any term can take, whatever the features. It would dominate every denominator and keep the loss from
approaching 0, while carrying no information: it never changes, so it gives no gradient.

</details>

3. If all $2B$ features were identical, what would $L_{IC}$ be, whatever $\tau$?

<details><summary>Answer</summary>

$\log(2B - 1)$: all logits are equal, so the softmax is uniform over the $2B - 1$ candidates and the positive
gets $1/(2B-1)$. Dividing equal logits by any $\tau$ leaves them equal, so $\tau$ does not matter.

</details>

4. Halving $\tau$ doubles every logit. Why does the loss not simply double?

<details><summary>Answer</summary>

Each anchor's loss is $\text{logsumexp}(\text{logits}) - \text{logit}_{pos}$, which is not linear in the logits:
doubling them sharpens the softmax. An anchor whose positive is its most similar clip then pays *less* (towards
0); one with a negative more similar than its positive pays more, about $(\cos_{neg} - \cos_{pos})/\tau$.
The batch's loss can go either way, which is why the curve of section 6 is not monotonic.

</details>

5. Why can an encoder with a *lower* $L_{IC}$ be a *worse* video representation?

<details><summary>Answer</summary>

$L_{IC}$ only asks that clips of the same video be recognised as such, and appearance (background, colours,
the actor) does that cheaply. An encoder that uses appearance alone gets a low $L_{IC}$ and knows nothing about
the action: in section 7's toy the appearance encoder had the lowest loss and nearest-neighbour motion accuracy
near chance, while the motion encoder, the one we want, had a higher loss.

</details>

## Exercises

**Exercise 1.** Drop the positive from the denominator (the "InfoNCE without the positive" variant) and
recompute the loss of the toy batch. Is it still non-negative? Why does the usual form keep the positive?

<details><summary>Solution</summary>

```python
den_wo = denominator - numerator
loss_wo = -torch.log(numerator / den_wo).mean()
print(loss_wo)  # can be negative: numerator / den_wo is no longer a probability (it can exceed 1)
```
With the positive in the denominator the fraction is a softmax probability, so each term is
$\geq 0$ and the loss is a proper cross-entropy, bounded below by 0. Without it the loss is unbounded
below: the encoder could keep pushing the ratio up forever.
</details>

**Exercise 2.** Using `L.instance_contrastive`, measure the loss of the toy batch for $B = 2, 4, 8, 16$
(draw new features with `pair_noise` fixed). How does it grow with $B$, and why?

<details><summary>Solution</summary>

```python
for b in (2, 4, 8, 16):
    gg = torch.randn(b, d, generator=gen)
    print(b, L.instance_contrastive(gg, gg + pair_noise * torch.randn(b, d, generator=gen), tau).item())
```
More videos mean more negatives in every denominator: the $(2B-1)$-way problem gets harder and the loss
grows roughly like $\log(2B-1)$ minus what the features separate. This is why contrastive methods like
large batches (and why `stclr` all-gathers the negatives across GPUs under [DDP](../docs/glossary.md#ddp)).
</details>

**Exercise 3.** In the appearance toy, give the "appearance" encoder strong colour augmentation: add noise
of standard deviation 1.5 (instead of 0.3) independently to the two clips. What happens to its $L_{IC}$, and
to the advantage it had over the motion encoder?

<details><summary>Solution</summary>

```python
ga, gb = two_clips(look_own, aug=1.5)
print(L.instance_contrastive(ga, gb, tau).item())
```
The two clips of a video no longer share a reliable appearance, so the loss rises towards that of the motion
encoder: augmentation makes the shortcut expensive. This is the role of TCLR's colour jitter, grayscale and
channel drop (`stclr.augment`).
</details>

## References

- STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
  Representation*, Neurocomputing): Sec. 3 (Eq. 1), **Sec. 3.1 (Eq. 2, instance contrastive loss)**,
  Sec. 4.2.2 (temperature 0.3).
- TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal contrastive learning for video
  representation*, CVIU 2022 (instance contrastive loss with $\tau = 0.1$; code github.com/DAVEISHAN/TCLR).
- T. Chen et al., *A simple framework for contrastive learning of visual representations* (SimCLR, NT-Xent),
  ICML 2020; F. Wang, H. Liu, *Understanding the behaviour of contrastive loss* (temperature and hard
  negatives), CVPR 2021.
- Kit: `stclr/losses.py` (`instance_contrastive`), `tests/test_losses.py` (loop references),
  [docs/method.md](../docs/method.md): "Instance contrastive loss (Eq. 2)" (our reading of Eq. 2) and "The
  synthetic dataset" (the appearance shortcut in the kit's first trials); terms:
  [docs/glossary.md](../docs/glossary.md).
""")
