"""DDP on CPU (gloo, 2 processes) gives the same losses and gradients as one process on the same global batch.

Each rank takes its contiguous half of the global batch (as the PlannedBatchSampler does per rank), the instance-contrastive
negatives are all-gathered with gradients (``gather=True``), and DDP averages the gradients. The model runs in
float64 and with BatchNorm in eval mode: on CPU each rank would otherwise normalise with its own half's batch
statistics (SyncBatchNorm has no CPU kernel; on CUDA ``sync_bn`` converts it), which is a different
computation, not an error of the loss or of the gradient synchronisation tested here.
"""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stclr import distributed as D
from stclr.config import PretrainConfig
from stclr.train import LossModel, build_pretrain_model

METHODS = ("ic", "stclr", "simplified_tclr")
GLOBAL_B = 4


def _setup(method: str):
    cfg = PretrainConfig(method=method, arch="r3d_tiny", proj_dim=16, temperature=0.3)
    torch.manual_seed(0)
    model = build_pretrain_model(cfg).double().eval()
    from stclr.methods import fake_batch

    g = torch.Generator().manual_seed(1)
    batch = fake_batch(method, B=GLOBAL_B, N=3, T=4, H=16, W=16, generator=g)
    batch = {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in batch.items()}
    return cfg, model, batch


def _shard(batch: dict, rank: int, world: int) -> dict:
    """Rank ``rank``'s contiguous share of every tensor of a collated global batch (dim 0), as the sampler plans it."""
    out = {}
    for k, v in batch.items():
        if torch.is_tensor(v) and v.dim() > 0:
            lo, hi = D.shard_range(v.shape[0], rank, world)
            out[k] = v[lo:hi]
        else:
            out[k] = v
    return out


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _worker(rank: int, world: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        results = {}
        for method in METHODS:
            cfg, model, batch = _setup(method)
            local = _shard(batch, rank, world)
            assert local["index"].tolist() == list(range(rank * GLOBAL_B // world, (rank + 1) * GLOBAL_B // world))
            ddp = torch.nn.parallel.DistributedDataParallel(LossModel(model, cfg, gather=True))
            losses = ddp(local)
            losses["total"].backward()
            results[method] = {
                "losses": {k: D.all_reduce_mean(v).item() for k, v in losses.items()},
                "grads": _grads(model),
            }
        torch.save(results, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    out = str(tmp / "result")
    # fork on Linux: the children inherit the imported modules (spawn re-imports torch in each: seconds on 2 cores)
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    mp.start_processes(_worker, args=(2, str(tmp / "init"), out), nprocs=2, join=True, start_method=method)
    return [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_two_process_ddp_equals_one_process(ddp_results, method):
    cfg, model, batch = _setup(method)
    losses = LossModel(model, cfg, gather=False)(batch)
    losses["total"].backward()
    single = _grads(model)
    for rank, res in enumerate(ddp_results):
        r = res[method]
        assert set(r["losses"]) == set(losses)
        for k, v in losses.items():  # e.g. the instance-contrastive loss "ic"
            assert r["losses"][k] == pytest.approx(v.item(), rel=1e-12, abs=1e-12), (rank, k)
        assert set(r["grads"]) == set(single)
        for name, g in single.items():
            torch.testing.assert_close(r["grads"][name], g, rtol=1e-9, atol=1e-12, msg=f"rank {rank} {name}")
    assert any(g.abs().sum() > 0 for g in single.values())


def test_shard_helpers():
    assert [D.shard_range(6, r, 3) for r in range(3)] == [(0, 2), (2, 4), (4, 6)]
    with pytest.raises(ValueError, match="not divisible"):
        D.shard_range(5, 0, 2)
    batch = {"clips": torch.arange(8).view(4, 2), "index": torch.arange(4), "plan": None}
    halves = [_shard(batch, r, 2) for r in range(2)]
    assert halves[0]["index"].tolist() == [0, 1] and halves[1]["index"].tolist() == [2, 3]
    assert halves[1]["clips"].tolist() == [[4, 5], [6, 7]] and halves[1]["plan"] is None
    info = D.init_distributed()  # not launched by torchrun: a single-process no-op
    assert (info.rank, info.world_size, info.enabled, info.is_main) == (0, 1, False, True)
    assert "WORLD_SIZE" not in os.environ or os.environ["WORLD_SIZE"] == "1"
    x = torch.randn(3, requires_grad=True)
    assert D.all_gather_with_grad(x) is x and D.all_reduce_mean(torch.tensor(2.0)).item() == 2.0


def _pretrain_worker(rank: int, world: int, port: int, cfg_file: str) -> None:
    from stclr.config import load_config
    from stclr.train import run_pretrain

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    try:
        run_pretrain(load_config(PretrainConfig, cfg_file))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.slow
def test_run_pretrain_under_two_process_gloo(tmp_path):
    """The whole engine under DDP (what torchrun starts): sharded batches, gathered negatives, rank 0 writes."""
    import socket

    from stclr.config import preset, save_yaml
    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset
    from stclr.runinfo import read_jsonl

    make_synthetic_dataset(tmp_path / "synth", SynthConfig(num_classes=2, videos_per_class=6, num_frames=24, size=32,
                                                           clips_per_group=2, test_groups=1), show_progress=False)
    cfg = preset("course", epochs=2, batch_size=4, clip_len=4, size=16, skips=(1, 2, 3), ssl_speeds=(1, 2, 4),
                 proj_dim=16, show_progress=False, out_dir=str(tmp_path / "runs"), run_name="ddp",
                 **{"data.root": str(tmp_path / "synth")})
    save_yaml(cfg, tmp_path / "cfg.yaml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    mp.start_processes(_pretrain_worker, args=(2, port, str(tmp_path / "cfg.yaml")), nprocs=2, join=True,
                       start_method=method)
    run = tmp_path / "runs" / "ddp"
    rows = read_jsonl(run / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [0, 1]  # one line per epoch, from rank 0 only
    assert rows[0]["batches"] == 2 and rows[0]["loader_videos"] == 8  # 2 ranks x 2 videos x 2 batches
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 2
    assert json.loads((run / "env.json").read_text())["world_size"] == 2
