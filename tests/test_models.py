"""Backbones and heads: shapes, TCLR's time-keeping layer4, memory format, bf16 autocast, SSL label order."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.video import r3d_18

from stclr.models import (
    BACKBONES,
    SSL_LABEL_NAMES,
    SSL_PAIRS,
    ClassifierHead,
    ProjectionHead,
    SSLHead,
    STCLRModel,
    build_backbone,
    build_model,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: a second intra-op thread only adds OpenMP spin-waits, which stall for 0.1-1 s per op
    # when the 2 cores are shared with other processes. Restore the session's setting afterwards.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def r3d18():
    return build_backbone("r3d_18")


@pytest.fixture(scope="module")
def r3d18_tclr():
    return build_backbone("r3d_18_tclr")


def test_r3d_18_shapes_and_torchvision_weights(r3d18):
    x = torch.randn(1, 3, 8, 32, 32)
    assert r3d18.feature_dim == 512 and not r3d18.keeps_time
    assert r3d18(x).shape == (1, 512)
    assert r3d18(x, keep_time=True).shape == (1, 512, 1)  # 8 frames / 8
    # Same architecture as torchvision's: its state_dict loads, only the classifier is left over.
    missing, unexpected = r3d18.load_state_dict(r3d_18(weights=None).state_dict(), strict=False)
    assert missing == [] and sorted(unexpected) == ["fc.bias", "fc.weight"]


def test_r3d_18_tclr_keeps_four_timesteps(r3d18, r3d18_tclr):
    x = torch.randn(1, 3, 16, 16, 16)
    r3d18_tclr.eval()
    per_t, pooled = r3d18_tclr(x, keep_time=True), r3d18_tclr(x)
    assert per_t.shape == (1, 512, 4) and pooled.shape == (1, 512)
    torch.testing.assert_close(pooled, per_t.mean(-1))  # pooled = mean over the timesteps
    assert per_t.flatten(1).shape == (1, 2048)  # the retrieval 'tclr' protocol's 2048-d descriptor
    # TCLR's change costs no parameters: stride 1 + dilation 2 in time, downsample stride 1 in time.
    conv, ds = r3d18_tclr.layer4[0].conv1[0], r3d18_tclr.layer4[0].downsample[0]
    assert (conv.stride, conv.dilation, conv.padding) == ((1, 2, 2), (2, 1, 1), (2, 1, 1))
    assert ds.stride == (1, 2, 2)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(r3d18_tclr) == n(r3d18)
    missing, _ = r3d18_tclr.load_state_dict(r3d_18(weights=None).state_dict(), strict=False)
    assert missing == []


@pytest.mark.parametrize("widths", [(16, 32, 64, 128), (8, 8, 16, 24)])
def test_r3d_tiny_widths(widths):
    net = build_backbone("r3d_tiny", widths=widths, layers=(1, 1, 1, 1))
    assert net.feature_dim == widths[-1]
    x = torch.randn(2, 3, 8, 16, 16)
    assert net(x).shape == (2, widths[-1])
    assert net(x, keep_time=True).shape == (2, widths[-1], 1)
    tclr = build_backbone("r3d_tiny_tclr", widths=widths)
    assert tclr(torch.randn(2, 3, 16, 16, 16), keep_time=True).shape == (2, widths[-1], 4)
    # R3D-18's stem and blocks, one block per stage and widths 8/16/32/64 by default; layers=(2, 2, 2, 2) is R3D-18's depth
    tiny = build_backbone("r3d_tiny")
    assert [len(getattr(tiny, f"layer{i}")) for i in range(1, 5)] == [1, 1, 1, 1] and tiny.feature_dim == 64
    deep = build_backbone("r3d_tiny", layers=(2, 2, 2, 2))
    assert [len(getattr(deep, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]


def test_unknown_backbone():
    with pytest.raises(ValueError, match="r3d_18"):
        build_backbone("r50")


@pytest.mark.parametrize("name", BACKBONES)
def test_channels_last_3d_and_bf16_autocast(name, r3d18, r3d18_tclr):
    net = {"r3d_18": r3d18, "r3d_18_tclr": r3d18_tclr}.get(name) or build_backbone(name)
    net = net.eval()
    x = torch.randn(1, 3, 16, 16, 16)
    ref = net(x, keep_time=True)
    net_cl = net.to(memory_format=torch.channels_last_3d)
    try:
        out = net_cl(x.contiguous(memory_format=torch.channels_last_3d), keep_time=True)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net_cl(x.contiguous(memory_format=torch.channels_last_3d))
        assert low.dtype == torch.bfloat16 and torch.isfinite(low).all()
        torch.testing.assert_close(low.float(), ref.mean(-1), rtol=0.1, atol=0.1)
    finally:
        net.to(memory_format=torch.contiguous_format)


def test_projection_head_is_unit_norm_any_leading_dims():
    head = ProjectionHead(32, 16, 8)
    z = head(torch.randn(3, 5, 32))
    assert z.shape == (3, 5, 8)
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(3, 5))
    assert ProjectionHead().net[0].in_features == 512 and ProjectionHead().out_dim == 128


def test_ssl_head_shape_and_shared_pair_layer():
    head = SSLHead(feat_dim=12, hidden=7)
    assert head(torch.randn(5, 3, 12)).shape == (5, 4)
    assert head.pair[0].in_features == 24 and head.fc.in_features == 21  # one shared Linear, 3 pairs concatenated
    assert head.drop.p == 0.5
    with pytest.raises(ValueError):
        head(torch.randn(5, 2, 12))


def test_ssl_head_norm_standardises_each_feature_over_the_batch():
    # norm=True is BatchNorm1d without affine over the B*3 clips: in training, the logits equal those of the
    # plain head (same weights) fed features standardised by hand with the biased variance and eps 1e-5 ...
    torch.manual_seed(0)
    normed, plain = SSLHead(feat_dim=6, hidden=5, dropout=0.0, norm=True), SSLHead(feat_dim=6, hidden=5, dropout=0.0)
    plain.load_state_dict({k: v for k, v in normed.state_dict().items() if not k.startswith("norm.")})
    f = torch.rand(4, 3, 6) * 3 + 5  # post-ReLU-like: positive, a large shared mean
    flat = f.reshape(-1, 6)
    by_hand = (flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(normed.train()(f), plain(by_hand.view(4, 3, 6)))
    # ... so a per-dimension offset and scale of every feature (what the backbone's mean adds) changes nothing,
    assert not any(p.shape == (6,) for p in normed.norm.parameters())  # no affine parameters to learn
    torch.testing.assert_close(normed(f * 2.5 + 7), normed(f), atol=1e-4, rtol=1e-4)
    # while the plain head (the paper's) sees them.
    assert not torch.allclose(plain(f * 2.5 + 7), plain(f), atol=1e-3)
    assert SSLHead(feat_dim=6).norm is None and build_model("r3d_tiny", ssl_norm=True).ssl_head.norm is not None


def test_pretrain_config_ssl_head_norm_reaches_the_model():
    from stclr.config import preset
    from stclr.train import build_pretrain_model

    assert build_pretrain_model(preset("paper", "pretrain")).ssl_head.norm is None  # the paper's head
    course = preset("course", "pretrain")
    assert course.ssl_head_norm and build_pretrain_model(course).ssl_head.norm is not None


def test_ssl_label_order_convention():
    # Labels [12, 13, 23, None] -> [0, 1, 2, 3]. Hand-set weights make logit k = -|f_i - f_j| for the k-th
    # pair of SSL_PAIRS (1-D "speed" features) and logit 3 a constant -0.5; the argmax must name the label.
    assert SSL_PAIRS == ((0, 1), (0, 2), (1, 2)) and SSL_LABEL_NAMES == ("12", "13", "23", "None")
    head = SSLHead(feat_dim=1, hidden=2, dropout=0.0).eval()
    with torch.no_grad():
        head.pair[0].weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))  # relu(fi - fj), relu(fj - fi)
        head.pair[0].bias.zero_()
        head.fc.weight.zero_()
        for k in range(3):
            head.fc.weight[k, 2 * k : 2 * k + 2] = -1.0
        head.fc.bias.copy_(torch.tensor([0.0, 0.0, 0.0, -0.5]))
    speeds = torch.tensor([[1, 1, 5], [1, 5, 1], [5, 1, 1], [1, 3, 9]], dtype=torch.float32)
    assert head(speeds[:, :, None]).argmax(1).tolist() == [0, 1, 2, 3]


def test_classifier_head():
    head = ClassifierHead(16, 8, 5)
    assert head(torch.randn(3, 16)).shape == (3, 5)
    assert [type(m).__name__ for m in head.net] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert head.net[2].p == 0.9


def test_build_model():
    model = build_model("r3d_tiny", widths=(8, 8, 16, 16))
    assert isinstance(model, STCLRModel)
    assert model.projection.net[0].in_features == 16 and model.projection.out_dim == 128
    assert model.ssl_head.pair[0].in_features == 32
    assert model(torch.randn(2, 3, 8, 16, 16)).shape == (2, 16)
    assert build_model("r3d_tiny", method="ic").ssl_head is None
    assert build_model("r3d_tiny", method="ssl").projection is None
    assert build_model("r3d_tiny", method="stclr").ssl_head is not None
