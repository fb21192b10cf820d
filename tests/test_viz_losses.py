"""stclr.viz.losses: every function returns a Figure built from plain data, and checks what it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from stclr import cost
from stclr.sampling import draw_ssl_tuple, sparse_local_clips, tclr_clips
from stclr.viz import losses as V


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _ic_masks(B: int):
    idx = torch.arange(2 * B)
    pos = torch.zeros(2 * B, 2 * B, dtype=torch.bool)
    pos[idx, (idx + B) % (2 * B)] = True
    return pos, torch.eye(2 * B, dtype=torch.bool)


def test_similarity_matrix_marks_positives_and_excluded_entries():
    B = 3
    z = torch.nn.functional.normalize(torch.randn(2 * B, 5, generator=torch.Generator().manual_seed(0)), dim=1)
    pos, itself = _ic_masks(B)
    fig = V.similarity_matrix(z @ z.T, positives=pos, excluded=itself, row_splits=[B], col_splits=[B], title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    outlined = [r for r in rects if not r.get_fill()]
    hatched = [r for r in rects if r.get_hatch()]
    assert len(outlined) == 2 * B and len(hatched) == 2 * B
    assert len(fig.axes) == 2  # the matrix and its colour bar
    # annotated: one text per non-excluded cell
    assert len(ax.texts) == (2 * B) ** 2 - 2 * B


def test_similarity_matrix_rectangular_block_into_given_axes_without_colorbar():
    fig, ax = plt.subplots()
    N = 4
    block = np.random.default_rng(0).uniform(-1, 1, (N, 2 * N))
    pos = np.zeros((N, 2 * N), bool)
    pos[np.arange(N), N + np.arange(N)] = True
    out = V.similarity_matrix(block, positives=pos, col_splits=[N], colorbar=False, legend=False, ax=ax)
    assert out is fig and len(fig.axes) == 1


def test_similarity_matrix_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2-D"):
        V.similarity_matrix(np.zeros(3))
    with pytest.raises(ValueError, match="mask"):
        V.similarity_matrix(np.zeros((2, 2)), positives=np.zeros((3, 3), bool))


def test_anchor_weights_panels_and_loss_in_titles():
    sims = torch.tensor([1.0, 0.2, 0.9, -0.3, 0.5])
    fig = V.anchor_weights(sims, positive=2, temperatures=[0.1, 1.0], excluded=[0])
    assert len(fig.axes) == 2
    for ax, tau in zip(fig.axes, (0.1, 1.0)):
        heights = np.array([p.get_height() for p in ax.patches])
        assert len(heights) == 4 and heights.sum() == pytest.approx(1.0)
        logits = np.array([0.2, 0.9, -0.3, 0.5]) / tau
        expected = -(logits[1] - np.log(np.exp(logits).sum()))
        assert f"{expected:.3f}" in ax.get_title()


def test_temperature_curves_and_grouped_bars():
    taus = np.logspace(-2, 0, 10)
    fig = V.temperature_curves(taus, {"a": taus, "b": 2 * taus}, {"a": 1 - taus / 2}, mark=[0.1, 0.3],
                               floor={"log 7": np.log(7)})
    assert len(fig.axes) == 2 and fig.axes[0].get_xscale() == "log"
    assert len(V.temperature_curves(taus, {"a": taus}).axes) == 1
    fig = V.grouped_bars({"loss": {"x": 1.0, "y": 2.0}, "acc": {"x": 0.25, "y": 1.0}}, hlines={"acc": (0.25, "chance")})
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 2


def test_clip_timeline_and_ssl_tuple_diagram():
    rng = np.random.default_rng(0)
    sparse = sparse_local_clips(120, rng, "paper", 16)  # skips 16 and 32 are lowered to fit 120 frames
    dense = tclr_clips(120, rng)
    fig = V.clip_timeline({"dense": [*dense.local, dense.global_clip], "sparse": sparse}, 120)
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert any("asked 32" in s for s in labels)

    counts = [300, 90, 200, 250]
    tuples = [draw_ssl_tuple(counts, r, rng, c1=0.6) for r in range(4)]
    fig = V.ssl_tuple_diagram(tuples, counts, max_tuples=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert all("label" in ax.get_title(loc="left") for ax in visible)
    with pytest.raises(ValueError):
        V.ssl_tuple_diagram([], counts)


def test_compare_frequencies_training_curves():
    fig = V.compare_frequencies({"a": 0.3, "b": 0.7}, {"a": 0.25, "b": 0.75}, n=1000, title="t")
    assert isinstance(fig, Figure)
    loss = np.linspace(1.4, 0.8, 30)
    fig = V.training_curves(loss, {"train": [0.3, 0.5], "test": [0.28, 0.45]}, steps_per_epoch=15, chance=0.25,
                            chance_loss=np.log(4))
    assert len(fig.axes) == 2
    assert len(fig.axes[1].lines) == 3  # two metric curves and the chance line
    assert len(V.training_curves(loss).axes) == 1


def test_cost_bars_and_reads_vs_c1():
    rows = cost.table7()
    fig = V.cost_bars(rows, cost.X_PAPER_GFLOPS)
    a1, a2 = fig.axes
    tops = sorted(p.get_y() + p.get_height() for p in a1.patches)
    assert tops[-1] == pytest.approx(cost.batch_gflops(rows[2]))  # STCLR's bar: 494 X + its losses
    assert {t.get_text() for t in a2.get_legend().get_texts()} == {"IC", "GL", "LL", "SSL"}
    c1 = np.linspace(0, 1, 11)
    fig = V.reads_vs_c1(c1, {"paper": [cost.videos_read_per_epoch(1, 3, c) for c in c1], "ours": np.ones(11)},
                        points={"measured": ([0.6], [1.0])}, mark=0.6)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 3  # two lines and the C1 marker
