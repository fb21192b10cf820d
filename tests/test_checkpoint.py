"""Checkpoints: atomic writes, weights_only loading of everything a resume needs, refusal of other configs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from stclr import checkpoint as C
from stclr.config import preset, to_dict


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))


def _step(model, opt, sched=None, plateau=False):
    loss = model(torch.randn(6, 3)).pow(2).mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
    if sched is not None:
        sched.step(loss.item()) if plateau else sched.step()


@pytest.mark.parametrize("kind", ["adam_plateau", "sgd_onecycle"])
def test_full_checkpoint_loads_weights_only_and_resumes(tmp_path, kind):
    model = _tiny_model()
    if kind == "adam_plateau":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-9)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.1)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=20)
    plateau = kind == "adam_plateau"
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    for _ in range(3):
        _step(model, opt, sched, plateau)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    cfg = to_dict(preset("course"))
    C.save_checkpoint(tmp_path / "last.pt", model=model, optimizer=opt, scheduler=sched, scaler=scaler, epoch=2,
                      step=3, batch_in_epoch=1, sampler={"epoch": 2, "seed": 0}, config=cfg, extra={"best_loss": 1.5})
    expected = (random.random(), np.random.rand(), torch.rand(2))

    # a plain weights_only load (what load_checkpoint does) reads every part
    raw = torch.load(tmp_path / "last.pt", weights_only=True)
    assert raw["epoch"] == 2 and raw["step"] == 3 and raw["sampler"] == {"epoch": 2, "seed": 0}

    ckpt = C.load_checkpoint(tmp_path / "last.pt", config=cfg)
    torch.manual_seed(99), random.seed(99), np.random.seed(99)  # disturb every stream
    m2 = _tiny_model()
    with torch.no_grad():
        for p in m2.parameters():
            p.add_(1.0)  # make sure restore really overwrites
    if plateau:
        o2 = torch.optim.Adam(m2.parameters(), lr=1e-3, weight_decay=1e-9)
        s2 = torch.optim.lr_scheduler.ReduceLROnPlateau(o2, patience=1, factor=0.1)
    else:
        o2 = torch.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
        s2 = torch.optim.lr_scheduler.OneCycleLR(o2, max_lr=0.1, total_steps=20)
    C.restore(ckpt, model=m2, optimizer=o2, scheduler=s2, scaler=torch.amp.GradScaler("cuda", enabled=False))
    got = (random.random(), np.random.rand(), torch.rand(2))
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])  # python, numpy, torch RNG restored
    for a, b in zip(model.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert s2.state_dict() == sched.state_dict()
    assert str(o2.state_dict()) == str(opt.state_dict())
    assert ckpt["extra"]["best_loss"] == 1.5 and ckpt["batch_in_epoch"] == 1


def test_restored_training_equals_uninterrupted(tmp_path):
    """Save mid-training, restore into fresh objects, continue: same weights as never stopping."""

    def make():
        m = _tiny_model()
        o = torch.optim.Adam(m.parameters(), lr=1e-2)
        return m, o, torch.optim.lr_scheduler.ReduceLROnPlateau(o, patience=0, factor=0.5)

    torch.manual_seed(7)
    m, o, s = make()
    for i in range(6):
        if i == 3:
            C.save_checkpoint(tmp_path / "last.pt", model=m, optimizer=o, scheduler=s, epoch=3)
        _step(m, o, s, plateau=True)
    m2, o2, s2 = make()
    C.restore(C.load_checkpoint(tmp_path / "last.pt"), model=m2, optimizer=o2, scheduler=s2)
    for _ in range(3):
        _step(m2, o2, s2, plateau=True)
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert o.param_groups[0]["lr"] == o2.param_groups[0]["lr"]


def test_refuses_other_config_naming_keys(tmp_path):
    cfg = preset("course")
    C.save_checkpoint(tmp_path / "last.pt", model=_tiny_model(), config=to_dict(cfg))
    other = to_dict(preset("course", lr=0.5, seed=3, **{"data.split": 2}))
    with pytest.raises(C.ConfigMismatchError) as e:
        C.load_checkpoint(tmp_path / "last.pt", config=other)
    msg = str(e.value)
    for key in ("lr", "seed", "data.split"):
        assert key in msg
    assert "0.5" in msg and "3 key(s)" in msg
    # keys that may change on resume are accepted
    fine = to_dict(preset("course", epochs=99, show_progress=False, resume=True, **{"data.num_workers": 2}))
    assert C.load_checkpoint(tmp_path / "last.pt", config=fine)["config"]["epochs"] == cfg.epochs


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    C.atomic_save({"v": torch.tensor(1)}, path)

    def broken_save(obj, f, *a, **k):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        C.atomic_save({"v": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["v"].item() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


class _NotAllowed:  # any class outside torch's weights_only allowlist
    pass


def test_weights_only_rejects_pickled_objects(tmp_path):
    torch.save({"x": _NotAllowed()}, tmp_path / "bad.pt")
    with pytest.raises(Exception):
        C.load_checkpoint(tmp_path / "bad.pt")


def test_backbone_weights_from_pretraining_checkpoint(tmp_path):
    from stclr.models import build_backbone, build_model

    torch.manual_seed(0)
    model = build_model("r3d_tiny")
    C.save_checkpoint(tmp_path / "run" / "last.pt", model=model, config={"arch": "r3d_tiny"})
    torch.manual_seed(1)
    bb = build_backbone("r3d_tiny")
    info = C.load_backbone_weights(bb, tmp_path / "run")  # a run folder resolves to last.pt
    assert info["loaded"] == len(bb.state_dict())
    for k, v in bb.state_dict().items():
        assert torch.equal(v, model.backbone.state_dict()[k])
    with pytest.raises((KeyError, ValueError)):
        C.load_backbone_weights(build_backbone("r3d_tiny", widths=(16, 32, 64, 128)), tmp_path / "run")
    with pytest.raises(FileNotFoundError):
        C.find_checkpoint(tmp_path / "nothing-here")
