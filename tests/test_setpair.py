"""Set pair analysis: hand-computed five-element connection degrees, the invariants (ideal → 1,
worst → −1, monotone upward), the grade bands, and agreement with the fuzzy grade and the
ACSI-style index where the case is clear."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csi_research.core.errors import ModelSpecError, SurveyDataError
from csi_research.data.codebook import Codebook
from csi_research.evaluation.fuzzy import fuzzy_evaluation, membership_matrix
from csi_research.evaluation.setpair import (
    compare_evaluations,
    connection_coefficients,
    set_pair_analysis,
    spa_bands,
    spa_edges,
    spa_grade,
)

SCALE = Codebook.default().scale_of("QUA1")  # semantic5: very dissatisfied (1) ... very satisfied (5)
CODES = list(SCALE.codes)


def shares(rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows.values()), index=list(rows), columns=CODES)


def test_hand_computed_five_element_degree():
    """Shares, lowest grade first: q1 (0.03, 0.07, 0.20, 0.40, 0.30); q2 (0, 0, 0.10, 0.50, 0.40).

    q1: a = 0.30, b1 = 0.40, b2 = 0.20, b3 = 0.07, c = 0.03;
        μ = 0.30 + 0.5·0.40 + 0·0.20 − 0.5·0.07 − 0.03 = 0.435 → [0.2, 0.6) fairly satisfied (4).
    q2: μ = 0.40 + 0.5·0.50 = 0.65 → [0.6, 1] very satisfied (5) with equal bands, but
        [0.25, 0.75) fairly satisfied (4) with nearest bands.
    Overall with weights (0.6, 0.4): μ = 0.6·0.435 + 0.4·0.65 = 0.521 → fairly satisfied (both).
    """
    m = shares({"q1": [0.03, 0.07, 0.20, 0.40, 0.30], "q2": [0, 0, 0.10, 0.50, 0.40]})
    res = set_pair_analysis(m, SCALE, weights={"q1": 3, "q2": 2})
    t = res.table.set_index("indicator")
    np.testing.assert_allclose(t["mu"], [0.435, 0.65, 0.521], atol=1e-12)
    np.testing.assert_allclose(t.loc["q1", ["a", "b1", "b2", "b3", "c", "b"]].astype(float),
                               [0.30, 0.40, 0.20, 0.07, 0.03, 0.67], atol=1e-12)
    assert list(t["grade"]) == [4, 5, 4]
    assert t.loc["q2", "grade_label_zh"] == "很满意" and t.loc["overall", "weight"] == 1.0
    np.testing.assert_allclose(t["weight"].iloc[:2], [0.6, 0.4])
    assert res.mu == pytest.approx(0.521)
    nearest = set_pair_analysis(m, SCALE, weights={"q1": 3, "q2": 2}, bands="nearest")
    assert list(nearest.table["grade"]) == [4, 4, 4]


def test_coefficients_and_bands():
    np.testing.assert_allclose(connection_coefficients(5), [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_allclose(connection_coefficients(3), [-1, 0, 1])  # three-element: i = 0
    np.testing.assert_allclose(spa_edges(5), [-0.6, -0.2, 0.2, 0.6])
    np.testing.assert_allclose(spa_edges(5, "nearest"), [-0.75, -0.25, 0.25, 0.75])
    # exact edges go up; float noise just below an edge does not drop a grade
    assert list(spa_grade([-1, -0.6, 0.2, 0.6 - 1e-15, 0.5999, 1], 5)) == [0, 1, 3, 4, 3, 4]
    b = spa_bands(SCALE)
    assert list(b["label_en"]) == list(SCALE.labels_en) and b["upper"].iloc[-1] == 1.0
    with pytest.raises(ModelSpecError, match="bands must be one of"):
        spa_edges(5, "quantile")


def test_invariants_ideal_worst_and_monotone():
    m = shares({"top": [0, 0, 0, 0, 1], "bottom": [1, 0, 0, 0, 0], "middle": [0, 0, 1, 0, 0]})
    t = set_pair_analysis(m, SCALE).table.set_index("indicator")
    assert t.loc["top", "mu"] == 1.0 and t.loc["bottom", "mu"] == -1.0 and t.loc["middle", "mu"] == 0.0
    assert list(t["grade"].iloc[:3]) == [5, 1, 3]
    rng = np.random.default_rng(7)
    for _ in range(50):
        p = rng.dirichlet(np.ones(5))
        g = int(rng.integers(0, 4))
        eps = p[g] * rng.uniform(0.1, 1)
        q = p.copy()
        q[g] -= eps
        q[g + 1] += eps  # move some answers up one grade
        mu = set_pair_analysis.quiet(shares({"p": list(p), "q": list(q)}), SCALE).table["mu"].to_numpy()
        assert mu[1] - mu[0] == pytest.approx(eps * 0.5)  # each step up is worth 2/(n−1) = 0.5
        assert mu[1] > mu[0]


def test_errors_name_the_problem():
    with pytest.raises(SurveyDataError, match=r"indicator q1: grade shares .* sum to 1"):
        set_pair_analysis(shares({"q1": [0.5, 0.2, 0, 0, 0]}), SCALE)
    with pytest.raises(SurveyDataError, match="must be the grade codes"):
        set_pair_analysis(pd.DataFrame([[0.5, 0.5]], index=["q1"], columns=[1, 2]), SCALE)
    m = shares({"q1": [0, 0, 0, 0, 1], "q2": [0, 0, 0, 1, 0]})
    with pytest.raises(ModelSpecError, match=r"missing \['q2'\]"):
        set_pair_analysis(m, SCALE, weights={"q1": 1})


# 20 respondents on the semantic5 scale
DATA = pd.DataFrame({
    "QUA1": [5] * 8 + [4] * 8 + [3] * 4,               # shares (0, 0, .2, .4, .4)
    "QUA2": [4] * 10 + [3] * 6 + [2] * 2 + [1] * 2,    # shares (.1, .1, .3, .5, 0)
})


def test_compare_three_methods_by_hand():
    """Weights (0.7, 0.3). Overall shares = 0.7 (0, 0, .2, .4, .4) + 0.3 (.1, .1, .3, .5, 0)
    = (.03, .03, .23, .43, .28).
    fuzzy score = .03·40 + .23·60 + .43·80 + .28·100 = 77.4 → [70, 90) fairly satisfied;
    μ = .28 + .5·.43 − .5·.03 − .03 = 0.45 → [0.2, 0.6) fairly satisfied;
    ACSI-style (codes 1..5 → 0, 25, 50, 75, 100) = .03·25 + .23·50 + .43·75 + .28·100 = 72.5
    = 50 (μ + 1) → nearest rescaled code 75: fairly satisfied.
    """
    w = pd.Series({"QUA1": 0.7, "QUA2": 0.3})
    res = compare_evaluations(DATA, w, scale=SCALE)
    wide = res.wide()
    root = wide.iloc[0]
    assert root["fuzzy"] == pytest.approx(77.4) and root["set_pair"] == pytest.approx(0.45)
    assert root["acsi"] == pytest.approx(72.5)
    assert root[["fuzzy_grade", "set_pair_grade", "acsi_grade"]].tolist() == ["fairly satisfied"] * 3
    # the ACSI-style index is the affine image of μ for evenly spaced codes
    np.testing.assert_allclose(wide["acsi"], 50 * (wide["set_pair"] + 1), atol=1e-12)
    # the SPA of the root equals the weighted SPA of the leaves (μ is linear)
    leaves = set_pair_analysis.quiet(membership_matrix(DATA, ["QUA1", "QUA2"], SCALE), SCALE, weights=w)
    assert leaves.mu == pytest.approx(root["set_pair"])
    assert res.set_pair.mu == pytest.approx(0.45)  # the root is the overall row
    assert set(res.table["method"]) == {"fuzzy", "set_pair", "acsi"} and len(res.table) == 9
    over = compare_evaluations(DATA, w, scale=SCALE, acsi_index=91.0).wide()
    assert over["acsi"].iloc[0] == 91.0 and over["acsi_grade"].iloc[0] == "very satisfied"


@pytest.mark.parametrize("code", CODES)
def test_clear_cases_agree_with_fuzzy(code):
    """Everyone answers the same grade: the three methods must give that grade."""
    data = pd.DataFrame({"QUA1": [code] * 6, "QUA2": [code] * 6})
    res = compare_evaluations(data, pd.Series({"QUA1": 0.5, "QUA2": 0.5}), scale=SCALE).wide()
    label = SCALE.labels_en[CODES.index(code)]
    assert (res[["fuzzy_grade", "set_pair_grade", "acsi_grade"]] == label).all().all()


def test_clear_distributions_agree_with_fuzzy_grade():
    """Distributions concentrated on one grade with the rest next to it (mass ≥ 0.8 on the grade)."""
    for g in range(5):
        p = np.zeros(5)
        p[g] = 0.85
        p[g - 1 if g == 4 else g + 1] += 0.15
        data = pd.DataFrame({"QUA1": np.repeat(CODES, (p * 20).round().astype(int))})
        fuzzy = fuzzy_evaluation.quiet(data, pd.Series({"QUA1": 1.0}), scale=SCALE)
        spa = set_pair_analysis.quiet(fuzzy.memberships.loc[["QUA1"]], SCALE)
        assert spa.table["grade"].iloc[0] == fuzzy.table["grade"].iloc[-1] == CODES[g]
