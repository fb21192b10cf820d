"""The pretraining losses, as pure functions of feature tensors (paper Sec. 3; equation numbers refer to it).

Similarity: ``h(u, v) = exp(cos(u, v) / tau)``. Every contrastive loss below is a cross-entropy over
``log h`` logits, so it is computed as ``logsumexp(logits) - logit_positive`` (stable for small ``tau``).
Features are L2-normalised inside, so rescaling any feature vector changes nothing. Inputs may be float16 /
bfloat16 / float32 / float64; low precision is promoted to float32 and autocast is switched off inside, so a
loss called under bf16 autocast still computes in float32 (float64 stays float64, for the reference tests).
No loss loops over the batch in Python.

==============================  ================================================  ==============
function                        what                                              default tau
==============================  ================================================  ==============
instance_contrastive            L_IC, Eq. 2, NT-Xent over the 2B clips; DDP-aware  0.3 (STCLR)
instance_contrastive_all_pairs  TCLR's IC variant: every pair of a video's clips   0.1 (TCLR)
sparse_local_local              L_SLL, Eq. 3 (= TCLR's local-local on dense clips) 0.3
tclr_global_local               TCLR's global-local loss                           0.1
same_speed_localization         L_SSL, cross-entropy over [12, 13, 23, None]       -
==============================  ================================================  ==============
"""

from __future__ import annotations

import functools

import torch
import torch.distributed as dist
import torch.nn.functional as F

_NEG_INF = float("-inf")


def _fp32(fn):
    """Run ``fn`` with autocast off on the inputs' device (a bf16 matmul of unit vectors / 0.1 loses ~2
    digits of every logit)."""

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return fn(x, *args, **kwargs)

    return wrapper


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Promote half precisions to float32, then L2-normalise the last dim (cosine = dot of unit vectors)."""
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return F.normalize(x, dim=-1)


def _eye_mask(n: int, device) -> torch.Tensor:
    return torch.eye(n, dtype=torch.bool, device=device)


# --------------------------------------------------------------------------------------------------------
# distributed helper


class _AllGather(torch.autograd.Function):
    """``all_gather`` that lets gradients flow back: forward concatenates every rank's ``x`` along dim 0;
    backward sums the incoming gradient over ranks (all_reduce) and returns this rank's slice, i.e. each rank's
    features receive d(sum over ranks of the rank losses)/dx. Works on gloo and NCCL; needs equal shapes."""

    @staticmethod
    def forward(ctx, x):
        ctx.rank, ctx.world, ctx.n = dist.get_rank(), dist.get_world_size(), x.shape[0]
        out = [torch.empty_like(x) for _ in range(ctx.world)]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from all ranks along dim 0, differentiably; identity when not distributed."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _AllGather.apply(x)


# --------------------------------------------------------------------------------------------------------
# instance contrastive


@_fp32
def instance_contrastive(g: torch.Tensor, g2: torch.Tensor, temperature: float = 0.3, *, gather: bool = False) -> torch.Tensor:
    """Instance contrastive loss L_IC (Eq. 2) in its symmetric NT-Xent form.

    ``g, g2: [B, d]`` -- one positive pair per video (G_i, G'_i). Every one of the 2B clips is an anchor in
    turn: its positive is its partner; its negatives are every other clip of the batch, both views
    (``2B - 2``); the denominator also holds the positive. For an anchor G_i this is exactly Eq. 2::

        l_i = -log h(G_i, G'_i) / sum_j [1(j != i) h(G_i, G_j) + h(G_i, G'_j)]

    and the G'_i anchors mirror it. Returns the mean over the 2B anchors (a scalar). B = 1 gives 0 (the only
    term in the denominator is the positive).

    ``gather=True`` under ``torch.distributed`` (a no-op otherwise): g and g2 are all-gathered from every
    rank with gradients flowing back; the anchors are this rank's 2B clips, the negatives every rank's. The
    rank's loss is the mean over its own anchors, so the MEAN over ranks of the returned values equals the
    single-process loss on the global batch; and since the gather's backward sums gradients over ranks,
    DDP's gradient averaging yields exactly the single-process gradient. All ranks need the same B.
    """
    B = g.shape[0]
    z = torch.cat([_unit(g), _unit(g2)])  # [2B, d] anchors: view a then view b
    idx = torch.arange(B, device=z.device)
    if gather and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        R, off = dist.get_world_size(), dist.get_rank() * B
        keys = torch.cat([all_gather_with_grad(z[:B]), all_gather_with_grad(z[B:])])  # [2RB, d]
        me = torch.cat([idx + off, idx + R * B + off])  # where each anchor sits among the keys
        pos = torch.cat([idx + R * B + off, idx + off])
    else:
        keys, me, pos = z, torch.cat([idx, idx + B]), torch.cat([idx + B, idx])
    logits = z @ keys.T / temperature  # [2B, K] = log h
    rows = torch.arange(2 * B, device=z.device)
    self_mask = torch.zeros_like(logits, dtype=torch.bool)
    self_mask[rows, me] = True  # an anchor is not its own negative
    logits = logits.masked_fill(self_mask, _NEG_INF)
    return (torch.logsumexp(logits, dim=1) - logits[rows, pos]).mean()


@_fp32
def instance_contrastive_all_pairs(z: torch.Tensor, temperature: float = 0.1, *, reduction: str = "mean") -> torch.Tensor:
    """TCLR's instance-contrastive variant: every pair of a video's clips is a positive pair.

    ``z: [B, M, d]`` -- M clip features per video (TCLR: 4 dense clips x 2 views, M = 8). For each ordered
    pair (m, n), m != n, TCLR's reference code applies NT-Xent to the two clip sets ``z[:, m]`` and
    ``z[:, n]``: anchor z[i, m], positive z[i, n], negatives z[j, m] and z[j, n] for j != i (the other
    videos' clips at those two indices only, not all M). Its loss ``sum over ordered pairs of
    NT-Xent(z[:, m], z[:, n])`` equals ``(1/B) * sum_i sum_{m != n} l(i, m -> n)``.

    reduction ``"mean"`` (default): mean of l over all (i, m, n) = the mean NT-Xent per pair;
    ``"sum"``: TCLR's sum over the M(M-1) ordered pairs (= mean * M(M-1)). TCLR's ``loss_ic1`` is the
    ``"sum"`` value divided by 4 (its "scaling over the two views"); :func:`stclr.methods.compute_losses`
    reproduces that.
    """
    z = _unit(z)
    B, M = z.shape[:2]
    s = torch.einsum("imd,jnd->imnj", z, z) / temperature  # [B, M, M, B]: s[i,m,n,j] = log h(z_im, z_jn)
    same = s.diagonal(dim1=1, dim2=2).permute(0, 2, 1)  # [B, M, B]: log h(z_im, z_jm)
    same = same.masked_fill(_eye_mask(B, z.device)[:, None, :], _NEG_INF)  # j = i is the anchor itself
    # Denominator of anchor (i, m) for pair (m, n): all z_jn (positive included) and z_jm, j != i.
    cand = torch.cat([s, same[:, :, None, :].expand(B, M, M, B)], dim=-1)  # [B, M, M, 2B]
    pos = s.diagonal(dim1=0, dim2=3).permute(2, 0, 1)  # [B, M, M]: log h(z_im, z_in)
    loss = torch.logsumexp(cand, dim=-1) - pos
    loss = loss[:, ~_eye_mask(M, z.device)]  # [B, M(M-1)]: drop m = n
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum() / B
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


# --------------------------------------------------------------------------------------------------------
# temporal losses


def _local_local_one_side(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-anchor losses [B, N] with anchors a (unit vectors), positives b, negatives a_q (q != p) and b_q."""
    ab = a @ b.transpose(1, 2) / temperature  # [B, N, N]: log h(a_p, b_q), diagonal = positives
    aa = (a @ a.transpose(1, 2) / temperature).masked_fill(_eye_mask(a.shape[1], a.device), _NEG_INF)
    return torch.logsumexp(torch.cat([ab, aa], dim=-1), dim=-1) - ab.diagonal(dim1=1, dim2=2)


@_fp32
def sparse_local_local(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.3, *, symmetric: bool = False) -> torch.Tensor:
    """Sparse local-local loss L_SLL (Eq. 3).

    ``a, b: [B, N, d]`` -- the N local clips of each video in view a (G_{i,p}) and view b (G'_{i,p}). For
    video i::

        L_i = -sum_p log h(a_ip, b_ip) / sum_q [1(q != p) h(a_ip, a_iq) + h(a_ip, b_iq)]

    (2N - 2 negatives per anchor, all from the same video), and the loss is the mean of L_i over videos --
    a SUM over the N anchors, as Eq. 3 is written. ``symmetric=True`` also takes the view-b clips as anchors
    (the mirror term, a <-> b) and averages the two.

    On TCLR's 4 dense clips this is TCLR's local-local loss: the reference code's per-video NT-Xent is the
    symmetric form's per-video value divided by N, summed (not averaged) over the batch, i.e.
    ``TCLR_LL = sparse_local_local(a, b, tau, symmetric=True) * B / N``.
    """
    a, b = _unit(a), _unit(b)
    loss = _local_local_one_side(a, b, temperature).sum(1).mean()
    if symmetric:
        loss = (loss + _local_local_one_side(b, a, temperature).sum(1).mean()) / 2
    return loss


@_fp32
def tclr_global_local(global_t: torch.Tensor, local: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """TCLR's global-local temporal contrastive loss, as its reference ``global_local_temporal_contrastive``.

    ``global_t: [B, T, d]`` -- the global clip's features at T timesteps (layer4 keeps time, each timestep
    projected); ``local: [B, T, d]`` -- pooled features of the T adjacent local clips the global clip spans
    (TCLR: T = 4). With ``s[t, c] = log h(global_t[t], local[c])`` per video, both directions are
    cross-entropies over one video's 4x4 matrix:

    - anchor global timestep t: positive local clip t, negatives the other local clips c != t;
    - anchor local clip c: positive global timestep c, negatives the other global timesteps t != c.

    No same-side negatives (timestep-vs-timestep, clip-vs-clip) and no other videos. Loss per video = the
    sum of the 2T cross-entropies / 2; mean over videos (TCLR: CE summed over 8B rows / 2B).
    TCLR calls it for each of the 2x2 (global view, local view) combinations and sums the four.
    """
    s = _unit(global_t) @ _unit(local).transpose(1, 2) / temperature  # [B, T, T]
    pos = s.diagonal(dim1=1, dim2=2)
    l_global = torch.logsumexp(s, dim=2) - pos  # rows: global timestep anchors
    l_local = torch.logsumexp(s, dim=1) - pos  # columns: local clip anchors
    return (l_global + l_local).sum(1).mean() / 2


# --------------------------------------------------------------------------------------------------------
# pretext


@_fp32
def same_speed_localization(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_SSL (Sec. 3.3): cross-entropy of ``logits [B, 4]`` against ``labels [B]`` in {0, 1, 2, 3} =
    [12, 13, 23, None] (which tuple positions share a speed). Mean over the batch."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return F.cross_entropy(logits, labels)
