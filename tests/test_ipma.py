"""IPMA: unstandardised total effects recovered on simulated data, item shares, priorities, sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csi_research import Codebook, CSIModel, ModelSpecError
from csi_research.estimation.pls import fit_pls
from csi_research.indices import csi_indices
from csi_research.ipma import describe_priorities, ipma


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
    result = ipma(fit_pls(model, frame), frame, target="Y", scale_min=-100, scale_max=200)
    c = result.constructs.set_index("construct")
    # true totals: A -> Y = 0.3 + 0.5 * 0.4 = 0.5, M -> Y = 0.4; OLS SE ~0.007 and ~0.012 at n = 4000
    assert c.loc["A", "importance"] == pytest.approx(0.5, abs=0.03)
    assert c.loc["M", "importance"] == pytest.approx(0.4, abs=0.05)
    assert c.loc["A", "performance"] == pytest.approx((frame["a"].mean() + 100) / 3)
    assert "Y" not in c.index
    gain = c.loc["A", "importance"] * (100 - c.loc["A", "performance"])
    assert c.loc["A", "potential_gain"] == pytest.approx(gain)
    with pytest.raises(ModelSpecError, match="no construct has a path to A"):
        ipma(fit_pls(model, frame), frame, target="A", scale_min=-100, scale_max=200)


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
    fit = fit_pls(model, frame)
    result = ipma(fit, frame, codebook=Codebook.default())
    items = result.items.set_index("item")
    constructs = result.constructs.set_index("construct")
    for name in ("Image", "Quality"):
        block = list(model.constructs[name])
        assert items.loc[block, "importance"].sum() == pytest.approx(constructs.loc[name, "importance"])
    assert items.loc["QUA3", "performance"] == pytest.approx((frame["QUA3"].mean() - 1) / 4 * 100)
    # performance is the ACSI index of the construct
    idx = csi_indices(fit, frame, codebook=Codebook.default())
    assert constructs.loc["Quality", "performance"] == pytest.approx(idx["Quality"])
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
    result = ipma(fit_pls(model, frame), frame, codebook=Codebook.default())
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
