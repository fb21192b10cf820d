"""Nearest-neighbour video retrieval (paper Sec. 4.2.2, 4.3.4), the main measure of feature quality.

Protocol (``docs/method.md`` §5): every split-1 TEST video queries the split-1 TRAIN videos. A video is described by
``n_clips`` uniformly spaced clips (10; the paper also reports 9) at skip 3, each the full frame resized to the
input size; each clip goes through the backbone (no projection head), pooled over space and time to a
512-d vector; the clip vectors are averaged and L2-normalised. Similarity is cosine. R@k counts a query as
correct when ANY of its k nearest train videos has its class, in percent.

``protocol="tclr"`` follows TCLR's evaluation code instead: 9 clips, skip 2, a centre crop of 0.8 of the frame,
and the timesteps kept (a ``*_tclr`` backbone keeps 4 on 16 frames: 4 x 512 = 2048-d).

Every test video is a query: no loader drops a last partial batch (``drop_last`` is never set in evaluation)
and :func:`extract_features` checks it got one feature per video.

    python -m stclr retrieve checkpoint=runs/stclr-r3d_18-s0
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from stclr import checkpoint as ckpt_lib
from stclr.config import RetrievalConfig, config_hash, to_dict
from stclr.data.clips import clip_dataset, eval_loader
from stclr.data.splits import load_subset
from stclr.engine import open_run
from stclr.runinfo import (autocast, env_info, seed_everything, to_device, to_run_device, use_channels_last,
                           write_json)

# --------------------------------------------------------------------------------------------------------------
# The metric (pure)


def similarity_ranking(query_feats: torch.Tensor, gallery_feats: torch.Tensor, top: int, chunk: int = 1024):
    """Indices ``[Q, top]`` and cosine similarities of each query's ``top`` nearest gallery items, nearest
    first. Ties are broken by the lower gallery index (a stable sort), so results are deterministic."""
    q = F.normalize(query_feats.float(), dim=1)
    g = F.normalize(gallery_feats.float(), dim=1)
    top = min(top, g.shape[0])
    idx, sims = [], []
    for lo in range(0, q.shape[0], chunk):  # chunks bound the Q x G similarity matrix's memory
        s = q[lo : lo + chunk] @ g.T
        sorted_s, order = torch.sort(s, dim=1, descending=True, stable=True)
        idx.append(order[:, :top])
        sims.append(sorted_s[:, :top])
    if not idx:
        return torch.empty(0, top, dtype=torch.long), torch.empty(0, top)
    return torch.cat(idx), torch.cat(sims)


def similarity_zscores(query_feats: torch.Tensor, gallery_feats: torch.Tensor, sims: torch.Tensor, chunk: int = 1024):
    """``sims`` (``[Q, top]`` cosine similarities, e.g. from :func:`similarity_ranking`) as z-scores: standard
    deviations above each query's mean similarity to the whole gallery. Pooled CNN features share a large common
    component, so raw cosine similarities all sit near 1; the z-score says how much a neighbour stands out. It is
    monotonic in the similarity per query, so the ranking (and R@k) is unchanged."""
    q = F.normalize(query_feats.float(), dim=1)
    g = F.normalize(gallery_feats.float(), dim=1)
    out = []
    for lo in range(0, q.shape[0], chunk):
        s = q[lo : lo + chunk] @ g.T
        mean = s.mean(dim=1, keepdim=True)
        std = s.std(dim=1, keepdim=True) if s.shape[1] > 1 else torch.ones_like(mean)
        out.append((sims[lo : lo + chunk] - mean) / std.clamp_min(1e-12))
    return torch.cat(out) if out else torch.empty_like(sims)


def recall_at_k(
    query_feats: torch.Tensor,
    query_labels: torch.Tensor | Sequence[int],
    gallery_feats: torch.Tensor,
    gallery_labels: torch.Tensor | Sequence[int],
    ks: Sequence[int] = (1, 5, 10, 20),
) -> dict[int, float]:
    """R@k in percent: the share of queries with at least one same-class item among their k nearest gallery
    items (cosine similarity; features need not be normalised). A k beyond the gallery size counts the whole
    gallery."""
    ql = torch.as_tensor(query_labels).long().cpu()
    gl = torch.as_tensor(gallery_labels).long().cpu()
    if len(ql) != query_feats.shape[0] or len(gl) != gallery_feats.shape[0]:
        raise ValueError("features and labels differ in length")
    if len(ql) == 0:
        raise ValueError("no queries")
    kmax = min(max(ks), len(gl))
    idx, _ = similarity_ranking(query_feats.cpu(), gallery_feats.cpu(), kmax)
    hit = (gl[idx] == ql[:, None]).cumsum(1) > 0  # [Q, kmax]: any same-class item among the first j+1
    return {int(k): 100.0 * hit[:, min(k, kmax) - 1].float().mean().item() for k in ks}


def query_hits(metrics: dict) -> dict[int, bool]:
    """Query index -> whether its nearest train video has its class (its R@1 hit), from the ``metrics.json`` that
    :func:`run_retrieval` writes (its ``neighbours``)."""
    if "neighbours" not in metrics:
        raise ValueError("these metrics hold no per-query neighbours (not written by run_retrieval?)")
    return {int(n["query"]): n["nn_labels"][0] == n["label"] for n in metrics["neighbours"]}


def paired_hits(hits_a: dict, hits_b: dict) -> tuple[list[bool], list[bool]]:
    """Two runs' per-query R@1 hits (:func:`query_hits`; keys may be ints or, read back from JSON, strings) as two
    lists aligned by query index, for :func:`bootstrap_gain_sd`. Raises ValueError unless both runs scored the same
    queries: a gain measured on different test videos is not a paired one."""
    a, b = ({int(q): bool(h) for q, h in d.items()} for d in (hits_a, hits_b))
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))
        raise ValueError(f"the two retrievals scored different queries ({len(a)} and {len(b)}; "
                         f"{len(only)} in one only, e.g. {only[:5]})")
    q = sorted(a)
    return [a[i] for i in q], [b[i] for i in q]


def bootstrap_gain_sd(hits_a: Sequence[bool], hits_b: Sequence[bool], n: int = 2000, seed: int = 0) -> float:
    """The measurement noise of a retrieval gain: the standard deviation, in points, of R@1(b) - R@1(a) over ``n``
    bootstrap resamples of the queries (both models scored on the same resampled queries). ``hits_a`` and
    ``hits_b`` are per-query R@1 hits, aligned by query (:func:`query_hits`). With Q queries a single R@1 near 50 %
    already moves by about 50 / sqrt(Q) points; a gain smaller than twice this figure may be the luck of which
    test videos were drawn rather than the features."""
    a = torch.as_tensor(list(hits_a), dtype=torch.float64)
    b = torch.as_tensor(list(hits_b), dtype=torch.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two equal-length lists of per-query hits, got {tuple(a.shape)} and {tuple(b.shape)}")
    idx = torch.randint(len(a), (n, len(a)), generator=torch.Generator().manual_seed(seed))
    return float(100 * (b[idx].mean(1) - a[idx].mean(1)).std(correction=0))


# --------------------------------------------------------------------------------------------------------------
# Backbone and features (shared with fine-tuning and the linear probe)


def resolve_arch(arch: str | None, checkpoint: str | None) -> str:
    """The architecture to build: ``arch`` if given, else the checkpoint's (its stored config), else r3d_18."""
    if arch:
        return arch
    if checkpoint:
        cfg = torch.load(ckpt_lib.find_checkpoint(checkpoint), map_location="cpu", weights_only=True).get("config") or {}
        if cfg.get("arch"):
            return cfg["arch"]
    return "r3d_18"


def build_eval_backbone(arch: str | None, checkpoint: str | None, *, random_init: bool = False, seed: int = 0):
    """A backbone with pretrained weights from ``checkpoint`` (a run folder or .pt), or seeded random weights
    when ``random_init`` (or no checkpoint). Returns (backbone, info dict for metrics.json)."""
    from stclr.models import build_backbone

    arch = resolve_arch(arch, None if random_init else checkpoint)
    torch.manual_seed(seed)  # random init is reproducible
    backbone = build_backbone(arch)
    info = {"arch": arch, "checkpoint": None, "init": "random", "seed": seed}
    if checkpoint and not random_init:
        loaded = ckpt_lib.load_backbone_weights(backbone, checkpoint)
        info.update(checkpoint=loaded["path"], init="pretrained", tensors_loaded=loaded["loaded"])
    return backbone, info


def open_evaluation(cfg, default_name: str):
    """(run, backbone, its description) of an evaluation (retrieval, linear probe): seeded by ``cfg.seed``, its run
    folder opened (:func:`stclr.engine.open_run`), the backbone of ``cfg.checkpoint`` (or a seeded random one) on
    the run's device."""
    seed_everything(cfg.seed)
    run = open_run(cfg, default_name, training=False)
    backbone, info = build_eval_backbone(cfg.arch, cfg.checkpoint, random_init=cfg.random_init, seed=cfg.seed)
    backbone, _ = to_run_device(backbone, cfg, run.device)
    return run, backbone, info


@torch.no_grad()
def extract_features(
    backbone: torch.nn.Module,
    loader,
    device: torch.device,
    *,
    keep_time: bool = False,
    amp: bool = True,
    channels_last: bool = False,
    expected: int | None = None,
    show_progress: bool = False,
    desc: str = "features",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One L2-normalised feature per video: backbone features of each clip (``[D]``, or ``[D*T']`` with
    ``keep_time``), averaged over the video's clips. ``loader`` yields ``(clips [B, n, C, T, H, W], labels [B])``.
    Returns (features [V, D'] float32 on CPU, labels [V]); raises if ``expected`` videos were not all seen."""
    backbone.eval()
    feats, labels = [], []
    for clips, y in tqdm(loader, desc=desc, disable=not show_progress, leave=False):
        B, n = clips.shape[:2]
        x = to_device(clips.flatten(0, 1), device, channels_last)
        with autocast(device, amp):
            f = backbone(x, keep_time=keep_time) if keep_time else backbone(x)
        f = f.float().flatten(1).view(B, n, -1).mean(1)  # average over the video's clips
        feats.append(F.normalize(f, dim=1).cpu())
        labels.append(torch.as_tensor(y).long().cpu())
    out_f = torch.cat(feats) if feats else torch.empty(0)
    out_l = torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)
    if expected is not None and len(out_l) != expected:
        raise RuntimeError(f"{desc}: got features for {len(out_l)} videos, expected {expected} (a video was dropped)")
    return out_f, out_l


# --------------------------------------------------------------------------------------------------------------
# The command


def _file_fingerprint(path: str | None) -> str:
    if not path:
        return "none"
    p = ckpt_lib.find_checkpoint(path)
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def feature_cache_key(cfg: RetrievalConfig, arch: str, subset: str) -> str:
    """Features depend on the weights and on how clips are made, nothing else."""
    keys = ("protocol", "n_clips", "skip", "crop", "clip_len", "size", "random_init", "seed")
    fields = {k: getattr(cfg, k) for k in keys}
    fields.update(arch=arch, subset=subset, data=config_hash(to_dict(cfg.data), ignore={"num_workers"}),
                  weights=_file_fingerprint(None if cfg.random_init else cfg.checkpoint))
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def feature_cache_dir(cfg: RetrievalConfig) -> Path | None:
    """Where ``cfg``'s features are cached: ``cfg.cache_dir``, else ``out_dir/.feature_cache``; None when caching
    is off. The cache key (:func:`feature_cache_key`) names the weights and the clips, so one folder can serve
    several notebooks (notebook 08 reads notebook 06's features of the same two backbones)."""
    if not cfg.cache:
        return None
    return Path(cfg.cache_dir) if cfg.cache_dir else Path(cfg.out_dir) / ".feature_cache"


def default_run_name(cfg: RetrievalConfig) -> str:
    if cfg.random_init or not cfg.checkpoint:
        tag = f"random-s{cfg.seed}"
    else:
        p = Path(cfg.checkpoint)
        tag = p.name if p.is_dir() else f"{p.parent.name}-{p.stem}"
    return f"retrieval-{cfg.protocol}-{tag}"


def compute_features(cfg: RetrievalConfig, backbone, arch: str, split, subset: str, device, cache_dir: Path | None):
    """Features of one subset, read from / written to the cache when enabled."""
    from stclr.data.loader import frames_cache_file

    cache = cache_dir / f"{subset}-{feature_cache_key(cfg, arch, subset)}.pt" if cache_dir is not None else None
    if cache is not None and cache.exists():
        c = torch.load(cache, map_location="cpu", weights_only=True)
        if c["feats"].shape[0] == len(split):
            return c["feats"], c["labels"], True
    size = cfg.size
    ds = clip_dataset(split, n_clips=cfg.n_clips, clip_len=cfg.clip_len, skip=cfg.skip, size=size, crop=cfg.crop,
                      data=cfg.data, frames_cache=frames_cache_file(cfg.out_dir, cfg.data) if cfg.cache else None,
                      probe_threads=max(1, cfg.data.workers()))
    loader = eval_loader(ds, cfg.batch_size, cfg.data.workers(), device)
    feats, labels = extract_features(
        backbone, loader, device, keep_time=cfg.protocol == "tclr", amp=cfg.amp,
        channels_last=use_channels_last(cfg, device),
        expected=len(split), show_progress=cfg.show_progress, desc=f"{subset} features",
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        ckpt_lib.atomic_save({"feats": feats, "labels": labels, "paths": [it.path for it in split.items]}, cache)
    return feats, labels, False


def run_retrieval(cfg: RetrievalConfig) -> Path:
    """Retrieval R@k of test queries against the train gallery; writes ``metrics.json`` (R@k, and each query's
    ``top_n`` nearest train videos, for galleries) in the run folder, which it returns."""
    cfg = cfg.resolved()
    t0 = time.time()
    run, backbone, info = open_evaluation(cfg, default_run_name(cfg))
    device = run.device
    cache_dir = feature_cache_dir(cfg)

    train, test = load_subset(cfg.data, "train"), load_subset(cfg.data, "test")
    g_feats, g_labels, g_cached = compute_features(cfg, backbone, info["arch"], train, "train", device, cache_dir)
    q_feats, q_labels, q_cached = compute_features(cfg, backbone, info["arch"], test, "test", device, cache_dir)

    recall = recall_at_k(q_feats, q_labels, g_feats, g_labels, cfg.ks)
    nn_idx, nn_sim = similarity_ranking(q_feats, g_feats, cfg.top_n)
    nn_z = similarity_zscores(q_feats, g_feats, nn_sim)
    neighbours = [
        {
            "query": i,
            "path": test.items[i].path,
            "label": int(q_labels[i]),
            "nn": nn_idx[i].tolist(),
            "nn_paths": [train.items[j].path for j in nn_idx[i].tolist()],
            "nn_labels": [int(g_labels[j]) for j in nn_idx[i].tolist()],
            "nn_sims": [round(float(s), 5) for s in nn_sim[i]],
            "nn_z": [round(float(z), 3) for z in nn_z[i]],
        }
        for i in range(len(test))
    ]
    metrics = {
        **{f"R@{k}": v for k, v in recall.items()},
        "protocol": cfg.protocol,
        "n_query": len(test),
        "n_gallery": len(train),
        "feature_dim": int(q_feats.shape[1]),
        "classes": list(test.classes),
        "query_root": str(test.root),
        "gallery_root": str(train.root),
        **info,
        "features_cached": {"train": g_cached, "test": q_cached},
        "seconds": round(time.time() - t0, 2),
        "config": to_dict(cfg),
        "neighbours": neighbours,
    }
    write_json(run.dir / "metrics.json", metrics)
    write_json(run.dir / "env.json", env_info(device))
    if cfg.show_progress:
        print("retrieval " + "  ".join(f"R@{k} {v:.2f}" for k, v in recall.items()) + f"  ({len(test)} queries)")
    return run.dir
