"""Pretraining methods: a batch (docs/architecture.md, "Pretraining batch") + a model -> named losses.

=====================  ========================  ======================================================
method                 losses (``total`` = sum)  batch keys used
=====================  ========================  ======================================================
``stclr``              ssl + ic + sll (Eq. 1)    clips, ic_pair, ssl_clips, ssl_labels
``simplified_tclr``    ic + sll                  clips, ic_pair
``tclr``               ic + ll + gl (TCLR)       clips (N = 4 dense), global_clips; needs a ``*_tclr`` net
``ssl``                ssl                       ssl_clips, ssl_labels
``ic``                 ic                        clips, ic_pair (only the two paired clips are encoded)
=====================  ========================  ======================================================

All clips of a batch go through the backbone in as few calls as possible: the local clips, the SSL tuple
clips and the global clips are concatenated into ONE call when their ``[C, T, H, W]`` agree (one call per
distinct shape otherwise), then split. So BatchNorm statistics are taken over every clip of the batch.

IC pair (Eq. 2): ``G_i = proj(clips[i, ic_pair[i, 0], view a])``, ``G'_i = proj(clips[i, ic_pair[i, 1], view b])``.
SLL (Eq. 3): anchors view a, positives view b, over the N projected local clips of each video.
SSL: the SSL head sees backbone features (512-d), not projections (Fig. 4).

TCLR (``method="tclr"``) reproduces the reference code's objective (github.com/DAVEISHAN/TCLR,
``train_gen_all_step.py``) term for term and scale for scale:

- ``ic`` = NT-Xent between the global clip's two views (``loss_ic2``) + all ordered pairs of the 8 local
  clip features (4 dense clips x 2 views) as positives, summed and divided by 4 (``loss_ic1``);
  ``ic_variant="pair"`` uses the Eq. 2 pair of dense clips from ``ic_pair`` instead.
- ``ll`` = per-video NT-Xent over the 4 dense clips, SUMMED over videos = ``sparse_local_local(symmetric=True) * B / 4``.
- ``gl`` = :func:`~stclr.losses.tclr_global_local` summed over the 2 x 2 (global view, local view) pairs. The
  global clip's layer4 timesteps are pooled to 4 if the net keeps more (e.g. 32 frames); fewer is an error.
  Each kind of feature (local clips, pooled global clips, global timesteps) is projected in its own call, as
  TCLR's separate MLP calls keep their BatchNorm statistics apart.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from . import losses as L
from .method_table import METHOD_TABLE

# Views of the one method table (stclr.method_table): the losses each method sums, its batch's keys, its tau.
METHODS: dict[str, tuple[str, ...]] = {n: m.losses for n, m in METHOD_TABLE.items()}
BATCH_KEYS: dict[str, tuple[str, ...]] = {n: m.batch_keys for n, m in METHOD_TABLE.items()}
DEFAULT_TEMPERATURE: dict[str, float] = {n: m.temperature for n, m in METHOD_TABLE.items()}


def _memory_format(backbone) -> torch.memory_format:
    # Follow the backbone: a model moved to channels_last_3d wants its input in that layout too.
    w = backbone.stem[0].weight
    cl = w.is_contiguous(memory_format=torch.channels_last_3d) and not w.is_contiguous()
    return torch.channels_last_3d if cl else torch.contiguous_format


def encode(backbone, groups: list[torch.Tensor], *, keep_time: bool = False) -> list[torch.Tensor]:
    """Features of several ``[n_k, C, T, H, W]`` clip batches, with one backbone call per distinct clip shape."""
    fmt = _memory_format(backbone)
    by_shape: dict[tuple, list[int]] = {}
    for k, x in enumerate(groups):
        by_shape.setdefault(tuple(x.shape[1:]), []).append(k)
    out: list[torch.Tensor | None] = [None] * len(groups)
    for ks in by_shape.values():
        x = torch.cat([groups[k] for k in ks]) if len(ks) > 1 else groups[ks[0]]
        feats = backbone(x.contiguous(memory_format=fmt), keep_time=keep_time)
        for k, f in zip(ks, feats.split([groups[k].shape[0] for k in ks])):
            out[k] = f
    return out  # type: ignore[return-value]


def compute_losses(
    method: str,
    batch: dict,
    model,
    *,
    temperature: float | None = None,
    weights: dict[str, float] | None = None,
    ic_variant: str | None = None,
    symmetric_sll: bool = False,
    gather: bool = False,
    ssl_input: str = "frames",
) -> dict[str, torch.Tensor]:
    """Named losses of ``method`` on ``batch`` plus ``"total"`` = sum of ``weights[name] * loss`` (default 1).

    ``model`` has ``backbone``, ``projection`` and ``ssl_head`` (:class:`stclr.models.STCLRModel`).
    ``temperature`` defaults to 0.3 (STCLR family, Sec. 4.2.2) or 0.1 (TCLR). ``ic_variant``: ``"pair"``
    (Eq. 2, default except for tclr) or ``"tclr"`` (TCLR's all-local-pairs IC, plus the global-clip IC when
    the batch has global clips). ``symmetric_sll`` also uses view-b anchors in L_SLL (Eq. 3 has view a
    only). ``gather`` all-gathers the IC negatives across DDP ranks (pair variant). ``ssl_input``: ``"frames"``
    (the paper) or ``"diff"``: the SSL tuple clips ``[B, 3, C, T, H, W]`` enter the backbone as adjacent-frame
    differences ``[B, 3, C, T-1, H, W]`` (:func:`frame_differences`).
    """
    if ssl_input not in ("frames", "diff"):
        raise ValueError(f"ssl_input must be 'frames' or 'diff', got {ssl_input!r}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)}")
    missing = [k for k in BATCH_KEYS[method] if k not in batch]
    if missing:
        raise KeyError(f"method {method!r} needs batch keys {missing}")
    for head, needed in (("projection", method != "ssl"), ("ssl_head", "ssl" in METHODS[method])):
        if needed and getattr(model, head, None) is None:
            raise ValueError(f"method {method!r} needs model.{head}; build the model with build_model(..., method={method!r})")
    tau = DEFAULT_TEMPERATURE[method] if temperature is None else temperature
    ic_variant = ic_variant or ("tclr" if method == "tclr" else "pair")
    if ic_variant not in ("pair", "tclr"):
        raise ValueError(f"ic_variant must be 'pair' or 'tclr', got {ic_variant!r}")

    if ssl_input == "diff" and "ssl_clips" in batch:
        batch = {**batch, "ssl_clips": frame_differences(batch["ssl_clips"])}
    if method == "tclr":
        out = _tclr(method, batch, model, tau, ic_variant, symmetric_sll, gather)
    else:
        out = _stclr_family(method, batch, model, tau, ic_variant, symmetric_sll, gather,
                            ssl_keeps_bn_stats=ssl_input == "diff" and method != "ssl")
    weights = weights or {}
    out["total"] = sum(weights.get(k, 1.0) * v for k, v in out.items())
    return out


def frame_differences(clips: torch.Tensor) -> torch.Tensor:
    """Residual frames (Tao et al., 2020): ``[..., C, T, H, W]`` -> ``[..., C, T-1, H, W]``, frame t+1 minus frame t.

    What stays still cancels and what moves remains, with a size that grows with the distance moved between
    the two frames -- i.e. with the clip's speed, which is what the same-speed pretext (Sec. 3.3) asks about.
    (Subtracting the clip's mean frame instead keeps the whole trajectory's silhouette, and in the course's
    short runs the pretext then stays at chance on every seed; notebook 05.)"""
    if clips.shape[-3] < 2:
        raise ValueError(f"frame differences need at least 2 frames, got clips of shape {tuple(clips.shape)}")
    return clips[..., 1:, :, :] - clips[..., :-1, :, :]


@contextlib.contextmanager
def frozen_bn_stats(module: torch.nn.Module):
    """BatchNorm layers of ``module`` keep their running statistics during the block: momentum 0 makes the
    update a no-op inside BN's own (autograd-safe) in-place op; batch statistics still normalise in training."""
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    try:
        for m in bns:
            m.momentum = 0.0
        yield
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom


def _pair_index(batch):
    clips, pair = batch["clips"], batch["ic_pair"].to(batch["clips"].device)
    return torch.arange(clips.shape[0], device=clips.device), pair[:, 0], pair[:, 1]


def _stclr_family(method, batch, model, tau, ic_variant, symmetric_sll, gather, ssl_keeps_bn_stats=False):
    """``ssl_keeps_bn_stats``: the SSL tuple clips are encoded in their own call that leaves the backbone's
    BatchNorm running statistics as they were. Frame differences are near zero where frames are raw pixels; mixed
    into the running statistics they would normalise every later *evaluation* (retrieval, fine-tuning: raw frames)
    with the wrong mean and variance. Training itself normalises each call with its own batch statistics."""
    names = METHODS[method]
    out: dict[str, torch.Tensor] = {}
    groups: list[torch.Tensor] = []
    if method == "ic" and ic_variant == "pair":
        # Only the two paired clips feed the loss: don't encode the other 2N - 2.
        i, p0, p1 = _pair_index(batch)
        groups += [batch["clips"][i, p0, 0], batch["clips"][i, p1, 1]]
    elif "ic" in names:
        groups.append(batch["clips"].flatten(0, 2))  # [B*N*2, C, T, H, W], (video, clip, view) order
    if "ssl" in names and not ssl_keeps_bn_stats:
        groups.append(batch["ssl_clips"].flatten(0, 1))  # [B*3, C, T, H, W]
    feats = encode(model.backbone, groups)
    if "ssl" in names and ssl_keeps_bn_stats:
        with frozen_bn_stats(model.backbone):
            feats += encode(model.backbone, [batch["ssl_clips"].flatten(0, 1)])

    if "ic" in names:
        B = batch["clips"].shape[0]
        if method == "ic" and ic_variant == "pair":
            g, g2 = model.projection(torch.cat(feats[:2])).split(B)
            out["ic"] = L.instance_contrastive(g, g2, tau, gather=gather)
        else:
            N = batch["clips"].shape[1]
            z = model.projection(feats[0]).reshape(B, N, 2, -1)  # one call: BN over all local clips
            if ic_variant == "pair":
                i, p0, p1 = _pair_index(batch)
                out["ic"] = L.instance_contrastive(z[i, p0, 0], z[i, p1, 1], tau, gather=gather)
            else:
                out["ic"] = L.instance_contrastive_all_pairs(z.flatten(1, 2), tau, reduction="sum") / 4
            if "sll" in names:
                out["sll"] = L.sparse_local_local(z[:, :, 0], z[:, :, 1], tau, symmetric=symmetric_sll)
    if "ssl" in names:
        f = feats[-1].reshape(-1, 3, feats[-1].shape[-1])
        out["ssl"] = L.same_speed_localization(model.ssl_head(f), batch["ssl_labels"].to(f.device))
    return {k: out[k] for k in names}


def _tclr(method, batch, model, tau, ic_variant, symmetric_sll, gather):
    if not getattr(model.backbone, "keeps_time", False):
        raise ValueError("method 'tclr' needs per-timestep features: build the backbone as 'r3d_18_tclr' or 'r3d_tiny_tclr'")
    clips, glob = batch["clips"], batch["global_clips"]
    B, N = clips.shape[:2]
    f_local, f_glob = encode(model.backbone, [clips.flatten(0, 2), glob.flatten(0, 1)], keep_time=True)
    T = f_glob.shape[-1]
    if T < N:
        raise ValueError(f"global clip gives {T} timesteps after layer4, fewer than the {N} local clips; use longer global clips")
    if T != N:  # e.g. 32-frame global clips: pool timesteps so that timestep t spans local clip t
        f_glob_t = F.adaptive_avg_pool1d(f_glob, N)
    else:
        f_glob_t = f_glob
    proj = model.projection
    zl = proj(f_local.mean(-1)).reshape(B, N, 2, -1)  # dense local clips, pooled
    zg = proj(f_glob.mean(-1)).reshape(B, 2, -1)  # global clip, pooled (IC only)
    zt = proj(f_glob_t.transpose(1, 2)).reshape(B, 2, N, -1)  # global clip, per timestep (GL)

    out: dict[str, torch.Tensor] = {}
    if ic_variant == "tclr":
        out["ic"] = (L.instance_contrastive(zg[:, 0], zg[:, 1], tau, gather=gather)
                     + L.instance_contrastive_all_pairs(zl.flatten(1, 2), tau, reduction="sum") / 4)
    else:
        i, p0, p1 = _pair_index(batch)
        out["ic"] = L.instance_contrastive(zl[i, p0, 0], zl[i, p1, 1], tau, gather=gather)
    out["ll"] = L.sparse_local_local(zl[:, :, 0], zl[:, :, 1], tau, symmetric=True) * B / N
    out["gl"] = sum(L.tclr_global_local(zt[:, v], zl[:, :, w], tau) for v in range(2) for w in range(2))
    return out


def fake_batch(
    method: str,
    B: int = 2,
    N: int | None = None,
    C: int = 3,
    T: int = 4,
    H: int = 16,
    W: int = 16,
    generator: torch.Generator | None = None,
    *,
    global_T: int | None = None,
) -> dict:
    """A random batch in the pretraining-batch format, with only the keys ``method`` uses (plus ``index``,
    ``plan=None``). N defaults to 5 (4 for tclr); ``ic_pair`` holds two different clip indices per video.
    ``global_T`` sets the global clips' length for tclr (default T)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    N = N if N is not None else (4 if method == "tclr" else 5)
    g = generator
    batch: dict = {"index": torch.arange(B), "plan": None}
    keys = BATCH_KEYS[method]
    if "clips" in keys:
        if N < 2:
            raise ValueError("an IC pair needs N >= 2 local clips")
        batch["clips"] = torch.randn(B, N, 2, C, T, H, W, generator=g)
        p0 = torch.randint(N, (B,), generator=g)
        p1 = (p0 + torch.randint(1, N, (B,), generator=g)) % N  # always != p0
        batch["ic_pair"] = torch.stack([p0, p1], 1)
    if "global_clips" in keys:
        batch["global_clips"] = torch.randn(B, 2, C, global_T or T, H, W, generator=g)
    if "ssl_clips" in keys:
        batch["ssl_clips"] = torch.randn(B, 3, C, T, H, W, generator=g)
        batch["ssl_labels"] = torch.randint(4, (B,), generator=g)
    return batch
