"""ANP: a network whose limit is solved by hand, hierarchies reproduce AHP exactly, periodic
networks give the Cesàro limit, inconsistent and ill-formed specs are reported, and the ANP
weights drive the existing fuzzy comprehensive evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from csi_research.core.errors import CSIWarning, EstimationError, ModelSpecError
from csi_research.data.codebook import Scale
from csi_research.evaluation.anp import anp_fuzzy, anp_weights, limit_supermatrix
from csi_research.evaluation.fuzzy import fuzzy_evaluation
from csi_research.evaluation.hierarchy import ahp_hierarchy
from csi_research.evaluation.industry import default_industry_spec

# Two clusters with inner dependence in A and outer dependence both ways.
HAND = {
    "clusters": {"A": ["a1", "a2"], "B": ["b1", "b2"]},
    "comparisons": [
        {"wrt": "a1", "compare": "A", "upper": [[3]]},      # inner: (3/4, 1/4)
        {"wrt": "a2", "compare": "A", "upper": [[1]]},      # inner: (1/2, 1/2)
        {"wrt": "b1", "compare": "A", "upper": [["1/3"]]},  # outer: (1/4, 3/4)
        {"wrt": "b2", "compare": "A", "weights": "equal"},  # outer: (1/2, 1/2)
        {"wrt": "a1", "compare": "B", "upper": [[1]]},      # outer: (1/2, 1/2)
        {"wrt": "a2", "compare": "B", "upper": [[4]]},      # outer: (4/5, 1/5)
        {"wrt_cluster": "A", "clusters": ["A", "B"], "upper": [[2]]},  # (2/3, 1/3)
    ],
    "evaluate": ["A"],
}


def test_hand_worked_network():
    """Weighted supermatrix (order a1, a2, b1, b2; column j = priorities w.r.t. element j).

    Cluster A's columns are fed by A (weight 2/3) and B (1/3); B's only by A (weight 1)::

              a1    a2     b1   b2
        a1   1/2   1/3    1/4  1/2
        a2   1/6   1/3    3/4  1/2
        b1   1/6   4/15   0    0
        b2   1/6   1/15   0    0

    It is irreducible with a positive diagonal, hence primitive: every column of the limit is
    the stationary x = (p, q, r, s) of W x = x, Σ x = 1. From rows 3–4, r = p/6 + 4q/15 and
    s = p/6 + q/15; row 1 then gives p (1 − 1/2 − 1/24 − 1/12) = q (1/3 + 1/15 + 1/30), i.e.
    3p/8 = 13q/30, p = 52q/45. With q = 45t: p = 52t, r = 62t/3, s = 35t/3, total 388t/3, so
    x = (156, 135, 62, 35) / 388. The evaluated cluster A's weights are (156, 135)/291 = (52, 45)/97.
    """
    res = anp_weights(HAND)
    expected_w = np.array([[1 / 2, 1 / 3, 1 / 4, 1 / 2], [1 / 6, 1 / 3, 3 / 4, 1 / 2],
                           [1 / 6, 4 / 15, 0, 0], [1 / 6, 1 / 15, 0, 0]])
    np.testing.assert_allclose(res.weighted.to_numpy(), expected_w, atol=1e-14)
    np.testing.assert_allclose(res.cluster_matrix.to_numpy(), [[2 / 3, 1], [1 / 3, 0]], atol=1e-14)
    unweighted_col_a1 = res.unweighted["a1"].to_numpy()
    np.testing.assert_allclose(unweighted_col_a1, [3 / 4, 1 / 4, 1 / 2, 1 / 2], atol=1e-14)
    x = np.array([156, 135, 62, 35]) / 388
    np.testing.assert_allclose(res.limit.to_numpy(), np.outer(x, np.ones(4)), atol=1e-10)
    np.testing.assert_allclose(res.weights["limit_weight"], x, atol=1e-10)
    np.testing.assert_allclose(res.evaluated_weights.to_numpy(), [52 / 97, 45 / 97], atol=1e-10)
    np.testing.assert_allclose(res.weights["cluster_weight"], [52 / 97, 45 / 97, 62 / 97, 35 / 97],
                               atol=1e-10)
    assert res.period == 1 and res.read_from == "all columns"
    assert list(res.comparisons["kind"]) == ["inner", "inner", "outer", "outer", "outer", "outer", "cluster"]
    assert res.comparisons.loc[0, "name"] == "A wrt a1"
    long = res.supermatrix_table()
    assert set(long["matrix"]) == {"unweighted", "weighted", "limit"} and len(long) == 3 * 16
    row = long[(long.matrix == "weighted") & (long.row == "b1") & (long.column == "a2")]
    assert row["value"].item() == pytest.approx(4 / 15) and row["row_cluster"].item() == "B"
    assert set(res.summary()) >= {"weights", "comparisons", "cluster_matrix", "supermatrices"}


def test_spec_from_yaml_text():
    text = """
clusters: {A: [a1, a2], B: [b1, b2]}
evaluate: [A]
comparisons:
  - {wrt: a1, compare: A, upper: [[3]]}
  - {wrt: a2, compare: A, matrix: [[1, 1], [1, 1]]}
  - {wrt: b1, compare: A, upper: [1/3]}
  - {wrt: b2, compare: A, weights: {a1: 1, a2: 1}}
  - {wrt: a1, compare: B, upper: [[1]]}
  - {wrt: a2, compare: B, upper: [[4]]}
  - {wrt_cluster: A, clusters: [A, B], upper: [[2]]}
"""
    res = anp_weights(yaml.safe_load(text))
    np.testing.assert_allclose(res.evaluated_weights.to_numpy(), [52 / 97, 45 / 97], atol=1e-10)


def _network_of_hierarchy(spec: dict, levels: list[list[str]]) -> dict:
    """A hierarchy as an ANP network: one cluster per level, each node compares its children
    with respect to itself, identity loops at the bottom."""
    clusters = {f"L{k + 1}": level for k, level in enumerate(levels)}
    cluster_of = {e: c for c, els in clusters.items() for e in els}
    comparisons = []
    for node, body in spec.items():
        kids = body["children"]
        entry = {"wrt": node, "compare": cluster_of[kids[0]], "elements": kids}
        entry.update({k: v for k, v in body.items() if k not in ("children", "label_zh", "label_en")})
        comparisons.append(entry)
    return {"clusters": clusters, "comparisons": comparisons, "goal": levels[0][0],
            "evaluate": [f"L{len(levels)}"], "loops": [f"L{len(levels)}"]}


def test_pure_hierarchy_equals_ahp_small():
    spec = {
        "G": {"children": ["C1", "C2", "C3"], "upper": [[2, 2], ["1/2"]]},  # CR > 0
        "C1": {"children": ["s1", "s2"], "upper": [[2]]},
        "C2": {"children": ["s3", "s4", "s5"], "upper": [["1/2", "1/2"], [1]]},
        "C3": {"children": ["s6"], "weights": "equal"},
    }
    levels = [["G"], ["C1", "C2", "C3"], ["s1", "s2", "s3", "s4", "s5", "s6"]]
    res = anp_weights(_network_of_hierarchy(spec, levels))
    ahp = ahp_hierarchy(spec).leaf_weights
    np.testing.assert_allclose(res.evaluated_weights.reindex(ahp.index).to_numpy(), ahp.to_numpy(),
                               rtol=0, atol=1e-10)
    assert res.read_from == "G"


def test_industry_default_hierarchy_equals_ahp():
    """The bundled four-level indicator system (7 constructs, sub-indicators, 30 items)."""
    spec = default_industry_spec()["hierarchy"]
    tree = ahp_hierarchy(spec)
    table = tree.table
    levels = [list(table.loc[table["level"] == k, "node"]) for k in sorted(table["level"].unique())]
    assert len(levels) == 4 and all(n not in spec for n in levels[-1])  # every leaf on level 4
    res = anp_weights(_network_of_hierarchy(spec, levels))
    ahp = tree.leaf_weights
    np.testing.assert_allclose(res.evaluated_weights.reindex(ahp.index).to_numpy(), ahp.to_numpy(),
                               rtol=0, atol=1e-10)


def test_period_two_gives_cesaro_limit():
    """A and B only influence each other: W = [[0, X], [Y, 0]] has period 2 and W^k never settles.

    Columns (a1, a2, b): a1 → (0, 0, 1), a2 → (0, 0, 1), b → (3/4, 1/4, 0). The stationary vector
    of W x = x is x_b = x_a1 + x_a2, x_a1 = 3/4 x_b, x_a2 = 1/4 x_b, so x = (3/8, 1/8, 1/2); the
    mean of two consecutive powers has every column equal to x (e.g. column a1 of W^2 is
    (3/4, 1/4, 0), of W^3 (0, 0, 1), mean (3/8, 1/8, 1/2)).
    """
    spec = {
        "clusters": {"A": ["a1", "a2"], "B": ["b"]},
        "comparisons": [{"wrt": "b", "compare": "A", "upper": [[3]]},
                        {"wrt": "a1", "compare": "B", "weights": "equal"},
                        {"wrt": "a2", "compare": "B", "weights": "equal"}],
    }
    res = anp_weights(spec)
    x = np.array([3 / 8, 1 / 8, 1 / 2])
    np.testing.assert_allclose(res.limit.to_numpy(), np.outer(x, np.ones(3)), atol=1e-12)
    assert res.period == 2
    np.testing.assert_allclose(res.weights["weight"], x, atol=1e-12)  # both clusters evaluated
    np.testing.assert_allclose(res.weights["cluster_weight"], [3 / 4, 1 / 4, 1.0], atol=1e-12)


def test_period_three_cycle():
    """A → B → C → A. Columns: a* → b1; b1 → (c1, c2) = (3/4, 1/4); c1 → (1/2, 1/2) on A,
    c2 → (4/5, 1/5). Stationary: x_b = x_a1 + x_a2, x_c = (3/4, 1/4) x_b,
    x_a1 = x_c1/2 + 4 x_c2/5 = 23/40 x_b, x_a2 = 17/40 x_b; each cluster holds x_b = 1/3."""
    spec = {
        "clusters": {"A": ["a1", "a2"], "B": ["b1"], "C": ["c1", "c2"]},
        "comparisons": [{"wrt": "a1", "compare": "B", "weights": "equal"},
                        {"wrt": "a2", "compare": "B", "weights": "equal"},
                        {"wrt": "b1", "compare": "C", "upper": [[3]]},
                        {"wrt": "c1", "compare": "A", "upper": [[1]]},
                        {"wrt": "c2", "compare": "A", "upper": [[4]]}],
        "evaluate": ["A"],
    }
    res = anp_weights(spec)
    x = np.array([23 / 120, 17 / 120, 1 / 3, 1 / 4, 1 / 12])
    np.testing.assert_allclose(res.weights["limit_weight"], x, atol=1e-12)
    assert res.period == 3
    np.testing.assert_allclose(res.evaluated_weights.to_numpy(), [23 / 40, 17 / 40], atol=1e-12)


def test_limit_of_aperiodic_matrix_closed_form():
    """2 × 2 column-stochastic [[1−α, β], [α, 1−β]]: stationary (β, α)/(α + β)."""
    a, b = 0.3, 0.1
    lim, period, _ = limit_supermatrix(np.array([[1 - a, b], [a, 1 - b]]))
    np.testing.assert_allclose(lim, np.outer([b / (a + b), a / (a + b)], [1, 1]), atol=1e-11)
    assert period == 1
    with pytest.raises(ModelSpecError, match=r"column 2 sums to 0\.9"):
        limit_supermatrix(np.array([[1.0, 0.2], [0.0, 0.7]]))


def test_inconsistent_matrix_is_reported():
    spec = {
        "clusters": {"Goal": ["g"], "Criteria": ["c1", "c2", "c3"]},
        "comparisons": [{"wrt": "g", "compare": "Criteria", "upper": [[9, "1/9"], [9]]}],
        "loops": ["Criteria"],
        "goal": "g",
    }
    with pytest.warns(CSIWarning, match="judgement matrix 'Criteria wrt g': CR = "):
        res = anp_weights(spec)
    assert res.comparisons.loc[0, "cr"] > 0.1
    assert any("Criteria wrt g" in d for d in res.diagnostics)
    with pytest.raises(ModelSpecError, match=r"'Criteria wrt g' has CR = .* revise its judgements"):
        anp_weights.quiet(spec, strict=True)


def test_spec_errors_name_the_problem():
    base = {"clusters": {"A": ["a1", "a2"], "B": ["b1", "b2"]}}
    with pytest.raises(ModelSpecError, match=r"element 'b2' .* empty supermatrix column.*wrt: b2"):
        anp_weights.quiet({**base, "comparisons": HAND["comparisons"][:3] + HAND["comparisons"][4:]})
    with pytest.raises(ModelSpecError, match=r"cluster A is influenced by clusters \['A', 'B'\]"):
        anp_weights.quiet({**base, "comparisons": HAND["comparisons"][:-1]})
    with pytest.raises(ModelSpecError, match="'A wrt a1' is given twice"):
        anp_weights.quiet({**base, "comparisons": [HAND["comparisons"][0], *HAND["comparisons"]]})
    with pytest.raises(ModelSpecError, match="wrt 'zz' is not an element"):
        anp_weights.quiet({**base, "comparisons": [{"wrt": "zz", "compare": "A", "upper": [[1]]}]})
    with pytest.raises(ModelSpecError, match="'clusters wrt A' compares clusters"):
        bad = [*HAND["comparisons"][:-1], {"wrt_cluster": "A", "clusters": ["A"], "weights": "equal"}]
        anp_weights.quiet({**base, "comparisons": bad})
    with pytest.raises(ModelSpecError, match="element 'a1' is in both cluster 'A' and 'B'"):
        anp_weights.quiet({"clusters": {"A": ["a1"], "B": ["a1"]}, "comparisons": HAND["comparisons"]})


def test_reducible_network_without_goal():
    spec = {"clusters": {"A": ["a1", "a2"]}, "loops": ["A"],
            "comparisons": [{"wrt": "a1", "compare": "A", "elements": ["a1"], "weights": "equal"}]}
    with pytest.raises(ModelSpecError, match="'A wrt a1' compares cluster A, which has identity loops"):
        anp_weights.quiet(spec)
    spec = {"clusters": {"A": ["a1", "a2"]}, "loops": ["A"], "comparisons": []}
    with pytest.raises(ModelSpecError, match="non-empty list"):
        anp_weights.quiet(spec)
    # two separate loops: a1 ↔ b1 and a2 ↔ b2 never meet, so the limit columns differ
    spec = {"clusters": {"A": ["a1", "a2"], "B": ["b1", "b2"]},
            "comparisons": [{"wrt": "a1", "compare": "B", "elements": ["b1"], "weights": "equal"},
                            {"wrt": "a2", "compare": "B", "elements": ["b2"], "weights": "equal"},
                            {"wrt": "b1", "compare": "A", "elements": ["a1"], "weights": "equal"},
                            {"wrt": "b2", "compare": "A", "elements": ["a2"], "weights": "equal"}]}
    with pytest.raises(EstimationError, match=r"reducible.*goal:"):
        anp_weights.quiet(spec)


SCALE3 = Scale("three", (1, 2, 3), ("差", "中", "好"), ("poor", "fair", "good"), (0.0, 60.0, 100.0))
# a1: grades 1,2,3 shares (0.2, 0.3, 0.5); a2: (0.5, 0.5, 0)
DATA = pd.DataFrame({"a1": [1, 1, 2, 2, 2, 3, 3, 3, 3, 3], "a2": [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]})


def test_anp_fuzzy_by_hand():
    """Weights (52, 45)/97 from the hand-worked network: b = (52 (0.2, 0.3, 0.5) + 45 (0.5, 0.5, 0)) / 97
    = (32.9, 38.1, 26)/97; score = (38.1·60 + 26·100)/97 = 4886/97 ≈ 50.37."""
    res = anp_fuzzy(DATA, HAND, scale=SCALE3)
    np.testing.assert_allclose(res.fuzzy.memberships.iloc[0].to_numpy(), np.array([32.9, 38.1, 26]) / 97)
    assert res.score == pytest.approx(4886 / 97)
    same = fuzzy_evaluation(DATA, pd.Series([52 / 97, 45 / 97], index=["a1", "a2"]), scale=SCALE3)
    assert res.score == pytest.approx(same.score, abs=1e-9)  # limit found to ~1e-12
    assert "fuzzy_evaluation" in res.summary()


def test_anp_fuzzy_with_items_per_element():
    data = DATA.rename(columns={"a1": "x1", "a2": "x2"}).assign(x3=[3] * 10)
    # a2 measured by items x2 and x3 equally: shares (0.25, 0.25, 0.5)
    res = anp_fuzzy(data, anp_weights(HAND), items={"a1": ["x1"], "a2": ["x2", "x3"]}, scale=SCALE3,
                    root="CSI")
    b = (52 * np.array([0.2, 0.3, 0.5]) + 45 * np.array([0.25, 0.25, 0.5])) / 97
    assert res.score == pytest.approx(b @ [0, 60, 100])
    assert res.fuzzy.table["node"].iloc[0] == "CSI"
    with pytest.raises(ModelSpecError, match=r"missing \['a2'\]"):
        anp_fuzzy(data, HAND, items={"a1": ["x1"]}, scale=SCALE3)
    with pytest.raises(ModelSpecError, match="element 'a1' is also an item"):
        anp_fuzzy(data, HAND, items={"a1": ["a1"], "a2": ["x2"]}, scale=SCALE3)


def test_evaluating_a_cluster_without_limit_weight():
    spec = {"clusters": {"Goal": ["g"], "Criteria": ["c1", "c2"], "Sub": ["s1", "s2"]},
            "comparisons": [{"wrt": "g", "compare": "Criteria", "upper": [[2]]},
                            {"wrt": "c1", "compare": "Sub", "upper": [[3]]},
                            {"wrt": "c2", "compare": "Sub", "weights": "equal"}],
            "loops": ["Sub"], "goal": "g", "evaluate": ["Criteria"]}
    with pytest.raises(EstimationError, match=r"evaluated cluster\(s\) \['Criteria'\] get no weight"):
        anp_weights.quiet(spec)
    # (2/3)(3/4, 1/4) + (1/3)(1/2, 1/2) = (2/3, 1/3)
    res = anp_weights.quiet({**spec, "evaluate": ["Sub"]})
    np.testing.assert_allclose(res.evaluated_weights.to_numpy(), [2 / 3, 1 / 3], atol=1e-12)
    with pytest.raises(EstimationError, match="did not settle within 3 powers"):
        limit_supermatrix(_slow_matrix(), max_power=3)
    lim, period, _ = limit_supermatrix(_slow_matrix())  # symmetric: the stationary vector is uniform
    np.testing.assert_allclose(lim, np.full((5, 5), 0.2), atol=1e-10)
    assert period == 1


def _slow_matrix() -> np.ndarray:
    """A 5 × 5 column-stochastic matrix whose powers settle slowly (second eigenvalue 0.99)."""
    m = np.full((5, 5), 0.0025)
    np.fill_diagonal(m, 0.99)
    return m


# Saaty's dam network (two clusters that only influence each other, so the supermatrix has period 2).
# Source: T. L. Saaty, "The Essentials of the Analytic Network Process with Seven Examples (2): Decision
# Making with Dependence and Feedback. The Super Decisions Software", Creative Decisions Foundation
# tutorial notes, dam example: the judgement matrices of the uses wrt each dam level (with their
# eigenvectors and CRs) and the 6 × 6 stochastic supermatrix, printed to 3 decimals.
DAM_USES = ["Flood", "Recreation", "Hydro"]
DAM_LEVELS = ["Low", "Intermediate", "High"]
DAM_PUBLISHED_SUPERMATRIX = np.array([  # rows and columns: Flood, Recreation, Hydro, Low, Intermediate, High
    [0, 0, 0, .637, .200, .060],
    [0, 0, 0, .258, .600, .231],
    [0, 0, 0, .105, .200, .709],
    [.722, .072, .058, 0, 0, 0],
    [.205, .649, .207, 0, 0, 0],
    [.073, .279, .735, 0, 0, 0],
])
# Limit priorities within each cluster for this supermatrix, as given by the Creative Decisions
# Foundation's AhpAnpLib example "ANP_Water_Reservoir" (WaterReservior_Full_results.xlsx, sheet
# "limit matrix"), which rebuilds the same network with the same supermatrix.
DAM_LIMIT_USES = [.241, .374, .385]
DAM_LIMIT_LEVELS = [.223, .372, .405]


def _dam_spec() -> dict:
    """The published judgements for the three dam-level columns; the use columns are published only
    as priority vectors (the supermatrix columns), so they enter as direct weights."""
    comparisons = [
        {"wrt": "Low", "compare": "Uses", "upper": [[3, 5], [3]]},
        {"wrt": "Intermediate", "compare": "Uses", "upper": [["1/3", 1], [3]]},
        {"wrt": "High", "compare": "Uses", "upper": [["1/5", "1/9"], ["1/4"]]},
    ]
    for k, use in enumerate(DAM_USES):
        col = DAM_PUBLISHED_SUPERMATRIX[3:, k]
        comparisons.append({"wrt": use, "compare": "Levels", "weights": dict(zip(DAM_LEVELS, col.tolist(),
                                                                                  strict=True))})
    return {"clusters": {"Uses": DAM_USES, "Levels": DAM_LEVELS}, "comparisons": comparisons}


def test_published_dam_judgements_give_published_eigenvectors_and_cr():
    """Saaty's three 3 × 3 matrices: eigenvectors (.637, .258, .105), (.200, .600, .200),
    (.060, .231, .709) and CR .033, .000, .061 (RI(3) = 0.58), all to the printed 3 decimals; the
    resulting unweighted supermatrix is the published one to its rounding."""
    res = anp_weights(_dam_spec())
    np.testing.assert_allclose(res.unweighted.to_numpy(), DAM_PUBLISHED_SUPERMATRIX, rtol=0, atol=5e-4)
    cr = res.comparisons.set_index("name")["cr"]
    np.testing.assert_allclose(cr[["Uses wrt Low", "Uses wrt Intermediate", "Uses wrt High"]],
                               [.033, .000, .061], rtol=0, atol=5e-4)
    # each cluster is fed by exactly one other cluster: cluster weights 1, weighted = unweighted
    np.testing.assert_allclose(res.cluster_matrix.to_numpy(), [[0, 1], [1, 0]])
    np.testing.assert_allclose(res.weighted.to_numpy(), res.unweighted.to_numpy(), atol=1e-15)


def test_published_dam_supermatrix_limit_priorities():
    """Uses and levels only influence each other, so W^k alternates between two block patterns and
    never settles (period 2). Saaty's software reports the limit within each cluster from the odd/even
    powers; our Cesàro limit has every column equal to (x_uses / 2, x_levels / 2), which gives the same
    priorities once normalised within each cluster. Checked three ways: the published supermatrix
    through limit_supermatrix, the whole network from the published judgements through anp_weights,
    and an eigenvector solve of W x = x with numpy (independent of the power iteration)."""
    lim, period, _ = limit_supermatrix(DAM_PUBLISHED_SUPERMATRIX)
    assert period == 2
    np.testing.assert_allclose(lim, np.outer(lim[:, 0], np.ones(6)), atol=1e-10)  # all columns agree
    np.testing.assert_allclose(lim[:3, 0].sum(), 0.5, atol=1e-10)
    np.testing.assert_allclose(lim[:3, 0] / lim[:3, 0].sum(), DAM_LIMIT_USES, rtol=0, atol=5e-4)
    np.testing.assert_allclose(lim[3:, 0] / lim[3:, 0].sum(), DAM_LIMIT_LEVELS, rtol=0, atol=5e-4)

    values, vectors = np.linalg.eig(DAM_PUBLISHED_SUPERMATRIX)
    x = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    x = x / x.sum()
    np.testing.assert_allclose(lim[:, 0], x, atol=1e-10)

    res = anp_weights(_dam_spec())  # eigenvectors of the judgements instead of their 3-decimal print
    assert res.period == 2 and res.read_from == "all columns"
    np.testing.assert_allclose(res.weights["cluster_weight"], DAM_LIMIT_USES + DAM_LIMIT_LEVELS,
                               rtol=0, atol=5e-4)
