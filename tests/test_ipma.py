"""IPMA: unstandardised total effects recovered on simulated data, item shares, priorities, sentences."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from csi_research import Codebook, CSIModel, CSIWarning, ModelSpecError
from csi_research.estimation.pls import fit_pls
from csi_research.indices import csi_indices
from csi_research.ipma import describe_priorities, ipma
from csi_research.sample import prepare


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
    result = ipma(fit, target="Y")
    c = result.constructs.set_index("construct")
    # true totals: A -> Y = 0.3 + 0.5 * 0.4 = 0.5, M -> Y = 0.4; OLS SE ~0.007 and ~0.012 at n = 4000
    assert c.loc["A", "importance"] == pytest.approx(0.5, abs=0.03)
    assert c.loc["M", "importance"] == pytest.approx(0.4, abs=0.05)
    assert c.loc["A", "performance"] == pytest.approx((frame["a"].mean() + 100) / 3)
    assert "Y" not in c.index
    gain = c.loc["A", "importance"] * (100 - c.loc["A", "performance"])
    assert c.loc["A", "potential_gain"] == pytest.approx(gain)
    with pytest.raises(ModelSpecError, match="no construct has a path to A"):
        ipma(fit, target="A")


def weak_link_survey(n: int = 1500, seed: int = 11) -> tuple[CSIModel, pd.DataFrame]:
    """1-5 answers; Quality's third item (service hall) is the sharpest measure and rated lowest."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0, 1, n)
    quality = 0.3 * image + rng.normal(0, 1, n)
    sat = 0.15 * image + 0.8 * quality + rng.normal(0, 0.6, n)

    def answers(latent, shift, noise):
        return np.clip(np.round(3.6 + shift + 0.8 * latent + rng.normal(0, noise, n)), 1, 5)

    frame = pd.DataFrame({
        "IMG1": answers(image, 0.3, 0.6), "IMG2": answers(image, 0.3, 0.6),
        "QUA1": answers(quality, 0.4, 0.9), "QUA2": answers(quality, 0.4, 0.9),
        "QUA3": answers(quality, -0.9, 0.3),
        "SAT1": answers(sat, 0.0, 0.5), "SAT2": answers(sat, 0.0, 0.5),
    })
    model = CSIModel(
        {"Image": ["IMG1", "IMG2"], "Quality": ["QUA1", "QUA2", "QUA3"], "Satisfaction": ["SAT1", "SAT2"]},
        [("Image", "Quality"), ("Image", "Satisfaction"), ("Quality", "Satisfaction")],
    )
    return model, frame


def test_items_share_construct_importance_and_weak_link_ranks_first():
    model, frame = weak_link_survey()
    fit = fit_pls(prepare(model, frame, codebook=Codebook.default()))
    result = ipma(fit)  # target: the model's (Satisfaction)
    assert result.target == "Satisfaction" and result.n == len(frame)
    items = result.items.set_index("item")
    constructs = result.constructs.set_index("construct")
    for name in ("Image", "Quality"):
        block = list(model.constructs[name])
        assert items.loc[block, "importance"].sum() == pytest.approx(constructs.loc[name, "importance"])
    assert items.loc["QUA3", "performance"] == pytest.approx((frame["QUA3"].mean() - 1) / 4 * 100)
    # performance is the ACSI index of the construct
    idx = csi_indices(fit)
    assert constructs.loc["Quality", "performance"] == idx["Quality"]
    top = result.priorities.iloc[0]
    assert top["item"] == "QUA3" and top["rank"] == 1
    assert top["quadrant"] == "concentrate here"
    assert items["importance"].idxmax() == "QUA3" and items["performance"].idxmin() == "QUA3"
    assert top["label_en"] == Codebook.default().item("QUA3").text_en
    # quadrant lines at the means
    high = items["importance"] >= items["importance"].mean()
    assert (items.loc[high, "quadrant"].isin(["concentrate here", "keep up the good work"])).all()


def test_sentences_name_the_weak_link_in_both_languages():
    model, frame = weak_link_survey()
    result = ipma(fit_pls(prepare(model, frame, codebook=Codebook.default())))
    en = describe_priorities(result, top=2)
    zh = describe_priorities(result, language="zh", top=2)
    assert len(en) == 3 and len(zh) == 3
    text = Codebook.default().item("QUA3")
    assert text.text_en in en[1] and "has the highest importance and the lowest performance" in en[1]
    assert text.text_zh in zh[1] and "重要性最高且表现最低" in zh[1]
    assert "Perceived quality" in en[0] and "感知质量" in zh[0] and "客户满意度" in zh[0]
    assert set(result.summary()) == {"constructs", "priorities"}
    with pytest.raises(ValueError, match="language"):
        describe_priorities(result, language="fr")


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
        fit = fit_pls(prepare(model, data, missing=missing, weights=w, codebook=Codebook.default()))
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


def _index_scores(fit, lo: float, hi: float) -> pd.DataFrame:
    """Each respondent's 0-100 construct scores: rescaled items × the fit's weights normalised per block."""
    raw = fit.raw_weights()
    x = fit.sample.x
    scores = {}
    for name, items in fit.model.constructs.items():
        share = raw[list(items)] / raw[list(items)].sum()
        scores[name] = ((x[list(items)] - lo) / (hi - lo) * 100).to_numpy() @ share.to_numpy()
    return pd.DataFrame(scores, index=x.index)


def _wls(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares with an intercept, by ordinary least squares on sqrt-weight-scaled rows."""
    design = np.column_stack([np.ones(len(y)), x]) * np.sqrt(w)[:, None]
    return np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)[0][1:]


def test_weighted_importance_is_weighted_least_squares_on_index_scores():
    model, frame = weak_link_survey()
    w = _survey_weights(len(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(prepare(model, frame, weights=w, codebook=Codebook.default()))
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


def test_target_defaults_to_the_model_target_and_must_exist():
    model, frame = weak_link_survey()
    fit = fit_pls(prepare(model, frame, codebook=Codebook.default()))
    assert ipma(fit).target == ipma(fit, target="Satisfaction").target == "Satisfaction"
    quality = ipma(fit, target="Quality").constructs
    assert list(quality["construct"]) == ["Image"]
    with pytest.raises(ModelSpecError, match="not a construct"):
        ipma(fit, target="Loyalty")
    untargeted = CSIModel({"A": ["IMG1", "IMG2"], "B": ["QUA1", "QUA2"]}, [("A", "B")])
    assert untargeted.target is None
    with pytest.raises(ModelSpecError, match="no target construct"):
        ipma(fit_pls(prepare(untargeted, frame, codebook=Codebook.default())))
