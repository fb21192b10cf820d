"""Linear probe: a frozen backbone's features + logistic regression -> test accuracy.

A cheaper, training-free-for-the-backbone complement to fine-tuning: the backbone runs once in eval mode over
the train and test videos (the retrieval protocol's clips, features averaged per video and cached), then a
linear classifier is fitted on the train features by full-batch L-BFGS (a convex problem: deterministic and
quick on a CPU) and scored on the test features.

    python -m stclr probe checkpoint=runs/stclr-r3d_18-s0
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from stclr.config import LinearProbeConfig, RetrievalConfig, to_dict
from stclr.data.splits import load_subset
from stclr.retrieval import compute_features, open_evaluation
from stclr.runinfo import env_info, write_json


def fit_logistic_regression(x: torch.Tensor, y: torch.Tensor, num_classes: int, *, l2: float = 1e-4,
                            max_iter: int = 200) -> torch.nn.Linear:
    """Multinomial logistic regression (a Linear layer) fitted by full-batch L-BFGS with an L2 penalty."""
    x, y = x.double(), y.long()
    clf = torch.nn.Linear(x.shape[1], num_classes).double()
    torch.nn.init.zeros_(clf.weight)
    torch.nn.init.zeros_(clf.bias)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(clf(x), y) + l2 * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return clf


def default_run_name(cfg: LinearProbeConfig) -> str:
    if cfg.random_init or not cfg.checkpoint:
        return f"probe-random-s{cfg.seed}"
    p = Path(cfg.checkpoint)
    return f"probe-{p.name if p.is_dir() else p.parent.name + '-' + p.stem}"


def run_linear_probe(cfg: LinearProbeConfig) -> Path:
    """Fit a linear classifier on frozen features; writes ``metrics.json`` (accuracy, per class) and returns
    the run folder."""
    t0 = time.time()
    run, backbone, info = open_evaluation(cfg, default_run_name(cfg))
    device = run.device
    # The features are the retrieval protocol's (paper variant, with this config's clips): share its cache.
    rcfg = RetrievalConfig(arch=info["arch"], checkpoint=cfg.checkpoint, random_init=cfg.random_init,
                           protocol="paper", n_clips=cfg.n_clips, skip=cfg.skip, crop=1.0, clip_len=cfg.clip_len,
                           size=cfg.size, batch_size=cfg.batch_size, cache=cfg.cache, seed=cfg.seed,
                           device=cfg.device, amp=cfg.amp, channels_last=cfg.channels_last,
                           cpu_channels_last=cfg.cpu_channels_last, out_dir=cfg.out_dir,
                           show_progress=cfg.show_progress, data=cfg.data)
    cache_dir = Path(cfg.out_dir) / ".feature_cache" if cfg.cache else None
    train, test = load_subset(cfg.data, "train"), load_subset(cfg.data, "test")
    xtr, ytr, _ = compute_features(rcfg, backbone, info["arch"], train, "train", device, cache_dir)
    xte, yte, _ = compute_features(rcfg, backbone, info["arch"], test, "test", device, cache_dir)
    if cfg.standardize:
        mean, std = xtr.mean(0), xtr.std(0).clamp(min=1e-6)
        xtr, xte = (xtr - mean) / std, (xte - mean) / std
    num_classes = len(train.classes)
    clf = fit_logistic_regression(xtr, ytr, num_classes, l2=cfg.l2, max_iter=cfg.max_iter)
    with torch.no_grad():
        pred_tr, pred = clf(xtr.double()).argmax(1), clf(xte.double()).argmax(1)
    per_class = {name: 100.0 * (pred[yte == c] == c).float().mean().item() if (yte == c).any() else None
                 for c, name in enumerate(test.classes)}
    metrics = {
        "accuracy": 100.0 * (pred == yte).float().mean().item(),
        "train_accuracy": 100.0 * (pred_tr == ytr).float().mean().item(),
        "per_class_accuracy": per_class,
        "classes": list(test.classes),
        "n_train": len(train),
        "n_test": len(test),
        "feature_dim": int(xtr.shape[1]),
        **info,
        "seconds": round(time.time() - t0, 2),
        "config": to_dict(cfg),
    }
    write_json(run.dir / "metrics.json", metrics)
    write_json(run.dir / "env.json", env_info(device, 1, cfg.data.backend))
    if cfg.show_progress:
        print(f"linear probe: test accuracy {metrics['accuracy']:.2f}% (train {metrics['train_accuracy']:.2f}%)")
    return run.dir
