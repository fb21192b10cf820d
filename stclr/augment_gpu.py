"""Batched clip augmentation on a device (GPU), with the CPU path's parameters.

Why: at the paper's scale the GPU step eats ~1000 clip-views/s, and the CPU augmentation of
:mod:`stclr.augment` (crop + resize, colour, grayscale, cutout per clip-view) is a large share of the
loader's work. Here every clip-view of a batch is augmented at once on the device, with the SAME
random parameters the CPU path would draw:

1. :func:`draw_params` walks a CPU :class:`stclr.augment.ClipTransform` (``build_train_augment(...)``)
   WITHOUT touching pixels: it consumes torch's random stream exactly as the transform's forward would
   and records each op's parameters (crop box, flip, colour ops, grayscale / channel drop, gamma, blur,
   cutout box) into a small :class:`ClipAugParams` (one row per clip-view). Under the same torch seed the
   CPU transform and :func:`draw_params` therefore pick identical parameters (tested).
2. :func:`apply_params` applies them to a batch of uint8 clips on any device:

   - crop + antialiased bilinear resize + flip as two batched matrix products per clip-view
     (separable: ``out = W_y @ frame @ W_x^T``; the weights are torch's antialiased bilinear filter, so the
     result equals ``torchvision``'s uint8 ``resized_crop`` up to its fixed-point rounding), then rounded to
     uint8 levels as the CPU path does before converting to float;
   - the colour jitter as ONE affine map per clip-view: ``FusedColorJitter``'s ops compose into
     ``x -> A x + (mean_rgb(x) P + q)`` where ``mean_rgb`` is the per-frame channel mean (contrast needs it),
     then the clamp to [0, 1];
   - grayscale / channel drop as a 3x3 matrix, gamma as a power, Gaussian blur as two more matrix
     products (SSL strength), cutout as a mask, optional normalisation.

Supported ops: what ``build_train_augment`` uses for the ``tclr``, ``light``, ``ssl`` and ``none`` strengths
(not the ``finetune`` one; an unsupported op raises ``NotImplementedError``). Per clip-view parameters are shared by all frames (temporally consistent), as on the CPU.

Shapes: clips uint8 ``[V, T, H, W, 3]`` (what the decoder gives) or ``[V, C, T, H, W]`` (what
:func:`raw_clip` makes in the loader); output float ``[V, C, T, h, w]``.

Wiring (an option; the training defaults are unchanged): ``PretrainConfig(augment_on="device")``. The
engine's :class:`stclr.data.loader.PretrainDataset` then gets ``augment=raw_clip, ssl_augment=raw_clip,
out_dtype=None, size=decode_hw, decode_size=decode_hw`` and yields un-augmented uint8 clips (both views the
same), and :class:`DeviceAugment` turns the moved batch into the usual float batch on the device
(``stclr.train``; ``bench/epoch.py --augment gpu``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Sequence

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2._transform import _RandomApplyTransform

from stclr import augment as A

__all__ = ["ClipAugParams", "DeviceAugment", "apply_params", "draw_params", "raw_clip", "resize_weights"]

_GRAY_TV = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights (VideoGrayscale)
# Pipeline stages, in the order apply_params runs them; draw_params checks a transform keeps this order.
_STAGE = {"crop": 0, "flip": 1, "float": 2, "color": 3, "post": 4, "gamma": 5, "blur": 6, "erase": 7, "norm": 8}


@dataclass
class ClipAugParams:
    """The random parameters of V clip-views (row v = view v), small host tensors.

    ``crop`` long ``[V, 4]`` (top, left, height, width) in input pixels; ``flip`` bool ``[V]``;
    ``color_a`` ``[V, 3, 3]``, ``color_p`` ``[V, 3, 3]``, ``color_q`` ``[V, 3]``: the jitter as
    ``y = A x + (m P + q)`` with ``m`` the frame's mean RGB (row vector); ``post`` ``[V, 3, 3]``: grayscale /
    channel drop after the clamp; ``gamma`` ``[V]`` (1 = none); ``blur_sigma`` ``[V]`` (0 = none) with odd
    ``blur_kernel``; ``erase`` long ``[V, 4]`` (i, j, h, w) in output pixels, h = 0 for none; ``out_hw``;
    ``mean``/``std``: normalisation (None = none).
    """

    crop: torch.Tensor
    flip: torch.Tensor
    color_a: torch.Tensor
    color_p: torch.Tensor
    color_q: torch.Tensor
    post: torch.Tensor
    gamma: torch.Tensor
    blur_sigma: torch.Tensor
    erase: torch.Tensor
    out_hw: tuple[int, int]
    blur_kernel: int = 0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __len__(self) -> int:
        return int(self.crop.shape[0])

    def __getitem__(self, idx) -> "ClipAugParams":
        """The rows ``idx`` (a slice or index tensor) as a new ClipAugParams."""
        return replace(self, **{f.name: getattr(self, f.name)[idx] for f in fields(self)
                                if torch.is_tensor(getattr(self, f.name))})

    @staticmethod
    def cat(parts: Sequence["ClipAugParams"]) -> "ClipAugParams":
        first = parts[0]
        return replace(first, **{f.name: torch.cat([getattr(p, f.name) for p in parts])
                                 for f in fields(first) if torch.is_tensor(getattr(first, f.name))})


# ------------------------------------------------------------------------------------------ drawing


def _fake_video(shape: tuple[int, int, int, int]) -> tv_tensors.Video:
    # Zero-stride: a Video of the right shape for make_params (query_size) that costs no memory.
    return tv_tensors.Video(torch.zeros(1, 1, 1, 1, dtype=torch.uint8).expand(shape))


def _walk(op: Any, shape: list[int], rec: dict, stage: list[int]) -> None:
    """Mirror ``op``'s forward on a clip of ``shape`` [T, C, H, W]: the same calls to torch's RNG, in the same
    order, recording parameters into ``rec`` instead of touching pixels."""
    def enter(name: str) -> None:
        if _STAGE[name] < stage[0]:
            raise NotImplementedError(f"augment_gpu runs ops in the order {list(_STAGE)}; this transform applies "
                                      f"{name!r} after a later stage")
        stage[0] = _STAGE[name]

    if isinstance(op, v2.Compose):
        for t in op.transforms:
            _walk(t, shape, rec, stage)
        return
    if isinstance(op, v2.RandomApply):
        if torch.rand(1) >= op.p:
            return
        for t in op.transforms:
            _walk(t, shape, rec, stage)
        return
    if isinstance(op, v2.RandomChoice):
        _walk(op.transforms[int(torch.multinomial(torch.tensor(op.p), 1))], shape, rec, stage)
        return
    if isinstance(op, _RandomApplyTransform) and torch.rand(1) >= op.p:
        return  # RandomHorizontalFlip, RandomErasing: their coin comes before make_params
    params = op.make_params([_fake_video(tuple(shape))])
    H, W = shape[-2:]
    if isinstance(op, v2.RandomResizedCrop):
        enter("crop")
        rec["crop"] = (params["top"], params["left"], params["height"], params["width"])
        shape[-2:] = list(op.size)
    elif isinstance(op, v2.Resize):
        enter("crop")
        if len(op.size) != 2:
            raise NotImplementedError("augment_gpu: Resize needs an explicit (H, W)")
        rec["crop"] = (0, 0, H, W)
        shape[-2:] = list(op.size)
    elif isinstance(op, v2.RandomHorizontalFlip):
        enter("flip")
        rec["flip"] = True
    elif isinstance(op, v2.ToDtype):
        if op.dtype is not torch.float32:  # out_dtype=None's final uint8 conversion: convert on the device
            raise NotImplementedError(f"augment_gpu: only ToDtype(float32) is supported, got {op.dtype}")
        enter("float")
    elif isinstance(op, A.FusedColorJitter):
        enter("color")
        rec["color"].extend(params["ops"])
    elif isinstance(op, A.VideoGrayscale):
        enter("post")
        if params["apply"]:
            rec["post"] = torch.tensor(_GRAY_TV, dtype=torch.float64).expand(3, 3) @ rec["post"]
    elif isinstance(op, A.ChannelDrop):
        enter("post")
        if op.value != 0:
            raise NotImplementedError("augment_gpu: ChannelDrop supports value=0 only")
        if params["drop"]:
            keep = torch.ones(3, dtype=torch.float64)
            keep[params["channel"]] = 0
            rec["post"] = torch.diag(keep) @ rec["post"]
    elif isinstance(op, A.RandomGamma):
        enter("gamma")
        rec["gamma"] *= params["gamma"]
    elif isinstance(op, A.GaussianBlurSeparable):
        enter("blur")
        rec["blur"] = (params["sigma"], op.kernel_size)
    elif isinstance(op, v2.RandomErasing):
        enter("erase")
        if params["v"] is not None:
            if float(params["v"].abs().max()) != 0:
                raise NotImplementedError("augment_gpu: RandomErasing supports value=0 only")
            rec["erase"] = (params["i"], params["j"], params["h"], params["w"])
    elif isinstance(op, v2.Normalize):
        enter("norm")
        rec["norm"] = (tuple(op.mean), tuple(op.std))
    else:
        raise NotImplementedError(f"augment_gpu does not implement {type(op).__name__}")


def _compile_color(ops: list[tuple[str, float]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FusedColorJitter's op list -> (A, P, q) with output ``A x + (m P + q)``, m = the frame's mean RGB.

    FusedColorJitter keeps ``(a, b)`` with ``b`` per frame; every update keeps ``b`` affine in ``m``
    (contrast blends with ``gray(a m + b)``), so ``b = m P + q`` with per-clip constants P, q."""
    gray = A._GRAY.double()
    a, p, q = torch.eye(3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for name, f in ops:
        if name == "contrast":
            v = (a.T + p) @ gray  # grey mean of the current image = m . v + q . gray
            p = f * p + (1 - f) * torch.outer(v, torch.ones(3, dtype=torch.float64))
            q = f * q + (1 - f) * (q @ gray) * torch.ones(3, dtype=torch.float64)
            a = f * a
            continue
        if name == "brightness":
            m = f * torch.eye(3, dtype=torch.float64)
        elif name == "saturation":
            m = f * torch.eye(3, dtype=torch.float64) + (1 - f) * torch.ones(3, 1, dtype=torch.float64) * gray
        elif name == "hue":
            t = 2 * math.pi * f
            rot = torch.tensor([[1.0, 0.0, 0.0], [0.0, math.cos(t), -math.sin(t)], [0.0, math.sin(t), math.cos(t)]],
                               dtype=torch.float64)
            m = A._YIQ2RGB.double() @ rot @ A._RGB2YIQ.double()
        else:
            raise NotImplementedError(f"unknown colour op {name!r}")
        a, p, q = m @ a, p @ m.T, q @ m.T
    return a, p, q


def draw_params(transform: A.ClipTransform, n: int, in_hw: tuple[int, int], *, num_frames: int = 1,
                seed: int | None = None) -> ClipAugParams:
    """Parameters of ``n`` clip-views of ``transform`` for clips of ``in_hw`` = (H, W) input frames.

    The draws consume torch's global RNG exactly as ``n`` successive calls ``transform(clip)`` would, so
    ``torch.manual_seed(s); transform(clip)`` and ``draw_params(transform, 1, ..., seed=s)`` agree. With
    ``seed`` the global RNG is forked (left as it was); without, it is advanced like the CPU path's."""
    ops = transform.transforms
    rows: list[dict] = []
    ctx = torch.random.fork_rng(devices=[]) if seed is not None else _nullcontext()
    with ctx:
        if seed is not None:
            torch.manual_seed(seed)
        for _ in range(n):
            rec = {"crop": None, "flip": False, "color": [], "post": torch.eye(3, dtype=torch.float64), "gamma": 1.0,
                   "blur": None, "erase": None, "norm": None}
            shape = [num_frames, 3, *in_hw]
            _walk(ops, shape, rec, [-1])
            if rec["crop"] is None:
                if tuple(shape[-2:]) != tuple(in_hw):
                    raise NotImplementedError("augment_gpu: a size change other than (resized) crop / resize")
                rec["crop"] = (0, 0, *in_hw)
            rec["out_hw"] = tuple(shape[-2:])
            rows.append(rec)
    colors = [_compile_color(r["color"]) for r in rows]
    blur = [r["blur"] for r in rows if r["blur"] is not None]
    kernels = {k for _, k in blur}
    if len(kernels) > 1 or len({r["out_hw"] for r in rows}) > 1 or len({r["norm"] for r in rows}) > 1:
        raise NotImplementedError("augment_gpu: one blur kernel, output size and normalisation per draw")
    norm = rows[0]["norm"] if rows else None
    return ClipAugParams(
        crop=torch.tensor([r["crop"] for r in rows], dtype=torch.long).view(-1, 4),
        flip=torch.tensor([r["flip"] for r in rows], dtype=torch.bool),
        color_a=torch.stack([c[0] for c in colors]).float() if rows else torch.zeros(0, 3, 3),
        color_p=torch.stack([c[1] for c in colors]).float() if rows else torch.zeros(0, 3, 3),
        color_q=torch.stack([c[2] for c in colors]).float() if rows else torch.zeros(0, 3),
        post=torch.stack([r["post"] for r in rows]).float() if rows else torch.zeros(0, 3, 3),
        gamma=torch.tensor([r["gamma"] for r in rows], dtype=torch.float32),
        blur_sigma=torch.tensor([r["blur"][0] if r["blur"] else 0.0 for r in rows], dtype=torch.float32),
        erase=torch.tensor([r["erase"] or (0, 0, 0, 0) for r in rows], dtype=torch.long).view(-1, 4),
        out_hw=rows[0]["out_hw"] if rows else tuple(in_hw),
        blur_kernel=kernels.pop() if kernels else 0,
        mean=norm[0] if norm else None, std=norm[1] if norm else None,
    )


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------------------------------ applying


def resize_weights(start: torch.Tensor, length: torch.Tensor, in_size: int, out_size: int) -> torch.Tensor:
    """``[V, out_size, in_size]`` matrices: row i = torch's antialiased bilinear weights of output pixel i when
    the input span ``[start, start + length)`` of an ``in_size`` axis is resized to ``out_size``.

    Same filter as ``F.interpolate(..., mode="bilinear", antialias=True, align_corners=False)`` (and PIL):
    a triangle of half-width ``max(scale, 1)`` input pixels around the source centre ``scale * (i + 0.5)``,
    normalised over the taps inside the span."""
    dev = start.device
    start, length = start.double().view(-1, 1, 1), length.double().view(-1, 1, 1)
    scale = length / out_size
    support = scale.clamp(min=1.0)
    centre = scale * (torch.arange(out_size, device=dev, dtype=torch.float64).view(1, -1, 1) + 0.5)
    j = torch.arange(in_size, device=dev, dtype=torch.float64).view(1, 1, -1) - start  # position inside the span
    w = (1 - ((j + 0.5 - centre) / support).abs()).clamp(min=0)
    w = w * ((j >= 0) & (j < length))
    return (w / w.sum(-1, keepdim=True)).float()


def _blur_weights(sigma: torch.Tensor, kernel: int, n: int) -> torch.Tensor:
    """``[V, n, n]`` reflect-padded Gaussian blur matrices (stclr.augment._blur_matrix), identity where sigma=0."""
    mats = []
    r = kernel // 2
    xs = torch.arange(kernel, dtype=torch.float32) - r
    for s in sigma.tolist():
        if s <= 0 or n <= r:
            mats.append(torch.eye(n))
            continue
        w = torch.exp(-(xs**2) / (2 * s**2))
        mats.append(A._blur_matrix(n, w / w.sum()))
    return torch.stack(mats) if mats else torch.zeros(0, n, n)


def _as_vcthw(clips: torch.Tensor, layout: str) -> torch.Tensor:
    if clips.ndim != 5:
        raise ValueError(f"expected clips [V, T, H, W, 3] or [V, C, T, H, W], got {tuple(clips.shape)}")
    if layout == "auto":
        thwc, cthw = clips.shape[-1] == 3, clips.shape[1] == 3
        if thwc == cthw:
            raise ValueError(f"cannot tell the layout of clips {tuple(clips.shape)}: pass layout='thwc' or 'cthw'")
        layout = "thwc" if thwc else "cthw"
    return clips.permute(0, 4, 1, 2, 3) if layout == "thwc" else clips


def apply_params(clips: torch.Tensor, params: ClipAugParams, *, layout: str = "auto", quantize: bool = True,
                 chunk: int = 64) -> torch.Tensor:
    """Augment uint8 clips ``[V, T, H, W, 3]`` or ``[V, C, T, H, W]`` with ``params`` (V rows) on their
    device -> float ``[V, C, T, h, w]``. ``quantize``: round the resized pixels to uint8 levels as the CPU path
    does (it resizes uint8). ``chunk``: clip-views per pass (bounds the float copies' memory)."""
    x = _as_vcthw(clips, layout)
    V, C, T, H, W = x.shape
    if len(params) != V:
        raise ValueError(f"{len(params)} parameter rows for {V} clips")
    h, w = params.out_hw
    out = torch.empty(V, C, T, h, w, device=x.device, dtype=torch.float32)
    for s in range(0, V, chunk):
        out[s:s + chunk] = _apply_chunk(x[s:s + chunk], params[s:s + chunk], quantize)
    return out


def _apply_chunk(x: torch.Tensor, p: ClipAugParams, quantize: bool) -> torch.Tensor:
    dev = x.device
    V, C, T, H, W = x.shape
    h, w = p.out_hw
    crop = p.crop.to(dev)
    wy = resize_weights(crop[:, 0], crop[:, 2], H, h)  # [V, h, H]
    wx = resize_weights(crop[:, 1], crop[:, 3], W, w)  # [V, w, W]
    wx = torch.where(p.flip.to(dev).view(-1, 1, 1), wx.flip(1), wx)  # a flip reverses the output columns
    y = x.float().reshape(V, C * T * H, W) @ wx.transpose(1, 2)  # [V, C*T*H, w]
    y = wy.view(V, 1, h, H) @ y.view(V, C * T, H, w)  # [V, C*T, h, w]
    y = y.view(V, C, T, h, w)
    if quantize:
        y = y.round_().clamp_(0, 255)
    y = y / 255
    # colour: A x + (m P + q), m = per-frame channel means of the current image, then the clamp
    m = y.mean(dim=(3, 4)).transpose(1, 2)  # [V, T, 3]
    b = m @ p.color_p.to(dev) + p.color_q.to(dev).view(V, 1, 3)  # [V, T, 3]
    y = torch.einsum("vij,vjthw->vithw", p.color_a.to(dev), y) + b.transpose(1, 2)[..., None, None]
    y = y.clamp_(0, 1)
    post = p.post.to(dev)
    if not torch.equal(post, torch.eye(3, device=dev).expand_as(post)):
        y = torch.einsum("vij,vjthw->vithw", post, y)
    gamma = p.gamma.to(dev)
    if bool((gamma != 1).any()):
        y = y.pow(gamma.view(V, 1, 1, 1, 1))
    if bool((p.blur_sigma > 0).any()):
        by = _blur_weights(p.blur_sigma, p.blur_kernel, h).to(dev)  # [V, h, h]
        bx = _blur_weights(p.blur_sigma, p.blur_kernel, w).to(dev)
        y = (by.view(V, 1, h, h) @ y.view(V, C * T, h, w) @ bx.transpose(1, 2).view(V, 1, w, w)).view(V, C, T, h, w)
    er = p.erase.to(dev)
    if bool((er[:, 2] > 0).any()):
        rows = torch.arange(h, device=dev).view(1, h, 1)
        cols = torch.arange(w, device=dev).view(1, 1, w)
        i, j, eh, ew = (er[:, k].view(V, 1, 1) for k in range(4))
        box = (rows >= i) & (rows < i + eh) & (cols >= j) & (cols < j + ew)  # [V, h, w]
        y = y.masked_fill(box.view(V, 1, 1, h, w), 0.0)
    if p.mean is not None:
        mean = torch.tensor(p.mean, device=dev).view(1, 3, 1, 1, 1)
        std = torch.tensor(p.std, device=dev).view(1, 3, 1, 1, 1)
        y = (y - mean) / std
    return y


# ------------------------------------------------------------------------------------------ wiring


def raw_clip(frames: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The loader-side "augmentation" of the device path: uint8 ``[T, H, W, 3]`` -> uint8 ``[3, T, H, W]``
    (a view; the loader's batch tensor makes the copy). Pass as ``augment=`` and ``ssl_augment=``."""
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    return frames.permute(3, 0, 1, 2)


class DeviceAugment:
    """Augment a moved raw pretraining batch on its device.

    ``size``: output side; ``strength`` / ``ssl_strength``: as :func:`stclr.augment.build_train_augment`
    (local clips ``tclr``, SSL clips ``ssl``, as :class:`~stclr.data.loader.PretrainDataset`); ``seed``: the
    run's seed. ``__call__(batch, epoch, step)`` takes the batch of a raw loader (uint8 ``clips``
    ``[B, N, 2, 3, T, H0, W0]`` whose two views are the same clip, ``ssl_clips`` ``[B, 3, 3, T, H0, W0]``) and
    returns it with float clips ``[B, N, 2, 3, T, size, size]`` (two independently drawn views) and
    ``[B, 3, 3, T, size, size]``. Parameters come from a torch seed of (seed, epoch, step), on the host."""

    def __init__(self, size: int | Sequence[int], strength: str = "tclr", ssl_strength: str | None = None,
                 normalize: bool = False, seed: int = 0):
        self.local = A.build_train_augment(size, strength, normalize)
        ssl_strength = ssl_strength or ("none" if strength == "none" else "ssl")
        self.ssl = A.build_train_augment(size, ssl_strength, normalize)
        self.seed = int(seed)

    def __call__(self, batch: dict, epoch: int = 0, step: int = 0, key: int = 0) -> dict:
        """``key``: one more seed part (the DDP rank: ranks hold different videos and must not share crops)."""
        out = dict(batch)
        key = int(np.random.SeedSequence([self.seed, int(epoch), int(step), 0xD1A, int(key)]).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(key)
            if "clips" in batch:
                c = batch["clips"]
                B, N, _, C, T, H, W = c.shape
                src = c[:, :, 0].reshape(B * N, C, T, H, W)  # views a and b are the same raw clip
                src = src.repeat_interleave(2, dim=0)  # [B*N*2, ...] in (video, clip, view) order
                p = draw_params(self.local, len(src), (H, W), num_frames=T)
                out["clips"] = apply_params(src, p, layout="cthw").view(B, N, 2, C, T, *p.out_hw)
            if "ssl_clips" in batch:
                s = batch["ssl_clips"]
                B, K, C, T, H, W = s.shape
                p = draw_params(self.ssl, B * K, (H, W), num_frames=T)
                out["ssl_clips"] = apply_params(s.reshape(B * K, C, T, H, W), p, layout="cthw").view(B, K, C, T, *p.out_hw)
            if "global_clips" in batch:
                g = batch["global_clips"]
                B, _, C, T, H, W = g.shape
                src = g[:, 0].repeat_interleave(2, dim=0)
                p = draw_params(self.local, len(src), (H, W), num_frames=T)
                out["global_clips"] = apply_params(src, p, layout="cthw").view(B, 2, C, T, *p.out_hw)
        return out
