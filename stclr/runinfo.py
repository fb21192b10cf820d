"""What every run needs around the training loop: the device, seeds, the run folder, env.json, metrics.jsonl."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stclr.fileio import read_jsonl, write_json_atomic, write_text_atomic  # noqa: F401 (re-exported)


def resolve_device(pref: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA (this process's GPU under torchrun) -> Apple MPS -> CPU; otherwise ``torch.device(pref)``."""
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(pref)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def deterministic(flag: bool):
    """Within the block: reproducible kernels when ``flag`` (kill-and-resume equality, debugging; slower). The
    global switches are restored afterwards, so one deterministic run does not slow down (or, through ops that
    have no deterministic kernel, break) whatever runs next in the same process."""
    prev = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if flag:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for determinism
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev[2], prev[3]


# ------------------------------------------------------------------------------------------------ preemption


class Preempted(SystemExit):
    """The run was asked to stop (SIGTERM or SIGINT), saved a resumable ``last.pt`` at an optimiser-step boundary
    and stopped; continue it with ``resume=True`` (the result equals an uninterrupted run's).

    A ``SystemExit`` whose ``code`` is 128 + the signal number -- **143 for SIGTERM, 130 for SIGINT**, the codes a
    shell reports for a process ended by that signal and what schedulers (Slurm requeue, Kubernetes, torchrun)
    expect -- so ``python -m stclr pretrain ...`` and any script that does not catch it exit with that code and no
    traceback, while ``except Exception`` in user code does not swallow a preemption. Fields: ``signum``,
    ``signame``, ``step`` (optimiser steps in the checkpoint), ``checkpoint`` (its path)."""

    def __init__(self, signum: int, step: int, checkpoint: str | Path):
        super().__init__(128 + int(signum))
        self.signum, self.step, self.checkpoint = int(signum), int(step), Path(checkpoint)
        self.signame = signal.Signals(self.signum).name

    def __str__(self) -> str:
        return (f"{self.signame}: stopped after optimiser step {self.step}; resumable checkpoint {self.checkpoint} "
                f"(continue with resume=true); exit code {self.code}")


class StopFlag:
    """What :func:`stop_on_signals` yields: ``signum`` is the first stop signal received (None until then)."""

    def __init__(self):
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def stop_on_signals(signals=(signal.SIGTERM, signal.SIGINT)):
    """Within the block, SIGTERM and SIGINT only set the yielded :class:`StopFlag`: the training loop finishes the
    optimiser step it is in, saves ``last.pt`` and raises :class:`Preempted`. A second signal while the first is
    being honoured does what it would have done without the block (SIGINT: KeyboardInterrupt; SIGTERM: the
    previous handler, by default the end of the process), so a stuck run can still be stopped. The previous
    handlers are restored on leaving. Outside the main thread (where Python cannot install handlers) the flag
    never rises and signals act as before."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {s: signal.getsignal(s) for s in signals}

    def handler(signum, frame):
        if flag.signum is not None:  # asked twice: stop the usual way now
            signal.signal(signum, previous[signum] if previous[signum] is not None else signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        flag.signum = signum

    for s in signals:
        signal.signal(s, handler)
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def setup_cuda_speed(device: torch.device, deterministic: bool) -> None:
    """cuDNN autotuning (fixed clip shapes make it pay off) and TF32 matmuls, unless deterministic."""
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def setup_cpu(device: torch.device, cpu_threads: int = 0, cache_mb: float = 0.0) -> None:
    """Per-process CPU settings of a run: ``cpu_threads`` torch threads when the device is the CPU (0 leaves
    torch's default), and a decoded-video cache of ``cache_mb`` MB (``stclr.video.set_frame_cache``)."""
    if cpu_threads < 0:
        raise ValueError(f"cpu_threads must be >= 0, got {cpu_threads}")
    if device.type == "cpu" and cpu_threads:
        torch.set_num_threads(cpu_threads)
    from stclr.video import set_frame_cache

    set_frame_cache(cache_mb)


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (no loss scaling needed: bf16 has fp32's range); a no-op elsewhere."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


def use_channels_last(cfg, device: torch.device) -> bool:
    """Whether a run keeps its model and clips in channels_last_3d: on CUDA when ``cfg.channels_last``, on the
    CPU only when ``cfg.cpu_channels_last`` as well (the default: ~1.6x faster there for the tiny R3D; its
    floating-point order differs from contiguous tensors', so runs recorded with one differ from the other's)."""
    return bool(cfg.channels_last) and (device.type == "cuda" or bool(getattr(cfg, "cpu_channels_last", False)))


def to_run_device(model: torch.nn.Module, cfg, device: torch.device) -> tuple[torch.nn.Module, bool]:
    """(``model`` on ``device``, in channels_last_3d when :func:`use_channels_last` says so; that flag, which the
    run's clips must follow: :func:`to_device`)."""
    model = model.to(device)
    channels_last = use_channels_last(cfg, device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    return model, channels_last


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """Move a batch tensor; 5-D clip batches go channels_last_3d when asked (must match the model's layout:
    pass :func:`use_channels_last`)."""
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 5:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x


def shown_path(path: str | Path, start: str | Path | None = None) -> str:
    """``path`` as printed for a reader: relative to ``start`` (default: the working directory) when it lies within
    two levels above it (``../runs/...`` from a notebook), else absolute. Printed outputs are stored in the
    committed notebooks, so they must not carry the machine's own folders."""
    p = Path(path).absolute()
    rel = os.path.relpath(p, Path(start or os.getcwd()).absolute())
    return rel if Path(rel).parts[:3].count("..") <= 2 else str(p)


def decoder_backend(configured: str = "auto") -> dict[str, Any]:
    """The configured decoder backend and what ``auto`` can choose on this machine."""
    try:
        from stclr import video

        has_decord = bool(video.HAS_DECORD)
    except Exception:  # noqa: BLE001 -- env.json is best-effort information
        has_decord = False
    return {
        "configured": configured,
        "decord_installed": has_decord,
        "auto_means": "decord for H.264/H.265 MP4, else pyav" if has_decord else "pyav",
    }


def env_info(device: torch.device | None = None, world_size: int = 1, backend: str = "auto") -> dict[str, Any]:
    """Versions, decoder backend and device: written to env.json beside the config."""

    def version(mod: str) -> str | None:
        try:
            return getattr(__import__(mod), "__version__", "?")
        except Exception:  # noqa: BLE001
            return None

    info = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": {m: version(m) for m in ("stclr", "torch", "torchvision", "numpy", "av", "decord", "yaml")},
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "decoder_backend": decoder_backend(backend),
        "device": str(device) if device is not None else None,
        "world_size": world_size,
    }
    if device is not None and device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    try:
        import subprocess

        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        info["git"] = sha.stdout.strip() or None
    except Exception:  # noqa: BLE001
        info["git"] = None
    return info


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (``stclr.fileio``), numpy and torch values as plain numbers and lists."""
    write_json_atomic(path, obj, default=_json_default)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if torch.is_tensor(o):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return repr(o)


class MetricsLog:
    """Append-only JSON lines: ``metrics.jsonl`` (one object per epoch, ``key="epoch"``) or ``steps.jsonl`` (one
    per optimiser step, ``key="step"``). Survives kills line by line.

    On resume, lines at or after the resumed epoch (step) are dropped first, so the file has each one once.
    """

    def __init__(self, path: str | Path, enabled: bool = True, key: str = "epoch"):
        self.path, self.enabled, self.key = Path(path), enabled, key

    def truncate_from(self, value: int) -> None:
        """Drop the lines whose key is >= ``value`` (and a torn last line that a kill or a full disk left
        half-written). When the kept lines are the file's beginning (an append-only log always is) the file is cut
        in place: that needs no free space, so it also works when a full disk is what stopped the run."""
        if not (self.enabled and self.path.exists()):
            return
        lines = self.path.read_bytes().splitlines(keepends=True)
        keep = [ln for ln in lines if ln.strip() and (row := _parse(ln)) is not None and row.get(self.key, -1) < value]
        if keep == lines[: len(keep)] and all(ln.endswith(b"\n") for ln in keep):
            os.truncate(self.path, sum(len(ln) for ln in keep))
        else:
            write_text_atomic(self.path, "".join(ln.decode().rstrip("\n") + "\n" for ln in keep))

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(row, default=_json_default) + "\n")
            f.flush()

    def read(self) -> list[dict]:
        return read_jsonl(self.path)


def _parse(line: bytes) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:  # a line cut short by a kill or a full disk
        return None
