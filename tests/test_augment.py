"""Augmentation (stclr.augment): one draw per clip-view applied to every frame; views differ."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from stclr.augment import (
    KINETICS_MEAN,
    STRENGTHS,
    ChannelDrop,
    GaussianBlurSeparable,
    RandomGamma,
    RandomHue,
    VideoGrayscale,
    build_eval_transform,
    build_train_augment,
    to_video,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # Clip-sized ops: intra-op threads only add synchronisation on a shared 2-core machine.
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def _textured(h=60, w=80, seed=0) -> torch.Tensor:
    """An asymmetric colour image (gradient + noise) so crops, flips and colour changes all show."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = torch.stack([xx, yy, (xx * yy) ** 0.5], -1) * 200 + torch.rand(h, w, 3, generator=g) * 55
    return img.round().to(torch.uint8)


def _static_clip(t=8) -> torch.Tensor:
    return _textured()[None].expand(t, -1, -1, -1).contiguous()  # uint8 [T, H, W, 3], identical frames


@pytest.mark.parametrize("strength", STRENGTHS)
def test_every_frame_of_a_view_gets_the_same_augmentation(strength):
    # Identical input frames stay identical iff crop, flip, colour, grayscale/channel drop, blur and
    # cutout were drawn once for the clip (a per-frame draw would make them differ).
    aug = build_train_augment(32, strength)
    clip = _static_clip()
    torch.manual_seed(0)
    for _ in range(40):
        out = aug(clip)
        assert out.shape == (3, 8, 32, 32) and out.dtype == torch.float32
        assert torch.equal(out, out[:, :1].expand_as(out))
        assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize("strength", ["tclr", "ssl", "finetune"])
def test_views_differ(strength):
    aug = build_train_augment(32, strength)
    clip = _static_clip()
    torch.manual_seed(1)
    views = [aug(clip) for _ in range(6)]
    pairs_equal = sum(torch.equal(views[i], views[j]) for i in range(6) for j in range(i + 1, 6))
    assert pairs_equal == 0


def test_moving_content_keeps_the_same_crop_and_flip():
    # Frames that differ (a bar moving right) must get one crop and one flip: the bar's position
    # after augmentation still moves monotonically by the same amount per frame.
    T, H, W = 8, 40, 80
    clip = torch.zeros(T, H, W, 3, dtype=torch.uint8)
    for t in range(T):
        clip[t, :, 10 + 6 * t: 14 + 6 * t] = 255
    aug = v2.Compose([v2.RandomResizedCrop((40, 80), scale=(0.6, 1.0), ratio=(2.0, 2.0), antialias=True),
                      v2.RandomHorizontalFlip(0.5)])
    torch.manual_seed(2)
    for _ in range(20):
        out = aug(to_video(clip)).as_subclass(torch.Tensor).float()[:, 0]  # [T, H, W] red channel
        cols = out.sum(1)  # [T, W]
        visible = cols.amax(1) > 0
        centres = (cols * torch.arange(W)).sum(1) / cols.sum(1).clamp_min(1e-6)
        c = centres[visible]
        if len(c) >= 3:
            steps = c.diff()
            assert torch.all(steps > 0) or torch.all(steps < 0)  # one flip for all frames
            assert (steps - steps.mean()).abs().max() < 1.5  # one scale for all frames


def test_uint8_output_and_normalize():
    clip = _static_clip()
    u8 = build_train_augment(32, "tclr", out_dtype=None)(clip)
    assert u8.dtype == torch.uint8 and u8.shape == (3, 8, 32, 32)
    normed = build_train_augment(32, "none", normalize=True)(torch.full((4, 16, 16, 3), 128, dtype=torch.uint8))
    assert torch.allclose(normed[0], torch.full_like(normed[0], (128 / 255 - KINETICS_MEAN[0]) / 0.22803), atol=1e-4)
    with pytest.raises(ValueError):
        build_train_augment(32, "tclr", normalize=True, out_dtype=None)
    with pytest.raises(ValueError, match="unknown strength"):
        build_train_augment(32, "wild")


def test_eval_transform_full_frame_and_centre_crop():
    frames = torch.zeros(3, 50, 100, 3, dtype=torch.uint8)
    frames[:, :5] = 255  # a white border strip at the top: 10% of the height
    full = build_eval_transform(20)(frames)
    assert full.shape == (3, 3, 20, 20) and full[:, :, 0].mean() > 0.9  # full frame kept, squashed
    cropped = build_eval_transform(20, crop=0.8)(frames)
    assert cropped.max() == 0  # 0.8 centre crop removes the border
    short = build_eval_transform(20, resize="short")(frames)
    assert short.shape == (3, 3, 20, 20)
    a, b = build_eval_transform(20)(frames), build_eval_transform(20)(frames)
    assert torch.equal(a, b)


def test_channel_drop_drops_one_channel_everywhere():
    video = to_video(_static_clip())
    out = ChannelDrop(p=1.0)(video).as_subclass(torch.Tensor)
    zero = [c for c in range(3) if out[:, c].max() == 0]
    assert len(zero) == 1
    others = [c for c in range(3) if c != zero[0]]
    assert torch.equal(out[:, others], video.as_subclass(torch.Tensor)[:, others])
    assert torch.equal(ChannelDrop(p=0.0)(video), video)


def test_random_hue_keeps_grey_and_luma():
    grey = torch.full((2, 3, 8, 8), 100, dtype=torch.uint8)
    assert torch.equal(RandomHue(0.5).transform(grey, {"h": 0.3}), grey)
    img = to_video(_static_clip(2)).as_subclass(torch.Tensor).float()
    out = RandomHue(0.5).transform(img / 255, {"h": 0.25})
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    unclipped = ((out > 0) & (out < 1)).all(1, keepdim=True)
    luma_in, luma_out = (img / 255 * w).sum(1, keepdim=True), (out * w).sum(1, keepdim=True)
    assert torch.allclose(luma_in[unclipped], luma_out[unclipped], atol=1e-4)


def test_separable_blur_matches_torchvision():
    x = to_video(_static_clip(2)).as_subclass(torch.Tensor).contiguous()
    ours = GaussianBlurSeparable(7).transform(x, {"sigma": 1.3})
    ref = v2.functional.gaussian_blur(x, [7, 7], [1.3, 1.3])
    assert (ours.int() - ref.int()).abs().max() <= 1


def test_gamma_lut_matches_torchvision():
    x = to_video(_static_clip(2)).as_subclass(torch.Tensor).contiguous()
    ours = RandomGamma().transform(x, {"gamma": 0.8})
    ref = v2.functional.adjust_gamma(x, 0.8)
    assert (ours.int() - ref.int()).abs().max() <= 1


def test_grayscale_really_converts_videos():
    # torchvision's own grayscale transforms pass a tv_tensors.Video through unchanged; ours must not.
    video = to_video(_static_clip(4))
    out = VideoGrayscale(p=1.0)(video).as_subclass(torch.Tensor).float()
    assert not torch.equal(out, video.as_subclass(torch.Tensor).float())
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    assert torch.equal(VideoGrayscale(p=0.0)(video), video)


@pytest.mark.parametrize("strength", ["tclr", "ssl"])
def test_grayscale_fires_at_its_rate_in_the_training_sets(strength):
    # The TCLR set greys a view with p 0.175 (RandomApply 0.3 x RandomChoice 0.175/(0.175+0.125)), the SSL set
    # with p 0.2: over 400 views of a colourful
    # clip, grey views must appear (a silent no-op would give exactly none).
    aug = build_train_augment((16, 16), strength=strength)
    clip = _static_clip(2)
    torch.manual_seed(0)
    grey = 0
    for _ in range(400):
        v = aug(clip)  # float [C, T, H, W]
        grey += int(torch.allclose(v[0], v[1], atol=1e-6) and torch.allclose(v[1], v[2], atol=1e-6))
    expected = {"tclr": 0.175, "ssl": 0.2}[strength]
    assert 0.4 * expected * 400 <= grey <= 2.0 * expected * 400, grey


def test_light_crop_keeps_most_of_the_frame():
    # "light" crops 70-100 % of the area (TCLR's set: 30-100 %): a bright square in the middle of the frame,
    # 1/4 of the side, is always in view, and never the whole view.
    frames = torch.zeros(4, 64, 64, 3, dtype=torch.uint8)
    frames[:, 24:40, 24:40] = 255
    torch.manual_seed(0)
    light = build_train_augment(32, "light")
    seen = [float(light(frames)[0].mean()) for _ in range(50)]
    assert min(seen) > 0.04 and max(seen) < 0.2
    tclr = build_train_augment(32, "tclr")
    assert max(float(tclr(frames)[0].mean()) for _ in range(50)) > max(seen)  # TCLR's crop zooms in further
