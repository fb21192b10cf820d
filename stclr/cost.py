"""The cost model of Sec. 4.2.4: loss FLOPs (Table 7), per-clip network FLOPs X, videos read per epoch (Table 6).

Table 7's loss cells are the formulas below in MegaFLOPs, TRUNCATED (not rounded) to 3 decimals: rounding
would print 1.664 / 0.170 / 0.665 / 0.987 where the paper prints 1.663 / 0.169 / 0.664 / 0.986. The SSL cell
(17 x 38 = 646 FLOPs = 0.000646 MFLOPs, which is 0.000 at 3 decimals) is printed to its first significant
digit, 0.0006 (truncating and rounding agree there). The "Total" loss column is the EXACT sum of the loss
FLOPs truncated the same way -- not the sum of the printed cells (1.663 + 0.169 + 0.664 = 2.496, printed 2.498;
1.501 + 0.986 = 2.487, printed 2.488; STCLR 2.4876, printed 2.489). :func:`table7` reproduces every cell.
"""

from __future__ import annotations

import copy
from decimal import ROUND_DOWN, Decimal

import torch

X_PAPER_GFLOPS = 258.84  # the paper's per-clip forward + backward + optimiser-step cost of R3D-18 at 16x112x112


def ic_flops(bs: int, d: int = 128) -> int:
    """Instance contrastive loss FLOPs for one batch: 8 Bs^2 d + 16 Bs^2 - 6 Bs."""
    return 8 * bs * bs * d + 16 * bs * bs - 6 * bs


def ll_flops(bs: int, n: int, d: int = 128) -> int:
    """(Sparse) local-local loss FLOPs for one batch: Bs (8 n^2 d + 16 n^2 - 6 n)."""
    return bs * (8 * n * n * d + 16 * n * n - 6 * n)


def gl_flops(bs: int) -> int:
    """TCLR global-local loss FLOPs for one batch: 4248 Bs."""
    return 4248 * bs


def ssl_flops(bs: int) -> int:
    """Same-speed-localization cross-entropy FLOPs for one batch: 17 Bs."""
    return 17 * bs


def truncate_mflops(flops: int) -> Decimal:
    """FLOPs -> MegaFLOPs as Table 7 prints them: truncated to 3 decimals, or to the first significant digit
    below 0.001 (646 -> 0.0006)."""
    m = Decimal(flops) / Decimal(10**6)
    if m == 0 or m >= Decimal("0.001"):
        return m.quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    return m.quantize(Decimal(1).scaleb(m.adjusted()), rounding=ROUND_DOWN)


def table7(d: int = 128) -> list[dict]:
    """Table 7 rows. Per row: ``method``, ``bs``, ``n``, ``clips_per_video``, ``input_clips`` (the "400X"
    multiplier = bs x clips per video), exact FLOPs ``*_flops`` (None where a method lacks the loss) and the
    printed MegaFLOPs cells ``ic``, ``gl``, ``ll``, ``ssl``, ``total`` as floats (``float(Decimal)`` of the
    truncated value, so ``row["ic"] == 1.663`` and ``repr`` prints the paper's digits)."""
    spec = [  # method, Bs, n, clips per video, losses
        ("TCLR", 40, 4, 10, ("ic", "gl", "ll")),  # 1 global + 4 local, x 2 views
        ("Simplified TCLR", 38, 5, 10, ("ic", "ll")),  # 5 sparse local x 2 views
        ("STCLR", 38, 5, 13, ("ic", "ll", "ssl")),  # + a 3-clip SSL tuple
    ]
    rows = []
    for method, bs, n, cpv, losses in spec:
        exact = {"ic": ic_flops(bs, d), "gl": gl_flops(bs), "ll": ll_flops(bs, n, d), "ssl": ssl_flops(bs)}
        row: dict = {"method": method, "bs": bs, "n": n, "d": d, "clips_per_video": cpv, "input_clips": bs * cpv}
        for k in ("ic", "gl", "ll", "ssl"):
            row[f"{k}_flops"] = exact[k] if k in losses else None
            row[k] = float(truncate_mflops(exact[k])) if k in losses else None
        row["loss_flops"] = sum(exact[k] for k in losses)
        row["total"] = float(truncate_mflops(row["loss_flops"]))  # exact sum, then truncated (see module docstring)
        rows.append(row)
    return rows


def batch_gflops(row: dict, x_gflops: float = X_PAPER_GFLOPS) -> float:
    """Total GFLOPs of one batch for a :func:`table7` row: input_clips x X + loss FLOPs."""
    return row["input_clips"] * x_gflops + row["loss_flops"] / 1e9


def clip_flops(model: torch.nn.Module, input_shape, *, backward: bool = True, device: str | torch.device = "meta") -> int:
    """FLOPs per clip of ``model`` (forward, plus backward by default) counted by
    ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add; convolutions and matmuls only).

    ``input_shape``: ``(C, T, H, W)`` (one clip) or ``(B, C, T, H, W)`` (the count is divided by B). The model
    is deep-copied onto ``device`` -- by default the ``meta`` device, so nothing is computed and the count
    takes well under a second even for R3D-18. The optimiser step (the rest of the paper's X) is not counted.
    For R3D-18 at 16x112x112 this gives 241.35 GFLOPs vs the paper's X = 258.84 (ratio 1.07).
    """
    from torch.utils.flop_counter import FlopCounterMode

    shape = tuple(input_shape)
    if len(shape) == 4:
        shape = (1, *shape)
    net = copy.deepcopy(model).to(device).train()
    x = torch.randn(shape, device=device)
    with FlopCounterMode(display=False) as counter:
        y = net(x)
        if backward:
            y.float().sum().backward()
    return counter.get_total_flops() // shape[0]


def videos_read_per_epoch(n: int, k: int = 3, c1: float = 0.6, plan: str = "paper") -> float:
    """Videos opened per epoch for a dataset of ``n`` videos (Sec. 4.2.4).

    ``plan="paper"``: the paper's loader, N + (1 - C1) N + K N C1 (2N at C1 = 0, 3.2N at C1 = 0.6, (K+1)N at
    C1 = 1). ``plan="batch"``: our batch planner, which draws cross-video SSL clips from the batch's own
    videos and decodes each video once per epoch: N, whatever C1.
    """
    if plan == "paper":
        return n + (1 - c1) * n + k * n * c1
    if plan == "batch":
        return float(n)
    raise ValueError(f"plan must be 'paper' or 'batch', got {plan!r}")


# Table 6: one epoch on UCF-101 split 1 train (9538 videos by the paper; the official list has 9537), NVIDIA A40; epoch time in minutes, GPU memory GB.
TABLE6: list[dict] = [
    {"method": "TCLR", "c1": None, "epoch_min": 11.33, "gpu_gb": 46.69},
    {"method": "Simplified TCLR", "c1": None, "epoch_min": 11.06, "gpu_gb": 46.46},
    {"method": "STCLR", "c1": 0.0, "epoch_min": 22.03, "gpu_gb": 47.22},
    {"method": "STCLR", "c1": 0.6, "epoch_min": 34.36, "gpu_gb": 47.22},
    {"method": "STCLR", "c1": 1.0, "epoch_min": 43.32, "gpu_gb": 47.22},
]
