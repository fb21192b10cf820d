"""Self-supervised pretraining: ``run_pretrain(cfg) -> run_dir``.

One loop, read top to bottom (in the spirit of nanoGPT's train.py): set up the machine, build the model, the
data, the optimiser and the schedule, maybe resume, then the loop. What it shares with fine-tuning (run folder,
resume point, budget, checkpoints and logs, the stop on a signal) is in :mod:`stclr.engine`, so the two behave
alike. The paper's settings are the config's defaults (:class:`stclr.config.PretrainConfig`).

    python -m stclr pretrain preset=course                        # tiny CPU run on the synthetic dataset
    torchrun --standalone --nproc_per_node=4 -m stclr pretrain data.root=/data/UCF-101   # the paper, 4 GPUs
    python -m stclr pretrain run_name=my-run resume=true          # continue an interrupted run

The run folder (``out_dir/run_name``) holds ``config.yaml`` (resolved config), ``env.json`` (versions, decoder
backend, device), ``metrics.jsonl`` (one line per epoch), ``steps.jsonl`` (one line per optimiser step: the
loss curve), ``last.pt`` (every epoch, atomically) and ``best.pt`` (lowest epoch loss). ``max_steps`` is a budget
in optimiser steps (the same result on any machine); ``time_budget_s`` one in seconds.

Notes on choices:

- ``batch_size`` is the GLOBAL batch in videos; with W processes each takes B/W videos of every planned batch,
  and the instance-contrastive negatives are all-gathered, so the loss is the one of a single process.
- Gradient accumulation (``accum_steps``) averages gradients of several batches: it does NOT add negatives to
  the contrastive losses (each batch's losses only see that batch), so it is not a substitute for a bigger
  batch in contrastive learning; it only smooths the gradient.
- On CUDA the step runs under bf16 autocast with channels_last_3d tensors and cuDNN autotuning. bf16 has fp32's
  exponent range, so no GradScaler is needed; an (always disabled) scaler is still checkpointed so the format
  is ready for fp16.
- ReduceLROnPlateau watches the mean epoch loss (Sec. 4.2.2: patience 12, x0.1); OneCycle steps per
  optimiser step over ``epochs`` epochs (Sec. 4.2.1).
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from stclr import checkpoint as ckpt_lib
from stclr import distributed as D
from stclr.config import ConfigError, PretrainConfig
from stclr.engine import (Budget, Checkpoints, EpochStats, Progress, ResumePoint, open_run, preempted, resume_from,
                          seed_epoch, stop_signal, write_run_info)
from stclr.fileio import read_json
from stclr.optim import build_optimizer, build_scheduler, step_scheduler  # train.build_optimizer is patched in tests
from stclr.runinfo import StopFlag, autocast, deterministic, seed_everything, stop_on_signals, to_device, to_run_device

CLIP_KEYS = ("clips", "global_clips", "ssl_clips")  # batch entries that are clip tensors (last 4 dims C,T,H,W)


# ---------------------------------------------------------------------------------------------------- builders


def default_run_name(cfg: PretrainConfig) -> str:
    return f"{cfg.method}-{cfg.arch}-s{cfg.seed}"


def build_pretrain_model(cfg: PretrainConfig) -> torch.nn.Module:
    """Backbone + the heads ``cfg.method`` uses (unused heads are dropped so DDP sees no unused parameters)."""
    from stclr.methods import METHODS
    from stclr.models import build_model

    if cfg.method == "tclr" and not cfg.arch.endswith("_tclr"):
        raise ConfigError(f"arch: method 'tclr' needs per-timestep features; use {cfg.arch}_tclr, not {cfg.arch!r}")
    model = build_model(cfg.arch, proj_dim=cfg.proj_dim, ssl_norm=cfg.ssl_head_norm, ssl_dropout=cfg.ssl_head_dropout,
                        checkpoint_activations=cfg.activation_checkpointing)
    losses = METHODS[cfg.method]
    if "ssl" not in losses:
        model.ssl_head = None
    if losses == ("ssl",):
        model.projection = None
    return model


class LossModel(torch.nn.Module):
    """``forward(batch) -> dict of losses``: the whole loss computation inside ONE module call, so that
    DistributedDataParallel (which hooks ``forward``) sees every parameter use and syncs the gradients."""

    def __init__(self, model: torch.nn.Module, cfg: PretrainConfig, gather: bool):
        super().__init__()
        self.model, self.method = model, cfg.method
        self.temperature, self.weights, self.gather = cfg.temperature, dict(cfg.weights) or None, gather
        self.ssl_input = cfg.ssl_input

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        from stclr.methods import compute_losses

        return compute_losses(self.method, batch, self.model, temperature=self.temperature, weights=self.weights,
                              gather=self.gather, ssl_input=self.ssl_input)


def train_step(loss_model, model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict,
               device: torch.device, *, amp: bool = False, grad_clip: float | None = None, accum_steps: int = 1,
               last_micro: bool = True, no_sync=None) -> dict[str, torch.Tensor]:
    """One pretraining micro-batch, as the engine runs it (and ``bench/`` times it): Eq. 1's losses under bf16
    autocast when ``amp`` on CUDA (:func:`stclr.runinfo.autocast`), backward of ``total / accum_steps``; on the
    micro-batch that completes an optimiser step (``last_micro``) the gradient clipping, the optimiser step and
    the zeroing of the gradients. ``loss_model`` is the :class:`LossModel` (DDP-wrapped under torchrun; then
    ``no_sync`` is its ``no_sync`` for the micro-batches that only accumulate). Returns the named losses."""
    with no_sync() if no_sync is not None else nullcontext():
        with autocast(device, amp):
            losses = loss_model(batch)
        (losses["total"] / accum_steps).backward()
    if last_micro:
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return losses


def build_pretrain_data(cfg: PretrainConfig, rank: int = 0, world: int = 1):
    """(DataLoader, PlannedBatchSampler, train split). Each loader item is one whole planned batch (every video
    decoded once, augmentations seeded by (seed, epoch, step)); with W processes every rank draws the same
    global batch of ``batch_size`` videos and loads its contiguous share."""
    from stclr.data.loader import PretrainDataset, frames_cache_file, make_pretrain_loader
    from stclr.data.splits import load_subset

    split = load_subset(cfg.data, "train")
    # Probing the frame counts is a full decode pass over the dataset: cache it beside the runs.
    cache = frames_cache_file(cfg.out_dir, cfg.data)
    cache.parent.mkdir(parents=True, exist_ok=True)
    if rank != 0:
        D.barrier()  # let rank 0 probe and write the cache alone; the others then read it
    if cfg.augment_on == "device":  # the loader decodes and cuts uint8 clips; DeviceAugment does the rest
        from stclr.augment_gpu import raw_clip

        hw = cfg.frame_size()
        dataset = PretrainDataset(split, method=cfg.method, plan=cfg, size=hw, seed=cfg.seed, augment=raw_clip,
                                  ssl_augment=raw_clip, out_dtype=None, decode_size=hw, backend=cfg.data.backend,
                                  cache_file=cache, on_bad_video=cfg.data.on_bad_video)
    else:
        dataset = PretrainDataset(split, method=cfg.method, plan=cfg, size=cfg.size, seed=cfg.seed,
                                  augment=cfg.augment, ssl_augment=cfg.ssl_augment,
                                  backend=cfg.data.backend, cache_file=cache, on_bad_video=cfg.data.on_bad_video)
    if rank == 0 and world > 1:
        D.barrier()
    # Persistent workers keep their decoded-video cache and skip a process start per epoch: the course's runs are
    # hundreds of one-step epochs.
    workers = cfg.data.workers()
    loader, sampler = make_pretrain_loader(dataset, cfg.batch_size, num_workers=workers, seed=cfg.seed,
                                           pin_memory=torch.cuda.is_available(), rank=rank, world_size=world,
                                           persistent_workers=workers > 0)
    sampler.max_steps = cfg.max_steps_per_epoch
    if len(sampler) == 0:
        raise ConfigError(f"batch_size: {cfg.batch_size} is more than the {len(split)} training videos "
                          "(pretraining batches are never partial)")
    return loader, sampler, split


def count_clips(batch: dict) -> int:
    return sum(batch[k].shape[:-4].numel() for k in CLIP_KEYS if k in batch and torch.is_tensor(batch[k]))


def move_batch(batch: dict, device: torch.device, channels_last: bool) -> dict:
    """The batch's tensors on ``device``. The plan and the loader's stats stay behind: the losses do not need
    them, and DDP would try to copy every field of the plan dataclass to the GPU."""
    return {k: to_device(v, device, channels_last) for k, v in batch.items() if torch.is_tensor(v)}


class StepInputs:
    """A loader batch -> the tensors the losses take, on the run's device. The plan and the loader's stats stay
    behind: the losses do not need them, and DDP would try to copy every field of the plan dataclass to the GPU.
    With ``augment_on="device"`` the loader's uint8 clips are augmented there (:class:`stclr.augment_gpu.
    DeviceAugment`, parameters from (seed, epoch, step, rank): resumable like the loader's)."""

    def __init__(self, cfg: PretrainConfig, device: torch.device, rank: int = 0, channels_last: bool = False):
        self.device, self.rank, self.channels_last, self.augment = device, rank, channels_last, None
        if cfg.augment_on == "device":
            from stclr.augment_gpu import DeviceAugment

            self.augment = DeviceAugment(cfg.size, cfg.augment, cfg.ssl_augment, seed=cfg.seed)

    def __call__(self, batch: dict) -> dict:
        inputs = move_batch(batch, self.device, self.channels_last and self.augment is None)
        if self.augment is not None:
            inputs = self.augment(inputs, batch["plan"].epoch, batch["plan"].step, key=self.rank)
            if self.channels_last:
                inputs = {k: to_device(v, self.device, True) for k, v in inputs.items()}
        return inputs


def resolved_temperature(cfg: PretrainConfig) -> float:
    from stclr.methods import DEFAULT_TEMPERATURE

    return cfg.temperature if cfg.temperature is not None else DEFAULT_TEMPERATURE[cfg.method]


def loss_columns(values: dict[str, float]) -> dict[str, float]:
    """Named losses -> log columns: ``loss`` (the total) and ``loss_<component>``."""
    return {"loss" if k == "total" else f"loss_{k}": v for k, v in values.items()}


def epoch_row(epoch: int, step: int, stats: EpochStats, optimizer, train_seconds: float,
              loader_counters: dict[str, float]) -> dict:
    """One line of ``metrics.jsonl``: the epoch's mean losses, the learning rate after the epoch's schedule step,
    throughput and time waiting for data, and the loader's counters (summed over ranks)."""
    means = stats.means()
    busy = stats.compute_s + stats.wait_s
    return {"epoch": epoch, "step": step, **loss_columns({"total": means.get("total", math.nan), **means}),
            "lr": optimizer.param_groups[0]["lr"], "clips_per_s": stats.throughput(), "data_wait_s": stats.wait_s,
            "compute_s": stats.compute_s, "data_wait_frac": stats.wait_s / busy if busy > 0 else None,
            "batches": stats.batches, "train_seconds": train_seconds,
            **{f"loader_{k}": v for k, v in loader_counters.items()}}


def flat_counters(stats) -> dict[str, float]:
    """LoaderStats -> flat numbers (decode counters, skipped videos, plan counts) for metrics.jsonl."""
    d = stats.as_dict()
    plan = d.pop("plan", {})
    return {**{k: float(v) for k, v in d.items()}, **{f"plan_{k}": float(v) for k, v in plan.items()}}


# ---------------------------------------------------------------------------------------------------- main


def run_pretrain(cfg: PretrainConfig) -> Path:
    """Pretrain ``cfg.method``; returns the run folder. Safe to kill at any time: rerun with ``resume=True``.

    Preemption: SIGTERM or SIGINT (a scheduler's notice, Ctrl-C, a notebook's interrupt) lets the optimiser step
    in progress finish, saves a resumable ``last.pt`` at that step boundary and raises
    :class:`stclr.runinfo.Preempted` -- a ``SystemExit`` with code 143 (SIGTERM) or 130 (SIGINT), so the command
    line exits with that code. Under torchrun the ranks agree on the stop (an all-reduce of the flag at each
    optimiser step) and all stop after the same step. ``resume=True`` then continues to the weights and optimiser
    state of an uninterrupted run. A second signal stops at once, as without this handling."""
    with deterministic(cfg.deterministic), stop_on_signals() as stop:
        return _pretrain(cfg, stop)


def pretraining_status(cfg: PretrainConfig) -> str:
    """What ``out_dir/run_name`` holds for ``cfg``: ``"finished"`` (a ``last.pt`` that reached the budget:
    ``epochs``, ``max_steps`` or ``time_budget_s``), ``"interrupted"`` (a ``last.pt`` short of it: continue it with
    ``resume=True``) or ``"new"`` (nothing to continue). A notebook rerun after a kill must neither start again
    from step 0 nor take a half-trained checkpoint for a finished one."""
    last = Path(cfg.out_dir) / (cfg.run_name or default_run_name(cfg)) / ckpt_lib.LAST
    if not last.is_file():
        return "new"
    state = torch.load(last, map_location="cpu", weights_only=True)
    at = ResumePoint(state["epoch"], state["step"], state["batch_in_epoch"], state["extra"]["train_seconds"])
    return "interrupted" if Budget.of(cfg, at).epochs_left(at) else "finished"


def run_or_resume_pretraining(cfg: PretrainConfig) -> Path:
    """The run folder of ``cfg``'s pretraining, trained to its end: reused when finished, resumed from its
    ``last.pt`` when interrupted, started otherwise (:func:`pretraining_status`)."""
    status = pretraining_status(cfg)
    if status == "finished":
        return Path(cfg.out_dir) / (cfg.run_name or default_run_name(cfg))
    return run_pretrain(dataclasses.replace(cfg, resume=status == "interrupted"))


def pretraining_run(folder: str | Path) -> Path:
    """A notebook-06 output folder -> the run folder its ``metrics.json`` names; anything else unchanged."""
    folder = Path(folder)
    if folder.is_dir() and not (folder / "last.pt").is_file() and (folder / "metrics.json").is_file():
        return Path(read_json(folder / "metrics.json")["pretrain"]["run_dir"])
    return folder


def reusable_pretraining(folder: str | Path, data_root: str | Path, *, arch: str | None = None,
                         steps: int | None = None) -> Path | None:
    """Notebook 06's run under ``folder`` (an output folder or a run folder) when a later notebook may use it in
    place of its own brief pretraining: a finished ``last.pt`` trained on ``data_root`` (the same folder), with
    backbone ``arch`` and ``steps`` optimiser steps when those are given. None otherwise -- a checkpoint of another
    dataset or size left in ``runs/`` must never stand in silently for the run a notebook was asked to do."""
    import yaml

    run = pretraining_run(folder)
    if not (run / "last.pt").is_file() or not (run / "config.yaml").is_file():
        return None
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    if Path(cfg["data"]["root"]).expanduser().resolve() != Path(data_root).expanduser().resolve():
        return None
    if arch is not None and cfg.get("arch") != arch:
        return None
    if steps is not None and torch.load(run / "last.pt", map_location="cpu", weights_only=True)["step"] != steps:
        return None
    return run


def _pretrain(cfg: PretrainConfig, stop: StopFlag | None = None) -> Path:
    from stclr.data.loader import BadVideoReport, LoaderStats

    # ---- machine, model, data, optimiser ---------------------------------------------------------------------
    run = open_run(cfg, default_run_name(cfg), distributed=True)
    device, dist = run.device, run.dist
    seed_everything(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model, use_cl = to_run_device(build_pretrain_model(cfg), cfg, device)
    loader, sampler, split = build_pretrain_data(cfg, dist.rank, dist.world_size)
    steps_per_epoch = len(sampler) if cfg.max_steps_per_epoch is None else min(len(sampler), cfg.max_steps_per_epoch)
    optimizer = build_optimizer(cfg, model.parameters())
    scheduler, sched_when = build_scheduler(cfg, optimizer, math.ceil(steps_per_epoch / cfg.accum_steps))
    scaler = torch.amp.GradScaler("cuda", enabled=False)  # bf16 needs no loss scaling
    if cfg.compile:
        model.backbone.compile()  # in place: the state_dict keys stay the same
    loss_model = D.wrap_ddp(LossModel(model, cfg, gather=dist.enabled), device, sync_bn=cfg.sync_bn)
    to_inputs = StepInputs(cfg, device, dist.rank, use_cl)

    # ---- resume, budget, logs --------------------------------------------------------------------------------
    at = resume_from(run, cfg, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler, sampler=sampler)
    bad_videos = BadVideoReport.for_rank(run.dir, loader.dataset, dist.rank)  # videos not trained on as drawn
    write_run_info(run, cfg, train_videos=len(split), steps_per_epoch=steps_per_epoch,
                   temperature=resolved_temperature(cfg), parameters=sum(p.numel() for p in model.parameters()))
    D.barrier()
    budget = Budget.of(cfg, at)
    ckpts = Checkpoints(run, cfg, budget, at, step_log=True, model=model, optimizer=optimizer, scheduler=scheduler,
                        scaler=scaler)
    show = cfg.show_progress and run.is_main
    progress = Progress(show, steps_per_epoch, budget.epochs_to_run(at, steps_per_epoch // cfg.accum_steps),
                        cfg.epochs)

    # ---- the loop ----------------------------------------------------------------------------------------------
    step, best, stop_sig, out_of_time = at.step, at.best, 0, False
    for epoch in budget.epochs_left(at, say=show):
        i = at.batch if epoch == at.epoch else 0  # > 0: a mid-epoch checkpoint's epoch, continued at batch i
        if not i:
            sampler.set_epoch(epoch)  # the epoch's order and plans are pure functions of (seed, epoch, step)
        # iter() of a fresh worker pool draws the workers' base seed from the global RNG, a persistent pool's
        # does not: seed after it, so that the epoch's stream (dropout) is the same with 0, 1 or n workers.
        batches = iter(loader)
        seed_epoch(cfg.seed, epoch, dist.rank, at, i)
        stats = EpochStats(**at.epoch_stats) if i and at.epoch_stats else EpochStats()
        loader_stats = LoaderStats()
        loss_model.train()
        bar = progress.epoch(epoch, i)
        t_wait = time.perf_counter()
        for batch in loader_stats.track(batches):
            wait, t0 = time.perf_counter() - t_wait, time.perf_counter()  # wait > 0: the loader is behind
            sampler_state = sampler.state_after(batch)  # the exact resume point, whatever the workers prefetched
            bad_videos.add(batch.get("bad_videos", ()))  # a video failed mid-decode and was replaced: name it
            inputs = to_inputs(batch)
            n_clips = count_clips(inputs) * dist.world_size
            last_micro = (i + 1) % cfg.accum_steps == 0 or i + 1 == steps_per_epoch
            losses = train_step(loss_model, model, optimizer, inputs, device, amp=cfg.amp, grad_clip=cfg.grad_clip,
                                accum_steps=cfg.accum_steps, last_micro=last_micro,  # DDP syncs on the stepping one
                                no_sync=None if last_micro or not dist.enabled else loss_model.no_sync)
            values = {k: D.all_reduce_mean(v).item() for k, v in losses.items()}  # .item() waits for the GPU
            if last_micro:  # with accumulation: the losses of the micro-batch that stepped, at the rate it used
                step += 1
                ckpts.steps.write({"step": step, **loss_columns(values), "lr": optimizer.param_groups[0]["lr"]})
                if sched_when == "step":
                    step_scheduler(scheduler, budget.elapsed(), device)
            compute = time.perf_counter() - t0
            stats.add(values, n_clips, compute, wait)
            i += 1
            bar.update(1)
            bar.set_postfix(loss=f"{values['total']:.4f}", clips_s=f"{n_clips / max(compute + wait, 1e-9):.0f}",
                            wait=f"{wait:.2f}s")
            if i >= steps_per_epoch or budget.steps_reached(step):
                break  # the epoch's end, or the budget in steps: the epoch ends here, with its row and checkpoint
            mid_epoch = dict(batch_in_epoch=i, stats=stats, sampler=sampler_state, best_loss=best)
            if last_micro and (stop_sig := stop_signal(stop, device, dist)):
                ckpts.save(epoch, step, **mid_epoch)  # resumable from this step
                break
            if cfg.ckpt_every_steps and last_micro and step % cfg.ckpt_every_steps == 0:
                ckpts.save(epoch, step, **mid_epoch)
            if out_of_time := budget.time_up(device):
                ckpts.save(epoch, step, **mid_epoch)  # a partial epoch, resumable from here; no epoch row
                break
            t_wait = time.perf_counter()
        bar.close()
        if stop_sig:
            raise preempted(run, stop_sig, step, "pretrain", progress)
        if out_of_time:
            if show:
                print(f"time budget of {cfg.time_budget_s:.0f}s spent in epoch {epoch + 1} (batch {i}); checkpoint saved")
            break

        # ---- end of epoch: schedule, metrics, checkpoints ------------------------------------------------------
        loss = stats.means().get("total", math.nan)
        if sched_when == "epoch":
            scheduler.step(loss)
        row = epoch_row(epoch, step, stats, optimizer, budget.elapsed(),
                        D.all_reduce_sum(flat_counters(loader_stats), device))
        improved, best = loss < best, min(best, loss)
        ckpts.epochs.write(row)
        ckpts.save(epoch + 1, step, sampler=sampler.state_dict(), best_loss=best)
        if improved:
            ckpts.save(epoch + 1, step, sampler=sampler.state_dict(), best_loss=best, name=ckpt_lib.BEST)
        progress.epoch_done(epoch, f"loss {loss:.4f}  lr {row['lr']:.2e}  {row['clips_per_s'] or 0:.1f} clips/s  "
                                   f"data wait {stats.wait_s:.1f}s", loss=f"{loss:.4f}", lr=f"{row['lr']:.1e}")
        if budget.time_up(device) or budget.steps_reached(step):
            break
        if epoch + 1 < cfg.epochs and (stop_sig := stop_signal(stop, device, dist)):  # asked in the epoch's last step
            raise preempted(run, stop_sig, step, "pretrain", progress)
    progress.close()
    D.barrier()
    return run.dir
