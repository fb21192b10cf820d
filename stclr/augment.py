"""Clip-consistent augmentation with ``torchvision.transforms.v2`` on ``tv_tensors.Video``.

A decoded clip is uint8 ``[T, H, W, 3]`` (what :func:`stclr.video.read_frames` returns). The
transforms here turn it into a network input ``[C, T, H, W]`` (float in [0, 1], optionally
normalised with the Kinetics mean/std). Each call draws its random parameters ONCE and applies them
to every frame of the clip -- v2 transforms treat a ``Video`` ``[T, C, H, W]`` as one sample (tested
in ``tests/test_augment.py``), so a view is temporally consistent, as the contrastive losses assume
(``docs/method.md`` §2). Two calls on the same clip give the two independent views (a, b).

Strengths (``build_train_augment(size, strength=...)``):

- ``"tclr"`` -- TCLR's set, used by STCLR's contrastive losses (Sec. 4.2.2): random resized crop,
  horizontal flip, colour jitter (each of contrast/hue/saturation/brightness applied on its own coin,
  with TCLR's reference strengths), grayscale (+ gamma) or channel drop, cutout.
- ``"ssl"`` -- the SSL pretext's list (Sec. 4.2.1): random-sized crop, horizontal flip, Gaussian
  blur, grayscale, colour jitter. The paper gives no strengths; we use SimCLR's (documented below).
- ``"light"`` -- a light set for small synthetic clips (the course preset): random resized crop keeping
  70-100% of the frame, horizontal flip, mild colour jitter (0.1, p 0.5). At 32 px from 64-px frames TCLR's
  crop (30-100%) often cuts the small moving sprite away, so the two views of a clip share too little for the
  local-local loss (Eq. 3) to learn from; ``docs/method.md`` §8 has the measurements.
- ``"finetune"`` -- the fine-tuning recipe (Sec. 4.2.2): resize to 128x171, random 112 crop, flip,
  mild colour jitter.
- ``"none"`` -- resize the full frame to ``size``; no randomness.

Speed: every op works on the whole ``[T, C, H, W]`` clip at once. Crop, resize and flip run on uint8
(first, so the rest touches only ``size x size`` pixels), then one conversion to float, then the
colour ops (see :class:`ClipTransform`). Some ops are our own
small v2 transforms for speed: :class:`FusedColorJitter` (brightness/contrast/saturation/hue as one
affine colour map; hue as a YIQ rotation, :class:`RandomHue`, instead of the ~15x slower HSV round
trip) and :class:`GaussianBlurSeparable` (two banded matrix products); :class:`ChannelDrop` is
TCLR's channel dropping.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = [
    "KINETICS_MEAN",
    "KINETICS_STD",
    "STRENGTHS",
    "ChannelDrop",
    "RandomGamma",
    "CenterCropFraction",
    "RandomHue",
    "FusedColorJitter",
    "GaussianBlurSeparable",
    "ClipTransform",
    "to_video",
    "build_train_augment",
    "build_eval_transform",
]

#: Mean / std of Kinetics-400 used by torchvision's video models (r3d_18 weights).
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)

STRENGTHS = ("tclr", "light", "ssl", "finetune", "none")


def _hw(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def to_video(frames: torch.Tensor | np.ndarray) -> tv_tensors.Video:
    """uint8 ``[T, H, W, 3]`` (tensor or array) -> ``tv_tensors.Video`` ``[T, 3, H, W]`` (a view, no copy)."""
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got {tuple(frames.shape)}")
    return tv_tensors.Video(frames.permute(0, 3, 1, 2))


class ChannelDrop(v2.Transform):
    """With probability ``p``, set one random colour channel of the whole clip to ``value`` (0 as in
    TCLR's reference code, or ``"mean"`` = that channel's mean over the clip). Same channel for every frame."""

    def __init__(self, p: float = 0.5, value: float | str = 0):
        super().__init__()
        self.p = p
        self.value = value

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"drop": bool(torch.rand(()) < self.p), "channel": int(torch.randint(0, 3, ()))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["drop"] or not isinstance(inpt, torch.Tensor):
            return inpt
        out = inpt.clone()
        c = params["channel"]
        chan = out[..., c, :, :]
        if self.value == "mean":
            mean = chan.float().mean()
            fill = mean.round().item() if not chan.is_floating_point() else mean.item()
        else:
            fill = self.value
        chan.fill_(fill)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


class VideoGrayscale(v2.Transform):
    """Grayscale (3 equal channels, ITU-R 601 luma) applied with probability ``p``, for images AND videos.

    Why not torchvision's grayscale transforms: torchvision 0.29 registers no ``tv_tensors.Video``
    kernel for ``rgb_to_grayscale``, so on a Video they return it unchanged, silently.
    """

    def __init__(self, p: float = 1.0):
        super().__init__()
        self.p = p

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"apply": bool(torch.rand(()) < self.p)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["apply"] or not isinstance(inpt, torch.Tensor):
            return inpt
        out = F.rgb_to_grayscale(inpt.as_subclass(torch.Tensor), num_output_channels=3)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


class RandomGamma(v2.Transform):
    """Gamma correction with gamma uniform in ``gamma`` (TCLR applies it after grayscale)."""

    def __init__(self, gamma: tuple[float, float] = (0.75, 1.25)):
        super().__init__()
        self.gamma = gamma

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        lo, hi = self.gamma
        return {"gamma": float(lo + (hi - lo) * torch.rand(()))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, torch.Tensor):
            return inpt
        x = inpt.as_subclass(torch.Tensor)
        if x.dtype != torch.uint8:  # float: a plain pow (a gather from a table is no faster there)
            return self._call_kernel(F.adjust_gamma, inpt, gamma=params["gamma"])
        # uint8: a 256-entry lookup table instead of converting to float and back.
        lut = (torch.linspace(0, 1, 256) ** params["gamma"] * 255).round_().to(torch.uint8)
        out = lut[x.long()]
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


# RGB -> YIQ (NTSC); a hue shift is a rotation of the (I, Q) chroma plane.
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)


class RandomHue(v2.Transform):
    """Hue shift by ``h`` turns (uniform in ``[-hue, hue]``), as a rotation of the YIQ chroma plane.

    Why not ``ColorJitter(hue=...)``: torchvision's exact HSV round trip costs ~50 ms on a
    16x112x112 clip on one core (15x the rest of the TCLR pipeline); the YIQ rotation is one 3x3
    matrix product (~3 ms). It is the standard linear approximation of a hue shift: same angle
    convention, luma (Y) kept exactly, close to HSV's on natural colours (differs on saturated ones).
    """

    def __init__(self, hue: float = 0.1):
        super().__init__()
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {hue}")
        self.hue = hue

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"h": float((torch.rand(()) * 2 - 1) * self.hue)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, torch.Tensor) or params["h"] == 0.0:
            return inpt
        theta = 2 * math.pi * params["h"]
        c, s = math.cos(theta), math.sin(theta)
        rot = torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
        m = _YIQ2RGB @ rot @ _RGB2YIQ
        x = inpt.as_subclass(torch.Tensor)
        xf = x.float() if x.dtype == torch.uint8 else x
        out = torch.einsum("ij,...jhw->...ihw", m, xf)
        if x.dtype == torch.uint8:
            out = out.clamp_(0, 255).round_().to(torch.uint8)
        else:
            out = out.clamp_(0, 1)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


def _blur_matrix(n: int, weights: torch.Tensor) -> torch.Tensor:
    """[n, n] matrix M with (M @ x) = 1-D convolution of x's rows axis with ``weights``, reflect padding."""
    k = len(weights)
    r = k // 2
    src = torch.arange(n)[:, None] + torch.arange(k)[None, :] - r  # [n, k] source index of each tap
    src = src.abs()
    src = torch.where(src >= n, 2 * (n - 1) - src, src).clamp_(0, n - 1)
    m = torch.zeros(n, n)
    m.index_put_((torch.arange(n)[:, None].expand(n, k), src), weights.expand(n, k), accumulate=True)
    return m


class GaussianBlurSeparable(v2.Transform):
    """Gaussian blur with sigma uniform in ``sigma``: two 1-D passes, each one matrix product with a
    banded [n, n] matrix (reflect padding), i.e. ``M_h @ frame @ M_w^T``.

    Same result as ``v2.GaussianBlur`` (within 1 grey level) at ~1/20 of its cost on a clip: the
    grouped 2-D convolution torchvision uses is slow on CPU for [T*C, 1, H, W] inputs, while a
    112x112 matrix product runs at full BLAS speed.
    """

    def __init__(self, kernel_size: int, sigma: tuple[float, float] = (0.1, 2.0)):
        super().__init__()
        if kernel_size % 2 == 0 or kernel_size < 3:
            raise ValueError(f"kernel_size must be odd and >= 3, got {kernel_size}")
        self.kernel_size = kernel_size
        self.sigma = sigma

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        lo, hi = self.sigma
        return {"sigma": float(lo + (hi - lo) * torch.rand(()))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, torch.Tensor):
            return inpt
        r = self.kernel_size // 2
        xs = torch.arange(self.kernel_size, dtype=torch.float32) - r
        w = torch.exp(-(xs**2) / (2 * params["sigma"] ** 2))
        w = w / w.sum()
        x = inpt.as_subclass(torch.Tensor)
        h, wd = x.shape[-2:]
        if h <= r or wd <= r:  # too small to reflect: leave it
            return inpt
        out = _blur_matrix(h, w) @ x.float() @ _blur_matrix(wd, w).T
        out = out.round_().clamp_(0, 255).to(torch.uint8) if x.dtype == torch.uint8 else out.to(x.dtype)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


class CenterCropFraction(v2.Transform):
    """Centre crop keeping ``fraction`` of each side (TCLR's retrieval protocol: 0.8)."""

    def __init__(self, fraction: float):
        super().__init__()
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction = fraction

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, torch.Tensor):
            return inpt
        h, w = inpt.shape[-2:]
        size = [max(1, round(h * self.fraction)), max(1, round(w * self.fraction))]
        return self._call_kernel(F.center_crop, inpt, output_size=size)


class ClipTransform(nn.Module):
    """uint8 ``[T, H, W, 3]`` -> ``[C, T, H, W]``.

    ``geometric`` ops (crop, resize, flip) run on uint8 -- resizing uint8 channels-last frames is the
    fastest path --, then ONE conversion to float in [0, 1], then the ``photometric`` ops (colour,
    grayscale, blur, cutout: 3-4x faster in float than torchvision's uint8 path, which converts each
    op to float and back), then optional normalisation; ``out_dtype=None`` converts back to uint8 at
    the end instead (cheaper to move between processes). ``transforms`` (a v2.Compose) is kept so a
    notebook can print it. ``frame_wise`` (True only for :func:`build_eval_transform`'s) says it is
    deterministic and acts on each frame alone."""

    frame_wise = False

    def __init__(self, geometric: Sequence[nn.Module], photometric: Sequence[nn.Module] = (),
                 out_dtype: torch.dtype | None = torch.float32, normalize: bool = False,
                 mean: Sequence[float] = KINETICS_MEAN, std: Sequence[float] = KINETICS_STD):
        super().__init__()
        if normalize and out_dtype is None:
            raise ValueError("normalize=True needs a float out_dtype (normalise after converting on the device instead)")
        ops = list(geometric) + [v2.ToDtype(out_dtype or torch.float32, scale=True)] + list(photometric)
        if normalize:
            ops.append(v2.Normalize(mean=list(mean), std=list(std)))
        if out_dtype is None:
            ops.append(v2.ToDtype(torch.uint8, scale=True))
        self.transforms = v2.Compose(ops)
        self.out_dtype = out_dtype

    def forward(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        video = self.transforms(to_video(frames))
        # A permuted view; stacking clips into a batch makes the one copy needed.
        return video.as_subclass(torch.Tensor).permute(1, 0, 2, 3)


_GRAY = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


class FusedColorJitter(v2.Transform):
    """Brightness, contrast, saturation and hue jitter applied as ONE affine colour map per frame.

    Each op is drawn as in ``ColorJitter`` (factors uniform in ``[1 - x, 1 + x]``, hue in
    ``[-hue, hue]`` turns), each applied with its own probability ``p`` (a float for all four or a
    ``(brightness, contrast, saturation, hue)`` tuple), in a random order (``random_order``) or in
    ``order``. Every op is affine in RGB -- brightness ``f x``, saturation ``s x + (1 - s) gray(x)``,
    hue a YIQ rotation (:class:`RandomHue`), contrast ``c x + (1 - c) mean(gray(x))`` with the mean per
    frame as torchvision computes it -- so their composition is one 3x3 matrix plus a per-frame offset,
    applied in one pass with one clamp at the end. The only difference from chaining the ops is that
    values are not clamped to [0, 1] between ops. ~3x faster than the chain on a 16x112x112 clip.
    """

    NAMES = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0, hue: float = 0.0,
                 p: float | Sequence[float] = 1.0, random_order: bool = True,
                 order: Sequence[str] = ("brightness", "contrast", "saturation", "hue")):
        super().__init__()
        self.strength = dict(zip(self.NAMES, (brightness, contrast, saturation, hue)))
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {hue}")
        self.p = dict(zip(self.NAMES, [p] * 4 if isinstance(p, (int, float)) else p))
        self.random_order = random_order
        self.order = tuple(order)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        names = [self.order[i] for i in torch.randperm(len(self.order))] if self.random_order else list(self.order)
        ops = []
        for name in names:
            x, p = self.strength[name], self.p[name]
            apply = float(torch.rand(())) < p
            u = float(torch.rand(()) * 2 - 1)  # drawn even when unused: a stable random stream
            if x > 0 and apply:
                ops.append((name, u * x if name == "hue" else 1.0 + u * x))
        return {"ops": ops}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, torch.Tensor) or not params["ops"]:
            return inpt
        x = inpt.as_subclass(torch.Tensor)
        is_u8 = x.dtype == torch.uint8
        xf = x.float() / 255 if is_u8 else x
        lead = xf.shape[:-3]
        mean_rgb = xf.mean(dim=(-2, -1))  # [..., 3] per-frame channel means (for contrast)
        a = torch.eye(3)
        b = torch.zeros(*lead, 3)
        for name, f in params["ops"]:
            if name == "brightness":
                m = f * torch.eye(3)
            elif name == "saturation":
                m = f * torch.eye(3) + (1 - f) * torch.ones(3, 1) * _GRAY
            elif name == "hue":
                t = 2 * math.pi * f
                rot = torch.tensor([[1.0, 0.0, 0.0], [0.0, math.cos(t), -math.sin(t)], [0.0, math.sin(t), math.cos(t)]])
                m = _YIQ2RGB @ rot @ _RGB2YIQ
            else:  # contrast: blend with the frame's mean grey level of the current image
                grey_mean = (mean_rgb @ a.T + b) @ _GRAY  # [...]
                a, b = f * a, f * b + (1 - f) * grey_mean[..., None]
                continue
            a, b = m @ a, b @ m.T
        out = torch.einsum("ij,...jhw->...ihw", a, xf) + b[..., None, None]
        out = out.clamp_(0, 1)
        if is_u8:
            out = (out * 255).round_().to(torch.uint8)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


def _jitter(brightness: float, contrast: float, saturation: float, hue: float) -> nn.Module:
    """``ColorJitter`` (random order of the four ops), fused into one colour map."""
    return FusedColorJitter(brightness, contrast, saturation, hue)


def _tclr_transforms(size: tuple[int, int]) -> tuple[list[nn.Module], list[nn.Module]]:
    # TCLR reference (dl_tclr.py, applied per clip-view): square crop of 0.6-1.0 of the frame height
    # (27-75% of a 4:3 frame's area) resized to 112; contrast (p 0.25), hue (p 0.3, +-0.1), saturation
    # and brightness (p 0.3 each, factor 0.75-1.25); then with p 0.175 grayscale (+ gamma 0.75-1.25
    # with p 0.75) or with p 0.125 one channel dropped to 0; flip p 0.5; cutout p 0.5 of a
    # 9..19-pixel box at 112 (0.6-2.9% of the area). RandomResizedCrop's usual aspect jitter stands
    # in for the square crop.
    gray_or_drop = v2.RandomChoice(
        [v2.Compose([VideoGrayscale(), v2.RandomApply([RandomGamma((0.75, 1.25))], p=0.75)]),
         ChannelDrop(p=1.0)],
        p=[0.175, 0.125],
    )
    geometric = [
        v2.RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(0.5),
    ]
    return geometric, [
        FusedColorJitter(brightness=0.25, contrast=0.25, saturation=0.25, hue=0.1, p=(0.3, 0.25, 0.3, 0.3),
                         random_order=False, order=("contrast", "hue", "saturation", "brightness")),
        v2.RandomApply([gray_or_drop], p=0.3),
        v2.RandomErasing(p=0.5, scale=(0.006, 0.03), ratio=(0.5, 2.0), value=0),
    ]


def _ssl_transforms(size: tuple[int, int]) -> tuple[list[nn.Module], list[nn.Module]]:
    # Sec. 4.2.1 names the operations but not their strengths; SimCLR's are used (jitter 0.4/0.4/0.4/0.1
    # with p 0.8, grayscale p 0.2, blur with a kernel ~10% of the side, sigma 0.1-2, p 0.5).
    k = max(3, (min(size) // 10) | 1)
    geometric = [
        v2.RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(0.5),
    ]
    return geometric, [
        v2.RandomApply([_jitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        VideoGrayscale(p=0.2),
        v2.RandomApply([GaussianBlurSeparable(k, sigma=(0.1, 2.0))], p=0.5),
    ]


def _light_transforms(size: tuple[int, int]) -> tuple[list[nn.Module], list[nn.Module]]:
    # Crop 0.7-1 keeps the sprite (radius 12-17% of the side) in view; jitter 0.1 keeps appearance a weak cue
    # without hiding it. Measured on the synthetic set at 32 px: L_SLL leaves its chance plateau by step ~13-26
    # with this set and not within 304 steps with TCLR's (issue 11; docs/benchmarks.md).
    geometric = [
        v2.RandomResizedCrop(size, scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(0.5),
    ]
    return geometric, [v2.RandomApply([_jitter(0.1, 0.1, 0.1, 0.1)], p=0.5)]


def _finetune_transforms(size: tuple[int, int], resize: tuple[int, int]) -> tuple[list[nn.Module], list[nn.Module]]:
    # Sec. 4.2.2: resize to 128x171, random 112x112 crop, flip, colour jitter (strength unstated: mild).
    return [v2.Resize(resize, antialias=True), v2.RandomCrop(size), v2.RandomHorizontalFlip(0.5)], [
        v2.RandomApply([_jitter(0.2, 0.2, 0.2, 0.05)], p=0.5),
    ]


def build_train_augment(
    size: int | Sequence[int] = 112,
    strength: str = "tclr",
    normalize: bool = False,
    *,
    out_dtype: torch.dtype | None = torch.float32,
    finetune_resize: Sequence[int] = (128, 171),
) -> ClipTransform:
    """A random clip augmentation: uint8 ``[T, H, W, 3]`` -> ``[C, T, size, size]``.

    ``strength``: one of :data:`STRENGTHS` (module docstring). ``normalize``: Kinetics mean/std after
    scaling to [0, 1]. ``out_dtype=None`` keeps uint8 (4x less to move between processes; convert on
    the device). Parameters are drawn once per call and shared by all frames.
    """
    hw = _hw(size)
    if strength == "tclr":
        geometric, photometric = _tclr_transforms(hw)
    elif strength == "light":
        geometric, photometric = _light_transforms(hw)
    elif strength == "ssl":
        geometric, photometric = _ssl_transforms(hw)
    elif strength == "finetune":
        geometric, photometric = _finetune_transforms(hw, _hw(finetune_resize))
    elif strength == "none":
        geometric, photometric = [v2.Resize(hw, antialias=True)], []
    else:
        raise ValueError(f"unknown strength {strength!r}; choose one of {STRENGTHS}")
    return ClipTransform(geometric, photometric, out_dtype=out_dtype, normalize=normalize)


def build_eval_transform(
    size: int | Sequence[int] = 112,
    crop: float | None = None,
    normalize: bool = False,
    *,
    resize: str = "full",
    out_dtype: torch.dtype | None = torch.float32,
) -> ClipTransform:
    """The deterministic evaluation transform: uint8 ``[T, H, W, 3]`` -> ``[C, T, H, W]``.

    ``resize="full"`` (retrieval protocol, Sec. 4.2.2): the full frame (after the optional centre crop
    keeping ``crop`` of each side -- 0.8 in TCLR's protocol) resized to ``size`` x ``size``.
    ``resize="short"``: short side to ``size`` then a ``size`` centre crop (aspect kept).
    """
    hw = _hw(size)
    ops: list[nn.Module] = []
    if crop is not None and crop < 1.0:
        ops.append(CenterCropFraction(crop))
    if resize == "full":
        ops.append(v2.Resize(hw, antialias=True))
    elif resize == "short":
        ops += [v2.Resize(min(hw), antialias=True), v2.CenterCrop(hw)]
    else:
        raise ValueError(f"resize must be 'full' or 'short', got {resize!r}")
    t = ClipTransform(ops, out_dtype=out_dtype, normalize=normalize)
    t.frame_wise = True  # deterministic and per frame: may be applied once to a whole decoded union
    return t
