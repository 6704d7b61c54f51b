"""Internal indicators: normalisation, direction, validation, the combined service-quality index."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from csi_research.core.errors import CSIWarning, ModelSpecError, SurveyDataError
from csi_research.evaluation.internal import (
    indicator_definitions,
    internal_evaluation,
    load_internal_indicators,
    service_quality_index,
)

DEFS = indicator_definitions()


def test_normalisation_is_linear_between_worst_and_target_and_capped():
    d = DEFS["outage_duration_hours"]  # cost: target 1 h, worst 20 h
    np.testing.assert_allclose(d.normalise([1, 20, 10.5, 0.2, 40]), [100, 0, 50, 100, 0])
    v = DEFS["voltage_qualification_rate"]  # benefit: target 0.999, worst 0.97
    np.testing.assert_allclose(v.normalise([0.999, 0.97, 0.9845, 1.0]), [100, 0, 50, 100])


def test_cost_indicator_ranks_regions_in_the_right_direction():
    frame = pd.DataFrame({"region": ["short", "medium", "long"], "year": 2025,
                          "outage_duration_hours": [2.0, 8.0, 15.0]})
    result = internal_evaluation(frame)
    ranked = result.internal.sort_values("internal_score", ascending=False)["region"].tolist()
    assert ranked == ["short", "medium", "long"]


def test_bundled_synthetic_regions_have_their_profiles():
    table = load_internal_indicators()
    assert table["synthetic"].all()
    assert set(table["region"]) == {"donggang", "beiling", "nanyu", "xiyuan", "yunchuan", "linxi"}
    result = internal_evaluation(table)
    s = result.internal.set_index(["region", "year"])["internal_score"]
    assert s[("donggang", 2026)] > s[("donggang", 2025)]  # improved in 2026
    scores = result.scores.set_index(["region", "indicator"])["score"]
    regions = ["beiling", "nanyu", "xiyuan", "yunchuan", "linxi"]
    # beiling: the longest outages and slowest restoration
    assert min(regions, key=lambda r: scores[(r, "outage_duration_hours")]) == "beiling"
    assert min(regions, key=lambda r: scores[(r, "fault_restoration_hours")]) == "beiling"
    assert min(regions, key=lambda r: scores[(r, "outage_frequency")]) == "nanyu"
    assert min(regions, key=lambda r: scores[(r, "voltage_qualification_rate")]) == "xiyuan"
    assert min(regions, key=lambda r: scores[(r, "three_ring_answer_rate")]) == "yunchuan"
    # reliability rate and outage hours of the synthetic data agree: RS = 1 − hours / 8760
    np.testing.assert_allclose(table["supply_reliability_rate"], 1 - table["outage_duration_hours"] / 8760,
                               atol=1e-6)


def test_weights_and_missing_values():
    frame = pd.DataFrame({"region": ["a", "b"], "year": [2025, 2025],
                          "outage_duration_hours": [1.0, 20.0], "complaint_callback_rate": [0.85, np.nan]})
    # scores: a = (100, 0), b = (0, missing)
    with pytest.warns(CSIWarning):
        result = internal_evaluation(frame, {"outage_duration_hours": 3, "complaint_callback_rate": 1})
    s = result.internal.set_index("region")["internal_score"]
    assert s["a"] == pytest.approx(75)
    with pytest.warns(CSIWarning, match="region b 2025: indicator complaint_callback_rate is missing"):
        result = internal_evaluation(frame)
    assert result.internal.set_index("region")["internal_score"]["b"] == pytest.approx(0)
    with pytest.raises(ModelSpecError, match="missing"):
        internal_evaluation(frame, weights={"outage_duration_hours": 1})


def test_quiet_internal_evaluation_carries_the_note_without_warning(recwarn):
    frame = pd.DataFrame({"region": ["a"], "year": [2025], "outage_duration_hours": [np.nan],
                          "complaint_callback_rate": [0.9]})
    quiet = internal_evaluation.quiet(frame)
    assert not recwarn.list
    assert quiet.diagnostics == ["region a 2025: indicator outage_duration_hours is missing; "
                                 "the internal score uses the others"]
    loud = internal_evaluation(frame)
    assert [str(w.message) for w in recwarn] == loud.diagnostics == quiet.diagnostics


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("supply_reliability_rate", 99.9, r"region r1 2025: indicator supply_reliability_rate .* "
                                          r"value 99.9 is implausible: a rate must lie in \[0, 1\]"),
        ("outage_duration_hours", -2.0,
         r"region r1 2025: indicator outage_duration_hours .*cannot be negative"),
        ("fault_restoration_hours", "slow", r"indicator fault_restoration_hours .*'slow' is not a number"),
    ],
)
def test_bad_values_name_region_indicator_and_value(column, value, pattern):
    frame = pd.DataFrame({"region": ["r0", "r1"], "year": [2025, 2025], column: [0.5, value]})
    with pytest.raises(SurveyDataError, match=pattern):
        internal_evaluation(frame)


def test_unknown_indicator_is_an_error():
    frame = pd.DataFrame({"region": ["r0"], "year": [2025], "customer_smiles": [3]})
    with pytest.raises(SurveyDataError, match=r"unknown internal indicator\(s\) \['customer_smiles'\]"):
        internal_evaluation(frame)


def test_service_quality_index():
    assert service_quality_index(80.0, 60.0, beta=0.7) == pytest.approx(74.0)
    assert service_quality_index(80.0, 60.0) == pytest.approx(70.0)
    with pytest.raises(ModelSpecError, match="beta"):
        service_quality_index(80.0, 60.0, beta=1.2)


# ---------------------------------------------------------------------- the entry point
@pytest.fixture(scope="module")
def beiling():
    from csi_research.data.codebook import Codebook
    from csi_research.data.simulate import simulate_survey

    book = Codebook.default()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)  # data-quality notes of the synthetic survey
        survey = simulate_survey("beiling", n=300, seed=11, codebook=book).survey()
    return survey.frame, book


def test_industry_evaluation_with_ahp_weights_matches_the_hierarchy(beiling):
    from csi_research.evaluation import ahp_hierarchy, default_industry_spec, industry_evaluation
    from csi_research.stats.indices import grade_score_index

    frame, book = beiling
    table = load_internal_indicators()
    result = industry_evaluation(frame, book, {"weighting": "ahp", "beta": 0.6},
                                 table[table["region"] == "beiling"])
    ahp = ahp_hierarchy(default_industry_spec()["hierarchy"]).table
    np.testing.assert_allclose(result.weights["global_weight"], ahp["global_weight"], atol=1e-12)
    # the fuzzy M(·,+) score is the grade-score (CSD) index with the same weights
    t = ahp.set_index("node")
    level_weights = {
        "construct": {c: t.loc[c, "local_weight"] for c in book.constructs},
        "subindicator": {s: t.loc[s, "local_weight"] for s in book.subindicators},
        "item": {i: t.loc[i, "local_weight"] for i in book.item_ids},
    }
    csd = grade_score_index(frame, book, weights=level_weights).set_index("node").loc["overall", "score"]
    assert result.external_csi == pytest.approx(csd, abs=1e-9)
    q = result.quality_index.iloc[0]
    internal = internal_evaluation(table[table["region"] == "beiling"]).internal["internal_score"].iloc[0]
    assert q["service_quality_index"] == pytest.approx(0.6 * csd + 0.4 * internal)
    assert set(result.summary()) >= {"weights", "fuzzy_evaluation", "service_quality_index"}


def test_industry_evaluation_rough_set_and_combined_nodes(beiling):
    from csi_research.evaluation import industry_evaluation, rough_set_weights

    frame, book = beiling
    with pytest.warns(CSIWarning):
        rough = industry_evaluation(frame, book, {"weighting": "rough_set"}, external_csi=75.0)
    w = rough.weights.set_index("node")
    # the quiet form: its notes (respondents with missing answers left out) stay in the result
    direct = rough_set_weights.quiet(frame, ["QUA6", "QUA7", "QUA8", "QUA9"], "SAT1").weights
    np.testing.assert_allclose(w.loc[["QUA6", "QUA7", "QUA8", "QUA9"], "local_weight"], direct, atol=1e-12)
    assert w.loc["SAT1", "source"] == "experts"  # the decision cannot weight its own node
    assert rough.external_csi == 75.0 and rough.quality_index is None
    with pytest.warns(CSIWarning):
        comb = industry_evaluation(frame, book, {"weighting": "combined", "alpha": 0.3})
    c = comb.weights.set_index("node").loc[["QUA1", "QUA2"]]
    # two indicators: c_12 = 2^0.3 · (o1/o2)^0.7, weights c_12/(1+c_12)
    o = c["objective_weight"].to_numpy()
    c12 = 2 ** 0.3 * (o[0] / o[1]) ** 0.7
    np.testing.assert_allclose(c["local_weight"], [c12 / (1 + c12), 1 / (1 + c12)])


def test_industry_spec_rejects_unknown_keys_and_bad_values():
    from csi_research.evaluation import resolve_industry_spec

    with pytest.raises(ModelSpecError, match=r"unknown key\(s\) \['gamma'\]"):
        resolve_industry_spec({"gamma": 1})
    with pytest.raises(ModelSpecError, match="weighting 'delphi'"):
        resolve_industry_spec({"weighting": "delphi"})
    with pytest.raises(ModelSpecError, match="alpha"):
        resolve_industry_spec({"alpha": 2})
