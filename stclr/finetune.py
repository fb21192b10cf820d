"""Supervised fine-tuning for action recognition (paper Sec. 4.2.2): ``run_finetune(cfg) -> run_dir``.

The protocol: a pretrained backbone (or a random one, the baseline) + a fresh :class:`~stclr.models.ClassifierHead`
(two FC layers, dropout 0.9 between), all layers trained with cross-entropy; SGD (lr 3e-3, wd 6e-3, momentum 0.9),
batch 16, OneCycle. Training clips: one random clip per video per epoch, 16 frames at skip 4, resized to
128x171, a random 112x112 crop, horizontal flip and colour jitter (``stclr.augment``'s "finetune" recipe).

Test (video level): 10 uniformly spaced clips x 10 crops (centre + 4 corners, with and without horizontal flip)
per test video; the softmax probabilities of all 100 views are averaged and the video is classified by the
mean. ``metrics.json`` reports that video-level accuracy (the paper's number) and, labelled as such, the
clip-level accuracy (each view classified on its own), a confusion matrix and per-class accuracy.

    python -m stclr finetune checkpoint=runs/stclr-r3d_18-s0 data.root=/data/UCF-101

The loop has pretraining's shape (:mod:`stclr.engine`): the same run folder, resume point (mid-epoch too), budget
(``time_budget_s`` counts the seconds trained before a resume) and checkpoints; its step is :func:`classifier_step`.
The clips come from :mod:`stclr.data.clips`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from stclr.config import ConfigError, FinetuneConfig, to_dict
from stclr.data.clips import (EpochOrderSampler, TrainClipDataset, clip_dataset, eval_loader, probe_frames,
                              steps_per_epoch, train_clip_loader)
from stclr.data.loader import frames_cache_file
from stclr.data.splits import Split, load_subset
from stclr.engine import (Budget, Checkpoints, EpochStats, Progress, open_run, preempted, resume_from, seed_epoch,
                          stop_signal, write_run_info)
from stclr.optim import build_optimizer, build_scheduler, step_scheduler
from stclr.retrieval import build_eval_backbone
from stclr.runinfo import (StopFlag, autocast, deterministic, stop_on_signals, to_device, to_run_device,
                           write_json)


class VideoClassifier(nn.Module):
    """backbone -> pooled features -> ClassifierHead. State-dict keys ``backbone.*`` / ``head.*`` (so a fine-tuned
    checkpoint also serves retrieval: :func:`stclr.checkpoint.load_backbone_weights` finds ``backbone.*``)."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


# ----------------------------------------------------------------------------------------------------- test


def multi_crop(x: torch.Tensor, crop: int, n_crops: int) -> torch.Tensor:
    """``[..., C, T, H, W]`` -> ``[..., n_crops, C, T, crop, crop]``: 1 = centre; 5 = centre + 4 corners;
    10 = those 5 and their horizontal flips (the paper's 10 crops)."""
    if n_crops not in (1, 5, 10):
        raise ConfigError(f"test_crops: must be 1, 5 or 10, got {n_crops}")
    H, W = x.shape[-2:]
    if crop > H or crop > W:
        raise ConfigError(f"crop: {crop} is larger than the resized frame {H}x{W}")
    corners = [((H - crop) // 2, (W - crop) // 2), (0, 0), (0, W - crop), (H - crop, 0), (H - crop, W - crop)]
    views = [x[..., t : t + crop, l : l + crop] for t, l in corners[: min(n_crops, 5)]]
    if n_crops == 10:
        views += [v.flip(-1) for v in views]
    return torch.stack(views, dim=-5)


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, *, crop: int, n_crops: int, num_classes: int,
             amp: bool = True, channels_last: bool = False, chunk: int = 64, show_progress: bool = False) -> dict:
    """Video-level and clip-level accuracy over ``loader`` (items: clips ``[n, C, T, H, W]``, label)."""
    model.eval()
    video_pred, clip_correct, clip_total, labels = [], 0, 0, []
    for clips, y in tqdm(loader, desc="test", disable=not show_progress, leave=False):
        views = multi_crop(clips, crop, n_crops)  # [B, n, k, C, T, c, c]
        B = views.shape[0]
        flat = views.flatten(0, 2)
        probs = []
        for lo in range(0, flat.shape[0], chunk):  # bounded memory: 8 videos x 100 views is a lot of clips
            with autocast(device, amp):
                logits = model(to_device(flat[lo : lo + chunk], device, channels_last))
            probs.append(F.softmax(logits.float(), dim=1).cpu())
        p = torch.cat(probs).view(B, -1, num_classes)  # [B, views, classes]
        y = torch.as_tensor(y).long()
        video_pred.append(p.mean(1).argmax(1))
        clip_correct += (p.argmax(2) == y[:, None]).sum().item()
        clip_total += p.shape[0] * p.shape[1]
        labels.append(y)
    pred, true = torch.cat(video_pred), torch.cat(labels)
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
    conf.index_put_((true, pred), torch.ones_like(true), accumulate=True)  # rows: true class, cols: predicted
    support = conf.sum(1)
    per_class = [100.0 * conf[c, c].item() / n if n else None for c, n in enumerate(support.tolist())]
    return {
        "video_accuracy": 100.0 * (pred == true).float().mean().item(),
        "clip_accuracy": 100.0 * clip_correct / max(1, clip_total),
        "n_videos": len(true),
        "confusion_matrix": conf.tolist(),
        "per_class_accuracy": per_class,
        "predictions": pred.tolist(),
    }


# ----------------------------------------------------------------------------------------------------- main


def classifier_step(model: nn.Module, optimizer: torch.optim.Optimizer, params, x: torch.Tensor, y: torch.Tensor,
                    device: torch.device, *, amp: bool = False, grad_clip: float | None = None) -> tuple[float, int]:
    """One fine-tuning step (Sec. 4.2.2): cross-entropy of the classifier's logits for clips ``x`` [B, C, T, H, W]
    and labels ``y`` [B] (the forward under bf16 autocast when ``amp`` on CUDA), backward, gradient clipping of
    ``params``, the optimiser step. Returns (the loss, how many of the B clips were classified right)."""
    with autocast(device, amp):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    return loss.item(), int((logits.argmax(1) == y).sum().item())


class FinetuneData(NamedTuple):
    train: Split
    test: Split
    loader: DataLoader  # training clips, steps_per_epoch batches an epoch
    order: EpochOrderSampler  # the loader's sampler: set_epoch(epoch, start) before each epoch
    steps_per_epoch: int
    test_loader: DataLoader  # test_clips uniformly spaced clips per test video


def build_finetune_data(cfg: FinetuneConfig, device: torch.device) -> FinetuneData:
    """The training clips (one random clip per video and epoch, the "finetune" augmentation) and the test clips
    (``test_clips`` per video, resized, uncropped: :func:`evaluate` crops them) of ``cfg.data``. Frame counts are
    probed once and cached beside the runs (``frames_cache_file``)."""
    from stclr.augment import build_train_augment

    train, test = load_subset(cfg.data, "train"), load_subset(cfg.data, "test")
    cache, threads = frames_cache_file(cfg.out_dir, cfg.data), max(1, cfg.data.workers())
    train_ds = TrainClipDataset(
        train, probe_frames(train, cache, threads), clip_len=cfg.clip_len, skip=cfg.skip,
        transform=build_train_augment(cfg.crop, "finetune", finetune_resize=cfg.resize), seed=cfg.seed,
        policy=cfg.data.short_policy, backend=cfg.data.backend,
    )
    test_ds = clip_dataset(test, n_clips=cfg.test_clips, clip_len=cfg.clip_len, skip=cfg.skip, size=cfg.resize,
                           crop=None, data=cfg.data, frames_cache=cache, probe_threads=threads)
    steps = steps_per_epoch(len(train_ds), cfg.batch_size, cfg.max_steps_per_epoch)
    loader, order = train_clip_loader(train_ds, cfg.batch_size, seed=cfg.seed, steps_per_epoch=steps,
                                      num_workers=cfg.data.workers(), device=device)
    return FinetuneData(train, test, loader, order, steps,
                        eval_loader(test_ds, cfg.eval_batch_size, cfg.data.workers(), device))


def build_classifier(cfg: FinetuneConfig, num_classes: int) -> tuple[VideoClassifier, dict]:
    """(the backbone of ``cfg.checkpoint``, or a seeded random one, + a fresh :class:`~stclr.models.ClassifierHead`
    seeded by ``cfg.seed``; the backbone's description). A frozen backbone (``freeze_backbone``) trains no weight."""
    from stclr.models import ClassifierHead

    backbone, init = build_eval_backbone(cfg.arch, cfg.checkpoint, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    model = VideoClassifier(backbone, ClassifierHead(backbone.feature_dim, cfg.hidden, num_classes, cfg.dropout))
    if cfg.freeze_backbone:
        backbone.requires_grad_(False)
    return model, init


def finetune_metrics(result: dict, data: FinetuneData, cfg: FinetuneConfig, init: dict, *, epochs_done: int,
                 train_seconds: float, seconds: float) -> dict:
    """``metrics.json`` of a fine-tuning: :func:`evaluate`'s ``result`` labelled (video level: the paper's number;
    clip level), per class, the confusion matrix, every test video's prediction, and how the run trained."""
    return {
        "video_accuracy": result["video_accuracy"],
        "clip_accuracy": result["clip_accuracy"],
        "accuracy_note": "video_accuracy: softmax averaged over test_clips x test_crops views per video (the paper's "
                         "number); clip_accuracy: each view classified on its own",
        "per_class_accuracy": dict(zip(data.test.classes, result["per_class_accuracy"])),
        "confusion_matrix": result["confusion_matrix"],
        "confusion_matrix_note": "rows: true class, columns: predicted class (order of 'classes')",
        "classes": list(data.test.classes),
        "n_test_videos": result["n_videos"],
        "n_train_videos": len(data.train),
        "test_clips": cfg.test_clips,
        "test_crops": cfg.test_crops,
        "epochs_trained": epochs_done,
        "train_seconds": train_seconds,
        "seconds": seconds,
        "backbone": init,  # arch, checkpoint, init ("pretrained" | "random"), seed
        "test_predictions": [{"path": it.path, "label": it.label, "pred": p}
                             for it, p in zip(data.test.items, result["predictions"])],
        "config": to_dict(cfg),
    }


def default_run_name(cfg: FinetuneConfig) -> str:
    if not cfg.checkpoint:
        return f"finetune-random-s{cfg.seed}"
    p = Path(cfg.checkpoint)
    return f"finetune-{p.name if p.is_dir() else p.parent.name + '-' + p.stem}-s{cfg.seed}"


def run_finetune(cfg: FinetuneConfig) -> Path:
    """Fine-tune (or, without a checkpoint, train from scratch) and test; returns the run folder.

    Preemption, as in :func:`stclr.train.run_pretrain`: SIGTERM or SIGINT finishes the optimiser step in progress,
    saves a resumable mid-epoch ``last.pt`` and raises :class:`stclr.runinfo.Preempted` (exit code 143 / 130);
    ``resume=True`` continues to the weights, optimiser state and test result of an uninterrupted run."""
    with deterministic(cfg.deterministic), stop_on_signals() as stop:
        return _finetune(cfg, stop)


def _finetune(cfg: FinetuneConfig, stop: StopFlag | None = None) -> Path:
    t_run = time.time()
    run = open_run(cfg, default_run_name(cfg))
    device = run.device

    # ---- data, model, optimiser ----
    data = build_finetune_data(cfg, device)
    model, init = build_classifier(cfg, len(data.train.classes))
    model, use_cl = to_run_device(model, cfg, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(cfg, params)
    scheduler, sched_when = build_scheduler(cfg, optimizer, data.steps_per_epoch)
    if cfg.compile:
        model.backbone.compile()

    # ---- resume, budget, logs ----
    at = resume_from(run, cfg, model=model, optimizer=optimizer, scheduler=scheduler)
    write_run_info(run, cfg, train_videos=len(data.train), test_videos=len(data.test), init=init)
    budget = Budget.of(cfg, at)
    ckpts = Checkpoints(run, cfg, budget, at, model=model, optimizer=optimizer, scheduler=scheduler)
    progress = Progress(cfg.show_progress, data.steps_per_epoch, len(budget.epochs_left(at)), cfg.epochs,
                        name="finetune epoch", few_steps=0)

    def test_now() -> dict:
        return evaluate(model, data.test_loader, device, crop=cfg.crop, n_crops=cfg.test_crops,
                        num_classes=len(data.train.classes), amp=cfg.amp, channels_last=use_cl,
                        show_progress=cfg.show_progress)

    # ---- train ----
    step, epochs_done, stop_sig, out_of_time = at.step, at.epoch, 0, False
    for epoch in budget.epochs_left(at, say=cfg.show_progress):
        i = at.batch if epoch == at.epoch else 0  # > 0: a mid-epoch checkpoint's epoch, continued at batch i
        seed_epoch(cfg.seed, epoch, 0, at, i)  # dropout; the clips are seeded by (seed, epoch, index)
        data.order.set_epoch(epoch, start=i * cfg.batch_size)
        stats = EpochStats(**at.epoch_stats) if i and at.epoch_stats else EpochStats()
        model.train()
        if cfg.freeze_backbone:
            model.backbone.eval()  # frozen: keep its BatchNorm statistics too
        bar = progress.epoch(epoch, i)
        t_wait = time.perf_counter()
        for x, y in data.loader:
            wait, t0 = time.perf_counter() - t_wait, time.perf_counter()
            x, y = to_device(x, device, use_cl), y.to(device)
            loss, correct = classifier_step(model, optimizer, params, x, y, device, amp=cfg.amp,
                                            grad_clip=cfg.grad_clip)
            step += 1
            if sched_when == "step":
                step_scheduler(scheduler, budget.elapsed(), device)
            stats.add({"loss": loss, "correct": correct}, len(y), time.perf_counter() - t0, wait)
            i += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if i >= data.steps_per_epoch:
                break
            mid_epoch = dict(batch_in_epoch=i, stats=stats)
            if stop_sig := stop_signal(stop, device, run.dist):
                ckpts.save(epoch, step, **mid_epoch)  # resumable from this step
                break
            if out_of_time := budget.time_up(device):
                ckpts.save(epoch, step, **mid_epoch)  # a partial epoch, resumable from here (raise the budget)
                break
            t_wait = time.perf_counter()
        bar.close()
        if stop_sig:
            raise preempted(run, stop_sig, step, "finetune", progress)

        # ---- end of epoch (or of the time budget): schedule, metrics, checkpoint, maybe a test ----
        loss = stats.means().get("loss", math.nan)
        if sched_when == "epoch" and not out_of_time:
            scheduler.step(loss)
        row = {"epoch": epoch, "step": step, "loss": loss,
               "train_clip_accuracy": 100.0 * stats.sums.get("correct", 0) / max(1, stats.clips),
               "lr": optimizer.param_groups[0]["lr"], "clips_per_s": stats.throughput(), "data_wait_s": stats.wait_s,
               "train_seconds": budget.elapsed(), "partial_epoch": out_of_time}
        if cfg.eval_every and (epoch + 1) % cfg.eval_every == 0 and epoch + 1 < cfg.epochs and not out_of_time:
            result = test_now()
            row.update(test_video_accuracy=result["video_accuracy"], test_clip_accuracy=result["clip_accuracy"])
        ckpts.epochs.write(row)  # a partial epoch's row is replaced when a resume completes the epoch
        if out_of_time:
            break
        epochs_done = epoch + 1
        ckpts.save(epoch + 1, step, loss=loss)
        progress.epoch_done(epoch, f"loss {loss:.4f}  train acc {row['train_clip_accuracy']:.1f}")
        if budget.time_up(device):
            break
        if epoch + 1 < cfg.epochs and (stop_sig := stop_signal(stop, device, run.dist)):  # asked in the last step
            raise preempted(run, stop_sig, step, "finetune", progress)
    progress.close()

    # ---- test ----
    metrics = finetune_metrics(test_now(), data, cfg, init, epochs_done=epochs_done,
                               train_seconds=budget.elapsed(), seconds=time.time() - t_run)
    write_json(run.dir / "metrics.json", metrics)
    if cfg.show_progress:
        print(f"fine-tuning: video-level accuracy {metrics['video_accuracy']:.2f}%  "
              f"(clip-level {metrics['clip_accuracy']:.2f}%, {metrics['n_test_videos']} test videos)")
    return run.dir
