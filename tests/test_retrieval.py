"""Retrieval: R@k on a hand-built fixture with a known answer; every test video is a query."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from stclr.config import RetrievalConfig, preset
from stclr.retrieval import extract_features, recall_at_k, run_retrieval, similarity_ranking, similarity_zscores


def unit(deg: float) -> list[float]:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


# Gallery: 2-D unit vectors at these angles (cosine similarity = cos of the angle between them).
GALLERY = [(0, 0), (10, 1), (90, 1), (100, 2), (180, 0)]  # (angle, label)
# Queries, with the gallery order by similarity and the rank of the first same-class item, worked by hand:
QUERIES = [
    (2, 1),  # nearest: 0°(0), 10°(1) ...                      -> first hit at rank 2
    (97, 2),  # nearest: 100°(2) ...                           -> rank 1
    (170, 1),  # 180°(0), 100°(2), 90°(1) ...                  -> rank 3
    (315, 3),  # class 3 is not in the gallery                 -> never
    (40, 0),  # 10°(1) at 30°, then 0°(0) at 40°               -> rank 2
]
# R@k = share of queries whose first hit is at rank <= k: ranks (2, 1, 3, never, 2)
EXPECTED = {1: 20.0, 2: 60.0, 3: 80.0, 5: 80.0, 10: 80.0}  # k = 10 > gallery size: the whole gallery


def fixture_tensors():
    g = torch.tensor([unit(a) for a, _ in GALLERY])
    gl = torch.tensor([lab for _, lab in GALLERY])
    q = torch.tensor([unit(a) for a, _ in QUERIES])
    ql = torch.tensor([lab for _, lab in QUERIES])
    return q, ql, g, gl


def test_recall_at_k_known_answer():
    q, ql, g, gl = fixture_tensors()
    assert recall_at_k(q, ql, g, gl, ks=(1, 2, 3, 5, 10)) == pytest.approx(EXPECTED)
    # cosine similarity: rescaling any feature changes nothing
    scale_q, scale_g = torch.tensor([3.0, 0.5, 7.0, 1.0, 2.0])[:, None], torch.tensor([0.1, 9.0, 1.0, 4.0, 2.0])[:, None]
    assert recall_at_k(q * scale_q, ql.tolist(), g * scale_g, gl.tolist(), ks=(1, 2, 3, 5)) == pytest.approx(
        {k: EXPECTED[k] for k in (1, 2, 3, 5)})


def test_ranking_order_and_ties():
    q, _, g, _ = fixture_tensors()
    idx, sims = similarity_ranking(q, g, top=5)
    assert idx[2].tolist() == [4, 3, 2, 1, 0]  # query at 170°
    assert idx[4].tolist()[:2] == [1, 0]
    assert torch.all(sims[:, :-1] >= sims[:, 1:])
    tie = similarity_ranking(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]), top=3)[0]
    assert tie.tolist() == [[1, 2, 0]]  # equal similarities: lower gallery index first


def test_similarity_zscores_stand_out_where_cosines_do_not():
    # features sharing one large common component: every cosine similarity is close to 1
    g = torch.Generator().manual_seed(0)
    common = torch.full((1, 16), 10.0)
    gallery = common + 0.3 * torch.randn(50, 16, generator=g)
    query = gallery[:3] + 0.05 * torch.randn(3, 16, generator=g)
    idx, sims = similarity_ranking(query, gallery, top=5)
    assert sims.min() > 0.99
    z = similarity_zscores(query, gallery, sims)
    assert idx[:, 0].tolist() == [0, 1, 2] and torch.all(z[:, 0] > 2)  # the true match stands out
    assert torch.all(z[:, :-1] >= z[:, 1:])  # monotonic: the ranking is unchanged
    full = torch.nn.functional.normalize(query, dim=1) @ torch.nn.functional.normalize(gallery, dim=1).T
    expected = (full.max(1).values - full.mean(1)) / full.std(1)
    assert z[:, 0].tolist() == pytest.approx(expected.tolist(), abs=1e-3)


class _Videos(torch.utils.data.Dataset):
    """7 'videos' of 3 clips each: a count that is not a multiple of the batch size."""

    def __init__(self, n: int = 7):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 3, 2, 1, 2, 2, generator=g)  # [V, n_clips, C=2, T=1, H=2, W=2]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], i % 2


class _MeanNet(torch.nn.Module):
    def forward(self, x, keep_time=False):
        return x.mean(dim=(2, 3, 4))  # [B, C]


def test_extract_features_keeps_every_video_and_averages_clips():
    ds = _Videos(7)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, shuffle=False, drop_last=False)
    feats, labels = extract_features(_MeanNet(), loader, torch.device("cpu"), expected=len(ds))
    assert feats.shape == (7, 2) and labels.tolist() == [i % 2 for i in range(7)]
    manual = torch.nn.functional.normalize(ds.x.mean(dim=(3, 4, 5)).mean(1), dim=1)  # clip features, averaged
    torch.testing.assert_close(feats, manual)
    dropping = torch.utils.data.DataLoader(ds, batch_size=3, drop_last=True)
    with pytest.raises(RuntimeError, match="expected 7"):
        extract_features(_MeanNet(), dropping, torch.device("cpu"), expected=len(ds))


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset

    root = tmp_path_factory.mktemp("synth")
    # 3 classes x 5 videos, 1 test group of 2 per class: 9 train / 6 test videos
    make_synthetic_dataset(root, SynthConfig(num_classes=3, videos_per_class=5, num_frames=20, size=32,
                                             clips_per_group=2, test_groups=1), show_progress=False)
    return root


def test_run_retrieval_random_init_every_query(synth, tmp_path):
    cfg = preset("course", "retrieval", random_init=True, clip_len=4, size=16, n_clips=3, batch_size=4,
                 out_dir=str(tmp_path), show_progress=False, **{"data.root": str(synth)})
    run = run_retrieval(cfg)
    m = json.loads((run / "metrics.json").read_text())
    assert m["n_query"] == 6 and m["n_gallery"] == 9  # 6 is not a multiple of batch_size 4: none dropped
    assert len(m["neighbours"]) == 6 and m["feature_dim"] == 64 and m["init"] == "random"
    for k in (1, 5, 10, 20):
        assert 0.0 <= m[f"R@{k}"] <= 100.0
    assert m["R@20"] == 100.0  # k beyond the 9 train videos: every class is in the gallery
    nb = m["neighbours"][0]
    assert len(nb["nn"]) == len(nb["nn_paths"]) == 9 and nb["path"].endswith(".mp4")
    assert m["features_cached"] == {"train": False, "test": False}
    # same weights + config: features come from the cache, same numbers
    m2 = json.loads((run_retrieval(cfg) / "metrics.json").read_text())
    assert m2["features_cached"] == {"train": True, "test": True}
    assert [m2[f"R@{k}"] for k in (1, 5)] == [m[f"R@{k}"] for k in (1, 5)]
    # another seed is another random backbone: not read from that cache
    m3 = json.loads((run_retrieval(preset("course", "retrieval", **{**_kw(cfg), "seed": 1})) / "metrics.json").read_text())
    assert m3["features_cached"] == {"train": False, "test": False}


def test_a_shared_feature_cache_serves_another_out_dir(synth, tmp_path):
    from stclr.retrieval import feature_cache_dir

    kw = dict(random_init=True, clip_len=4, size=16, n_clips=3, batch_size=4, show_progress=False,
              **{"data.root": str(synth)})
    first = preset("course", "retrieval", out_dir=str(tmp_path / "06"), **kw)
    assert feature_cache_dir(first) == tmp_path / "06" / ".feature_cache"
    assert feature_cache_dir(preset("course", "retrieval", cache=False, **kw)) is None
    m = json.loads((run_retrieval(first) / "metrics.json").read_text())
    # another notebook's run of the same backbone and clips, pointed at the first one's cache
    second = preset("course", "retrieval", out_dir=str(tmp_path / "08"), cache_dir=str(tmp_path / "06" / ".feature_cache"), **kw)
    run = run_retrieval(second)
    m2 = json.loads((run / "metrics.json").read_text())
    assert run.parent == tmp_path / "08" and m2["features_cached"] == {"train": True, "test": True}
    assert [m2[f"R@{k}"] for k in (1, 5, 10)] == [m[f"R@{k}"] for k in (1, 5, 10)]
    assert m2["neighbours"] == m["neighbours"]
    assert not (tmp_path / "08" / ".feature_cache").exists()


def test_frame_totals_are_probed_once_per_dataset(synth, tmp_path):
    # Every retrieval run used to probe every video again (a decode pass over the whole dataset) in its fresh
    # DataLoader workers; the totals now live in out_dir/.cache, so the next checkpoint's run probes nothing.
    from stclr import video
    from stclr.data.loader import frames_cache_file

    kw = dict(random_init=True, clip_len=4, size=16, n_clips=3, batch_size=4, show_progress=False,
              out_dir=str(tmp_path), **{"data.root": str(synth), "data.num_workers": 0})
    video.clear_probe_cache()
    before = video.COUNTERS.probes
    m0 = json.loads((run_retrieval(preset("course", "retrieval", **kw)) / "metrics.json").read_text())
    assert video.COUNTERS.probes - before == 15  # 9 train + 6 test videos, each once
    cfg = preset("course", "retrieval", **kw)
    totals = json.loads(frames_cache_file(tmp_path, cfg.data).read_text())
    assert len(totals) == 15 and all(len(v) == 3 and v[2] == 20 for v in totals.values())  # [size, mtime, frames]
    video.clear_probe_cache()  # as in a new process
    before = video.COUNTERS.probes
    m1 = json.loads((run_retrieval(preset("course", "retrieval", **{**kw, "seed": 1})) / "metrics.json").read_text())
    assert m1["features_cached"] == {"train": False, "test": False} and video.COUNTERS.probes == before
    # the same clips as a run that probes where it reads (no caches at all)
    m2 = json.loads((run_retrieval(preset("course", "retrieval", **{**kw, "out_dir": str(tmp_path / "nocache"),
                                                                    "cache": False})) / "metrics.json").read_text())
    assert m2["neighbours"] == m0["neighbours"] and m2["R@1"] == m0["R@1"]
    assert not (tmp_path / "nocache" / ".cache").exists()


def test_an_unreadable_video_is_named_not_dropped(synth, tmp_path):
    import shutil

    from stclr.data.clips import probe_frames
    from stclr.data.splits import load_subset
    from stclr.video import VideoReadError

    root = tmp_path / "data"
    shutil.copytree(synth, root)
    cfg = preset("course", "retrieval", random_init=True, clip_len=4, size=16, n_clips=3, batch_size=4,
                 show_progress=False, out_dir=str(tmp_path / "runs"), **{"data.root": str(root), "data.num_workers": 0})
    test = load_subset(cfg.data, "test")
    bad = test.items[2].path
    test.abspath(test.items[2]).write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoReadError, match=rf"{bad}.*evaluation never drops videos"):
        run_retrieval(cfg)
    with pytest.raises(VideoReadError, match=bad):
        probe_frames(load_subset(cfg.data, "test"), tmp_path / "frames.json")


def _kw(cfg: RetrievalConfig) -> dict:
    from stclr.config import to_dict

    d = to_dict(cfg)
    d["data.root"] = d.pop("data")["root"]
    return d


def test_tclr_protocol_keeps_time(synth, tmp_path):
    cfg = preset("course", "retrieval", arch="r3d_tiny_tclr", protocol="tclr", random_init=True, clip_len=8, size=16,
                 n_clips=None, skip=None, crop=None, batch_size=5, out_dir=str(tmp_path), show_progress=False,
                 cache=False, **{"data.root": str(synth)})
    m = json.loads((run_retrieval(cfg) / "metrics.json").read_text())
    assert m["config"]["n_clips"] == 9 and m["config"]["skip"] == 2 and m["config"]["crop"] == 0.8
    assert m["feature_dim"] == 64 * 2  # 8 frames -> 2 timesteps kept by the *_tclr net (widths end at 64)
    assert m["n_query"] == 6


def test_bootstrap_gain_sd_known_cases():
    from stclr.retrieval import bootstrap_gain_sd

    same = [True, False] * 50
    assert bootstrap_gain_sd(same, same) == 0.0  # both models resampled together: identical hits, no spread
    assert bootstrap_gain_sd([False] * 100, [True] * 100) == 0.0  # the gain is 100 in every resample
    # a never hits, b hits half of 100 queries: the gain is 100 x binomial(100, 1/2) / 100, sd 100 x sqrt(0.25 / 100) = 5
    assert bootstrap_gain_sd([False] * 100, same, n=20000) == pytest.approx(5.0, abs=0.15)
    assert bootstrap_gain_sd([False] * 400, same * 4, n=20000) == pytest.approx(2.5, abs=0.1)  # 4x queries: half
    # b = a plus 10 extra hits of 100: the gain is 100 x (extra hits drawn) / 100, binomial(100, 0.1): sd 3
    a = [False] * 100
    b = [True] * 10 + [False] * 90
    assert bootstrap_gain_sd(a, b, n=20000) == pytest.approx(3.0, abs=0.1)
    assert bootstrap_gain_sd(a, b, seed=3) == bootstrap_gain_sd(a, b, seed=3)  # seeded
    with pytest.raises(ValueError, match="equal-length"):
        bootstrap_gain_sd([True, False], [True])


def test_query_hits_reads_run_retrieval_neighbours():
    from stclr.retrieval import query_hits

    m = {"neighbours": [{"query": 0, "label": 2, "nn_labels": [2, 1]}, {"query": 1, "label": 0, "nn_labels": [1, 0]}]}
    assert query_hits(m) == {0: True, 1: False}
    with pytest.raises(ValueError, match="neighbours"):
        query_hits({"R@1": 50.0})


def test_paired_hits_aligns_by_query_and_refuses_different_queries():
    from stclr.retrieval import bootstrap_gain_sd, paired_hits

    a = {2: True, 0: False, 1: True}
    b = {"1": False, "0": True, "2": True}  # read back from JSON: string keys
    assert paired_hits(a, b) == ([False, True, True], [True, False, True])  # queries 0, 1, 2 in order
    assert bootstrap_gain_sd(*paired_hits(a, a)) == 0.0
    with pytest.raises(ValueError, match="different queries"):
        paired_hits(a, {0: True, 1: True, 3: False})


def test_cpu_channels_last_gives_the_same_features(synth, tmp_path):
    """cpu_channels_last (the default) only changes the memory layout on the CPU: the same neighbours, features
    equal to rounding."""
    kw = dict(random_init=True, clip_len=4, size=16, n_clips=3, batch_size=4, cache=True, show_progress=False,
              **{"data.root": str(synth)})
    runs = {cl: run_retrieval(preset("course", "retrieval", cpu_channels_last=cl, out_dir=str(tmp_path / str(cl)), **kw))
            for cl in (False, True)}
    ms = {cl: json.loads((r / "metrics.json").read_text()) for cl, r in runs.items()}
    assert [n["nn"] for n in ms[True]["neighbours"]] == [n["nn"] for n in ms[False]["neighbours"]]
    feats = {cl: torch.load(next((tmp_path / str(cl) / ".feature_cache").glob("train-*.pt")), weights_only=True)["feats"]
             for cl in (False, True)}
    assert torch.allclose(feats[True], feats[False], atol=1e-5)
