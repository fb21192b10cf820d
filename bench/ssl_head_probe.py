"""Can the SSL head read speed from a backbone's features? A frozen-feature diagnostic of L_SSL (issue 21).

In every course STCLR run recorded before issue 21, L_SSL (Eq. 1's third term, Sec. 3.3) stayed at log 4, the
uniform guess. This separates the two places that can fail: the backbone's features (do they carry the speed a
tuple asks about?) and the head (can it read it in the run's budget?). For each backbone (a seed's random init,
and the checkpoint of a course STCLR run trained with the paper's plain head) it extracts, with the backbone
frozen in eval mode, the features of SSL tuples of the synthetic set (raw frames, the course's 8 x 32 x 32 clips
and speeds, each of the augmentations ``--augment``; train videos to fit, test videos to score), then trains a fresh
:class:`stclr.models.SSLHead` on them two ways:

- ``plain``: the features as the backbone gives them (what the paper's head sees inside STCLR);
- ``standardised``: each feature dimension centred and scaled by its train-set mean and std (what
  ``SSLHead(norm=True)`` does over each batch in training).

Each head trains as in the course run (Adam 5e-3, dropout 0.5, batches of 16 tuples) for ``--steps`` steps;
reported: held-out accuracy (chance 25 %) and held-out loss (log 4 = 1.386 is the uniform guess).

    python bench/ssl_head_probe.py --checkpoint runs/.../stclr-r3d_tiny-s0   # ~2 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True, help="a course STCLR run folder or its last.pt")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-init backbone, the tuples and the heads")
    p.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    p.add_argument("--c1", type=float, nargs="+", default=[0.6], help="C1 values of the tuples (0: one video)")
    p.add_argument("--augment", nargs="+", default=["none", "light", "ssl"], help="SSL clip augmentations")
    p.add_argument("--speeds", nargs="+", default=["1,2,4", "1,3,9"],
                   help="speed sets of the tuples (the course's before and after issue 21)")
    p.add_argument("--steps", type=int, nargs="+", default=[240])
    p.add_argument("--train-epochs", type=int, default=10, help="passes over the train videos for the head's tuples")
    p.add_argument("--no-write", action="store_true")
    return p.parse_args(argv)


def tuple_features(backbone, root: Path, split: str, c1: float, augment: str, speeds: tuple[int, ...], seed: int,
                   epochs: int):
    """Frozen backbone features ``[n, 3, D]`` of ``epochs`` x (videos of ``split``) SSL tuples, and labels ``[n]``."""
    import torch

    from stclr.config import preset
    from stclr.data.loader import PretrainDataset, make_pretrain_loader
    from stclr.data.splits import load_split
    from stclr.plan import PlanConfig

    cfg = preset("course", "pretrain")
    plan = PlanConfig(length=cfg.clip_len, c1=c1, c2=cfg.c2, ssl_speeds=speeds)
    feats, labels = [], []
    for epoch in range(epochs):
        ds = PretrainDataset(load_split("synthetic", root, 1, split), method="ssl", plan=plan, size=cfg.size,
                             augment="none", ssl_augment=augment, seed=seed * 1000 + epoch)
        loader, _ = make_pretrain_loader(ds, 16, seed=seed * 1000 + epoch)
        for batch in loader:
            x = batch["ssl_clips"]
            with torch.no_grad():
                feats.append(backbone(x.flatten(0, 1)).view(x.shape[0], 3, -1))
            labels.append(batch["ssl_labels"])
    return torch.cat(feats), torch.cat(labels)


def fit_head(train, test, steps: int, seed: int) -> dict:
    """Train a fresh SSLHead (the course run's optimiser, batch and dropout) on frozen features; held-out scores."""
    import torch
    import torch.nn.functional as F

    from stclr.models import SSLHead

    (ftr, ytr), (fte, yte) = train, test
    torch.manual_seed(seed)
    head = SSLHead(ftr.shape[-1], ftr.shape[-1], dropout=0.5)
    opt = torch.optim.Adam(head.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i = torch.randint(0, len(ftr), (16,), generator=g)
        loss = F.cross_entropy(head(ftr[i]), ytr[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    with torch.no_grad():
        logits = head(fte)
    return {"acc": round(100 * (logits.argmax(1) == yte).float().mean().item(), 1),
            "loss": round(F.cross_entropy(logits, yte).item(), 3)}


def probe(args) -> list[dict]:
    import torch

    from stclr.checkpoint import find_checkpoint, load_checkpoint
    from stclr.models import build_model

    torch.set_num_threads(1)
    rows = []
    for name in ("random init", "STCLR checkpoint"):
        torch.manual_seed(args.seed)
        model = build_model("r3d_tiny", method="stclr")
        if name != "random init":
            state = load_checkpoint(find_checkpoint(args.checkpoint))["model"]
            model.backbone.load_state_dict({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")})
        backbone = model.backbone.eval()
        for c1, augment, sp in [(c1, a, sp) for c1 in args.c1 for a in args.augment for sp in args.speeds]:
            speeds = tuple(int(x) for x in sp.split(","))
            train = tuple_features(backbone, args.data, "train", c1, augment, speeds, args.seed, args.train_epochs)
            test = tuple_features(backbone, args.data, "test", c1, augment, speeds, args.seed + 1, 2)
            mu, sd = train[0].mean((0, 1)), train[0].std((0, 1)) + 1e-6
            standard = ((train[0] - mu) / sd, train[1]), ((test[0] - mu) / sd, test[1])
            for steps in args.steps:
                for feats, (tr, te) in (("plain", (train, test)), ("standardised", standard)):
                    row = dict(backbone=name, c1=c1, augment=augment, speeds=sp.replace(",", "/"), features=feats,
                               steps=steps,
                               n_train=len(tr[1]), n_test=len(te[1]), **fit_head(tr, te, steps, args.seed))
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    return rows


def table(rows: list[dict], machine: str, checkpoint: str, command: str) -> str:
    lines = ["## Can the SSL head read speed from frozen features? (`bench/ssl_head_probe.py`)", "",
             f"{machine}. Backbones frozen (eval mode): the seed's random init and `{checkpoint}` (a course STCLR "
             "run, 240 steps, the paper's plain SSL head). SSL tuples of raw frames (8 × 32 × 32; speeds and "
             "augmentation of the tuple clips as named, `ssl` being Sec. 4.2.1's list), "
             f"{rows[0]['n_train']} from train videos to fit a fresh SSL head (Adam 5e-3, "
             f"dropout 0.5, 16 tuples per step), {rows[0]['n_test']} from test videos to score it. Chance: 25 %, "
             "loss log 4 = 1.386.", "",
             "| backbone | C1 | augmentation | speeds | head input | steps | held-out acc % | held-out loss |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backbone']} | {r['c1']:g} | {r['augment']} | {r.get('speeds', '')} | {r['features']} | "
                     f"{r['steps']} | {r['acc']:.1f} | {r['loss']:.3f} |")
    lines += ["", f"Written by `{command}`."]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    from _report import machine_line, write_data, write_section

    rows = probe(args)
    body = table(rows, machine_line(), args.checkpoint.name, "python bench/ssl_head_probe.py " + " ".join(argv or sys.argv[1:]))
    print(body)
    if not args.no_write:
        write_section("ssl_head_probe", body)
        write_data("ssl_head_probe", rows)


if __name__ == "__main__":
    main()
