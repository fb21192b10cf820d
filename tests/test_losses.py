"""stclr.losses against slow, obvious references written straight from the paper's equations.

The ``ref_*`` functions loop over the terms of Eq. 2 / Eq. 3 / TCLR's code one similarity at a time, in
float64; the vectorised losses must match them to 1e-10 in value and gradient. ``bench/losses.py`` times the
same references.
"""

from __future__ import annotations

import math
import socket
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from stclr import losses as L

TOL = dict(rtol=1e-10, atol=1e-10)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: a second intra-op thread only adds OpenMP spin-waits, which stall for 0.1-1 s per op
    # when the 2 cores are shared with other processes. Restore the session's setting afterwards.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------------------------------------- references


def h(u, v, tau):
    """h(u, v) = exp(u.v / (|u| |v| tau))  (the paper's similarity, under Eq. 2)."""
    return torch.exp(torch.dot(u, v) / (u.norm() * v.norm() * tau))


def ref_instance_contrastive(g, g2, tau):
    """Eq. 2 for every one of the 2B clips as anchor (G_i and, mirrored, G'_i); mean over the 2B anchors."""
    B = g.shape[0]
    terms = []
    for i in range(B):
        den = sum((h(g[i], g[j], tau) if j != i else 0) + h(g[i], g2[j], tau) for j in range(B))
        terms.append(-torch.log(h(g[i], g2[i], tau) / den))
        den = sum((h(g2[i], g2[j], tau) if j != i else 0) + h(g2[i], g[j], tau) for j in range(B))
        terms.append(-torch.log(h(g2[i], g[i], tau) / den))
    return sum(terms) / (2 * B)


def ref_sparse_local_local(a, b, tau, symmetric=False):
    """Eq. 3: L_i = -sum_p log h(a_ip, b_ip) / sum_q [1(q != p) h(a_ip, a_iq) + h(a_ip, b_iq)]; mean over i."""

    def one(a, b):
        B, N = a.shape[:2]
        total = 0
        for i in range(B):
            for p in range(N):
                den = sum((h(a[i, p], a[i, q], tau) if q != p else 0) + h(a[i, p], b[i, q], tau) for q in range(N))
                total = total - torch.log(h(a[i, p], b[i, p], tau) / den)
        return total / B

    return (one(a, b) + one(b, a)) / 2 if symmetric else one(a, b)


def ref_all_pairs_sum(z, tau):
    """TCLR's loss_ic1 before its /4: NT-Xent (= the symmetric Eq. 2) for every ordered pair of clip indices."""
    M = z.shape[1]
    return sum(ref_instance_contrastive(z[:, m], z[:, n], tau) for m in range(M) for n in range(M) if m != n)


def ref_global_local(gt, loc, tau):
    """TCLR global-local: per video, CE of each global timestep over the local clips and of each local clip
    over the global timesteps (positive = same index); sum / 2, mean over videos."""
    B, T = gt.shape[:2]
    total = 0
    for i in range(B):
        for t in range(T):
            total = total - torch.log(h(gt[i, t], loc[i, t], tau) / sum(h(gt[i, t], loc[i, c], tau) for c in range(T)))
            total = total - torch.log(h(loc[i, t], gt[i, t], tau) / sum(h(loc[i, t], gt[i, c], tau) for c in range(T)))
    return total / (2 * B)


def tclr_reference_global_local(lsr, gdr, temperature):
    """TCLR's ``global_local_temporal_contrastive`` transcribed (inputs L2-normalised, as TCLR's MLP does)."""
    lsr, gdr = F.normalize(lsr, dim=-1), F.normalize(gdr, dim=-1)
    sim = torch.bmm(lsr, gdr.permute(0, 2, 1))
    sim = torch.cat((sim, sim.permute(0, 2, 1)), dim=0).view(-1, 4)
    label = torch.tensor([0, 1, 2, 3] * (lsr.shape[0] * 2))
    return F.cross_entropy(sim / temperature, label, reduction="sum") / (2 * lsr.shape[0])


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64, requires_grad=True)


def _check(fast, ref, inputs):
    v_fast, v_ref = fast(*inputs), ref(*inputs)
    torch.testing.assert_close(v_fast, v_ref, **TOL)
    for gf, gr in zip(torch.autograd.grad(v_fast, inputs), torch.autograd.grad(v_ref, inputs)):
        torch.testing.assert_close(gf, gr, **TOL)


# ---------------------------------------------------------------------------------------- equal to references

SHAPES = [(B, N, d) for B in (1, 2, 5) for N in (2, 4, 5) for d in (3, 16, 128)]


@pytest.mark.parametrize("B", [1, 2, 5])
@pytest.mark.parametrize("d", [3, 16, 128])
@pytest.mark.parametrize("tau", [0.3, 0.1])
def test_instance_contrastive_matches_reference(B, d, tau):
    _check(lambda g, g2: L.instance_contrastive(g, g2, tau), lambda g, g2: ref_instance_contrastive(g, g2, tau),
           [_rand(B, d, seed=B * d), _rand(B, d, seed=B * d + 1)])


def test_instance_contrastive_single_video_is_zero():
    # B = 1: the denominator holds only the positive, so -log(h/h) = 0 with zero gradient.
    g, g2 = _rand(1, 8), _rand(1, 8, seed=1)
    loss = L.instance_contrastive(g, g2)
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    assert all(x.abs().max() < 1e-12 for x in torch.autograd.grad(loss, [g, g2]))


@pytest.mark.parametrize("B,N,d", SHAPES)
@pytest.mark.parametrize("symmetric", [False, True])
def test_sparse_local_local_matches_reference(B, N, d, symmetric):
    _check(lambda a, b: L.sparse_local_local(a, b, 0.3, symmetric=symmetric),
           lambda a, b: ref_sparse_local_local(a, b, 0.3, symmetric),
           [_rand(B, N, d, seed=B + N + d), _rand(B, N, d, seed=B * N * d)])


@pytest.mark.parametrize("B,M,d", [(1, 2, 3), (2, 4, 16), (3, 8, 128), (5, 3, 16)])
def test_all_pairs_matches_tclr_reference(B, M, d):
    z = _rand(B, M, d, seed=M)
    _check(lambda z: L.instance_contrastive_all_pairs(z, 0.1, reduction="sum"), lambda z: ref_all_pairs_sum(z, 0.1), [z])
    mean = L.instance_contrastive_all_pairs(z, 0.1)  # "mean" = sum over ordered pairs / M(M-1)
    torch.testing.assert_close(mean, ref_all_pairs_sum(z, 0.1) / (M * (M - 1)), **TOL)


@pytest.mark.parametrize("B,d", [(1, 3), (2, 16), (5, 128)])
def test_global_local_matches_reference_and_tclr_code(B, d):
    gt, loc = _rand(B, 4, d, seed=d), _rand(B, 4, d, seed=d + 1)
    _check(lambda x, y: L.tclr_global_local(x, y, 0.1), lambda x, y: ref_global_local(x, y, 0.1), [gt, loc])
    _check(lambda x, y: L.tclr_global_local(x, y, 0.1), lambda x, y: tclr_reference_global_local(x, y, 0.1), [gt, loc])


@pytest.mark.parametrize("B,d", [(1, 3), (3, 16), (5, 128)])
def test_dense_local_local_is_tclr_local_local(B, d):
    # TCLR's code: for each video, NTXentLoss(batch_size=4) over its 4 dense clips (view 0 vs view 1), SUMMED
    # over the batch. Its NT-Xent is the symmetric Eq. 2 over 4 "instances" = the symmetric Eq. 3 / N.
    a, b = _rand(B, 4, d, seed=d), _rand(B, 4, d, seed=d + 1)
    _check(lambda a, b: L.sparse_local_local(a, b, 0.1, symmetric=True) * B / 4,
           lambda a, b: sum(ref_instance_contrastive(a[i], b[i], 0.1) for i in range(B)), [a, b])


def test_same_speed_localization_is_cross_entropy():
    logits, labels = _rand(6, 4), torch.tensor([0, 1, 2, 3, 3, 0])
    ref = sum(-torch.log(torch.exp(logits[i, labels[i]]) / torch.exp(logits[i]).sum()) for i in range(6)) / 6
    _check(lambda x: L.same_speed_localization(x, labels), lambda x: ref, [logits])


# ---------------------------------------------------------------------------------------- hand-computed cases


def _unit2(deg, r=1.0):
    return [r * math.cos(math.radians(deg)), r * math.sin(math.radians(deg))]


def test_instance_contrastive_by_hand():
    # 2 videos, 2-D features at known angles (lengths vary: only angles matter).
    # G1 = 0 deg, G'1 = 60 deg, G2 = 180 deg, G'2 = 90 deg; tau = 0.5.
    tau, e = 0.5, lambda c: math.exp(c / 0.5)
    g = torch.tensor([_unit2(0), _unit2(180, 3.0)], dtype=torch.float64)
    g2 = torch.tensor([_unit2(60, 2.0), _unit2(90)], dtype=torch.float64)
    r3 = math.sqrt(3) / 2
    # anchor: positive cos, then negative cosines (other video, both views)
    expected = (
        -math.log(e(0.5) / (e(0.5) + e(-1) + e(0)))  # G1:  G'1 60deg | G2 180deg, G'2 90deg
        - math.log(e(0.5) / (e(0.5) + e(r3) + e(-0.5)))  # G'1: G1 60deg | G'2 30deg, G2 120deg
        - math.log(e(0) / (e(0) + e(-1) + e(-0.5)))  # G2:  G'2 90deg | G1 180deg, G'1 120deg
        - math.log(e(0) / (e(0) + e(r3) + e(0)))  # G'2: G2 90deg | G'1 30deg, G1 90deg
    ) / 4
    assert L.instance_contrastive(g, g2, tau).item() == pytest.approx(expected, rel=1e-12)


def test_sparse_local_local_by_hand():
    # Video 1: a1 = 0, a2 = 90, b1 = 30, b2 = 180 deg. Video 2: the same rotated by 45 deg (same loss).
    tau, e = 0.3, lambda c: math.exp(c / 0.3)
    r3 = math.sqrt(3) / 2
    per_video = (
        -math.log(e(r3) / (e(r3) + e(0) + e(-1)))  # a1: b1 30deg | a2 90deg, b2 180deg
        - math.log(e(0) / (e(0) + e(0) + e(0.5)))  # a2: b2 90deg | a1 90deg, b1 60deg
    )
    a = torch.tensor([[_unit2(0), _unit2(90)], [_unit2(45), _unit2(135, 5.0)]], dtype=torch.float64)
    b = torch.tensor([[_unit2(30), _unit2(180)], [_unit2(75, 0.1), _unit2(225)]], dtype=torch.float64)
    assert L.sparse_local_local(a, b, tau).item() == pytest.approx(per_video, rel=1e-12)


def test_global_local_by_hand():
    # T = 2 for brevity: global timesteps at 0 and 90 deg, local clips at 30 and 180 deg.
    tau, e = 0.1, lambda c: math.exp(c / 0.1)
    r3 = math.sqrt(3) / 2
    expected = (
        -math.log(e(r3) / (e(r3) + e(-1)))  # global t0: local c0 30deg, c1 180deg
        - math.log(e(0) / (e(0.5) + e(0)))  # global t1: c0 60deg, c1 90deg
        - math.log(e(r3) / (e(r3) + e(0.5)))  # local c0: t0 30deg, t1 60deg
        - math.log(e(0) / (e(-1) + e(0)))  # local c1: t0 180deg, t1 90deg
    ) / 2
    gt = torch.tensor([[_unit2(0), _unit2(90)]], dtype=torch.float64)
    loc = torch.tensor([[_unit2(30), _unit2(180)]], dtype=torch.float64)
    assert L.tclr_global_local(gt, loc, tau).item() == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------- invariances

shape_st = st.tuples(st.integers(1, 5), st.integers(2, 5), st.sampled_from([3, 16, 128]))


def _all_losses(g, g2, a, b, z, gt):
    return [
        L.instance_contrastive(g, g2),
        L.sparse_local_local(a, b),
        L.sparse_local_local(a, b, symmetric=True),
        L.instance_contrastive_all_pairs(z),
        L.tclr_global_local(gt, a[:, :4] if a.shape[1] >= 4 else gt),
    ]


def _inputs(B, N, d, seed):
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64)  # noqa: E731
    return r(B, d), r(B, d), r(B, N, d), r(B, N, d), r(B, N, d), r(B, 4, d)


@settings(max_examples=25, deadline=None)
@given(shape=shape_st, seed=st.integers(0, 10_000))
def test_invariant_to_feature_scale(shape, seed):
    xs = _inputs(*shape, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    scaled = [x * torch.exp(3 * torch.randn(*x.shape[:-1], 1, generator=gen, dtype=x.dtype)) for x in xs]
    for v, w in zip(_all_losses(*xs), _all_losses(*scaled)):
        torch.testing.assert_close(v, w, rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(shape=shape_st, seed=st.integers(0, 10_000))
def test_invariant_to_video_order(shape, seed):
    xs = _inputs(*shape, seed)
    perm = torch.randperm(shape[0], generator=torch.Generator().manual_seed(seed))
    for v, w in zip(_all_losses(*xs), _all_losses(*[x[perm] for x in xs])):
        torch.testing.assert_close(v, w, rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(shape=shape_st, seed=st.integers(0, 10_000))
def test_local_losses_invariant_to_clip_order(shape, seed):
    # Relabelling the N clips (same relabelling in both views) changes nothing: Eq. 3 sums over all p.
    _, _, a, b, z, _ = _inputs(*shape, seed)
    perm = torch.randperm(shape[1], generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(L.sparse_local_local(a, b), L.sparse_local_local(a[:, perm], b[:, perm]), **TOL)
    torch.testing.assert_close(L.instance_contrastive_all_pairs(z), L.instance_contrastive_all_pairs(z[:, perm]), **TOL)


def test_swapping_views_symmetric():
    g, g2 = _rand(4, 16), _rand(4, 16, seed=1)
    a, b = _rand(3, 5, 16, seed=2), _rand(3, 5, 16, seed=3)
    torch.testing.assert_close(L.instance_contrastive(g, g2), L.instance_contrastive(g2, g), **TOL)
    torch.testing.assert_close(L.sparse_local_local(a, b, symmetric=True), L.sparse_local_local(b, a, symmetric=True), **TOL)


# ---------------------------------------------------------------------------------------- precision, stability


def test_low_precision_inputs_compute_in_float32():
    g, g2 = torch.randn(6, 32).bfloat16(), torch.randn(6, 32).bfloat16()
    out = L.instance_contrastive(g, g2)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), L.instance_contrastive(g.double(), g2.double()), rtol=1e-5, atol=1e-5)
    a, b = torch.randn(2, 5, 8).half(), torch.randn(2, 5, 8).half()
    assert L.sparse_local_local(a, b).dtype == torch.float32
    assert L.same_speed_localization(torch.randn(3, 4).bfloat16(), torch.tensor([0, 1, 3])).dtype == torch.float32


def test_autocast_is_switched_off_inside():
    g, g2 = torch.randn(6, 32), torch.randn(6, 32)
    a, b = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    plain = [L.instance_contrastive(g, g2), L.sparse_local_local(a, b), L.tclr_global_local(a[:, :4], b[:, :4])]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = [L.instance_contrastive(g, g2), L.sparse_local_local(a, b), L.tclr_global_local(a[:, :4], b[:, :4])]
    for p, q in zip(plain, auto):
        assert q.dtype == torch.float32
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_stable_at_tiny_temperature():
    # exp(1 / 0.001) overflows float32 and float64; logsumexp must not.
    g = torch.randn(4, 8, requires_grad=True)
    a = torch.randn(2, 5, 8, requires_grad=True)
    for loss in (L.instance_contrastive(g, g + 0.01, 1e-3), L.sparse_local_local(a, a * 2, 1e-3),
                 L.instance_contrastive_all_pairs(a, 1e-3), L.tclr_global_local(a[:, :4], a[:, 1:], 1e-3)):
        assert torch.isfinite(loss)
        loss.backward()
    assert torch.isfinite(g.grad).all() and torch.isfinite(a.grad).all()


def test_bad_reduction():
    with pytest.raises(ValueError):
        L.instance_contrastive_all_pairs(torch.randn(2, 3, 4), reduction="max")


# ---------------------------------------------------------------------------------------- DDP (gloo, 2 ranks)


def _ddp_data():
    gen = torch.Generator().manual_seed(7)
    x, x2 = torch.randn(6, 5, generator=gen, dtype=torch.float64), torch.randn(6, 5, generator=gen, dtype=torch.float64)
    torch.manual_seed(3)
    return x, x2, torch.nn.Linear(5, 4).double()


def _ddp_worker(rank, world, port, out_dir):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        x, x2, net = _ddp_data()
        model = DDP(net)
        B = x.shape[0] // world
        sl = slice(rank * B, (rank + 1) * B)
        g, g2 = model(x[sl]), model(x2[sl])
        loss = L.instance_contrastive(g, g2, 0.3, gather=True)
        loss.backward()  # DDP averages the parameter gradients over ranks
        torch.save({"loss": loss.detach(), "grads": [p.grad for p in model.parameters()]}, Path(out_dir) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_gather_equals_single_process():
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        # fork on Linux: the children need not re-import torch (spawn costs ~15 s on 2 busy cores)
        method = "fork" if sys.platform == "linux" else "spawn"
        mp.start_processes(_ddp_worker, args=(2, port, tmp), nprocs=2, join=True, start_method=method)
        res = [torch.load(Path(tmp) / f"{r}.pt", weights_only=True) for r in range(2)]
    x, x2, net = _ddp_data()
    loss = L.instance_contrastive(net(x), net(x2), 0.3)  # one process, the global batch of 6
    loss.backward()
    torch.testing.assert_close((res[0]["loss"] + res[1]["loss"]) / 2, loss.detach(), rtol=1e-12, atol=1e-12)
    for r in res:
        for gd, p in zip(r["grads"], net.parameters()):
            torch.testing.assert_close(gd, p.grad, rtol=1e-12, atol=1e-12)
