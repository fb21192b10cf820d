"""stclr.viz.results: the readers and measurements are exact; every figure builds from plain data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from stclr.viz import results as vr

ROWS = [
    {"epoch": 0, "loss": 16.0, "loss_ic": 3.0, "loss_sll": 11.5, "loss_ssl": 1.5, "lr": 1e-3, "note": "x"},
    {"epoch": 1, "loss": 15.0, "loss_ic": 2.8, "loss_sll": 11.0, "loss_ssl": 1.2, "lr": 1e-3},
    {"epoch": 2, "loss": 14.0, "loss_ic": 2.5, "loss_sll": 10.5, "loss_ssl": 1.0, "lr": 1e-4},
]


def test_read_jsonl_file_folder_and_missing(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS) + "\n")
    assert vr.read_jsonl(tmp_path) == ROWS
    assert vr.read_jsonl(tmp_path / "metrics.jsonl") == ROWS
    assert vr.read_jsonl(tmp_path / "nope") == []


def test_loss_components_order_and_numbers_only():
    rows = [{"loss_ssl": 1.0, "loss_ic": 2.0, "loss_sll": 3.0, "loss_zz": 0.5, "loss_text": "n/a"}]
    assert vr.loss_components(rows) == ["ic", "sll", "ssl", "zz"]
    assert vr.loss_components([{"loss": 1.0}]) == []


def test_running_mean():
    assert np.allclose(vr.running_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    assert np.allclose(vr.running_mean([1, np.nan, 3], 3), [1, 1, 2])
    assert np.isnan(vr.running_mean([np.nan, 1.0], 1)[0])


def test_plot_loss_curves_smoothed():
    rows = [{"epoch": i, "loss": float(i % 3), "loss_ic": 1.0} for i in range(12)]
    fig = vr.plot_loss_curves(rows, smooth=4, uniform={"ic": 2.0})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "total (Eq. 1) (mean of 4)" in labels


@pytest.mark.parametrize("runs", [ROWS, {"stclr": ROWS, "ssl": [{"epoch": 0, "loss": 1.4, "loss_ssl": 1.4}]}, []])
def test_plot_loss_curves(runs):
    fig = vr.plot_loss_curves(runs, title="t")
    assert isinstance(fig, Figure)
    expected_panels = 1 + (len(vr.loss_components(ROWS)) if runs else 0)
    assert len([a for a in fig.axes if a.get_title()]) == expected_panels


def test_plot_metric_curves():
    runs = {"pretrained": [{"epoch": 0, "loss": 2.0, "train_clip_accuracy": 20.0}], "random": []}
    fig = vr.plot_metric_curves(runs, ["loss", "train_clip_accuracy"], percent=["train_clip_accuracy"],
                                labels={"loss": "training loss"})
    assert [a.get_title() for a in fig.axes] == ["training loss", "train_clip_accuracy"]


def test_plot_confusion_matrix_checks_shape():
    m = [[3, 1], [0, 4]]
    assert isinstance(vr.plot_confusion_matrix(m, ["a", "b"]), Figure)
    assert isinstance(vr.plot_confusion_matrix(np.zeros((2, 2)), ["a", "b"], normalize=False), Figure)
    with pytest.raises(ValueError):
        vr.plot_confusion_matrix(m, ["a", "b", "c"])
    two = vr.plot_confusion_matrix({"pretrained": m, "random": [[4, 0], [4, 0]]}, ["a", "b"], title="t")
    assert [a.get_title() for a in two.axes if a.get_title()] == ["pretrained", "random"]


def test_grouped_bars_and_recall():
    fig = vr.plot_grouped_bars({"low": {"R@1": (10.0, 1.0), "R@5": 30.0}, "high": {"R@1": 12.0}}, chance=5.0)
    assert isinstance(fig, Figure)
    res = {"random": {"R@1": 10, "R@5": 40, "R@10": 60, "R@20": 80, "protocol": "paper"},
           "stclr": {"R@1": 20, "R@5": 50, "R@10": 70, "R@20": 90}}
    assert isinstance(vr.plot_recall_at_k(res, chance={"R@1": 12.5}), Figure)


def test_retrieval_chance_exact():
    # one query of class 0, gallery [0, 1, 1, 1]: P(hit in k=1) = 1/4; k=2: 1 - C(3,2)/C(4,2) = 1/2
    assert vr.retrieval_chance([0], [0, 1, 1, 1], 1) == pytest.approx(25.0)
    assert vr.retrieval_chance([0], [0, 1, 1, 1], 2) == pytest.approx(50.0)
    assert vr.retrieval_chance([0], [0, 1, 1, 1], 4) == pytest.approx(100.0)
    assert vr.retrieval_chance([2], [0, 1], 1) == 0.0
    # brute force over all orders agrees
    rng = np.random.default_rng(0)
    g = rng.integers(0, 3, 9)
    q = [0, 1, 2]
    hits = np.mean([[int((rng.permutation(g)[:3] == c).any()) for c in q] for _ in range(4000)])
    assert vr.retrieval_chance(q, g, 3) == pytest.approx(100 * hits, abs=3.0)


def test_pca_2d_matches_svd_and_is_deterministic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6)) * np.array([5.0, 2.0, 0.5, 0.1, 0.1, 0.1])
    xy = vr.pca_2d(x)
    assert xy.shape == (40, 2)
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    ref = xc @ vt[:2].T
    for j in range(2):  # equal up to the sign of each axis, which pca_2d fixes
        assert np.allclose(np.abs(xy[:, j]), np.abs(ref[:, j]), atol=1e-6)
        assert xy[np.argmax(np.abs(xy[:, j])), j] > 0
    assert np.array_equal(xy, vr.pca_2d(torch.tensor(x)))
    assert vr.pca_2d(np.ones((3, 1))).shape == (3, 2)
    with pytest.raises(ValueError):
        vr.pca_2d(np.ones(5))


def test_plot_embedding_2d():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(12, 8))
    fig = vr.plot_embedding_2d({"random": (f, [0, 1, 2] * 4), "stclr": (torch.tensor(f), [0, 1, 2] * 4)},
                               ["a", "b", "c"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_gallery_frames_and_neighbour_gallery(tmp_path):
    from stclr.fixtures import write_index_video

    write_index_video(tmp_path / "q.mp4", 20, codec="h264")
    img = vr.gallery_frames(tmp_path / "q.mp4")
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[1] > 2 * img.shape[0] - 1
    rows = [{"path": "q.mp4", "label": 0, "nn_paths": ["q.mp4", "q.mp4"], "nn_labels": [0, 1], "nn_sims": [0.9, 0.5]}]
    seen = []

    def frames(p):
        seen.append(p)
        return np.zeros((8, 16, 3), np.uint8)

    fig = vr.plot_neighbour_gallery(rows * 2, query_root=tmp_path, gallery_root=tmp_path, classes=["a", "b"], k=3,
                                    row_labels=["random", "stclr"], frames=frames)
    assert isinstance(fig, Figure)
    assert len(set(seen)) == 1  # one video, loaded once (cached)
    colors = {ax.get_title(): ax.spines["left"].get_edgecolor() for ax in fig.axes if ax.get_title()}
    assert colors["1. a (0.900)"][:3] == pytest.approx((0.0, 158 / 255, 115 / 255))  # green: same class
    assert colors["2. b (0.500)"][:3] == pytest.approx((213 / 255, 94 / 255, 0.0))  # red: another class
    zfig = vr.plot_neighbour_gallery([{**rows[0], "nn_z": [3.25, -0.5]}], query_root=tmp_path,
                                     gallery_root=tmp_path, classes=["a", "b"], k=2, frames=frames)
    assert {"1. a (z +3.2)", "2. b (z -0.5)"} <= {ax.get_title() for ax in zfig.axes}
    alone = vr.plot_neighbour_gallery([{**rows[0], "nn_paths": [], "nn_labels": []}], query_root=tmp_path, k=0,
                                      frames=frames)
    assert not alone.legends  # a query alone: no class legend with nothing to match
    # with the default frame loader, from the real file
    assert isinstance(vr.plot_neighbour_gallery(rows, query_root=tmp_path, gallery_root=tmp_path, k=1), Figure)


SUMMARY = """name,status,ran,seconds,error,params.skips,params.seed,metrics.retrieval.pretrained.R@1,metrics.note
low-s0,ok,yes,1.5,,low,0,20.0,a
low-s1,ok,yes,1.5,,low,1,30.0,b
high-s0,ok,no,2.0,,high,0,10.0,
high-s1,failed,yes,0.5,boom,high,1,,
"""


def test_read_summary_csv_and_table(tmp_path):
    (tmp_path / "summary.csv").write_text(SUMMARY)
    rows = vr.read_summary_csv(tmp_path)
    assert rows[0]["params.seed"] == 0 and rows[0]["seconds"] == 1.5 and rows[2]["metrics.note"] is None
    table = vr.summary_table(rows, "params.skips", {"R@1": "metrics.retrieval.pretrained.R@1"})
    assert list(table) == ["low", "high"]
    mean, std, n = table["low"]["R@1"]
    assert (mean, n) == (25.0, 2) and std == pytest.approx(math.sqrt(50.0))
    assert table["high"]["R@1"] == (10.0, 0.0, 1)  # the failed point is left out
    all_rows = vr.summary_table(rows, "params.skips", {"R@1": "metrics.retrieval.pretrained.R@1"}, only_ok=False)
    assert all_rows["high"]["R@1"][2] == 1  # the failed point has no number
    assert isinstance(vr.plot_summary_bars(table, ylabel="R@1"), Figure)


def test_plot_sweep():
    fig = vr.plot_sweep({"TCLR init": {1e-3: 80.0, 3e-3: (81.0, 0.5)}, "STCLR init": {1e-3: 79.0}},
                        xlabel="weight decay", ylabel="accuracy")
    assert isinstance(fig, Figure)


def test_first_below_uses_the_running_mean():
    from stclr.viz.results import first_below

    rows = [{"epoch": i, "loss_sll": v} for i, v in enumerate([11.0, 11.0, 8.0, 11.0, 11.0, 9.0, 9.0, 9.0])]
    assert first_below(rows, "loss_sll", 9.9) == 3  # one lucky batch counts without a window ...
    assert first_below(rows, "loss_sll", 9.9, window=3) == 7  # ... not with one: (11 + 9 + 9) / 3 = 9.67 at 7
    assert first_below(rows, "loss_sll", 5.0, window=3) is None
    assert first_below([{"epoch": 0, "loss": 1.0}], "loss_sll", 5.0) is None  # not logged


def test_loss_curves_reference_is_a_legend_entry_and_the_figure_fits_a_screen():
    rows = [{"epoch": i, "loss": 15.0, "loss_ic": 3.0, "loss_sll": 11.0, "loss_ssl": 1.4} for i in range(6)]
    fig = vr.plot_loss_curves(rows, uniform={"ic": 3.43, "sll": 10.99, "ssl": 1.39})
    assert fig.get_size_inches()[0] <= 13.5  # four panels at 100 dpi inside a 1400-px viewport
    for ax in fig.axes[1:4]:
        assert "uniform guess" in ax.get_legend_handles_labels()[1]
        assert not [t for t in ax.texts if t.get_text() == "uniform guess"]  # no label lying on the curves


def test_tail_mean_over_the_rows_that_log_the_key():
    from stclr.viz.results import tail_mean

    rows = [{"loss_ssl": v} for v in (9.0, 1.0, 2.0, 3.0)] + [{"loss": 5.0}]
    assert tail_mean(rows, "loss_ssl", 3) == 2.0 and tail_mean(rows, "loss_ssl", 20) == 3.75
    assert tail_mean(rows, "loss_ic") is None
