"""IPMA: unstandardised total effects recovered on simulated data, item importance, priorities, sentences."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from csi_research import Codebook, CSIModel, CSIWarning, ModelSpecError
from csi_research.data.sample import prepare
from csi_research.stats.indices import csi_indices
from csi_research.stats.ipma import describe_priorities, ipma, lowest_performers_note
from csi_research.stats.pls import fit_pls

BOOK = Codebook.default()


@pytest.fixture(scope="module")
def chain():
    """Single-item constructs in index units: M = 20 + 0.5 A + e, Y = 10 + 0.3 A + 0.4 M + e."""
    rng = np.random.default_rng(3)
    n = 4000
    a = rng.normal(60, 15, n)
    m = 20 + 0.5 * a + rng.normal(0, 8, n)
    y = 10 + 0.3 * a + 0.4 * m + rng.normal(0, 6, n)
    frame = pd.DataFrame({"a": a, "m": m, "y": y})
    model = CSIModel({"A": ["a"], "M": ["m"], "Y": ["y"]}, [("A", "M"), ("A", "Y"), ("M", "Y")])
    return model, frame


def test_total_effects_in_index_units_recover_truth(chain):
    model, frame = chain
    # any linear answer scale: effects between 0-100 indices are the same as between the raw units
    fit = fit_pls(prepare(model, frame, scale_min=-100, scale_max=200))
    result = ipma.quiet(fit, target="Y")
    c = result.constructs.set_index("construct")
    # true totals: A -> Y = 0.3 + 0.5 * 0.4 = 0.5, M -> Y = 0.4; OLS SE ~0.007 and ~0.012 at n = 4000
    assert c.loc["A", "importance"] == pytest.approx(0.5, abs=0.03)
    assert c.loc["M", "importance"] == pytest.approx(0.4, abs=0.05)
    assert c.loc["A", "performance"] == pytest.approx((frame["a"].mean() + 100) / 3)
    assert "Y" not in c.index
    gain = c.loc["A", "importance"] * (100 - c.loc["A", "performance"])
    assert c.loc["A", "potential_gain"] == pytest.approx(gain)
    # no codebook and no standard construct names: every driver item is ranked, and the result says so
    assert sorted(result.priorities["item"]) == ["a", "m"] and result.context.empty
    assert any("none of the constructs Quality, Value, Complaints" in d for d in result.diagnostics)
    # single items: importance is the plain correlation with y
    corr = frame.corr()["y"]
    items = result.items.set_index("item")
    assert items.loc["a", "importance"] == pytest.approx(corr["a"], abs=1e-9)
    assert items.loc["m", "importance"] == pytest.approx(corr["m"], abs=1e-9)
    with pytest.raises(ModelSpecError, match="no construct has a path to A"):
        ipma(fit, target="A")


def weak_link_survey(n: int = 1500, seed: int = 11, image_shift: float = 0.3,
                     extra: dict[str, tuple[float, float]] | None = None) -> tuple[CSIModel, pd.DataFrame]:
    """1-5 answers; Quality's third item (service hall) is the sharpest measure and rated lowest.

    ``extra`` adds Quality items: id → (shift, noise) around the same Quality latent.
    """
    rng = np.random.default_rng(seed)
    image = rng.normal(0, 1, n)
    quality = 0.3 * image + rng.normal(0, 1, n)
    sat = 0.15 * image + 0.8 * quality + rng.normal(0, 0.6, n)

    def answers(latent, shift, noise):
        return np.clip(np.round(3.6 + shift + 0.8 * latent + rng.normal(0, noise, n)), 1, 5)

    frame = pd.DataFrame({
        "IMG1": answers(image, image_shift, 0.6), "IMG2": answers(image, image_shift, 0.6),
        "QUA1": answers(quality, 0.4, 0.9), "QUA2": answers(quality, 0.4, 0.9),
        "QUA3": answers(quality, -0.9, 0.3),
        "SAT1": answers(sat, 0.0, 0.5), "SAT2": answers(sat, 0.0, 0.5),
    })
    for item, (shift, noise) in (extra or {}).items():
        frame[item] = answers(quality, shift, noise)
    model = CSIModel(
        {"Image": ["IMG1", "IMG2"], "Quality": ["QUA1", "QUA2", "QUA3", *(extra or {})],
         "Satisfaction": ["SAT1", "SAT2"]},
        [("Image", "Quality"), ("Image", "Satisfaction"), ("Quality", "Satisfaction")],
    )
    return model, frame


def _index_scores(fit, lo: float, hi: float) -> pd.DataFrame:
    """Each respondent's 0-100 construct scores: rescaled items × the fit's weights normalised per block."""
    raw = fit.raw_weights()
    x = fit.sample.x
    scores = {}
    for name, items in fit.model.constructs.items():
        share = raw[list(items)] / raw[list(items)].sum()
        scores[name] = ((x[list(items)] - lo) / (hi - lo) * 100).to_numpy() @ share.to_numpy()
    return pd.DataFrame(scores, index=x.index)


def _weighted_corr(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    c = np.cov(np.vstack([a, b]), aweights=w)
    return float(c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]))


def test_importance_is_the_correlation_with_the_target_score_and_the_weak_link_ranks_first():
    model, frame = weak_link_survey()
    fit = fit_pls(prepare(model, frame, codebook=BOOK))
    result = ipma(fit)  # target: the model's (Satisfaction)
    assert result.target == "Satisfaction" and result.n == len(frame)
    items = result.items.set_index("item")
    # by hand: each respondent's Satisfaction index score, then Pearson's r with the raw answers
    satisfaction = _index_scores(fit, 1.0, 5.0)["Satisfaction"].to_numpy()
    for item in ("IMG1", "IMG2", "QUA1", "QUA2", "QUA3"):
        expected = np.corrcoef(frame[item], satisfaction)[0, 1]
        assert items.loc[item, "importance"] == pytest.approx(expected, abs=1e-9), item
    assert "SAT1" not in items.index  # the target's own items are not drivers
    assert items.loc["QUA3", "performance"] == pytest.approx((frame["QUA3"].mean() - 1) / 4 * 100)
    # performance of a construct is its ACSI index; construct importance stays the total effect
    constructs = result.constructs.set_index("construct")
    assert constructs.loc["Quality", "performance"] == csi_indices(fit)["Quality"]
    # only actionable aspects are ranked; Image is context
    gains = {i: items.loc[i, "importance"] * (100 - items.loc[i, "performance"])
             for i in ("QUA1", "QUA2", "QUA3")}
    assert list(result.priorities["item"]) == sorted(gains, key=gains.get, reverse=True)
    assert result.priorities["item"].iloc[0] == "QUA3"
    assert list(result.priorities["rank"]) == [1, 2, 3]
    assert list(result.context["item"]) == ["IMG1", "IMG2"]
    assert list(result.context.columns) == ["item", "construct", "label_zh", "label_en", "performance",
                                            "importance"]
    assert items["actionable"].to_dict() == {"IMG1": False, "IMG2": False, "QUA1": True, "QUA2": True,
                                             "QUA3": True}
    top = result.priorities.iloc[0]
    assert top["potential_gain"] == pytest.approx(top["importance"] * (100 - top["performance"]))
    assert top["quadrant"] == "concentrate here"
    assert top["label_en"] == BOOK.item("QUA3").text_en
    assert top["subindicator"] == "channels" and top["subindicator_zh"] == "服务渠道"
    assert top["measures_zh"] == "；".join(m.zh for m in BOOK.measures_for("QUA3"))
    assert top["measures_en"] == "; ".join(m.en for m in BOOK.measures_for("QUA3"))
    assert top["kpis"] == "outlets_per_10k_households"
    # quadrant lines at the means of the actionable items only
    p = result.priorities.set_index("item")
    high = p["importance"] >= p["importance"].mean()
    good = p["performance"] >= p["performance"].mean()
    names = {(True, False): "concentrate here", (True, True): "keep up the good work",
             (False, False): "low priority", (False, True): "possible overkill"}
    for item in p.index:
        assert p.loc[item, "quadrant"] == names[(high[item], good[item])]
    assert result.diagnostics == []


def test_tables_are_plain_json_and_csv():
    model, frame = weak_link_survey()
    result = ipma(fit_pls(prepare(model, frame, codebook=BOOK)))
    for table in (result.priorities, result.context, result.items, result.constructs):
        json.loads(table.to_json(orient="records", force_ascii=False))
        assert table.to_csv(index=False)
        for column in table.columns:
            assert table[column].dtype.kind in "biufO", column
            if table[column].dtype.kind == "O":
                assert all(isinstance(v, str) for v in table[column]), column
    assert set(result.summary()) == {"constructs", "priorities", "context"}


def test_sentences_describe_the_priorities_in_both_languages():
    model, frame = weak_link_survey()
    result = ipma(fit_pls(prepare(model, frame, codebook=BOOK)))
    en = describe_priorities(result, top=2)
    zh = describe_priorities(result, language="zh", top=2)
    assert len(en) == 2 and len(zh) == 2
    item = BOOK.item("QUA3")
    top = result.priorities.iloc[0]
    assert en[0].startswith(f"Priority 1: “{item.text_en}” (Service channels, QUA3).")
    assert f"Performance {top['performance']:.1f}, the lowest of 3 actionable aspects" in en[0]
    assert f"importance {top['importance']:.2f} (its correlation with Satisfaction" in en[0]
    assert f"potential gain {top['potential_gain']:.1f}." in en[0]
    assert zh[0].startswith(f"第1优先：服务渠道中的“{item.text_zh}”（QUA3）。")
    assert f"表现{top['performance']:.1f}分，在3个可改进方面中最低" in zh[0]
    assert f"重要性{top['importance']:.2f}（即与客户满意度的相关系数" in zh[0]
    for line in zh:  # full-width punctuation only
        assert not re.search(r"[,;:()]", line), line
    note_en = lowest_performers_note(result)
    note_zh = lowest_performers_note(result, "zh")
    assert "The lowest-rated actionable aspect is “Service hall facilities and environment”" in note_en
    assert "priority 1), among the top 3 priorities." in note_en
    assert note_zh.startswith("可改进方面中表现最低的是服务渠道中的“营业厅的设施与环境”（QUA3，")
    assert "第1优先），它在前3项优先改进之列。" in note_zh
    with pytest.raises(ValueError, match="language"):
        describe_priorities(result, language="fr")
    with pytest.raises(ValueError, match="language"):
        lowest_performers_note(result, language="fr")


def test_a_low_rated_aspect_outside_the_top_is_explained():
    # QUA8: rated lowest of all but nearly pure noise, so it barely moves with satisfaction
    model, frame = weak_link_survey(extra={"QUA8": (-1.4, 3.0)})
    result = ipma(fit_pls(prepare(model, frame, codebook=BOOK)))
    p = result.priorities.set_index("item")
    assert p["performance"].idxmin() == "QUA8" and p.loc["QUA8", "rank"] > 3
    better = p[(p["rank"] <= 3) & (p["performance"] >= p.loc["QUA8", "performance"])]["importance"]
    assert (better > p.loc["QUA8", "importance"]).all()  # what the note claims, checked on the table
    en = lowest_performers_note(result, "en")
    zh = lowest_performers_note(result, "zh")
    assert "“Convenience of paying bills” (Service items, QUA8;" in en
    assert (f"QUA8 is not among the top 3 priorities: it moves less with Satisfaction than the better-rated "
            f"top priorities (importance {p.loc['QUA8', 'importance']:.2f} against {better.min():.2f}–"
            f"{better.max():.2f})") in en
    assert "QUA8未进入前3项优先改进：它与客户满意度的关联弱于前3项中表现更好的方面（重要性" in zh
    assert not re.search(r"[,;:()]", zh)


def test_a_context_item_rated_lowest_is_called_context():
    model, frame = weak_link_survey(image_shift=-1.6)
    result = ipma(fit_pls(prepare(model, frame, codebook=BOOK)))
    worst = result.items.set_index("item")["performance"].idxmin()
    assert worst in ("IMG1", "IMG2") and worst not in set(result.priorities["item"])
    en = lowest_performers_note(result, "en")
    zh = lowest_performers_note(result, "zh")
    assert f"The lowest score of all items is for the Image item “{BOOK.item(worst).text_en}” ({worst}," in en
    assert "context for reading the results, not actions" in en
    assert f"全部题项中得分最低的是企业形象题项“{BOOK.item(worst).text_zh}”（{worst}，" in zh
    assert "不作为改进措施的对象" in zh


def _with_holes(frame: pd.DataFrame, seed: int, rate: float = 0.05) -> pd.DataFrame:
    return frame.mask(np.random.default_rng(seed).random(frame.shape) < rate)


def _survey_weights(n: int, seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.3, 3.0, n)


@pytest.mark.parametrize(("missing", "weighted"), [("em", False), ("em", True), ("mean", True),
                                                   ("listwise", True)])
def test_performance_is_the_acsi_index(missing, weighted):
    model, frame = weak_link_survey()
    data = _with_holes(frame, seed=2)
    w = _survey_weights(len(data)) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(prepare(model, data, missing=missing, weights=w, codebook=BOOK))
    result = ipma(fit)
    idx = csi_indices(fit)
    constructs = result.constructs.set_index("construct")
    assert set(constructs.index) == {"Image", "Quality"}
    for name in constructs.index:
        assert constructs.loc[name, "performance"] == idx[name], name
    assert result.n == idx.attrs["n"] == fit.n
    items = result.items.set_index("item")
    lo, hi = 1.0, 5.0
    np.testing.assert_allclose(items["performance"], (fit.sample.mean[items.index] - lo) / (hi - lo) * 100,
                               atol=1e-12)


def _wls(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares with an intercept, by ordinary least squares on sqrt-weight-scaled rows."""
    design = np.column_stack([np.ones(len(y)), x]) * np.sqrt(w)[:, None]
    return np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)[0][1:]


def test_weighted_importance_is_weighted_least_squares_on_index_scores():
    model, frame = weak_link_survey()
    w = _survey_weights(len(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(prepare(model, frame, weights=w, codebook=BOOK))
    result = ipma(fit)
    scores = _index_scores(fit, 1.0, 5.0)
    names = model.names
    direct = np.zeros((len(names), len(names)))
    for target in model.endogenous:
        preds = model.predecessors(target)
        coef = _wls(scores[target].to_numpy(), scores[preds].to_numpy(), w)
        for p, b in zip(preds, coef, strict=True):
            direct[names.index(p), names.index(target)] = b
    total = np.linalg.inv(np.eye(len(names)) - direct) - np.eye(len(names))
    constructs = result.constructs.set_index("construct")
    k = names.index("Satisfaction")
    for name in ("Image", "Quality"):
        expected = total[names.index(name), k]
        assert constructs.loc[name, "importance"] == pytest.approx(expected, abs=1e-9), name
    effects = result.total_effects.set_index(["source", "target"])["total"]
    assert effects[("Image", "Quality")] == pytest.approx(direct[0, 1], abs=1e-9)
    # the weights matter: ordinary least squares gives another importance
    ols = _wls(scores["Satisfaction"].to_numpy(), scores[["Image", "Quality"]].to_numpy(), np.ones(len(w)))
    assert abs(ols[1] - constructs.loc["Quality", "importance"]) > 1e-4
    # and performance is the weighted mean of the index scores
    for name in ("Image", "Quality"):
        expected = np.average(scores[name], weights=w)
        assert constructs.loc[name, "performance"] == pytest.approx(expected, abs=1e-9)
    # item importance: the survey-weighted correlation with the weighted Satisfaction index score
    items = result.items.set_index("item")
    x = fit.sample.x
    for item in ("IMG1", "QUA1", "QUA3"):
        expected = _weighted_corr(x[item].to_numpy(), scores["Satisfaction"].to_numpy(), w)
        assert items.loc[item, "importance"] == pytest.approx(expected, abs=1e-9), item
    unweighted = np.corrcoef(x["QUA1"], scores["Satisfaction"])[0, 1]
    assert abs(unweighted - items.loc["QUA1", "importance"]) > 1e-4


def test_mean_imputed_importance_uses_the_completed_answers():
    model, frame = weak_link_survey()
    fit = fit_pls(prepare(model, _with_holes(frame, seed=5), missing="mean", codebook=BOOK))
    items = ipma(fit).items.set_index("item")
    satisfaction = _index_scores(fit, 1.0, 5.0)["Satisfaction"].to_numpy()
    for item in ("IMG2", "QUA2"):
        expected = np.corrcoef(fit.sample.x[item], satisfaction)[0, 1]
        assert items.loc[item, "importance"] == pytest.approx(expected, abs=1e-9), item


def test_target_defaults_to_the_model_target_and_must_exist():
    model, frame = weak_link_survey()
    fit = fit_pls(prepare(model, frame, codebook=BOOK))
    assert ipma(fit).target == ipma(fit, target="Satisfaction").target == "Satisfaction"
    quality = ipma.quiet(fit, target="Quality")
    assert list(quality.constructs["construct"]) == ["Image"]
    # Quality's drivers are Image only (context) and Satisfaction is an outcome: nothing to rank
    assert quality.priorities.empty and list(quality.priorities.columns)[:3] == ["rank", "item", "construct"]
    assert list(quality.context["item"]) == ["IMG1", "IMG2"]
    assert any("no actionable item outside Quality" in d for d in quality.diagnostics)
    assert describe_priorities(quality)[0].startswith("No actionable aspect to rank")
    assert lowest_performers_note(quality, "zh").startswith("全部题项中得分最低的是企业形象题项")
    with pytest.raises(ModelSpecError, match="not a construct"):
        ipma(fit, target="Loyalty")
    untargeted = CSIModel({"A": ["IMG1", "IMG2"], "B": ["QUA1", "QUA2"]}, [("A", "B")])
    assert untargeted.target is None
    with pytest.raises(ModelSpecError, match="no target construct"):
        ipma(fit_pls(prepare(untargeted, frame, codebook=BOOK)))


def test_unmarked_codebook_falls_back_to_the_standard_constructs_and_says_so():
    spec = yaml.safe_load(BOOK.to_yaml())
    for sub in spec["subindicators"].values():
        sub.pop("actionable", None)
    book = Codebook.from_dict(spec)
    assert book.unmarked_subindicators == list(spec["subindicators"])
    model, frame = weak_link_survey()
    marked = ipma(fit_pls(prepare(model, frame, codebook=BOOK)))
    with pytest.warns(CSIWarning, match="no 'actionable' mark for image, supply_quality, channels:"):
        result = ipma(fit_pls(prepare(model, frame, codebook=book)))
    assert "assumed actionable" in result.diagnostics[0] and "actionable: true" in result.diagnostics[0]
    pd.testing.assert_frame_equal(result.priorities, marked.priorities)
    # without any codebook the same fallback applies, with item ids for texts
    bare = ipma.quiet(fit_pls(prepare(model, frame, scale_min=1, scale_max=5)), target="Satisfaction")
    assert list(bare.priorities["item"]) == list(marked.priorities["item"])
    assert bare.priorities["measures_en"].eq("").all() and bare.priorities["label_en"].eq(
        bare.priorities["item"]).all()
    assert any(d.startswith("the sample has no codebook") for d in bare.diagnostics)
    assert describe_priorities(bare)[0].startswith("Priority 1: QUA3. Performance")
