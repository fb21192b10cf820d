"""Networks: the R3D backbones and the three heads (projection, same-speed localization, classifier).

Backbones map a batch of clips ``[B, C, T, H, W]`` to clip features. All are torchvision ``VideoResNet``
building blocks (``BasicStem``-style stem, ``BasicBlock`` with ``Conv3DSimple``), so a full-size backbone's
``state_dict`` keys are torchvision's (minus ``fc``):

=================  =====================================================================  ============
name               what                                                                   feature_dim
=================  =====================================================================  ============
``r3d_18``         ``torchvision.models.video.r3d_18(weights=None)``; layer4 -> avg pool   512
``r3d_18_tclr``    the same, layer4 keeps time (TCLR): 16 frames -> 4 timesteps            512
``r3d_tiny``       same stem and blocks, one block per stage, widths 8/16/32/64, for CPUs   widths[-1]
``r3d_tiny_tclr``  the tiny one with TCLR's time-keeping layer4                            widths[-1]
=================  =====================================================================  ============

``backbone(x)`` returns pooled features ``[B, D]``; ``backbone(x, keep_time=True)`` returns features pooled
over space only, ``[B, D, T']`` (``T' = T/8`` for the plain nets, ``T/4`` for the ``_tclr`` ones).
Everything works with ``memory_format=torch.channels_last_3d`` and under bf16 autocast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.video import r3d_18 as _tv_r3d_18
from torchvision.models.video.resnet import BasicBlock, Conv3DSimple

BACKBONES = ("r3d_18", "r3d_18_tclr", "r3d_tiny", "r3d_tiny_tclr")

# Same-speed-localization label convention (paper Sec. 3.3): label k names the pair of tuple positions
# that share a speed; label 3 ("None") means all three speeds differ. SSLHead's pair order is this order.
SSL_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2))
SSL_LABEL_NAMES: tuple[str, ...] = ("12", "13", "23", "None")


class VideoBackbone(nn.Module):
    """Stem + 4 residual stages of a video ResNet, without the classifier.

    Attributes: ``feature_dim`` (channels after layer4), ``keeps_time`` (True for the TCLR variant, whose
    layer4 does not halve time), ``time_stride`` (T / T' after layer4).
    """

    def __init__(self, stem: nn.Module, layers: Sequence[nn.Module], feature_dim: int, *, keeps_time: bool = False,
                 checkpoint_activations: bool = False):
        super().__init__()
        self.stem = stem
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.feature_dim = feature_dim
        self.keeps_time = keeps_time
        self.time_stride = 4 if keeps_time else 8
        self.checkpoint_activations = checkpoint_activations

    def forward(self, x: torch.Tensor, keep_time: bool = False) -> torch.Tensor:
        """``x [B, C, T, H, W]`` -> ``[B, D]``, or ``[B, D, T']`` with ``keep_time=True``."""
        stages = (self.stem, self.layer1, self.layer2, self.layer3, self.layer4)
        if self.checkpoint_activations and torch.is_grad_enabled():
            for stage in stages:
                x = _checkpointed(stage, x)
        else:
            for stage in stages:
                x = stage(x)
        # Mean over H, W (then T) is exactly AdaptiveAvgPool3d(1) and is layout-agnostic (channels_last_3d).
        x = x.mean(dim=(3, 4))
        return x if keep_time else x.mean(dim=2)


def _checkpointed(stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``stage(x)`` keeping only its input for backward: the stage's inner activations are recomputed
    during backward (activation checkpointing; memory of one stage's activations at a time, for ~1/3 more
    compute). BatchNorm layers would update their running statistics a second time while recomputing, so
    the recompute runs inside :func:`_restore_bn_stats`: the model ends exactly as without checkpointing."""
    from torch.utils.checkpoint import checkpoint

    return checkpoint(stage, x, use_reentrant=False,
                      context_fn=lambda: (contextlib.nullcontext(), _restore_bn_stats(stage)))


@contextlib.contextmanager
def _restore_bn_stats(module: nn.Module):
    """Snapshot the BatchNorm buffers of ``module`` (running mean/var, batch count) and put them back after."""
    saved = [(b, b.detach().clone()) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             for b in m.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, v in saved:
                b.copy_(v)


def _make_layer(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    # torchvision's VideoResNet._make_layer, with the widths as arguments.
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(
            nn.Conv3d(inplanes, planes, kernel_size=1, stride=Conv3DSimple.get_downsample_stride(stride), bias=False),
            nn.BatchNorm3d(planes),
        )
    mods = [BasicBlock(inplanes, planes, Conv3DSimple, stride, downsample)]
    mods += [BasicBlock(planes, planes, Conv3DSimple) for _ in range(1, blocks)]
    return nn.Sequential(*mods)


def _tclr_layer4(layer4: nn.Sequential) -> None:
    """TCLR's change (reference code ``build_r3d_backbone``): layer4's first conv gets temporal stride 1 and
    temporal dilation 2 (padding 2 keeps the length), its downsample path temporal stride 1. Same parameter
    count, so weights stay interchangeable with the plain net; 16 input frames give 4 timesteps, not 2."""
    block = layer4[0]
    conv = block.conv1[0]
    block.conv1[0] = nn.Conv3d(conv.in_channels, conv.out_channels, kernel_size=(3, 3, 3), stride=(1, 2, 2),
                               padding=(2, 1, 1), dilation=(2, 1, 1), bias=False)
    ds = block.downsample[0]
    block.downsample[0] = nn.Conv3d(ds.in_channels, ds.out_channels, kernel_size=1, stride=(1, 2, 2), bias=False)
    for m in (block.conv1[0], block.downsample[0]):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def _init_video_resnet(module: nn.Module) -> None:
    # torchvision's VideoResNet init: He (fan_out) convs, BN = identity.
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_backbone(
    name: str = "r3d_18",
    *,
    widths: Sequence[int] = (8, 16, 32, 64),
    layers: Sequence[int] = (1, 1, 1, 1),
    in_channels: int = 3,
    checkpoint_activations: bool = False,
) -> VideoBackbone:
    """Build a backbone by name (see the module docstring). ``widths``, ``layers`` and ``in_channels`` apply
    to the ``r3d_tiny*`` nets only (``r3d_18*`` is torchvision's architecture, 64/128/256/512, 2-2-2-2).

    ``checkpoint_activations``: keep only each stage's input (stem, layer1..4) for backward and recompute the
    rest while backpropagating (``torch.utils.checkpoint``, non-reentrant): the activation memory of the
    training step drops to about one stage's, for one more forward pass of compute. Same loss, gradients
    and BatchNorm statistics as without (tested); it has no effect under ``torch.no_grad()``."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {BACKBONES}")
    tclr = name.endswith("_tclr")
    if name.startswith("r3d_18"):
        net = _tv_r3d_18(weights=None)
        stem, stages, dim = net.stem, [net.layer1, net.layer2, net.layer3, net.layer4], 512
    else:
        if len(widths) != 4 or len(layers) != 4:
            raise ValueError("r3d_tiny needs 4 widths and 4 layer counts")
        w = list(widths)
        stem = nn.Sequential(  # torchvision BasicStem with a configurable width
            nn.Conv3d(in_channels, w[0], kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(w[0]),
            nn.ReLU(inplace=True),
        )
        stages = [_make_layer(([w[0]] + w)[i], w[i], layers[i], 1 if i == 0 else 2) for i in range(4)]
        dim = w[-1]
    backbone = VideoBackbone(stem, stages, dim, keeps_time=tclr, checkpoint_activations=checkpoint_activations)
    if not name.startswith("r3d_18"):
        _init_video_resnet(backbone)
    if tclr:
        _tclr_layer4(backbone.layer4)
    return backbone


class ProjectionHead(nn.Module):
    """TCLR's MLP: Linear -> BN -> ReLU -> Linear (no bias) -> BN, then L2-normalised. ``[..., in] -> [..., out]``.

    Leading dimensions are flattened for BatchNorm, so BN statistics are taken over every row of one call.
    """

    def __init__(self, in_dim: int = 512, hidden: int = 512, out: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out, bias=False),  # bias is redundant before BN
            nn.BatchNorm1d(out),
        )
        self.out_dim = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        z = self.net(x.reshape(-1, x.shape[-1]))
        return F.normalize(z, dim=-1).reshape(*lead, -1)


class SSLHead(nn.Module):
    """Same-speed-localization head (paper Sec. 3.3, Fig. 4). ``[B, 3, D]`` clip features -> ``[B, 4]`` logits.

    Pairwise concat in :data:`SSL_PAIRS` order (f1f2, f1f3, f2f3) -> one SHARED Linear+ReLU -> concat of the
    three -> dropout -> Linear -> logits for labels [12, 13, 23, None]. Softmax is left to the loss.

    ``norm=True`` first standardises each feature dimension over the batch's ``B * 3`` clips (``BatchNorm1d``
    without affine parameters, as MAE's linear probe does; not in the paper, which names no normalisation).
    Why: pooled post-ReLU features share a large positive mean, and the speed a tuple asks about is a small
    difference on top of it. On frozen features of a course STCLR backbone (speeds 1/2/4) the plain head stayed at
    chance where standardised features gave it 29-32 % (docs/benchmarks.md, "ssl_head_probe"); inside STCLR the
    course preset with the plain head missed the L_SSL bar on seed 0 ("ssl_causes").
    """

    def __init__(self, feat_dim: int = 512, hidden: int = 512, dropout: float = 0.5, num_classes: int = 4,
                 norm: bool = False):
        super().__init__()
        self.norm = nn.BatchNorm1d(feat_dim, affine=False) if norm else None
        self.pair = nn.Sequential(nn.Linear(2 * feat_dim, hidden), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(len(SSL_PAIRS) * hidden, num_classes)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        if f.ndim != 3 or f.shape[1] != 3:
            raise ValueError(f"SSLHead expects [B, 3, D] features, got {tuple(f.shape)}")
        if self.norm is not None:
            f = self.norm(f.reshape(-1, f.shape[-1])).view(f.shape)
        pairs = torch.stack([torch.cat([f[:, i], f[:, j]], dim=-1) for i, j in SSL_PAIRS], dim=1)  # [B, 3, 2D]
        h = self.pair(pairs)  # shared weights: one Linear applied to all three pairs
        return self.fc(self.drop(h.flatten(1)))


class ClassifierHead(nn.Module):
    """Fine-tuning head (Sec. 4.2.2): two FC layers with ReLU and dropout (0.9 in the paper) between."""

    def __init__(self, in_dim: int = 512, hidden: int = 512, num_classes: int = 101, dropout: float = 0.9):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class STCLRModel(nn.Module):
    """What the pretraining methods use: ``backbone``, ``projection`` (contrastive losses) and ``ssl_head``
    (SSL pretext; fed backbone features, not projections, as in Fig. 4). Either head may be ``None`` when a
    method does not need it. ``forward`` is the backbone's, so the model can be evaluated like one."""

    def __init__(self, backbone: VideoBackbone, projection: ProjectionHead | None = None, ssl_head: SSLHead | None = None):
        super().__init__()
        self.backbone, self.projection, self.ssl_head = backbone, projection, ssl_head

    def forward(self, x: torch.Tensor, keep_time: bool = False) -> torch.Tensor:
        return self.backbone(x, keep_time=keep_time)


def build_model(
    backbone: str = "r3d_18",
    *,
    method: str | None = None,
    proj_dim: int = 128,
    proj_hidden: int | None = None,
    ssl_hidden: int | None = None,
    ssl_dropout: float = 0.5,
    ssl_norm: bool = False,
    **backbone_kwargs,
) -> STCLRModel:
    """Backbone + projection head + SSL head, hidden widths defaulting to the backbone's feature_dim
    (512 -> 512 -> 128 for R3D-18, as TCLR). With ``method`` (a :data:`stclr.methods.METHODS` name) only the
    heads that method trains are built -- DDP rejects parameters that get no gradient."""
    net = build_backbone(backbone, **backbone_kwargs)
    d = net.feature_dim
    want_proj = method != "ssl"
    want_ssl = method in (None, "stclr", "ssl")
    return STCLRModel(
        net,
        ProjectionHead(d, proj_hidden or d, proj_dim) if want_proj else None,
        SSLHead(d, ssl_hidden or d, dropout=ssl_dropout, norm=ssl_norm) if want_ssl else None,
    )
