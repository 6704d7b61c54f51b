"""Figures under Agg: what is drawn matches the numbers (arrows per path, lines at means, shares),
every label is in the figure's language, and every figure renders in the package's font without a
single warning, whenever it is drawn."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import logging
import re
import warnings
from io import BytesIO

import matplotlib.figure
import numpy as np
import pandas as pd
import PIL.Image
import pytest
from figure_checks import assert_fits
from matplotlib import colormaps, font_manager
from matplotlib.patches import FancyArrowPatch
from matplotlib.path import Path
from matplotlib.text import Text

from csi_research import Codebook, CSIModel, ModelSpecError
from csi_research.core import fonts
from csi_research.data.sample import prepare
from csi_research.render import plots
from csi_research.render.plots import heatmap, index_bars, ipma_map, path_diagram, response_distribution
from csi_research.stats.ipma import QUADRANTS_ZH, ipma
from csi_research.stats.pls import fit_pls


def survey(n: int = 300, seed: int = 5) -> pd.DataFrame:
    """Answers 1-5 to the default questionnaire from one common factor (enough for a PLS fit)."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 1, n)
    items = CSIModel.default().items
    return pd.DataFrame(
        {i: np.clip(np.round(3.8 + 0.7 * common + rng.normal(0, 0.7, n)), 1, 5) for i in items}
    )


@pytest.fixture(scope="module")
def fitted():
    model = CSIModel.default()
    frame = survey()
    return model, frame, fit_pls(prepare(model, frame, codebook=Codebook.default()))


def texts(fig, prefix):
    return {t.get_gid(): t.get_text() for ax in fig.axes for t in ax.texts
            if str(t.get_gid()).startswith(prefix)}


def boxes(ax):
    return {p.get_gid().split(":")[1]: (p.get_x(), p.get_y()) for p in ax.patches
            if str(p.get_gid()).startswith("construct:")}


def test_path_diagram_draws_one_arrow_and_coefficient_per_path(fitted):
    model, _, fit = fitted
    fig = path_diagram(model, fit)
    ax = fig.axes[0]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert sorted(a.get_gid() for a in arrows) == sorted(f"path:{s}->{t}" for s, t in model.paths)
    coefs = texts(fig, "coef:")
    assert len(coefs) == len(model.paths)
    est = fit.paths.set_index(["source", "target"])["estimate"]
    assert coefs["coef:Satisfaction->Loyalty"].startswith(f"{est['Satisfaction', 'Loyalty']:.2f}")
    labels = texts(fig, "label:")
    assert f"R² = {fit.r2['Satisfaction']:.2f}" in labels["label:Satisfaction"]
    assert labels["label:Quality"].startswith("Perceived quality")
    # layered left to right: every arrow points to a later layer
    where = boxes(ax)
    assert all(where[s][0] < where[t][0] for s, t in model.paths)
    fig.canvas.draw()


def test_stars_from_given_significance(fitted):
    model, _, fit = fitted
    sig = pd.DataFrame([(s, t, 0.2) for s, t in model.paths], columns=["source", "target", "p_value"])
    sig.loc[0, "p_value"] = 0.0005
    sig.loc[1, ["p_value"]] = np.nan
    sig["ci_lower"], sig["ci_upper"] = -0.1, 0.3
    sig.loc[1, "ci_lower"] = 0.05
    coefs = texts(path_diagram(model, fit, significance=sig), "coef:")
    s0, t0 = model.paths[0]
    s1, t1 = model.paths[1]
    s2, t2 = model.paths[2]
    assert coefs[f"coef:{s0}->{t0}"].endswith("***")
    assert coefs[f"coef:{s1}->{t1}"].endswith("*") and not coefs[f"coef:{s1}->{t1}"].endswith("**")
    assert not coefs[f"coef:{s2}->{t2}"].endswith("*")


def test_user_model_layout():
    model = CSIModel({"A": ["a"], "B": ["b"], "C": ["c"], "D": ["d"]}, [("A", "C"), ("B", "C"), ("C", "D")])
    fit = type("Fit", (), {"paths": pd.DataFrame({"source": ["A", "B", "C"], "target": ["C", "C", "D"],
                                                   "estimate": [0.4, -0.2, 0.5]})})()
    ax = path_diagram(model, fit).axes[0]
    where = boxes(ax)
    assert where["A"][0] == where["B"][0] < where["C"][0] < where["D"][0]
    assert where["A"][1] != where["B"][1]
    assert len([p for p in ax.patches if isinstance(p, FancyArrowPatch)]) == 3


def test_chinese_labels(fitted):
    model, _, fit = fitted
    fig = path_diagram(model, fit, language="zh")
    assert texts(fig, "label:")["label:Image"].startswith("企业形象")


def test_index_bars_whiskers_and_threshold():
    frame = pd.DataFrame({"construct": ["Image", "Quality", "Satisfaction"], "index": [78.0, 71.5, 74.2],
                          "ci_lower": [75.0, 69.0, 72.0], "ci_upper": [81.0, 74.0, 76.5]})
    fig = index_bars(frame)
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted(frame["index"])
    segments = [c for c in ax.collections if len(c.get_segments())]
    spans = sorted(abs(s[1][1] - s[0][1]) for s in segments[0].get_segments())
    assert spans == pytest.approx(sorted(frame["ci_upper"] - frame["ci_lower"]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Image", "Perceived quality", "Satisfaction"]
    threshold = next(line for line in ax.lines if line.get_gid() == "threshold")
    assert threshold.get_ydata()[0] == 80.0
    south = frame.assign(region="South", index=frame["index"] - 5, ci_lower=frame["ci_lower"] - 5)
    grouped = pd.concat([frame.assign(region="North"), south])
    assert len(index_bars(grouped, hue="region").axes[0].patches) == 6
    assert len(index_bars(frame.set_index("construct")["index"]).axes[0].patches) == 3


def test_ipma_map_quadrant_lines_at_means(fitted):
    _, _, fit = fitted
    result = ipma(fit)
    for level, table in (("construct", result.constructs), ("item", result.items)):
        ax = ipma_map(result, level=level).axes[0]
        lines = {line.get_gid(): line for line in ax.lines}
        assert lines["mean-importance"].get_xdata()[0] == pytest.approx(table["importance"].mean())
        assert lines["mean-performance"].get_ydata()[0] == pytest.approx(table["performance"].mean())
        offsets = ax.collections[0].get_offsets()
        assert np.asarray(offsets) == pytest.approx(table[["importance", "performance"]].to_numpy())
        assert len([t for t in ax.texts if str(t.get_gid()).startswith("point:")]) == len(table)
    labels = [t.get_text() for t in ipma_map(result).axes[0].texts]
    assert "Perceived quality" in labels


def test_heatmap_pivots_tidy_loadings(fitted):
    _, _, fit = fitted
    fig = heatmap(fit.loadings, index="item", columns="construct", values="loading", title="Loadings")
    ax = fig.axes[0]
    assert ax.get_title() == "Loadings"
    shown = [t.get_text() for t in ax.texts if t.get_text() not in ("", "nan")]
    assert len(shown) == len(fit.loadings)
    assert f"{fit.loadings['loading'].iloc[0]:.2f}" in shown


def test_response_distribution_shares_per_grade():
    frame = pd.DataFrame({"SAT1": [1, 2, 2, 5], "SAT2": [5, 5, 5, 4]})
    fig = response_distribution(frame, Codebook.default())
    ax = fig.axes[0]
    scale = Codebook.default().scales["semantic5"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(scale.labels_en)
    widths = {}
    for p in ax.patches:
        widths.setdefault(p.get_gid(), []).append(p.get_width())
    assert widths["grade:2"] == pytest.approx([0.5, 0.0])
    assert widths["grade:5"] == pytest.approx([0.25, 0.75])
    totals = np.sum([w for w in widths.values()], axis=0)
    assert totals == pytest.approx([1.0, 1.0])


# ---------------------------------------------------------------------------- every figure, both languages
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{3,}\b")  # item ids (SAT1) and R² are not words


def ranking(language: str) -> pd.DataFrame:
    """A comparison's ranking: regions ranked within each wave (a region may be missing from one)."""
    names = {"zh": ["北岭", "南川", "东港", "西山"],
             "en": ["Beiling", "Nanchuan", "Donggang", "Xishan"]}[language]
    return pd.DataFrame({
        "rank": [1, 2, 3, 1, 2, 3, 4], "wave": ["2024"] * 3 + ["2025"] * 4,
        "region": [names[0], names[1], names[2], names[1], names[0], names[3], names[2]],
        "index": [82.0, 78.5, 75.0, 84.0, 80.2, 79.0, 76.0],
        "ci_lower": [80.0, 76.0, 72.0, 82.0, 78.0, 77.0, 73.0],
        "ci_upper": [84.0, 81.0, 78.0, 86.0, 82.0, 81.0, 79.0], "level": 0.9,
    })


def region_table(language: str) -> pd.DataFrame:
    """Construct × region-wave indices, as compare.index_table gives them."""
    columns = {"zh": ["北岭 2024", "南川 2024", "北岭 2025"],
               "en": ["Beiling 2024", "Nanchuan 2024", "Beiling 2025"]}
    return pd.DataFrame([[82.0, 78.5, 80.0], [70.0, 79.9, 88.0], [91.0, 77.0, 60.5]],
                        index=pd.Index(["Satisfaction", "Quality", "Loyalty"], name="construct"),
                        columns=columns[language])


def make(name: str, language: str, fitted) -> object:
    model, frame, fit = fitted
    sig = pd.DataFrame([(s, t, 0.01, 0.95) for s, t in model.paths],
                       columns=["source", "target", "p_value", "level"])
    indices = pd.DataFrame({"construct": model.names, "index": np.linspace(70, 85, 7), "level": 0.95,
                            "ci_lower": np.linspace(67, 82, 7), "ci_upper": np.linspace(73, 88, 7)})
    if name == "path_diagram":
        return path_diagram(model, fit, significance=sig, language=language)
    if name == "index_bars":
        return index_bars(indices, language=language)
    if name == "index_bars_hue":
        both = pd.concat([indices.assign(construct_group="a"), indices.assign(construct_group="b")])
        return index_bars(both.rename(columns={"construct_group": "region"}), hue="region", language=language)
    if name == "index_bars_waves":
        return index_bars(ranking(language), x="region", wave="wave", threshold=80, language=language)
    if name in ("ipma_map", "ipma_map_items"):
        return ipma_map(ipma(fit), level="item" if name.endswith("items") else "construct", language=language)
    if name == "heatmap_target":
        return heatmap(region_table(language), center=80, language=language)
    if name == "heatmap_loadings":
        return heatmap(fit.loadings, index="item", columns="construct", values="loading", language=language)
    if name == "response_distribution":
        return response_distribution(frame, Codebook.default(), items=["SAT1", "SAT2", "LOY1"],
                                     language=language)
    raise AssertionError(name)


FIGURES = ["path_diagram", "index_bars", "index_bars_hue", "index_bars_waves", "ipma_map", "ipma_map_items",
           "heatmap_target", "heatmap_loadings", "response_distribution"]


def all_texts(fig) -> list[Text]:
    """Every text drawn, tick labels included (they exist only once the figure is drawn)."""
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_renders_without_warnings_in_the_package_font(fitted, name, language, caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = make(name, language, fitted)
    # every context is over, as when Jupyter draws the figure after the cell ran
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="matplotlib"):
        warnings.simplefilter("error")
        for fmt in ("png", "pdf", "svg"):
            fig.savefig(BytesIO(), format=fmt)
        # and drawn again after a notebook changed the default font (sns.set_theme(), a style sheet)
        with matplotlib.rc_context({"font.family": ["serif"], "font.serif": ["DejaVu Serif"]}):
            fig.savefig(BytesIO(), format="png")
            ours = str(fonts.font_file())
            used = {str(font_manager.findfont(t.get_fontproperties())) for t in all_texts(fig)}
    assert used == {ours}
    assert caplog.records == []


EXPECTED_ZH = {
    "path_diagram": ["客户满意度\nR² = ", "* 95% 自助法置信区间不含 0"],
    "index_bars": ["客户满意度", "感知质量", "指数 (0–100)", "目标 80", "误差线：95% 自助法置信区间"],
    "index_bars_hue": ["客户满意度", "地区", "目标 80"],
    "index_bars_waves": ["调查年度：2024", "调查年度：2025", "北岭", "指数 (0–100)", "目标 80"],
    "ipma_map": ["重要性–表现分析：客户满意度", "感知质量", "重要性（总效应）", "表现 (0–100)",
                 *QUADRANTS_ZH.values()],
    "ipma_map_items": ["重要性–表现分析：客户满意度", *QUADRANTS_ZH.values()],
    "heatmap_target": ["客户满意度", "构面", "北岭 2024", "指数 (0–100)，目标 80"],
    "heatmap_loadings": ["客户满意度", "构面", "题项"],
    "response_distribution": [*Codebook.default().scales["semantic5"].labels_zh, "受访者占比", "题项"],
}
EXPECTED_EN = {
    "path_diagram": ["Satisfaction\nR² = ", "* the 95% bootstrap interval excludes zero"],
    "index_bars": ["Satisfaction", "Perceived quality", "Index (0–100)", "target 80"],
    "index_bars_hue": ["Satisfaction", "Region"],
    "index_bars_waves": ["Wave: 2024", "Wave: 2025", "Beiling"],
    "ipma_map": ["Importance–performance map: Satisfaction", "Concentrate here", "Keep up the good work",
                 "Low priority", "Possible overkill"],
    "ipma_map_items": ["Concentrate here", "Importance (total effect)"],
    "heatmap_target": ["Satisfaction", "Construct", "Index (0–100), target 80"],
    "heatmap_loadings": ["Perceived quality", "Construct", "Item"],
    "response_distribution": [*Codebook.default().scales["semantic5"].labels_en, "Share of respondents"],
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_label_is_in_the_figure_language(fitted, name):
    zh = [t.get_text() for t in all_texts(make(name, "zh", fitted))]
    en = [t.get_text() for t in all_texts(make(name, "en", fitted))]
    for expected in EXPECTED_ZH[name]:
        assert any(text.startswith(expected) for text in zh), (expected, zh)
    for expected in EXPECTED_EN[name]:
        assert any(text.startswith(expected) for text in en), (expected, en)
    assert [t for t in zh if ENGLISH_WORD.search(t)] == []
    assert [t for t in en if CJK.search(t)] == []


def test_language_is_checked(fitted):
    model, _, fit = fitted
    with pytest.raises(ValueError, match="language"):
        path_diagram(model, fit, language="fr")
    with pytest.raises(ValueError, match="language"):
        heatmap(region_table("en"), language="de")


# ---------------------------------------------------------------------------- heatmap centred on the target
def colour(ax, value):
    mesh = ax.collections[0]
    return np.array(mesh.cmap(mesh.norm(value)))


def test_heatmap_diverges_around_the_target():
    table = region_table("en")  # 60.5 … 91, target 80: 19.5 below, 11 above
    fig = heatmap(table, center=80, language="en")
    ax = fig.axes[0]
    rdbu = colormaps["RdBu"]
    # one symmetric scale: the target is the map's middle, equal distances give mirrored positions
    assert colour(ax, 80) == pytest.approx(rdbu(0.5), abs=0.02)
    assert colour(ax, 60.5) == pytest.approx(rdbu(0.0), abs=0.02)
    assert colour(ax, 91) == pytest.approx(rdbu(0.5 + 11 / 39), abs=0.02)
    assert colour(ax, 70)[2] < colour(ax, 70)[0]  # below: red
    assert colour(ax, 88)[2] > colour(ax, 88)[0]  # above: blue
    cells = {t.get_gid(): t.get_text() for t in ax.texts}
    assert cells["cell:0,0"] == "82.0" and cells["cell:2,2"] == "60.5"  # one decimal, rows as given
    assert all(re.fullmatch(r"\d+\.\d", text) for text in cells.values())
    bar = fig.axes[1]
    assert bar.get_ylabel() == "Index (0–100), target 80"
    (line,) = [ln for ln in bar.lines if ln.get_gid() == "center"]
    assert line.get_ydata()[0] == 80
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Satisfaction", "Perceived quality", "Loyalty"]
    assert heatmap(table, center=80, language="zh").axes[1].get_ylabel() == "指数 (0–100)，目标 80"


def test_heatmap_all_above_the_target_and_fixed_range():
    above = region_table("en").clip(lower=81)
    ax = heatmap(above, center=80).axes[0]
    assert all(colour(ax, v)[2] > colour(ax, v)[0] for v in above.to_numpy().ravel())  # all blue
    fixed = heatmap(region_table("en"), center=80, vmin=50, vmax=100, label="CSI").axes
    assert fixed[0].collections[0].norm.vmin == 50 and fixed[0].collections[0].norm.vmax == 100
    assert fixed[1].get_ylabel() == "CSI"


def test_heatmap_without_centre_keeps_two_decimals_and_zero_middle():
    htmt = pd.DataFrame([[np.nan, 0.5], [0.5, np.nan]], index=["Image", "Value"], columns=["Image", "Value"])
    ax = heatmap(htmt, title="HTMT").axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.50"]  # NaN cells stay empty
    assert colour(ax, 0.0) == pytest.approx(colormaps["RdBu_r"](0.5), abs=0.02)


# ---------------------------------------------------------------------------- index bars per wave
def test_index_bars_one_panel_per_wave_in_ranking_order():
    table = ranking("en")
    fig = index_bars(table, x="region", wave="wave", threshold=80)
    assert len(fig.axes) == 2
    for ax, (wave, part) in zip(fig.axes, table.groupby("wave", sort=True), strict=True):
        assert ax.get_title() == f"Wave: {wave}"
        fig.canvas.draw()
        assert [t.get_text() for t in ax.get_xticklabels()] == list(part["region"])
        assert [p.get_height() for p in ax.patches] == list(part["index"])
        assert any(line.get_gid() == "threshold" for line in ax.lines)
    # one wave: on the caller's axes
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    assert index_bars(table[table["wave"] == "2025"], x="region", wave="wave", ax=ax).axes == [ax]
    with pytest.raises(ModelSpecError, match="2 waves"):
        index_bars(table, x="region", wave="wave", ax=Figure().subplots())
    with pytest.raises(ModelSpecError, match="no column 'year'"):
        index_bars(table, x="region", wave="year")


def test_index_bars_use_the_frames_own_labels():
    frame = pd.DataFrame({"construct": ["Trust"], "label_zh": ["信任"], "label_en": ["Trust in the utility"],
                          "index": [77.0]})
    ax = index_bars(frame, language="zh").axes[0]
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["信任"]


# ---------------------------------------------------------------------------- PNG bytes for the reports
def test_to_png_is_reproducible(fitted):
    model, _, fit = fitted
    first = plots.to_png(path_diagram(model, fit, language="zh"))
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"Software" not in first and b"matplotlib" not in first  # no version stamp
    assert plots.to_png(path_diagram(model, fit, language="zh")) == first
    fig = path_diagram(model, fit, language="zh")
    assert plots.to_png(fig) == plots.to_png(fig)  # rendering does not change the figure
    assert len(plots.to_png(fig, dpi=50)) < len(first)


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", FIGURES)
def test_every_text_is_inside_the_figure(fitted, name, language):
    """PNGs are not cropped to a tight box (that would draw every figure twice): the layout must fit."""
    assert_fits(make(name, language, fitted))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_ipma_point_labels_stay_inside_the_axes(language):
    """The point furthest right (and every other) keeps its label inside the plot, long names too."""
    names = ["Image", "Expectation", "Quality", "Value", "Complaints"]
    table = pd.DataFrame({"construct": names, "importance": [0.05, 0.1, 0.2, 0.3, 0.6],
                          "performance": [70, 75, 80, 85, 90], "label_zh": ["企业形象（长名称测试）"] * 5,
                          "label_en": [f"{n}: a long construct name" for n in names]})

    class Result:
        constructs = table
        target_labels = ("客户满意度", "Satisfaction")

    fig = ipma_map(Result(), language=language)
    fig.draw_without_rendering()
    ax = fig.axes[0]
    for text in ax.texts:
        if str(text.get_gid()).startswith("point:"):
            extent = text.get_window_extent()
            assert ax.bbox.x0 <= extent.x0 and extent.x1 <= ax.bbox.x1, text.get_text()


def test_path_arrows_run_from_box_edge_to_box_edge(fitted):
    model, _, fit = fitted
    ax = path_diagram(model, fit).axes[0]
    centre = {n: (x + plots.BOX_W / 2, y + plots.BOX_H / 2) for n, (x, y) in boxes(ax).items()}
    half = np.array([plots.BOX_W, plots.BOX_H]) / 2
    for arrow in (p for p in ax.patches if isinstance(p, FancyArrowPatch)):
        source, target = arrow.get_gid().removeprefix("path:").split("->")
        path = arrow.get_path()  # the drawn outline, line and head, in data units
        points = path.vertices[path.codes != Path.CLOSEPOLY]
        start = points[0]
        end = points[np.argmin(np.abs(points - centre[target]).sum(axis=1))]  # the head's tip
        for point, box in ((start, centre[source]), (end, centre[target])):
            gap = np.abs(point - box) - half  # > 0 on an axis: beyond the box's side
            assert gap.max() > 0, (arrow.get_gid(), point)  # outside the box ...
            assert gap.max() < 0.15, (arrow.get_gid(), point)  # ... and just off its edge


# ---------------------------------------------------------------------------- drawn once, as savefig draws
def savefig_pixels(fig, dpi: int = plots.PRINT_DPI) -> np.ndarray:
    """The reference: matplotlib's own savefig (a dry draw for the layout, then the real one)."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return np.asarray(PIL.Image.open(buffer).convert("RGBA"))


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", FIGURES)
def test_to_png_has_the_pixels_savefig_draws(fitted, name, language):
    png = plots.to_png(make(name, language, fitted))
    image = PIL.Image.open(BytesIO(png))
    assert image.mode == "RGB"  # opaque figures: no alpha channel to store
    assert image.info["dpi"] == pytest.approx((plots.PRINT_DPI, plots.PRINT_DPI), abs=0.01)
    assert set(image.info) <= {"dpi"}  # no software or time stamp
    reference = savefig_pixels(make(name, language, fitted))
    assert np.array_equal(np.asarray(image.convert("RGBA")), reference)


def test_to_png_restores_the_figure(fitted):
    fig = make("heatmap_target", "en", fitted)
    canvas, engine, dpi = fig.canvas, fig.get_layout_engine(), fig.dpi
    plots.to_png(fig)
    assert fig.canvas is canvas and fig.get_layout_engine() is engine and fig.dpi == dpi


def test_a_transparent_figure_keeps_its_alpha():
    fig = index_bars(pd.DataFrame({"construct": ["Image"], "index": [77.0]}))
    fig.patch.set_alpha(0.0)
    image = PIL.Image.open(BytesIO(plots.to_png(fig)))
    assert image.mode == "RGBA" and image.getextrema()[3][0] == 0


def test_answer_bars_are_those_barh_draws():
    """The reference is barh itself: the same rectangles, the same axis limits, the same legend."""
    frame = pd.DataFrame({"SAT1": [1, 2, 2, 5, np.nan], "SAT2": [5, 5, 5, 4, 3], "LOY1": [3, 3, 1, 2, 5]})
    book = Codebook.default()
    ax = response_distribution(frame, book, language="en").axes[0]
    scale = book.scales["semantic5"]
    reference = matplotlib.figure.Figure(figsize=ax.figure.get_size_inches(), layout="constrained").subplots()
    left = np.zeros(3)
    for code, colour in zip(scale.codes, plots.sns.color_palette("RdYlGn", len(scale.codes)), strict=True):
        share = frame.apply(lambda c, code=code: (c == code).sum() / c.notna().sum()).to_numpy()
        reference.barh(np.arange(3), share, left=left, color=colour, label="x", gid=f"grade:{code}")
        left += share
    reference.invert_yaxis()
    reference.set_xlim(0, 1)

    def rectangles(axes):  # barh's widths are (left + width) - left: equal up to rounding
        return [(p.get_gid(), p.get_facecolor()) for p in axes.patches], np.array(
            [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in axes.patches])

    (names, corners), (reference_names, reference_corners) = rectangles(ax), rectangles(reference)
    assert names == reference_names
    assert corners == pytest.approx(reference_corners, abs=1e-12)
    assert ax.get_ylim() == reference.get_ylim() and ax.get_xlim() == reference.get_xlim()
    assert ax.dataLim.bounds == pytest.approx(reference.dataLim.bounds, abs=1e-12)
    handles = ax.get_legend().legend_handles
    assert [h.get_facecolor() for h in handles] == [c[0].get_facecolor() for c in reference.containers]


@pytest.mark.parametrize("name", ["path_diagram", "heatmap_loadings", "heatmap_target",
                                  "response_distribution"])
def test_what_the_layout_does_not_measure_lies_inside_the_axes(fitted, name):
    fig = make(name, "en", fitted)
    fig.draw_without_rendering()
    unmeasured = [a for ax in fig.axes for a in ax.get_children() if not a.get_in_layout()]
    assert unmeasured
    for artist in unmeasured:
        extent, box = artist.get_window_extent(), artist.axes.bbox
        assert box.x0 - 0.5 <= extent.x0 and extent.x1 <= box.x1 + 0.5, (artist.get_gid(), extent, box)
        assert box.y0 - 0.5 <= extent.y0 and extent.y1 <= box.y1 + 0.5, (artist.get_gid(), extent, box)


@pytest.mark.parametrize("name", FIGURES)
def test_the_font_reaches_every_text_the_ticks_aside(fitted, name):
    """fonts.apply walks every text but the tick labels (tick_params sets those), as findobj would."""
    fig = make(name, "en", fitted)
    for ax in fig.axes:
        walked = fonts._texts(ax)
        every = ax.findobj(Text)  # makes the ticks of the current limits, hence after the walk
        ticks = {t for axis in (ax.xaxis, ax.yaxis) for tick in axis.majorTicks + axis.minorTicks
                 for t in (tick.label1, tick.label2)}
        assert len(walked) == len(set(walked)) and set(walked) == set(every) - ticks
