"""Figures under Agg: what is drawn matches the numbers (arrows per path, lines at means, shares)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import FancyArrowPatch

from csi_research import Codebook, CSIModel, CSIWarning, plots
from csi_research.estimation.pls import fit_pls
from csi_research.ipma import ipma
from csi_research.plots import heatmap, index_bars, ipma_map, path_diagram, response_distribution
from csi_research.sample import prepare


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


def test_chinese_without_font_falls_back_once(fitted, monkeypatch):
    model, _, fit = fitted
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    with pytest.warns(CSIWarning, match="no CJK font"):
        fig = path_diagram(model, fit, language="zh")
    assert texts(fig, "label:")["label:Image"].startswith("Image")


def test_every_figure_without_a_cjk_font_says_so(fitted, monkeypatch):
    import warnings

    model, _, fit = fitted
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    # no module state remembers an earlier warning: each Chinese figure that falls back says so
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            path_diagram(model, fit, language="zh")
    assert sum(str(w.message).startswith("no CJK font") for w in caught) == 3


def test_chinese_labels_with_a_font(fitted, monkeypatch):
    model, _, fit = fitted
    monkeypatch.setattr(plots, "cjk_font", lambda: "DejaVu Sans")  # stands in for an installed CJK font
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
