"""Fine-tuning protocol pieces (10 crops, video-level vs clip-level accuracy) and the end-to-end smoke run:
pretrain -> retrieve -> fine-tune -> linear probe on a tiny synthetic dataset, each writing its metrics."""

from __future__ import annotations

import json
import math

import pytest
import torch

from stclr.config import preset
from stclr.data.clips import EpochOrderSampler
from stclr.finetune import evaluate, multi_crop, run_finetune
from stclr.linear_probe import fit_logistic_regression, run_linear_probe
from stclr.retrieval import run_retrieval
from stclr.sampling import epoch_seed
from stclr.train import run_pretrain


def test_ten_crops_are_centre_corners_and_flips():
    x = torch.arange(5 * 6, dtype=torch.float32).view(1, 1, 5, 6)  # [C, T, H=5, W=6]
    v = multi_crop(x, 3, 10)  # [10, C, T, 3, 3]
    assert v.shape == (10, 1, 1, 3, 3)
    tops_lefts = [(1, 1), (0, 0), (0, 3), (2, 0), (2, 3)]  # centre, top-left, top-right, bottom-left, bottom-right
    for k, (t, l) in enumerate(tops_lefts):
        assert torch.equal(v[k], x[..., t : t + 3, l : l + 3])
        assert torch.equal(v[k + 5], x[..., t : t + 3, l : l + 3].flip(-1))
    assert multi_crop(x, 3, 1).shape[0] == 1 and multi_crop(x, 3, 5).shape[0] == 5


class _ProbNet(torch.nn.Module):
    """Reads a constant clip's value v as P(class 0) = v."""

    def forward(self, x):
        v = x.flatten(1).mean(1).clamp(1e-6, 1 - 1e-6)
        return torch.stack([v.log(), (1 - v).log()], 1)


def test_video_level_averages_probabilities_clip_level_does_not():
    def video(values):  # [n_clips, C, T, H, W] of constant clips
        return torch.stack([torch.full((1, 1, 4, 4), v) for v in values])

    data = [(video([0.9, 0.4]), 0), (video([0.45, 0.45]), 1)]
    loader = torch.utils.data.DataLoader(data, batch_size=1)
    r = evaluate(_ProbNet(), loader, torch.device("cpu"), crop=2, n_crops=10, num_classes=2)
    # video 0: mean P(0) = 0.65 -> class 0, right; its clip 0.4 alone says class 1 (wrong). video 1: right twice.
    assert r["video_accuracy"] == 100.0 and r["clip_accuracy"] == 75.0
    assert r["confusion_matrix"] == [[1, 0], [0, 1]] and r["per_class_accuracy"] == [100.0, 100.0]


def test_logistic_regression_separates_separable_data():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(20, 3, generator=g) + 3, torch.randn(20, 3, generator=g) - 3])
    y = torch.tensor([0] * 20 + [1] * 20)
    clf = fit_logistic_regression(x, y, 2, l2=1e-3, max_iter=50)
    assert (clf(x.double()).argmax(1) == y).all()


@pytest.mark.slow
def test_pretrain_retrieve_finetune_probe_smoke(synth, tmp_path):
    data = {"data.root": str(synth)}
    common = dict(out_dir=str(tmp_path), show_progress=False)
    run = run_pretrain(preset("course", epochs=1, batch_size=4, clip_len=4, size=16, skips=(1, 2, 3),
                              ssl_speeds=(1, 2, 4), proj_dim=16, run_name="pre", **common, **data))
    assert (run / "last.pt").exists() and (run / "metrics.jsonl").exists()

    ret = run_retrieval(preset("course", "retrieval", checkpoint=str(run), clip_len=4, size=16, n_clips=2,
                               batch_size=3, **common, **data))
    r = json.loads((ret / "metrics.json").read_text())
    assert r["init"] == "pretrained" and r["arch"] == "r3d_tiny"  # the architecture comes from the checkpoint
    assert r["n_query"] == 4 and all(0 <= r[f"R@{k}"] <= 100 for k in (1, 5, 10, 20))

    ft = run_finetune(preset("course", "finetune", checkpoint=str(run), epochs=1, batch_size=4, clip_len=4, skip=2,
                             resize=(20, 26), crop=16, hidden=16, test_clips=2, test_crops=10, eval_batch_size=3,
                             **common, **data))
    m = json.loads((ft / "metrics.json").read_text())
    assert m["backbone"]["init"] == "pretrained" and m["n_test_videos"] == 4 and m["test_crops"] == 10
    assert 0 <= m["video_accuracy"] <= 100 and 0 <= m["clip_accuracy"] <= 100
    assert len(m["confusion_matrix"]) == 2 and sum(map(sum, m["confusion_matrix"])) == 4
    assert set(m["per_class_accuracy"]) == set(m["classes"])
    assert not math.isnan(json.loads((ft / "metrics.jsonl").read_text().splitlines()[0])["loss"])

    # a fine-tuned checkpoint's backbone serves retrieval too (the supervised upper bound of the teaching table)
    ret2 = run_retrieval(preset("course", "retrieval", checkpoint=str(ft), clip_len=4, size=16, n_clips=2,
                                run_name="ret-ft", **common, **data))
    assert json.loads((ret2 / "metrics.json").read_text())["n_query"] == 4

    probe = run_linear_probe(preset("course", "linear_probe", checkpoint=str(run), clip_len=4, size=16, n_clips=2,
                                    **common, **data))
    p = json.loads((probe / "metrics.json").read_text())
    assert p["n_test"] == 4 and 0 <= p["accuracy"] <= 100 and p["feature_dim"] == 64


@pytest.mark.parametrize("n,seed", [(7, 0), (256, 3)])
def test_epoch_order_is_the_per_epoch_dataloader_shuffle_it_replaced(n, seed):
    """The fine-tuning loader's order per epoch is what DataLoader(shuffle=True, generator) gave per epoch
    before it became one persistent loader: runs keep their clips, and their recorded results."""
    sampler = EpochOrderSampler(n, seed)
    for epoch in (0, 1, 24):
        g = torch.Generator().manual_seed(epoch_seed(seed, epoch, 0))
        before = [int(i) for b in torch.utils.data.DataLoader(range(n), batch_size=4, shuffle=True, generator=g)
                  for i in b]
        sampler.set_epoch(epoch)
        assert [i for e, i in sampler] == before and {e for e, _ in sampler} == {epoch}
    assert sampler.order(0) != sampler.order(1)
    limited = EpochOrderSampler(n, seed, limit=4)
    assert len(limited) == 4 and [i for _, i in limited] == sampler.order(0)[:4]


@pytest.mark.slow
def test_finetune_is_the_same_with_zero_or_one_persistent_worker(synth, tmp_path):
    """One loader with a persistent worker serves every epoch (the worker learns the epoch from the item key):
    losses, weights and predictions equal those of loading in the training process."""
    runs = {}
    for workers in (0, 1):
        d = run_finetune(preset("course", "finetune", epochs=3, batch_size=4, clip_len=4, skip=2, resize=(20, 26),
                                crop=16, hidden=16, test_clips=2, out_dir=str(tmp_path), run_name=f"w{workers}",
                                show_progress=False, **{"data.root": str(synth), "data.num_workers": workers}))
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        weights = torch.load(d / "last.pt", map_location="cpu", weights_only=False)["model"]
        runs[workers] = ([r["loss"] for r in rows], json.loads((d / "metrics.json").read_text()), weights)
    (loss0, m0, w0), (loss1, m1, w1) = runs[0], runs[1]
    assert len(loss0) == 3 and loss0 == loss1
    assert m0["test_predictions"] == m1["test_predictions"] and m0["clip_accuracy"] == m1["clip_accuracy"]
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
