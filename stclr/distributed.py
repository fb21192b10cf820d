"""Multi-process training with ``torchrun`` (DistributedDataParallel).

    torchrun --standalone --nproc_per_node=4 -m stclr pretrain --config my.yaml

Conventions (the same as torchvision's references):

- the process group is initialised from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``);
  NCCL on CUDA, gloo on CPU; one process per GPU.
- ``batch_size`` in the config is the GLOBAL batch. Every rank's ``PlannedBatchSampler`` draws the same global
  batch (the order is seeded by the run seed and the epoch) and keeps its contiguous share (:func:`shard_range`).
  So the global batch — and, through ``instance_contrastive(..., gather=True)``, the set of negatives of the
  instance-contrastive loss — is the same as in one process. (SSL tuples that borrow clips from other videos
  of the batch borrow from the rank's share.)
- model initialisation uses the run seed on every rank (DDP also broadcasts rank 0's weights); the global RNGs
  (dropout) are then reseeded per epoch and rank (``stclr.train.epoch_seed``); augmentations are seeded by the
  data pipeline from (seed, epoch, step), and each rank augments its own videos.
- only rank 0 writes files (checkpoints, metrics, progress bars).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from stclr import losses as _losses


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str | None = None) -> DistInfo:
    """Initialise the process group when launched by torchrun (``WORLD_SIZE`` > 1); a no-op otherwise.

    ``device_type`` ("cuda" | "cpu" | ...) picks the backend; by default NCCL when CUDA is available, else gloo.
    """
    if dist.is_available() and dist.is_initialized():
        return current()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device_type is None:
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    backend = "nccl" if device_type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)  # before init, so NCCL binds each process to its own GPU
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local_rank, backend)


def current() -> DistInfo:
    """The running process's rank information (a single-process DistInfo when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_backend())


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def wrap_ddp(model: torch.nn.Module, device: torch.device, *, sync_bn: bool = True) -> torch.nn.Module:
    """DDP-wrap ``model`` when distributed (else return it). On CUDA, BatchNorm becomes SyncBatchNorm when
    ``sync_bn`` (so statistics span the global batch, as in one process); SyncBatchNorm has no CPU kernel, so on
    CPU each rank normalises with its own slice's statistics."""
    info = current()
    if not info.enabled:
        return model
    if sync_bn and device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


# --------------------------------------------------------------------------------------------- batch sharding


def shard_range(n: int, rank: int, world: int) -> tuple[int, int]:
    """The contiguous slice [lo, hi) of a global batch of ``n`` that ``rank`` owns; requires n % world == 0 so
    every rank runs the same-shaped step (DDP needs it, and the gathered batch then equals the global batch)."""
    if n % world:
        raise ValueError(f"batch_size {n} is not divisible by the number of processes {world}")
    per = n // world
    return rank * per, (rank + 1) * per


# --------------------------------------------------------------------------------------------- collectives


# The autograd-aware all_gather lives with the loss that needs it (stclr.losses); re-exported here for callers
# that gather other features (e.g. a custom loss).
all_gather_with_grad = _losses.all_gather_with_grad


def all_reduce_mean(x: torch.Tensor | float) -> torch.Tensor:
    """Mean over ranks of a scalar (for logging); identity when not distributed."""
    t = x.detach().clone() if torch.is_tensor(x) else torch.tensor(float(x))
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        t = t.to(torch.float64 if t.device.type == "cpu" else torch.float32)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t = t / dist.get_world_size()
    return t


def any_rank(flag: bool, device: torch.device | str = "cpu") -> bool:
    """True on every rank when ``flag`` is True on any rank (so all ranks take the same branch)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def max_over_ranks(x: float, device: torch.device | str = "cpu") -> float:
    """The largest ``x`` over ranks, on every rank (e.g. elapsed time, so a time-based schedule agrees)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return float(x)
    t = torch.tensor([float(x)], device=device, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def all_reduce_sum(values: dict[str, float], device: torch.device | str = "cpu") -> dict[str, float]:
    """Sum a dict of numbers over ranks (counters); identity when not distributed."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1) or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) for k, v in zip(keys, t.tolist())}
