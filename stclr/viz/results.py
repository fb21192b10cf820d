"""Figures (and the small readers behind them) for the results notebooks: 06 pretraining, 07 fine-tuning,
08 retrieval, 10 experiments.

Every ``plot_*`` function takes plain data -- rows of ``metrics.jsonl``, the ``metrics.json`` the engine
writes, feature tensors, a batch's ``summary.csv`` rows -- and returns a :class:`matplotlib.figure.Figure`
that is NOT registered with pyplot (nothing is shown or leaked as a side effect; end a notebook cell with
``fig`` to display it, ``fig.savefig(path)`` to save it). The readers and measurements are pure functions,
tested in ``tests/test_viz_results.py``.

==========================  ===========================================================================
function                    shows / does
==========================  ===========================================================================
read_jsonl                  the rows of a run's ``metrics.jsonl`` (a run folder or the file)
loss_components             which ``loss_*`` columns the rows have (ic, sll, ssl, ll, gl ...)
running_mean                a trailing running mean (for noisy one-step epochs)
plot_loss_curves            the epoch loss and its components; the learning rate on a second axis;
                            one run, or several runs (a mapping name -> rows) in one figure
plot_metric_curves          any per-epoch columns (fine-tuning loss, train accuracy), one line per run
plot_confusion_matrix       a fine-tuning confusion matrix (rows: true class, columns: predicted),
                            row-normalised, with the counts written in the cells
plot_grouped_bars           {series: {measure: value or (mean, std)}} as grouped bars with labels
plot_recall_at_k            R@1/5/10/20 per method (grouped bars, chance level dashed)
retrieval_chance            the expected R@k of a random ranking (hypergeometric), for the dashed level
pca_2d                      2-D PCA projection of features (``torch.pca_lowrank``; no new dependency)
plot_embedding_2d           features projected to 2-D, coloured by class; one panel per model
gallery_frames              the first and the middle frame of a video, side by side (one image)
plot_neighbour_gallery      query videos and their k nearest training videos (paper Fig. 10-11):
                            green border = same class as the query, red = another class
read_summary_csv            the rows of a batch's ``summary.csv`` (numbers parsed)
summary_table               group the rows by a parameter and average a few metrics (mean, std, n)
plot_summary_bars           a batch's table as grouped bars, one group per measure (paper Fig. 5-7)
plot_sweep                  a metric against a swept parameter, one line per series (paper Fig. 8)
==========================  ===========================================================================
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

__all__ = [
    "PALETTE",
    "read_jsonl",
    "loss_components",
    "running_mean",
    "plot_loss_curves",
    "plot_metric_curves",
    "plot_confusion_matrix",
    "plot_grouped_bars",
    "plot_recall_at_k",
    "retrieval_chance",
    "pca_2d",
    "plot_embedding_2d",
    "gallery_frames",
    "plot_neighbour_gallery",
    "read_summary_csv",
    "summary_table",
    "plot_summary_bars",
    "plot_sweep",
]

#: Okabe-Ito colours (colour-blind safe), the same as ``stclr.viz.losses``.
PALETTE: dict[str, str] = {
    "correct": "#009E73",  # green: a neighbour of the query's class
    "wrong": "#D55E00",  # vermillion: a neighbour of another class
    "query": "#222222",
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "grey": "#999999",
}
_SERIES = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#222222"]
#: Fixed colours of the methods, so that a method looks the same in every figure of notebooks 06-10.
METHOD_COLORS: dict[str, str] = {
    "random": "#999999",
    "ssl": "#E69F00",
    "ic": "#56B4E9",
    "simplified_tclr": "#0072B2",
    "tclr": "#CC79A7",
    "stclr": "#009E73",
    "pretrained": "#009E73",
}
#: Loss components of ``metrics.jsonl`` (``loss_<key>``) and how the paper names them.
LOSS_NAMES: dict[str, str] = {
    "ic": "instance contrastive (Eq. 2)",
    "sll": "sparse local-local (Eq. 3)",
    "ssl": "same speed localization",
    "ll": "TCLR local-local",
    "gl": "TCLR global-local",
}
_LOSS_COLORS = {"ic": "#0072B2", "sll": "#E69F00", "ssl": "#009E73", "ll": "#D55E00", "gl": "#CC79A7"}


def _figure(width: float, height: float, **kw) -> tuple[Figure, Any]:
    """A Figure not registered with pyplot (no global state, nothing leaks between cells)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(**kw)


def _tidy(ax, grid_axis: str = "y") -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis=grid_axis, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)


def _color(name: str, k: int) -> str:
    return METHOD_COLORS.get(str(name), _SERIES[k % len(_SERIES)])


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


# --------------------------------------------------------------------------------------------------------------
# Training curves (metrics.jsonl)


def read_jsonl(path: str | Path, name: str = "metrics.jsonl") -> list[dict]:
    """Rows of ``metrics.jsonl`` (one per epoch), or of ``steps.jsonl`` with ``name="steps.jsonl"`` (one per
    optimiser step): ``path`` is the file or a run folder holding it; ``[]`` when it is missing."""
    from stclr.fileio import read_jsonl as read_lines

    p = Path(path)
    return read_lines(p / name if p.is_dir() else p)


def loss_components(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The loss components logged in ``rows`` (``loss_ic`` -> ``ic``), in a fixed order (ic, sll, ll, gl, ssl,
    then any other), skipping columns that are not numbers."""
    keys: list[str] = []
    for row in rows:
        for k, v in row.items():
            if k.startswith("loss_") and isinstance(v, (int, float)) and k[5:] not in keys:
                keys.append(k[5:])
    order = {k: i for i, k in enumerate(("ic", "sll", "ll", "gl", "ssl"))}
    return sorted(keys, key=lambda k: (order.get(k, len(order)), k))


def _per_step(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Rows of ``steps.jsonl`` (one per optimiser step, keyed by ``step``) rather than ``metrics.jsonl``."""
    return bool(rows) and "epoch" not in rows[0] and "step" in rows[0]


def _epochs(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The x of each row as plotted: the 1-based epoch, or the optimiser step for ``steps.jsonl`` rows."""
    if _per_step(rows):
        return np.array([r["step"] for r in rows], dtype=float)
    return np.array([r.get("epoch", i) + 1 for i, r in enumerate(rows)], dtype=float)


def _xlabel(rows: Sequence[Mapping[str, Any]]) -> str:
    return "optimiser step" if _per_step(rows) else "epoch"


def _column(rows: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([r.get(key) if isinstance(r.get(key), (int, float)) else np.nan for r in rows], dtype=float)


def _reference(ax, value: float) -> None:
    # a legend entry, not a text on the line: the curves start on the line and a label there would cover them
    ax.axhline(value, color=PALETTE["query"], linestyle="--", linewidth=1.1, zorder=1, label="uniform guess")


def running_mean(y: Sequence[float], n: int) -> np.ndarray:
    """Mean of the last ``n`` values at each position (fewer at the start), NaNs skipped: same length as ``y``."""
    y = np.asarray(y, dtype=float)
    out = np.full(len(y), np.nan)
    for i in range(len(y)):
        window = y[max(0, i - n + 1): i + 1]
        if np.isfinite(window).any():
            out[i] = np.nanmean(window)
    return out


def tail_mean(rows: Sequence[Mapping[str, Any]], key: str, n: int = 20) -> float | None:
    """Mean of ``key`` over the last ``n`` rows that log it (e.g. L_SSL over a run's last 20 optimiser steps,
    the course's test of whether the pretext left its uniform guess), or None when no row logs it."""
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return float(np.mean(values[-n:])) if values else None


def first_below(rows: Sequence[Mapping[str, Any]], key: str, threshold: float, *, window: int = 1) -> int | None:
    """The first epoch (1-based, as plotted; the optimiser step for ``steps.jsonl`` rows) at which the running mean of ``key`` over ``window`` epochs is below
    ``threshold``, or None. E.g. when L_SLL leaves its chance plateau: ``first_below(rows, "loss_sll", 0.9 * 5 *
    log 9, window=5)`` (a window keeps one lucky batch from counting)."""
    below = np.flatnonzero(running_mean(_column(rows, key), window) < threshold)
    return int(_epochs(rows)[below[0]]) if below.size else None


def _curve(ax, x, y, color, label, smooth: int) -> None:
    if smooth > 1 and len(y) > smooth:
        ax.plot(x, y, marker="o", markersize=2.5, linewidth=0.8, alpha=0.45, color=color)
        ax.plot(x, running_mean(y, smooth), linewidth=2.4, color=color,
                label=None if label is None else f"{label} (mean of {smooth})")
    else:
        ax.plot(x, y, marker="o", markersize=3.5, linewidth=2.2, color=color, label=label)


def plot_loss_curves(
    runs: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    components: bool = True,
    lr: bool = True,
    uniform: Mapping[str, float] | None = None,
    smooth: int = 1,
    title: str | None = None,
) -> Figure:
    """Loss per epoch from ``metrics.jsonl`` rows (:func:`read_jsonl`).

    One run (a list of rows): the total loss (thick) and, with ``components``, each logged component
    (``loss_ic``, ``loss_sll``, ``loss_ssl`` ...) on its own panel, since their scales differ (Eq. 3 sums over N
    clips); the learning rate dashed on a second axis when it changes (ReduceLROnPlateau's drops). Several runs
    (a mapping name -> rows): the total loss of each run on one axis, the components on the next panels.
    ``uniform``: the loss of a uniform guess per component (``{"ic": log(2B-1), "sll": N log(2N-1), "ssl":
    log 4}``), drawn dashed in its panel; the total's reference is the sum over the components a run logs.
    ``smooth > 1``: each curve is drawn thin, with its running mean over ``smooth`` epochs on top (noisy short
    epochs, e.g. one optimiser step each).
    """
    many = isinstance(runs, Mapping)
    named: dict[str, Sequence[Mapping[str, Any]]] = dict(runs) if many else {"loss": runs}
    comps: list[str] = []
    if components:
        for rows in named.values():
            comps += [c for c in loss_components(rows) if c not in comps]
    n = 1 + len(comps)
    fig, axes = _figure(min(3.6 * n + 0.4, 13.5), 3.3, ncols=n, squeeze=False)  # fits a 1400-px wide notebook
    axes = axes[0]
    ax = axes[0]
    for k, (name, rows) in enumerate(named.items()):
        if not rows:
            continue
        _curve(ax, _epochs(rows), _column(rows, "loss"), _color(name, k) if many else PALETTE["blue"],
               name if many else "total (Eq. 1)", smooth)
    if uniform and not many and runs:
        have = loss_components(runs)
        if have and all(c in uniform for c in have):
            _reference(ax, sum(uniform[c] for c in have))
    first = next((rows for rows in named.values() if rows), [])
    ax.set_title("total loss", fontsize=10)
    ax.set_xlabel(_xlabel(first))
    ax.set_ylabel("loss of the step" if _per_step(first) else "mean loss over the epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    _tidy(ax)
    if lr and not many and runs:
        lrs = _column(runs, "lr")
        if np.isfinite(lrs).any() and np.nanmax(lrs) > 0 and np.nanmax(lrs) > np.nanmin(lrs):  # only when it moves
            ax2 = ax.twinx()
            ax2.plot(_epochs(runs), lrs, linestyle="--", color=PALETTE["grey"], linewidth=1.3, label="learning rate")
            ax2.set_yscale("log")
            ax2.set_ylabel("learning rate", color=PALETTE["grey"])
            ax2.tick_params(axis="y", colors=PALETTE["grey"], labelsize=8)
            ax2.spines[["top"]].set_visible(False)
            handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
            ax.legend(handles=handles, frameon=False, fontsize=8.5)
    if not ax.get_legend() and ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8.5)
    for j, comp in enumerate(comps, start=1):
        ax = axes[j]
        for k, (name, rows) in enumerate(named.items()):
            y = _column(rows, f"loss_{comp}") if rows else np.array([])
            if not np.isfinite(y).any():
                continue
            color = _color(name, k) if many else _LOSS_COLORS.get(comp, _SERIES[j % len(_SERIES)])
            _curve(ax, _epochs(rows), y, color, name if many else None, smooth)
        if uniform and comp in uniform:
            _reference(ax, uniform[comp])
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=8, loc="best")
        ax.set_title(LOSS_NAMES.get(comp, comp), fontsize=10)
        ax.set_xlabel(_xlabel(first))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        _tidy(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_metric_curves(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    keys: Sequence[str],
    *,
    labels: Mapping[str, str] | None = None,
    percent: Sequence[str] = (),
    title: str | None = None,
) -> Figure:
    """Any per-epoch columns of ``metrics.jsonl`` rows, one panel per key, one line per run: e.g. a fine-tuning
    run's ``loss`` and ``train_clip_accuracy`` for the pretrained and the random-init backbone. Keys in
    ``percent`` get a 0-100 % axis; ``labels`` renames the panels."""
    fig, axes = _figure(3.8 * len(keys) + 0.4, 3.2, ncols=len(keys), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for k, (name, rows) in enumerate(runs.items()):
            y = _column(rows, key) if rows else np.array([])
            if np.isfinite(y).any():
                ax.plot(_epochs(rows), y, marker="o", markersize=3.5, linewidth=2, color=_color(name, k), label=name)
        ax.set_title((labels or {}).get(key, key), fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if key in percent:
            ax.set_ylim(0, 100)
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(100))
        _tidy(ax)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(frameon=False, fontsize=8.5)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Fine-tuning


def plot_confusion_matrix(
    matrix: Any,
    classes: Sequence[str],
    *,
    normalize: bool = True,
    title: str | None = None,
    ax=None,
) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted class, as ``stclr.finetune`` writes it).
    Colours are row-normalised (the share of each true class predicted as each class) when ``normalize``;
    the cells show the raw counts. The diagonal (correct predictions) is outlined. ``matrix`` may be a mapping
    ``{name: matrix}``: one panel per entry, side by side (e.g. pretrained vs random init)."""
    if isinstance(matrix, Mapping):
        n = len(classes)
        side = 1.2 + 0.42 * n
        fig, axes = _figure((side + 1.0) * len(matrix), side, ncols=len(matrix), squeeze=False)
        for a, (name, m) in zip(axes[0], matrix.items()):
            plot_confusion_matrix(m, classes, normalize=normalize, title=name, ax=a)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig
    m = _np(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
        raise ValueError(f"a {len(classes)}x{len(classes)} matrix is expected, got shape {m.shape}")
    rows = m.sum(1, keepdims=True)
    shown = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0) if normalize else m
    n = len(classes)
    if ax is None:
        side = 1.2 + 0.42 * n
        fig, ax = _figure(side + 1.2, side)
    else:
        fig = ax.figure
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(1.0, float(m.max())))
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                dark = shown[i, j] > (0.55 if normalize else 0.55 * m.max())
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if dark else PALETTE["query"])
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=PALETTE["correct"], linewidth=1.2))
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8.5)
    ax.set_yticks(range(n), classes, fontsize=8.5)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label("share of the true class" if normalize else "videos", fontsize=8.5)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Bars: R@k per method, a batch's table


def _mean_std(v: Any) -> tuple[float, float]:
    if isinstance(v, (tuple, list)):
        mean = float(v[0]) if v and v[0] is not None else math.nan
        std = float(v[1]) if len(v) > 1 and v[1] is not None else 0.0
        return mean, (0.0 if math.isnan(std) else std)
    return (math.nan, 0.0) if v is None else (float(v), 0.0)


def plot_grouped_bars(
    values: Mapping[str, Mapping[str, Any]],
    *,
    measures: Sequence[str] | None = None,
    ylabel: str = "",
    percent: bool = True,
    chance: float | Mapping[str, float] | None = None,
    title: str | None = None,
    label_fmt: str = "{:.1f}",
    ax=None,
) -> Figure:
    """Grouped bars: one group per measure (x axis), one bar per series (colour), e.g.
    ``{"random": {"R@1": 16.7, "R@5": 50.0}, "stclr": {...}}``. A value may be ``(mean, std)``: the std is
    drawn as an error bar. ``chance``: a dashed level (one number, or one per measure). Bars are labelled
    with their values; ``percent`` puts the y axis in 0-100 %."""
    series = list(values)
    if measures is None:
        measures = []
        for s in series:
            measures += [m for m in values[s] if m not in measures]
    measures = list(measures)
    if ax is None:
        fig, ax = _figure(max(4.5, 1.0 + 0.55 * len(series) * len(measures) + 0.4 * len(measures)), 3.6)
    else:
        fig = ax.figure
    width = 0.8 / max(1, len(series))
    x = np.arange(len(measures))
    for k, s in enumerate(series):
        ms = [_mean_std(values[s].get(m)) for m in measures]
        means = np.array([a for a, _ in ms])
        stds = np.array([b for _, b in ms])
        pos = x - 0.4 + width * (k + 0.5)
        bars = ax.bar(pos, np.nan_to_num(means), width * 0.92, color=_color(s, k), label=s,
                      yerr=stds if stds.any() else None, capsize=3, error_kw={"linewidth": 1})
        ax.bar_label(bars, [label_fmt.format(v) if np.isfinite(v) else "–" for v in means], padding=2,
                     fontsize=7.5)
    if chance is not None:
        levels = chance if isinstance(chance, Mapping) else {m: chance for m in measures}
        for i, m in enumerate(measures):
            if m in levels and levels[m] is not None:
                ax.hlines(levels[m], i - 0.45, i + 0.45, colors=PALETTE["query"], linestyles="--", linewidth=1.1)
        ax.plot([], [], linestyle="--", color=PALETTE["query"], linewidth=1.1, label="chance")
    ax.set_xticks(x, measures)
    ax.set_ylabel(ylabel)
    if percent:
        ax.set_ylim(0, 105)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(100))
    # beside the axes, never over the bars (which may reach 100 %)
    ax.legend(frameon=False, fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _tidy(ax)
    if title:
        ax.set_title(title, fontsize=10.5)
    return fig


def retrieval_chance(labels_query: Sequence[int], labels_gallery: Sequence[int], k: int) -> float:
    """Expected R@k (percent) of a random ranking: for each query, the probability that ``k`` gallery videos
    drawn without replacement include at least one of its class (hypergeometric), averaged over queries."""
    g = np.asarray(labels_gallery)
    n = len(g)
    k = min(k, n)
    out = []
    for q in np.asarray(labels_query):
        same = int((g == q).sum())
        other = n - same
        miss = math.comb(other, k) / math.comb(n, k) if other >= k else 0.0
        out.append(1.0 - miss)
    return 100.0 * float(np.mean(out)) if out else math.nan


def plot_recall_at_k(
    results: Mapping[str, Mapping[str, Any]],
    *,
    ks: Sequence[int] = (1, 5, 10, 20),
    chance: Mapping[str, float] | float | None = None,
    title: str | None = None,
) -> Figure:
    """R@k per method: ``results[method]`` is a mapping with keys ``"R@1"`` ... (the engine's retrieval
    ``metrics.json``, or just those entries). ``chance``: the R@k of a random ranking (see
    :func:`retrieval_chance`), drawn dashed."""
    measures = [f"R@{k}" for k in ks]
    values = {m: {r: res.get(r) for r in measures} for m, res in results.items()}
    return plot_grouped_bars(values, measures=measures, ylabel="test queries with a same-class neighbour",
                             chance=chance, title=title or "Nearest-neighbour retrieval (test queries the train set)")


# --------------------------------------------------------------------------------------------------------------
# Embeddings


def pca_2d(features: Any, *, center: bool = True) -> np.ndarray:
    """``[V, D]`` features -> ``[V, 2]`` coordinates on the two leading principal components
    (``torch.pca_lowrank``, deterministic: the sign of each axis is fixed so that its largest coordinate is
    positive). Fewer than 2 dimensions or videos are padded with zeros."""
    import torch

    x = torch.as_tensor(np.asarray(_np(features)), dtype=torch.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be [videos, dims], got shape {tuple(x.shape)}")
    if center:
        x = x - x.mean(0, keepdim=True)
    q = min(2, x.shape[0], x.shape[1])
    if q == 0:
        return np.zeros((x.shape[0], 2))
    torch.manual_seed(0)  # pca_lowrank is randomised; with q = rank it is exact, the seed only fixes ties
    _, _, v = torch.pca_lowrank(x, q=q, center=False, niter=6)
    coords = (x @ v[:, :q]).numpy()
    for j in range(q):  # a deterministic sign per axis
        col = coords[:, j]
        if col.size and col[np.argmax(np.abs(col))] < 0:
            coords[:, j] = -col
    if q < 2:
        coords = np.concatenate([coords, np.zeros((coords.shape[0], 2 - q))], axis=1)
    return coords


def _class_colors(n: int) -> list:
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    return [colormaps["tab20"](i % 20) for i in range(n)]


def plot_embedding_2d(
    panels: Mapping[str, tuple[Any, Sequence[int]]],
    classes: Sequence[str],
    *,
    title: str | None = None,
) -> Figure:
    """Features projected to 2-D by PCA (:func:`pca_2d`), one panel per model: ``panels[name] = (features
    [V, D], labels [V])``. Points are coloured by class; well-separated colour clusters mean the features
    already tell the classes apart without any labels."""
    n = len(panels)
    fig, axes = _figure(3.5 * n + 1.6, 3.6, ncols=n, squeeze=False)
    colors = _class_colors(len(classes))
    for ax, (name, (feats, labels)) in zip(axes[0], panels.items()):
        xy = pca_2d(feats)
        lab = np.asarray(labels, dtype=int)
        for c in range(len(classes)):
            sel = lab == c
            if sel.any():
                ax.scatter(xy[sel, 0], xy[sel, 1], s=18, color=colors[c], edgecolor="white", linewidth=0.4)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[c], label=classes[c]) for c in range(len(classes))]
    fig.legend(handles=handles, loc="outside right center", frameon=False, fontsize=8.5)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Nearest-neighbour galleries (paper Fig. 10-11)


def gallery_frames(path: str | Path, *, size: int | None = None) -> np.ndarray:
    """The first and the middle frame of a video, side by side: ``uint8 [H, 2W, 3]`` (the paper shows each
    clip by two frames)."""
    from stclr.video import probe, read_frames

    n = probe(path).num_frames
    frames = read_frames(path, [0, max(0, (n - 1) // 2)], size=size)
    gap = np.full((frames.shape[1], max(1, frames.shape[2] // 16), 3), 255, dtype=np.uint8)
    return np.concatenate([frames[0], gap, frames[1]], axis=1)


def plot_neighbour_gallery(
    rows: Sequence[Mapping[str, Any]],
    *,
    query_root: str | Path | None = None,
    gallery_root: str | Path | None = None,
    classes: Sequence[str] | None = None,
    k: int = 3,
    row_labels: Sequence[str] | None = None,
    frames: Callable[[Path], np.ndarray] | None = None,
    title: str | None = None,
) -> Figure:
    """Query videos and their ``k`` nearest training videos, one row per entry of ``rows``.

    Each row is one entry of the ``neighbours`` list of a retrieval ``metrics.json`` (``path``, ``label``,
    ``nn_paths``, ``nn_labels`` and optionally ``nn_z`` or ``nn_sims``); paths are relative to ``query_root`` /
    ``gallery_root``. Each video is drawn as its first and middle frame (``frames(path)``, by default
    :func:`gallery_frames`); a neighbour's border is green when its class is the query's, red otherwise.
    A neighbour's number is ``nn_z`` when given: its cosine similarity in standard deviations above the query's
    mean similarity to the whole gallery (raw cosine similarities of pooled CNN features are all close to 1,
    because the features share one large common component, so they say little; the z-score is what stands out).
    Give ``row_labels`` (e.g. the model) to compare models on the same query, as in the paper's Fig. 10-11.
    The class legend is drawn only when there are neighbours (``k > 0``).
    """
    load = frames or gallery_frames
    qroot = Path(query_root) if query_root is not None else Path()
    groot = Path(gallery_root) if gallery_root is not None else Path()
    cache: dict[Path, np.ndarray] = {}

    def img(p: Path) -> np.ndarray:
        if p not in cache:
            cache[p] = np.asarray(load(p))
        return cache[p]

    def name(label: int) -> str:
        return classes[label] if classes is not None and 0 <= label < len(classes) else str(label)

    n = len(rows)
    fig, axes = _figure(1.0 + 2.0 * (k + 1), 0.5 + 1.45 * max(1, n), nrows=max(1, n), ncols=k + 1, squeeze=False)
    for r, entry in enumerate(rows):
        q_label = int(entry["label"])
        cells = [(qroot / entry["path"], q_label, None, True)]
        z = entry.get("nn_z")
        sims = list(z or entry.get("nn_sims") or [None] * len(entry["nn_paths"]))
        cells += [(groot / p, int(lab), s, False) for p, lab, s in
                  list(zip(entry["nn_paths"], entry["nn_labels"], sims))[:k]]
        for c in range(k + 1):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(cells):
                ax.axis("off")
                continue
            path, lab, sim, is_query = cells[c]
            ax.imshow(img(path))
            color = PALETTE["query"] if is_query else PALETTE["correct" if lab == q_label else "wrong"]
            for side in ax.spines.values():
                side.set_edgecolor(color)
                side.set_linewidth(3.5 if not is_query else 2.0)
            if is_query:
                text = f"query: {name(lab)}"
            else:
                shown = "" if sim is None else f" (z {sim:+.1f})" if z else f" ({sim:.3f})"
                text = f"{c}. {name(lab)}" + shown
            ax.set_title(text, fontsize=8, color=color, pad=3)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], fontsize=9, rotation=0, ha="right", va="center", labelpad=8)
    if k > 0:
        handles = [Line2D([], [], color=PALETTE["correct"], linewidth=4, label="same class as the query"),
                   Line2D([], [], color=PALETTE["wrong"], linewidth=4, label="another class")]
        if any(e.get("nn_z") for e in rows):
            handles.append(Line2D([], [], color="none", label="z: similarity in std. dev. above the query's mean"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=8.5)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Batches (stclr batch summary.csv; paper Fig. 5-8)


def _parse(value: str) -> Any:
    if value == "":
        return None
    for conv in (int, float):
        try:
            return conv(value)
        except ValueError:
            pass
    if value in ("True", "False"):
        return value == "True"
    return value


def read_summary_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a batch's ``summary.csv`` (a file or the batch folder), numbers and booleans parsed."""
    p = Path(path)
    if p.is_dir():
        p = p / "summary.csv"
    with open(p, newline="") as f:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def summary_table(
    rows: Sequence[Mapping[str, Any]],
    by: str,
    metrics: Mapping[str, str],
    *,
    only_ok: bool = True,
) -> dict[str, dict[str, tuple[float, float, int]]]:
    """``{group: {measure: (mean, std, n)}}``: rows grouped by the column ``by`` (e.g. ``"params.skips"``),
    each ``measure`` averaged over the group's rows from its column ``metrics[measure]`` (e.g.
    ``{"R@1": "metrics.retrieval.pretrained.R@1"}``); several seeds give a std (sample std; 0 for one row).
    Groups keep the order in which they first appear; failed or pending points are left out (``only_ok``)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if only_ok and row.get("status", "ok") != "ok":
            continue
        groups.setdefault(str(row.get(by)), []).append(row)
    table: dict[str, dict[str, tuple[float, float, int]]] = {}
    for g, members in groups.items():
        table[g] = {}
        for measure, column in metrics.items():
            vals = np.array([float(r[column]) for r in members if isinstance(r.get(column), (int, float))])
            if vals.size == 0:
                table[g][measure] = (math.nan, math.nan, 0)
            else:
                std = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
                table[g][measure] = (float(vals.mean()), std, int(vals.size))
    return table


def plot_summary_bars(
    table: Mapping[str, Mapping[str, tuple[float, float, int] | float]],
    *,
    ylabel: str = "",
    percent: bool = True,
    title: str | None = None,
    ax=None,
) -> Figure:
    """A batch's table (:func:`summary_table`) the way the paper's Fig. 5-7 show the sparsity ablation: one
    group of bars per measure (R@1, R@5, ... or accuracy), one bar per setting (low, medium, high), error
    bars over seeds when there are several."""
    values = {g: {m: (v[0], v[1]) if isinstance(v, tuple) else v for m, v in ms.items()} for g, ms in table.items()}
    return plot_grouped_bars(values, ylabel=ylabel, percent=percent, title=title, ax=ax)


def plot_sweep(
    series: Mapping[str, Mapping[float, Any]],
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = True,
    title: str | None = None,
) -> Figure:
    """A metric against a swept parameter, one line per series: ``{"TCLR init": {1e-3: 80.1, 3e-3: 81.0},
    "STCLR init": {...}}`` (paper Fig. 8: accuracy against weight decay). Values may be ``(mean, std)``."""
    fig, ax = _figure(5.6, 3.6)
    for k, (name, pts) in enumerate(series.items()):
        xs = sorted(pts)
        ms = [_mean_std(pts[x]) for x in xs]
        ax.errorbar(xs, [m for m, _ in ms], yerr=[s for _, s in ms] if any(s for _, s in ms) else None,
                    marker="o", linewidth=2, capsize=3, color=_color(name, k), label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=9)
    _tidy(ax, "both")
    if title:
        ax.set_title(title, fontsize=10.5)
    return fig

