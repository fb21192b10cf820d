"""Activation checkpointing of the backbone (``build_backbone(..., checkpoint_activations=True)``,
``PretrainConfig.activation_checkpointing``): the same loss, gradients and BatchNorm statistics as without."""

from __future__ import annotations

import copy

import pytest
import torch

from stclr.config import preset
from stclr.methods import compute_losses, fake_batch
from stclr.models import build_model
from stclr.train import build_pretrain_model


def _step(model, batch):
    """One training forward + backward of the STCLR losses -> (total loss, {name: grad})."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(123)  # the SSL head's dropout draws the same mask in both runs
    loss = compute_losses("stclr", batch, model)["total"]
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_checkpointed_backbone_same_loss_grads_and_bn_stats_float64():
    torch.manual_seed(0)
    plain = build_model("r3d_tiny", widths=(4, 8, 8, 16)).double().train()
    ckpt = copy.deepcopy(plain)
    ckpt.backbone.checkpoint_activations = True
    batch = fake_batch("stclr", B=3, N=3, T=8, H=16, W=16, generator=torch.Generator().manual_seed(1))
    batch = {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}

    loss_a, grads_a = _step(plain, batch)
    loss_b, grads_b = _step(ckpt, batch)

    assert torch.isfinite(loss_a) and loss_a.item() != 0
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-12, atol=1e-12)
    assert grads_a.keys() == grads_b.keys() and any(n.startswith("backbone.stem") for n in grads_a)
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-10, atol=1e-12, msg=name)
    # BN running statistics are updated once per forward, as without checkpointing (not again on recompute)
    for (name, buf_a), (_, buf_b) in zip(plain.named_buffers(), ckpt.named_buffers()):
        torch.testing.assert_close(buf_b, buf_a, rtol=0, atol=1e-14, msg=name)


def test_checkpointing_actually_recomputes():
    """The option is really on: the backbone's stages run forward again during backward."""
    torch.manual_seed(0)
    model = build_model("r3d_tiny", widths=(4, 8, 8, 16), checkpoint_activations=True).train()
    calls = []
    model.backbone.layer2.register_forward_pre_hook(lambda *_: calls.append(1))  # pre: recompute stops early
    x = torch.randn(2, 3, 8, 16, 16)
    model.backbone(x).sum().backward()
    assert len(calls) == 2  # forward + recompute in backward
    calls.clear()
    with torch.no_grad():
        model.backbone(x)
    assert len(calls) == 1  # no checkpointing (and no recompute) without gradients


@pytest.mark.parametrize("flag", [False, True])
def test_config_field_reaches_the_backbone(flag):
    cfg = preset("course", activation_checkpointing=flag)
    assert build_pretrain_model(cfg).backbone.checkpoint_activations is flag
