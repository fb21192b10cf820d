"""What every training run of the engine shares: pretraining (:mod:`stclr.train`) and fine-tuning
(:mod:`stclr.finetune`) are the same loop around a different step, and this module holds the loop's parts so the
two resume, budget, checkpoint and stop alike. The evaluations (:mod:`stclr.retrieval`, :mod:`stclr.linear_probe`)
use :func:`open_run` only.

- :func:`open_run`: the machine (torchrun's process group, the device, CPU threads, the decoded-video cache,
  cuDNN autotuning) and the run folder (refused when it holds a run and ``resume`` is off).
- :func:`resume_from`: the point a run continues from (``last.pt``: weights, optimiser, schedule, epoch, optimiser
  step, batch within the epoch, the epoch's running sums, the random streams), and :func:`seed_epoch`.
- :class:`Budget`: when training stops: ``epochs``, ``max_steps`` optimiser steps, ``time_budget_s`` seconds of
  training *counted across resumes*, whichever comes first.
- :class:`Checkpoints`: writes ``last.pt`` / ``best.pt`` and keeps ``metrics.jsonl`` / ``steps.jsonl`` from running
  past the ``last.pt`` on disk (a failed write, e.g. a full disk, cuts them back).
- :func:`stop_signal` / :func:`preempted`: the stop on SIGTERM / SIGINT at a step boundary, agreed by every rank.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from stclr import checkpoint as ckpt_lib
from stclr import distributed as D
from stclr.config import ConfigError, config_hash, save_yaml, to_dict
from stclr.runinfo import (MetricsLog, Preempted, StopFlag, env_info, resolve_device, seed_everything, setup_cpu,
                           setup_cuda_speed, write_json)
from stclr.sampling import epoch_seed

METRICS_FILE = "metrics.jsonl"  # one line per epoch
STEPS_FILE = "steps.jsonl"  # one line per optimiser step: step, loss, loss_<component>, lr


# ------------------------------------------------------------------------------------------ the machine, the folder


@dataclass(frozen=True)
class Run:
    """A run's place: its folder, its device and (under torchrun) its rank among ``dist.world_size``."""

    dir: Path
    device: torch.device
    dist: D.DistInfo = D.DistInfo()

    @property
    def last(self) -> Path:
        return self.dir / ckpt_lib.LAST

    @property
    def is_main(self) -> bool:
        return self.dist.is_main


def open_run(cfg, default_name: str, *, training: bool = True, distributed: bool = False) -> Run:
    """Set up this process for ``cfg`` and return its :class:`Run` (folder ``cfg.out_dir / (cfg.run_name or
    default_name)``, created by rank 0). ``distributed``: join torchrun's process group when launched by it
    (NCCL on CUDA, gloo on the CPU). ``training``: also cuDNN autotuning unless ``cfg.deterministic``, refuse a
    folder that holds a ``last.pt`` unless ``cfg.resume`` (a rerun must not overwrite a run), and remove the
    half-written checkpoints of a run killed while saving."""
    dist = D.DistInfo()
    if distributed:
        on_gpu = torch.cuda.is_available() and (cfg.device == "auto" or cfg.device.startswith("cuda"))
        dist = D.init_distributed("cuda" if on_gpu else "cpu")
    device = resolve_device(cfg.device, dist.local_rank)
    setup_cpu(device, cfg.cpu_threads, cfg.data.cache_mb)
    run = Run(Path(cfg.out_dir) / (cfg.run_name or default_name), device, dist)
    if training:
        setup_cuda_speed(device, cfg.deterministic)
        if run.last.exists() and not cfg.resume:
            raise FileExistsError(f"{run.dir} already holds a run: pass resume=true to continue it, or another "
                                  "run_name")
    if run.is_main:
        run.dir.mkdir(parents=True, exist_ok=True)
        if training:
            ckpt_lib.remove_stale_temps(run.dir)
    return run


def write_run_info(run: Run, cfg, **facts) -> None:
    """``config.yaml`` (the resolved config) and ``env.json`` (versions, decoder, device, ``config_hash`` and
    ``facts``) in the run folder (rank 0)."""
    if run.is_main:
        save_yaml(cfg, run.dir / "config.yaml")
        env = env_info(run.device, run.dist.world_size, cfg.data.backend)
        env.update(config_hash=config_hash(cfg), **facts)
        write_json(run.dir / "env.json", env)


# ---------------------------------------------------------------------------------------------------- resume


@dataclass
class ResumePoint:
    """Where a run continues: ``epoch`` to run (or to finish, when ``batch`` > 0: a mid-epoch checkpoint),
    ``step`` optimiser steps done, ``trained_s`` seconds trained, the lowest epoch loss so far, and for a mid-epoch
    point the epoch's running sums (:class:`EpochStats` state) and rank 0's random streams."""

    epoch: int = 0
    step: int = 0
    batch: int = 0
    trained_s: float = 0.0
    best: float = math.inf
    epoch_stats: dict | None = None
    rng: dict | None = None


def resume_from(run: Run, cfg, *, model, optimizer, scheduler, scaler=None, sampler=None) -> ResumePoint:
    """With ``cfg.resume`` and a ``last.pt``: load it into the given objects (a config that differs in a key that
    may not change is refused, naming it) and return its point; otherwise the start (:class:`ResumePoint`)."""
    if not (cfg.resume and run.last.exists()):
        return ResumePoint()
    ckpt = ckpt_lib.load_checkpoint(run.last, config=to_dict(cfg), map_location="cpu")
    if cfg.scheduler == "onecycle" and ckpt["config"]["epochs"] != cfg.epochs:
        raise ConfigError(f"epochs: OneCycle's schedule was laid out for {ckpt['config']['epochs']} epochs; "
                          f"it cannot change to {cfg.epochs} on resume")
    ckpt_lib.restore(ckpt, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler, rng=False)
    extra = ckpt["extra"]
    at = ResumePoint(ckpt["epoch"], ckpt["step"], ckpt.get("batch_in_epoch", 0), extra.get("train_seconds", 0.0),
                     extra.get("best_loss", math.inf))
    if at.batch:  # saved mid-epoch: the sampler, the epoch's sums and the random streams go on from there
        at.epoch_stats, at.rng = extra["epoch_stats"], ckpt["rng"]
        if sampler is not None:
            sampler.load_state_dict(ckpt["sampler"])
    if run.is_main:
        print(f"resuming {run.dir} at epoch {at.epoch + 1}" + (f", batch {at.batch}" if at.batch else ""))
    return at


def seed_epoch(seed: int, epoch: int, rank: int, at: ResumePoint, first_batch: int) -> None:
    """Seed the global random streams for ``epoch``: from :func:`epoch_seed` when it starts at batch 0; as they
    were saved when a mid-epoch resume (``first_batch`` > 0) continues it. Only rank 0's streams are checkpointed:
    the other ranks continue from a fresh deterministic seed."""
    if not first_batch:
        seed_everything(epoch_seed(seed, epoch, rank))
    elif rank == 0:
        ckpt_lib.set_rng_state(at.rng)
    else:
        seed_everything(epoch_seed(seed, epoch, rank) + 7919 * first_batch)


@dataclass
class EpochStats:
    """Running sums of one epoch (checkpointed mid-epoch so a resumed epoch reports the same means)."""

    sums: dict = field(default_factory=dict)
    batches: int = 0
    clips: int = 0
    compute_s: float = 0.0
    wait_s: float = 0.0

    def add(self, values: dict[str, float], clips: int, compute_s: float, wait_s: float) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.batches += 1
        self.clips += clips
        self.compute_s += compute_s
        self.wait_s += wait_s

    def means(self) -> dict[str, float]:
        """Each summed value per batch."""
        return {k: v / max(1, self.batches) for k, v in self.sums.items()}

    def throughput(self) -> float | None:
        """Clips per second of the epoch's busy time (compute + waiting for data)."""
        busy = self.compute_s + self.wait_s
        return self.clips / busy if busy > 0 else None

    def state(self) -> dict:
        return {"sums": dict(self.sums), "batches": self.batches, "clips": self.clips,
                "compute_s": self.compute_s, "wait_s": self.wait_s}


# ---------------------------------------------------------------------------------------------------- budget


@dataclass
class Budget:
    """When a run stops training, whichever limit comes first: ``epochs``; ``max_steps`` optimiser steps (the same
    result on any machine); ``seconds`` of training, counted across resumes (``trained_s``: what the checkpoint
    had trained; the clock of this process starts when the budget is made)."""

    epochs: int
    max_steps: int | None = None
    seconds: float | None = None
    trained_s: float = 0.0
    started: float = field(default_factory=time.time)

    @classmethod
    def of(cls, cfg, at: ResumePoint) -> "Budget":
        return cls(cfg.epochs, getattr(cfg, "max_steps", None), cfg.time_budget_s, at.trained_s)

    def elapsed(self) -> float:
        """Seconds trained, this process's and the resumed checkpoint's."""
        return self.trained_s + time.time() - self.started

    def steps_reached(self, step: int) -> bool:
        return self.max_steps is not None and step >= self.max_steps

    def time_up(self, device: torch.device) -> bool:
        """Whether the seconds are spent, decided by every rank together (one stopping alone would hang the
        others in their next all-reduce)."""
        return self.seconds is not None and D.any_rank(self.elapsed() >= self.seconds, device)

    def epochs_left(self, at: ResumePoint, *, say: bool = False) -> range:
        """The epochs to run from ``at``: none when a limit was already reached (raise it to go on)."""
        if self.seconds is not None and at.trained_s >= self.seconds:
            reason = f"time budget of {self.seconds:.0f}s already spent ({at.trained_s:.0f}s trained)"
        elif self.steps_reached(at.step):
            reason = f"max_steps {self.max_steps} already reached ({at.step} steps trained)"
        else:
            return range(at.epoch, self.epochs)
        if say:
            print(f"{reason}: nothing to do")
        return range(0)

    def epochs_to_run(self, at: ResumePoint, steps_per_epoch: int) -> int:
        """How many epochs will run (for a progress bar): the loop also stops at ``max_steps``."""
        n = len(self.epochs_left(at))
        if self.max_steps is not None:
            n = min(n, math.ceil(max(0, self.max_steps - at.step) / max(1, steps_per_epoch)))
        return n


# ------------------------------------------------------------------------------------------------ checkpoints


class Checkpoints:
    """Writes a run's ``last.pt`` / ``best.pt`` (rank 0; every other rank calls too and writes nothing) and opens
    its logs, cut back to the resume point: ``metrics.jsonl`` (one row per epoch, ``epochs``) and, when
    ``step_log``, ``steps.jsonl`` (one row per optimiser step, ``steps``). The rows of an epoch are written before
    its checkpoint; when that ``last.pt`` cannot be written (:class:`stclr.checkpoint.CheckpointWriteError`, e.g. a
    full disk) the logs are cut back to the ``last.pt`` still on disk, so the folder reads as the run a resume will
    continue. ``parts``: the model, optimizer, scheduler, scaler that every checkpoint holds."""

    def __init__(self, run: Run, cfg, budget: Budget, at: ResumePoint, *, step_log: bool = False, **parts):
        self.run, self.budget, self.parts, self.config = run, budget, parts, to_dict(cfg)
        self.epochs = MetricsLog(run.dir / METRICS_FILE, enabled=run.is_main)
        self.epochs.truncate_from(at.epoch)
        self.steps = MetricsLog(run.dir / STEPS_FILE, enabled=run.is_main and step_log, key="step")
        self.steps.truncate_from(at.step + 1)
        self.saved_at = (at.epoch, at.step)  # of the last.pt on disk: what the logs may not run past

    def save(self, epoch: int, step: int, *, batch_in_epoch: int = 0, stats: EpochStats | None = None,
             sampler=None, name: str = ckpt_lib.LAST, **extra) -> None:
        """``epoch``: the next epoch to run, or the current one for a mid-epoch checkpoint (``batch_in_epoch`` > 0,
        with the epoch's ``stats`` and the sampler's position). ``extra``: more values for ``ckpt["extra"]``
        (besides ``train_seconds`` and ``epoch_stats``)."""
        if not self.run.is_main:
            return
        extra = {**extra, "train_seconds": self.budget.elapsed(),
                 "epoch_stats": stats.state() if stats is not None else None}
        try:
            ckpt_lib.save_checkpoint(self.run.dir / name, **self.parts, epoch=epoch, step=step,
                                     batch_in_epoch=batch_in_epoch, sampler=sampler, config=self.config, extra=extra)
        except ckpt_lib.CheckpointWriteError:
            if name == ckpt_lib.LAST:
                self.epochs.truncate_from(self.saved_at[0])
                self.steps.truncate_from(self.saved_at[1] + 1)
            raise
        if name == ckpt_lib.LAST:
            self.saved_at = (epoch, step)


# ---------------------------------------------------------------------------------------------------- progress


class Progress:
    """What a training run shows while it trains (nothing unless ``show``): a bar per epoch and a line at its
    end; or, for epochs of ``few_steps`` steps or fewer (the course's pretraining: one step each), ONE bar over
    the run and a line at its end only -- 160 single-step epochs printed ~2000 messages, more than a kernel's
    output queue keeps while a cell runs (nbval then never saw the cell finish)."""

    def __init__(self, show: bool, steps_per_epoch: int, epochs_to_run: int, epochs: int, *, name: str = "epoch",
                 few_steps: int = 4):
        self.show, self.steps_per_epoch, self.epochs, self.name = show, steps_per_epoch, epochs, name
        self.per_epoch = steps_per_epoch > few_steps
        self.run = tqdm(total=epochs_to_run, desc="steps" if steps_per_epoch == 1 else "epochs", leave=False,
                        disable=not show or self.per_epoch, dynamic_ncols=True)

    def epoch(self, epoch: int, done: int = 0) -> tqdm:
        """The bar of ``epoch`` (``done`` batches already trained: a mid-epoch resume)."""
        return tqdm(total=self.steps_per_epoch, initial=done, desc=f"{self.name} {epoch + 1}/{self.epochs}",
                    disable=not self.show or not self.per_epoch, leave=False, dynamic_ncols=True)

    def epoch_done(self, epoch: int, line: str, **postfix) -> None:
        self.run.update(1)
        self.run.set_postfix(**postfix, refresh=False)
        if self.show and (self.per_epoch or epoch + 1 == self.epochs):
            print(f"{self.name} {epoch + 1}/{self.epochs}  {line}")

    def close(self) -> None:
        self.run.close()


# ------------------------------------------------------------------------------------------------------ stop


def stop_signal(stop: StopFlag | None, device: torch.device, dist: D.DistInfo) -> int:
    """The stop signal's number if any rank received one (0 if none): a collective under torchrun, so every rank
    stops after the same optimiser step (a rank stopping alone would leave the others waiting in all-reduce)."""
    sig = (stop.signum or 0) if stop is not None else 0
    return int(D.max_over_ranks(sig, device)) if dist.enabled else sig


def preempted(run: Run, signum: int, step: int, command: str, progress: Progress | None = None) -> Preempted:
    """The :class:`stclr.runinfo.Preempted` to raise after the checkpoint of a stop at optimiser step ``step``
    (``progress`` closed first). Waits for every rank: rank 0 has written ``last.pt`` before any rank exits
    (torchrun ends the others when one exits)."""
    if progress is not None:
        progress.close()
    D.barrier()
    exc = Preempted(signum, step, run.last)
    if run.is_main:
        print(f"stclr {command}: {exc}", file=sys.stderr, flush=True)
    return exc
