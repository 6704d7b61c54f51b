"""AHP: priorities, consistency, validation, expert panels, hierarchies, combined weighting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.evaluation.ahp import (
    RANDOM_INDEX,
    ahp_weights,
    group_ahp,
    judgement_matrix,
    read_judgement_matrix,
)
from csi_research.evaluation.combined import combined_weights
from csi_research.evaluation.hierarchy import ahp_hierarchy

SAATY3 = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]


@pytest.mark.parametrize("method", ["eigen", "geometric"])
def test_consistent_matrix_returns_its_weights_exactly(method):
    w = np.array([0.05, 0.1, 0.15, 0.3, 0.4])
    result = ahp_weights(np.outer(w, 1 / w), method=method)
    np.testing.assert_allclose(result.weights.to_numpy(), w, atol=1e-12)
    assert result.lambda_max == pytest.approx(5, abs=1e-10)
    assert result.cr == pytest.approx(0, abs=1e-10)
    assert result.diagnostics == []


def test_published_three_by_three_example():
    # Widely published worked example: w = (0.6370, 0.2583, 0.1047), λmax = 3.0385,
    # CI = 0.0193, RI(3) = 0.58, CR = 0.0332.
    result = ahp_weights(SAATY3)
    np.testing.assert_allclose(result.weights.to_numpy(), [0.6370, 0.2583, 0.1047], atol=5e-5)
    assert result.lambda_max == pytest.approx(3.0385, abs=5e-5)
    assert result.ci == pytest.approx(0.0193, abs=5e-5)
    assert result.cr == pytest.approx(0.0332, abs=5e-5)
    assert result.consistent


def test_random_index_is_saatys_table():
    assert [RANDOM_INDEX[n] for n in (3, 4, 5, 9, 15)] == [0.58, 0.90, 1.12, 1.45, 1.59]


def test_upper_triangle_and_fraction_strings_equal_full_matrix():
    full = judgement_matrix(SAATY3)
    assert judgement_matrix([[3, 5], [3]]).equals(full)
    assert judgement_matrix([3, 5, 3]).equals(full)
    assert judgement_matrix([["1", "3", "5"], ["1/3", "1", "3"], ["1/5", "1/3", "1"]]).equals(full)
    # 0.33 typed for 1/3 passes the tolerance and is replaced by the exact reciprocal
    typed = judgement_matrix([[1, 3, 5], [0.33, 1, 3], [0.2, 0.33, 1]])
    assert typed.iloc[1, 0] == 1 / 3


def test_non_reciprocal_entry_names_the_cell():
    with pytest.raises(ModelSpecError, match=r"'quality': a\[1,3\] = 3 but a\[3,1\] = 1/2, expected 1/3"):
        judgement_matrix([[1, 2, 3], [1 / 2, 1, 2], [0.5, 1 / 2, 1]], name="quality")


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        ([[1, -3], [-1 / 3, 1]], r"a\[1,2\] = -3.*positive"),
        ([[2, 3], [1 / 3, 1]], r"diagonal a\[1,1\].*must be 1"),
        ([[1, 12], [1 / 12, 1]], r"a\[1,2\].*outside Saaty's scale"),
        ([[1, "x"], [1, 1]], r"a\[1,2\] = 'x' is not a number"),
        (np.ones((16, 16)), r"at most 15"),
    ],
)
def test_invalid_matrices_are_rejected(values, pattern):
    with pytest.raises(ModelSpecError, match=pattern):
        judgement_matrix(values, name="m")


def test_inconsistent_matrix_is_flagged_with_the_worst_judgement():
    # a > b (9), b > c (9), but c > a (9): a circular judgement
    with pytest.warns(CSIWarning, match=r"CR = .* ≥ 0.1"):
        result = ahp_weights([[9, 1 / 9], [9]], labels=["a", "b", "c"], name="loop")
    assert result.cr > 0.1 and not result.consistent
    assert "loop" in result.diagnostics[0]
    worst = result.inconsistency.iloc[0]
    # the judgement furthest from the ratio implied by the weights
    dev = [abs(np.log(r.judgement / r.consistent)) for r in result.inconsistency.itertuples()]
    assert worst.deviation == pytest.approx(max(dev))
    assert {worst.row, worst.column} <= {"a", "b", "c"}


LOOP = [[9, 1 / 9], [9]]  # a > b, b > c, c > a: circular


def test_quiet_forms_carry_the_same_diagnostics_without_warning(recwarn):
    loud = ahp_weights(LOOP, labels=["a", "b", "c"], name="loop")
    assert [str(w.message) for w in recwarn] == loud.diagnostics and len(loud.diagnostics) == 1
    recwarn.clear()
    quiet = ahp_weights.quiet(LOOP, labels=["a", "b", "c"], name="loop")
    panel = group_ahp.quiet([LOOP, LOOP], labels=["a", "b", "c"], name="panel")
    assert not recwarn.list
    assert quiet.diagnostics == loud.diagnostics
    assert any("panel (expert 1)" in d for d in panel.diagnostics)
    assert any("panel (AIJ)" in d for d in panel.diagnostics)


def test_hierarchy_gathers_each_node_diagnostic_and_warns_once_at_the_call(recwarn):
    spec = {
        "root": {"children": ["bad", "fine"], "upper": [[2]]},
        "bad": {"children": ["a", "b", "c"], "upper": LOOP},
        "fine": {"children": ["d", "e"], "weights": "equal"},
    }
    result = ahp_hierarchy(spec)
    assert len(result.diagnostics) == 1 and "judgement matrix 'bad'" in result.diagnostics[0]
    assert result.diagnostics == result.nodes["bad"].diagnostics
    raised = [w for w in recwarn if issubclass(w.category, CSIWarning)]
    assert [str(w.message) for w in raised] == result.diagnostics
    assert raised[0].filename == __file__  # raised at the user's call, not inside the library
    assert ahp_hierarchy.quiet(spec).diagnostics == result.diagnostics


def test_group_aij_is_cellwise_geometric_mean_and_aip_of_priorities():
    e1, e2 = [[2]], [[8]]  # geometric mean 4 -> weights (0.8, 0.2)
    aij = group_ahp([e1, e2], "AIJ", labels=["p", "q"])
    np.testing.assert_allclose(aij.weights.to_numpy(), [0.8, 0.2])
    # AIP: priorities (2/3, 1/3) and (8/9, 1/9); geometric means sqrt(16/27), sqrt(1/27) -> 4:1
    aip = group_ahp([e1, e2], "AIP", labels=["p", "q"])
    np.testing.assert_allclose(aip.weights.to_numpy(), [0.8, 0.2])
    # weighted experts: 2^(3/4) * 8^(1/4) = 2^(3/2)
    r = 2 ** 1.5
    weighted = group_ahp([e1, e2], "AIJ", expert_weights=[3, 1], labels=["p", "q"])
    np.testing.assert_allclose(weighted.weights.to_numpy(), [r / (1 + r), 1 / (1 + r)])
    with pytest.raises(ModelSpecError, match="AIJ' or 'AIP"):
        group_ahp([e1], "mean", labels=["p", "q"])


def test_hierarchy_global_weights_are_products_down_the_tree():
    spec = {
        "CSI": {"children": ["A", "B"], "upper": [[3]]},  # 0.75 / 0.25
        "A": {"children": ["a1", "a2", "a3"], "matrix": SAATY3},
        "B": {"children": ["B1", "b3"], "weights": {"B1": 1, "b3": 3}},  # 0.25 / 0.75
        "B1": {"children": ["b1", "b2"], "weights": "equal"},
    }
    result = ahp_hierarchy(spec)
    t = result.table.set_index("node")
    assert list(result.table.columns) == ["level", "node", "parent", "local_weight", "global_weight", "cr"]
    assert t.loc["a1", "global_weight"] == pytest.approx(0.75 * 0.6370, abs=1e-4)
    assert t.loc["b1", "global_weight"] == pytest.approx(0.25 * 0.25 * 0.5)
    assert t.loc["b1", "level"] == 4 and t.loc["b1", "parent"] == "B1"
    assert t.loc["a2", "cr"] == pytest.approx(0.0332, abs=1e-4)
    assert np.isnan(t.loc["b1", "cr"])
    assert result.leaf_weights.sum() == pytest.approx(1)
    assert list(result.leaf_weights.index) == ["a1", "a2", "a3", "b1", "b2", "b3"]


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ({"R": {"children": ["a", "b"]}}, "exactly one of"),
        ({"R": {"children": ["a", "b"], "weights": "equal", "colour": 1}}, r"unknown key\(s\) \['colour'\]"),
        ({"R": {"children": ["a"], "weights": "equal"}, "S": {"children": ["a"], "weights": "equal"}},
         "child of both"),
        ({"R": {"children": ["a", "b"], "weights": {"a": 1}}}, "missing"),
    ],
)
def test_bad_hierarchy_specs(spec, pattern):
    with pytest.raises(ModelSpecError, match=pattern):
        ahp_hierarchy(spec)


def test_read_matrix_from_csv_and_yaml(tmp_path):
    csv = tmp_path / "quality.csv"
    csv.write_text(",reliability,voltage,service\nreliability,1,3,5\nvoltage,,1,3\nservice,,,1\n")
    m = read_judgement_matrix(csv)
    assert list(m.index) == ["reliability", "voltage", "service"]
    np.testing.assert_allclose(m.to_numpy(), np.array(SAATY3))
    yml = tmp_path / "quality.yaml"
    yml.write_text("labels: [reliability, voltage, service]\nupper:\n  - [3, 5]\n  - ['3']\n")
    assert read_judgement_matrix(yml).equals(m)
    yml.write_text("labels: [r, v]\nmatrix: [[1, 3], [1, 1]]\n")
    with pytest.raises(ModelSpecError, match=r"a\[1,2\] = 3 but a\[2,1\] = 1"):
        read_judgement_matrix(yml)


def test_combined_reduces_to_ahp_and_to_objective_weights():
    expert = ahp_weights(SAATY3, labels=["a", "b", "c"])
    objective = pd.Series({"c": 0.5, "a": 0.2, "b": 0.3})  # order differs on purpose
    at_one = combined_weights(expert, objective, alpha=1)
    np.testing.assert_allclose(at_one.weights.to_numpy(), expert.weights.to_numpy(), atol=1e-12)
    at_zero = combined_weights(expert, objective, alpha=0)
    np.testing.assert_allclose(at_zero.weights.to_numpy(), [0.2, 0.3, 0.5], atol=1e-12)
    assert at_zero.cr == pytest.approx(0, abs=1e-10)
    half = combined_weights(expert, objective, alpha=0.5)
    c = half.combined.matrix.to_numpy()
    np.testing.assert_allclose(c * c.T, 1)  # reciprocal
    # c_12 = 3^0.5 * (0.2/0.3)^0.5 by the documented formula
    assert c[0, 1] == pytest.approx(np.sqrt(3 * 0.2 / 0.3))
    with pytest.raises(ModelSpecError, match="same indicators"):
        combined_weights(expert, pd.Series({"a": 1.0, "b": 1.0}), 0.5)
    with pytest.raises(ModelSpecError, match="alpha"):
        combined_weights(expert, objective, alpha=1.5)


def test_no_warning_for_acceptable_matrices(recwarn):
    assert ahp_weights(SAATY3).diagnostics == []
    assert not recwarn.list


def test_dataframe_input_is_validated_too():
    frame = pd.DataFrame([[1, 4], [1, 1]], index=["a", "b"], columns=["a", "b"])
    with pytest.raises(ModelSpecError, match=r"a\[1,2\] = 4 but a\[2,1\] = 1, expected 1/4"):
        ahp_weights(frame, name="df")
