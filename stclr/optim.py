"""Optimisers and learning-rate schedules of pretraining and fine-tuning (one home: both loops build them here).

- :func:`build_optimizer`: Adam (the paper's pretraining, Sec. 4.2.2) or SGD with momentum (its fine-tuning).
- :func:`build_scheduler`: ReduceLROnPlateau on the epoch loss (the paper's pretraining), OneCycle (its
  fine-tuning), or :class:`CosineSchedule` (the course: annealed over the run's optimiser steps, or over a time
  budget), with when it is stepped; :func:`step_scheduler` steps the per-step ones.
"""

from __future__ import annotations

import math

import torch

__all__ = ["CosineSchedule", "build_optimizer", "build_scheduler", "step_scheduler"]


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=cfg.momentum)


class CosineSchedule:
    """Cosine annealing from the base learning rate to 0 over the run: ``lr = base * (1 + cos(pi * p)) / 2``
    with progress ``p`` = elapsed training seconds / ``time_budget_s`` when a time budget is set (so a budgeted
    run anneals by its end however many steps fit), else optimiser steps / ``total_steps``. Stepped once per
    optimiser step (``step(elapsed_s)``); its state (steps, elapsed seconds) is checkpointed like a torch
    scheduler's."""

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, time_budget_s: float | None = None):
        self.optimizer, self.total_steps, self.time_budget_s = optimizer, max(1, total_steps), time_budget_s
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.steps, self.elapsed_s = 0, 0.0

    def progress(self) -> float:
        p = self.elapsed_s / self.time_budget_s if self.time_budget_s else self.steps / self.total_steps
        return min(max(p, 0.0), 1.0)

    def step(self, elapsed_s: float | None = None) -> None:
        self.steps += 1
        if elapsed_s is not None:
            self.elapsed_s = float(elapsed_s)
        f = 0.5 * (1.0 + math.cos(math.pi * self.progress()))
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"base_lrs": list(self.base_lrs), "steps": self.steps, "elapsed_s": self.elapsed_s,
                "total_steps": self.total_steps, "time_budget_s": self.time_budget_s}

    def load_state_dict(self, state: dict) -> None:
        self.base_lrs, self.steps, self.elapsed_s = list(state["base_lrs"]), int(state["steps"]), float(state["elapsed_s"])


def build_scheduler(cfg, optimizer, steps_per_epoch: int):
    """(scheduler, when) with when = "epoch" (plateau, fed the epoch loss), "step" (OneCycle, cosine: stepped
    after every optimiser step; cosine is given the elapsed training seconds) or None."""
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience
        ), "epoch"
    total = cfg.epochs * steps_per_epoch
    if getattr(cfg, "max_steps", None):
        total = min(total, cfg.max_steps)
    if cfg.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=max(1, total)), "step"
    if cfg.scheduler == "cosine":
        return CosineSchedule(optimizer, total, cfg.time_budget_s), "step"
    return None, None


def step_scheduler(scheduler, elapsed_s: float, device: torch.device | str = "cpu") -> None:
    """One per-optimiser-step scheduler step. The cosine schedule also takes the seconds trained; under torchrun
    a time-budgeted one takes the largest over the ranks (a collective), so every rank uses the same rate."""
    if isinstance(scheduler, CosineSchedule):
        if scheduler.time_budget_s:
            from stclr.distributed import max_over_ranks

            elapsed_s = max_over_ranks(elapsed_s, device)
        scheduler.step(elapsed_s)
    else:
        scheduler.step()
