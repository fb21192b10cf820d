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
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from stclr import checkpoint as ckpt_lib
from stclr.config import ConfigError, FinetuneConfig, config_hash, save_yaml, to_dict
from stclr.data.loader import frames_cache_file
from stclr.retrieval import build_eval_backbone, clip_dataset, eval_loader, load_subset
from stclr.runinfo import (
    MetricsLog,
    Preempted,
    StopFlag,
    ignore_stop_signals,
    stop_on_signals,
    autocast,
    env_info,
    resolve_device,
    seed_everything,
    deterministic,
    setup_cpu,
    setup_cuda_speed,
    to_device,
    use_channels_last,
    write_json,
)
from stclr.optim import build_optimizer, build_scheduler, step_scheduler
from stclr.train import epoch_seed


class VideoClassifier(nn.Module):
    """backbone -> pooled features -> ClassifierHead. State-dict keys ``backbone.*`` / ``head.*`` (so a fine-tuned
    checkpoint also serves retrieval: :func:`stclr.checkpoint.load_backbone_weights` finds ``backbone.*``)."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


# ----------------------------------------------------------------------------------------------------- data


def probe_frames(split, cache_file: Path | None = None, threads: int = 1) -> list[int]:
    """Usable frame count of every item (its annotated range, for Diving-48), probed once and cached
    (:func:`stclr.data.loader.probe_frame_totals`). An unreadable video raises, naming it."""
    from stclr.data.loader import _frame_range, probe_frame_totals
    from stclr.video import VideoReadError

    paths = [str(split.abspath(item)) for item in split.items]
    counts = []
    for item, path, total in zip(split.items, paths, probe_frame_totals(split.items, paths, cache_file, threads)):
        if isinstance(total, str):
            raise VideoReadError(path, total.removeprefix("unreadable: "))
        counts.append(_frame_range(item, total)[1])
    return counts


class TrainClipDataset(Dataset):
    """One random clip per video and epoch: ``clip_len`` frames at ``skip`` (lowered to fit a short video, as
    the sampling policy says), augmented by ``transform``. Randomness comes from (seed, epoch, index) only, so an
    epoch is the same with any number of workers and after a resume. Items are keyed ``(epoch, index)`` (what
    :class:`EpochOrderSampler` yields: persistent workers learn the epoch from the key) or by a plain index for
    the epoch last given to :meth:`set_epoch`."""

    def __init__(self, split, num_frames: list[int], *, clip_len: int, skip: int, transform, seed: int = 0,
                 policy: str = "fit", backend: str = "auto"):
        self.split, self.num_frames, self.transform = split, num_frames, transform
        self.clip_len, self.skip, self.seed, self.policy, self.backend = clip_len, skip, seed, policy, backend
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key):
        from stclr.sampling import fit_clip
        from stclr.video import read_frames

        epoch, i = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (self.epoch, int(key))
        item, n = self.split.items[i], self.num_frames[i]
        rng = np.random.default_rng([self.seed, epoch, i, 0xF1])
        spec = fit_clip(n, self.skip, self.clip_len, rng, self.policy)
        frames = read_frames(self.split.abspath(item), spec.indices(n) + int(item.start or 0), backend=self.backend)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**62)))
            return self.transform(frames), item.label


class EpochOrderSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, index)`` for the first ``limit`` videos of the epoch's shuffled order (all of them when
    ``limit`` is None), the epoch being the one last given to :meth:`set_epoch`.

    Keying items by epoch lets one DataLoader with persistent workers serve every epoch: its workers keep
    their decoded-video cache and are not started again per epoch (the course's fine-tuning runs are 25
    epochs of 16 steps, and a fresh worker decoded every clip again). The order of epoch e is
    ``randperm(n)`` of a generator seeded with ``epoch_seed(seed, e, 0)`` after one 64-bit draw from it:
    exactly what ``DataLoader(shuffle=True, generator=...)`` gave per epoch before (it draws its workers' base
    seed first), so runs keep the clip order, and the results, they had."""

    def __init__(self, n: int, seed: int, limit: int | None = None):
        self.n, self.seed, self.limit, self.epoch, self.start = int(n), int(seed), limit, 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Serve epoch ``epoch`` from position ``start`` of its order (> 0: a run resumed mid-epoch skips the
        items it already trained on)."""
        self.epoch, self.start = int(epoch), int(start)

    def order(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch, 0))
        torch.empty((), dtype=torch.int64).random_(generator=g)
        return torch.randperm(self.n, generator=g).tolist()

    def __len__(self) -> int:
        return self.n if self.limit is None else min(self.n, self.limit)

    def __iter__(self):
        epoch = self.epoch
        return iter([(epoch, i) for i in self.order(epoch)[self.start : len(self)]])


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


def _preempted(signum: int, step: int, last: Path) -> Preempted:
    exc = Preempted(signum, step, last)
    print(f"stclr finetune: {exc}", file=sys.stderr, flush=True)
    return exc


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
    device = resolve_device(cfg.device)
    setup_cpu(device, cfg.cpu_threads, cfg.data.cache_mb)
    setup_cuda_speed(device, cfg.deterministic)
    run_dir = Path(cfg.out_dir) / (cfg.run_name or default_run_name(cfg))
    last = run_dir / ckpt_lib.LAST
    if last.exists() and not cfg.resume:
        raise FileExistsError(f"{run_dir} already holds a run: pass resume=true to continue it, or another run_name")
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_lib.remove_stale_temps(run_dir)  # half-written checkpoints of a run killed while saving

    # ---- data ----
    train, test = load_subset(cfg.data, "train"), load_subset(cfg.data, "test")
    num_classes = len(train.classes)
    from stclr.augment import build_train_augment

    cache = frames_cache_file(cfg.out_dir, cfg.data)
    train_ds = TrainClipDataset(
        train, probe_frames(train, cache, max(1, cfg.data.workers())), clip_len=cfg.clip_len, skip=cfg.skip,
        transform=build_train_augment(cfg.crop, "finetune", finetune_resize=cfg.resize), seed=cfg.seed,
        policy=cfg.data.short_policy, backend=cfg.data.backend,
    )
    test_ds = clip_dataset(test, n_clips=cfg.test_clips, clip_len=cfg.clip_len, skip=cfg.skip, size=cfg.resize,
                           crop=None, data=cfg.data, frames_cache=cache, probe_threads=max(1, cfg.data.workers()))
    test_loader = eval_loader(test_ds, cfg.eval_batch_size, cfg.data.workers(), device)
    drop_last = len(train_ds) > cfg.batch_size  # a last batch of 1 would break BatchNorm; tiny sets keep it
    steps_per_epoch = len(train_ds) // cfg.batch_size if drop_last else math.ceil(len(train_ds) / cfg.batch_size)
    if cfg.max_steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)

    # ---- model ----
    from stclr.models import ClassifierHead

    backbone, init = build_eval_backbone(cfg.arch, cfg.checkpoint, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    model = VideoClassifier(backbone, ClassifierHead(backbone.feature_dim, cfg.hidden, num_classes, cfg.dropout))
    model = model.to(device)
    use_cl = use_channels_last(cfg, device)
    if use_cl:
        model = model.to(memory_format=torch.channels_last_3d)
    if cfg.freeze_backbone:
        backbone.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(cfg, params)
    scheduler, sched_when = build_scheduler(cfg, optimizer, steps_per_epoch)
    if cfg.compile:
        model.backbone.compile()

    cfg_dict, start_epoch, step, start_batch, partial, resume_rng = to_dict(cfg), 0, 0, 0, None, None
    if cfg.resume and last.exists():
        ckpt = ckpt_lib.load_checkpoint(last, config=cfg_dict)
        ckpt_lib.restore(ckpt, model=model, optimizer=optimizer, scheduler=scheduler, rng=False)
        start_epoch, step = ckpt["epoch"], ckpt["step"]
        start_batch = ckpt.get("batch_in_epoch", 0)
        if start_batch:  # saved mid-epoch (preempted): the epoch's sums and the random stream go on from there
            partial, resume_rng = ckpt["extra"]["epoch_stats"], ckpt["rng"]
    log = MetricsLog(run_dir / "metrics.jsonl")
    log.truncate_from(start_epoch)
    save_yaml(cfg, run_dir / "config.yaml")
    env = env_info(device, 1, cfg.data.backend)
    env.update(config_hash=config_hash(cfg), train_videos=len(train), test_videos=len(test), init=init)
    write_json(run_dir / "env.json", env)

    def test_now() -> dict:
        return evaluate(model, test_loader, device, crop=cfg.crop, n_crops=cfg.test_crops, num_classes=num_classes,
                        amp=cfg.amp, channels_last=use_cl, show_progress=cfg.show_progress)

    # ---- train ----
    t_start, epochs_done, result = time.time(), start_epoch, None
    saved_epoch = start_epoch  # the epoch the last.pt on disk continues from: metrics.jsonl may not run past it
    elapsed0 = getattr(scheduler, "elapsed_s", 0.0)  # a resumed cosine schedule goes on from where it was
    # One loader for the whole run: its persistent workers keep their decoded-video cache across epochs. Its
    # own generator keeps the global RNG (dropout) untouched when iter() draws the workers' base seed.
    workers = cfg.data.workers()
    order = EpochOrderSampler(len(train_ds), cfg.seed, limit=steps_per_epoch * cfg.batch_size)
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=order, drop_last=drop_last,
                        num_workers=workers, persistent_workers=workers > 0, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(cfg.seed),
                        worker_init_fn=ignore_stop_signals if workers > 0 else None)
    stop_sig = 0
    for epoch in range(start_epoch, cfg.epochs):
        seed_everything(epoch_seed(cfg.seed, epoch, 0))  # dropout; the clips are seeded by (seed, epoch, index)
        if start_batch:
            ckpt_lib.set_rng_state(resume_rng)  # the dropout stream as it was after the saved step
        order.set_epoch(epoch, start=start_batch * cfg.batch_size)
        model.train()
        if cfg.freeze_backbone:
            model.backbone.eval()  # frozen: keep its BatchNorm statistics too
        loss_sum, correct, seen, n_batches, wait_s = 0.0, 0, 0, 0, 0.0
        if start_batch:
            loss_sum, correct, seen, n_batches, wait_s = (partial[k] for k in ("loss_sum", "correct", "seen",
                                                                               "n_batches", "wait_s"))
        start_batch = 0
        t_epoch = t_wait = time.perf_counter()
        bar = tqdm(total=steps_per_epoch, desc=f"finetune {epoch + 1}/{cfg.epochs}", disable=not cfg.show_progress,
                   leave=False, dynamic_ncols=True)
        out_of_time = False
        for x, y in loader:
            wait_s += time.perf_counter() - t_wait
            x, y = to_device(x, device, use_cl), y.to(device)
            with autocast(device, cfg.amp):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            step += 1
            if sched_when == "step":
                step_scheduler(scheduler, elapsed0 + time.time() - t_start)
            loss_sum += loss.item()
            correct += (logits.argmax(1) == y).sum().item()
            seen, n_batches = seen + len(y), n_batches + 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if cfg.time_budget_s is not None and time.time() - t_start >= cfg.time_budget_s:
                out_of_time = True
                break
            if n_batches >= steps_per_epoch:
                break
            stop_sig = stop.signum if stop is not None and stop.signum else 0
            if stop_sig:  # preempted: a mid-epoch checkpoint at this step boundary, then stop
                try:
                    ckpt_lib.save_checkpoint(
                        last, model=model, optimizer=optimizer, scheduler=scheduler, epoch=epoch, step=step,
                        batch_in_epoch=n_batches, config=cfg_dict,
                        extra={"epoch_stats": {"loss_sum": loss_sum, "correct": correct, "seen": seen,
                                               "n_batches": n_batches, "wait_s": wait_s}})
                except ckpt_lib.CheckpointWriteError:
                    log.truncate_from(saved_epoch)
                    raise
                break
            t_wait = time.perf_counter()
        bar.close()
        if stop_sig:
            raise _preempted(stop_sig, step, last)
        elapsed = time.time() - t_start
        mean_loss = loss_sum / max(1, n_batches)
        if sched_when == "epoch":
            scheduler.step(mean_loss)
        row = {"epoch": epoch, "step": step, "loss": mean_loss, "train_clip_accuracy": 100.0 * correct / max(1, seen),
               "lr": optimizer.param_groups[0]["lr"], "clips_per_s": seen / max(time.perf_counter() - t_epoch, 1e-9),
               "data_wait_s": wait_s, "train_seconds": elapsed, "partial_epoch": n_batches < steps_per_epoch}
        if cfg.eval_every and (epoch + 1) % cfg.eval_every == 0 and epoch + 1 < cfg.epochs and not out_of_time:
            result = test_now()
            row.update(test_video_accuracy=result["video_accuracy"], test_clip_accuracy=result["clip_accuracy"])
        log.write(row)
        epochs_done = epoch + 1
        try:
            ckpt_lib.save_checkpoint(last, model=model, optimizer=optimizer, scheduler=scheduler, epoch=epoch + 1,
                                     step=step, config=cfg_dict, extra={"loss": mean_loss})
        except ckpt_lib.CheckpointWriteError:
            log.truncate_from(saved_epoch)  # the row above ran ahead of the checkpoint that failed
            raise
        saved_epoch = epoch + 1
        if cfg.show_progress:
            print(f"finetune epoch {epoch + 1}/{cfg.epochs}  loss {mean_loss:.4f}  train acc {row['train_clip_accuracy']:.1f}")
        if out_of_time:
            break
        if epoch + 1 < cfg.epochs and stop is not None and stop.signum:  # asked during the epoch's last step
            raise _preempted(stop.signum, step, last)

    # ---- test ----
    result = test_now()
    metrics = {
        "video_accuracy": result["video_accuracy"],
        "clip_accuracy": result["clip_accuracy"],
        "accuracy_note": "video_accuracy: softmax averaged over test_clips x test_crops views per video (the paper's "
                         "number); clip_accuracy: each view classified on its own",
        "per_class_accuracy": dict(zip(test.classes, result["per_class_accuracy"])),
        "confusion_matrix": result["confusion_matrix"],
        "confusion_matrix_note": "rows: true class, columns: predicted class (order of 'classes')",
        "classes": list(test.classes),
        "n_test_videos": result["n_videos"],
        "n_train_videos": len(train),
        "test_clips": cfg.test_clips,
        "test_crops": cfg.test_crops,
        "epochs_trained": epochs_done,
        "train_seconds": time.time() - t_start,
        "seconds": time.time() - t_run,
        "backbone": init,  # arch, checkpoint, init ("pretrained" | "random"), seed
        "test_predictions": [{"path": it.path, "label": it.label, "pred": p} for it, p in zip(test.items, result["predictions"])],
        "config": cfg_dict,
    }
    write_json(run_dir / "metrics.json", metrics)
    if cfg.show_progress:
        print(f"fine-tuning: video-level accuracy {metrics['video_accuracy']:.2f}%  "
              f"(clip-level {metrics['clip_accuracy']:.2f}%, {metrics['n_test_videos']} test videos)")
    return run_dir
