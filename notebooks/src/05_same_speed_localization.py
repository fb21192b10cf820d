"""Source of notebooks/05_same_speed_localization.ipynb (build with ``python notebooks/src/build.py``)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("05_same_speed_localization")

nb.md(r"""
# 05 · The same speed localization pretext (Sec. 3.3)

STCLR's third loss is a *pretext task*: the network sees a tuple of three clips, played at different speeds
(skip rates), and must say **which two clips share a speed** — or that none do. Appearance cannot answer
this; only motion can. In this notebook we build SSL tuples with the package's sampler, check that the
probabilities $C_1$ (clips from three different videos) and $C_2$ (two clips share a speed) come out as the
paper defines them, walk through the classification head's shapes, and run a short SSL-only training on the
synthetic dataset to watch the loss fall and the accuracy rise above chance.

**What you will learn**
- how an SSL tuple is built: sources, speeds, and the label [12, 13, 23, None] → [0, 1, 2, 3];
- what $C_1$ and $C_2$ control, checked empirically against the theory;
- the SSL head (Fig. 4): pairwise concatenation, a shared layer, a 4-way classifier, cross-entropy;
- why a fresh network struggles with the pretext at first, and how to give a short run a fair start.

> **Compute** · CPU with the defaults: the short run is 160 optimiser steps (10 epochs of 16 steps), {{course.05_s}} s
> in all in `make course` on 2 cores ({{course.dataset_s}} s more the first time, to generate the synthetic dataset);
> `quick = True` trains 6 epochs instead of 10 · GPU: seconds; the paper's
> SSL-only pretraining (Sec. 4.2.1: R3D-18, 16 × 128 × 128, 499 epochs) needs one · disk: the synthetic dataset
> (a few MB), a 2 MB checkpoint and a small `metrics.json` in `out_dir`.
""")

nb.code("""
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from stclr.data.loader import PretrainDataset, make_pretrain_loader
from stclr.data.splits import load_split
from stclr.data.synthetic import ensure_synthetic_dataset
from stclr.losses import same_speed_localization
from stclr.methods import frame_differences
from stclr.models import SSLHead, build_model
from stclr.plan import PlanConfig
from stclr.runinfo import resolve_device, seed_everything
from stclr.sampling import SSL_LABEL_NAMES, draw_ssl_tuple, label_of_speeds
from stclr.viz import losses as V

%matplotlib inline
print("torch", torch.__version__)
""")

nb.md("""
## Parameters

The notebook's only parameter cell; derived values are computed in the cell after it. The first group is the
pretext as the paper defines it; the second is the short training run.
""")

nb.params("""
data_root: str = "../data/synthetic"  # the synthetic dataset (generated here if missing)
out_dir: str = "../runs/notebooks/05_same_speed_localization"  # metrics.json and the trained model go here
device: str = "auto"  # auto | cpu | cuda | mps
show_progress: bool = True  # progress bars
interactive: bool = True  # show the ipywidgets controls
quick: bool = False  # fewer epochs (the course's quick mode)
seed: int = 0  # seed of the sampling and of the training run
c1: float = 0.6  # probability that the three clips come from three different videos (Sec. 4.2.1)
c2: float = 0.75  # probability that exactly two clips share a speed (else all three differ)
speeds: list[int] = [1, 2, 4, 8, 16]  # the pretext's speeds (skip rates); the paper's maximum is 16
clip_len: int = 16  # frames per clip when sampling tuples (L)
num_tuples: int = 4000  # tuples sampled to measure the frequencies of labels and sources
train_c1: float = 0.0  # C1 of the short run (0: each tuple from one video, the easy end of the pretext)
train_speeds: list[int] = [1, 3, 9]  # speeds of the short run (3x apart: easier to tell than 2x)
train_clip_len: int = 8  # frames per clip in the short run
train_size: int = 16  # clip side in pixels in the short run (tiny clips: the motion is still visible)
epochs: int = 10  # epochs of the short run, 16 optimiser steps each (6 with quick)
batch_size: int = 16  # tuples per batch
lr: float = 0.003  # Adam learning rate
head_dropout: float = 0.0  # dropout in the SSL head (the paper's 0.5 delays learning in a short run)
train_augment: str = "none"  # augmentation of the SSL clips: none | ssl (Sec. 4.2.1's; slower to learn)
clip_input: str = "diff"  # what the network sees: diff (frame t+1 minus frame t), frames, or mean_removed (see section 5)
cpu_threads: int = 1  # torch threads on a CPU (1 is fastest for these small clips on a busy machine)
checkpoint_path: str = ""  # a model saved by this notebook (ssl_model.pt) to evaluate instead of training
""")

nb.code("""
seed_everything(seed)
dev = resolve_device(device)
if dev.type == "cpu":
    torch.set_num_threads(cpu_threads)
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
n_epochs = min(6, epochs) if quick else epochs
print(f"device: {dev}   C1 = {c1}, C2 = {c2}, speeds {speeds}; short run: {n_epochs} epochs, C1 = {train_c1}")
""")

nb.md(r"""
## 1 · The pretext and its four labels

A tuple holds $K = 3$ clips. With probability $C_2$ exactly $S = 2$ of them share a speed, otherwise all three
speeds differ (probability $C_3 = 1 - C_2$). The label says *where* the same-speed pair is, as the paper
encodes it (Sec. 4.2.1): the four classes [12, 13, 23, None] are the integers [0, 1, 2, 3].
`stclr.sampling.label_of_speeds` turns three speeds into the label (`None` when all three are equal: not a
valid tuple):
""")

nb.code("""
for triple in [(4, 4, 1), (2, 8, 2), (1, 16, 16), (1, 2, 16), (4, 4, 4)]:
    label = label_of_speeds(triple)
    name = "invalid" if label is None else SSL_LABEL_NAMES[label]
    print(f"speeds {triple} -> label {label} ({name})")
""", check_output=True)

nb.md(r"""
## 2 · Building tuples

`stclr.sampling.draw_ssl_tuple(frame_counts, anchor, rng, c1=..., c2=...)` draws the tuple of one video (the
*anchor*) among the videos of a batch: with probability $C_1$ the anchor and two other videos give one clip
each (in random positions), otherwise all three clips come from the anchor. Then it draws the label with
$C_2$, and speeds that are consistent with it. A 16-frame clip at skip 16 spans 241 frames, so a speed is only
drawn for a video long enough to hold it: **labels never lie**, and any fallback is written in `notes`.

A batch of six videos of UCF-101-like lengths (one of them short), and the tuple of each:
""")

nb.code("""
lengths = [300, 180, 90, 250, 400, 150]  # frames of the batch's videos
rng = np.random.default_rng(seed)
tuples = [draw_ssl_tuple(lengths, r, rng, c1=c1, c2=c2, length=clip_len, speeds=speeds) for r in range(len(lengths))]
for r, t in enumerate(tuples):
    print(f"anchor {r}: sources {t.sources}, speeds {t.speeds}, label {t.label} ({t.label_name})"
          + (f", notes {list(t.notes)}" if t.notes else ""))
""", check_output=True)

nb.code("""
fig = V.ssl_tuple_diagram(tuples, lengths, title="SSL tuples of a batch of six videos (Fig. 4 idea)")
plt.show()
""")

nb.md(r"""
**What to notice:** each panel is one tuple; its three clips are drawn on the frame axes of the videos they
come from, coloured by speed. A skip-16 clip stretches over 241 frames, a skip-1 clip over 16. In a cross-video
tuple the network must compare speeds across *different* actions — harder, which is why the paper calls $C_1$
the difficulty knob. Clips of the short video (90 frames) only ever get the speeds that fit it (1, 2 or 4).

## 3 · $C_1$ and $C_2$, measured

If the sampler is right, over many tuples the share of cross-video tuples is $C_1$, and the labels follow

$$P(12) = P(13) = P(23) = \frac{C_2}{3}, \qquad P(\text{None}) = 1 - C_2 .$$

We draw `num_tuples` tuples from a batch of eight 300-frame videos (long enough for every speed, so no
fallback bends the numbers) with a fixed seed:
""")

nb.code("""
rng = np.random.default_rng(seed)
draws = [draw_ssl_tuple([300] * 8, i % 8, rng, c1=c1, c2=c2, length=clip_len, speeds=speeds) for i in range(num_tuples)]
label_freq = {name: float(np.mean([t.label == k for t in draws])) for k, name in enumerate(SSL_LABEL_NAMES)}
label_theory = {name: (c2 / 3 if k < 3 else 1 - c2) for k, name in enumerate(SSL_LABEL_NAMES)}
source_freq = {"3 videos": float(np.mean([t.cross_video for t in draws]))}
source_freq["1 video"] = 1 - source_freq["3 videos"]
source_theory = {"3 videos": c1, "1 video": 1 - c1}
print("labels :", {k: round(v, 3) for k, v in label_freq.items()}, " theory", {k: round(v, 3) for k, v in label_theory.items()})
print("sources:", {k: round(v, 3) for k, v in source_freq.items()}, " theory", source_theory)
print("tuples with a fallback note:", sum(bool(t.notes) for t in draws))
""", check_output=True)

nb.code("""
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained", width_ratios=[2, 1.2])
V.compare_frequencies(label_freq, label_theory, n=num_tuples, ax=ax1, xlabel="label",
                      title=f"labels: C2 = {c2} shared between 12, 13, 23")
V.compare_frequencies(source_freq, source_theory, n=num_tuples, ax=ax2, xlabel="the tuple's clips come from",
                      title=f"sources: C1 = {c1}", legend=False)
plt.show()
""")

nb.md(r"""
**What to notice:** every bar lands on its black theory tick, within the 95% interval of a binomial draw of
`num_tuples` tuples. With the paper's $C_2 = 0.75$ the four classes are *balanced* (0.25 each), so chance
accuracy is exactly 25%. With $C_2 \ne 0.75$ they are not, and a network that always answers the most common
class beats 25% without learning anything — keep that in mind when reading an SSL accuracy.

Change $C_1$ and $C_2$ and resample (a few hundred tuples, so expect some noise):
""")

nb.widget("""
if interactive:
    import ipywidgets as widgets

    def show_freq(c1_=c1, c2_=c2, n=500):
        r = np.random.default_rng(seed)
        ts = [draw_ssl_tuple([300] * 8, i % 8, r, c1=c1_, c2=c2_, length=clip_len, speeds=speeds) for i in range(n)]
        emp = {name: float(np.mean([t.label == k for t in ts])) for k, name in enumerate(SSL_LABEL_NAMES)}
        th = {name: (c2_ / 3 if k < 3 else 1 - c2_) for k, name in enumerate(SSL_LABEL_NAMES)}
        V.compare_frequencies(emp, th, n=n, title=f"cross-video share {np.mean([t.cross_video for t in ts]):.2f} (C1 = {c1_})")
        plt.show()

    widgets.interact(show_freq, c1_=widgets.FloatSlider(value=c1, min=0, max=1, step=0.05, description="C1 (cross-video)",
                                                        style={"description_width": "initial"}),
                     c2_=widgets.FloatSlider(value=c2, min=0, max=1, step=0.05, description="C2 (two share a speed)",
                                             style={"description_width": "initial"}), n=widgets.fixed(500))
""")

nb.md(r"""
## 4 · The head (Fig. 4)

The backbone encodes each clip of the tuple: features $F = \langle f_1, f_2, f_3 \rangle$ (512-d for R3D-18).
The head (`stclr.models.SSLHead`) then

1. concatenates the features pairwise, in the label order: $\langle f_{12}, f_{13}, f_{23} \rangle$, each $2 \times 512$;
2. maps each pair with **one shared** linear layer + ReLU (the same weights for the three pairs);
3. concatenates the three results, applies dropout (0.5) and a linear layer to **4 logits**;
4. the loss is the cross-entropy against the label (`stclr.losses.same_speed_localization`).

Following the shapes through the package's head on random features:
""")

nb.code("""
head = SSLHead(feat_dim=512, hidden=512, dropout=0.5)
f = torch.randn(2, 3, 512, generator=torch.Generator().manual_seed(seed))  # [B, 3 clips, D]
pairs = torch.stack([torch.cat([f[:, i], f[:, j]], dim=-1) for i, j in [(0, 1), (0, 2), (1, 2)]], dim=1)
hidden = head.pair(pairs)  # the shared Linear + ReLU, applied to each pair
logits = head.fc(head.drop(hidden.flatten(1)))
print("features", tuple(f.shape), "-> pairs", tuple(pairs.shape), "-> hidden", tuple(hidden.shape),
      "-> concat", tuple(hidden.flatten(1).shape), "-> logits", tuple(logits.shape))
print("parameters:", sum(p.numel() for p in head.parameters()))
""", check_output=True)

nb.code("""
head.eval()  # no dropout: the forward pass is deterministic
torch.testing.assert_close(head(f), head.fc(hidden.flatten(1)))
labels = torch.tensor([0, 3])  # "12" and "None"
print(f"L_SSL = {same_speed_localization(head(f), labels).item():.4f}  "
      f"(= F.cross_entropy: {F.cross_entropy(head(f), labels).item():.4f}; a uniform guess: log 4 = {math.log(4):.4f})")
""")

nb.md(r"""
The shared layer matters: because the same weights see $f_{12}$, $f_{13}$ and $f_{23}$, what the head learns
about "these two clips look equally fast" applies to every pair position, and the final layer only has to
read *which* position fired. Note that the head sees **backbone** features, not the projection head's (Fig. 4).

## 5 · A short SSL-only run on the synthetic dataset

Now the pretext alone trains a network: the course's tiny R3D (`r3d_tiny`) on tiny clips — 8 frames of
16 × 16 pixels — at speeds 1, 3 and 9, through the package's real pipeline — `PretrainDataset(method="ssl")` plans each batch, decodes
every video once and cuts the tuples. We hold the test videos out and measure the accuracy on *their* tuples.

A few choices make this run short enough for a laptop (each is a parameter), and two are worth understanding:

- **$C_1 = 0$ here** (parameter `train_c1`): every tuple comes from one video, the easy end of the pretext
  (the paper uses 0.6 for a 499-epoch run). Exercise 2 tries 0.6.
- **Residual frames** (`clip_input = "diff"`): the network sees each clip as the differences of adjacent
  frames, $x_{t+1} - x_t$ (Tao et al., 2020; `stclr.methods.frame_differences`). What stands still cancels;
  what moves remains, and the faster the clip, the further the sprite moves between two frames and the larger
  the difference. A fresh network fed raw frames (`"frames"`) sees mostly appearance — background, colours —
  and the three clips of a tuple differ only slightly in motion. Measured on frozen features
  (`bench/ssl_head_probe.py`, `docs/benchmarks.md` "ssl_head_probe"), a fresh network's raw-frame features
  carry no speed a head can find; with raw frames this notebook's short run stays near $\log 4$ (exercise 1). Subtracting the clip's
  *mean* frame (`"mean_removed"`) is not enough either: it removes the background but keeps the sprite's
  whole path, so it also stayed at chance (this course used it by mistake before; exercise 1). It is notebook
  03's appearance shortcut seen from the other side. The paper feeds raw frames and trains for 499 epochs.

The others: speeds 3× apart (1, 3, 9) instead of the paper's powers of two, tiny 16 × 16 clips, no dropout
in the head and no augmentation of the clips (the paper's dropout 0.5 and its crops, flips, colour jitter and
blur, Sec. 4.2.1, make the task harder and are meant for a long run; in a short one each delays learning by
dozens of steps — exercise 3).
""")

nb.code("""
root = Path(data_root)
ensure_synthetic_dataset(root, show_progress=show_progress)  # generated here when missing
plan = PlanConfig(length=train_clip_len, c1=train_c1, c2=c2, ssl_speeds=tuple(train_speeds))
common = dict(method="ssl", plan=plan, size=train_size, augment="none", decode_size=(train_size, train_size))
train_ds = PretrainDataset(load_split("synthetic", root, 1, "train"), seed=seed, ssl_augment=train_augment, **common)
test_ds = PretrainDataset(load_split("synthetic", root, 1, "test"), seed=seed + 1, ssl_augment="none", **common)
train_loader, _ = make_pretrain_loader(train_ds, batch_size, seed=seed)
print(f"train videos {len(train_ds)}, held-out videos {len(test_ds)}, steps per epoch {len(train_loader)}")
""")

nb.code("""
def prepare(clips):  # [B, 3, C, T, H, W] -> the network's input
    clips = clips.to(dev)
    if clip_input == "diff":
        return frame_differences(clips)  # [B, 3, C, T - 1, H, W]
    if clip_input == "mean_removed":
        return clips - clips.mean(dim=3, keepdim=True)
    assert clip_input == "frames", f"clip_input must be diff, frames or mean_removed, not {clip_input!r}"
    return clips

def logits_of(model, batch):
    clips = prepare(batch["ssl_clips"])
    feats = model.backbone(clips.flatten(0, 1))  # one backbone call for the 3B clips
    return model.ssl_head(feats.view(clips.shape[0], 3, -1))  # [B, 4]
""")

nb.code("""
@torch.no_grad()
def held_out_accuracy(model, passes=2):  # every held-out video anchors one tuple per pass
    model.eval()
    hits = total = 0
    for p in range(passes):
        loader, _ = make_pretrain_loader(test_ds, batch_size, seed=seed + 100 + p, drop_last=False)
        for batch in loader:
            hits += (logits_of(model, batch).argmax(1).cpu() == batch["ssl_labels"]).sum().item()
            total += len(batch["ssl_labels"])
    model.train()
    return hits / total
""")

nb.code("""
torch.manual_seed(seed)
model = build_model("r3d_tiny", method="ssl", ssl_dropout=head_dropout).to(dev)
optimizer = torch.optim.Adam(model.parameters(), lr=lr)
history = {"step_loss": [], "train_acc": [], "held_out_acc": []}
ckpt = Path(checkpoint_path) if checkpoint_path else None
if ckpt is not None and ckpt.is_file():
    model.load_state_dict(torch.load(ckpt, map_location=dev, weights_only=True))
    print(f"loaded {ckpt}: no training here")
    n_epochs = 0
print(f"r3d_tiny + SSL head: {sum(p.numel() for p in model.parameters()):,} parameters")
""")

nb.code("""
for epoch in tqdm(range(n_epochs), desc="epochs", disable=not show_progress):
    hits = total = 0
    for batch in train_loader:
        logits = logits_of(model, batch)
        labels = batch["ssl_labels"].to(dev)
        loss = same_speed_localization(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history["step_loss"].append(loss.item())
        hits, total = hits + (logits.argmax(1) == labels).sum().item(), total + len(labels)
    history["train_acc"].append(hits / total)
    history["held_out_acc"].append(held_out_accuracy(model))
    print(f"epoch {epoch + 1}: loss {np.mean(history['step_loss'][-len(train_loader):]):.3f}, "
          f"train acc {history['train_acc'][-1]:.1%}, held-out acc {history['held_out_acc'][-1]:.1%}")
torch.save(model.state_dict(), out / "ssl_model.pt")
""")

nb.code("""
final_acc = history["held_out_acc"][-1] if history["held_out_acc"] else held_out_accuracy(model)
if history["step_loss"]:
    fig = V.training_curves(history["step_loss"], {"train tuples (during the epoch)": history["train_acc"],
                                                   "held-out tuples": history["held_out_acc"]},
                            steps_per_epoch=len(train_loader), chance=0.25, chance_loss=math.log(4), smooth=8,
                            loss_label="$L_{SSL}$", title="Short SSL-only run: r3d_tiny, synthetic dataset")
    plt.show()
steps_done = len(history["step_loss"])
below = next((i + 1 for i in range(len(history["step_loss"])) if np.mean(history["step_loss"][max(0, i - 7):i + 1]) < 0.9 * math.log(4)), None)
print(f"held-out accuracy {final_acc:.1%} after {steps_done} optimiser steps (chance 25%; this course's target: 50%)")
print(f"the loss (mean of 8 steps) first fell below 0.9 log 4 at step {below}" if below else
      "the loss never fell below 0.9 log 4: the pretext did not learn in this run (see the note below)")
""")

nb.md(r"""
**What to notice:** the loss sits near $\log 4 \approx 1.386$ (a uniform guess) at first — the head has
nothing to compare yet — then falls as the backbone starts to encode how fast things move, and the held-out
accuracy follows it above the 25% chance line (the two lines printed above say when, for this run). The
held-out videos' tuples were never trained on, so this is the network's sense of speed generalising, not
memorisation. The training accuracy is counted during each epoch, while the weights are still changing, so it
lags behind. `docs/benchmarks.md` ("course seeds") records this run for seeds 0–4. If your run stays at chance,
look at the loss curve first: a loss flat at $\log 4$ means the head never found a difference between the
clips; try `clip_input = "frames"` to see that failure on purpose.

Which labels does the network get right? The confusion matrix on the held-out tuples:
""")

nb.code("""
@torch.no_grad()
def confusion(model, passes=2):
    model.eval()
    m = np.zeros((4, 4), int)
    for p in range(passes):
        loader, _ = make_pretrain_loader(test_ds, batch_size, seed=seed + 100 + p, drop_last=False)
        for batch in loader:
            for y, z in zip(batch["ssl_labels"].tolist(), logits_of(model, batch).argmax(1).tolist()):
                m[y, z] += 1
    return m

cm = confusion(model)
for name, row in zip(SSL_LABEL_NAMES, cm):
    print(f"true {name:>4}: predicted {dict(zip(SSL_LABEL_NAMES, row.tolist()))}")
""")

nb.code("""
metrics = {
    "c1": c1, "c2": c2, "speeds": speeds, "num_tuples": num_tuples,
    "label_freq": {k: round(v, 4) for k, v in label_freq.items()}, "label_theory": label_theory,
    "cross_video_freq": round(source_freq["3 videos"], 4),
    "train": {"c1": train_c1, "speeds": train_speeds, "clip": [train_clip_len, train_size, train_size],
              "epochs": n_epochs, "steps": len(history["step_loss"]), "clip_input": clip_input,
              "first_loss": history["step_loss"][0] if history["step_loss"] else None,
              "last_epoch_loss": float(np.mean(history["step_loss"][-len(train_loader):])) if history["step_loss"] else None,
              "held_out_acc": history["held_out_acc"], "final_held_out_acc": final_acc, "chance": 0.25},
    "confusion": cm.tolist(),
}
(out / "metrics.json").write_text(json.dumps(metrics, indent=1))
print(sorted(metrics))
""", check_output=True)

nb.md(r"""
## Summary

- An SSL tuple is three clips; with probability $C_1$ they come from three videos, otherwise from one; with
  probability $C_2$ exactly two share a speed. The label [12, 13, 23, None] → [0, 1, 2, 3] names the same-speed
  pair.
- The package's sampler draws only speeds that fit each source video, so labels never lie; sampled label and
  source frequencies match $C_2/3$, $1 - C_2$ and $C_1$.
- The head concatenates the clip features pairwise, applies one shared layer to each pair, and classifies the
  concatenation into 4 classes with a cross-entropy loss.
- The pretext can only be solved from motion. A short run learns it given an easy start (one video per tuple,
  each clip fed as adjacent-frame differences), and its accuracy on held-out videos' tuples rises well above
  chance. Fed raw frames, or frames minus their mean, the same short run stays at chance.

## Check your understanding

1. Which label do the speeds (8, 2, 8) get? And (2, 2, 2)?

<details><summary>Answer</summary>

(8, 2, 8): clips 1 and 3 share a speed, so the label is "13", encoded as 1. (2, 2, 2) has no label: the pretext
has exactly $S = 2$ clips at the same speed or none, so `label_of_speeds` returns `None` and the sampler never
draws such a tuple.

</details>

2. With $C_2 = 0.9$, what accuracy does a network reach by always answering "12"? What is chance then?

<details><summary>Answer</summary>

$P(12) = P(13) = P(23) = C_2/3 = 0.3$ and $P(\text{None}) = 0.1$, so always answering "12" (or "13", or
"23") is right 30 % of the time. A uniform random guess still scores 25 %, but the baseline a network must beat
is the best constant answer, 30 %.

</details>

3. Why is a cross-video tuple harder than a same-video one?

<details><summary>Answer</summary>

In one video the three clips show the same motion, and only how far things move per frame differs. Across
videos the clips show different motions with different natural paces (here also per-video speeds), so "same
skip rate" must be judged relative to what each motion normally looks like, not by comparing displacements
directly. That is why the paper calls $C_1$ the difficulty of the pretext (Sec. 3.3).

</details>

4. Why must the sampler never draw a speed that does not fit a video? What would a clip at a lowered skip do
   to the label?

<details><summary>Answer</summary>

The label states which clips share a speed. A clip that does not fit would have to change: `fit` lowers its
skip, so its real speed is no longer the one the label assumed (a "same speed" pair could differ, or a "none"
tuple gain a pair), and `loop` or `mirror` keep the speed but add a cut or a reversal. Either way the network
would be trained on false labels.

</details>

5. Why would a fresh network's features not tell a skip-1 clip from a skip-2 clip of the same video? What do
   adjacent-frame differences show that the clip minus its mean frame does not?

<details><summary>Answer</summary>

A fresh network's features are dominated by appearance, which is identical in the two clips; the difference in
speed is a small change in how far the sprite moves between frames. Adjacent-frame differences cancel everything
that stands still and keep only the displacement between two frames, whose size grows with the speed.
Subtracting the mean frame removes the background but keeps the sprite in every frame, so the clip still shows
its whole path, which looks much the same at any speed.

</details>

## Exercises

**Exercise 1.** Set `clip_input = "frames"`, then `"mean_removed"`, and rerun section 5. What happens to the
loss curve? Explain it with notebook 03's lesson.

<details><summary>Solution</summary>

Both stay near $\log 4$ and near chance accuracy for the whole short run. Raw clips of one video share their appearance, so a fresh backbone maps them to almost the same feature; the
differences due to speed are tiny next to the differences between videos, and the head's gradient does not
find them in a few hundred steps. Removing the mean frame takes the background away but leaves the sprite's
whole trajectory in every frame, which looks much the same at every speed. Adjacent-frame differences keep only
the displacement between two frames, whose size *is* the speed. The information is in the pixels all along: a
hand-made rule (the mean absolute frame difference of each clip; the two closest clips share a speed, or none
when no two are close) labels most of these tuples right (try it: it is a few lines). The paper trains on raw frames, for 499 epochs;
the course's STCLR run (notebook 06) feeds its tuples frame differences too, for the same reason.
</details>

**Exercise 2.** Set `train_c1 = 0.6` (the paper's value) and `epochs = 20`. Compare the held-out accuracy
with the run at $C_1 = 0$.

<details><summary>Solution</summary>

Learning is slower and the accuracy lower at the same number of epochs (compare the printed held-out
accuracies of the two runs). Across videos, "same speed" must be judged between different motions (a spin and a slide at the same
skip rate do not move alike), and between sprites whose own speeds differ by up to 1.8×, so the task is
genuinely harder. That is the paper's point in Sec. 3.3: $C_1$ sets the difficulty of the pretext, and a harder pretext
can teach more general features when there is time to learn it.
</details>

**Exercise 3.** Turn the paper's regularisers back on: `train_augment = "ssl"` and `head_dropout = 0.5`. How
many epochs does the run now need to leave chance behind?

<details><summary>Solution</summary>

Noticeably more: each regulariser lowers the held-out accuracy reached in the same number of steps, and
together they keep the run near chance for its first epochs. Independent crops, flips and colour
changes of the three clips add differences that have nothing to do with speed, and dropout hides half of the
head's evidence at each step; both make the learned features more robust in a long run, and both slow down the
first few hundred steps. The package applies `"ssl"` augmentation to SSL clips by default
(`PretrainDataset(ssl_augment=None)` with a named `augment`), as the paper does; the course's STCLR preset uses
the light set instead: a crop of 30 % of the frame changes a clip's apparent speed by up to 1.8×, and on frozen
features the pretext's held-out accuracy dropped with Sec. 4.2.1's set (`docs/benchmarks.md`, "ssl_head_probe").
</details>

**Exercise 4.** Compute the theoretical label distribution for $C_2 = 0.5$ and check it with 4000 sampled
tuples.

<details><summary>Solution</summary>

$P(12) = P(13) = P(23) = 0.5/3 \approx 0.167$ and $P(\text{None}) = 0.5$.

```python
r = np.random.default_rng(0)
ts = [draw_ssl_tuple([300] * 8, i % 8, r, c1=c1, c2=0.5, length=clip_len, speeds=speeds) for i in range(4000)]
print(np.bincount([t.label for t in ts], minlength=4) / len(ts))
```
</details>

## References

- STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
  Representation*, Neurocomputing): **Sec. 3.3 (the same speed localization pretext, Fig. 4)**,
  **Sec. 4.2.1 (SSL-only pretraining: K = 3, S = 2, C1 = 0.6, C2 = 0.75, max skip 16, dropout 0.5; Table 2)**,
  Eq. 1.
- TCLR: I. Dave, R. Gupta, M. N. Rizve, M. Shah, *TCLR: Temporal contrastive learning for video
  representation*, CVIU 2022 (the contrastive part STCLR adds the pretext to).
- Speed pretexts: S. Benaim et al., *SpeedNet*, CVPR 2020; J. Wang, J. Jiao, Y.-H. Liu, *Self-supervised video
  representation learning by pace prediction*, ECCV 2020.
- Residual frames: L. Tao, X. Wang, T. Yamasaki, *Rethinking motion representation: residual frames with 3D
  ConvNets*, IEEE TIP 2021 (arXiv 2020).
- Kit: `stclr/sampling.py` (`ssl_tuple`, `draw_ssl_tuple`, `label_of_speeds`), `stclr/models.py` (`SSLHead`),
  `stclr/losses.py` (`same_speed_localization`), `stclr/plan.py` (tuples drawn within a batch); the pretext and
  the kit's reading of it (speeds that fit, the measured plateau at $\log 4$): [docs/method.md](../docs/method.md),
  sections 3 and 8.
- Terms: [pretext task](../docs/glossary.md#pretext-task), [skip rate](../docs/glossary.md#skip-rate-speed),
  [chance level](../docs/glossary.md#chance-level), [OneCycle schedule](../docs/glossary.md#onecycle-schedule).
""")
