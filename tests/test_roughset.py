"""Rough sets: hand-worked decision tables, discretisation, and a brute-force cross-check."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from csi_research.core.errors import CSIWarning, EstimationError, SurveyDataError
from csi_research.evaluation.roughset import dependency_degree, discretise, rough_set_weights

# Table 1 (six respondents, conditions a, b, c, decision d)
#  #  a b c | d
#  1  1 1 1 | 1
#  2  1 1 2 | 1
#  3  1 2 1 | 2
#  4  2 2 1 | 2
#  5  2 2 2 | 1
#  6  2 1 2 | 2
# U/C: all six rows differ -> every class consistent -> γ_C = 1.
# U/{b,c}: (1,1){1} ok, (1,2){2,6} d=1,2 no, (2,1){3,4} d=2,2 ok, (2,2){5} ok -> POS 4/6, σ(a) = 1/3
# U/{a,c}: (1,1){1,3} no, (1,2){2} ok, (2,1){4} ok, (2,2){5,6} no           -> POS 2/6, σ(b) = 2/3
# U/{a,b}: (1,1){1,2} ok, (1,2){3} ok, (2,2){4,5} no, (2,1){6} ok           -> POS 4/6, σ(c) = 1/3
# Single attributes: each grade class mixes d = 1 and 2 -> γ_{a} = γ_{b} = γ_{c} = 0.
# Importance = σ + γ_alone = (1/3, 2/3, 1/3) -> weights (1/4, 1/2, 1/4); all are core -> reduct {a,b,c}.
TABLE1 = pd.DataFrame({"a": [1, 1, 1, 2, 2, 2], "b": [1, 1, 2, 2, 2, 1], "c": [1, 2, 1, 1, 2, 2],
                       "d": [1, 1, 2, 2, 1, 2]})

# Table 2: a decides d, b is a copy of a, c is noise.
#  #  a b c | d
#  1  1 1 1 | 1
#  2  1 1 2 | 1
#  3  2 2 1 | 2
#  4  2 2 2 | 2
#  5  3 3 1 | 2
#  6  3 3 1 | 2
# γ_C = 1; removing any one attribute keeps a or b, so γ stays 1: σ(a) = σ(b) = σ(c) = 0.
# γ_{a} = γ_{b} = 1 (each a-class has one d). c=1 -> {1,3,5,6} d=1,2,2,2 no; c=2 -> {2,4} d=1,2 no: γ_{c}=0.
# Importance (1, 1, 0); c floored to half the smallest positive = 0.5 -> weights (0.4, 0.4, 0.2).
# Greedy reduct tries c (0.5), then b (tie with a, later first), then a:
#   drop c: γ_{a,b} = 1 -> dropped; drop b: γ_{a} = 1 -> dropped; a is last -> reduct {a}.
TABLE2 = pd.DataFrame({"a": [1, 1, 2, 2, 3, 3], "b": [1, 1, 2, 2, 3, 3], "c": [1, 2, 1, 2, 1, 1],
                       "d": [1, 1, 2, 2, 2, 2]})


def test_table1_significance_weights_and_reduct():
    r = rough_set_weights(TABLE1, ["a", "b", "c"], "d")
    t = r.table.set_index("attribute")
    assert r.gamma == 1
    np.testing.assert_allclose(t["gamma_without"], [4 / 6, 2 / 6, 4 / 6])
    np.testing.assert_allclose(t["significance"], [1 / 3, 2 / 3, 1 / 3])
    np.testing.assert_allclose(t["gamma_alone"], [0, 0, 0])
    np.testing.assert_allclose(r.weights, [0.25, 0.5, 0.25])
    assert r.reduct == ("a", "b", "c") and r.core == ("a", "b", "c")
    assert r.diagnostics == []


def test_table2_zero_significance_floor_and_reduct():
    with pytest.warns(CSIWarning, match=r"attribute\(s\) c: zero significance"):
        r = rough_set_weights(TABLE2, ["a", "b", "c"], "d")
    t = r.table.set_index("attribute")
    np.testing.assert_allclose(t["significance"], [0, 0, 0])
    np.testing.assert_allclose(t["gamma_alone"], [1, 1, 0])
    np.testing.assert_allclose(r.weights, [0.4, 0.4, 0.2])
    assert r.reduct == ("a",)
    assert r.core == ()


def test_quiet_form_carries_the_same_diagnostics_without_warning(recwarn):
    quiet = rough_set_weights.quiet(TABLE2, ["a", "b", "c"], "d", name="node X")
    assert not recwarn.list
    assert len(quiet.diagnostics) == 1
    assert quiet.diagnostics[0].startswith("node X: attribute(s) c: zero significance")
    loud = rough_set_weights(TABLE2, ["a", "b", "c"], "d", name="node X")
    assert [str(w.message) for w in recwarn] == loud.diagnostics == quiet.diagnostics


def test_positive_region_of_an_inconsistent_table():
    # Table 1 plus respondent 7 = (1,1,1) with d = 2: class {1, 7} becomes inconsistent,
    # POS_C = {2,3,4,5,6} (index labels 1..5), γ_C = 5/7.
    t = pd.concat([TABLE1, pd.DataFrame({"a": [1], "b": [1], "c": [1], "d": [2]})], ignore_index=True)
    r = rough_set_weights(t, ["a", "b", "c"], "d")
    assert r.gamma == pytest.approx(5 / 7)
    assert list(r.positive_region) == [1, 2, 3, 4, 5]
    assert dependency_degree(t, ["a", "b", "c"], "d") == pytest.approx(5 / 7)
    # U/{a}: a=1 {1,2,3,7} mixed, a=2 {4,5,6} mixed -> 0
    assert dependency_degree(t, ["a"], "d") == 0


def test_user_bins_and_missing_rows():
    scores = pd.DataFrame({"x": [10.0, 55.0, 65.0, 90.0, np.nan], "d": [1, 1, 2, 2, 2]})
    grades = discretise(scores, ["x"], bins={"x": [60]})
    assert grades["x"].tolist()[:4] == [0, 0, 1, 1] and np.isnan(grades["x"].iloc[4])
    with pytest.warns(CSIWarning, match="1 of 5 respondents"):
        r = rough_set_weights(scores, ["x"], "d", bins={"x": [60]})
    assert r.n == 4 and r.gamma == 1
    with pytest.raises(SurveyDataError, match=r"column x row 0: value 10.5 is not a scale code"):
        discretise(pd.DataFrame({"x": [10.5, 2.0]}), ["x"])


def test_no_dependency_is_an_error():
    t = pd.DataFrame({"a": [1, 1, 2, 2], "d": [1, 2, 1, 2]})
    with pytest.raises(EstimationError, match="no attribute"):
        rough_set_weights(t, ["a"], "d")


def _brute_gamma(frame: pd.DataFrame, cols: list[str], d: str) -> float:
    """Definition-level check: a group is in POS when it has a single decision value."""
    if not cols:
        return float(frame[d].nunique() == 1)
    sizes = frame.groupby(cols)[d].agg(["nunique", "size"])
    return sizes.loc[sizes["nunique"] == 1, "size"].sum() / len(frame)


def test_vectorised_engine_matches_groupby_definition_on_random_tables():
    rng = np.random.default_rng(7)
    for _ in range(5):
        n, p = 300, 6
        x = rng.integers(1, 4, size=(n, p))
        frame = pd.DataFrame(x, columns=[f"q{k}" for k in range(p)])
        frame["d"] = (x[:, 0] + x[:, 1] + rng.integers(0, 2, n) > 4).astype(int)
        cols = list(frame.columns[:-1])
        r = rough_set_weights(frame, cols, "d")
        full = _brute_gamma(frame, cols, "d")
        assert r.gamma == pytest.approx(full)
        for a, row in zip(cols, r.table.itertuples(), strict=True):
            rest = [c for c in cols if c != a]
            assert row.significance == pytest.approx(full - _brute_gamma(frame, rest, "d"))
            assert row.gamma_alone == pytest.approx(_brute_gamma(frame, [a], "d"))
        # reduct keeps γ and is minimal
        reduct = list(r.reduct)
        assert _brute_gamma(frame, reduct, "d") == pytest.approx(full)
        for a in reduct:
            assert _brute_gamma(frame, [c for c in reduct if c != a], "d") < full
        # minimality: no proper subset of the reduct keeps γ
        for k in range(len(reduct)):
            for sub in itertools.combinations(reduct, k):
                assert _brute_gamma(frame, list(sub), "d") < full
