"""Fuzzy comprehensive evaluation: a hand-computed two-level example and the CSD identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csi_research.codebook import Codebook, Scale
from csi_research.errors import SurveyDataError
from csi_research.evaluation.fuzzy import fuzzy_evaluation, membership_matrix
from csi_research.evaluation.hierarchy import ahp_hierarchy
from csi_research.indices import grade_score_index

# A three-grade scale with scores 0 / 60 / 100 keeps the arithmetic checkable by hand.
SCALE3 = Scale("three", (1, 2, 3), ("差", "中", "好"), ("poor", "fair", "good"), (0.0, 60.0, 100.0))

# Ten respondents (one more with i2 missing, which must be excluded, not counted):
#   i1: grade 1 ×2, grade 2 ×3, grade 3 ×5  -> r1 = (0.2, 0.3, 0.5)
#   i2: grade 1 ×5, grade 2 ×5               -> r2 = (0.5, 0.5, 0.0)
#   i3: grade 1 ×1, grade 2 ×2, grade 3 ×7  -> r3 = (0.1, 0.2, 0.7)
DATA = pd.DataFrame({
    "i1": [1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3],
    "i2": [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, np.nan],
    "i3": [1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
})
# Hand-computed with the first ten rows (row 11 adds a grade 3 to i1 and i3; see below).
SPEC = {
    "overall": {"children": ["A", "B"], "weights": {"A": 0.7, "B": 0.3}},
    "A": {"children": ["i1", "i2"], "weights": {"i1": 0.6, "i2": 0.4}},
    "B": {"children": ["i3"], "weights": "equal"},
}


def test_membership_matrix_excludes_missing():
    r = membership_matrix(DATA.iloc[:10], ["i1", "i2", "i3"], SCALE3)
    np.testing.assert_allclose(r.to_numpy(), [[0.2, 0.3, 0.5], [0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    # row 11: i1 and i3 grade 3, i2 missing -> i2 still over 10 answers
    r11 = membership_matrix(DATA, ["i2"], SCALE3)
    np.testing.assert_allclose(r11.to_numpy(), [[0.5, 0.5, 0.0]])


def test_survey_weighted_membership_by_hand():
    w = np.array([0.5, 2.0, 1.0, 1.5, 0.2, 3.0, 1.0, 0.7, 1.1, 0.8, 4.0])
    # i2: grade 1 on rows 0-4 (weights sum 5.2), grade 2 on rows 5-9 (6.6), row 10 missing
    r = membership_matrix(DATA, ["i1", "i2", "i3"], SCALE3, w)
    np.testing.assert_allclose(r.loc["i2"], [5.2 / 11.8, 6.6 / 11.8, 0.0])
    # every item: weighted share of each grade among the respondents who answered it
    x = DATA.to_numpy()
    expected = np.empty((3, 3))
    for i in range(3):
        answered = ~np.isnan(x[:, i])
        for j, code in enumerate((1, 2, 3)):
            expected[i, j] = w[answered & (x[:, i] == code)].sum() / w[answered].sum()
    np.testing.assert_allclose(r.to_numpy(), expected)
    # composed up the hierarchy exactly as the unweighted shares are
    result = fuzzy_evaluation(DATA, ahp_hierarchy(SPEC), scale=SCALE3, survey_weights=w)
    a = 0.6 * expected[0] + 0.4 * expected[1]
    np.testing.assert_allclose(result.memberships.loc["overall"], 0.7 * a + 0.3 * expected[2])
    assert result.n == len(DATA) and result.diagnostics == []
    # weights all 1 are the plain shares
    np.testing.assert_allclose(membership_matrix(DATA, ["i2"], SCALE3, np.ones(len(DATA))),
                               membership_matrix(DATA, ["i2"], SCALE3))
    with pytest.raises(SurveyDataError, match="3 survey weights for 11 rows"):
        membership_matrix(DATA, ["i2"], SCALE3, np.ones(3))


def test_two_level_weighted_composition_by_hand():
    result = fuzzy_evaluation(DATA.iloc[:10], ahp_hierarchy(SPEC), scale=SCALE3)
    m = result.memberships
    # B_A = 0.6·(0.2, 0.3, 0.5) + 0.4·(0.5, 0.5, 0) = (0.32, 0.38, 0.30)
    np.testing.assert_allclose(m.loc["A"], [0.32, 0.38, 0.30])
    # B = 0.7·(0.32, 0.38, 0.30) + 0.3·(0.1, 0.2, 0.7) = (0.254, 0.326, 0.420)
    np.testing.assert_allclose(m.loc["overall"], [0.254, 0.326, 0.420])
    t = result.table.set_index("node")
    # score = 0.326·60 + 0.420·100 = 61.56; A: 0.38·60 + 0.30·100 = 52.8
    assert result.score == pytest.approx(61.56)
    assert t.loc["A", "score"] == pytest.approx(52.8)
    assert t.loc["overall", "max_grade"] == 3 and t.loc["overall", "max_grade_label"] == "good"
    assert t.loc["A", "max_grade"] == 2  # 0.38 is A's largest membership


def test_maxmin_operator_by_hand():
    result = fuzzy_evaluation(DATA.iloc[:10], ahp_hierarchy(SPEC), scale=SCALE3, operator="maxmin")
    m = result.memberships
    # A: min(0.6, r1) = (0.2, 0.3, 0.5); min(0.4, r2) = (0.4, 0.4, 0); max = (0.4, 0.4, 0.5) / 1.3
    np.testing.assert_allclose(m.loc["A"], np.array([0.4, 0.4, 0.5]) / 1.3)
    # B has one child with weight 1: min(1, r3) = r3
    np.testing.assert_allclose(m.loc["B"], [0.1, 0.2, 0.7])
    # overall: min(0.7, A) = A (all < 0.7); min(0.3, B) = (0.1, 0.2, 0.3)
    a = np.array([0.4, 0.4, 0.5]) / 1.3
    top = np.maximum(a, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(m.loc["overall"], top / top.sum())


def test_weighted_composition_equals_weighted_average_grade_distribution_and_csd():
    # M(·,+) is the weighted average of the grade distributions, so B·X is the industry's
    # CSD = Σ_i Σ_j K_i X_j n_ij. Checked against grade_score_index (averages grade scores of
    # answers, a different computation) on the default questionnaire with random weights.
    rng = np.random.default_rng(3)
    book = Codebook.default()
    items = book.item_ids
    data = pd.DataFrame(rng.integers(1, 6, size=(400, len(items))).astype(float), columns=items)
    data = data.mask(rng.random(data.shape) < 0.05)
    level_weights = {
        "item": {i: float(rng.uniform(0.5, 2)) for i in items},
        "subindicator": {s: float(rng.uniform(0.5, 2)) for s in book.subindicators},
        "construct": {c: float(rng.uniform(0.5, 2)) for c in book.constructs},
    }
    spec = {"overall": {"children": list(book.constructs), "weights": level_weights["construct"]}}
    for c in book.constructs:
        subs = [s for s, v in book.subindicators.items() if v.construct == c]
        spec[c] = {"children": subs, "weights": {s: level_weights["subindicator"][s] for s in subs}}
    for s in book.subindicators:
        kids = [i.id for i in book.items if i.subindicator == s]
        spec[s] = {"children": kids, "weights": {i: level_weights["item"][i] for i in kids}}
    result = fuzzy_evaluation(data, ahp_hierarchy(spec), codebook=book)
    reference = grade_score_index(data, book, weights=level_weights).set_index("node")["score"]
    assert result.score == pytest.approx(reference["overall"], abs=1e-9)
    t = result.table.set_index("node")
    for c in book.constructs:
        assert t.loc[c, "score"] == pytest.approx(reference[c], abs=1e-9)
    # one level: B = Σ K_i R_i, and B·X = Σ_i K_i · (mean grade score of item i)
    k = pd.Series(level_weights["item"]).iloc[:5]
    one = fuzzy_evaluation(data, k, codebook=book)
    r = membership_matrix(data, list(k.index), book.scales["semantic5"])
    np.testing.assert_allclose(one.memberships.loc["overall"], (k / k.sum()) @ r)
    scores = data[k.index].replace({1: 0, 2: 40, 3: 60, 4: 80, 5: 100}).mean()
    assert one.score == pytest.approx(float((k / k.sum()) @ scores))


def test_answer_outside_the_scale_is_named():
    bad = DATA.iloc[:10].copy()
    bad.loc[4, "i3"] = 9
    with pytest.raises(SurveyDataError, match=r"column i3 row 4: answer 9"):
        membership_matrix(bad, ["i3"], SCALE3)
