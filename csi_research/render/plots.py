"""Figures for CSI reports: path diagram, index bars, importance–performance map, heatmaps, answers.

Every function draws on a new :class:`~matplotlib.figure.Figure` (or the ``ax`` given) without
pyplot's global state, so it works under the Agg backend, in notebooks and in batch runs, and
returns the Figure. ``language`` ("en" or "zh") sets every label the function writes.

Fonts: all text is set in Noto Sans CJK SC, shipped by a dependency (see :mod:`csi_research.core.fonts`)
and registered when this module is imported; no system font is needed. The family is set on
each text object, and on the axes' tick settings for the tick labels matplotlib only makes when
the figure is drawn, rather than through an rc context (which has ended by the time Jupyter
draws the figure) or the global rcParams (which this module leaves alone, and which a later
``sns.set_theme()`` or style sheet would overwrite). A figure therefore draws the same whenever
and wherever it is rendered.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Mapping, Sequence
from io import BytesIO
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import PIL.Image
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from csi_research.core import fonts, options
from csi_research.core.errors import ModelSpecError
from csi_research.core.options import level_text
from csi_research.data.sample import as_frame
from csi_research.model import DEFAULT_LABELS, CSIModel
from csi_research.stats.intervals import excludes_zero
from csi_research.stats.ipma import QUADRANTS, QUADRANTS_ZH

BOX_W, BOX_H, LAYER_DX, ROW_DY = 2.3, 0.95, 3.4, 1.9
PRINT_DPI = 200  # pixels per figure inch: sharp on paper at the figure's own size (and on fine screens)
SCREEN_DPI = 110  # CSS pixels per figure inch in the HTML report: the size it is shown at
BAR_HEIGHT = 0.8  # of a bar of the answer distribution, in rows (barh's own default)
BOX_GAP = 0.09  # from a box's centre line to an arrow's end: its rounded padding and a small gap
FONT_FAMILY = [fonts.register(), fonts.FALLBACK]  # registered on import, so any figure can use it
# table columns that become axis or legend titles: (zh, en)
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "construct": ("构面", "Construct"),
    "region": ("地区", "Region"),
    "wave": ("调查年度", "Wave"),
    "item": ("题项", "Item"),
    "segment": ("客户群体", "Segment"),
}


# ---------------------------------------------------------------------------- language and fonts
def _language(language: str) -> str:
    return options.language(language, "language", "figure")


def _finish(fig: Figure, ax: Axes, own: bool, *extra: Axes) -> Figure:
    """Apply the font to the figure's axes when the figure is ours, else only to what was drawn."""
    fonts.apply(*(fig.axes if own else (ax, *extra)))
    return fig


def to_png(fig: Figure, dpi: int = PRINT_DPI) -> bytes:
    """The figure as PNG bytes, rendered once; the same figure gives the same bytes (no
    software-version stamp). Nothing global is touched or closed: the Figure is not pyplot's.

    The default resolution prints sharp at the figure's own size (the Word report and a printed
    HTML report use these very bytes); the PNG records it, so readers know the printed size.

    Not cropped to a tight box, which would draw the figure twice: every figure here has a
    constrained layout that fits its labels and legends inside it (a test checks each one).
    The pixels are those ``savefig`` draws; only the encoding is cheaper (see :func:`_encode`).
    """
    # an opaque background under everything leaves every pixel opaque
    opaque = fig.get_frameon() and mpl.colors.to_rgba(fig.patch.get_facecolor())[3] == 1
    return _encode(_draw(fig, dpi), dpi, opaque=opaque)


def _draw(fig: Figure, dpi: int) -> memoryview:
    """The figure drawn at ``dpi``, its layout run once: the renderer's RGBA buffer.

    ``savefig`` draws a figure with a layout engine twice: once without output, only so that the
    engine runs, then for real. Here the engine runs by itself (at the same resolution, on the same
    renderer) and the figure is drawn once with it held, as ``savefig`` holds it for its second
    draw: the same pixels. The figure's canvas, resolution and engine are restored.
    """
    canvas, engine, own_dpi = fig.canvas, fig.get_layout_engine(), fig.dpi
    agg = FigureCanvasAgg(fig)
    agg._is_saving = True  # as savefig does: draw as for a file (animated artists too)
    layout = engine is not None and bool(fig.axes)
    try:
        fig.dpi = dpi
        if layout:
            try:
                engine.execute(fig)
            except ValueError:  # as Figure.draw: a layout that cannot be made keeps the positions
                pass
            fig.set_layout_engine("none")
        agg.draw()
        return agg.buffer_rgba()  # the renderer's own memory, kept alive by the view
    finally:
        if layout:
            fig.set_layout_engine(engine)
        fig.dpi = own_dpi
        fig.set_canvas(canvas)


def _encode(rgba: memoryview, dpi: int, opaque: bool) -> bytes:
    """PNG bytes of an RGBA buffer, recording ``dpi`` (and nothing else: no software or time stamp).

    An opaque figure (every figure here: a white background under everything) is stored as RGB, the
    alpha channel carrying nothing; and deflated with zlib's run-length strategy, which suits
    flat-coloured figures: half again as fast as the default and the file about as small. The
    same pixels either way, so the same picture; the same pixels give the same bytes.
    """
    height, width = rgba.shape[:2]
    image = (PIL.Image.frombytes("RGB", (width, height), rgba, "raw", "RGBX") if opaque
             else PIL.Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1))
    buffer = BytesIO()
    image.save(buffer, format="png", dpi=(dpi, dpi), compress_type=zlib.Z_RLE)
    return buffer.getvalue()


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _construct_label(name: str, language: str, model: CSIModel | None = None) -> str:
    labels = model.labels if model is not None else DEFAULT_LABELS
    zh, en = labels.get(name, (name, name))
    return zh if language == "zh" else en


def _column_label(name: Hashable, language: str) -> str:
    zh, en = COLUMN_LABELS.get(str(name), (str(name), str(name)))
    return zh if language == "zh" else en


def _category_labels(frame: pd.DataFrame, column: str, language: str) -> dict[Any, str]:
    """Value of ``column`` -> label: the frame's label_zh/label_en columns for constructs when it
    has them (a user model's own names), else the default construct labels, else the value."""
    values = list(dict.fromkeys(frame[column]))
    if column == "construct" and {"label_zh", "label_en"} <= set(frame.columns):
        names = frame.drop_duplicates(column).set_index(column)[f"label_{language}"]
        return {v: str(names[v]) for v in values}
    return {v: _construct_label(str(v), language) for v in values}


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
    control = _control(a, b, rad)
    t = np.linspace(0.1, 0.9, 41)[:, None] if t is None else t
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t**2 * b


def _control(a: np.ndarray, b: np.ndarray, rad: float) -> np.ndarray:
    """The control point of arc3's quadratic Bézier from ``a`` to ``b``."""
    d = b - a
    return (a + b) / 2 + rad * np.array([d[1], -d[0]])


def _between_boxes(a: np.ndarray, b: np.ndarray, rad: float) -> Path:
    """The arc from box ``a`` to box ``b`` (centres) without the parts inside them, as a Path.

    The piece of a quadratic Bézier between parameters t0 and t1 is a quadratic Bézier again
    (control point by blossoming), so the arrow is cut where it leaves and meets the boxes here,
    in closed form, rather than by matplotlib's search along the curve at every draw.
    """
    t = np.linspace(0.0, 1.0, 2001)[:, None]
    points = _curve(a, b, rad, t)
    half = np.array([BOX_W / 2 + BOX_GAP, BOX_H / 2 + BOX_GAP])
    outside = (np.abs(points - a) > half).any(axis=1) & (np.abs(points - b) > half).any(axis=1)
    (t0, t1), (start, end) = t[outside][[0, -1], 0], points[outside][[0, -1]]
    middle = (1 - t0) * (1 - t1) * a + ((1 - t0) * t1 + t0 * (1 - t1)) * _control(a, b, rad) + t0 * t1 * b
    return Path([start, middle, end], [Path.MOVETO, Path.CURVE3, Path.CURVE3])


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
    lang = _language(language)
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
    own = ax is None
    fig, ax = _axes(ax, (width, width * (hi[1] - lo[1]) / (hi[0] - lo[0]) + 0.3))
    boxes = {}
    for name, (x, y) in pos.items():
        box = FancyBboxPatch(
            (x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.04",
            facecolor="#e8f0fa", edgecolor="#2c5d8f", linewidth=1.2, gid=f"construct:{name}", in_layout=False,
        )
        ax.add_artist(box)
        boxes[name] = box
        text = _construct_label(name, lang, model)
        if r2 is not None and name in r2.index:
            text += f"\nR² = {r2[name]:.2f}"
        ax.text(x, y, text, ha="center", va="center", fontsize=9, gid=f"label:{name}")
    for s, t in model.paths:
        a, b = np.array(pos[s]), np.array(pos[t])
        rad = arcs[(s, t)]
        ax.add_artist(FancyArrowPatch(
            path=_between_boxes(a, b, rad), arrowstyle="-|>", mutation_scale=12, color="#444444",
            linewidth=1.0, gid=f"path:{s}->{t}", in_layout=False,
        ))
        mid = _curve(a, b, rad, np.array([[0.42]]))[0]  # off-centre: crossing arrows keep apart
        value = coef.get((s, t), np.nan)
        ax.text(
            mid[0], mid[1], f"{value:.2f}{stars.get((s, t), '')}", ha="center", va="center", fontsize=8,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
            gid=f"coef:{s}->{t}",
        )
    # boxes and arrows lie inside these limits (the reach and a margin): they are added without
    # updating the data limits, and the layout need not measure them (the labels it does)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.axis("off")
    if significance is not None and "level" in significance.columns:
        level = level_text(float(significance["level"].iloc[0]))
        note = (f"* {level} 自助法置信区间不含 0" if lang == "zh"
                else f"* the {level} bootstrap interval excludes zero")
        ax.text(0.0, 0.0, note, transform=ax.transAxes, fontsize=8, va="bottom", gid="significance-note")
    return _finish(fig, ax, own)


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
    wave: str | None = None,
) -> Figure:
    """Bars of 0–100 indices per construct (or region, ...) with CI whiskers when the frame has them.

    ``hue`` groups bars (e.g. region × construct). The dashed line marks ``threshold``, the target
    (80 reads as "satisfied" in the industry's practice). ``wave`` names a column (e.g. "wave"):
    one panel per value, sorted, each keeping its rows' order (a ranking stays ranked); ``ax``
    then only serves a single wave. Constructs are labelled from the frame's label_zh/label_en
    columns when it has them, else by the default model's labels.
    """
    lang = _language(language)
    if isinstance(frame, pd.Series):
        frame = frame.rename_axis(x).rename(y).reset_index()
    if wave is not None and wave not in frame.columns:
        raise ModelSpecError(f"index_bars: no column {wave!r} to split waves by ({', '.join(frame.columns)})")
    panels = [(None, frame)] if wave is None else [
        (value, frame[frame[wave] == value]) for value in sorted(frame[wave].dropna().unique(), key=str)
    ]
    if ax is not None and len(panels) > 1:
        raise ModelSpecError(f"index_bars: {len(panels)} waves need their own figure: leave ax=None")
    groups = list(dict.fromkeys(frame[hue])) if hue else [None]  # whole frame: same colours in every panel
    spread = max(1.0, len(groups) / 2)
    widths = [0.9 * part[x].nunique() * spread + 0.6 for _, part in panels]
    own = ax is None
    if ax is None:
        fig = Figure(figsize=(max(5.0, sum(widths) + 0.9), 4.0), layout="constrained")
        axes = list(fig.subplots(1, len(panels), sharey=True, squeeze=False, width_ratios=widths)[0])
    else:
        fig, axes = ax.figure, [ax]
    for k, ((value, part), panel) in enumerate(zip(panels, axes, strict=True)):
        _bars(panel, part, x, y, lower, upper, hue, groups, lang, threshold, first=k == 0)
        if value is not None:
            name = _column_label(wave, lang)
            panel.set_title(f"{name}：{value}" if lang == "zh" else f"{name}: {value}", fontsize=10)
    return _finish(fig, axes[0], own)


def _bars(
    ax: Axes, frame: pd.DataFrame, x: str, y: str, lower: str, upper: str, hue: str | None,
    groups: Sequence[Any], lang: str, threshold: float | None, first: bool,
) -> None:
    cats = list(dict.fromkeys(frame[x]))
    names = _category_labels(frame, x, lang)
    width = 0.8 / len(groups)
    palette = sns.color_palette("deep", len(groups))
    group_names = _category_labels(frame, hue, lang) if hue else {}
    for g, group in enumerate(groups):
        part = frame if group is None else frame[frame[hue] == group]
        part = part.set_index(x).reindex(cats)
        where = np.arange(len(cats)) - 0.4 + width * (g + 0.5)
        label = None if group is None else group_names.get(group, str(group))
        ax.bar(where, part[y], width=width * 0.95, color=palette[g], label=label, gid=f"bars:{group}")
        if lower in part.columns and upper in part.columns:
            err = np.clip(np.vstack([part[y] - part[lower], part[upper] - part[y]]), 0, None)
            ax.errorbar(where, part[y], yerr=err, fmt="none", ecolor="#222222", capsize=3, linewidth=1)
            levels = part["level"].dropna() if "level" in part.columns else part[y].iloc[:0]
            if first and g == 0 and len(levels):
                level = level_text(float(levels.iloc[0]))
                note = (f"误差线：{level} 自助法置信区间" if lang == "zh"
                        else f"whiskers: {level} bootstrap interval")
                ax.text(0.01, 0.99, note, transform=ax.transAxes, fontsize=8, va="top", gid="interval-note")
        # values above the whisker's cap, not on it
        tops = np.fmax(part[y], part[upper]) if upper in part.columns else part[y]
        for xpos, value, top in zip(where, part[y], tops, strict=True):
            if np.isfinite(value):
                ax.annotate(f"{value:.1f}", (xpos, top), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, gid="value")
    if threshold is not None:
        ax.axhline(threshold, linestyle="--", color="#b03a2e", linewidth=1, gid="threshold")
        if first:
            # on the line at the left edge, over a white patch so that a bar behind it does not hide it
            ax.text(0.005, threshold, f"目标 {threshold:g}" if lang == "zh" else f"target {threshold:g}",
                    transform=ax.get_yaxis_transform(), ha="left", va="bottom", fontsize=7, color="#b03a2e",
                    gid="threshold-label", bbox=_WHITE)
    ax.set_xticks(np.arange(len(cats)), [names[c] for c in cats], rotation=30, ha="right")
    ax.set_ylim(0, 105)
    if first:
        ax.set_ylabel("指数 (0–100)" if lang == "zh" else "Index (0–100)")
        if hue:
            ax.legend(fontsize=8, title=_column_label(hue, lang))


_WHITE = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


# ---------------------------------------------------------------------------- IPMA map
# quadrant -> corner of the map (axes fraction) and text alignment
_CORNERS = {
    "keep up the good work": (0.98, 0.98, "right", "top"),
    "concentrate here": (0.98, 0.02, "right", "bottom"),
    "possible overkill": (0.02, 0.98, "left", "top"),
    "low priority": (0.02, 0.02, "left", "bottom"),
}


def ipma_map(result: Any, level: str = "construct", ax: Axes | None = None, language: str = "en") -> Figure:
    """Importance (x, unstandardised total effect) × performance (y, 0–100), quadrant lines at the
    means and the Martilla–James quadrant names in the corners."""
    if level not in ("construct", "item"):
        raise ValueError(f"level must be 'construct' or 'item', not {level!r}")
    lang = _language(language)
    table = result.constructs if level == "construct" else result.items
    own = ax is None
    fig, ax = _axes(ax, (6.5, 5.0))
    ax.scatter(table["importance"], table["performance"], s=40, color="#2c5d8f", zorder=3, gid="points")
    mean_imp, mean_perf = table["importance"].mean(), table["performance"].mean()
    ax.axvline(mean_imp, color="#888888", linestyle="--", linewidth=1, gid="mean-importance")
    ax.axhline(mean_perf, color="#888888", linestyle="--", linewidth=1, gid="mean-performance")
    key = "construct" if level == "construct" else "item"
    names = _category_labels(table, key, lang) if level == "construct" else {}
    lo, hi = table["importance"].min(), table["importance"].max()
    for row in table.itertuples(index=False):
        name = getattr(row, key)
        left = row.importance > lo + 0.7 * (hi - lo)  # the rightmost labels go left, inside the axes
        ax.annotate(names.get(name, name), (row.importance, row.performance), xytext=(-4 if left else 4, 4),
                    textcoords="offset points", ha="right" if left else "left", fontsize=8,
                    gid=f"point:{name}")
    for quadrant in QUADRANTS.values():
        x, y, ha, va = _CORNERS[quadrant]
        text = QUADRANTS_ZH[quadrant] if lang == "zh" else quadrant.capitalize()
        ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=8, color="#7a7a7a",
                style="italic" if lang == "en" else "normal", gid=f"quadrant:{quadrant}")
    ax.set_xlabel("重要性（总效应）" if lang == "zh" else "Importance (total effect)")
    ax.set_ylabel("表现 (0–100)" if lang == "zh" else "Performance (0–100)")
    target = result.target_labels[0] if lang == "zh" else result.target_labels[1]
    ax.set_title(f"重要性–表现分析：{target}" if lang == "zh" else f"Importance–performance map: {target}")
    return _finish(fig, ax, own)


# ---------------------------------------------------------------------------- simple slopes
def simple_slopes(result: Any, model: CSIModel | None = None, ax: Axes | None = None,
                  language: str = "en") -> Figure:
    """The target against the predictor (both in standard deviations, −2 to 2) at the moderator one
    standard deviation below its mean, at it, and above it: lines of slope b(X) + b(X×M)·m and
    intercept b(M)·m, from a :class:`~csi_research.stats.moderation.ModerationResult`."""
    lang = _language(language)
    own = ax is None
    fig, ax = _axes(ax, (6.0, 4.2))
    b_m = float(result.paths.set_index("source").at[result.moderator, "estimate"])
    x = np.linspace(-2, 2, 5)
    moderator = (result.moderator_label[lang == "en"] if getattr(result, "moderator_label", None)
                 else _construct_label(result.moderator, lang, model))
    colours = {-1.0: "#c0392b", 0.0: "#7a7a7a", 1.0: "#2c5d8f"}
    for row in result.slopes.itertuples(index=False):
        m = row.moderator_sd
        level = {-1.0: "−1 SD", 0.0: "均值" if lang == "zh" else "mean", 1.0: "+1 SD"}.get(m, f"{m:+g} SD")
        ax.plot(x, b_m * m + row.slope * x, color=colours.get(m, "#444444"), linewidth=2,
                label=f"{moderator} {level}（斜率 {row.slope:.3f}）" if lang == "zh"
                else f"{moderator} at {level} (slope {row.slope:.3f})", gid=f"slope:{m:g}")
    ax.axhline(0, color="#cccccc", linewidth=0.8)
    ax.axvline(0, color="#cccccc", linewidth=0.8)
    predictor = _construct_label(result.predictor, lang, model)
    target = _construct_label(result.target, lang, model)
    ax.set_xlabel(f"{predictor}（标准差）" if lang == "zh" else f"{predictor} (standard deviations)")
    ax.set_ylabel(f"{target}（标准差）" if lang == "zh" else f"{target} (standard deviations)")
    ax.set_title(f"简单斜率：{moderator}对 {predictor} → {target} 的调节" if lang == "zh"
                 else f"Simple slopes: {moderator} moderating {predictor} → {target}")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return _finish(fig, ax, own)


# ---------------------------------------------------------------------------- heatmap
def heatmap(
    frame: pd.DataFrame,
    ax: Axes | None = None,
    title: str | None = None,
    index: str | None = None,
    columns: str | None = None,
    values: str | None = None,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    fmt: str | None = None,
    center: float | None = None,
    language: str = "en",
    label: str | None = None,
) -> Figure:
    """Annotated heatmap of a wide matrix (HTMT, cross-loadings, construct × region indices), or of
    a tidy frame pivoted on ``index``/``columns``/``values`` (e.g. loadings: item, construct, loading).

    With ``center`` (e.g. the index target) the colours diverge from it, "RdBu": blue above, red
    below, white on it; values show one decimal. Without it: "RdBu_r" centred on 0 unless
    ``vmin``/``vmax`` are given, two decimals (HTMT, loadings). A centred scale is symmetric (equal
    distances from the centre, equal intensity, on both sides) and the colour bar spans the data
    (or ``vmin``–``vmax``). ``label`` names the colour bar (default with ``center``: the index
    scale and the target, in ``language``). Construct names among the rows and columns and the
    axis titles (the frame's index and column names, e.g. "construct") are shown in ``language``;
    ``title`` is shown as given.
    """
    lang = _language(language)
    if index or columns or values:
        frame = frame.pivot(index=index, columns=columns, values=values)
    data = frame.astype(float)
    data = data.rename(index=lambda v: _tick_name(v, lang), columns=lambda v: _tick_name(v, lang))
    matrix = data.to_numpy(dtype=float)
    if center is None:  # HTMT, loadings: white at 0 unless the caller fixes the range
        zero = 0.0 if vmin is None and vmax is None else None
        colours, norm = _colour_scale(matrix, cmap or "RdBu_r", zero, vmin, vmax)
    else:
        colours, norm = _colour_scale(matrix, cmap or "RdBu", center, vmin, vmax)
    own = ax is None
    fig, ax = _axes(ax, (1.8 + 0.85 * data.shape[1], 1.2 + 0.4 * data.shape[0]))
    mesh = ax.pcolormesh(np.ma.masked_invalid(matrix), cmap=colours, norm=norm, edgecolors="white",
                         linewidth=0.5, gid="cells")
    spec = fmt or (".1f" if center is not None else ".2f")
    for (i, j), value in np.ndenumerate(matrix):
        # dark text on light cells, white on dark ones; centred in its cell, a value lies inside the
        # axes (one wider than its cell would cover its neighbours'), so the layout need not measure it
        if np.isfinite(value):
            ink = "#222222" if _luminance(mesh.cmap(mesh.norm(value))) > 0.408 else "white"
            ax.text(j + 0.5, i + 0.5, format(value, spec), ha="center", va="center", fontsize=7, color=ink,
                    gid=f"cell:{i},{j}", in_layout=False)
    ax.set_xlim(0, data.shape[1])
    ax.set_ylim(data.shape[0], 0)  # first row on top, as the table reads
    ax.set_xticks(np.arange(data.shape[1]) + 0.5, [str(c) for c in data.columns], rotation=30, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(np.arange(data.shape[0]) + 0.5, [str(r) for r in data.index])
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    colorbar = fig.colorbar(mesh, ax=ax)
    colorbar.outline.set_visible(False)
    if center is not None:
        if norm.vmin <= center <= norm.vmax:
            colorbar.ax.axhline(center, color="#222222", linewidth=1, gid="center")
        if label is None:
            label = f"指数 (0–100)，目标 {center:g}" if lang == "zh" else f"Index (0–100), target {center:g}"
    if label:
        colorbar.set_label(label)
    ax.set_xlabel("" if data.columns.name is None else _column_label(data.columns.name, lang))
    ax.set_ylabel("" if data.index.name is None else _column_label(data.index.name, lang))
    if title:
        ax.set_title(title)
    return _finish(fig, ax, own, colorbar.ax)


def _tick_name(value: Any, language: str) -> Any:
    return _construct_label(value, language) if isinstance(value, str) and value in DEFAULT_LABELS else value


def _colour_scale(
    values: np.ndarray, cmap: str, center: float | None, vmin: float | None, vmax: float | None,
) -> tuple[Colormap, Normalize]:
    """Colours and normalisation of a heatmap. Centred: the colormap's middle sits on ``center``
    and both sides stretch to the same distance, then the map is cut to the shown range. (A
    TwoSlopeNorm would stretch each side to its own extreme, so a 1-point shortfall could look as
    strong as a 15-point surplus, and it fails when every value is on one side of the centre.)"""
    finite = values[np.isfinite(values)]
    lo = vmin if vmin is not None else float(finite.min()) if finite.size else 0.0
    hi = vmax if vmax is not None else float(finite.max()) if finite.size else 1.0
    if hi <= lo:  # one value (or none): give the scale some width
        lo, hi = lo - 0.5, hi + 0.5
    base = mpl.colormaps[cmap]
    if center is None:
        return base, Normalize(lo, hi)
    half = max(abs(lo - center), abs(hi - center))
    cut = base(np.linspace((lo - center + half) / (2 * half), (hi - center + half) / (2 * half), 256))
    return ListedColormap(cut, name=f"{cmap}@{center:g}"), Normalize(lo, hi)


def _luminance(rgba: Sequence[float]) -> float:
    """WCAG relative luminance of an RGB(A) colour in 0–1."""
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


# ---------------------------------------------------------------------------- answer distribution
def response_distribution(
    data: Any, codebook: Any = None, items: list[str] | None = None, ax: Axes | None = None,
    language: str = "en",
) -> Figure:
    """Stacked bars per item: the share of respondents giving each grade of the item's scale
    (grades named by the scale's labels in ``language``)."""
    lang = _language(language)
    frame = as_frame(data)
    book = codebook if codebook is not None else getattr(data, "codebook", None)
    if book is None:
        from csi_research.data.codebook import Codebook

        book = Codebook.default()
    ids = list(items) if items is not None else [i for i in book.item_ids if i in frame.columns]
    if not ids:
        raise ModelSpecError("no codebook item is a column of the data: pass items=[...] present in both")
    scales = {book.item(i).scale for i in ids}
    if len(scales) > 1:
        raise ModelSpecError(f"items use several scales ({', '.join(sorted(scales))}): plot one at a time")
    scale = book.scales[scales.pop()]
    # each grade's share of an item's answers (missing ones left out, as value_counts does), all
    # items at once; an item nobody answered has no share of any grade
    answers = frame[ids]
    answered = answers.notna().sum().to_numpy()
    shares = pd.DataFrame({code: np.divide((answers == code).sum().to_numpy(), answered,
                                           out=np.zeros(len(ids)), where=answered > 0)
                           for code in scale.codes}, index=ids)
    own = ax is None
    fig, ax = _axes(ax, (7.0, 1.6 + 0.32 * len(ids)))
    names = scale.labels_zh if lang == "zh" else scale.labels_en
    colours = sns.color_palette("RdYlGn", len(scale.codes))
    left = np.zeros(len(ids))
    where = np.arange(len(ids))
    bottom = where - BAR_HEIGHT / 2
    firsts = []
    for k, code in enumerate(scale.codes):
        # the bars barh would draw, added without its update of the data limits bar by bar (the
        # costliest part of this figure): the limits are the bars' extent, set once below
        bars = [ax.add_artist(Rectangle((x, y), width, BAR_HEIGHT, facecolor=colours[k], gid=f"grade:{code}"))
                for y, x, width in zip(bottom, left, shares[code].to_numpy(), strict=True)]
        for bar, x in zip(bars, left, strict=True):
            bar.sticky_edges.x.append(x)
            bar.set_in_layout(False)  # inside the axes: nothing for the layout to make room for
        firsts.append(bars[0])  # the grade's legend entry, as barh's container would show it
        left += shares[code].to_numpy()
    ax.update_datalim([(0.0, bottom.min()), (left.max(), (bottom + BAR_HEIGHT).max())])
    ax.autoscale_view()
    ax.set_yticks(where, ids)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    ax.set_xlabel("受访者占比" if lang == "zh" else "Share of respondents")
    ax.set_ylabel(_column_label("item", lang))
    ax.legend(firsts, [str(name) for name in names], ncols=min(5, len(scale.codes)), fontsize=7,
              loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _finish(fig, ax, own)
