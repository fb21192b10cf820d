"""stclr.augment_gpu: the batched device augmentation equals the CPU path (stclr.augment) given the same
parameters. Runs on CPU tensors (and on CUDA too when one is present)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stclr.augment import build_train_augment
from stclr.augment_gpu import DeviceAugment, apply_params, draw_params, raw_clip, resize_weights

T, H, W = 4, 60, 80
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# The CPU path resizes uint8 with fixed-point weights and rounds; the device path uses float weights, then
# rounds to the same levels: a grey level or two apart at most, a small fraction of one on average.
MAX_ERR, MEAN_ERR = 3 / 255, 0.5 / 255


def _clip(seed: int = 0) -> torch.Tensor:
    """uint8 [T, H, W, 3]: smooth colour blobs + noise (natural-ish statistics, every op visible)."""
    g = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(T, 3, 8, 10, generator=g), size=(H, W), mode="bilinear") * 255
    x = (base + torch.rand(T, 3, H, W, generator=g) * 40).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous()


def _err(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    d = (a.cpu() - b.cpu()).abs()
    return d.max().item(), d.mean().item()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("strength", ["tclr", "ssl", "light", "none"])
def test_same_parameters_same_clip_views(strength, device):
    """n successive CPU calls under one seed == one batched device call on params drawn under that seed."""
    tf = build_train_augment(32, strength)
    clip, n = _clip(), 24
    torch.manual_seed(7)
    ref = torch.stack([tf(clip) for _ in range(n)])  # [n, C, T, 32, 32], n views, each its own params
    p = draw_params(tf, n, (H, W), num_frames=T, seed=7)
    out = apply_params(clip.to(device).expand(n, *clip.shape), p, chunk=10)  # [V, T, H, W, 3] input
    assert out.shape == ref.shape == (n, 3, T, 32, 32) and out.dtype == torch.float32
    worst, mean = _err(out, ref)
    assert worst <= MAX_ERR and mean <= MEAN_ERR, (worst * 255, mean * 255)
    if strength != "none":  # the views really differ: the test compares per-view parameters
        assert (ref[0] - ref[1]).abs().mean() > 0.01
        assert bool(p.flip.any()) and not bool(p.flip.all())


def test_other_parameters_are_far_off():
    """The tolerance discriminates: the same clip with another seed's parameters is nowhere near."""
    tf = build_train_augment(32, "tclr")
    clip = _clip(1)
    torch.manual_seed(3)
    ref = tf(clip)
    out = apply_params(clip[None], draw_params(tf, 1, (H, W), num_frames=T, seed=4))[0]
    assert _err(out, ref)[1] > 10 * MEAN_ERR


def test_draw_params_advances_the_global_rng_like_the_cpu_path():
    tf = build_train_augment(32, "tclr")
    torch.manual_seed(11)
    tf(_clip())
    after_cpu = torch.rand(1)
    torch.manual_seed(11)
    draw_params(tf, 1, (H, W), num_frames=T)
    assert torch.equal(torch.rand(1), after_cpu)
    torch.manual_seed(11)
    first = torch.rand(1)
    torch.manual_seed(11)
    draw_params(tf, 5, (H, W), seed=0)  # seeded: the caller's stream is left where it was
    assert torch.equal(torch.rand(1), first)


def test_cthw_layout_and_layout_errors():
    tf = build_train_augment(32, "tclr")
    clip = _clip(2)
    p = draw_params(tf, 2, (H, W), num_frames=T, seed=0)
    a = apply_params(clip.expand(2, *clip.shape), p)
    b = apply_params(torch.stack([raw_clip(clip)] * 2), p)  # [V, C, T, H, W]
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="layout"):
        apply_params(torch.zeros(1, 3, 4, 6, 3, dtype=torch.uint8), draw_params(tf, 1, (4, 6), seed=0))
    with pytest.raises(ValueError, match="parameter rows"):
        apply_params(clip[None], p)


def test_resize_weights_match_torch_antialiased_bilinear():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 50, 70, generator=g, dtype=torch.float64)
    for (top, left, h, w), out in [((5, 7, 40, 33), (16, 12)), ((0, 0, 50, 70), (50, 70)), ((10, 20, 9, 11), (32, 32))]:
        ref = F.interpolate(x[..., top:top + h, left:left + w], size=out, mode="bilinear", antialias=True,
                            align_corners=False)[0, 0]
        wy = resize_weights(torch.tensor([top]), torch.tensor([h]), 50, out[0])[0].double()
        wx = resize_weights(torch.tensor([left]), torch.tensor([w]), 70, out[1])[0].double()
        torch.testing.assert_close(wy @ x[0, 0] @ wx.T, ref, atol=1e-6, rtol=0)


def test_unsupported_strength_is_refused():
    with pytest.raises(NotImplementedError):
        draw_params(build_train_augment(32, "finetune", finetune_resize=(40, 48)), 1, (H, W), seed=0)
    with pytest.raises(NotImplementedError):
        draw_params(build_train_augment(32, "tclr", out_dtype=None), 1, (H, W), seed=0)


def test_device_augment_on_a_raw_batch():
    """A raw batch (what PretrainDataset(augment=raw_clip, out_dtype=None) yields) -> the usual float batch."""
    B, N, Hr, Wr = 2, 3, 24, 32
    g = torch.Generator().manual_seed(0)
    one = torch.randint(0, 256, (B, N, 1, 3, T, Hr, Wr), generator=g, dtype=torch.uint8)
    batch = {"clips": one.expand(B, N, 2, 3, T, Hr, Wr).contiguous(),
             "ssl_clips": torch.randint(0, 256, (B, 3, 3, T, Hr, Wr), generator=g, dtype=torch.uint8),
             "ssl_labels": torch.tensor([0, 3])}
    aug = DeviceAugment(16, seed=5)
    out = aug(batch, epoch=1, step=2)
    assert out["clips"].shape == (B, N, 2, 3, T, 16, 16) and out["clips"].dtype == torch.float32
    assert out["ssl_clips"].shape == (B, 3, 3, T, 16, 16)
    assert torch.equal(out["ssl_labels"], batch["ssl_labels"])
    assert (out["clips"][:, :, 0] - out["clips"][:, :, 1]).abs().mean() > 0.01  # two independent views
    again = aug(batch, epoch=1, step=2)
    assert torch.equal(again["clips"], out["clips"])  # seeded by (seed, epoch, step)
    other = aug(batch, epoch=1, step=3)
    assert not torch.equal(other["clips"], out["clips"])
    # each view equals the CPU transform with the same parameters (view (0, 1, b) = row 3 of the draw)
    key = int(np.random.SeedSequence([5, 1, 2, 0xD1A, 0]).generate_state(1)[0])  # key part 0: rank 0
    p = draw_params(aug.local, B * N * 2, (Hr, Wr), num_frames=T, seed=key)
    cpu = build_train_augment(16, "tclr")
    clip = one[0, 1, 0].permute(1, 2, 3, 0)  # [T, H, W, 3]
    torch.manual_seed(key)
    for _ in range(3):
        cpu(clip)  # rows 0..2
    worst, mean = _err(out["clips"][0, 1, 1], cpu(clip))
    assert worst <= MAX_ERR and mean <= MEAN_ERR
    assert len(p) == B * N * 2
