"""Figures for the loss and cost notebooks (03 instance contrastive, 04 sparse local-local, 05 same speed
localization, 09 cost and efficiency).

Every function takes plain data (tensors, arrays, dicts, :class:`~stclr.sampling.ClipSpec` lists) and returns a
matplotlib ``Figure``; none computes a loss or reads a file, so what a figure shows is what the notebook
computed in the cell above it. Pass ``ax=`` (where offered) to draw into an existing axes.

==========================  ===========================================================================
function                    shows
==========================  ===========================================================================
similarity_matrix           a (cosine) similarity matrix with the positives outlined and the excluded
                            entries (an anchor with itself) hatched: Eq. 2's 2B x 2B matrix, Eq. 3's
                            N x 2N block per video, TCLR's global-local T x T block
anchor_weights              one anchor's softmax weights over its candidates at several temperatures
                            (the weights its gradient puts on each negative)
temperature_curves          loss and "gradient sharpness" against the temperature
grouped_bars                a few named quantities for a few settings (the appearance shortcut toy)
clip_timeline               clips as tick marks on their videos' frame axes (dense TCLR vs sparse STCLR)
ssl_tuple_diagram           SSL tuples (Fig. 4 idea): three clips, their source videos, speeds and label
compare_frequencies         empirical vs theoretical frequencies (SSL labels, sources)
training_curves             a short run: loss per step and accuracy per epoch with the chance level
cost_bars                   Table 7: batch GFLOPs (input clips x X + losses) and the loss MFLOPs by loss
reads_vs_c1                 videos read per epoch vs C1 (paper's loader vs the batch plan), Table 6's
                            epoch-time ratios and measured loader counters on top
==========================  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

__all__ = [
    "PALETTE",
    "SPEED_COLORS",
    "similarity_matrix",
    "anchor_weights",
    "temperature_curves",
    "grouped_bars",
    "clip_timeline",
    "ssl_tuple_diagram",
    "compare_frequencies",
    "training_curves",
    "cost_bars",
    "reads_vs_c1",
]

#: Colours shared by every figure of the loss notebooks (colour-blind safe, Okabe-Ito).
PALETTE: dict[str, str] = {
    "positive": "#009E73",  # green: the positive pair
    "negative": "#D55E00",  # vermillion: negatives in the denominator
    "excluded": "#999999",  # grey: not in the denominator (an anchor with itself)
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#222222",
}
_SERIES = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#222222"]
#: Colours of the SSL speeds (skip rates), so 1/2/4/8/16 look the same in every figure.
SPEED_COLORS: dict[int, str] = {1: "#0072B2", 2: "#E69F00", 4: "#009E73", 8: "#CC79A7", 16: "#D55E00", 32: "#56B4E9"}


def _np(x: Any) -> np.ndarray:
    """Tensor / list / array -> float numpy array (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _mask(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    if x is None:
        return np.zeros(shape, dtype=bool)
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    m = np.asarray(x, dtype=bool)
    if m.shape != shape:
        raise ValueError(f"mask of shape {m.shape} for a matrix of shape {shape}")
    return m


def _new_axes(ax, figsize) -> tuple[Figure, Any]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _tidy(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)


def _speed_color(s: int) -> str:
    return SPEED_COLORS.get(int(s), _SERIES[int(s) % len(_SERIES)])


# --------------------------------------------------------------------------------------------------------
# similarity matrices (Eq. 2, Eq. 3, TCLR global-local)


def similarity_matrix(
    sim: Any,
    *,
    positives: Any = None,
    excluded: Any = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    row_splits: Sequence[int] = (),
    col_splits: Sequence[int] = (),
    annotate: bool | None = None,
    fmt: str = "{:.2f}",
    vmin: float = -1.0,
    vmax: float = 1.0,
    cmap: str = "RdBu_r",
    title: str | None = None,
    colorbar_label: str = "cosine similarity",
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: bool = True,
    colorbar: bool = True,
    ax=None,
) -> Figure:
    """A similarity matrix, rows = anchors, columns = candidates.

    ``positives``: boolean mask of the positive entries (outlined in green); ``excluded``: entries left out of
    the denominator (hatched grey, e.g. an anchor with itself). Every other entry is a negative, in the
    denominator (the positive is in the denominator too, Eq. 2 / Eq. 3). ``row_splits``/``col_splits``: indices
    where a thin black line separates blocks (e.g. ``[B]`` between view a and view b). ``annotate``: write the
    value in each cell (default: when the matrix has at most 12 columns). ``colorbar=False`` leaves the colour bar
    out (e.g. for the first of two panels sharing one scale).
    """
    s = _np(sim)
    if s.ndim != 2:
        raise ValueError(f"a similarity matrix is 2-D, got shape {s.shape}")
    R, C = s.shape
    pos, exc = _mask(positives, s.shape), _mask(excluded, s.shape)
    fig, ax = _new_axes(ax, (0.55 * C + 2.4, 0.5 * R + 1.4))
    shown = np.ma.masked_where(exc, s)
    cm = plt.get_cmap(cmap).with_extremes(bad="#f2f2f2")
    im = ax.imshow(shown, cmap=cm, norm=Normalize(vmin, vmax), aspect="equal", interpolation="nearest")
    for r, c in zip(*np.nonzero(exc)):
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="#f2f2f2", edgecolor=PALETTE["excluded"],
                               hatch="///", linewidth=0.0))
    for r, c in zip(*np.nonzero(pos)):
        ax.add_patch(Rectangle((c - 0.45, r - 0.45), 0.9, 0.9, fill=False, edgecolor=PALETTE["positive"], linewidth=2.6))
    if annotate is None:
        annotate = C <= 12
    if annotate:
        norm = Normalize(vmin, vmax)
        for r in range(R):
            for c in range(C):
                if exc[r, c]:
                    continue
                dark = abs(norm(s[r, c]) - 0.5) > 0.3
                ax.text(c, r, fmt.format(s[r, c]), ha="center", va="center", fontsize=8,
                        color="white" if dark else PALETTE["black"], fontweight="bold" if pos[r, c] else "normal")
    for k in row_splits:
        ax.axhline(k - 0.5, color=PALETTE["black"], linewidth=1.4)
    for k in col_splits:
        ax.axvline(k - 0.5, color=PALETTE["black"], linewidth=1.4)
    ax.set_xticks(range(C), list(col_labels) if col_labels is not None else range(C),
                  rotation=0 if C <= 10 else 90, fontsize=9)
    ax.set_yticks(range(R), list(row_labels) if row_labels is not None else range(R), fontsize=9)
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")  # with the ticks, so the legend below never covers it
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=11, pad=8)
    if colorbar:
        cb = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
        cb.set_label(colorbar_label)
    if legend:
        handles = [Patch(facecolor="white", edgecolor=PALETTE["positive"], linewidth=2.2, label="positive")]
        handles.append(Patch(facecolor="#cccccc", label="negative (in the denominator)"))
        if exc.any():
            handles.append(Patch(facecolor="#f2f2f2", edgecolor=PALETTE["excluded"], hatch="///",
                                 label="excluded (anchor itself)"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=len(handles),
                  frameon=False, fontsize=8.5, handlelength=1.4)
    return fig


def anchor_weights(
    sims: Any,
    positive: int,
    temperatures: Sequence[float],
    *,
    excluded: Sequence[int] = (),
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """One anchor's softmax weights ``p_k = h_k / sum_j h_j`` over its candidates, one panel per temperature.

    ``sims``: the anchor's cosine similarities to every candidate (a row of the similarity matrix);
    ``positive``: the column of its positive; ``excluded``: columns not in the denominator (the anchor itself).
    The gradient of ``-log p_positive`` with respect to the logit of candidate k is ``p_k - 1[k = positive]``:
    the bars of the negatives ARE the weights with which the gradient pushes each negative away, so a low
    temperature concentrates the push on the hardest negatives. Each panel's title gives the anchor's loss.
    """
    s = _np(sims).reshape(-1)
    keep = np.array([k for k in range(len(s)) if k not in set(excluded)])
    names = list(labels) if labels is not None else [str(k) for k in range(len(s))]
    taus = [float(t) for t in temperatures]
    fig, axes = plt.subplots(1, len(taus), figsize=(2.9 * len(taus) + 0.4, 2.9), sharey=True, layout="constrained",
                             squeeze=False)
    for ax, tau in zip(axes[0], taus):
        logits = s[keep] / tau
        p = np.exp(logits - logits.max())
        p /= p.sum()
        colors = [PALETTE["positive"] if k == positive else PALETTE["negative"] for k in keep]
        ax.bar(range(len(keep)), p, color=colors, width=0.75)
        loss = -np.log(p[list(keep).index(positive)])
        ax.set_title(f"τ = {tau:g}   loss = {loss:.3f}", fontsize=10)
        ax.set_xticks(range(len(keep)), [names[k] for k in keep], rotation=90 if len(keep) > 8 else 0, fontsize=8)
        ax.set_ylim(0, 1)
        _tidy(ax)
    axes[0, 0].set_ylabel("softmax weight  $p_k$")
    handles = [Patch(color=PALETTE["positive"], label="positive"), Patch(color=PALETTE["negative"], label="negatives")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def temperature_curves(
    temperatures: Sequence[float],
    loss: Mapping[str, Sequence[float]],
    sharpness: Mapping[str, Sequence[float]] | None = None,
    *,
    mark: Sequence[float] = (),
    loss_label: str = "loss",
    sharpness_label: str = "share of the negatives' weight\non the hardest negative",
    floor: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Curves against the temperature (log x axis): the loss (left) and, if given, a sharpness measure
    (right; e.g. the hardest negative's share of the gradient weight on all negatives). ``mark``: vertical
    dotted lines at notable temperatures (0.1 TCLR, 0.3 STCLR). ``floor``: horizontal dashed lines, per
    curve name, e.g. ``log(2B - 1)`` = the loss of features that tell nothing apart."""
    t = _np(temperatures)
    panels = 2 if sharpness else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.6), layout="constrained", squeeze=False)
    for ax, curves, ylabel in zip(axes[0], (loss, sharpness or {}), (loss_label, sharpness_label)):
        for k, (name, ys) in enumerate(curves.items()):
            ax.plot(t, _np(ys), color=_SERIES[k % len(_SERIES)], linewidth=2.2, label=name)
        for m in mark:
            ax.axvline(m, color=PALETTE["black"], linestyle=":", linewidth=1.2)
            ax.text(m, 1.0, f" τ={m:g}", transform=ax.get_xaxis_transform(), va="top", ha="left", fontsize=8.5)
        ax.set_xscale("log")
        ax.set_xlabel("temperature τ")
        ax.set_ylabel(ylabel)
        _tidy(ax)
        ax.grid(True, axis="x", color="#eeeeee", linewidth=0.6)
    if floor:
        for k, (name, y) in enumerate(floor.items()):
            axes[0, 0].axhline(y, color=PALETTE["excluded"], linestyle="--", linewidth=1.2)
            axes[0, 0].text(1.0, y, f"{name} ", transform=axes[0, 0].get_yaxis_transform(), va="bottom",
                            ha="right", fontsize=8.5, color="#555555")
    for ax, curves in zip(axes[0], (loss, sharpness or {})):
        if len(curves) > 1:
            ax.legend(frameon=False, fontsize=9, loc="lower left")
    if sharpness:
        axes[0, 1].set_ylim(0, 1.03)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def grouped_bars(
    values: Mapping[str, Mapping[str, float]],
    *,
    ylabels: Mapping[str, str] | None = None,
    hlines: Mapping[str, tuple[float, str]] | None = None,
    fmt: str = "{:.2f}",
    title: str | None = None,
) -> Figure:
    """One panel per quantity, one bar per setting: ``values[quantity][setting]``.

    ``hlines[quantity] = (y, text)`` draws a dashed reference line (e.g. chance accuracy, or the loss of
    features that tell nothing apart)."""
    quantities = list(values)
    fig, axes = plt.subplots(1, len(quantities), figsize=(3.6 * len(quantities) + 0.4, 3.4), layout="constrained",
                             squeeze=False)
    for ax, q in zip(axes[0], quantities):
        names = list(values[q])
        ys = [float(values[q][n]) for n in names]
        bars = ax.bar(range(len(names)), ys, color=[_SERIES[k % len(_SERIES)] for k in range(len(names))], width=0.65)
        ax.bar_label(bars, [fmt.format(y) for y in ys], padding=2, fontsize=9)
        ax.set_xticks(range(len(names)), names, fontsize=9)
        ax.set_title(q, fontsize=10)
        if ylabels and q in ylabels:
            ax.set_ylabel(ylabels[q])
        if hlines and q in hlines:
            y, text = hlines[q]
            ax.axhline(y, color=PALETTE["black"], linestyle="--", linewidth=1.1, label=text)
            ax.legend(frameon=False, fontsize=8.5, loc="upper left", handlelength=1.8)
        ax.set_ylim(0, max(ys + [hlines[q][0] if hlines and q in hlines else 0]) * 1.25 or 1)
        _tidy(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------------------
# clips on a time axis (Sec. 3.2, Fig. 4 idea)


def _draw_clip(ax, y: float, frames: np.ndarray, color: str, height: float = 0.55) -> None:
    ax.hlines(y, frames.min(), frames.max(), color=color, linewidth=1.4, alpha=0.55)
    ax.vlines(frames, y - height / 2, y + height / 2, color=color, linewidth=1.6)


def _clip_label(c) -> str:
    asked = getattr(c, "requested_skip", None)
    if asked is not None and asked != c.skip:
        return f"skip {c.skip} (asked {asked})"
    return f"skip {c.skip}"


def clip_timeline(
    groups: Mapping[str, Sequence[Any]],
    num_frames: int | Mapping[str, int],
    *,
    clip_names: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
) -> Figure:
    """Clips of one video as tick marks on its frame axis, one panel per group (e.g. "TCLR (dense)" and
    "STCLR (sparse)"). Each group is a sequence of :class:`~stclr.sampling.ClipSpec` (anything with
    ``indices(n)`` and ``skip``); clips are coloured by their requested skip rate, and a clip whose skip was
    lowered to fit the video is labelled "skip 19 (asked 32)"."""
    names = list(groups)
    counts = {g: (num_frames[g] if isinstance(num_frames, Mapping) else num_frames) for g in names}
    heights = [max(1, len(groups[g])) for g in names]
    fig, axes = plt.subplots(len(names), 1, figsize=(9.5, 0.42 * sum(heights) + 1.0 * len(names) + 0.3),
                             layout="constrained", squeeze=False, gridspec_kw={"height_ratios": heights},
                             sharex=True)
    for ax, g in zip(axes[:, 0], names):
        n = int(counts[g])
        clips = list(groups[g])
        labels = list(clip_names[g]) if clip_names and g in clip_names else [_clip_label(c) for c in clips]
        for k, c in enumerate(clips):
            _draw_clip(ax, k, np.asarray(c.indices(n)), _speed_color(getattr(c, "requested_skip", None) or c.skip))
        ax.set_yticks(range(len(clips)), labels, fontsize=9)
        ax.set_ylim(len(clips) - 0.4, -0.6)
        ax.axvspan(-0.5, n - 0.5, color="#f4f4f4", zorder=-1)
        ax.set_xlim(-0.02 * n - 1, n * 1.02)
        ax.set_title(f"{g}   ({n} frames)", fontsize=10, loc="left")
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.tick_params(axis="y", length=0)
    axes[-1, 0].set_xlabel("frame index")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def ssl_tuple_diagram(
    tuples: Sequence[Any],
    frame_counts: Sequence[int],
    *,
    label_names: Sequence[str] = ("12", "13", "23", "None"),
    video_names: Sequence[str] | None = None,
    max_tuples: int = 6,
    title: str | None = None,
) -> Figure:
    """Same Speed Localization tuples (the idea of the paper's Fig. 4), one panel per tuple.

    Each tuple (a :class:`~stclr.sampling.SSLTuple`: ``clips``, ``sources``, ``label``, ``cross_video``) is
    three rows, clip 1..3 top to bottom, each drawn on the frame axis of its source video
    (``frame_counts[source]``) and coloured by its speed (skip rate). The two clips that share a speed are
    marked with a bracket; the panel title gives the label, its class index and where the clips come from.
    """
    tuples = list(tuples)[:max_tuples]
    if not tuples:
        raise ValueError("no tuples to draw")
    longest = max(int(frame_counts[s]) for t in tuples for s in t.sources)
    cols = 2 if len(tuples) > 1 else 1
    rows = -(-len(tuples) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 1.75 * rows + 0.5), layout="constrained", squeeze=False)
    for ax in axes.flat[len(tuples):]:
        ax.set_visible(False)
    for ax, t in zip(axes.flat, tuples):
        for k, (c, src) in enumerate(zip(t.clips, t.sources)):
            n = int(frame_counts[src])
            ax.add_patch(Rectangle((-0.5, k - 0.36), n, 0.72, facecolor="#f4f4f4", edgecolor="none", zorder=-1))
            _draw_clip(ax, k, np.asarray(c.indices(n)), _speed_color(c.skip))
            vname = video_names[src] if video_names is not None else f"video {src}"
            ax.text(longest * 1.02, k, f"skip {c.skip}", va="center", ha="left", fontsize=9,
                    color=_speed_color(c.skip), fontweight="bold")
            ax.text(-0.03 * longest, k, f"clip {k + 1}\n{vname}", va="center", ha="right", fontsize=8)
        if t.label < 3:
            i, j = ((0, 1), (0, 2), (1, 2))[t.label]
            x = longest * 1.2
            ax.plot([x, x + 0.02 * longest, x + 0.02 * longest, x], [i, i, j, j], color=PALETTE["black"], linewidth=1.3,
                    clip_on=False)
            ax.text(x + 0.035 * longest, (i + j) / 2, "same\nspeed", va="center", ha="left", fontsize=8, clip_on=False)
        where = "3 different videos" if t.cross_video else "one video"
        ax.set_title(f"label {label_names[t.label]} → class {t.label}   ·   {where}", fontsize=10, loc="left")
        ax.set_xlim(-0.5, longest * 1.02)
        ax.set_ylim(2.6, -0.6)
        ax.set_yticks([])
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.set_xlabel("frame index in the source video", fontsize=8.5)
        ax.tick_params(axis="x", labelsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def compare_frequencies(
    empirical: Mapping[str, float],
    theory: Mapping[str, float],
    *,
    n: int | None = None,
    ax=None,
    title: str | None = None,
    xlabel: str | None = None,
    legend: bool = True,
) -> Figure:
    """Empirical frequencies (bars) against the theoretical ones (black ticks), same keys in the same order.
    With ``n`` (the number of draws) each bar gets a 95% binomial interval, so a student can see whether a
    gap is noise. ``legend=False`` leaves the legend out (e.g. in the second of two panels)."""
    keys = list(theory)
    emp = np.array([float(empirical.get(k, 0.0)) for k in keys])
    th = np.array([float(theory[k]) for k in keys])
    fig, ax = _new_axes(ax, (1.1 * len(keys) + 2.2, 3.2))
    x = np.arange(len(keys))
    bars = ax.bar(x, emp, width=0.6, color=PALETTE["sky"], label="sampled")
    if n:
        err = 1.96 * np.sqrt(np.clip(th * (1 - th), 0, None) / n)
        ax.errorbar(x, emp, yerr=err, fmt="none", ecolor="#555555", capsize=3, linewidth=1,
                    label="95% interval of the sampling")
    ax.hlines(th, x - 0.38, x + 0.38, color=PALETTE["black"], linewidth=2.4, label="theory")
    ax.bar_label(bars, [f"{v:.3f}" for v in emp], label_type="center", fontsize=9, color="white", fontweight="bold")
    ax.set_xticks(x, keys)
    ax.set_ylabel("frequency")
    ax.set_ylim(0, max(emp.max(), th.max()) * 1.45)
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(frameon=False, fontsize=8.5, loc="upper center", ncol=3 if n else 2, handlelength=1.5)
    _tidy(ax)
    return fig


def training_curves(
    step_loss: Sequence[float],
    epoch_metrics: Mapping[str, Sequence[float]] | None = None,
    *,
    steps_per_epoch: int | None = None,
    chance: float | None = None,
    chance_loss: float | None = None,
    loss_label: str = "loss",
    metric_label: str = "accuracy",
    smooth: int = 5,
    title: str | None = None,
) -> Figure:
    """A short training run: the loss per optimiser step (thin) with its running mean over ``smooth`` steps
    (thick) on the left; metrics per epoch (e.g. ``{"train": [...], "held-out": [...]}``) on the right, with
    the chance level dashed. ``chance_loss``: the loss of a uniform guess (``log 4`` for 4 classes)."""
    y = _np(step_loss)
    panels = 2 if epoch_metrics else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.0 * panels + 0.3, 3.5), layout="constrained", squeeze=False)
    ax = axes[0, 0]
    steps = np.arange(1, len(y) + 1)
    ax.plot(steps, y, color=PALETTE["sky"], linewidth=0.9, alpha=0.8, label="per step")
    if len(y) >= smooth > 1:
        run = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(steps[smooth - 1:], run, color=PALETTE["blue"], linewidth=2.4, label=f"mean of {smooth} steps")
    if chance_loss is not None:
        ax.axhline(chance_loss, color=PALETTE["black"], linestyle="--", linewidth=1.1,
                   label=f"uniform guess ({chance_loss:.3f})")
    if steps_per_epoch:
        for e in range(steps_per_epoch, len(y), steps_per_epoch):
            ax.axvline(e + 0.5, color="#cccccc", linewidth=0.8, zorder=-1)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel(loss_label)
    ax.legend(frameon=False, fontsize=9)
    _tidy(ax)
    if epoch_metrics:
        ax = axes[0, 1]
        for k, (name, vals) in enumerate(epoch_metrics.items()):
            v = _np(vals)
            ax.plot(np.arange(1, len(v) + 1), v, marker="o", color=_SERIES[k % len(_SERIES)], linewidth=2, label=name)
        if chance is not None:
            ax.axhline(chance, color=PALETTE["black"], linestyle="--", linewidth=1.1, label=f"chance ({chance:.0%})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric_label)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(frameon=False, fontsize=9)
        _tidy(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------------------
# cost (Sec. 4.2.4)

_LOSS_COLORS = {"ic": PALETTE["blue"], "gl": PALETTE["purple"], "ll": PALETTE["orange"], "ssl": PALETTE["positive"]}
_LOSS_NAMES = {"ic": "IC", "gl": "GL", "ll": "LL", "ssl": "SSL"}


def cost_bars(rows: Sequence[Mapping[str, Any]], x_gflops: float, *, title: str | None = None) -> Figure:
    """Table 7 as two bar charts: (left) one batch's GFLOPs, ``input_clips x X`` plus the losses (too thin to
    see: that is the point); (right) the loss MegaFLOPs stacked by loss (IC, GL, LL, SSL).

    ``rows``: :func:`stclr.cost.table7` rows (``method``, ``input_clips``, ``ic_flops`` ... ``ssl_flops``,
    ``loss_flops``); ``x_gflops``: X, the per-clip cost (258.84 in the paper)."""
    names = [r["method"] for r in rows]
    x = np.arange(len(rows))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.8), layout="constrained")  # fits a 1400-px window
    clip_g = np.array([r["input_clips"] * x_gflops for r in rows])
    loss_g = np.array([r["loss_flops"] / 1e9 for r in rows])
    b = a1.bar(x, clip_g, color=PALETTE["sky"], width=0.6, label="input clips × X")
    a1.bar(x, loss_g, bottom=clip_g, color=PALETTE["negative"], width=0.6, label="losses")
    a1.bar_label(b, [f"{r['input_clips']}X\n= {g:,.0f}" for r, g in zip(rows, clip_g + loss_g)], padding=3, fontsize=8.5)
    a1.set_xticks(x, names, fontsize=9)
    a1.set_ylabel("GFLOPs per batch")
    a1.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    a1.set_ylim(0, clip_g.max() * 1.25)
    a1.set_title(f"one batch (X = {x_gflops:g} GFLOPs per clip)", fontsize=10)
    a1.legend(frameon=False, fontsize=8.5, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.12))  # below the data
    _tidy(a1)
    bottom = np.zeros(len(rows))
    for key in ("ic", "gl", "ll", "ssl"):
        vals = np.array([(r.get(f"{key}_flops") or 0) / 1e6 for r in rows])
        if not vals.any():
            continue
        a2.bar(x, vals, bottom=bottom, color=_LOSS_COLORS[key], width=0.6, label=_LOSS_NAMES[key])
        bottom += vals
    for xi, tot in zip(x, bottom):
        a2.text(xi, tot, f"{tot:.3f}", ha="center", va="bottom", fontsize=8.5)
    a2.set_xticks(x, names, fontsize=9)
    a2.set_ylabel("MFLOPs per batch")
    a2.set_ylim(0, bottom.max() * 1.2)
    a2.set_title("the losses alone", fontsize=10)
    a2.legend(frameon=False, fontsize=8.5, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    _tidy(a2)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def reads_vs_c1(
    c1: Sequence[float],
    reads: Mapping[str, Sequence[float]],
    *,
    points: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    mark: float | None = None,
    ylabel: str = "videos read per epoch / N",
    title: str | None = None,
) -> Figure:
    """Videos read per epoch (in units of the dataset size N) against C1, one line per loader
    (``reads[name]``), plus scattered ``points[name] = (c1 values, ratios)``: e.g. Table 6's epoch time of
    STCLR / Simplified TCLR, or the measured ``videos_opened / N`` of our loader. ``mark``: a vertical line
    at the default C1 (0.6)."""
    c = _np(c1)
    fig, ax = plt.subplots(figsize=(6.6, 4.0), layout="constrained")
    styles = ["-", "-", "--", ":"]
    for k, (name, ys) in enumerate(reads.items()):
        ax.plot(c, _np(ys), color=_SERIES[k % len(_SERIES)], linewidth=2.4, linestyle=styles[k % len(styles)], label=name)
    markers = ["o", "s", "D", "^"]
    for k, (name, (xs, ys)) in enumerate((points or {}).items()):
        ax.scatter(_np(xs), _np(ys), s=60, marker=markers[k % len(markers)], zorder=3, label=name,
                   color=_SERIES[(k + 2) % len(_SERIES)], edgecolor="white", linewidth=0.8)
        for xv, yv in zip(_np(xs), _np(ys)):
            ax.annotate(f"{yv:.2f}", (xv, yv), textcoords="offset points", xytext=(6, -12), fontsize=8)
    if mark is not None:
        ax.axvline(mark, color=PALETTE["black"], linestyle=":", linewidth=1.1)
        ax.text(mark, 1.0, f" C1 = {mark:g}", transform=ax.get_xaxis_transform(), va="top", fontsize=8.5)
    ax.set_xlabel("C1 (probability that an SSL tuple's clips come from 3 different videos)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(-0.03, 1.1)
    ax.set_ylim(0, None)
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    _tidy(ax)
    if title:
        ax.set_title(title, fontsize=11)
    return fig
