"""Checkpoints that survive a kill and load with ``torch.load(..., weights_only=True)``.

A checkpoint is one dict of tensors and plain containers (no pickled objects, so ``weights_only=True`` can
load it and loading a file from elsewhere cannot run code):

    model, optimizer, scheduler, scaler      state_dicts
    epoch, step, batch_in_epoch              where training stands (batch_in_epoch > 0: saved mid-epoch)
    rng                                      python / numpy / torch / cuda generator states
    sampler                                  the batch sampler's state_dict (its position)
    config                                   the run's config as a plain dict (checked on resume)
    extra                                    anything else small (best loss, history)

Writes are atomic: the dict is saved to a temporary file in the same folder, flushed to disk, and renamed over
the target with ``os.replace``, so a SIGKILL leaves either the old or the new file, never half of one. A write
that fails (disk full, quota, I/O error) removes its temporary file, leaves the old file as it was and raises
:class:`CheckpointWriteError`, which says how many bytes the checkpoint needed and how many were free. A SIGKILL
during the write can leave a temporary ``.last.pt.*.tmp`` behind (nothing runs after SIGKILL):
:func:`remove_stale_temps` clears those when the run starts or resumes.
"""

from __future__ import annotations

import errno as _errno
import io
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stclr.config import RESUME_MUTABLE, config_diff

LAST, BEST = "last.pt", "best.pt"


class ConfigMismatchError(RuntimeError):
    """The checkpoint was written by a run with a different configuration; the message lists the keys."""


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed; the previous file at ``path`` is untouched and no temporary file is left.

    An ``OSError`` with the original ``errno`` (``errno.ENOSPC`` when the disk is full), so handlers of
    ``OSError`` still catch it. ``needed_bytes``: the size of the serialized checkpoint; ``free_bytes``: the free
    space of the target's file system when the write failed (None where it could not be measured)."""

    def __init__(self, path: Path, cause: OSError, needed_bytes: int | None, free_bytes: int | None):
        self.path, self.cause, self.needed_bytes, self.free_bytes = Path(path), cause, needed_bytes, free_bytes
        what = "no space left on device" if cause.errno == _errno.ENOSPC else (cause.strerror or str(cause))
        need = f"{_mb(needed_bytes)} ({needed_bytes} bytes)" if needed_bytes is not None else "an unknown size"
        free = f"{_mb(free_bytes)} ({free_bytes} bytes) free" if free_bytes is not None else "unknown free space"
        msg = (f"could not write checkpoint {self.path}: {what} ({cause}). The checkpoint needs {need}; "
               f"{self.path.parent} has {free}. The previous {self.path.name} is untouched and no temporary file "
               f"was left; free some space, then continue the run with resume=true.")
        if cause.errno is not None:
            super().__init__(cause.errno, msg)
        else:
            super().__init__(msg)

    def __reduce__(self):  # picklable (DataLoader workers, multiprocessing) with its fields
        return type(self), (self.path, self.cause, self.needed_bytes, self.free_bytes)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


class _ByteCounter(io.RawIOBase):
    """A write-only sink that only counts bytes: the size of a serialization without holding it in memory."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.n += len(b)
        return len(b)


def serialized_size(obj: Any) -> int:
    """Bytes ``torch.save(obj)`` writes (serializes into a counter: costs a save's CPU time, no memory or disk)."""
    sink = _ByteCounter()
    torch.serialization.save(obj, sink)
    return sink.n


# ------------------------------------------------------------------------------------------------ RNG state


def rng_state() -> dict:
    """Every RNG the training loop draws from, as tensors and ints (``weights_only``-loadable)."""
    version, mt, gauss = random.getstate()
    npst = np.random.get_state(legacy=False)
    state = {
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "bit_generator": npst["bit_generator"],
            "key": torch.from_numpy(npst["state"]["key"].astype(np.int64)),
            "pos": int(npst["state"]["pos"]),
            "has_gauss": int(npst["has_gauss"]),
            "gauss": float(npst["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    p = state["python"]
    random.setstate((p["version"], tuple(int(x) for x in p["state"].tolist()), p["gauss"]))
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": n["bit_generator"],
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:  # resumed on a machine with another GPU count: restore what lines up
            for i, s in enumerate(cuda[: torch.cuda.device_count()]):
                torch.cuda.set_rng_state(s, i)


# ------------------------------------------------------------------------------------------------ save / load


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace`` (atomic on POSIX/NTFS).

    Any failure removes the temporary file and leaves ``path`` as it was; an ``OSError`` (ENOSPC, EDQUOT, EIO)
    becomes a :class:`CheckpointWriteError` that says how much space the checkpoint needed and how much was free.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not isinstance(e, CheckpointWriteError):
            # Measured only on failure, so a healthy save costs nothing extra. The free space is read after the
            # temporary file is gone: what a retry would have.
            try:
                needed = serialized_size(obj)
            except Exception:  # noqa: BLE001 -- the report must not hide the write error
                needed = None
            try:
                free = shutil.disk_usage(path.parent).free
            except OSError:
                free = None
            raise CheckpointWriteError(path, e, needed, free) from e
        raise


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files (``.<name>.*.tmp``) that a write killed mid-way left in a run folder (only
    :func:`atomic_save`'s names of ``last.pt`` and ``best.pt``; call it from the one process that writes the
    folder, before it writes). Returns the files removed."""
    removed = []
    for name in (LAST, BEST):
        for p in Path(folder).glob(f".{name}.*.tmp"):
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DDP and torch.compile wrappers (so checkpoint keys have no prefixes)."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, torch.nn.Module):  # DDP
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile
            model = model._orig_mod
        else:
            return model


def make_checkpoint(
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    epoch: int = 0,
    step: int = 0,
    batch_in_epoch: int = 0,
    sampler: Any = None,
    config: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """The checkpoint dict. ``epoch`` is the next epoch to run (or the current one when ``batch_in_epoch`` > 0)."""
    return {
        "format": 1,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "epoch": int(epoch),
        "step": int(step),
        "batch_in_epoch": int(batch_in_epoch),
        "rng": rng_state(),
        "sampler": sampler.state_dict() if sampler is not None and hasattr(sampler, "state_dict") else sampler,
        "config": config,
        "extra": extra or {},
    }


def save_checkpoint(path: str | Path, **parts) -> dict:
    """Build the checkpoint (see :func:`make_checkpoint`) and write it atomically. Returns the dict."""
    ckpt = make_checkpoint(**parts)
    atomic_save(ckpt, path)
    return ckpt


def load_checkpoint(
    path: str | Path,
    *,
    config: dict | None = None,
    allow_changes=RESUME_MUTABLE,
    map_location: str | torch.device = "cpu",
) -> dict:
    """Load with ``weights_only=True``. When ``config`` is given, refuse a checkpoint whose config differs in any
    key outside ``allow_changes``, naming each key with its old and new value."""
    ckpt = torch.load(Path(path), map_location=map_location, weights_only=True)
    if config is not None and ckpt.get("config") is not None:
        diff = config_diff(ckpt["config"], config, ignore=allow_changes)
        if diff:
            lines = "\n".join(f"  {k}: checkpoint {a!r} != now {b!r}" for k, (a, b) in diff.items())
            raise ConfigMismatchError(
                f"{path} was written with a different configuration ({len(diff)} key(s) differ: "
                f"{', '.join(diff)}):\n{lines}\nStart a new run (another run_name) or use the checkpoint's values."
            )
    return ckpt


def restore(ckpt: dict, *, model=None, optimizer=None, scheduler=None, scaler=None, sampler=None, rng: bool = True) -> None:
    """Load the parts of ``ckpt`` into the given objects (each optional)."""
    if model is not None:
        unwrap(model).load_state_dict(ckpt["model"])
    if optimizer is not None and ckpt.get("optimizer") is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler") is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    if sampler is not None and ckpt.get("sampler") is not None and hasattr(sampler, "load_state_dict"):
        sampler.load_state_dict(ckpt["sampler"])
    if rng and ckpt.get("rng") is not None:
        set_rng_state(ckpt["rng"])


def find_checkpoint(path: str | Path, prefer: str = LAST) -> Path:
    """A run folder -> its ``last.pt`` (or ``prefer``); a file -> itself."""
    path = Path(path)
    if path.is_dir():
        for name in (prefer, LAST, BEST):
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"no checkpoint ({prefer}, {LAST} or {BEST}) in {path}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


def load_backbone_weights(backbone: torch.nn.Module, path: str | Path, prefer: str = LAST) -> dict:
    """Copy a pretraining checkpoint's backbone weights into ``backbone`` (projection/SSL heads are dropped).

    Accepts a run folder or a ``.pt`` with a ``model`` state_dict whose backbone keys start with ``backbone.``
    (or a bare backbone state_dict). Returns ``{"path", "loaded", "config"}``; raises if nothing matches.
    """
    file = find_checkpoint(path, prefer)
    ckpt = torch.load(file, map_location="cpu", weights_only=True)
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    own = backbone.state_dict()
    picked = {}
    for prefix in ("backbone.", "module.backbone.", "encoder.", ""):
        picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and k[len(prefix):] in own}
        if picked:
            break
    if not picked:
        raise KeyError(f"{file}: no backbone weights matching this architecture (keys like {next(iter(own))!r})")
    missing = sorted(set(own) - set(picked))
    if missing:
        raise KeyError(f"{file}: backbone keys missing from the checkpoint, e.g. {missing[:3]} (architecture differs?)")
    shapes = [k for k, v in picked.items() if v.shape != own[k].shape]
    if shapes:
        raise ValueError(f"{file}: shape mismatch for {shapes[:3]} (architecture differs?)")
    backbone.load_state_dict(picked)
    return {"path": str(file), "loaded": len(picked), "config": ckpt.get("config") if isinstance(ckpt, dict) else None}
