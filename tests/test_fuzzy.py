"""Fuzzy comprehensive evaluation: a hand-computed two-level example, the CSD identity, the
score-band grade (never contradicting the score) and the validity of the maximum membership."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csi_research.core.errors import ModelSpecError, SurveyDataError
from csi_research.data.codebook import Codebook, Scale
from csi_research.evaluation.fuzzy import (
    MIN_MAX_VALIDITY,
    band_edges,
    fuzzy_evaluation,
    grade_bands,
    max_membership_validity,
    membership_matrix,
    score_grade,
    validity_class,
)
from csi_research.evaluation.hierarchy import ahp_hierarchy
from csi_research.stats.indices import grade_score_index

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
    # SCALE3 bands (midpoints of 0/60/100): [0, 30) poor, [30, 80) fair, [80, 100] good
    assert t.loc["overall", "grade"] == 2 and t.loc["overall", "grade_label_en"] == "fair"
    assert t.loc["overall", "grade_label_zh"] == "中"
    assert t.loc["A", "grade"] == 2
    # max membership: overall 0.420 ("good") vs 0.326, α = (3·0.42 − 1) / (2·0.326·2) = 0.26 / 1.304;
    # A: 0.38 vs 0.32, α = (3·0.38 − 1) / (2·0.32·2) = 0.14 / 1.28 — both too weak to report
    assert t.loc["overall", "max_validity"] == pytest.approx(0.26 / 1.304)
    assert t.loc["A", "max_validity"] == pytest.approx(0.109375)
    assert pd.isna(t.loc["overall", "max_grade"]) and pd.isna(t.loc["A", "max_grade"])
    assert t.loc["overall", "max_grade_label_en"] == "" and t.loc["overall", "max_grade_label_zh"] == ""
    # i3 = (0.1, 0.2, 0.7): score 12 + 70 = 82 -> good; α = (2.1 − 1) / (2·0.2·2) = 1.375 -> reported
    assert t.loc["i3", "score"] == pytest.approx(82.0) and t.loc["i3", "grade_label_en"] == "good"
    assert t.loc["i3", "max_validity"] == pytest.approx(1.375)
    assert t.loc["i3", "max_grade"] == 3 and t.loc["i3", "max_grade_label_en"] == "good"
    assert t.loc["i3", "max_grade_label_zh"] == "好"


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


# ---------------------------------------------------------------- grading
SEMANTIC5 = Codebook.default().scales["semantic5"]
TEN = Codebook.default().scales["ten"]


def one_item(counts: list[int], scale=SEMANTIC5):
    """A one-item evaluation whose membership vector is counts / sum(counts), exactly."""
    answers = np.repeat(scale.codes, counts).astype(float)
    return fuzzy_evaluation(pd.DataFrame({"q": answers}), pd.Series({"q": 1.0}), scale=scale)


def test_band_edges_are_the_midpoints_of_the_grade_scores():
    np.testing.assert_allclose(band_edges(SEMANTIC5.grade_scores), [20, 50, 70, 90])
    np.testing.assert_allclose(band_edges((0, 60, 100)), [30, 80])
    # ten-point scale, grade scores 100·k/9: edges at 100·(k + ½)/9
    np.testing.assert_allclose(band_edges(TEN.grade_scores), [100 * (k + 0.5) / 9 for k in range(9)])
    bands = grade_bands(SEMANTIC5)
    assert bands["label_zh"].tolist() == ["很不满意", "不太满意", "基本满意", "比较满意", "很满意"]
    assert bands["lower"].tolist() == [0, 20, 50, 70, 90]
    assert bands["upper"].tolist() == [20, 50, 70, 90, 100]
    assert bands["code"].tolist() == [1, 2, 3, 4, 5]


def test_scores_at_and_beside_the_band_edges():
    scores = [0, 19.99, 20, 49.99, 50, 69.99, 70, 89.99, 90, 100]
    assert score_grade(scores, SEMANTIC5.grade_scores).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    # exact edges from answers: (0, 0, 0, ½, ½) -> 90; (0, 0, ½, ½, 0) -> 70; (0, ½, ½, 0, 0) -> 50;
    # (½, ½, 0, 0, 0) -> 20; (51, 49, 0, 0, 0)% -> 19.6
    for counts, score, code in [([0, 0, 0, 1, 1], 90, 5), ([0, 0, 1, 1, 0], 70, 4), ([0, 1, 1, 0, 0], 50, 3),
                                ([1, 1, 0, 0, 0], 20, 2), ([51, 49, 0, 0, 0], 19.6, 1),
                                ([0, 0, 0, 0, 1], 100, 5), ([1, 0, 0, 0, 0], 0, 1)]:
        row = one_item(counts).table.set_index("node").loc["q"]
        assert row["score"] == pytest.approx(score) and row["grade"] == code, counts
    # 6 answers 3, 4, 5, 5, 5, 5: (60 + 80 + 400) / 6 = 90 exactly, 89.99999999999999 in floating point
    row = one_item([0, 0, 1, 1, 4]).table.set_index("node").loc["q"]
    assert row["score"] == pytest.approx(90) and row["grade_label_en"] == "very satisfied"


def test_validity_of_the_maximum_membership_by_hand():
    # the brief's case: β = 0.298, γ = 0.28, n = 5: (5·0.298 − 1) / (2·0.28·4) = 0.49 / 2.24
    assert max_membership_validity([0.05, 0.1, 0.28, 0.298, 0.272]) == pytest.approx(0.21875)
    assert max_membership_validity([0, 0, 0.1, 0.2, 0.7]) == pytest.approx(2.5 / 1.6)  # 1.5625
    assert max_membership_validity([0, 0.1, 0.1, 0.3, 0.5]) == pytest.approx(1.5 / 2.4)  # 0.625
    assert max_membership_validity([0.25, 0.25, 0.5]) == 0.5  # (1.5 − 1) / (2·0.25·2), exactly
    assert max_membership_validity([0.2] * 5) == 0.0  # uniform: nothing to choose
    assert max_membership_validity([0, 0, 0, 0, 1]) == np.inf  # γ = 0
    np.testing.assert_allclose(max_membership_validity([[0.5, 0.5, 0, 0, 0], [0.1, 0.2, 0.7, 0, 0]]),
                               [1.5 / 4, 2.5 / 1.6])
    assert [validity_class(a)[1] for a in (np.inf, 1.0, 0.99, 0.5, 0.49, 1e-9, 0.0)] == [
        "fully valid", "fully valid", "fairly valid", "fairly valid", "low validity", "low validity",
        "invalid"]
    assert validity_class(0.7)[0] == "比较有效"
    assert MIN_MAX_VALIDITY == 0.5


def test_max_membership_is_reported_only_when_valid():
    # per 1000: α = 0.625 (fairly valid): reported
    row = one_item([0, 100, 100, 300, 500]).table.iloc[1]
    assert row["max_validity"] == pytest.approx(0.625) and row["max_grade"] == 5
    assert (row["max_grade_label_zh"], row["max_grade_label_en"]) == ("很满意", "very satisfied")
    # exactly at the threshold on three grades: reported
    row = one_item([1, 1, 2], SCALE3).table.iloc[1]
    assert row["max_validity"] == 0.5 and row["max_grade"] == 3
    # a tie for the largest membership: α = 0.375 < 0.5, not reported (whichever argmax would pick)
    row = one_item([0, 0, 0, 1, 1]).table.iloc[1]
    assert row["max_validity"] == pytest.approx(0.375) and pd.isna(row["max_grade"])
    assert row["max_grade_label_en"] == ""
    row = one_item([0, 0, 0, 0, 3]).table.iloc[1]
    assert row["max_validity"] == np.inf and row["max_grade"] == 5


def test_a_region_below_target_is_no_longer_very_satisfied():
    # shares 0.182, 0.14, 0.1, 0.28, 0.298: the largest is "very satisfied", but the score is
    # 0.14·40 + 0.1·60 + 0.28·80 + 0.298·100 = 5.6 + 6 + 22.4 + 29.8 = 63.8, below the target of 80
    row = one_item([182, 140, 100, 280, 298]).table.iloc[0]
    assert row["score"] == pytest.approx(63.8)
    assert row["grade"] == 3 and row["grade_label_en"] == "basically satisfied"
    assert row["grade_label_zh"] == "基本满意"
    assert row["max_validity"] == pytest.approx(0.21875)  # 0.298 against 0.28
    assert pd.isna(row["max_grade"]) and row["max_grade_label_en"] == ""
    # Linxi's synthetic 2025 distribution: score 71.428, fairly satisfied, α = 0.4925 / 2.2368
    row = one_item([523, 1483, 2213, 2796, 2985]).table.iloc[0]
    assert row["score"] == pytest.approx(5.932 + 13.278 + 22.368 + 29.85)
    assert row["grade_label_en"] == "fairly satisfied"
    assert row["max_validity"] == pytest.approx(0.4925 / 2.2368) and pd.isna(row["max_grade"])


@pytest.mark.parametrize("operator", ["weighted", "maxmin"])
@pytest.mark.parametrize("scale", [SEMANTIC5, SCALE3, TEN], ids=lambda s: s.name)
def test_grade_never_contradicts_the_score(scale, operator):
    """Random surveys (400 items, 3–40 answers each, skewed or flat): every node's grade is the one
    whose grade score is nearest to its score, and the score lies in that grade's band."""
    rng = np.random.default_rng(len(scale.codes) + (operator == "maxmin"))
    columns = {}
    for k in range(400):
        p = rng.dirichlet(np.full(len(scale.codes), rng.choice([0.2, 1.0, 5.0])))
        answers = rng.choice(np.asarray(scale.codes, dtype=float), size=40, p=p)
        answers[rng.integers(3, 41):] = np.nan
        columns[f"q{k}"] = answers
    data = pd.DataFrame(columns)
    weights = pd.Series(rng.uniform(0.1, 3, data.shape[1]), index=data.columns)
    table = fuzzy_evaluation(data, weights, scale=scale, operator=operator).table
    x = np.asarray(scale.grade_scores, dtype=float)
    codes = list(scale.codes)
    for row in table.itertuples():
        j = codes.index(row.grade)
        distance = np.abs(row.score - x)
        assert distance[j] <= distance.min() + 1e-9  # the nearest grade score (ties go up)
        lower = x[0] if j == 0 else (x[j - 1] + x[j]) / 2
        upper = x[-1] if j == len(x) - 1 else (x[j] + x[j + 1]) / 2
        s = round(row.score, 9)  # the documented rounding of float noise before banding
        assert lower <= s < upper or (j == len(x) - 1 and s == upper)
    scores = rng.uniform(0, 100, 5000)
    j = score_grade(scores, scale.grade_scores)
    nearest = np.abs(scores[:, None] - x[None, :]).argmin(axis=1)
    np.testing.assert_array_equal(j, nearest)


def test_summary_shows_memberships_with_labels_in_each_language():
    result = fuzzy_evaluation(DATA.iloc[:10], ahp_hierarchy(SPEC), scale=SCALE3)
    zh = result.summary("zh")["evaluation"]
    assert list(zh.columns) == ["level", "parent", "local_weight", "score", "grade_label", "max_validity",
                                "max_grade_label", "差", "中", "好"]
    assert zh.loc["overall", "grade_label"] == "中"
    np.testing.assert_allclose(zh.loc["overall", ["差", "中", "好"]].to_numpy(dtype=float),
                               [0.254, 0.326, 0.420])
    en = result.summary("en")["evaluation"]
    assert list(en.columns[-3:]) == ["poor", "fair", "good"] and en.loc["A", "grade_label"] == "fair"
    both = result.summary("both")["evaluation"]
    assert {"grade", "grade_label_zh", "grade_label_en", "max_grade", "max_grade_label_zh",
            "max_grade_label_en"} <= set(both.columns)
    assert list(both.columns[-3:]) == ["poor", "fair", "good"]
    assert result.summary()["evaluation"].equals(en)
    with pytest.raises(ModelSpecError, match="language"):
        result.summary("fr")
    assert result.bands["upper"].tolist() == [30, 80, 100]
