"""Self-supervised pretraining: ``run_pretrain(cfg) -> run_dir``.

One file, read top to bottom (in the spirit of nanoGPT's train.py): set up the machine, build the model, the
data, the optimiser and the schedule, maybe resume, then the loop. The paper's settings are the config's
defaults (:class:`stclr.config.PretrainConfig`).

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
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from stclr import checkpoint as ckpt_lib
from stclr import distributed as D
from stclr.config import ConfigError, PretrainConfig, config_hash, save_yaml, to_dict
from stclr.fileio import read_json
from stclr.optim import CosineSchedule, build_optimizer, build_scheduler, step_scheduler  # noqa: F401 (train.build_optimizer is patched in tests)
from stclr.runinfo import (
    MetricsLog,
    Preempted,
    StopFlag,
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

STEPS_FILE = "steps.jsonl"  # one line per optimiser step: step, loss, loss_<component>, lr
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
    from stclr.retrieval import load_subset

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


def flat_counters(stats) -> dict[str, float]:
    """LoaderStats -> flat numbers (decode counters, skipped videos, plan counts) for metrics.jsonl."""
    d = stats.as_dict()
    plan = d.pop("plan", {})
    return {**{k: float(v) for k, v in d.items()}, **{f"plan_{k}": float(v) for k, v in plan.items()}}


# ---------------------------------------------------------------------------------------------------- state


@dataclass
class EpochStats:
    """Running sums of one epoch (checkpointed mid-epoch so a resumed epoch reports the same means)."""

    sums: dict = field(default_factory=dict)
    batches: int = 0
    clips: int = 0
    compute_s: float = 0.0
    wait_s: float = 0.0

    def add(self, losses: dict[str, float], clips: int, compute_s: float, wait_s: float) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.batches += 1
        self.clips += clips
        self.compute_s += compute_s
        self.wait_s += wait_s

    def means(self) -> dict[str, float]:
        return {k: v / max(1, self.batches) for k, v in self.sums.items()}

    def state(self) -> dict:
        return {"sums": dict(self.sums), "batches": self.batches, "clips": self.clips,
                "compute_s": self.compute_s, "wait_s": self.wait_s}


def stop_signal(stop: StopFlag | None, device: torch.device, dist) -> int:
    """The stop signal's number if any rank received one (0 if none): a collective under torchrun, so every rank
    stops after the same optimiser step (a rank stopping alone would leave the others waiting in all-reduce)."""
    sig = (stop.signum or 0) if stop is not None else 0
    return int(D.max_over_ranks(sig, device)) if dist.enabled else sig


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of the global RNGs (dropout; the data pipeline seeds itself from (seed, epoch, step)) for one epoch
    of one rank: resuming at an epoch boundary then continues the exact random stream."""
    return seed * 1_000_003 + epoch * 1009 + rank


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
    done = (state["epoch"] >= cfg.epochs or (cfg.max_steps is not None and state["step"] >= cfg.max_steps)
            or (cfg.time_budget_s is not None and state["extra"]["train_seconds"] >= cfg.time_budget_s))
    return "finished" if done else "interrupted"


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
    from stclr.data.loader import LoaderStats
    from stclr.methods import DEFAULT_TEMPERATURE

    # ---- machine ---------------------------------------------------------------------------------------------
    on_gpu = torch.cuda.is_available() and (cfg.device == "auto" or cfg.device.startswith("cuda"))
    dist = D.init_distributed("cuda" if on_gpu else "cpu")
    device = resolve_device(cfg.device, dist.local_rank)
    setup_cpu(device, cfg.cpu_threads, cfg.data.cache_mb)
    setup_cuda_speed(device, cfg.deterministic)
    run_dir = Path(cfg.out_dir) / (cfg.run_name or default_run_name(cfg))
    last = run_dir / ckpt_lib.LAST
    if last.exists() and not cfg.resume:
        raise FileExistsError(f"{run_dir} already holds a run: pass resume=true to continue it, or another run_name")
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt_lib.remove_stale_temps(run_dir)  # half-written checkpoints of a run killed while saving

    # ---- model, data, optimiser -----------------------------------------------------------------------------
    seed_everything(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = build_pretrain_model(cfg).to(device)
    use_cl = use_channels_last(cfg, device)
    if use_cl:
        model = model.to(memory_format=torch.channels_last_3d)
    loader, sampler, split = build_pretrain_data(cfg, dist.rank, dist.world_size)
    steps_per_epoch = len(sampler) if cfg.max_steps_per_epoch is None else min(len(sampler), cfg.max_steps_per_epoch)
    optimizer = build_optimizer(cfg, model.parameters())
    scheduler, sched_when = build_scheduler(cfg, optimizer, math.ceil(steps_per_epoch / cfg.accum_steps))
    scaler = torch.amp.GradScaler("cuda", enabled=False)  # bf16 needs no loss scaling
    if cfg.compile:
        model.backbone.compile()  # in place: the state_dict keys stay the same
    ddp_model = D.wrap_ddp(LossModel(model, cfg, gather=dist.enabled), device, sync_bn=cfg.sync_bn)
    device_augment = None
    if cfg.augment_on == "device":
        from stclr.augment_gpu import DeviceAugment

        device_augment = DeviceAugment(cfg.size, cfg.augment, cfg.ssl_augment, seed=cfg.seed)

    # ---- resume -------------------------------------------------------------------------------------------
    cfg_dict = to_dict(cfg)
    start_epoch, step, start_batch, best, elapsed0, partial, resume_rng = 0, 0, 0, math.inf, 0.0, None, None
    if cfg.resume and last.exists():
        ckpt = ckpt_lib.load_checkpoint(last, config=cfg_dict, map_location="cpu")
        if cfg.scheduler == "onecycle" and ckpt["config"]["epochs"] != cfg.epochs:
            raise ConfigError(f"epochs: OneCycle's schedule was laid out for {ckpt['config']['epochs']} epochs; "
                              f"it cannot change to {cfg.epochs} on resume")
        ckpt_lib.restore(ckpt, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler, rng=False)
        start_epoch, step, start_batch = ckpt["epoch"], ckpt["step"], ckpt["batch_in_epoch"]
        best, elapsed0 = ckpt["extra"]["best_loss"], ckpt["extra"]["train_seconds"]
        if start_batch:  # saved mid-epoch: continue the sampler and (below) the random streams where they were
            partial, resume_rng = ckpt["extra"]["epoch_stats"], ckpt["rng"]
            sampler.load_state_dict(ckpt["sampler"])
        if dist.is_main:
            print(f"resuming {run_dir} at epoch {start_epoch + 1}" + (f", batch {start_batch}" if start_batch else ""))
    # Every video the run does not train on as drawn, with the frame where it broke. Under torchrun each rank
    # decodes its own share: rank 0 writes bad_videos.json, another rank bad_videos.rank<r>.json once it finds one.
    from stclr.data.loader import BAD_VIDEOS_FILE, BadVideoReport

    report_name = BAD_VIDEOS_FILE if dist.is_main else BAD_VIDEOS_FILE.replace(".json", f".rank{dist.rank}.json")
    bad_report = BadVideoReport(run_dir / report_name, loader.dataset if dist.is_main else None,
                                enabled=dist.is_main, log=lambda line: print(line, file=sys.stderr, flush=True))
    if not dist.is_main:
        bad_report.enabled = True  # written only when this rank finds a decode failure
    log = MetricsLog(run_dir / "metrics.jsonl", enabled=dist.is_main)
    log.truncate_from(start_epoch)
    step_log = MetricsLog(run_dir / STEPS_FILE, enabled=dist.is_main, key="step")  # the curve per optimiser step
    step_log.truncate_from(step + 1)
    if dist.is_main:
        save_yaml(cfg, run_dir / "config.yaml")
        env = env_info(device, dist.world_size, cfg.data.backend)
        env.update(config_hash=config_hash(cfg), train_videos=len(split), steps_per_epoch=steps_per_epoch,
                   temperature=cfg.temperature if cfg.temperature is not None else DEFAULT_TEMPERATURE[cfg.method],
                   parameters=sum(p.numel() for p in model.parameters()))
        write_json(run_dir / "env.json", env)
    D.barrier()

    saved_at = [start_epoch, step]  # (epoch, step) of the last.pt on disk: what the logs may not run past

    def save(epoch: int, batch_in_epoch: int, stats: EpochStats | None, sampler_state, name=ckpt_lib.LAST):
        if dist.is_main:
            extra = {"best_loss": best, "train_seconds": elapsed0 + time.time() - t_start,
                     "epoch_stats": stats.state() if stats is not None else None}
            try:
                ckpt_lib.save_checkpoint(run_dir / name, model=model, optimizer=optimizer, scheduler=scheduler,
                                         scaler=scaler, epoch=epoch, step=step, batch_in_epoch=batch_in_epoch,
                                         sampler=sampler_state, config=cfg_dict, extra=extra)
            except ckpt_lib.CheckpointWriteError:
                if name == ckpt_lib.LAST:
                    # The epoch row and the step rows were written before this checkpoint: cut them back to the
                    # last.pt still on disk, so the folder reads as the run that a resume will continue (resume
                    # would cut them too; this keeps the folder honest for whoever reads it first).
                    log.truncate_from(saved_at[0])
                    step_log.truncate_from(saved_at[1] + 1)
                raise
            if name == ckpt_lib.LAST:
                saved_at[:] = [epoch, step]

    def preempted(signum: int):
        run_bar.close()
        D.barrier()  # rank 0 has written last.pt before any rank exits (torchrun ends the others when one exits)
        exc = Preempted(signum, step, last)
        if dist.is_main:
            print(f"stclr pretrain: {exc}", file=sys.stderr, flush=True)
        raise exc

    # ---- the loop ----------------------------------------------------------------------------------------------
    t_start = time.time()
    out_of_time, stop_sig = False, 0
    epochs = range(start_epoch, cfg.epochs)
    if cfg.time_budget_s is not None and elapsed0 >= cfg.time_budget_s:
        epochs = range(0)  # a resumed run whose budget is already spent: train nothing (raise the budget to go on)
        if dist.is_main and cfg.show_progress:
            print(f"time budget of {cfg.time_budget_s:.0f}s already spent ({elapsed0:.0f}s trained): nothing to do")
    if cfg.max_steps is not None and step >= cfg.max_steps:
        epochs = range(0)
        if dist.is_main and cfg.show_progress:
            print(f"max_steps {cfg.max_steps} already reached ({step} steps trained): nothing to do")
    bar_total = len(epochs)
    if cfg.max_steps is not None:  # epochs that will run, for the progress bar (the loop stops at max_steps)
        bar_total = min(bar_total, math.ceil(max(0, cfg.max_steps - step) / max(1, steps_per_epoch // cfg.accum_steps)))
    # Epochs of one or a few steps (the course's: one step each) get ONE bar over the run instead of a bar and a
    # line per epoch: 160 single-step epochs printed ~2000 messages, more than a kernel's output queue keeps
    # while a cell runs (nbval then never saw the cell finish).
    show = cfg.show_progress and dist.is_main
    per_epoch = steps_per_epoch > 4
    run_bar = tqdm(total=bar_total, desc="steps" if steps_per_epoch == 1 else "epochs", disable=not show or per_epoch,
                   leave=False, dynamic_ncols=True)
    for epoch in epochs:
        i = start_batch
        if not start_batch:
            sampler.set_epoch(epoch)  # the epoch's order and plans are pure functions of (seed, epoch, step)
        # iter() of a fresh worker pool draws the workers' base seed from the global RNG, a persistent pool's
        # does not: seed after it, so that the epoch's stream (dropout) is the same with 0, 1 or n workers.
        batches = iter(loader)
        if not start_batch:
            seed_everything(epoch_seed(cfg.seed, epoch, dist.rank))
        else:  # a mid-epoch resume restores the RNG streams as they were saved
            if dist.is_main:
                ckpt_lib.set_rng_state(resume_rng)
            else:  # only rank 0's streams are checkpointed; the others continue from a fresh deterministic seed
                seed_everything(epoch_seed(cfg.seed, epoch, dist.rank) + 7919 * start_batch)
        stats = EpochStats(**partial) if start_batch and partial else EpochStats()
        start_batch = 0
        loader_stats = LoaderStats()
        ddp_model.train()
        bar = tqdm(total=steps_per_epoch, initial=i, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not show or not per_epoch, leave=False, dynamic_ncols=True)
        t_wait = time.perf_counter()
        for batch in loader_stats.track(batches):
            wait = time.perf_counter() - t_wait  # time the step waited for data: >0 means the loader is behind
            t0 = time.perf_counter()
            sampler_state = sampler.state_after(batch)  # exact resume point, whatever the workers prefetched
            if "bad_videos" in batch:  # a video failed mid-decode and was replaced: name it (file, frame)
                bad_report.add(batch["bad_videos"])
            plan = batch["plan"]
            batch = move_batch(batch, device, use_cl and device_augment is None)
            if device_augment is not None:  # parameters from (seed, epoch, step, rank): resumable like the loader's
                batch = device_augment(batch, plan.epoch, plan.step, key=dist.rank)
                if use_cl:
                    batch = {k: to_device(v, device, True) for k, v in batch.items()}
            n_clips = count_clips(batch) * dist.world_size
            last_micro = (i + 1) % cfg.accum_steps == 0 or i + 1 == steps_per_epoch
            # with accumulation, DDP syncs gradients only on the micro-batch that steps the optimiser
            losses = train_step(ddp_model, model, optimizer, batch, device, amp=cfg.amp, grad_clip=cfg.grad_clip,
                                accum_steps=cfg.accum_steps, last_micro=last_micro,
                                no_sync=None if last_micro or not dist.enabled else ddp_model.no_sync)
            if last_micro:
                step += 1
                step_lr = optimizer.param_groups[0]["lr"]  # the rate this step used
                if sched_when == "step":
                    elapsed = elapsed0 + time.time() - t_start
                    if isinstance(scheduler, CosineSchedule) and scheduler.time_budget_s:
                        elapsed = D.max_over_ranks(elapsed, device)  # every rank must use the same rate
                    step_scheduler(scheduler, elapsed)
            values = {k: D.all_reduce_mean(v).item() for k, v in losses.items()}  # .item() waits for the GPU
            if last_micro:  # with accumulation: the losses of the micro-batch that stepped
                step_log.write({"step": step, **{"loss" if k == "total" else f"loss_{k}": v for k, v in values.items()},
                                "lr": step_lr})
            compute = time.perf_counter() - t0
            stats.add(values, n_clips, compute, wait)
            i += 1
            bar.update(1)
            bar.set_postfix(loss=f"{values['total']:.4f}", clips_s=f"{n_clips / max(compute + wait, 1e-9):.0f}",
                            wait=f"{wait:.2f}s")
            if i >= steps_per_epoch:
                break  # the epoch's end (the time budget is checked there too)
            if cfg.max_steps is not None and step >= cfg.max_steps:
                break  # the budget in steps: this epoch ends here, with its row and checkpoint
            if last_micro:
                stop_sig = stop_signal(stop, device, dist)
                if stop_sig:
                    save(epoch, i, stats, sampler_state)  # mid-epoch, like the time budget's: resumable from here
                    break
            if cfg.ckpt_every_steps and last_micro and step % cfg.ckpt_every_steps == 0:
                save(epoch, i, stats, sampler_state)
            if cfg.time_budget_s is not None and D.any_rank(elapsed0 + time.time() - t_start >= cfg.time_budget_s, device):
                out_of_time = True  # decided together: a rank stopping alone would hang the others
                save(epoch, i, stats, sampler_state)  # a partial epoch, resumable from here; no epoch line
                break
            t_wait = time.perf_counter()
        bar.close()
        if stop_sig:
            preempted(stop_sig)
        if out_of_time:
            if dist.is_main and cfg.show_progress:
                print(f"time budget of {cfg.time_budget_s:.0f}s spent in epoch {epoch + 1} (batch {i}); checkpoint saved")
            break

        # ---- end of epoch: schedule, metrics, checkpoints ------------------------------------------------------
        means = stats.means()
        epoch_loss = means.get("total", math.nan)
        if sched_when == "epoch":
            scheduler.step(epoch_loss)
        busy = stats.compute_s + stats.wait_s
        row = {
            "epoch": epoch,
            "step": step,
            "loss": epoch_loss,
            **{f"loss_{k}": v for k, v in means.items() if k != "total"},
            "lr": optimizer.param_groups[0]["lr"],
            "clips_per_s": stats.clips / busy if busy > 0 else None,
            "data_wait_s": stats.wait_s,
            "compute_s": stats.compute_s,
            "data_wait_frac": stats.wait_s / busy if busy > 0 else None,
            "batches": stats.batches,
            "train_seconds": elapsed0 + time.time() - t_start,
            **{f"loader_{k}": v for k, v in D.all_reduce_sum(flat_counters(loader_stats), device).items()},
        }
        improved = epoch_loss < best
        best = min(best, epoch_loss)
        log.write(row)
        save(epoch + 1, 0, None, sampler.state_dict())
        if improved:
            save(epoch + 1, 0, None, sampler.state_dict(), ckpt_lib.BEST)
        run_bar.update(1)
        run_bar.set_postfix(loss=f"{epoch_loss:.4f}", lr=f"{row['lr']:.1e}", refresh=False)
        if show and (per_epoch or epoch + 1 == cfg.epochs):
            print(f"epoch {epoch + 1}/{cfg.epochs}  loss {epoch_loss:.4f}  lr {row['lr']:.2e}  "
                  f"{row['clips_per_s'] or 0:.1f} clips/s  data wait {stats.wait_s:.1f}s")
        if cfg.time_budget_s is not None and D.any_rank(elapsed0 + time.time() - t_start >= cfg.time_budget_s, device):
            break  # the budget ran out at an epoch's end
        if cfg.max_steps is not None and step >= cfg.max_steps:
            break
        if epoch + 1 < cfg.epochs:  # asked during the epoch's last step: stop with the epoch's checkpoint
            stop_sig = stop_signal(stop, device, dist)
            if stop_sig:
                preempted(stop_sig)
    run_bar.close()
    D.barrier()
    return run_dir
