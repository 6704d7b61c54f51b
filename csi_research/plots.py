"""Figures for CSI reports: path diagram, index bars, importance–performance map, heatmaps, answers.

Every function draws on a new :class:`~matplotlib.figure.Figure` (or the ``ax`` given) without
pyplot's global state, so it works under the Agg backend, in notebooks and in batch runs, and
returns the Figure. Chinese labels need a CJK font; when none is installed the figures fall
back to English labels and say so once (CSIWarning), rather than drawing empty boxes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from csi_research.errors import CSIWarning, ModelSpecError
from csi_research.intervals import excludes_zero
from csi_research.model import DEFAULT_LABELS, CSIModel
from csi_research.options import level_text
from csi_research.sample import as_frame

CJK_FONTS = (
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC",
    "Source Han Sans SC", "Source Han Sans CN", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC",
    "AR PL UMing CN", "AR PL UKai CN",
)
BOX_W, BOX_H, LAYER_DX, ROW_DY = 2.3, 0.95, 3.4, 1.9


# ---------------------------------------------------------------------------- language and fonts
def cjk_font() -> str | None:
    """The first installed font among the usual CJK families, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


@contextmanager
def _labels_in(language: str) -> Iterator[str]:
    """Yield the language the figure can really use, with a CJK font active for Chinese."""
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    font = cjk_font() if language == "zh" else None
    if language == "zh" and font is None:
        warnings.warn(  # every figure that falls back says so: no module state remembers an earlier one
            "no CJK font found (install fonts-wqy-microhei or fonts-noto-cjk): figures use English labels",
            CSIWarning,
            stacklevel=3,
        )
        language = "en"
    rc = {"font.sans-serif": [font, *mpl.rcParams["font.sans-serif"]], "font.family": "sans-serif"}
    with mpl.rc_context(rc if font else {}):
        yield language


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _construct_label(name: str, language: str, model: CSIModel | None = None) -> str:
    labels = model.labels if model is not None else DEFAULT_LABELS
    zh, en = labels.get(name, (name, name))
    return zh if language == "zh" else en


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


# ---------------------------------------------------------------------------- path diagram
def _layout(model: CSIModel) -> dict[str, tuple[float, float]]:
    """Layers by longest path from the exogenous constructs (left → right), ordered by barycentre."""
    depth: dict[str, int] = {}
    for name in model.order:
        depth[name] = max((depth[p] + 1 for p in model.predecessors(name)), default=0)
    layers: dict[int, list[str]] = {}
    for name in model.names:
        layers.setdefault(depth[name], []).append(name)
    pos: dict[str, tuple[float, float]] = {}
    for d in sorted(layers):
        nodes = layers[d]
        if len(nodes) == 1:  # zigzag singletons so that arrows skipping a layer pass beside it
            pos[nodes[0]] = (d * LAYER_DX, 0.5 * ROW_DY * (-1) ** d)
            continue
        centre = {n: np.mean([pos[s][1] for s in model.predecessors(n)] or [0.0]) for n in nodes}
        nodes = sorted(nodes, key=lambda n: -centre[n])
        for k, n in enumerate(nodes):
            pos[n] = (d * LAYER_DX, ((len(nodes) - 1) / 2 - k) * ROW_DY)
    return pos


def _hits_box(points: np.ndarray, pos: Mapping[str, tuple[float, float]], skip: set[str]) -> bool:
    for name, (x, y) in pos.items():
        if name in skip:
            continue
        inside = (np.abs(points[:, 0] - x) < BOX_W / 2 + 0.1) & (np.abs(points[:, 1] - y) < BOX_H / 2 + 0.1)
        if inside.any():
            return True
    return False


def _curve(a: np.ndarray, b: np.ndarray, rad: float, t: np.ndarray | None = None) -> np.ndarray:
    """Points of matplotlib's arc3 connection (quadratic Bézier) in equal-aspect data units."""
    d = b - a
    control = (a + b) / 2 + rad * np.array([d[1], -d[0]])
    t = np.linspace(0.1, 0.9, 41)[:, None] if t is None else t
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t**2 * b


def _significance(paths: pd.DataFrame, significance: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """Stars per path: from p-values, else '*' when a bootstrap CI excludes zero."""
    table = significance if significance is not None else paths
    out = {}
    for row in table.itertuples(index=False):
        key = (row.source, row.target)
        if hasattr(row, "p_value") and pd.notna(row.p_value):
            out[key] = _stars(row.p_value)
        elif hasattr(row, "ci_lower") and hasattr(row, "ci_upper"):
            out[key] = "*" if excludes_zero(row.ci_lower, row.ci_upper) else ""
    return out


def path_diagram(
    model: CSIModel,
    fit: Any,
    ax: Axes | None = None,
    language: str = "en",
    significance: pd.DataFrame | None = None,
) -> Figure:
    """Structural model: construct boxes (R² inside), arrows labelled with coefficients and stars.

    Coefficients are ``std_estimate`` when the fit has them (CB-SEM) else ``estimate`` (PLS).
    Stars come from ``significance`` (rows source, target with ``p_value`` or bootstrap
    ``ci_lower``/``ci_upper``) or from the fit's own ``p_value`` column: * p < .05, ** < .01,
    *** < .001. Each arrow is a patch with ``gid`` ``"path:Source->Target"``.
    """
    paths = fit.paths
    column = "std_estimate" if "std_estimate" in paths.columns else "estimate"
    coef = {(r.source, r.target): getattr(r, column) for r in paths.itertuples(index=False)}
    stars = _significance(paths, significance)
    r2 = getattr(fit, "r2", None)
    pos = _layout(model)
    arcs = {}
    for s, t in model.paths:
        a, b = np.array(pos[s]), np.array(pos[t])
        arcs[(s, t)] = next((r for r in (0.0, 0.25, -0.25, 0.45, -0.45)
                             if not _hits_box(_curve(a, b, r), pos, {s, t})), 0.3)
    reach = np.vstack([np.array(list(pos.values()))]
                      + [_curve(np.array(pos[s]), np.array(pos[t]), r) for (s, t), r in arcs.items()])
    margin = np.array([BOX_W / 2 + 0.2, BOX_H / 2 + 0.3])
    lo, hi = reach.min(axis=0) - margin, reach.max(axis=0) + margin
    width = min(16.0, 1.45 * (hi[0] - lo[0]) / LAYER_DX + 1.0)
    with _labels_in(language) as lang:
        fig, ax = _axes(ax, (width, width * (hi[1] - lo[1]) / (hi[0] - lo[0]) + 0.3))
        boxes = {}
        for name, (x, y) in pos.items():
            box = FancyBboxPatch(
                (x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.04",
                facecolor="#e8f0fa", edgecolor="#2c5d8f", linewidth=1.2, gid=f"construct:{name}",
            )
            ax.add_patch(box)
            boxes[name] = box
            text = _construct_label(name, lang, model)
            if r2 is not None and name in r2.index:
                text += f"\nR² = {r2[name]:.2f}"
            ax.text(x, y, text, ha="center", va="center", fontsize=9, gid=f"label:{name}")
        for s, t in model.paths:
            a, b = np.array(pos[s]), np.array(pos[t])
            rad = arcs[(s, t)]
            ax.add_patch(FancyArrowPatch(
                a, b, patchA=boxes[s], patchB=boxes[t], arrowstyle="-|>", mutation_scale=12,
                connectionstyle=f"arc3,rad={rad}", color="#444444", linewidth=1.0, gid=f"path:{s}->{t}",
            ))
            mid = _curve(a, b, rad, np.array([[0.42]]))[0]  # off-centre: crossing arrows keep apart
            value = coef.get((s, t), np.nan)
            ax.text(
                mid[0], mid[1], f"{value:.2f}{stars.get((s, t), '')}", ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
                gid=f"coef:{s}->{t}",
            )
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        ax.axis("off")
        if significance is not None and "level" in significance.columns:
            level = level_text(float(significance["level"].iloc[0]))
            note = (f"* {level} 自助法置信区间不含 0" if lang == "zh"
                    else f"* the {level} bootstrap interval excludes zero")
            ax.text(0.0, 0.0, note, transform=ax.transAxes, fontsize=8, va="bottom", gid="significance-note")
    return fig


# ---------------------------------------------------------------------------- index bars
def index_bars(
    frame: pd.DataFrame | pd.Series,
    x: str = "construct",
    y: str = "index",
    lower: str = "ci_lower",
    upper: str = "ci_upper",
    hue: str | None = None,
    ax: Axes | None = None,
    language: str = "en",
    threshold: float | None = 80.0,
) -> Figure:
    """Bars of 0–100 indices per construct (or region, ...) with CI whiskers when the frame has them.

    ``hue`` groups bars (e.g. region × construct). The dashed line marks ``threshold`` (80 reads
    as "satisfied" in the industry's practice).
    """
    if isinstance(frame, pd.Series):
        frame = frame.rename_axis(x).rename(y).reset_index()
    cats = list(dict.fromkeys(frame[x]))
    groups = list(dict.fromkeys(frame[hue])) if hue else [None]
    width = 0.8 / len(groups)
    with _labels_in(language) as lang:
        fig, ax = _axes(ax, (max(5.0, 0.9 * len(cats) * max(1, len(groups) / 2) + 1.5), 4.0))
        palette = sns.color_palette("deep", len(groups))
        for g, group in enumerate(groups):
            part = frame if group is None else frame[frame[hue] == group]
            part = part.set_index(x).reindex(cats)
            where = np.arange(len(cats)) - 0.4 + width * (g + 0.5)
            bars = ax.bar(where, part[y], width=width * 0.95, color=palette[g],
                          label=None if group is None else str(group), gid=f"bars:{group}")
            if lower in part.columns and upper in part.columns:
                err = np.clip(np.vstack([part[y] - part[lower], part[upper] - part[y]]), 0, None)
                ax.errorbar(where, part[y], yerr=err, fmt="none", ecolor="#222222", capsize=3, linewidth=1)
                if "level" in part.columns and g == 0:
                    level = level_text(float(part["level"].dropna().iloc[0]))
                    note = (f"误差线：{level} 自助法置信区间" if lang == "zh"
                            else f"whiskers: {level} bootstrap interval")
                    ax.text(0.01, 0.99, note, transform=ax.transAxes, fontsize=8, va="top",
                            gid="interval-note")
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
        if threshold is not None:
            ax.axhline(threshold, linestyle="--", color="#b03a2e", linewidth=1, gid="threshold")
        ax.set_xticks(np.arange(len(cats)), [_construct_label(str(c), lang) for c in cats],
                      rotation=30, ha="right")
        ax.set_ylim(0, 105)
        ax.set_ylabel("指数 (0–100)" if lang == "zh" else "Index (0–100)")
        if hue:
            ax.legend(fontsize=8, title=hue)
    return fig


# ---------------------------------------------------------------------------- IPMA map
def ipma_map(result: Any, level: str = "construct", ax: Axes | None = None, language: str = "en") -> Figure:
    """Importance (x, unstandardised total effect) × performance (y, 0–100), quadrant lines at the means."""
    if level not in ("construct", "item"):
        raise ValueError(f"level must be 'construct' or 'item', not {level!r}")
    table = result.constructs if level == "construct" else result.items
    with _labels_in(language) as lang:
        fig, ax = _axes(ax, (6.5, 5.0))
        ax.scatter(table["importance"], table["performance"], s=40, color="#2c5d8f", zorder=3, gid="points")
        mean_imp, mean_perf = table["importance"].mean(), table["performance"].mean()
        ax.axvline(mean_imp, color="#888888", linestyle="--", linewidth=1, gid="mean-importance")
        ax.axhline(mean_perf, color="#888888", linestyle="--", linewidth=1, gid="mean-performance")
        key = "construct" if level == "construct" else "item"
        for row in table.itertuples(index=False):
            name = getattr(row, key)
            text = _construct_label(name, lang) if level == "construct" else name
            ax.annotate(text, (row.importance, row.performance), xytext=(4, 4), textcoords="offset points",
                        fontsize=8, gid=f"point:{name}")
        ax.set_xlabel("重要性（总效应）" if lang == "zh" else "Importance (total effect)")
        ax.set_ylabel("表现 (0–100)" if lang == "zh" else "Performance (0–100)")
        target = result.target_labels[0] if lang == "zh" else result.target_labels[1]
        title = f"重要性–表现分析：{target}" if lang == "zh" else f"Importance–performance map: {target}"
        ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------- heatmap
def heatmap(
    frame: pd.DataFrame,
    ax: Axes | None = None,
    title: str | None = None,
    index: str | None = None,
    columns: str | None = None,
    values: str | None = None,
    cmap: str = "RdBu_r",
    vmin: float | None = None,
    vmax: float | None = None,
    fmt: str = ".2f",
) -> Figure:
    """Annotated heatmap of a wide matrix (HTMT, cross-loadings), or of a tidy frame pivoted on
    ``index``/``columns``/``values`` (e.g. loadings: item, construct, loading)."""
    if index or columns or values:
        frame = frame.pivot(index=index, columns=columns, values=values)
    fig, ax = _axes(ax, (1.0 + 0.8 * frame.shape[1], 1.0 + 0.4 * frame.shape[0]))
    sns.heatmap(frame.astype(float), ax=ax, annot=True, fmt=fmt, cmap=cmap, vmin=vmin, vmax=vmax,
                center=0 if vmin is None and vmax is None else None, cbar=True, annot_kws={"fontsize": 7})
    if title:
        ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------- answer distribution
def response_distribution(
    data: Any, codebook: Any = None, items: list[str] | None = None, ax: Axes | None = None,
    language: str = "en",
) -> Figure:
    """Stacked bars per item: the share of respondents giving each grade of the item's scale."""
    frame = as_frame(data)
    book = codebook if codebook is not None else getattr(data, "codebook", None)
    if book is None:
        from csi_research.codebook import Codebook

        book = Codebook.default()
    ids = list(items) if items is not None else [i for i in book.item_ids if i in frame.columns]
    if not ids:
        raise ModelSpecError("no codebook item is a column of the data: pass items=[...] present in both")
    scales = {book.item(i).scale for i in ids}
    if len(scales) > 1:
        raise ModelSpecError(f"items use several scales ({', '.join(sorted(scales))}): plot one at a time")
    scale = book.scales[scales.pop()]
    shares = pd.DataFrame(
        {i: frame[i].value_counts(normalize=True).reindex(scale.codes, fill_value=0.0) for i in ids}
    ).T
    with _labels_in(language) as lang:
        fig, ax = _axes(ax, (7.0, 1.2 + 0.32 * len(ids)))
        names = scale.labels_zh if lang == "zh" else scale.labels_en
        colours = sns.color_palette("RdYlGn", len(scale.codes))
        left = np.zeros(len(ids))
        where = np.arange(len(ids))
        for k, code in enumerate(scale.codes):
            ax.barh(where, shares[code], left=left, color=colours[k], label=str(names[k]),
                    gid=f"grade:{code}")
            left += shares[code].to_numpy()
        ax.set_yticks(where, ids)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        ax.legend(ncols=min(5, len(scale.codes)), fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig
