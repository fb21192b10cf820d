"""Typed run configurations for pretraining, fine-tuning, retrieval and the linear probe.

One dataclass per command, with the paper's settings as defaults (``docs/method.md`` §5):

- :class:`PretrainConfig` — STCLR pretraining (Sec. 4.2.2/4.3.1): R3D-18, 16x112x112, Adam lr 1e-3, wd 1e-9,
  tau 0.3 (``temperature=None`` picks each method's: 0.3, or TCLR's 0.1), batch 38, ReduceLROnPlateau (patience 12, x0.1), 400 epochs, skips ``paper`` (1,4,8,16,32),
  C1 0.6, C2 0.75. ``preset("ssl")`` gives the SSL-only settings of Sec. 4.2.1 (SGD lr 1e-2, wd 1e-4,
  batch 24, OneCycle, 16x128x128).
- :class:`FinetuneConfig` — action recognition (Sec. 4.2.2): SGD lr 3e-3, wd 6e-3, momentum 0.9, batch 16,
  OneCycle, resize 128x171, random 112 crop, skip 4, dropout 0.9, 10 clips x 10 crops at test time.
- :class:`RetrievalConfig` — nearest-neighbour retrieval (Sec. 4.2.2): 10 clips, skip 3, full frame,
  R@1/5/10/20; ``protocol="tclr"`` switches to TCLR's 9 clips, skip 2, centre crop 0.8, 2048-d features.
- :class:`LinearProbeConfig` — frozen features + logistic regression.

Every config loads from YAML (``yaml.safe_load``) plus ``key=value`` overrides with dotted keys
(``data.root=data/synthetic``). Unknown keys and values of the wrong type raise :class:`ConfigError`
naming the key (and suggesting close matches), so a typo never silently trains with a default.
``preset("course")`` gives tiny CPU settings for the synthetic dataset.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import difflib
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union

import yaml

from stclr.method_table import method_names


class ConfigError(ValueError):
    """A configuration key is unknown, or its value has the wrong type. The message names the key."""


# --------------------------------------------------------------------------------------------------------------
# The configurations


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass
class DataConfig:
    """Where the videos are and how they are read (shared by every command)."""

    dataset: str = "ucf101"  # ucf101 | hmdb51 | diving48 | synthetic (synthetic uses the UCF-101 layout)
    root: str = "data/UCF-101"  # dataset folder
    split: int = 1  # official split (fold) number; the paper pretrains and evaluates on split 1
    num_workers: int = -1  # DataLoader worker processes: -1 = from the cores (DataConfig.workers), 0 = load in the
    # main process. Results never depend on it: batches are functions of (seed, epoch, step)
    backend: str = "auto"  # video decoder: auto | pyav | decord_seq | decord (stclr.video)
    short_policy: str = "fit"  # too-short videos: fit | loop | mirror (docs/method.md §2)
    max_videos: int | None = None  # use only the first N videos of each subset (quick experiments)
    cache_mb: float = 0.0  # keep up to this many MB of whole decoded videos in memory per process (0 = off;
    # the synthetic set is ~600 MB decoded, ~300 MB its train list, and is otherwise decoded again every epoch:
    # stclr.video.set_frame_cache; each process keeps its own, so with n persistent workers there are n copies)
    on_bad_video: str = "replace"  # a pretraining video that fails to decode mid-run: replace | error.
    # replace (default): train on another video drawn from (seed, epoch, step) -- batches keep their size, the run
    # stays reproducible and resumable -- and name the file and the frame in the run's bad_videos.json and log;
    # more than half of the split unreadable still stops the run. A weeks-long run should not die on 3 damaged
    # files out of 13k. error: stop at the first one, naming file and frame, for a set that must be used exactly.
    # Fine-tuning and the evaluations (retrieval, linear probe, test accuracy) never replace: a swapped test video
    # would change the set being measured, so they stop with the decoder's VideoReadError naming the file.

    def __post_init__(self):
        _check_choices(self)

    def workers(self) -> int:
        """The worker count to use: ``num_workers``, or for -1 the cores this process may use, shared by the
        training processes of this machine (``LOCAL_WORLD_SIZE`` under torchrun), less one for the training loop
        itself, at least 1 and at most 16."""
        if self.num_workers >= 0:
            return self.num_workers
        per_process = usable_cores() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        return max(1, min(16, per_process - 1))


@dataclass
class PretrainConfig:
    """Self-supervised pretraining (STCLR and its baselines)."""

    method: str = "stclr"  # stclr | simplified_tclr | tclr | ssl | ic
    arch: str = "r3d_18"  # r3d_18 | r3d_18_tclr | r3d_tiny
    clip_len: int = 16  # frames per clip (L)
    size: int = 112  # clip side in pixels (the paper's 16x112x112)
    skips: str | tuple[int, ...] = "paper"  # local-clip skips: a preset (paper | simplified | low | medium | high) or a list
    c1: float = 0.6  # SSL: probability that the three tuple clips come from different videos
    c2: float = 0.75  # SSL: probability that exactly two clips share a speed
    ssl_speeds: tuple[int, ...] = (1, 2, 4, 8, 16)  # SSL skip rates (max 16, Sec. 4.2.1)
    temperature: float | None = None  # tau of h(u,v)=exp(cos/tau); None = the method's: 0.3 (STCLR family), 0.1 (tclr)
    weights: dict[str, float] = field(default_factory=dict)  # loss weights, e.g. {ic: 1, sll: 1, ssl: 1}
    proj_dim: int = 128  # projection head output d
    augment: str = "tclr"  # local/global clip-view augmentation: tclr (TCLR's set, Sec. 4.2.2) | light | ssl | none
    ssl_augment: str = "ssl"  # SSL tuple clips' augmentation: ssl (Sec. 4.2.1's list) | light | tclr | none
    ssl_input: str = "frames"  # what the SSL tuple clips feed the backbone: frames | diff (adjacent-frame
    # differences, the residual frames of Tao et al. 2020: speed becomes the size of what changes)
    ssl_head_dropout: float = 0.5  # dropout in the SSL head (Sec. 4.2.1: 0.5)
    ssl_head_norm: bool = False  # standardise the SSL head's input features over the batch (BatchNorm1d without
    # affine; not in the paper): part of what makes the course's pretext learn inside STCLR (stclr.models.SSLHead)
    augment_on: str = "loader"  # where clip views are augmented: loader (CPU, in the DataLoader workers) | device
    # (stclr.augment_gpu on the training device, the same per-view parameters: the loader only decodes to
    # decode_size and cuts uint8 clips, which frees the CPU cores on a GPU machine; strengths tclr/light/ssl/none)
    decode_size: tuple[int, int] | None = None  # (H, W) frames are decoded to with augment_on=device; None:
    # (8/7 x size, 4/3 of that), i.e. (128, 171) for size 112 -- the short side the paper's crops come from, 4:3
    # optimisation
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-9
    momentum: float = 0.9  # SGD only
    scheduler: str = "plateau"  # plateau | onecycle | cosine (to 0 over the time budget, else over all epochs) | none
    plateau_patience: int = 12  # epochs without improvement of the epoch loss before lr x plateau_factor
    plateau_factor: float = 0.1
    batch_size: int = 38  # GLOBAL batch (videos); split across DDP ranks
    epochs: int = 400
    grad_clip: float | None = None  # max grad norm (None = no clipping)
    accum_steps: int = 1  # gradient accumulation; NOTE: it does not add negatives to the contrastive losses
    max_steps_per_epoch: int | None = None  # cap the steps of an epoch (quick runs)
    max_steps: int | None = None  # stop after this many optimiser steps in all: a budget that means the same on every
    # machine (the cosine/OneCycle schedule then spans min(epochs x steps per epoch, max_steps))
    time_budget_s: float | None = None  # stop (after a checkpoint) when this wall-clock budget is spent
    # machine
    seed: int = 0
    device: str = "auto"  # auto (CUDA -> MPS -> CPU) | cpu | cuda | cuda:1 | mps
    cpu_threads: int = 0  # torch threads on a CPU device (0 = torch's default; 1 is fastest for tiny models on a busy machine)
    amp: bool = True  # bf16 autocast on CUDA (no GradScaler needed for bf16)
    channels_last: bool = True  # channels_last_3d memory format on CUDA
    # ... and on the CPU too: faster there for the course's step (docs/benchmarks.md, train_step_cpu); a different
    # floating-point order than contiguous tensors, so runs recorded with one differ from the other's
    cpu_channels_last: bool = True
    compile: bool = False  # torch.compile the model
    activation_checkpointing: bool = False  # recompute each backbone stage in backward: less memory, ~1/3 more compute
    sync_bn: bool = True  # SyncBatchNorm under DDP on CUDA, so BN statistics span the global batch
    deterministic: bool = False  # torch.use_deterministic_algorithms (reproducible, slower)
    # output
    out_dir: str = "runs"
    run_name: str | None = None  # default: <method>-<arch>-s<seed>
    resume: bool = False  # continue from <run_dir>/last.pt
    ckpt_every_steps: int = 0  # also checkpoint every N optimiser steps (mid-epoch resume); 0 = per epoch only
    show_progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        _check_choices(self)
        if self.augment_on == "device":
            for name in ("augment", "ssl_augment"):
                if getattr(self, name) not in DEVICE_STRENGTHS:
                    raise ConfigError(f"{name}: {getattr(self, name)!r} has no device implementation; with "
                                      f"augment_on='device' choose one of {list(DEVICE_STRENGTHS)}")
        if self.decode_size is not None and (len(self.decode_size) != 2 or min(self.decode_size) < self.size):
            raise ConfigError(f"decode_size: expected (H, W) no smaller than size {self.size}, got {self.decode_size!r}")

    def frame_size(self) -> tuple[int, int]:
        """(H, W) the loader decodes frames to when ``augment_on == "device"``."""
        if self.decode_size is not None:
            return int(self.decode_size[0]), int(self.decode_size[1])
        h = round(self.size * 8 / 7)
        return h, round(h * 4 / 3)


@dataclass
class FinetuneConfig:
    """Supervised fine-tuning for action recognition (Sec. 4.2.2)."""

    arch: str | None = None  # None = the checkpoint's architecture (r3d_18 without a checkpoint)
    checkpoint: str | None = None  # pretraining run dir or .pt; None = random init (a baseline)
    hidden: int = 512  # ClassifierHead: FC(in, hidden) -> ReLU -> dropout -> FC(hidden, classes)
    dropout: float = 0.9
    clip_len: int = 16
    skip: int = 4  # frame skip of training and test clips
    resize: tuple[int, int] = (128, 171)  # (H, W) before cropping
    crop: int = 112
    optimizer: str = "sgd"
    lr: float = 3e-3
    weight_decay: float = 6e-3
    momentum: float = 0.9
    scheduler: str = "onecycle"  # onecycle | plateau | cosine (to 0 over the time budget, else over all epochs) | none
    plateau_patience: int = 6
    plateau_factor: float = 0.1
    batch_size: int = 16
    epochs: int = 460
    grad_clip: float | None = None
    max_steps_per_epoch: int | None = None
    time_budget_s: float | None = None
    freeze_backbone: bool = False
    test_clips: int = 10  # uniformly spaced clips per test video
    test_crops: int = 10  # 1 (centre) | 5 (centre + 4 corners) | 10 (the 5, with and without flip)
    eval_batch_size: int = 8  # test videos per forward (each is clips x crops clips)
    eval_every: int = 0  # evaluate every N epochs (0 = only at the end)
    seed: int = 0
    device: str = "auto"
    cpu_threads: int = 0  # torch threads on a CPU device (0 = torch's default; 1 is fastest for tiny models on a busy machine)
    amp: bool = True
    channels_last: bool = True
    cpu_channels_last: bool = True
    compile: bool = False
    deterministic: bool = False
    out_dir: str = "runs"
    run_name: str | None = None
    resume: bool = False
    show_progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        _check_choices(self)


@dataclass
class RetrievalConfig:
    """Nearest-neighbour video retrieval (Sec. 4.2.2): split-1 test videos query split-1 train videos."""

    arch: str | None = None  # None = the checkpoint's architecture (r3d_18 without a checkpoint)
    checkpoint: str | None = None  # pretraining run dir or .pt (backbone only; the projection head is unused)
    random_init: bool = False  # evaluate an untrained backbone (seeded) instead of a checkpoint
    protocol: str = "paper"  # paper (10 clips, skip 3, full frame, 512-d) | tclr (9 clips, skip 2, crop 0.8, 2048-d)
    n_clips: int | None = None  # None = the protocol's (10 paper, 9 tclr)
    skip: int | None = None  # None = the protocol's (3 paper, 2 tclr)
    crop: float | None = None  # centre-crop fraction; None = the protocol's (1.0 paper, 0.8 tclr)
    clip_len: int = 16
    size: int = 112
    ks: tuple[int, ...] = (1, 5, 10, 20)
    top_n: int = 10  # nearest neighbours stored per query in metrics.json (for galleries)
    batch_size: int = 8  # videos per forward (each carries n_clips clips)
    cache: bool = True  # reuse features computed for the same checkpoint + config
    cache_dir: str = ""  # folder of cached features ("" = out_dir/.feature_cache); runs of the same weights and clips may share one
    seed: int = 0
    device: str = "auto"
    cpu_threads: int = 0  # torch threads on a CPU device (0 = torch's default; 1 is fastest for tiny models on a busy machine)
    amp: bool = True
    channels_last: bool = True
    cpu_channels_last: bool = True
    out_dir: str = "runs"
    run_name: str | None = None
    show_progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        _check_choices(self)

    def resolved(self) -> "RetrievalConfig":
        """A copy with the protocol's defaults filled in where a field is None."""
        if self.protocol not in RETRIEVAL_PROTOCOLS:
            raise ConfigError(f"protocol: unknown {self.protocol!r}; choose one of {sorted(RETRIEVAL_PROTOCOLS)}")
        defaults = RETRIEVAL_PROTOCOLS[self.protocol]
        filled = {k: (getattr(self, k) if getattr(self, k) is not None else v) for k, v in defaults.items()}
        return dataclasses.replace(self, **filled)


# Sec. 4.2.2 (ours) and TCLR's reference evaluation code.
RETRIEVAL_PROTOCOLS = {
    "paper": {"n_clips": 10, "skip": 3, "crop": 1.0},
    "tclr": {"n_clips": 9, "skip": 2, "crop": 0.8},
}


@dataclass
class LinearProbeConfig:
    """Frozen backbone features + a linear (logistic-regression) classifier."""

    arch: str | None = None  # None = the checkpoint's architecture (r3d_18 without a checkpoint)
    checkpoint: str | None = None  # pretraining run dir or .pt
    random_init: bool = False
    n_clips: int = 10  # uniformly spaced clips per video, features averaged
    skip: int = 3
    clip_len: int = 16
    size: int = 112
    batch_size: int = 8  # videos per forward when computing features
    max_iter: int = 200  # L-BFGS iterations of the logistic regression (full batch, on cached features)
    l2: float = 1e-4  # L2 penalty on the classifier weights
    standardize: bool = True  # zero-mean, unit-variance features (train statistics) before the classifier
    cache: bool = True
    seed: int = 0
    device: str = "auto"
    cpu_threads: int = 0  # torch threads on a CPU device (0 = torch's default; 1 is fastest for tiny models on a busy machine)
    amp: bool = True
    channels_last: bool = True
    cpu_channels_last: bool = True
    out_dir: str = "runs"
    run_name: str | None = None
    show_progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        _check_choices(self)


CONFIG_CLASSES = {
    "pretrain": PretrainConfig,
    "finetune": FinetuneConfig,
    "retrieval": RetrievalConfig,
    "linear_probe": LinearProbeConfig,
}

# The engine's commands: command -> (config kind, module, function, what it does). ``stclr <command>`` (stclr.cli)
# and background runs (stclr.background) start them.
ENGINE_COMMANDS = {
    "pretrain": ("pretrain", "stclr.train", "run_pretrain", "self-supervised pretraining (STCLR and baselines)"),
    "finetune": ("finetune", "stclr.finetune", "run_finetune", "fine-tune for action recognition, video-level test"),
    "retrieve": ("retrieval", "stclr.retrieval", "run_retrieval", "nearest-neighbour video retrieval R@k"),
    "probe": ("linear_probe", "stclr.linear_probe", "run_linear_probe", "linear probe on frozen features"),
}

# Keys that may change when a run is resumed (everything else must match the checkpoint's config).
RESUME_MUTABLE = frozenset(
    {
        "epochs",
        "time_budget_s",
        "max_steps_per_epoch",
        "max_steps",
        "show_progress",
        "resume",
        "device",
        "compile",
        "activation_checkpointing",  # same math, less memory: may be switched on to resume on a smaller GPU
        "out_dir",
        "run_name",
        "ckpt_every_steps",
        "eval_every",
        "eval_batch_size",
        "data.num_workers",
        "data.cache_mb",
        "data.on_bad_video",  # healthy batches are the same either way; 'error' -> 'replace' continues a stopped run
        "cpu_threads",
        "data.root",  # the same dataset may live elsewhere on another machine
    }
)


# --------------------------------------------------------------------------------------------------------------
# Presets


def preset(name: str, kind: str = "pretrain", **overrides: Any):
    """A named configuration: ``paper`` (the defaults), ``ssl`` (SSL-only pretraining, Sec. 4.2.1),
    ``course`` (tiny CPU settings on the synthetic dataset). ``kind`` picks the command
    (pretrain | finetune | retrieval | linear_probe); ``overrides`` are dotted keys (``data__root`` or a
    dict via ``**{"data.root": ...}``)."""
    if kind not in CONFIG_CLASSES:
        raise ConfigError(f"kind: unknown {kind!r}; choose one of {sorted(CONFIG_CLASSES)}")
    cls = CONFIG_CLASSES[kind]
    table = _PRESETS.get(name)
    if table is None:
        raise ConfigError(f"preset: unknown {name!r}{did_you_mean(name, _PRESETS)}; choose one of {sorted(_PRESETS)}")
    if kind not in table:
        raise ConfigError(f"preset {name!r} has no {kind} settings; it has {sorted(table)}")
    d = copy.deepcopy(table[kind])  # never mutate the preset table
    for k, v in overrides.items():
        _set_dotted(d, k.replace("__", "."), v)
    return from_dict(cls, d)


_COURSE_DATA = {"dataset": "synthetic", "root": "data/synthetic", "num_workers": 0, "cache_mb": 1024.0}
# The course runs on a laptop CPU in minutes: the tiny R3D (one block per stage, widths 8/16/32/64) on 8x32x32
# clips, and the decoded synthetic set stays in memory (times: docs/benchmarks.md, "course_time"). Skips "medium"
# (2..10) fit 8-frame clips into the 96-frame synthetic videos; 8 frames at skip 6 span half a video (both phases
# of a two-phase class).
_PRESETS: dict[str, dict[str, dict]] = {
    "paper": {"pretrain": {}, "finetune": {}, "retrieval": {}, "linear_probe": {}},
    "ssl": {
        "pretrain": {
            "method": "ssl",
            "size": 128,
            "optimizer": "sgd",
            "lr": 1e-2,
            "weight_decay": 1e-4,
            "momentum": 0.9,
            "batch_size": 24,
            "scheduler": "onecycle",
            "epochs": 499,
        }
    },
    "course": {
        "pretrain": {
            "arch": "r3d_tiny",
            "clip_len": 8,
            "size": 32,
            "skips": "medium",
            # Every departure from the paper below was measured: docs/benchmarks.md, "Why the course preset is what
            # it is". The speed pretext (Eq. 1's third term) needs these five together: tuple clips as frame
            # differences (a fresh network's raw-frame features carry no speed), a head that standardises its
            # input, the light augmentation for the tuple clips (an independent crop per clip changes its apparent
            # speed), speeds 3x apart, no head dropout. C1, C2, K, one shared backbone and Eq. 1 stay the paper's.
            "ssl_speeds": (1, 3, 9),
            "ssl_head_norm": True,
            "ssl_input": "diff",
            "ssl_augment": "light",
            # no dropout in the SSL head: the paper's 0.5 is for 499 epochs
            "ssl_head_dropout": 0.0,
            # TCLR's crop at 32 px often cuts the small moving sprite away, and the two views of a clip then share
            # too little for L_SLL to learn (docs/method.md §8; tests/test_course_learning.py)
            "augment": "light",
            # the tiny net learns faster than at the paper's 1e-3 (measured: docs/benchmarks.md)
            "lr": 5e-3,
            "batch_size": 16,
            "epochs": 20,
            # cosine to 0 over the run's optimiser steps (over time_budget_s when one is set): with a constant rate
            # the retrieval of a longer run fell below a shorter one's (docs/benchmarks.md)
            "scheduler": "cosine",
            "data": dict(_COURSE_DATA),
        },
        "finetune": {
            "arch": "r3d_tiny",
            "clip_len": 8,
            "skip": 6,
            "resize": (40, 40),
            "crop": 32,
            # no dropout: a few minutes of training underfit, and dropout only slowed it (docs/benchmarks.md)
            "dropout": 0.0,
            "hidden": 128,
            "optimizer": "adam",
            "lr": 3e-3,
            "weight_decay": 0.0,
            "scheduler": "cosine",
            "epochs": 10,
            "test_clips": 10,
            "test_crops": 1,
            "data": dict(_COURSE_DATA),
        },
        "retrieval": {
            "arch": "r3d_tiny",
            "clip_len": 8,
            "size": 32,
            "n_clips": 10,
            "skip": 4,
            "data": dict(_COURSE_DATA),
        },
        "linear_probe": {
            "arch": "r3d_tiny",
            "clip_len": 8,
            "size": 32,
            "n_clips": 10,
            "skip": 4,
            "data": dict(_COURSE_DATA),
        },
    },
}


# --------------------------------------------------------------------------------------------------------------
# Dict / YAML round trip with type checking


def to_dict(cfg) -> dict:
    """A plain nested dict (tuples become lists, so it is YAML/JSON friendly)."""

    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        return v

    return conv(cfg)


def from_dict(cls, d: dict | None, *, _prefix: str = ""):
    """Build ``cls`` from a (possibly partial) nested dict, checking every key and type."""
    d = {} if d is None else d
    if not isinstance(d, dict):
        raise ConfigError(f"{_prefix.rstrip('.') or cls.__name__}: expected a mapping, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in d.items():
        if key not in names:
            full = _prefix + str(key)
            raise ConfigError(f"unknown key {full!r} in {cls.__name__}{did_you_mean(str(key), names, _prefix)}")
        kwargs[key] = _coerce(value, hints[key], _prefix + key)
    return cls(**kwargs)


def load_config(cls_or_kind, path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), *, base=None):
    """Defaults (or ``base``) <- YAML file <- ``key=value`` overrides (dotted keys, values parsed as YAML).

    ``cls_or_kind`` is a config class or one of ``pretrain | finetune | retrieval | linear_probe``. A YAML file
    may also name a preset: ``preset: course``.
    """
    cls = CONFIG_CLASSES[cls_or_kind] if isinstance(cls_or_kind, str) else cls_or_kind
    kind = {v: k for k, v in CONFIG_CLASSES.items()}[cls]
    d = to_dict(base) if base is not None else {}
    if path is not None:
        with open(path) as f:
            loaded = yaml.safe_load(f) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
        if "preset" in loaded:
            d = _deep_merge(d, to_dict(preset(loaded.pop("preset"), kind)))
        d = _deep_merge(d, loaded)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value (e.g. data.root=data/synthetic)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if key == "preset":
            d = _deep_merge(to_dict(preset(raw.strip(), kind)), d)
            continue
        _set_dotted(d, key, yaml.safe_load(raw) if raw.strip() else None)
    return from_dict(cls, d)


def save_yaml(cfg, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def apply_overrides(cfg, overrides: list[str]):
    """``cfg`` with ``key=value`` overrides applied (a new object; ``cfg`` is unchanged)."""
    return load_config(type(cfg), None, overrides, base=cfg)


def flatten(obj: Any, prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested mappings to one level with dotted keys: ``{"data": {"root": x}}`` -> ``{"data.root": x}`` (lists and
    empty mappings stay values; ``prefix`` goes in front of every key). A value that is no mapping gives
    ``{prefix: value}`` (``{"value": value}`` without a prefix)."""
    if not isinstance(obj, Mapping):
        return {prefix: obj} if prefix else {"value": obj}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name, sep))
        else:
            out[name] = value
    return out


def config_diff(old: dict, new: dict, ignore=RESUME_MUTABLE) -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose values differ between two config dicts (``ignore`` keys left out): key -> (old, new)."""
    a, b = flatten(_jsonable(old)), flatten(_jsonable(new))
    missing = object()
    diff = {}
    for k in sorted(set(a) | set(b)):
        if k in ignore:
            continue
        va, vb = a.get(k, missing), b.get(k, missing)
        if va != vb:
            diff[k] = (None if va is missing else va, None if vb is missing else vb)
    return diff


def config_hash(cfg, ignore=RESUME_MUTABLE, n: int = 12) -> str:
    """A stable short hash of the fields that matter for resume (``ignore`` keys left out)."""
    d = cfg if isinstance(cfg, dict) else to_dict(cfg)
    flat = {k: v for k, v in flatten(_jsonable(d)).items() if k not in ignore}
    blob = json.dumps(flat, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:n]


# --------------------------------------------------------------------------------------------------------------
# helpers

# Strengths stclr.augment_gpu implements (augment_on="device").
DEVICE_STRENGTHS = ("tclr", "light", "ssl", "none")

# Allowed values of the string fields (checked on construction, so a typo fails before any work is done).
CHOICES: dict[str, tuple[str, ...]] = {
    "dataset": ("ucf101", "hmdb51", "diving48", "synthetic"),
    "backend": ("auto", "pyav", "decord_seq", "decord"),
    "short_policy": ("fit", "loop", "mirror"),
    "on_bad_video": ("replace", "error"),
    "method": method_names(),
    "arch": ("r3d_18", "r3d_18_tclr", "r3d_tiny", "r3d_tiny_tclr"),
    "skips": ("paper", "simplified", "low", "medium", "high"),
    "optimizer": ("adam", "sgd"),
    "scheduler": ("plateau", "onecycle", "cosine", "none"),
    "protocol": tuple(RETRIEVAL_PROTOCOLS),
    "augment": ("tclr", "light", "ssl", "finetune", "none"),  # stclr.augment.STRENGTHS
    "ssl_augment": ("tclr", "light", "ssl", "finetune", "none"),
    "ssl_input": ("frames", "diff"),
    "augment_on": ("loader", "device"),
}
_POSITIVE = ("clip_len", "size", "batch_size", "accum_steps", "crop", "top_n", "eval_batch_size", "n_clips", "skip",
             "epochs", "max_steps", "max_steps_per_epoch", "test_clips")
# Impossible values are refused when the config is built, naming the field, before any data is read (issue 23).
_GREATER_THAN_0 = ("lr", "temperature", "time_budget_s")  # None (where allowed) means "the default" / "none"
_PROBABILITY = ("c1", "c2", "dropout")  # in [0, 1]
_AT_LEAST_0 = ("weight_decay",)
_POSITIVE_LISTS = ("skips", "ssl_speeds")  # every entry >= 1 (frame steps)


def _check_choices(cfg) -> None:
    prefix = "data." if isinstance(cfg, DataConfig) else ""
    for name, allowed in CHOICES.items():
        v = getattr(cfg, name, None)
        if isinstance(v, str) and v not in allowed:
            raise ConfigError(f"{prefix}{name}: unknown value {v!r}{did_you_mean(v, allowed)}; choose one of {list(allowed)}")
    for name in _POSITIVE:
        v = getattr(cfg, name, None)
        if isinstance(v, int) and not isinstance(v, bool) and v < 1:
            raise ConfigError(f"{prefix}{name}: must be >= 1, got {v}")
    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    for name in _GREATER_THAN_0:
        v = getattr(cfg, name, None)
        if number(v) and not v > 0:
            raise ConfigError(f"{prefix}{name}: must be > 0, got {v}")
    for name in _PROBABILITY:
        v = getattr(cfg, name, None)
        if number(v) and not 0 <= v <= 1:
            raise ConfigError(f"{prefix}{name}: a probability, must be in [0, 1], got {v}")
    for name in _AT_LEAST_0:
        v = getattr(cfg, name, None)
        if number(v) and v < 0:
            raise ConfigError(f"{prefix}{name}: must be >= 0, got {v}")
    v = getattr(cfg, "momentum", None)
    if number(v) and not 0 <= v < 1:
        raise ConfigError(f"momentum: must be in [0, 1), got {v}")
    for name in _POSITIVE_LISTS:
        v = getattr(cfg, name, None)
        if isinstance(v, (list, tuple)) and (not v or any(not isinstance(x, int) or x < 1 for x in v)):
            raise ConfigError(f"{prefix}{name}: every entry must be an integer >= 1, got {list(v)}")
    v = getattr(cfg, "ssl_head_dropout", None)
    if isinstance(v, (int, float)) and not 0 <= v < 1:
        raise ConfigError(f"ssl_head_dropout: must be in [0, 1), got {v}")
    for name in ("cpu_threads", "cache_mb", "num_workers"):
        v = getattr(cfg, name, None)
        low = -1 if name == "num_workers" else 0  # -1 workers: chosen from the cores
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < low:
            raise ConfigError(f"{prefix}{name}: must be >= {low}, got {v}")


def _jsonable(d):
    return json.loads(json.dumps(d if isinstance(d, dict) else to_dict(d)))


def did_you_mean(name: str, choices, prefix: str = "", n: int = 3) -> str:
    """`` (did you mean 'a' or 'b'?)`` for the (at most ``n``) ``choices`` closest to a misspelt ``name`` (each
    shown with ``prefix``), or ``""``: the kit's one spelling hint (configs, recipes, quotes)."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(prefix + c) for c in close)}?)" if close else ""


def _deep_merge(a: dict, b: dict) -> dict:
    """A new dict: ``a`` updated by ``b``, recursively for nested dicts (neither input is modified)."""
    out = copy.deepcopy(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _set_dotted(d: dict, key: str, value) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(d.get(p), dict):
            d[p] = {}
        d = d[p]
    d[parts[-1]] = value


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value, tp, key: str):
    """Check ``value`` against the annotation ``tp`` or raise a :class:`ConfigError` naming ``key``; returns the
    value, converted in the few lossless cases (an int for a float, ``2.0`` for an int, YAML's ``"1e-3"`` string
    for a float, a list for a tuple). The kit's one type checker: configs (``from_dict``) and batch recipes'
    notebook parameters (``stclr.recipes.check_value``) both use it."""
    return _coerce(value, tp, key)


def _coerce(value, tp, key: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    def bad(expected: str | None = None):
        return ConfigError(f"{key}: expected {expected or _type_name(tp)}, got {value!r} ({type(value).__name__})")

    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise bad()
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError:
                pass
        raise bad(" or ".join(_type_name(a) for a in args))
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        return from_dict(tp, value, _prefix=key + ".")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad("bool (true/false)")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad("int")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise bad("float")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, Path):
            return str(value)
        raise bad("str")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise bad(f"a list of {len(args)} values")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        return [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad("a mapping")
        return {_coerce(k, args[0], key): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        if value in args:
            return value
        raise bad("one of " + ", ".join(repr(a) for a in args))
    if origin in (collections.abc.Sequence, set, frozenset) or tp in (list, tuple, set):
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        return [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)] if args else list(value)
    if origin is collections.abc.Mapping or tp is dict:
        if not isinstance(value, dict):
            raise bad("a mapping")
        return value
    if tp is Any or tp is object:
        return value
    if tp is type(None):
        if value is None:
            return None
        raise bad("None")
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")
